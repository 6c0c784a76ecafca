"""Generic traversal of the IR: children of a node, and bottom-up rewriting."""
from __future__ import annotations

from typing import Callable, Iterator

from noodle.ir import nodes as ir

ExprFn = Callable[[ir.Expr], ir.Expr]

#: For each node kind: (expression fields, expression-list fields, statement-list fields).
_SHAPE: dict[type, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    ir.Const: ((), (), ()), ir.LocalGet: ((), (), ()), ir.FreeGet: ((), (), ()),
    ir.GlobalGet: ((), (), ()), ir.FuncRef: ((), (), ()), ir.ModRef: ((), (), ()),
    ir.Closure: ((), (), ()),
    ir.Unary: (("x",), (), ()), ir.Binary: (("a", "b"), (), ()), ir.Logical: (("a", "b"), (), ()),
    ir.Cond: (("cond", "then", "otherwise"), (), ()),
    ir.Call: ((), ("args",), ()), ir.CallMod: ((), ("args",), ()), ir.CallValue: (("fn",), ("args",), ()),
    ir.CallBuiltin: ((), ("args",), ()), ir.New: ((), ("args",), ()),
    ir.GetField: (("obj",), (), ()), ir.TupleGet: (("obj",), (), ()),
    ir.ListLit: ((), ("items",), ()), ir.MapLit: ((), ("keys", "values"), ()), ir.TupleLit: ((), ("items",), ()),
    ir.Index: (("obj", "index"), (), ()), ir.Slice: (("obj", "lo", "hi"), (), ()),
    ir.RangeLit: (("lo", "hi"), (), ()), ir.Interp: ((), ("parts",), ()),
    ir.LocalSet: (("value",), (), ()), ir.FreeSet: (("value",), (), ()), ir.GlobalSet: (("value",), (), ()),
    ir.FieldSet: (("obj", "value"), (), ()), ir.IndexSet: (("obj", "index", "value"), (), ()),
    ir.ExprStmt: (("expr",), (), ()), ir.If: (("cond",), (), ("then", "otherwise")),
    ir.While: (("cond",), (), ("body",)), ir.ForRange: (("start", "stop", "step"), (), ("body",)),
    ir.ForEach: (("iterable",), (), ("body",)), ir.Break: ((), (), ()), ir.Continue: ((), (), ()),
    ir.Return: (("value",), (), ()), ir.Throw: (("value",), (), ()),
    ir.TryCatch: ((), (), ("body", "handler")), ir.Assert: (("cond", "message"), (), ()),
}


def _info(node: object) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    return _SHAPE[type(node)]


def is_node(v: object) -> bool:
    return isinstance(v, ir.Node)


def children(node: ir.Node) -> Iterator[ir.Node]:
    """Direct child expressions and statements of `node`, in evaluation order."""
    exprs, lists, bodies = _info(node)
    for n in exprs:
        v = getattr(node, n)
        if is_node(v):
            yield v
    for n in lists:
        yield from getattr(node, n)
    for n in bodies:
        yield from getattr(node, n)


def walk(node: ir.Node) -> Iterator[ir.Node]:
    """`node` and everything below it, pre-order.

    An explicit stack, not `yield from walk(c)`: a generator per level made each node cost its
    depth (a chain `a + b + ... + z` of n terms took n²/2 steps) and a long chain a RecursionError.
    A node's children are read when the walk leaves it, as the recursive walk read them.
    """
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        kids = list(children(n))
        kids.reverse()
        stack += kids


def rewrite_expr(e: ir.Expr, fn: ExprFn) -> ir.Expr:
    """Rewrite `e` bottom-up: children first, then `fn` on the node itself."""
    exprs, lists, _ = _info(e)
    for n in exprs:
        v = getattr(e, n)
        if is_node(v):
            setattr(e, n, rewrite_expr(v, fn))
    for n in lists:
        setattr(e, n, [rewrite_expr(x, fn) for x in getattr(e, n)])
    return fn(e)


def rewrite_body(body: list[ir.Stmt], fn: ExprFn, stmt_fn: "Callable[[list[ir.Stmt]], list[ir.Stmt]] | None" = None
                 ) -> list[ir.Stmt]:
    """Rewrite every expression in a statement list (and nested bodies); `stmt_fn` then sees each list."""
    for s in body:
        exprs, lists, bodies = _info(s)
        for n in exprs:
            v = getattr(s, n)
            if is_node(v):
                setattr(s, n, rewrite_expr(v, fn))
        for n in lists:
            setattr(s, n, [rewrite_expr(x, fn) for x in getattr(s, n)])
        for n in bodies:
            setattr(s, n, rewrite_body(getattr(s, n), fn, stmt_fn))
    return stmt_fn(body) if stmt_fn is not None else body
