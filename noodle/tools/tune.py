"""Variant thresholds measured on this machine: `noodle tune` measures them, the guards read them.

A guard chooses a variant by what it can check cheaply at the call (shapes, dtypes, overlap) and by
size: below some number of elements the fixed cost of a variant — a call into native code, a BLAS
dispatch — outweighs what it saves.  Where that crossover lies depends on the machine, so it is
measured: each `Threshold` says how to time its variant against the next one on arrays of growing
size, and the smallest size from which the variant wins (and keeps winning) is kept in
`<cache>/tuning.json` (noodle.format.thresholds), keyed by this machine.  A machine or toolchain
that was never tuned uses the defaults in noodle.ir.variants (measured on the development machine
with the same code, `bench/fusion.py`).  This is the measuring half; reading the file back is the
entry points' job (they hand `thresholds.load` to the registry).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from noodle.format import thresholds
from noodle.ir import variants
from noodle.ir.variants import NEVER, forced

#: sizes tried, in elements
SIZES = tuple(1 << k for k in range(6, 21))


def _vectors(n: int) -> tuple[Any, ...]:
    """Two random float vectors of n elements."""
    import numpy

    rng = numpy.random.default_rng(n)
    return rng.random(n), rng.random(n)


def _matrices(n: int) -> tuple[Any, ...]:
    """Two random n x n float matrices and a third for their product."""
    import numpy

    rng = numpy.random.default_rng(n)
    return rng.random((n, n)), rng.random((n, n)), numpy.zeros((n, n))


@dataclass(frozen=True)
class Threshold:
    """One size threshold of `variants.THRESHOLDS`, and the kernels that measure it."""

    key: str  # as in variants.THRESHOLDS
    source: str  # a Noodle module whose function `kernel` runs the intent on `arguments(size)`
    what: str  # for the report
    sizes: tuple[int, ...] = ()  # sizes tried (default: SIZES elements)
    per_element: int = 1  # the threshold's unit per element: array accesses for a split across cores
    arguments: Callable[[int], tuple[Any, ...]] = _vectors  # the kernel's arguments at one size
    cubed: bool = False  # the threshold counts size³ (multiply-adds of a size x size product)
    unit: str = "elements"  # of the threshold, for the report

    def work(self, size: int) -> int:
        """The threshold's quantity at one measured size."""
        return size ** 3 if self.cubed else size * self.per_element

    def decide(self, wins: list[tuple[int, float]]) -> int:
        """The threshold from (size, variant time / next time) measurements: the work at the
        smallest size from which the variant wins at every larger size (0: always, NEVER: never)."""
        crossover = _crossover(wins)
        return crossover if crossover in (0, NEVER) else self.work(crossover)


THRESHOLDS = [
    Threshold("map.fused", "fn kernel(a: Array<float>, b: Array<float>) -> Array<float> {\n"
                           " let c = a * b + 2.0 * a - b\n return c\n}\n", "fused elementwise map vs NumPy passes"),
    Threshold("dot.blas", "fn kernel(a: Array<float>, b: Array<float>) -> float {\n var s = 0.0\n"
                          " for i in 0..len(a) { s += a[i] * b[i] }\n return s\n}\n",
              "BLAS dot vs the native loop"),
    # a map reads one element and writes one: two array accesses per element
    Threshold("map.parallel", "fn kernel(a: Array<float>, b: Array<float>) {\n"
                              " for i in 0..len(a) { b[i] = a[i] * 2.0 + 1.0 }\n}\n",
              "a nest split across the cores vs one core", tuple(1 << k for k in range(10, 23)), per_element=2,
              unit="array accesses"),
    # a recognised product (one dgemm from native code) of two n x n matrices: n³ multiply-adds
    Threshold("blas.parallel", "fn kernel(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {\n"
                               " let n = len(a)\n for i in 0..n {\n  for k in 0..n {\n"
                               "   for j in 0..n { c[i, j] += a[i, k] * b[k, j] }\n  }\n }\n}\n",
              "a BLAS call from native code on every core vs on the calling thread",
              (16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512), arguments=_matrices, cubed=True,
              unit="multiply-adds"),
]


def measure(repeat: int = 7, report: Callable[[str], None] = print) -> dict[str, int]:
    """Time every thresholded variant against the next one here; store and return the crossovers."""
    from noodle.build.driver import compile_source
    from noodle.vm.machine import Machine

    found: dict[str, int] = {}
    for t in THRESHOLDS:
        _, module = compile_source(t.source, "tune.nd", "tune")
        # some thresholds are read when the machine code is linked, others when a guard runs:
        # each kernel is loaded, and timed, with its setting in force
        with forced(t.key, 0):
            always = Machine(backend="auto").load(module).functions["kernel"]
        with forced(t.key, NEVER):
            never = Machine(backend="auto").load(module).functions["kernel"]
        wins: list[tuple[int, float]] = []
        for n in t.sizes or SIZES:
            arguments = t.arguments(n)
            with forced(t.key, 0):
                with_variant = _fastest(always, arguments, repeat)
            with forced(t.key, NEVER):
                without = _fastest(never, arguments, repeat)
            wins.append((n, with_variant / without))
        found[t.key] = t.decide(wins)
        ratios = ", ".join(f"{n}: {r:.2f}x" for n, r in wins)
        report(f"{t.key} ({t.what}): from {found[t.key]} {t.unit}  [variant / next, by size: {ratios}]")
    thresholds.store(found)
    variants.THRESHOLDS.update(found)
    return found


def _fastest(kernel: Callable[..., Any], arguments: tuple[Any, ...], repeat: int) -> float:
    """The fastest of `repeat` calls: on a shared machine noise only ever adds time."""
    kernel(*arguments)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        kernel(*arguments)
        times.append(time.perf_counter() - t)
    return min(times)


def _crossover(wins: list[tuple[int, float]]) -> int:
    """The smallest size from which the variant is faster at every larger size measured."""
    best = NEVER
    for n, ratio in reversed(wins):
        if ratio >= 1.0:
            break
        best = n
    return best if best != wins[0][0] else 0
