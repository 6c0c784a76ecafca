"""The intents pass: the matrix-product nest is recognised, guarded, and computes what the loops do."""
from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from noodle.compiler.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.nodes import decode_module
from noodle.ir.walk import walk
from noodle.vm.machine import Machine

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
    assert intents(NEST.format(**STANDARD)) == ["matmul"]
    # the product written the other way round is the same nest
    assert intents(NEST.format(**{**STANDARD, "product": "b[k, j] * a[i, k]"})) == ["matmul"]


@pytest.mark.parametrize("change", [
    {"init": "1.0"},                               # not a plain product any more
    {"product": "a[i, k] * b[j, k]"},              # a times b transposed
    {"product": "a[i, k] + b[k, j]"},
    {"inner": "len(b) - 1"},                       # a bound that is not a plain value
])
def test_other_nests_are_left_alone(change: dict[str, str]) -> None:
    assert intents(NEST.format(**{**STANDARD, **change})) == []


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
                         timeout=60).stdout
    assert "k.nd:2: loop nest in mm: matrix product recognised — BLAS" in out
