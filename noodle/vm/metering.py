"""What one operation costs: metered code charges the budget for work that grows with its operands.

A step (a call, a loop iteration) is the unit of the step limit, but one step can
do unbounded work: `s + s` on a 256M-character string, `"ba" in s`, `ones(8000,
8000)`, `sorted(xs)`.  In a VM with limits every such operation is charged before
it runs, by the sizes of its operands (:meth:`noodle.vm.limits.Meter.charge`):

- its *work*, in elements or characters touched, at one step per
  :data:`noodle.vm.limits.WORK_PER_STEP` of them, so a step limit and the time
  limit (checked whenever a chunk of steps is used up) bound loops of big
  operations as they bound loops of small ones;
- the *bytes* its result will take, checked against the memory limit before
  anything is allocated (so no single operation overshoots the limit, and a
  growing heap is caught at the operation that would cross it).

`COSTS` maps each native whose cost grows with its arguments to a function of
those arguments giving (work, bytes); the translator calls natives in it through
the machine's charged binding rather than inlining them, and the operators that
build values (string and list concatenation, repetition, slices, membership,
conversions to text) go through the helpers of :func:`helpers`.
"""
from __future__ import annotations

from math import prod

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time (the machine imports this module on every run)
    from typing import Any, Callable

#: bytes per element a list holds (a pointer), per character a string may take at most
_POINTER = 8


def _text_bytes(n: int, *parts: str) -> int:
    """Bytes of a string of `n` characters built from `parts` (1 per character for ASCII, else 4)."""
    try:
        ascii_only = all(map(str.isascii, parts))  # at C speed: a join may have millions of parts
    except TypeError:  # a part that is not a string: the operation raises its own error after
        ascii_only = all(p.isascii() for p in parts if type(p) is str)
    return n if ascii_only else 4 * n


def _len(x: Any) -> int:
    try:
        return len(x)
    except TypeError:
        return 0


def repr_size(x: Any, budget: int) -> int:
    """About how many characters `str(x)` takes; stops counting once past `budget`."""
    t = type(x)
    if t is str:
        return len(x) + 2
    if t in (int, float, bool) or x is None:
        return 24
    if t in (list, tuple, set):
        total = 2
        for item in x:
            total += repr_size(item, budget - total) + 2
            if total > budget:
                break
        return total
    if t is dict:
        total = 2
        for k, v in x.items():
            total += repr_size(k, budget - total) + repr_size(v, budget - total) + 4
            if total > budget:
                break
        return total
    size = getattr(x, "size", None)
    if type(size) is int:  # an Array: at most ~24 characters an element
        return 24 * size + 16
    slots = getattr(type(x), "__slots__", ())
    total = 16
    for a in slots if isinstance(slots, tuple) else ():
        total += repr_size(getattr(x, a, None), budget - total) + len(a)
        if total > budget:
            break
    return total


#: values a comparison looks at in one go (no elements inside)
_ATOMS = frozenset((int, float, bool, type(None)))
_STR = {str}


def compare_size(x: Any, budget: int = 1 << 62) -> int:
    """At most how many elements or characters comparing `x` with another value touches (strings,
    lists, tuples, maps, structs, Arrays, nested); stops counting once past `budget`."""
    t = type(x)
    if t in _ATOMS:
        return 1
    if t is str:
        return len(x) + 1
    if t is list or t is tuple:
        total = len(x) + 1
        kinds = set(map(type, x))
        if kinds <= _ATOMS:  # the usual flat list: its length says it all (at C speed)
            return total
        if kinds == _STR:  # a list of strings: their lengths, summed at C speed (16M in ~0.3 s, not 6)
            return total + len(x) + sum(map(len, x))
        for item in x:
            total += compare_size(item, budget - total)
            if total > budget:
                break
        return total
    if t is dict:
        total = len(x) + 1
        for k, v in x.items():
            total += compare_size(k, budget - total) + compare_size(v, budget - total)
            if total > budget:
                break
        return total
    size = getattr(x, "size", None)
    if type(size) is int:  # an Array
        return size + 1
    slots = getattr(t, "__slots__", ())
    total = 1
    for a in slots if isinstance(slots, tuple) else ():
        total += compare_size(getattr(x, a, None), budget - total)
        if total > budget:
            break
    return total


def _compared(a: Any, b: Any) -> int:
    """The work of comparing `a` and `b`: at most the smaller of the two (a comparison stops at the
    end of the shorter, and at the first difference)."""
    first = compare_size(a)
    return min(first, compare_size(b, first))


def _shape_size(dims: tuple) -> int:
    """Elements of an Array of these dimensions (ints; anything else is the native's own error)."""
    if not dims or not all(type(d) is int for d in dims):
        return 0
    return prod(max(0, d) for d in dims)


def _broadcast_size(*args: Any) -> int:
    """Elements of the result of an elementwise operation on these operands (Arrays and scalars)."""
    shapes = [a.shape for a in args if hasattr(a, "shape") and hasattr(a, "ndim")]
    if not shapes:
        return 1
    ndim = max(len(s) for s in shapes)
    dims = [1] * ndim
    for s in shapes:
        for k, d in enumerate(s, ndim - len(s)):
            dims[k] = max(dims[k], d)
    return prod(dims)


def _array(elements: int, itemsize: int = 8) -> tuple[int, int]:
    return elements, elements * itemsize


def _arange(*a: Any) -> tuple[int, int]:
    start, stop, step = (0, a[0], 1) if len(a) == 1 else (a[0], a[1], a[2] if len(a) > 2 else 1)
    try:
        n = max(0, int((stop - start) / step) + 1) if step else 0
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        n = 0
    return _array(n)


def _matmul(a: Any, b: Any) -> tuple[int, int]:
    sa, sb = getattr(a, "shape", ()), getattr(b, "shape", ())
    rows = sa[0] if len(sa) == 2 else 1
    inner = sa[-1] if sa else 1
    cols = sb[1] if len(sb) == 2 else 1
    return rows * inner * cols, rows * cols * 8


def _replace(s: str, old: str, new: str) -> tuple[int, int]:
    n = len(s)
    if len(new) > len(old):  # each match may grow the string (an empty `old` matches between characters)
        n += (len(s) // max(len(old), 1) + 1) * (len(new) - len(old))
    return len(s) + n, _text_bytes(n, s, new)


def _join(sep: str, items: Any) -> tuple[int, int]:
    items = list(items) if not isinstance(items, list) else items
    n = sum(_len(x) for x in items) + len(sep) * max(0, len(items) - 1)
    return n, _text_bytes(n, sep, *items)  # every part: one non-ASCII part makes 4 bytes a character


def sort_work(n: int, elements: int) -> tuple[int, int]:
    """A sort of `n` values of `elements` elements in all: each element takes part in about log2(n)
    comparisons, each touching at most its size."""
    return elements * max(1, n.bit_length()), n * _POINTER


def _sort(xs: Any, *_: Any) -> tuple[int, int]:
    n = _len(xs)
    return sort_work(n, compare_size(xs) if type(xs) is list else n)


def _scan(xs: Any, *rest: Any) -> tuple[int, int]:
    """Compares (or visits) every element once: `min`, `max`, `index`, `count`, `remove`."""
    return (compare_size(xs) if type(xs) is list else _len(xs)), 0


def _linear(x: Any, *_: Any) -> tuple[int, int]:
    """Touches every element of its first argument once, allocating nothing big."""
    return _len(x), 0


def _copy(x: Any, *_: Any) -> tuple[int, int]:
    """Builds a value the size of its first argument."""
    n = _len(x)
    if type(x) is str:
        return n, _text_bytes(n, x)
    return n, n * (_POINTER if type(x) is not dict else 4 * _POINTER)


#: bytes one string object takes besides its characters (CPython's header, rounded up to its
#: allocator's 16): what a split pays per piece, however short the piece
_STR_OBJECT = 64
#: what `str.split()` splits at: ASCII whitespace (all a pure-ASCII string can hold), then the rest
_ASCII_SPACES = "".join(c for c in map(chr, range(128)) if c.isspace())
_SPACES = _ASCII_SPACES + "".join(c for c in map(chr, range(128, 0x3001)) if c.isspace())


def _split(s: Any, sep: Any = None) -> tuple[int, int]:
    """A split builds a string object per piece: at most one more piece than separators (and no
    more than half the characters for whitespace, where runs of it separate once)."""
    n = _len(s)
    if type(s) is not str:
        return n, 0
    if sep is None:
        spaces = sum(s.count(c) for c in (_ASCII_SPACES if s.isascii() else _SPACES))
        pieces = min(spaces, n // 2) + 1
    elif type(sep) is str and sep:
        pieces = s.count(sep) + 1
    else:  # an empty separator: the native's own error
        return n, 0
    return n, _text_bytes(n, s) + pieces * (_STR_OBJECT + _POINTER)


def _moved(xs: Any, i: Any, *_: Any) -> tuple[int, int]:
    """`xs.pop(i)` moves every element after `i` down by one."""
    n = _len(xs)
    if type(i) is not int:
        return 0, 0
    return max(0, min(n, n - (i if i >= 0 else n + i))), 0


def _search(s: Any, sub: Any, *_: Any) -> tuple[int, int]:
    return _len(s) + _len(sub), 0


def _elementwise(*args: Any) -> tuple[int, int]:
    return _array(_broadcast_size(*args))


def _printed(*args: Any) -> tuple[int, int]:
    """`print` and `eprint` build the whole line (every argument's text) before writing it."""
    n = sum(repr_size(x, 1 << 40) for x in args)
    return n, 4 * n


def _to_text(x: Any) -> tuple[int, int]:
    n = repr_size(x, 1 << 40)
    return n, 4 * n


def _madds(*sizes: Any) -> int:
    """Multiply-adds of a BLAS call of these sizes (a negative size is an empty range)."""
    return prod(max(0, x) for x in sizes) if all(type(x) is int for x in sizes) else 0


def _blas(routine: str) -> "Callable[..., tuple[int, int]]":
    """The charge of a `blas.*` native (a recognised contraction run in the VM): its multiply-adds,
    as native code charges the same call (noodle.backends.llvm.blas), and the product it builds."""
    def cost(flags: Any, *a: Any) -> tuple[int, int]:
        if routine in ("gemm", "gemv", "ger"):
            sizes: tuple = a[:3] if routine == "gemm" else a[:2]
        elif routine == "gemm_batch":
            sizes = a[:4]  # every slice (as native code charges: noodle.backends.llvm.blas.lower_batch)
        elif routine == "gemm_rows":
            rows = a[0] * prod(getattr(a[4], "shape", (0, 0))[1:-1]) if type(a[0]) is int else 0
            sizes = (rows, a[1], a[2])
        elif routine in ("syrk", "syr2k"):
            sizes = (a[0], a[0], a[1])
        elif routine == "trsv":
            sizes = (a[0], a[0])
        elif routine == "trmm":
            sizes = (a[0], a[0], a[1]) if flags[:1] == "L" else (a[0], a[1], a[1])
        else:  # symm
            sizes = (a[0], a[1], a[0] if flags[:1] == "L" else a[1])
        madds = _madds(*sizes)
        if routine == "gemv":  # the product is a vector
            return madds, _madds(sizes[0]) * 8
        # the product, rows x columns (ger's outer product; trsv's triangle, copied for the solver)
        return madds, (madds // max(1, _madds(sizes[-1])) if len(sizes) > 2 else madds) * 8
    return cost


COSTS: "dict[str, Callable[..., tuple[int, int]]]" = {
    # recognised contractions run in the VM (noodle.stdlib.blas)
    **{f"blas.{r}": _blas(r) for r in ("gemm", "gemm_batch", "gemm_rows", "symm", "gemv", "ger", "syrk", "syr2k",
                                       "trmm", "trsv")},
    # strings
    "str.count": _search, "str.find": _search, "str.startswith": _search, "str.endswith": _search,
    "str.replace": _replace, "str.join": _join, "str.split0": _split, "str.split1": _split,
    "str.upper": _copy, "str.lower": _copy, "str.strip": _copy, "str.lstrip": _copy, "str.rstrip": _copy,
    "str.isalpha": _linear, "str.isdigit": _linear, "str.isspace": _linear, "reversed.str": _copy,
    "str": _to_text, "print": _printed, "eprint": _printed,
    # conversions from text read every character (and a refusal quotes the text)
    "int.str": _copy, "float.str": _copy,
    # lists and maps
    "sorted": _sort, "sorted.key": _sort, "list.sort": _sort, "reversed.list": _copy, "list.copy": _copy,
    "list.extend": lambda xs, ys: (_len(ys), _len(ys) * _POINTER), "list.count": _scan,
    "list.index": _scan, "list.remove": _scan, "list.insert": _linear, "list.reverse": _linear,
    "list.pop_at": _moved, "random.shuffle": _linear,
    "map.keys": _copy, "map.values": _copy, "map.items": lambda m: (_len(m), _len(m) * 8 * _POINTER),
    "map.copy": _copy, "enumerate": lambda xs: (_len(xs), _len(xs) * 9 * _POINTER),
    "zip": lambda a, b: (min(_len(a), _len(b)), min(_len(a), _len(b)) * 8 * _POINTER),
    "sum.int": _linear, "sum.float": _linear, "min1": _scan, "max1": _scan, "any": _linear,
    "all": _linear, "map": _copy, "filter": _copy, "reduce": _linear,
    # Arrays: creation, arithmetic, reductions
    "array.zeros": lambda *d: _array(_shape_size(d)), "array.ones": lambda *d: _array(_shape_size(d)),
    "array.rand": lambda *d: _array(_shape_size(d)),
    "array.full.float": lambda *a: _array(_shape_size(a[:-1])),
    "array.full.int": lambda *a: _array(_shape_size(a[:-1])),
    "array.arange.int": _arange, "array.arange.float": _arange,
    "array.linspace": lambda lo, hi, n: _array(n if type(n) is int else 0),
    "array.from.int": _copy, "array.from.float": _copy, "array.from.bool": _copy,
    "array.from.i32": _copy, "array.from.f32": _copy,
    "array.matmul": _matmul, "array.copy": _elementwise, "array.neg": _elementwise,
    "array.empty_as": _elementwise, "array.iter": lambda a: (_broadcast_size(a), _broadcast_size(a) * 4 * _POINTER),
    "array.dot": _elementwise, "array.sum_of_products": _elementwise, "array.sum_of_products.exact": _elementwise,
    "array.mean": lambda a: (_broadcast_size(a), 0), "array.all": lambda a: (_broadcast_size(a), 0),
    "array.any": lambda a: (_broadcast_size(a), 0),
    **{f"array.{op}": _elementwise for op in ("add", "sub", "mul", "div", "floordiv", "mod", "pow", "exp",
                                              "log", "sqrt", "eq", "ne", "lt", "le", "gt", "ge")},
    **{f"array.sum.{t}": lambda a: (_broadcast_size(a), 0) for t in ("int", "float", "f32", "i32")},
}


def charged(impl: Callable[..., Any], cost: Callable[..., tuple[int, int]], meter: Any) -> Callable[..., Any]:
    """`impl` charging `meter` for each call's work and checking its result's size before it runs."""
    charge = meter.charge

    def call(*args: Any) -> Any:
        try:
            work, nbytes = cost(*args)
        except (TypeError, ValueError, AttributeError):  # arguments the native itself will refuse
            work, nbytes = 0, 0
        charge(work, nbytes)
        return impl(*args)
    return call


def helpers(meter: Any, text: "Callable[[Any], str] | None" = None,
            text_size: "Callable[[Any], int] | None" = None,
            search: "Callable[[Any, Any], bool] | None" = None) -> dict[str, Callable[..., Any]]:
    """The operators metered code calls instead of Python's own, each charging `meter` first.
    Under a time limit `text` converts a value to text (interpolation), `text_size` measures it
    and `search` is `in` on strings, each held to the deadline (noodle.vm.pacing: text_of,
    text_size, contains)."""
    charge = meter.charge

    def scat(*parts: str) -> str:  # string concatenation and interpolation
        n = 0
        for p in parts:
            n += len(p)
        charge(n, _text_bytes(n, *parts))
        return "".join(parts)

    def lcat(a: list, b: list) -> list:
        n = len(a) + len(b)
        charge(n, n * _POINTER)
        return a + b

    def srepeat(s: str, k: int) -> str:
        n = len(s) * k if k > 0 else 0
        charge(n, _text_bytes(n, s))
        return s * k

    def slice_(x: Any, lo: Any = None, hi: Any = None) -> Any:
        try:  # what the slice copies, not what it is taken from
            n = len(range(*slice(lo, hi).indices(len(x))))
        except TypeError:  # not a sequence, or bounds that are not ints: the slice itself says why
            n = 0
        charge(n, n * (_POINTER if type(x) is list else 4))
        return x[lo:hi]

    def contains(x: Any, c: Any) -> bool:
        if type(c) is str:
            charge(len(c) + (len(x) if type(x) is str else 0), 0)
            if search is not None:
                return search(x, c)
        elif type(c) is list:  # each element compared with x: at most the smaller of the two each
            charge(len(c) if type(x) in _ATOMS else min(compare_size(c), len(c) * compare_size(x)), 0)
        return x in c

    def comparison(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
        def charged_compare(a: Any, b: Any) -> bool:
            if type(a) not in _ATOMS:
                charge(_compared(a, b), 0)
            return compare(a, b)
        return charged_compare

    def to_str(x: Any) -> str:
        from noodle.runtime.values import nd_str

        if type(x) is not str:
            n = repr_size(x, 1 << 40) if text_size is None else text_size(x)
            charge(n, 4 * n)
        return nd_str(x) if text is None else text(x)

    import operator

    return {"_scat": scat, "_lcat": lcat, "_srepeat": srepeat, "_slice": slice_, "_contains": contains,
            "_str": to_str, **{f"_{op}": comparison(getattr(operator, op)) for op in ("eq", "ne", "lt", "le", "gt", "ge")}}
