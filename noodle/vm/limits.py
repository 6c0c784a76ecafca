"""What a VM grants (capabilities) and allows (limits), and the meter that enforces limits.

A VM made by a host grants nothing by default: no files, no standard input,
no environment, no Python imports, no network.  Natives declare the
capability they need (:class:`noodle.stdlib.natives.Native`); a native whose
capability is not granted is bound to a stub that raises a catchable
`PermissionError`.

Limits are enforced by *metered* code: when a VM has limits, modules are
translated with a step count at every call and loop iteration and a call-depth
count (:mod:`noodle.vm.translate`).  The count runs down a small chunk held in
a thread-local :class:`Meter`; when a chunk is used up, :meth:`Meter.refill`
checks the whole budget — steps, the deadline, the process's memory growth —
so the hot path costs one decrement and one comparison.  A limit hit unwinds
the call with :class:`LimitSignal`, which Noodle's `catch` cannot catch (it
is not an `Exception`), and reaches the host as :class:`noodle.LimitExceeded`.

Work that grows with its operands (a concatenation, a search, a sort, an Array
made) is charged too, before it runs (:meth:`Meter.charge`, the costs in
:mod:`noodle.vm.metering`): its work in steps, its result's bytes against the
memory limit.  A call starts with an empty chunk, so the budget is checked at
its first step, and no call is too short to be checked.  Under a time limit an
operation that is one long C call is held to the deadline itself: run in pieces
with the deadline checked between them, or estimated and refused before it starts
(:mod:`noodle.vm.pacing`).

Native code holds the same limits through the thread's *context*
(noodle.backends.llvm.stop, made on the first native call): before each native
call the meter gives it what is left of the step budget, the call depth and the
memory the call may still take; native code charges steps as the VM does (one
per call and loop iteration, work by its size) and stops when they run out,
and after the call the meter charges what it used (:meth:`Meter.enter`,
:meth:`Meter.leave`).  A deadline stops the context's native code through its
stop flag.
"""
from __future__ import annotations

import os
import threading
import time


class _Settings:
    """Immutable keyword settings with a readable repr (not a dataclass: `noodle run` must start fast)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f) for f in self._fields))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields) + ")"


class Capabilities(_Settings):
    """What Noodle code in a VM may touch.  `noodle run` grants everything; a host VM nothing."""

    __slots__ = ("fs_read", "fs_write", "stdin", "env", "py_import", "network")
    _fields = __slots__

    def __init__(self, fs_read: bool = False, fs_write: bool = False, stdin: bool = False, env: bool = False,
                 py_import: bool = False, network: bool = False) -> None:
        for name, value in zip(self._fields, (fs_read, fs_write, stdin, env, py_import, network)):
            object.__setattr__(self, name, bool(value))

    @classmethod
    def all(cls) -> "Capabilities":
        return cls(True, True, True, True, True, True)

    def grants(self, capability: str | None) -> bool:
        return capability is None or bool(getattr(self, capability, False))


class Limits(_Settings):
    """Per-call budgets of a VM; None means unlimited."""

    __slots__ = ("max_steps", "max_seconds", "max_memory_mb", "max_depth")
    _fields = __slots__

    def __init__(self, max_steps: int | None = None, max_seconds: float | None = None,
                 max_memory_mb: float | None = None, max_depth: int | None = None) -> None:
        for name, value in zip(self._fields, (max_steps, max_seconds, max_memory_mb, max_depth)):
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
            object.__setattr__(self, name, value)

    @property
    def any(self) -> bool:
        return any(getattr(self, f) is not None for f in self._fields)


class LimitSignal(BaseException):
    """Unwinds a call that hit a limit; not an Exception, so Noodle code cannot catch it."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message


#: Steps between two full checks of the budget.
CHUNK = 2000
#: Elements or characters an operation may touch per step it is charged (see noodle.vm.metering).
WORK_PER_STEP = 64
_WORK_SHIFT = 6
#: An operation about to allocate this many bytes or more checks the memory limit at once.
LARGE_ALLOCATION = 1 << 16

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int | None:
    """The process's resident memory (Linux /proc), or None where it cannot be measured."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class LimitUnavailable(ValueError):
    """A limit this platform cannot enforce (the memory limit where resident memory cannot be read)."""


class Meter(threading.local):
    """One thread's budget for the current outermost call into a VM."""

    steps = CHUNK
    depth = 0
    max_depth = 1 << 30
    _deadline_token = 0
    used = 0
    granted = 0
    #: this thread's context for native code (noodle.backends.llvm.stop.Context), made when first needed
    _context: "object | None" = None
    _native_budget = 0
    #: seconds per multiply-add of BLAS in this process (noodle.vm.pacing.blas_seconds), once needed
    _blas_rate: "float | None" = None
    deadline: "float | None" = None

    def __init__(self, limits: Limits, shared: "dict | None" = None) -> None:
        if limits.max_memory_mb is not None and resident_bytes() is None:
            raise LimitUnavailable("max_memory_mb cannot be enforced here: this platform does not report the "
                                   "process's resident memory (/proc/self/statm)")
        self.limits = limits
        #: the same dict in every thread (threading.local runs __init__ again per thread with these
        #: arguments): "native_deadlines" is set once native code is linked under a time limit
        self.shared = shared if shared is not None else {}
        self.memory_limit = int(limits.max_memory_mb * 1024 * 1024) if limits.max_memory_mb is not None else None
        self.active = False

    def start(self) -> None:
        """Begin an outermost call: a fresh budget."""
        lim = self.limits
        self.active = True
        self.used = 0
        self.depth = 0
        self.max_depth = lim.max_depth if lim.max_depth is not None else 1 << 30
        self.deadline = time.perf_counter() + lim.max_seconds if lim.max_seconds is not None else None
        if self.deadline is not None and self.shared.get("native_deadlines"):
            from noodle.vm.native import arm_deadline
            self._deadline_token = arm_deadline(self.deadline, self.context())
            self._blas_budget()
        self.memory_base = 0
        if lim.max_memory_mb is not None:
            self.memory_base = resident_bytes()  # type: ignore[assignment]
            if self.memory_base is None:  # fail closed: never measure growth from a wrong base
                self._unmeasurable()
        if self._context is not None and self.memory_limit is not None:
            self._context.memory = self.memory_limit  # type: ignore[attr-defined]
        # an empty first chunk: the first step checks the whole budget (no call is too short for it)
        self.granted = 0
        self.steps = 0

    def stop(self) -> None:
        self.active = False
        if self._deadline_token:
            from noodle.vm.native import disarm_deadline
            disarm_deadline(self._deadline_token)
            self._deadline_token = 0

    def _next_chunk(self) -> int:
        if self.limits.max_steps is None:
            return CHUNK
        return max(0, min(CHUNK, self.limits.max_steps - self.used))

    def refill(self) -> None:
        """A chunk is used up (`steps` went below zero): check every limit, then grant the next one."""
        lim = self.limits
        self.used += self.granted - self.steps
        if lim.max_steps is not None and self.used > lim.max_steps:
            self.steps = self.granted = 0
            raise LimitSignal("steps", f"step limit exceeded ({lim.max_steps:,} steps)")
        self.check_time()
        self._blas_budget()
        if self.memory_limit is not None:
            self.check_memory(0)
        self.granted = self._next_chunk()
        self.steps = self.granted

    def charge(self, work: int, nbytes: int = 0) -> None:
        """An operation about to touch `work` elements and allocate `nbytes`: refused before it
        runs if its result would not fit under the memory limit; its work charged as steps."""
        if nbytes >= LARGE_ALLOCATION:
            if self.memory_limit is not None:
                self.check_memory(nbytes)
            if self.deadline is not None:
                self._check_write(nbytes)
        self.steps -= work >> _WORK_SHIFT
        if self.steps < 0:
            self.refill()

    def _check_write(self, nbytes: int) -> None:
        """Under a time limit, refuse before it starts an operation whose result is too big to be
        written by the deadline: one C call (`"abc" * 10**9` is 3 GB) that nothing can stop once
        it runs (the rate: noodle.vm.pacing.write_seconds)."""
        from noodle.vm.pacing import ALLOCATION_ESTIMATED, write_seconds
        if nbytes < ALLOCATION_ESTIMATED:
            return
        need = write_seconds(nbytes)
        if need > self.deadline - time.perf_counter():  # type: ignore[operator]
            self.time_out(f"an operation making {nbytes / 1048576:,.0f} MB would take about {need:.1f} s")

    def check_memory(self, nbytes: int) -> None:
        """Would `nbytes` more keep the call's memory growth under the limit?  Fails closed: where
        resident memory cannot be read now (it could when the VM was made), the call is stopped with
        the memory limit's error — an unreadable measure never counts as no growth."""
        now = resident_bytes()
        if now is None:
            self._unmeasurable()
        grown = now - self.memory_base
        if self._context is not None:  # what native code may still allocate, as of this measure
            self._context.memory = max(0, self.memory_limit - grown)  # type: ignore[attr-defined,operator]
        if grown + nbytes > self.memory_limit:  # type: ignore[operator]
            need = f" (an operation needs {nbytes / 1048576:,.0f} MB more)" if nbytes >= 1048576 else ""
            raise LimitSignal("memory", f"memory limit exceeded ({self.limits.max_memory_mb:g} MB){need}")

    def _unmeasurable(self) -> None:
        raise LimitSignal("memory", f"memory limit ({self.limits.max_memory_mb:g} MB) cannot be enforced: "
                                    "the process's resident memory could not be read (/proc/self/statm)")

    def check_time(self) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self._time_out()

    def _time_out(self) -> None:
        self.time_out()

    def time_out(self, why: str = "") -> None:
        """Raise the time limit's error (`why`: an operation refused before it started, and why)."""
        raise LimitSignal("seconds", f"time limit exceeded ({self.limits.max_seconds:g} s)" + (f": {why}" if why else ""))

    # ------------------------------------------------------------ native code

    def context(self) -> "object":
        """This thread's context for native code (made on first use: its stop flag, budgets, depth)."""
        ctx = self._context
        if ctx is None:
            from noodle.vm.native import new_context

            lim = self.limits
            ctx = self._context = new_context(lim.max_depth)
            if self.memory_limit is not None:  # until the next measure (start, check_memory) says less
                ctx.memory = self.memory_limit  # type: ignore[attr-defined]
            # without a step limit native code counts chunks but charges nothing (and threads may split nests)
            ctx.threads = int(lim.max_steps is None)  # type: ignore[attr-defined]
            self._chunk = ctx.steps  # type: ignore[attr-defined]  # a fresh context holds one chunk
            if self.active:
                self._blas_budget()
        return ctx

    def _blas_budget(self) -> None:
        """Under a time limit, tell native code how many multiply-adds one BLAS call may still make
        before the deadline (noodle.backends.llvm.stop: `blas`).  Set when a call starts, when its
        context is made and at each full check of the budget (every 2 000 steps), not per native
        call: a native call that itself runs long meets a budget as old as its start, so a BLAS
        call it makes ends by twice the limit at worst."""
        ctx = self._context
        if ctx is None or self.deadline is None:
            return
        if self._blas_rate is None:
            from noodle.vm.pacing import blas_seconds
            self._blas_rate = blas_seconds(None, 1)
        left = self.deadline - time.perf_counter()
        ctx.blas = int(min(left / self._blas_rate, 1 << 62)) if left > 0 else 0  # type: ignore[attr-defined]

    def enter(self) -> int:
        """Before a native call: its context's address, with the steps left and the call depth."""
        ctx = self._context or self.context()
        ctx.depth = self.depth  # type: ignore[attr-defined]
        if self.limits.max_steps is not None:
            self._native_budget = left = self.limits.max_steps - self.used - self.granted + self.steps
            ctx.steps = chunk = min(left, self._chunk)  # type: ignore[attr-defined]
            ctx.reserve = left - chunk  # type: ignore[attr-defined]
        return ctx.address  # type: ignore[attr-defined]

    def leave(self) -> None:
        """After a native call: charge the steps it used (past the budget, the step limit is hit)."""
        ctx = self._context
        if self.limits.max_steps is not None:
            self.steps -= self._native_budget - ctx.steps - ctx.reserve  # type: ignore[union-attr]
            if self.steps < 0:
                self.refill()

    def native_stopped(self, status: int) -> None:
        """An impure native call (it cannot be re-run) ended with `status`: raise the limit that
        stopped it — steps used up, the deadline passed, too deep, an Array past the memory limit."""
        from noodle.vm.native import status_codes

        stopped, too_deep, memory = status_codes()
        if status == stopped:
            if self.steps < 0 or (self.limits.max_steps is not None
                                  and self.used + self.granted - self.steps > self.limits.max_steps):
                self.refill()
            self.check_time()
            if getattr(self._context, "blas", 0) == -1:  # a BLAS call that could not end in time
                self.time_out("a BLAS call of native code would not end by the deadline")
        elif status == too_deep and self.limits.max_depth is not None \
                and self.limits.max_depth <= self._context.max_depth:  # type: ignore[union-attr]
            self.too_deep()  # the limit, not the deepest native recursion, was the context's cap
        elif status == memory and self.memory_limit is not None:
            raise LimitSignal("memory", f"memory limit exceeded ({self.limits.max_memory_mb:g} MB)")

    def too_deep(self) -> None:
        raise LimitSignal("depth", f"call depth limit exceeded ({self.max_depth} calls)")

    def sleep(self, seconds: float) -> None:
        """`time.sleep` that wakes at the deadline."""
        if self.deadline is not None:
            remaining = self.deadline - time.perf_counter()
            if seconds > remaining:
                time.sleep(max(0.0, remaining))
                # the deadline is reached, even where the clock reads it exactly: never sleep on past it
                self._time_out()
        time.sleep(max(0.0, seconds))
