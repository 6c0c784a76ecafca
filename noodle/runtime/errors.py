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


#: the Python faults the VM's own code raises (generated code, natives, NumPy): they stand for
#: Noodle errors (see to_error); an exception of any other class comes from the host
_FAULTS = (ArithmeticError, LookupError, ValueError, NameError, RuntimeError, OSError, TypeError, AttributeError,
           MemoryError)
_OURS = ("builtins", "numpy", "noodle")


def injected(exc: BaseException) -> bool:
    """Was `exc` raised into running Noodle code by the host rather than by the code itself?

    A signal handler's exception (a watchdog's timeout, whatever its class) carries the handler's
    frame in its traceback.  (An exception injected without a frame of its own, as
    `PyThreadState_SetAsyncExc` does, is told apart only by its class: see :func:`foreign`.)"""
    tb = exc.__traceback__
    if tb is None:
        return False
    handlers = _signal_handlers()
    if not handlers:
        return False
    while tb is not None:
        if tb.tb_frame.f_code in handlers:
            return True
        tb = tb.tb_next
    return False


def foreign(exc: BaseException) -> bool:
    """Does `exc` belong to the host, so that Noodle's `catch` must let it through to the host?

    Noodle errors (ErrorValue) and the Python faults the VM's code raises are Noodle's; an exception
    of another class (a host's own), or one the host injected (see :func:`injected`), is not."""
    if isinstance(exc, ErrorValue):
        return False
    if not isinstance(exc, _FAULTS) or type(exc).__module__.partition(".")[0] not in _OURS:
        return True
    return injected(exc)


def _signal_handlers() -> set:
    """The code of every Python-level signal handler now installed."""
    import signal

    codes = set()
    for signum in signal.valid_signals():
        try:
            h = signal.getsignal(signum)
        except (ValueError, OSError):
            continue
        code = getattr(getattr(h, "__func__", h), "__code__", None)
        if code is not None:
            codes.add(code)
    return codes


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
