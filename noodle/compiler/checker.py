"""Name resolution, type checking and lowering to the typed IR, in one walk.

The checker elaborates the AST into IR as it checks it: every expression it
accepts comes back as an IR node carrying its type, with operators resolved
by type (`int.add` vs `float.add`), implicit int→float conversions made
explicit, and names resolved to local slots, captured variables, globals or
functions.  Checking and lowering share one walk because both need the same
facts at the same place; the IR is the typed AST's successor, not a copy.

Types are inferred by unification (:mod:`noodle.ir.types`): locals and
return types may be left out; parameters are annotated (lambda parameters
take their types from the context they are passed to).  Errors are collected
in a :class:`DiagnosticBag`; after an error the offending expression gets the
type `?` so one mistake is reported once.
"""
from __future__ import annotations

import re
from typing import Callable

from noodle.compiler import ast
from noodle.compiler.arrays import ArrayRules
from noodle.compiler.diagnostics import DiagnosticBag, did_you_mean
from noodle.compiler.scope import FnCtx, FuncInfo, GlobalInfo, ModuleInterface, StructInfo, Var
from noodle.ir import nodes as ir
from noodle.ir.passes.fold import fold_expr
from noodle.ir.walk import children as walk_children
from noodle.ir.types import (
    BOOL, ERROR, F32, FLOAT, I32, INT, NONE, PRIMS, RANGE, STR, UNKNOWN, FnT, ListT, MapT,
    ArrayT, Prim, RangeT, StructT, TupleT, TVar, Type, UnknownT, has_unbound, is_hashable, prune, resolve,
    undo, unify,
)
from noodle.stdlib import signatures as sigs

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
#: Deepest lambda nesting (lambdas become nested Python functions; see noodle.format.limits.MAX_DEPTH).
MAX_LAMBDA_DEPTH = 32
#: Attributes a declaration may carry.
KNOWN_ATTRIBUTES = {"no_optimize"}
#: Prelude names of the Array part of the language, which arrives with the intents work.
ARRAY_PRELUDE = {"array", "zeros", "ones", "full", "arange", "linspace", "rand", "dot", "matmul", "mean",
                 "sqrt", "exp", "log", "transpose"}

ARITH = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod", "**": "pow"}
BITWISE = {"&": "and", "|": "or", "^": "xor", "<<": "shl", ">>": "shr"}
COMPARE = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
#: the 32-bit types: their natives' prefix and the arithmetic they have (noodle.stdlib.narrow)
NARROW = {F32: ("f32", ("add", "sub", "mul", "div")), I32: ("i32", ("add", "sub", "mul", "floordiv", "mod"))}

#: Resolves an imported Noodle module's dotted path to its interface (the driver compiles it).
Resolver = Callable[[str, ast.Span], "ModuleInterface | None"]


class NativeModule:
    """A standard module (math, time, random, io) bound by `import`."""

    def __init__(self, name: str) -> None:
        self.name = name


class Checker(ArrayRules):
    def __init__(self, module: ast.Module, name: str, diags: DiagnosticBag,
                 resolver: Resolver | None = None, interfaces: dict[str, ModuleInterface] | None = None,
                 expected_name: str | None = None) -> None:
        self.ast = module
        self.name = name
        self.version = "0.0.0"
        self.diags = diags
        self.resolver = resolver
        self.structs: dict[str, StructInfo] = {}
        self.funcs: dict[str, FuncInfo] = {}
        self.globals: dict[str, GlobalInfo] = {}
        self.imports: dict[str, "ModuleInterface | NativeModule"] = {}  # alias -> module
        self.from_names: dict[str, tuple["ModuleInterface | NativeModule", str]] = {}
        self.import_paths: list[str] = []
        self.functions: list[ir.Function] = []
        self.tests: list[ir.TestDef] = []
        self.lambda_count = 0
        self.ctx: FnCtx | None = None
        self.interfaces = interfaces if interfaces is not None else {}  # shared across a project
        self.last_expr_type: Type | None = None  # the REPL echoes the last expression statement
        self.expected_name = expected_name  # an imported module's header must name its path
        self.tuple_inits: dict[int, ir.Expr] = {}  # top-level `let (a, b) = e`: e, checked once
        #: (function IR name, slot) -> where the local was declared, for diagnostics reported after checking
        self.local_spans: dict[tuple[str, int], ast.Span] = {}

    # ------------------------------------------------------------ utilities

    def error(self, code: str, msg: str, span: ast.Span, hint: str | None = None) -> Type:
        self.diags.error(code, msg, span, hint)
        return UNKNOWN

    def tname(self, t: Type) -> str:
        t = resolve(t)
        if isinstance(t, StructT) and t.module == self.name:
            return t.name
        return str(t)

    def known(self, t: Type) -> Type | None:
        """The type with variables followed; None when it is still unknown (an unbound variable)."""
        t = prune(t)
        return None if isinstance(t, TVar) else t

    def coerce(self, e: ir.Expr, target: Type, span: ast.Span, what: str = "value") -> ir.Expr:
        """`e` as a value of type `target`: int widens to float; anything else must unify."""
        have, want = prune(e.ty), prune(target)
        if isinstance(have, UnknownT) or isinstance(want, UnknownT):
            return e
        if want == FLOAT and have == INT:
            return self.to_float(e)
        if unify(have, want):
            return e
        self.error("E0200", f"expected {self.tname(want)} for {what}, found {self.tname(have)}", span,
                   self.conversion_hint(have, want))
        return e

    def conversion_hint(self, have: Type, want: Type) -> str | None:
        if want == INT and have == FLOAT:
            return "floats do not convert to int implicitly; use int(x) or round(x)"
        if want == STR:
            return "use str(x) to turn a value into text"
        if want in (INT, FLOAT) and have == STR:
            return f"use {want}(s) to parse text"
        return None

    def to_float(self, e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.Const) and type(e.value) is int:
            return ir.Const(value=float(e.value), ty=FLOAT, line=e.line, col=e.col)
        return ir.Unary(op="int.to_float", x=e, ty=FLOAT, line=e.line, col=e.col)

    def error_expr(self, code: str, msg: str, span: ast.Span, pos: dict) -> ir.Expr:
        self.error(code, msg, span)
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def pos(self, span: ast.Span) -> dict:
        return {"line": span.line, "col": span.col}

    # ------------------------------------------------------------ types

    def resolve_type(self, t: ast.TypeExpr | None) -> Type:
        if t is None:
            return TVar()
        if isinstance(t, ast.TupleType):
            return TupleT(tuple(self.resolve_type(x) for x in t.items))
        if isinstance(t, ast.FnType):
            return FnT(tuple(self.resolve_type(x) for x in t.params), self.resolve_type(t.ret))
        name, args = t.name, t.args

        def arity(n: int) -> bool:
            if len(args) != n:
                self.error("E0208", f"`{name}` takes {n} type argument{'s' if n != 1 else ''}, found {len(args)}", t.span)
                return False
            return True

        def arg(i: int) -> Type:
            a = args[i]
            if isinstance(a, int):
                self.error("E0208", f"expected a type, found the number {a}", t.span)
                return UNKNOWN
            return self.resolve_type(a)

        if name in PRIMS:
            return PRIMS[name] if arity(0) else UNKNOWN
        if name == "List":
            return ListT(arg(0)) if arity(1) else UNKNOWN
        if name == "Map":
            if not arity(2):
                return UNKNOWN
            k = arg(0)
            if not is_hashable(k):
                self.error("E0200", f"`{self.tname(k)}` cannot be a map key", t.span,
                           "map keys are int, float, str, bool or tuples of them")
            return MapT(k, arg(1))
        if name == "Error":
            return ERROR
        if name == "Array":
            return self.array_type(t)
        if name == "py":
            return self.error("E0403", "the `py` type (Python FFI) is not available in this build yet", t.span)
        if name in self.structs:
            return self.structs[name].ty
        if "." in name:
            alias, _, short = name.rpartition(".")
            mod = self.imports.get(alias)
            if isinstance(mod, ModuleInterface) and short in mod.structs:
                return mod.structs[short].ty
        if name in self.from_names:
            mod, member = self.from_names[name]
            if isinstance(mod, ModuleInterface) and member in mod.structs:
                return mod.structs[member].ty
        candidates = set(PRIMS) | set(self.structs) | {"List", "Map", "Error"}
        return self.error("E0208", f"unknown type `{name}`", t.span, did_you_mean(name, candidates))

    def struct_info(self, t: StructT) -> StructInfo | None:
        if t.module == self.name:
            return self.structs.get(t.name)
        for iface in self.interfaces.values():
            if iface.name == t.module:
                return iface.structs.get(t.name)
        return None

    # ------------------------------------------------------------ module

    def check_module(self) -> ir.Module:
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

    def check_header(self, header: ast.ModuleHeader) -> None:
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

    def is_global_decl(self, item: "ast.LetDecl | ast.ConstDecl") -> bool:
        """Every top-level `let`, `var` and `const` declares module globals (tuple patterns too)."""
        return True

    def collect(self, m: ast.Module) -> None:
        """Declare every top-level name before any body is checked (so order does not matter)."""
        taken: dict[str, ast.Span] = {}

        def claim(name: str, span: ast.Span) -> bool:
            if name in taken:
                self.error("E0103", f"`{name}` is defined twice", span,
                           f"the first definition is at line {taken[name].line}")
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
                st = StructT(self.name, item.name)
                self.structs[item.name] = StructInfo(item.name, self.name, st, decl=item,
                                                     exported=not item.name.startswith("_"))
        for item in m.items:
            if isinstance(item, ast.FnDecl) and claim(item.name, item.name_span):
                self.funcs[item.name] = self.signature(item, item.name, None)
            elif isinstance(item, ast.LetDecl) and isinstance(item.target, ast.TuplePattern):
                for pname, path, pspan in pattern_names(item.target):
                    if claim(pname, pspan):
                        self.globals[pname] = GlobalInfo(pname, None, mutable=item.mutable, const=False, decl=item,
                                                         exported=not pname.startswith("_"), path=path)
            elif isinstance(item, (ast.LetDecl, ast.ConstDecl)) and self.is_global_decl(item):
                name = item.name if isinstance(item, ast.ConstDecl) else item.target.name  # type: ignore[union-attr]
                if claim(name, item.span):
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
                s.field_names.append(f.name)
                s.field_types.append(self.resolve_type(f.type))
                s.defaults.append(f.default)
            for meth in decl.methods:
                if meth.name in s.methods or meth.name in seen:
                    self.error("E0103", f"`{meth.name}` is defined twice in `{s.name}`", meth.name_span)
                    continue
                s.methods[meth.name] = self.signature(meth, f"{s.name}.{meth.name}", s)

    def do_import(self, item: ast.Import, claim: Callable[[str, ast.Span], bool]) -> None:
        if item.is_py:
            self.error("E0403", "`import py` (the Python FFI) is not available in this build yet", item.span)
            return
        alias = item.alias or item.path.rpartition(".")[2]
        mod = self.load_module(item.path, item.span)
        if mod is not None and claim(alias, item.span):
            self.imports[alias] = mod

    def do_from_import(self, item: ast.FromImport, claim: Callable[[str, ast.Span], bool]) -> None:
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

    def load_module(self, path: str, span: ast.Span) -> "ModuleInterface | NativeModule | None":
        if path in sigs.MODULES:
            return NativeModule(path)
        if path == "parallel":
            self.error("E0403", "the `parallel` module is not available in this build yet", span)
            return None
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

    def ensure_import(self, module: str) -> None:
        """Link a module this one reaches only through another (a method of a struct it returns)."""
        if module not in self.import_paths:
            self.import_paths.append(module)

    def module_members(self, mod: "ModuleInterface | NativeModule") -> set[str]:
        if isinstance(mod, NativeModule):
            return set(sigs.MODULES[mod.name]) | set(sigs.MODULE_CONSTANTS.get(mod.name, {}))
        return set(mod.functions) | set(mod.globals) | set(mod.structs)

    def module_member_kind(self, mod: "ModuleInterface | NativeModule", name: str) -> str | None:
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

    def signature(self, decl: ast.FnDecl, name: str, struct: StructInfo | None) -> FuncInfo:
        names: list[str] = []
        types: list[Type] = []
        for attr in decl.attributes:
            if attr not in KNOWN_ATTRIBUTES:
                self.error("E0005", f"unknown attribute `@{attr}`", decl.span,
                           did_you_mean(attr, KNOWN_ATTRIBUTES) or "the known attribute is `@no_optimize`")
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

    def new_ctx(self, name: str, kind: str, display: str, parent: FnCtx | None, ret: Type, declared: bool) -> FnCtx:
        depth = parent.depth + 1 if parent is not None else 0
        return FnCtx(name, kind, display, parent, depth, ret, declared)

    def ensure_checked(self, info: FuncInfo) -> None:
        if info.state != "new" or info.decl is None:
            return
        info.state = "checking"
        decl = info.decl
        ctx = self.new_ctx(info.name, "method" if info.struct else "fn", info.display, None, info.ret,
                           decl.ret is not None)
        for pname, ptype, p in zip(info.param_names, info.param_types, decl.params):
            ctx.declare(pname, ptype, False, p.span)
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

    def finish(self, ctx: FnCtx, body: list[ir.Stmt], line: int, col: int, attributes: list[str] | None = None,
               exported: bool = False) -> ir.Function:
        problem = nesting_problem(body)
        if problem is not None:
            node, what = problem
            self.error("E0005", f"{what} nested too deeply", ast.Span(self.ast.file, node.line, node.col,
                                                                       node.line, node.col + 1),
                       "move the inner part into a function of its own")
        fn = ir.Function(name=ctx.name, kind=ctx.kind, display=ctx.display, params=0,
                         local_names=ctx.local_names, local_types=ctx.local_types, ret=ctx.ret, body=body,
                         parent=ctx.parent.name if ctx.parent else None, depth=ctx.depth,
                         attributes=attributes or [], line=line, col=col, exported=exported,
                         mutable_slots=list(ctx.mutable_slots))
        self.functions.append(fn)
        return fn

    def check_test(self, item: ast.TestDecl) -> None:
        name = f"__test_{len(self.tests)}"
        ctx = self.new_ctx(name, "test", f"test {item.name!r}", None, NONE, True)
        saved, self.ctx = self.ctx, ctx
        body = self.block_stmts(item.body, new_scope=False)
        self.ctx = saved
        self.finish(ctx, body, item.span.line, item.span.col)
        self.tests.append(ir.TestDef(name=item.name, func=name))

    def always_exits(self, body: list[ir.Stmt]) -> bool:
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

    def has_break(self, body: list[ir.Stmt]) -> bool:
        for s in body:
            if isinstance(s, ir.Break):
                return True
            if isinstance(s, ir.If) and (self.has_break(s.then) or self.has_break(s.otherwise)):
                return True
            if isinstance(s, ir.TryCatch) and (self.has_break(s.body) or self.has_break(s.handler)):
                return True
        return False

    def func_type(self, info: FuncInfo, span: ast.Span) -> FnT:
        """The signature of a function, checking its body first when its return type is inferred."""
        if isinstance(prune(info.ret), TVar) and info.state == "new":
            saved = self.ctx
            self.ensure_checked(info)
            self.ctx = saved
        return info.type

    # ------------------------------------------------------------ globals

    def global_type(self, g: GlobalInfo, span: ast.Span) -> Type:
        if g.ty is not None and g.state != "new":
            return g.ty
        if g.state == "checking":
            if g.ty is not None:
                return g.ty
            return self.error("E0204", f"the type of `{g.name}` depends on itself", span,
                              f"annotate it: `{'var' if g.mutable else 'let'} {g.name}: T = ...`")
        self.check_global_init(g)
        return g.ty or UNKNOWN

    def check_global_init(self, g: GlobalInfo) -> None:
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

    def check_tuple_globals(self, decl: ast.LetDecl) -> None:
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

    def init_ctx_for_globals(self) -> FnCtx:
        # Module init's context exists once check_module starts; before that it is created here.
        if self._init_ctx_cache is None:
            self._init_ctx_cache = self.new_ctx("__init__", "init", "<module>", None, NONE, True)
        return self._init_ctx_cache

    def global_decl(self, item: "ast.LetDecl | ast.ConstDecl") -> list[ir.Stmt]:
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

    def tuple_global_decl(self, item: ast.LetDecl) -> list[ir.Stmt]:
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

    # ------------------------------------------------------------ statements

    def block_stmts(self, block: ast.Block, new_scope: bool = True) -> list[ir.Stmt]:
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

    def stmt(self, s: ast.Stmt) -> list[ir.Stmt]:
        method = getattr(self, "stmt_" + type(s).__name__)
        return method(s)

    def stmt_Block(self, s: ast.Block) -> list[ir.Stmt]:
        return self.block_stmts(s)

    def stmt_ExprStmt(self, s: ast.ExprStmt) -> list[ir.Stmt]:
        e = self.expr(s.expr)
        self.last_expr_type = e.ty
        return [ir.ExprStmt(expr=e, **self.pos(s.span))]

    def stmt_LetDecl(self, s: ast.LetDecl) -> list[ir.Stmt]:
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

    def declare_local(self, name: str, ty: Type, mutable: bool, span: ast.Span) -> Var:
        ctx = self.ctx
        assert ctx is not None
        if name in ctx.scopes[-1]:
            self.error("E0103", f"`{name}` is already defined in this scope", span,
                       "use a new name, or assign with `=` to a `var`")
        v = ctx.declare(name, ty, mutable, span)
        self.local_spans[(ctx.name, v.slot)] = span
        return v

    def destructure(self, pat: ast.Pattern, value: ir.Expr, ty: Type, mutable: bool, span: ast.Span) -> list[ir.Stmt]:
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

    def bind_unknown(self, p: ast.Pattern, mutable: bool) -> None:
        if isinstance(p, ast.NamePattern):
            self.declare_local(p.name, UNKNOWN, mutable, p.span)
        else:
            for q in p.items:
                self.bind_unknown(q, mutable)

    def stmt_ConstDecl(self, s: ast.ConstDecl) -> list[ir.Stmt]:
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

    def stmt_Assign(self, s: ast.Assign) -> list[ir.Stmt]:
        target = s.target
        pos = self.pos(s.span)
        if isinstance(target, ast.Name):
            ref = self.lookup_assignable(target)
            if ref is None:
                self.expr(s.value)
                return []
            kind, info, ty = ref
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

    def stabilize(self, e: ir.Expr, span: ast.Span) -> tuple[ir.Expr, list[ir.Stmt]]:
        """Evaluate `e` once into a temporary when reading it twice could repeat side effects."""
        if isinstance(e, (ir.LocalGet, ir.Const, ir.GlobalGet, ir.FreeGet)):
            return e, []
        slot = self.ctx.temp(e.ty)  # type: ignore[union-attr]
        return ir.LocalGet(slot=slot, ty=e.ty, **self.pos(span)), [ir.LocalSet(slot=slot, value=e, **self.pos(span))]

    def assigned_value(self, s: ast.Assign, current: ir.Expr | None, ty: Type) -> ir.Expr:
        if s.op == "=":
            return self.coerce(self.expr(s.value, ty), ty, s.value.span, "this assignment")
        assert current is not None
        rhs = self.expr(s.value)
        result = self.binary_op(s.op[:-1], current, rhs, s.span)
        return self.coerce(result, ty, s.span, f"`{s.op}`")

    def lookup_assignable(self, target: ast.Name) -> "tuple[str, Var | GlobalInfo, Type] | None":
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

    def cond(self, e: ast.Expr) -> ir.Expr:
        c = self.expr(e, BOOL)
        t = self.known(c.ty)
        if t != BOOL and not isinstance(t, UnknownT):
            if t is None:
                unify(c.ty, BOOL)
            else:
                self.error("E0200", f"a condition must be bool, found {self.tname(c.ty)}", e.span,
                           "compare explicitly, e.g. `len(xs) > 0` or `x != 0`")
        return c

    def stmt_If(self, s: ast.If) -> list[ir.Stmt]:
        c = self.cond(s.cond)
        then = self.block_stmts(s.then)
        otherwise: list[ir.Stmt] = []
        if isinstance(s.otherwise, ast.If):
            otherwise = self.stmt_If(s.otherwise)
        elif isinstance(s.otherwise, ast.Block):
            otherwise = self.block_stmts(s.otherwise)
        return [ir.If(cond=c, then=then, otherwise=otherwise, **self.pos(s.span))]

    def loop_body(self, block: ast.Block, prologue: list[ir.Stmt] | None = None) -> list[ir.Stmt]:
        ctx = self.ctx
        assert ctx is not None
        ctx.loop_depth += 1
        body = (prologue or []) + self.block_stmts(block, new_scope=False)
        ctx.loop_depth -= 1
        return body

    def stmt_While(self, s: ast.While) -> list[ir.Stmt]:
        c = self.cond(s.cond)
        self.ctx.scopes.append({})  # type: ignore[union-attr]
        body = self.loop_body(s.body)
        self.ctx.scopes.pop()  # type: ignore[union-attr]
        return [ir.While(cond=c, body=body, **self.pos(s.span))]

    def stmt_For(self, s: ast.For) -> list[ir.Stmt]:
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
                body = self.loop_body(s.body)
                return [ir.ForRange(slot=v.slot, start=start, stop=stop, step=step, body=body, **pos)]
            iterable = self.expr(it) if bounds is None else self.range_value(bounds, it.span)
            t = self.known(iterable.ty)
            if isinstance(t, ArrayT):
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
                body = self.loop_body(s.body)
                return [ir.ForEach(slot=v.slot, iterable=iterable, body=body, **pos)]
            tmp = ctx.temp(elem)
            prologue = self.destructure(s.target, ir.LocalGet(slot=tmp, ty=elem, **pos), elem, False, s.span)
            body = self.loop_body(s.body, prologue)
            return [ir.ForEach(slot=tmp, iterable=iterable, body=body, **pos)]
        finally:
            ctx.scopes.pop()

    def range_bounds(self, it: ast.Expr) -> tuple[ir.Expr, ir.Expr, ir.Expr] | None:
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

    def range_value(self, bounds: tuple[ir.Expr, ir.Expr, ir.Expr], span: ast.Span) -> ir.Expr:
        return ir.CallBuiltin(name="range3", args=list(bounds), ty=RANGE, **self.pos(span))

    def stmt_Break(self, s: ast.Break) -> list[ir.Stmt]:
        if self.ctx.loop_depth == 0:  # type: ignore[union-attr]
            self.error("E0300", "`break` outside a loop", s.span)
            return []
        return [ir.Break(**self.pos(s.span))]

    def stmt_Continue(self, s: ast.Continue) -> list[ir.Stmt]:
        if self.ctx.loop_depth == 0:  # type: ignore[union-attr]
            self.error("E0300", "`continue` outside a loop", s.span)
            return []
        return [ir.Continue(**self.pos(s.span))]

    def stmt_Return(self, s: ast.Return) -> list[ir.Stmt]:
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

    def stmt_Throw(self, s: ast.Throw) -> list[ir.Stmt]:
        value = self.coerce(self.expr(s.value, ERROR), ERROR, s.value.span, "`throw`")
        return [ir.Throw(value=value, **self.pos(s.span))]

    def stmt_Try(self, s: ast.Try) -> list[ir.Stmt]:
        ctx = self.ctx
        assert ctx is not None
        body = self.block_stmts(s.body)
        ctx.scopes.append({})
        slot = -1
        if s.catch_name is not None:
            slot = ctx.declare(s.catch_name, ERROR, False, s.handler.span).slot
        handler = self.block_stmts(s.handler, new_scope=False)
        ctx.scopes.pop()
        return [ir.TryCatch(body=body, slot=slot, handler=handler, **self.pos(s.span))]

    def stmt_Assert(self, s: ast.Assert) -> list[ir.Stmt]:
        c = self.cond(s.cond)
        if s.message is not None:
            msg = self.coerce(self.expr(s.message, STR), STR, s.message.span, "an assert message")
        else:
            msg = ir.Const(value="assertion failed", ty=STR, **self.pos(s.span))
        return [ir.Assert(cond=c, message=msg, **self.pos(s.span))]

    # top-level items that may appear nested are errors
    def stmt_FnDecl(self, s: ast.FnDecl) -> list[ir.Stmt]:
        self.error("E0005", "functions are declared at the top level of a module", s.span,
                   "use a lambda for a local function: `let f = (x: int) => x * 2`")
        return []

    stmt_StructDecl = stmt_FnDecl  # type: ignore[assignment]

    # ------------------------------------------------------------ expressions

    def expr(self, e: ast.Expr, expected: Type | None = None) -> ir.Expr:
        method = getattr(self, "expr_" + type(e).__name__)
        if type(e).__name__ in ("ListLit", "MapLit", "Lambda", "Ternary", "Call", "TupleLit"):
            return method(e, expected)
        return method(e)

    def expr_IntLit(self, e: ast.IntLit) -> ir.Expr:
        if not INT_MIN <= e.value <= INT_MAX:
            self.error("E0004", "integer literal does not fit in 64 bits", e.span)
        return ir.Const(value=e.value, ty=INT, **self.pos(e.span))

    def expr_FloatLit(self, e: ast.FloatLit) -> ir.Expr:
        return ir.Const(value=float(e.value), ty=FLOAT, **self.pos(e.span))

    def expr_StrLit(self, e: ast.StrLit) -> ir.Expr:
        return ir.Const(value=e.value, ty=STR, **self.pos(e.span))

    def expr_BoolLit(self, e: ast.BoolLit) -> ir.Expr:
        return ir.Const(value=e.value, ty=BOOL, **self.pos(e.span))

    def expr_NoneLit(self, e: ast.NoneLit) -> ir.Expr:
        return ir.Const(value=None, ty=NONE, **self.pos(e.span))

    def expr_InterpStr(self, e: ast.InterpStr) -> ir.Expr:
        pos = self.pos(e.span)
        parts: list[ir.Expr] = []
        for p in e.parts:
            if isinstance(p, str):
                if p:
                    parts.append(ir.Const(value=p, ty=STR, **pos))
            else:
                parts.append(self.stringify(self.expr(p)))
        return ir.Interp(parts=parts, ty=STR, **pos)

    def stringify(self, v: ir.Expr) -> ir.Expr:
        if self.known(v.ty) == STR:
            return v
        return ir.Unary(op="to_str", x=v, ty=STR, line=v.line, col=v.col)

    def expr_Name(self, e: ast.Name) -> ir.Expr:
        return self.name_expr(e)

    def is_prelude_name(self, name: str) -> bool:
        """True when `name` is not shadowed by anything of the program."""
        ctx = self.ctx
        c = ctx
        while c is not None:
            if c.lookup_local(name):
                return False
            c = c.parent
        return not (name in self.globals or name in self.funcs or name in self.structs or name in self.imports
                    or name in self.from_names)

    def name_expr(self, e: ast.Name) -> ir.Expr:
        pos = self.pos(e.span)
        ctx = self.ctx
        assert ctx is not None
        c: FnCtx | None = ctx
        while c is not None:
            v = c.lookup_local(e.id)
            if v is not None:
                up = ctx.depth - v.ctx.depth
                if up == 0:
                    return ir.LocalGet(slot=v.slot, ty=v.ty, **pos)
                return ir.FreeGet(up=up, slot=v.slot, ty=v.ty, **pos)
            c = c.parent
        g = self.globals.get(e.id)
        if g is not None:
            ty = self.global_type(g, e.span)
            if g.const and g.state == "done" and g.init_ir is not None and isinstance(g.init_ir, ir.Const):
                return ir.Const(value=g.init_ir.value, ty=ty, **pos)
            return ir.GlobalGet(name=e.id, ty=ty, **pos)
        f = self.funcs.get(e.id)
        if f is not None:
            return ir.FuncRef(name=f.name, ty=self.func_type(f, e.span), **pos)
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
        self.error("E0100", f"name `{e.id}` is not defined", e.span, did_you_mean(e.id, candidates))
        return ir.Const(value=None, ty=UNKNOWN, **pos)

    def module_member(self, mod: "ModuleInterface | NativeModule", name: str, span: ast.Span) -> ir.Expr:
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

    def expr_ListLit(self, e: ast.ListLit, expected: Type | None = None) -> ir.Expr:
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

    def expr_MapLit(self, e: ast.MapLit, expected: Type | None = None) -> ir.Expr:
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

    def expr_TupleLit(self, e: ast.TupleLit, expected: Type | None = None) -> ir.Expr:
        exp = self.known(expected) if expected is not None else None
        hints: list[Type | None] = list(exp.items) if isinstance(exp, TupleT) and len(exp.items) == len(e.items) \
            else [None] * len(e.items)
        items = [self.expr(x, h) for x, h in zip(e.items, hints)]
        items = [self.coerce(i, h, x.span) if h is not None else i for i, h, x in zip(items, hints, e.items)]
        return ir.TupleLit(items=items, ty=TupleT(tuple(i.ty for i in items)), **self.pos(e.span))

    def expr_Range(self, e: ast.Range) -> ir.Expr:
        lo = self.coerce(self.expr(e.lo, INT), INT, e.lo.span, "a range bound")
        hi = self.coerce(self.expr(e.hi, INT), INT, e.hi.span, "a range bound")
        return ir.RangeLit(lo=lo, hi=hi, inclusive=e.inclusive, ty=RANGE, **self.pos(e.span))

    def expr_Ternary(self, e: ast.Ternary, expected: Type | None = None) -> ir.Expr:
        c = self.cond(e.cond)
        a = self.expr(e.then, expected)
        b = self.expr(e.otherwise, expected)
        ty = self.join(a, b, e.span)
        return ir.Cond(cond=c, then=self.coerce(a, ty, e.then.span), otherwise=self.coerce(b, ty, e.otherwise.span),
                       ty=ty, **self.pos(e.span))

    def join(self, a: ir.Expr, b: ir.Expr, span: ast.Span) -> Type:
        ta, tb = self.known(a.ty), self.known(b.ty)
        if {ta, tb} == {INT, FLOAT}:
            return FLOAT
        if not unify(a.ty, b.ty):
            self.error("E0200", f"both branches must have one type; found {self.tname(a.ty)} and {self.tname(b.ty)}", span)
            return UNKNOWN
        return a.ty

    def expr_Unary(self, e: ast.Unary) -> ir.Expr:
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

    def expr_Binary(self, e: ast.Binary) -> ir.Expr:
        pos = self.pos(e.span)
        if e.op in ("and", "or"):
            a, b = self.cond(e.left), self.cond(e.right)
            return ir.Logical(op=e.op, a=a, b=b, ty=BOOL, **pos)
        a = self.expr(e.left)
        b = self.expr(e.right)
        return self.binary_op(e.op, a, b, e.span)

    def binary_op(self, op: str, a: ir.Expr, b: ir.Expr, span: ast.Span) -> ir.Expr:
        pos = self.pos(span)
        ta, tb = self.known(a.ty), self.known(b.ty)
        if isinstance(ta, UnknownT) or isinstance(tb, UnknownT):
            return ir.Const(value=None, ty=UNKNOWN, **pos)
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

    def narrow_binary(self, op: str, a: ir.Expr, b: ir.Expr, ta: Type, tb: Type, span: ast.Span) -> ir.Expr:
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

    def narrow_literal(self, e: ir.Expr, t: Type) -> ir.Expr:
        """A number literal beside an f32 or i32 becomes one (when it fits); anything else is unchanged."""
        if not isinstance(e, ir.Const) or isinstance(e.value, bool) or not isinstance(e.value, (int, float)):
            return e
        if t == F32:
            from noodle.stdlib.narrow import to_f32
            return ir.Const(value=to_f32(float(e.value)), ty=F32, line=e.line, col=e.col)
        if t == I32 and isinstance(e.value, int) and -(2**31) <= e.value < 2**31:
            return ir.Const(value=e.value, ty=I32, line=e.line, col=e.col)
        return e

    def operator_hint(self, op: str, ta: Type, tb: Type) -> str | None:
        if op == "+" and STR in (ta, tb):
            return "convert with str(x), or use interpolation: \"{x}\""
        return None

    def orderable(self, t: Type) -> bool:
        t = prune(t)
        if t in (INT, FLOAT, STR, BOOL):
            return True
        if isinstance(t, TupleT):
            return all(self.orderable(x) for x in t.items)
        if isinstance(t, ListT):
            return self.orderable(t.elem)
        return False

    def membership(self, op: str, a: ir.Expr, b: ir.Expr, span: ast.Span) -> ir.Expr:
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

    def expr_Attribute(self, e: ast.Attribute) -> ir.Expr:
        pos = self.pos(e.span)
        if isinstance(e.obj, ast.Name) and self.is_module_alias(e.obj.id):
            return self.module_member(self.imports[e.obj.id], e.name, e.name_span)
        obj = self.expr(e.obj)
        t = self.known(obj.ty)
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

    def is_module_alias(self, name: str) -> bool:
        if name not in self.imports:
            return False
        c = self.ctx
        while c is not None:
            if c.lookup_local(name):
                return False
            c = c.parent
        return name not in self.globals

    def expr_Index(self, e: ast.Index) -> ir.Expr:
        pos = self.pos(e.span)
        obj = self.expr(e.obj)
        t = self.known(obj.ty)
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

    def expr_Slice(self, e: ast.Slice) -> ir.Expr:
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

    def expr_Lambda(self, e: ast.Lambda, expected: Type | None = None) -> ir.Expr:
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

    # ------------------------------------------------------------ calls

    def expr_Call(self, e: ast.Call, expected: Type | None = None) -> ir.Expr:
        pos = self.pos(e.span)
        f = e.func
        if isinstance(f, ast.Name):
            name = f.id
            local = self.lookup_value_name(name)
            if local is None:
                if name in self.funcs:
                    info = self.funcs[name]
                    ft = self.func_type(info, f.span)
                    args = self.bind_args(info.param_names, list(ft.params), [None] * len(ft.params), e, info.display)
                    return ir.Call(func=info.name, args=args, ty=ft.ret, **pos)
                if name in self.structs:
                    return self.construct(self.structs[name], e, None)
                if name in self.from_names:
                    mod, member = self.from_names[name]
                    return self.call_module_member(mod, member, e, f.span)
                if name not in self.globals and name not in self.imports:
                    if name == "print":
                        args = [self.expr(a.value) for a in e.args]
                        self.no_named(e)
                        return ir.CallBuiltin(name="print", args=args, ty=NONE, **pos)
                    if name == "str":
                        self.no_named(e)
                        if len(e.args) != 1:
                            self.error("E0201", f"`str` takes 1 argument, found {len(e.args)}", e.span)
                            return ir.Const(value=None, ty=UNKNOWN, **pos)
                        return self.stringify(self.expr(e.args[0].value))
                    if name in ARRAY_PRELUDE or name in ("sum", "len", "any", "all", "min", "max"):
                        arr = self.array_call(name, e, expected)
                        if arr is not None:
                            return arr
                    if name in sigs.PRELUDE:
                        return self.call_native(name, sigs.PRELUDE[name], [], e, expected)
        if isinstance(f, ast.Attribute):
            if isinstance(f.obj, ast.Name) and self.is_module_alias(f.obj.id):
                return self.call_module_member(self.imports[f.obj.id], f.name, e, f.name_span)
            obj = self.expr(f.obj)
            t = self.known(obj.ty)
            if isinstance(t, StructT) and t != ERROR:
                info = self.struct_info(t)
                if info is not None and f.name in info.methods:
                    m = info.methods[f.name]
                    if info.module == self.name:
                        ft = self.func_type(m, f.span)
                        args = self.bind_args(m.param_names[1:], list(ft.params[1:]), [None] * (len(ft.params) - 1),
                                              e, m.display)
                        return ir.Call(func=m.name, args=[obj] + args, ty=ft.ret, **pos)
                    ft = m.type
                    args = self.bind_args(m.param_names[1:], list(ft.params[1:]), [None] * (len(ft.params) - 1),
                                          e, m.display)
                    self.ensure_import(info.module)
                    return ir.CallMod(module=info.module, name=m.name, args=[obj] + args, ty=ft.ret, **pos)
            elif isinstance(t, ArrayT):
                return self.array_method(obj, t, f.name, e)
            elif isinstance(t, (ListT, MapT)) or t == STR:
                kind = "List" if isinstance(t, ListT) else "Map" if isinstance(t, MapT) else "str"
                ovs = sigs.METHODS.get((kind, f.name))
                if ovs is not None:
                    return self.call_native(f"{kind}.{f.name}", ovs, [obj], e, expected)
                methods = [m for (k, m) in sigs.METHODS if k == kind]
                self.error("E0202", f"{kind} has no method `{f.name}`", f.name_span, did_you_mean(f.name, methods))
                for a in e.args:
                    self.expr(a.value)
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            elif t is None:
                self.error("E0204", "the type of this value is not known here", f.obj.span,
                           "annotate the variable or the lambda parameter")
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            callee = self.expr_Attribute(f) if not isinstance(t, UnknownT) else obj
        else:
            callee = self.expr(f)
        return self.call_value(callee, e)

    def lookup_value_name(self, name: str) -> Var | None:
        c = self.ctx
        while c is not None:
            v = c.lookup_local(name)
            if v is not None:
                return v
            c = c.parent
        return None

    def no_named(self, e: ast.Call) -> None:
        for a in e.args:
            if a.name is not None:
                self.error("E0209", f"this function takes no named arguments (`{a.name}:`)", a.span)

    def call_value(self, callee: ir.Expr, e: ast.Call) -> ir.Expr:
        pos = self.pos(e.span)
        t = self.known(callee.ty)
        if isinstance(t, UnknownT):
            for a in e.args:
                self.expr(a.value)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        if not isinstance(t, FnT):
            if t is None:
                self.error("E0204", "the type of this value is not known here", e.func.span)
            else:
                self.error("E0203", f"{self.tname(t)} is not callable", e.func.span)
            for a in e.args:
                self.expr(a.value)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        self.no_named(e)
        if len(e.args) != len(t.params):
            self.error("E0201", f"this function takes {len(t.params)} argument{'s' if len(t.params) != 1 else ''}, "
                                f"found {len(e.args)}", e.span)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        args = [self.coerce(self.expr(a.value, p), p, a.value.span, "this argument") for a, p in zip(e.args, t.params)]
        if isinstance(callee, ir.FuncRef):
            return ir.Call(func=callee.name, args=args, ty=t.ret, **pos)
        if isinstance(callee, ir.ModRef) and isinstance(callee.ty, FnT):
            return ir.CallMod(module=callee.module, name=callee.name, args=args, ty=t.ret, **pos)
        return ir.CallValue(fn=callee, args=args, ty=t.ret, **pos)

    def call_module_member(self, mod: "ModuleInterface | NativeModule", member: str, e: ast.Call,
                           span: ast.Span) -> ir.Expr:
        pos = self.pos(e.span)
        if isinstance(mod, NativeModule):
            ovs = sigs.MODULES[mod.name].get(member)
            if ovs is None:
                self.error("E0401", f"module `{mod.name}` has no function `{member}`", span,
                           did_you_mean(member, self.module_members(mod)))
                for a in e.args:
                    self.expr(a.value)
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            return self.call_native(f"{mod.name}.{member}", ovs, [], e, None)
        if member in mod.structs:
            return self.construct(mod.structs[member], e, mod)
        if member in mod.functions:
            ft = mod.functions[member]
            names = mod.param_names.get(member) or [f"#{i}" for i in range(len(ft.params))]
            args = self.bind_args(names, list(ft.params),
                                  [None] * len(ft.params), e, f"{mod.name}.{member}")
            return ir.CallMod(module=mod.name, name=member, args=args, ty=ft.ret, **pos)
        return self.call_value(self.module_member(mod, member, span), e)

    def bind_args(self, names: list[str], types: list[Type], defaults: list, e: ast.Call, what: str) -> list[ir.Expr]:
        """Match positional and named arguments to parameters; fill defaults; coerce each to its type."""
        slots: list["ir.Expr | None"] = [None] * len(names)
        ok = True
        positional_done = False
        for i, a in enumerate(e.args):
            if a.name is None:
                if positional_done:
                    self.error("E0209", "a positional argument cannot follow a named one", a.span)
                    ok = False
                    continue
                if i >= len(names):
                    self.error("E0201", f"`{what}` takes {len(names)} argument{'s' if len(names) != 1 else ''}, "
                                        f"found {len(e.args)}", e.span)
                    ok = False
                    break
                slots[i] = self.coerce(self.expr(a.value, types[i]), types[i], a.value.span, f"argument {i + 1} of `{what}`")
            else:
                positional_done = True
                if a.name not in names:
                    self.error("E0209", f"`{what}` has no parameter named `{a.name}`", a.span,
                               did_you_mean(a.name, names))
                    ok = False
                    continue
                j = names.index(a.name)
                if slots[j] is not None:
                    self.error("E0209", f"`{a.name}` is given twice", a.span)
                    ok = False
                    continue
                slots[j] = self.coerce(self.expr(a.value, types[j]), types[j], a.value.span, f"`{a.name}`")
        out: list[ir.Expr] = []
        missing = []
        for j, s in enumerate(slots):
            if s is None:
                d = defaults[j]
                if d is None:
                    missing.append(names[j])
                    continue
                if isinstance(d, ir.Const):
                    s = ir.Const(value=d.value, ty=d.ty, **self.pos(e.span))
                else:
                    s = self.coerce(self.expr(d, types[j]), types[j], d.span, f"the default of `{names[j]}`")
            out.append(s)
        if missing and ok:
            if all(n.startswith("#") for n in missing):
                self.error("E0201", f"`{what}` takes {len(names)} argument{'s' if len(names) != 1 else ''}, "
                                    f"found {len(e.args)}", e.span)
            else:
                self.error("E0201" if not any(a.name for a in e.args) else "E0209",
                           f"`{what}` is missing {', '.join('`' + m + '`' for m in missing)}", e.span)
        return out

    def construct(self, info: StructInfo, e: ast.Call, mod: ModuleInterface | None) -> ir.Expr:
        pos = self.pos(e.span)
        if mod is not None:
            defaults = [d if isinstance(d, ir.Const) else None for d in info.defaults]
        else:
            # a default is checked where it is used: in the constructor call's context
            saved = self.ctx
            defaults = list(info.defaults)
            self.ctx = saved
        args = self.bind_args(info.field_names, list(info.field_types), defaults, e, info.name)
        if len(args) != len(info.field_names):
            return ir.Const(value=None, ty=info.ty, **pos)
        if mod is not None:
            return ir.CallMod(module=mod.name, name=info.name, args=args, ty=info.ty, **pos)
        return ir.New(struct=info.name, args=args, ty=info.ty, **pos)

    def call_native(self, name: str, overloads: list[sigs.Overload], receiver: list[ir.Expr], e: ast.Call,
                    expected: Type | None) -> ir.Expr:
        """Pick the first overload the arguments fit, then check the arguments against it."""
        pos = self.pos(e.span)
        self.no_named(e)
        nargs = len(receiver) + len(e.args)
        candidates = [o for o in overloads if len(o.sig.params) == nargs]
        display = name.replace("List.", "list.").replace("Map.", "map.")
        if not candidates:
            counts = sorted({len(o.sig.params) - len(receiver) for o in overloads})
            want = " or ".join(str(c) for c in counts)
            self.error("E0201", f"`{display}` takes {want} argument{'s' if counts != [1] else ''}, found {len(e.args)}",
                       e.span)
            for a in e.args:
                self.expr(a.value)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        # Check arguments that are not lambdas first; lambdas take their types from the chosen overload.
        pre: list[ir.Expr | None] = []
        for a in e.args:
            pre.append(None if isinstance(a.value, ast.Lambda) else self.expr(a.value))
        chosen = None
        for o in candidates:
            sig = sigs.instantiate(o.sig)
            trail: list = []
            fits = True
            values = receiver + pre
            for v, p in zip(values, sig.params):
                if v is None:
                    continue
                have, want = prune(v.ty), prune(p)
                if want == FLOAT and have == INT:
                    continue
                if isinstance(have, TVar) and not isinstance(want, TVar) and len(candidates) > 1:
                    pass
                if not unify(have, want, trail):
                    fits = False
                    break
            if fits:
                chosen = (o, sig)
                break
            undo(trail)
        if chosen is None:
            o = candidates[0]
            sig = sigs.instantiate(o.sig)
            got = ", ".join(self.tname(v.ty) for v in receiver + [p for p in pre if p is not None])
            options = "; ".join(str(c.sig) for c in candidates)
            self.error("E0200", f"no form of `{display}` takes ({got})", e.span,
                       f"{display} is: {options}" if len(candidates) > 1 else f"{display} is {options}")
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        o, sig = chosen
        args: list[ir.Expr] = list(receiver)
        for i, a in enumerate(e.args):
            p = sig.params[len(receiver) + i]
            v = pre[i] if pre[i] is not None else self.expr(a.value, p)
            args.append(self.coerce(v, p, a.value.span, f"argument {i + 1} of `{display}`"))
        if o.native in ("sum.int", "sum.float", "min1", "max1", "sorted", "sorted.key"):
            elem = self.known(args[0].ty)
            if isinstance(elem, ListT) and self.known(elem.elem) is None:
                self.error("E0204", "the element type of this list is not known here", e.args[0].value.span
                           if e.args else e.span)
        if o.native in ("min1", "max1", "sorted", "sorted.key", "list.sort"):
            # these compare elements (or sort keys) with `<`: the values must be orderable
            what, ordered = "elements", None
            lst = self.known(args[0].ty)
            if isinstance(lst, ListT):
                ordered = lst.elem
            if o.native == "sorted.key":
                what, key = "keys", self.known(args[1].ty)
                ordered = key.ret if isinstance(key, FnT) else None
            if ordered is not None and not has_unbound(ordered) and not isinstance(prune(ordered), UnknownT) \
                    and not self.orderable(ordered):
                self.error("E0205", f"`{display}` compares its {what} with `<`, which is not defined for "
                                    f"{self.tname(ordered)}", e.span,
                           "int, float, str, bool and tuples and lists of them are ordered; "
                           "order other values by a key, e.g. `sorted(xs, x => x.name)`")
        return ir.CallBuiltin(name=o.native, args=args, ty=sig.ret, **pos)


def constant_default(d: "ast.Expr | ir.Const | None", ty: Type) -> ir.Const | None:
    """A field default written as a literal, as a constant importers can use; None otherwise."""
    value: object
    if isinstance(d, ir.Const):
        return d
    if isinstance(d, (ast.IntLit, ast.FloatLit, ast.StrLit, ast.BoolLit)):
        value = d.value
    elif isinstance(d, ast.NoneLit):
        value = None
    elif isinstance(d, ast.Unary) and d.op == "-" and isinstance(d.operand, (ast.IntLit, ast.FloatLit)):
        value = -d.operand.value
    else:
        return None
    if prune(ty) == FLOAT and type(value) is int:
        value = float(value)
    return ir.Const(value=value, ty=ty)  # type: ignore[arg-type]


def check(module: ast.Module, name: str, diags: DiagnosticBag, resolver: Resolver | None = None,
          interfaces: dict[str, ModuleInterface] | None = None, expected_name: str | None = None) -> ir.Module:
    """Check `module` and lower it to IR; errors go to `diags`."""
    checker = Checker(module, name, diags, resolver, interfaces, expected_name)
    result = checker.check_module()
    report_unresolved(result, diags, module.file, checker.local_spans)
    return result


def report_unresolved(m: ir.Module, diags: DiagnosticBag, file: str,
                      spans: dict[tuple[str, int], ast.Span] | None = None) -> None:
    """A local whose type was never pinned down (`let xs = []` never used) needs an annotation."""
    if diags.has_errors:
        return
    for f in m.functions:
        for slot, (name, t) in enumerate(zip(f.local_names, f.local_types)):
            if has_unbound(t) and not name.startswith("$"):
                # point at the declaration of the local when it is known, else at its function
                span = (spans or {}).get((f.name, slot)) or ast.Span(file, f.line, f.col, f.line, f.col)
                t = prune(t)
                example = (f"let {name}: List<int> = []" if isinstance(t, ListT)
                           else f"let {name}: Map<str, int> = {{}}" if isinstance(t, MapT)
                           else f"let {name}: TYPE = ...")
                diags.error("E0204", f"the type of `{name}` in `{f.display}` cannot be inferred", span,
                            f"annotate it, e.g. `{example}`")


def pattern_names(p: ast.Pattern, path: tuple[int, ...] = ()) -> list[tuple[str, tuple[int, ...], ast.Span]]:
    """Each name a pattern binds, with its position in the tuple."""
    if isinstance(p, ast.NamePattern):
        return [(p.name, path, p.span)]
    out = []
    for i, q in enumerate(p.items):
        out.extend(pattern_names(q, path + (i,)))
    return out


def nesting_problem(body: list[ir.Stmt]) -> "tuple[ir.Node, str] | None":
    """Where a function nests regions past what the VM accepts (the verifier's limits), if anywhere."""
    from noodle.format.limits import MAX_BLOCKS, MAX_NESTING

    def expr_depth(e: ir.Node, depth: int) -> "tuple[ir.Node, str] | None":
        for child in walk_children(e):
            d = depth + 1 if isinstance(child, (ir.Logical, ir.Cond)) else depth
            if d + 1 >= MAX_NESTING:
                return child, "conditional expressions are"
            found = expr_depth(child, d)
            if found:
                return found
        return None

    def go(stmts: list[ir.Stmt], regions: int, blocks: int) -> "tuple[ir.Node, str] | None":
        for st in stmts:
            found = expr_depth(st, regions)
            if found:
                return found
            if isinstance(st, ir.If):
                if regions + 1 >= MAX_NESTING:
                    return st, "blocks are"
                found = go(st.then, regions + 1, blocks) or go(st.otherwise, regions + 1, blocks)
            elif isinstance(st, (ir.While, ir.ForRange, ir.ForEach)):
                if regions + 1 >= MAX_NESTING or blocks + 1 > MAX_BLOCKS:
                    return st, "loops and try blocks are"
                found = go(st.body, regions + 1, blocks + 1)
            elif isinstance(st, ir.TryCatch):
                if regions + 1 >= MAX_NESTING or blocks + 2 > MAX_BLOCKS:
                    return st, "loops and try blocks are"
                found = go(st.body, regions + 1, blocks + 1) or go(st.handler, regions + 1, blocks + 2)
            if found:
                return found
        return None

    return go(body, 0, 0)
