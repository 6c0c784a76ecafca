"""Declarations: the module, its header and imports, functions and their signatures, globals."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from noodle.compiler import ast
from noodle.compiler.checker.base import (KNOWN_ATTRIBUTES, SEMVER, NativeModule, constant_default, nesting_problem, width_problem,
                                          pattern_names)
from noodle.compiler.checker.chains import flatten_chains
from noodle.compiler.diagnostics import did_you_mean
from noodle.compiler.scope import FnCtx, FuncInfo, GlobalInfo, ModuleInterface, StructInfo
from noodle.ir import nodes as ir
from noodle.ir.passes.fold import fold_expr
from noodle.ir.types import (
    NONE, UNKNOWN, FnT, StructT, TupleT, TVar, Type, UnknownT, has_unbound, prune, resolve,
    unify,
)
from noodle.stdlib import signatures as sigs

if TYPE_CHECKING:
    from noodle.compiler.checker import Checker


class DeclarationRules:
    """Checker rules for declarations (mixed into :class:`noodle.compiler.checker.Checker`)."""

    # ------------------------------------------------------------ module

    def check_module(self: "Checker") -> ir.Module:
        m = self.ast
        if m.header is not None:
            self.check_header(m.header)
        init = self.init_ctx_for_globals()
        self.collect(m)
        self.ctx = init
        body: list[ir.Stmt] = []
        for item in m.items:
            if isinstance(item, (ast.Import, ast.FromImport, ast.FnDecl, ast.StructDecl, ast.TestDecl)):
                continue
            if isinstance(item, (ast.LetDecl, ast.ConstDecl)) and self.is_global_decl(item):
                body.extend(self.global_decl(item))
                continue
            body.extend(self.stmt(item))
        self.ctx = None
        self.finish(init, body, 0, 0)
        for info in list(self.funcs.values()):
            self.ensure_checked(info)
        for s in self.structs.values():
            for info in s.methods.values():
                self.ensure_checked(info)
        for item in m.items:
            if isinstance(item, ast.TestDecl):
                self.check_test(item)
        for g in self.globals.values():
            if g.ty is not None and has_unbound(g.ty) and g.decl is not None and not self.diags.has_errors:
                self.error("E0204", f"the type of `{g.name}` cannot be inferred", g.decl.span,
                           f"annotate it, e.g. `{'var' if g.mutable else 'let'} {g.name}: List<int> = []`")
        entry = None
        if "main" in self.funcs:
            main = self.funcs["main"]
            if main.param_names:
                self.error("E0201", "`main` takes no parameters", main.decl.span if main.decl else ast.NO_SPAN)
            entry = "main"
        return ir.Module(
            name=self.name, version=self.version, file=m.file, imports=self.import_paths,
            functions=self.functions,
            structs=[ir.StructDef(name=s.name, field_names=s.field_names, field_types=[resolve(t) for t in s.field_types],
                                  methods=list(s.methods), exported=s.exported,
                                  line=s.decl.span.line if s.decl else 0,
                                  defaults=[constant_default(d, t) for d, t in zip(s.defaults, s.field_types)])
                     for s in self.structs.values()],
            globals=[ir.GlobalDef(name=g.name, ty=resolve(g.ty or UNKNOWN), mutable=g.mutable, const=g.const,
                                  exported=g.exported) for g in self.globals.values()],
            tests=self.tests, entry=entry)

    def check_header(self: "Checker", header: ast.ModuleHeader) -> None:
        if self.expected_name is None:
            self.name = header.name  # the main module (or a host's) is named by its header
        if header.version:
            if SEMVER.fullmatch(header.version):
                self.version = header.version
            else:
                self.error("E0006", f"module version {header.version!r} is not a semantic version", header.span,
                           'write MAJOR.MINOR.PATCH, e.g. `version "1.2.0"`')
        if self.expected_name is not None and header.name != self.expected_name:
            self.error("E0006", f"module header says `{header.name}`, but the file is module `{self.expected_name}`",
                       header.span, "a module's name is its path from the source root; rename one of them")

    def is_global_decl(self: "Checker", item: "ast.LetDecl | ast.ConstDecl") -> bool:
        """Every top-level `let`, `var` and `const` declares module globals (tuple patterns too)."""
        return True

    def collect(self: "Checker", m: ast.Module) -> None:
        """Declare every top-level name before any body is checked (so order does not matter)."""
        taken: dict[str, ast.Span] = {}

        def claim(name: str, span: ast.Span) -> bool:
            if name in taken:
                self.error("E0103", f"`{name}` is defined twice", span,
                           f"the first definition is at line {taken[name].line}",
                           related=[(taken[name], "first defined here")])
                return False
            taken[name] = span
            return True

        for item in m.items:
            if isinstance(item, ast.Import):
                self.do_import(item, claim)
            elif isinstance(item, ast.FromImport):
                self.do_from_import(item, claim)
        for item in m.items:
            if isinstance(item, ast.StructDecl) and claim(item.name, item.span):
                self.record_name(item.name_span, item.name, ("struct", self.name, item.name), "struct", True)
                st = StructT(self.name, item.name)
                self.structs[item.name] = StructInfo(item.name, self.name, st, decl=item,
                                                     exported=not item.name.startswith("_"))
        for item in m.items:
            if isinstance(item, ast.FnDecl) and claim(item.name, item.name_span):
                self.record_name(item.name_span, item.name, ("fn", self.name, item.name), "function", True)
                self.funcs[item.name] = self.signature(item, item.name, None)
            elif isinstance(item, ast.LetDecl) and isinstance(item.target, ast.TuplePattern):
                for pname, path, pspan in pattern_names(item.target):
                    if claim(pname, pspan):
                        self.globals[pname] = GlobalInfo(pname, None, mutable=item.mutable, const=False, decl=item,
                                                         exported=not pname.startswith("_"), path=path)
            elif isinstance(item, (ast.LetDecl, ast.ConstDecl)) and self.is_global_decl(item):
                name = item.name if isinstance(item, ast.ConstDecl) else item.target.name  # type: ignore[union-attr]
                if claim(name, item.span):
                    where = item.name_span if isinstance(item, ast.ConstDecl) else item.target.span  # type: ignore[union-attr]
                    self.record_name(where, name, ("global", self.name, name), "global", True)
                    const = isinstance(item, ast.ConstDecl)
                    self.globals[name] = GlobalInfo(
                        name, self.resolve_type(item.type) if item.type else None,
                        mutable=(not const and item.mutable),  # type: ignore[union-attr]
                        const=const, decl=item, exported=not name.startswith("_"))
        for s in self.structs.values():
            decl = s.decl
            assert decl is not None
            seen: set[str] = set()
            for f in decl.fields:
                if f.name in seen:
                    self.error("E0103", f"field `{f.name}` is defined twice in `{s.name}`", f.span)
                    continue
                seen.add(f.name)
                self.record_name(f.span, f.name, ("field", self.name, s.name, f.name), "field", True)
                s.field_names.append(f.name)
                s.field_types.append(self.resolve_type(f.type))
                s.defaults.append(f.default)
            for meth in decl.methods:
                if meth.name in s.methods or meth.name in seen:
                    self.error("E0103", f"`{meth.name}` is defined twice in `{s.name}`", meth.name_span)
                    continue
                self.record_name(meth.name_span, meth.name, ("fn", self.name, f"{s.name}.{meth.name}"), "method", True)
                s.methods[meth.name] = self.signature(meth, f"{s.name}.{meth.name}", s)

    def do_import(self: "Checker", item: ast.Import, claim: Callable[[str, ast.Span], bool]) -> None:
        if item.is_py:
            self.py_import(item, claim)
            return
        alias = item.alias or item.path.rpartition(".")[2]
        mod = self.load_module(item.path, item.span)
        if mod is not None and claim(alias, item.span):
            self.imports[alias] = mod

    def do_from_import(self: "Checker", item: ast.FromImport, claim: Callable[[str, ast.Span], bool]) -> None:
        mod = self.load_module(item.path, item.span)
        if mod is None:
            return
        for i, (name, alias) in enumerate(item.names):
            span = item.name_spans[i] if i < len(item.name_spans) else item.span
            if self.module_member_kind(mod, name) is None:
                self.error("E0401", f"module `{item.path}` has no exported name `{name}`", span,
                           did_you_mean(name, self.module_members(mod)))
                continue
            if claim(alias or name, item.span):
                self.from_names[alias or name] = (mod, name)
                if isinstance(mod, ModuleInterface):
                    kind = ("struct" if name in mod.structs else "global" if name in mod.globals else "fn")
                    self.record_name(ast.Span(span.file, span.line, span.col, span.line, span.col + len(name)), name,
                                     (kind, mod.name, name), "function" if kind == "fn" else kind, exact=True)

    def load_module(self: "Checker", path: str, span: ast.Span) -> "ModuleInterface | NativeModule | None":
        if path in sigs.MODULES:
            return NativeModule(path)
        if self.resolver is None:
            self.error("E0400", f"module `{path}` not found", span)
            return None
        iface = self.resolver(path, span)
        if iface is None:
            return None  # the resolver reported why
        self.interfaces[path] = iface
        if path not in self.import_paths:
            self.import_paths.append(path)
        return iface

    def ensure_import(self: "Checker", module: str) -> None:
        """Link a module this one reaches only through another (a method of a struct it returns)."""
        if module not in self.import_paths:
            self.import_paths.append(module)

    def module_members(self: "Checker", mod: "ModuleInterface | NativeModule") -> set[str]:
        if isinstance(mod, NativeModule):
            return set(sigs.MODULES[mod.name]) | set(sigs.MODULE_CONSTANTS.get(mod.name, {}))
        return set(mod.functions) | set(mod.globals) | set(mod.structs)

    def module_member_kind(self: "Checker", mod: "ModuleInterface | NativeModule", name: str) -> str | None:
        if isinstance(mod, NativeModule):
            if name in sigs.MODULES[mod.name]:
                return "native"
            if name in sigs.MODULE_CONSTANTS.get(mod.name, {}):
                return "constant"
            return None
        if name in mod.functions:
            return "function"
        if name in mod.globals:
            return "global"
        if name in mod.structs:
            return "struct"
        return None

    def signature(self: "Checker", decl: ast.FnDecl, name: str, struct: StructInfo | None) -> FuncInfo:
        names: list[str] = []
        types: list[Type] = []
        for attr in decl.attributes:
            if attr not in KNOWN_ATTRIBUTES:
                self.error("E0005", f"unknown attribute `@{attr}`", decl.span,
                           did_you_mean(attr, KNOWN_ATTRIBUTES) or "the known attributes are `@no_optimize` and `@vector_math`")
        if struct is not None and (not decl.params or decl.params[0].name != "self" or decl.params[0].type is not None):
            self.error("E0005", f"method `{decl.name}` of `{struct.name}` must take `self` as its first parameter",
                       decl.name_span, f"write `fn {decl.name}(self, ...)`; a function without `self` belongs at "
                                       "the top level of the module")
        for i, p in enumerate(decl.params):
            if p.name in names:
                self.error("E0103", f"parameter `{p.name}` is defined twice", p.span)
            names.append(p.name)
            if p.type is None:
                if struct is not None and i == 0 and p.name == "self":
                    types.append(struct.ty)
                else:
                    self.error("E0204", f"parameter `{p.name}` needs a type annotation", p.span,
                               f"write `{p.name}: int` (or the type it holds)")
                    types.append(UNKNOWN)
            else:
                types.append(self.resolve_type(p.type))
        ret = self.resolve_type(decl.ret) if decl.ret is not None else TVar()
        display = f"{struct.name}.{decl.name}" if struct else decl.name
        exported = not decl.name.startswith("_") and (struct is None or struct.exported)
        return FuncInfo(name, display, names, types, ret, decl, struct, exported)

    # ------------------------------------------------------------ functions

    def new_ctx(self: "Checker", name: str, kind: str, display: str, parent: FnCtx | None, ret: Type, declared: bool) -> FnCtx:
        depth = parent.depth + 1 if parent is not None else 0
        return FnCtx(name, kind, display, parent, depth, ret, declared)

    def ensure_checked(self: "Checker", info: FuncInfo) -> None:
        if info.state != "new" or info.decl is None:
            return
        info.state = "checking"
        decl = info.decl
        ctx = self.new_ctx(info.name, "method" if info.struct else "fn", info.display, None, info.ret,
                           decl.ret is not None)
        for pname, ptype, p in zip(info.param_names, info.param_types, decl.params):
            ctx.declare(pname, ptype, False, p.span)
            self.record_local(pname, p.span, ptype, "parameter")
        saved, self.ctx = self.ctx, ctx
        body = self.block_stmts(decl.body, new_scope=False)
        self.ctx = saved
        if not ctx.returns_value and isinstance(prune(info.ret), TVar):
            unify(info.ret, NONE)
        if prune(info.ret) != NONE and not isinstance(prune(info.ret), UnknownT) and not self.always_exits(body):
            self.error("E0207", f"`{info.display}` must return a value of type {self.tname(info.ret)} on every path",
                       decl.name_span, "add a `return` at the end of the function")
        fn = self.finish(ctx, body, decl.span.line, decl.span.col, attributes=list(decl.attributes),
                         exported=info.exported)
        fn.params = len(info.param_names)
        info.state = "done"

    def finish(self: "Checker", ctx: FnCtx, body: list[ir.Stmt], line: int, col: int, attributes: list[str] | None = None,
               exported: bool = False) -> ir.Function:
        def flag(ty: Type) -> int:  # set more than once: a `var` to the passes
            slot = ctx.temp(ty)
            ctx.mutable_slots.append(slot)
            return slot

        body = flatten_chains(body, flag, self.always_exits)
        problem = nesting_problem(body)
        if problem is not None:
            node, what = problem
            self.error("E0005", f"{what} nested too deeply", ast.Span(self.ast.file, node.line, node.col,
                                                                       node.line, node.col + 1),
                       "move the inner part into a function of its own")
        wide = width_problem(body)
        if wide is not None:
            node, (what, hint) = wide
            self.error("E0005", f"{what} is too wide for one instruction",
                       ast.Span(self.ast.file, node.line, node.col, node.line, node.col + 1), hint)
        fn = ir.Function(name=ctx.name, kind=ctx.kind, display=ctx.display, params=0,
                         local_names=ctx.local_names, local_types=ctx.local_types, ret=ctx.ret, body=body,
                         parent=ctx.parent.name if ctx.parent else None, depth=ctx.depth,
                         attributes=attributes or [], line=line, col=col, exported=exported,
                         mutable_slots=list(ctx.mutable_slots))
        self.functions.append(fn)
        return fn

    def check_test(self: "Checker", item: ast.TestDecl) -> None:
        name = f"__test_{len(self.tests)}"
        ctx = self.new_ctx(name, "test", f"test {item.name!r}", None, NONE, True)
        saved, self.ctx = self.ctx, ctx
        body = self.block_stmts(item.body, new_scope=False)
        self.ctx = saved
        self.finish(ctx, body, item.span.line, item.span.col)
        self.tests.append(ir.TestDef(name=item.name, func=name))

    def always_exits(self: "Checker", body: list[ir.Stmt]) -> bool:
        for s in body:
            if isinstance(s, (ir.Return, ir.Throw)):
                return True
            if isinstance(s, ir.If) and self.always_exits(s.then) and self.always_exits(s.otherwise):
                return True
            if isinstance(s, ir.TryCatch) and self.always_exits(s.body) and self.always_exits(s.handler):
                return True
            if isinstance(s, ir.While) and isinstance(s.cond, ir.Const) and s.cond.value is True \
                    and not self.has_break(s.body):
                return True
        return False

    def has_break(self: "Checker", body: list[ir.Stmt]) -> bool:
        for s in body:
            if isinstance(s, ir.Break):
                return True
            if isinstance(s, ir.If) and (self.has_break(s.then) or self.has_break(s.otherwise)):
                return True
            if isinstance(s, ir.TryCatch) and (self.has_break(s.body) or self.has_break(s.handler)):
                return True
        return False

    def func_type(self: "Checker", info: FuncInfo, span: ast.Span) -> FnT:
        """The signature of a function, checking its body first when its return type is inferred."""
        if isinstance(prune(info.ret), TVar) and info.state == "new":
            saved = self.ctx
            self.ensure_checked(info)
            self.ctx = saved
        return info.type

    # ------------------------------------------------------------ globals

    def global_type(self: "Checker", g: GlobalInfo, span: ast.Span) -> Type:
        if g.ty is not None and g.state != "new":
            return g.ty
        if g.state == "checking":
            if g.ty is not None:
                return g.ty
            return self.error("E0204", f"the type of `{g.name}` depends on itself", span,
                              f"annotate it: `{'var' if g.mutable else 'let'} {g.name}: T = ...`")
        self.check_global_init(g)
        return g.ty or UNKNOWN

    def check_global_init(self: "Checker", g: GlobalInfo) -> None:
        """Check a global's initializer (in the module's init function), once."""
        if g.state != "new":
            return
        decl = g.decl
        assert decl is not None
        if g.path is not None:
            self.check_tuple_globals(decl)  # type: ignore[arg-type]
            return
        g.state = "checking"
        saved, self.ctx = self.ctx, self.init_ctx_for_globals()
        value = self.expr(decl.value, g.ty)
        if g.ty is not None:
            value = self.coerce(value, g.ty, decl.value.span, f"`{g.name}`")
        else:
            g.ty = value.ty
        self.ctx = saved
        if g.const:
            folded = fold_expr(value)
            if not isinstance(folded, ir.Const):
                self.error("E0104", f"`const {g.name}` must be a compile-time constant", decl.value.span,
                           "use `let` for values computed at run time")
            else:
                g.const_value = folded.value
                value = folded
        g.init_ir = value
        g.state = "done"

    def check_tuple_globals(self: "Checker", decl: ast.LetDecl) -> None:
        """`let (a, b) = e` at top level: check `e` once and type every name it binds."""
        members = [g for g in self.globals.values() if g.decl is decl]
        for g in members:
            g.state = "checking"
        saved, self.ctx = self.ctx, self.init_ctx_for_globals()
        declared = self.resolve_type(decl.type) if decl.type is not None else None
        value = self.expr(decl.value, declared)
        if declared is not None:
            value = self.coerce(value, declared, decl.value.span, "this binding")
        self.ctx = saved
        self.tuple_inits[id(decl)] = value
        for g in members:
            t: Type = value.ty
            for i in g.path or ():
                k = self.known(t)
                if isinstance(k, TupleT) and i < len(k.items):
                    t = k.items[i]
                else:
                    if not isinstance(k, UnknownT):
                        self.error("E0200", f"cannot destructure {self.tname(value.ty)} into this pattern",
                                   decl.target.span, "only tuples can be destructured")
                    t = UNKNOWN
                    break
            g.ty = t
            g.state = "done"

    _init_ctx_cache: FnCtx | None = None

    def init_ctx_for_globals(self: "Checker") -> FnCtx:
        # Module init's context exists once check_module starts; before that it is created here.
        if self._init_ctx_cache is None:
            self._init_ctx_cache = self.new_ctx("__init__", "init", "<module>", None, NONE, True)
        return self._init_ctx_cache

    def global_decl(self: "Checker", item: "ast.LetDecl | ast.ConstDecl") -> list[ir.Stmt]:
        if isinstance(item, ast.LetDecl) and isinstance(item.target, ast.TuplePattern):
            return self.tuple_global_decl(item)
        name = item.name if isinstance(item, ast.ConstDecl) else item.target.name  # type: ignore[union-attr]
        g = self.globals.get(name)
        if g is None or g.decl is not item:
            return []  # a duplicate, already reported
        self.check_global_init(g)
        if g.init_ir is None:
            return []
        return [ir.GlobalSet(name=name, value=g.init_ir, **self.pos(item.span))]

    def tuple_global_decl(self: "Checker", item: ast.LetDecl) -> list[ir.Stmt]:
        members = [g for g in self.globals.values() if g.decl is item]
        if not members:
            return []
        self.check_global_init(members[0])
        value = self.tuple_inits.get(id(item))
        if value is None:
            return []
        pos = self.pos(item.span)
        ctx = self.init_ctx_for_globals()
        tmp = ctx.temp(value.ty)
        out: list[ir.Stmt] = [ir.LocalSet(slot=tmp, value=value, **pos)]
        for g in members:
            part: ir.Expr = ir.LocalGet(slot=tmp, ty=value.ty, **pos)
            t: Type = value.ty
            for i in g.path or ():
                k = self.known(t)
                if not isinstance(k, TupleT):
                    return out
                t = k.items[i]
                part = ir.TupleGet(obj=part, index=i, ty=t, **pos)
            out.append(ir.GlobalSet(name=g.name, value=part, **pos))
        return out
