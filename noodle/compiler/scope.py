"""What the checker knows about names: locals, functions, globals, structs, modules.

Kept apart from the checker so the REPL and the module loader can build and
inspect environments (a module's exported *interface*) without checking code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from noodle.compiler import ast
from noodle.ir import nodes as ir
from noodle.ir.types import FnT, StructT, Type


@dataclass(slots=True)
class Var:
    """A local variable (parameter, `let`, `var`, loop variable) of one function."""

    name: str
    slot: int
    ty: Type
    mutable: bool
    ctx: "FnCtx"
    span: ast.Span


@dataclass(slots=True)
class StructInfo:
    name: str
    module: str
    ty: StructT
    field_names: list[str] = field(default_factory=list)
    field_types: list[Type] = field(default_factory=list)
    #: default of each field: an AST expression (own module) or a constant (imported), or None
    defaults: list["ast.Expr | ir.Const | None"] = field(default_factory=list)
    methods: dict[str, "FuncInfo"] = field(default_factory=dict)
    decl: ast.StructDecl | None = None
    exported: bool = True

    def field_type(self, name: str) -> Type | None:
        try:
            return self.field_types[self.field_names.index(name)]
        except ValueError:
            return None


@dataclass(slots=True)
class FuncInfo:
    name: str  # IR name: "fib", "Point.norm"
    display: str
    param_names: list[str]
    param_types: list[Type]
    ret: Type
    decl: ast.FnDecl | None = None
    struct: StructInfo | None = None
    exported: bool = True
    state: str = "new"  # new | checking | done

    @property
    def type(self) -> FnT:
        return FnT(tuple(self.param_types), self.ret)


@dataclass(slots=True)
class GlobalInfo:
    name: str
    ty: Type | None
    mutable: bool
    const: bool
    decl: "ast.LetDecl | ast.ConstDecl | None"
    exported: bool = True
    const_value: object = None  # folded value of a `const`
    init_ir: "ir.Expr | None" = None
    state: str = "new"  # new | checking | done
    #: for `let (a, (b, c)) = e` at top level: where this name sits in the tuple, e.g. (1, 0) for b
    path: tuple[int, ...] | None = None


@dataclass(slots=True)
class ModuleInterface:
    """What one compiled module exports, as seen by the modules that import it."""

    name: str
    version: str
    functions: dict[str, FnT] = field(default_factory=dict)
    globals: dict[str, tuple[Type, bool]] = field(default_factory=dict)  # name -> (type, mutable)
    structs: dict[str, StructInfo] = field(default_factory=dict)
    #: values of exported `const`s, so importers can fold them
    consts: dict[str, object] = field(default_factory=dict)
    #: parameter names of exported functions, for named arguments
    param_names: dict[str, list[str]] = field(default_factory=dict)
    #: hash of the module's source, recorded by importers for cache validity
    source_hash: str = ""


@dataclass(slots=True)
class FnCtx:
    """The function being checked: its locals, scopes and return type."""

    name: str
    kind: str
    display: str
    parent: "FnCtx | None"
    depth: int
    ret: Type
    ret_declared: bool
    local_names: list[str] = field(default_factory=list)
    local_types: list[Type] = field(default_factory=list)
    scopes: list[dict[str, Var]] = field(default_factory=lambda: [{}])
    loop_depth: int = 0
    mutable_slots: list[int] = field(default_factory=list)  # `var`s: what closures may change
    returns_value: bool = False

    def declare(self, name: str, ty: Type, mutable: bool, span: ast.Span) -> Var:
        slot = len(self.local_names)
        self.local_names.append(name)
        self.local_types.append(ty)
        v = Var(name, slot, ty, mutable, self, span)
        self.scopes[-1][name] = v
        if mutable:
            self.mutable_slots.append(slot)
        return v

    def temp(self, ty: Type) -> int:
        slot = len(self.local_names)
        self.local_names.append(f"${slot}")
        self.local_types.append(ty)
        return slot

    def lookup_local(self, name: str) -> Var | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None
