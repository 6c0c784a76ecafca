"""Run-time errors: Python faults → Noodle errors, and the Noodle stack.

Code running in the VM is Python code generated from bytecode (see
:mod:`noodle.vm.translate`); every generated code object is registered in
:mod:`noodle.runtime.linemap` with a table from its Python line numbers to
Noodle source positions, so a Python traceback turns into the Noodle stack
(`at NAME (FILE:LINE:COL)`) with no bookkeeping on the hot path.
"""
from __future__ import annotations

from types import TracebackType

from noodle.errors import NoodleError
from noodle.runtime.linemap import CODE_REGISTRY
from noodle.runtime.values import ErrorValue, nd_repr


class NoodleRuntimeError(NoodleError):
    """An uncaught Noodle error: its kind, message and the Noodle stack (innermost last)."""

    def __init__(self, kind: str, message: str, stack: list["Frame"]) -> None:
        self.kind = kind
        self.message = message
        self.stack = stack
        super().__init__(f"{kind}: {message}")

    def render(self, limit: int = 40) -> str:
        lines = [f"{self.kind}: {self.message}"]
        frames = self.stack
        if len(frames) > limit:
            half = limit // 2
            shown = [str(f) for f in frames[:half]]
            shown.append(f"  ... {len(frames) - 2 * half} more frames ...")
            shown += [str(f) for f in frames[-half:]]
        else:
            shown = [str(f) for f in frames]
        return "\n".join(lines + shown)


class Frame:
    """One frame of the Noodle stack."""

    __slots__ = ("name", "file", "line", "col")

    def __init__(self, name: str, file: str, line: int, col: int) -> None:
        self.name, self.file, self.line, self.col = name, file, line, col

    def __repr__(self) -> str:
        return f"Frame({self.name!r}, {self.file!r}, {self.line}, {self.col})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frame) and (self.name, self.file, self.line, self.col) == \
            (other.name, other.file, other.line, other.col)

    def __str__(self) -> str:
        return f"  at {self.name} ({self.file}:{self.line}:{self.col})"


def to_error(exc: BaseException) -> ErrorValue:
    """The Noodle error a Python exception raised in VM code stands for."""
    if isinstance(exc, ErrorValue):
        return exc
    if isinstance(exc, ZeroDivisionError):
        return ErrorValue("ZeroDivisionError", "division by zero")
    if isinstance(exc, IndexError):
        return ErrorValue("IndexError", "index out of range")
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else None
        return ErrorValue("KeyError", f"key not found: {nd_repr(key)}")
    if isinstance(exc, RecursionError):
        return ErrorValue("RecursionError", "recursion depth exceeded")
    if isinstance(exc, OverflowError):
        return ErrorValue("OverflowError", "float overflow" if "float" in str(exc) or "range" in str(exc)
                          else "integer overflow")
    if isinstance(exc, MemoryError):
        return ErrorValue("MemoryError", "out of memory")
    if isinstance(exc, ValueError):
        text = str(exc)
        if text == "range() arg 3 must not be zero":
            text = "range step must not be zero"
        return ErrorValue("ValueError", text)
    if isinstance(exc, NameError):
        return ErrorValue("RuntimeError", "a module variable was used before it was set")
    if isinstance(exc, RuntimeError):
        return ErrorValue("RuntimeError", str(exc))
    if isinstance(exc, OSError):
        return ErrorValue("IOError", str(exc))
    return ErrorValue("InternalError", f"{type(exc).__name__}: {exc}")


def noodle_stack(tb: TracebackType | None) -> list[Frame]:
    """The Noodle frames of a traceback, outermost first."""
    frames: list[Frame] = []
    while tb is not None:
        code = tb.tb_frame.f_code
        info = CODE_REGISTRY.get(code.co_filename)
        if info is not None:
            entry = info.lines.get(tb.tb_lineno)
            if entry is not None:
                line, col = info.call_position(code, tb.tb_lasti, entry) or (entry[1], entry[2])
                frames.append(Frame(entry[0], info.source_file, line, col))
        tb = tb.tb_next
    return frames


def runtime_error(exc: BaseException) -> NoodleRuntimeError:
    """Wrap an uncaught exception from VM code for the host."""
    err = to_error(exc)
    return NoodleRuntimeError(err.f_kind, err.f_message, with_native_frame(noodle_stack(exc.__traceback__), err))


def with_native_frame(frames: list[Frame], err: object) -> list[Frame]:
    """The stack with the frame of the native function that failed, at the line it failed on (an
    impure native function cannot be re-run in the VM to find it), as the VM's stack would end."""
    native = getattr(err, "native_frame", None)
    if native is not None:
        frames = frames + [Frame(*native)]
    python = getattr(err, "py_frames", None)  # a PyError: where in Python it failed, innermost last
    if python:
        frames = frames + [Frame(f"{name} [python]", file, line, col) for name, file, line, col in python]
    return frames
