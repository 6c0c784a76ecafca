"""The `fold` pass: constant folding over a whole function (see :mod:`.fold`)."""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.passes import register
from noodle.ir.passes.fold import fold_expr
from noodle.ir.walk import rewrite_body


@register("fold", "compute operators on constants at compile time")
def fold_function(f: ir.Function) -> bool:
    changed = False

    def fold(e: ir.Expr) -> ir.Expr:
        nonlocal changed
        out = fold_expr(e)
        if out is not e:
            changed = True
        return out

    f.body = rewrite_body(f.body, fold)
    return changed
