"""The meter's side of native calls, checked directly on a context (no native code compiled).

Before a native call the meter hands its context what is left of the step budget, the call depth
and the memory the call may still take; after it, the meter charges what the call used, and a
stopped impure call raises the limit that stopped it (`noodle.vm.limits.Meter.context`, `enter`,
`leave`, `native_stopped`; the deadline armed for native code in `start` and disarmed in `stop`).
`test_trust_limits.py` runs the same through real native code in subprocesses, which mutation
testing cannot see; these cases pin each figure exactly.
"""
from __future__ import annotations

import threading
import time

import pytest

from noodle.backends.llvm import stop as S
from noodle.vm import limits as L
from noodle.vm.native import status_codes

from helpers import HANG_S


def started(shared: "dict | None" = None, **limits: float) -> L.Meter:
    m = L.Meter(L.Limits(**limits), shared)
    m.start()
    return m


def refilled(**limits: float) -> L.Meter:
    """A started meter that has used one step and granted its first chunk, as after a call's first step."""
    m = started(**limits)
    m.steps -= 1
    m.refill()
    return m


def test_a_context_is_made_once_with_the_limits_of_its_meter() -> None:
    from noodle.backends.llvm.lower import MAX_NATIVE_DEPTH

    m = started(max_steps=100, max_depth=40)
    ctx = m.context()
    assert m.context() is ctx and m._context is ctx
    assert (ctx.max_depth, ctx.threads, ctx.steps, m._chunk) == (40, 0, S.CHUNK, S.CHUNK)
    assert ctx.memory == S.UNLIMITED  # no memory limit: never set
    free = started(max_seconds=100).context()
    assert (free.max_depth, free.threads) == (MAX_NATIVE_DEPTH, 1)  # no step limit: nests may be split
    deep = started(max_depth=MAX_NATIVE_DEPTH + 1).context()
    assert deep.max_depth == MAX_NATIVE_DEPTH


def test_a_context_gets_the_memory_limit_and_what_is_left_of_it(monkeypatch: pytest.MonkeyPatch) -> None:
    rss = [100 << 20]
    monkeypatch.setattr(L, "resident_bytes", lambda: rss[0])
    m = started(max_memory_mb=2)
    ctx = m.context()
    assert ctx.memory == 2 << 20
    rss[0] += 1 << 19
    m.check_memory(0)
    assert ctx.memory == (2 << 20) - (1 << 19)  # as of this measure
    rss[0] += 3 << 20
    with pytest.raises(L.LimitSignal):
        m.check_memory(0)
    assert ctx.memory == 0  # past the limit: nothing, never a negative budget
    rss[0] = 200 << 20
    m.start()  # a new call: the whole limit again
    assert ctx.memory == 2 << 20 and m.memory_base == 200 << 20


def test_a_native_call_is_given_the_steps_left_and_the_depth() -> None:
    m = refilled(max_steps=100_000)  # the first chunk: CHUNK steps granted, 1 used
    m.steps -= 10
    m.depth = 7
    address = m.enter()
    ctx = m._context
    left = 100_000 - 1 - 10
    assert address == ctx.address and ctx.depth == 7
    assert (m._native_budget, ctx.steps, ctx.reserve) == (left, S.CHUNK, left - S.CHUNK)
    small = refilled(max_steps=50)
    small.enter()
    assert (small._native_budget, small._context.steps, small._context.reserve) == (49, 49, 0)


def test_without_a_step_limit_a_native_call_keeps_its_context_s_steps() -> None:
    m = started(max_seconds=100)
    ctx = m.context()
    ctx.steps, ctx.reserve = 123, 456
    m.depth = 2
    m.enter()
    assert (ctx.steps, ctx.reserve, ctx.depth) == (123, 456, 2)
    steps = m.steps
    ctx.steps = 0
    m.leave()  # nothing charged
    assert m.steps == steps


def test_after_a_native_call_the_steps_it_used_are_charged() -> None:
    m = refilled(max_steps=100_000)
    m.enter()
    ctx = m._context
    ctx.steps -= 300  # the call used 300 steps of its chunk
    m.leave()
    assert m.steps == L.CHUNK - 300 and m.used == 1
    m.enter()
    ctx.steps, ctx.reserve = 5, ctx.reserve - 1000  # took a further chunk from the reserve
    used = m._native_budget - 5 - ctx.reserve
    assert used == (100_000 - 1 - 300) - 5 - (100_000 - 1 - 300 - S.CHUNK - 1000)
    m.leave()  # past the meter's chunk: refilled, every step counted
    assert (m.used, m.steps) == (1 + 300 + used, L.CHUNK)
    m.enter()
    ctx.steps, ctx.reserve = 0, 0  # exactly the whole budget: refilled, nothing left, not past it
    m.leave()
    assert (m.used, m.granted, m.steps) == (100_000, 0, 0)
    m.enter()
    assert (ctx.steps, ctx.reserve) == (0, 0)
    ctx.steps = -1  # one step past it
    with pytest.raises(L.LimitSignal) as e:
        m.leave()
    assert (e.value.limit, e.value.message) == ("steps", "step limit exceeded (100,000 steps)")


def test_a_native_call_that_used_its_chunk_exactly_is_refilled_only_past_it() -> None:
    m = refilled(max_steps=100_000)
    m.enter()
    ctx = m._context
    ctx.steps -= L.CHUNK  # exactly this chunk's steps left in the meter: no refill yet
    m.leave()
    assert (m.steps, m.used) == (0, 1)
    m.enter()
    ctx.steps -= 1
    m.leave()  # one past: refilled
    assert (m.used, m.steps) == (1 + L.CHUNK + 1, L.CHUNK)


def test_a_stopped_native_call_raises_the_limit_that_stopped_it(monkeypatch: pytest.MonkeyPatch) -> None:
    stopped, too_deep, memory = status_codes()
    m = refilled(max_steps=10)
    m.steps = -1  # native code used the rest and more
    with pytest.raises(L.LimitSignal) as e:
        m.native_stopped(stopped)
    assert e.value.limit == "steps"
    m = refilled(max_steps=10)
    m.used = 11  # the budget past its end (charged by another path), steps still left in the chunk
    with pytest.raises(L.LimitSignal) as e:
        m.native_stopped(stopped)
    assert e.value.limit == "steps"
    m = refilled(max_steps=10)
    m.steps = 0  # exactly at the limit (1 used + 9 granted, 0 left): not past it, nothing refilled
    m.native_stopped(stopped)
    assert (m.used, m.granted, m.steps) == (1, 9, 0)
    m.steps = 5  # 5 of the chunk used: 6 steps in all, well under
    m.native_stopped(stopped)
    assert (m.used, m.granted, m.steps) == (1, 9, 5)
    now = [10.0]
    monkeypatch.setattr(L.time, "perf_counter", lambda: now[0])
    timed = refilled(max_seconds=1, max_steps=1000)
    timed.native_stopped(stopped)  # stopped by something else (Ctrl-C): the meter has nothing to say
    now[0] = 11.5
    with pytest.raises(L.LimitSignal) as e:
        timed.native_stopped(stopped)
    assert e.value.limit == "seconds"
    timed.native_stopped(memory)  # no memory limit: not the meter's
    timed.native_stopped(too_deep)  # no depth limit: RecursionError's own cap
    assert timed.active


def test_a_native_call_too_deep_or_out_of_memory_names_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from noodle.backends.llvm.lower import MAX_NATIVE_DEPTH

    stopped, too_deep, memory = status_codes()
    monkeypatch.setattr(L, "resident_bytes", lambda: 1 << 30)
    m = started(max_depth=30, max_memory_mb=1.5)
    m.context()
    with pytest.raises(L.LimitSignal) as e:
        m.native_stopped(too_deep)
    assert (e.value.limit, e.value.message) == ("depth", "call depth limit exceeded (30 calls)")
    with pytest.raises(L.LimitSignal) as e:
        m.native_stopped(memory)
    assert (e.value.limit, e.value.message) == ("memory", "memory limit exceeded (1.5 MB)")
    at_cap = started(max_depth=MAX_NATIVE_DEPTH)
    at_cap.context()
    with pytest.raises(L.LimitSignal) as e:
        at_cap.native_stopped(too_deep)  # the limit is exactly the cap: still the limit's
    assert e.value.limit == "depth"
    past_cap = started(max_depth=MAX_NATIVE_DEPTH + 1)
    past_cap.context()
    past_cap.native_stopped(too_deep)  # native recursion's own cap was reached first: RecursionError's


def test_a_deadline_is_armed_for_native_code_and_disarmed_when_the_call_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    from noodle.vm import native

    # deadlines of our own, with their own thread: one made before a fork (mutmut forks a process
    # per mutant) would hold a thread that does not run in the child
    monkeypatch.setattr(native, "_deadlines", None)
    shared = {"native_deadlines": True}
    m = L.Meter(L.Limits(max_seconds=0), shared)
    m.start()  # a deadline already passed: the deadlines' thread stops the context at once
    ctx = m._context
    assert ctx is not None and m._deadline_token > 0
    # the stop flag is a C field nothing signals on: watched until set (HANG_S only if it never is)
    deadline = time.monotonic() + HANG_S
    while not ctx.stop and time.monotonic() < deadline:
        threading.Event().wait(0.001)
    assert ctx.stop == 1
    m.stop()
    assert ctx.stop == 0 and m._deadline_token == 0 and not m.active  # released with the call
    m.stop()  # twice: nothing to disarm
    plain = L.Meter(L.Limits(max_seconds=100), {})
    plain.start()
    assert plain._deadline_token == 0 and plain._context is None  # no native code linked: no context
    unlimited = L.Meter(L.Limits(max_steps=10), shared)
    unlimited.start()
    assert unlimited._deadline_token == 0  # no time limit: no deadline
