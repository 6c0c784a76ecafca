"""Which calls a candidate serves: a generalised signature as Noodle types and as a fast check.

A pattern is a generalised signature (:func:`noodle.vm.pyffi.kinds.generalise`) of positional
arguments only: `ndarray<float64>[1d], ndarray<float64>[1d]`, `float, int`, `list<float>`.
:func:`noodle_types` gives the Noodle parameter type of each kind (None for a kind a candidate
cannot take); :func:`accepts` compiles the pattern into a check of a call's arguments, generated
as straight-line Python so that the check costs little next to the call it replaces; :func:`entry`
compiles the same check together with the call of the replacement, as one function a call site
holds (no walk over checks and wrappers per call).
"""
from __future__ import annotations

import re
from typing import Any, Callable

from noodle.runtime.values import ErrorValue
from noodle.vm.pyffi.replacements import MISS, Entry

#: ndarray dtype -> Array element type
DTYPE_ELEMS = {"float64": "float", "int64": "int", "float32": "f32", "int32": "i32", "bool": "bool"}
_SCALARS = {"int": "int", "float": "float", "bool": "bool", "str": "str"}
_ARRAY = re.compile(r"ndarray<(\w+)>\[(\d+)d\]$")
_LIST = re.compile(r"list<(.+)>$")

INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def split(pattern: str) -> list[str]:
    """The kinds of a pattern, one per argument (commas inside `<...>` do not split)."""
    out, depth, cur = [], 0, ""
    for ch in pattern:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def noodle_type(kind: str) -> str | None:
    """The Noodle type for an argument kind, or None."""
    if kind in _SCALARS:
        return _SCALARS[kind]
    m = _ARRAY.match(kind)
    if m:
        elem = DTYPE_ELEMS.get(m.group(1))
        ndim = int(m.group(2))
        return f"Array<{elem}, {ndim}>" if elem is not None and 1 <= ndim <= 3 else None
    m = _LIST.match(kind)
    if m:
        inner = noodle_type(m.group(1))
        return f"List<{inner}>" if inner is not None else None
    return None


def noodle_types(pattern: str) -> list[str] | None:
    """The Noodle parameter types of a pattern, or None if an argument has no Noodle type (or there
    are keyword arguments)."""
    kinds = split(pattern)
    if any("=" in k for k in kinds):
        return None
    types = [noodle_type(k) for k in kinds]
    return None if any(t is None for t in types) else types  # type: ignore[return-value]


def _conditions(pattern: str, max_size: int | None, env: dict[str, Any]) -> list[str]:
    """The checks of a pattern, one Python expression per argument `a<i>` (constants go into `env`)."""
    import numpy as np

    env.update({"ND": np.ndarray, "INT_MIN": INT_MIN, "INT_MAX": INT_MAX})
    conds: list[str] = []
    for i, kind in enumerate(split(pattern)):
        a = f"a{i}"
        if kind == "int":
            conds.append(f"type({a}) is int and INT_MIN <= {a} <= INT_MAX")
        elif kind in ("float", "bool", "str"):
            conds.append(f"type({a}) is {kind}")
        elif (m := _ARRAY.match(kind)) is not None:
            env[f"D{i}"] = np.dtype(m.group(1))
            # `is` first: arrays of a builtin dtype share its one dtype object, and `==` costs more
            cond = (f"type({a}) is ND and ({a}.dtype is D{i} or {a}.dtype == D{i}) "
                    f"and {a}.ndim == {int(m.group(2))}")
            if max_size is not None:
                cond += f" and {a}.size <= {int(max_size)}"
            conds.append(cond)
        elif (m := _LIST.match(kind)) is not None:
            inner = m.group(1)
            first = {"int": "int", "float": "float", "bool": "bool", "str": "str"}.get(inner)
            cond = f"type({a}) is list" + (f" and (not {a} or type({a}[0]) is {first})" if first else "")
            if max_size is not None:
                cond += f" and len({a}) <= {int(max_size)}"
            conds.append(cond)
        else:
            raise ValueError(f"no check for argument kind {kind!r}")
    return conds


def _compile(src: str, pattern: str, env: dict[str, Any], name: str) -> Any:
    exec(compile(src, f"<pattern {pattern}>", "exec"), env)  # noqa: S102 - built from checked kinds only
    return env[name]


def accepts(pattern: str, max_size: int | None = None) -> Callable[[tuple, dict | None], bool]:
    """A check that a call's arguments fit `pattern` (arrays and lists of at most `max_size` elements)."""
    env: dict[str, Any] = {}
    conds = _conditions(pattern, max_size, env)
    names = ", ".join(f"a{i}" for i in range(len(conds)))
    unpack = f"    {names}{',' if len(conds) == 1 else ''} = args\n" if conds else ""
    body = " and ".join(f"({c})" for c in conds) or "True"
    src = (f"def accepts(args, kwargs):\n    if kwargs or len(args) != {len(conds)}:\n        return False\n"
           f"{unpack}    return {body}\n")
    return _compile(src, pattern, env, "accepts")


def entry(pattern: str, max_size: int | None, target: Callable[..., Any], direct: bool,
          translate: Callable[[ErrorValue], Exception] | None = None) -> Entry:
    """What a call site holds for a replacement: `entry(fn, args, kwargs)` checks the call against
    `pattern` inline and calls `target`, or returns :data:`MISS`.

    `direct`: `target` takes the arguments themselves (a candidate's function: arrays and scalars
    the pattern checked need no conversion), and a Noodle error it throws is raised as the Python
    exception `translate` makes of it; otherwise `target(fn, args, kwargs)` serves the call (a
    canary, a candidate whose lists are converted, one loaded at its first call)."""
    env: dict[str, Any] = {"TARGET": target, "MISS": MISS, "ErrorValue": ErrorValue, "TRANSLATE": translate}
    conds = _conditions(pattern, max_size, env)
    names = ", ".join(f"a{i}" for i in range(len(conds)))
    unpack = f"        {names}{',' if len(conds) == 1 else ''} = args\n" if conds else ""
    body = " and ".join(f"({c})" for c in conds) or "True"
    if not direct:
        call = "            return TARGET(fn, args, kwargs)\n"
    elif translate is None:
        call = f"            return TARGET({names})\n"
    else:
        call = (f"            try:\n                return TARGET({names})\n"
                "            except ErrorValue as e:\n                raise TRANSLATE(e) from None\n")
    src = (f"def entry(fn, args, kwargs):\n    if not kwargs and len(args) == {len(conds)}:\n{unpack}"
           f"        if {body}:\n{call}    return MISS\n")
    return _compile(src, pattern, env, "entry")
