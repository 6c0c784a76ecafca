"""Statements: blocks, bindings and assignments, control flow, return, throw, try, assert."""
from __future__ import annotations

from typing import TYPE_CHECKING

from noodle.compiler import ast
from noodle.compiler.diagnostics import did_you_mean
from noodle.compiler.scope import FnCtx, GlobalInfo, Var
from noodle.ir import nodes as ir
from noodle.ir.passes.fold import fold_expr
from noodle.ir.types import (
    BOOL, ERROR, INT, NONE, RANGE, STR, UNKNOWN, ListT, MapT,
    PY, ArrayT, Prim, RangeT, StructT, TupleT, Type, UnknownT, prune, unify,
)
from noodle.compiler.checker.base import INT_MAX, local_symbol

if TYPE_CHECKING:
    from noodle.compiler.checker import Checker


class StatementRules:
    """Checker rules for statements (mixed into :class:`noodle.compiler.checker.Checker`)."""

    # ------------------------------------------------------------ statements

    def block_stmts(self: "Checker", block: ast.Block, new_scope: bool = True) -> list[ir.Stmt]:
        ctx = self.ctx
        assert ctx is not None
        if new_scope:
            ctx.scopes.append({})
        out: list[ir.Stmt] = []
        for s in block.stmts:
            out.extend(self.stmt(s))
        if new_scope:
            ctx.scopes.pop()
        return out

    def stmt(self: "Checker", s: ast.Stmt) -> list[ir.Stmt]:
        method = getattr(self, "stmt_" + type(s).__name__)
        return method(s)

    def stmt_Block(self: "Checker", s: ast.Block) -> list[ir.Stmt]:
        return self.block_stmts(s)

    def stmt_ExprStmt(self: "Checker", s: ast.ExprStmt) -> list[ir.Stmt]:
        e = self.expr(s.expr)
        self.last_expr_type = e.ty
        return [ir.ExprStmt(expr=e, **self.pos(s.span))]

    def stmt_LetDecl(self: "Checker", s: ast.LetDecl) -> list[ir.Stmt]:
        ctx = self.ctx
        assert ctx is not None
        declared = self.resolve_type(s.type) if s.type is not None else None
        value = self.expr(s.value, declared)
        if declared is not None:
            value = self.coerce(value, declared, s.value.span, "this binding")
        ty = declared if declared is not None else value.ty
        if isinstance(s.target, ast.NamePattern):
            if isinstance(prune(ty), Prim) and prune(ty) == NONE:
                pass
            v = self.declare_local(s.target.name, ty, s.mutable, s.target.span)
            return [ir.LocalSet(slot=v.slot, value=value, **self.pos(s.span))]
        return self.destructure(s.target, value, ty, s.mutable, s.span)

    def declare_local(self: "Checker", name: str, ty: Type, mutable: bool, span: ast.Span) -> Var:
        ctx = self.ctx
        assert ctx is not None
        if name in ctx.scopes[-1]:
            self.error("E0103", f"`{name}` is already defined in this scope", span,
                       "use a new name, or assign with `=` to a `var`",
                       related=[(ctx.scopes[-1][name].span, "first defined here")])
        v = ctx.declare(name, ty, mutable, span)
        self.local_spans[(ctx.name, v.slot)] = span
        self.record_local(name, span, ty)
        return v

    def destructure(self: "Checker", pat: ast.Pattern, value: ir.Expr, ty: Type, mutable: bool, span: ast.Span) -> list[ir.Stmt]:
        ctx = self.ctx
        assert ctx is not None
        if isinstance(pat, ast.NamePattern):
            v = self.declare_local(pat.name, ty, mutable, pat.span)
            return [ir.LocalSet(slot=v.slot, value=value, **self.pos(span))]
        t = self.known(ty)
        if not isinstance(t, TupleT) or len(t.items) != len(pat.items):
            if not isinstance(t, UnknownT):
                self.error("E0200", f"cannot destructure {self.tname(ty)} into {len(pat.items)} names", pat.span,
                           "only tuples can be destructured")
            for p in pat.items:
                self.bind_unknown(p, mutable)
            return []
        tmp = ctx.temp(t)
        out: list[ir.Stmt] = [ir.LocalSet(slot=tmp, value=value, **self.pos(span))]
        for i, (p, it) in enumerate(zip(pat.items, t.items)):
            part = ir.TupleGet(obj=ir.LocalGet(slot=tmp, ty=t, **self.pos(span)), index=i, ty=it, **self.pos(span))
            out.extend(self.destructure(p, part, it, mutable, span))
        return out

    def bind_unknown(self: "Checker", p: ast.Pattern, mutable: bool) -> None:
        if isinstance(p, ast.NamePattern):
            self.declare_local(p.name, UNKNOWN, mutable, p.span)
        else:
            for q in p.items:
                self.bind_unknown(q, mutable)

    def stmt_ConstDecl(self: "Checker", s: ast.ConstDecl) -> list[ir.Stmt]:
        # a `const` inside a function: a constant local
        declared = self.resolve_type(s.type) if s.type is not None else None
        value = self.expr(s.value, declared)
        if declared is not None:
            value = self.coerce(value, declared, s.value.span)
        folded = fold_expr(value)
        if not isinstance(folded, ir.Const):
            self.error("E0104", f"`const {s.name}` must be a compile-time constant", s.value.span)
        v = self.declare_local(s.name, declared or value.ty, False, s.span)
        return [ir.LocalSet(slot=v.slot, value=folded, **self.pos(s.span))]

    def stmt_Assign(self: "Checker", s: ast.Assign) -> list[ir.Stmt]:
        target = s.target
        pos = self.pos(s.span)
        if isinstance(target, ast.Name):
            ref = self.lookup_assignable(target)
            if ref is None:
                self.expr(s.value)
                return []
            kind, info, ty = ref
            if s.op == "=":  # (an augmented assignment reads the name, which records it)
                self.record_name(target.span, target.id, local_symbol(info.span) if isinstance(info, Var)
                                 else ("global", self.name, target.id), "variable" if kind == "local" else "global")
            current = self.name_expr(target) if s.op != "=" else None
            value = self.assigned_value(s, current, ty)
            if kind == "local":
                assert isinstance(info, Var)
                up = self.ctx.depth - info.ctx.depth  # type: ignore[union-attr]
                if up == 0:
                    return [ir.LocalSet(slot=info.slot, value=value, **pos)]
                return [ir.FreeSet(up=up, slot=info.slot, value=value, **pos)]
            assert isinstance(info, GlobalInfo)
            return [ir.GlobalSet(name=info.name, value=value, **pos)]
        if isinstance(target, ast.Attribute):
            if isinstance(target.obj, ast.Name) and self.is_module_alias(target.obj.id):
                self.error("E0102", f"cannot assign to `{target.obj.id}.{target.name}`: a module's variables change "
                                    "only through its own functions", target.span,
                           f"give `{target.obj.id}` a function that sets it")
                self.expr(s.value)
                return []
            obj = self.expr(target.obj)
            if self.known(obj.ty) == PY:
                return self.py_set_attr(obj, target.name, s)
            pre: list[ir.Stmt] = []
            if s.op != "=":
                obj, pre = self.stabilize(obj, s.span)
            t = self.known(obj.ty)
            if isinstance(t, StructT) and t != ERROR:  # (an Error is a struct too: see below)
                info = self.struct_info(t)
                fty = info.field_type(target.name) if info else None
                if fty is None:
                    self.error("E0202", f"`{self.tname(t)}` has no field `{target.name}`", target.name_span,
                               did_you_mean(target.name, info.field_names) if info else None)
                    self.expr(s.value)
                    return []
                assert info is not None
                self.record_name(target.name_span, target.name, ("field", info.module, info.name, target.name), "field")
                current = ir.GetField(obj=obj, field=target.name, ty=fty, **pos) if s.op != "=" else None
                value = self.assigned_value(s, current, fty)
                return pre + [ir.FieldSet(obj=obj, field=target.name, value=value, **pos)]
            if t == ERROR:
                self.error("E0102", "the fields of an Error cannot be changed", target.span,
                           'throw a new one instead: `throw Error("...")`')
                self.expr(s.value)
                return []
            if not isinstance(t, UnknownT):
                self.error("E0202", f"cannot assign to field `{target.name}` of {self.tname(obj.ty)}", target.span)
            self.expr(s.value)
            return []
        if isinstance(target, ast.Index):
            obj = self.expr(target.obj)
            if self.known(obj.ty) == PY:
                return self.py_store(obj, target.indices, s)
            if isinstance(self.known(obj.ty), ArrayT):
                return self.array_store(s, obj, self.known(obj.ty), target.indices)  # type: ignore[arg-type]
            if len(target.indices) != 1:
                self.error("E0206", "only Arrays take several indices", target.span)
                return []
            idx = self.expr(target.indices[0])
            pre = []
            if s.op != "=":
                obj, pre1 = self.stabilize(obj, s.span)
                idx, pre2 = self.stabilize(idx, s.span)
                pre = pre1 + pre2
            t = self.known(obj.ty)
            if isinstance(t, ListT):
                idx = self.coerce(idx, INT, target.indices[0].span, "a list index")
                ety = t.elem
            elif isinstance(t, MapT):
                idx = self.coerce(idx, t.key, target.indices[0].span, "a map key")
                ety = t.value
            else:
                if t is not None and not isinstance(t, UnknownT):
                    self.error("E0206", f"cannot assign into an element of {self.tname(obj.ty)}", target.span,
                               "str and tuples are immutable" if t == STR or isinstance(t, TupleT) else None)
                self.expr(s.value)
                return []
            current = ir.Index(obj=obj, index=idx, ty=ety, **pos) if s.op != "=" else None
            value = self.assigned_value(s, current, ety)
            return pre + [ir.IndexSet(obj=obj, index=idx, value=value, **pos)]
        self.error("E0001", "cannot assign to this expression", target.span)
        return []

    def stabilize(self: "Checker", e: ir.Expr, span: ast.Span) -> tuple[ir.Expr, list[ir.Stmt]]:
        """Evaluate `e` once into a temporary when reading it twice could repeat side effects."""
        if isinstance(e, (ir.LocalGet, ir.Const, ir.GlobalGet, ir.FreeGet)):
            return e, []
        slot = self.ctx.temp(e.ty)  # type: ignore[union-attr]
        return ir.LocalGet(slot=slot, ty=e.ty, **self.pos(span)), [ir.LocalSet(slot=slot, value=e, **self.pos(span))]

    def assigned_value(self: "Checker", s: ast.Assign, current: ir.Expr | None, ty: Type) -> ir.Expr:
        if s.op == "=":
            return self.coerce(self.expr(s.value, ty), ty, s.value.span, "this assignment")
        assert current is not None
        rhs = self.expr(s.value)
        result = self.binary_op(s.op[:-1], current, rhs, s.span)
        return self.coerce(result, ty, s.span, f"`{s.op}`")

    def lookup_assignable(self: "Checker", target: ast.Name) -> "tuple[str, Var | GlobalInfo, Type] | None":
        ctx = self.ctx
        assert ctx is not None
        c: FnCtx | None = ctx
        while c is not None:
            v = c.lookup_local(target.id)
            if v is not None:
                if not v.mutable:
                    self.error("E0102", f"cannot assign to `{target.id}`: it is bound with `let`", target.span,
                               f"declare it with `var {target.id} = ...` to make it reassignable")
                    return None
                return ("local", v, v.ty)
            c = c.parent
        g = self.globals.get(target.id)
        if g is not None:
            if not g.mutable:
                what = "const" if g.const else "let"
                self.error("E0102", f"cannot assign to `{target.id}`: it is a module `{what}`", target.span,
                           f"declare it with `var {target.id} = ...` to make it reassignable")
                return None
            return ("global", g, self.global_type(g, target.span))
        if target.id in self.funcs or target.id in self.structs or target.id in self.imports:
            self.error("E0102", f"cannot assign to `{target.id}`", target.span)
            return None
        self.error("E0101", f"assignment to undeclared name `{target.id}`", target.span,
                   f"declare it first: `var {target.id} = ...`")
        return None

    def cond(self: "Checker", e: ast.Expr) -> ir.Expr:
        c = self.expr(e, BOOL)
        t = self.known(c.ty)
        if t == PY:
            return self.py_truth(c)
        if t != BOOL and not isinstance(t, UnknownT):
            if t is None:
                unify(c.ty, BOOL)
            else:
                self.error("E0200", f"a condition must be bool, found {self.tname(c.ty)}", e.span,
                           "compare explicitly, e.g. `len(xs) > 0` or `x != 0`")
        return c

    def stmt_If(self: "Checker", s: ast.If) -> list[ir.Stmt]:
        c = self.cond(s.cond)
        then = self.block_stmts(s.then)
        otherwise: list[ir.Stmt] = []
        if isinstance(s.otherwise, ast.If):
            otherwise = self.stmt_If(s.otherwise)
        elif isinstance(s.otherwise, ast.Block):
            otherwise = self.block_stmts(s.otherwise)
        return [ir.If(cond=c, then=then, otherwise=otherwise, **self.pos(s.span))]

    def loop_body(self: "Checker", block: ast.Block, prologue: list[ir.Stmt] | None = None) -> list[ir.Stmt]:
        ctx = self.ctx
        assert ctx is not None
        ctx.loop_depth += 1
        body = (prologue or []) + self.block_stmts(block, new_scope=False)
        ctx.loop_depth -= 1
        return body

    def stmt_While(self: "Checker", s: ast.While) -> list[ir.Stmt]:
        c = self.cond(s.cond)
        self.ctx.scopes.append({})  # type: ignore[union-attr]
        body = self.loop_body(s.body)
        self.ctx.scopes.pop()  # type: ignore[union-attr]
        return [ir.While(cond=c, body=body, **self.pos(s.span))]

    def stmt_For(self: "Checker", s: ast.For) -> list[ir.Stmt]:
        ctx = self.ctx
        assert ctx is not None
        pos = self.pos(s.span)
        it = s.iter
        ctx.scopes.append({})
        try:
            # counting loops: a..b, a..=b, range(...)
            bounds = self.range_bounds(it)
            if bounds is not None and isinstance(s.target, ast.NamePattern):
                start, stop, step = bounds
                v = ctx.declare(s.target.name, INT, False, s.target.span)
                self.record_local(s.target.name, s.target.span, INT)
                body = self.loop_body(s.body)
                return [ir.ForRange(slot=v.slot, start=start, stop=stop, step=step, body=body, **pos)]
            iterable = self.expr(it) if bounds is None else self.range_value(bounds, it.span)
            t = self.known(iterable.ty)
            if t == PY:
                iterable, elem = self.py_iter(iterable), PY
            elif isinstance(t, ArrayT):
                iterable, elem = self.array_iteration(iterable, t)
            elif isinstance(t, ListT):
                elem = t.elem
            elif isinstance(t, MapT):
                elem = t.key
            elif t == STR:
                elem = STR
            elif isinstance(t, RangeT):
                elem = INT
            else:
                if t is None:
                    self.error("E0204", "the type of this collection is not known here", it.span,
                               "annotate the variable, e.g. `let xs: List<int> = []`")
                elif not isinstance(t, UnknownT):
                    self.error("E0200", f"cannot iterate over {self.tname(iterable.ty)}", it.span,
                               "for loops run over List, Map (keys), str and ranges")
                elem = UNKNOWN
            if isinstance(s.target, ast.NamePattern):
                v = ctx.declare(s.target.name, elem, False, s.target.span)
                self.record_local(s.target.name, s.target.span, elem)
                body = self.loop_body(s.body)
                return [ir.ForEach(slot=v.slot, iterable=iterable, body=body, **pos)]
            tmp = ctx.temp(elem)
            prologue = self.destructure(s.target, ir.LocalGet(slot=tmp, ty=elem, **pos), elem, False, s.span)
            body = self.loop_body(s.body, prologue)
            return [ir.ForEach(slot=tmp, iterable=iterable, body=body, **pos)]
        finally:
            ctx.scopes.pop()

    def range_bounds(self: "Checker", it: ast.Expr) -> tuple[ir.Expr, ir.Expr, ir.Expr] | None:
        pos = self.pos(it.span)
        one = ir.Const(value=1, ty=INT, **pos)
        if isinstance(it, ast.Range):
            lo = self.coerce(self.expr(it.lo, INT), INT, it.lo.span, "a range bound")
            hi = self.coerce(self.expr(it.hi, INT), INT, it.hi.span, "a range bound")
            if it.inclusive:
                # `a..=b` stops before b + 1, computed unchecked: `0..=INT_MAX` must not overflow
                if isinstance(hi, ir.Const) and type(hi.value) is int and hi.value < INT_MAX:
                    hi = ir.Const(value=hi.value + 1, ty=INT, **pos)
                else:
                    hi = ir.CallBuiltin(name="range.incl_stop", args=[hi], ty=INT, **pos)
            return lo, hi, one
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" \
                and self.is_prelude_name("range") and all(a.name is None for a in it.args) and 1 <= len(it.args) <= 3:
            args = [self.coerce(self.expr(a.value, INT), INT, a.value.span, "a range argument") for a in it.args]
            if len(args) == 1:
                return ir.Const(value=0, ty=INT, **pos), args[0], one
            if len(args) == 2:
                return args[0], args[1], one
            return args[0], args[1], args[2]
        return None

    def range_value(self: "Checker", bounds: tuple[ir.Expr, ir.Expr, ir.Expr], span: ast.Span) -> ir.Expr:
        return ir.CallBuiltin(name="range3", args=list(bounds), ty=RANGE, **self.pos(span))

    def stmt_Break(self: "Checker", s: ast.Break) -> list[ir.Stmt]:
        if self.ctx.loop_depth == 0:  # type: ignore[union-attr]
            self.error("E0300", "`break` outside a loop", s.span)
            return []
        return [ir.Break(**self.pos(s.span))]

    def stmt_Continue(self: "Checker", s: ast.Continue) -> list[ir.Stmt]:
        if self.ctx.loop_depth == 0:  # type: ignore[union-attr]
            self.error("E0300", "`continue` outside a loop", s.span)
            return []
        return [ir.Continue(**self.pos(s.span))]

    def stmt_Return(self: "Checker", s: ast.Return) -> list[ir.Stmt]:
        ctx = self.ctx
        assert ctx is not None
        if ctx.kind in ("init", "test"):
            self.error("E0301", "`return` outside a function", s.span)
            return []
        if s.value is None:
            if not unify(ctx.ret, NONE):
                self.error("E0207", f"`return` needs a value of type {self.tname(ctx.ret)} here", s.span)
            return [ir.Return(value=None, **self.pos(s.span))]
        value = self.expr(s.value, ctx.ret)
        if ctx.ret_declared or self.known(ctx.ret) is not None:
            value = self.coerce(value, ctx.ret, s.value.span, "the return value")
        else:
            unify(ctx.ret, value.ty)
        ctx.returns_value = True
        return [ir.Return(value=value, **self.pos(s.span))]

    def stmt_Throw(self: "Checker", s: ast.Throw) -> list[ir.Stmt]:
        value = self.coerce(self.expr(s.value, ERROR), ERROR, s.value.span, "`throw`")
        return [ir.Throw(value=value, **self.pos(s.span))]

    def stmt_Try(self: "Checker", s: ast.Try) -> list[ir.Stmt]:
        ctx = self.ctx
        assert ctx is not None
        body = self.block_stmts(s.body)
        ctx.scopes.append({})
        slot = -1
        if s.catch_name is not None:
            slot = ctx.declare(s.catch_name, ERROR, False, s.name_span).slot
            self.record_local(s.catch_name, s.name_span, ERROR)
        handler = self.block_stmts(s.handler, new_scope=False)
        ctx.scopes.pop()
        return [ir.TryCatch(body=body, slot=slot, handler=handler, **self.pos(s.span))]

    def stmt_Assert(self: "Checker", s: ast.Assert) -> list[ir.Stmt]:
        c = self.cond(s.cond)
        if s.message is not None:
            msg = self.coerce(self.expr(s.message, STR), STR, s.message.span, "an assert message")
        else:
            msg = ir.Const(value="assertion failed", ty=STR, **self.pos(s.span))
            if self.ctx is not None and isinstance(c, ir.Binary) \
                    and (c.op.startswith("cmp.") or c.op in ("in", "not_in")):
                return self.explained_assert(s, c)
        return [ir.Assert(cond=c, message=msg, **self.pos(s.span))]

    def explained_assert(self: "Checker", s: ast.Assert, c: ir.Binary) -> list[ir.Stmt]:
        """`assert a == b` anywhere (a test, a helper it calls, a program): both sides computed once, and
        shown with the expression on failure (`assertion failed: a == b` / `  left:  [1, 2]` /
        `  right: [1, 3]`).  The message is built only when the assert fails (the translator puts it
        inside the failure branch), so a passing assert costs two local stores."""
        ctx = self.ctx
        assert ctx is not None
        pos = self.pos(s.span)
        left, right = ctx.temp(c.a.ty), ctx.temp(c.b.ty)
        a = ir.LocalGet(slot=left, ty=c.a.ty, line=c.a.line, col=c.a.col)
        b = ir.LocalGet(slot=right, ty=c.b.ty, line=c.b.line, col=c.b.col)
        text = _source_text(self.ast.source, s.cond.span)

        def shown(v: ir.Expr) -> ir.Expr:
            return ir.CallBuiltin(name="repr", args=[v], ty=STR, line=v.line, col=v.col)

        parts: list[ir.Expr] = [ir.Const(value=f"assertion failed: {text}\n  left:  ", ty=STR, **pos), shown(a),
                                ir.Const(value="\n  right: ", ty=STR, **pos), shown(b)]
        message = ir.Interp(parts=parts, ty=STR, **pos)
        cond = ir.Binary(op=c.op, a=a, b=b, ty=c.ty, line=c.line, col=c.col)
        return [ir.LocalSet(slot=left, value=c.a, **pos), ir.LocalSet(slot=right, value=c.b, **pos),
                ir.Assert(cond=cond, message=message, **pos)]

    # top-level items that may appear nested are errors
    def stmt_FnDecl(self: "Checker", s: ast.FnDecl) -> list[ir.Stmt]:
        self.error("E0005", "functions are declared at the top level of a module", s.span,
                   "use a lambda for a local function: `let f = (x: int) => x * 2`")
        return []

    stmt_StructDecl = stmt_FnDecl  # type: ignore[assignment]


def _source_text(source: str, span: ast.Span) -> str:
    """The source a span covers, on one line (`a == b`); `?` when the source is not at hand."""
    lines = source.split("\n")
    if not source or not 1 <= span.line <= span.end_line <= len(lines):
        return "?"
    if span.line == span.end_line:
        return lines[span.line - 1][span.col - 1:span.end_col - 1]
    chunk = [lines[span.line - 1][span.col - 1:]] + lines[span.line:span.end_line - 1] + \
        [lines[span.end_line - 1][:span.end_col - 1]]
    return " ".join(part.strip() for part in chunk)
