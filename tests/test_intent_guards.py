"""The guards of the loop intents, checked directly: which loops the dot product and the stencil
take, and how array positions are read (noodle.ir.intents: dot.py, stencil.py, access.py).

Each case is a small loop, read as the `intents` pass reads it (after `ranges`), with what must come
out: the intent and note `loops.recognise` records on the loop and, for a dot product, the guarded
dispatch that replaces it (its condition and its BLAS sum, printed).  A loop one rule away from a
dot product or a stencil must come out as what it is instead.  That the variants compute what their
loops do is test_loop_intents.py's business (native and VM, on random data); this file is fast, so
that mutation testing (`make mutate`) can run it for every mutant of the guards.
"""
from __future__ import annotations

import copy

import pytest

from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.intents import access, dot, loops
from noodle.ir.intents.loop_facts import read_loop
from noodle.ir.printer import expr_text
from noodle.ir.walk import walk

H = ("fn f(x: Array<float>, y: Array<float>, z: Array<f32>, k: Array<int>, m: Array<int>, a: Array<float, 2>,"
     " n: int) {\n")


def loop_of(source: str) -> tuple[ir.Function, ir.ForRange]:
    """`f` of `source` as the `ranges` pass leaves it (the `intents` pass runs next), and its first loop."""
    after: dict[str, ir.Module] = {}

    def observe(name: str, module: ir.Module) -> None:
        if name == "ranges":
            after["module"] = copy.deepcopy(module)

    compile_source(source, "n.nd", "n", observe_passes=observe)
    f = next(f for f in after["module"].functions if f.name == "f")
    return f, next(s for s in f.body if isinstance(s, ir.ForRange))


def recognised(body: str) -> tuple[str, str, tuple[str, str, list[str]] | None]:
    """(intent, note, dispatch) of the loop in `body`: the dispatch as (intent, condition, its branch)."""
    f, loop = loop_of(H + body + "\n}\n")
    found = loops.recognise(f, loop)
    if found is None:
        return loop.intent, loop.note, None
    assert isinstance(found, ir.If) and found.otherwise == [loop]
    then = [f"{f.local_names[s.slot]} = {expr_text(s.value)}" for s in found.then]  # type: ignore[attr-defined]
    return loop.intent, loop.note, (found.intent, expr_text(found.cond), then)


SUM = "sum into `s` (reassociated, vectorisable)"
DOTS = [
    ('dot', ' var s = 0.0\n for i in 0..len(x) { s = s + x[i] * y[i] }\n print(s)',
     ('dot', 'into `s`', ('dot', 'native array.dot_fits(%0, %1, native array.len(%0))',
                          ['s = float.add(%7, native array.dot(%0, %1))']))),
    ('dot left', ' var s = 0.0\n for i in 0..len(x) { s = x[i] * y[i] + s }\n print(s)',
     ('dot', 'into `s`', ('dot', 'native array.dot_fits(%0, %1, native array.len(%0))',
                          ['s = float.add(%7, native array.dot(%0, %1))']))),
    ('dot to n', ' var s = 0.0\n for i in 0..n { s = s + y[i] * x[i] }\n print(s)',
     ('dot', 'into `s`', ('dot', 'native array.dot_fits(%1, %0, %6)', ['s = float.add(%7, native array.dot(%1, %0))']))),
    # stops that can be evaluated twice: a list's length, an array's shape
    ('dot to a length', ' let l = [1, 2, 3]\n var s = 0.0\n for i in 0..len(l) { s = s + x[i] * y[i] }\n print(s)',
     ('dot', 'into `s`', ('dot', 'native array.dot_fits(%0, %1, native len(%7))',
                          ['s = float.add(%8, native array.dot(%0, %1))']))),
    ('dot to a shape', ' var s = 0.0\n for i in 0..a.shape[1] { s = s + x[i] * y[i] }\n print(s)',
     ('dot', 'into `s`', ('dot', 'native array.dot_fits(%0, %1, native array.shape(%5)[1])',
                          ['s = float.add(%7, native array.dot(%0, %1))']))),
    # a stop that is not pure (it would be evaluated twice): a dot product, run as its loop
    ('impure stop', ' var s = 0.0\n for i in 0..len(x) - 1 { s = s + x[i] * y[i] }\n print(s)',
     ('dot', 'into `s`', None)),
    ('from 1', ' var s = 0.0\n for i in 1..len(x) { s = s + x[i] * y[i] }\n print(s)', ('sum', SUM, None)),
    ('filtered', ' var s = 0.0\n for i in 0..len(x) { if x[i] > 0.0 { s = s + x[i] * y[i] } }\n print(s)',
     ('sum', 'sum into `s` under an if-filter', None)),
    ('shifted', ' var s = 0.0\n for i in 0..len(x) - 1 { s = s + x[i] * y[i + 1] }\n print(s)', ('sum', SUM, None)),
    ('fixed', ' var s = 0.0\n for i in 0..len(x) { s = s + x[0] * y[i] }\n print(s)', ('sum', SUM, None)),
    ('scaled', ' var s = 0.0\n for i in 0..len(x) { s = s + x[i] * 2.0 }\n print(s)', ('sum', SUM, None)),
    ('scaled left', ' var s = 0.0\n for i in 0..len(x) { s = s + 2.0 * y[i] }\n print(s)', ('sum', SUM, None)),
    ('sum of two', ' var s = 0.0\n for i in 0..len(x) { s = s + (x[i] - y[i]) }\n print(s)', ('sum', SUM, None)),
    ('product', ' var s = 1.0\n for i in 0..len(x) { s = s * (x[i] * y[i]) }\n print(s)',
     ('product', 'product into `s`', None)),
    ('ints', ' var s = 0\n for i in 0..len(k) { s = s + k[i] * m[i] }\n print(s)', ('sum', 'sum into `s`', None)),
    ('f32', ' var s: f32 = f32(0.0)\n for i in 0..len(z) { s = s + z[i] * z[i] }\n print(s)',
     ('sum', 'sum into `s`', None)),
    ('2-D operand', ' var s = 0.0\n for i in 0..len(x) { s = s + a[i, 0] * y[i] }\n print(s)', ('sum', SUM, None)),
    ('two sums', ' var s = 0.0\n var t = 0.0\n for i in 0..len(x) {\n  s = s + x[i] * y[i]\n  t = t + x[i]\n }\n'
     ' print(s, t)', ('sum', SUM + ', sum into `t` (reassociated, vectorisable)', None)),
    ('stores too', ' var s = 0.0\n for i in 0..len(x) {\n  s = s + x[i] * y[i]\n  y[i] = 1.0\n }\n print(s)',
     ('', '', None)),
    ('nest', ' var s = 0.0\n for i in 0..len(a) { for j in 0..len(x) { s = s + x[j] * y[j] } }\n print(s)',
     ('sum', SUM, None)),
]


@pytest.mark.parametrize("name, body, expected", DOTS, ids=[c[0] for c in DOTS])
def test_only_a_whole_unfiltered_sum_of_products_at_the_index_is_a_dot_product(name: str, body: str,
                                                                              expected: tuple) -> None:
    assert recognised(body) == expected


def test_the_dot_guard_reads_the_operands_of_the_sum_itself() -> None:
    f, loop = loop_of(H + ' var s = 0.0\n for i in 0..len(x) { s = s + x[i] * y[i] }\n print(s)\n}\n')
    facts = read_loop(f, loop)
    assert facts is not None
    acc = facts.accumulations[0].stmt
    x, y = dot.dot_operands(acc, [loop])  # type: ignore[misc]
    assert (f.local_names[x.slot], f.local_names[y.slot]) == ("x", "y")
    assert dot.dot_operands(acc, [loop, loop]) is None  # a nest is no dot product
    assert dot.recognise(facts) == ("dot", "into `s`")


STENCILS = [
    ('1-D', ' for i in 1..len(x) - 1 { y[i] = x[i - 1] + x[i + 1] }', ('stencil', '2-point 1-D neighbourhood, into `y`')),
    ('with centre', ' for i in 1..len(x) - 1 { y[i] = x[i - 1] + x[i] }', ('stencil', '2-point 1-D neighbourhood, into `y`')),
    ('same point twice', ' for i in 1..len(x) - 1 { y[i] = x[i + 1] * x[i + 1] + x[i] }',
     ('stencil', '2-point 1-D neighbourhood, into `y`')),
    ('two targets', ' for i in 1..len(x) - 1 {\n  y[i] = x[i - 1] + x[i + 1]\n  z[i] = f32(0.0)\n }',
     ('stencil', '2-point 1-D neighbourhood, into `y`, `z`')),
    # of two inputs, the one read at the most positions names the neighbourhood
    ('unshifted input', ' for i in 1..len(x) - 1 { y[i] = x[i - 1] + x[i + 1] + a[i, 0] + a[i, 1] + a[i, 2] }',
     ('stencil', '2-point 1-D neighbourhood, into `y`')),
    ('wider input', ' for i in 1..len(x) - 1 { y[i] = x[i - 1] + x[i + 1] + a[i + 1, 0] + a[i - 1, 0] + a[i, 0] }',
     ('stencil', '3-point 1-D neighbourhood, into `y`')),
    ('2-D', ' for i in 1..len(a) - 1 { for j in 1..a.shape[1] - 1 { a[i, j] = x[i - 1] + x[i + 1] + y[j - 1] } }',
     ('stencil', '2-point 1-D neighbourhood, into `a`')),
    # an input read first without offsets does not end the search; of two read at as many positions,
    # the first names the neighbourhood; positions are counted, not dimensions
    ('unshifted input first', ' for i in 1..len(x) - 1 { y[i] = a[i, 0] + a[i, 1] + a[i, 2] + x[i - 1] + x[i + 1] }',
     ('stencil', '2-point 1-D neighbourhood, into `y`')),
    ('tie', ' for i in 1..len(x) - 1 { y[i] = x[i - 1] + x[i + 1] + a[i - 1, 0] + a[i, 1] }',
     ('stencil', '2-point 1-D neighbourhood, into `y`')),
    ('fewer points, as many dimensions', ' for i in 1..len(x) - 1 { y[i] = x[i - 1] + x[i] + x[i + 1] + a[i - 1, 0] + a[i + 1, 0] }',
     ('stencil', '3-point 1-D neighbourhood, into `y`')),
    # indices the loop does not vary tell positions apart by their text
    ('fixed rows', ' for j in 1..a.shape[1] - 1 { y[j] = a[n - 1, j - 1] + a[n + 1, j - 1] + a[n - 1, j + 1] }',
     ('stencil', '3-point 2-D neighbourhood, into `y`')),
    ('into a row', ' for j in 1..a.shape[1] - 1 { a[n + 1, j] = x[j - 1] + x[j + 1] }',
     ('stencil', '2-point 1-D neighbourhood, into `a`')),
    ('map', ' for i in 0..len(x) { y[i] = x[i] + x[0] }', ('map', 'into `y`')),
    ('map by local', ' for i in 0..len(x) - 1 { y[i] = x[i] + x[n] }', ('map', 'into `y`')),
    ('gather', ' for i in 1..len(x) - 1 { y[i] = x[k[i]] + x[k[i] + 1] }', ('map', 'into `y`')),
    ('reads the target', ' for i in 1..len(x) - 1 { x[i] = x[i] * 2.0 + y[i] }', ('map', 'into `x`')),
    ('sum', ' var s = 0.0\n for i in 1..len(x) - 1 { s = s + x[i - 1] }\n print(s)', ('sum', SUM)),
    ('sum and stencil', ' var s = 0.0\n for i in 1..len(x) - 1 {\n  s = s + x[i]\n  y[i] = x[i - 1] + x[i + 1]\n }\n print(s)',
     ('', '')),
]


@pytest.mark.parametrize("name, body, expected", STENCILS, ids=[c[0] for c in STENCILS])
def test_a_map_reading_an_input_at_offsets_is_a_stencil_named_by_its_points(name: str, body: str,
                                                                            expected: tuple) -> None:
    intent, note, dispatch = recognised(body)
    assert ((intent, note), dispatch) == (expected, None)


def test_positions_are_read_as_loop_variable_and_offset_or_fixed_or_data() -> None:
    f, loop = loop_of(H + " var t = 0\n for i in 0..len(x) - 9 {\n  t = k[i]\n"
                      "  y[i] = x[i + 2] + x[i - 3] + x[n] + x[k[i]] + a[i, 4] + x[t] + x[n + 1] + x[i * 2] + x[5]\n"
                      " }\n}\n")
    slot = loop.slot
    assigned = {s.slot for s in loop.body if isinstance(s, ir.LocalSet)}
    reads = [n for n in walk(loop.body[1]) if isinstance(n, ir.CallBuiltin) and n.name == "array.get"
             and f.local_names[n.args[0].slot] in ("x", "a")]  # type: ignore[attr-defined]
    forms = [access.index_of(n, [slot], assigned) for n in reads]
    assert forms == [[(slot, 2)], [(slot, -3)], [None], ["data"], [(slot, 0), None], ["data"], [None], ["data"], [None]]
    # an index that reads an array depends on data even where the loop does not vary it; a length does not
    g, other = loop_of(H + " for i in 0..len(x) - 9 {\n  y[i] = x[k[n]] + x[len(k) - 1]\n }\n}\n")
    gets = [n for n in walk(other.body[0]) if isinstance(n, ir.CallBuiltin) and n.name == "array.get"
            and g.local_names[n.args[0].slot] == "x"]  # type: ignore[attr-defined]
    assert [access.index_of(n, [other.slot], set()) for n in gets] == [["data"], [None]]
    store = loop.body[1].expr  # type: ignore[attr-defined]
    assert access.index_of(store, [slot], assigned) == [(slot, 0)]  # the stored value is no index
    assert access.same_index(reads[0].args[1:], copy.deepcopy(reads[0].args[1:]))
    assert not access.same_index(reads[0].args[1:], reads[1].args[1:])
    assert not access.same_index(reads[4].args[1:], reads[4].args[1:2])  # a prefix is another index
    one = ir.Const(value=1, ty=reads[0].args[1].ty, line=1, col=1)
    assert access.is_const(one, 1) and not access.is_const(one, 2)
    assert not access.is_const(ir.Const(value=True, ty=one.ty, line=1, col=1), 1)  # True == 1 in Python
    assert not access.is_const(ir.LocalGet(slot=slot, ty=one.ty, line=1, col=1), 1)
