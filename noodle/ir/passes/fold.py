"""Constant folding, and the `fold` pass: operators applied to constants are computed at compile time.

Folding never changes behaviour: an operation that would fail at run time
(overflow, division by zero, a negative exponent) is left in place so that it
fails at run time with the Noodle stack, exactly as unoptimised code would.
"""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.passes import register
from noodle.ir.types import BOOL, FLOAT, INT, STR
from noodle.ir.walk import rewrite_body

INT_MIN, INT_MAX = -(2**63), 2**63 - 1

_INT_OPS = {
    "int.add": lambda a, b: a + b,
    "int.sub": lambda a, b: a - b,
    "int.mul": lambda a, b: a * b if abs(a) < 2**64 and abs(b) < 2**64 else None,
    "int.floordiv": lambda a, b: a // b if b else None,
    "int.mod": lambda a, b: a % b if b else None,
    "int.pow": lambda a, b: a ** b if 0 <= b <= 64 else None,
    "int.and": lambda a, b: a & b,
    "int.or": lambda a, b: a | b,
    "int.xor": lambda a, b: a ^ b,
    "int.shl": lambda a, b: a << b if 0 <= b <= 64 else None,
    "int.shr": lambda a, b: a >> b if 0 <= b else None,
}
_FLOAT_OPS = {
    "float.add": lambda a, b: a + b,
    "float.sub": lambda a, b: a - b,
    "float.mul": lambda a, b: a * b,
    "float.div": lambda a, b: a / b if b else None,
    "float.floordiv": lambda a, b: a // b if b else None,
    "float.mod": lambda a, b: a % b if b else None,
}
_CMP = {
    "cmp.eq": lambda a, b: a == b, "cmp.ne": lambda a, b: a != b, "cmp.lt": lambda a, b: a < b,
    "cmp.le": lambda a, b: a <= b, "cmp.gt": lambda a, b: a > b, "cmp.ge": lambda a, b: a >= b,
}


def _is_const(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const)


def fold_expr(e: ir.Expr) -> ir.Expr:
    """Fold `e` if its operands are constants (one level: callers fold bottom-up)."""
    pos = {"line": e.line, "col": e.col}
    if isinstance(e, ir.Binary) and _is_const(e.a) and _is_const(e.b):
        a, b = e.a.value, e.b.value  # type: ignore[union-attr]
        if e.op in _INT_OPS and type(a) is int and type(b) is int:
            r = _INT_OPS[e.op](a, b)
            if r is not None and INT_MIN <= r <= INT_MAX:
                return ir.Const(value=r, ty=INT, **pos)
        elif e.op in _FLOAT_OPS and isinstance(a, float) and isinstance(b, float):
            try:
                r = _FLOAT_OPS[e.op](a, b)
            except (OverflowError, ZeroDivisionError, ValueError):
                r = None
            if r is not None:
                return ir.Const(value=float(r), ty=FLOAT, **pos)
        elif e.op in _CMP and type(a) is type(b) and isinstance(a, (int, float, str, bool)):
            return ir.Const(value=bool(_CMP[e.op](a, b)), ty=BOOL, **pos)
        elif e.op == "str.concat" and isinstance(a, str) and isinstance(b, str) and len(a) + len(b) <= 4096:
            return ir.Const(value=a + b, ty=STR, **pos)
    elif isinstance(e, ir.Unary) and _is_const(e.x):
        x = e.x.value  # type: ignore[union-attr]
        if e.op == "int.neg" and type(x) is int and x != INT_MIN:
            return ir.Const(value=-x, ty=INT, **pos)
        if e.op == "float.neg" and isinstance(x, float):
            return ir.Const(value=-x, ty=FLOAT, **pos)
        if e.op == "not" and isinstance(x, bool):
            return ir.Const(value=not x, ty=BOOL, **pos)
        if e.op == "int.to_float" and type(x) is int:
            return ir.Const(value=float(x), ty=FLOAT, **pos)
    elif isinstance(e, ir.Logical) and _is_const(e.a):
        a = e.a.value  # type: ignore[union-attr]
        if e.op == "and":
            return e.b if a is True else ir.Const(value=False, ty=BOOL, **pos)
        return ir.Const(value=True, ty=BOOL, **pos) if a is True else e.b
    elif isinstance(e, ir.Cond) and _is_const(e.cond):
        return e.then if e.cond.value is True else e.otherwise  # type: ignore[union-attr]
    return e


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
