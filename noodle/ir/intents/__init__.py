"""Intent recognisers: what a loop nest computes, read from the IR.

`matmul` recognises the matrix product in its loop forms, `loops` the one- and two-level loops
over arrays (reductions, dot, map, stencil, scan, histogram).  The `intents` pass
(noodle.ir.passes.intents) runs them over every function; the variants each intent can run as
are listed in noodle.ir.variants.
"""
from __future__ import annotations

from noodle.ir import nodes as ir


def counted(s: ir.Stmt) -> bool:
    return isinstance(s, ir.ForRange) and isinstance(s.start, ir.Const) and s.start.value == 0 \
        and isinstance(s.step, ir.Const) and s.step.value == 1


def pure_bound(e: ir.Expr) -> bool:
    """A bound that can be evaluated twice: a constant, a local, `len(x)` or `x.shape[k]` of a local."""
    if isinstance(e, (ir.Const, ir.LocalGet)):
        return True
    if isinstance(e, ir.CallBuiltin) and e.name in ("array.len", "len") and isinstance(e.args[0], ir.LocalGet):
        return True
    return isinstance(e, ir.Index) and isinstance(e.obj, ir.CallBuiltin) and e.obj.name == "array.shape" \
        and isinstance(e.obj.args[0], ir.LocalGet) and isinstance(e.index, ir.Const)
