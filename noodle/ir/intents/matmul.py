"""The matrix product.  The naive nest, in the order people write it,

    for i in 0..len(a) {
        for j in 0..b.shape[1] {
            var s = 0.0
            for k in 0..len(b) { s += a[i, k] * b[k, j] }
            c[i, j] = s
        }
    }

and the accumulating form in any loop order (`c[i, j] += a[i, k] * b[k, j]` inside loops over
i, j and k nested however), become

    if array.matmul_fits(a, b, c, <the three bounds>) { array.matmul_into(a, b, c) }   // BLAS
    else { <the loop nest, unchanged> }

(`array.matmul_add_into`, `c += a @ b`, for the accumulating form).

The guard holds when the bounds are exactly the arrays' shapes, the arrays are float and `c`
shares no memory with `a` or `b` — then the nest computes `c = a @ b` (up to the reassociation a
recognised sum allows), which BLAS does; otherwise the loop runs as written.  The recognition is
recorded on the statement (`If.intent`) so `noodlec --explain` can say what was recognised; a
nest shaped like a product but left alone — the result is also an input, the product is not
`a[i, k] * b[k, j]`, a bound is computed — records why on its loop (`ForRange.note`).
"""
from __future__ import annotations

import copy
from typing import Union

from noodle.ir import nodes as ir
from noodle.ir.intents import counted as _counted, pure_bound
from noodle.ir.types import BOOL, FLOAT, NONE, ArrayT, prune


def recognise(f: ir.Function, loop: ir.ForRange) -> "ir.If | str | None":
    """The guarded statement replacing the nest at `loop`, why a nest shaped like a product was left
    alone, or None for a loop that is nothing like one."""
    found = [_matmul(f, loop), _matmul_accumulate(f, loop)]
    return next((x for x in found if isinstance(x, ir.If)), None) or next((x for x in found if isinstance(x, str)), None)


def _float_matrix(e: ir.Expr) -> bool:
    t = prune(e.ty)
    return isinstance(e, ir.LocalGet) and isinstance(t, ArrayT) and t.ndim == 2 and t.elem == FLOAT


def _is_get(e: ir.Expr, x: int, y: int) -> ir.Expr | None:
    """The array of `m[x, y]` (x, y local slots), else None."""
    if isinstance(e, ir.CallBuiltin) and e.name == "array.get" and len(e.args) == 3 and _float_matrix(e.args[0]) \
            and isinstance(e.args[1], ir.LocalGet) and e.args[1].slot == x \
            and isinstance(e.args[2], ir.LocalGet) and e.args[2].slot == y:
        return e.args[0]
    return None


#: what `_matmul` and `_matmul_accumulate` give: the guarded statement, why a nest shaped like a
#: product was left alone, or None for a loop that is nothing like one
Found = Union[ir.If, str, None]


def _matmul(f: ir.Function, outer: ir.ForRange) -> Found:
    if not (_counted(outer) and len(outer.body) == 1 and _counted(outer.body[0])):
        return None
    middle = outer.body[0]
    assert isinstance(middle, ir.ForRange)
    if len(middle.body) != 3:
        return None
    init, inner, store = middle.body
    if not (isinstance(init, ir.LocalSet) and isinstance(init.value, ir.Const) and init.value.value == 0.0
            and _counted(inner) and isinstance(inner, ir.ForRange) and len(inner.body) == 1
            and isinstance(store, ir.ExprStmt) and isinstance(store.expr, ir.CallBuiltin)
            and store.expr.name == "array.set" and len(store.expr.args) == 4 and _float_matrix(store.expr.args[0])):
        return None
    i, j, k, s = outer.slot, middle.slot, inner.slot, init.slot
    update = inner.body[0]
    if not (isinstance(update, ir.LocalSet) and update.slot == s and isinstance(update.value, ir.Binary)
            and update.value.op == "float.add"):
        return f"the inner loop (line {inner.line}) does not only add to `{f.local_names[s]}`"
    add = update.value
    product = add.b if isinstance(add.a, ir.LocalGet) and add.a.slot == s else \
        add.a if isinstance(add.b, ir.LocalGet) and add.b.slot == s else None
    if not (isinstance(product, ir.Binary) and product.op == "float.mul"):
        return f"what the inner loop adds (line {inner.line}) is not a product"
    a = _is_get(product.a, i, k) or _is_get(product.b, i, k)
    b = _is_get(product.b, k, j) or _is_get(product.a, k, j)
    c_args = store.expr.args
    c = c_args[0]
    if a is None or b is None:
        return _indexing(f, i, j, k, inner.line)
    if not (isinstance(c_args[1], ir.LocalGet) and c_args[1].slot == i
            and isinstance(c_args[2], ir.LocalGet) and c_args[2].slot == j
            and isinstance(c_args[3], ir.LocalGet) and c_args[3].slot == s):
        return f"line {store.line} does not store `{f.local_names[s]}` at [{f.local_names[i]}, {f.local_names[j]}]"
    if c.slot in (a.slot, b.slot):  # type: ignore[union-attr]
        return f"the result `{f.local_names[c.slot]}` is also an input: the loops read what they write"  # type: ignore[union-attr]
    return _guarded(outer, "array.matmul_into", a, b, c, outer.stop, middle.stop, inner.stop)


def _matmul_accumulate(f: ir.Function, outer: ir.ForRange) -> Found:
    """`c[i, j] += a[i, k] * b[k, j]` inside three counted loops over i, j and k in any order."""
    loops = [outer]
    while len(loops) < 3 and len(loops[-1].body) == 1 and _counted(loops[-1].body[0]):
        loops.append(loops[-1].body[0])  # type: ignore[arg-type]
    if len(loops) < 3 or not all(_counted(x) for x in loops) or len(loops[-1].body) != 1:
        return None
    store = loops[-1].body[0]
    if not (isinstance(store, ir.ExprStmt) and isinstance(store.expr, ir.CallBuiltin)
            and store.expr.name == "array.set" and len(store.expr.args) == 4):
        return None
    c, ci, cj, value = store.expr.args
    if not (_float_matrix(c) and isinstance(ci, ir.LocalGet) and isinstance(cj, ir.LocalGet)
            and isinstance(value, ir.Binary) and value.op == "float.add"):
        return None
    by_slot = {x.slot: x for x in loops}
    i, j = ci.slot, cj.slot
    rest = set(by_slot) - {i, j}
    if len(by_slot) != 3 or i == j or i not in by_slot or j not in by_slot or len(rest) != 1:
        return None
    k = rest.pop()
    old = value.a if _is_get(value.a, i, j) is not None else value.b if _is_get(value.b, i, j) is not None else None
    product = value.b if old is value.a else value.a
    if old is None or _is_get(old, i, j).slot != c.slot:  # type: ignore[union-attr]
        return f"line {store.line} does not add to the element it stores"
    if not (isinstance(product, ir.Binary) and product.op == "float.mul"):
        return f"what line {store.line} adds is not a product"
    a = _is_get(product.a, i, k) or _is_get(product.b, i, k)
    b = _is_get(product.b, k, j) or _is_get(product.a, k, j)
    if a is None or b is None:
        return _indexing(f, i, j, k, store.line)
    if c.slot in (a.slot, b.slot):  # type: ignore[union-attr]
        return f"the result `{f.local_names[c.slot]}` is also an input: the loops read what they write"  # type: ignore[union-attr]
    return _guarded(outer, "array.matmul_add_into", a, b, c, by_slot[i].stop, by_slot[j].stop, by_slot[k].stop)


def _indexing(f: ir.Function, i: int, j: int, k: int, line: int) -> str:
    names = [f.local_names[x] for x in (i, k, j)]
    return "line {}: the product is not `a[{}, {}] * b[{}, {}]` of two float matrices".format(
        line, names[0], names[1], names[1], names[2])


def _guarded(nest: ir.ForRange, variant: str, a: ir.Expr, b: ir.Expr, c: ir.Expr, rows: ir.Expr, cols: ir.Expr,
             inner: ir.Expr) -> Found:
    """`if array.matmul_fits(...) { variant(a, b, c) } else { nest }`, when the bounds can be read twice."""
    if not all(pure_bound(x) for x in (rows, cols, inner)):
        return "a loop bound is computed (a constant, a variable, len(x) or x.shape[k] can be checked)"
    pos = {"line": nest.line, "col": nest.col}
    a, b, c = (copy.deepcopy(x) for x in (a, b, c))  # the loop keeps its own nodes
    bounds = [copy.deepcopy(x) for x in (rows, cols, inner)]
    fits = ir.CallBuiltin(name="array.matmul_fits", args=[a, b, c] + bounds, ty=BOOL, **pos)
    fast = ir.ExprStmt(expr=ir.CallBuiltin(name=variant, args=[copy.deepcopy(x) for x in (a, b, c)],
                                           ty=NONE, **pos), **pos)
    return ir.If(cond=fits, then=[fast], otherwise=[nest], intent="matmul", **pos)
