"""Natives of the 32-bit types `f32` and `i32`: arithmetic, and conversions to and from float and int.

In the VM an f32 is a Python float holding a value float32 can represent, an i32 a Python int in
the 32-bit range.  f32 arithmetic computes in double precision and rounds to float32: for `+`,
`-`, `*` and `/` of float32 operands that is the correctly rounded float32 result (a double
holds more than twice float32's precision), the same bits as single-precision hardware — and as
the llvmlite backend, which uses it.  Overflow gives inf, as IEEE says; division by zero raises,
as for float.  i32 arithmetic raises `OverflowError` outside the 32-bit range, as int does
outside 64 bits; `//` and `%` floor, as for int.
"""
from __future__ import annotations

from noodle.stdlib.natives import native
from noodle.runtime.values import ErrorValue

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def _first_single(x: float) -> "object":
    """ctypes' float32, imported on the first f32 value: ctypes costs every `noodle run` ~2 ms."""
    global _single
    import ctypes

    _single = ctypes.c_float
    return _single(x)


_single = _first_single


def to_f32(x: float) -> float:
    """The float32 nearest to `x` (inf beyond float32's range), as a Python float."""
    return _single(x).value  # type: ignore[attr-defined]


def _i32(x: int) -> int:
    if not I32_MIN <= x <= I32_MAX:
        raise ErrorValue("OverflowError", "integer overflow")
    return x


def _nonzero(y: float | int) -> None:
    if y == 0:
        raise ErrorValue("ZeroDivisionError", "division by zero")


native("f32.add", 2)(lambda a, b: to_f32(a + b))
native("f32.sub", 2)(lambda a, b: to_f32(a - b))
native("f32.mul", 2)(lambda a, b: to_f32(a * b))
native("f32.neg", 1)(lambda a: -a)


@native("f32.div", 2)
def _f32_div(a: float, b: float) -> float:
    _nonzero(b)
    return to_f32(a / b)


native("i32.add", 2)(lambda a, b: _i32(a + b))
native("i32.sub", 2)(lambda a, b: _i32(a - b))
native("i32.mul", 2)(lambda a, b: _i32(a * b))
native("i32.neg", 1)(lambda a: _i32(-a))


@native("i32.floordiv", 2)
def _i32_floordiv(a: int, b: int) -> int:
    _nonzero(b)
    return _i32(a // b)


@native("i32.mod", 2)
def _i32_mod(a: int, b: int) -> int:
    _nonzero(b)
    return a % b


native("f32.f32", 1)(lambda a: a)
native("i32.i32", 1)(lambda a: a)
native("float.to_f32", 1)(to_f32)
native("f32.to_float", 1)(lambda a: a)
native("int.to_i32", 1)(_i32)
native("i32.to_int", 1)(lambda a: a)
