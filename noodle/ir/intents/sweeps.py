"""Iterated stencils: Jacobi sweeps copied back, run double-buffered.

The textbook way to repeat a stencil computes the next values into a second array and copies
them back, sweep after sweep:

    for t in A..B {
        for i in lo..hi { for j in clo..chi { b[i, j] = E(a[i + di, j + dj], ...) } }   // the stencil
        for i in lo..hi { for j in clo..chi { a[i, j] = b[i, j] } }                     // the copy back
    }

Each sweep reads the region W = [lo, hi) x [clo, chi) of `a` and the frame around it, and writes
W of `b`; the copy makes W of `a` the next sweep's input.  The copies (a third of the memory
traffic) are not needed when the sweeps alternate direction:

    even sweeps   b = E(a) over W, as written
    odd sweeps    a = E(b inside W, a outside W) over W: W of `b` holds the current values, and
                  the frame, which no sweep writes, still holds them in `a`
    at the end    one copy over W (b -> a after an odd number of sweeps, else a -> b)

which leaves both arrays exactly as the loop does: every element of W of both is computed by the
same operations on the same values, and nothing outside W is written.  An odd sweep reads `b`
alone for the rows and columns whose whole neighbourhood lies inside W (the same vectorised
loop as the stencil's), and picks between the arrays per element only along W's edges.

This holds when the nests cannot fail half-way and the arrays share no memory, which the
dispatch checks before the sweeps:

    if <every index stays in bounds> and lo < hi and clo < chi and <a, b and the other inputs
       share no memory> { <double-buffered sweeps> } else { <the loop as written> }

Only native code takes the first branch (in the VM the disjointness check answers no: the
sweeps are interpreted either way, and the copy saves nothing worth the second loop).
"""
from __future__ import annotations

import copy
from typing import Callable

from noodle.ir import nodes as ir
from noodle.ir.nest import Nest, analyse, can_not_fail, in_bounds_conditions, index_form, unique
from noodle.ir.printer import expr_text
from noodle.ir.types import BOOL, FLOAT, INT, Type
from noodle.ir.walk import rewrite_body, walk


class _Sweep:
    """A recognised iterated stencil: the nests, the two arrays, and the stencil's reads of `a`."""

    def __init__(self, stencil: Nest, copy_back: Nest, a: int, b: int,
                 reads: list[tuple[ir.CallBuiltin, int, int]]) -> None:
        self.stencil, self.copy_back, self.a, self.b = stencil, copy_back, a, b
        self.reads = reads  # (the access, row offset, column offset)


def recognise(f: ir.Function, loop: ir.ForRange) -> ir.If | None:
    """The double-buffered dispatch for `loop`, when it repeats a stencil copied back; else None."""
    sweep = _match(f, loop)
    if sweep is None:
        return None
    return _dispatch(f, loop, sweep)


def _match(f: ir.Function, loop: ir.ForRange) -> _Sweep | None:
    if not (isinstance(loop.step, ir.Const) and loop.step.value == 1) or len(loop.body) != 2:
        return None
    first, second = loop.body
    if not (isinstance(first, ir.ForRange) and first.intent == "stencil"
            and isinstance(second, ir.ForRange) and second.intent == "map"):
        return None
    if any(isinstance(n, ir.LocalGet) and n.slot == loop.slot for n in walk(first)):
        return None  # the sweep number is used: the sweeps differ
    stencil, back = analyse(f, first), analyse(f, second)
    if stencil is None or back is None or len(stencil.loops) != 2 or len(back.loops) != 2:
        return None
    assigned = {n.slot for s in loop.body for n in walk(s) if isinstance(n, (ir.LocalSet, ir.ForRange))}
    for lp in stencil.loops + back.loops:
        for bound in (lp.start, lp.stop):
            if not can_not_fail(bound, True) or any(isinstance(n, ir.LocalGet) and n.slot in assigned
                                                    for n in walk(bound)):
                return None  # every sweep covers the same region, and finding it cannot fail
    if [expr_text(x) for lp in stencil.loops for x in (lp.start, lp.stop)] != \
            [expr_text(x) for lp in back.loops for x in (lp.start, lp.stop)]:
        return None  # the copy covers exactly the stencil's region
    i, j = (lp.slot for lp in stencil.loops)
    stores = [(n, ix) for n, ix in stencil.accesses if n.name == "array.set"]
    if len(stores) != 1 or stores[0][1] != [(i, 0), (j, 0)]:
        return None
    b = stores[0][0].args[0].slot  # type: ignore[attr-defined]
    a = _copied_into(back, b)
    if a is None or a == b or b in stencil.read or a not in stencil.read:
        return None
    reads: list[tuple[ir.CallBuiltin, int, int]] = []
    for n, ix in stencil.accesses:
        if n.name == "array.get" and n.args[0].slot == a:  # type: ignore[attr-defined]
            if not (len(ix) == 2 and ix[0][0] == i and ix[1][0] == j):
                return None  # `a` read where the loops do not move over it
            reads.append((n, ix[0][1], ix[1][1]))
    return _Sweep(stencil, back, a, b, reads)


def _copied_into(nest: Nest, b: int) -> int | None:
    """`a` when the nest is exactly `a[i, j] = b[i, j]`, else None."""
    inner = nest.loops[-1].body
    if len(inner) != 1 or not isinstance(inner[0], ir.ExprStmt):
        return None
    store = inner[0].expr
    i, j = (lp.slot for lp in nest.loops)
    if not (isinstance(store, ir.CallBuiltin) and store.name == "array.set"):
        return None
    value = store.args[3]
    if isinstance(value, ir.CallBuiltin) and value.name == "array.get" and value.args[0].slot == b \
            and [ix for _, ix in nest.accesses] == [[(i, 0), (j, 0)], [(i, 0), (j, 0)]]:  # type: ignore[attr-defined]
        return store.args[0].slot  # type: ignore[attr-defined]
    return None


def _dispatch(f: ir.Function, loop: ir.ForRange, sw: _Sweep) -> ir.If:
    pos = {"line": loop.line, "col": loop.col}
    outer, inner = sw.stencil.loops

    def new_local(name: str, ty: Type) -> int:
        f.local_names.append(f"${name}")
        f.local_types.append(ty)
        f.mutable_slots.append(len(f.local_types) - 1)  # most are set more than once
        return len(f.local_types) - 1

    def get(slot: int) -> ir.LocalGet:
        return ir.LocalGet(slot=slot, ty=f.local_types[slot], **pos)

    def const(v: object, ty: Type) -> ir.Const:
        return ir.Const(value=v, ty=ty, **pos)

    def cmp(op: str, x: ir.Expr, y: ir.Expr) -> ir.Binary:
        return ir.Binary(op=op, a=x, b=y, ty=BOOL, **pos)

    def both(*conds: ir.Expr) -> ir.Expr:
        out = conds[0]
        for c in conds[1:]:
            out = ir.Logical(op="and", a=out, b=c, ty=BOOL, **pos)
        return out

    def shifted(slot: int, by: int) -> ir.Expr:
        """`slot + by`: the guard (lo < hi and every index in bounds) keeps it far from overflow."""
        if by == 0:
            return get(slot)
        return ir.Binary(op="int.add" if by > 0 else "int.sub", a=get(slot), b=const(abs(by), INT), ty=INT, skip=3,
                         **pos)

    # the region, found once (each bound is pure and the sweeps do not change it)
    lo, hi, clo, chi = (new_local(n, INT) for n in ("lo", "hi", "clo", "chi"))
    region = [ir.LocalSet(slot=s, value=copy.deepcopy(e), **pos)
              for s, e in zip((lo, hi, clo, chi), (outer.start, outer.stop, inner.start, inner.stop))]
    rows = [dr for _, dr, _ in sw.reads]
    cols = [dc for _, _, dc in sw.reads]
    # rows and columns whose whole neighbourhood lies inside the region
    rlo, rhi, mlo, mhi = (new_local(n, INT) for n in ("rows_lo", "rows_hi", "cols_lo", "cols_hi"))
    region += [ir.LocalSet(slot=rlo, value=shifted(lo, max(0, -min(rows))), **pos),
               ir.LocalSet(slot=rhi, value=shifted(hi, -max(0, max(rows))), **pos),
               ir.LocalSet(slot=mlo, value=shifted(clo, max(0, -min(cols))), **pos),
               ir.LocalSet(slot=mhi, value=shifted(chi, -max(0, max(cols))), **pos)]

    def offsets(access: ir.CallBuiltin) -> tuple[int, int]:
        (_, dr), (_, dc) = (index_form(x, [outer.slot, inner.slot]) for x in access.args[1:3])  # type: ignore[misc]
        return dr, dc

    def retarget(body: list[ir.Stmt], read: Callable[[ir.CallBuiltin], ir.Expr]) -> list[ir.Stmt]:
        """The stencil's inner body storing into `a`, each read of `a` replaced by `read(access)`."""
        def swap(e: ir.Expr) -> ir.Expr:
            if isinstance(e, ir.CallBuiltin) and e.name == "array.get" and e.args[0].slot == sw.a:  # type: ignore[attr-defined]
                return read(e)
            if isinstance(e, ir.CallBuiltin) and e.name == "array.set" and e.args[0].slot == sw.b:  # type: ignore[attr-defined]
                e.args[0] = get(sw.a)
            return e
        return rewrite_body(copy.deepcopy(body), swap)

    def from_b(access: ir.CallBuiltin) -> ir.Expr:
        return ir.CallBuiltin(name="array.get", args=[get(sw.b)] + copy.deepcopy(access.args[1:]), ty=access.ty,
                              **pos)

    def edge_body() -> list[ir.Stmt]:
        """The odd sweep's body near the region's edges: each read from `b` inside it, else from `a`."""
        picks: list[ir.Stmt] = []
        chosen: dict[tuple[int, int], int] = {}
        for access, dr, dc in sw.reads:
            if (dr, dc) in chosen:
                continue
            slot = chosen[dr, dc] = new_local("near", FLOAT)
            # the row i and column j lie inside the region: an offset can only leave it on its own side
            inside = [cmp("cmp.ge", copy.deepcopy(x), get(first)) if d < 0 else cmp("cmp.lt", copy.deepcopy(x), get(last))
                      for x, d, first, last in ((access.args[1], dr, lo, hi), (access.args[2], dc, clo, chi)) if d]
            picks.append(ir.LocalSet(slot=slot, value=copy.deepcopy(access), **pos))
            if inside:
                picks.append(ir.If(cond=both(*inside), then=[ir.LocalSet(slot=slot, value=from_b(access), **pos)],
                                   otherwise=[], **pos))
            else:  # the element itself
                picks[-1] = ir.LocalSet(slot=slot, value=from_b(access), **pos)
        return picks + retarget(inner.body, lambda access: get(chosen[offsets(access)]))

    def columns(start: ir.Expr, stop: ir.Expr, body: list[ir.Stmt]) -> ir.ForRange:
        return ir.ForRange(slot=inner.slot, start=start, stop=stop, step=const(1, INT), body=body, intent="nested",
                           **pos)

    def pick(cond: ir.Expr, x: int, y: int) -> ir.Expr:
        return ir.Cond(cond=cond, then=get(x), otherwise=get(y), ty=INT, **pos)

    def rows_loop(body: list[ir.Stmt]) -> ir.ForRange:
        return ir.ForRange(slot=outer.slot, start=get(lo), stop=get(hi), step=const(1, INT), body=body,
                           intent="nested", **pos)

    even = rows_loop([columns(get(clo), get(chi), copy.deepcopy(inner.body))])
    # an odd sweep's row: the columns whose neighbourhood lies inside the region read `b` alone
    # (none on the region's first and last rows), the columns on either side of them pick
    interior = both(cmp("cmp.ge", get(outer.slot), get(rlo)), cmp("cmp.lt", get(outer.slot), get(rhi)),
                    cmp("cmp.lt", get(mlo), get(mhi)))
    mid_lo, mid_hi, side = new_local("mid_lo", INT), new_local("mid_hi", INT), new_local("side", INT)
    first_side = cmp("cmp.eq", get(side), const(0, INT))
    odd = rows_loop([
        ir.LocalSet(slot=mid_lo, value=pick(interior, mlo, chi), **pos),
        ir.LocalSet(slot=mid_hi, value=pick(copy.deepcopy(interior), mhi, chi), **pos),
        columns(get(mid_lo), get(mid_hi), retarget(inner.body, from_b)),
        ir.ForRange(slot=side, start=const(0, INT), stop=const(2, INT), step=const(1, INT), intent="nested", body=[
            columns(pick(first_side, clo, mid_hi), pick(copy.deepcopy(first_side), mid_lo, chi), edge_body())],
            **pos)])
    parity, ran = new_local("odd", BOOL), new_local("ran", BOOL)
    sweeps = ir.ForRange(slot=loop.slot, start=copy.deepcopy(loop.start), stop=copy.deepcopy(loop.stop),
                         step=const(1, INT), intent="nested", body=[
                             ir.If(cond=get(parity), then=[odd], otherwise=[even], **pos),
                             ir.LocalSet(slot=parity, value=ir.Unary(op="not", x=get(parity), ty=BOOL, **pos), **pos),
                             ir.LocalSet(slot=ran, value=const(True, BOOL), **pos)], **pos)

    def copy_over(to: int, source: int) -> ir.ForRange:
        store = ir.CallBuiltin(name="array.set", args=[get(to), get(outer.slot), get(inner.slot), ir.CallBuiltin(
            name="array.get", args=[get(source), get(outer.slot), get(inner.slot)], ty=FLOAT, **pos)], ty=BOOL,
            **pos)
        return rows_loop([columns(get(clo), get(chi), [ir.ExprStmt(expr=store, **pos)])])

    # after an odd number of sweeps the last values are in `b`, after an even number in `a`
    last = ir.If(cond=get(parity), then=[copy_over(sw.a, sw.b)],
                 otherwise=[ir.If(cond=get(ran), then=[copy_over(sw.b, sw.a)], otherwise=[], **pos)], **pos)
    fast = region + [ir.LocalSet(slot=parity, value=const(False, BOOL), **pos),
                     ir.LocalSet(slot=ran, value=const(False, BOOL), **pos), sweeps, last]

    # the fast path's loop variables and temporaries are its own: had it shared the slots of the
    # loop as written, the `outline` pass would take them for values set before the loop
    fresh = {s: new_local(f.local_names[s].lstrip("$"), f.local_types[s])
             for s in sorted({n.slot for n in walk(loop) if isinstance(n, (ir.LocalSet, ir.ForRange))})}
    for n in (n for stmt in fast for n in walk(stmt)):
        if isinstance(n, (ir.LocalGet, ir.LocalSet, ir.ForRange)) and n.slot in fresh:
            n.slot = fresh[n.slot]

    conditions = unique(in_bounds_conditions(sw.stencil, pos) + in_bounds_conditions(sw.copy_back, pos))
    conditions += [cmp("cmp.lt", copy.deepcopy(outer.start), copy.deepcopy(outer.stop)),
                   cmp("cmp.lt", copy.deepcopy(inner.start), copy.deepcopy(inner.stop))]
    others = sorted(sw.stencil.read - {sw.a, sw.b})
    conditions.append(ir.CallBuiltin(name="parallel.disjoint", args=[const(2, INT)] + [
        get(s) for s in [sw.a, sw.b] + others], ty=BOOL, **pos))
    loop.intent, loop.note = "", "the sweeps as written"
    return ir.If(cond=both(*conditions), then=fast, otherwise=[loop], intent="jacobi", **pos)
