"""The `outline` pass: move a native-ready loop out of a function that cannot run natively.

A function runs natively only if all of it qualifies (:mod:`noodle.ir.native_plan`);
a `main` that prints its result never does, yet its loop nest may be pure
arithmetic.  This pass moves such a loop into a function of its own,

    var total = 0                                  var total = 0
    for i in 0..N { for j in 0..N {        →       total = __loop_1_main(total)
        total += (i * j) % 7 } }                   print(total)
    print(total)

taking the variables the loop reads from outside as parameters and returning
the ones it changes (a tuple when there are several), so the backend can
compile it.  In the VM the outlined function costs one call per loop, not per
iteration.

A loop is left alone when moving it could be observed: inside `try` (a
variable changed before an error would be seen by `catch`), in a function
with lambdas (they may capture its variables), with a `return`, or touching
anything but int, float and bool locals, Arrays it only indexes (an Array
variable the loop assigns stays in the VM), and calls to other native-ready
functions.  An Array goes to the outlined function by reference, so stores
into its elements are seen by the caller as before.
"""
from __future__ import annotations

from noodle.ir import variants
from noodle.ir import nodes as ir
from noodle.ir.native_plan import SCALAR_KINDS, Unsupported, array_kind, check_stmt, intent_guard, scalar, unsupported_reason
from noodle.ir.passes import register_module
from noodle.ir.types import NONE, TupleT
from noodle.ir.walk import walk


@register_module("outline", "move native-ready loops out of functions that run in the VM")
def outline_module(module: ir.Module) -> int:
    """Outline the loops of every function of `module`; returns how many loops moved."""
    lambdas_of = {f.parent for f in module.functions if f.parent}
    ready = native_ready(module)
    moved = 0
    for f in list(module.functions):
        # a function choosing between an intent's variants runs in the VM even when native code
        # could take it (native callers run its loops): its loops are outlined like any other's
        if f.kind not in ("fn", "init", "test") or (f.name in ready and intent_guard(f) is None) \
                or f.name in lambdas_of or "no_optimize" in f.attributes:
            continue
        counter = [0]
        f.body = _outline_body(module, f, f.body, ready, counter)
        moved += counter[0]
    return moved


def native_ready(module: ir.Module) -> set[str]:
    """Functions that can run natively (callees included)."""
    ok = {f.name for f in module.functions if f.kind == "fn" and unsupported_reason(f) is None}
    changed = True
    while changed:
        changed = False
        for f in module.functions:
            if f.name in ok and any(c not in ok for c in _calls(f.body)):
                ok.discard(f.name)
                changed = True
    return ok


def _calls(body: list[ir.Stmt]) -> set[str]:
    return {n.func for s in body for n in walk(s) if isinstance(n, ir.Call)}


def _outline_body(module: ir.Module, f: ir.Function, body: list[ir.Stmt], ready: set[str],
                  counter: list[int]) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    for i, s in enumerate(body):
        if (isinstance(s, (ir.While, ir.ForRange)) or _chosen_natively(s)) and _movable(f, s, ready):
            out.extend(_outline(module, f, body, i, s, counter))
        elif isinstance(s, ir.If):
            s.then = _outline_body(module, f, s.then, ready, counter)
            s.otherwise = _outline_body(module, f, s.otherwise, ready, counter)
            out.append(s)
        elif isinstance(s, (ir.While, ir.ForRange, ir.ForEach)):
            s.body = _outline_body(module, f, s.body, ready, counter)
            out.append(s)
        else:  # TryCatch bodies stay as they are (see the module docstring)
            out.append(s)
    return out


def _chosen_natively(s: ir.Stmt) -> bool:
    """Is `s` an intent dispatch whose guard only native code answers yes (the double-buffered
    sweeps)?  It moves as a whole, guard included, like a loop; left in the VM it would always
    take its loops as written."""
    return isinstance(s, ir.If) and bool(s.intent) and not variants.chosen_in_vm(s.intent)


def _movable(f: ir.Function, loop: ir.Stmt, ready: set[str]) -> bool:
    try:
        check_stmt(loop)
    except Unsupported:
        return False
    for node in walk(loop):
        if isinstance(node, ir.Return):
            return False
        if isinstance(node, ir.Call) and node.func not in ready:
            return False
        if isinstance(node, (ir.LocalSet, ir.ForRange)) \
                and scalar(f.local_types[node.slot]) not in SCALAR_KINDS:
            return False
        if isinstance(node, ir.LocalGet) and scalar(f.local_types[node.slot]) not in SCALAR_KINDS \
                and array_kind(f.local_types[node.slot]) is None:
            return False
    return True


def _defined_outside(f: ir.Function, loop: ir.Stmt) -> set[int]:
    """Slots that hold a value from outside the loop: parameters and everything set elsewhere in `f`."""
    inside = {id(n) for n in walk(loop)}
    outside = set(range(f.params))
    for s in f.body:
        for n in walk(s):
            if id(n) in inside:
                continue
            if isinstance(n, (ir.LocalSet, ir.ForRange, ir.ForEach)):
                outside.add(n.slot)
            elif isinstance(n, ir.TryCatch) and n.slot >= 0:
                outside.add(n.slot)
    return outside


def _outline(module: ir.Module, f: ir.Function, body: list[ir.Stmt], index: int, loop: ir.Stmt,
             counter: list[int]) -> list[ir.Stmt]:
    pos = {"line": loop.line, "col": loop.col}
    used: set[int] = set()
    written: set[int] = set()
    for n in walk(loop):
        if isinstance(n, ir.LocalGet):
            used.add(n.slot)
        elif isinstance(n, (ir.LocalSet, ir.ForRange)):
            used.add(n.slot)
            written.add(n.slot)
    outside = _defined_outside(f, loop)
    params = sorted(s for s in used if s in outside)
    results = sorted(s for s in written if s in outside)
    own = sorted(used - set(params))
    slot_map = {old: new for new, old in enumerate(params + own)}
    counter[0] += 1
    name = f"__loop_{counter[0]}_{f.name.replace('.', '_')}"
    moved = _renumber(loop, slot_map)
    types = [f.local_types[s] for s in params + own]
    if len(results) > 1:
        ret_ty = TupleT(tuple(f.local_types[s] for s in results))
        ret_val: ir.Expr | None = ir.TupleLit(items=[ir.LocalGet(slot=slot_map[s], ty=f.local_types[s], **pos)
                                                      for s in results], ty=ret_ty, **pos)
    elif results:
        ret_ty = f.local_types[results[0]]
        ret_val = ir.LocalGet(slot=slot_map[results[0]], ty=ret_ty, **pos)
    else:
        ret_ty, ret_val = NONE, None
    fn = ir.Function(name=name, kind="fn", display=f"{f.display} (loop at line {loop.line})", params=len(params),
                     local_names=[f.local_names[s] for s in params + own], local_types=types, ret=ret_ty,
                     body=[moved, ir.Return(value=ret_val, **pos)], line=loop.line, col=loop.col, exported=False)
    module.functions.append(fn)
    call = ir.Call(func=name, args=[ir.LocalGet(slot=s, ty=f.local_types[s], **pos) for s in params], ty=ret_ty,
                   **pos)
    if len(results) > 1:
        tmp = len(f.local_names)
        f.local_names.append(f"${tmp}")
        f.local_types.append(ret_ty)
        return [ir.LocalSet(slot=tmp, value=call, **pos)] + [
            ir.LocalSet(slot=s, value=ir.TupleGet(obj=ir.LocalGet(slot=tmp, ty=ret_ty, **pos), index=k,
                                                  ty=f.local_types[s], **pos), **pos)
            for k, s in enumerate(results)]
    if results:
        return [ir.LocalSet(slot=results[0], value=call, **pos)]
    return [ir.ExprStmt(expr=call, **pos)]


def _renumber(loop: ir.Stmt, slot_map: dict[int, int]) -> ir.Stmt:
    """The loop's nodes move to the new function: give them its slot numbers (each node once)."""
    seen: set[int] = set()
    for n in walk(loop):
        if isinstance(n, (ir.LocalGet, ir.LocalSet, ir.ForRange)) and id(n) not in seen:
            seen.add(id(n))
            n.slot = slot_map[n.slot]
    return loop
