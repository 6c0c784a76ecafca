"""The table through which promoted replacements serve calls into Python.

Library evolution (:mod:`noodle.ale`) fills it; call sites consult it.  Every change bumps
:attr:`ReplacementTable.version`; a call site remembers the version it bound against and binds again
when it differs, so a replacement promoted while a program runs is used by its next calls, without
a restart.  A running program notices promotions made by another process through `poll`, a
function the evolution layer installs and that sites call at most every `poll_seconds` (from
their sampled calls only, so the check costs nothing on most calls).

What a call site holds, once bound, is the *entry* of its function's name: one callable that checks
a call against the replacement's pattern (a guard compiled for it) and calls the replacement
directly, or returns :data:`MISS` — so a served call costs a version check, the guard and the
replacement itself, not a walk over checks and wrappers.  Where a replacement's function is native
code with a Python entry, the entry a site holds is that machine code itself (*positional*: called
with the arguments, not with the original and an argument tuple): its checks in C are the guard,
and a call they do not take returns :data:`MISS`.
"""
from __future__ import annotations

import time
from typing import Any, Callable


class _Miss:
    """The type of :data:`MISS`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISS"


#: what an entry returns for a call it does not serve (the original then serves it)
MISS = _Miss()

Entry = Callable[[Callable[..., Any], tuple, "dict | None"], Any]


class Replacement:
    """Something that serves calls of one Python function (by qualified name) that it accepts.

    `accepts(args, kwargs)` says whether a call is one it serves (its types and sizes); `serve(fn,
    args, kwargs)` computes the result — given the original function, so that a canary can run
    it too and compare.  `entry(fn, args, kwargs)` does both in one call, the way call sites use
    it: the result, or :data:`MISS` for a call it does not accept (by default made of the two;
    :func:`noodle.ale.patterns.entry` compiles one that checks inline and calls the target
    directly).
    """

    __slots__ = ("name", "candidate_id", "accepts", "serve", "entry", "fast")

    def __init__(self, name: str, candidate_id: int, accepts: Callable[[tuple, dict | None], bool],
                 serve: Callable[[Callable[..., Any], tuple, dict | None], Any], entry: Entry | None = None,
                 fast: Callable[..., Any] | None = None) -> None:
        self.name = name
        self.candidate_id = candidate_id
        self.accepts = accepts
        self.serve = serve
        #: called with the arguments themselves (no keywords), the result or MISS: what a site holds
        #: when it is the only replacement of its name (machine code checking its arguments in C)
        self.fast = fast
        if entry is None:
            entry = _entry_of(accepts, serve) if fast is None else _positional(fast)
        self.entry: Entry = entry

    def __repr__(self) -> str:
        return f"Replacement({self.name!r}, candidate {self.candidate_id})"


def _entry_of(accepts: Callable[[tuple, dict | None], bool], serve: Callable[..., Any]) -> Entry:
    def entry(fn: Callable[..., Any], args: tuple, kwargs: dict | None) -> Any:
        return serve(fn, args, kwargs) if accepts(args, kwargs) else MISS
    return entry


def _positional(fast: Callable[..., Any]) -> Entry:
    def entry(fn: Callable[..., Any], args: tuple, kwargs: dict | None) -> Any:
        return MISS if kwargs else fast(*args)
    return entry


def _chain(entries: tuple[Entry, ...]) -> Entry:
    """One entry for several replacements of a name: the first that serves the call."""
    def entry(fn: Callable[..., Any], args: tuple, kwargs: dict | None) -> Any:
        for e in entries:
            result = e(fn, args, kwargs)
            if result is not MISS:
                return result
        return MISS
    return entry


class ReplacementTable:
    """Replacements by qualified name, with a version every change bumps."""

    def __init__(self) -> None:
        self.version = 0
        self.by_name: dict[str, tuple[Replacement, ...]] = {}
        #: the entry call sites hold, by qualified name
        self.entries: dict[str, Entry] = {}
        #: the names whose entry is positional (a replacement's `fast`: called with the arguments)
        self.positional: frozenset[str] = frozenset()
        self.poll: Callable[[], None] | None = None
        self.poll_seconds = 1.0
        self._next_poll = 0.0

    def install(self, replacements: list[Replacement]) -> None:
        """Serve calls with exactly these replacements from now on."""
        by_name: dict[str, list[Replacement]] = {}
        for r in replacements:
            by_name.setdefault(r.name, []).append(r)
        self.by_name = {k: tuple(v) for k, v in by_name.items()}
        self.entries = {k: (v[0].fast or v[0].entry) if len(v) == 1 else _chain(tuple(r.entry for r in v))
                        for k, v in self.by_name.items()}
        self.positional = frozenset(k for k, v in self.by_name.items() if len(v) == 1 and v[0].fast is not None)
        self.version += 1

    def clear(self) -> None:
        self.install([])

    def maybe_poll(self) -> None:
        """Run the installed poll if it is due (called from sampled calls)."""
        poll = self.poll
        if poll is None:
            return
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + self.poll_seconds
            poll()


#: the one table of this process (replacements serve every VM in it, like the libraries they replace)
TABLE = ReplacementTable()
