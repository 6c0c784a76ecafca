"""Triangular solves: forward substitution as people write it,

    for i in 0..n {
        x[i] = b[i]                                      // optional: x may hold b already
        for j in 0..i { x[i] -= L[i, j] * x[j] }          // or L[j, i]: the transpose of L's upper part
        x[i] = x[i] / L[i, i]                            // optional: without it L's diagonal is ones
    }

reads `x[j]` for `j < i` — values the nest itself computed — so it is no contraction: it is the
solve `T x = b` with T the (unit) lower triangle of L (or the transpose of its upper triangle),
one BLAS `trsv` in place:

    if <guard> { x[i] = b[i] for i < n;  blas.trsv(flags, n, L, x) } else { <the nest as written> }

The guard: `n` fits the arrays, they are float64 in a layout BLAS takes, `x` shares no memory with
`L` or `b`, and — where the loops divide — no diagonal element is zero (the loops would raise
`ZeroDivisionError` there, BLAS would divide).  The dispatch is a contraction's (`If.intent =
"contraction"`): the same guard natives, BLAS from native code, NumPy/SciPy in the VM.
"""
from __future__ import annotations

import copy

from noodle.ir import affine
from noodle.ir import nodes as ir
from noodle.ir.affine import Affine, Refused
from noodle.ir.types import BOOL, FLOAT, INT, NONE, STR, ArrayT, ListT, prune


def _get(e: ir.Expr, arr: "int | None" = None) -> "tuple[int, list[int | None]] | None":
    """(array slot, [loop slot or None per subscript]) of an element read."""
    if not (isinstance(e, ir.CallBuiltin) and e.name == "array.get" and isinstance(e.args[0], ir.LocalGet)):
        return None
    if arr is not None and e.args[0].slot != arr:
        return None
    return e.args[0].slot, [x.slot if isinstance(x, ir.LocalGet) else None for x in e.args[1:]]


def _store(s: ir.Stmt) -> "tuple[int, list[int | None], ir.Expr] | None":
    if isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.CallBuiltin) and s.expr.name == "array.set" \
            and isinstance(s.expr.args[0], ir.LocalGet):
        a = s.expr.args
        return a[0].slot, [x.slot if isinstance(x, ir.LocalGet) else None for x in a[1:-1]], a[-1]
    return None


def _float(f: ir.Function, slot: int, ndim: int) -> bool:
    t = prune(f.local_types[slot])
    return isinstance(t, ArrayT) and t.elem == FLOAT and t.ndim == ndim


def looks_like_one(root: ir.ForRange) -> bool:
    """A loop over i holding a loop over j < i (a forward substitution's shape)."""
    return any(isinstance(s, ir.ForRange) for s in root.body) and len(root.body) <= 3


def recognise(f: ir.Function, root: ir.ForRange) -> "ir.If | str | None":
    """The dispatch replacing a forward substitution at `root`, why one was left alone, or None."""
    if not looks_like_one(root):
        return None
    try:
        return _recognise(f, root)
    except Refused as e:
        return str(e)


def _recognise(f: ir.Function, root: ir.ForRange) -> "ir.If | None":
    names = f.local_names
    i = root.slot
    body = list(root.body)
    inner = next(s for s in body if isinstance(s, ir.ForRange))
    k = body.index(inner)
    before, after = body[:k], body[k + 1:]
    if len(before) > 1 or len(after) > 1 or len(inner.body) != 1:
        return None
    update = _store(inner.body[0])
    if update is None or len(update[1]) != 1 or update[1][0] != i:
        return None
    x, _, value = update
    j = inner.slot
    # x[i] - L[.., ..] * x[j]
    if not (isinstance(value, ir.Binary) and value.op == "float.sub" and _get(value.a, x) == (x, [i])
            and isinstance(value.b, ir.Binary) and value.b.op == "float.mul"):
        return None
    factors = [value.b.a, value.b.b]
    xj = next((e for e in factors if _get(e, x) == (x, [j])), None)
    if xj is None:
        return None
    lread = _get(factors[1] if factors[0] is xj else factors[0])
    if lread is None or len(lread[1]) != 2 or set(lread[1]) != {i, j}:
        return None
    lslot = lread[0]
    trans = "N" if lread[1] == [i, j] else "T"
    if not (_float(f, x, 1) and _float(f, lslot, 2)) or lslot == x:
        raise Refused(f"`{names[x]}` and `{names[lslot]}` are not two float arrays (1-D and 2-D)", inner.line)
    nest = affine.model(f, root)
    lo = nest.loop_of(root)
    lj = nest.loop_of(inner)
    if not (lo.lower == Affine(0) and lo.upper.symbolic()):
        raise Refused(f"the loop over `{names[i]}` does not run from 0 to a value the nest does not change",
                      root.line)
    if not (lj.lower == Affine(0) and lj.upper == Affine.of({("v", i): 1})):
        raise Refused(f"the loop over `{names[j]}` does not run over 0..{names[i]} (the solved part)", inner.line)
    from noodle.ir.intents.contraction import _pure

    if not _pure(root.stop):
        raise Refused(f"the bound of the loop over `{names[i]}` is computed with an overflow check", root.line)
    source: "int | None" = None
    if before:
        st = _store(before[0])
        got = _get(st[2]) if st is not None else None
        if st is None or st[0] != x or st[1] != [i] or got is None or got[1] != [i] or not _float(f, got[0], 1):
            return None
        source = got[0]
        if source == x:
            source = None  # `x[i] = x[i]`: nothing to copy
        elif source == lslot:
            return None
    diag = "U"
    if after:
        st = _store(after[0])
        div = st[2] if st is not None else None
        if not (st is not None and st[0] == x and st[1] == [i] and isinstance(div, ir.Binary)
                and div.op == "float.div" and _get(div.a, x) == (x, [i]) and _get(div.b, lslot) == (lslot, [i, i])):
            return None
        diag = "N"
    return _dispatch(f, root, x, lslot, source, trans, diag)


def _dispatch(f: ir.Function, root: ir.ForRange, x: int, lslot: int, source: "int | None", trans: str,
              diag: str) -> ir.If:
    pos = {"line": root.line, "col": root.col}
    names = f.local_names
    n = root.stop

    def local(s: int) -> ir.LocalGet:
        return ir.LocalGet(slot=s, ty=f.local_types[s], **pos)

    def length(s: int, d: int) -> ir.Expr:
        if d == 0:
            return ir.CallBuiltin(name="array.len", args=[local(s)], ty=INT, **pos)
        return ir.Index(obj=ir.CallBuiltin(name="array.shape", args=[local(s)], ty=ListT(INT), **pos),
                        index=ir.Const(value=d, ty=INT, **pos), ty=INT, **pos)

    arrays = [x, lslot] + ([source] if source is not None else [])
    conds: list[ir.Expr] = [ir.CallBuiltin(name="blas.fits", args=[ir.Const(value=1, ty=INT, **pos)]
                                           + [local(s) for s in arrays], ty=BOOL, **pos)]
    for s, d in [(x, 0), (lslot, 0), (lslot, 1)] + ([(source, 0)] if source is not None else []):
        conds.append(ir.Binary(op="cmp.le", a=copy.deepcopy(n), b=length(s, d), ty=BOOL, **pos))
    if diag == "N":
        conds.append(ir.CallBuiltin(name="blas.diagonal_nonzero", args=[copy.deepcopy(n), local(lslot)], ty=BOOL,
                                    **pos))
    from noodle.ir.nest import all_of

    then: list[ir.Stmt] = []
    if source is not None:  # x[i] = b[i] for i < n, as written
        copy_loop = copy.deepcopy(root)
        copy_loop.body = [copy_loop.body[0]]
        copy_loop.note = "the copy into the solved vector, before the BLAS call"
        then.append(copy_loop)
    # in L's own (row, column) terms: the triangle the loops read, T = L or its transpose
    uplo = "L" if trans == "N" else "U"
    then.append(ir.ExprStmt(expr=ir.CallBuiltin(name="blas.trsv", args=[
        ir.Const(value=uplo + trans + diag, ty=STR, **pos), copy.deepcopy(n), local(lslot), local(x)], ty=NONE, **pos),
        **pos))
    part = "lower" if uplo == "L" else "upper"
    root.note = (f"dtrsv: solves T * {names[x]} = {names[source] if source is not None else names[x]} in place, T the "
                 f"{'unit ' if diag == 'U' else ''}{part} triangle of `{names[lslot]}`"
                 f"{' transposed' if trans == 'T' else ''} (forward substitution)")
    return ir.If(cond=all_of(conds, pos), then=then, otherwise=[root], intent="contraction", **pos)
