"""Loop interchange (noodle.ir.intents.interchange): column walks distributed and exchanged to run
along rows, in any names and loop shapes, exact against the loops as written (the VM without
optimisation) in the VM and in native code; nests whose dependences forbid it, or whose pieces
may fail, keep their loops."""
from __future__ import annotations

import random

import numpy as np
import pytest

from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.nodes import decode_module
from noodle.ir.walk import walk
from noodle.vm.machine import Machine

NAMES = ["a", "b", "out", "acc", "mean", "w", "src", "data"]
VARS = ["i", "j", "k", "r", "c"]


def _kernel(rng: random.Random, name: str) -> tuple[str, str, str]:
    """A column reduction PolyBench-style (fill, add down the column, finish), and the array names
    (data, out)."""
    d, o = rng.sample(NAMES, 2)
    col, row = rng.sample(VARS, 2)
    term = rng.choice([f"{d}[{row}, {col}]", f"{d}[{row}, {col}] * {d}[{row}, {col}]",
                       f"s * {d}[{row}, {col}] - 1.5", f"({d}[{row}, {col}] - {o}[{col}]) * 2.0"])
    fill = rng.choice(["0.0", "s", "-s"])
    finish = rng.choice([f"{o}[{col}] /= s", f"{o}[{col}] = {o}[{col}] * 0.5 + s", f"{o}[{col}] /= s * s", ""])
    body = (f"    for {col} in 0..m {{\n        {o}[{col}] = {fill}\n"
            f"        for {row} in 0..n {{ {o}[{col}] += {term} }}\n"
            + (f"        {finish}\n" if finish else "") + "    }\n")
    params = f"m: int, n: int, s: float, {d}: Array<float, 2>, {o}: Array<float, 1>"
    return f"fn {name}({params}) {{\n{body}}}\n", d, o


def _found(module_ir: ir.Module, name: str) -> tuple[bool, list[str]]:
    f = next(x for x in decode_module(module_ir).functions if x.name == name)
    nodes = [n for s in f.body for n in walk(s)]
    return (any(isinstance(n, ir.If) and n.intent == "interchange" for n in nodes),
            [n.note for n in nodes if isinstance(n, ir.ForRange) and n.note])


def _run(fn, args: list) -> str:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - the Noodle error's kind, compared between the runs
        return getattr(e, "f_kind", type(e).__name__)
    return ""


@pytest.mark.parametrize("seed", range(6))
def test_column_walks_are_interchanged_and_exact(seed: int) -> None:
    rng = random.Random(seed)
    kernels = [_kernel(rng, f"k{n}") for n in range(4)]
    source = "".join(k[0] + "@no_optimize\n" + k[0].replace(f"fn k{n}(", f"fn k{n}_ref(", 1)
                     for n, k in enumerate(kernels))
    _, module = compile_source(source, "x.nd", "x")
    for n in range(len(kernels)):
        found, notes = _found(module.ir, f"k{n}")
        assert found, (kernels[n][0], notes)
    for backend in ("vm", "auto"):
        fns = Machine(backend=backend).load(module).functions
        for n in range(len(kernels)):
            for attempt in range(3):
                m, rows = rng.choice([0, 1, 3, 8]), rng.choice([0, 1, 4, 9])
                s = rng.choice([2.0, 0.0, -1.25])  # 0.0: a division by it fails, at the same element
                data = np.array([rng.uniform(-1, 1) for _ in range(rows * m)]).reshape(rows, m)
                if attempt == 2 and rows:
                    data = data[:, : max(m - 1, 0)]  # too narrow: the guard leaves it to the loops
                out = np.zeros(m) + 7.0
                got, want = [m, rows, s, data.copy(), out.copy()], [m, rows, s, data.copy(), out.copy()]
                assert _run(fns[f"k{n}"], got) == _run(fns[f"k{n}_ref"], want), (backend, kernels[n][0])
                assert np.array_equal(got[4], want[4], equal_nan=True), (backend, kernels[n][0])


LEFT_ALONE = {
    "a dependence": ("""
fn f(m: int, a: Array<float, 2>, b: Array<float, 2>, t: Array<float, 1>) {
    for j in 0..m {
        t[j] = 0.0
        for i in 0..m { a[i, j] = a[j, i] + b[i, j] }
    }
}""", "not interchanged"),
    "a piece that may fail": ("""
import math
fn f(m: int, n: int, a: Array<float, 2>, t: Array<float, 1>) {
    for j in 0..m {
        t[j] = 0.0
        for i in 0..n { t[j] += a[i, j] }
        t[j] = math.sqrt(t[j])
    }
}""", ""),
    "unit stride already": ("""
fn f(m: int, n: int, a: Array<float, 2>, t: Array<float, 1>) {
    for i in 0..n {
        t[i] = 0.0
        for j in 0..m { t[i] += a[i, j] }
    }
}""", ""),
}


@pytest.mark.parametrize("case", sorted(LEFT_ALONE))
def test_nests_that_must_keep_their_loops(case: str) -> None:
    source, why = LEFT_ALONE[case]
    _, module = compile_source(source, "x.nd", "x")
    found, notes = _found(module.ir, "f")
    assert not found, notes
    if why:
        assert any(why in n for n in notes), notes
