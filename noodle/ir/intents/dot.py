"""Dot product: exactly `s += x[i] * y[i]` over two whole float arrays; the loop gets the BLAS variant."""
from __future__ import annotations

import copy

from noodle.ir import nodes as ir
from noodle.ir import variants
from noodle.ir.intents.access import is_local
from noodle.ir.intents.loop_facts import LoopFacts, flatten
from noodle.ir.types import BOOL, FLOAT, ArrayT, prune

def recognise(facts: LoopFacts) -> tuple[str, str] | None:
    """One unfiltered sum of products of two 1-D float arrays at the loop's index, nothing stored."""
    if facts.stores or len(facts.accumulations) != 1:
        return None
    first = facts.accumulations[0]
    if first.filtered or first.kind != "sum" or not dot_operands(first.stmt, facts.nest):
        return None
    return "dot", f"into `{facts.names[first.stmt.slot]}`"


def dot_operands(acc: ir.LocalSet, nest: list[ir.ForRange]) -> tuple[ir.LocalGet, ir.LocalGet] | None:
    """`s = s + x[i] * y[i]` over 1-D float arrays in a single loop from 0: (x, y)."""
    if len(nest) != 1 or not (isinstance(nest[0].start, ir.Const) and nest[0].start.value == 0):
        return None
    v = acc.value
    if not isinstance(v, ir.Binary):
        return None  # an f32 or i32 sum is a native call: no BLAS variant for those
    product = v.b if is_local(v.a, acc.slot) else v.a
    if not (isinstance(product, ir.Binary) and product.op == "float.mul"):
        return None
    out = []
    for e in (product.a, product.b):
        if not (isinstance(e, ir.CallBuiltin) and e.name == "array.get" and len(e.args) == 2
                and isinstance(e.args[0], ir.LocalGet) and is_local(e.args[1], nest[0].slot)):
            return None
        t = prune(e.args[0].ty)
        if not (isinstance(t, ArrayT) and t.ndim == 1 and t.elem == FLOAT):
            return None
        out.append(e.args[0])
    return out[0], out[1]  # type: ignore[return-value]


def variant(f: ir.Function, loop: ir.ForRange) -> ir.Stmt | None:
    """`if array.dot_fits(x, y, n) { s = s + array.dot(x, y) } else { loop }`."""
    from noodle.ir.intents import pure_bound

    acc = next(s for s, _ in flatten(loop.body[0]))
    operands = dot_operands(acc, [loop])  # type: ignore[arg-type]
    variant = variants.library_variant("dot")
    if operands is None or variant is None or not pure_bound(loop.stop):
        return None
    assert isinstance(acc, ir.LocalSet)
    pos = {"line": loop.line, "col": loop.col}
    x, y = (copy.deepcopy(o) for o in operands)
    fits = ir.CallBuiltin(name=variant.guard or "", args=[x, y, copy.deepcopy(loop.stop)], ty=BOOL, **pos)
    total = ir.Binary(op="float.add", a=ir.LocalGet(slot=acc.slot, ty=FLOAT, **pos),
                      b=ir.CallBuiltin(name=variant.run or "", args=[copy.deepcopy(x), copy.deepcopy(y)], ty=FLOAT,
                                       **pos), ty=FLOAT, **pos)
    return ir.If(cond=fits, then=[ir.LocalSet(slot=acc.slot, value=total, **pos)], otherwise=[loop], intent="dot",
                 **pos)
