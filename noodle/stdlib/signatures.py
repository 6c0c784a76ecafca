"""Static signatures of the prelude, the standard modules and built-in methods.

The checker resolves a call to a native by trying each overload in order;
each overload names the native (see :mod:`noodle.stdlib.natives`) that runs
it.  Single capital letters (T, U, K, V) are type parameters, instantiated
fresh at every call.
"""
from __future__ import annotations

from dataclasses import dataclass

from noodle.ir.types import FnT, ListT, MapT, StructT, TupleT, TVar, Type, parse_type

_PARAMS = {name: StructT("?", name) for name in ("T", "U", "K", "V")}


@dataclass(frozen=True, slots=True)
class Overload:
    sig: FnT
    native: str


def _o(sig: str, native: str) -> Overload:
    t = parse_type(sig, _PARAMS)
    assert isinstance(t, FnT), sig
    return Overload(t, native)


PRELUDE: dict[str, list[Overload]] = {
    "len": [_o("fn(List<T>) -> int", "len"), _o("fn(Map<K, V>) -> int", "len"), _o("fn(str) -> int", "len")],
    "abs": [_o("fn(int) -> int", "abs.int"), _o("fn(float) -> float", "abs.float")],
    "min": [_o("fn(int, int) -> int", "min2"), _o("fn(float, float) -> float", "min2"),
            _o("fn(str, str) -> str", "min2"), _o("fn(List<T>) -> T", "min1")],
    "max": [_o("fn(int, int) -> int", "max2"), _o("fn(float, float) -> float", "max2"),
            _o("fn(str, str) -> str", "max2"), _o("fn(List<T>) -> T", "max1")],
    "sum": [_o("fn(List<int>) -> int", "sum.int"), _o("fn(List<float>) -> float", "sum.float")],
    "any": [_o("fn(List<bool>) -> bool", "any")],
    "all": [_o("fn(List<bool>) -> bool", "all")],
    "sorted": [_o("fn(List<T>) -> List<T>", "sorted"), _o("fn(List<T>, fn(T) -> U) -> List<T>", "sorted.key")],
    "reversed": [_o("fn(List<T>) -> List<T>", "reversed.list"), _o("fn(str) -> str", "reversed.str")],
    "enumerate": [_o("fn(List<T>) -> List<(int, T)>", "enumerate")],
    "zip": [_o("fn(List<T>, List<U>) -> List<(T, U)>", "zip")],
    "map": [_o("fn(List<T>, fn(T) -> U) -> List<U>", "map")],
    "filter": [_o("fn(List<T>, fn(T) -> bool) -> List<T>", "filter")],
    "reduce": [_o("fn(List<T>, U, fn(U, T) -> U) -> U", "reduce")],
    "divmod": [_o("fn(int, int) -> (int, int)", "divmod.int"), _o("fn(float, float) -> (float, float)", "divmod.float")],
    "round": [_o("fn(float) -> int", "round1"), _o("fn(float, int) -> float", "round2")],
    "input": [_o("fn() -> str", "input0"), _o("fn(str) -> str", "input1")],
    "range": [_o("fn(int) -> Range", "range1"), _o("fn(int, int) -> Range", "range2"),
              _o("fn(int, int, int) -> Range", "range3")],
    "int": [_o("fn(int) -> int", "int.int"), _o("fn(float) -> int", "int.float"),
            _o("fn(str) -> int", "int.str"), _o("fn(bool) -> int", "int.bool"), _o("fn(i32) -> int", "i32.to_int")],
    "float": [_o("fn(float) -> float", "float.float"), _o("fn(str) -> float", "float.str"),
              _o("fn(bool) -> float", "float.bool"), _o("fn(f32) -> float", "f32.to_float")],
    # the 32-bit types: f32 rounds (IEEE, inf beyond its range), i32 raises OverflowError outside its range
    "f32": [_o("fn(f32) -> f32", "f32.f32"), _o("fn(float) -> f32", "float.to_f32")],
    "i32": [_o("fn(i32) -> i32", "i32.i32"), _o("fn(int) -> i32", "int.to_i32")],
    "bool": [_o("fn(bool) -> bool", "bool"), _o("fn(int) -> bool", "bool"), _o("fn(float) -> bool", "bool"),
             _o("fn(str) -> bool", "bool"), _o("fn(List<T>) -> bool", "bool"), _o("fn(Map<K, V>) -> bool", "bool")],
    "Error": [_o("fn(str) -> Error", "Error")],
    "exit": [_o("fn(int) -> none", "exit")],
}
# `print(...)` (any arguments) and `str(x)` (any value) are checked by the checker itself.
SPECIAL_PRELUDE = ("print", "eprint", "str")

METHODS: dict[tuple[str, str], list[Overload]] = {
    ("List", "append"): [_o("fn(List<T>, T) -> none", "list.append")],
    ("List", "pop"): [_o("fn(List<T>) -> T", "list.pop"), _o("fn(List<T>, int) -> T", "list.pop_at")],
    ("List", "insert"): [_o("fn(List<T>, int, T) -> none", "list.insert")],
    ("List", "extend"): [_o("fn(List<T>, List<T>) -> none", "list.extend")],
    ("List", "index"): [_o("fn(List<T>, T) -> int", "list.index")],
    ("List", "remove"): [_o("fn(List<T>, T) -> none", "list.remove")],
    ("List", "sort"): [_o("fn(List<T>) -> none", "list.sort")],
    ("List", "reverse"): [_o("fn(List<T>) -> none", "list.reverse")],
    ("List", "copy"): [_o("fn(List<T>) -> List<T>", "list.copy")],
    ("List", "clear"): [_o("fn(List<T>) -> none", "list.clear")],
    ("List", "count"): [_o("fn(List<T>, T) -> int", "list.count")],
    ("Map", "get"): [_o("fn(Map<K, V>, K, V) -> V", "map.get")],
    ("Map", "keys"): [_o("fn(Map<K, V>) -> List<K>", "map.keys")],
    ("Map", "values"): [_o("fn(Map<K, V>) -> List<V>", "map.values")],
    ("Map", "items"): [_o("fn(Map<K, V>) -> List<(K, V)>", "map.items")],
    ("Map", "pop"): [_o("fn(Map<K, V>, K) -> V", "map.pop")],
    ("Map", "copy"): [_o("fn(Map<K, V>) -> Map<K, V>", "map.copy")],
    ("Map", "clear"): [_o("fn(Map<K, V>) -> none", "map.clear")],
    ("str", "split"): [_o("fn(str) -> List<str>", "str.split0"), _o("fn(str, str) -> List<str>", "str.split1")],
    ("str", "join"): [_o("fn(str, List<str>) -> str", "str.join")],
    ("str", "strip"): [_o("fn(str) -> str", "str.strip")],
    ("str", "lstrip"): [_o("fn(str) -> str", "str.lstrip")],
    ("str", "rstrip"): [_o("fn(str) -> str", "str.rstrip")],
    ("str", "upper"): [_o("fn(str) -> str", "str.upper")],
    ("str", "lower"): [_o("fn(str) -> str", "str.lower")],
    ("str", "replace"): [_o("fn(str, str, str) -> str", "str.replace")],
    ("str", "find"): [_o("fn(str, str) -> int", "str.find")],
    ("str", "startswith"): [_o("fn(str, str) -> bool", "str.startswith")],
    ("str", "endswith"): [_o("fn(str, str) -> bool", "str.endswith")],
    ("str", "count"): [_o("fn(str, str) -> int", "str.count")],
    ("str", "isdigit"): [_o("fn(str) -> bool", "str.isdigit")],
    ("str", "isalpha"): [_o("fn(str) -> bool", "str.isalpha")],
    ("str", "isspace"): [_o("fn(str) -> bool", "str.isspace")],
}

#: Standard modules: functions (overloads) and constants (folded at compile time).
MODULES: dict[str, dict[str, list[Overload]]] = {
    "math": {
        **{f: [_o("fn(float) -> float", f"math.{f}")] for f in ("sqrt", "sin", "cos", "tan", "exp", "asin", "acos", "atan", "fabs")},
        "log": [_o("fn(float) -> float", "math.log"), _o("fn(float, float) -> float", "math.log2arg")],
        "atan2": [_o("fn(float, float) -> float", "math.atan2")],
        "pow": [_o("fn(float, float) -> float", "math.pow")],
        "hypot": [_o("fn(float, float) -> float", "math.hypot")],
        "floor": [_o("fn(float) -> int", "math.floor")],
        "ceil": [_o("fn(float) -> int", "math.ceil")],
        "isnan": [_o("fn(float) -> bool", "math.isnan")],
        "isinf": [_o("fn(float) -> bool", "math.isinf")],
    },
    "time": {
        "now": [_o("fn() -> float", "time.now")],
        "sleep": [_o("fn(float) -> none", "time.sleep")],
    },
    "random": {
        "seed": [_o("fn(int) -> none", "random.seed")],
        "random": [_o("fn() -> float", "random.random")],
        "randint": [_o("fn(int, int) -> int", "random.randint")],
        "choice": [_o("fn(List<T>) -> T", "random.choice")],
        "shuffle": [_o("fn(List<T>) -> none", "random.shuffle")],
        "uniform": [_o("fn(float, float) -> float", "random.uniform")],
    },
    "sys": {
        "args": [_o("fn() -> List<str>", "sys.args")],
        "exit": [_o("fn(int) -> none", "sys.exit")],
        "env": [_o("fn(str) -> str", "sys.env"), _o("fn(str, str) -> str", "sys.env_or")],
        "has_env": [_o("fn(str) -> bool", "sys.has_env")],
    },
    "parallel": {
        # over a List's elements, a 1-D Array's numbers or a 2-D Array's rows
        "map": [_o("fn(fn(T) -> U, List<T>) -> List<U>", "parallel.map"),
                *(_o(f"fn(fn({e}) -> U, Array<{e}, 1>) -> List<U>", "parallel.map") for e in ("float", "int")),
                *(_o(f"fn(fn(Array<{e}, 1>) -> U, Array<{e}, 2>) -> List<U>", "parallel.map")
                  for e in ("float", "int"))],
        "reduce": [_o("fn(fn(T, T) -> T, List<T>, T) -> T", "parallel.reduce")],
    },
    "io": {
        "read_text": [_o("fn(str) -> str", "io.read_text")],
        "write_text": [_o("fn(str, str) -> none", "io.write_text")],
        "lines": [_o("fn(str) -> List<str>", "io.lines")],
    },
}

MODULE_CONSTANTS: dict[str, dict[str, float]] = {
    "math": {"pi": 3.141592653589793, "e": 2.718281828459045, "inf": float("inf"),
             "nan": float("nan"), "tau": 6.283185307179586},
}


def instantiate(sig: FnT) -> FnT:
    """A copy of `sig` with fresh inference variables for its type parameters."""
    fresh: dict[str, TVar] = {}

    def go(t: Type) -> Type:
        if isinstance(t, StructT) and t.module == "?":
            return fresh.setdefault(t.name, TVar())
        if isinstance(t, ListT):
            return ListT(go(t.elem))
        if isinstance(t, MapT):
            return MapT(go(t.key), go(t.value))
        if isinstance(t, TupleT):
            return TupleT(tuple(go(x) for x in t.items))
        if isinstance(t, FnT):
            return FnT(tuple(go(x) for x in t.params), go(t.ret))
        return t

    out = go(sig)
    assert isinstance(out, FnT)
    return out
