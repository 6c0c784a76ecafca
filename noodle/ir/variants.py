"""The variant registry: for each intent the optimiser recognises, the ways it can run.

The `intents` pass (noodle.ir.passes.intents) recognises what a loop means; this registry says
which implementations of that meaning exist, in order of preference, and when each is chosen.
A *library* variant has a guard — a native that answers, at the call site and at run time,
whether it applies to these arguments (shapes, dtypes, overlap, size) — and a native that runs
it; the intent's loops as written are always the last variant (natively through LLVM when the
function qualifies, else in the VM).  A variant that does not give the loops' results bit for
bit (a BLAS sum adds in another order) is `exact=False`: `--mode safe` makes its guard answer no.

New backends plug in here: an OpenCL kernel or a replacement for a Python library call is one
more `register(...)` ahead of the loops, with its guard and runner implemented as natives.

No imports beyond the standard library's core (a leaf of the IR layer): the VM reads
`inexact_guards()` when it binds natives, on the start-up path of every program.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable


class Variant:
    """One way to run an intent."""

    __slots__ = ("intent", "name", "backend", "what", "when", "exact", "guard", "run", "safe")

    def __init__(self, intent: str, name: str, backend: str, what: str, when: str = "", *, exact: bool,
                 guard: str | None = None, run: str | None = None, safe: str | None = None) -> None:
        self.intent = intent  # the intent's key: "matmul", "dot", "sum", "map", ...
        self.name = name  # short name: "blas", "loops"
        # "numpy" (BLAS behind it), "llvm", "vm", "blas" (BLAS from native code and from the VM); later "opencl"
        self.backend = backend
        self.what = what  # for --explain: what runs
        self.when = when  # for --explain: when its guard holds ("" for the loops, the last resort)
        self.exact = exact  # the loops' results bit for bit (allowed under --mode safe)
        self.guard = guard  # native deciding at run time whether this variant applies
        self.run = run  # native running it
        self.safe = safe  # for a variant choosing inside its native: the native `--mode safe` binds instead

    def describe(self) -> str:
        return f"{self.what} when {self.when}" if self.when else self.what


#: intent key -> its name in messages
INTENT_NAMES: dict[str, str] = {}
#: intent key -> variants, most preferred first; the loops as written come last
REGISTRY: dict[str, list[Variant]] = {}


def intent(key: str, name: str) -> None:
    """Declare an intent; its loops-as-written variant is registered with it."""
    global _cache
    INTENT_NAMES[key] = name
    _cache = None
    REGISTRY[key] = [Variant(key, "loops", "llvm", "the loops as written (native code when they qualify)",
                             exact=True)]


def register(v: Variant) -> Variant:
    """Add a variant ahead of the loops (and after the variants registered before it)."""
    global _cache
    REGISTRY[v.intent].insert(len(REGISTRY[v.intent]) - 1, v)
    _cache = None
    return v


def library_variant(key: str) -> Variant | None:
    """The preferred guarded variant of an intent, if it has one."""
    return next((v for v in REGISTRY.get(key, []) if v.guard), None)


def chosen_in_vm(key: str) -> bool:
    """Does a dispatch of this intent choose in the VM?  A library variant's guard and runner are
    VM natives (native callers run the loops as written); a native variant (`backend` "llvm") is
    chosen by native code itself, and the VM runs the loops."""
    if key.startswith("opencl."):  # an OpenCL dispatch (noodle.ir.kernels): its natives are the VM's
        return True
    v = library_variant(key)
    return v is not None and v.backend not in ("llvm", "blas")


def inexact_guards() -> frozenset[str]:
    """Guards of variants that may differ from the loops in the last bits: `--mode safe` says no to them."""
    return _derived()[0]


def native_guards() -> frozenset[str]:
    """Guards of variants that are native code: they answer no where native code is off."""
    return _derived()[1]


def exact_alternatives() -> dict[str, str]:
    """Natives of inexact variants that choose by themselves -> the exact native `--mode safe` binds."""
    return _derived()[2]


_cache: "tuple[frozenset[str], frozenset[str], dict[str, str]] | None" = None


def _derived() -> "tuple[frozenset[str], frozenset[str], dict[str, str]]":
    """The three sets above, computed once per registry (the VM asks for every native it binds)."""
    global _cache
    if _cache is None:
        every = [v for vs in REGISTRY.values() for v in vs]
        _cache = (frozenset(v.guard for v in every if v.guard and not v.exact),
                  frozenset(v.guard for v in every if v.guard and v.backend == "llvm"),
                  {v.run: v.safe for v in every if v.run and v.safe and not v.exact})
    return _cache


def name(key: str) -> str:
    if key.startswith("opencl."):
        return f"{name(key[7:])} on OpenCL"
    return INTENT_NAMES.get(key, key)


# ---------------------------------------------------------------- the intents known today

#: size thresholds of guarded variants: the fewest elements from which the variant beats the next
#: one.  Defaults measured on the development machine (bench/fusion.py); `noodle tune`
#: (noodle.tools.tune) measures them on this machine, and `threshold()` reads those when present.
THRESHOLDS: dict[str, int] = {
    # a native function's Python entry (noodle.backends.llvm.pyentry) costs ~0.1 us a call: the
    # fused loop beats NumPy's passes from 64 elements up (0.20-0.24x, bench/fusion.py; the ctypes
    # call it replaced cost ~18 us and put the crossover at 16384)
    "map.fused": 0,
    # the native loop against numpy.dot, from the VM: the loop wins below ~16K elements now that
    # the call is cheap (2.06x BLAS/loop at 64 elements, 0.98x at 16384, 0.53x at 65536: `noodle tune`)
    "dot.blas": 16384,
    # in array accesses (elements times accesses per element).  With the pool's threads already
    # waiting (noodle.backends.llvm.pool), a split map wins from ~65K accesses on a quiet machine
    # (32K elements: 0.91x; 1M elements 0.69x), and is at parity, not worse, right after a NumPy
    # BLAS call whose threads still spin (0.96-1.03x at every size).  The default keeps a margin
    # for machines whose threads wake slower; `noodle tune` measures this machine's crossover.
    "map.parallel": 1 << 20,
    # in multiply-adds (m * n * k of a product, m * n of a matrix-vector product): below it a BLAS
    # call from native code runs on the calling thread only.  Native code calls NumPy's own
    # OpenBLAS (noodle.backends.llvm.blas), so its threads are the ones NumPy's calls leave
    # spinning, not a second pool fighting them; `noodle tune` measured the crossover of two
    # threads against one at 2-4 M multiply-adds (n x n products: 0.88-0.54x from n = 192, parity
    # below n = 128, where OpenBLAS keeps small products on one thread itself).
    "blas.parallel": 1 << 22,
}
#: a threshold no array reaches
NEVER = 1 << 62

#: the entry point's reader of this machine's measured thresholds (see `measured_by`)
_measured: "Callable[[], dict[str, object]] | None" = None
_tuned = False


def measured_by(read: "Callable[[], dict[str, object]]") -> None:
    """Install the reader of the thresholds `noodle tune` measured on this machine.

    The entry points (`noodle`, `noodlec`, `noodle.VM`) pass :func:`noodle.format.thresholds.load`;
    it runs once, on the first threshold asked for, so a program that never asks pays nothing.
    Entries the registry does not know, and values that are not sizes, are ignored.
    """
    global _measured, _tuned
    _measured, _tuned = read, False


def threshold(key: str) -> int:
    """A variant's size threshold: as measured here by `noodle tune`, else the default."""
    global _tuned
    if not _tuned:
        _tuned = True
        if _measured is not None:
            THRESHOLDS.update(known_thresholds(_measured()))
    return THRESHOLDS[key]


def known_thresholds(found: "dict[str, object]") -> dict[str, int]:
    """The entries of a measurement that name a threshold of this registry and hold a size."""
    return {k: v for k, v in found.items() if k in THRESHOLDS and type(v) is int and v >= 0}


class forced:  # noqa: N801 - used as a function: `with forced("map.fused", 0): ...`
    """Run with one threshold set to `value` (0: the variant always; `NEVER`: never), then restore it.

    A class rather than a contextlib generator: `noodle run` imports this module, not contextlib."""

    def __init__(self, key: str, value: int) -> None:
        self.key, self.value = key, value

    def __enter__(self) -> None:
        threshold(self.key)  # this machine's measured values are in place before one is overridden
        self.saved = THRESHOLDS[self.key]
        THRESHOLDS[self.key] = self.value

    def __exit__(self, *exc: object) -> None:
        THRESHOLDS[self.key] = self.saved


#: the reductions (their loops carry which, and into which variables)
REDUCTIONS = frozenset({"sum", "product", "min", "max", "count"})

intent("contraction", "linear algebra (tensor contraction or triangular solve)")
register(Variant("contraction", "blas", "blas", "BLAS in place (NumPy's, called from native code and from the VM)",
                 "every loop bound fits the arrays it indexes, the arrays are float64 with contiguous rows, the "
                 "arrays written share no memory with the others, a run-time alpha (or a beta the loops "
                 "multiply the old values by) is not zero, and no diagonal element a solve divides by is zero",
                 exact=False, guard="blas.fits"))
intent("factorisation", "Cholesky factorisation")
register(Variant("factorisation", "lapack", "blas", "LAPACK's blocked dpotrf in place (SciPy's, called from native "
                 "code; SciPy's in the VM)", "the order fits the array, the array is float64 with contiguous rows "
                 "and every element of its triangle is finite, and LAPACK finds the matrix positive definite (else "
                 "the triangle is put back as it was)", exact=False, guard="blas.fits"))
intent("interchange", "loop interchange (the strided pieces of a distributed nest)")
register(Variant("interchange", "unit-stride", "llvm", "its pieces one after the other, each strided one with its "
                 "two loops exchanged so that the inner loop runs along rows (the same operations on each "
                 "element, in the same order)", "every index stays in bounds, the arrays written share no memory "
                 "with the others and no divisor is zero", exact=True, guard="blas.fits"))
intent("dot", "dot product")
register(Variant("dot", "blas", "numpy", "BLAS (numpy.dot)", "the loop runs over both whole float arrays, "
                 "of at least the size `noodle tune` measured (untuned: any)",
                 exact=False, guard="array.dot_fits", run="array.dot"))
register(Variant("dot", "fused", "numpy", "one pass, no temporary: BLAS (numpy.vdot)", "`sum(x * y)` "
                 "multiplies two float arrays of one shape (else the product, then its sum)", exact=False,
                 run="array.sum_of_products", safe="array.sum_of_products.exact"))
intent("map", "elementwise map")
register(Variant("map", "fused", "llvm", "one native loop, no temporaries", "the arrays of a chain of "
                 "elementwise maps have one shape and enough elements (`noodle tune` measures how many; "
                 f"untuned: {THRESHOLDS['map.fused']}), and native code is on "
                 "(else NumPy, one pass per operation)", exact=True, guard="array.fuse_fits"))
for _key, _name in (("sum", "sum reduction"), ("product", "product reduction"), ("min", "min reduction"),
                    ("max", "max reduction"), ("count", "count"), ("stencil", "stencil"), ("scan", "scan"),
                    ("histogram", "histogram")):
    intent(_key, _name)
intent("jacobi", "iterated stencil (sweeps copied back)")
register(Variant("jacobi", "double-buffered", "llvm", "sweeps alternating between the two arrays, one copy at "
                 "the end instead of one per sweep (noodle.ir.intents.sweeps)", "every index stays in bounds, "
                 "the arrays share no memory and native code runs the loop", exact=True, guard="parallel.disjoint"))

#: the OpenCL kernel of each intent (noodle.backends.opencl.render): a variant where `noodle tune`
#: measured it faster on this machine's device, or everywhere under `noodle run --backend opencl`
OPENCL_DESIGNS = {
    "map": "one work-item per element", "stencil": "one work-item per element",
    "sum": "work-group tree reduction and a final pass", "product": "work-group tree reduction and a final pass",
    "min": "work-group tree reduction and a final pass", "max": "work-group tree reduction and a final pass",
    "count": "work-group tree reduction and a final pass", "dot": "work-group tree reduction and a final pass",
    "scan": "multi-block work-efficient scan", "histogram": "local-memory counts, then global atomics",
    "jacobi": "sweeps alternating between two device buffers",
    "gemm": "tiles of the operands in local memory on a GPU, an element per work-item on a CPU device",
    "gemv": "an element of the result per work-item",
}
# a recognised contraction's matrix products (noodle.ir.intents.contraction): its BLAS call, where the
# guard held, may run as a kernel instead (noodle.ir.kernels)
intent("gemm", "matrix product (a contraction's gemm)")
intent("gemv", "matrix-vector product (a contraction's gemv)")
for _key, _design in OPENCL_DESIGNS.items():
    register(Variant(_key, "opencl", "opencl", f"OpenCL kernel ({_design})", "a device runs it and "
                     "`noodle tune` measured it faster from this size (or `--backend opencl`)", exact=False))
