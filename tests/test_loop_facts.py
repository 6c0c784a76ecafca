"""How a loop is read for the loop intents (noodle.ir.intents.loop_facts), rule by rule.

The recognisers trust these facts: a loop is read as accumulations and stores only when its
iterations are independent, and every reason they are not is named.  Each case is a small loop,
read as the `intents` pass reads it (after `ranges`), with what must come out: the facts
(accumulations: name, kind, filtered, position; stores: array, position, line; loop variables;
locals set; the scan), or the reason it is left alone, or nothing to read.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from noodle.build.driver import compile_source, interface_of
from noodle.ir import nodes as ir
from noodle.ir.intents import loop_facts as lf

H = "fn f(x: Array<float>, y: Array<float>, h: Array<int>, k: Array<int>, a: Array<float, 2>, n: int) {\n"


def loop_of(source: str, resolver: "Callable[..., Any] | None" = None) -> tuple[ir.Function, ir.ForRange]:
    after: dict[str, ir.Module] = {}

    def observe(name: str, module: ir.Module) -> None:
        if name == "ranges":
            after["module"] = copy.deepcopy(module)

    compile_source(source, "n.nd", "n", resolver=resolver, observe_passes=observe)
    f = next(f for f in after["module"].functions if f.name == "f")
    return f, next(s for s in f.body if isinstance(s, ir.ForRange))


READ = [
    ('sum', H + ' var s = 0.0\n for i in 0..len(x) { s = s + x[i] * y[i] }\n print(s)\n}\n',
     ([('s', 'sum', False, 0)], [], ['i'], ['s'], None, 1)),
    ('sum right', H + ' var s = 0.0\n for i in 0..len(x) { s = x[i] + s }\n print(s)\n}\n',
     ([('s', 'sum', False, 0)], [], ['i'], ['s'], None, 1)),
    ('product', H + ' var p = 1\n for i in 0..len(k) { p = p * k[i] }\n print(p)\n}\n',
     ([('p', 'product', False, 0)], [], ['i'], ['p'], None, 1)),
    ('min max', H + ' var lo = 0.0\n var hi = 0.0\n for i in 0..len(x) {\n  lo = min(lo, x[i])\n  hi = max(x[i], hi)\n }\n print(lo, hi)\n}\n',
     ([('lo', 'min', False, 0), ('hi', 'max', False, 1)], [], ['i'], ['hi', 'lo'], None, 1)),
    ('product right', H + ' var p = 1\n for i in 0..len(k) { p = k[i] * p }\n print(p)\n}\n',
     ([('p', 'product', False, 0)], [], ['i'], ['p'], None, 1)),
    ('filtered', H + ' var c = 0\n for i in 0..len(x) { if x[i] > 0.0 { c = c + 1 } }\n print(c)\n}\n',
     ([('c', 'sum', True, 0)], [], ['i'], ['c'], None, 1)),
    ('map', H + ' for i in 0..len(x) { y[i] = x[i] * 2.0 }\n}\n',
     ([], [('y', 0, 2)], ['i'], [], None, 1)),
    ('nest map', H + ' for i in 0..len(a) { for j in 0..a.shape[1] { a[i, j] = 0.0 } }\n}\n',
     ([], [('a', 0, 2)], ['i', 'j'], [], None, 2)),
    ('pure native', H + ' var s = 0.0\n for i in 0..len(x) { s = s + sqrt(x[i]) }\n print(s)\n}\n',
     ([('s', 'sum', False, 0)], [], ['i'], ['s'], None, 1)),
    ('temp ok', H + ' var s = 0.0\n for i in 0..len(x) {\n  let t = x[i] * 2.0\n  s = s + t\n }\n print(s)\n}\n',
     ([('s', 'sum', False, 1)], [], ['i'], ['s', 't'], None, 1)),
    ('scan', H + ' var s = 0.0\n for i in 0..len(x) {\n  s = s + x[i]\n  y[i] = s\n }\n}\n',
     ([('s', 'sum', False, 0)], [('y', 1, 5)], ['i'], ['s'], ('s', 'y'), 1)),
    ('histogram', H + ' for i in 0..len(k) { h[k[i]] = h[k[i]] + 1 }\n}\n',
     ([], [('h', 0, 2)], ['i'], [], None, 1)),
    ('read same pos', H + ' for i in 0..len(x) { x[i] = x[i] + 1.0 }\n}\n',
     ([], [('x', 0, 2)], ['i'], [], None, 1)),
    ('f32', 'fn f(x: Array<f32>) {\n var s: f32 = f32(0.0)\n for i in 0..len(x) { s = s + x[i] }\n print(s)\n}\n',
     ([('s', 'sum', False, 0)], [], ['i'], ['s'], None, 1)),
]


@pytest.mark.parametrize("name, source, expected", READ, ids=[c[0] for c in READ])
def test_an_independent_loop_is_read_as_accumulations_and_stores(name: str, source: str, expected: tuple) -> None:
    facts = lf.read_loop(*loop_of(source))
    assert facts is not None
    n = facts.names
    assert ([(n[a.stmt.slot], a.kind, a.filtered, a.position) for a in facts.accumulations],
            [(n[s.args[0].slot], pos, line) for s, pos, line in facts.stores],
            [n[v] for v in facts.loop_vars], sorted(n[s] for s in facts.assigned),
            None if facts.scan is None else (n[facts.scan[0]], n[facts.scan[1]]), len(facts.nest)) == expected


LEFT_ALONE = [
    ('break', H + ' var s = 0.0\n for i in 0..len(x) {\n  if x[i] < 0.0 { break }\n  s = s + x[i]\n }\n print(s)\n}\n',
     'line 4 leaves the iteration early (`break`)'),
    ('call', H + ' var s = 0.0\n for i in 0..len(x) { s = s + g(x[i]) }\n print(s)\n}\nfn g(v: float) -> float { return v }\n',
     'line 3 calls `g`, which may have side effects'),
    ('function value', H + ' var s = 0.0\n let g: fn(float) -> float = v => v * 2.0\n'
     ' for i in 0..len(x) { s = s + g(x[i]) }\n print(s)\n}\n',
     'line 4 calls `a function value`, which may have side effects'),
    ('print', H + ' var s = 0.0\n for i in 0..len(x) {\n  print(i)\n  s = s + x[i]\n }\n print(s)\n}\n',
     'line 4 calls `print`, which may have side effects'),
    ('twice', H + ' var s = 0.0\n for i in 0..len(x) {\n  s = s + x[i]\n  s = s + y[i]\n }\n print(s)\n}\n',
     'an accumulator is updated twice in one iteration'),
    ('temp carried', H + ' var s = 0.0\n var t = 0.0\n for i in 0..len(x) {\n  s = s + t\n  t = x[i]\n }\n print(s)\n}\n',
     'line 5 reads `t` before the iteration sets it: a loop-carried dependence'),
    ('temp under if', H + ' var t = 0.0\n for i in 0..len(x) {\n  if x[i] > 0.0 { t = x[i] }\n  y[i] = t\n }\n}\n',
     'line 5 reads `t` before the iteration sets it: a loop-carried dependence'),
    ('acc read', H + ' var s = 0.0\n for i in 0..len(x) {\n  s = s + x[i]\n  y[i] = s * 2.0\n }\n}\n',
     'line 5 reads `s`, which the loop accumulates: each iteration depends on the one before'),
    ('acc read twice', H + ' var s = 0.0\n for i in 0..len(x) { s = s + s * x[i] }\n print(s)\n}\n',
     'line 3 reads `s` twice in its own update'),
    ('scan before', H + ' var s = 0.0\n for i in 0..len(x) {\n  y[i] = s\n  s = s + x[i]\n }\n}\n',
     'line 4 reads `s`, which the loop accumulates: each iteration depends on the one before'),
    ('scan filtered', H + ' var s = 0.0\n for i in 0..len(x) {\n  if x[i] > 0.0 { s = s + x[i] }\n  y[i] = s\n }\n}\n',
     'line 5 reads `s`, which the loop accumulates: each iteration depends on the one before'),
    ('scan product', H + ' var s = 1.0\n for i in 0..len(x) {\n  s = s * x[i]\n  y[i] = s\n }\n}\n',
     'line 5 reads `s`, which the loop accumulates: each iteration depends on the one before'),
    ('two scans', H + ' var s = 0.0\n var t = 0.0\n for i in 0..len(x) {\n  s = s + x[i]\n  t = t + x[i]\n  y[i] = s\n }\n}\n',
     'line 7 reads `s`, which the loop accumulates: each iteration depends on the one before'),
    ('scan twice stored', H + ' var s = 0.0\n for i in 0..len(x) {\n  s = s + x[i]\n  y[i] = s\n  x[i] = s\n }\n}\n',
     'line 6 reads `s`, which the loop accumulates: each iteration depends on the one before'),
    # the accumulator read after its update inside the same filter, or copied into a temporary
    ('scan in filter', H + ' var s = 0.0\n for i in 0..len(x) {\n  if x[i] > 0.0 {\n   s = s + x[i]\n   y[i] = s\n  }\n }\n}\n',
     'line 6 reads `s`, which the loop accumulates: each iteration depends on the one before'),
    ('copied', H + ' var s = 0.0\n var t = 0.0\n for i in 0..len(x) {\n  s = s + x[i]\n  t = s\n }\n print(t)\n}\n',
     'line 6 reads `s`, which the loop accumulates: each iteration depends on the one before'),
    ('data index', H + ' for i in 0..len(k) { h[k[i]] = 1 }\n}\n',
     'line 2 writes `h` at a position computed from data'),
    ('offset write', H + ' for i in 0..len(x) - 1 { y[i + 1] = x[i] }\n}\n',
     'line 2 does not write a new element of `y` each iteration'),
    ('fixed write', H + ' for i in 0..len(x) { y[0] = x[i] }\n}\n',
     'line 2 does not write a new element of `y` each iteration'),
    ('nest partial write', H + ' for i in 0..len(a) { for j in 0..a.shape[1] { a[i, 0] = 1.0 } }\n}\n',
     'line 2 does not write a new element of `a` each iteration'),
    ('read other pos', H + ' for i in 1..len(x) { x[i] = x[i - 1] + 1.0 }\n}\n',
     'line 2 reads `x` at another position than line 2 writes it: a loop-carried dependence'),
    ('transposed', H + ' for i in 0..len(a) { for j in 0..len(a) { a[i, j] = a[j, i] } }\n}\n',
     'line 2 reads `a` at another position than line 2 writes it: a loop-carried dependence'),
    # read as the same form (a fixed row, the loop's column), but another row: told apart by the text
    ('other row', H + ' for j in 0..a.shape[1] { a[n, j] = a[0, j] + 1.0 }\n}\n',
     'line 2 reads `a` at another position than line 2 writes it: a loop-carried dependence'),
    ('global', 'var g = 0.0\nfn f(x: Array<float>) {\n var s = 0.0\n for i in 0..len(x) {\n  g = x[i]\n  s = s + x[i]\n }\n print(s)\n}\n',
     "line 5 changes state outside the loop's arrays and variables"),
    ('return', 'fn f(x: Array<float>) -> float {\n var s = 0.0\n for i in 0..len(x) {\n  if x[i] < 0.0 { return s }\n  s = s + x[i]\n }\n return s\n}\n',
     'line 4 leaves the iteration early (`return`)'),
    ('continue', H + ' var s = 0.0\n for i in 0..len(x) {\n  if x[i] < 0.0 { continue }\n  s = s + x[i]\n }\n print(s)\n}\n',
     'line 4 leaves the iteration early (`continue`)'),
]


@pytest.mark.parametrize("name, source, reason", LEFT_ALONE, ids=[c[0] for c in LEFT_ALONE])
def test_a_loop_whose_iterations_depend_on_each_other_is_left_alone_with_the_reason(name: str, source: str,
                                                                                   reason: str) -> None:
    with pytest.raises(lf.LeftAlone) as e:
        lf.read_loop(*loop_of(source))
    assert str(e.value) == reason


def test_a_call_into_another_module_is_named_by_its_function() -> None:
    _, lib = compile_source("fn g(v: float) -> float { return v }\n", "lib.nd", "lib")
    source = "import lib\n" + H + " var s = 0.0\n for i in 0..len(x) { s = s + lib.g(x[i]) }\n print(s)\n}\n"
    with pytest.raises(lf.LeftAlone) as e:
        lf.read_loop(*loop_of(source, resolver=lambda path, span: interface_of(lib)))
    assert str(e.value) == "line 4 calls `g`, which may have side effects"


NOTHING = [
    ('sub right', H + ' var s = 0.0\n for i in 0..len(x) { s = x[i] - s }\n print(s)\n}\n'),
    ('sub left', H + ' var s = 0.0\n for i in 0..len(x) { s = s - x[i] }\n print(s)\n}\n'),
    ('min of others', H + ' var lo = 0.0\n for i in 0..len(x) { lo = min(x[i], y[i]) }\n print(lo)\n}\n'),
    ('deeper', H + ' for i in 0..len(a) { for j in 0..2 { for q in 0..2 { a[i, j] = 0.0 } } }\n}\n'),
    ('step', H + ' for i in range(0, len(x), 2) { y[i] = 1.0 }\n}\n'),
    ('nothing', H + ' for i in 0..len(x) { print(i) }\n}\n'),
    ('try', H + ' var s = 0.0\n for i in 0..len(x) {\n  try { s = s + x[i] } catch e { print(e) }\n }\n print(s)\n}\n'),
]


@pytest.mark.parametrize("name, source", NOTHING, ids=[c[0] for c in NOTHING])
def test_a_loop_with_nothing_to_read_gives_no_facts(name: str, source: str) -> None:
    assert lf.read_loop(*loop_of(source)) is None
