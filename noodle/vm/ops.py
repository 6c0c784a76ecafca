"""Helpers the generated code calls for operations that need more than one Python operator.

Everything here is bound into the namespace of each translated module under
the names the translator emits (`_ovf`, `_ipow`, ...).
"""
from __future__ import annotations

import math
import time
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any, NoReturn

from noodle.runtime.errors import foreign, to_error
from noodle.runtime.values import INT_MAX, INT_MIN, ErrorValue, nd_str

#: Strings and lists a single operation may build, in elements (the sandbox lowers it).
MAX_SEQUENCE = 1 << 31


def ovf() -> NoReturn:
    raise ErrorValue("OverflowError", "integer overflow")


def ipow(a: int, b: int) -> int:
    if b < 0:
        raise ErrorValue("ValueError", "negative exponent for int ** int (use a float base)")
    if b > 64 and a not in (-1, 0, 1):
        ovf()
    r = a ** b
    if INT_MIN <= r <= INT_MAX:
        return r
    ovf()


def shl(a: int, b: int) -> int:
    if b < 0:
        raise ErrorValue("ValueError", "negative shift count")
    if b >= 64:
        if a == 0:
            return 0
        ovf()
    r = a << b
    if INT_MIN <= r <= INT_MAX:
        return r
    ovf()


def shr(a: int, b: int) -> int:
    if b < 0:
        raise ErrorValue("ValueError", "negative shift count")
    return a >> b


def fpow(a: float, b: float) -> float:
    try:
        r = math.pow(a, b)
    except OverflowError:
        raise ErrorValue("OverflowError", "float overflow") from None
    except ValueError:
        if a == 0.0 and b < 0:
            raise ErrorValue("ZeroDivisionError", "division by zero") from None
        return math.nan
    return r


def srepeat(s: str, n: int, limit: int = MAX_SEQUENCE) -> str:
    if n > 0 and len(s) * n > limit:
        raise ErrorValue("MemoryError", f"a string of {len(s) * n:,} characters is too large (limit {limit:,})")
    return s * n


def range_incl(lo: int, hi: int) -> range:
    return range(lo, hi + 1)


def catch(exc: BaseException) -> ErrorValue:
    """The Noodle error bound by `catch e` for an exception raised in VM code; an exception that
    belongs to the host (a watchdog's, an out-of-memory process) is raised again, on to the host."""
    if foreign(exc):
        raise exc
    err = to_error(exc)
    if err is not exc:
        err.__traceback__ = exc.__traceback__
    return err


def assert_fail(message: str) -> ErrorValue:
    return ErrorValue("AssertionError", message)


def throw(value: Any) -> BaseException:
    if isinstance(value, ErrorValue):
        return value
    return ErrorValue("Error", nd_str(value))


#: Names the generated code uses, bound into every translated module's namespace.
HELPERS: dict[str, Any] = {
    "_ovf": ovf, "_ipow": ipow, "_shl": shl, "_shr": shr, "_fpow": fpow, "_srepeat": srepeat,
    "_range_incl": range_incl, "_catch": catch, "_assert_fail": assert_fail, "_throw": throw,
    "_str": nd_str, "_Error": lambda m: ErrorValue("Error", m), "_perf_counter": time.perf_counter,
    "_INF": math.inf, "_NINF": -math.inf, "_NAN": math.nan, "_Exception": Exception,
}
