"""Noodle's static types.

Types are immutable values compared structurally, except :class:`TVar`, the
inference variable the checker unifies and later resolves.  Every type has a
canonical text (`str(t)`), which is also how types are written into `.nbc`
modules (export signatures, the typed IR) and parsed back by
:func:`parse_type`.
"""
from __future__ import annotations

import itertools


def _value_type(cls: type) -> type:
    """Give a type class value semantics (init, eq, hash, frozen) from its annotations.

    Not a dataclass on purpose: msgspec encodes dataclasses as maps, and types
    must reach the `.nbc` encoder's hook to be written as their canonical text.
    """
    names = tuple(a for a in cls.__dict__.get("__annotations__", {}))

    def __init__(self, *args):  # noqa: N807
        if len(args) != len(names):
            raise TypeError(f"{cls.__name__} takes {len(names)} arguments")
        for n, v in zip(names, args):
            object.__setattr__(self, n, v)

    def __eq__(self, other):  # noqa: N807
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in names)

    def __hash__(self):  # noqa: N807
        return hash((cls.__name__,) + tuple(getattr(self, n) for n in names))

    def __setattr__(self, name, value):  # noqa: N807
        raise AttributeError("types are immutable")

    def __repr__(self):  # noqa: N807
        return f"{cls.__name__}({', '.join(repr(getattr(self, n)) for n in names)})"

    cls.__init__, cls.__eq__, cls.__hash__ = __init__, __eq__, __hash__
    cls.__setattr__, cls.__repr__ = __setattr__, __repr__
    return cls


class Type:
    """Base of all types."""

    __slots__ = ()

    def children(self) -> tuple["Type", ...]:
        return ()


@_value_type
class Prim(Type):
    name: str  # int float f32 i32 bool str none py

    def __str__(self) -> str:
        return self.name


INT = Prim("int")
FLOAT = Prim("float")
F32 = Prim("f32")
I32 = Prim("i32")
BOOL = Prim("bool")
STR = Prim("str")
NONE = Prim("none")
#: an object of the Python world (`import py`): operations on it are checked at run time
PY = Prim("py")
PRIMS = {p.name: p for p in (INT, FLOAT, F32, I32, BOOL, STR, NONE, PY)}


@_value_type
class ListT(Type):
    elem: Type

    def __str__(self) -> str:
        return f"List<{self.elem}>"

    def children(self) -> tuple[Type, ...]:
        return (self.elem,)


@_value_type
class MapT(Type):
    key: Type
    value: Type

    def __str__(self) -> str:
        return f"Map<{self.key}, {self.value}>"

    def children(self) -> tuple[Type, ...]:
        return (self.key, self.value)


@_value_type
class TupleT(Type):
    items: tuple[Type, ...]

    def __str__(self) -> str:
        return "(" + ", ".join(map(str, self.items)) + ")"

    def children(self) -> tuple[Type, ...]:
        return self.items


@_value_type
class FnT(Type):
    params: tuple[Type, ...]
    ret: Type

    def __str__(self) -> str:
        return "fn(" + ", ".join(map(str, self.params)) + f") -> {self.ret}"

    def children(self) -> tuple[Type, ...]:
        return self.params + (self.ret,)


@_value_type
class ArrayT(Type):
    """`Array<T, N>`: an N-dimensional array of int, float, i32, f32 or bool (a NumPy ndarray at run time)."""

    elem: Prim
    ndim: int

    def __str__(self) -> str:
        return f"Array<{self.elem}, {self.ndim}>"

    def children(self) -> tuple[Type, ...]:
        return (self.elem,)


#: element types an Array may hold, and the NumPy dtype of each
ARRAY_DTYPES = {"float": "float64", "f32": "float32", "int": "int64", "i32": "int32", "bool": "bool"}


@_value_type
class RangeT(Type):
    """The value of `a..b` / `range(...)`: iterable of int."""

    def __str__(self) -> str:
        return "Range"


RANGE = RangeT()


@_value_type
class StructT(Type):
    """A struct type, named by its defining module and its name."""

    module: str
    name: str

    def __str__(self) -> str:
        return self.name if self.module in ("", "<prelude>") else f"{self.module}.{self.name}"


#: The prelude's Error struct: `Error("message")`, fields `message` and `kind`.
ERROR = StructT("<prelude>", "Error")


@_value_type
class ModuleT(Type):
    """The type of a name bound by `import`; only usable before a `.`."""

    path: str

    def __str__(self) -> str:
        return f"module {self.path}"


@_value_type
class UnknownT(Type):
    """Stands in after an error so that one mistake is reported once."""

    def __str__(self) -> str:
        return "?"


UNKNOWN = UnknownT()


@_value_type
class UnboundT(Type):
    """An inference variable nothing bound (the element of an empty list nothing constrains), as
    read back from a module's IR: it prints as it was written, so the IR re-emits the same bytecode."""

    id: int

    def __str__(self) -> str:
        return f"?T{self.id}"

_tvar_ids = itertools.count()


class TVar(Type):
    """An inference variable; `ref` is set once it is bound."""

    __slots__ = ("id", "ref", "numeric_default")

    def __init__(self) -> None:
        self.id = next(_tvar_ids)
        self.ref: Type | None = None

    def __str__(self) -> str:
        t = prune(self)
        return f"?T{self.id}" if isinstance(t, TVar) else str(t)

    def __repr__(self) -> str:
        return f"TVar({self})"


def prune(t: Type) -> Type:
    """Follow bound inference variables to the type they stand for."""
    while isinstance(t, TVar) and t.ref is not None:
        t = t.ref
    return t


def resolve(t: Type) -> Type:
    """Replace every bound variable inside `t`; unbound ones stay."""
    t = prune(t)
    if isinstance(t, ListT):
        return ListT(resolve(t.elem))
    if isinstance(t, MapT):
        return MapT(resolve(t.key), resolve(t.value))
    if isinstance(t, TupleT):
        return TupleT(tuple(resolve(x) for x in t.items))
    if isinstance(t, FnT):
        return FnT(tuple(resolve(x) for x in t.params), resolve(t.ret))
    return t


def has_unbound(t: Type) -> bool:
    t = prune(t)
    if isinstance(t, TVar):
        return True
    return any(has_unbound(c) for c in t.children())


def occurs(v: TVar, t: Type) -> bool:
    t = prune(t)
    if t is v:
        return True
    return any(occurs(v, c) for c in t.children())


def unify(a: Type, b: Type, trail: "list[TVar] | None" = None) -> bool:
    """Make `a` and `b` the same type, binding variables; False if they cannot be.

    Variables bound are appended to `trail` (when given) so that a failed
    trial, such as one overload of a native, can be undone with :func:`undo`.
    """
    a, b = prune(a), prune(b)
    if a is b:
        return True
    if isinstance(a, UnknownT) or isinstance(b, UnknownT):
        return True
    if isinstance(a, TVar):
        if occurs(a, b):
            return False
        a.ref = b
        if trail is not None:
            trail.append(a)
        return True
    if isinstance(b, TVar):
        return unify(b, a, trail)
    if type(a) is not type(b):
        return False
    if isinstance(a, (Prim, StructT, ModuleT, RangeT, ArrayT)):
        return a == b
    if isinstance(a, TupleT) and len(a.items) != len(b.items):  # type: ignore[attr-defined]
        return False
    if isinstance(a, FnT) and len(a.params) != len(b.params):  # type: ignore[attr-defined]
        return False
    return all(unify(x, y, trail) for x, y in zip(a.children(), b.children()))


def undo(trail: "list[TVar]") -> None:
    for v in reversed(trail):
        v.ref = None
    trail.clear()


def is_hashable(t: Type) -> bool:
    t = prune(t)
    if isinstance(t, Prim):
        return t != NONE
    if isinstance(t, TupleT):
        return all(is_hashable(x) for x in t.items)
    return isinstance(t, TVar)


# ---------------------------------------------------------------- text form

class TypeSyntaxError(ValueError):
    pass


def parse_type(text: str, structs: "dict[str, StructT] | None" = None) -> Type:
    """Parse the canonical text of a type (as written by `str(t)`)."""
    p = _TypeParser(text, structs or {})
    t = p.type()
    p.skip_ws()
    if p.pos != len(text):
        raise TypeSyntaxError(f"trailing text in type {text!r}")
    return t


class _TypeParser:
    def __init__(self, text: str, structs: dict[str, StructT]) -> None:
        self.text, self.pos, self.structs = text, 0, structs

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def eat(self, s: str) -> bool:
        self.skip_ws()
        if self.text.startswith(s, self.pos):
            self.pos += len(s)
            return True
        return False

    def expect(self, s: str) -> None:
        if not self.eat(s):
            raise TypeSyntaxError(f"expected {s!r} at {self.pos} in {self.text!r}")

    def ident(self) -> str:
        self.skip_ws()
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_."):
            self.pos += 1
        if start == self.pos:
            raise TypeSyntaxError(f"expected a type name at {start} in {self.text!r}")
        return self.text[start:self.pos]

    def type(self) -> Type:
        if self.eat("("):
            items = [self.type()]
            while self.eat(","):
                items.append(self.type())
            self.expect(")")
            return TupleT(tuple(items))
        if self.eat("fn("):
            params: list[Type] = []
            if not self.eat(")"):
                params.append(self.type())
                while self.eat(","):
                    params.append(self.type())
                self.expect(")")
            self.expect("->")
            return FnT(tuple(params), self.type())
        if self.eat("?"):
            self.skip_ws()
            start = self.pos
            if self.eat("T"):
                while self.pos < len(self.text) and self.text[self.pos].isdigit():
                    self.pos += 1
                if self.pos > start + 1:
                    return UnboundT(int(self.text[start + 1:self.pos]))
                self.pos = start
            return UNKNOWN
        name = self.ident()
        if name in PRIMS:
            return PRIMS[name]
        if name == "Range":
            return RANGE
        if name == "List":
            self.expect("<")
            t = self.type()
            self.expect(">")
            return ListT(t)
        if name == "Map":
            self.expect("<")
            k = self.type()
            self.expect(",")
            v = self.type()
            self.expect(">")
            return MapT(k, v)
        if name == "Error":
            return ERROR
        if name == "Array":
            self.expect("<")
            elem = self.type()
            self.expect(",")
            self.skip_ws()
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos].isdigit():
                self.pos += 1
            if start == self.pos or not isinstance(elem, Prim):
                raise TypeSyntaxError(f"bad Array type in {self.text!r}")
            ndim = int(self.text[start:self.pos])
            self.expect(">")
            return ArrayT(elem, ndim)
        if name in self.structs:
            return self.structs[name]
        module, _, short = name.rpartition(".")
        return StructT(module, short)
