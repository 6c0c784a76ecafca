"""`noodle tune` for OpenCL: each intent's kernel timed against what runs otherwise, per device.

For every intent, a small Noodle kernel is compiled twice: as usual (its loops through LLVM, or
BLAS, whichever the registry chooses) and with the intent offered to OpenCL; both are timed on
arrays of growing size, the OpenCL one with its transfers included (each call uploads its inputs
and copies back what it wrote, as a call from the VM does).  The smallest size from which OpenCL
is faster, by a margin, at every larger size measured is kept (noodle.backends.opencl.selection's
`decide`), or `NEVER`: an OpenCL variant is chosen only where it measured faster.  `noodle tune --show` prints the table.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from noodle.backends.opencl import selection


@dataclass(frozen=True)
class Case:
    """One intent's kernel and how to make its arguments at size n (elements)."""

    intent: str
    source: str  # defines `fn kernel(...)`
    args: Callable[[int, np.random.Generator], tuple[Any, ...]]
    sizes: tuple[int, ...] = (1 << 12, 1 << 16, 1 << 20)


def _vec(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random(n)


def _square(n: int) -> int:
    return max(1, int(round(n ** 0.5)))


def _cube(n: int) -> int:
    return max(1, int(round(n ** (1 / 3))))


CASES = [
    Case("map", "fn kernel(a: Array<float>, b: Array<float>) {\n for i in 0..len(a) { b[i] = a[i] * 2.0 + 1.0 }\n}\n",
         lambda n, r: (_vec(n, r), np.zeros(n))),
    Case("stencil", "fn kernel(a: Array<float, 2>, b: Array<float, 2>) {\n for i in 1..len(a) - 1 {\n"
                    "  for j in 1..a.shape[1] - 1 { b[i, j] = a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1]"
                    " - 4.0 * a[i, j] }\n }\n}\n",
         lambda n, r: (r.random((_square(n), _square(n))), np.zeros((_square(n), _square(n))))),
    Case("sum", "fn kernel(a: Array<float>) -> float {\n var s = 0.0\n for i in 0..len(a) { s += a[i] }\n return s\n}\n",
         lambda n, r: (_vec(n, r),)),
    Case("product", "fn kernel(a: Array<int>) -> int {\n var p = 1\n for i in 0..len(a) { p *= a[i] }\n return p\n}\n",
         lambda n, r: (np.ones(n, np.int64),)),
    Case("min", "fn kernel(a: Array<float>) -> float {\n var m = 1.0e300\n for i in 0..len(a) { m = min(m, a[i]) }\n"
                " return m\n}\n", lambda n, r: (_vec(n, r),)),
    Case("max", "fn kernel(a: Array<int>) -> int {\n var m = 0\n for i in 0..len(a) { m = max(m, a[i]) }\n"
                " return m\n}\n", lambda n, r: (r.integers(0, 1000, n),)),
    Case("count", "fn kernel(a: Array<float>) -> int {\n var c = 0\n for i in 0..len(a) { if a[i] > 0.5 { c += 1 } }\n"
                  " return c\n}\n", lambda n, r: (_vec(n, r),)),
    Case("dot", "fn kernel(a: Array<float>, b: Array<float>) -> float {\n var s = 0.0\n"
                " for i in 0..len(a) { s += a[i] * b[i] }\n return s\n}\n", lambda n, r: (_vec(n, r), _vec(n, r))),
    Case("scan", "fn kernel(a: Array<int>, out: Array<int>) {\n var s = 0\n for i in 0..len(a) {\n  s += a[i]\n"
                 "  out[i] = s\n }\n}\n", lambda n, r: (r.integers(0, 100, n), np.zeros(n, np.int64))),
    Case("histogram", "fn kernel(a: Array<int>, h: Array<int>) {\n for i in 0..len(a) { h[a[i]] += 1 }\n}\n",
         lambda n, r: (r.integers(0, 256, n), np.zeros(256, np.int64))),
    Case("jacobi", "fn kernel(a: Array<float, 2>, b: Array<float, 2>) {\n for t in 0..10 {\n"
                   "  for i in 1..len(a) - 1 {\n   for j in 1..a.shape[1] - 1 {\n"
                   "    b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])\n   }\n  }\n"
                   "  for i in 1..len(a) - 1 {\n   for j in 1..a.shape[1] - 1 { a[i, j] = b[i, j] }\n  }\n }\n}\n",
         lambda n, r: (r.random((_square(n), _square(n))), np.zeros((_square(n), _square(n))))),
    # a recognised contraction's BLAS call against BLAS (n: multiply-adds, what the threshold counts)
    Case("gemm", "fn kernel(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {\n"
                 " for i in 0..len(a) {\n  for j in 0..b.shape[1] {\n   var s = 0.0\n"
                 "   for k in 0..len(b) { s += a[i, k] * b[k, j] }\n   c[i, j] = s\n  }\n }\n}\n",
         lambda n, r: (r.random((_cube(n), _cube(n))), r.random((_cube(n), _cube(n))), np.zeros((_cube(n), _cube(n)))),
         sizes=(1 << 15, 1 << 18, 1 << 21)),
    Case("gemv", "fn kernel(a: Array<float, 2>, x: Array<float>, y: Array<float>) {\n for i in 0..len(y) {\n"
                 "  var s = 0.0\n  for j in 0..len(x) { s += a[i, j] * x[j] }\n  y[i] = s\n }\n}\n",
         lambda n, r: (r.random((_square(n), _square(n))), _vec(_square(n), r), np.zeros(_square(n)))),
]


def kernels(case: Case) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(the kernel with OpenCL forced, the kernel as it runs otherwise)."""
    from noodle.build.driver import compile_source
    from noodle.vm.machine import Machine

    _, offloaded = compile_source(case.source, "tune.nd", "tune", offload=frozenset({case.intent}))
    _, plain = compile_source(case.source, "tune.nd", "tune")
    return (Machine(backend="opencl").load(offloaded).functions["kernel"],
            Machine(backend="auto").load(plain).functions["kernel"])


def _fastest(kernels: "tuple[Callable[..., Any], ...]", args: tuple[Any, ...], repeat: int) -> list[float]:
    """Each kernel's fastest of `repeat` calls, the calls interleaved: a load that comes and goes
    (or a driver's threads still spinning after a launch) weighs on both alike."""
    for kernel in kernels:
        kernel(*args)  # built, linked, warm
    best = [float("inf")] * len(kernels)
    for _ in range(repeat):
        for k, kernel in enumerate(kernels):
            t = time.perf_counter()
            kernel(*args)
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def measure(repeat: int = 3, report: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Time every intent's OpenCL kernel against the alternative on this device; keep the crossovers."""
    import os

    from noodle.backends.opencl.device import ENV
    from noodle.backends.opencl.runtime import runtime, why_none

    rt = runtime()
    if rt is None:
        report(f"OpenCL: nothing to tune: {why_none()}")
        return {}
    report(f"OpenCL device: {rt.info.describe()}")
    found: dict[str, dict[str, Any]] = {}
    for case in CASES:
        on_device, otherwise = kernels(case)
        rows = []
        for n in case.sizes:
            args = case.args(n, np.random.default_rng(n))
            on_device(*args)  # built and launched once: what follows is the cached cost
            before = rt.stats.copy()
            t_cl, t_alt = _fastest((on_device, otherwise), args, repeat)
            moved = (rt.stats.transfer_s - before.transfer_s) / (repeat + 1)
            if selection.decide([(n, t_cl, t_alt)]) < selection.NEVER:  # a win: confirmed by as many calls again
                again = _fastest((on_device, otherwise), args, repeat)
                t_cl, t_alt = max(t_cl, again[0]), min(t_alt, again[1])
            rows.append([n, t_cl, t_alt, moved])
        crossover = selection.decide(rows)
        found[case.intent] = {"threshold": crossover, "table": rows}
        ratios = ", ".join(f"{n}: {cl / alt:.2f}x" for n, cl, alt, _ in rows)
        when = "never" if crossover >= selection.NEVER else f"from {crossover} elements"
        report(f"opencl.{case.intent}: {when}  [OpenCL / otherwise, by elements: {ratios}]")
    selection.store(rt.info, os.environ.get(ENV, ""), found)
    return found


def show(report: Callable[[str], None] = print) -> None:
    """The measurements kept for the device chosen now, as a table."""
    import os

    from noodle.backends.opencl.device import ENV

    entry = selection.measured()
    if entry is None:
        kind = selection.seen_kind(os.environ.get(ENV, ""))
        defaults = selection.DEFAULTS.get(kind or "", {})
        report("OpenCL: nothing measured for the device chosen here (run `noodle tune`); until then the "
               f"defaults for {'a ' + kind + ' device' if kind else 'it'}: "
               + (", ".join(f"{k} from {n}" for k, n in sorted(defaults.items())) if defaults else "none offered")
               + " (`noodle run --backend opencl` forces them)")
        return
    report(f"OpenCL device: {entry.get('device', '?')}")
    report(f"{'intent':<10} {'elements':>9} {'OpenCL ms':>10} {'other ms':>9} {'ratio':>6} {'transfer ms':>11}  chosen from")
    for intent, data in sorted(entry.get("intents", {}).items()):
        threshold = data.get("threshold", selection.NEVER)
        chosen = "never" if threshold >= selection.NEVER else f"{threshold} elements"
        for k, (n, cl, alt, moved) in enumerate(data.get("table", [])):
            report(f"{intent if k == 0 else '':<10} {n:>9} {cl * 1e3:>10.3f} {alt * 1e3:>9.3f} {cl / alt:>6.2f} "
                   f"{moved * 1e3:>11.3f}  {chosen if k == 0 else ''}")
