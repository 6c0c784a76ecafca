"""Only Noodle errors are catchable by Noodle code: what the host raises into a running call reaches the host.

A watchdog's exception, raised by a signal handler into a program that catches every error in a
loop, must not be swallowed (before the fix it became a catchable error three times and the call
returned 3).  Each case below runs that program with the handler firing repeatedly.
"""
from __future__ import annotations

import signal
import threading

import numpy as np
import pytest

import noodle

SWALLOWER = """
fn run() -> int {
    var caught = 0
    while caught < 3 {
        try {
            var i = 0
            while true { i = i + 1 }
        } catch e {
            caught = caught + 1
        }
    }
    return caught
}
fn run_unbound() -> int {
    var caught = 0
    while caught < 3 {
        try {
            var i = 0
            while true { i = i + 1 }
        } catch {
            caught = caught + 1
        }
    }
    return caught
}
"""


class Watchdog(Exception):
    """A host's own exception class."""


def _raising(exc: BaseException):
    """A watchdog's handler: it raises while Noodle code runs (a tick landing in the test's own
    code once the exception has reached it does nothing)."""
    def handler(signum, frame):  # noqa: ANN001
        if frame is not None and frame.f_code.co_filename.startswith("<noodle:"):
            raise exc
    return handler


@pytest.fixture
def alarm():
    """Install a handler for SIGALRM firing every 20 ms while the test runs."""
    old = signal.getsignal(signal.SIGALRM)

    def install(handler) -> None:
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
    yield install
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("exc", [Watchdog("too slow"), TimeoutError("deadline"), ValueError("host says stop"),
                                 KeyboardInterrupt(), SystemExit(3), MemoryError()],
                         ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("function", ["run", "run_unbound"])
def test_a_signal_handlers_exception_reaches_the_host(alarm, exc: BaseException, function: str) -> None:
    m = noodle.VM().load(noodle.Source(SWALLOWER, name="loop"))
    alarm(_raising(exc))
    with pytest.raises(type(exc)) as raised:
        getattr(m, function)()
    assert raised.value is exc


def test_noodle_errors_stay_catchable() -> None:
    m = noodle.VM().load(noodle.Source("""
fn f() -> str {
    var out = ""
    for k in 0..3 {
        try {
            if k == 0 { let xs = [1]
                        print(xs[5]) }
            if k == 1 { print(1 // (k - 1)) }
            throw Error("mine")
        } catch e {
            out = out + e.kind + ";"
        }
    }
    return out
}
""", name="c"))
    assert m.f() == "IndexError;ZeroDivisionError;Error;"


def test_a_host_functions_failure_is_still_a_noodle_error() -> None:
    vm = noodle.VM()

    def fails() -> int:
        raise Watchdog("host function broke")

    vm.register_module("h", {"fails": (fails, "fn() -> int")})
    m = vm.load(noodle.Source('import h\nfn a() -> str { try { h.fails() } catch e { return e.kind }\n return "" }',
                              name="m"))
    assert m.a() == "HostError"


NATIVE_SWALLOWER = """
fn spin(n: int) -> int {
    var s = 0
    for i in 0..n {
        s = (s + i * 7) % 1000003
    }
    return s
}
fn fill(a: Array<float>, rounds: int) -> float {
    for _r in 0..rounds {
        for i in 0..len(a) {
            a[i] = a[i] * 0.5 + 1.0
        }
    }
    return a[0]
}
fn run(n: int) -> int {
    var caught = 0
    for _k in 0..3 {
        try {
            caught = caught + spin(n) * 0
        } catch e {
            caught = caught + 1
        }
    }
    return caught
}
fn run_impure(n: int) -> int {
    var caught = 0
    for _k in 0..3 {
        try {
            caught = caught + int(fill(zeros(1000), n)) * 0
        } catch e {
            caught = caught + 1
        }
    }
    return caught
}
"""

LIMITS = [None, noodle.Limits(max_seconds=600, max_steps=10**15)]


@pytest.fixture
def rescue():
    """A safety net, not a measure: if native code has not let the handler run within a minute,
    stop it from outside (the test then fails on `rescued` instead of hanging)."""
    from noodle.backends.llvm import stop

    rescued: list[bool] = []

    def net() -> None:
        rescued.append(True)
        stop.hold("rescue")
    timer = threading.Timer(60, net)
    timer.start()
    yield rescued
    timer.cancel()
    stop.release("rescue")


@pytest.mark.parametrize("exc", [Watchdog("too slow"), ValueError("host says stop"), KeyboardInterrupt()],
                         ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("function", ["run", "run_impure"])
@pytest.mark.parametrize("limits", LIMITS, ids=["unlimited", "limited"])
def test_a_signal_handlers_exception_stops_native_code_and_reaches_the_host(rescue, limits, function: str,
                                                                            exc: BaseException) -> None:
    """Python runs a signal handler only between bytecodes, which native code never reaches: the
    native loops here (pure, and storing into an Array) would run for hours.  Native code on the
    main thread runs the handler at its next poll; its exception stops the code and passes every
    `catch` to the host."""
    pytest.importorskip("llvmlite")
    vm = noodle.VM(limits=limits)
    m = vm.load(noodle.Source(NATIVE_SWALLOWER, name="native_loop"))
    assert vm.machine.native_report["native_loop"] == "native: fill, spin"

    def handler(signum, frame):  # noqa: ANN001
        raise exc
    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(type(exc)) as raised:
            getattr(m, function)(10**13)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert raised.value is exc
    assert not rescue, "the handler ran only once native code was stopped from outside"
    assert m.spin(1000) == sum(range(0, 7000, 7)) % 1000003  # the VM goes on, natively


@pytest.mark.parametrize("limits", LIMITS, ids=["unlimited", "limited"])
def test_a_signal_handler_that_does_not_raise_lets_native_code_go_on(limits) -> None:
    """A handler that only counts (a profiler's tick) runs while native code runs, and the code,
    even one storing into an Array (which could not be re-run), goes on to its result."""
    pytest.importorskip("llvmlite")
    vm = noodle.VM(limits=limits)
    m = vm.load(noodle.Source(NATIVE_SWALLOWER, name="native_loop"))
    ticks = []
    old = signal.signal(signal.SIGALRM, lambda signum, frame: ticks.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
        a = np.zeros(1000)
        filled = m.fill(a, 200_000)
        spun = m.spin(300_000_000)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert filled == 2.0 and (a == 2.0).all()
    expected = 0
    for i in range(1000):
        expected = (expected + i * 7) % 1000003
    assert m.spin(1000) == expected and isinstance(spun, int)
    assert ticks  # the handler ran (during the calls, or at their end)
