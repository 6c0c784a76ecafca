"""Argument kinds: what the usage log records about the values of a call (never the values).

A kind is a short text: `int`, `float`, `bool`, `str`, `none`, `ndarray<float64>[3x3]` (dtype and
shape), `list<float>[100]` (the first element's kind and the length), `tuple[2]`, `dict[5]`,
`fn`, or the Python type's qualified name.  A call's *signature* is its arguments' kinds joined
by `, `, then its keyword arguments as `name=kind`, in the order written.

:func:`generalise` drops the sizes (`ndarray<float64>[3x3]` -> `ndarray<float64>[2d]`,
`list<float>[100]` -> `list<float>`): a replacement specialised to types, not sizes, accepts every
call whose signature generalises to its own.
"""
from __future__ import annotations

import re
from typing import Any

_SIMPLE = {int: "int", float: "float", bool: "bool", str: "str", type(None): "none"}


def kind(value: Any) -> str:
    """The kind of one argument."""
    t = type(value)
    simple = _SIMPLE.get(t)
    if simple is not None:
        return simple
    if t.__name__ == "ndarray":
        return f"ndarray<{value.dtype}>[{'x'.join(map(str, value.shape))}]"
    if t is list:
        inner = _element_kind(value[0]) if value else "?"
        return f"list<{inner}>[{len(value)}]"
    if t is tuple:
        return f"tuple[{len(value)}]"
    if t is dict:
        return f"dict[{len(value)}]"
    if t.__module__ == "numpy" and hasattr(value, "dtype"):
        return f"numpy.{value.dtype}"
    if callable(value):
        return "fn"
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _element_kind(value: Any) -> str:
    return generalise(kind(value))


def signature(args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> str:
    """The signature of a call."""
    parts = [kind(a) for a in args]
    if kwargs:
        parts += [f"{k}={kind(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


_ARRAY = re.compile(r"ndarray<(\w+)>\[([0-9x]*)\]")
_SIZED = re.compile(r"(list<[^\[]*>|tuple|dict)\[\d+\]")


def generalise(sig: str) -> str:
    """A signature (or kind) without its sizes."""
    sig = _ARRAY.sub(lambda m: f"ndarray<{m.group(1)}>[{len(m.group(2).split('x')) if m.group(2) else 0}d]", sig)
    return _SIZED.sub(lambda m: m.group(1), sig)


def array_sizes(sig: str) -> list[tuple[int, ...]]:
    """The shapes of the ndarray arguments named in a signature, in order."""
    return [tuple(int(d) for d in m.group(2).split("x")) if m.group(2) else ()
            for m in _ARRAY.finditer(sig)]


_LIST_LENGTH = re.compile(r"list<[^\[]*>\[(\d+)\]")


def list_lengths(sig: str) -> list[int]:
    """The lengths of the list arguments named in a signature, in order."""
    return [int(m.group(1)) for m in _LIST_LENGTH.finditer(sig)]
