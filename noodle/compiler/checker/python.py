"""The Python world in the checker: `import py`, the `py` type, and operations on `py` values.

Every operation on a `py` value lowers to a `py.*` native (:mod:`noodle.vm.pyffi.natives`), checked
at run time and giving `py`: attribute access (`py.getattr`), calls with positional and named
arguments (`py.call`, `py.call_attr`; named ones are written `f(x, axis: 0)`), indexing
(`py.getitem`, `py.setitem`), arithmetic and comparison (`py.binary`, `py.unary`), iteration
(`py.iter`), `len` (`py.len`, an int), truth where a bool is needed (`py.truth`), text
(`py.text`).  Values cross into Python with `py.to_py` (containers copied) or `py.fn` (a Noodle
function, with its type, so that Python's arguments are checked); a `py` value becomes a Noodle
type where the program asks for one with `py.convert`, which checks it.  Each call site is named
by `file:line` (the usage log's site).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from noodle.compiler import ast
from noodle.ir import nodes as ir
from noodle.ir.types import (BOOL, FLOAT, INT, NONE, PY, STR, FnT, ListT, MapT, TupleT, TVar, Type, UnknownT,
                             has_unbound, prune)

if TYPE_CHECKING:
    from noodle.compiler.checker import Checker

#: prelude functions that, given a `py` value, mean Python's function of the same name
PY_BUILTINS = {"abs", "min", "max", "sum", "sorted", "reversed", "round", "any", "all", "enumerate", "zip",
               "divmod", "map", "filter"}


class PythonRules:
    """Checker rules for the Python FFI (mixed into :class:`noodle.compiler.checker.Checker`)."""

    def py_import(self: "Checker", item: ast.Import, claim: "object") -> None:
        alias = item.alias or item.path.rpartition(".")[2]
        if claim(alias, item.span):  # type: ignore[operator]
            self.py_imports[alias] = item.path

    def py_module(self: "Checker", name: str, span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        return ir.CallBuiltin(name="py.import", args=[ir.Const(value=self.py_imports[name], ty=STR, **pos)],
                              ty=PY, **pos)

    def is_py(self: "Checker", e: ir.Expr) -> bool:
        return prune(e.ty) == PY

    def site(self: "Checker", span: ast.Span) -> ir.Const:
        return ir.Const(value=f"{span.file}:{span.line}", ty=STR, **self.pos(span))

    # ------------------------------------------------------------ values crossing

    def to_py(self: "Checker", e: ir.Expr) -> ir.Expr:
        """A Noodle value as Python receives it (containers copied, functions wrapped with their type)."""
        t = self.known(e.ty)
        pos = {"line": e.line, "col": e.col}
        if isinstance(t, (ListT, MapT, TupleT)):
            return ir.CallBuiltin(name="py.to_py", args=[e], ty=PY, **pos)
        if isinstance(t, FnT):
            return ir.CallBuiltin(name="py.fn", args=[e, ir.Const(value=str(t), ty=STR, **pos)], ty=PY, **pos)
        return e

    def from_py(self: "Checker", e: ir.Expr, want: Type, what: str) -> ir.Expr:
        """A `py` value as a value of Noodle type `want`, checked at run time."""
        pos = {"line": e.line, "col": e.col}
        if want == STR and what == "str":
            return ir.CallBuiltin(name="py.text", args=[e], ty=STR, **pos)
        return ir.CallBuiltin(name="py.convert", args=[e, ir.Const(value=str(want), ty=STR, **pos),
                                                       ir.Const(value=what, ty=STR, **pos)], ty=want, **pos)

    def convertible(self: "Checker", want: Type) -> bool:
        """Whether a `py` value can be converted to `want` at run time (a concrete Noodle type)."""
        want = prune(want)
        if isinstance(want, (TVar, UnknownT)) or has_unbound(want) or want == PY:
            return False
        return True

    # ------------------------------------------------------------ operations

    def py_getattr(self: "Checker", obj: ir.Expr, name: str, span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        return ir.CallBuiltin(name="py.getattr", args=[obj, ir.Const(value=name, ty=STR, **pos)], ty=PY, **pos)

    def py_args(self: "Checker", e: ast.Call) -> tuple[list[ir.Expr], str]:
        """The arguments of a call into Python: positional first, then named (`axis: 0`), crossed into
        Python; lambdas take `py` parameters."""
        positional: list[ir.Expr] = []
        named: list[ir.Expr] = []
        names: list[str] = []
        for a in e.args:
            if isinstance(a.value, ast.Lambda):
                v = self.expr(a.value, FnT(tuple(PY for _ in a.value.params), TVar()))
            else:
                v = self.expr(a.value)
            v = self.to_py(v)
            if a.name is None:
                if names:
                    self.error("E0209", "a positional argument cannot follow a named one", a.span)
                positional.append(v)
            else:
                if a.name in names:
                    self.error("E0209", f"the argument `{a.name}` is given twice", a.span)
                names.append(a.name)
                named.append(v)
        return positional + named, ",".join(names)

    def py_call(self: "Checker", callee: ir.Expr, e: ast.Call) -> ir.Expr:
        pos = self.pos(e.span)
        args, names = self.py_args(e)
        return ir.CallBuiltin(name="py.call", args=[self.site(e.span), callee, ir.Const(value=names, ty=STR, **pos)]
                              + args, ty=PY, **pos)

    def py_call_attr(self: "Checker", obj: ir.Expr, attr: str, e: ast.Call) -> ir.Expr:
        pos = self.pos(e.span)
        args, names = self.py_args(e)
        return ir.CallBuiltin(name="py.call_attr", args=[self.site(e.span), obj, ir.Const(value=attr, ty=STR, **pos),
                                                         ir.Const(value=names, ty=STR, **pos)] + args, ty=PY, **pos)

    def py_index(self: "Checker", obj: ir.Expr, indices: list[ast.Expr], span: ast.Span) -> ir.Expr:
        keys = [self.to_py(self.expr(ix)) for ix in indices]
        return ir.CallBuiltin(name="py.getitem", args=[obj] + keys, ty=PY, **self.pos(span))

    def py_store(self: "Checker", obj: ir.Expr, indices: list[ast.Expr], s: ast.Assign) -> list[ir.Stmt]:
        pos = self.pos(s.span)
        keys = [self.to_py(self.expr(ix)) for ix in indices]
        value = self.to_py(self.expr(s.value))
        if s.op != "=":
            current = ir.CallBuiltin(name="py.getitem", args=[obj] + keys, ty=PY, **pos)
            value = ir.CallBuiltin(name="py.binary", args=[ir.Const(value=s.op[:-1], ty=STR, **pos), current, value],
                                   ty=PY, **pos)
        return [ir.ExprStmt(expr=ir.CallBuiltin(name="py.setitem", args=[value, obj] + keys, ty=NONE, **pos), **pos)]

    def py_set_attr(self: "Checker", obj: ir.Expr, name: str, s: ast.Assign) -> list[ir.Stmt]:
        pos = self.pos(s.span)
        value = self.to_py(self.expr(s.value))
        if s.op != "=":
            current = self.py_getattr(obj, name, s.span)
            value = ir.CallBuiltin(name="py.binary", args=[ir.Const(value=s.op[:-1], ty=STR, **pos), current, value],
                                   ty=PY, **pos)
        return [ir.ExprStmt(expr=ir.CallBuiltin(name="py.setattr", args=[obj, ir.Const(value=name, ty=STR, **pos),
                                                                         value], ty=NONE, **pos), **pos)]

    def py_binary(self: "Checker", op: str, a: ir.Expr, b: ir.Expr, span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        return ir.CallBuiltin(name="py.binary", args=[ir.Const(value=op, ty=STR, **pos), self.to_py(a), self.to_py(b)],
                              ty=PY, **pos)

    def py_unary(self: "Checker", op: str, x: ir.Expr, span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        return ir.CallBuiltin(name="py.unary", args=[ir.Const(value=op, ty=STR, **pos), x], ty=PY, **pos)

    def py_truth(self: "Checker", x: ir.Expr) -> ir.Expr:
        return ir.CallBuiltin(name="py.truth", args=[x], ty=BOOL, line=x.line, col=x.col)

    def py_iter(self: "Checker", x: ir.Expr) -> ir.Expr:
        return ir.CallBuiltin(name="py.iter", args=[x], ty=PY, line=x.line, col=x.col)

    def py_prelude(self: "Checker", name: str, args: list[ir.Expr], e: ast.Call) -> ir.Expr | None:
        """A prelude function applied to `py` values: `len` gives an int, `int/float/bool` convert,
        the others are Python's builtin of the same name."""
        pos = self.pos(e.span)
        if name == "len" and len(args) == 1:
            return ir.CallBuiltin(name="py.len", args=args, ty=INT, **pos)
        if name in ("int", "float", "bool") and len(args) == 1:
            want = {"int": INT, "float": FLOAT, "bool": BOOL}[name]
            return ir.CallBuiltin(name="py.number", args=[ir.Const(value=name, ty=STR, **pos), args[0]], ty=want, **pos)
        if name in PY_BUILTINS:
            return ir.CallBuiltin(name="py.builtin", args=[self.site(e.span), ir.Const(value=name, ty=STR, **pos)]
                                  + [self.to_py(a) for a in args], ty=PY, **pos)
        return None

