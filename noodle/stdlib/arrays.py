"""Natives of `Array<T, N>`: creation, elementwise arithmetic, reductions, linear algebra.

An Array is a NumPy ndarray (shared, not copied, with Python hosts).  NumPy
is imported on first use, so programs without arrays do not pay for it.
Noodle's rules hold on arrays too: int arithmetic that leaves the 64-bit
range raises `OverflowError` (NumPy would wrap), division by zero raises,
and elements come out as Python values.  Float functions follow IEEE
(`sqrt(-1.0)` is `nan` elementwise, as NumPy computes it).
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any

from noodle.ir import variants
from noodle.stdlib.natives import native, quiet_float_warnings
from noodle.runtime.values import INT_MAX, INT_MIN, ErrorValue

_numpy: "Any" = None
quiet_float_warnings(__name__)


def np() -> Any:
    global _numpy
    if _numpy is None:
        import numpy
        _numpy = numpy
    return _numpy


def _err(kind: str, message: str) -> ErrorValue:
    return ErrorValue(kind, message)


DTYPES = {"float": "float64", "f32": "float32", "int": "int64", "i32": "int32", "bool": "bool"}


# ------------------------------------------------------------------ creation

for _kind, _dtype in DTYPES.items():
    native(f"array.from.{_kind}", 1)(lambda xs, _d=_dtype: _from_list(xs, _d))


def _from_list(xs: list, dtype: str) -> Any:
    try:
        a = np().array(xs, dtype=dtype)
    except ValueError:
        raise _err("ValueError", "array() needs rows of equal length") from None
    if a.dtype == object:
        raise _err("ValueError", "array() needs rows of equal length")
    return a


def _shape(dims: tuple) -> tuple:
    for d in dims:
        if d < 0:
            raise _err("ValueError", f"negative array dimension {d}")
    return tuple(dims)


@native("array.zeros", -1)
def _zeros(*dims: int) -> Any:
    return np().zeros(_shape(dims))


@native("array.ones", -1)
def _ones(*dims: int) -> Any:
    return np().ones(_shape(dims))


@native("array.full.float", -1)
def _full_float(*args: Any) -> Any:
    return np().full(_shape(args[:-1]), float(args[-1]))


@native("array.full.int", -1)
def _full_int(*args: Any) -> Any:
    return np().full(_shape(args[:-1]), args[-1], dtype="int64")


@native("array.arange.int", -1)
def _arange_int(*args: int) -> Any:
    if len(args) == 3 and args[2] == 0:
        raise _err("ValueError", "arange step must not be zero")
    return np().arange(*args, dtype="int64")


@native("array.arange.float", -1)
def _arange_float(*args: float) -> Any:
    if len(args) == 3 and args[2] == 0:
        raise _err("ValueError", "arange step must not be zero")
    return np().arange(*args, dtype="float64")


@native("array.linspace", 3)
def _linspace(a: float, b: float, n: int) -> Any:
    if n < 0:
        raise _err("ValueError", "linspace needs a non-negative count")
    return np().linspace(a, b, n)


def rand_impl(rng: Any) -> Any:
    def rand(*dims: int) -> Any:
        return rng.numpy_generator().random(_shape(dims))
    return rand


# ------------------------------------------------------------------ elementwise

_INT_KINDS = "iu"


def _is_int(x: Any) -> bool:
    return (type(x) is int) or (hasattr(x, "dtype") and x.dtype.kind in _INT_KINDS)


def _checked_int(result: Any, exact: Any) -> Any:
    """Raise OverflowError where an int result left the 64-bit range (NumPy wrapped it)."""
    if exact is not None and bool(np().any(exact)):
        raise _err("OverflowError", "integer overflow")
    return result


def _add(a: Any, b: Any) -> Any:
    n = np()
    if _is_int(a) and _is_int(b):
        with n.errstate(over="ignore"):
            r = n.add(a, b, dtype="int64")
        aa, bb = n.asarray(a, dtype="int64"), n.asarray(b, dtype="int64")
        return _checked_int(r, ((aa ^ r) & (bb ^ r)) < 0)  # both operands' signs differ from the result's
    with n.errstate(all="ignore"):  # IEEE: overflow is inf, as for float scalars; no NumPy warning
        return n.add(a, b)


def _sub(a: Any, b: Any) -> Any:
    n = np()
    if _is_int(a) and _is_int(b):
        with n.errstate(over="ignore"):
            r = n.subtract(a, b, dtype="int64")
        aa, bb = n.asarray(a, dtype="int64"), n.asarray(b, dtype="int64")
        return _checked_int(r, ((aa ^ bb) & (aa ^ r)) < 0)
    with n.errstate(all="ignore"):  # IEEE: overflow is inf, as for float scalars; no NumPy warning
        return n.subtract(a, b)


def _mul(a: Any, b: Any) -> Any:
    n = np()
    if _is_int(a) and _is_int(b):
        with n.errstate(over="ignore"):
            r = n.multiply(a, b, dtype="int64")
        approx = n.abs(n.multiply(n.asarray(a, dtype="float64"), n.asarray(b, dtype="float64")))
        suspect = approx >= 2.0**62
        if bool(n.any(suspect)):  # exact check of the few large products with Python ints
            aa, bb = n.broadcast_arrays(n.asarray(a, dtype="int64"), n.asarray(b, dtype="int64"))
            for x, y in zip(aa[suspect].tolist(), bb[suspect].tolist()):
                if not INT_MIN <= x * y <= INT_MAX:
                    raise _err("OverflowError", "integer overflow")
        return r
    with n.errstate(all="ignore"):  # IEEE: overflow is inf, as for float scalars; no NumPy warning
        return n.multiply(a, b)


def _check_divisor(b: Any) -> None:
    """Noodle raises on division by zero where NumPy would give inf or nan: any zero divisor fails."""
    n = np()
    if bool(n.any(n.asarray(b) == 0)):
        raise _err("ZeroDivisionError", "division by zero")


def _truediv(a: Any, b: Any) -> Any:
    _check_divisor(b)
    with np().errstate(all="ignore"):
        return np().true_divide(a, b)


def _floordiv(a: Any, b: Any) -> Any:
    n = np()
    _check_divisor(b)
    if _is_int(a) and _is_int(b) and bool(n.any((n.asarray(a) == INT_MIN) & (n.asarray(b) == -1))):
        raise _err("OverflowError", "integer overflow")
    return n.floor_divide(a, b)


def _mod(a: Any, b: Any) -> Any:
    _check_divisor(b)
    return np().mod(a, b)


def _pow(a: Any, b: Any) -> Any:
    n = np()
    if _is_int(a) and _is_int(b):
        if bool(n.any(n.asarray(b) < 0)):
            raise _err("ValueError", "negative exponent for int ** int (use a float base)")
        exact = n.power(n.asarray(a, dtype="float64"), n.asarray(b, dtype="float64"))
        if bool(n.any(n.abs(exact) >= 2.0**63)):
            raise _err("OverflowError", "integer overflow")
        return n.power(a, b, dtype="int64")
    with n.errstate(invalid="ignore"):
        return n.power(n.asarray(a, dtype="float64"), b)


def _neg(a: Any) -> Any:
    n = np()
    if _is_int(a) and bool(n.any(n.asarray(a) == INT_MIN)):
        raise _err("OverflowError", "integer overflow")
    return n.negative(a)


def _is_i32(x: Any) -> bool:
    return getattr(x, "dtype", None) is not None and x.dtype == np().int32


def _narrowed(fn: Any) -> Any:
    """An int operation on Arrays of i32: computed in 64 bits (its own overflow checks), then
    checked against the 32-bit range and stored as int32 — Noodle's i32 raises where NumPy's wraps."""
    def op(a: Any, b: Any) -> Any:
        if not (_is_i32(a) or _is_i32(b)):
            return fn(a, b)
        n = np()
        r = fn(n.asarray(a, dtype="int64"), n.asarray(b, dtype="int64"))
        if bool(n.any((r < -(2**31)) | (r >= 2**31))):
            raise _err("OverflowError", "integer overflow")
        return r.astype("int32")
    return op


_ELEMENTWISE = {"add": _narrowed(_add), "sub": _narrowed(_sub), "mul": _narrowed(_mul), "div": _truediv,
                "floordiv": _narrowed(_floordiv), "mod": _narrowed(_mod), "pow": _pow}
for _name, _fn in _ELEMENTWISE.items():
    native(f"array.{_name}", 2)(_fn)
native("array.neg", 1)(_neg)
for _name, _op in (("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
                   ("gt", "greater"), ("ge", "greater_equal")):
    native(f"array.{_name}", 2)(lambda a, b, _op=_op: getattr(np(), _op)(a, b))


def _unary_float(name: str) -> Any:
    def fn(a: Any) -> Any:
        n = np()
        with n.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return getattr(n, name)(n.asarray(a, dtype="float64"))
    return fn


for _name in ("sqrt", "exp", "log"):
    native(f"array.{_name}", 1)(_unary_float(_name))


# ------------------------------------------------------------------ reductions, algebra, shape

@native("array.sum.int", 1)
def _sum_int(a: Any) -> int:
    n = np()
    approx = float(n.sum(n.abs(a), dtype="float64"))
    if approx < 2.0**62:
        return int(n.sum(a, dtype="int64"))
    total = sum(int(x) for x in n.ravel(a).tolist())
    if not INT_MIN <= total <= INT_MAX:
        raise _err("OverflowError", "integer overflow")
    return total


# `add.reduce` over all axes is what `numpy.sum` and `numpy.mean` compute, without their Python-level
# dispatch (a few microseconds, most of the cost for a small array)
native("array.sum.float", 1)(lambda a: float(np().add.reduce(a, axis=None)))
native("array.sum.f32", 1)(lambda a: float(np().add.reduce(a, axis=None, dtype="float32")))  # single precision


@native("array.sum.i32", 1)
def _sum_i32(a: Any) -> int:
    total = int(np().sum(a, dtype="int64"))  # exact: 2^31 elements of 2^31 stay far inside 64 bits
    if not -(2**31) <= total < 2**31:
        raise _err("OverflowError", "integer overflow")
    return total


@native("array.mean", 1)
def _mean(a: Any) -> float:
    if a.size == 0:
        raise _err("ValueError", "mean of an empty array")
    kind = a.dtype.kind
    if kind in "iub" or a.dtype.itemsize == 8 and kind == "f":  # numpy.mean: a float64 sum over the count
        return float(np().add.reduce(a, axis=None, dtype="float64") / a.size)
    with np().errstate(all="ignore"):  # numpy.mean warns from its own frames
        return float(np().mean(a))  # float32: numpy rounds the mean to float32


def _matmul_checks(a: Any, b: Any) -> None:
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise _err("ValueError", f"shapes {tuple(a.shape)} and {tuple(b.shape)} do not fit a matrix product")


@native("array.matmul", 2)
def _matmul(a: Any, b: Any) -> Any:
    _matmul_checks(a, b)
    if _is_int(a) and _is_int(b):
        n = np()
        approx = n.matmul(n.abs(a).astype("float64"), n.abs(b).astype("float64"))
        if bool(n.any(approx >= 2.0**62)):
            exact = n.matmul(a.astype(object), b.astype(object))
            if any(not INT_MIN <= int(x) <= INT_MAX for x in n.ravel(n.asarray(exact)).tolist()):
                raise _err("OverflowError", "integer overflow")
    r = np().matmul(a, b)
    return r.item() if getattr(r, "ndim", 0) == 0 else r


#: NumPy's float64 dtype object, once a dot has met it (arrays of a builtin dtype share its one object)
_FLOAT64: Any = None


@native("array.dot", 2)
def _dot(a: Any, b: Any) -> Any:
    global _FLOAT64
    da = a.dtype
    # both 1-D (the checker's rule): equal lengths are equal shapes; identity, not `.kind` and shape
    # tuples, because at small sizes these checks cost as much as the dot (library evolution serves
    # numpy.dot of 3-vectors through here)
    if da is _FLOAT64 and b.dtype is da and len(a) == len(b):
        # floats cannot overflow into wrong results: the ndarray method skips numpy.dot's dispatch
        # and matmul's checks, which dominate at small sizes (the same BLAS dot underneath)
        return float(a.dot(b))
    if da is b.dtype and da.kind == "f" and a.shape == b.shape:
        if _FLOAT64 is None:
            _FLOAT64 = np().dtype("float64")
        return float(a.dot(b))
    if a.shape != b.shape:
        raise _err("ValueError", f"dot of arrays of lengths {a.shape[0]} and {b.shape[0]}")
    return _matmul(a, b)


native("array.transpose", 1)(lambda a: np().transpose(a))
native("array.shape", 1)(lambda a: list(a.shape))
native("array.copy", 1, "{0}.copy()")(lambda a: a.copy())
native("array.len", 1, "len({0})")(len)


@native("array.reshape", -1)
def _reshape(a: Any, *dims: int) -> Any:
    try:
        return a.reshape(_shape(dims))
    except ValueError:
        raise _err("ValueError", f"cannot reshape an array of size {a.size} into shape {tuple(dims)}") from None


# element access: an index that names one element gives a Python value
native("array.get", -1)(lambda a, *ix: a[ix].item())
native("array.view", -1)(lambda a, *ix: a[ix])


@native("array.set", -1)
def _set(a: Any, *args: Any) -> None:
    a[args[:-1]] = args[-1]


native("array.iter", 1)(lambda a: a.tolist() if a.ndim == 1 else list(a))

native("array.all", 1)(lambda a: bool(np().all(a)))
native("array.any", 1)(lambda a: bool(np().any(a)))


# guards and library variants of recognised intents (noodle.ir.passes.intents,
# noodle.ir.variants): a guard answers whether the variant computes what the loops would

@native("array.dot_fits", 3)
def _dot_fits(x: Any, y: Any, n: int) -> bool:
    """`for i in 0..n { s += x[i] * y[i] }` is `s + dot(x, y)` when it runs over both whole arrays."""
    return x.shape == y.shape == (n,) and x.dtype == y.dtype == np().float64 and n >= variants.threshold("dot.blas")


@native("array.sum_of_products", 2)
def _sum_of_products(x: Any, y: Any) -> float:
    """`sum(x * y)` in one pass with no temporary, when both are float arrays of one shape (BLAS)."""
    n = np()
    if getattr(x, "shape", None) == getattr(y, "shape", ()) and x.dtype == y.dtype == n.float64:
        return float(n.vdot(x, y))
    return _sum_of_products_exact(x, y)


@native("array.sum_of_products.exact", 2)
def _sum_of_products_exact(x: Any, y: Any) -> float:
    """`sum(x * y)` as written: the product array, then NumPy's sum (`--mode safe`)."""
    return float(np().add.reduce(_mul(x, y), axis=None))


@native("array.fuse_fits", -1)
def _fuse_fits(*arrays: Any) -> bool:
    """Do the arrays of a chain of elementwise maps have one shape and the dtype native code reads
    (an array from a host could hold 32-bit values), and enough elements to fuse?"""
    first = arrays[0]
    return first.dtype in (np().float64, np().int64) and all(x.shape == first.shape and x.dtype == first.dtype
                                                               for x in arrays) \
        and first.size >= variants.threshold("map.fused")


native("array.empty_as", 2)(lambda a, dtype: np().empty(a.shape, dtype=dtype))


# a map or stencil split across cores (noodle.ir.passes.parallel): only native code runs the
# split, so in the VM the guard's checks answer no and the loop runs as written
native("parallel.worth", -1)(lambda *_bounds: False)
native("parallel.disjoint", -1)(lambda *_arrays: False)


@native("parallel.run", -1)
def _parallel_run(*_args: Any) -> None:
    raise _err("InternalError", "a parallel split reached the VM, whose guard should have said no")


# an OpenCL dispatch (noodle.ir.kernels): declared here for the verifier; the VM binds the
# implementations of noodle.backends.opencl.natives.  Unbound, a dispatch declines: the loops run.
native("opencl.run", -1)(lambda *_args: False)
native("opencl.run.reassoc", -1)(lambda *_args: False)


@native("opencl.result", 1)
def _opencl_result(_k: int) -> None:
    raise _err("InternalError", "an OpenCL result was read without a kernel having run")
