"""Whether a candidate's outcome is the original's: the one comparison validation and canaries use.

- ints and bools exactly (a NumPy integer counts as an int, a NumPy bool as a bool);
- floats (and NumPy floats) within :data:`REL_TOL` relative or :data:`ABS_TOL` absolute — summation
  order may differ — with nan equal to nan and infinities equal only to themselves; an int where a
  float was expected (or the reverse) is a mismatch, because it prints differently;
- ndarrays: the same shape and dtype kind, elements as above;
- lists and tuples item by item, dicts key by key, None only to None, str exactly;
- errors: both raise, and of the same kind (the Python exception's type name; a Noodle error's kind,
  or for an `Error` the type name its message starts with, as the intent mapping writes them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

REL_TOL = 1e-9
ABS_TOL = 1e-12


@dataclass(frozen=True)
class Outcome:
    """What one call did: its value, or the kind of error it raised; and the arguments afterwards."""

    value: Any = None
    error: str | None = None
    message: str = ""
    args_after: tuple | None = None


def error_kind(kind: str, message: str) -> str:
    """The Python exception name a Noodle error stands for."""
    if kind == "Error" and ":" in message:
        head = message.split(":", 1)[0].strip()
        if head.isidentifier():
            return head
    if kind == "PyError" and ":" in message:
        return message.split(":", 1)[0].strip()
    return kind


def differs(expected: Outcome, got: Outcome) -> str | None:
    """Why `got` is not `expected`, or None when they agree."""
    if expected.error is not None or got.error is not None:
        if expected.error is None:
            return f"the candidate raised {got.error} ({got.message}); the original returned {_show(expected.value)}"
        if got.error is None:
            return f"the original raised {expected.error}; the candidate returned {_show(got.value)}"
        if expected.error != got.error:
            return f"the original raised {expected.error}, the candidate {got.error}"
        return None
    why = value_differs(expected.value, got.value)
    if why is not None:
        return why
    if expected.args_after is not None and got.args_after is not None:
        for i, (a, b) in enumerate(zip(expected.args_after, got.args_after)):
            why = value_differs(a, b)
            if why is not None:
                return f"argument {i + 1} after the call: {why}"
    return None


def value_differs(a: Any, b: Any) -> str | None:
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        return f"expected {ka} {_show(a)}, got {kb} {_show(b)}"
    if ka == "int" or ka == "bool" or ka == "str" or ka == "none":
        return None if a == b else f"expected {_show(a)}, got {_show(b)}"
    if ka == "float":
        return None if floats_agree(float(a), float(b)) else f"expected {_show(a)}, got {_show(b)}"
    if ka.startswith("ndarray"):
        if a.shape != b.shape:
            return f"expected an array of shape {a.shape}, got {b.shape}"
        import numpy as np

        if a.dtype.kind == "f":
            ok = np.allclose(a, b, rtol=REL_TOL, atol=ABS_TOL, equal_nan=True) and \
                bool(np.all(np.isinf(a) == np.isinf(b)))
        else:
            ok = bool(np.array_equal(a, b))
        return None if ok else "the arrays differ"
    if ka in ("list", "tuple"):
        if len(a) != len(b):
            return f"expected {len(a)} items, got {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            why = value_differs(x, y)
            if why is not None:
                return f"item {i}: {why}"
        return None
    if ka == "dict":
        if a.keys() != b.keys():
            return "the keys differ"
        for k in a:
            why = value_differs(a[k], b[k])
            if why is not None:
                return f"[{k!r}]: {why}"
        return None
    return None if a == b else f"expected {_show(a)}, got {_show(b)}"


def floats_agree(x: float, y: float) -> bool:
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return math.isclose(x, y, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _kind(v: Any) -> str:
    t = type(v)
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float"
    if t is str:
        return "str"
    if v is None:
        return "none"
    if t in (list, tuple, dict):
        return t.__name__
    if t.__module__ == "numpy":
        if t.__name__ == "ndarray":
            return f"ndarray<{v.dtype.kind}>"
        kind = getattr(getattr(v, "dtype", None), "kind", "")
        return {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(kind, t.__name__)
    return t.__qualname__


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
