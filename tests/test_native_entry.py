"""The Python entry of native functions (noodle.backends.llvm.pyentry): calls go to machine code that
reads the Python objects itself, and whatever it does not take — another dtype, a byte-swapped or
misaligned array, a value of another type, a wrong count — goes the ctypes way, with the same
outcome as the VM's.  No reference is leaked or lost on any path."""
from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noodle.build.driver import compile_source
from noodle.vm.machine import Machine

pytest.importorskip("llvmlite")

from noodle.backends.llvm import pyentry  # noqa: E402

SOURCE = """
fn total(a: Array<float, 2>) -> float {
    var s = 0.0
    for i in 0..len(a) {
        for j in 0..a.shape[1] { s = s + a[i, j] * float(i + 1) }
    }
    return s
}
fn count(a: Array<int>, limit: int) -> int {
    var c = 0
    for i in 0..len(a) { if a[i] < limit { c += 1 } }
    return c
}
fn scale(a: Array<f32>, by: f32, shift: i32) -> i32 {
    for i in 0..len(a) { a[i] = a[i] * by }
    return shift * 2
}
fn any_above(a: Array<float>, x: float, strict: bool) -> bool {
    for i in 0..len(a) { if a[i] > x or (not strict and a[i] == x) { return true } }
    return false
}
fn smooth(n: int, A: Array<float>, B: Array<float>) {
    for i in 1..n - 1 { B[i] = 0.5 * (A[i - 1] + A[i + 1]) }
}
fn ratio(a: Array<float>, k: int) -> float {
    var s = 0.0
    for i in 0..len(a) { s = s + a[i] / float(k - i) }
    return s
}
"""


@pytest.fixture(scope="module")
def machines() -> tuple[dict[str, Any], dict[str, Any]]:
    _, module = compile_source(SOURCE, "e.nd", "e")
    native = Machine(backend="auto")
    functions = native.load(module).functions
    assert native.native_report["e"] == "native: any_above, count, ratio, scale, smooth, total"
    vm = Machine(backend="vm").load(compile_source(SOURCE, "e.nd", "e")[1]).functions
    return dict(functions), dict(vm)


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "value", fn(*args)
    except Exception as e:  # noqa: BLE001 - the kind of error is the outcome compared
        # native code raises the Noodle error itself; the VM's translated code a Python one
        return "error", getattr(e, "f_kind", type(e).__name__)


def _same(machines: tuple[dict, dict], name: str, make: Any) -> tuple[str, Any]:
    """Call `name` natively and in the VM, each on fresh arguments from `make()`: the same outcome,
    and the same arrays afterwards."""
    native_args, vm_args = make(), make()
    got, want = _outcome(machines[0][name], *native_args), _outcome(machines[1][name], *vm_args)
    assert got == want, (name, got, want)
    for x, y in zip(native_args, vm_args):
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), name
    return got


def test_calls_go_straight_to_the_entry(machines: tuple[dict, dict]) -> None:
    if not pyentry.layout_matches():
        pytest.skip("this Python's object layout is not the one the entries read: ctypes takes every call")
    for name, fn in machines[0].items():
        if getattr(fn, "__noodle_native__", False):
            assert isinstance(type(fn).__call__, types.BuiltinFunctionType), name
    assert machines[0]["total"].__noodle_name__ == "total"


def test_each_kind_of_argument_and_result(machines: tuple[dict, dict]) -> None:
    grid = np.arange(12.0).reshape(3, 4)
    assert _same(machines, "total", lambda: (grid.copy(),)) == ("value", float(sum(
        grid[i, j] * (i + 1) for i in range(3) for j in range(4))))
    assert _same(machines, "count", lambda: (np.arange(10), 4)) == ("value", 4)
    assert _same(machines, "scale", lambda: (np.ones(5, dtype=np.float32), 1.5, 21)) == ("value", 42)
    assert _same(machines, "any_above", lambda: (np.arange(4.0), 3.0, True)) == ("value", False)
    assert _same(machines, "any_above", lambda: (np.arange(4.0), 3.0, False)) == ("value", True)
    assert _same(machines, "smooth", lambda: (6, np.arange(6.0), np.zeros(6))) == ("value", None)


def test_what_the_entry_does_not_take_has_the_vms_outcome(machines: tuple[dict, dict]) -> None:
    """Arrays of another dtype (the VM computes on them as they are, native code must not read them
    as doubles), byte-swapped, of another rank, strides that are not whole elements, Python values
    of other types, ints past 64 bits."""
    a = np.arange(12.0).reshape(3, 4)
    cases = [
        ("total", lambda: (np.arange(12).reshape(3, 4),)),  # int64 where float64 is declared
        ("total", lambda: (a.astype(">f8"),)),  # byte-swapped
        ("total", lambda: (np.arange(12.0),)),  # one dimension where two are declared
        ("total", lambda: (np.frombuffer(np.arange(13.0).tobytes()[4:100], dtype=np.float64).reshape(3, 4),)),
        ("total", lambda: (np.zeros((3, 4), dtype=[("x", "f8")])["x"],)),  # a field view
        ("total", lambda: (np.ndarray((2, 2), dtype=np.float64, buffer=np.arange(9.0).tobytes(), offset=4,
                                      strides=(12, 4)),)),  # strides that are not whole elements
        ("count", lambda: (np.arange(10, dtype=np.int32), 4)),
        ("count", lambda: (np.arange(10, dtype=np.longlong), 4)),  # equal dtype, another descriptor
        ("count", lambda: (np.arange(10), True)),  # a bool for an int
        ("count", lambda: (np.arange(10), 4.0)),  # a float for an int
        ("count", lambda: (np.arange(10), 2**70)),  # past 64 bits
        ("count", lambda: ([1, 2, 3], 2)),  # not an Array
        ("scale", lambda: (np.ones(3, dtype=np.float32), 2.0, 2**40)),  # past an i32
        ("any_above", lambda: (np.arange(3.0), 1, 0)),  # ints for a float and a bool
        ("any_above", lambda: (np.arange(3.0), 1.0, None)),
    ]
    for name, make in cases:
        _same(machines, name, make)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(0, 5), cols=st.integers(0, 5), row_step=st.sampled_from([1, 2, -1, -2]),
       col_step=st.sampled_from([1, 2, -1, -3]), transpose=st.booleans())
def test_views_of_any_strides_agree(machines: tuple[dict, dict], rows: int, cols: int, row_step: int,
                                     col_step: int, transpose: bool) -> None:
    def make() -> tuple:
        base = np.arange(float(rows * cols * 6)).reshape(rows * 2, cols * 3) if rows and cols else np.zeros((0, 3))
        view = base[::row_step, ::col_step]
        return (view.T if transpose else view,)
    _same(machines, "total", make)


def test_failed_calls_have_the_vms_outcome(machines: tuple[dict, dict]) -> None:
    _same(machines, "ratio", lambda: (np.ones(4), 2))  # division by zero at i = 2: re-run in the VM
    _same(machines, "smooth", lambda: (9, np.arange(6.0), np.zeros(6)))  # an index past the end (impure)


def test_a_wrong_number_of_arguments_is_a_type_error(machines: tuple[dict, dict]) -> None:
    for args in [(), (np.arange(3),), (np.arange(3), 1, 2)]:
        with pytest.raises(TypeError):
            machines[0]["count"](*args)


def test_no_reference_is_leaked_or_lost(machines: tuple[dict, dict]) -> None:
    """Every path — the entry, a failed call re-run in the VM, the ctypes way — leaves the
    arguments' reference counts as they were."""
    native = machines[0]
    a, b = np.arange(6.0), np.zeros(6)
    ints, wide = np.arange(10), np.arange(10, dtype=np.int32)
    limit = 10**6 + len(sys.argv)  # an int object of its own
    calls = [(native["smooth"], (6, a, b)), (native["count"], (ints, limit)), (native["count"], (wide, limit)),
             (native["ratio"], (a, 3))]
    for fn, args in calls:
        _outcome(fn, *args)
        before = [sys.getrefcount(x) for x in args]
        for _ in range(500):
            _outcome(fn, *args)
        assert [sys.getrefcount(x) for x in args] == before, fn
    result = native["total"](np.ones((2, 2)))
    assert sys.getrefcount(result) == 2  # the result is ours alone: one reference, plus the call's
    smooth = native["smooth"]
    before = sys.getrefcount(None)  # a function returning none hands out a reference to None
    for _ in range(2000):
        smooth(6, a, b)
    assert abs(sys.getrefcount(None) - before) < 1000
