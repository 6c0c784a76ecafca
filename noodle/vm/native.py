"""The one seam where native code plugs into the VM: the only VM module that imports a native backend.

The VM runs every function as translated bytecode; a native backend (today llvmlite,
:mod:`noodle.backends.llvm`) may put machine code in place of some of them.  The image asks here
what of a module can run natively (kept in the image, so a warm start does not ask again), and the
machine asks whether native code is available and links it.  A backend that is missing or fails
only means the VM runs everything: that decision is the caller's, on an exception from here.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def native_part(module: "Any", module_ir: "Any") -> "Any":
    """What of a verified module can run natively (None when nothing); may raise when the backend fails.

    `module_ir` is the module's typed IR as the loader proved it (noodle.vm.verify_ir): native code
    is built from nothing else."""
    from noodle.backends.llvm import native_part as plan

    return plan(module, module_ir)


def available() -> bool:
    """Can this process run native code (llvmlite importable)?"""
    from noodle.backends.llvm import available as llvm_available

    return llvm_available()


def link(native: "Any", displays: "dict[str, str]", fallbacks: "dict[str, Callable[..., Any]]",
         exact: bool, on_stop: "Callable[[int], None] | None" = None,
         context: "Any" = None) -> "dict[str, Callable[..., Any]]":
    """Machine code for an image's native part: function name -> callable (raises when the JIT fails).

    `context` is what each call's context comes from (see noodle.backends.llvm.link): a machine's
    meter, or :func:`contexts`; `on_stop(status)` raises the limit that stopped an impure call."""
    from noodle.backends.llvm import link as llvm_link

    linked = llvm_link(native, displays, fallbacks, exact=exact, on_stop=on_stop, context=context)
    watch_signals()
    return linked


# ---------------------------------------------------------------- the contexts native code runs in

def contexts() -> "Any":
    """A context per thread without limits (a VM without limits): `.address`, `.hold`, `.release`."""
    from noodle.backends.llvm.stop import Contexts

    return Contexts()


def new_context(max_depth: "int | None" = None) -> "Any":
    """One thread's context under a VM's limits (noodle.backends.llvm.stop.Context): its `steps`,
    `memory`, `max_depth`, `depth` and `threads` are the meter's to set; `max_depth` is capped at
    the deepest native recursion."""
    from noodle.backends.llvm.lower import MAX_NATIVE_DEPTH
    from noodle.backends.llvm.stop import Context

    return Context(MAX_NATIVE_DEPTH if max_depth is None else min(max_depth, MAX_NATIVE_DEPTH))


def status_codes() -> "tuple[int, int, int]":
    """(stopped, too deep, memory limit): the statuses `on_stop` is called with."""
    from noodle.backends.llvm.local_arrays import MEMORY_LIMIT
    from noodle.backends.llvm.lower import STOPPED, TOO_DEEP

    return STOPPED, TOO_DEEP, MEMORY_LIMIT


def guarded_entry(fn: "Any", not_taken: "Any", on_error: "Callable[[BaseException], BaseException]",
                  limit: "int | None" = None) -> "Callable[..., Any] | None":
    """`fn`'s machine code as a callable whose own checks in C are the guard: a call its Python entry
    does not take (another type, dtype, rank, a read-only or misaligned Array, more than `limit`
    elements in an Array, another count) returns `not_taken`; a call that fails in native code is
    finished as `fn`'s own entry finishes it (re-run in the VM), its error mapped by `on_error`.
    None when `fn` is not a pure native function with a Python entry (the layout check failed, a
    VM with limits, no llvmlite).  Library evolution's call sites hold one (noodle.ale.serving)."""
    info = getattr(fn, "__noodle_entry__", None)
    if info is None or not info.pure:
        return None
    from noodle.backends.llvm.pyentry import NOT_FAST, rehandled
    from noodle.runtime.values import ErrorValue

    handle = info.handler

    def handler(status: int, *args: "Any") -> "Any":
        if status == NOT_FAST:
            return not_taken
        try:
            return handle(status, *args)
        except ErrorValue as e:
            raise on_error(e) from None
    return rehandled(fn, handler, limit)


# ---------------------------------------------------------------- stopping native code

def stop_flag_module() -> "Any":
    from noodle.backends.llvm import stop

    return stop


def hold_stop(reason: object) -> None:
    """Stop all native code of the process, in every VM (until `release_stop(reason)`): Ctrl-C, a restart."""
    stop_flag_module().hold(reason)


def release_stop(reason: object) -> None:
    stop_flag_module().release(reason)


def stopped_exception() -> type:
    """What a native call raises when it stopped and cannot be re-run (see noodle.backends.llvm.stop)."""
    return stop_flag_module().Stopped


_signal_watcher: "Any" = None
_sigint_stops = False


def stop_on_sigint() -> None:
    """Make Ctrl-C reach native code: Python runs its SIGINT handler only between bytecodes, which a
    native loop never reaches, so a thread woken by the signal (through Python's wakeup fd) sets the
    stop flag; the native call returns, and the KeyboardInterrupt pending since the signal is raised.

    For the `noodle run` process (it owns its signals); call from the main thread, once."""
    global _sigint_stops
    _sigint_stops = True
    watch_signals()


def watch_signals() -> None:
    """Have Python's signal handlers run while native code runs (noodle.backends.llvm.stop): a
    thread woken through Python's wakeup fd by every signal that has a Python handler marks every
    context, and native code on the main thread runs the handlers at its next poll (a handler's
    exception, a host watchdog's, reaches the host).  Only from the main thread, and only where
    nobody else listens on the wakeup fd (an asyncio loop with signal handlers does): there a
    handler waits until the native call returns.  The machine calls this when it links native code."""
    global _signal_watcher
    import os
    import signal
    import threading

    if _signal_watcher is not None or threading.current_thread() is not threading.main_thread():
        return
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        if signal.set_wakeup_fd(w, warn_on_full_buffer=False) != -1:
            signal.set_wakeup_fd(-1)  # someone else listens already: leave them be
            os.close(r)
            os.close(w)
            _signal_watcher = False
            return
    except ValueError:
        os.close(r)
        os.close(w)
        return

    def watch() -> None:
        stop = stop_flag_module()
        while True:
            try:
                data = os.read(r, 64)
            except OSError:
                return
            if not data:
                return
            if _sigint_stops and signal.SIGINT in data:
                hold_stop("sigint")
            stop.signal_pending()

    _signal_watcher = threading.Thread(target=watch, name="noodle-signals", daemon=True)
    _signal_watcher.start()


class _Deadlines:
    """One thread for the whole process that stops a call's context when the call's deadline passes."""

    def __init__(self) -> None:
        import threading

        self.cond = threading.Condition()
        self.armed: dict[int, tuple[float, Any]] = {}
        self.fired: dict[int, Any] = {}
        self.next_token = 0
        self.thread: "Any" = None

    def arm(self, deadline: float, context: "Any") -> int:
        import threading

        with self.cond:
            self.next_token += 1
            token = self.next_token
            self.armed[token] = (deadline, context)
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="noodle-deadlines", daemon=True)
                self.thread.start()
            self.cond.notify()
        return token

    def disarm(self, token: int) -> None:
        with self.cond:
            self.armed.pop(token, None)
            context = self.fired.pop(token, None)
            if context is not None:
                context.release(("deadline", token))

    def run(self) -> None:
        import time

        with self.cond:
            while True:
                now = time.perf_counter()
                for token, (deadline, context) in list(self.armed.items()):
                    if deadline <= now and token not in self.fired:
                        self.fired[token] = context
                        context.hold(("deadline", token))
                pending = [d for t, (d, _) in self.armed.items() if t not in self.fired]
                self.cond.wait(None if not pending else max(0.0, min(pending) - now))


_deadlines: "_Deadlines | None" = None


def arm_deadline(deadline: float, context: "Any") -> int:
    """Have the native code of `context` stop when `deadline` (a time.perf_counter() value) passes;
    disarm with the token."""
    global _deadlines
    if _deadlines is None:
        _deadlines = _Deadlines()
    return _deadlines.arm(deadline, context)


def disarm_deadline(token: int) -> None:
    if _deadlines is not None:
        _deadlines.disarm(token)


def opencl_native(name: str, forced: bool, safe: bool, vm_only: bool) -> "Callable[..., Any]":
    """The implementation of an OpenCL dispatch's native (`opencl.run`, `opencl.result`) for a
    machine (noodle.backends.opencl.natives; the device opens on the first dispatch)."""
    from noodle.backends.opencl.natives import bind

    return bind(name, forced=forced, safe=safe, vm_only=vm_only)
