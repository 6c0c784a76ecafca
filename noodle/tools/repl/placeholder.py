"""Stand-in initialisers for the session's variables.

A variable made by an earlier entry keeps its value in the running session;
only its declaration is compiled again with each new entry, so that later
code can name it.  Its original initialiser must not run again (it may read
input or draw a random number) and may no longer type-check (a function it
called was redefined), so the declaration is rewritten as `let x: T = <a
value of type T>`: the value is never computed (the REPL drops the session's
earlier top-level code), it only gives the checker the type.
"""
from __future__ import annotations

from noodle.ir.types import (ArrayT, FnT, ListT, MapT, Prim, RangeT, StructT, TupleT, Type, ERROR,
                             prune)

_PRIMS = {"int": "0", "float": "0.0", "bool": "false", "str": '""', "none": "none",
          "f32": "f32(0.0)", "i32": "i32(0)"}


class Unwritable(Exception):
    """The type has no source form the REPL can write (an imported struct, an unresolved type)."""


class Placeholders:
    """Type text and a value of each type, for the structs of module `module` (field types given)."""

    def __init__(self, module: str, structs: dict[str, list[tuple[str, Type]]]) -> None:
        self.module = module
        self.structs = structs

    def type_text(self, t: Type) -> str:
        t = prune(t)
        if isinstance(t, Prim):
            return t.name
        if isinstance(t, ListT):
            return f"List<{self.type_text(t.elem)}>"
        if isinstance(t, MapT):
            return f"Map<{self.type_text(t.key)}, {self.type_text(t.value)}>"
        if isinstance(t, TupleT):
            return "(" + ", ".join(self.type_text(x) for x in t.items) + ")"
        if isinstance(t, FnT):
            return "fn(" + ", ".join(self.type_text(x) for x in t.params) + f") -> {self.type_text(t.ret)}"
        if isinstance(t, ArrayT):
            return f"Array<{t.elem.name}, {t.ndim}>"
        if t == ERROR:
            return "Error"
        if isinstance(t, StructT) and t.module == self.module:
            return t.name
        raise Unwritable(str(t))

    def value(self, t: Type, depth: int = 0) -> str:
        t = prune(t)
        if depth > 20:
            raise Unwritable(str(t))
        if isinstance(t, Prim) and t.name in _PRIMS:
            return _PRIMS[t.name]
        if isinstance(t, ListT):
            return f"[{self.value(t.elem, depth + 1)}][0:0]"
        if isinstance(t, MapT):
            return "{" + f"{self.value(t.key, depth + 1)}: {self.value(t.value, depth + 1)}" + "}"
        if isinstance(t, TupleT):
            return "(" + ", ".join(self.value(x, depth + 1) for x in t.items) + ")"
        if isinstance(t, FnT):
            params = ", ".join(f"p{i}: {self.type_text(p)}" for i, p in enumerate(t.params))
            if isinstance(prune(t.ret), Prim) and prune(t.ret).name == "none":  # type: ignore[attr-defined]
                return f"({params}) => {{ }}"
            return f"({params}) => {self.value(t.ret, depth + 1)}"
        if isinstance(t, RangeT):
            return "0..0"
        if t == ERROR:
            return 'Error("")'
        if isinstance(t, StructT) and t.name in self.structs and t.module == self.module:
            fields = self.structs[t.name]
            return f"{t.name}(" + ", ".join(f"{n}: {self.value(ft, depth + 1)}" for n, ft in fields) + ")"
        raise Unwritable(str(t))

    def declaration(self, name: str, t: Type, mutable: bool) -> str:
        """`let NAME: T = VALUE` (or `var`), raising Unwritable when T cannot be written."""
        t = prune(t)
        keyword = "var" if mutable else "let"
        if isinstance(t, RangeT):  # a range has no type name; its literal gives the type
            return f"{keyword} {name} = 0..0"
        return f"{keyword} {name}: {self.type_text(t)} = {self.value(t)}"
