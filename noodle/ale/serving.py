"""Candidates serving live calls: promoted ones outright, canaries shadow-compared (Scientist-style).

:func:`install` loads every promoted and canary candidate of a registry into a VM and puts them in
the FFI's replacement table; it also installs a poll, so that a running program picks up what
`noodle ale evolve/promote/rollback` changed without a restart (the registry's version is read at
most once a second, from sampled calls).

A promoted candidate serves every call it accepts.  A canary serves none by itself: on a share of
the calls it accepts (`canary_share`, default 10%) the original runs *and* the candidate runs on
a copy of the arguments; the original's result is returned, both are timed, the candidate's
exceptions are caught and counted.  A mismatch, an exception the original did not raise, or a
measured slowdown (after :data:`SLOWDOWN_AFTER` comparisons, the candidate's median time per call
above the original's)
rolls the candidate back at once: the registry records why, the table drops it.  The counts of
clean comparisons are written back at exit; `evolve` promotes a canary with enough of them.
"""
from __future__ import annotations

import atexit
import copy
import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from noodle.ale.compare import Outcome, differs, error_kind
from noodle.ale.patterns import accepts, entry
from noodle.ale.registry import Candidate, Registry
from noodle.ale.runner import CandidateRunner, python_exception
from noodle.vm.pyffi.replacements import MISS, TABLE, Replacement, ReplacementTable
from noodle.runtime.values import ErrorValue

SLOWDOWN_AFTER = 30


class Canary:
    """Shadow comparison of one candidate on a share of live calls."""

    def __init__(self, server: "Server", candidate: Candidate, runner: CandidateRunner | None) -> None:
        self.server = server
        self.candidate = candidate
        self.runner = runner  # loaded at the first comparison
        self.every = max(1, round(1 / candidate.canary_share)) if candidate.canary_share > 0 else 0
        self.countdown = self.every
        self.compared = 0
        self.written = 0
        #: recent per-call times (the first calls of a candidate include compiling its native code, so
        #: medians, not sums, decide a slowdown)
        self.original_ns: list[int] = []
        self.candidate_ns: list[int] = []
        self.failed = False

    def serve(self, original: Callable[..., Any], args: tuple, kwargs: dict | None) -> Any:
        if self.failed or not self.every:
            return original(*args) if kwargs is None else original(*args, **kwargs)
        self.countdown -= 1
        if self.countdown:
            return original(*args) if kwargs is None else original(*args, **kwargs)
        self.countdown = self.every
        shadow_args = copy.deepcopy(args)
        t0 = time.perf_counter_ns()
        try:
            result = original(*args) if kwargs is None else original(*args, **kwargs)
        except Exception as e:
            expected = Outcome(error=type(e).__name__, message=str(e))
            _keep(self.original_ns, time.perf_counter_ns() - t0)
            self._compare(expected, shadow_args)
            raise
        _keep(self.original_ns, time.perf_counter_ns() - t0)
        self._compare(Outcome(value=result, args_after=tuple(args)), shadow_args)
        return result

    def _compare(self, expected: Outcome, args: tuple) -> None:
        if self.runner is None:
            self.runner = self.server._runner(self.candidate)
            if self.runner is None:  # it does not load: nothing to compare, the original serves
                self.failed = True
                return
        t0 = time.perf_counter_ns()
        try:
            value = self.runner.serve(lambda *a: (_ for _ in ()).throw(_NotServed()), args, None)
            got = Outcome(value=value, args_after=tuple(args))
        except _NotServed:
            return
        except ErrorValue as e:
            got = Outcome(error=error_kind(e.f_kind, e.f_message), message=e.f_message)
        except Exception as e:
            got = Outcome(error=type(e).__name__, message=str(e))
        _keep(self.candidate_ns, time.perf_counter_ns() - t0)
        self.compared += 1
        why = differs(expected, got)
        if why is None and self.compared >= SLOWDOWN_AFTER:
            cand, orig = statistics.median(self.candidate_ns), statistics.median(self.original_ns)
            if cand > orig:
                why = (f"measured slowdown on live calls: median {cand:.0f} ns per call against the "
                       f"original's {orig:.0f} ns")
        if why is not None:
            self.failed = True
            self.server.roll_back(self.candidate, f"canary disagreed on a live call: {why}", self)


def _keep(times: list[int], ns: int, most: int = 201) -> None:
    times.append(ns)
    if len(times) > most:
        del times[0]


def _original(original: Callable[..., Any], args: tuple, kwargs: dict | None) -> Any:
    return original(*args) if kwargs is None else original(*args, **kwargs)


class _NotServed(Exception):
    """The candidate handed the call back (its arguments did not convert): nothing to compare."""


class Server:
    """The replacements of one registry, loaded into one VM, installed in a replacement table."""

    def __init__(self, db_path: "str | os.PathLike[str]", vm_factory: Callable[[], Any],
                 table: ReplacementTable = TABLE) -> None:
        self.db_path = Path(db_path)
        self.vm_factory = vm_factory
        self.table = table
        self.version = -1
        self.canaries: dict[int, Canary] = {}
        self.loaded: dict[int, CandidateRunner] = {}
        self.errors: list[str] = []
        self.vm: Any = None

    def folder(self) -> Path:
        return self.db_path.parent / "candidates"

    def refresh(self, force: bool = False) -> None:
        """Install what the registry says serves now, if its version changed."""
        if not self.db_path.exists():
            return
        with Registry(self.db_path) as reg:
            version = reg.version()
            if version == self.version and not force:
                return
            self._write_canary_counts(reg)
            self.version = version
            serving = reg.candidates(("canary", "promoted"))
        replacements: list[Replacement] = []
        canaries: dict[int, Canary] = {}
        for c in serving:
            check = accepts(c.pattern, c.max_size)
            if c.state == "promoted":
                runner = self.loaded.get(c.id)
                if runner is not None:
                    replacements.append(served(c, check, runner))
                else:
                    load = self._first_call(c, check)
                    replacements.append(Replacement(c.name, c.id, check, load,
                                                    entry(c.pattern, c.max_size, load, False)))
            else:
                canary = self.canaries.get(c.id) or Canary(self, c, None)
                canaries[c.id] = canary
                replacements.append(Replacement(c.name, c.id, check, canary.serve,
                                                entry(c.pattern, c.max_size, canary.serve, False)))
        self.canaries = canaries
        self.table.install(replacements)

    def _first_call(self, c: Candidate, check: Callable[[tuple, dict | None], bool]
                    ) -> Callable[[Callable[..., Any], tuple, dict | None], Any]:
        """Serve a promoted candidate, loading it at its first call (a program pays for compiling only
        the replacements it uses), then put its direct entry in the table for the calls after; a
        candidate that fails to load leaves the table (the original serves)."""
        def serve(original: Callable[..., Any], args: tuple, kwargs: dict | None) -> Any:
            runner = self._runner(c)
            loaded = [served(c, check, runner)] if runner is not None else []
            # sites bind again, to the direct entry (or to none: the original serves)
            self.table.install([x for rs in self.table.by_name.values() for r in rs
                                for x in (loaded if r.candidate_id == c.id else [r])])
            if runner is None:
                return _original(original, args, kwargs)
            return runner.serve(original, args, kwargs)
        return serve

    def _runner(self, c: Candidate) -> CandidateRunner | None:
        runner = self.loaded.get(c.id)
        if runner is None:
            if self.vm is None:
                self.vm = self.vm_factory()
            try:
                runner = CandidateRunner(self.vm, c.id, c.source, c.entry, c.params, self.folder())
            except Exception as e:  # a candidate that no longer compiles serves nothing
                self.errors.append(f"candidate {c.id}: {type(e).__name__}: {e}")
                return None
            self.loaded[c.id] = runner
        return runner

    def roll_back(self, candidate: Candidate, reason: str, canary: Canary) -> None:
        """Take a misbehaving canary out of service now, and record why."""
        self.table.install([r for name in self.table.by_name for r in self.table.by_name[name]
                            if r.candidate_id != candidate.id])
        try:
            with Registry(self.db_path) as reg:
                self._write_canary_counts(reg)
                c = reg.move(candidate.id, "rolled_back", reason, actor=f"canary (pid {os.getpid()})",
                             canary_mismatches=reg.get(candidate.id).canary_mismatches + 1)
                self.version = reg.version()
        except Exception as e:  # the rollback in memory stands; the registry is told next time
            self.errors.append(f"could not record the rollback of candidate {candidate.id}: {e}")
            return
        self.canaries.pop(c.id, None)

    def _write_canary_counts(self, reg: Registry) -> None:
        for cid, canary in self.canaries.items():
            clean = canary.compared - canary.written - (1 if canary.failed else 0)
            if clean > 0:
                reg.add_canary_results(cid, clean, 0)
            canary.written = canary.compared

    def close(self) -> None:
        """Write the canaries' clean comparisons (at exit)."""
        if not self.canaries or not self.db_path.exists():
            return
        try:
            with Registry(self.db_path) as reg:
                self._write_canary_counts(reg)
        except Exception as e:
            self.errors.append(f"could not record canary results: {e}")


def served(c: Candidate, check: Callable[[tuple, dict | None], bool], runner: CandidateRunner) -> Replacement:
    """A loaded candidate as call sites serve it: its function's machine code itself where it is
    native (the Python entry's checks in C are the guard: see `native_entry`), else the pattern's
    guard and a direct call of its function (or of its serve, which converts lists first), in one
    compiled entry."""
    fast = native_entry(c, runner)
    if fast is not None:
        return Replacement(c.name, c.id, check, runner.serve, fast=fast)
    if runner.direct is not None:
        e = entry(c.pattern, c.max_size, runner.direct, True, python_exception)
    else:
        e = entry(c.pattern, c.max_size, runner.serve, False)
    return Replacement(c.name, c.id, check, runner.serve, e)


def native_entry(c: Candidate, runner: CandidateRunner) -> Callable[..., Any] | None:
    """The candidate's machine code as the entry a call site holds, when its function is native and
    pure: its Python entry checks in C everything the pattern's guard checks in Python — exactly an
    ndarray, the dtype, the number of dimensions, at most `max_size` elements (the entry's limit);
    exactly an int that fits, a float, a bool; the count — and more (writeable, whole-element
    strides).  A call it does not take is MISS: the original serves it, as it serves a call the
    Python guard refuses.  A call that fails in native code is re-run in the VM, and its Noodle
    error raised as the Python exception it stands for, as the direct entry does."""
    if runner.direct is None:
        return None
    from noodle.vm.native import guarded_entry

    return guarded_entry(runner.direct, MISS, python_exception, c.max_size)


def install(db_path: "str | os.PathLike[str]", vm_factory: Callable[[], Any], table: ReplacementTable = TABLE,
            poll_seconds: float = 1.0) -> Server:
    """Serve this registry's promoted and canary candidates in this process, and follow its changes."""
    server = Server(db_path, vm_factory, table)
    server.refresh()
    table.poll = server.refresh
    table.poll_seconds = poll_seconds
    atexit.register(server.close)
    return server
