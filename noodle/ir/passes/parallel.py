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
from noodle.ir.scalar import array_kind
from noodle.ir.types import BOOL, FLOAT, INT, NONE, FnT, ListT, prune
from noodle.ir.walk import walk

#: offsets beyond this are not worth proving in bounds (and keep the guard's arithmetic far from overflow)
_MAX_OFFSET = 1 << 20


def parallel_module(module: ir.Module, native_ready: set[str]) -> int:
    """Give every qualifying nest in a native-ready function its parallel variant; returns how many."""
    count = [0]
    for f in list(module.functions):
        if f.name in native_ready and "no_optimize" not in f.attributes:
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


class _Nest:
    """What the guard needs: the loops (outer first) and every array access with its index forms."""

    def __init__(self, loops: list[ir.ForRange]) -> None:
        self.loops = loops
        self.accesses: list[tuple[ir.CallBuiltin, list[tuple[int | None, int]]]] = []  # (access, [(loop, c)])
        self.written: set[int] = set()
        self.read: set[int] = set()


def _split(module: ir.Module, f: ir.Function, loop: ir.ForRange, count: list[int]) -> ir.Stmt | None:
    nest = _analyse(f, loop)
    if nest is None:
        return None
    pos = {"line": loop.line, "col": loop.col}
    count[0] += 1
    chunk, captured = _chunk_function(module, f, loop, count[0])
    conditions = _unique(_in_bounds(nest, pos))
    bounds = [copy.deepcopy(x) for lp in nest.loops for x in (lp.start, lp.stop)]
    # the work is counted in array accesses: a stencil reading five neighbours splits sooner than a copy
    work = [ir.Const(value=len(nest.accesses), ty=INT, **pos)]
    conditions.append(ir.CallBuiltin(name="parallel.worth", args=work + bounds, ty=BOOL, **pos))
    arrays = sorted(nest.written) + sorted(nest.read - nest.written)
    conditions.append(ir.CallBuiltin(name="parallel.disjoint", args=[
        ir.Const(value=len(nest.written), ty=INT, **pos)] + [
        ir.LocalGet(slot=s, ty=f.local_types[s], **pos) for s in arrays], ty=BOOL, **pos))
    guard = conditions[0]
    for c in conditions[1:]:
        guard = ir.Logical(op="and", a=guard, b=c, ty=BOOL, **pos)
    run = ir.CallBuiltin(name="parallel.run", args=[
        ir.FuncRef(name=chunk.name, ty=FnT(tuple(chunk.local_types[:chunk.params]), NONE), **pos),
        copy.deepcopy(loop.start), copy.deepcopy(loop.stop)] + [
        ir.LocalGet(slot=s, ty=f.local_types[s], **pos) for s in captured], ty=NONE, **pos)
    # on one core the same chunk runs all the rows: the nest is compiled once, not twice
    whole = ir.Call(func=chunk.name, args=[ir.LocalGet(slot=s, ty=f.local_types[s], **pos) for s in captured]
                    + [copy.deepcopy(loop.start), copy.deepcopy(loop.stop)], ty=NONE, **pos)
    return ir.If(cond=guard, then=[ir.ExprStmt(expr=run, **pos)], otherwise=[ir.ExprStmt(expr=whole, **pos)], **pos)


def _analyse(f: ir.Function, loop: ir.ForRange) -> _Nest | None:
    """The nest, when nothing in it can fail and every index has a form the guard can check."""
    loops = [loop]
    if len(loop.body) == 1 and isinstance(loop.body[0], ir.ForRange) and loop.body[0].intent == "nested":
        loops.append(loop.body[0])
    if not all(isinstance(x.step, ir.Const) and x.step.value == 1 for x in loops):
        return None
    nest = _Nest(loops)
    loop_vars = [x.slot for x in loops]
    assigned = {n.slot for n in walk(loop) if isinstance(n, (ir.LocalSet, ir.ForRange))}
    inner = loops[-1]
    for bound in (inner.start, inner.stop) if len(loops) == 2 else ():
        if any(isinstance(n, ir.LocalGet) and n.slot in assigned for n in walk(bound)) or not _safe(bound, True):
            return None  # the inner range must not depend on the outer loop
    for s in inner.body:
        for n in walk(s):
            if isinstance(n, ir.CallBuiltin) and n.name in ("array.get", "array.set"):
                arr = n.args[0]
                if not (isinstance(arr, ir.LocalGet) and array_kind(arr.ty) in ("float/1", "float/2")):
                    return None
                ndim = int(array_kind(arr.ty).split("/")[1])  # type: ignore[union-attr]
                index = [_index_form(x, loop_vars) for x in n.args[1:1 + ndim]]
                if any(i is None for i in index):
                    return None
                nest.accesses.append((n, index))  # type: ignore[arg-type]
                (nest.written if n.name == "array.set" else nest.read).add(arr.slot)
        if not _safe_stmt(s):
            return None
    return nest if nest.written else None


def _index_form(e: ir.Expr, loop_vars: list[int]) -> tuple[int | None, int] | None:
    """(loop variable, c) for `v`, `v + c`, `v - c`; (None, c) for a constant c; else None."""
    if isinstance(e, ir.Const) and type(e.value) is int and 0 <= e.value < _MAX_OFFSET:
        return None, e.value
    if isinstance(e, ir.LocalGet) and e.slot in loop_vars:
        return e.slot, 0
    if isinstance(e, ir.Binary) and e.op in ("int.add", "int.sub") and e.skip == 3 \
            and isinstance(e.a, ir.LocalGet) and e.a.slot in loop_vars \
            and isinstance(e.b, ir.Const) and type(e.b.value) is int and abs(e.b.value) < _MAX_OFFSET:
        return e.a.slot, e.b.value if e.op == "int.add" else -e.b.value
    return None


def _safe_stmt(s: ir.Stmt) -> bool:
    if isinstance(s, ir.ExprStmt):
        return _safe(s.expr, False)
    return isinstance(s, ir.LocalSet) and prune(s.value.ty) == FLOAT and _safe(s.value, False)


def _safe(e: ir.Expr, bound: bool) -> bool:
    """Can evaluating `e` not fail?  Float `+ - *` and negation, array accesses (their bounds are
    the guard's business), proven index arithmetic; for loop bounds also lengths and shapes."""
    for n in walk(e):
        if isinstance(n, ir.Binary):
            if n.op.startswith("float.") and n.op[6:] in ("add", "sub", "mul"):
                continue
            if n.op in ("int.add", "int.sub") and n.skip == 3:
                continue
            return False
        if isinstance(n, ir.Unary):
            if n.op != "float.neg":
                return False
        elif isinstance(n, ir.CallBuiltin):
            if n.name not in (("array.get", "array.set") + (("array.len", "array.shape") if bound else ())):
                return False
        elif isinstance(n, ir.Index):
            if not (bound and isinstance(n.obj, ir.CallBuiltin) and n.obj.name == "array.shape"):
                return False
        elif not isinstance(n, (ir.Const, ir.LocalGet)):
            return False
    return True


def _unique(conditions: list[ir.Expr]) -> list[ir.Expr]:
    """Each condition once (accesses at the same position ask the same)."""
    from noodle.ir.printer import expr_text

    seen: dict[str, ir.Expr] = {}
    for c in conditions:
        seen.setdefault(expr_text(c), c)
    return list(seen.values())


def _in_bounds(nest: _Nest, pos: dict[str, int]) -> list[ir.Expr]:
    """Conditions that every access stays in bounds for every iteration of the nest: for an index
    `v + c` with v in [lo, hi), `lo >= -c` and `hi <= extent - c` (neither can overflow: extents
    are lengths, c is small)."""
    out: list[ir.Expr] = []
    by_slot = {lp.slot: lp for lp in nest.loops}

    def const(v: int) -> ir.Const:
        return ir.Const(value=v, ty=INT, **pos)

    for access, index in nest.accesses:
        arr = access.args[0]
        for dim, (var, c) in enumerate(index):
            extent: ir.Expr = ir.CallBuiltin(name="array.len", args=[copy.deepcopy(arr)], ty=INT, **pos) \
                if dim == 0 else ir.Index(obj=ir.CallBuiltin(name="array.shape", args=[copy.deepcopy(arr)],
                                                                ty=ListT(INT), **pos),
                                          index=const(dim), ty=INT, **pos)
            if var is None:  # a constant index: it must lie inside
                out.append(ir.Binary(op="cmp.lt", a=const(c), b=extent, ty=BOOL, **pos))
                continue
            lp = by_slot[var]
            out.append(ir.Binary(op="cmp.ge", a=copy.deepcopy(lp.start), b=const(-c), ty=BOOL, **pos))
            out.append(ir.Binary(op="cmp.le", a=copy.deepcopy(lp.stop),
                                 b=ir.Binary(op="int.sub", a=extent, b=const(c), ty=INT, skip=3, **pos),
                                 ty=BOOL, **pos))
    return out


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
    for x in walk(moved):
        if isinstance(x, (ir.LocalGet, ir.LocalSet, ir.ForRange)):
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
