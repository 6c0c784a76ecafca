"""Iterated stencils: Jacobi sweeps copied back, run double-buffered.

The textbook way to repeat a stencil computes the next values into a second array and copies
them back, sweep after sweep:

    for t in A..B {
        for i in lo..hi { for j in clo..chi { b[i, j] = E(a[i + di, j + dj], ...) } }   // the stencil
        for i in lo..hi { for j in clo..chi { a[i, j] = b[i, j] } }                     // the copy back
    }

(or the same over one dimension: `b[i] = E(a[i + di])`, then `a[i] = b[i]`).
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

    if <every index stays in bounds> and <W is not empty> and <a, b and the other inputs
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
                 reads: list[tuple[ir.CallBuiltin, tuple[int, ...]]]) -> None:
        self.stencil, self.copy_back, self.a, self.b = stencil, copy_back, a, b
        self.reads = reads  # (the access, its offset in each dimension)


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
    if stencil is None or back is None or len(stencil.loops) != len(back.loops):
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
    loop_vars = [lp.slot for lp in stencil.loops]
    stores = [(n, ix) for n, ix in stencil.accesses if n.name == "array.set"]
    if len(stores) != 1 or stores[0][1] != [(v, 0) for v in loop_vars]:
        return None
    b = stores[0][0].args[0].slot  # type: ignore[attr-defined]
    a = _copied_into(back, b)
    if a is None or a == b or b in stencil.read or a not in stencil.read:
        return None
    reads: list[tuple[ir.CallBuiltin, tuple[int, ...]]] = []
    for n, ix in stencil.accesses:
        if n.name == "array.get" and n.args[0].slot == a:  # type: ignore[attr-defined]
            if [v for v, _ in ix] != loop_vars:
                return None  # `a` read where the loops do not move over it
            reads.append((n, tuple(c for _, c in ix)))
    return _Sweep(stencil, back, a, b, reads)


def _copied_into(nest: Nest, b: int) -> int | None:
    """`a` when the nest is exactly `a[i, j] = b[i, j]` (or `a[i] = b[i]`), else None."""
    inner = nest.loops[-1].body
    if len(inner) != 1 or not isinstance(inner[0], ir.ExprStmt):
        return None
    store = inner[0].expr
    if not (isinstance(store, ir.CallBuiltin) and store.name == "array.set"):
        return None
    value = store.args[-1]
    same = [(lp.slot, 0) for lp in nest.loops]
    if isinstance(value, ir.CallBuiltin) and value.name == "array.get" and value.args[0].slot == b \
            and [ix for _, ix in nest.accesses] == [same, same]:  # type: ignore[attr-defined]
        return store.args[0].slot  # type: ignore[attr-defined]
    return None


def _dispatch(f: ir.Function, loop: ir.ForRange, sw: _Sweep) -> ir.If:
    pos = {"line": loop.line, "col": loop.col}
    loops = sw.stencil.loops
    inner = loops[-1]
    rows = loops[0] if len(loops) == 2 else None  # the outer loop of a 2-D nest

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

    # the region, found once (each bound is pure and the sweeps do not change it), and in each
    # dimension the part whose whole neighbourhood lies inside it: [lo, hi) and [inner_lo, inner_hi)
    lo, hi, inner_lo, inner_hi = [], [], [], []
    region: list[ir.Stmt] = []
    for d, lp in enumerate(loops):
        reach = [off[d] for _, off in sw.reads]
        for bounds, name, value in ((lo, "lo", copy.deepcopy(lp.start)), (hi, "hi", copy.deepcopy(lp.stop))):
            bounds.append(new_local(f"{name}{d}", INT))
            region.append(ir.LocalSet(slot=bounds[-1], value=value, **pos))
        for bounds, name, value in ((inner_lo, "inner_lo", shifted(lo[d], max(0, -min(reach)))),
                                    (inner_hi, "inner_hi", shifted(hi[d], -max(0, max(reach))))):
            bounds.append(new_local(f"{name}{d}", INT))
            region.append(ir.LocalSet(slot=bounds[-1], value=value, **pos))
    last = len(loops) - 1

    def offsets(access: ir.CallBuiltin) -> tuple[int, ...]:
        return tuple(index_form(x, [lp.slot for lp in loops])[1]  # type: ignore[index]
                     for x in access.args[1:1 + len(loops)])

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
        chosen: dict[tuple[int, ...], int] = {}
        for access, off in sw.reads:
            if off in chosen:
                continue
            slot = chosen[off] = new_local("near", FLOAT)
            # the element itself lies inside the region: an offset can only leave it on its own side
            inside = [cmp("cmp.ge", copy.deepcopy(x), get(lo[d])) if c < 0 else
                      cmp("cmp.lt", copy.deepcopy(x), get(hi[d]))
                      for d, (x, c) in enumerate(zip(access.args[1:], off)) if c]
            if inside:
                picks += [ir.LocalSet(slot=slot, value=copy.deepcopy(access), **pos),
                          ir.If(cond=both(*inside), then=[ir.LocalSet(slot=slot, value=from_b(access), **pos)],
                                otherwise=[], **pos)]
            else:
                picks.append(ir.LocalSet(slot=slot, value=from_b(access), **pos))
        return picks + retarget(inner.body, lambda access: get(chosen[offsets(access)]))

    def counted(slot: int, start: ir.Expr, stop: ir.Expr, body: list[ir.Stmt]) -> ir.ForRange:
        return ir.ForRange(slot=slot, start=start, stop=stop, step=const(1, INT), body=body, intent="nested", **pos)

    def pick(cond: ir.Expr, x: int, y: int) -> ir.Expr:
        return ir.Cond(cond=cond, then=get(x), otherwise=get(y), ty=INT, **pos)

    def over_rows(body: list[ir.Stmt]) -> list[ir.Stmt]:
        return [counted(rows.slot, get(lo[0]), get(hi[0]), body)] if rows is not None else body

    even = over_rows([counted(inner.slot, get(lo[last]), get(hi[last]), copy.deepcopy(inner.body))])
    # an odd sweep's row: the elements whose neighbourhood lies inside the region read `b` alone
    # (none on the region's first and last rows), those on either side of them pick
    interior = both(*([cmp("cmp.ge", get(rows.slot), get(inner_lo[0])), cmp("cmp.lt", get(rows.slot), get(inner_hi[0]))]
                      if rows is not None else []), cmp("cmp.lt", get(inner_lo[last]), get(inner_hi[last])))
    mid_lo, mid_hi, side = new_local("mid_lo", INT), new_local("mid_hi", INT), new_local("side", INT)
    first_side = cmp("cmp.eq", get(side), const(0, INT))
    odd = over_rows([
        ir.LocalSet(slot=mid_lo, value=pick(interior, inner_lo[last], hi[last]), **pos),
        ir.LocalSet(slot=mid_hi, value=pick(copy.deepcopy(interior), inner_hi[last], hi[last]), **pos),
        counted(inner.slot, get(mid_lo), get(mid_hi), retarget(inner.body, from_b)),
        counted(side, const(0, INT), const(2, INT), [
            counted(inner.slot, pick(first_side, lo[last], mid_hi), pick(copy.deepcopy(first_side), mid_lo, hi[last]),
                    edge_body())])])
    parity, ran = new_local("odd", BOOL), new_local("ran", BOOL)
    sweeps = counted(loop.slot, copy.deepcopy(loop.start), copy.deepcopy(loop.stop), [
        ir.If(cond=get(parity), then=odd, otherwise=even, **pos),
        ir.LocalSet(slot=parity, value=ir.Unary(op="not", x=get(parity), ty=BOOL, **pos), **pos),
        ir.LocalSet(slot=ran, value=const(True, BOOL), **pos)])

    def copy_over(to: int, source: int) -> list[ir.Stmt]:
        index = [get(lp.slot) for lp in loops]
        store = ir.CallBuiltin(name="array.set", args=[get(to)] + index + [ir.CallBuiltin(
            name="array.get", args=[get(source)] + copy.deepcopy(index), ty=FLOAT, **pos)], ty=BOOL, **pos)
        return over_rows([counted(inner.slot, get(lo[last]), get(hi[last]), [ir.ExprStmt(expr=store, **pos)])])

    # after an odd number of sweeps the last values are in `b`, after an even number in `a`
    finish = ir.If(cond=get(parity), then=copy_over(sw.a, sw.b),
                   otherwise=[ir.If(cond=get(ran), then=copy_over(sw.b, sw.a), otherwise=[], **pos)], **pos)
    fast = region + [ir.LocalSet(slot=parity, value=const(False, BOOL), **pos),
                     ir.LocalSet(slot=ran, value=const(False, BOOL), **pos), sweeps, finish]

    # the fast path's loop variables and temporaries are its own: had it shared the slots of the
    # loop as written, the `outline` pass would take them for values set before the loop
    fresh = {s: new_local(f.local_names[s].lstrip("$"), f.local_types[s])
             for s in sorted({n.slot for n in walk(loop) if isinstance(n, (ir.LocalSet, ir.ForRange))})}
    for n in (n for stmt in fast for n in walk(stmt)):
        if isinstance(n, (ir.LocalGet, ir.LocalSet, ir.ForRange)) and n.slot in fresh:
            n.slot = fresh[n.slot]

    conditions = unique(in_bounds_conditions(sw.stencil, pos) + in_bounds_conditions(sw.copy_back, pos))
    conditions += [cmp("cmp.lt", copy.deepcopy(lp.start), copy.deepcopy(lp.stop)) for lp in loops]
    others = sorted(sw.stencil.read - {sw.a, sw.b})
    conditions.append(ir.CallBuiltin(name="parallel.disjoint", args=[const(2, INT)] + [
        get(s) for s in [sw.a, sw.b] + others], ty=BOOL, **pos))
    loop.intent, loop.note = "", "the sweeps as written"
    return ir.If(cond=both(*conditions), then=fast, otherwise=[loop], intent="jacobi", **pos)
