"""The affine dependence analysis (noodle.ir.affine): direction vectors, the integer test behind
them, loop distribution and interchange legality, and the reasons a nest is refused."""
from __future__ import annotations

import io
import itertools
from contextlib import redirect_stdout

import pytest

from noodle.build.driver import compile_source
from noodle.ir import affine
from noodle.ir import nodes as ir
from noodle.ir.nodes import decode_module
from noodle.vm.machine import Machine


def nest(body: str, params: str = "a: Array<float, 2>, b: Array<float, 2>, n: int") -> tuple[ir.Function, ir.ForRange]:
    """The first loop nest of a function with that body (kept as written: @no_optimize)."""
    _, module = compile_source(f"@no_optimize\nfn f({params}) {{\n{body}\n}}\n", "t.nd", "t")
    f = next(x for x in decode_module(module.ir).functions if x.name == "f")
    return f, next(s for s in f.body if isinstance(s, ir.ForRange))


def vectors(body: str, **kw: str) -> set[tuple[str, str, tuple[str, ...]]]:
    f, root = nest(body, **kw)
    return {(d.kind, f.local_names[d.source_access.target[1]], d.directions)
            for d in affine.dependences(affine.model(f, root))}


def test_a_stencil_sweep_has_its_textbook_direction_vectors() -> None:
    deps = vectors("for i in 1..n { for j in 1..n - 1 { a[i, j] = a[i - 1, j] + a[i, j - 1] + a[i, j + 1] } }")
    assert deps == {("flow", "a", ("<", "=")), ("flow", "a", ("=", "<")), ("anti", "a", ("=", "<"))}


def test_triangular_bounds_prove_two_halves_independent() -> None:
    # the upper triangle is written, the lower one read: never the same element
    assert vectors("for i in 0..n { for j in i + 1..n { a[i, j] = a[j, i] } }") == set()
    # with the diagonal in both halves, the one element they share is read before it is written
    assert vectors("for i in 0..n { for j in i..n { a[i, j] = a[j, i] } }") == {("anti", "a", ("=", "="))}


def test_the_gcd_test_separates_even_and_odd_elements() -> None:
    assert vectors("for i in 0..n { b[0, 2 * i] = b[0, 2 * i + 1] }") == set()
    assert vectors("for i in 0..n { b[0, 2 * i] = b[0, i] }") != set()


def test_distinct_arrays_and_scalars() -> None:
    assert vectors("for i in 0..n { for j in 0..n { a[i, j] = b[j, i] } }") == set()
    # a scalar assigned in the nest is one cell every iteration touches
    deps = vectors("var s = 0.0\n for i in 0..n { s = s + a[i, 0] }")
    assert ("flow", "s", ("<",)) in deps and ("anti", "s", ("<",)) in deps


def test_the_integer_test() -> None:
    x, y = ("v", 1, 1), ("v", 1, 2)
    assert affine.feasible([({x: 1, y: -1}, 0)], [({x: 1}, 0), ({x: -1}, 5)])
    assert not affine.feasible([({x: 2}, -1)], [])  # 2x = 1 has no integer solution
    assert not affine.feasible([], [({x: 2}, -1), ({x: -2}, 1)])  # 1/2 <= x <= 1/2: tightened to nothing
    assert not affine.feasible([], [({x: 1, y: -1}, -1), ({y: 1, x: -1}, -1)])  # x > y and y > x


def pieces(body: str, **kw: str) -> list[list[int]]:
    """Each nest the distribution makes, as the lines of its statements."""
    f, root = nest(body, **kw)
    from noodle.ir.walk import walk
    return [[s.line for s in walk(p) if isinstance(s, (ir.ExprStmt, ir.LocalSet))]
            for p in affine.distribute(f, root)]


GEMM = """    for i in 0..n {
        for j in 0..n { c[i, j] *= 2.0 }
        for k in 0..n {
            for j in 0..n { c[i, j] += a[i, k] * b[k, j] }
        }
    }"""


def test_polybench_gemm_is_a_scale_and_a_product() -> None:
    assert pieces(GEMM, params="a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>, n: int") == [[4], [6]]


def test_a_recurrence_between_two_statements_is_not_split() -> None:
    body = "for i in 1..n {\n a[0, i] = b[0, i - 1]\n b[0, i] = a[0, i] * 2.0\n}"
    assert pieces(body) == [[4, 5]]
    # without the carried dependence back, the two statements are two loops
    body = "for i in 1..n {\n a[0, i] = b[0, i]\n b[1, i] = a[0, i] * 2.0\n}"
    assert pieces(body) == [[4], [5]]


def test_distribution_puts_a_later_statement_first_when_the_dependences_say_so() -> None:
    # line 5 reads what line 4 wrote one iteration before: line 4's loop must run first... and line 4
    # reads b[1, i + 1], which line 5 writes later: an anti dependence from 4 to 5, the same order
    body = "for i in 0..n {\n a[0, i + 1] = b[1, i + 1]\n b[1, i] = a[0, i]\n}"
    assert pieces(body) == [[4], [5]]
    # the other way round: 5 writes what 4 reads in a later iteration, so 5 goes first
    body = "for i in 1..n {\n a[0, i] = b[1, i - 1]\n b[1, i] = 3.0\n}"
    assert pieces(body) == [[5], [4]]


def test_interchange_legality() -> None:
    f, root = nest("for i in 1..n { for j in 0..n - 1 { a[i, j] = a[i - 1, j + 1] } }")
    m = affine.model(f, root)
    i, j = root.slot, root.body[0].slot  # type: ignore[attr-defined]
    assert affine.interchange_refusal(m, [i, j]) is None
    why = affine.interchange_refusal(m, [j, i], dict(enumerate(f.local_names)))
    assert why is not None and "flow dependence on `a`" in why and "(directions <>)" in why
    f, root = nest(GEMM.replace("for j in 0..n { c[i, j] *= 2.0 }", ""),
                   params="a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>, n: int")
    loops = affine.perfect_loops(root)
    m = affine.model(f, root)
    assert affine.interchange_refusal(m, [x.slot for x in reversed(loops)]) is None  # a sum: any order
    # a triangular bound keeps its loop inside the one it depends on
    f, root = nest("for i in 0..n { for j in 0..i { a[i, j] = 1.0 } }")
    m = affine.model(f, root)
    assert "would move inside it" in affine.interchange_refusal(m, [root.body[0].slot, root.slot])  # type: ignore


@pytest.mark.parametrize(("body", "why"), [
    ("for i in 0..n {\n var t = i\n while t < n { t += 1 }\n}", "a `while` loop in the nest"),
    ("for i in 0..n { for j in 0..n { if i > j { a[i, j] = 0.0 } } }", "an `if` in the nest"),
    ("for i in 0..n { for j in 0..i * i { a[i, j] = 0.0 } }", "the upper bound is not affine"),
    ("for i in range(0, n, 2) { a[i, 0] = 0.0 }", "does not count by one"),
    ("for i in 0..n { a[i, 0] = g(a, i) }", "a call or a non-local value"),
])
def test_what_the_analysis_does_not_model_says_why(body: str, why: str) -> None:
    _, module = compile_source("fn g(a: Array<float, 2>, i: int) -> float { return 0.0 }\n@no_optimize\n"
                               f"fn f(a: Array<float, 2>, n: int) {{\n{body}\n}}\n", "t.nd", "t")
    f = next(x for x in decode_module(module.ir).functions if x.name == "f")
    root = next(s for s in f.body if isinstance(s, ir.ForRange))
    with pytest.raises(affine.Refused) as e:
        affine.model(f, root)
    assert why in str(e.value) and str(e.value).startswith("line ")


def test_a_nest_of_more_statements_than_the_analysis_takes_is_refused_and_still_runs() -> None:
    """Nested constant loops unrolled by `small_loops` gave nests of 64 statements whose dependence
    tests took seconds of compile time each (8 nested 2-trip loops: 10 s): a nest past
    MAX_STATEMENTS is refused by the model, and the program runs as written, natively and in the VM."""
    stores = "\n".join(f"    a[i, {k % 4}] = a[i, {(k + 1) % 4}] + {k}.0" for k in range(affine.MAX_STATEMENTS + 1))
    f, root = nest(f"for i in 0..n {{\n{stores}\n}}")
    with pytest.raises(affine.Refused) as e:
        affine.model(f, root)
    assert f"{affine.MAX_STATEMENTS + 1} statements in the nest" in str(e.value)
    f, root = nest("for i in 0..n {\n" + "\n".join(stores.split("\n")[:affine.MAX_STATEMENTS]) + "\n}")
    assert len(affine.model(f, root).statements) == affine.MAX_STATEMENTS

    depth = 8
    loops = "".join(f"for i{k} in 0..2 {{ " for k in range(depth))
    index = " + ".join(f"i{k}" for k in range(depth))
    source = (f"fn f(a: Array<float>) -> float {{\n var s = 0.0\n {loops}s += a[{index}] * float(i0 + 1)"
              f"{' }' * depth}\n return s\n}}\nfn main() {{ print(f(arange(0.0, {2 * depth}.0))) }}\n")
    a = [float(x) for x in range(2 * depth)]
    expected = sum(a[sum(bits)] * float(bits[0] + 1) for bits in itertools.product(range(2), repeat=depth))
    for backend in ("auto", "vm"):
        machine = Machine(backend=backend)
        lm = machine.load(compile_source(source, "d.nd", "d")[1])
        out = io.StringIO()
        with redirect_stdout(out):
            machine.run_main(lm)
        assert out.getvalue() == f"{expected}\n", backend
