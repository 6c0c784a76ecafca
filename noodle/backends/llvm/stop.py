"""The budget native code runs under: a context each call is handed, which it polls and charges.

Every native function takes a pointer to a :class:`Context` (one per VM and thread, so two VMs of
one process never stop each other's code) and reads it before each call (the caller charges the call's step), on each iteration
of a `while` loop or an outer counted loop, and once per strip of an innermost counted loop
(noodle.backends.llvm.lower):

- `steps`: what is left of the current chunk of the step budget, charged as the VM charges (one
  per call, one per loop iteration; a strip is charged its iteration count before it runs, a local
  Array or a BLAS call its work): a load, a subtraction, a store and a branch.  Below 0, the slow
  path (`nd_refill`) reads the stop flag and takes the next chunk (at most CHUNK) from `reserve`,
  the rest of the budget; when that cannot cover it, the code stops;
- `stop`: not 0 asks the code to stop at its next refill (within CHUNK steps).  Who sets it: the
  SIGINT watcher of `noodle run` and `--watch` restarting a program (for every context of the
  process, see :func:`hold`), a VM's deadline (for the context of the call it limits,
  :meth:`Context.hold`);
- `memory`: bytes the Arrays a native function makes may still take (charged and given back
  atomically: a split nest's threads share it); an allocation past it fails;
- `max_depth`: the deepest Noodle call depth allowed (the limit's, or RecursionError's);
- `depth`: the Noodle call depth of the call that enters native code;
- `threads`: whether a loop nest may be split across threads (not under a step limit, where the
  threads would share one counter);
- `signal`: not 0 when a Python signal handler is waiting to run (set by the thread that watches
  Python's wakeup fd, :func:`noodle.vm.native.watch_signals`).  Python runs handlers only between
  bytecodes, which native code never reaches: at its next refill, native code on the main thread
  takes the GIL and runs them (`PyErr_CheckSignals`).  A handler that raises (a host's watchdog,
  Ctrl-C's KeyboardInterrupt) stops the code, its exception kept in `exc_type`, `exc_value`,
  `exc_tb` until the call's wrapper raises it (:func:`raise_pending`); one that does not raise
  lets the code go on;
- `blas`: the multiply-adds one BLAS call may still make before the deadline (a time limit's
  meter sets it before each native call, from the process's measured BLAS rate:
  noodle.vm.pacing.blas_seconds); a call that needs more is not made: the code stops, and
  this field is set to -1 to say why (a BLAS call cannot be stopped half-way).

A stopped function returns the status `STOPPED`; a pure function's wrapper then runs the call again
in the VM — where Ctrl-C, a restart or a time limit takes effect as it does for translated code —
and an impure one's raises what its machine says (`on_stop`).
"""
from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any

#: steps and bytes that are never used up (no step or memory limit)
UNLIMITED = 1 << 62
#: the field order native code relies on (noodle.backends.llvm.lower.CTX_*)
FIELDS = ("stop", "steps", "reserve", "memory", "max_depth", "depth", "threads", "signal", "exc_type",
          "exc_value", "exc_tb", "blas")
#: steps native code counts down before it looks at the stop flag (noodle.backends.llvm.lower.CHUNK)
CHUNK = 1 << 16


class Context(ctypes.Structure):
    """One VM's budget for the native calls of one thread."""

    _fields_ = [(name, ctypes.c_int64) for name in FIELDS]

    def __init__(self, max_depth: int) -> None:
        super().__init__(0, CHUNK, UNLIMITED, UNLIMITED, max_depth, 0, 1, 0, 0, 0, 0, UNLIMITED)
        self._reasons: set[object] = set()
        self.address = ctypes.addressof(self)
        with _lock:
            _contexts.add(self)
            if _process_reasons:
                self.stop = 1

    __hash__ = object.__hash__  # one context is one budget: identity, not contents

    def __eq__(self, other: object) -> bool:
        return self is other

    def hold(self, reason: object) -> None:
        """Stop this context's native code until `release(reason)` (several reasons may hold it)."""
        with _lock:
            self._reasons.add(reason)
            self.stop = 1

    def release(self, reason: object) -> None:
        with _lock:
            self._reasons.discard(reason)
            if not self._reasons and not _process_reasons:
                self.stop = 0

    def requested(self) -> bool:
        return self.stop != 0


class Contexts:
    """The one context of a VM without limits: its native calls, in every thread, use `address`.
    Nothing in it is written by native code then (the steps are counted in registers, and
    `nd_refill` grants chunks without charging), so threads share it; only the stop flag changes."""

    def __init__(self) -> None:
        from noodle.backends.llvm.lower import MAX_NATIVE_DEPTH

        self.context = Context(MAX_NATIVE_DEPTH)
        self.address = self.context.address

    def hold(self, reason: object) -> None:
        """Stop this VM's native code (see Context.hold)."""
        self.context.hold(reason)

    def release(self, reason: object) -> None:
        self.context.release(reason)


_lock = threading.Lock()
_contexts: "weakref.WeakSet[Context]" = weakref.WeakSet()
_process_reasons: set[object] = set()


def requested() -> bool:
    """Is native code of the whole process asked to stop (Ctrl-C, a restart)?"""
    return bool(_process_reasons)


def signal_pending() -> None:
    """A Python signal handler waits to run: have native code on the main thread run it (every
    context of the process; only the main thread's code acts on it, where Python runs handlers)."""
    with _lock:
        for ctx in list(_contexts):
            ctx.signal = 1


def _restore() -> Any:
    restore = ctypes.pythonapi.PyErr_Restore
    restore.restype = None
    restore.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    return restore


_restore_error: Any = None


def context_of(holder: Any) -> "Context | None":
    """The context a native call of this thread ran under: `holder` is what the machine linked its
    native functions with (a meter, whose context is per thread; a Contexts; a Context)."""
    if isinstance(holder, Context):
        return holder
    if hasattr(holder, "enter"):
        return getattr(holder, "_context", None)
    return getattr(holder, "context", None)


def raise_pending(ctx: "Context | None") -> None:
    """Raise the exception a signal handler raised while `ctx`'s native code ran (if any): the
    host's own, unchanged (PyErr_Restore through ctypes' Python API, which raises what is set)."""
    global _restore_error
    if ctx is None or not ctx.exc_type:
        return
    kind, value, tb = ctx.exc_type, ctx.exc_value, ctx.exc_tb
    ctx.exc_type = ctx.exc_value = ctx.exc_tb = 0
    if _restore_error is None:
        _restore_error = _restore()
    _restore_error(kind, value or None, tb or None)  # steals the three references; raises


class Stopped(BaseException):
    """A native call that stopped at the flag and cannot be re-run in the VM (it stores into
    Arrays), where nothing else (Ctrl-C, a restart, a deadline) has raised first."""


def hold(reason: object) -> None:
    """Stop all native code of the process until `release(reason)`: Ctrl-C, a `--watch` restart."""
    with _lock:
        _process_reasons.add(reason)
        for ctx in list(_contexts):
            ctx.stop = 1


def release(reason: object) -> None:
    with _lock:
        _process_reasons.discard(reason)
        if _process_reasons:
            return
        for ctx in list(_contexts):
            if not ctx._reasons:
                ctx.stop = 0
