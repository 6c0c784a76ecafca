"""The 32-bit types: f32 arithmetic is IEEE single precision and i32 raises outside its range, the
same in the VM and in native code, and nothing converts to or from them implicitly."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noodle.build.driver import compile_source
from noodle.errors import CompileError
from noodle.runtime.errors import to_error
from noodle.vm.machine import Machine

SOURCE = """
fn poly(a: f32, b: f32) -> f32 {
    var r = f32(0.0)
    for k in 0..1 { r = a * b + a / b - b * 0.5 }  // (a loop: so that it runs natively under auto)
    return r
}
fn iops(a: i32, b: i32) -> i32 {
    var r = i32(0)
    for k in 0..1 { r = a * b + a // b - a % b - -b }
    return r
}
fn conv(x: float, n: int) -> float {
    var r = 0.0
    for k in 0..1 { r = float(f32(x)) + float(int(i32(n))) }
    return r
}
fn axpy(alpha: f32, x: Array<f32>, y: Array<f32>) {
    for i in 0..len(x) { y[i] = alpha * x[i] + y[i] }
}
fn total(x: Array<f32>) -> f32 {
    var s = f32(0.0)
    for i in 0..len(x) { s += x[i] }
    return s
}
fn itotal(x: Array<i32>) -> i32 {
    var s = i32(0)
    for i in 0..len(x) { s += x[i] }
    return s
}
"""


@pytest.fixture(scope="module", params=["vm", "auto"])
def fns(request: pytest.FixtureRequest) -> dict:
    _, module = compile_source(SOURCE, "n.nd", "n")
    m = Machine(backend=request.param)
    lm = m.load(module)
    if request.param == "auto":
        assert all(name in m.native_report["n"] for name in ("poly", "iops", "conv", "axpy", "total", "itotal"))
    return lm.functions


def f32s() -> st.SearchStrategy[float]:
    return st.floats(width=32, allow_nan=False, allow_infinity=False)


def raises(kind: str, fn, *args) -> bool:  # type: ignore[no-untyped-def]
    """Does `fn(*args)` raise exactly the Noodle error `kind` (as the machine reports what VM code raises)?"""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - the kind is checked exactly
        return to_error(e).f_kind == kind
    return False


@settings(max_examples=200, deadline=None)
@given(f32s(), f32s())
def test_f32_arithmetic_is_single_precision(fns: dict, a: float, b: float) -> None:
    if b == 0.0:
        assert raises("ZeroDivisionError", fns["poly"], a, b)
        return
    x, y = np.float32(a), np.float32(b)
    with np.errstate(all="ignore"):
        want = x * y + x / y - y * np.float32(0.5)
    got = fns["poly"](a, b)
    assert np.float32(got) == want or (np.isnan(want) and np.isnan(got))
    assert float(np.float32(got)) == got or np.isnan(got)  # an f32 holds only float32 values


@settings(max_examples=200, deadline=None)
@given(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1))
def test_i32_arithmetic_raises_outside_its_range(fns: dict, a: int, b: int) -> None:
    if b == 0:
        assert raises("ZeroDivisionError", fns["iops"], a, b)
        return
    steps = [a * b, a // b, a % b, -b]
    total = a * b + a // b - a % b + b
    partial = [a * b, a * b + a // b, a * b + a // b - a % b]
    if all(-(2**31) <= v < 2**31 for v in steps + partial + [total]):
        assert fns["iops"](a, b) == total
    else:
        assert raises("OverflowError", fns["iops"], a, b)


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False), st.integers(-(2**40), 2**40))
def test_conversions(fns: dict, x: float, n: int) -> None:
    if not -(2**31) <= n < 2**31:
        assert raises("OverflowError", fns["conv"], x, n)
        return
    with np.errstate(over="ignore"):
        assert fns["conv"](x, n) == float(np.float32(x)) + n  # f32(x) rounds; beyond its range it is inf


@settings(max_examples=50, deadline=None)
@given(st.lists(f32s(), max_size=50), f32s())
def test_f32_arrays_in_loops(fns: dict, values: list[float], alpha: float) -> None:
    x = np.array(values, dtype=np.float32)
    y = x[::-1].copy()
    want = y.copy()
    with np.errstate(all="ignore"):
        for i in range(len(x)):  # in order, each step rounded to single precision
            want[i] = np.float32(alpha) * x[i] + want[i]
        s = np.float32(0.0)
        for v in x:
            s = np.float32(s + v)
    fns["axpy"](alpha, x, y)
    assert np.array_equal(y, want, equal_nan=True)
    got = fns["total"](x)
    assert np.float32(got) == s or (np.isnan(s) and np.isnan(got))


def test_i32_array_sums_raise_on_overflow(fns: dict) -> None:
    assert fns["itotal"](np.array([5, -7, 2**31 - 10], dtype=np.int32)) == 2**31 - 12
    assert raises("OverflowError", fns["itotal"], np.array([2**31 - 1, 1], dtype=np.int32))


@pytest.mark.parametrize(("body", "message"), [
    ("let x = f32(1.0)\n let y = 2.0\n print(x + y)", "`+` is not defined for f32 and float"),
    ("let n = i32(1)\n let m = 2\n print(n * m)", "`*` is not defined for i32 and int"),
    ("let n = i32(1)\n print(n + 4000000000)", "`+` is not defined for i32 and int"),  # the literal does not fit
    ("let n = i32(1)\n print(n / n)", "`/` is not defined for i32 and i32"),
])
def test_nothing_converts_implicitly(body: str, message: str) -> None:
    with pytest.raises(CompileError) as e:
        compile_source("fn main() {\n " + body + "\n}\n", "m.nd", "m")
    assert message in str(e.value)


def test_a_host_passes_f32_and_i32_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import noodle

    (tmp_path / "h.nd").write_text("fn half(x: f32, n: i32) -> f32 { return x * 0.5 + f32(float(int(n))) }\n")
    m = noodle.VM().load(str(tmp_path / "h.nd"))
    assert m.half(0.1, 3) == float(np.float32(0.1) * np.float32(0.5) + np.float32(3))  # 0.1 rounded on the way in
    with pytest.raises(noodle.NoodleRuntimeError, match="expected i32"):
        m.half(0.1, 2**40)


def test_a_host_array_whose_elements_are_not_whole_steps_apart_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import noodle

    (tmp_path / "s.nd").write_text("fn total(a: Array<float>) -> float {\n var s = 0.0\n"
                                   " for i in 0..len(a) { s += a[i] }\n return s\n}\n")
    m = noodle.VM().load(str(tmp_path / "s.nd"))
    records = np.zeros(4, dtype=[("x", "f8"), ("n", "i4")])  # 12-byte records: x is 12 bytes apart
    records["x"] = [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(noodle.NoodleRuntimeError, match="pass a copy"):
        m.total(records["x"])
    assert m.total(records["x"].copy()) == 10.0


ARRAYS = """
fn mix(a: Array<f32>, b: Array<f32>, x: f32) -> Array<f32> {
    let c = a * b + a * x - b / 3.0
    return c
}
fn imix(a: Array<i32>, b: Array<i32>) -> Array<i32> {
    let c = a * b + a // 3 - b % 5
    return c
}
fn totals(a: Array<f32>, b: Array<i32>) -> float { return float(sum(a)) + float(int(sum(b))) }
"""


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(f32s(), f32s().filter(lambda v: v != 0.0)), max_size=30), f32s())
def test_f32_array_arithmetic_is_numpys_float32(pairs: list, x: float) -> None:
    _, module = compile_source(ARRAYS, "a.nd", "a")
    fns = Machine(backend="auto").load(module).functions
    a = np.array([p[0] for p in pairs], dtype=np.float32)
    b = np.array([p[1] for p in pairs], dtype=np.float32)
    with np.errstate(all="ignore"):
        want = a * b + a * np.float32(x) - b / np.float32(3.0)
    got = fns["mix"](a, b, x)
    assert got.dtype == np.float32 and np.array_equal(got, want, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1)), max_size=30))
def test_i32_array_arithmetic_raises_where_numpy_would_wrap(pairs: list) -> None:
    _, module = compile_source(ARRAYS, "a.nd", "a")
    fns = Machine(backend="auto").load(module).functions
    a = np.array([p[0] for p in pairs], dtype=np.int32)
    b = np.array([p[1] for p in pairs], dtype=np.int32)
    products = [x * y for x, y in pairs]
    exact = [x * y + x // 3 - y % 5 for x, y in pairs]
    if all(-(2**31) <= v < 2**31 for v in products + [p + x // 3 for p, (x, _) in zip(products, pairs)] + exact):
        got = fns["imix"](a, b)
        assert got.dtype == np.int32 and got.tolist() == exact
    else:
        assert raises("OverflowError", fns["imix"], a, b)
    if -(2**31) <= sum(y for _, y in pairs) < 2**31:
        assert fns["totals"](a, b) == float(np.sum(a, dtype=np.float32)) + sum(y for _, y in pairs)
    else:
        assert raises("OverflowError", fns["totals"], a, b)
