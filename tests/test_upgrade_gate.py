"""The gate of a live upgrade: it waits for every call in flight (however many, however nested)
and for nothing else.  Each wait is on an event or an observed state, never on the clock."""
from __future__ import annotations

import threading
import time
from typing import Callable

import noodle
from helpers import HANG_S

SLOW = 'module slow version "{v}"\nimport gate\nfn work() -> int {{ gate.wait()\n return tag() }}\nfn tag() -> int {{ return {t} }}'


def wait_until(condition: Callable[[], object], timeout: float = HANG_S) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False): for states that
    raise no event of their own, like a thread blocked on a lock."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def test_the_upgrade_waits_for_every_call_in_flight() -> None:
    vm = noodle.VM()
    entered = [threading.Event(), threading.Event()]
    release = [threading.Event(), threading.Event()]
    which = threading.local()

    def wait() -> None:
        entered[which.i].set()
        assert release[which.i].wait(60)

    vm.register_module("gate", {"wait": (wait, "fn() -> none")})
    vm.load(noodle.Source(SLOW.format(v="1.0.0", t=1), name="slow"))
    results: list[int] = []

    def caller(i: int) -> None:
        which.i = i
        results.append(vm.call("slow.work"))

    callers = [threading.Thread(target=caller, args=(i,)) for i in range(2)]
    for t in callers:
        t.start()
    assert entered[0].wait(60) and entered[1].wait(60)
    done: list[object] = []
    up = threading.Thread(target=lambda: done.append(vm.upgrade(noodle.Source(SLOW.format(v="1.1.0", t=2),
                                                                              name="slow"))))
    up.start()
    try:
        held = vm._gate._cond  # the upgrade blocks here while calls are in flight
        assert wait_until(lambda: done or (vm._gate._closed and held._waiters))  # type: ignore[attr-defined]
        release[0].set()
        callers[0].join(60)
        # one call is still in flight: the upgrade must still be waiting for it
        assert wait_until(lambda: done or held._waiters)  # type: ignore[attr-defined]
        assert not done and results == [1]
    finally:
        release[0].set()
        release[1].set()
    callers[1].join(60)
    up.join(60)
    assert results == [1, 1] and len(done) == 1  # both calls finished on the old code, then the swap
    assert vm.call("slow.tag") == 2


def test_nested_calls_leave_nothing_in_flight() -> None:
    # a host function calling back into the VM is one call in flight, not two: afterwards an
    # upgrade finds none and does not wait
    vm = noodle.VM()
    vm.register_module("h", {"back": (lambda: vm.call("inner.leaf"), "fn() -> int")})
    vm.load(noodle.Source('module inner version "1.0.0"\nimport h\nfn leaf() -> int { return 1 }\n'
                          'fn outer() -> int { return h.back() + 1 }', name="inner"))
    assert vm.call("inner.outer") == 2
    assert vm._gate._inflight == 0
    done: list[object] = []
    up = threading.Thread(target=lambda: done.append(vm.upgrade(noodle.Source(
        'module inner version "1.1.0"\nimport h\nfn leaf() -> int { return 10 }\n'
        'fn outer() -> int { return h.back() + 1 }', name="inner"))), daemon=True)
    up.start()
    up.join(60)
    assert len(done) == 1 and vm.call("inner.outer") == 11
