"""The guard of the double-buffered Jacobi sweeps (noodle.ir.intents.sweeps), checked directly.

`_match` must take exactly a loop whose body is a stencil nest and the nest copying its result back
over the same region, and `recognise` must guard the sweeps with every condition they rest on.
Each case is a small function read as the `intents` pass reads it: its two inner nests recognised
first (as the pass does), then the sweeps.  That the double-buffered sweeps leave the arrays as the
loops do is test_sweeps.py's business (native and VM, on random grids: minutes); this file is fast,
so that mutation testing (`make mutate`) can run it for every mutant of the guard.
"""
from __future__ import annotations

import copy

import pytest

from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.intents import loops, sweeps
from noodle.ir.printer import expr_text

HEAD = "fn f(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>, n: int) {\n for t in 0..n {\n"
STENCIL = "  for i in 1..len(a) - 1 {\n   for j in 1..a.shape[1] - 1 { b[i, j] = a[i - 1, j] + a[i, j + 1] * c[i, j] }\n  }\n"
COPY = "  for i in 1..len(a) - 1 {\n   for j in 1..a.shape[1] - 1 { a[i, j] = b[i, j] }\n  }\n"
TAIL = " }\n}\n"


def outer_loop(source: str) -> tuple[ir.Function, ir.ForRange]:
    """`f` as the `ranges` pass leaves it, with the nests inside its first loop recognised."""
    after: dict[str, ir.Module] = {}

    def observe(name: str, module: ir.Module) -> None:
        if name == "ranges":
            after["module"] = copy.deepcopy(module)

    compile_source(source, "n.nd", "n", observe_passes=observe)
    f = next(f for f in after["module"].functions if f.name == "f")
    loop = next(s for s in f.body if isinstance(s, ir.ForRange))
    for s in loop.body:
        if isinstance(s, ir.ForRange):
            assert loops.recognise(f, s) is None
    return f, loop


def matched(source: str) -> tuple[str, str, list[tuple[int, ...]], int] | None:
    """(a, b, the offsets of the stencil's reads of a, how many loops deep) of the sweeps, or None."""
    f, loop = outer_loop(source)
    sw = sweeps._match(f, loop)
    if sw is None:
        return None
    names = f.local_names
    return names[sw.a], names[sw.b], [off for _, off in sw.reads], len(sw.stencil.loops)


def test_a_stencil_copied_back_is_read_as_sweeps() -> None:
    assert matched(HEAD + STENCIL + COPY + TAIL) == ("a", "b", [(-1, 0), (0, 1)], 2)
    one = ("fn f(a: Array<float>, b: Array<float>, n: int) {\n for t in 0..n {\n"
           "  for i in 2..len(a) { b[i] = a[i - 2] + a[i] }\n  for i in 2..len(a) { a[i] = b[i] }\n }\n}\n")
    assert matched(one) == ("a", "b", [(-2,), (0,)], 1)


def replace(old: str, new: str) -> str:
    source = HEAD + STENCIL + COPY + TAIL
    assert old in source
    return source.replace(old, new, 1)


REFUSED = [
    ('sweeps of 2', replace("for t in 0..n", "for t in range(0, n, 2)")),
    ('a third statement', replace(TAIL, "  print(t)\n" + TAIL)),
    ('copy first', HEAD + COPY + STENCIL + TAIL),
    ('no stencil', replace("a[i - 1, j] + a[i, j + 1] * c[i, j]", "a[i, j] * c[i, j]")),
    ('copy scaled', replace("a[i, j] = b[i, j]", "a[i, j] = 2.0 * b[i, j]")),
    ('sweep number', replace("* c[i, j]", "* float(t)")),
    ('stencil can fail', replace("* c[i, j]", "/ c[i, j]")),
    ('copy of one column', replace(COPY, "  for i in 1..len(a) - 1 { a[i, 0] = b[i, 0] }\n")),
    ('region moves', replace("for i in 1..len(a) - 1 {\n   for j in 1..a.shape[1] - 1 { b",
                             "for i in 1..len(a) - 1 {\n   for j in t..a.shape[1] - 1 { b")),
    ('region divided', (HEAD + STENCIL + COPY + TAIL).replace("len(a) - 1", "len(a) // 2")),
    ('copy of less', replace("for i in 1..len(a) - 1 {\n   for j in 1..a.shape[1] - 1 { a",
                             "for i in 1..len(a) - 2 {\n   for j in 1..a.shape[1] - 1 { a")),
    ('copy of other columns', replace("for j in 1..a.shape[1] - 1 { a", "for j in 2..a.shape[1] - 1 { a")),
    ('two stores', replace("b[i, j] = a[i - 1, j] + a[i, j + 1] * c[i, j]",
                           "b[i, j] = a[i - 1, j] + a[i, j + 1]\n    c[i, j] = 0.0")),
    ('transposed store', (HEAD + STENCIL + COPY + TAIL).replace("b[i, j] = a", "b[j, i] = a").replace(
        "len(a) - 1", "len(a) - 2").replace("a.shape[1] - 1", "len(a) - 2")),
    ('copy of another', replace("a[i, j] = b[i, j]", "a[i, j] = c[i, j]")),
    ('copy shifted', replace("a[i, j] = b[i, j]", "a[i, j] = b[i - 1, j]")),
    ('reads b', replace("* c[i, j]", "* b[i - 1, j]")),
    ('copies into what it does not read', replace("* c[i, j]", "").replace("a[i, j] = b[i, j]", "c[i, j] = b[i, j]")),
    ('copies b into b', replace("a[i, j] = b[i, j]", "b[i, j] = b[i, j]")),
    ('a at a fixed row', replace("a[i - 1, j]", "a[0, j]")),
]


@pytest.mark.parametrize("name, source", REFUSED, ids=[c[0] for c in REFUSED])
def test_loops_one_rule_away_from_sweeps_are_not_read_as_sweeps(name: str, source: str) -> None:
    f, loop = outer_loop(source)
    assert sweeps._match(f, loop) is None and sweeps.recognise(f, loop) is None


def test_the_sweeps_are_guarded_by_bounds_a_region_and_disjoint_arrays() -> None:
    f, loop = outer_loop(HEAD + STENCIL + COPY + TAIL)
    dispatch = sweeps.recognise(f, loop)
    assert dispatch is not None and dispatch.intent == "jacobi" and dispatch.otherwise == [loop]
    assert (loop.intent, loop.note) == ("", "the sweeps as written")
    conditions = []
    cond: ir.Expr = dispatch.cond
    while isinstance(cond, ir.Logical):
        conditions.append(expr_text(cond.b))
        cond = cond.a
    conditions.append(expr_text(cond))
    rows, cols, sub = "native array.len(%{})", "native array.shape(%{})[1]", "int.sub!nocheck({}, {})"
    assert conditions[::-1] == [
        # b[i, j], a[i - 1, j], a[i, j + 1], c[i, j] in bounds (the copy back asks nothing new)
        # (each condition once: `cmp.ge(1, 0)` is asked by every index at offset 0)
        'cmp.ge(1, 0)', f'cmp.le({sub.format(rows.format(0), 1)}, {sub.format(rows.format(1), 0)})',
        f'cmp.le({sub.format(cols.format(0), 1)}, {sub.format(cols.format(1), 0)})',
        'cmp.ge(1, 1)', f'cmp.le({sub.format(rows.format(0), 1)}, {sub.format(rows.format(0), -1)})',
        f'cmp.le({sub.format(cols.format(0), 1)}, {sub.format(cols.format(0), 0)})',
        f'cmp.le({sub.format(rows.format(0), 1)}, {sub.format(rows.format(0), 0)})',
        'cmp.ge(1, -1)', f'cmp.le({sub.format(cols.format(0), 1)}, {sub.format(cols.format(0), 1)})',
        f'cmp.le({sub.format(rows.format(0), 1)}, {sub.format(rows.format(2), 0)})',
        f'cmp.le({sub.format(cols.format(0), 1)}, {sub.format(cols.format(2), 0)})',
        # the region is not empty
        f'cmp.lt(1, {sub.format(rows.format(0), 1)})', f'cmp.lt(1, {sub.format(cols.format(0), 1)})',
        # a and b share no memory with each other or with c
        'native parallel.disjoint(2, %0, %1, %2)']
