"""The `py.*` natives compiled code calls for `import py` and operations on `py` values.

Registered into the one natives table (:data:`noodle.stdlib.natives.NATIVES`) when the VM is
imported; every one needs the `py_import` capability, which a VM checks when it loads a module
(:meth:`noodle.vm.machine.Machine.instantiate`), not when the code runs.
"""
from __future__ import annotations

import builtins
import importlib
from typing import Any

from noodle.runtime.values import INT_MAX, INT_MIN, ErrorValue
from noodle.stdlib.natives import native
from noodle.vm.pyffi import sites
from noodle.vm.pyffi.crossing import callable_for_py, convert, to_py
from noodle.vm.pyffi.failures import py_error

CAPABILITY = "py_import"

_SITES: dict[str, sites.CallSite] = {}
_MODULES: dict[str, Any] = {}
_NAMES: dict[str, tuple[str, ...]] = {"": ()}


def _site(key: str) -> sites.CallSite:
    site = _SITES.get(key)
    if site is None:
        site = _SITES[key] = sites.CallSite(key)
    return site


def _split(names: str) -> tuple[str, ...]:
    got = _NAMES.get(names)
    if got is None:
        got = _NAMES[names] = tuple(names.split(","))
    return got


def _py(name: str, arity: int) -> Any:
    return native(name, arity, capability=CAPABILITY)


@_py("py.import", 1)
def _import(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        module = _MODULES[name] = sites.import_module(name)
    return module


@_py("py.call", -1)
def _call(key: str, fn: Any, names: str, *args: Any) -> Any:
    if not names:
        return sites.call(_site(key), fn, args)
    kw = _split(names)
    n = len(args) - len(kw)
    return sites.call(_site(key), fn, args[:n], dict(zip(kw, args[n:])))


@_py("py.call_attr", -1)
def _call_attr(key: str, obj: Any, attr: str, names: str, *args: Any) -> Any:
    if not names:
        return sites.call_attr(_site(key), obj, attr, args)
    kw = _split(names)
    n = len(args) - len(kw)
    return sites.call_attr(_site(key), obj, attr, args[:n], dict(zip(kw, args[n:])))


@_py("py.builtin", -1)
def _builtin(key: str, name: str, *args: Any) -> Any:
    return sites.call(_site(key), getattr(builtins, name), args)


native("py.getattr", 2, capability=CAPABILITY)(sites.get_attr)
native("py.setattr", 3, capability=CAPABILITY)(sites.set_attr)


@_py("py.getitem", -1)
def _getitem(obj: Any, *keys: Any) -> Any:
    return sites.get_item(obj, keys[0] if len(keys) == 1 else keys)


@_py("py.setitem", -1)
def _setitem(value: Any, obj: Any, *keys: Any) -> None:
    sites.set_item(obj, keys[0] if len(keys) == 1 else keys, value)


native("py.binary", 3, capability=CAPABILITY)(sites.binary)
native("py.unary", 2, capability=CAPABILITY)(sites.unary)
native("py.truth", 1, capability=CAPABILITY)(sites.truth)
native("py.iter", 1, capability=CAPABILITY)(sites.iterate)
native("py.text", 1, capability=CAPABILITY)(sites.text)
native("py.to_py", 1, capability=CAPABILITY)(to_py)
native("py.fn", 2, capability=CAPABILITY)(callable_for_py)


@_py("py.len", 1)
def _len(value: Any) -> int:
    n = sites.length(value)
    if not INT_MIN <= n <= INT_MAX:
        raise ErrorValue("OverflowError", "integer overflow")
    return n


@_py("py.convert", 3)
def _convert(value: Any, type_text: str, what: str) -> Any:
    return convert(value, type_text, what)


@_py("py.number", 2)
def _number(kind: str, value: Any) -> Any:
    """`int(x)`, `float(x)`, `bool(x)` of a `py` value: Python's conversion, then checked."""
    try:
        out = getattr(builtins, kind)(value)
    except Exception as e:
        raise py_error(e) from None
    if kind == "int" and not INT_MIN <= out <= INT_MAX:
        raise ErrorValue("OverflowError", f"int({value!r}) does not fit in a 64-bit int")
    return out


def loaded_module(name: str) -> Any:
    """The module `py.import` gave for `name` (for tests and tools)."""
    return _MODULES.get(name) or importlib.import_module(name)
