"""The nest analysis behind parallel splits and Jacobi sweeps (noodle.ir.nest), checked directly.

`analyse` must accept exactly the nests that cannot fail half-way and whose every index has a form
the guard can check, and `in_bounds_conditions` must ask, for each index `v + c`, that the loop's
range shifted by `c` lies inside the array.  Each case is a small function, read after the
`ranges` pass (which proves index arithmetic cannot overflow), with its inner loop marked as the
`intents` pass marks a recognised nest.
"""
from __future__ import annotations

import copy

import pytest

from noodle.build.driver import compile_source
from noodle.ir import nest
from noodle.ir import nodes as ir
from noodle.ir.printer import expr_text
from noodle.ir.types import BOOL

POS = {"line": 1, "col": 1}


def loop_of(source: str) -> tuple[ir.Function, ir.ForRange]:
    """`f` of `source` as the `ranges` pass leaves it, and its first loop (inner loop marked nested)."""
    after: dict[str, ir.Module] = {}

    def observe(name: str, module: ir.Module) -> None:
        if name == "ranges":
            after["module"] = copy.deepcopy(module)

    compile_source(source, "n.nd", "n", observe_passes=observe)
    f = next(f for f in after["module"].functions if f.name == "f")
    loop = next(s for s in f.body if isinstance(s, ir.ForRange))
    if len(loop.body) == 1 and isinstance(loop.body[0], ir.ForRange):
        loop.body[0].intent = "nested"
    return f, loop


ACCEPTED = [
    ('1d stencil', 'fn f(a: Array<float>, b: Array<float>) {\n for i in 1..len(a) - 1 { b[i] = a[i - 1] + a[i + 1] * 2.0 - a[0] }\n}\n',
     [('array.set', 'b', [('i', 0)]), ('array.get', 'a', [('i', -1)]), ('array.get', 'a', [('i', 1)]), ('array.get', 'a', [(None, 0)])],
     ['b'], ['a'],
     ['cmp.ge(1, 0)', 'cmp.le(int.sub!nocheck(native array.len(%0), 1), int.sub!nocheck(native array.len(%1), 0))', 'cmp.ge(1, 1)', 'cmp.le(int.sub!nocheck(native array.len(%0), 1), int.sub!nocheck(native array.len(%0), -1))', 'cmp.ge(1, -1)', 'cmp.le(int.sub!nocheck(native array.len(%0), 1), int.sub!nocheck(native array.len(%0), 1))', 'cmp.lt(0, native array.len(%0))']),
    ('2d', 'fn f(a: Array<float, 2>, b: Array<float, 2>) {\n for i in 1..len(a) - 1 {\n  for j in 1..a.shape[1] - 1 { b[i, j] = a[i - 1, j] + a[i, j + 1] }\n }\n}\n',
     [('array.set', 'b', [('i', 0), ('j', 0)]), ('array.get', 'a', [('i', -1), ('j', 0)]), ('array.get', 'a', [('i', 0), ('j', 1)])],
     ['b'], ['a'],
     ['cmp.ge(1, 0)', 'cmp.le(int.sub!nocheck(native array.len(%0), 1), int.sub!nocheck(native array.len(%1), 0))', 'cmp.ge(1, 0)', 'cmp.le(int.sub!nocheck(native array.shape(%0)[1], 1), int.sub!nocheck(native array.shape(%1)[1], 0))', 'cmp.ge(1, 1)', 'cmp.le(int.sub!nocheck(native array.len(%0), 1), int.sub!nocheck(native array.len(%0), -1))', 'cmp.ge(1, 0)', 'cmp.le(int.sub!nocheck(native array.shape(%0)[1], 1), int.sub!nocheck(native array.shape(%0)[1], 0))', 'cmp.ge(1, 0)', 'cmp.le(int.sub!nocheck(native array.len(%0), 1), int.sub!nocheck(native array.len(%0), 0))', 'cmp.ge(1, -1)', 'cmp.le(int.sub!nocheck(native array.shape(%0)[1], 1), int.sub!nocheck(native array.shape(%0)[1], 1))']),
    ('local', 'fn f(a: Array<float>) {\n for i in 0..len(a) {\n  let t = a[i] * 2.0\n  a[i] = t - 1.0\n }\n}\n',
     [('array.get', 'a', [('i', 0)]), ('array.set', 'a', [('i', 0)])],
     ['a'], ['a'],
     ['cmp.ge(0, 0)', 'cmp.le(native array.len(%0), int.sub!nocheck(native array.len(%0), 0))', 'cmp.ge(0, 0)', 'cmp.le(native array.len(%0), int.sub!nocheck(native array.len(%0), 0))']),
    ('neg', 'fn f(a: Array<float>) {\n for i in 0..len(a) { a[i] = -a[i] }\n}\n',
     [('array.set', 'a', [('i', 0)]), ('array.get', 'a', [('i', 0)])],
     ['a'], ['a'],
     ['cmp.ge(0, 0)', 'cmp.le(native array.len(%0), int.sub!nocheck(native array.len(%0), 0))', 'cmp.ge(0, 0)', 'cmp.le(native array.len(%0), int.sub!nocheck(native array.len(%0), 0))']),
    ('const index', 'fn f(a: Array<float>) {\n for i in 0..len(a) { a[i] = a[5] }\n}\n',
     [('array.set', 'a', [('i', 0)]), ('array.get', 'a', [(None, 5)])],
     ['a'], ['a'],
     ['cmp.ge(0, 0)', 'cmp.le(native array.len(%0), int.sub!nocheck(native array.len(%0), 0))', 'cmp.lt(5, native array.len(%0))']),
    ('offset below', 'fn f(a: Array<float>) {\n for i in 0..len(a) { a[i] = a[i + 1048575] }\n}\n',
     [('array.set', 'a', [('i', 0)]), ('array.get', 'a', [('i', 1048575)])],
     ['a'], ['a'],
     ['cmp.ge(0, 0)', 'cmp.le(native array.len(%0), int.sub!nocheck(native array.len(%0), 0))', 'cmp.ge(0, -1048575)', 'cmp.le(native array.len(%0), int.sub!nocheck(native array.len(%0), 1048575))']),
    ('checked add', 'fn f(a: Array<float>, n: int) {\n for i in 0..n { a[i] = a[i + 1] }\n}\n',
     [('array.set', 'a', [('i', 0)]), ('array.get', 'a', [('i', 1)])],
     ['a'], ['a'],
     ['cmp.ge(0, 0)', 'cmp.le(%1, int.sub!nocheck(native array.len(%0), 0))', 'cmp.ge(0, -1)', 'cmp.le(%1, int.sub!nocheck(native array.len(%0), 1))']),
    ('float mul', 'fn f(a: Array<float>, x: float) {\n for i in 0..len(a) { a[i] = a[i] * x + x - 1.0 }\n}\n',
     [('array.set', 'a', [('i', 0)]), ('array.get', 'a', [('i', 0)])],
     ['a'], ['a'],
     ['cmp.ge(0, 0)', 'cmp.le(native array.len(%0), int.sub!nocheck(native array.len(%0), 0))', 'cmp.ge(0, 0)', 'cmp.le(native array.len(%0), int.sub!nocheck(native array.len(%0), 0))']),
    # a constant index first: the conditions of the indices after it are still asked
    ('2d const row', 'fn f(a: Array<float, 2>, b: Array<float, 2>) {\n for i in 0..len(b) {\n  for j in 0..b.shape[1] - 1 { b[i, j] = a[0, j + 1] }\n }\n}\n',
     [('array.set', 'b', [('i', 0), ('j', 0)]), ('array.get', 'a', [(None, 0), ('j', 1)])],
     ['b'], ['a'],
     ['cmp.ge(0, 0)', 'cmp.le(native array.len(%1), int.sub!nocheck(native array.len(%1), 0))', 'cmp.ge(0, 0)', 'cmp.le(int.sub!nocheck(native array.shape(%1)[1], 1), int.sub!nocheck(native array.shape(%1)[1], 0))', 'cmp.lt(0, native array.len(%0))', 'cmp.ge(0, -1)', 'cmp.le(int.sub!nocheck(native array.shape(%1)[1], 1), int.sub!nocheck(native array.shape(%0)[1], 1))']),
]


@pytest.mark.parametrize("name, source, accesses, written, read, conditions", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_a_nest_that_cannot_fail_is_read_with_its_bounds_conditions(name: str, source: str, accesses: list,
                                                                      written: list, read: list,
                                                                      conditions: list) -> None:
    f, loop = loop_of(source)
    found = nest.analyse(f, loop)
    assert found is not None
    names = f.local_names
    assert [(a.name, names[a.args[0].slot], [(None if v is None else names[v], c) for v, c in ix])
            for a, ix in found.accesses] == accesses
    assert (sorted(names[s] for s in found.written), sorted(names[s] for s in found.read)) == (written, read)
    assert [expr_text(c) for c in nest.in_bounds_conditions(found, POS)] == conditions


REFUSED = [
    ('step 2', 'fn f(a: Array<float>) {\n for i in range(0, len(a), 2) { a[i] = 1.0 }\n}\n'),
    ('inner depends', 'fn f(a: Array<float, 2>) {\n for i in 0..len(a) {\n  for j in 0..i { a[i, j] = 1.0 }\n }\n}\n'),
    ('int array', 'fn f(a: Array<int>) {\n for i in 0..len(a) { a[i] = 1 }\n}\n'),
    ('times two', 'fn f(a: Array<float>) {\n for i in 0..len(a) // 2 { a[i * 2] = 1.0 }\n}\n'),
    ('divide', 'fn f(a: Array<float>) {\n for i in 0..len(a) { a[i] = a[i] / 2.0 }\n}\n'),
    ('divide later', 'fn f(a: Array<float>) {\n for i in 0..len(a) { a[i] = 1.0 + a[i] / 2.0 }\n}\n'),
    ('int local', 'fn f(a: Array<float>) {\n for i in 0..len(a) {\n  let t = i + 1\n  a[i] = 1.0\n }\n}\n'),
    ('only reads', 'fn f(a: Array<float>) {\n var s = 0.0\n for i in 0..len(a) { s = s + a[i] }\n}\n'),
    ('call', 'fn f(a: Array<float>) {\n for i in 0..len(a) { a[i] = sqrt(a[i]) }\n}\n'),
    ('big const', 'fn f(a: Array<float>) {\n for i in 0..len(a) { a[i] = a[1048576] }\n}\n'),
    ('big offset', 'fn f(a: Array<float>) {\n for i in 0..len(a) { a[i] = a[i + 1048576] }\n}\n'),
    ('var offset', 'fn f(a: Array<float>, k: int) {\n for i in 0..len(a) { a[i] = a[i + k] }\n}\n'),
    ('other var', 'fn f(a: Array<float>, k: int) {\n for i in 0..len(a) { a[i] = a[k] }\n}\n'),
    ('bound call', 'fn f(a: Array<float, 2>, xs: List<int>) {\n for i in 0..len(a) {\n  for j in 0..len(xs) { a[i, j] = 1.0 }\n }\n}\n'),
    ('bound div', 'fn f(a: Array<float, 2>, n: int) {\n for i in 0..len(a) {\n  for j in 0..n // 2 { a[i, j] = 1.0 }\n }\n}\n'),
    ('checked sub', 'fn f(a: Array<float>, m: int) {\n for i in m..len(a) { a[i] = a[i - 5] }\n}\n'),
    ('print', 'fn f(a: Array<float>) {\n for i in 0..len(a) { print(a[i])\n a[i] = 0.0 }\n}\n'),
    ('shape index', 'fn f(a: Array<float, 2>) {\n for i in 0..len(a) { a[i, 0] = a.shape[1] + 0.0 }\n}\n'),
]


@pytest.mark.parametrize("name, source", REFUSED, ids=[c[0] for c in REFUSED])
def test_a_nest_that_could_fail_or_escape_the_guard_is_refused(name: str, source: str) -> None:
    assert nest.analyse(*loop_of(source)) is None


def test_conditions_are_asked_once_and_joined_in_order() -> None:
    f, loop = loop_of(ACCEPTED[1][1])
    conditions = nest.in_bounds_conditions(nest.analyse(f, loop), POS)
    once = nest.unique(conditions)
    texts = [expr_text(c) for c in conditions]
    assert [expr_text(c) for c in once] == list(dict.fromkeys(texts)) and len(once) < len(conditions)
    a, b, c = (ir.LocalGet(slot=k, ty=BOOL, **POS) for k in range(3))
    assert expr_text(nest.all_of([a, b, c], POS)) == expr_text(
        ir.Logical(op="and", a=ir.Logical(op="and", a=a, b=b, ty=BOOL, **POS), b=c, ty=BOOL, **POS))
    assert nest.all_of([a], POS) is a


def test_the_disjointness_check_names_the_written_arrays_first() -> None:
    f, loop = loop_of(ACCEPTED[0][1])
    call = nest.disjoint(f, [1], [0], POS)
    assert call.name == "parallel.disjoint"
    assert [a.value if isinstance(a, ir.Const) else f.local_names[a.slot] for a in call.args] == [1, "b", "a"]
    assert [a.ty for a in call.args[1:]] == [f.local_types[1], f.local_types[0]]
    # the guard is placed where the nest is (its line is the one a run-time error would name)
    assert [(n.line, n.col) for n in [call, *call.args]] == [(1, 1)] * 4
