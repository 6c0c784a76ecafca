"""A VM with limits runs native code, and native code holds every limit: steps (charged as the VM
charges them), call depth, memory (Arrays a native function makes), time — per VM, so two VMs of one
process never stop each other's native code."""
from __future__ import annotations

import functools
import os
import signal
import threading
import time

import pytest

import noodle
from helpers import HANG_S

pytest.importorskip("llvmlite")

#: functions whose steps the VM and native code must count alike: every kind of loop, leaving loops
#: early (break, return), calls, recursion, Arrays made, a pure and an impure (Array-storing) function
PROGRAM = """
fn spin(n: int) -> int {
    var s = 0
    for i in 0..n { s = (s + i * 7) % 1000003 }
    return s
}
fn upto(n: int) -> int {
    var s = 0
    for i in 1..=n { s = s + i }
    return s
}
fn down(n: int) -> int {
    var s = 0
    for i in range(n, 0, -1) { s = s + i }
    return s
}
fn stepped(n: int) -> int {
    var s = 0
    for i in range(0, n, 3) { s = s + i }
    return s
}
fn nest(n: int) -> int {
    var s = 0
    for i in 0..n {
        for j in 0..=i { s = s + j }
    }
    return s
}
fn wander(n: int) -> int {
    var x = n
    var k = 0
    while x > 1 {
        x = x // 2 if x % 2 == 0 else 3 * x + 1
        k = k + 1
    }
    return k
}
fn leave(n: int, at: int) -> int {
    var s = 0
    for i in 0..n {
        if i == at { break }
        s = s + i
    }
    for i in 0..=n {
        if i == at { return s }
        s = s + 1
    }
    return s
}
fn helper(x: int) -> int { return x * 2 + 1 }
fn fib(n: int) -> int {
    if n < 2 { return n }
    return fib(n - 1) + fib(n - 2)
}
fn calls(n: int) -> int {
    var s = 0
    for i in 0..n { s = s + helper(i) }
    return s
}
fn depth(n: int) -> int {
    if n == 0 { return 0 }
    return 1 + depth(n - 1)
}
fn made(n: int) -> float {
    let z = ones(n)
    var t = 0.0
    for i in 0..n { t = t + z[i] }
    return t
}
fn twice(a: Array<float>, n: int) -> float {
    if n == 0 { return a[0] }
    a[0] = a[0] + 1.0
    return twice(a, n - 1)
}
fn fill_made(a: Array<float>, n: int) -> float {
    let z = zeros(n)
    for i in 0..len(a) { a[i] = z[n - 1] + 1.0 }
    return a[0]
}
fn scale(a: Array<float>, k: int) -> float {
    for _r in 0..k {
        for i in 0..len(a) { a[i] = a[i] * 0.5 + 1.0 }
    }
    return a[0]
}
"""

CALLS = ["spin(40000)", "upto(40000)", "down(3000)", "stepped(9000)", "nest(150)", "wander(97)", "leave(50000, 0)",
         "leave(50000, 20000)", "leave(30, 100)", "calls(2000)", "depth(300)", "made(5000)",
         "scale(zeros(3000), 7)", "calls(1)", "fib(15)"]


def _module(limits: noodle.Limits, native: bool) -> tuple[noodle.VM, object]:
    vm = noodle.VM(limits=limits)
    if not native:
        vm.machine.backend = "vm"
    m = vm.load(noodle.Source(PROGRAM, name="prog"))
    assert vm.machine.native_report.get("prog", "").startswith("native:") == native
    return vm, m


def _run(m: object, call: str) -> object:
    import numpy

    name, _, args = call.partition("(")
    args = args[:-1].replace("zeros(", "numpy.zeros(")
    return eval(f"fn({args})", {"fn": getattr(m, name), "numpy": numpy})


@functools.cache
def _counting(native: bool) -> tuple[noodle.VM, object]:
    return _module(noodle.Limits(max_steps=1 << 40), native)


def _steps(call: str, native: bool) -> int:
    """The steps the call is charged (the meter's count after it)."""
    vm, m = _counting(native)
    _run(m, call)
    meter = vm.machine.meter
    assert meter is not None
    return meter.used + meter.granted - meter.steps


@pytest.mark.parametrize("call", CALLS)
def test_native_code_charges_the_steps_the_vm_charges(call: str) -> None:
    steps = _steps(call, native=False)
    assert _steps(call, native=True) == steps
    # and the limit falls on the same step: the call runs under `steps`, not under one step fewer
    _, m = _module(noodle.Limits(max_steps=steps), native=True)
    _run(m, call)
    _, m = _module(noodle.Limits(max_steps=steps - 1), native=True)
    with pytest.raises(noodle.LimitExceeded) as e:
        _run(m, call)
    assert e.value.limit == "steps"


def test_a_call_s_step_is_charged_by_its_caller_so_a_leaf_touches_no_budget() -> None:
    """The caller charges a call's step before the call (and the entry point the first call's):
    a function that calls nothing and loops nowhere neither charges nor polls, so its code (a
    recursion's base case too) saves no registers for a refill it never makes."""
    from noodle.backends.llvm.lower import REFILL, build_module, symbol
    from noodle.build.driver import compile_source
    from noodle.ir.nodes import decode_module

    _, module = compile_source(PROGRAM, "prog.nd", "prog")
    text = str(build_module(decode_module(module.ir), ["helper", "calls", "fib"]))

    def impl(name: str) -> str:
        start = text.index(f'@"{symbol(name)}_impl"(')
        return text[start:text.index("\n}", start)]
    assert REFILL not in impl("helper")
    assert REFILL in impl("calls") and REFILL in impl("fib")
    assert impl("fib").count(f'@"{REFILL}"') == 2  # one poll before each of its two calls


def _only(limits: noodle.Limits) -> tuple[noodle.VM, object]:
    return _module(limits, native=True)


@pytest.mark.parametrize("call", ["depth(100000)", "twice(zeros(3), 100000)"])
def test_native_recursion_stops_at_the_depth_limit(call: str) -> None:
    vm, m = _only(noodle.Limits(max_depth=60))
    with pytest.raises(noodle.LimitExceeded) as e:
        _run(m, call)
    assert e.value.limit == "depth"
    assert m.depth(50) == 50  # the host goes on; a shallow call runs
    assert vm.machine.native_report["prog"].startswith("native:")


@pytest.mark.parametrize("call", ["made(50000000)", "fill_made(zeros(4), 50000000)"])
def test_an_array_made_natively_past_the_memory_limit_is_the_memory_limit(call: str) -> None:
    """400 MB asked for under a 64 MB limit: refused before it is allocated (pure: re-run in the VM,
    which refuses it too; impure: the machine raises it), and the budget is whole again after."""
    vm, m = _only(noodle.Limits(max_memory_mb=64))
    with pytest.raises(noodle.LimitExceeded) as e:
        _run(m, call)
    assert e.value.limit == "memory"
    assert m.made(1_000_000) == 1_000_000.0  # 8 MB: fits, and is given back
    assert m.made(4_000_000) == 4_000_000.0
    ctx = vm.machine.meter.context()
    assert ctx.memory > 32 * 1024 * 1024  # the memory of the Arrays made was given back


def test_an_impure_native_loop_stops_at_the_step_limit() -> None:
    vm, m = _only(noodle.Limits(max_steps=100_000))
    with pytest.raises(noodle.LimitExceeded) as e:
        _run(m, "scale(zeros(1000), 1000000000)")
    assert e.value.limit == "steps"
    assert m.spin(1000) == _run(_counting(False)[1], "spin(1000)")


def test_a_split_nest_runs_on_one_thread_under_a_step_limit_and_agrees() -> None:
    """Loop nests split across threads charge one counter: under a step limit they run on one
    thread (the same steps as the VM), without one on all."""
    import numpy

    source = """
fn grid(a: Array<float, 2>, b: Array<float, 2>) -> float {
    for i in 0..len(a) {
        for j in 0..a.shape[1] { b[i, j] = a[i, j] * 2.0 + 1.0 }
    }
    return b[0, 0]
}
"""
    counts = []
    for native in (True, False):
        vm = noodle.VM(limits=noodle.Limits(max_steps=1 << 40))
        if not native:
            vm.machine.backend = "vm"
        m = vm.load(noodle.Source(source, name="g"))
        a, b = numpy.ones((300, 400)), numpy.zeros((300, 400))
        assert m.grid(a, b) == 3.0 and (b == 3.0).all()
        meter = vm.machine.meter
        counts.append(meter.used + meter.granted - meter.steps)
    assert counts[0] == counts[1]


def test_two_vms_in_threads_do_not_stop_each_other() -> None:
    """One VM's deadline stops its own native code only: the other VM's native loop, running at the
    same time in another thread (an impure one, which cannot be re-run and would fail if stopped),
    runs to its end."""
    import numpy

    limited = noodle.VM(limits=noodle.Limits(max_seconds=0.3))
    free = noodle.VM()
    source = PROGRAM + "fn forever() -> int {\n var k = 0\n while k >= 0 { k = (k + 1) % 1000 }\n return k\n}\n"
    a, b = limited.load(noodle.Source(source, name="p")), free.load(noodle.Source(source, name="p"))
    assert free.machine.native_report["p"].startswith("native:")
    start = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def run_limited() -> None:
        start.wait()
        try:
            a.forever()
        except noodle.LimitExceeded as e:
            outcome["limited"] = e.limit

    def run_free() -> None:
        start.wait()
        try:
            outcome["free"] = b.scale(numpy.zeros(200_000), 3000)
        except BaseException as e:  # noqa: BLE001 - a stop meant for the other VM
            outcome["free"] = e

    threads = [threading.Thread(target=run_limited), threading.Thread(target=run_free)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome["limited"] == "seconds"
    assert outcome["free"] == 2.0 - 0.5 ** 2999  # 3000 halvings toward 2.0 from 0.0, exactly as the VM


def test_a_context_held_stops_only_its_own_vm() -> None:
    """The mechanism the deadline uses, held by hand: VM A's context stopped, VM B's call in the same
    thread runs natively to its end, and A's stops (a pure call re-runs in the VM and returns)."""
    import numpy

    vm_a, a = _only(noodle.Limits(max_steps=1 << 40))
    _, b = _only(noodle.Limits(max_steps=1 << 40))
    assert a.spin(10) == b.spin(10)  # both contexts made
    ctx = vm_a.machine.meter.context()
    ctx.hold("test")
    # (the flag is seen when a chunk of steps is used up: these calls take many chunks)
    try:
        assert b.scale(numpy.zeros(1000), 1000) == 2.0 - 0.5 ** 999  # B's context is not held: no stop
        with pytest.raises(BaseException):  # noqa: B017 - A's impure call stopped, and it cannot be re-run
            a.scale(numpy.zeros(1000), 1000)
        assert a.spin(1_000_000) == b.spin(1_000_000)  # a pure one is re-run in the VM
    finally:
        ctx.release("test")
    assert a.scale(numpy.zeros(1000), 1000) == 2.0 - 0.5 ** 999


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_s_native_code_still_stops_at_its_deadline() -> None:
    """The deadlines thread is its process's: a child forked after the parent's started has none,
    and must start its own (not count on the parent's, nor wait on a lock it held at the fork)."""
    source = PROGRAM + "fn forever() -> int {\n var k = 0\n while k >= 0 { k = (k + 1) % 1000 }\n return k\n}\n"
    vm = noodle.VM(limits=noodle.Limits(max_seconds=0.2))
    app = vm.load(noodle.Source(source, name="p"))
    assert vm.machine.native_report["p"].startswith("native:")
    with pytest.raises(noodle.LimitExceeded):
        app.forever()  # the parent's deadlines thread runs from here on
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its time limit stopped the native loop
        code = 1
        try:
            app.forever()
        except noodle.LimitExceeded as e:
            code = 0 if e.limit == "seconds" else 2
        finally:
            os._exit(code)
    end = time.monotonic() + HANG_S
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child's native loop ran on past its time limit")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(done[1]) == 0
