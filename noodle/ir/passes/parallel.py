"""The `parallel` pass: a recognised map or stencil over large arrays, split across the CPU's cores.

A loop nest the intents pass recognised as a map or a stencil writes each element from inputs it
only reads: its outer iterations are independent, provided the arrays it writes share no memory
with those it reads and nothing in it can fail half-way.  This pass moves the nest into a
*chunk* function of its own, `__chunk_N(captured..., lo, hi)`, running the outer loop from `lo`
to `hi`, and guards a parallel run of it:

    if <every index stays in bounds for the whole nest>            // no IndexError possible
       and parallel.worth(accesses, outer and inner bounds)        // enough work, cores > 1
       and parallel.disjoint(written arrays..., read arrays...) {  // no overlap, checked at run time
        parallel.run(__chunk_N, start, stop, captured...)          // threads over row ranges
    } else { __chunk_N(captured..., start, stop) }                 // all the rows, on this core

Only native code takes the first branch (the lowering starts threads; the VM's natives answer
no), and the chunk computes each element exactly as the loop does, so the results are the
loop's, bit for bit, whichever branch runs.  What qualifies is kept narrow, so that nothing in a
chunk can fail: float arithmetic (`+ - *`, no division), array reads and writes at `i + c` /
`j + c` of the loop variables or at constants, index arithmetic the `ranges` pass proved cannot
overflow, and inner loop bounds the outer loop does not change.
"""
from __future__ import annotations

import copy

from noodle.ir import nodes as ir
from noodle.ir.nest import all_of, analyse, disjoint, in_bounds_conditions, unique
from noodle.ir.passes import register_module
from noodle.ir.passes.outline import native_ready
from noodle.ir.types import BOOL, INT, NONE, FnT
from noodle.ir.walk import walk


@register_module("parallel", "split recognised maps and stencils over large arrays across the cores")
def parallel_module(module: ir.Module) -> int:
    """Give every qualifying nest in a native-ready function its parallel variant; returns how many."""
    ready = native_ready(module)
    count = [0]
    for f in list(module.functions):
        if f.name in ready and "no_optimize" not in f.attributes:
            f.body = _body(module, f, f.body, count)
    return count[0]


def _body(module: ir.Module, f: ir.Function, body: list[ir.Stmt], count: list[int]) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    for s in body:
        if isinstance(s, ir.ForRange) and s.intent in ("map", "stencil"):
            split = _split(module, f, s, count)
            out.append(split or s)
            continue
        for field in ("then", "otherwise", "body"):
            if isinstance(getattr(s, field, None), list):
                setattr(s, field, _body(module, f, getattr(s, field), count))
        out.append(s)
    return out


def _split(module: ir.Module, f: ir.Function, loop: ir.ForRange, count: list[int]) -> ir.Stmt | None:
    nest = analyse(f, loop)
    if nest is None:
        return None
    pos = {"line": loop.line, "col": loop.col}
    count[0] += 1
    chunk, captured = _chunk_function(module, f, loop, count[0])
    conditions = unique(in_bounds_conditions(nest, pos))
    bounds = [copy.deepcopy(x) for lp in nest.loops for x in (lp.start, lp.stop)]
    # the work is counted in array accesses: a stencil reading five neighbours splits sooner than a copy
    work = [ir.Const(value=len(nest.accesses), ty=INT, **pos)]
    conditions.append(ir.CallBuiltin(name="parallel.worth", args=work + bounds, ty=BOOL, **pos))
    conditions.append(disjoint(f, sorted(nest.written), sorted(nest.read - nest.written), pos))
    guard = all_of(conditions, pos)
    run = ir.CallBuiltin(name="parallel.run", args=[
        ir.FuncRef(name=chunk.name, ty=FnT(tuple(chunk.local_types[:chunk.params]), NONE), **pos),
        copy.deepcopy(loop.start), copy.deepcopy(loop.stop)] + [
        ir.LocalGet(slot=s, ty=f.local_types[s], **pos) for s in captured], ty=NONE, **pos)
    # on one core the same chunk runs all the rows: the nest is compiled once, not twice
    whole = ir.Call(func=chunk.name, args=[ir.LocalGet(slot=s, ty=f.local_types[s], **pos) for s in captured]
                    + [copy.deepcopy(loop.start), copy.deepcopy(loop.stop)], ty=NONE, **pos)
    return ir.If(cond=guard, then=[ir.ExprStmt(expr=run, **pos)], otherwise=[ir.ExprStmt(expr=whole, **pos)], **pos)


def _chunk_function(module: ir.Module, f: ir.Function, loop: ir.ForRange, n: int) -> tuple[ir.Function, list[int]]:
    """`__chunk_N(captured..., lo, hi)`: the nest with its outer loop running from lo to hi."""
    pos = {"line": loop.line, "col": loop.col}
    used = sorted({x.slot for x in walk(loop) if isinstance(x, (ir.LocalGet, ir.LocalSet, ir.ForRange))})
    own = {x.slot for x in walk(loop) if isinstance(x, (ir.LocalSet, ir.ForRange))}
    captured = [s for s in used if s not in own]
    # parameters: what the nest reads from outside, then the row range; its own locals after them
    own_slots = sorted(own)
    lo, hi = len(captured), len(captured) + 1
    slot_map = {old: new for new, old in enumerate(captured)}
    slot_map.update({old: hi + 1 + k for k, old in enumerate(own_slots)})
    moved = copy.deepcopy(loop)
    # the front end shares subtrees (`a[i, j] -= x` reads and writes through the same index nodes),
    # and deepcopy keeps the sharing: each node is renumbered once, however often the walk meets it
    renumbered: set[int] = set()
    for x in walk(moved):
        if isinstance(x, (ir.LocalGet, ir.LocalSet, ir.ForRange)) and id(x) not in renumbered:
            renumbered.add(id(x))
            x.slot = slot_map[x.slot]
    moved.start = ir.LocalGet(slot=lo, ty=INT, **pos)
    moved.stop = ir.LocalGet(slot=hi, ty=INT, **pos)
    names = [f.local_names[s] for s in captured] + ["$lo", "$hi"] + [f.local_names[s] for s in own_slots]
    types = [f.local_types[s] for s in captured] + [INT, INT] + [f.local_types[s] for s in own_slots]
    chunk = ir.Function(name=f"__chunk_{n}_{f.name.replace('.', '_')}", kind="fn",
                        display=f"{f.display} (loop at line {loop.line}, a chunk of its rows)",
                        params=len(captured) + 2, local_names=names, local_types=types, ret=NONE,
                        body=[moved, ir.Return(value=None, **pos)], line=loop.line, col=loop.col, exported=False)
    module.functions.append(chunk)
    return chunk, captured
