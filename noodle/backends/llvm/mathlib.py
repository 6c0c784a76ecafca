"""The math module in native code, with the VM's results and errors to the bit.

CPython's math module computes `tan`, `asin`, `pow` ... by calling the C library's functions and
then checking their results (Modules/mathmodule.c: `math_1`, `math_2`, `math_pow`); native code
calls the very same functions of the same C library, loaded in the same process, and makes the
same checks.  The VM raises what CPython raises, as Noodle errors: ValueError "math domain error
in NAME" where CPython says "math domain error", OverflowError "float overflow in NAME" where it
says "math range error" (noodle.stdlib.natives).

The C functions are called through private symbols (`nd_libm_pow` ...) bound to the C library's
addresses when the machine code is linked (noodle.backends.llvm.jit): under their own names LLVM
would know them as library calls and might rewrite them — `pow(2.0, x)` into `exp2(x)`, which
rounds differently in the last bit.  `sqrt`, `fabs`, `floor` and `ceil` are exact operations, so
LLVM's intrinsics for them are used as they are.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

from llvmlite import ir as L

from noodle.backends.llvm import vecmath

I1, I32, I64, F64 = L.IntType(1), L.IntType(32), L.IntType(64), L.DoubleType()

#: the C library's functions native code calls, by the private symbol it calls them through
LIBM = ("sin", "cos", "tan", "asin", "acos", "atan", "exp", "log", "atan2", "pow")

#: the functions whose errors a status code names (domain errors, and overflows where they can occur)
FUNCTIONS = ("sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "exp", "log", "atan2", "pow", "floor", "ceil")
DOMAIN_BASE, OVERFLOW_BASE = 32, 64

STATUS = {f"MathDomain.{name}": DOMAIN_BASE + k for k, name in enumerate(FUNCTIONS)} | {
    f"MathOverflow.{name}": OVERFLOW_BASE + k for k, name in enumerate(FUNCTIONS)}
ERRORS = {DOMAIN_BASE + k: ("ValueError", f"math domain error in {name}") for k, name in enumerate(FUNCTIONS)} | {
    OVERFLOW_BASE + k: ("OverflowError", f"float overflow in {name}") for k, name in enumerate(FUNCTIONS)}


def symbol(name: str) -> str:
    return f"nd_libm_{name}"


def addresses() -> dict[str, int]:
    """{private symbol: address} of the C library's math functions, for the JIT's symbol table.

    The process's own symbols first: CPython's math module has the C math library loaded, and these
    are the functions it calls.  Looking the library up by name (`find_library`, ~50 ms: it runs
    ldconfig) only where one is missing."""
    out: dict[str, int] = {}
    process = ctypes.CDLL(None)
    for name in LIBM:
        fn = getattr(process, name, None)
        if fn is None:
            found = ctypes.util.find_library("m")
            fn = getattr(ctypes.CDLL(found), name, None) if found else None
        if fn is not None:
            out[symbol(name)] = ctypes.cast(fn, ctypes.c_void_p).value  # type: ignore[assignment]
    return out


def _call(lw: Any, name: str, args: list[L.Value]) -> L.Value:
    # a `@vector_math` function calls the same C function through a symbol that may, at link time,
    # be given libmvec's vector variants (noodle.backends.llvm.vecmath)
    private = vecmath.symbol(name) if getattr(lw, "vector_math", False) else symbol(name)
    fn = lw.intrinsic(private, F64, [F64] * len(args))
    return lw.b.call(fn, args)


def _isnan(b: L.IRBuilder, x: L.Value) -> L.Value:
    return b.fcmp_unordered("uno", x, x)


def _isinf(lw: Any, x: L.Value) -> L.Value:
    fabs = lw.intrinsic("llvm.fabs.f64", F64, [F64])
    return lw.b.fcmp_ordered("==", lw.b.call(fabs, [x]), L.Constant(F64, float("inf")))


def _isfinite(lw: Any, x: L.Value) -> L.Value:
    fabs = lw.intrinsic("llvm.fabs.f64", F64, [F64])
    return lw.b.fcmp_ordered("<", lw.b.call(fabs, [x]), L.Constant(F64, float("inf")))


def _checked_1(lw: Any, name: str, x: L.Value, can_overflow: bool) -> L.Value:
    """CPython's math_1: NaN from a non-NaN argument is a domain error; an infinity from a finite
    argument is an overflow where the function can overflow, else a domain error."""
    b = lw.b
    r = _call(lw, name, [x])
    lw.fail_if(b.and_(_isnan(b, r), b.not_(_isnan(b, x))), f"MathDomain.{name}")
    lw.fail_if(b.and_(_isinf(lw, r), _isfinite(lw, x)), f"{'MathOverflow' if can_overflow else 'MathDomain'}.{name}")
    return r


def _log(lw: Any, x: L.Value) -> L.Value:
    """CPython's m_log: log of a positive number or +inf; NaN passes through; 0, negatives and -inf
    are domain errors."""
    b = lw.b
    lw.fail_if(b.fcmp_ordered("<=", x, L.Constant(F64, 0.0)), "MathDomain.log")
    return _call(lw, "log", [x])


def _pow(lw: Any, x: L.Value, y: L.Value) -> L.Value:
    """CPython's math_pow: C's pow (which follows C99's Annex F for infinities and NaNs, as CPython's
    own special cases do); for finite x and y, a NaN result is a domain error, an infinite one a
    domain error when x is 0 (0 to a negative power) and an overflow otherwise."""
    b = lw.b
    r = _call(lw, "pow", [x, y])
    finite_args = b.and_(_isfinite(lw, x), _isfinite(lw, y))
    lw.fail_if(b.and_(finite_args, _isnan(b, r)), "MathDomain.pow")
    bad_inf = b.and_(finite_args, _isinf(lw, r))
    lw.fail_if(b.and_(bad_inf, b.fcmp_ordered("==", x, L.Constant(F64, 0.0))), "MathDomain.pow")
    lw.fail_if(bad_inf, "MathOverflow.pow")
    return r


def _to_int(lw: Any, name: str, x: L.Value) -> L.Value:
    """math.floor/ceil: the int of an integral float; NaN and infinities cannot be ints (the VM's
    to_int_checked), nor values beyond the 64-bit range."""
    b = lw.b
    r = b.call(lw.intrinsic(f"llvm.{name}.f64", F64, [F64]), [x])
    lw.fail_if(_isnan(b, r), "NanToInt")
    in_range = b.and_(b.fcmp_ordered(">=", r, L.Constant(F64, -9.223372036854775808e18)),
                      b.fcmp_ordered("<", r, L.Constant(F64, 9.223372036854775808e18)))
    lw.fail_if(b.not_(in_range), "OverflowError")
    return b.fptosi(r, I64)


def lower_math(lw: Any, name: str, args: list[L.Value]) -> L.Value:
    """The value of `math.NAME(args)` (a MATH_BUILTINS native) in the function being lowered."""
    b = lw.b
    short = name[5:]
    if short == "sqrt":  # correctly rounded: LLVM's intrinsic is the instruction
        lw.fail_if(b.fcmp_ordered("<", args[0], L.Constant(F64, 0.0)), "MathDomain.sqrt")
        return b.call(lw.intrinsic("llvm.sqrt.f64", F64, [F64]), args)
    if short == "fabs":
        return b.call(lw.intrinsic("llvm.fabs.f64", F64, [F64]), args)
    if short in ("sin", "cos", "tan", "asin", "acos", "atan"):
        return _checked_1(lw, short, args[0], can_overflow=False)
    if short == "exp":
        return _checked_1(lw, "exp", args[0], can_overflow=True)
    if short == "log":
        return _log(lw, args[0])
    if short == "log2arg":  # CPython: log(x) / log(base), each checked, then a true division
        num, den = _log(lw, args[0]), _log(lw, args[1])
        lw.fail_if(b.fcmp_ordered("==", den, L.Constant(F64, 0.0)), "ZeroDivisionError")
        return b.fdiv(num, den)
    if short == "atan2":  # never fails: Annex F gives every pair of arguments a value
        return _call(lw, "atan2", args)
    if short == "pow":
        return _pow(lw, args[0], args[1])
    if short in ("floor", "ceil"):
        return _to_int(lw, short, args[0])
    if short == "isnan":
        return _isnan(b, args[0])
    if short == "isinf":
        return _isinf(lw, args[0])
    raise KeyError(name)  # pragma: no cover - MATH_BUILTINS lists what this lowers
