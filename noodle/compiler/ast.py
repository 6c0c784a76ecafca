"""The Noodle abstract syntax tree.

Every node carries a :class:`Span` so that diagnostics, the IR and the
run-time stack can point back at the source.  The tree is produced by
:mod:`noodle.compiler.parser` and consumed by the checker; it is plain data
with no behaviour beyond small helpers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True, slots=True)
class Span:
    """A region of one source file; lines and columns are 1-based."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NO_SPAN = Span("<builtin>", 0, 0, 0, 0)


# ---------------------------------------------------------------- type syntax

@dataclass(slots=True)
class TypeName:
    """`int`, `List<int>`, `Map<str, float>`, `Array<float, 2>`, `geo.Point`."""

    name: str  # dotted for qualified names: "geo.Point"
    args: list["TypeExpr | int"]
    span: Span


@dataclass(slots=True)
class TupleType:
    items: list["TypeExpr"]
    span: Span


@dataclass(slots=True)
class FnType:
    params: list["TypeExpr"]
    ret: "TypeExpr"
    span: Span


TypeExpr = Union[TypeName, TupleType, FnType]


# ---------------------------------------------------------------- expressions

@dataclass(slots=True)
class IntLit:
    value: int
    span: Span


@dataclass(slots=True)
class FloatLit:
    value: float
    span: Span


@dataclass(slots=True)
class StrLit:
    value: str  # escapes already decoded
    span: Span


@dataclass(slots=True)
class InterpStr:
    """`"x = {x}"`: literal text and embedded expressions, in order."""

    parts: list["str | Expr"]
    span: Span


@dataclass(slots=True)
class BoolLit:
    value: bool
    span: Span


@dataclass(slots=True)
class NoneLit:
    span: Span


@dataclass(slots=True)
class Name:
    id: str
    span: Span


@dataclass(slots=True)
class ListLit:
    items: list["Expr"]
    span: Span


@dataclass(slots=True)
class MapLit:
    items: list[tuple["Expr", "Expr"]]
    span: Span


@dataclass(slots=True)
class TupleLit:
    items: list["Expr"]  # at least 2 items; `(x)` is just x, `()` is not valid
    span: Span


@dataclass(slots=True)
class Unary:
    op: str  # "-", "+", "not"
    operand: "Expr"
    span: Span


@dataclass(slots=True)
class Binary:
    """Arithmetic, bitwise, comparison (`== != < <= > >= in`), `and`, `or`."""

    op: str  # "+", "-", "*", "/", "//", "%", "**", "@", "|", "^", "&", "<<", ">>",
    # "==", "!=", "<", "<=", ">", ">=", "in", "not in", "and", "or"
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(slots=True)
class Range:
    """`a..b` (exclusive) or `a..=b` (inclusive)."""

    lo: "Expr"
    hi: "Expr"
    inclusive: bool
    span: Span


@dataclass(slots=True)
class Ternary:
    """`then if cond else otherwise`."""

    cond: "Expr"
    then: "Expr"
    otherwise: "Expr"
    span: Span


@dataclass(slots=True)
class Arg:
    name: str | None  # named argument `x: 1.0` in a call
    value: "Expr"
    span: Span


@dataclass(slots=True)
class Call:
    func: "Expr"
    args: list[Arg]
    span: Span


@dataclass(slots=True)
class Attribute:
    obj: "Expr"
    name: str
    span: Span
    name_span: Span


@dataclass(slots=True)
class Index:
    """`a[i]` or `a[i, j]`."""

    obj: "Expr"
    indices: list["Expr"]
    span: Span


@dataclass(slots=True)
class Slice:
    """`a[lo:hi]`; either bound may be omitted."""

    obj: "Expr"
    lo: "Expr | None"
    hi: "Expr | None"
    span: Span


@dataclass(slots=True)
class Param:
    name: str
    type: TypeExpr | None  # None for `self` and for lambda parameters
    span: Span


@dataclass(slots=True)
class Lambda:
    """`x => x * 2`, `(a, b) => a + b`, `() => { ... }`."""

    params: list[Param]
    body: "Expr | Block"
    span: Span


Expr = Union[
    IntLit, FloatLit, StrLit, InterpStr, BoolLit, NoneLit, Name, ListLit, MapLit,
    TupleLit, Unary, Binary, Range, Ternary, Call, Attribute, Index, Slice, Lambda,
]


# ---------------------------------------------------------------- patterns

@dataclass(slots=True)
class NamePattern:
    name: str
    span: Span


@dataclass(slots=True)
class TuplePattern:
    items: list["Pattern"]
    span: Span


Pattern = Union[NamePattern, TuplePattern]


# ---------------------------------------------------------------- statements

@dataclass(slots=True)
class Block:
    stmts: list["Stmt"]
    span: Span


@dataclass(slots=True)
class LetDecl:
    """`let x = e`, `var x: T = e`, `let (q, r) = e`."""

    mutable: bool  # True for `var`
    target: Pattern
    type: TypeExpr | None
    value: "Expr"
    span: Span


@dataclass(slots=True)
class ConstDecl:
    name: str
    type: TypeExpr | None
    value: "Expr"
    span: Span
    name_span: Span = NO_SPAN


@dataclass(slots=True)
class Assign:
    """`target = value` or an augmented form; target is Name, Attribute or Index."""

    target: "Expr"
    op: str  # "=", "+=", "-=", "*=", "/=", "//=", "%="
    value: "Expr"
    span: Span


@dataclass(slots=True)
class ExprStmt:
    expr: "Expr"
    span: Span


@dataclass(slots=True)
class If:
    cond: "Expr"
    then: Block
    otherwise: "Block | If | None"
    span: Span


@dataclass(slots=True)
class While:
    cond: "Expr"
    body: Block
    span: Span


@dataclass(slots=True)
class For:
    target: Pattern
    iter: "Expr"
    body: Block
    span: Span


@dataclass(slots=True)
class Break:
    span: Span


@dataclass(slots=True)
class Continue:
    span: Span


@dataclass(slots=True)
class Return:
    value: "Expr | None"
    span: Span


@dataclass(slots=True)
class Throw:
    value: "Expr"
    span: Span


@dataclass(slots=True)
class Try:
    body: Block
    catch_name: str | None  # `catch e { }`; None for a bare `catch { }`
    handler: Block
    span: Span
    name_span: Span = NO_SPAN  # the name after `catch`


@dataclass(slots=True)
class Assert:
    cond: "Expr"
    message: "Expr | None"  # `assert c, "msg"`
    span: Span


Stmt = Union[
    LetDecl, ConstDecl, Assign, ExprStmt, If, While, For, Break, Continue, Return,
    Throw, Try, Assert, Block,
]


# ---------------------------------------------------------------- top level

@dataclass(slots=True)
class ModuleHeader:
    name: str  # dotted
    version: str | None
    span: Span


@dataclass(slots=True)
class Import:
    """`import a.b`, `import a.b as c`, `import py numpy as np`."""

    path: str  # dotted
    alias: str | None
    is_py: bool
    span: Span


@dataclass(slots=True)
class FromImport:
    """`from math import sqrt, pi as PI`."""

    path: str
    names: list[tuple[str, str | None]]  # (name, alias)
    span: Span
    name_spans: list[Span] = field(default_factory=list)  # one per name, for diagnostics


@dataclass(slots=True)
class FnDecl:
    name: str
    params: list[Param]  # a method's first parameter is `self` with type None
    ret: TypeExpr | None
    body: Block
    attributes: list[str]  # e.g. ["no_optimize"]
    span: Span
    name_span: Span


@dataclass(slots=True)
class Field:
    name: str
    type: TypeExpr
    default: "Expr | None"
    span: Span


@dataclass(slots=True)
class StructDecl:
    name: str
    fields: list[Field]
    methods: list[FnDecl]
    span: Span
    name_span: Span = NO_SPAN


@dataclass(slots=True)
class TestDecl:
    name: str
    body: Block
    span: Span


TopItem = Union[Import, FromImport, FnDecl, StructDecl, TestDecl, LetDecl, ConstDecl, Stmt]


@dataclass(slots=True)
class Module:
    """One source file.  `items` keeps declarations and top-level statements in source order."""

    header: ModuleHeader | None
    items: list[TopItem] = field(default_factory=list)
    file: str = "<input>"
    source: str = ""  # the text parsed, for diagnostics and messages quoting it
    #: the depth of the deepest expression tree (a flat chain `a + b + ...` as long as it is), which
    #: the passes recursing over expressions need room for (noodle.deepstack); set by the parser
    deepest: int = 0
