"""Array expressions recognised by what they compute.

`sum(x * y)` over float arrays is a dot product: NumPy would make the product a temporary array
and sum it in a second pass; `array.sum_of_products(x, y)` does one pass with no temporary (BLAS
when both have one shape, else the two steps as written, so broadcasting and errors are
unchanged).  Its order of additions differs from NumPy's pairwise sum (within the reassociation
a recognised reduction allows), so `--mode safe` binds the two-step version instead
(noodle.backends.variants).

Operands are evaluated once each, in the order the expression names them, as before.
"""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.types import FLOAT, ArrayT, prune
from noodle.ir.walk import rewrite_body

#: the elementwise natives of Array arithmetic (noodle.stdlib.arrays)
ELEMENTWISE = frozenset({"array.add", "array.sub", "array.mul", "array.div", "array.floordiv", "array.mod",
                         "array.pow", "array.neg", "array.sqrt", "array.exp", "array.log"})


def fuse(f: ir.Function) -> int:
    """Rewrite the recognised array expressions of `f`; returns how many."""
    count = [0]

    def visit(e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.CallBuiltin) and e.name == "array.sum.float" and len(e.args) == 1:
            product = e.args[0]
            if isinstance(product, ir.CallBuiltin) and product.name == "array.mul" \
                    and all(_float_array(x) for x in product.args):
                count[0] += 1
                return ir.CallBuiltin(name="array.sum_of_products", args=product.args, ty=FLOAT, line=e.line,
                                      col=e.col)
        return e

    f.body = rewrite_body(f.body, visit)
    return count[0]


def _float_array(e: ir.Expr) -> bool:
    t = prune(e.ty)
    return isinstance(t, ArrayT) and t.elem == FLOAT
