"""Constructs that used to send a whole function to the VM, now native code (issue 11): inclusive
ranges, the math module, Arrays a function makes for itself, Arrays of any number of dimensions,
and a 2-D nest updating an array in place from another (PolyBench's covariance).  Each runs
against the VM: ints exactly, floats to the bit (none of these may reassociate), errors of the
same kind and message.  (No function here sums into a float: a recognised sum may reassociate.)"""
from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from noodle.ir.variants import forced
from noodle.build.driver import compile_source
from noodle.runtime.errors import NoodleRuntimeError
from noodle.vm.machine import Machine

pytest.importorskip("llvmlite")

MIN, MAX = -(2**63), 2**63 - 1


class Functions(dict):
    """A module's functions by name, each called through its machine (so a failure is a Noodle
    error, as a program or a host sees it); `.raw` holds the functions as loaded."""

    def __init__(self, machine: Machine, lm) -> None:  # type: ignore[no-untyped-def]
        super().__init__({name: (lambda *a, _f=fn: machine.call(lm, _f, *a)) for name, fn in lm.functions.items()})
        self.raw = lm.functions


def load(source: str, split: bool = False) -> tuple[Functions, Functions]:
    """(VM functions, native functions) of `source`; `split` lets every recognised nest split across
    cores whatever its size."""
    _, module = compile_source(source, "c.nd", "c")
    vm_machine, native_machine = Machine(backend="vm"), Machine(backend="auto")
    vm = Functions(vm_machine, vm_machine.load(module))
    if split:
        with forced("map.parallel", 0):
            native = Functions(native_machine, native_machine.load(module))
    else:
        native = Functions(native_machine, native_machine.load(module))
    return vm, native


def outcome(fn, *args):  # type: ignore[no-untyped-def]
    """What a call did: ("ok", result with floats as their bits) or ("error", kind, message).

    An IndexError's message is left out: native code that has written into an array cannot re-run
    the call in the VM to get its wording, and says "index out of range"."""
    try:
        r = fn(*args)
    except NoodleRuntimeError as e:
        return ("error", e.kind) if e.kind == "IndexError" else ("error", e.kind, e.message)
    if isinstance(r, float):
        return ("ok", "nan" if math.isnan(r) else struct.pack("<d", r))
    return ("ok", r)


def assert_native(native: Functions, *names: str) -> None:
    for name in names:
        assert getattr(native.raw[name], "__noodle_native__", False), f"{name} runs in the VM"


# ---------------------------------------------------------------- inclusive ranges

RANGES = """
fn triangle(n: int) -> int {
    var s = 0
    for i in 0..n {
        for j in 0..=i { s += i * 7 + j }
    }
    return s
}
fn span(a: int, b: int) -> int {
    var count = 0
    var last = 0
    for i in a..=b {
        count += 1
        last = i % 1000
    }
    return count * 1000 + last
}
fn skips(n: int) -> int {
    var s = 0
    for i in 0..=n {
        if i % 3 == 0 { continue }
        if i > 40 { break }
        s += i
    }
    return s
}
fn lower(c: Array<float, 2>, beta: float) {
    for i in 0..len(c) {
        for j in 0..=i { c[i, j] *= beta }
    }
}
fn overrun(a: Array<float>, n: int) {
    for j in 0..=n { a[j] = float(j) }
}
"""


@pytest.fixture(scope="module")
def ranges() -> tuple[dict, dict]:
    vm, native = load(RANGES)
    assert_native(native, "triangle", "span", "skips", "lower", "overrun")
    return vm, native


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(-3, 80))
def test_inclusive_ranges_count_as_the_vm_does(ranges, n: int) -> None:  # type: ignore[no-untyped-def]
    vm, native = ranges
    assert native["triangle"](n) == vm["triangle"](n)
    assert native["skips"](n) == vm["skips"](n)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.one_of(st.integers(MAX - 6, MAX), st.integers(-5, 5), st.integers(MIN, MIN + 4)),
       width=st.integers(-2, 6))
@example(a=MAX - 3, width=3)  # up to the largest int: 4 iterations, no overflow
@example(a=MAX, width=0)
def test_an_inclusive_range_reaches_the_largest_int(ranges, a: int, width: int) -> None:  # type: ignore[no-untyped-def]
    vm, native = ranges
    b = min(MAX, max(MIN, a + width))
    assert outcome(native["span"], a, b) == outcome(vm["span"], a, b)


def test_inclusive_ranges_over_arrays_write_what_the_vm_writes(ranges) -> None:  # type: ignore[no-untyped-def]
    vm, native = ranges
    base = np.random.default_rng(3).uniform(-1, 1, (23, 17))
    for c in (base, base[:17, :17], base.T, base[:0, :0], base[::2, ::-3]):
        got_vm, got_native = c.copy(), c.copy()
        assert outcome(native["lower"], got_native, 1.25) == outcome(vm["lower"], got_vm, 1.25)
        assert np.array_equal(got_vm, got_native)
    assert outcome(vm["lower"], base.copy(), 1.25) == ("error", "IndexError")  # row 17 runs past column 16


def test_an_inclusive_range_past_the_end_raises_where_the_vm_does(ranges) -> None:  # type: ignore[no-untyped-def]
    vm, native = ranges
    a, b = np.zeros(8), np.zeros(8)
    assert outcome(native["overrun"], a, 8) == outcome(vm["overrun"], b, 8)
    assert outcome(vm["overrun"], np.zeros(8), 8) == ("error", "IndexError")
    assert np.array_equal(a, b) and a[7] == 7.0  # the elements before the failing one are written


# ---------------------------------------------------------------- the math module

ONE = ("sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "exp", "log", "fabs")
TWO = {"atan2": "math.atan2(x, y)", "pow": "math.pow(x, y)", "logb": "math.log(x, y)"}
TO_INT = ("floor", "ceil")
TESTS = ("isnan", "isinf")


def _math_source() -> str:
    parts = ["import math\n"]
    for f in ONE:
        parts.append(f"fn {f}(x: float) -> float {{\n var r = 0.0\n for k in 0..1 {{ r = math.{f}(x) }}\n"
                     " return r\n}\n")
        # the same, storing into an array: an impure function reports the error from native code itself
        parts.append(f"fn {f}_into(x: float, out: Array<float>) {{\n for k in 0..1 {{ out[0] = math.{f}(x) }}\n}}\n")
    for f, call in TWO.items():
        parts.append(f"fn {f}(x: float, y: float) -> float {{\n var r = 0.0\n for k in 0..1 {{ r = {call} }}\n"
                     " return r\n}\n")
        parts.append(f"fn {f}_into(x: float, y: float, out: Array<float>) {{\n"
                     f" for k in 0..1 {{ out[0] = {call} }}\n}}\n")
    for f in TO_INT:
        parts.append(f"fn {f}(x: float) -> int {{\n var r = 0\n for k in 0..1 {{ r = math.{f}(x) }}\n return r\n}}\n")
    for f in TESTS:
        parts.append(f"fn {f}(x: float) -> bool {{\n var r = false\n for k in 0..1 {{ r = math.{f}(x) }}\n"
                     " return r\n}\n")
    return "".join(parts)


@pytest.fixture(scope="module")
def maths() -> tuple[dict, dict]:
    vm, native = load(_math_source())
    assert_native(native, *ONE, *TWO, *TO_INT, *TESTS, *(f"{f}_into" for f in (*ONE, *TWO)))
    return vm, native


SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -2.0, 3.0, 1e-320, 710.0, -745.5, 1e308, -1e308, math.pi / 2,
           math.inf, -math.inf, math.nan, 9.3e18, -9.3e18, 1e16 + 0.5, -0.75]
FLOATS = st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True),
                   st.floats(-800, 800))


def _into(fn, *args):  # type: ignore[no-untyped-def]
    out = np.full(1, -7.0)
    result = outcome(fn, *args, out)
    return result, out[0] if not math.isnan(out[0]) else "nan"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=FLOATS, y=FLOATS)
def test_math_functions_give_the_vms_bits_and_errors(maths, x: float, y: float) -> None:  # type: ignore[no-untyped-def]
    vm, native = maths
    for f in ONE:
        assert outcome(native[f], x) == outcome(vm[f], x), (f, x)
        assert _into(native[f"{f}_into"], x) == _into(vm[f"{f}_into"], x), (f, x)
    for f in TWO:
        assert outcome(native[f], x, y) == outcome(vm[f], x, y), (f, x, y)
        assert _into(native[f"{f}_into"], x, y) == _into(vm[f"{f}_into"], x, y), (f, x, y)
    for f in TO_INT + TESTS:
        assert outcome(native[f], x) == outcome(vm[f], x), (f, x)


def test_pow_of_two_is_libms_pow_not_exp2(maths) -> None:  # type: ignore[no-untyped-def]
    # LLVM knows pow(2.0, x) as exp2(x), which rounds differently: native code must not take it
    vm, native = maths
    for x in np.random.default_rng(5).uniform(-60, 60, 2000):
        assert outcome(native["pow"], 2.0, float(x)) == outcome(vm["pow"], 2.0, float(x))
    assert outcome(native["pow"], 0.0, -1.0) == ("error", "ValueError", "math domain error in pow")
    assert outcome(native["pow_into"], 10.0, 400.0, np.zeros(1)) == ("error", "OverflowError",
                                                                      "float overflow in pow")


# ---------------------------------------------------------------- Arrays a function makes

LOCALS = """
fn durbin_like(n: int, r: Array<float>, y: Array<float>) {
    let z = zeros(n)
    for k in 1..n {
        for i in 0..k { z[i] = y[i] + r[k] * y[k - i - 1] }
        for i in 0..k { y[i] = z[i] }
    }
}
fn grid(n: int, m: int, fill: float) -> float {
    let g = full(n, m, fill)
    let h = ones(m, n)
    var s = 0.0
    for i in 0..n {
        for j in 0..m { s = 0.5 * s + g[i, j] * h[j, i] * float(i + j) }
    }
    return s
}
fn counts(n: int) -> int {
    let c = full(n, 3)
    var t = 0
    for i in 0..n { c[i] += i }
    for i in 0..len(c) { t += c[i] }
    return t
}
fn cube(n: int) -> float {
    let a = zeros(n, n + 1, n + 2)
    for i in 0..n {
        for j in 0..n + 1 {
            for k in 0..n + 2 { a[i, j, k] = float(i * 100 + j * 10 + k) }
        }
    }
    var s = 0.0
    for i in 0..a.shape[0] { s = 0.5 * s + a[i, a.shape[1] - 1, a.shape[2] - 1] }
    return s
}
fn fresh_each_time(n: int, rounds: int) -> float {
    var s = 0.0
    for r in 0..rounds {
        var w = zeros(n + r)
        for i in 0..n + r { w[i] = float(i * r) }
        w = ones(n)
        s = 0.5 * s + w[0] + float(len(w))
    }
    return s
}
fn helper(a: Array<float>) -> float {
    var s = 0.0
    for i in 0..len(a) { s = 0.5 * s + a[i] }
    return s
}
fn passes_it_on(n: int) -> float {
    let a = full(n, 0.5)
    for i in 0..n { a[i] = a[i] * float(i) }
    return helper(a)
}
fn negative(n: int) -> float {
    var s = 0.0
    for k in 0..1 {
        let a = zeros(3, n)
        s = 0.5 * s + float(len(a))
    }
    return s
}
fn past_the_end(n: int) -> float {
    let a = zeros(n)
    var s = 0.0
    for i in 0..=n { s = 0.5 * s + a[i] }
    return s
}
"""


@pytest.fixture(scope="module")
def local_fns() -> tuple[dict, dict]:
    vm, native = load(LOCALS)
    assert_native(native, "durbin_like", "grid", "counts", "cube", "fresh_each_time", "passes_it_on", "negative",
                  "past_the_end")
    return vm, native


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 40), m=st.integers(0, 9), fill=st.floats(-4, 4))
def test_arrays_made_in_native_code_hold_what_the_vms_hold(local_fns, n: int, m: int, fill: float) -> None:  # type: ignore[no-untyped-def]
    vm, native = local_fns
    assert outcome(native["grid"], n, m, fill) == outcome(vm["grid"], n, m, fill)
    assert native["counts"](n) == vm["counts"](n)
    assert outcome(native["cube"], m) == outcome(vm["cube"], m)
    assert outcome(native["fresh_each_time"], m, n) == outcome(vm["fresh_each_time"], m, n)
    assert outcome(native["passes_it_on"], n) == outcome(vm["passes_it_on"], n)
    r = np.random.default_rng(n).uniform(-1, 1, max(n, 1))
    y_vm, y_native = r.copy(), r.copy()
    vm["durbin_like"](n, r, y_vm)
    native["durbin_like"](n, r, y_native)
    assert np.array_equal(y_vm, y_native)


def test_array_making_errors_are_the_vms(local_fns) -> None:  # type: ignore[no-untyped-def]
    vm, native = local_fns
    assert outcome(native["negative"], -4) == outcome(vm["negative"], -4) == (
        "error", "ValueError", "negative array dimension -4")
    assert outcome(native["past_the_end"], 5) == outcome(vm["past_the_end"], 5)
    assert outcome(vm["past_the_end"], 5) == ("error", "IndexError")
    # a function that stores into its arguments cannot re-run in the VM for the wording: the status
    # names the error, not the dimension
    r = np.ones(4)
    assert outcome(vm["durbin_like"], -1, r, r.copy()) == ("error", "ValueError", "negative array dimension -1")
    assert outcome(native["durbin_like"], -1, r, r.copy()) == ("error", "ValueError", "negative array dimension")


# ---------------------------------------------------------------- Arrays of 3 and 4 dimensions

NDIM = """
fn heat(a: Array<float, 3>, b: Array<float, 3>) {
    let n = len(a)
    for i in 1..n - 1 {
        for j in 1..a.shape[1] - 1 {
            for k in 1..a.shape[2] - 1 {
                b[i, j, k] = (0.125 * (a[i + 1, j, k] - 2.0 * a[i, j, k] + a[i - 1, j, k])
                    + 0.125 * (a[i, j + 1, k] - 2.0 * a[i, j, k] + a[i, j - 1, k])
                    + 0.125 * (a[i, j, k + 1] - 2.0 * a[i, j, k] + a[i, j, k - 1])
                    + a[i, j, k])
            }
        }
    }
}
fn weigh(a: Array<float, 4>, w: Array<float>) -> float {
    var s = 0.0
    for i in 0..a.shape[0] {
        for j in 0..a.shape[1] {
            for k in 0..a.shape[2] {
                for l in 0..a.shape[3] { s = s + a[i, j, k, l] * w[l] - float(i - j + k) }
            }
        }
    }
    return s
}
fn count_ints(a: Array<int, 3>, b: Array<i32, 3>) -> int {
    var t = 0
    for i in 0..a.shape[0] {
        for j in 0..a.shape[1] {
            for k in 0..a.shape[2] {
                a[i, j, k] = a[i, j, k] * 3 + int(b[i, j, k])
                t += a[i, j, k]
            }
        }
    }
    return t
}
fn corner(a: Array<float, 3>, i: int, j: int, k: int) -> float {
    var s = 0.0
    for r in 0..1 { s = a[i, j, k] }
    return s
}
"""


@pytest.fixture(scope="module")
def ndim() -> tuple[dict, dict]:
    vm, native = load(NDIM)
    assert_native(native, "heat", "weigh", "count_ints", "corner")
    return vm, native


def views(a: np.ndarray) -> list[np.ndarray]:
    """The array, and views of it NumPy hands out: strided, reversed, transposed, sliced."""
    return [a, a[::2, :, ::-1], a.transpose(2, 0, 1), a[1:, ::3, 1:-1], np.asfortranarray(a)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(0, 9)), seed=st.integers(0, 2**31))
def test_three_dimensional_arrays_read_and_write_as_in_the_vm(ndim, shape, seed: int) -> None:  # type: ignore[no-untyped-def]
    vm, native = ndim
    rng = np.random.default_rng(seed)
    base = rng.uniform(-1, 1, shape)
    for a in views(base):
        b_vm, b_native = np.zeros(a.shape), np.zeros(a.shape)
        vm["heat"](a, b_vm)
        native["heat"](a, b_native)
        assert np.array_equal(b_vm, b_native)
    ints = rng.integers(-1000, 1000, shape)
    small = rng.integers(-9, 9, shape).astype(np.int32)
    x, y = ints.copy(), ints.copy()
    assert native["count_ints"](x, small) == vm["count_ints"](y, small)
    assert np.array_equal(x, y)


def test_four_dimensional_arrays_and_their_views(ndim) -> None:  # type: ignore[no-untyped-def]
    vm, native = ndim
    a = np.random.default_rng(9).uniform(-1, 1, (3, 4, 5, 6))
    w = np.arange(6.0)
    for view in (a, a[:, ::-1, 1:, ::2], a.transpose(3, 1, 2, 0)):
        ww = w[: view.shape[3]]
        assert outcome(native["weigh"], view, ww) == outcome(vm["weigh"], view, ww)


def test_indices_of_three_dimensions_are_checked_as_in_the_vm(ndim) -> None:  # type: ignore[no-untyped-def]
    vm, native = ndim
    a = np.arange(60.0).reshape(3, 4, 5)
    for ijk in ((2, 3, 4), (-1, -1, -1), (-3, 0, 2), (3, 0, 0), (0, 4, 0), (0, 0, -6), (0, -5, 1)):
        assert outcome(native["corner"], a, *ijk) == outcome(vm["corner"], a, *ijk), ijk


# ---------------------------------------------------------------- in-place 2-D nests (covariance)

CENTRE = """
fn centre(data: Array<float, 2>, mean: Array<float>) {
    for i in 0..len(data) {
        for j in 0..data.shape[1] { data[i, j] -= mean[j] }
    }
}
fn scale(data: Array<float, 2>, by: Array<float>) {
    for i in 0..len(data) {
        for j in 0..data.shape[1] { data[i, j] *= by[j] }
    }
}
"""


@pytest.mark.parametrize("split", [False, True])
def test_a_nest_updating_in_place_compiles_and_splits_as_written(split: bool) -> None:
    vm, native = load(CENTRE, split=split)
    assert_native(native, "centre", "scale")
    rng = np.random.default_rng(11)
    for shape in ((260, 240), (3, 1), (0, 5), (17, 33)):
        data, mean = rng.uniform(-5, 5, shape), rng.uniform(-1, 1, shape[1])
        for fn in ("centre", "scale"):
            a, b = data.copy(), data.copy()
            vm[fn](a, mean)
            native[fn](b, mean)
            assert np.array_equal(a, b)
    # the arrays overlap: the nest runs on one core, in order, as written
    data = rng.uniform(-5, 5, (40, 40))
    a, b = data.copy(), data.copy()
    vm["centre"](a, a[3])
    native["centre"](b, b[3])
    assert np.array_equal(a, b)


# ---------------------------------------------------------------- columns without bounds checks

COLUMNS = """
fn column(a: Array<float, 2>, c: int, r: int) -> float {
    var s = 0.0
    for j in 0..len(a) { s = 0.5 * s + a[j, c] * a[r, c] }
    return s
}
fn scatter(a: Array<float, 2>, v: Array<float>, c: int) {
    for j in 0..len(v) { a[j, c] = v[j] + a[j, c + 1] }
}
"""


@pytest.fixture(scope="module")
def columns() -> tuple[dict, dict]:
    vm, native = load(COLUMNS)
    assert_native(native, "column", "scatter")
    return vm, native


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(0, 9), cols=st.integers(1, 6), c=st.integers(-8, 8), r=st.integers(-10, 10),
       n=st.integers(0, 11), order=st.sampled_from(["C", "F", "view"]))
def test_a_loop_down_a_column_checks_its_indices_once_and_keeps_the_vms_errors(  # type: ignore[no-untyped-def]
        columns, rows: int, cols: int, c: int, r: int, n: int, order: str) -> None:
    """The loop variable in a leading dimension, the other index fixed: the unchecked version runs
    when every index fits (and the last dimension is contiguous); negative, too large and
    non-contiguous cases take the checked loop, with the VM's results and errors."""
    vm, native = columns
    base = np.random.default_rng(rows * 31 + cols).uniform(-1, 1, (rows, cols * 2 if order == "view" else cols))
    a = np.asfortranarray(base) if order == "F" else base[:, ::2] if order == "view" else base
    assert outcome(native["column"], a, c, r) == outcome(vm["column"], a, c, r)
    v = np.arange(float(n))
    x, y = a.copy(order="K"), a.copy(order="K")
    assert outcome(native["scatter"], x, v, c) == outcome(vm["scatter"], y, v, c)
    assert np.array_equal(x, y)


# ---------------------------------------------------------------- purity through calls

def test_a_function_whose_callee_stores_into_its_array_is_not_run_twice() -> None:
    """A native function that fails is re-run in the VM only when nothing it did can show: one that
    calls a function storing into an Array it was given must raise as it is, or the stores happen
    twice."""
    vm, native = load("""
fn bump(a: Array<float>) {
    for i in 0..len(a) { a[i] += 1.0 }
}
fn outer(a: Array<float>, d: int) -> int {
    bump(a)
    var s = 0
    for i in 0..3 { s += 10 // d + i }
    return s
}
""")
    assert_native(native, "outer")
    a, b = np.zeros(3), np.zeros(3)
    assert outcome(native["outer"], a, 0) == outcome(vm["outer"], b, 0) == (
        "error", "ZeroDivisionError", "division by zero")
    assert np.array_equal(a, b) and list(a) == [1.0, 1.0, 1.0]
