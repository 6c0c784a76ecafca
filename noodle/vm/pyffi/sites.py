"""Operations compiled code performs on `py` values, and the call sites that record calls.

Every operation is checked at run time: a Python exception becomes a `PyError`
(:mod:`noodle.vm.pyffi.failures`); a Noodle error raised by a Noodle callback comes back unchanged.

A call into Python goes through a :class:`CallSite` (one per call in the source, made when its
module loads).  The common path costs a few attribute reads: the site counts calls down and only
every `period`-th call (after a ramp: 1st, 2nd, 4th, ... up to the recorder's period) is *sampled*
— its signature computed, its duration measured, its inputs captured if asked — so recording can
stay on.  A site's exact call count is spread over the signatures its samples saw when the log is
written (exact for a site that always sees one signature, the common case).

A site whose function has replacements (:mod:`noodle.vm.pyffi.replacements`) holds the table's
*entry* for its name, bound against the table's version: a call that is not sampled costs the
version check, the entry's compiled guard and the replacement itself — or, for a replacement
that is native code, the machine code alone, whose checks in C are the guard.
"""
from __future__ import annotations

import importlib
import operator
import sys
import time
from typing import Any, Callable, Iterator

from noodle.vm.pyffi import recorder as _recorder
from noodle.vm.pyffi import session
from noodle.vm.pyffi.crossing import NoodleCallable
from noodle.vm.pyffi.failures import py_error
from noodle.vm.pyffi.kinds import signature
from noodle.vm.pyffi.replacements import MISS, TABLE

#: sites that never sample (no recorder) count down from here: effectively forever
_NEVER = 1 << 62


class CallSite:
    """One call into Python in the source (`where` is `file:line`)."""

    __slots__ = ("where", "fn", "name", "version", "replacements", "entry", "positional", "countdown", "period",
                 "count", "stats", "registered")

    def __init__(self, where: str) -> None:
        self.where = where
        self.fn: Any = None
        self.name = ""
        self.version = -1
        self.replacements: tuple[Any, ...] | None = None
        #: the table's entry for `name` (guard + direct call), or None when nothing replaces it
        self.entry: Any = None
        #: `entry` takes the arguments themselves (machine code whose checks in C are the guard)
        self.positional = False
        self.period = 1
        self.countdown = 1
        #: calls before the current countdown started
        self.count = 0
        #: (name, signature, via) -> [sampled calls, ns, min ns, max ns, sampled since the last flush]
        self.stats: dict[tuple[str, str, int], list[int]] = {}
        self.registered = False

    def bind(self, fn: Any) -> None:
        self.fn = fn
        self.name = qualified_name(fn)
        table = TABLE
        self.version = table.version
        self.replacements = table.by_name.get(self.name)
        self.entry = table.entries.get(self.name)
        self.positional = self.name in table.positional

    def calls(self) -> int:
        """Every call made at this site so far."""
        return self.count + (self.period - self.countdown)

    def __repr__(self) -> str:
        return f"CallSite({self.where!r})"


def qualified_name(fn: Any) -> str:
    """The name a function is recorded and replaced under: `numpy.dot`, `math.sqrt`, `numpy.ndarray.sum`."""
    if isinstance(fn, NoodleCallable):
        return f"noodle.{fn.__noodle_name__}"
    qual = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if qual is None:
        t = type(fn)
        return f"{t.__module__}.{t.__qualname__}()"
    module = getattr(fn, "__module__", None)
    if module is None:  # a method of a builtin type, bound to its object
        owner = type(getattr(fn, "__self__", None))
        module = owner.__module__
    if module == "builtins":
        return qual
    return f"{module}.{qual}"


def call(site: CallSite, fn: Any, args: tuple, kwargs: dict[str, Any] | None = None) -> Any:
    """Call a Python callable from Noodle (arguments already crossed with `to_py`)."""
    if fn is not site.fn or site.version != TABLE.version:
        site.bind(fn)
    c = site.countdown - 1
    if c:
        site.countdown = c
        try:
            entry = site.entry
            if entry is not None:  # a replacement may serve it: guard and direct call in one
                if site.positional:  # machine code: its Python entry's checks are the guard
                    result = MISS if kwargs else entry(*args)
                else:
                    result = entry(fn, args, kwargs)
                if result is not MISS:
                    return result
            if kwargs is None:
                return fn(*args)
            return fn(*args, **kwargs)
        except Exception as e:
            raise py_error(e) from None
    if site.replacements is not None:
        return _replaced(site, fn, args, kwargs)
    return _sampled(site, fn, fn, 0, args, kwargs)


def call_attr(site: CallSite, obj: Any, attr: str, args: tuple, kwargs: dict[str, Any] | None = None) -> Any:
    """`obj.attr(args...)`: a method or a module's function."""
    try:
        fn = getattr(obj, attr)
    except Exception as e:
        raise py_error(e) from None
    return call(site, fn, args, kwargs)


def _replaced(site: CallSite, fn: Any, args: tuple, kwargs: dict[str, Any] | None) -> Any:
    """A sampled call where replacements exist: recorded under the candidate that serves it (0: none)."""
    for r in site.replacements or ():
        if r.accepts(args, kwargs):
            entry = r.entry
            return _sampled(site, lambda *a, **k: entry(fn, a, k or None), fn, r.candidate_id, args, kwargs)
    return _sampled(site, fn, fn, 0, args, kwargs)


def _sampled(site: CallSite, target: Callable[..., Any], fn: Any, via: int, args: tuple,
             kwargs: dict[str, Any] | None) -> Any:
    """A sampled call: timed, its signature recorded, its values captured when asked."""
    rec = _recorder.RECORDER
    site.count += site.period
    if rec is None:
        site.period = site.countdown = _NEVER
        try:
            return target(*args) if kwargs is None else target(*args, **kwargs)
        except Exception as e:
            raise py_error(e) from None
    if site.period < rec.period:
        site.period *= 2
    site.countdown = site.period
    if not site.registered:
        rec.register(site)
    sig = signature(args, kwargs)
    captured = rec.before_call(site.name, sig, args, kwargs) if rec.capture and via == 0 else None
    perf = time.perf_counter_ns
    t0 = perf()
    try:
        result = target(*args) if kwargs is None else target(*args, **kwargs)
    except Exception as e:
        rec.add(site, sig, via, perf() - t0)
        if captured is not None:
            rec.after_call(captured, error=e)
        raise py_error(e) from None
    rec.add(site, sig, via, perf() - t0)
    if captured is not None:
        rec.after_call(captured, result=result)
    rec.maybe_flush()
    TABLE.maybe_poll()
    return result


# ------------------------------------------------------------------ the other operations


def import_module(name: str, search: str | None = None) -> Any:
    """`import py NAME`: an installed module, or a Python file in `search` (the program's folder)."""
    session.ensure_started()
    if search is not None and search not in sys.path:
        sys.path.append(search)
    try:
        return importlib.import_module(name)
    except Exception as e:
        raise py_error(e) from None


def get_attr(obj: Any, attr: str) -> Any:
    try:
        return getattr(obj, attr)
    except Exception as e:
        raise py_error(e) from None


def set_attr(obj: Any, attr: str, value: Any) -> None:
    try:
        setattr(obj, attr, value)
    except Exception as e:
        raise py_error(e) from None


def get_item(obj: Any, key: Any) -> Any:
    try:
        return obj[key]
    except Exception as e:
        raise py_error(e) from None


def set_item(obj: Any, key: Any, value: Any) -> None:
    try:
        obj[key] = value
    except Exception as e:
        raise py_error(e) from None


#: Noodle operator -> the Python operation it is on `py` values
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
    "%": operator.mod, "**": operator.pow, "@": operator.matmul, "&": operator.and_, "|": operator.or_,
    "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift,
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
}
UNARY: dict[str, Callable[[Any], Any]] = {"-": operator.neg, "+": operator.pos, "not": operator.not_}


def binary(op: str, a: Any, b: Any) -> Any:
    """`a op b` where either side is a `py` value: Python's meaning of the operator."""
    try:
        return BINARY[op](a, b)
    except Exception as e:
        raise py_error(e) from None


def unary(op: str, a: Any) -> Any:
    try:
        return UNARY[op](a)
    except Exception as e:
        raise py_error(e) from None


def truth(value: Any) -> bool:
    """A `py` value where Noodle needs a bool (`if`, `while`, `and`): Python's truth."""
    try:
        return bool(value)
    except Exception as e:
        raise py_error(e) from None


def length(value: Any) -> int:
    try:
        return len(value)
    except Exception as e:
        raise py_error(e) from None


def iterate(value: Any) -> Iterator[Any]:
    """`for x in v` over a `py` value: each item a `py` value; errors while iterating are PyErrors."""
    try:
        it = iter(value)
    except Exception as e:
        raise py_error(e) from None
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except Exception as e:
            raise py_error(e) from None
        yield item


def text(value: Any) -> str:
    """`str(v)` and `print(v)` of a `py` value: Python's own text for it."""
    try:
        return str(value)
    except Exception as e:
        raise py_error(e) from None
