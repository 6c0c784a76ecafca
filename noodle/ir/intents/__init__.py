"""Intent recognisers: what a loop nest computes, read from the IR.

Which file recognises which intent:

    intent        file             recognises
    contraction   contraction.py   `X = beta * X + alpha * sum of products` in any loop order, names,
                                   scalars, transposes, triangles: one BLAS call (gemm, gemv, ger, syrk,
                                   syr2k, trmm), after loop distribution (noodle.ir.affine)
    factorisation factorisation.py a Cholesky factorisation in place (any loop order, the lower or the
                                   upper form), proven step by step from the affine analysis: LAPACK's
                                   dpotrf, the loops when LAPACK finds the matrix not positive definite
    reduction     reduction.py     sum, product, min, max, count: only accumulations
    dot           dot.py           `s += x[i] * y[i]` over two whole float arrays (BLAS variant)
    map           maps.py          only stores, each element from the same position of the inputs
    stencil       stencil.py       a map reading an input at fixed offsets
    scan          scan.py          a running sum stored each iteration
    histogram     histogram.py     `h[k] += 1` with `k` read from an array
    jacobi        sweeps.py        a stencil repeated and copied back (run double-buffered)
    array exprs   expressions.py   chains of elementwise array operations, fused into one loop

The six loop intents (reduction to histogram) share one reading of the loop, `loop_facts.py`
(accumulations, stores, the independence checks; array positions in `access.py`), and are tried
in the order of `loops.RECOGNISERS`.  The `intents` pass (noodle.ir.passes.intents) runs the
recognisers over every function; the variants each intent can run as are listed in
noodle.ir.variants.
"""
from __future__ import annotations

from noodle.ir import nodes as ir


def pure_bound(e: ir.Expr) -> bool:
    """A bound that can be evaluated twice: a constant, a local, `len(x)` or `x.shape[k]` of a local."""
    if isinstance(e, (ir.Const, ir.LocalGet)):
        return True
    if isinstance(e, ir.CallBuiltin) and e.name in ("array.len", "len") and isinstance(e.args[0], ir.LocalGet):
        return True
    return isinstance(e, ir.Index) and isinstance(e.obj, ir.CallBuiltin) and e.obj.name == "array.shape" \
        and isinstance(e.obj.args[0], ir.LocalGet) and isinstance(e.index, ir.Const)
