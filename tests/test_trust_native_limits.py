"""A VM with limits runs native code, and native code holds every limit: steps (charged as the VM
charges them), call depth, memory (Arrays a native function makes), time — per VM, so two VMs of one
process never stop each other's native code."""
from __future__ import annotations

import functools
import threading

import pytest

import noodle

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
fn scale(a: Array<float>, k: int) -> float {
    for _r in 0..k {
        for i in 0..len(a) { a[i] = a[i] * 0.5 + 1.0 }
    }
    return a[0]
}
"""

CALLS = ["spin(40000)", "upto(40000)", "down(3000)", "stepped(9000)", "nest(150)", "wander(97)", "leave(50000, 0)",
         "leave(50000, 20000)", "leave(30, 100)", "calls(2000)", "depth(300)", "made(5000)",
         "scale(zeros(3000), 7)"]


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
