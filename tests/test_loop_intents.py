"""Loops recognised by what they compute (noodle/ir/intents/loops.py): which intent, why not, and
that every recognised kernel computes what its loops do — under both backends, on random shapes,
strided views and aliasing arguments, against the same loops kept in the VM and against NumPy."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.nodes import decode_module
from noodle.ir.walk import walk
from noodle.runtime.values import ErrorValue
from noodle.vm.machine import Machine
from helpers import HANG_S

KERNELS = """
fn dotp(a: Array<float>, b: Array<float>) -> float {
    var s = 0.0
    for i in 0..len(a) { s += a[i] * b[i] }
    return s
}
fn total(a: Array<float>) -> float {
    var s = 0.0
    for i in 0..len(a) { s += a[i] }
    return s
}
fn isum(a: Array<int>) -> int {
    var s = 0
    for i in 0..len(a) { s += a[i] }
    return s
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
fn prod(a: Array<float>) -> float {
    var p = 1.0
    for i in 0..len(a) { p *= a[i] }
    return p
}
fn saxpy(alpha: float, x: Array<float>, y: Array<float>) {
    for i in 0..len(x) { y[i] = alpha * x[i] + y[i] }
}
fn prefix(a: Array<float>, out: Array<float>) {
    var s = 0.0
    for i in 0..len(a) {
        s += a[i]
        out[i] = s
    }
}
fn hist(a: Array<int>, h: Array<int>) {
    for i in 0..len(a) { h[a[i]] += 1 }
}
fn jacobi(a: Array<float, 2>, b: Array<float, 2>) {
    for i in 1..len(a) - 1 {
        for j in 1..a.shape[1] - 1 {
            b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        }
    }
}
"""



def kept_as_written(source: str) -> str:
    """The same functions, renamed `NAME_loops` and marked @no_optimize: run as written, in the VM."""
    blocks = ["fn " + b for b in source.split("\nfn ")[1:]]
    return "".join("@no_optimize\n" + b.replace("(", "_loops(", 1) + "\n" for b in blocks)


#: the kernels, and the same kernels kept as written: the reference every variant must agree with
PROGRAM = KERNELS + kept_as_written(KERNELS)


def loop_intents(source: str) -> list[tuple[str, str]]:
    """(intent, note) of every loop and intent dispatch, in order."""
    _, module = compile_source(source, "m.nd", "m")
    out = []
    for f in decode_module(module.ir).functions:
        if f.name.startswith("__loop_"):
            continue  # (a dot product's loops, outlined from its dispatch)
        for s in f.body:
            for n in walk(s):
                if isinstance(n, ir.If) and n.intent:
                    out.append((n.intent, "dispatch"))
                elif isinstance(n, ir.ForRange) and n.intent != "nested" and (n.intent or n.note):
                    out.append((n.intent, n.note))
    return out


def test_each_kernel_is_recognised_as_what_it_computes() -> None:
    found = loop_intents(KERNELS)
    assert sorted(k for k, _ in found) == sorted(["dot", "sum", "sum", "count", "product", "map", "scan",
                                                  "histogram", "stencil"])
    notes = dict(found)
    assert notes["count"] == "count into `n` under an if-filter, min into `lo`, max into `hi`"
    assert notes["stencil"] == "4-point 2-D neighbourhood, into `b`" and notes["scan"].startswith("running sum `s`")
    sums = sorted(note for k, note in found if k == "sum")
    assert sums == ["sum into `s`", "sum into `s` (reassociated, vectorisable)"]  # float sums only


LEFT_ALONE = {
    "s += a[i]\n a[i] = s * 2.0": "reads `s`, which the loop accumulates",
    "if a[i] < 0.0 { break }\n s += a[i]": "leaves the iteration early (`break`)",
    "s += a[i]\n print(s)": "calls `print`, which may have side effects",
    "s += a[i]\n s += 1.0": "an accumulator is updated twice",
    "a[i] = a[i - 1] + 1.0": "reads `a` at another position than line",
    "s += t\n t = a[i]": "reads `t` before the iteration sets it",
    "s += f(a[i])": "calls `f`, which may have side effects",
    "a[0] = a[i]": "does not write a new element of `a` each iteration",
}


@pytest.mark.parametrize(("body", "why"), LEFT_ALONE.items())
def test_a_loop_that_is_not_what_it_looks_like_is_left_alone_and_says_why(body: str, why: str) -> None:
    source = ("fn f(x: float) -> float { return x }\n"
              "fn k(a: Array<float>) -> float {\n var s = 0.0\n var t = 0.0\n"
              f" for i in 1..len(a) {{\n {body}\n }}\n return s + t\n}}\n")
    found = [x for x in loop_intents(source) if x[1] != "dispatch"]
    assert len(found) == 1 and found[0][0] == "" and found[0][1].startswith("no intent: ") and why in found[0][1], \
        found


# ---------------------------------------------------------------- every variant against its loops

@pytest.fixture(scope="module", params=["vm", "auto"])
def kernels(request: pytest.FixtureRequest) -> dict:
    _, module = compile_source(PROGRAM, "k.nd", "k")
    return Machine(backend=request.param).load(module).functions


def vector(draw, n: int, values: st.SearchStrategy) -> np.ndarray:  # type: ignore[no-untyped-def]
    """n values: contiguous, every other element of a longer array, or reversed (negative stride)."""
    layout = draw(st.sampled_from(["plain", "strided", "reversed"]))
    if layout == "strided":
        return np.array(draw(st.lists(values, min_size=2 * n, max_size=2 * n)))[::2]
    data = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    return data[::-1] if layout == "reversed" else data


SIZES = st.sampled_from([0, 1, 2, 7, 31, 64, 257])
FLOATS = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def float_pair(draw):  # type: ignore[no-untyped-def]
    n = draw(SIZES)
    return vector(draw, n, FLOATS).astype(float), vector(draw, n, FLOATS).astype(float)


@settings(max_examples=40, deadline=None)
@given(float_pair(), st.booleans())
def test_float_reductions_agree_with_their_loops_and_numpy(kernels: dict, ab, same: bool) -> None:  # type: ignore[no-untyped-def]
    a, b = ab
    if same:
        b = a  # the same array twice: a sum of squares
    close = dict(rel=1e-9, abs=1e-6)
    assert kernels["dotp"](a, b) == pytest.approx(kernels["dotp_loops"](a, b), **close)
    assert kernels["dotp"](a, b) == pytest.approx(float(np.dot(a, b)), **close)
    assert kernels["total"](a) == pytest.approx(float(np.sum(a)), **close)
    small = a / 1000.0 + 1.0  # a product that stays finite
    assert kernels["prod"](small) == pytest.approx(kernels["prod_loops"](small), rel=1e-9)
    out, want = np.zeros(len(a)), np.zeros(len(a))
    kernels["prefix"](a, out)
    kernels["prefix_loops"](a, want)
    assert np.array_equal(out, want) and np.array_equal(out, np.cumsum(a))  # a scan adds in order: exact


@pytest.mark.parametrize("backend", ["vm", "auto"])
def test_a_dot_over_arrays_of_different_lengths_runs_its_loop(backend: str) -> None:
    import io
    from contextlib import redirect_stdout

    main = ("fn main() {\n print(dotp(ones(3), ones(5)))\n"  # the loop's bound is `a`'s length
            " try { print(dotp(ones(5), ones(3))) } catch e { print(e.kind) }\n}\n")  # it reads past `b`
    _, module = compile_source(KERNELS + main, "k.nd", "k")
    out = io.StringIO()
    m = Machine(backend=backend)
    with redirect_stdout(out):
        m.run_main(m.load(module))
    assert out.getvalue() == "3.0\nIndexError\n"


@pytest.mark.parametrize("backend", ["vm", "auto"])
def test_a_dot_over_a_prefix_of_the_arrays_sums_only_the_prefix(backend: str) -> None:
    import io
    from contextlib import redirect_stdout

    # BLAS sums whole arrays: the guard must send a loop over the first n elements to the loop
    src = ("fn dotn(a: Array<float>, b: Array<float>, n: int) -> float {\n var s = 0.0\n"
           " for i in 0..n { s += a[i] * b[i] }\n return s\n}\n"
           "fn main() {\n let a = arange(0.0, 10.0, 1.0)\n"
           " print(dotn(a, ones(10), 3), dotn(a, ones(10), 10), dotn(a, a, 0))\n}\n")
    _, module = compile_source(src, "k.nd", "k")
    assert {n.intent for f in decode_module(module.ir).functions for st_ in f.body for n in walk(st_)
            if isinstance(n, ir.If)} == {"dot"}  # the guarded BLAS variant is there to be refused
    out = io.StringIO()
    m = Machine(backend=backend)
    with redirect_stdout(out):
        m.run_main(m.load(module))
    assert out.getvalue() == "3.0 45.0 0.0\n"


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_int_reductions_and_histograms_are_exact(kernels: dict, data) -> None:  # type: ignore[no-untyped-def]
    n = data.draw(SIZES)
    a = vector(data.draw, n, st.integers(0, 40)).astype(np.int64)
    limit = data.draw(st.integers(-5, 45))
    assert kernels["isum"](a) == int(a.sum()) == kernels["isum_loops"](a)
    assert kernels["stats"](a, limit) == kernels["stats_loops"](a, limit)
    h, want = np.zeros(41, dtype=np.int64), np.zeros(41, dtype=np.int64)
    kernels["hist"](a, h)
    kernels["hist_loops"](a, want)
    assert np.array_equal(h, want) and np.array_equal(h, np.bincount(a, minlength=41))


def test_an_int_sum_that_overflows_raises(kernels: dict) -> None:
    with pytest.raises(ErrorValue) as e:
        kernels["isum"](np.array([2**62, 2**62], dtype=np.int64))
    assert (e.value.f_kind, e.value.f_message) == ("OverflowError", "integer overflow")


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_maps_and_stencils_agree_with_their_loops_even_on_overlapping_views(kernels: dict, data) -> None:  # type: ignore[no-untyped-def]
    n = data.draw(SIZES)
    v = np.array(data.draw(st.lists(FLOATS, min_size=n + 1, max_size=n + 1)))
    shift = data.draw(st.sampled_from([0, 1]))
    got, want = v.copy(), v.copy()
    # y overlaps x one element ahead: each iteration reads what the one before wrote
    kernels["saxpy"](2.0, got[: n + 1 - shift], got[shift:])
    kernels["saxpy_loops"](2.0, want[: n + 1 - shift], want[shift:])
    assert np.array_equal(got, want)
    rows, cols = data.draw(st.sampled_from([0, 1, 3, 8])), data.draw(st.sampled_from([0, 1, 3, 9]))
    g = np.array(data.draw(st.lists(FLOATS, min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)
    if data.draw(st.booleans()):
        g = np.ascontiguousarray(g.T).T  # a transposed (column-major) view
    out, ref = np.zeros((rows, cols)), np.zeros((rows, cols))
    kernels["jacobi"](g, out)
    kernels["jacobi_loops"](g, ref)
    assert np.array_equal(out, ref)
    in_place = g.copy()
    kernels["jacobi"](in_place, in_place)  # reads what it wrote: the loops' order decides
    ref_in_place = g.copy()
    kernels["jacobi_loops"](ref_in_place, ref_in_place)
    assert np.array_equal(in_place, ref_in_place)


def test_safe_mode_takes_the_dot_products_loop() -> None:
    _, module = compile_source(PROGRAM, "k.nd", "k")
    safe = Machine(backend="vm", mode="safe").load(module).functions
    a = np.array([1e16, 1.0, -1e16, 1.0])
    assert safe["dotp"](a, np.ones(4)) == safe["dotp_loops"](a, np.ones(4))  # in order: 1e16 + 1 loses the 1


# ---------------------------------------------------------------- array expressions

FUSED = ("fn f(a: Array<float>, b: Array<float>) -> float { return sum(a * b) }\n"
         "fn g(a: Array<float>, b: Array<float>) -> float { return sum(a * b * 1.0) }\n")


def test_sum_of_a_product_is_one_pass() -> None:
    _, module = compile_source(FUSED, "m.nd", "m")
    names = {n.name for f in decode_module(module.ir).functions for s in f.body for n in walk(s)
             if isinstance(n, ir.CallBuiltin)}
    assert "array.sum_of_products" in names and "array.mul" in names  # g's product of three is not a dot


@settings(max_examples=40, deadline=None)
@given(float_pair(), st.sampled_from(["same", "scalar", "mismatch"]))
def test_a_fused_sum_of_products_agrees_with_numpy_and_safe_mode_with_the_vm(ab, shape: str) -> None:  # type: ignore[no-untyped-def]
    a, b = ab
    if shape == "scalar":
        b = np.array([2.5])  # broadcasts: the two steps as written
    _, module = compile_source(FUSED, "m.nd", "m")
    fast = Machine(backend="vm").load(module).functions["f"]
    safe = Machine(backend="vm", mode="safe").load(module).functions["f"]
    if shape == "mismatch" and len(a) > 2:  # (a length-1 array would broadcast)
        b = b[:-1]
        with pytest.raises(ValueError, match="could not be broadcast together"):
            fast(a, b)
        with pytest.raises(ValueError, match="could not be broadcast together"):
            safe(a, b)
        return
    assert fast(a, b) == pytest.approx(float(np.sum(a * b)), rel=1e-9, abs=1e-6)
    assert safe(a, b) == float(np.sum(a * b))  # as written, bit for bit


CHAINS = """
fn axpb(a: Array<float>, b: Array<float>, x: float) -> Array<float> {
    let c = a * b + x * a - b
    return c
}
fn grid(m: Array<float, 2>) -> Array<float, 2> {
    let g = -m * m + m
    return g
}
fn ints(a: Array<int>, b: Array<int>) -> Array<int> {
    var c = a * a
    c = c * b + a
    return c
}
fn self_update(a: Array<float>) -> Array<float> {
    var b = a
    b = b * b + b
    return b
}
"""


@pytest.fixture(scope="module", params=[("vm", "optimized"), ("auto", "optimized"), ("auto", "safe")])
def chains(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    from noodle.ir.variants import forced

    _, module = compile_source(CHAINS, "c.nd", "c")
    backend, mode = request.param
    with forced("map.fused", 0):  # fuse at every size, so the small examples take the fused loop
        yield Machine(backend=backend, mode=mode).load(module).functions


def test_chains_of_maps_become_one_loop() -> None:
    _, module = compile_source(CHAINS, "c.nd", "c")
    fns = decode_module(module.ir).functions
    guards = [n for f in fns for s in f.body for n in walk(s) if isinstance(n, ir.CallBuiltin)
              and n.name == "array.fuse_fits"]
    assert len(guards) == 4  # `c = a * a` alone is one NumPy pass already
    loops = [n for f in fns for s in f.body for n in walk(s) if isinstance(n, ir.ForRange) and n.intent == "map"]
    assert len(loops) == 4 and "4 chained elementwise operations fused into one loop" in {x.note for x in loops}


@settings(max_examples=40, deadline=None)
@given(float_pair(), FLOATS, st.booleans())
def test_a_fused_chain_is_numpy_bit_for_bit(chains, ab, x: float, broadcast: bool) -> None:  # type: ignore[no-untyped-def]
    a, b = ab
    if broadcast:
        b = np.array([x])  # shapes differ: NumPy's passes, broadcasting
    assert np.array_equal(chains["axpb"](a, b, x), a * b + x * a - b)
    m = a.reshape(1, -1) if len(a) else np.zeros((0, 3))
    assert np.array_equal(chains["grid"](m), -m * m + m)
    assert np.array_equal(chains["grid"](m.T), -m.T * m.T + m.T)  # a column view
    before = a.copy()
    assert np.array_equal(chains["self_update"](a), before * before + before) and np.array_equal(a, before)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-3_000_000_000, 3_000_000_000), max_size=40))
def test_a_fused_int_chain_raises_on_overflow_like_numpy_passes(values: list[int]) -> None:  # type: ignore[no-untyped-def]
    from noodle.ir.variants import forced

    a = np.array(values, dtype=np.int64)
    b = a[::-1].copy()
    exact = [x * x * y + x for x, y in zip(values, values[::-1])]
    fits = all(-(2**63) <= x * x <= 2**63 - 1 for x in values) and all(-(2**63) <= v < 2**63 for v in exact) \
        and all(-(2**63) <= x * x * y < 2**63 for x, y in zip(values, values[::-1]))
    _, module = compile_source(CHAINS, "c.nd", "c")
    with forced("map.fused", 0):
        for backend in ("vm", "auto"):
            ints = Machine(backend=backend).load(module).functions["ints"]
            if fits:
                assert ints(a, b).tolist() == exact
            else:
                with pytest.raises(ErrorValue) as e:
                    ints(a, b)
                assert e.value.f_kind == "OverflowError"


def test_explain_lists_array_expressions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "x.nd").write_text("fn main() {\n let a = ones(3, 3)\n let v = ones(3)\n"
                                   " print(sum(a @ a), dot(v, v), sum(v * v))\n let w = v * v + v\n"
                                   " print(sum(sqrt(v) * v + v), w)\n}\n")
    noodlec = Path(sys.executable).parent / "noodlec"
    out = subprocess.run([str(noodlec), "x.nd", "--explain"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=HANG_S).stdout
    for text in ("x.nd:4: array expression in main: matrix product (`@`, `matmul`) — BLAS",
                 "x.nd:4: array expression in main: dot product (`dot`) — BLAS",
                 "x.nd:4: array expression in main: sum of a product fused into a dot product",
                 "x.nd:5: array expression in main: elementwise map of 2 operations fused — one native loop",
                 "x.nd:6: array expression in main: elementwise map of 3 operations, not fused — NumPy"):
        assert text in out, out


@pytest.mark.parametrize("reads, expected", [
    # heat-3d's nest: the j-k loops inside a loop over i; the i offsets make points too
    ("a[i + 1, j, k] + a[i - 1, j, k] + a[i, j + 1, k] + a[i, j - 1, k] + a[i, j, k + 1] + a[i, j, k - 1]"
     " - 6.0 * a[i, j, k]", "7-point 3-D"),
    ("a[i, j - 1, k] + a[i, j + 1, k] + a[i, j, k]", "3-point 1-D"),
    ("a[i - 1, j, k - 1] + a[i + 1, j, k + 1]", "2-point 2-D"),
])
def test_a_stencil_is_named_by_its_points_and_dimensions(reads: str, expected: str) -> None:
    source = ("fn s(a: Array<float, 3>, b: Array<float, 3>) {\n for i in 1..len(a) - 1 {\n"
              "  for j in 1..a.shape[1] - 1 {\n   for k in 1..a.shape[2] - 1 {\n"
              f"    b[i, j, k] = {reads}\n   }}\n  }}\n }}\n}}\n")
    notes = [note for intent, note in loop_intents(source) if intent == "stencil"]
    assert notes == [f"{expected} neighbourhood, into `b`"]
