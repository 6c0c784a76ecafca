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
from noodle.ir.nest import Nest, all_of, analyse, can_not_fail, disjoint, in_bounds_conditions, index_form, unique
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


class _Emit:
    """IR at one source position, with new locals in one function."""

    def __init__(self, f: ir.Function, at: ir.Node) -> None:
        self.f, self.pos = f, {"line": at.line, "col": at.col}

    def local(self, name: str, ty: Type) -> int:
        self.f.local_names.append(f"${name}")
        self.f.local_types.append(ty)
        self.f.mutable_slots.append(len(self.f.local_types) - 1)  # most are set more than once
        return len(self.f.local_types) - 1

    def get(self, slot: int) -> ir.LocalGet:
        return ir.LocalGet(slot=slot, ty=self.f.local_types[slot], **self.pos)

    def set(self, slot: int, value: ir.Expr) -> ir.LocalSet:
        return ir.LocalSet(slot=slot, value=value, **self.pos)

    def const(self, v: object, ty: Type) -> ir.Const:
        return ir.Const(value=v, ty=ty, **self.pos)

    def cmp(self, op: str, x: ir.Expr, y: ir.Expr) -> ir.Binary:
        return ir.Binary(op=op, a=x, b=y, ty=BOOL, **self.pos)

    def both(self, *conds: ir.Expr) -> ir.Expr:
        return all_of(list(conds), self.pos)

    def shifted(self, slot: int, by: int) -> ir.Expr:
        """`slot + by`, unchecked: the guard (a non-empty region, every index in bounds) keeps it
        far from overflow."""
        if by == 0:
            return self.get(slot)
        return ir.Binary(op="int.add" if by > 0 else "int.sub", a=self.get(slot), b=self.const(abs(by), INT),
                         ty=INT, skip=3, **self.pos)

    def pick(self, cond: ir.Expr, x: int, y: int) -> ir.Expr:
        return ir.Cond(cond=cond, then=self.get(x), otherwise=self.get(y), ty=INT, **self.pos)

    def counted(self, slot: int, start: ir.Expr, stop: ir.Expr, body: list[ir.Stmt]) -> ir.ForRange:
        return ir.ForRange(slot=slot, start=start, stop=stop, step=self.const(1, INT), body=body, intent="nested",
                           **self.pos)

    def nest(self, loops: list[ir.ForRange], lo: list[int], hi: list[int], body: list[ir.Stmt]) -> ir.ForRange:
        """`body` over [lo, hi) in each dimension, with the loops' variables."""
        for d in reversed(range(len(loops))):
            body = [self.counted(loops[d].slot, self.get(lo[d]), self.get(hi[d]), body)]
        return body[0]  # type: ignore[return-value]


class _Region:
    """The region the sweeps write, found once (its bounds are pure and the sweeps do not change
    them), and in each dimension the part whose whole neighbourhood lies inside it."""

    def __init__(self, e: _Emit, sw: _Sweep) -> None:
        self.lo: list[int] = []
        self.hi: list[int] = []
        self.inner_lo: list[int] = []
        self.inner_hi: list[int] = []
        self.found: list[ir.Stmt] = []
        for d, lp in enumerate(sw.stencil.loops):
            reach = [off[d] for _, off in sw.reads]
            for slots, name, value in ((self.lo, "lo", copy.deepcopy(lp.start)),
                                       (self.hi, "hi", copy.deepcopy(lp.stop))):
                slots.append(e.local(f"{name}{d}", INT))
                self.found.append(e.set(slots[-1], value))
            for slots, name, value in ((self.inner_lo, "inner_lo", e.shifted(self.lo[d], max(0, -min(reach)))),
                                       (self.inner_hi, "inner_hi", e.shifted(self.hi[d], -max(0, max(reach))))):
                slots.append(e.local(f"{name}{d}", INT))
                self.found.append(e.set(slots[-1], value))


def _dispatch(f: ir.Function, loop: ir.ForRange, sw: _Sweep) -> ir.If:
    e = _Emit(f, loop)
    loops = sw.stencil.loops
    region = _Region(e, sw)
    # The sweeps stay on one core.  Split across cores (the `parallel` pass would take these
    # nests were they marked "stencil") the benchmark's 1024^2 sweeps ran at 0.35x Numba on a
    # quiet machine but 1.2x when the other core was busy: a split inside a loop waits, sweep
    # after sweep, for a worker the OS may have preempted, where one core does not.
    even = [e.nest(loops, region.lo, region.hi, copy.deepcopy(loops[-1].body))]
    parity, ran = e.local("odd", BOOL), e.local("ran", BOOL)
    sweeps = e.counted(loop.slot, copy.deepcopy(loop.start), copy.deepcopy(loop.stop), [
        ir.If(cond=e.get(parity), then=_odd_sweep(e, sw, region), otherwise=even, **e.pos),
        e.set(parity, ir.Unary(op="not", x=e.get(parity), ty=BOOL, **e.pos)),
        e.set(ran, e.const(True, BOOL))])

    def copy_over(to: int, source: int) -> list[ir.Stmt]:
        index = [e.get(lp.slot) for lp in loops]
        store = ir.CallBuiltin(name="array.set", args=[e.get(to)] + index + [ir.CallBuiltin(
            name="array.get", args=[e.get(source)] + copy.deepcopy(index), ty=FLOAT, **e.pos)], ty=BOOL, **e.pos)
        return [e.nest(loops, region.lo, region.hi, [ir.ExprStmt(expr=store, **e.pos)])]

    # after an odd number of sweeps the last values are in `b`, after an even number in `a`
    finish = ir.If(cond=e.get(parity), then=copy_over(sw.a, sw.b),
                   otherwise=[ir.If(cond=e.get(ran), then=copy_over(sw.b, sw.a), otherwise=[], **e.pos)], **e.pos)
    fast = region.found + [e.set(parity, e.const(False, BOOL)), e.set(ran, e.const(False, BOOL)), sweeps, finish]

    # the fast path's loop variables and temporaries are its own: had it shared the slots of the
    # loop as written, the `outline` pass would take them for values set before the loop
    fresh = {s: e.local(f.local_names[s].lstrip("$"), f.local_types[s])
             for s in sorted({n.slot for n in walk(loop) if isinstance(n, (ir.LocalSet, ir.ForRange))})}
    for n in (n for stmt in fast for n in walk(stmt)):
        if isinstance(n, (ir.LocalGet, ir.LocalSet, ir.ForRange)) and n.slot in fresh:
            n.slot = fresh[n.slot]

    conditions = unique(in_bounds_conditions(sw.stencil, e.pos) + in_bounds_conditions(sw.copy_back, e.pos))
    conditions += [e.cmp("cmp.lt", copy.deepcopy(lp.start), copy.deepcopy(lp.stop)) for lp in loops]
    conditions.append(disjoint(f, [sw.a, sw.b], sorted(sw.stencil.read - {sw.a, sw.b}), e.pos))
    loop.intent, loop.note = "", "the sweeps as written"
    return ir.If(cond=e.both(*conditions), then=fast, otherwise=[loop], intent="jacobi", **e.pos)


def _odd_sweep(e: _Emit, sw: _Sweep, region: _Region) -> list[ir.Stmt]:
    """An odd sweep, into `a`: the middle of the region, whose neighbourhoods lie inside it, reads
    `b` alone (a stencil nest of its own); the edges around it pick per element."""
    loops = sw.stencil.loops
    last = len(loops) - 1
    # per dimension [lo, mid_lo) edge, [mid_lo, mid_hi) middle, [mid_hi, hi) edge; the middle is
    # empty where the region is thinner than the stencil's reach
    mid_lo, mid_hi = [], []
    out: list[ir.Stmt] = []
    for d in range(len(loops)):
        mid_lo.append(e.local(f"mid_lo{d}", INT))
        mid_hi.append(e.local(f"mid_hi{d}", INT))
        out += [e.set(mid_lo[d], e.pick(e.cmp("cmp.lt", e.get(region.inner_lo[d]), e.get(region.hi[d])),
                                        region.inner_lo[d], region.hi[d])),
                e.set(mid_hi[d], e.pick(e.cmp("cmp.gt", e.get(region.inner_hi[d]), e.get(mid_lo[d])),
                                        region.inner_hi[d], mid_lo[d]))]
    out.append(e.nest(loops, mid_lo, mid_hi, _retarget(e, sw, lambda access: _from_b(e, sw, access))))
    # the edges: in a middle row the elements either side of the middle, in the others all of them
    first_end, second_start, side = e.local("first_end", INT), e.local("second_start", INT), e.local("side", INT)
    lo, hi = region.lo[last], region.hi[last]
    if last:
        row = loops[0].slot
        middle_row = e.both(e.cmp("cmp.ge", e.get(row), e.get(mid_lo[0])), e.cmp("cmp.lt", e.get(row), e.get(mid_hi[0])))
        bounds = [e.set(first_end, e.pick(middle_row, mid_lo[last], hi)),
                  e.set(second_start, e.pick(copy.deepcopy(middle_row), mid_hi[last], hi))]
    else:
        bounds = [e.set(first_end, e.get(mid_lo[0])), e.set(second_start, e.get(mid_hi[0]))]
    first_side = e.cmp("cmp.eq", e.get(side), e.const(0, INT))
    edges = bounds + [e.counted(side, e.const(0, INT), e.const(2, INT), [
        e.counted(loops[last].slot, e.pick(first_side, lo, second_start),
                  e.pick(copy.deepcopy(first_side), first_end, hi), _edge_body(e, sw, region))])]
    out += [e.counted(loops[0].slot, e.get(region.lo[0]), e.get(region.hi[0]), edges)] if last else edges
    return out


def _edge_body(e: _Emit, sw: _Sweep, region: _Region) -> list[ir.Stmt]:
    """An odd sweep's body near the region's edges: each read from `b` inside it, else from `a`."""
    loop_vars = [lp.slot for lp in sw.stencil.loops]
    picks: list[ir.Stmt] = []
    chosen: dict[tuple[int, ...], int] = {}
    for access, off in sw.reads:
        if off in chosen:
            continue
        slot = chosen[off] = e.local("near", FLOAT)
        # the element itself lies inside the region: an offset can only leave it on its own side
        inside = [e.cmp("cmp.ge", copy.deepcopy(x), e.get(region.lo[d])) if c < 0 else
                  e.cmp("cmp.lt", copy.deepcopy(x), e.get(region.hi[d]))
                  for d, (x, c) in enumerate(zip(access.args[1:], off)) if c]
        if inside:
            picks += [e.set(slot, copy.deepcopy(access)),
                      ir.If(cond=e.both(*inside), then=[e.set(slot, _from_b(e, sw, access))], otherwise=[], **e.pos)]
        else:
            picks.append(e.set(slot, _from_b(e, sw, access)))

    def offsets(access: ir.CallBuiltin) -> tuple[int, ...]:
        return tuple(index_form(x, loop_vars)[1] for x in access.args[1:1 + len(loop_vars)])  # type: ignore[index]
    return picks + _retarget(e, sw, lambda access: e.get(chosen[offsets(access)]))


def _retarget(e: _Emit, sw: _Sweep, read: Callable[[ir.CallBuiltin], ir.Expr]) -> list[ir.Stmt]:
    """The stencil's inner body storing into `a`, each read of `a` replaced by `read(access)`."""
    def swap(x: ir.Expr) -> ir.Expr:
        if isinstance(x, ir.CallBuiltin) and x.name == "array.get" and x.args[0].slot == sw.a:  # type: ignore[attr-defined]
            return read(x)
        if isinstance(x, ir.CallBuiltin) and x.name == "array.set" and x.args[0].slot == sw.b:  # type: ignore[attr-defined]
            x.args[0] = e.get(sw.a)
        return x
    return rewrite_body(copy.deepcopy(sw.stencil.loops[-1].body), swap)


def _from_b(e: _Emit, sw: _Sweep, access: ir.CallBuiltin) -> ir.Expr:
    """`access` (a read of `a`) reading `b` instead."""
    return ir.CallBuiltin(name="array.get", args=[e.get(sw.b)] + copy.deepcopy(access.args[1:]), ty=access.ty,
                          **e.pos)
