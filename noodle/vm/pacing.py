"""Operations held to a deadline: under a time limit no single operation runs far past it.

Metered code checks the deadline between steps, and an operation's work is charged
before it runs (:mod:`noodle.vm.metering`); but an operation that is one C call (a
sort, a matrix product, arithmetic on a huge Array, a split into millions of strings)
cannot be stopped half-way, so under a time limit alone one such call could run for
seconds past the deadline.  In a VM with a time limit the natives listed in
:data:`PACED` are bound through one of two tools, chosen by how the operation splits:

- **in pieces** (:func:`in_pieces`), where the work splits into parts whose results
  put together are exactly the whole's: an int matrix product by row blocks, elementwise
  Array arithmetic and Array creation by slices, a conversion from a List by rows, a
  join by runs of items, a split, search or replace by stretches of text cut where no
  match can straddle, the text of a long List or Array by runs of elements, a shuffle
  by stretches of its swaps, the `min` or `max` of a List by runs, the result so far carried.
  The deadline is checked between pieces, and a piece aims at
  :data:`PIECE_SECONDS` (pieces double while they take under half of it, halve
  while they take more), so the overrun past the deadline is about one piece;
- **estimated before it starts** (:func:`check_sort`), where it does not split: a
  sort is one Timsort run.  Its time is estimated from its own data: a sample of the
  list, scrambled, is sorted and timed (the sort's own comparisons, on elements like
  the list's), and scaled to the list by Timsort's bound, n·(1 + log2 runs); the runs
  are counted (in pieces) only when the scale with every element out of order would
  not fit.  If the estimate, with a margin for what a small sample does not show (a
  big list's cache misses), exceeds the time left, the time limit's error is raised
  *before* the sort starts.  A float matrix product is estimated the same way, from
  this process's measured BLAS rate (:func:`blas_seconds`): BLAS rounds by the shape
  it is given, so a block of rows could differ from the whole in its last bits.

Small operations (under :data:`SMALL` elements, or :data:`SMALL_WORK` multiply-adds)
run whole, as before: they cannot take long, and no estimate is made for them, so no
small operation is ever refused.  Operations not listed here touch their operands at
memory speed (a concatenation, a repetition, a reduction of an Array): for them the
result's size, which the memory limit bounds, bounds the time too.
"""
from __future__ import annotations

from math import ceil, isfinite, log2, prod
from time import perf_counter

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time (the machine imports this module on every run)
    from typing import Any, Callable

#: seconds one piece of a split operation aims at: past the deadline an operation runs about one piece
PIECE_SECONDS = 0.01
#: elements (or characters) below which an operation runs whole: under a millisecond or so
SMALL = 1 << 16
#: multiply-adds below which a matrix product runs whole
SMALL_WORK = 1 << 22
#: the sample a sort's time is estimated from, and the margin on the estimate: a sample that fits
#: the caches runs up to ~3x faster per comparison than a list of millions (measured on the loaded
#: development machine: random ints, floats, short strings, tuples; docs/embedding.md)
SORT_SAMPLE = 8192
SORT_MARGIN = 3.0


def in_pieces(n: int, run: "Callable[[int, int], object]", meter: Any, first: int = 1024) -> None:
    """Run `run(lo, hi)` over `0..n` in consecutive pieces (until one returns true: done early),
    checking `meter`'s deadline between them; a piece grows (doubling) while it takes under half of
    PIECE_SECONDS and shrinks while it takes more, so the deadline is never more than about one
    piece away."""
    lo, size = 0, max(1, first)
    check = meter.check_time
    while lo < n:
        hi = min(n, lo + size)
        t0 = perf_counter()
        done = run(lo, hi)
        took = perf_counter() - t0
        lo = hi
        if lo < n and not done:
            check()
            if took < PIECE_SECONDS / 2:
                size *= 2
            elif took > PIECE_SECONDS and size > 1:
                size //= 2
        elif done:
            return


def _is_array(x: Any) -> bool:
    return hasattr(x, "ndim") and hasattr(x, "shape") and hasattr(x, "dtype")


def _np() -> Any:
    import numpy
    return numpy


class _Collected:
    """The result of a split Array operation, filled piece by piece along its first axis."""

    __slots__ = ("n", "out")

    def __init__(self, n: int) -> None:
        self.n = n
        self.out: Any = None

    def put(self, lo: int, hi: int, piece: Any) -> None:
        if self.out is None:  # the first piece says the dtype and the trailing shape
            self.out = _np().empty((self.n,) + piece.shape[1:], dtype=piece.dtype)
        self.out[lo:hi] = piece


# ------------------------------------------------------------------ Arrays


def elementwise(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """An elementwise Array native (arithmetic, comparisons, `sqrt`, a copy) computed by slices of
    its result: flat slices when every Array operand has the result's shape (C order), else slices
    of the first axis (operands broadcast along it are passed whole).  Each element is computed by
    the same NumPy loop as unsplit, so the result is the same."""
    def call(*args: Any) -> Any:
        arrays = [a for a in args if _is_array(a)]
        try:
            shape = _np().broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        except ValueError:
            return impl(*args)  # shapes that do not fit: the native's own error
        if not shape or prod(shape) < SMALL:
            return impl(*args)
        if all(a.shape == shape and a.flags.c_contiguous for a in arrays):
            n, parts = prod(shape), [a.reshape(-1) if _is_array(a) else a for a in args]
            split = [_is_array(a) for a in args]
        elif shape[0] >= 2:
            n, parts = shape[0], list(args)
            split = [_is_array(a) and a.ndim == len(shape) and a.shape[0] == n for a in args]
        else:
            return impl(*args)
        result = _Collected(n)
        in_pieces(n, lambda lo, hi: result.put(lo, hi, impl(*[p[lo:hi] if s else p for p, s in zip(parts, split)])),
                  meter, first=max(1, SMALL * n // prod(shape)))
        return result.out.reshape(shape)
    return call


def created(impl: "Callable[..., Any]", meter: Any, valued: bool = False) -> "Callable[..., Any]":
    """An Array made from its dimensions (`ones`, `rand`; `full`, `valued` by its last argument)
    made as flat pieces of the same native: `rand`'s pieces draw the generator's numbers in the
    order one call would."""
    def call(*args: Any) -> Any:
        value = args[-1:] if valued else ()
        dims = args[:len(args) - len(value)]
        if not all(type(d) is int and d >= 0 for d in dims) or prod(dims) < SMALL:
            return impl(*args)  # small, or dimensions the native itself refuses
        result = _Collected(prod(dims))
        in_pieces(result.n, lambda lo, hi: result.put(lo, hi, impl(hi - lo, *value)), meter, first=SMALL)
        return result.out.reshape(dims)
    return call


def ranged(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`arange` of ints by stretches of the range (exact: start + k * step in ints); of floats,
    `float_ranged`."""
    def call(*args: Any) -> Any:
        start, stop, step = (0, args[0], 1) if len(args) == 1 else (args + (1,))[:3]
        if not all(type(v) is int for v in (start, stop, step)) or step == 0 or len(range(start, stop, step)) < SMALL:
            return impl(*args)  # small, or arguments the native itself refuses
        result = _Collected(len(range(start, stop, step)))
        in_pieces(result.n, lambda lo, hi: result.put(lo, hi, impl(start + lo * step, start + hi * step, step)),
                  meter, first=SMALL)
        return result.out
    return call


def _scaled_indices(n: int, scale: float, offset: float, meter: Any) -> Any:
    """`k * scale + offset` for k in 0..n, as float64, by pieces held to `meter`'s deadline: each
    element computed alone, as NumPy's float `arange` and `linspace` compute theirs."""
    np = _np()
    result = _Collected(n)

    def run(lo: int, hi: int) -> None:
        piece = np.arange(lo, hi, dtype=np.float64)
        piece *= scale
        piece += offset
        result.put(lo, hi, piece)
    in_pieces(n, run, meter, first=SMALL)
    return result.out


def float_ranged(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`arange` of floats by stretches, the same bits: NumPy sets its first two values (`start`,
    `start + step`) and fills the rest from them, element `i` as `start + i * delta` with `delta`
    their difference (its `fill`): each element alone, which a stretch computes the same way."""
    def call(*args: Any) -> Any:
        start, stop, step = (0.0, args[0], 1.0) if len(args) == 1 else (args + (1.0,))[:3]
        if not all(type(v) is float for v in (start, stop, step)) or step == 0 \
                or not all(isfinite(v) for v in (start, stop, step)):
            return impl(*args)  # arguments the native itself refuses, or NumPy's own edge cases
        n = max(0, ceil((stop - start) / step))
        if n < SMALL:
            return impl(*args)
        second = start + step
        out = _scaled_indices(n, second - start, start, meter)
        out[0], out[1] = start, second
        return out
    return call


def spaced(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`linspace(a, b, n)` by stretches, the same bits: NumPy computes element `k` alone, as
    `k * step + a` with `step = (b - a) / (n - 1)`, and sets the last to `b`."""
    def call(a: Any, b: Any, n: Any) -> Any:
        if type(n) is not int or n < SMALL or type(a) is not float or type(b) is not float:
            return impl(a, b, n)
        step = (b - a) / (n - 1)
        if step == 0 or not isfinite(step):
            return impl(a, b, n)  # NumPy's other path (it divides, then multiplies by the span)
        out = _scaled_indices(n, step, a, meter)
        out[-1] = b
        return out
    return call


def converted(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`array(xs)`: the List converted by runs of rows, each row checked against the first's shape
    (rows of unequal length are the native's own error, whichever run they fall in)."""
    def call(xs: Any) -> Any:
        if type(xs) is not list or len(xs) < SMALL:
            return impl(xs)
        result = _Collected(len(xs))

        def run(lo: int, hi: int) -> None:
            piece = impl(xs[lo:hi])
            if result.out is not None and piece.shape[1:] != result.out.shape[1:]:
                from noodle.runtime.values import ErrorValue
                raise ErrorValue("ValueError", "array() needs rows of equal length")  # the native's error
            result.put(lo, hi, piece)
        in_pieces(len(xs), run, meter, first=SMALL)
        return result.out
    return call


def listed(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`for x in a` over a 1-D Array: its elements as Python values, by slices."""
    def call(a: Any) -> Any:
        if not _is_array(a) or a.ndim != 1 or a.size < SMALL:
            return impl(a)
        out: list = []
        in_pieces(a.size, lambda lo, hi: out.extend(impl(a[lo:hi])), meter, first=SMALL)
        return out
    return call


#: seconds per multiply-add of a float matrix product (BLAS), by dtype: measured once per process
_BLAS_RATE: "dict[str, float]" = {}
#: the size of the product that measures it (about 57M multiply-adds: milliseconds)
_BLAS_PROBE = 384


def blas_seconds(dtype: Any, madds: int) -> float:
    """About how long a float matrix product of `madds` multiply-adds takes in this process: the
    rate of a 384x384 product, measured on first need (the faster of two runs).  A big product runs
    at least as fast per multiply-add (more threads, the same blocked kernel), so this errs long."""
    dtype = _np().dtype("float64") if dtype is None else dtype  # None: float64, what native code calls
    key = dtype.str
    rate = _BLAS_RATE.get(key)
    if rate is None:
        probe = _np().ones((_BLAS_PROBE, _BLAS_PROBE), dtype=dtype)
        best = float("inf")
        for _ in range(2):
            t0 = perf_counter()
            _np().matmul(probe, probe)
            best = min(best, perf_counter() - t0)
        rate = _BLAS_RATE[key] = best / _BLAS_PROBE ** 3
    return rate * madds


#: allocations at least this large are estimated under a time limit (Meter.charge)
ALLOCATION_ESTIMATED = 64 << 20
#: above glibc's largest mmap threshold (32 MB): the probe writes fresh pages, as a big result does
_WRITE_PROBE = 64 << 20
#: how much longer than the probe's rate a big allocation may take before it is refused
WRITE_MARGIN = 2.0
_WRITE_RATE: list[float] = []


def write_seconds(nbytes: int) -> float:
    """About how long making a result of `nbytes` takes in this process (a string or list repeated,
    concatenated, an Array made): the rate of writing 64 MB of fresh memory, measured on first need
    (the faster of two), times WRITE_MARGIN — such an operation is one C call at memory speed."""
    if not _WRITE_RATE:
        best = float("inf")
        for _ in range(2):
            t0 = perf_counter()
            probe = b"x" * _WRITE_PROBE
            best = min(best, perf_counter() - t0)
            del probe
        _WRITE_RATE.append(best / _WRITE_PROBE)
    return _WRITE_RATE[0] * nbytes * WRITE_MARGIN


def matmul(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """A matrix product.  Of ints: by blocks of the left matrix's rows (a vector times a matrix: by
    blocks of the matrix's columns); each element of the result is the same exact dot product, and
    the overflow check runs block by block.  Of floats: BLAS, whose rounding depends on the shape it
    is given (a block of rows may differ from the whole in the last bits), so it is not split but
    estimated (blas_seconds) and refused before it starts if it would not end by the deadline."""
    def call(a: Any, b: Any) -> Any:
        if not (_is_array(a) and _is_array(b)) or a.ndim == 0 or b.ndim == 0 or a.ndim > 2 or b.ndim > 2:
            return impl(a, b)
        inner = a.shape[-1]
        if inner != (b.shape[0] if b.ndim == 1 else b.shape[-2]):
            return impl(a, b)  # shapes that do not fit: the native's own error
        rows = a.shape[0] if a.ndim == 2 else 1
        cols = b.shape[1] if b.ndim == 2 else 1
        if rows * inner * cols < SMALL_WORK:
            return impl(a, b)
        kind = _np().result_type(a, b)
        if kind.kind in "fc":
            if rows > 1 and cols > 1:  # a matrix-vector product reads each element once: memory speed
                needed = blas_seconds(kind, rows * inner * cols)
                if needed > meter.deadline - perf_counter():
                    meter.time_out(f"a {rows}x{inner} by {inner}x{cols} matrix product would take about "
                                   f"{needed:.1f} s")
            return impl(a, b)
        if a.ndim == 2 and rows >= 2:
            result = _Collected(rows)
            # from one row: a row of an int product whose overflow check falls back to Python ints
            # costs as much as thousands of BLAS rows, and the pieces grow fast where rows are cheap
            in_pieces(rows, lambda lo, hi: result.put(lo, hi, impl(a[lo:hi], b)), meter, first=1)
            return result.out
        if a.ndim == 1 and b.ndim == 2 and cols >= 2:  # the result is a vector: one element per column
            result = _Collected(cols)
            in_pieces(cols, lambda lo, hi: result.put(lo, hi, impl(a, b[:, lo:hi])), meter, first=1)
            return result.out
        return impl(a, b)
    return call


def blas_estimated(impl: "Callable[..., Any]", meter: Any, cost: "Callable[..., tuple[int, int]]") -> "Callable[..., Any]":
    """A `blas.*` native of level 3 (a recognised contraction run in the VM: one BLAS call on
    floats, whose rounding depends on the shape it is given, so not split): estimated from its
    multiply-adds at this process's BLAS rate and refused before it starts if it would not end by
    the deadline."""
    def call(*args: Any) -> Any:
        try:
            madds = cost(*args)[0]
        except (TypeError, ValueError, AttributeError, IndexError):
            madds = 0
        if madds >= SMALL_WORK:
            needed = blas_seconds(_np().dtype("float64"), madds)
            if needed > meter.deadline - perf_counter():
                meter.time_out(f"a BLAS call of {madds:,} multiply-adds would take about {needed:.1f} s")
        return impl(*args)
    return call


def _blas_paced(routine: str) -> "Callable[[Callable[..., Any], Any], Callable[..., Any]]":
    from noodle.vm.metering import COSTS
    return lambda impl, meter: blas_estimated(impl, meter, COSTS[f"blas.{routine}"])


# ------------------------------------------------------------------ text


def _border_free(sub: str) -> bool:
    """Can no two occurrences of `sub` overlap (no proper prefix of it is also a suffix)?  Then a
    text can be cut anywhere outside an occurrence without changing what a search finds."""
    return all(sub[:k] != sub[-k:] for k in range(1, len(sub)))


def joined(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`sep.join(xs)` by runs of items, the runs' texts joined at the end (one copy at memory speed)."""
    def call(sep: Any, xs: Any) -> Any:
        if type(sep) is not str or type(xs) is not list or len(xs) < SMALL:
            return impl(sep, xs)
        parts: list = []
        in_pieces(len(xs), lambda lo, hi: parts.append(impl(sep, xs[lo:hi])), meter, first=SMALL)
        return impl(sep, parts)
    return call


def split(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`s.split(sep)` and `s.split()` by stretches of the text, each cut at a separator (a
    whitespace character for `split()`): pieces put together are the whole's.  A separator whose
    occurrences could overlap (`"aa"`) cannot be cut safely: the split then runs whole."""
    def call(s: Any, *sep: Any) -> Any:
        n = len(s) if type(s) is str else 0
        if n < SMALL or (sep and (type(sep[0]) is not str or not sep[0] or not _border_free(sep[0]))):
            return impl(s, *sep)
        if sep:
            width = len(sep[0])

            def cut(at: int) -> tuple[int, int]:  # (end of this stretch, start of the next)
                i = s.find(sep[0], at)
                return (n, n + 1) if i < 0 else (i, i + width)
        else:
            import re
            space = re.compile(r"\s")

            def cut(at: int) -> tuple[int, int]:
                m = space.search(s, at)
                return (n, n + 1) if m is None else (m.start(), m.start())
        out: list = []
        at = [0]  # where the next stretch starts (n + 1 once the text is done)

        def run(lo: int, hi: int) -> bool:
            start = at[0]
            if start >= hi and hi < n:  # the last stretch reached past this piece
                return False
            end, at[0] = cut(max(hi, start)) if hi < n else (n, n + 1)
            out.extend(impl(s[start:end], *sep))
            return at[0] > n
        in_pieces(n, run, meter, first=SMALL)
        return out
    return call


def counted(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`s.count(sub)` by stretches of the text, for a `sub` whose occurrences cannot overlap:
    stretches overlap by len(sub) - 1 characters, so an occurrence across a cut is counted once."""
    def call(s: Any, sub: Any) -> Any:
        if type(s) is not str or type(sub) is not str or len(s) < SMALL or not sub or not _border_free(sub):
            return impl(s, sub)
        total = [0]
        reach = len(sub) - 1

        def run(lo: int, hi: int) -> None:
            total[0] += s.count(sub, max(0, lo - reach), hi)
        in_pieces(len(s), run, meter, first=SMALL)
        return total[0]
    return call


def find_in(s: str, sub: str, meter: Any) -> int:
    """`s.find(sub)` by stretches of the text, each reaching len(sub) - 1 characters into the next:
    the first stretch holding a start of `sub` holds its first occurrence."""
    hit = [-1]
    reach = len(sub) - 1

    def run(lo: int, hi: int) -> bool:
        hit[0] = s.find(sub, lo, hi + reach)  # a start in lo..hi: the match ends by hi + reach
        return hit[0] >= 0
    in_pieces(len(s), run, meter, first=SMALL)
    return hit[0]


def found(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`s.find(sub)` by stretches (find_in)."""
    def call(s: Any, sub: Any) -> Any:
        if type(s) is not str or type(sub) is not str or len(s) < SMALL:
            return impl(s, sub)
        return find_in(s, sub, meter)
    return call


def contains(sub: Any, s: Any, meter: Any) -> bool:
    """`sub in s`: for a long string, by stretches (find_in)."""
    if type(s) is not str or type(sub) is not str or len(s) < SMALL:
        return sub in s
    return find_in(s, sub, meter) >= 0


def text_of(x: Any, meter: Any) -> str:
    """`str(x)` (and what `print` writes) of a long List or Array by runs of its elements: each
    element's text is what `str` gives it (nd_repr), the runs joined as `str` joins them.  An
    element is converted whole (a List of a few huge Lists still converts each at once)."""
    from noodle.runtime.values import nd_repr, nd_str

    t = type(x)
    if t is list and len(x) >= SMALL:
        parts: list = []
        in_pieces(len(x), lambda lo, hi: parts.append(", ".join(map(nd_repr, x[lo:hi]))), meter, first=SMALL // 16)
        return "[" + ", ".join(parts) + "]"
    if t.__name__ == "ndarray" and _is_array(x) and x.ndim >= 1 and x.size >= SMALL:
        parts = []
        if x.ndim == 1:
            run = lambda lo, hi: parts.append(", ".join(map(nd_repr, x[lo:hi].tolist())))  # noqa: E731
        else:
            run = lambda lo, hi: parts.append(", ".join(nd_repr(x[i].tolist()) for i in range(lo, hi)))  # noqa: E731
        in_pieces(len(x), run, meter, first=max(1, (SMALL // 16) * len(x) // x.size))
        return "array([" + ", ".join(parts) + "])"
    return nd_str(x)


def text_size(x: Any, meter: Any) -> int:
    """About how many characters `str(x)` takes (noodle.vm.metering.repr_size), for a long List
    measured by runs of its elements with the deadline checked between them (the measure is a
    Python pass over every element); without a step or memory limit, from a sample of them."""
    from noodle.vm.metering import repr_size

    if type(x) is not list or len(x) < SMALL:
        return repr_size(x, 1 << 40)
    n = len(x)
    if meter.limits.max_steps is None and meter.memory_limit is None:  # the size only paces the checks
        m = min(n, SORT_SAMPLE)
        return 2 + n * (repr_size([x[(i * 2654435761) % n] for i in range(m)], 1 << 40) - 2) // m
    total = [2]

    def run(lo: int, hi: int) -> None:
        total[0] += repr_size(x[lo:hi], 1 << 40) - 2
    in_pieces(n, run, meter, first=SMALL // 16)
    return total[0]


def text_cost(cost: "Callable[..., tuple[int, int]]", meter: Any) -> "Callable[..., tuple[int, int]]":
    """The charge of `str`, `print` and `eprint` (what they build: every argument's text), each
    argument's size measured by text_size."""
    def charge(*args: Any) -> tuple[int, int]:
        n = sum(text_size(a, meter) for a in args)
        return n, 4 * n
    return charge


def texted(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`str(x)`, `print(...)`, `eprint(...)`: long Lists and Arrays converted to text by runs
    (text_of) before the native writes them (the text of a string is itself)."""
    def call(*args: Any) -> Any:
        return impl(*[text_of(a, meter) if type(a) is list or _is_array(a) else a for a in args])
    return call


def shuffled(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`random.shuffle(xs)` by stretches of its swaps (the native's `swaps`: the same numbers
    drawn, the same swaps made, in the same order; a Python loop, 1 µs a swap, unsplit)."""
    swaps = getattr(impl, "swaps", None)

    def call(xs: Any) -> Any:
        if swaps is None or type(xs) is not list or len(xs) < SMALL:
            return impl(xs)
        n = len(xs)  # swap k (from 0) is at position n - 1 - k
        in_pieces(n - 1, lambda lo, hi: swaps(xs, n - hi, n - lo), meter, first=SMALL // 16)
    return call


def replaced(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`s.replace(old, new)` by stretches of the text, for an `old` whose occurrences cannot
    overlap: each stretch ends where no occurrence straddles (before one that would), so every
    occurrence is replaced within one stretch, and the stretches' results joined are the whole's."""
    def call(s: Any, old: Any, new: Any) -> Any:
        if type(s) is not str or type(old) is not str or len(s) < SMALL or not old or not _border_free(old):
            return impl(s, old, new)
        n, reach = len(s), len(old) - 1
        parts: list = []
        at = [0]  # where the next stretch starts

        def run(lo: int, hi: int) -> None:
            start = at[0]
            if start >= hi and hi < n:
                return
            end = n
            if hi < n:  # an occurrence across `hi` (at most one: they cannot overlap) goes to the next
                j = s.find(old, max(start, hi - reach), hi + reach)
                end = j if 0 <= j < hi else hi
            parts.append(impl(s[start:end], old, new))
            at[0] = end
        in_pieces(n, run, meter, first=SMALL)
        return "".join(parts)
    return call


# ------------------------------------------------------------------ sorting


def folded(pick: "Callable[..., Any]") -> "Callable[[Callable[..., Any], Any], Callable[..., Any]]":
    """`min(xs)` or `max(xs)` (`pick`: the builtin) of a long List by runs of its elements, the
    result so far carried into the next run: `pick` is one left fold (an element replaces the
    result only when it compares strictly smaller, or larger), so folding run after run from the
    carried result is the whole fold, step for step: the same element wins among equals (0.0 or
    -0.0), and a NaN is kept or passed over just as in one call."""
    def wrap(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
        def call(xs: Any) -> Any:
            if type(xs) is not list or len(xs) < SMALL:
                return impl(xs)  # its own error for an empty list
            best = [xs[0]]

            def run(lo: int, hi: int) -> None:
                if lo:  # the run with the result so far in front, where the fold starts
                    part = xs[lo - 1:hi]
                    part[0] = best[0]
                    best[0] = pick(part)
                else:
                    best[0] = pick(xs[:hi])
            in_pieces(len(xs), run, meter, first=SMALL)
            return best[0]
        return call
    return wrap


def sort_estimate(xs: list, meter: Any, margin: float = SORT_MARGIN) -> "tuple[float, Callable[[], float]]":
    """Seconds sorting `xs` should take at most, assuming every element out of order, and a way
    to refine it by counting the list's runs (n compares: called only when the first does not fit).
    The sample, taken at pseudo-random positions in a pseudo-random order, is sorted by the same
    sort, so its comparisons are the ones the list's sort makes, on elements like the list's."""
    n = len(xs)
    m = min(n, SORT_SAMPLE)
    # positions spread by a multiplicative hash, not at even strides, which a periodic list
    # (a block doubled: xs + xs + ...) would alias to one repeated element; and in an order of
    # their own, so that the list's order says nothing to the sample's sort
    scrambled = [xs[(i * 2654435761) % n] for i in range(m)]
    best = float("inf")
    for _ in range(2):  # the faster of two: a preemption would only make the estimate larger
        trial = scrambled.copy()
        t0 = perf_counter()
        trial.sort()
        best = min(best, perf_counter() - t0)
    per_compare = best / (m * max(1.0, log2(m))) * margin

    from operator import gt

    def by_runs() -> float:
        descents = [0]

        def run(lo: int, hi: int) -> None:  # a descent between neighbours starts a new run
            descents[0] += sum(map(gt, xs[lo:hi], xs[lo + 1:hi + 1]))
        # the descents of a few stretches are some of the list's: if they alone say it does not fit,
        # the pass over the whole list is not needed
        window = SORT_SAMPLE // 4
        run(0, min(n - 1, window))
        for k in (1, 2, 3):
            lo = k * (n // 4)
            run(lo, min(n - 1, lo + window)) if lo > window else None
        if per_compare * n * (1 + log2(descents[0] + 1)) > meter.deadline - perf_counter():
            return per_compare * n * (1 + log2(descents[0] + 1))
        descents[0] = 0
        in_pieces(n - 1, run, meter, first=SMALL)
        return per_compare * n * (1 + log2(descents[0] + 1))  # Timsort: n(1 + log2 of its runs) at most
    return per_compare * n * max(1.0, log2(n)), by_runs


def check_sort(xs: Any, meter: Any) -> None:
    """Refuse, with the time limit's error, a sort of `xs` that should not end before the deadline."""
    if type(xs) is not list or len(xs) < SMALL or meter.deadline is None:
        return
    left = meter.deadline - perf_counter()
    if left <= 0:
        meter.check_time()
    estimate, by_runs = sort_estimate(xs, meter)
    if estimate <= left:
        return
    estimate = by_runs()  # nearly sorted lists sort in about n comparisons: count the runs
    if estimate > meter.deadline - perf_counter():
        meter.time_out(f"a sort of {len(xs):,} elements would take about {estimate:.1f} s")


def sorting(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`sorted(xs)` and `xs.sort()`: estimated before they start (a sort does not split)."""
    def call(xs: Any, *rest: Any) -> Any:
        check_sort(xs, meter)
        return impl(xs, *rest)
    return call


def sorting_by_key(impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`sorted(xs, key)`: the keys are computed by Noodle calls (metered like any), then the sort of
    the keys is estimated before it starts."""
    from noodle.stdlib.natives import sort_by_keys, sort_keys

    def call(xs: Any, key: Any) -> Any:
        keys = sort_keys(xs, key)
        check_sort(keys, meter)
        return sort_by_keys(xs, keys)
    return call


def sort_cost(cost: "Callable[..., tuple[int, int]]", meter: Any) -> "Callable[..., tuple[int, int]]":
    """A sort's charge (noodle.vm.metering.sort_work) with the list's size measured by slices: the
    measure is a pass over every element (a Python one for nested values), as long as a sort of
    a few items each, so it too is held to the deadline; without a step limit, from a sample."""
    from noodle.vm.metering import compare_size, sort_work

    def charge(xs: Any, *rest: Any) -> tuple[int, int]:
        if type(xs) is not list or len(xs) < SMALL:
            return cost(xs, *rest)
        n = len(xs)
        if meter.limits.max_steps is None:
            # without a step limit the work charged only paces the checks (its bytes, n pointers,
            # need no measure): the sizes of a sample scaled to the list do, at no cost
            m = min(n, SORT_SAMPLE)
            sample = [xs[(i * 2654435761) % n] for i in range(m)]
            return sort_work(n, n * compare_size(sample) // m)
        return sort_work(len(xs), compared_size(xs, meter))
    return charge


def compared_size(xs: list, meter: Any) -> int:
    """`compare_size(xs)` of a long List, measured by slices held to `meter`'s deadline."""
    from noodle.vm.metering import compare_size

    size = [1]

    def run(lo: int, hi: int) -> None:
        size[0] += compare_size(xs[lo:hi]) - 1  # each slice counts the list's own 1 again
    in_pieces(len(xs), run, meter, first=SMALL)
    return size[0]


def scan_cost(cost: "Callable[..., tuple[int, int]]", meter: Any) -> "Callable[..., tuple[int, int]]":
    """The charge of `min` or `max` of a List (noodle.vm.metering: every element compared once),
    measured by slices: the measure is itself a pass over every element."""
    def charge(xs: Any, *rest: Any) -> tuple[int, int]:
        if type(xs) is not list or len(xs) < SMALL:
            return cost(xs, *rest)
        if meter.limits.max_steps is None:  # the work only paces the checks: its length does
            return len(xs) + 1, 0
        return compared_size(xs, meter), 0
    return charge


#: the natives bound through a pacing wrapper in a VM with a time limit (see the module docstring)
PACED: "dict[str, Callable[[Callable[..., Any], Any], Callable[..., Any]]]" = {
    "array.matmul": matmul,
    **{f"array.{op}": elementwise for op in ("add", "sub", "mul", "div", "floordiv", "mod", "pow", "neg", "exp",
                                             "log", "sqrt", "eq", "ne", "lt", "le", "gt", "ge", "copy")},
    "array.ones": created, "array.rand": created, "array.arange.int": ranged, "array.arange.float": float_ranged, "array.linspace": spaced,
    "array.full.float": lambda impl, meter: created(impl, meter, valued=True),
    "array.full.int": lambda impl, meter: created(impl, meter, valued=True),
    **{f"array.from.{kind}": converted for kind in ("int", "float", "bool", "i32", "f32")},
    "array.iter": listed,
    "str": texted, "print": texted, "eprint": texted, "random.shuffle": shuffled,
    "str.join": joined, "str.split0": split, "str.split1": split, "str.count": counted, "str.find": found,
    "str.replace": replaced,
    "sorted": sorting, "list.sort": sorting, "sorted.key": sorting_by_key,
    "min1": folded(min), "max1": folded(max),
    # level 2 (gemv, ger, trsv) reads each element of its matrix once: memory speed, as a copy
    **{f"blas.{r}": _blas_paced(r) for r in ("gemm", "gemm_batch", "gemm_rows", "symm", "syrk", "syr2k", "trmm")},
}


#: the charges (noodle.vm.metering.COSTS) that are a pass over every element, held to the deadline too
PACED_COSTS = {"sorted": sort_cost, "list.sort": sort_cost, "sorted.key": sort_cost,
               "str": text_cost, "print": text_cost, "eprint": text_cost, "min1": scan_cost, "max1": scan_cost}


def paced(name: str, impl: "Callable[..., Any]", meter: Any) -> "Callable[..., Any]":
    """`impl` held to `meter`'s deadline if it is one of the natives that need it, else itself."""
    wrap = PACED.get(name)
    return impl if wrap is None else wrap(impl, meter)


def paced_cost(name: str, cost: "Callable[..., tuple[int, int]]", meter: Any) -> "Callable[..., tuple[int, int]]":
    """The charge of native `name`, measured by pieces where measuring is itself a long pass."""
    wrap = PACED_COSTS.get(name)
    return cost if wrap is None else wrap(cost, meter)
