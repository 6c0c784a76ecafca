"""Expressions: literals, names, operators, attributes, indexing, slices, lambdas."""
from __future__ import annotations

from typing import TYPE_CHECKING

from noodle.compiler.hints import name_hint
from noodle.compiler import ast
from noodle.compiler.checker.base import (local_symbol, ARITH, ARRAY_PRELUDE, BITWISE, COMPARE, INT_MAX, INT_MIN, MAX_LAMBDA_DEPTH,
                                          NARROW, NativeModule)
from noodle.compiler.diagnostics import did_you_mean
from noodle.compiler.scope import FnCtx, ModuleInterface
from noodle.ir import nodes as ir
from noodle.ir.passes.fold import fold_expr
from noodle.ir.types import (
    BOOL, ERROR, F32, FLOAT, I32, INT, NONE, RANGE, STR, UNKNOWN, FnT, ListT, MapT,
    PY, ArrayT, RangeT, StructT, TupleT, TVar, Type, UnknownT, is_hashable, prune, unify,
)
from noodle.stdlib import signatures as sigs

if TYPE_CHECKING:
    from noodle.compiler.checker import Checker


class ExpressionRules:
    """Checker rules for expressions and lambdas (mixed into :class:`noodle.compiler.checker.Checker`)."""

    # ------------------------------------------------------------ expressions

    def expr(self: "Checker", e: ast.Expr, expected: Type | None = None) -> ir.Expr:
        method = getattr(self, "expr_" + type(e).__name__)
        if type(e).__name__ in ("ListLit", "MapLit", "Lambda", "Ternary", "Call", "TupleLit"):
            result = method(e, expected)
        else:
            result = method(e)
        if self.recorder is not None:
            self.recorder.typed(e.span, result.ty)
        return result

    def expr_IntLit(self: "Checker", e: ast.IntLit) -> ir.Expr:
        if not INT_MIN <= e.value <= INT_MAX:
            self.error("E0004", "integer literal does not fit in 64 bits", e.span)
        return ir.Const(value=e.value, ty=INT, **self.pos(e.span))

    def expr_FloatLit(self: "Checker", e: ast.FloatLit) -> ir.Expr:
        return ir.Const(value=float(e.value), ty=FLOAT, **self.pos(e.span))

    def expr_StrLit(self: "Checker", e: ast.StrLit) -> ir.Expr:
        return ir.Const(value=e.value, ty=STR, **self.pos(e.span))

    def expr_BoolLit(self: "Checker", e: ast.BoolLit) -> ir.Expr:
        return ir.Const(value=e.value, ty=BOOL, **self.pos(e.span))

    def expr_NoneLit(self: "Checker", e: ast.NoneLit) -> ir.Expr:
        return ir.Const(value=None, ty=NONE, **self.pos(e.span))

    def expr_InterpStr(self: "Checker", e: ast.InterpStr) -> ir.Expr:
        pos = self.pos(e.span)
        parts: list[ir.Expr] = []
        for p in e.parts:
            if isinstance(p, str):
                if p:
                    parts.append(ir.Const(value=p, ty=STR, **pos))
            else:
                parts.append(self.stringify(self.expr(p)))
        return ir.Interp(parts=parts, ty=STR, **pos)

    def stringify(self: "Checker", v: ir.Expr) -> ir.Expr:
        if self.known(v.ty) == STR:
            return v
        if self.known(v.ty) == PY:
            return ir.CallBuiltin(name="py.text", args=[v], ty=STR, line=v.line, col=v.col)
        return ir.Unary(op="to_str", x=v, ty=STR, line=v.line, col=v.col)

    def expr_Name(self: "Checker", e: ast.Name) -> ir.Expr:
        return self.name_expr(e)

    def is_prelude_name(self: "Checker", name: str) -> bool:
        """True when `name` is not shadowed by anything of the program."""
        if self.lookup_value_name(name) is not None:
            return False
        return not (name in self.globals or name in self.funcs or name in self.structs or name in self.imports
                    or name in self.from_names or name in self.py_imports)

    def name_expr(self: "Checker", e: ast.Name) -> ir.Expr:
        pos = self.pos(e.span)
        ctx = self.ctx
        assert ctx is not None
        c: FnCtx | None = ctx
        while c is not None:
            v = c.lookup_local(e.id)
            if v is not None:
                self.record_name(e.span, e.id, local_symbol(v.span), "variable")
                up = ctx.depth - v.ctx.depth
                if up == 0:
                    return ir.LocalGet(slot=v.slot, ty=v.ty, **pos)
                return ir.FreeGet(up=up, slot=v.slot, ty=v.ty, **pos)
            c = c.parent
        g = self.globals.get(e.id)
        if g is not None:
            self.record_name(e.span, e.id, ("global", self.name, e.id), "global")
            ty = self.global_type(g, e.span)
            if g.const and g.state == "done" and g.init_ir is not None and isinstance(g.init_ir, ir.Const):
                return ir.Const(value=g.init_ir.value, ty=ty, **pos)
            return ir.GlobalGet(name=e.id, ty=ty, **pos)
        f = self.funcs.get(e.id)
        if f is not None:
            self.record_name(e.span, e.id, ("fn", self.name, f.name), "function")
            return ir.FuncRef(name=f.name, ty=self.func_type(f, e.span), **pos)
        if e.id in self.py_imports:
            return self.py_module(e.id, e.span)
        if e.id in self.imports:
            mod = self.imports[e.id]
            self.error("E0200", f"module `{e.id}` is not a value", e.span, f"use one of its members: `{e.id}.name`")
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        if e.id in self.from_names:
            mod, member = self.from_names[e.id]
            return self.module_member(mod, member, e.span)
        if e.id in self.structs:
            self.error("E0200", f"struct `{e.id}` is not a value", e.span, f"construct one: `{e.id}(...)`")
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        if e.id in sigs.PRELUDE or e.id in sigs.SPECIAL_PRELUDE:
            self.error("E0200", f"the built-in `{e.id}` cannot be used as a value", e.span,
                       f"wrap it in a lambda: `x => {e.id}(x)`")
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        candidates: set[str] = set()
        c = ctx
        while c is not None:
            for scope in c.scopes:
                candidates |= set(scope)
            c = c.parent
        candidates |= set(self.globals) | set(self.funcs) | set(self.structs) | set(self.imports) | set(self.from_names)
        candidates |= set(sigs.PRELUDE) | set(sigs.SPECIAL_PRELUDE)
        if e.id in ARRAY_PRELUDE:
            self.error("E0200", f"the built-in `{e.id}` cannot be used as a value", e.span,
                       f"call it, or wrap it in a lambda: `a => {e.id}(a)`")
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        self.error("E0100", f"name `{e.id}` is not defined", e.span,
                   name_hint(e.id, candidates, _standard_members(), self.self_fields()))
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def self_fields(self: "Checker") -> list[str] | None:
        """Inside a method: the fields and methods of `self`'s struct (for the `self.x` hint)."""
        var = self.ctx.lookup_local("self") if self.ctx is not None else None
        t = prune(var.ty) if var is not None else None
        if not isinstance(t, StructT):
            return None
        info = self.struct_info(t)
        return None if info is None else list(info.field_names) + list(info.methods)

    def module_member(self: "Checker", mod: "ModuleInterface | NativeModule", name: str, span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        if isinstance(mod, NativeModule):
            consts = sigs.MODULE_CONSTANTS.get(mod.name, {})
            if name in consts:
                return ir.Const(value=consts[name], ty=FLOAT, **pos)
            if name in sigs.MODULES[mod.name]:
                self.error("E0200", f"`{mod.name}.{name}` cannot be used as a value", span,
                           f"wrap it in a lambda: `x => {mod.name}.{name}(x)`")
            else:
                self.error("E0401", f"module `{mod.name}` has no member `{name}`", span,
                           did_you_mean(name, self.module_members(mod)))
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        for table, kind in ((mod.globals, "global"), (mod.functions, "function")):
            if name in table:
                self.record_name(span, name, ("global" if kind == "global" else "fn", mod.name, name), kind, exact=True)
        if name in mod.consts:
            value = mod.consts[name]
            return ir.Const(value=value, ty=mod.globals[name][0], **pos)  # type: ignore[arg-type]
        if name in mod.globals:
            return ir.ModRef(module=mod.name, name=name, ty=mod.globals[name][0], **pos)
        if name in mod.functions:
            return ir.ModRef(module=mod.name, name=name, ty=mod.functions[name], **pos)
        if name in mod.structs:
            self.error("E0200", f"struct `{name}` is not a value", span)
        else:
            self.error("E0401", f"module `{mod.name}` has no exported name `{name}`", span,
                       did_you_mean(name, self.module_members(mod)))
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def expr_ListLit(self: "Checker", e: ast.ListLit, expected: Type | None = None) -> ir.Expr:
        pos = self.pos(e.span)
        exp = self.known(expected) if expected is not None else None
        elem: Type = exp.elem if isinstance(exp, ListT) else TVar()
        items = [self.expr(x, elem) for x in e.items]
        if not isinstance(exp, ListT) and items:
            # int and float mixed: the list is of float
            known = [self.known(i.ty) for i in items]
            if FLOAT in known and all(k in (INT, FLOAT) for k in known):
                unify(elem, FLOAT)
        items = [self.coerce(i, elem, x.span, "a list element") for i, x in zip(items, e.items)]
        return ir.ListLit(items=items, ty=ListT(elem), **pos)

    def expr_MapLit(self: "Checker", e: ast.MapLit, expected: Type | None = None) -> ir.Expr:
        pos = self.pos(e.span)
        exp = self.known(expected) if expected is not None else None
        kt: Type = exp.key if isinstance(exp, MapT) else TVar()
        vt: Type = exp.value if isinstance(exp, MapT) else TVar()
        keys, values = [], []
        raw_values = [self.expr(v, vt) for _, v in e.items]
        if not isinstance(exp, MapT) and raw_values:
            known = [self.known(v.ty) for v in raw_values]
            if FLOAT in known and all(k in (INT, FLOAT) for k in known):
                unify(vt, FLOAT)
        for (k, v), rv in zip(e.items, raw_values):
            keys.append(self.coerce(self.expr(k, kt), kt, k.span, "a map key"))
            values.append(self.coerce(rv, vt, v.span, "a map value"))
        if keys and not is_hashable(kt):
            self.error("E0200", f"`{self.tname(kt)}` cannot be a map key", e.items[0][0].span,
                       "map keys are int, float, str, bool or tuples of them")
        return ir.MapLit(keys=keys, values=values, ty=MapT(kt, vt), **pos)

    def expr_TupleLit(self: "Checker", e: ast.TupleLit, expected: Type | None = None) -> ir.Expr:
        exp = self.known(expected) if expected is not None else None
        hints: list[Type | None] = list(exp.items) if isinstance(exp, TupleT) and len(exp.items) == len(e.items) \
            else [None] * len(e.items)
        items = [self.expr(x, h) for x, h in zip(e.items, hints)]
        items = [self.coerce(i, h, x.span) if h is not None else i for i, h, x in zip(items, hints, e.items)]
        return ir.TupleLit(items=items, ty=TupleT(tuple(i.ty for i in items)), **self.pos(e.span))

    def expr_Range(self: "Checker", e: ast.Range) -> ir.Expr:
        lo = self.coerce(self.expr(e.lo, INT), INT, e.lo.span, "a range bound")
        hi = self.coerce(self.expr(e.hi, INT), INT, e.hi.span, "a range bound")
        return ir.RangeLit(lo=lo, hi=hi, inclusive=e.inclusive, ty=RANGE, **self.pos(e.span))

    def expr_Ternary(self: "Checker", e: ast.Ternary, expected: Type | None = None) -> ir.Expr:
        c = self.cond(e.cond)
        a = self.expr(e.then, expected)
        b = self.expr(e.otherwise, expected)
        ty = self.join(a, b, e.span)
        return ir.Cond(cond=c, then=self.coerce(a, ty, e.then.span), otherwise=self.coerce(b, ty, e.otherwise.span),
                       ty=ty, **self.pos(e.span))

    def join(self: "Checker", a: ir.Expr, b: ir.Expr, span: ast.Span) -> Type:
        ta, tb = self.known(a.ty), self.known(b.ty)
        if {ta, tb} == {INT, FLOAT}:
            return FLOAT
        if not unify(a.ty, b.ty):
            self.error("E0200", f"both branches must have one type; found {self.tname(a.ty)} and {self.tname(b.ty)}", span)
            return UNKNOWN
        return a.ty

    def expr_Unary(self: "Checker", e: ast.Unary) -> ir.Expr:
        pos = self.pos(e.span)
        if e.op == "not":
            x = self.cond(e.operand)
            return ir.Unary(op="not", x=x, ty=BOOL, **pos)
        x = self.expr(e.operand)
        t = self.known(x.ty)
        if t is None:
            self.error("E0204", "the type of this operand is not known here", e.operand.span,
                       "annotate the variable or the lambda parameter")
            return x
        if t == PY:
            return self.py_unary(e.op, x, e.span)
        if e.op == "+" and t in (INT, FLOAT):
            return x
        if e.op == "-" and isinstance(t, ArrayT) and t.elem in (INT, FLOAT):
            return ir.CallBuiltin(name="array.neg", args=[x], ty=t, **pos)
        if e.op == "-" and t in NARROW:
            return ir.CallBuiltin(name=f"{NARROW[t][0]}.neg", args=[x], ty=t, **pos)
        if e.op == "-":
            if t == INT:
                return fold_expr(ir.Unary(op="int.neg", x=x, ty=INT, **pos))
            if t == FLOAT:
                return fold_expr(ir.Unary(op="float.neg", x=x, ty=FLOAT, **pos))
        if not isinstance(t, UnknownT):
            self.error("E0205", f"unary `{e.op}` is not defined for {self.tname(t)}", e.span)
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def expr_Binary(self: "Checker", e: ast.Binary) -> ir.Expr:
        pos = self.pos(e.span)
        if e.op in ("and", "or"):
            a, b = self.cond(e.left), self.cond(e.right)
            return ir.Logical(op=e.op, a=a, b=b, ty=BOOL, **pos)
        a = self.expr(e.left)
        b = self.expr(e.right)
        return self.binary_op(e.op, a, b, e.span)

    def binary_op(self: "Checker", op: str, a: ir.Expr, b: ir.Expr, span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        ta, tb = self.known(a.ty), self.known(b.ty)
        if isinstance(ta, UnknownT) or isinstance(tb, UnknownT):
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        if ta == PY or tb == PY:
            return self.py_binary(op, a, b, span)
        if op in ("in", "not in"):
            return self.membership(op, a, b, span)
        if isinstance(ta, ArrayT) or isinstance(tb, ArrayT) or op == "@":
            return self.array_binary(op, a, b, span)
        if ta is None or tb is None:
            # an empty literal or an unannotated lambda parameter: take the other side's type
            if ta is None and tb is not None and op in ("==", "!=", "<", "<=", ">", ">=", "+"):
                unify(a.ty, tb)
                ta = tb
            elif tb is None and ta is not None and op in ("==", "!=", "<", "<=", ">", ">=", "+"):
                unify(b.ty, ta)
                tb = ta
            else:
                self.error("E0204", "the type of this operand is not known here", span,
                           "annotate the variable or the lambda parameter")
                return ir.Const(value=None, ty=UNKNOWN, **pos)
        if ta in NARROW or tb in NARROW:
            return self.narrow_binary(op, a, b, ta, tb, span)
        numeric = (INT, FLOAT)
        if op in ARITH:
            name = ARITH[op]
            if op == "@":
                pass
            if ta in numeric and tb in numeric:
                if ta == INT and tb == INT and op != "/":
                    return fold_expr(ir.Binary(op=f"int.{name}", a=a, b=b, ty=INT, **pos))
                fa = a if ta == FLOAT else self.to_float(a)
                fb = b if tb == FLOAT else self.to_float(b)
                return fold_expr(ir.Binary(op=f"float.{name}", a=fa, b=fb, ty=FLOAT, **pos))
            if op == "+" and ta == STR and tb == STR:
                return fold_expr(ir.Binary(op="str.concat", a=a, b=b, ty=STR, **pos))
            if op == "+" and isinstance(ta, ListT) and isinstance(tb, ListT):
                if unify(ta, tb):
                    return ir.Binary(op="list.concat", a=a, b=b, ty=ta, **pos)
            if op == "*" and ta == STR and tb == INT:
                return ir.Binary(op="str.repeat", a=a, b=b, ty=STR, **pos)
            if op == "*" and ta == INT and tb == STR:
                return ir.Binary(op="str.repeat", a=b, b=a, ty=STR, **pos)
        elif op == "@":
            self.error("E0403", "`@` (matrix product) needs Arrays, which are not available in this build yet", span)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        elif op in BITWISE:
            if ta == INT and tb == INT:
                return fold_expr(ir.Binary(op=f"int.{BITWISE[op]}", a=a, b=b, ty=INT, **pos))
        elif op in COMPARE:
            name = COMPARE[op]
            if ta in numeric and tb in numeric:
                if ta != tb:
                    a = a if ta == FLOAT else self.to_float(a)
                    b = b if tb == FLOAT else self.to_float(b)
                return fold_expr(ir.Binary(op=f"cmp.{name}", a=a, b=b, ty=BOOL, **pos))
            if op in ("==", "!="):
                if unify(ta, tb):
                    return fold_expr(ir.Binary(op=f"cmp.{name}", a=a, b=b, ty=BOOL, **pos))
            elif unify(ta, tb) and self.orderable(ta):
                return fold_expr(ir.Binary(op=f"cmp.{name}", a=a, b=b, ty=BOOL, **pos))
        self.error("E0205", f"`{op}` is not defined for {self.tname(ta)} and {self.tname(tb)}", span,
                   self.operator_hint(op, ta, tb))
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def narrow_binary(self: "Checker", op: str, a: ir.Expr, b: ir.Expr, ta: Type, tb: Type, span: ast.Span) -> ir.Expr:
        """Arithmetic and comparisons of f32 with f32, i32 with i32 (a literal takes the other side's
        type); nothing converts implicitly to or from them."""
        pos = self.pos(span)
        t = ta if ta in NARROW else tb
        a, b = self.narrow_literal(a, t), self.narrow_literal(b, t)
        if prune(a.ty) == t and prune(b.ty) == t:
            kind, allowed = NARROW[t]
            if op in ARITH and ARITH[op] in allowed:
                return ir.CallBuiltin(name=f"{kind}.{ARITH[op]}", args=[a, b], ty=t, **pos)
            if op in COMPARE:
                return ir.Binary(op=f"cmp.{COMPARE[op]}", a=a, b=b, ty=BOOL, **pos)
        other = FLOAT if t == F32 else INT
        self.error("E0205", f"`{op}` is not defined for {self.tname(ta)} and {self.tname(tb)}", span,
                   f"convert explicitly: {t}(x) or {other}(x)" if prune(a.ty) != prune(b.ty) else None)
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def narrow_literal(self: "Checker", e: ir.Expr, t: Type) -> ir.Expr:
        """A number literal beside an f32 or i32 becomes one (when it fits); anything else is unchanged."""
        if not isinstance(e, ir.Const) or isinstance(e.value, bool) or not isinstance(e.value, (int, float)):
            return e
        if t == F32:
            from noodle.stdlib.narrow import to_f32
            return ir.Const(value=to_f32(float(e.value)), ty=F32, line=e.line, col=e.col)
        if t == I32 and isinstance(e.value, int) and -(2**31) <= e.value < 2**31:
            return ir.Const(value=e.value, ty=I32, line=e.line, col=e.col)
        return e

    def operator_hint(self: "Checker", op: str, ta: Type, tb: Type) -> str | None:
        if op == "+" and STR in (ta, tb):
            return "convert with str(x), or use interpolation: \"{x}\""
        return None

    def orderable(self: "Checker", t: Type) -> bool:
        t = prune(t)
        if t in (INT, FLOAT, STR, BOOL):
            return True
        if isinstance(t, TupleT):
            return all(self.orderable(x) for x in t.items)
        if isinstance(t, ListT):
            return self.orderable(t.elem)
        return False

    def membership(self: "Checker", op: str, a: ir.Expr, b: ir.Expr, span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        tb = self.known(b.ty)
        name = "in" if op == "in" else "not_in"
        if isinstance(tb, ListT):
            a = self.coerce(a, tb.elem, span, f"the left side of `{op}`")
        elif isinstance(tb, MapT):
            a = self.coerce(a, tb.key, span, f"the left side of `{op}`")
        elif tb == STR:
            a = self.coerce(a, STR, span, f"the left side of `{op}`")
        elif isinstance(tb, RangeT):
            a = self.coerce(a, INT, span, f"the left side of `{op}`")
        else:
            if tb is None:
                self.error("E0204", "the type of this collection is not known here", span)
            else:
                self.error("E0205", f"`{op}` is not defined for {self.tname(b.ty)}", span,
                           "`in` works with List, Map (keys), str and ranges")
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        return ir.Binary(op=name, a=a, b=b, ty=BOOL, **pos)

    def expr_Attribute(self: "Checker", e: ast.Attribute) -> ir.Expr:
        pos = self.pos(e.span)
        if isinstance(e.obj, ast.Name) and self.is_module_alias(e.obj.id):
            self.record_name(e.obj.span, e.obj.id, ("module", self.name, e.obj.id), "module")
            return self.module_member(self.imports[e.obj.id], e.name, e.name_span)
        obj = self.expr(e.obj)
        t = self.known(obj.ty)
        if t == PY:
            return self.py_getattr(obj, e.name, e.span)
        if isinstance(t, ArrayT):
            return self.array_attribute(obj, t, e.name, e.name_span)
        if isinstance(t, StructT):
            if t == ERROR:
                if e.name in ("message", "kind"):
                    return ir.GetField(obj=obj, field=e.name, ty=STR, **pos)
                self.error("E0202", f"Error has no field `{e.name}`", e.name_span, "an Error has `message` and `kind`")
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            info = self.struct_info(t)
            if info is not None:
                fty = info.field_type(e.name)
                if fty is not None:
                    self.record_name(e.name_span, e.name, ("field", info.module, info.name, e.name), "field")
                    return ir.GetField(obj=obj, field=e.name, ty=fty, **pos)
                if e.name in info.methods:
                    self.error("E0202", f"method `{e.name}` of `{info.name}` must be called", e.name_span,
                               f"call it: `.{e.name}(...)`, or wrap it: `() => x.{e.name}()`")
                    return ir.Const(value=None, ty=UNKNOWN, **pos)
                self.error("E0202", f"`{info.name}` has no field `{e.name}`", e.name_span,
                           did_you_mean(e.name, info.field_names + list(info.methods)))
                return ir.Const(value=None, ty=UNKNOWN, **pos)
        if t is None:
            self.error("E0204", "the type of this value is not known here", e.obj.span,
                       "annotate the variable or the lambda parameter")
        elif not isinstance(t, UnknownT):
            self.error("E0202", f"{self.tname(t)} has no field `{e.name}`", e.name_span)
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def is_module_alias(self: "Checker", name: str) -> bool:
        return name in self.imports and self.lookup_value_name(name) is None and name not in self.globals

    def expr_Index(self: "Checker", e: ast.Index) -> ir.Expr:
        pos = self.pos(e.span)
        obj = self.expr(e.obj)
        t = self.known(obj.ty)
        if t == PY:
            return self.py_index(obj, e.indices, e.span)
        if isinstance(t, ArrayT):
            return self.array_index(obj, t, e.indices, e.span)
        if len(e.indices) != 1:
            self.error("E0206", "only Arrays take several indices", e.span)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        ix = e.indices[0]
        if isinstance(t, ListT):
            idx = self.coerce(self.expr(ix, INT), INT, ix.span, "a list index")
            return ir.Index(obj=obj, index=idx, ty=t.elem, **pos)
        if isinstance(t, MapT):
            idx = self.coerce(self.expr(ix, t.key), t.key, ix.span, "a map key")
            return ir.Index(obj=obj, index=idx, ty=t.value, **pos)
        if t == STR:
            idx = self.coerce(self.expr(ix, INT), INT, ix.span, "a string index")
            return ir.Index(obj=obj, index=idx, ty=STR, **pos)
        if isinstance(t, TupleT):
            idx = fold_expr(self.expr(ix, INT))
            if isinstance(idx, ir.Const) and type(idx.value) is int:
                i = idx.value
                if -len(t.items) <= i < len(t.items):
                    return ir.TupleGet(obj=obj, index=i % len(t.items), ty=t.items[i], **pos)
                self.error("E0206", f"tuple index {i} out of range for {self.tname(t)}", ix.span)
            else:
                self.error("E0206", "a tuple index must be a constant integer", ix.span,
                           "or destructure it: `let (a, b) = t`")
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        if t is None:
            self.error("E0204", "the type of this value is not known here", e.obj.span)
        elif not isinstance(t, UnknownT):
            self.error("E0206", f"{self.tname(t)} cannot be indexed", e.span)
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def expr_Slice(self: "Checker", e: ast.Slice) -> ir.Expr:
        pos = self.pos(e.span)
        obj = self.expr(e.obj)
        t = self.known(obj.ty)
        lo = self.coerce(self.expr(e.lo, INT), INT, e.lo.span, "a slice bound") if e.lo is not None else None
        hi = self.coerce(self.expr(e.hi, INT), INT, e.hi.span, "a slice bound") if e.hi is not None else None
        if isinstance(t, (ListT, ArrayT)) or t == STR:  # an Array slice is a view
            return ir.Slice(obj=obj, lo=lo, hi=hi, ty=t, **pos)
        if t is None:
            self.error("E0204", "the type of this value is not known here", e.obj.span)
        elif not isinstance(t, UnknownT):
            self.error("E0206", f"{self.tname(t)} cannot be sliced", e.span, "slices work on List and str")
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    # ------------------------------------------------------------ lambdas

    def expr_Lambda(self: "Checker", e: ast.Lambda, expected: Type | None = None) -> ir.Expr:
        parent = self.ctx
        assert parent is not None
        exp = self.known(expected) if expected is not None else None
        exp_fn = exp if isinstance(exp, FnT) and len(exp.params) == len(e.params) else None
        if isinstance(exp, FnT) and exp_fn is None:
            self.error("E0201", f"this lambda takes {len(e.params)} parameter{'s' if len(e.params) != 1 else ''}, "
                               f"but {len(exp.params)} are expected here", e.span)
        if parent.depth + 1 > MAX_LAMBDA_DEPTH:
            self.error("E0005", f"lambdas nested too deeply (at most {MAX_LAMBDA_DEPTH} levels)", e.span,
                       "move the inner lambda into a function of its own")
        self.lambda_count += 1
        name = f"__lambda_{self.lambda_count}"
        ret: Type = exp_fn.ret if exp_fn is not None else TVar()
        ctx = self.new_ctx(name, "lambda", f"<lambda:{e.span.line}>", parent, TVar(), False)
        ptypes: list[Type] = []
        for i, p in enumerate(e.params):
            pt: Type = self.resolve_type(p.type) if p.type is not None else TVar()
            if exp_fn is not None and not unify(pt, exp_fn.params[i]):
                self.error("E0200", f"parameter `{p.name}` is {self.tname(pt)}, but {self.tname(exp_fn.params[i])} "
                                    f"is expected here", p.span)
            ctx.declare(p.name, pt, False, p.span)
            self.record_local(p.name, p.span, pt, "parameter")
            ptypes.append(pt)
        self.ctx = ctx
        if isinstance(e.body, ast.Block):
            body = self.block_stmts(e.body, new_scope=False)
            if not ctx.returns_value:
                unify(ctx.ret, NONE)
            elif self.known(ctx.ret) not in (None, NONE) and not self.always_exits(body):
                self.error("E0207", "this lambda must return a value on every path", e.span)
        else:
            value = self.expr(e.body, ret)
            unify(ctx.ret, value.ty)
            body = [ir.Return(value=value, **self.pos(e.body.span))]
        self.ctx = parent
        # the lambda's result meets the expected return type (int widens to float)
        if exp_fn is not None:
            want = prune(exp_fn.ret)
            have = prune(ctx.ret)
            if want == FLOAT and have == INT and body and isinstance(body[-1], ir.Return) and len(body) == 1:
                ret_stmt = body[-1]
                assert ret_stmt.value is not None
                ret_stmt.value = self.to_float(ret_stmt.value)
                ctx.ret = FLOAT
            elif not unify(have, want):
                self.error("E0200", f"this lambda returns {self.tname(have)}, but {self.tname(want)} is expected",
                           e.span)
        fn = self.finish(ctx, body, e.span.line, e.span.col)
        fn.params = len(e.params)
        return ir.Closure(func=name, ty=FnT(tuple(ptypes), ctx.ret), **self.pos(e.span))


def _standard_members() -> dict[str, list[str]]:
    """Each standard module's functions and constants (for the "add `import math`" hint)."""
    return {m: list(fns) + list(sigs.MODULE_CONSTANTS.get(m, {})) for m, fns in sigs.MODULES.items()}
