"""Array expressions recognised by what they compute.

A chain of elementwise maps, `let c = a * b + 2.0 * a`, is one map: NumPy would take one pass and
make one temporary array per operation.  When every array in it has one shape, it becomes one
loop writing a fresh array,

    if array.fuse_fits(a, b) {                       // same shape, big enough, native code on
        let $fused = array.empty_as(a, "float64")
        for i in 0..len($fused) { $fused[i] = a[i] * b[i] + 2.0 * a[i] }
        c = $fused
    } else { c = a * b + 2.0 * a }                    // broadcasting, small arrays: NumPy

which `outline` sends to native code.  Only `+`, `-`, `*` and negation over float arrays and
float scalars (or all int), whose leaves are variables and constants: each element is then
computed by the same IEEE operations (or checked int operations, raising the same
`OverflowError`) as NumPy's passes, so the result is the same bit for bit, and nothing is
evaluated twice or in another order that could be seen.

`sum(x * y)` over float arrays is a dot product: NumPy would make the product a temporary array
and sum it in a second pass; `array.sum_of_products(x, y)` does one pass with no temporary (BLAS
when both have one shape, else the two steps as written, so broadcasting and errors are
unchanged).  Its order of additions differs from NumPy's pairwise sum (within the reassociation
a recognised reduction allows), so `--mode safe` binds the two-step version instead
(noodle.ir.variants).

Operands are evaluated once each, in the order the expression names them, as before.
"""
from __future__ import annotations

import copy

from noodle.ir import nodes as ir
from noodle.ir.types import BOOL, FLOAT, INT, STR, ArrayT, ListT, prune
from noodle.ir.walk import rewrite_body

#: the elementwise natives of Array arithmetic (noodle.stdlib.arrays)
ELEMENTWISE = frozenset({"array.add", "array.sub", "array.mul", "array.div", "array.floordiv", "array.mod",
                         "array.pow", "array.neg", "array.sqrt", "array.exp", "array.log"})


def fuse(f: ir.Function) -> int:
    """Rewrite the recognised array expressions of `f`; returns how many."""
    count = [0]

    def visit(e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.CallBuiltin) and e.name == "array.sum.float" and len(e.args) == 1:
            product = e.args[0]
            if isinstance(product, ir.CallBuiltin) and product.name == "array.mul" \
                    and all(_float_array(x) for x in product.args):
                count[0] += 1
                return ir.CallBuiltin(name="array.sum_of_products", args=product.args, ty=FLOAT, line=e.line,
                                      col=e.col)
        return e

    f.body = rewrite_body(f.body, visit)
    return count[0]


def _float_array(e: ir.Expr) -> bool:
    t = prune(e.ty)
    return isinstance(t, ArrayT) and t.elem == FLOAT


#: array natives a fused loop computes per element, and the scalar operation for each element type
_FUSABLE = {"array.add": "add", "array.sub": "sub", "array.mul": "mul", "array.neg": "neg"}


def fuse_maps(f: ir.Function) -> int:
    """Turn chains of elementwise maps assigned to a variable into one loop each; returns how many."""
    count = [0]
    f.body = _fuse_body(f, f.body, count)
    return count[0]


def _fuse_body(f: ir.Function, body: list[ir.Stmt], count: list[int]) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    for s in body:
        for field in ("then", "otherwise", "body", "handler"):
            if isinstance(getattr(s, field, None), list):
                setattr(s, field, _fuse_body(f, getattr(s, field), count))
        fused = _fused(f, s) if isinstance(s, ir.LocalSet) else None
        if fused is not None:
            count[0] += 1
        out.append(fused or s)
    return out


def _chain(e: ir.Expr, elem: object) -> tuple[list[ir.LocalGet], int] | None:
    """The array leaves and the number of operations of an elementwise chain, or None."""
    if isinstance(e, ir.CallBuiltin) and e.name in _FUSABLE:
        leaves: list[ir.LocalGet] = []
        ops = 1
        for x in e.args:
            sub = _chain(x, elem)
            if sub is None:
                return None
            leaves += sub[0]
            ops += sub[1]
        return leaves, ops
    t = prune(e.ty)
    if isinstance(e, ir.LocalGet) and isinstance(t, ArrayT) and t.elem == elem and t.ndim in (1, 2):
        return [e], 0
    if isinstance(e, (ir.LocalGet, ir.Const)) and t == elem:
        return [], 0
    return None


def _fused(f: ir.Function, s: ir.LocalSet) -> ir.Stmt | None:
    t = prune(s.value.ty)
    if not (isinstance(t, ArrayT) and t.elem in (FLOAT, INT)):
        return None
    chain = _chain(s.value, t.elem)
    if chain is None or chain[1] < 2 or not chain[0] or any(prune(x.ty) != t for x in chain[0]):
        return None  # one operation is one NumPy pass already
    leaves = chain[0]
    pos = {"line": s.line, "col": s.col}
    tmp = _new_local(f, "$fused", t)
    loop_vars = [_new_local(f, f"$i{d}", INT) for d in range(t.ndim)]
    index = [ir.LocalGet(slot=v, ty=INT, **pos) for v in loop_vars]
    out = ir.LocalGet(slot=tmp, ty=t, **pos)
    element = _element(s.value, index, t.elem)
    store: ir.Stmt = ir.ExprStmt(expr=ir.CallBuiltin(name="array.set", args=[out, *copy.deepcopy(index), element],
                                                     ty=t.elem,
                                                     **pos), **pos)
    for d in reversed(range(t.ndim)):
        if d == 0:
            stop: ir.Expr = ir.CallBuiltin(name="array.len", args=[copy.deepcopy(out)], ty=INT, **pos)
        else:
            stop = ir.Index(obj=ir.CallBuiltin(name="array.shape", args=[copy.deepcopy(out)], ty=ListT(INT), **pos),
                            index=ir.Const(value=d, ty=INT, **pos), ty=INT, **pos)
        store = ir.ForRange(slot=loop_vars[d], start=ir.Const(value=0, ty=INT, **pos), stop=stop,
                            step=ir.Const(value=1, ty=INT, **pos), body=[store], intent="nested" if d else "map",
                            note=f"{chain[1]} chained elementwise operations fused into one loop", **pos)
    dtype = "float64" if t.elem == FLOAT else "int64"
    # every node appears once in the tree (passes rewrite nodes in place): copies where one is reused
    fits = ir.CallBuiltin(name="array.fuse_fits", args=[copy.deepcopy(x) for x in leaves], ty=BOOL, **pos)
    fresh = ir.CallBuiltin(name="array.empty_as", args=[copy.deepcopy(leaves[0]), ir.Const(value=dtype, ty=STR, **pos)],
                           ty=t, **pos)
    then = [ir.LocalSet(slot=tmp, value=fresh, **pos), store,
            ir.LocalSet(slot=s.slot, value=ir.LocalGet(slot=tmp, ty=t, **pos), **pos)]
    return ir.If(cond=fits, then=then, otherwise=[s], **pos)


def _element(e: ir.Expr, index: list[ir.Expr], elem: object) -> ir.Expr:
    """The chain's value at one position: leaves read there, array operations become scalar ones."""
    pos = {"line": e.line, "col": e.col}
    kind = "float" if elem == FLOAT else "int"
    if isinstance(e, ir.CallBuiltin) and e.name in _FUSABLE:
        args = [_element(x, index, elem) for x in e.args]
        op = _FUSABLE[e.name]
        if op == "neg":
            return ir.Unary(op=f"{kind}.neg", x=args[0], ty=elem, **pos)
        return ir.Binary(op=f"{kind}.{op}", a=args[0], b=args[1], ty=elem, **pos)
    if isinstance(prune(e.ty), ArrayT):
        return ir.CallBuiltin(name="array.get", args=[copy.deepcopy(e), *copy.deepcopy(index)], ty=elem, **pos)
    return copy.deepcopy(e)


def _new_local(f: ir.Function, name: str, ty: object) -> int:
    f.local_names.append(name)
    f.local_types.append(ty)  # type: ignore[arg-type]
    return len(f.local_names) - 1
