"""The `dce` pass: dead code elimination.

Removes statements after an unconditional exit (return, throw, break,
continue) in the same block, replaces an `if` on a constant by the branch
taken, and drops `while false` loops and expression statements that are
constants (no effect).
"""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.passes import register

_EXITS = (ir.Return, ir.Throw, ir.Break, ir.Continue)


def _clean(body: list[ir.Stmt]) -> tuple[list[ir.Stmt], bool]:
    out: list[ir.Stmt] = []
    changed = False
    for i, s in enumerate(body):
        if isinstance(s, ir.If):
            s.then, c1 = _clean(s.then)
            s.otherwise, c2 = _clean(s.otherwise)
            changed |= c1 or c2
            if isinstance(s.cond, ir.Const):
                out.extend(s.then if s.cond.value is True else s.otherwise)
                changed = True
                continue
        elif isinstance(s, ir.While):
            s.body, c = _clean(s.body)
            changed |= c
            if isinstance(s.cond, ir.Const) and s.cond.value is False:
                changed = True
                continue
        elif isinstance(s, (ir.ForRange, ir.ForEach)):
            s.body, c = _clean(s.body)
            changed |= c
        elif isinstance(s, ir.TryCatch):
            s.body, c1 = _clean(s.body)
            s.handler, c2 = _clean(s.handler)
            changed |= c1 or c2
        elif isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Const):
            changed = True
            continue
        out.append(s)
        if isinstance(s, _EXITS):
            if i + 1 < len(body):
                changed = True
            break
    return out, changed


@register("dce", "remove unreachable statements and constant branches")
def dce_function(f: ir.Function) -> bool:
    f.body, changed = _clean(f.body)
    return changed
