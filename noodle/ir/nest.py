"""What a loop nest over arrays touches, and whether it can fail: the analysis behind the passes
that reorder or split such a nest (noodle.ir.passes.parallel, noodle.ir.intents.sweeps).

`analyse` reads a nest of one or two counted loops whose body stores into and reads from float
arrays at `i + c` / `j + c` of the loop variables or at constants, and computes with nothing that
can fail (float `+ - *`, negation, index arithmetic the `ranges` pass proved cannot overflow);
`in_bounds_conditions` gives the conditions, decidable before the nest runs, that every such
index stays in bounds for every iteration.  A nest that passes both does exactly the same work
in any order of its outer iterations, or none: nothing in it raises half-way.
"""
from __future__ import annotations

import copy

from noodle.ir import nodes as ir
from noodle.ir.native_plan import array_kind
from noodle.ir.types import BOOL, FLOAT, INT, ListT, prune
from noodle.ir.walk import walk

#: offsets beyond this are not worth proving in bounds (and keep the guard's arithmetic far from overflow)
_MAX_OFFSET = 1 << 20


class Nest:
    """What the guard needs: the loops (outer first) and every array access with its index forms."""

    def __init__(self, loops: list[ir.ForRange]) -> None:
        self.loops = loops
        self.accesses: list[tuple[ir.CallBuiltin, list[tuple[int | None, int]]]] = []  # (access, [(loop, c)])
        self.written: set[int] = set()
        self.read: set[int] = set()


def analyse(f: ir.Function, loop: ir.ForRange) -> Nest | None:
    """The nest, when nothing in it can fail and every index has a form the guard can check."""
    loops = [loop]
    if len(loop.body) == 1 and isinstance(loop.body[0], ir.ForRange) and loop.body[0].intent == "nested":
        loops.append(loop.body[0])
    if not all(isinstance(x.step, ir.Const) and x.step.value == 1 for x in loops):
        return None
    nest = Nest(loops)
    loop_vars = [x.slot for x in loops]
    assigned = {n.slot for n in walk(loop) if isinstance(n, (ir.LocalSet, ir.ForRange))}
    inner = loops[-1]
    for bound in (inner.start, inner.stop) if len(loops) == 2 else ():
        if any(isinstance(n, ir.LocalGet) and n.slot in assigned for n in walk(bound)) or not can_not_fail(bound, True):
            return None  # the inner range must not depend on the outer loop
    for s in inner.body:
        for n in walk(s):
            if isinstance(n, ir.CallBuiltin) and n.name in ("array.get", "array.set"):
                arr = n.args[0]
                if not (isinstance(arr, ir.LocalGet) and array_kind(arr.ty) in ("float/1", "float/2")):
                    return None
                ndim = int(array_kind(arr.ty).split("/")[1])  # type: ignore[union-attr]
                index = [index_form(x, loop_vars) for x in n.args[1:1 + ndim]]
                if any(i is None for i in index):
                    return None
                nest.accesses.append((n, index))  # type: ignore[arg-type]
                (nest.written if n.name == "array.set" else nest.read).add(arr.slot)
        if not can_not_fail_stmt(s):
            return None
    return nest if nest.written else None


def index_form(e: ir.Expr, loop_vars: list[int]) -> tuple[int | None, int] | None:
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


def can_not_fail_stmt(s: ir.Stmt) -> bool:
    if isinstance(s, ir.ExprStmt):
        return can_not_fail(s.expr, False)
    return isinstance(s, ir.LocalSet) and prune(s.value.ty) == FLOAT and can_not_fail(s.value, False)


def can_not_fail(e: ir.Expr, bound: bool) -> bool:
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


def unique(conditions: list[ir.Expr]) -> list[ir.Expr]:
    """Each condition once (accesses at the same position ask the same)."""
    from noodle.ir.printer import expr_text

    seen: dict[str, ir.Expr] = {}
    for c in conditions:
        seen.setdefault(expr_text(c), c)
    return list(seen.values())


def in_bounds_conditions(nest: Nest, pos: dict[str, int]) -> list[ir.Expr]:
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


def disjoint(f: ir.Function, written: list[int], others: list[int], pos: dict[str, int]) -> ir.CallBuiltin:
    """`parallel.disjoint(n, written..., others...)`: none of the arrays in `written` shares a byte
    with any other array given (answered by native code; the VM's answer is no)."""
    return ir.CallBuiltin(name="parallel.disjoint", args=[ir.Const(value=len(written), ty=INT, **pos)] + [
        ir.LocalGet(slot=s, ty=f.local_types[s], **pos) for s in written + others], ty=BOOL, **pos)


def all_of(conditions: list[ir.Expr], pos: dict[str, int]) -> ir.Expr:
    """The conditions joined by `and`, in order (each evaluated only when those before hold)."""
    out = conditions[0]
    for c in conditions[1:]:
        out = ir.Logical(op="and", a=out, b=c, ty=BOOL, **pos)
    return out
