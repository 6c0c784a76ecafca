"""Run-time values: how Noodle values live in the VM, and how they print.

Noodle values are Python values where the two agree (int, float, bool, str,
none → None, List → list, Map → dict, tuples → tuple, functions → callables,
ranges → range).  Structs are instances of classes made per module from
:class:`StructBase`; an `Error` is an :class:`ErrorValue`, which is also the
Python exception that carries it while it is thrown.
"""
from __future__ import annotations

import math
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any

INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class StructBase:
    """Base of every struct class; fields are slots named `f_<field>` (the prefix keeps hostile field names away from dunders)."""

    __slots__ = ()
    _nd_name = "?"
    #: the module that declares it (a struct crossing to another process is matched by module and name)
    _nd_module = ""
    _nd_fields: tuple[str, ...] = ()
    _nd_attrs: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        return all(getattr(self, a) == getattr(other, a) for a in self._nd_attrs)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return nd_repr(self)


def make_struct_class(name: str, fields: list[str], module: str = "") -> type:
    """A class for one struct of `module`; `fields` are verified identifiers."""
    attrs = tuple("f_" + f for f in fields)
    params = ", ".join(f"a{i}" for i in range(len(fields)))
    body = "".join(f"\n    self.{a} = a{i}" for i, a in enumerate(attrs)) or "\n    pass"
    ns: dict[str, Any] = {}
    exec(f"def __init__(self{', ' if params else ''}{params}):{body}", ns)  # noqa: S102 - identifiers verified
    return type(name, (StructBase,), {"__slots__": attrs, "__init__": ns["__init__"], "_nd_name": name,
                                      "_nd_module": module, "_nd_fields": tuple(fields), "_nd_attrs": attrs})


class ErrorValue(Exception):
    """A Noodle `Error`: `kind` ("Error", "IndexError", ...) and `message`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.f_kind = kind
        self.f_message = message

    def __repr__(self) -> str:
        return f"{self.f_kind}({quote(self.f_message)})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:  # errors are values: equal kind and message
        return isinstance(other, ErrorValue) and (self.f_kind, self.f_message) == (other.f_kind, other.f_message)

    __hash__ = Exception.__hash__


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "{": "\\{", "}": "\\}", "\0": "\\0"}


def quote(s: str) -> str:
    """A string as it is written in Noodle source."""
    out = []
    for ch in s:
        e = _ESCAPES.get(ch)
        if e is not None:
            out.append(e)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def float_repr(x: float) -> str:
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def nd_repr(v: Any) -> str:
    """A value as it is written in Noodle source (strings quoted)."""
    t = type(v)
    if t is str:
        return quote(v)
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return int.__repr__(v)
    if t is float:
        return float_repr(v)
    if v is None:
        return "none"
    if t is list:
        return "[" + ", ".join(nd_repr(x) for x in v) + "]"
    if t is dict:
        return "{" + ", ".join(f"{nd_repr(k)}: {nd_repr(x)}" for k, x in v.items()) + "}"
    if t is tuple:
        return "(" + ", ".join(nd_repr(x) for x in v) + ")"
    if isinstance(v, StructBase):
        return f"{v._nd_name}(" + ", ".join(f"{f}: {nd_repr(getattr(v, a))}"
                                             for f, a in zip(v._nd_fields, v._nd_attrs)) + ")"
    if isinstance(v, ErrorValue):
        return repr(v)
    if t is range:
        if v.step == 1:
            return f"{v.start}..{v.stop}"
        return f"range({v.start}, {v.stop}, {v.step})"
    if t.__name__ == "ndarray" and hasattr(v, "tolist"):  # a NumPy array: an Array
        return "array(" + nd_repr(v.tolist()) + ")"
    if hasattr(v, "item") and hasattr(v, "dtype"):  # a NumPy scalar
        return nd_repr(v.item())
    if callable(v):
        return f"<fn {function_name(v)}>"
    return f"<{t.__name__}>"


def function_name(fn: Any) -> str:
    """The Noodle name of a function value, read from the VM's line map (no cost while running)."""
    name = getattr(fn, "__noodle_name__", None)
    if name is not None:
        return name
    code = getattr(fn, "__code__", None)
    if code is not None:
        from noodle.runtime.linemap import CODE_REGISTRY

        info = CODE_REGISTRY.get(code.co_filename)
        entry = info.lines.get(code.co_firstlineno) if info is not None else None
        if entry is not None:
            return entry[0]
    return getattr(fn, "__name__", "?")


def nd_str(v: Any) -> str:
    """`str(v)` and `print`: strings as they are, everything else as in source."""
    if type(v) is str:
        return v
    return nd_repr(v)
