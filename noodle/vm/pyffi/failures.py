"""A Python exception raised by a call into Python, as a catchable Noodle error of kind `PyError`.

The message carries the Python exception's type and message (`ValueError: shapes (3,) and (4,)
not aligned`).  The error also keeps the innermost Python frames (at most
:data:`PY_FRAMES` of them) so that an uncaught `PyError` shows the Noodle stack down to the call
and, below it, where in Python it failed.  A Noodle error that a Noodle callback raised while
Python was running it comes back as that same error, not as a `PyError`.
"""
from __future__ import annotations

import os
from types import TracebackType

from noodle.runtime.values import ErrorValue

#: how many of the innermost Python frames a PyError keeps
PY_FRAMES = 3

_HERE = os.path.dirname(os.path.abspath(__file__))


class PyFailure(ErrorValue):
    """An ErrorValue of kind `PyError`; `py_type` and `py_message` are the Python exception's."""

    def __init__(self, py_type: str, py_message: str, py_frames: list[tuple[str, str, int, int]]) -> None:
        super().__init__("PyError", f"{py_type}: {py_message}" if py_message else py_type)
        self.py_type = py_type
        self.py_message = py_message
        #: (function, file, line, col) of the innermost Python frames, outermost first
        self.py_frames = py_frames


def py_error(exc: BaseException) -> ErrorValue:
    """The Noodle error for an exception that came out of Python code."""
    if isinstance(exc, ErrorValue):
        return exc
    t = type(exc)
    name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    return PyFailure(name, str(exc), python_frames(exc.__traceback__))


def python_frames(tb: TracebackType | None) -> list[tuple[str, str, int, int]]:
    """The innermost Python frames of a traceback, leaving out Noodle's own (the FFI, generated code)."""
    frames: list[tuple[str, str, int, int]] = []
    while tb is not None:
        code = tb.tb_frame.f_code
        file = code.co_filename
        if not file.startswith("<noodle") and os.path.dirname(os.path.abspath(file)) != _HERE:
            frames.append((code.co_name, file, tb.tb_lineno, 0))
        tb = tb.tb_next
    return frames[-PY_FRAMES:]
