"""The typed, structured Noodle IR.

Functions hold statement lists; `if`, `while`, `for` and `try` are statements
with nested bodies, so a loop nest is a tree a pass can match (like MLIR's
scf dialect).  Expressions are trees whose nodes carry their static type
(`ty`) and source position (`line`, `col`).  Operators are resolved by type
(`int.add` vs `float.add`), conversions are explicit, names are resolved to
local slots, free variables (closure captures), module globals or functions.

The IR is made of msgspec Structs so it is written into `.nbc` modules as is
(types travel as their canonical text, see :mod:`noodle.ir.types`); later
backends (LLVM, OpenCL) compile from it.  Intent ops (map, reduce, ...) join
this file as further node kinds.
"""
from __future__ import annotations

from typing import Any, Union

import msgspec

from noodle.ir.types import Type, parse_type


class Node(msgspec.Struct, tag=True, kw_only=True, repr_omit_defaults=True):
    line: int = 0
    col: int = 0


# ---------------------------------------------------------------- expressions

class Const(Node):
    value: int | float | str | bool | None
    ty: Type


class LocalGet(Node):
    slot: int
    ty: Type


class FreeGet(Node):
    """A variable of an enclosing function, `up` levels out (closures capture by reference)."""

    up: int
    slot: int
    ty: Type


class GlobalGet(Node):
    name: str
    ty: Type


class FuncRef(Node):
    """A module function used as a value."""

    name: str
    ty: Type


class ModRef(Node):
    """An exported value (global or function) of an imported module."""

    module: str
    name: str
    ty: Type


class Unary(Node):
    op: str  # int.neg float.neg not int.to_float to_str
    x: "Expr"
    ty: Type
    #: overflow checks proven unnecessary (int ops): bit 0 the lower bound, bit 1 the upper
    skip: int = 0


class Binary(Node):
    op: str  # int.add ... float.add ... str.concat list.concat str.repeat cmp.eq ... in not_in
    a: "Expr"
    b: "Expr"
    ty: Type
    #: overflow checks proven unnecessary (int ops): bit 0 the lower bound, bit 1 the upper
    skip: int = 0


class Logical(Node):
    op: str  # and | or
    a: "Expr"
    b: "Expr"
    ty: Type


class Cond(Node):
    cond: "Expr"
    then: "Expr"
    otherwise: "Expr"
    ty: Type


class Call(Node):
    """Direct call of a function of this module (methods are named `Struct.method`)."""

    func: str
    args: list["Expr"]
    ty: Type


class CallMod(Node):
    module: str
    name: str
    args: list["Expr"]
    ty: Type


class CallValue(Node):
    fn: "Expr"
    args: list["Expr"]
    ty: Type


class CallBuiltin(Node):
    """A native of the prelude, a standard module, or a method of a built-in type."""

    name: str  # "len", "list.append", "math.sqrt", ...
    args: list["Expr"]
    ty: Type


class New(Node):
    struct: str  # a struct of this module, or "Error"
    args: list["Expr"]  # every field, in declaration order
    ty: Type


class GetField(Node):
    obj: "Expr"
    field: str
    ty: Type


class TupleGet(Node):
    obj: "Expr"
    index: int
    ty: Type


class ListLit(Node):
    items: list["Expr"]
    ty: Type


class MapLit(Node):
    keys: list["Expr"]
    values: list["Expr"]
    ty: Type


class TupleLit(Node):
    items: list["Expr"]
    ty: Type


class Index(Node):
    obj: "Expr"
    index: "Expr"
    ty: Type


class Slice(Node):
    obj: "Expr"
    lo: "Expr | None"
    hi: "Expr | None"
    ty: Type


class RangeLit(Node):
    lo: "Expr"
    hi: "Expr"
    inclusive: bool
    ty: Type


class Closure(Node):
    """A lambda: a function of this module nested in the current one."""

    func: str
    ty: Type


class Interp(Node):
    """String interpolation; every part is already a `str` expression."""

    parts: list["Expr"]
    ty: Type


Expr = Union[
    Const, LocalGet, FreeGet, GlobalGet, FuncRef, ModRef, Unary, Binary, Logical, Cond,
    Call, CallMod, CallValue, CallBuiltin, New, GetField, TupleGet, ListLit, MapLit,
    TupleLit, Index, Slice, RangeLit, Closure, Interp,
]


# ---------------------------------------------------------------- statements

class LocalSet(Node):
    slot: int
    value: Expr


class FreeSet(Node):
    up: int
    slot: int
    value: Expr


class GlobalSet(Node):
    name: str
    value: Expr


class FieldSet(Node):
    obj: Expr
    field: str
    value: Expr


class IndexSet(Node):
    obj: Expr
    index: Expr
    value: Expr


class ExprStmt(Node):
    expr: Expr


class If(Node):
    cond: Expr
    then: list["Stmt"]
    otherwise: list["Stmt"]
    #: set by the intents pass when this `if` chooses between a variant and the loop it recognised
    intent: str = ""


class While(Node):
    cond: Expr
    body: list["Stmt"]


class ForRange(Node):
    """`for slot in range(start, stop, step)` — integer counting loop."""

    slot: int
    start: Expr
    stop: Expr
    step: Expr
    body: list["Stmt"]
    #: what the intents pass recognised the loop (nest) as computing: "sum", "map", "stencil", ...
    #: (noodle.ir.variants), "nested" for the inner loop of a recognised nest
    intent: str = ""
    #: for `--explain`: the recognised intent's details, or why a loop shaped like one was left alone
    note: str = ""


class ForEach(Node):
    """`for slot in iterable` over a List, Map (keys), str, or Range value."""

    slot: int
    iterable: Expr
    body: list["Stmt"]


class Break(Node):
    pass


class Continue(Node):
    pass


class Return(Node):
    value: Expr | None = None


class Throw(Node):
    value: Expr


class TryCatch(Node):
    body: list["Stmt"]
    slot: int  # -1 when the error is not bound
    handler: list["Stmt"]


class Assert(Node):
    cond: Expr
    message: Expr


Stmt = Union[
    LocalSet, FreeSet, GlobalSet, FieldSet, IndexSet, ExprStmt, If, While, ForRange,
    ForEach, Break, Continue, Return, Throw, TryCatch, Assert,
]


# ---------------------------------------------------------------- containers

class Function(msgspec.Struct, kw_only=True):
    """One function: a top-level fn, a method (`Struct.name`), a lambda, a test, or the module init."""

    name: str
    kind: str  # fn | method | lambda | init | test
    display: str  # the name shown in stack traces
    params: int  # the first `params` locals are the parameters
    local_names: list[str]
    local_types: list[Type]
    ret: Type
    body: list[Stmt]
    parent: str | None = None  # enclosing function of a lambda
    depth: int = 0  # lambda nesting depth
    attributes: list[str] = []
    line: int = 0
    col: int = 0
    exported: bool = False
    #: slots declared `var` (all others are assigned once: parameters, `let`, loop variables)
    mutable_slots: list[int] = []

    @property
    def type(self) -> Type:
        from noodle.ir.types import FnT
        return FnT(tuple(self.local_types[: self.params]), self.ret)


class StructDef(msgspec.Struct, kw_only=True):
    name: str
    field_names: list[str]
    field_types: list[Type]
    methods: list[str]
    exported: bool = True
    line: int = 0
    #: constant field defaults, for modules that import the struct (None where a field has none)
    defaults: list["Const | None"] = []


class GlobalDef(msgspec.Struct, kw_only=True):
    name: str
    ty: Type
    mutable: bool
    const: bool = False
    exported: bool = True


class TestDef(msgspec.Struct, kw_only=True):
    name: str  # the string after `test`
    func: str


class Module(msgspec.Struct, kw_only=True):
    """A whole compiled module in IR form."""

    name: str
    version: str
    file: str
    imports: list[str]  # dotted paths of Noodle modules this one imports
    functions: list[Function]
    structs: list[StructDef]
    globals: list[GlobalDef]
    tests: list[TestDef]
    init: str = "__init__"  # the function that runs top-level statements
    entry: str | None = None  # "main" when the module defines fn main()

    def function(self, name: str) -> Function:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)


# ---------------------------------------------------------------- encoding

def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Type):
        from noodle.ir.types import resolve
        return str(resolve(obj))
    raise NotImplementedError(type(obj))


def _dec_hook(tp: type, obj: Any) -> Any:
    if tp is Type and isinstance(obj, str):
        return parse_type(obj)
    raise NotImplementedError(tp)


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_decoder = msgspec.msgpack.Decoder(Module, dec_hook=_dec_hook)


def encode_module(m: Module) -> bytes:
    return _encoder.encode(m)


def decode_module(data: bytes) -> Module:
    return _decoder.decode(data)
