"""Type rules of `Array<T, N>`, lowered to array natives (:mod:`noodle.stdlib.arrays`).

A mixin of the checker: creation (`array`, `zeros`, `ones`, `full`, `arange`,
`linspace`, `rand`), elementwise operators with scalars and arrays
(broadcasting as NumPy does), comparisons giving `Array<bool, N>`, `@` and
`matmul`, `dot`, `sum`, `mean`, `sqrt`/`exp`/`log`, `transpose`, `len`,
indexing (`a[i]`, `a[i, j]`: an element when every axis is indexed, else a
view), slices (views), element assignment, `a.shape`, `a.reshape(...)`,
`a.copy()`, and `for` over an array (elements, or rows).

Arrays of `int` and `float` take arithmetic; `bool` arrays come from
comparisons and go to `any`/`all`; `i32` and `f32` arrays can be made and
indexed, their arithmetic is not built yet.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from noodle.compiler import ast
from noodle.ir import nodes as ir
from noodle.ir.types import BOOL, F32, FLOAT, I32, INT, NONE, UNKNOWN, ArrayT, ListT, Prim, Type, prune

if TYPE_CHECKING:
    from noodle.compiler.checker import Checker

_ELEMS = {"int": INT, "float": FLOAT, "bool": BOOL, "i32": I32, "f32": F32}
_ARITH = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod", "**": "pow"}
_CMP = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
CREATION = {"array", "zeros", "ones", "full", "arange", "linspace", "rand"}
#: what an Array value has after a dot (name -> how it is written); the checker accepts exactly these
ARRAY_MEMBERS: dict[str, str] = {"shape": "shape: List<int>", "reshape": "reshape(d1, d2, ...) -> Array",
                                 "copy": "copy() -> Array"}
ARRAY_MEMBERS_HINT = "Arrays have " + ", ".join(f"`.{m}`" for m in ("shape", "reshape(d1, d2, ...)", "copy()"))
FUNCTIONS = {"dot", "matmul", "mean", "sqrt", "exp", "log", "transpose"}


class ArrayRules:
    """Checker methods for Arrays (mixed into :class:`noodle.compiler.checker.Checker`)."""

    def array_type(self: "Checker", t: ast.TypeName) -> Type:
        args = t.args
        if not 1 <= len(args) <= 2 or isinstance(args[0], int):
            return self.error("E0208", "an Array type is `Array<T>` or `Array<T, N>`", t.span,
                              "T is int, float, i32, f32 or bool; N the number of dimensions (default 1)")
        elem = self.resolve_type(args[0])
        ndim = args[1] if len(args) == 2 else 1
        if not isinstance(ndim, int) or not 1 <= ndim <= 32:
            return self.error("E0208", "an Array's dimension count is a number from 1 to 32", t.span)
        if not isinstance(elem, Prim) or str(elem) not in _ELEMS:
            return self.error("E0208", f"an Array holds int, float, i32, f32 or bool, not {self.tname(elem)}", t.span)
        return ArrayT(elem, ndim)

    # -- calls of the prelude

    def array_call(self: "Checker", name: str, e: ast.Call, expected: Type | None) -> ir.Expr | None:
        """An array prelude call, or None when `name` with these arguments is not one."""
        pos = self.pos(e.span)
        self.no_named(e)
        if name in ("sum", "len", "any", "all", "min", "max") or name in FUNCTIONS:
            if not e.args:
                return None
            first = self.expr(e.args[0].value)
            t = self.known(first.ty)
            if not isinstance(t, ArrayT):
                if name in ("sqrt", "exp", "log") and t in (INT, FLOAT) and len(e.args) == 1:
                    x = self.coerce(first, FLOAT, e.args[0].value.span)
                    return ir.CallBuiltin(name=f"math.{name}", args=[x], ty=FLOAT, **pos)
                if name in FUNCTIONS:
                    self.error("E0200", f"`{name}` takes Arrays, found {self.tname(first.ty)}", e.args[0].value.span)
                    return ir.Const(value=None, ty=UNKNOWN, **pos)
                return self.prelude_with_first(name, first, e, expected)
            rest = [self.expr(a.value) for a in e.args[1:]]
            return self.array_function(name, [first] + rest, e)
        if name not in CREATION:
            return None
        args = [self.expr(a.value, self.creation_hint(name, expected)) for a in e.args]
        return self.array_creation(name, args, e, expected)

    def prelude_with_first(self: "Checker", name: str, first: ir.Expr, e: ast.Call, expected: Type | None) -> ir.Expr:
        """A prelude call whose first argument, already checked, turned out not to be an Array."""
        from noodle.stdlib import signatures as sigs

        rest = ast.Call(e.func, e.args[1:], e.span)
        return self.call_native(name, sigs.PRELUDE[name], [first], rest, expected)

    def creation_hint(self: "Checker", name: str, expected: Type | None) -> Type | None:
        exp = self.known(expected) if expected is not None else None
        if name == "array" and isinstance(exp, ArrayT):
            t: Type = exp.elem
            for _ in range(exp.ndim):
                t = ListT(t)
            return t
        return None

    def array_creation(self: "Checker", name: str, args: list[ir.Expr], e: ast.Call, expected: Type | None) -> ir.Expr:
        pos = self.pos(e.span)

        def ints(values: list[ir.Expr], what: str) -> list[ir.Expr] | None:
            out = []
            for v, a in zip(values, e.args):
                if self.known(v.ty) != INT:
                    self.error("E0200", f"{what} must be int, found {self.tname(v.ty)}", a.value.span)
                    return None
                out.append(v)
            return out

        if name == "array":
            if len(args) != 1:
                self.error("E0201", f"`array` takes 1 argument (a list), found {len(args)}", e.span)
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            t, ndim = self.known(args[0].ty), 0
            while isinstance(t, ListT):
                t, ndim = self.known(t.elem), ndim + 1
            if ndim == 0 or t is None:
                if t is None and ndim:
                    self.error("E0204", "the element type of this list is not known here", e.args[0].value.span,
                               "annotate it: `let a: Array<float> = array([])`")
                else:
                    self.error("E0200", f"`array` takes a list of numbers, found {self.tname(args[0].ty)}",
                               e.args[0].value.span)
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            if not isinstance(t, Prim) or str(t) not in _ELEMS:
                self.error("E0200", f"an Array holds int, float or bool, not {self.tname(t)}", e.args[0].value.span)
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            return ir.CallBuiltin(name=f"array.from.{t}", args=args, ty=ArrayT(t, ndim), **pos)
        if name in ("zeros", "ones", "rand"):
            dims = ints(args, "an array dimension")
            if dims is None:
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            if not dims:
                self.error("E0201", f"`{name}` takes the size of each dimension", e.span, f"e.g. `{name}(3, 4)`")
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            return ir.CallBuiltin(name=f"array.{name}", args=dims, ty=ArrayT(FLOAT, len(dims)), **pos)
        if name == "full":
            if len(args) < 2 or ints(args[:-1], "an array dimension") is None:
                if len(args) < 2:
                    self.error("E0201", "`full` takes the dimensions and then the value", e.span,
                               "e.g. `full(3, 4, 0.5)`")
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            vt = self.known(args[-1].ty)
            if vt not in (INT, FLOAT):
                self.error("E0200", f"`full` fills with an int or a float, found {self.tname(args[-1].ty)}",
                           e.args[-1].value.span)
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            return ir.CallBuiltin(name=f"array.full.{vt}", args=args, ty=ArrayT(vt, len(args) - 1), **pos)  # type: ignore[arg-type]
        if name == "arange":
            kinds = [self.known(a.ty) for a in args]
            if not 1 <= len(args) <= 3 or any(k not in (INT, FLOAT) for k in kinds):
                self.error("E0200", "`arange` takes 1 to 3 numbers: (stop), (start, stop) or (start, stop, step)",
                           e.span)
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            if FLOAT in kinds:
                args = [self.coerce(a, FLOAT, x.value.span) for a, x in zip(args, e.args)]
                return ir.CallBuiltin(name="array.arange.float", args=args, ty=ArrayT(FLOAT, 1), **pos)
            return ir.CallBuiltin(name="array.arange.int", args=args, ty=ArrayT(INT, 1), **pos)
        # linspace
        if len(args) != 3:
            self.error("E0201", f"`linspace` takes (start, stop, count), found {len(args)} arguments", e.span)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        a, b = (self.coerce(v, FLOAT, x.value.span, "a bound of linspace") for v, x in zip(args[:2], e.args))
        n = self.coerce(args[2], INT, e.args[2].value.span, "the count of linspace")
        return ir.CallBuiltin(name="array.linspace", args=[a, b, n], ty=ArrayT(FLOAT, 1), **pos)

    def array_function(self: "Checker", name: str, args: list[ir.Expr], e: ast.Call) -> ir.Expr:
        pos = self.pos(e.span)
        a = args[0]
        t = self.known(a.ty)
        assert isinstance(t, ArrayT)
        one = {"sum", "len", "mean", "sqrt", "exp", "log", "transpose", "any", "all"}
        if (name in one and len(args) != 1) or (name in ("dot", "matmul") and len(args) != 2) \
                or name in ("min", "max"):
            if name in ("min", "max"):
                self.error("E0403", f"`{name}` of an Array is not available in this build yet", e.span)
            else:
                self.error("E0201", f"`{name}` takes {'1 argument' if name in one else '2 arguments'}, "
                                    f"found {len(args)}", e.span)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        if name == "len":
            return ir.CallBuiltin(name="array.len", args=[a], ty=INT, **pos)
        if name in ("any", "all"):
            if t.elem != BOOL:
                self.error("E0200", f"`{name}` takes an Array of bool, found {self.tname(t)}", e.span)
            return ir.CallBuiltin(name=f"array.{name}", args=[a], ty=BOOL, **pos)
        if name == "sum":
            if t.elem not in (INT, FLOAT, F32, I32):
                self.error("E0205", f"`sum` is not defined for {self.tname(t)}", e.span)
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            return ir.CallBuiltin(name=f"array.sum.{t.elem}", args=[a], ty=t.elem, **pos)
        if name == "mean":
            return ir.CallBuiltin(name="array.mean", args=[a], ty=FLOAT, **pos)
        if name in ("sqrt", "exp", "log"):
            return ir.CallBuiltin(name=f"array.{name}", args=[a], ty=ArrayT(FLOAT, t.ndim), **pos)
        if name == "transpose":
            return ir.CallBuiltin(name="array.transpose", args=[a], ty=t, **pos)
        return self.matrix_product(a, args[1], e.span, "dot" if name == "dot" else "matmul")

    # -- operators

    def array_binary(self: "Checker", op: str, a: ir.Expr, b: ir.Expr, span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        ta, tb = self.known(a.ty), self.known(b.ty)
        if op == "@":
            if isinstance(ta, ArrayT) and isinstance(tb, ArrayT):
                return self.matrix_product(a, b, span, "matmul")
            self.error("E0205", f"`@` takes two Arrays, found {self.tname(a.ty)} and {self.tname(b.ty)}", span)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        ea, eb = (t.elem if isinstance(t, ArrayT) else t for t in (ta, tb))
        nd = max(t.ndim if isinstance(t, ArrayT) else 0 for t in (ta, tb))
        if ea in (F32, I32) or eb in (F32, I32):
            return self.narrow_array_binary(op, a, b, ea, eb, nd, span)
        if op in _CMP:
            if ea in (INT, FLOAT) and eb in (INT, FLOAT) or (ea == eb == BOOL and op in ("==", "!=")):
                return ir.CallBuiltin(name=f"array.{_CMP[op]}", args=[a, b], ty=ArrayT(BOOL, nd), **pos)
        elif op in _ARITH and ea in (INT, FLOAT) and eb in (INT, FLOAT):
            elem = INT if ea == eb == INT and op != "/" else FLOAT
            return ir.CallBuiltin(name=f"array.{_ARITH[op]}", args=[a, b], ty=ArrayT(elem, nd), **pos)
        self.error("E0205", f"`{op}` is not defined for {self.tname(a.ty)} and {self.tname(b.ty)}", span,
                   "Arrays of int and float take arithmetic and comparisons, elementwise")
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def narrow_array_binary(self: "Checker", op: str, a: ir.Expr, b: ir.Expr, ea: Type, eb: Type, nd: int,
                            span: ast.Span) -> ir.Expr:
        """Arrays of f32 or i32 with arrays or scalars of the same type (a number literal takes it):
        `+ - *`, `/` for f32, `//` `%` for i32, comparisons — as the scalar types have them."""
        pos = self.pos(span)
        t = ea if ea in (F32, I32) else eb
        a, b = (self.narrow_literal(x, t) if not isinstance(self.known(x.ty), ArrayT) else x for x in (a, b))
        ea, eb = (x.elem if isinstance(x, ArrayT) else x for x in (self.known(a.ty), self.known(b.ty)))
        allowed = ("add", "sub", "mul", "div") if t == F32 else ("add", "sub", "mul", "floordiv", "mod")
        if ea == eb == t:
            if op in _CMP:
                return ir.CallBuiltin(name=f"array.{_CMP[op]}", args=[a, b], ty=ArrayT(BOOL, nd), **pos)
            if op in _ARITH and _ARITH[op] in allowed:
                return ir.CallBuiltin(name=f"array.{_ARITH[op]}", args=[a, b], ty=ArrayT(t, nd), **pos)
        other = FLOAT if t == F32 else INT
        self.error("E0205", f"`{op}` is not defined for {self.tname(a.ty)} and {self.tname(b.ty)}", span,
                   f"Arrays of {t} take {t} values; convert explicitly: {t}(x) or {other}(x)")
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def matrix_product(self: "Checker", a: ir.Expr, b: ir.Expr, span: ast.Span, name: str) -> ir.Expr:
        pos = self.pos(span)
        ta, tb = self.known(a.ty), self.known(b.ty)
        if not (isinstance(ta, ArrayT) and isinstance(tb, ArrayT)) or ta.elem not in (INT, FLOAT) \
                or tb.elem not in (INT, FLOAT) or ta.ndim > 2 or tb.ndim > 2 \
                or (name == "dot" and (ta.ndim, tb.ndim) != (1, 1)):
            what = "two 1-D Arrays of numbers" if name == "dot" else "Arrays of numbers with 1 or 2 dimensions"
            self.error("E0200", f"`{name}` takes {what}, found {self.tname(a.ty)} and {self.tname(b.ty)}", span)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        elem = INT if ta.elem == tb.elem == INT else FLOAT
        nd = {(2, 2): 2, (2, 1): 1, (1, 2): 1, (1, 1): 0}[(ta.ndim, tb.ndim)]
        ty: Type = elem if nd == 0 else ArrayT(elem, nd)
        return ir.CallBuiltin(name="array.dot" if name == "dot" else "array.matmul", args=[a, b], ty=ty, **pos)

    # -- indexing, attributes, loops

    def array_index(self: "Checker", obj: ir.Expr, t: ArrayT, indices: list[ast.Expr], span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        if len(indices) > t.ndim:
            self.error("E0206", f"{len(indices)} indices for an Array of {t.ndim} dimension"
                                f"{'s' if t.ndim != 1 else ''}", span)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        ix = [self.coerce(self.expr(i, INT), INT, i.span, "an array index") for i in indices]
        obj, t, ix = _whole(obj, t, ix)
        if len(ix) == t.ndim:
            return ir.CallBuiltin(name="array.get", args=[obj] + ix, ty=t.elem, **pos)
        return ir.CallBuiltin(name="array.view", args=[obj] + ix, ty=ArrayT(t.elem, t.ndim - len(ix)), **pos)

    def array_store(self: "Checker", s: ast.Assign, obj: ir.Expr, t: ArrayT, indices: list[ast.Expr]) -> list[ir.Stmt]:
        pos = self.pos(s.span)
        if len(indices) > t.ndim:
            self.error("E0206", f"{len(indices)} indices for an Array of {t.ndim} dimensions", s.target.span)
            return []
        pre: list[ir.Stmt] = []
        ix = [self.coerce(self.expr(i, INT), INT, i.span, "an array index") for i in indices]
        obj, t, ix = _whole(obj, t, ix)
        if s.op != "=":
            obj, p1 = self.stabilize(obj, s.span)
            pre += p1
            stable = []
            for i in ix:
                i2, p2 = self.stabilize(i, s.span)
                pre += p2
                stable.append(i2)
            ix = stable
        target: Type = t.elem if len(ix) == t.ndim else ArrayT(t.elem, t.ndim - len(ix))
        if s.op == "=":
            value = self.expr(s.value, target)
            if isinstance(prune(target), ArrayT) and self.known(value.ty) in (INT, FLOAT, BOOL):
                value = self.coerce(value, t.elem, s.value.span, "an element")  # a row filled with one value
            else:
                value = self.coerce(value, target, s.value.span, "an element")
        else:
            current = self.array_index(obj, t, [], s.span) if not ix else (
                ir.CallBuiltin(name="array.get" if len(ix) == t.ndim else "array.view", args=[obj] + ix,
                               ty=target, **pos))
            value = self.binary_op(s.op[:-1], current, self.expr(s.value), s.span)
            if not isinstance(prune(target), ArrayT):
                value = self.coerce(value, target, s.span, f"`{s.op}`")
        return pre + [ir.ExprStmt(expr=ir.CallBuiltin(name="array.set", args=[obj] + ix + [value], ty=NONE, **pos),
                                  **pos)]

    def array_attribute(self: "Checker", obj: ir.Expr, t: ArrayT, name: str, span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        if name == "shape":
            return ir.CallBuiltin(name="array.shape", args=[obj], ty=ListT(INT), **pos)
        self.error("E0202", f"an Array has no field `{name}`", span, ARRAY_MEMBERS_HINT)
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def array_method(self: "Checker", obj: ir.Expr, t: ArrayT, name: str, e: ast.Call) -> ir.Expr:
        pos = self.pos(e.span)
        self.no_named(e)
        if name == "copy" and not e.args:
            return ir.CallBuiltin(name="array.copy", args=[obj], ty=t, **pos)
        if name == "reshape" and e.args:
            dims = [self.coerce(self.expr(a.value, INT), INT, a.value.span, "a dimension") for a in e.args]
            return ir.CallBuiltin(name="array.reshape", args=[obj] + dims, ty=ArrayT(t.elem, len(dims)), **pos)
        self.error("E0202", f"Arrays have no method `{name}` taking {len(e.args)} arguments", e.span,
                   ARRAY_MEMBERS_HINT)
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def array_iteration(self: "Checker", iterable: ir.Expr, t: ArrayT) -> tuple[ir.Expr, Type]:
        elem: Type = t.elem if t.ndim == 1 else ArrayT(t.elem, t.ndim - 1)
        it = ir.CallBuiltin(name="array.iter", args=[iterable], ty=ListT(elem), line=iterable.line,
                            col=iterable.col)
        return it, elem



def _whole(obj: ir.Expr, t: ArrayT, ix: list[ir.Expr]) -> tuple[ir.Expr, ArrayT, list[ir.Expr]]:
    """`c[i][j]` as `c[i, j]`: indexing a row of an array (a view) is indexing the array with both
    indices — the same element, the same errors (each index checked, negatives counted from the end
    of its own dimension), evaluated in the same order — and the form the loop analyses and native
    code read; a row taken only to be indexed again is never made."""
    while isinstance(obj, ir.CallBuiltin) and obj.name == "array.view" and ix:
        base = prune(obj.args[0].ty)
        if not isinstance(base, ArrayT) or base.ndim != t.ndim + len(obj.args) - 1:
            break
        obj, t, ix = obj.args[0], base, list(obj.args[1:]) + ix
    return obj, t, ix
