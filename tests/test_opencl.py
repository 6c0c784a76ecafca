"""OpenCL variants (noodle/ir/kernels.py, noodle/backends/opencl/): every intent's kernel against
the same loops run as written in the VM — ints exact, floats exact for maps and stencils and within
the reassociation tolerance for reordered sums — on generated shapes (empty, 1, odd, large,
non-contiguous views), in both element widths, on whatever OpenCL device pyopencl finds (PoCL on
the CPU in CI: the dev extra installs `pyopencl[pocl]`).  Skipped, with the reason, only where
there is no device."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noodle.build.driver import compile_source
from noodle.errors import NoodleError
from noodle.ir.kernels import OFFLOADABLE, KernelSpec
from noodle.ir.nodes import decode_module
from noodle.vm.machine import Machine

opencl_runtime = pytest.importorskip("noodle.backends.opencl.runtime")
RT = opencl_runtime.runtime()
pytestmark = pytest.mark.skipif(RT is None, reason=f"no OpenCL device: {opencl_runtime.why_none()}")

KERNELS = """
fn saxpy(alpha: float, x: Array<float>, y: Array<float>) {
    for i in 0..len(x) { y[i] = alpha * x[i] + y[i] }
}
fn imap(k: int, x: Array<int>, y: Array<int>) {
    for i in 0..len(x) {
        let t = x[i] * k
        y[i] = t + 1
    }
}
fn fmap32(x: Array<f32>, y: Array<f32>) {
    for i in 0..len(x) { y[i] = x[i] * y[i] + x[i] / f32(3.0) }
}
fn imap32(x: Array<i32>, y: Array<i32>) {
    for i in 0..len(x) { y[i] = x[i] * i32(3) - y[i] }
}
fn divide(x: Array<float>, d: float, y: Array<float>) {
    for i in 0..len(x) { y[i] = x[i] / d }
}
fn grid(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {
    for i in 0..len(a) {
        for j in 0..a.shape[1] { c[i, j] = a[i, j] * 2.0 - b[i, j] }
    }
}
fn smooth(a: Array<float>, b: Array<float>) {
    for i in 1..len(a) - 1 { b[i] = a[i - 1] + a[i + 1] - 2.0 * a[i] }
}
fn laplace(a: Array<float, 2>, b: Array<float, 2>) {
    for i in 1..len(a) - 1 {
        for j in 1..a.shape[1] - 1 {
            b[i, j] = a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1] - 4.0 * a[i, j]
        }
    }
}
fn relax(a: Array<float, 2>, b: Array<float, 2>, sweeps: int) {
    for t in 0..sweeps {
        for i in 1..len(a) - 1 {
            for j in 1..a.shape[1] - 1 {
                b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
            }
        }
        for i in 1..len(a) - 1 {
            for j in 1..a.shape[1] - 1 { a[i, j] = b[i, j] }
        }
    }
}
fn total(a: Array<float>) -> float {
    var s = 0.0
    for i in 0..len(a) { s += a[i] }
    return s
}
fn total2(a: Array<float, 2>) -> float {
    var s = 0.0
    for i in 0..len(a) {
        for j in 0..a.shape[1] { s += a[i, j] }
    }
    return s
}
fn dotp(a: Array<float>, b: Array<float>) -> float {
    var s = 0.0
    for i in 0..len(a) { s += a[i] * b[i] }
    return s
}
fn isum(a: Array<int>, start: int) -> int {
    var s = start
    for i in 0..len(a) { s += a[i] }
    return s
}
fn isum32(a: Array<i32>) -> i32 {
    var s = i32(0)
    for i in 0..len(a) { s += a[i] }
    return s
}
fn iprod(a: Array<int>) -> int {
    var p = 1
    for i in 0..len(a) { p *= a[i] }
    return p
}
fn stats(a: Array<int>, limit: int) -> int {
    var n = 0
    var lo = 1000
    var hi = -1000
    for i in 0..len(a) {
        if a[i] > limit { n += 1 }
        lo = min(lo, a[i])
        hi = max(hi, a[i])
    }
    return n * 1000003 + lo * 1009 + hi
}
fn fmin(a: Array<float>) -> float {
    var m = 1.0e300
    for i in 0..len(a) { m = min(m, a[i]) }
    return m
}
fn fmax(a: Array<float>) -> float {
    var m = -1.0e300
    for i in 0..len(a) { m = max(a[i], m) }
    return m
}
fn count32(a: Array<f32>) -> int {
    var n = 0
    for i in 0..len(a) { if a[i] > f32(0.5) { n += 1 } }
    return n
}
fn prefix(a: Array<int>, out: Array<int>) -> int {
    var s = 0
    for i in 0..len(a) {
        s += a[i]
        out[i] = s
    }
    return s
}
fn hist(a: Array<int>, h: Array<int>) {
    for i in 0..len(a) { h[a[i]] += 1 }
}
fn matmul(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {
    for i in 0..len(a) {
        for j in 0..b.shape[1] {
            var s = 0.0
            for k in 0..len(b) { s += a[i, k] * b[k, j] }
            c[i, j] = s
        }
    }
}
fn matmul_add(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {
    for i in 0..len(a) {
        for k in 0..len(b) {
            for j in 0..b.shape[1] { c[i, j] += a[i, k] * b[k, j] }
        }
    }
}
fn gemm_tt(alpha: float, beta: float, a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {
    for i in 0..len(c) {
        for j in 0..c.shape[1] {
            var s = 0.0
            for k in 0..len(a) { s += a[k, i] * b[j, k] }
            c[i, j] = beta * c[i, j] + alpha * s
        }
    }
}
fn gemm_scaled(alpha: float, beta: float, a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {
    for i in 0..len(c) {
        for j in 0..c.shape[1] { c[i, j] *= beta }
        for k in 0..len(b) {
            for j in 0..c.shape[1] { c[i, j] += alpha * a[i, k] * b[k, j] }
        }
    }
}
fn mv(alpha: float, a: Array<float, 2>, x: Array<float>, y: Array<float>) {
    for i in 0..len(y) {
        var s = 0.0
        for j in 0..len(x) { s += a[i, j] * x[j] }
        y[i] = alpha * s
    }
}
fn mvt(a: Array<float, 2>, x: Array<float>, y: Array<float>) {
    for i in 0..len(y) {
        for j in 0..len(x) { y[i] += a[j, i] * x[j] }
    }
}
fn ftotal_if(a: Array<float>, limit: float) -> float {
    var s = 0.0
    for i in 0..len(a) { if a[i] > limit { s += a[i] } }
    return s
}
fn fprod(a: Array<float>) -> float {
    var p = 1.0
    for i in 0..len(a) { p *= a[i] }
    return p
}
fn fscan(a: Array<float>, out: Array<float>, start: float) -> float {
    var s = start
    for i in 0..len(a) {
        s += a[i]
        out[i] = s
    }
    return s
}
fn total32(a: Array<f32>) -> f32 {
    var s = f32(0.0)
    for i in 0..len(a) { s += a[i] }
    return s
}
fn prod32(a: Array<f32>) -> f32 {
    var p = f32(1.0)
    for i in 0..len(a) { p *= a[i] }
    return p
}
fn fscan32(a: Array<f32>, out: Array<f32>) -> f32 {
    var s = f32(0.0)
    for i in 0..len(a) {
        s += a[i]
        out[i] = s
    }
    return s
}
fn resident(x: Array<float>, y: Array<float>, k: float) -> float {
    for i in 0..len(x) { y[i] = x[i] * k }
    let t = k * 2.0 + 1.0
    for i in 0..len(x) { y[i] = y[i] + x[i] * t }
    return t
}
fn touched(x: Array<float>, y: Array<float>, k: float) {
    for i in 0..len(x) { y[i] = x[i] * k }
    y[0] = -1.0
    for i in 0..len(x) { y[i] = y[i] + x[i] }
}
fn upto(x: Array<int>, last: int) -> int {
    var s = 0
    for i in 0..=last { s += x[i] }
    return s
}
fn chain(x: Array<float>, y: Array<float>, z: Array<float>) {
    for i in 0..len(x) { y[i] = x[i] * 2.0 }
    for i in 0..len(x) { z[i] = y[i] + x[i] }
}
"""


def kept_as_written(source: str) -> str:
    """The same functions, renamed `NAME_loops` and marked @no_optimize: run as written, in the VM."""
    blocks = ["fn " + b for b in source.split("\nfn ")[1:]]
    return "".join("@no_optimize\n" + b.replace("(", "_loops(", 1) + "\n" for b in blocks)


PROGRAM = KERNELS + kept_as_written(KERNELS)


class Kernels:
    """The program compiled with every intent offered, loaded into a machine forcing OpenCL."""

    def __init__(self) -> None:
        self.ir, module = compile_source(PROGRAM, "k.nd", "k", offload=frozenset(OFFLOADABLE))
        self.machine = Machine(backend="opencl")
        self.lm = self.machine.load(module)

    def __call__(self, name: str, *args):  # type: ignore[no-untyped-def]
        """(result, error kind or None) of kernel `name`, and of its loops as written."""
        return self.call(name, *args)

    def call(self, name: str, *args):  # type: ignore[no-untyped-def]
        try:
            return self.machine.call(self.lm, self.lm.functions[name], *args), None
        except NoodleError as e:
            return None, getattr(e, "kind", type(e).__name__)


@pytest.fixture(scope="module")
def k():  # type: ignore[no-untyped-def]
    yield Kernels()
    # a fault inside the backend falls back to the loops, so results stay right: count them here
    assert RT is not None and RT.stats.internal == 0, RT.last_declined


def ran(before: int) -> bool:
    assert RT is not None
    return RT.stats.runs > before


def views(draw, n: int, dtype, lo: float, hi: float, contiguous: bool = False) -> np.ndarray:  # type: ignore[no-untyped-def]
    """n values from a drawn seed: contiguous, or every other element of a longer array, or reversed."""
    layout = "plain" if contiguous else draw(st.sampled_from(["plain", "plain", "strided", "reversed"]))
    m = 2 * n if layout == "strided" else n
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32)))
    if np.dtype(dtype).kind == "f":
        data = rng.uniform(lo, hi, m).astype(dtype)
    else:
        data = rng.integers(int(lo), int(hi), m, endpoint=True).astype(dtype)
    return data[::2] if layout == "strided" else data[::-1] if layout == "reversed" else data


SIZES = st.sampled_from([0, 1, 2, 7, 63, 64, 65, 257, 1000, 4099])


def same_floats(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def close_sum(got: float, want: float, terms: np.ndarray) -> bool:
    """A reordered float sum: within n * eps * sum(|terms|) of the sum in order."""
    bound = 4 * max(1, terms.size) * np.finfo(np.float64).eps * float(np.abs(terms).sum()) + 1e-300
    return abs(got - want) <= bound


# ---------------------------------------------------------------- maps and stencils: exact

@settings(max_examples=25, deadline=None)
@given(st.data())
def test_maps_compute_what_their_loops_compute_to_the_bit(k: Kernels, data) -> None:  # type: ignore[no-untyped-def]
    n = data.draw(SIZES)
    x = views(data.draw, n, np.float64, -1e6, 1e6)
    y = views(data.draw, n, np.float64, -1e6, 1e6, contiguous=True)
    alpha = data.draw(st.floats(-10, 10))
    want = y.copy()
    k("saxpy_loops", alpha, x, want)
    before = RT.stats.runs
    k("saxpy", alpha, x, y)
    assert same_floats(y, want)
    assert ran(before) or n == 0
    xi = views(data.draw, n, np.int64, -1000, 1000)
    yi, wi = np.zeros(n, np.int64), np.zeros(n, np.int64)
    factor = data.draw(st.integers(-5, 5))
    assert k("imap", factor, xi, yi) == k("imap_loops", factor, xi, wi)
    assert np.array_equal(yi, wi)


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_32_bit_maps_are_exact(k: Kernels, data) -> None:  # type: ignore[no-untyped-def]
    n = data.draw(SIZES)
    x = views(data.draw, n, np.float32, -1e3, 1e3)
    y = views(data.draw, n, np.float32, -1e3, 1e3, contiguous=True)
    want = y.copy()
    k("fmap32_loops", x, want)
    k("fmap32", x, y)
    assert same_floats(y, want)
    xi = views(data.draw, n, np.int32, -1000, 1000)
    yi = views(data.draw, n, np.int32, -1000, 1000, contiguous=True)
    wi = yi.copy()
    assert k("imap32", xi, yi) == k("imap32_loops", xi, wi)
    assert np.array_equal(yi, wi)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.data())
def test_2d_maps_and_stencils_on_non_square_grids(k: Kernels, rows: int, cols: int, data) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(rows * 41 + cols)
    a, b = rng.random((rows, cols)), rng.random((rows, cols))
    if data.draw(st.booleans()):
        a = np.asfortranarray(a)  # read through a non-contiguous layout: copied for the device
    c, want = np.zeros((rows, cols)), np.zeros((rows, cols))
    k("grid", a, b, c)
    k("grid_loops", a, b, want)
    assert same_floats(c, want)
    c, want = np.zeros((rows, cols)), np.zeros((rows, cols))
    k("laplace", a, c)
    k("laplace_loops", a, want)
    assert same_floats(c, want)
    v = rng.random(rows * cols)
    s, ws = np.zeros(v.size), np.zeros(v.size)
    k("smooth", v, s)
    k("smooth_loops", v, ws)
    assert same_floats(s, ws)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 20), st.integers(0, 20), st.integers(0, 6))
def test_jacobi_sweeps_double_buffered_on_the_device(k: Kernels, rows: int, cols: int, sweeps: int) -> None:
    rng = np.random.default_rng(rows * 21 + cols)
    a = rng.random((rows, cols))
    b = rng.random((rows, cols))
    wa, wb = a.copy(), b.copy()
    before = RT.stats.runs
    k("relax", a, b, sweeps)
    k("relax_loops", wa, wb, sweeps)
    assert same_floats(a, wa) and same_floats(b, wb)
    assert ran(before)


# ---------------------------------------------------------------- reductions

@settings(max_examples=25, deadline=None)
@given(st.data())
def test_float_sums_and_dot_within_the_reassociation_tolerance(k: Kernels, data) -> None:  # type: ignore[no-untyped-def]
    n = data.draw(SIZES)
    a = views(data.draw, n, np.float64, -1e6, 1e6)
    b = views(data.draw, n, np.float64, -1e6, 1e6)
    got, _ = k("total", a)
    want, _ = k("total_loops", a)
    assert close_sum(got, want, a)
    got, _ = k("dotp", a, b)
    want, _ = k("dotp_loops", a, b)
    assert close_sum(got, want, a * b)
    m = a[: (n // 3) * 3].reshape(-1, 3)
    got, _ = k("total2", m)
    want, _ = k("total2_loops", m)
    assert close_sum(got, want, m)


def close(got: float, want: float, bound: float) -> bool:
    return (got != got and want != want) or abs(got - want) <= bound


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_float_products_filtered_sums_and_f32_sums_are_tree_reductions(k: Kernels, data) -> None:  # type: ignore[no-untyped-def]
    """Reductions the contract lets reassociate, both widths: within n ulps of the loops' result."""
    n = data.draw(SIZES)
    a = views(data.draw, n, np.float64, -1e3, 1e3)
    limit = data.draw(st.floats(-500, 500))
    before = RT.stats.runs
    got, _ = k("ftotal_if", a, limit)
    want, _ = k("ftotal_if_loops", a, limit)
    assert close_sum(got, want, a[a > limit])
    f = views(data.draw, n, np.float64, 0.5, 1.5)
    got, _ = k("fprod", f)
    want, _ = k("fprod_loops", f)
    assert close(got, want, 4 * max(1, n) * np.finfo(np.float64).eps * abs(want))
    assert ran(before)
    eps32 = float(np.finfo(np.float32).eps)
    a32 = views(data.draw, n, np.float32, -100, 100)
    got, _ = k("total32", a32)
    want, _ = k("total32_loops", a32)
    assert close(got, want, 4 * max(1, n) * eps32 * float(np.abs(a32.astype(np.float64)).sum()) + 1e-30)
    f32 = views(data.draw, n, np.float32, 0.9, 1.1)
    got, _ = k("prod32", f32)
    want, _ = k("prod32_loops", f32)
    assert close(got, want, 4 * max(1, n) * eps32 * abs(want))


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_float_scans_both_widths(k: Kernels, data) -> None:  # type: ignore[no-untyped-def]
    """A running float sum stored each iteration: each stored value within its prefix's tolerance,
    and the accumulator left as the last stored value (as the loop leaves it)."""
    n = data.draw(SIZES)
    a = views(data.draw, n, np.float64, -1e3, 1e3)
    start = data.draw(st.floats(-10, 10))
    out, want = np.zeros(n), np.zeros(n)
    before = RT.stats.runs
    got, _ = k("fscan", a, out, start)
    expect, _ = k("fscan_loops", a, want, start)
    prefix = np.cumsum(np.abs(a)) + abs(start)
    bound = 4 * (np.arange(n) + 2) * np.finfo(np.float64).eps * prefix
    assert np.all(np.abs(out - want) <= bound)
    assert got == (out[-1] if n else start) and close(got, expect, float(bound[-1]) if n else 0.0)
    assert ran(before)
    a32 = views(data.draw, n, np.float32, -10, 10)
    out32, want32 = np.zeros(n, np.float32), np.zeros(n, np.float32)
    got, _ = k("fscan32", a32, out32)
    k("fscan32_loops", a32, want32)
    prefix = np.cumsum(np.abs(a32.astype(np.float64)))
    bound = 4 * (np.arange(n) + 2) * float(np.finfo(np.float32).eps) * prefix + 1e-30
    assert np.all(np.abs(out32.astype(np.float64) - want32) <= bound)
    assert got == (float(out32[-1]) if n else 0.0)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_int_reductions_are_exact(k: Kernels, data) -> None:  # type: ignore[no-untyped-def]
    n = data.draw(SIZES)
    a = views(data.draw, n, np.int64, -50, 50)
    start = data.draw(st.integers(-100, 100))
    limit = data.draw(st.integers(-60, 60))
    before = RT.stats.runs
    assert k("isum", a, start) == k("isum_loops", a, start) == (start + int(a.sum()), None)
    assert k("stats", a, limit) == k("stats_loops", a, limit)
    assert ran(before)
    a32 = views(data.draw, n, np.int32, -50, 50)
    assert k("isum32", a32) == k("isum32_loops", a32)
    last = data.draw(st.integers(-2, n))  # an inclusive range, empty, whole, or one past the end (raises)
    before = RT.stats.runs
    assert k("upto", a, last) == k("upto_loops", a, last)
    assert ran(before)
    small = views(data.draw, min(n, 40), np.int64, -3, 3)
    assert k("iprod", small) == k("iprod_loops", small)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_float_min_max_keep_what_the_loop_keeps(k: Kernels, data) -> None:  # type: ignore[no-untyped-def]
    n = data.draw(SIZES)
    a = views(data.draw, n, np.float64, -1e3, 1e3)
    if n and data.draw(st.booleans()):
        a = a.copy()
        a[data.draw(st.integers(0, n - 1))] = float("nan")  # the loop's result depends on where: it runs
    assert repr(k("fmin", a)) == repr(k("fmin_loops", a))
    assert repr(k("fmax", a)) == repr(k("fmax_loops", a))
    a32 = views(data.draw, n, np.float32, -2, 2)
    assert k("count32", a32) == k("count32_loops", a32)


def test_zeros_of_both_signs_are_kept_in_the_loops_order(k: Kernels) -> None:
    a = np.array([0.0, -0.0, 1.0] * 1000)
    for name in ("fmin", "fmax"):
        got, _ = k(name, a)
        want, _ = k(name + "_loops", a)
        assert np.copysign(1.0, got) == np.copysign(1.0, want)


# ---------------------------------------------------------------- overflow and other errors still raise

MAX = 2 ** 63 - 1


@pytest.mark.parametrize("values,start", [
    ([MAX, 1, -1], 0),  # a running sum overflows though the total would fit: the loops raise
    ([1] * 100, MAX - 50),
    ([-(2 ** 62)] * 3, 0),
    ([MAX // 2, MAX // 2, 1, 1], 0),
    ([5, -5] * 1000, MAX - 4),
])
def test_integer_sums_raise_where_the_loops_do(k: Kernels, values: list[int], start: int) -> None:
    a = np.array(values, dtype=np.int64)
    assert k("isum", a, start) == k("isum_loops", a, start)


def test_products_map_overflow_index_and_division_errors_are_the_loops(k: Kernels) -> None:
    big = np.array([2 ** 40, 2 ** 30, 0, 5], dtype=np.int64)  # overflows before the zero: raises
    assert k("iprod", big) == k("iprod_loops", big) == (None, "OverflowError")
    x, y, w = np.full(300, 2 ** 62, np.int64), np.zeros(300, np.int64), np.zeros(300, np.int64)
    assert k("imap", 4, x, y) == k("imap_loops", 4, x, w) == (None, "OverflowError")
    assert np.array_equal(y, w)  # the kernel's partial writes never reached the host
    data, h, wh = np.array([0, 1, 9, 2]), np.zeros(4, np.int64), np.zeros(4, np.int64)
    assert k("hist", data, h) == k("hist_loops", data, wh) == (None, "IndexError")
    assert np.array_equal(h, wh)
    f, g, wg = np.ones(100), np.zeros(100), np.zeros(100)
    assert k("divide", f, 0.0, g) == k("divide_loops", f, 0.0, wg) == (None, "ZeroDivisionError")


# ---------------------------------------------------------------- scan, histogram, matrix product

@settings(max_examples=20, deadline=None)
@given(st.data())
def test_scans_and_histograms_are_exact(k: Kernels, data) -> None:  # type: ignore[no-untyped-def]
    n = data.draw(SIZES)
    a = views(data.draw, n, np.int64, -(2 ** 40), 2 ** 40)
    out, want = np.zeros(n, np.int64), np.zeros(n, np.int64)
    assert k("prefix", a, out) == k("prefix_loops", a, want)
    assert np.array_equal(out, want)
    bins = data.draw(st.sampled_from([1, 4, 100, 3000]))  # 3000: past the local-memory bins
    d = views(data.draw, n, np.int64, -bins, bins - 1)  # negative indices count from the end
    h, wh = np.zeros(bins, np.int64), np.zeros(bins, np.int64)
    assert k("hist", d, h) == k("hist_loops", d, wh)
    assert np.array_equal(h, wh)


def test_a_scan_overflowing_midway_raises(k: Kernels) -> None:
    a = np.array([MAX, 1, -5], dtype=np.int64)
    out, want = np.zeros(3, np.int64), np.zeros(3, np.int64)
    assert k("prefix", a, out) == k("prefix_loops", a, want) == (None, "OverflowError")
    assert np.array_equal(out, want)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30))
def test_matrix_products_both_forms(k: Kernels, n: int, m: int, p: int) -> None:
    rng = np.random.default_rng(n * 961 + m * 31 + p)
    a, b = rng.random((n, p)), rng.random((p, m))
    c, want = np.zeros((n, m)), np.zeros((n, m))
    k("matmul", a, b, c)
    k("matmul_loops", a, b, want)
    assert np.allclose(c, want, rtol=1e-12, atol=1e-12)
    c0 = rng.random((n, m))
    c, want = c0.copy(), c0.copy()
    k("matmul_add", a, b, c)
    k("matmul_add_loops", a, b, want)
    assert np.allclose(c, want, rtol=1e-12, atol=1e-12)


def close_product(got: np.ndarray, want: np.ndarray, a: np.ndarray, b: np.ndarray, scale: float) -> bool:
    """A product whose sums are reordered: within k * eps * |a| @ |b| (times the scale) of the loops'."""
    k = a.shape[1] if a.ndim == 2 else 1
    bound = 4 * max(1, k) * np.finfo(np.float64).eps * scale * (np.abs(a) @ np.abs(b)) + 1e-300
    return got.shape == want.shape and bool(np.all(np.abs(got - want) <= bound + 4 * np.finfo(np.float64).eps
                                                   * np.abs(want)))


@pytest.mark.parametrize("design", ["cpu", "gpu"])  # a work-item per element; tiles in local memory
@settings(max_examples=6, deadline=None)
@given(st.integers(0, 37), st.integers(0, 37), st.integers(0, 37), st.sampled_from([1.0, -0.5, 2.0]),
       st.sampled_from([0.0, 1.0, 0.25]))
def test_contractions_matrix_products_with_transposes_alpha_and_beta(k: Kernels, design: str, m: int, n: int,
                                                                     p: int, alpha: float, beta: float) -> None:
    """A recognised contraction's BLAS call (gemm, any transposes, alpha, beta) runs as a kernel
    where its guard held, in both designs (PoCL runs the GPU one too), against the loops."""
    assert RT is not None
    rng = np.random.default_rng(m * 1369 + n * 37 + p)
    saved, RT.design = RT.design, design
    try:
        a, b = rng.random((p, m)), rng.random((n, p))  # op(a) = a.T, op(b) = b.T
        c0 = rng.random((m, n))
        c, want = c0.copy(), c0.copy()
        before = RT.stats.runs
        k("gemm_tt", alpha, beta, a, b, c)
        # (the guard takes no empty matrix, nor a beta of 0 the loops would multiply a NaN by)
        assert ran(before) or 0 in (m, n, p) or beta == 0.0, RT.last_declined
        k("gemm_tt_loops", alpha, beta, a, b, want)
        assert close_product(c, want, a.T, b.T, abs(alpha))
        a, b = rng.random((m, p)), rng.random((p, n))
        c, want = c0.copy(), c0.copy()
        before = RT.stats.runs
        k("gemm_scaled", alpha, beta, a, b, c)
        assert ran(before) or 0 in (m, n, p) or beta == 0.0, RT.last_declined
        k("gemm_scaled_loops", alpha, beta, a, b, want)
        assert close_product(c, want, a, b, abs(alpha))
    finally:
        RT.design = saved


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 70), st.integers(0, 70), st.data())
def test_contractions_matrix_vector_products_both_layouts(k: Kernels, m: int, n: int, data) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(m * 71 + n)
    a = rng.random((m, n))
    x = views(data.draw, n, np.float64, -1, 1)
    y, want = np.zeros(m), np.zeros(m)
    before = RT.stats.runs
    k("mv", -1.5, a, x, y)
    k("mv_loops", -1.5, a, x, want)
    assert close_product(y, want, a, np.abs(x), 1.5)
    y0 = rng.random(n)
    y, want = y0.copy(), y0.copy()
    xm = rng.random(m)
    k("mvt", a, xm, y)
    k("mvt_loops", a, xm, want)
    assert close_product(y, want, a.T, xm, 1.0)
    assert ran(before) or 0 in (m, n), RT.last_declined


# ---------------------------------------------------------------- views, residency, refusals

def test_a_non_contiguous_view_written_is_refused_with_the_reason(k: Kernels) -> None:
    x = np.arange(10.0)
    y = np.zeros(20)[::2]  # the kernel would have to scatter into every other element
    want = np.zeros(20)[::2]
    k("saxpy", 2.0, x, y)
    assert "non-contiguous" in RT.last_declined
    k("saxpy_loops", 2.0, x, want)
    assert np.array_equal(y, want)


def test_arrays_a_chain_of_kernels_shares_stay_on_the_device(k: Kernels) -> None:
    x, y, z = np.arange(5000.0), np.zeros(5000), np.zeros(5000)
    k("chain", x, y, z)  # compiled and built
    before = RT.stats.copy()
    k("chain", x, y, z)
    after = RT.stats
    # y and z go up once each (the second kernel finds y there; x, only read, is not copied at all on
    # a CPU device, else once), and y and z come back once, when the chain ends
    assert after.uploads - before.uploads == (2 if RT.info.kind == "cpu" else 3)
    assert after.downloads - before.downloads == 2
    assert np.array_equal(y, x * 2.0) and np.array_equal(z, x * 3.0)


def test_arrays_stay_on_the_device_across_vm_code_that_does_not_write_them(k: Kernels) -> None:
    x, y, want = np.arange(5000.0), np.zeros(5000), np.zeros(5000)
    k("resident", x, y, 3.0)  # compiled and built
    before = RT.stats.copy()
    assert k("resident", x, y, 3.0) == k("resident_loops", x, want, 3.0)
    after = RT.stats.copy()
    # y goes up once: the second kernel finds it where the first left it (x, only read, is not
    # copied at all on a CPU device, else once); y comes back after each kernel (the code between
    # them may read it)
    assert after.uploads - before.uploads == (1 if RT.info.kind == "cpu" else 2)
    assert after.downloads - before.downloads == 2
    assert same_floats(y, want)
    # code between them that writes y: its device copy is stale, the second kernel takes it afresh
    k("touched", x, y, 3.0)
    before = RT.stats.copy()
    k("touched", x, y, 3.0)
    k("touched_loops", x, want, 3.0)
    assert RT.stats.uploads - before.uploads == (2 if RT.info.kind == "cpu" else 3)
    assert same_floats(y, want) and y[0] == -1.0


def test_dispatches_are_linked_across_code_only_when_its_writes_are_known() -> None:
    from noodle.ir.kernels import specs_of

    source = KERNELS + """
fn helper(y: Array<float>) { y[1] = 2.0 }
fn called(x: Array<float>, y: Array<float>) {
    for i in 0..len(x) { y[i] = x[i] * 2.0 }
    helper(y)
    for i in 0..len(x) { y[i] = y[i] + x[i] }
}
"""
    module_ir, _ = compile_source(source, "k.nd", "k", offload=frozenset(OFFLOADABLE))
    specs = {}
    for spec in specs_of(module_ir):
        specs.setdefault(spec.function, []).append(spec)
    first, second = specs["resident"]
    assert (second.after, second.stale, first.keep) == (first.key, [], False)
    first, second = specs["touched"]
    assert second.after == first.key and [second.locals[s].name for s in second.stale] == ["y"]
    first, second = specs["chain"]
    assert (second.after, first.keep) == (first.key, True)
    first, second = specs["called"]
    assert second.after == -1  # a call between them may write anything


def test_overlapping_views_written_and_read_run_their_loops(k: Kernels) -> None:
    a = np.arange(100.0)
    want = np.arange(100.0)
    k("saxpy", 1.0, a[:-1], a[1:])  # each iteration reads what the one before wrote
    assert "shares memory" in RT.last_declined
    k("saxpy_loops", 1.0, want[:-1], want[1:])
    assert np.array_equal(a, want)


def test_safe_mode_declines_reassociating_kernels() -> None:
    _, module = compile_source(KERNELS, "k.nd", "k", offload=frozenset(OFFLOADABLE))
    m = Machine(backend="opencl", mode="safe")
    fns = m.load(module).functions
    before = RT.stats.runs
    a = np.arange(1000.0)
    assert fns["total"](a) == float(sum(a.tolist()))  # the loops, in order
    assert RT.stats.runs == before
    y = np.zeros(1000)
    fns["saxpy"](2.0, a, y)  # exact kernels still run
    assert RT.stats.runs == before + 1


def test_what_has_no_kernel_says_why() -> None:
    source = """
import math
fn floors(a: Array<float>, b: Array<float>) {
    for i in 0..len(a) { b[i] = math.floor(a[i]) }
}
"""
    report: list = []
    compile_source(source, "w.nd", "w", offload_report=report)
    why = [x for _, _, x in report]
    assert any(isinstance(x, str) and "`math.floor`, which kernels do not compute" in x for x in why), why


def test_float_reductions_and_scans_reassociate_only_outside_safe_mode() -> None:
    report: list = []
    compile_source(KERNELS, "k.nd", "k", offload_report=report)
    kinds = {x.function: x.exact for _, _, x in report if isinstance(x, KernelSpec)}
    assert not any(kinds[f] for f in ("ftotal_if", "fprod", "fscan", "total32", "prod32", "fscan32", "gemm_tt", "mv"))
    assert all(kinds[f] for f in ("prefix", "isum", "fmin", "saxpy"))


def test_every_intent_has_a_kernel() -> None:
    report: list = []
    compile_source(KERNELS, "k.nd", "k", offload_report=report)
    found = {x.intent for _, _, x in report if isinstance(x, KernelSpec)}
    assert found == set(OFFLOADABLE), [x for _, _, x in report if isinstance(x, str)]
