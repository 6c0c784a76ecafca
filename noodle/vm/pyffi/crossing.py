"""How values cross between Noodle and Python.

Into Python (:func:`to_py`): int, float, bool, str and none go as themselves; a List becomes a new
Python list, a Map a new dict, a tuple a tuple (copied, element by element, so Python code that
changes what it was given never changes the Noodle value); an Array goes as the very
``numpy.ndarray`` (shared, not copied: both sides see writes); a Noodle function becomes a Python
callable (:class:`NoodleCallable`); anything else (a struct, an error, a `py` value) goes as it is.

Out of Python: the result of an operation on a `py` value is a `py` value, the Python object
itself.  Where the program asks for a Noodle type, :func:`from_py` converts it and checks it: a
NumPy scalar is accepted for the matching Noodle scalar, a list is copied into a new List with each
element converted, an ndarray is accepted as an Array only with the right dtype and number of
dimensions (and shared).  A value that does not fit raises a Noodle `TypeError` naming the
expected type and the Python type found.
"""
from __future__ import annotations

from typing import Any, Callable

from noodle.ir.types import (ARRAY_DTYPES, ERROR, PY, ArrayT, FnT, ListT,
                             MapT, Prim, RangeT, StructT, TupleT, Type, UnknownT, parse_type)
from noodle.runtime.values import INT_MAX, INT_MIN, ErrorValue, StructBase

_SCALARS = (int, float, bool, str, type(None))
_SCALAR_SET = frozenset(_SCALARS)


def to_py(value: Any) -> Any:
    """A Noodle value as Python code receives it (containers copied, arrays shared)."""
    t = type(value)
    if t in _SCALARS:
        return value
    if t is list:
        if set(map(type, value)) <= _SCALAR_SET:  # a list of scalars: one copy, at C speed
            return list(value)
        return [to_py(x) for x in value]
    if t is dict:
        return {to_py(k): to_py(v) for k, v in value.items()}
    if t is tuple:
        return tuple(to_py(x) for x in value)
    if t is NoodleCallable or isinstance(value, (StructBase, ErrorValue)) or t.__name__ == "ndarray":
        return value
    if callable(value) and hasattr(value, "__code__") and _is_noodle_function(value):
        return NoodleCallable(value, None)
    return value


def _is_noodle_function(fn: Any) -> bool:
    """Functions compiled from Noodle live in code objects named `<noodle:...>`."""
    return fn.__code__.co_filename.startswith("<noodle")


class NoodleCallable:
    """A Noodle function handed to Python: Python calls it with Python values.

    With the function's Noodle type known (the compiler passes it), arguments are checked and
    converted like any `py` value that meets a Noodle type; the result crosses back with
    :func:`to_py`.  A Noodle error raised inside propagates through the Python code as the same
    error, and comes back out of the call into Python unchanged.
    """

    __slots__ = ("fn", "type", "__noodle_name__")

    def __init__(self, fn: Callable[..., Any], fn_type: FnT | None) -> None:
        self.fn = fn
        self.type = fn_type
        self.__noodle_name__ = getattr(fn, "__noodle_name__", None) or getattr(fn, "__name__", "lambda")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError(f"the Noodle function {self.__noodle_name__} takes no keyword arguments")
        ty = self.type
        if ty is None:
            values = [_plain(a) for a in args]
        else:
            if len(args) != len(ty.params):
                raise TypeError(f"the Noodle function {self.__noodle_name__} takes {len(ty.params)} "
                                f"argument{'s' if len(ty.params) != 1 else ''}, got {len(args)}")
            values = [from_py(a, t, f"argument {i + 1} of {self.__noodle_name__}")
                      for i, (a, t) in enumerate(zip(args, ty.params))]
        return to_py(self.fn(*values))

    def __repr__(self) -> str:
        return f"<noodle function {self.__noodle_name__}>"


def _plain(value: Any) -> Any:
    """A Python value passed to an untyped Noodle callback: NumPy scalars as Python scalars."""
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def callable_for_py(fn: Callable[..., Any], type_text: str) -> NoodleCallable:
    """A Noodle function value of static type `type_text` as Python will call it."""
    ty = type_of(type_text)
    return NoodleCallable(fn, ty if isinstance(ty, FnT) else None)


_TYPES: dict[str, Type] = {}


def type_of(text: str) -> Type:
    """The parsed type for its canonical text (compiled code names types by text; parsed once)."""
    ty = _TYPES.get(text)
    if ty is None:
        ty = _TYPES[text] = parse_type(text)
    return ty


def convert(value: Any, type_text: str, what: str = "a Python value") -> Any:
    """`from_py` for compiled code: the target type named by its text."""
    return from_py(value, type_of(type_text), what)


def from_py(value: Any, ty: Type, what: str = "a Python value") -> Any:
    """A Python value as a Noodle value of type `ty`; a Noodle `TypeError` when it does not fit."""
    if ty is PY or isinstance(ty, UnknownT):
        return value
    t = type(value)
    if type(ty) is Prim:  # the scalars first, without comparing the type against every other kind
        name = ty.name
        if t is _EXACT.get(name) and (t is not int or INT_MIN <= value <= INT_MAX):
            return value  # the common case: a Python scalar of the very type asked for
        if name == "float":  # (names, not `ty == FLOAT`: a type's equality is a Python-level walk)
            if t is int or _numpy_kind(value) in ("f", "i", "u"):
                try:
                    return float(value)
                except OverflowError:
                    raise ErrorValue("OverflowError", f"{what}: {value} is too large for a float") from None
            raise mismatch(value, ty, what)
        if name == "int":
            if _numpy_kind(value) in ("i", "u"):
                return from_py(int(value), ty, what)
            if t is int:
                raise ErrorValue("OverflowError", f"{what}: {value} does not fit in a 64-bit int")
            raise mismatch(value, ty, what)
        if name == "bool":
            if _numpy_kind(value) == "b":
                return bool(value)
            raise mismatch(value, ty, what)
        if name == "str":
            if isinstance(value, str):
                return str(value)
            raise mismatch(value, ty, what)
        if name == "none":
            if value is None:
                return None
            raise mismatch(value, ty, what)
        if name in ("f32", "i32"):
            from noodle.vm.convert import ValueMismatch, to_noodle

            plain = value.item() if _numpy_kind(value) else value
            try:
                return to_noodle(plain, ty, what)
            except ValueMismatch:
                raise mismatch(value, ty, what) from None
        raise mismatch(value, ty, what)
    if isinstance(ty, ListT):
        if t is not list:
            raise mismatch(value, ty, what)
        plain = _plain_list(value, ty.elem)
        if plain is not None:
            return plain
        return [from_py(x, ty.elem, f"{what}[{i}]") for i, x in enumerate(value)]
    if isinstance(ty, MapT):
        if t is not dict:
            raise mismatch(value, ty, what)
        return {from_py(k, ty.key, f"a key of {what}"): from_py(v, ty.value, f"{what}[{k!r}]")
                for k, v in value.items()}
    if isinstance(ty, TupleT):
        if t is not tuple:
            raise mismatch(value, ty, what)
        if len(value) != len(ty.items):
            raise ErrorValue("TypeError", f"{what}: expected a tuple of {len(ty.items)} items {ty}, "
                                          f"got a Python tuple of {len(value)}")
        return tuple(from_py(x, it, f"{what}[{i}]") for i, (x, it) in enumerate(zip(value, ty.items)))
    if isinstance(ty, ArrayT):
        return _array(value, ty, what)
    if isinstance(ty, FnT):
        if not callable(value):
            raise mismatch(value, ty, what)
        return _python_function(value, ty, what)
    if ty == ERROR:
        if isinstance(value, ErrorValue):
            return value
        raise mismatch(value, ty, what)
    if isinstance(ty, StructT):
        if isinstance(value, StructBase) and value._nd_name == ty.name:
            return value
        raise mismatch(value, ty, what)
    if isinstance(ty, RangeT):
        if t is range:
            return value
        raise mismatch(value, ty, what)
    raise mismatch(value, ty, what)


#: Noodle scalar type name -> the Python type whose values are its values as they are
_EXACT: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}


def _plain_list(value: list, elem: Type) -> list | None:
    """A copy of a list whose items all are exactly the Python type of the scalar `elem` (ints within
    64 bits), checked at C speed; None when some item needs the element-by-element conversion (or
    its error)."""
    exact = _EXACT.get(elem.name) if type(elem) is Prim else None
    if exact is None or not set(map(type, value)) <= {exact}:
        return None
    if exact is int and value and not (INT_MIN <= min(value) and max(value) <= INT_MAX):
        return None
    return list(value)


def _array(value: Any, ty: ArrayT, what: str) -> Any:
    dtype = ARRAY_DTYPES[str(ty.elem)]
    if type(value).__name__ != "ndarray":
        raise ErrorValue("TypeError", f"{what}: expected {ty} (a numpy.ndarray of dtype {dtype} with {ty.ndim} "
                                      f"dimension{'s' if ty.ndim != 1 else ''}), got Python {python_type(value)}")
    if str(value.dtype) != dtype or value.ndim != ty.ndim:
        raise ErrorValue("TypeError", f"{what}: expected {ty} (dtype {dtype}, {ty.ndim} dimension"
                                      f"{'s' if ty.ndim != 1 else ''}), got a numpy.ndarray of dtype {value.dtype} "
                                      f"with {value.ndim} dimension{'s' if value.ndim != 1 else ''}")
    if any(step % value.itemsize for step in value.strides):
        # a field of a structured array, say: compiled loops step through whole elements
        raise ErrorValue("TypeError", f"{what}: the array's elements do not lie a whole number of elements "
                                      f"apart (strides {value.strides}); pass a copy")
    return value


def _python_function(fn: Callable[..., Any], ty: FnT, what: str) -> Callable[..., Any]:
    """A Python callable used as a Noodle function: arguments cross out, the result is checked."""
    if isinstance(fn, NoodleCallable):
        return fn.fn

    def call(*args: Any) -> Any:
        from noodle.vm.pyffi.failures import py_error

        try:
            result = fn(*[to_py(a) for a in args])
        except ErrorValue:
            raise
        except Exception as e:
            raise py_error(e) from None
        return from_py(result, ty.ret, f"the result of {what}")

    call.__noodle_name__ = getattr(fn, "__qualname__", what)  # type: ignore[attr-defined]
    return call


#: NumPy scalar type -> its dtype kind (a scalar type has one dtype; filled as types are met, so
#: that a NumPy scalar result crosses at the cost of a dict lookup)
_SCALAR_KINDS: dict[type, str] = {}


def _numpy_kind(value: Any) -> str:
    """The dtype kind of a NumPy scalar or 0-d array ('' for anything else)."""
    t = type(value)
    kind = _SCALAR_KINDS.get(t)
    if kind is not None:
        return kind
    if t.__module__ != "numpy":
        return ""
    dtype = getattr(value, "dtype", None)
    if dtype is None or getattr(value, "ndim", 1) != 0:
        return ""
    if t.__name__ != "ndarray":  # a 0-d array's kind is its dtype's, not its type's
        _SCALAR_KINDS[t] = dtype.kind
    return dtype.kind


def python_type(value: Any) -> str:
    """The Python type of a value as an error message names it (`float`, `numpy.ndarray`, `mylib.Point`)."""
    t = type(value)
    module = t.__module__
    return t.__qualname__ if module == "builtins" else f"{module}.{t.__qualname__}"


def mismatch(value: Any, ty: Type, what: str) -> ErrorValue:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return ErrorValue("TypeError", f"{what}: expected {ty}, got Python {python_type(value)} {text}")
