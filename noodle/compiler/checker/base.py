"""What every part of the checker shares: its constants, its state and utilities, type resolution.

:class:`CheckerBase` holds one module's checking state (scopes, collected declarations, the
diagnostics) and the utilities every rule uses (errors, coercions, resolving written types); the
rules are mixins by syntactic category (:mod:`.declarations`, :mod:`.statements`,
:mod:`.expressions`, :mod:`.calls`, :mod:`.arrays`) composed in :class:`noodle.compiler.checker.Checker`.
"""
import re
from typing import Callable

from noodle.compiler import ast
from noodle.compiler.diagnostics import DiagnosticBag, did_you_mean
from noodle.compiler.record import Recorder
from noodle.compiler.scope import FnCtx, FuncInfo, GlobalInfo, ModuleInterface, StructInfo
from noodle.ir import nodes as ir
from noodle.ir.walk import children as walk_children
from noodle.ir.types import (
    ERROR, F32, FLOAT, I32, INT, PRIMS, PY, STR, UNKNOWN, FnT, ListT, MapT,
    StructT, TupleT, TVar, Type, UnknownT, has_unbound, is_hashable, prune, resolve,
    unify,
)

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
#: Deepest lambda nesting (lambdas become nested Python functions; see noodle.format.limits.MAX_DEPTH).
MAX_LAMBDA_DEPTH = 32
#: Attributes a declaration may carry.
KNOWN_ATTRIBUTES = {"no_optimize", "vector_math"}
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


class CheckerBase:
    """One module's checking state, and the utilities every rule uses."""

    def __init__(self, module: ast.Module, name: str, diags: DiagnosticBag,
                 resolver: Resolver | None = None, interfaces: dict[str, ModuleInterface] | None = None,
                 expected_name: str | None = None, recorder: "Recorder | None" = None) -> None:
        self.ast = module
        self.name = name
        self.version = "0.0.0"
        self.diags = diags
        self.resolver = resolver
        self.structs: dict[str, StructInfo] = {}
        self.funcs: dict[str, FuncInfo] = {}
        self.globals: dict[str, GlobalInfo] = {}
        self.imports: dict[str, "ModuleInterface | NativeModule"] = {}  # alias -> module
        self.py_imports: dict[str, str] = {}  # alias -> Python module (`import py numpy as np`)
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
        #: editors' record of each expression's type and each name's meaning (None: nothing recorded)
        self.recorder = recorder

    # ------------------------------------------------------------ utilities

    def error(self, code: str, msg: str, span: ast.Span, hint: str | None = None,
              related: "list[tuple[ast.Span, str]] | None" = None) -> Type:
        """Report an error (with secondary places: `[(span, "first defined here")]`); the type is `?`."""
        self.diags.error(code, msg, span, hint, related=related)
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

    def coerce(self, e: ir.Expr, target: Type, span: ast.Span, what: str = "value",
               related: "list[tuple[ast.Span, str]] | None" = None) -> ir.Expr:
        """`e` as a value of type `target`: int widens to float; anything else must unify.
        `related`: secondary places shown with a mismatch (where the called function is defined)."""
        have, want = prune(e.ty), prune(target)
        if isinstance(have, UnknownT) or isinstance(want, UnknownT):
            return e
        if have == PY and want != PY and self.convertible(want):  # type: ignore[attr-defined]
            return self.from_py(e, want, what)  # type: ignore[attr-defined]
        if want == PY and have != PY and not isinstance(have, TVar):
            return self.to_py(e)  # type: ignore[attr-defined]
        if want == FLOAT and have == INT:
            return self.to_float(e)
        if unify(have, want):
            return e
        self.error("E0200", f"expected {self.tname(want)} for {what}, found {self.tname(have)}", span,
                   self.conversion_hint(have, want), related=related)
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

    def record_name(self, span: ast.Span, name: str, symbol: tuple[str, ...], kind: str,
                    definition: bool = False, exact: bool = False) -> None:
        """Tell the recorder (if any) what the name written at `span` means."""
        if self.recorder is not None:
            self.recorder.name(span, name, symbol, kind, definition, exact)

    def record_local(self, name: str, span: ast.Span, ty: Type, kind: str = "variable") -> None:
        """A local declared at `span` (its symbol is where it is declared)."""
        if self.recorder is not None:
            self.recorder.name(span, name, local_symbol(span), kind, True)
            self.recorder.typed(ast.Span(span.file, span.line, span.col, span.line, span.col + len(name)), ty)

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
            return PY
        if name in self.structs:
            self.record_name(t.span, name, ("struct", self.name, name), "struct")
            return self.structs[name].ty
        if "." in name:
            alias, _, short = name.rpartition(".")
            mod = self.imports.get(alias)
            if isinstance(mod, ModuleInterface) and short in mod.structs:
                self.record_name(t.span, short, ("struct", mod.name, short), "struct")
                return mod.structs[short].ty
        if name in self.from_names:
            mod, member = self.from_names[name]
            if isinstance(mod, ModuleInterface) and member in mod.structs:
                self.record_name(t.span, name, ("struct", mod.name, member), "struct")
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


def local_symbol(declared: ast.Span) -> tuple[str, ...]:
    """The recorder's symbol of a local declared at `declared`."""
    return ("local", declared.file, str(declared.line), str(declared.col))


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
        # `a and b` opens its region after `a` (AND ... END_EXPR holds `b`), `x if c else y` after
        # `c`: the left operand is not inside, so a flat chain `a and b and c ...` (left-nested)
        # is a row of regions, not a nest.  Pre-order, with a stack: a chain may be long.
        stack: list[tuple[ir.Node, int]] = [(e, depth)]
        while stack:
            node, d = stack.pop()
            if isinstance(node, (ir.Logical, ir.Cond)):
                if d + 2 >= MAX_NESTING:
                    return node, "conditional expressions are"
                kids = ([(node.a, d), (node.b, d + 1)] if isinstance(node, ir.Logical)
                        else [(node.cond, d), (node.then, d + 1), (node.otherwise, d + 1)])
            else:
                kids = [(c, d) for c in walk_children(node)]
            kids.reverse()
            stack += kids
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
