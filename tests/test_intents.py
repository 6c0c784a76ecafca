"""The intents pass: the matrix-product nest is recognised (as a tensor contraction), guarded, and computes
what the loops do.  The general recogniser has its own tests: tests/test_contraction.py."""
from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.nodes import decode_module
from noodle.ir.walk import walk
from noodle.vm.machine import Machine
from helpers import HANG_S

NEST = ("fn mm(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {{\n"
        " for i in 0..{rows} {{\n  for j in 0..{cols} {{\n   var s = {init}\n"
        "   for k in 0..{inner} {{ s += {product} }}\n   c[i, j] = s\n  }}\n }}\n}}\n")
STANDARD = dict(rows="len(a)", cols="b.shape[1]", inner="len(b)", init="0.0", product="a[i, k] * b[k, j]")


def intents(source: str) -> list[str]:
    _, module = compile_source(source, "m.nd", "m")
    fns = decode_module(module.ir).functions
    return [n.intent for f in fns for s in f.body for n in walk(s) if isinstance(n, ir.If) and n.intent]


def run(source: str, backend: str = "vm") -> str:
    _, module = compile_source(source, "m.nd", "m")
    out = io.StringIO()
    m = Machine(backend=backend)
    with redirect_stdout(out):
        m.run_main(m.load(module))
    return out.getvalue()


def test_the_naive_nest_is_recognised() -> None:
    assert intents(NEST.format(**STANDARD)) == ["contraction"]
    # the product written the other way round is the same nest, and a transposed operand is one
    assert intents(NEST.format(**{**STANDARD, "product": "b[k, j] * a[i, k]"})) == ["contraction"]
    assert intents(NEST.format(**{**STANDARD, "product": "a[i, k] * b[j, k]"})) == ["contraction"]


def notes(source: str) -> list[str]:
    _, module = compile_source(source, "m.nd", "m")
    fns = decode_module(module.ir).functions
    return [n.note for f in fns for s in f.body for n in walk(s) if isinstance(n, ir.ForRange) and n.note
            and not n.intent]  # the reasons for leaving a loop alone, not the details of a recognised one


@pytest.mark.parametrize(("change", "why"), [
    ({"init": "1.0"}, "a term of the stored value has no array in it"),   # the sum starts at 1
    ({"product": "a[i, k] + b[k, j]"}, None),                         # no product: not the shape of one
    ({"inner": "j"}, "the loop over `k` does not run from 0 to a value the nest does not change"),  # a triangle
    ({"product": "a[i, k] * c[k, j]"}, "`c` is both read and written"),
])
def test_other_nests_are_left_alone_and_say_why(change: dict[str, str], why: str | None) -> None:
    source = NEST.format(**{**STANDARD, **change})
    assert intents(source) == []
    if why is None:
        assert notes(source) == []
    else:
        assert len(notes(source)) == 1 and "not a contraction: " in notes(source)[0] \
            and why in notes(source)[0], notes(source)


def test_no_optimize_keeps_the_loops() -> None:
    assert intents("@no_optimize\n" + NEST.format(**STANDARD)) == []


@pytest.mark.parametrize("backend", ["vm", "auto"])
def test_it_computes_the_product_and_falls_back_when_it_must(backend: str) -> None:
    main = ("fn main() {\n let a = arange(0.0, 12.0, 1.0).reshape(3, 4)\n let b = arange(1.0, 9.0, 1.0).reshape(4, 2)\n"
            " let c = zeros(3, 2)\n mm(a, b, c)\n print(c)\n"
            # bounds smaller than the shapes: only part of c is written, as the loops say
            " let d = zeros(3, 2)\n mm2(a, b, d)\n print(d)\n"
            # c is a: the loops read what they already wrote, so BLAS must not run
            " let sq = array([[1.0, 2.0], [3.0, 4.0]])\n mm(sq, sq, sq)\n print(sq)\n}\n")
    src = NEST.format(**STANDARD) + NEST.format(**{**STANDARD, "rows": "2"}).replace("fn mm(", "fn mm2(") + main
    lines = run(src, backend).splitlines()
    a = np.arange(0.0, 12.0).reshape(3, 4)
    b = np.arange(1.0, 9.0).reshape(4, 2)
    assert np.allclose(eval(lines[0].replace("array", "np.array")), a @ b)
    partial = a @ b
    partial[2] = 0.0
    assert np.allclose(eval(lines[1].replace("array", "np.array")), partial)
    sq = np.array([[1.0, 2.0], [3.0, 4.0]])
    for i in range(2):  # the loops as written, in place
        for j in range(2):
            sq[i, j] = sum(sq[i, k] * sq[k, j] for k in range(2))
    assert np.allclose(eval(lines[2].replace("array", "np.array")), sq)
    assert not np.allclose(sq, np.array([[1.0, 2.0], [3.0, 4.0]]) @ np.array([[1.0, 2.0], [3.0, 4.0]]))


def test_explain_says_what_was_recognised(tmp_path: Path) -> None:
    (tmp_path / "k.nd").write_text(NEST.format(**STANDARD) + "fn main() { mm(zeros(2, 2), zeros(2, 2), zeros(2, 2)) }\n")
    noodlec = Path(sys.executable).parent / "noodlec"
    out = subprocess.run([str(noodlec), "k.nd", "--explain"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=HANG_S).stdout
    assert "k.nd:2: loop nest in mm: linear algebra (tensor contraction or triangular solve) recognised — BLAS" in out
    assert "dgemm: c[i, j] = a[i, k] * b[k, j]" in out


ACCUMULATE = ("fn {name}(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {{\n"
              " for {x} in 0..{bx} {{\n  for {y} in 0..{by} {{\n   for {z} in 0..{bz} {{\n"
              "    c[i, j] += a[i, k] * b[k, j]\n   }}\n  }}\n }}\n}}\n")
BOUNDS = {"i": "len(a)", "j": "b.shape[1]", "k": "len(b)"}


def accumulate(name: str, order: str) -> str:
    x, y, z = order
    return ACCUMULATE.format(name=name, x=x, y=y, z=z, bx=BOUNDS[x], by=BOUNDS[y], bz=BOUNDS[z])


@pytest.mark.parametrize("order", ["ijk", "ikj", "jik", "jki", "kij", "kji"])
def test_the_accumulating_nest_is_recognised_in_any_loop_order(order: str) -> None:
    assert intents(accumulate("mm", order)) == ["contraction"]


def test_an_accumulation_into_another_cell_is_left_alone() -> None:
    assert intents(accumulate("mm", "ikj").replace("c[i, j] += a[i, k]", "c[i, k] += a[i, k]")) == []


def test_an_accumulation_into_an_input_is_left_alone_and_says_why(tmp_path: Path) -> None:
    source = accumulate("mm", "ikj").replace("c[i, j] += a[i, k]", "a[i, j] += a[i, k]")
    assert intents(source) == []
    (tmp_path / "k.nd").write_text(source)
    noodlec = Path(sys.executable).parent / "noodlec"
    out = subprocess.run([str(noodlec), "k.nd", "--explain"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=HANG_S).stdout
    assert "k.nd:2: for loop in mm: not a contraction: line 5: an element of the array written earlier in the " \
        "nest is read again (`a` is updated in place)" in out


# One module, loaded once per backend: the recognised nests, and the same loops kept as written.
PROGRAM = (NEST.format(**STANDARD) + accumulate("acc", "kji")
           + "@no_optimize\n" + NEST.format(**STANDARD).replace("fn mm(", "fn mm_loops(")
           + "@no_optimize\n" + accumulate("acc_loops", "kji"))


@pytest.fixture(scope="module", params=["vm", "auto"])
def kernels(request: pytest.FixtureRequest) -> dict:
    _, module = compile_source(PROGRAM, "k.nd", "k")
    m = Machine(backend=request.param)
    return m.load(module).functions


def _matrix(draw, rows: int, cols: int):  # type: ignore[no-untyped-def]
    """A float matrix of that shape: contiguous, a transposed view, or every other row of a bigger one."""
    values = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
    layout = draw(st.sampled_from(["plain", "transposed", "strided"]))
    if layout == "transposed":
        return np.array(draw(st.lists(values, min_size=rows * cols, max_size=rows * cols))).reshape(cols, rows).T
    if layout == "strided":
        return np.array(draw(st.lists(values, min_size=2 * rows * cols, max_size=2 * rows * cols))) \
            .reshape(2 * rows, cols)[::2]
    return np.array(draw(st.lists(values, min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)


@st.composite
def operands(draw):  # type: ignore[no-untyped-def]
    rows, inner, cols = (draw(st.sampled_from([0, 1, 2, 3, 5, 8])) for _ in range(3))
    return _matrix(draw, rows, inner), _matrix(draw, inner, cols), _matrix(draw, rows, cols)


@settings(max_examples=60, deadline=None)
@given(operands(), st.booleans())
def test_recognised_nests_agree_with_their_loops_and_numpy(kernels: dict, abc, alias: bool) -> None:  # type: ignore[no-untyped-def]
    a, b, c = abc
    if alias and a.shape == c.shape:
        c = a  # the result overwrites an input: only the loops as written give the right answer
    for fast, loops in (("mm", "mm_loops"), ("acc", "acc_loops")):
        got_c, want_c = c.copy(), c.copy()
        got_a = got_c if c is a else a.copy()
        want_a = want_c if c is a else a.copy()
        kernels[fast](got_a, b, got_c)
        kernels[loops](want_a, b, want_c)
        assert np.allclose(got_c, want_c, rtol=1e-9, atol=1e-6)
        if c is not a:
            expected = a @ b if fast == "mm" else c + a @ b
            assert np.allclose(got_c, expected, rtol=1e-9, atol=1e-6)


def test_emit_ir_shows_the_intent_layer(tmp_path: Path) -> None:
    (tmp_path / "k.nd").write_text(NEST.format(**STANDARD))
    noodlec = Path(sys.executable).parent / "noodlec"
    out = subprocess.run([str(noodlec), "k.nd", "--emit", "ir"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=HANG_S).stdout
    assert "if and(and(" in out and "native blas.fits(1, %2, %0, %1)" in out and "intent contraction" in out
    assert "native blas.gemm('NN', native array.len(%0), native array.shape(%1)[1], native array.len(%1), 1.0, " \
        "%0, %1, 0.0, %2)" in out


SUMS = PROGRAM + ("fn total(a: Array<float, 1>) -> float {\n var s = 0.0\n"
                  " for i in 0..len(a) { s += a[i] }\n return s\n}\n")


@pytest.fixture(scope="module", params=["vm", "auto"])
def safe_kernels(request: pytest.FixtureRequest) -> tuple[dict, dict]:
    _, module = compile_source(SUMS, "k.nd", "k")
    safe = Machine(backend=request.param, mode="safe").load(module).functions
    reference = Machine(backend="vm", mode="safe").load(module).functions
    return safe, reference


@settings(max_examples=40, deadline=None)
@given(operands(), st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=300))
def test_safe_mode_keeps_every_loops_own_order(safe_kernels, abc, values) -> None:  # type: ignore[no-untyped-def]
    """`--mode safe`: no BLAS, no reassociated sums — results equal the loops run in the VM, bit for bit."""
    safe, reference = safe_kernels
    a, b, c = abc
    for fast, loops in (("mm", "mm_loops"), ("acc", "acc_loops")):
        got, want = c.copy(), c.copy()
        safe[fast](a, b, got)
        reference[loops](a, b, want)
        assert np.array_equal(got, want)
    x = np.array(values, dtype=float)
    assert safe["total"](x) == reference["total"](x)


def test_noodle_run_mode_safe(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    noodle = Path(sys.executable).parent / "noodle"
    out = subprocess.run([str(noodle), "run", "--mode", "safe", "intents.nd"], cwd=examples, capture_output=True,
                         text=True, timeout=HANG_S)
    assert out.returncode == 0 and out.stdout == (examples / "intents.out").read_text()
