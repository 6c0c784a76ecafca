"""Values crossing between a host's Python and Noodle, checked against Noodle types.

Noodle values already are Python values (see :mod:`noodle.runtime.values`), so
crossing is a check, not a copy: an `int` must be a Python int in the 64-bit
range (not a bool), a `float` accepts an int and widens it, containers are
checked element by element (and copied only where ints widen to floats), a
struct must be an instance of that struct's class.  A value that does not
fit raises :class:`TypeError` with a message naming the expected type.
"""
from __future__ import annotations

from typing import Any, Callable

from noodle.ir.types import (ARRAY_DTYPES, BOOL, ERROR, F32, FLOAT, I32, INT, NONE, STR, ArrayT, FnT, ListT, MapT,
                             RangeT, StructT, TupleT, Type, UnknownT)
from noodle.runtime.values import INT_MAX, INT_MIN, ErrorValue, StructBase
from noodle.runtime.errors import injected


class ValueMismatch(TypeError):
    pass


def to_noodle(value: Any, ty: Type, what: str = "value") -> Any:
    """`value` as a Noodle value of type `ty`, or ValueMismatch."""
    if isinstance(ty, UnknownT):
        return value
    if ty == INT:
        if type(value) is int and INT_MIN <= value <= INT_MAX:
            return value
        raise _mismatch(value, ty, what)
    if ty == FLOAT:
        if type(value) is float:
            return value
        if type(value) is int:
            return float(value)
        raise _mismatch(value, ty, what)
    if ty == BOOL:
        if type(value) is bool:
            return value
        raise _mismatch(value, ty, what)
    if ty == STR:
        if type(value) is str:
            return value
        raise _mismatch(value, ty, what)
    if ty == NONE:
        if value is None:
            return None
        raise _mismatch(value, ty, what)
    if ty == F32:  # a host float rounds to the nearest float32, as f32(x) does
        if type(value) in (float, int):
            from noodle.stdlib.narrow import to_f32
            return to_f32(value)
        raise _mismatch(value, ty, what)
    if ty == I32:
        if type(value) is int and -(2**31) <= value < 2**31:
            return value
        raise _mismatch(value, ty, what)
    if isinstance(ty, ListT):
        if type(value) is not list:
            raise _mismatch(value, ty, what)
        fits = _SCALAR_FITS.get(str(ty.elem))
        if fits is not None and all(map(fits, value)):
            return value  # the common case, at C speed: no per-element call, no copy
        items = [to_noodle(x, ty.elem, f"{what}[{i}]") for i, x in enumerate(value)]
        return value if all(a is b for a, b in zip(items, value)) else items
    if isinstance(ty, MapT):
        if type(value) is not dict:
            raise _mismatch(value, ty, what)
        out = {to_noodle(k, ty.key, f"a key of {what}"): to_noodle(v, ty.value, f"{what}[{k!r}]")
               for k, v in value.items()}
        return value if all(a is b for a, b in zip(out.values(), value.values())) else out
    if isinstance(ty, TupleT):
        if type(value) is not tuple or len(value) != len(ty.items):
            raise _mismatch(value, ty, what)
        return tuple(to_noodle(x, t, f"{what}[{i}]") for i, (x, t) in enumerate(zip(value, ty.items)))
    if ty == ERROR:
        if isinstance(value, ErrorValue):
            return value
        raise _mismatch(value, ty, what)
    if isinstance(ty, StructT):
        if isinstance(value, StructBase) and value._nd_name == ty.name:
            return value
        raise _mismatch(value, ty, what)
    if isinstance(ty, FnT):
        if not callable(value):
            raise _mismatch(value, ty, what)
        return checked_callable(value, ty, what)
    if isinstance(ty, ArrayT):  # shared with the host, not copied
        dtype = ARRAY_DTYPES[str(ty.elem)]
        if type(value).__name__ == "ndarray" and value.ndim == ty.ndim and str(value.dtype) == dtype:
            if all(step % value.itemsize == 0 for step in value.strides):
                return value
            # a field of a structured array, say: native code steps through whole elements
            raise ValueMismatch(f"{what}: its elements do not lie a whole number of elements apart "
                                f"(strides {value.strides}, {value.itemsize}-byte elements); pass a copy")
        raise ValueMismatch(f"{what}: expected {ty} (a NumPy array of dtype {dtype} with {ty.ndim} "
                            f"dimension{'s' if ty.ndim != 1 else ''}), got {_short(value)}")
    if isinstance(ty, RangeT):
        if type(value) is range:
            return value
        raise _mismatch(value, ty, what)
    raise _mismatch(value, ty, what)


#: element type -> whether a host value already is that Noodle value (the same object, not widened):
#: lists of these cross by one pass over the elements; anything else goes element by element (to
#: widen an int to a float, or to name the first element that does not fit)
_SCALAR_FITS: dict[str, Callable[[Any], bool]] = {
    "int": lambda x: type(x) is int and INT_MIN <= x <= INT_MAX,
    "float": lambda x: type(x) is float,
    "bool": lambda x: type(x) is bool,
    "str": lambda x: type(x) is str,
}


def checked_callable(fn: Callable[..., Any], ty: FnT, what: str) -> Callable[..., Any]:
    """A host function handed to Noodle: its results are checked against the declared return type."""
    if getattr(fn, "__noodle_checked__", None) == str(ty):
        return fn

    def call(*args: Any) -> Any:
        try:
            result = fn(*args)
        except ErrorValue:
            raise
        except Exception as e:  # a host function's failure is a Noodle error in the calling code
            if injected(e):  # ...but not a watchdog's exception that happened to land in it
                raise
            raise ErrorValue("HostError", f"{what}: {type(e).__name__}: {e}") from None
        try:
            return to_noodle(result, ty.ret, f"the result of {what}")
        except ValueMismatch as e:
            raise ErrorValue("HostError", str(e)) from None

    call.__noodle_checked__ = str(ty)  # type: ignore[attr-defined]
    call.__noodle_name__ = what  # type: ignore[attr-defined]
    return call


def _mismatch(value: Any, ty: Type, what: str) -> ValueMismatch:
    return ValueMismatch(f"{what}: expected {ty}, got {type(value).__name__} {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
