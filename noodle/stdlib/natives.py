"""Native functions of the prelude, the standard modules and built-in methods.

One table, :data:`NATIVES`, keyed by the native's name as the compiler's
signatures (:mod:`noodle.stdlib.signatures`) refer to it and as `.nbc`
modules store it.  The verifier checks names and arities against it; the
translator calls `impl`, or splices `inline` (a Python expression template
over the arguments `{0}`, `{1}`, ...) where a direct Python operation is
faster than a call.

Natives raise :class:`ErrorValue` for Noodle-level failures; the few Python
exceptions they let through (IndexError, KeyError, ZeroDivisionError, ...)
are mapped to Noodle errors by :func:`noodle.runtime.errors.to_error`.
"""
from __future__ import annotations

import builtins
import math
import sys
import time as _time
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any, Callable

from noodle.runtime.values import INT_MAX, INT_MIN, ErrorValue, nd_repr, nd_str, quote


class Native:
    """One native: its name, arity (-1: variadic), implementation and optional inline template."""

    __slots__ = ("name", "arity", "impl", "inline", "capability")

    def __init__(self, name: str, arity: int, impl: Callable, inline: str | None = None,
                 capability: str | None = None) -> None:
        self.name, self.arity, self.impl = name, arity, impl
        #: Python expression template, e.g. "len({0})"
        self.inline = inline
        #: "fs_read", "fs_write", "stdin": what a sandbox must grant
        self.capability = capability


NATIVES: dict[str, Native] = {}


def native(name: str, arity: int, inline: str | None = None, capability: str | None = None):
    def deco(fn: Callable) -> Callable:
        NATIVES[name] = Native(name, arity, fn, inline, capability)
        return fn
    return deco


def quiet_float_warnings(module: str) -> None:
    """No NumPy floating-point RuntimeWarning ("overflow encountered in dot") raised in `module`'s
    own code reaches the user: in Noodle a float overflow is inf and an invalid operation nan,
    silently, on arrays as on scalars.

    A warnings filter on that module's frames, not `numpy.errstate` around each native: the filter
    costs nothing per call (errstate costs more than the 3-element dot library evolution serves),
    and a host's own NumPy warnings are left as they are.  NumPy functions written in Python
    (`numpy.sum`, `numpy.mean`) warn from their own frames: the natives call the ufunc methods
    (`add.reduce`) instead, or use errstate where that is not the same computation.
    """
    import re
    import warnings

    warnings.filterwarnings("ignore", r"(overflow|invalid value|divide by zero|underflow) encountered",
                            RuntimeWarning, re.escape(module) + r"\Z")


def _err(kind: str, message: str) -> ErrorValue:
    return ErrorValue(kind, message)


def check_int(v: int) -> int:
    if INT_MIN <= v <= INT_MAX:
        return v
    raise _err("OverflowError", "integer overflow")


def to_int_checked(x: float) -> int:
    if x != x:
        raise _err("ValueError", "cannot convert nan to int")
    if math.isinf(x):
        raise _err("OverflowError", "cannot convert inf to int")
    return check_int(int(x))


# ------------------------------------------------------------------ prelude

class OutputClosed(BaseException):
    """stdout went away (`noodle run x.nd | head`): the program stops quietly, as Unix tools do."""


def _print(*args: Any) -> None:
    try:
        sys.stdout.write(" ".join([nd_str(a) for a in args]) + "\n")
    except BrokenPipeError:
        raise OutputClosed() from None


def _eprint(*args: Any) -> None:
    """`eprint(...)`: as `print`, to stderr (stdout is flushed first, so the two interleave in order)."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass
    sys.stderr.write(" ".join([nd_str(a) for a in args]) + "\n")
    sys.stderr.flush()


class ExitSignal(BaseException):
    """Unwinds the program after `exit(code)`; not an Exception, so Noodle's `catch` cannot stop it.
    The machine turns it into :class:`noodle.errors.ProgramExit` for its caller."""

    def __init__(self, code: int) -> None:
        self.code = code


def _exit(code: int) -> None:
    if not 0 <= code <= 255:
        raise _err("ValueError", f"exit status must be between 0 and 255, not {code}")
    raise ExitSignal(code)


NATIVES["print"] = Native("print", -1, _print)
#: a value as written in source (strings quoted): the values a failed `assert a == b` in a test shows
NATIVES["repr"] = Native("repr", 1, nd_repr)
NATIVES["eprint"] = Native("eprint", -1, _eprint)
NATIVES["exit"] = Native("exit", 1, _exit)
NATIVES["sys.exit"] = Native("sys.exit", 1, _exit)
#: bound per machine (Machine.bind_native): the program's own arguments
NATIVES["sys.args"] = Native("sys.args", 0, lambda: [])


def _env(name: str) -> str:
    import os
    value = os.environ.get(name)
    if value is None:
        raise _err("KeyError", f"environment variable not set: {quote(name)}")
    return value


def _env_or(name: str, default: str) -> str:
    import os
    return os.environ.get(name, default)


def _has_env(name: str) -> bool:
    import os
    return name in os.environ


NATIVES["sys.env"] = Native("sys.env", 1, _env, None, "env")
NATIVES["sys.env_or"] = Native("sys.env_or", 2, _env_or, None, "env")
NATIVES["sys.has_env"] = Native("sys.has_env", 1, _has_env, None, "env")
NATIVES["str"] = Native("str", 1, nd_str, "_str({0})")

native("len", 1, "len({0})")(len)
native("abs.int", 1)(lambda x: check_int(abs(x)))
native("abs.float", 1, "abs({0})")(abs)


def _min1(xs: list) -> Any:
    if not xs:
        raise _err("ValueError", "min of an empty list")
    return builtins.min(xs)


def _max1(xs: list) -> Any:
    if not xs:
        raise _err("ValueError", "max of an empty list")
    return builtins.max(xs)


native("min2", 2, "min({0}, {1})")(builtins.min)
native("max2", 2, "max({0}, {1})")(builtins.max)
native("min1", 1)(_min1)
native("max1", 1)(_max1)


@native("sum.int", 1)
def _sum_int(xs: list) -> int:
    return check_int(builtins.sum(xs))


native("sum.float", 1)(lambda xs: builtins.sum(xs, 0.0))
native("any", 1, "any({0})")(builtins.any)
native("all", 1, "all({0})")(builtins.all)
native("sorted", 1, "sorted({0})")(builtins.sorted)
def sort_keys(xs: list, key: Callable) -> list:
    """The keys `sorted(xs, key)` sorts by.  They are computed by a Python loop, not by sorted()
    calling back from C: a Noodle function that recurses through its own sort key would otherwise
    nest C frames at every level and overflow the C stack (a crash) before Python's recursion limit
    turns it into a RecursionError."""
    return [key(x) for x in xs]


def sort_by_keys(xs: list, keys: list) -> list:
    """`xs` ordered by `keys` (stable)."""
    return [xs[i] for i in builtins.sorted(range(len(keys)), key=keys.__getitem__)]


@native("sorted.key", 2)
def _sorted_key(xs: list, key: Callable) -> list:
    return sort_by_keys(xs, sort_keys(xs, key))
native("reversed.list", 1, "{0}[::-1]")(lambda xs: xs[::-1])
native("reversed.str", 1, "{0}[::-1]")(lambda s: s[::-1])
native("enumerate", 1, "list(enumerate({0}))")(lambda xs: list(builtins.enumerate(xs)))
native("zip", 2, "list(zip({0}, {1}))")(lambda a, b: list(builtins.zip(a, b)))
# map, filter and reduce call the Noodle function from Python code, not from C (builtins.map,
# functools.reduce): recursion through them then costs no C stack, like any other Noodle call
# (see _sorted_key), and ends in RecursionError even where the thread's C stack is small.
native("map", 2)(lambda xs, f: [f(x) for x in xs])
native("filter", 2)(lambda xs, f: [x for x in xs if f(x)])


# `parallel.map` / `parallel.reduce` as a machine without a parallel runner runs them: inline, in order
# (the machine binds them to its runner when a host installed one: noodle.parallel)
native("parallel.map", 2)(lambda f, xs: [f(x) for x in elements(xs)])


def elements(xs: Any) -> list:
    """What `parallel.map` maps over: a List's elements, a 1-D Array's numbers, a 2-D Array's rows."""
    if type(xs) is list:
        return xs
    return xs.tolist() if xs.ndim == 1 else list(xs)


@native("parallel.reduce", 3)
def _parallel_reduce(f: Callable, xs: list, init: Any) -> Any:
    acc = init
    for x in xs:
        acc = f(acc, x)
    return acc


@native("reduce", 3)
def _reduce(xs: list, init: Any, f: Callable) -> Any:
    acc = init
    for x in xs:
        acc = f(acc, x)
    return acc
@native("divmod.int", 2)
def _divmod_int(a: int, b: int) -> tuple[int, int]:
    q, r = builtins.divmod(a, b)  # only -2**63 // -1 leaves the range (the remainder never does)
    return check_int(q), r
native("divmod.float", 2, "divmod({0}, {1})")(builtins.divmod)


@native("round1", 1)
def _round1(x: float) -> int:
    return to_int_checked(builtins.round(x)) if math.isfinite(x) else to_int_checked(x)


native("round2", 2, "round({0}, {1})")(lambda x, n: float(builtins.round(x, n)))
native("input0", 0, capability="stdin")(lambda: _input(""))
native("input1", 1, capability="stdin")(lambda p: _input(p))


def _input(prompt: str) -> str:
    try:
        return builtins.input(prompt)
    except EOFError:
        raise _err("IOError", "end of input") from None


@native("range1", 1, "range({0})")
def _range1(n: int) -> range:
    return range(n)


native("range2", 2, "range({0}, {1})")(lambda a, b: range(a, b))
# The exclusive stop of `for i in a..=b`: b + 1 without the int64 check, so that a loop up to
# the largest int (b = 2**63 - 1) runs instead of overflowing; the loop variable never passes b.
native("range.incl_stop", 1, "{0} + 1")(lambda b: b + 1)


@native("range3", 3)
def _range3(a: int, b: int, step: int) -> range:
    if step == 0:
        raise _err("ValueError", "range step must not be zero")
    return range(a, b, step)


native("int.int", 1, "{0}")(lambda x: x)
native("int.float", 1)(to_int_checked)
native("int.bool", 1, "int({0})")(int)


@native("int.str", 1)
def _int_str(s: str) -> int:
    try:
        return check_int(int(s.strip().replace("_", ""), 0) if s.strip()[:2].lower() in ("0x", "0b", "0o")
                         else int(s))
    except ValueError:
        raise _err("ValueError", f"invalid int: {quote(s)}") from None


native("float.float", 1, "{0}")(lambda x: x)
native("float.bool", 1, "float({0})")(float)


@native("float.str", 1)
def _float_str(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise _err("ValueError", f"invalid float: {quote(s)}") from None


native("bool", 1, "bool({0})")(bool)
native("Error", 1, "_Error({0})")(lambda message: ErrorValue("Error", message))

# ------------------------------------------------------------------ methods of List, Map, str


@native("list.pop", 1)
def _list_pop(xs: list) -> Any:
    if not xs:
        raise _err("IndexError", "pop from an empty list")
    return xs.pop()


native("list.append", 2, "{0}.append({1})")(lambda xs, x: xs.append(x))
native("list.pop_at", 2, "{0}.pop({1})")(lambda xs, i: xs.pop(i))
native("list.insert", 3, "{0}.insert({1}, {2})")(lambda xs, i, x: xs.insert(i, x))
native("list.extend", 2, "{0}.extend({1})")(lambda xs, ys: xs.extend(ys))


@native("list.index", 2)
def _list_index(xs: list, x: Any) -> int:
    try:
        return xs.index(x)
    except ValueError:
        raise _err("ValueError", "value not in list") from None


@native("list.remove", 2)
def _list_remove(xs: list, x: Any) -> None:
    try:
        xs.remove(x)
    except ValueError:
        raise _err("ValueError", "value not in list") from None


native("list.sort", 1, "{0}.sort()")(lambda xs: xs.sort())
native("list.reverse", 1, "{0}.reverse()")(lambda xs: xs.reverse())
native("list.copy", 1, "{0}.copy()")(lambda xs: xs.copy())
native("list.clear", 1, "{0}.clear()")(lambda xs: xs.clear())
native("list.count", 2, "{0}.count({1})")(lambda xs, x: xs.count(x))
native("map.get", 3, "{0}.get({1}, {2})")(lambda m, k, d: m.get(k, d))
native("map.keys", 1, "list({0})")(lambda m: list(m))
native("map.values", 1, "list({0}.values())")(lambda m: list(m.values()))
native("map.items", 1, "list({0}.items())")(lambda m: list(m.items()))
native("map.pop", 2, "{0}.pop({1})")(lambda m, k: m.pop(k))
native("map.copy", 1, "{0}.copy()")(lambda m: m.copy())
native("map.clear", 1, "{0}.clear()")(lambda m: m.clear())
native("str.split0", 1, "{0}.split()")(lambda s: s.split())


@native("str.split1", 2)
def _split1(s: str, sep: str) -> list:
    if not sep:
        raise _err("ValueError", "empty separator")
    return s.split(sep)


native("str.join", 2, "{0}.join({1})")(lambda sep, xs: sep.join(xs))
for _m in ("strip", "lstrip", "rstrip", "upper", "lower", "isdigit", "isalpha", "isspace"):
    native(f"str.{_m}", 1, f"{{0}}.{_m}()")(getattr(str, _m))
native("str.replace", 3, "{0}.replace({1}, {2})")(lambda s, a, b: s.replace(a, b))
native("str.find", 2, "{0}.find({1})")(lambda s, x: s.find(x))
native("str.startswith", 2, "{0}.startswith({1})")(lambda s, x: s.startswith(x))
native("str.endswith", 2, "{0}.endswith({1})")(lambda s, x: s.endswith(x))
native("str.count", 2, "{0}.count({1})")(lambda s, x: s.count(x))

# ------------------------------------------------------------------ math


def _domain(fn: Callable[..., float], name: str) -> Callable[..., float]:
    def wrapped(*args: float) -> float:
        try:
            return fn(*args)
        except ValueError:
            raise _err("ValueError", f"math domain error in {name}") from None
        except OverflowError:
            raise _err("OverflowError", f"float overflow in {name}") from None
    return wrapped


for _f in ("sqrt", "sin", "cos", "tan", "exp", "asin", "acos", "atan", "fabs", "log", "atan2", "pow", "hypot"):
    _arity = 2 if _f in ("atan2", "pow", "hypot") else 1
    native(f"math.{_f}", _arity)(_domain(getattr(math, _f), _f))
native("math.log2arg", 2)(_domain(math.log, "log"))
native("math.floor", 1)(lambda x: to_int_checked(math.floor(x)) if math.isfinite(x) else to_int_checked(x))
native("math.ceil", 1)(lambda x: to_int_checked(math.ceil(x)) if math.isfinite(x) else to_int_checked(x))
native("math.isnan", 1)(math.isnan)
native("math.isinf", 1)(math.isinf)

# ------------------------------------------------------------------ time, random, io

native("time.now", 0, "_perf_counter()")(_time.perf_counter)
native("time.sleep", 1)(lambda s: _time.sleep(max(0.0, s)))

class LazyRandom:
    """A generator for `random` (and, later, `rand`, so `random.seed` seeds both).

    Each VM has its own (VMs share nothing); this module's :data:`RNG` serves code run
    without one.  Created on first use: importing `random` costs a few milliseconds of start-up.
    """

    def __init__(self) -> None:
        self._rng: Any = None
        self._np_seed: int | None = None
        self._np_gen: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._rng is None:
            import random
            self._rng = random.Random()
        return getattr(self._rng, name)

    def seed(self, n: int) -> None:
        self.random  # noqa: B018 - creates the generator
        self._rng.seed(n)
        self._np_seed, self._np_gen = n, None

    def numpy_generator(self) -> Any:
        """The NumPy generator behind `rand(...)`, seeded by `random.seed` too."""
        if self._np_gen is None:
            import numpy
            self._np_gen = numpy.random.default_rng(self._np_seed)
        return self._np_gen


def random_natives(rng: LazyRandom) -> dict[str, Callable]:
    """The `random` module's natives over one generator."""

    def randint(a: int, b: int) -> int:
        if a > b:
            raise _err("ValueError", f"randint: empty range {a}..={b}")
        return rng.randint(a, b)

    def choice(xs: list) -> Any:
        if not xs:
            raise _err("IndexError", "choice from an empty list")
        return rng.choice(xs)

    def rand(*dims: int) -> Any:
        from noodle.stdlib.arrays import rand_impl  # here: arrays imports this module first

        return rand_impl(rng)(*dims)

    def shuffle(xs: list) -> None:
        rng.shuffle(xs)

    def swaps(xs: list, lo: int, hi: int) -> None:
        """The swaps `shuffle(xs)` makes at positions hi - 1 down to lo, drawing the same numbers:
        Python's Fisher-Yates (random.Random.shuffle) by stretches (noodle.vm.pacing)."""
        rng.random  # noqa: B018 - creates the generator
        randbelow = rng._rng._randbelow
        for i in range(hi - 1, lo - 1, -1):
            j = randbelow(i + 1)
            xs[i], xs[j] = xs[j], xs[i]
    shuffle.swaps = swaps  # type: ignore[attr-defined]

    return {
        "array.rand": rand,
        "random.seed": lambda n: rng.seed(n), "random.random": lambda: rng.random(),
        "random.uniform": lambda a, b: rng.uniform(a, b), "random.randint": randint,
        "random.choice": choice, "random.shuffle": shuffle,
    }


RNG = LazyRandom()
for _name, _impl in random_natives(RNG).items():
    native(_name, -1 if _impl.__code__.co_flags & 0x04 else _impl.__code__.co_argcount)(_impl)


def _io(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any) -> Any:
        try:
            return fn(*args)
        except OSError as e:
            raise _err("IOError", f"{e.strerror or e}: {args[0]}") from None
        except UnicodeDecodeError:
            raise _err("IOError", f"not UTF-8 text: {args[0]}") from None
    return wrapped


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


native("io.read_text", 1, capability="fs_read")(_io(_read_text))
native("io.write_text", 2, capability="fs_write")(_io(_write_text))
native("io.lines", 1, capability="fs_read")(_io(lambda p: _read_text(p).splitlines()))


# Array natives register themselves into the same table (NumPy is imported on first use).
from noodle.stdlib import arrays as _arrays  # noqa: E402,F401
from noodle.stdlib import narrow as _narrow  # noqa: E402,F401
from noodle.stdlib import blas as _blas  # noqa: E402,F401
from noodle.stdlib import lapack as _lapack  # noqa: E402,F401
