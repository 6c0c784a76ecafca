"""Iterated stencils copied back (Jacobi sweeps) run double-buffered in native code: both arrays end
exactly as the loops leave them, on any region, shape, view, number of sweeps and overlap; an
index out of bounds fails as the loops fail; loops that only look like sweeps are left alone."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.nodes import decode_module
from noodle.ir.walk import walk
from noodle.runtime.errors import NoodleRuntimeError
from noodle.vm.machine import Machine

from helpers import noodle, noodlec
from test_parallel import grid

KERNELS = """
fn jacobi(a: Array<float, 2>, b: Array<float, 2>, sweeps: int) {
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
fn nine(a: Array<float, 2>, b: Array<float, 2>, sweeps: int, w: float) {
    for t in 0..sweeps {
        for i in 1..len(a) - 1 {
            for j in 1..a.shape[1] - 1 {
                let edges = a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1]
                let corners = a[i - 1, j - 1] + a[i - 1, j + 1] + a[i + 1, j - 1] + a[i + 1, j + 1]
                b[i, j] = w * a[i, j] + (1.0 - w) * (0.2 * edges + 0.05 * corners)
            }
        }
        for i in 1..len(a) - 1 {
            for j in 1..a.shape[1] - 1 { a[i, j] = b[i, j] }
        }
    }
}
fn lopsided(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>, sweeps: int) {
    for t in 0..sweeps {
        for i in 2..len(a) - 1 {
            for j in 2..a.shape[1] - 1 {
                b[i, j] = a[i - 2, j] + 0.5 * a[i + 1, j - 2] - a[i, j + 1] * c[i, j]
            }
        }
        for i in 2..len(a) - 1 {
            for j in 2..a.shape[1] - 1 { a[i, j] = b[i, j] }
        }
    }
}
fn heat(a: Array<float>, b: Array<float>, sweeps: int, r: float) {
    for t in 0..sweeps {
        for i in 1..len(a) - 1 { b[i] = a[i] + r * (a[i - 1] - 2.0 * a[i] + a[i + 1]) }
        for i in 1..len(a) - 1 { a[i] = b[i] }
    }
}
fn drift(a: Array<float>, b: Array<float>, sweeps: int) {
    for t in 0..sweeps {
        for i in 2..len(b) - 1 { b[i] = 0.5 * a[i - 2] + a[i + 1] }
        for i in 2..len(b) - 1 { a[i] = b[i] }
    }
}
"""

ALL = {"jacobi", "nine", "lopsided", "heat", "drift"}


@pytest.fixture(scope="module")
def kernels() -> tuple[dict, dict]:
    """name -> callable, natively and in the VM; through `Machine.call`, as a host calls them
    (an error inside is a NoodleRuntimeError)."""
    _, module = compile_source(KERNELS, "s.nd", "s")
    out = []
    for backend in ("auto", "vm"):
        machine = Machine(backend=backend)
        lm = machine.load(module)
        out.append({name: (lambda *args, _f=fn, _m=machine, _lm=lm: _m.call(_lm, _f, *args))
                    for name, fn in lm.functions.items()})
    return out[0], out[1]


def _dispatches(source: str) -> set[str]:
    _, module = compile_source(source, "s.nd", "s")
    return {f.name for f in decode_module(module.ir).functions for s in f.body for n in walk(s)
            if isinstance(n, ir.If) and n.intent == "jacobi"}


def test_each_kernel_is_recognised_and_runs_natively() -> None:
    assert _dispatches(KERNELS) == ALL
    _, module = compile_source(KERNELS, "s.nd", "s")
    functions = Machine(backend="auto").load(module).functions
    assert all(getattr(functions[n], "__noodle_native__", False) for n in ALL)


SHAPES = [0, 1, 2, 3, 4, 5, 8, 13]
SWEEPS = [-1, 0, 1, 2, 3, 4, 7]


def _both(kernels, name: str, arrays: list[np.ndarray], *scalars: object) -> None:  # type: ignore[no-untyped-def]
    """Run `name` natively and in the VM on copies of the same arrays; they must end equal, or
    fail with the same message leaving them equal."""
    native, vm = kernels
    mine, theirs = [x.copy(order="K") for x in arrays], [x.copy(order="K") for x in arrays]
    outcomes = []
    for fns, xs in ((native, mine), (vm, theirs)):
        try:
            fns[name](*xs, *scalars)
            outcomes.append(None)
        except NoodleRuntimeError as e:
            outcomes.append(str(e).splitlines()[0])
    assert outcomes[0] == outcomes[1]
    for x, y in zip(mine, theirs):
        assert np.array_equal(x, y)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_jacobi_sweeps_end_as_the_loops_leave_them(kernels, data) -> None:  # type: ignore[no-untyped-def]
    rows, cols = data.draw(st.sampled_from(SHAPES)), data.draw(st.sampled_from(SHAPES))
    a = grid(data.draw, rows, cols)
    # `b` mostly of `a`'s shape; smaller, the loops fail on its last row or column, and so must the sweeps
    b = grid(data.draw, max(0, rows - data.draw(st.sampled_from([0, 0, 0, 1, 2]))),
             max(0, cols - data.draw(st.sampled_from([0, 0, 0, 1, 2]))))
    _both(kernels, "jacobi", [a, b], data.draw(st.sampled_from(SWEEPS)))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_wider_stencils_with_temporaries_and_other_inputs(kernels, data) -> None:  # type: ignore[no-untyped-def]
    rows, cols = data.draw(st.sampled_from(SHAPES)), data.draw(st.sampled_from(SHAPES))
    a, b, c = (grid(data.draw, rows, cols) for _ in range(3))
    sweeps = data.draw(st.sampled_from(SWEEPS))
    _both(kernels, "nine", [a, b], sweeps, data.draw(st.floats(-2, 2)))
    _both(kernels, "lopsided", [a, b, c], sweeps)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_one_dimensional_sweeps(kernels, data) -> None:  # type: ignore[no-untyped-def]
    from test_parallel import values

    n = data.draw(st.sampled_from([0, 1, 2, 3, 4, 5, 9, 33]))
    a = values(data.draw, 2 * n)[::2] if data.draw(st.booleans()) else values(data.draw, n)
    sweeps = data.draw(st.sampled_from(SWEEPS))
    _both(kernels, "heat", [a, values(data.draw, n)], sweeps, data.draw(st.floats(0, 0.5)))
    # `b` one longer than `a`: the last element of the region reads past `a`, and both fail there
    _both(kernels, "drift", [a, values(data.draw, n + data.draw(st.sampled_from([0, 1])))], sweeps)


@pytest.mark.parametrize("overlap", ["same", "shifted", "reads-the-output"])
def test_arrays_sharing_memory_run_the_loops_as_written(kernels, overlap: str) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    m = rng.uniform(-1, 1, (12, 9))
    if overlap == "same":
        native, vm = kernels
        x, y = m.copy(), m.copy()
        native["jacobi"](x, x, 3)
        vm["jacobi"](y, y, 3)
        assert np.array_equal(x, y)
    elif overlap == "shifted":
        native, vm = kernels
        x, y = m.copy(), m.copy()
        native["jacobi"](x[:10], x[1:11], 4)
        vm["jacobi"](y[:10], y[1:11], 4)
        assert np.array_equal(x, y)
    else:
        native, vm = kernels
        x, y = m.copy(), m.copy()
        native["lopsided"](x[:6], x[6:], x[3:9], 3)  # c overlaps both
        vm["lopsided"](y[:6], y[6:], y[3:9], 3)
        assert np.array_equal(x, y)


@pytest.mark.parametrize("body, why", [
    ("b[i, j] = a[i - 1, j] + float(t)", "uses the sweep number"),
    ("b[i, j] = a[i - 1, j] + a[0, j]", "reads `a` at a fixed row"),
    ("b[i, j] = a[i - 1, j] + b[i, j - 1]", "reads what it writes"),
])
def test_loops_that_only_look_like_sweeps_are_left_alone(body: str, why: str) -> None:
    source = f"""
fn f(a: Array<float, 2>, b: Array<float, 2>, sweeps: int) {{
    for t in 0..sweeps {{
        for i in 1..len(a) - 1 {{
            for j in 1..a.shape[1] - 1 {{ {body} }}
        }}
        for i in 1..len(a) - 1 {{
            for j in 1..a.shape[1] - 1 {{ a[i, j] = b[i, j] }}
        }}
    }}
}}
"""
    assert _dispatches(source) == set(), why


@pytest.mark.parametrize("start", ["1 + t", "t + 1"])
def test_a_region_that_moves_with_the_sweep_number_is_left_alone(start: str) -> None:
    # the nests are a stencil and its exact copy back, so only the sweep-number check refuses them
    source = f"""
fn f(a: Array<float, 2>, b: Array<float, 2>, sweeps: int) {{
    for t in 0..sweeps {{
        for i in {start}..len(a) - 1 {{
            for j in 1..a.shape[1] - 1 {{ b[i, j] = 0.5 * (a[i - 1, j] + a[i + 1, j]) }}
        }}
        for i in {start}..len(a) - 1 {{
            for j in 1..a.shape[1] - 1 {{ a[i, j] = b[i, j] }}
        }}
    }}
}}
"""
    assert _dispatches(source) == set()
    assert _dispatches(source.replace(start, "1")) == {"f"}  # the same loops over a fixed region: sweeps


@pytest.mark.parametrize("copy_back", [
    "for i in 1..len(a) - 1 { for j in 1..a.shape[1] - 1 { a[i, j] = 2.0 * b[i, j] } }",
    "for i in 1..len(a) - 2 { for j in 1..a.shape[1] - 1 { a[i, j] = b[i, j] } }",
    "for i in 1..len(a) - 1 { for j in 1..a.shape[1] - 1 { a[i, j] = b[i - 1, j] } }",
])
def test_a_copy_back_that_is_not_exactly_the_region_is_left_alone(copy_back: str) -> None:
    source = f"""
fn f(a: Array<float, 2>, b: Array<float, 2>, sweeps: int) {{
    for t in 0..sweeps {{
        for i in 1..len(a) - 1 {{
            for j in 1..a.shape[1] - 1 {{ b[i, j] = 0.5 * (a[i - 1, j] + a[i + 1, j]) }}
        }}
        {copy_back}
    }}
}}
"""
    assert _dispatches(source) == set()


def test_explain_names_the_double_buffered_variant(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "s.nd"
    src.write_text(KERNELS)
    out = noodlec(["--explain", "s.nd"], tmp_path)
    assert out.returncode == 0, out.context()
    lines = [x for x in out.stdout.splitlines() if "iterated stencil" in x]
    assert len(lines) == len(ALL) and all("alternating between the two arrays" in x for x in lines)


def test_the_benchmarks_stencil_is_recognised() -> None:
    """bench/native.py's stencil is the textbook loop: its speed rests on this recognition."""
    import sys
    from pathlib import Path

    bench = str(Path(__file__).resolve().parent.parent / "bench")
    sys.path.insert(0, bench)
    try:
        import native
    finally:
        sys.path.remove(bench)
    assert _dispatches(native.NOODLE) == {"stencil"}


def test_sweeps_written_in_main_move_out_whole_and_agree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In a function that stays in the VM (it prints), the dispatch moves out with its guard, so
    native code answers it; both backends print the same."""
    source = """
fn main() {
    let a = zeros(7, 6)
    let b = zeros(7, 6)
    for j in 0..6 { a[0, j] = 64.0 }
    for t in 0..5 {
        for i in 1..len(a) - 1 {
            for j in 1..a.shape[1] - 1 {
                let s = a[i - 1, j] + a[i + 1, j]
                b[i, j] = 0.25 * (s + a[i, j - 1] + a[i, j + 1])
            }
        }
        for i in 1..len(a) - 1 {
            for j in 1..a.shape[1] - 1 { a[i, j] = b[i, j] }
        }
    }
    print(a)
    print(b)
}
"""
    _, module = compile_source(source, "m.nd", "m")
    holders = {f.name for f in decode_module(module.ir).functions for s in f.body for n in walk(s)
               if isinstance(n, ir.If) and n.intent == "jacobi"}
    assert len(holders) == 1 and next(iter(holders)).startswith("__loop_")
    (tmp_path / "m.nd").write_text(source)
    outs = [noodle(["run", "--backend", backend, "m.nd"], tmp_path) for backend in ("auto", "vm")]
    assert outs[0].returncode == 0, outs[0].context()
    assert outs[0].stdout == outs[1].stdout and "25.6875" in outs[0].stdout


# each example compiles a module: no shrinking (minutes), the failing example is reported as drawn
@settings(max_examples=30, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(st.data())
def test_generated_stencils_and_regions(data) -> None:  # type: ignore[no-untyped-def]
    """Any neighbourhood (offsets up to 2 either way), any margins: the sweeps end as the loops do."""
    offsets = data.draw(st.lists(st.tuples(st.integers(-2, 2), st.integers(-2, 2)), min_size=1, max_size=6,
                                 unique=True).filter(lambda o: any(dr or dc for dr, dc in o)))
    weights = [data.draw(st.sampled_from(["0.5", "0.25", "-1.0", "2.0", "0.1"])) for _ in offsets]
    # margins that keep every read inside the arrays, give or take one (short of it, both fail)
    slack = [data.draw(st.sampled_from([0, 0, 0, 1, -1])) for _ in range(4)]
    top = max(0, max(-dr for dr, _ in offsets) + slack[0])
    bottom = max(0, max(dr for dr, _ in offsets) + slack[1])
    left = max(0, max(-dc for _, dc in offsets) + slack[2])
    right = max(0, max(dc for _, dc in offsets) + slack[3])

    def at(d: int, var: str) -> str:
        return var if d == 0 else f"{var} + {d}" if d > 0 else f"{var} - {-d}"
    terms = " + ".join(f"{w} * a[{at(dr, 'i')}, {at(dc, 'j')}]" for (dr, dc), w in zip(offsets, weights))
    rows, cols = f"{top}..len(a) - {bottom}", f"{left}..a.shape[1] - {right}"
    source = f"""
fn f(a: Array<float, 2>, b: Array<float, 2>, sweeps: int) {{
    for t in 0..sweeps {{
        for i in {rows} {{
            for j in {cols} {{ b[i, j] = {terms} }}
        }}
        for i in {rows} {{
            for j in {cols} {{ a[i, j] = b[i, j] }}
        }}
    }}
}}
"""
    _, module = compile_source(source, "g.nd", "g")
    fns = []
    for backend in ("auto", "vm"):
        machine = Machine(backend=backend)
        lm = machine.load(module)
        fns.append({"f": (lambda *args, _f=lm.functions["f"], _m=machine, _lm=lm: _m.call(_lm, _f, *args))})
    # (hypothesis tries the first choices most: the ones that exercise odd sweeps and edges come first)
    shape = (data.draw(st.sampled_from([12, 7, 4, 1, 3, 0])), data.draw(st.sampled_from([9, 5, 2, 3, 1, 0])))
    a, b = grid(data.draw, *shape), grid(data.draw, *shape)
    _both((fns[0], fns[1]), "f", [a, b], data.draw(st.sampled_from([3, 6, 2, 1, 0])))


@functools.cache
def _int_kernels(source: str) -> tuple[dict, dict]:
    assert _dispatches(source) == set()
    _, module = compile_source(source, "i.nd", "i")
    fns = []
    for backend in ("auto", "vm"):
        machine = Machine(backend=backend)
        lm = machine.load(module)
        assert getattr(lm.functions["isweep"], "__noodle_native__", False) == (backend == "auto")
        fns.append({"isweep": (lambda *args, _f=lm.functions["isweep"], _m=machine, _lm=lm: _m.call(_lm, _f, *args))})
    return fns[0], fns[1]


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_int_stencils_stay_loops_and_agree_exactly(data) -> None:  # type: ignore[no-untyped-def]
    """Sweeps over ints are not double-buffered (only float ones are recognised): native code runs
    the loops as written and ends with exactly the VM's ints, overflow included."""
    source = """
fn isweep(a: Array<int, 2>, b: Array<int, 2>, sweeps: int) {
    for t in 0..sweeps {
        for i in 1..len(a) - 1 {
            for j in 1..a.shape[1] - 1 { b[i, j] = (a[i - 1, j] + a[i + 1, j]) * 3 - a[i, j - 1] // 2 + a[i, j + 1] }
        }
        for i in 1..len(a) - 1 {
            for j in 1..a.shape[1] - 1 { a[i, j] = b[i, j] }
        }
    }
}
"""
    fns = _int_kernels(source)
    rows, cols = data.draw(st.sampled_from([0, 1, 2, 3, 5, 8])), data.draw(st.sampled_from([0, 1, 2, 3, 5, 8]))
    big = data.draw(st.sampled_from([10, 1 << 40, (1 << 62)]))  # the last overflows: both fail alike
    a = np.array(data.draw(st.lists(st.integers(-big, big), min_size=rows * cols, max_size=rows * cols)),
                 dtype=np.int64).reshape(rows, cols)
    _both(fns, "isweep", [a, np.zeros_like(a)], data.draw(st.sampled_from([0, 1, 2, 5])))
