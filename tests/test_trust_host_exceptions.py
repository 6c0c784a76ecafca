"""Only Noodle errors are catchable by Noodle code: what the host raises into a running call reaches the host.

A watchdog's exception, raised by a signal handler into a program that catches every error in a
loop, must not be swallowed (before the fix it became a catchable error three times and the call
returned 3).  Each case below runs that program with the handler firing repeatedly.
"""
from __future__ import annotations

import signal

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
"""


@pytest.mark.parametrize("exc", [Watchdog("too slow"), ValueError("host says stop")], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("limits", [None, noodle.Limits(max_seconds=600, max_steps=10**15)], ids=["unlimited", "limited"])
def test_a_signal_handlers_exception_during_native_code_reaches_the_host(limits, exc: BaseException) -> None:
    """Python runs a signal handler only between bytecodes: one that fires while native code runs
    raises as soon as the native call returns, and passes the program's `catch` like any other.
    (A native loop that never returns keeps it waiting: a host bounds native code with
    `Limits(max_seconds=...)`, which native code polls, not with a signal.)"""
    pytest.importorskip("llvmlite")
    vm = noodle.VM(limits=limits)
    m = vm.load(noodle.Source(NATIVE_SWALLOWER, name="native_loop"))
    assert vm.machine.native_report["native_loop"] == "native: spin"

    def handler(signum, frame):  # noqa: ANN001
        raise exc
    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(type(exc)) as raised:
            m.run(200_000_000)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert raised.value is exc
