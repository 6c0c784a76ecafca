"""Native code benchmark: Noodle's llvmlite backend against Numba and CPython, kernel time only.

    .venv/bin/python bench/native.py [--repeat 7] [--json OUT]
    .venv/bin/python bench/native.py --polling-cost [--repeat 7] [--only fib] [--json OUT]

`--polling-cost` measures what native code's polling costs instead: the same kernels built three
times — polling nothing (code that cannot be stopped), the stop flag alone at every poll, and the
step budget with the stop flag read once a chunk of steps is used (what Noodle builds) — timed in
turn, call by call, and the medians compared (and the fastest calls: on a shared machine the
least disturbed).  It runs every kernel on one thread (NOODLE_THREADS=1): a nest split across
cores measures the other cores' load more than its own code.

Each workload is written once as a plain Noodle function and once as the same Python function
(run by CPython and, with @njit, by Numba, when Numba is installed: `pip install -e '.[bench]'`).
Kernel calls are timed in-process after a warm-up call, Noodle and its peers in turn call by call
(medians), so start-up and compilation are excluded; compilation is reported separately: Noodle's first run (compile, LLVM optimisation,
machine code written to the cache) and its cached run (machine code read back), and Numba's first
call.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NOODLE = """
fn fib(n: int) -> int {
    if n < 2 { return n }
    return fib(n - 1) + fib(n - 2)
}

fn sumsq(a: Array<float>) -> float {
    var s = 0.0
    for i in 0..len(a) { s += a[i] * a[i] }
    return s
}

fn dotp(a: Array<float>, b: Array<float>) -> float {
    var s = 0.0
    for i in 0..len(a) { s += a[i] * b[i] }
    return s
}

fn saxpy(alpha: float, x: Array<float>, y: Array<float>) {
    for i in 0..len(x) { y[i] = alpha * x[i] + y[i] }
}

fn matmul(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {
    for i in 0..len(a) {
        for j in 0..b.shape[1] {
            var s = 0.0
            for k in 0..len(b) { s += a[i, k] * b[k, j] }
            c[i, j] = s
        }
    }
}

fn stencil(a: Array<float, 2>, b: Array<float, 2>, sweeps: int) {
    let n = len(a)
    for t in 0..sweeps {
        for i in 1..n - 1 {
            for j in 1..n - 1 {
                b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
            }
        }
        for i in 1..n - 1 {
            for j in 1..n - 1 { a[i, j] = b[i, j] }
        }
    }
}

fn loops(n: int) -> int {
    var total = 0
    for i in 0..n {
        for j in 0..n {
            total += (i * j) % 7
        }
    }
    return total
}
"""


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def loops(n):
    total = 0
    for i in range(n):
        for j in range(n):
            total += (i * j) % 7
    return total


def sumsq(a):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * a[i]
    return s


def dotp(a, b):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * b[i]
    return s


def saxpy(alpha, x, y):
    for i in range(len(x)):
        y[i] = alpha * x[i] + y[i]


def matmul(a, b, c):
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            s = 0.0
            for k in range(b.shape[0]):
                s += a[i, k] * b[k, j]
            c[i, j] = s


def stencil(a, b, sweeps):
    n = a.shape[0]
    for t in range(sweeps):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                a[i, j] = b[i, j]


WORKLOADS = {"fib(30)": ("fib", (30,)), "nested int loops 3000x3000": ("loops", (3000,))}
N = 10_000_000


def array_workloads():
    import numpy

    rng = numpy.random.default_rng(1)
    a, b = rng.random(N), rng.random(N)
    m1, m2, g = rng.random((512, 512)), rng.random((512, 512)), rng.random((1024, 1024))
    return {
        "sum of squares 10^7": ("sumsq", (a,), lambda: numpy.dot(a, a)),
        "dot 10^7": ("dotp", (a, b), lambda: numpy.dot(a, b)),
        "saxpy 10^7": ("saxpy", (2.0, a, b.copy()), None),
        "naive matmul 512x512": ("matmul", (m1, m2, numpy.zeros((512, 512))), lambda: m1 @ m2),
        "5-point stencil 1024^2 x10": ("stencil", (g.copy(), numpy.zeros((1024, 1024)), 10), None),
    }


def median_time(fn, args: tuple, repeat: int) -> float:
    fn(*args)  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


#: seconds of quiet before each workload: OpenBLAS's worker threads spin on the other cores for
#: ~0.2 s after a BLAS call, and a workload timed in that window measures the last one's leftovers
SETTLE_S = 0.5


def interleaved_medians(calls: list, repeat: int, before=None) -> list[float]:
    """Median times of several (function, args) timed in turn, call by call: on a shared machine a
    slow spell then slows every contender alike, instead of whichever happened to run during it.
    `before`, when given, runs (untimed) before every timed call."""
    for fn, fargs in calls:
        fn(*fargs)  # warm-up
    times: list[list[float]] = [[] for _ in calls]
    for r in range(repeat):
        for k in [(r + j) % len(calls) for j in range(len(calls))]:  # each takes every turn: none always
            fn, fargs = calls[k]                                       # follows the one that churns memory
            if before is not None:
                before()
            t = time.perf_counter()
            fn(*fargs)
            times[k].append(time.perf_counter() - t)
    global LAST_TIMES
    LAST_TIMES = times
    return [statistics.median(ts) for ts in times]


#: every call's time of the last interleaved_medians (--polling-cost also quotes the fastest)
LAST_TIMES: list[list[float]] = []


def measure(label, noodle_fn, numba_fn, python_fn, numpy_fn, fargs, repeat, before=None):
    calls = [(noodle_fn, fargs)] + ([(numba_fn, fargs)] if numba_fn else []) + ([(numpy_fn, ())] if numpy_fn else [])
    time.sleep(SETTLE_S)
    medians = interleaved_medians(calls, repeat, before)
    noodle_s = medians[0]
    numba_s = medians[1] if numba_fn else None
    numpy_s = medians[-1] if numpy_fn else None
    cpython_s = median_time(python_fn, fargs, max(1, repeat // 3)) if python_fn else None
    best = min(x for x in (numba_s, numpy_s, cpython_s) if x is not None)
    return {"workload": label, "noodle_s": noodle_s, "numba_s": numba_s, "numpy_s": numpy_s, "cpython_s": cpython_s,
            "noodle_over_best_peer": noodle_s / best}


def load_noodle(cache_dir: str):
    os.environ["NOODLE_CACHE_DIR"] = cache_dir
    from noodle.build.driver import compile_source
    from noodle.vm.machine import Machine

    t = time.perf_counter()
    _, module = compile_source(NOODLE, "kernels.nd", "kernels")
    machine = Machine(backend="auto")
    lm = machine.load(module)
    return lm, time.perf_counter() - t


def load_with_polling(cache_dir: str, polling: str):
    """The kernels linked with native code that polls `polling` (noodle.backends.llvm.lower.POLLING)."""
    from noodle.backends.llvm import lower

    saved = lower.POLLING
    lower.POLLING = polling
    try:
        return load_noodle(cache_dir)[0]
    finally:
        lower.POLLING = saved


POLLINGS = ("none", "stop", "all")


def polling_cost(repeat: int, json_out: str | None, only: str | None = None) -> int:
    os.environ["NOODLE_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as cache:
        variants = [load_with_polling(cache, p) for p in POLLINGS]
    rows = []
    workloads = [(label, name, fargs) for label, (name, fargs) in WORKLOADS.items()]
    workloads += [(label, name, fargs) for label, (name, fargs, _) in array_workloads().items()]
    workloads = [w for w in workloads if only is None or only in w[0]]
    print(f"medians (ms) and ratios to no polling; the same ratios of the fastest calls")
    print(f"{'workload':<32} " + " ".join(f"{p:>10}" for p in POLLINGS) + f" {'flag/none':>10} {'all/none':>10}")
    for label, name, fargs in workloads:
        if name == "saxpy":  # y changes each call: each variant gets its own
            calls = [(lm.functions[name], (fargs[0], fargs[1], fargs[2].copy())) for lm in variants]
        elif name in ("matmul", "stencil"):
            calls = [(lm.functions[name], tuple(x.copy() if hasattr(x, "copy") else x for x in fargs))
                     for lm in variants]
        else:
            calls = [(lm.functions[name], fargs) for lm in variants]
        time.sleep(SETTLE_S)
        medians = interleaved_medians(calls, max(3, repeat // 2) if name in ("matmul", "stencil") else repeat)
        fastest = [min(ts) for ts in LAST_TIMES]
        row = {"workload": label, **{f"{p}_s": m for p, m in zip(POLLINGS, medians)},
               **{f"{p}_min_s": m for p, m in zip(POLLINGS, fastest)}}
        rows.append(row)
        print(f"{label:<32} " + " ".join(f"{m * 1000:>7.2f} ms" for m in medians)
              + f" {medians[1] / medians[0]:>10.3f} {medians[2] / medians[0]:>10.3f}"
              + f"   fastest: {fastest[1] / fastest[0]:.3f} {fastest[2] / fastest[0]:.3f}")
    if json_out:
        Path(json_out).write_text(json.dumps({"rows": rows}, indent=2))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json")
    ap.add_argument("--polling-cost", action="store_true", help="what polling costs native code (see above)")
    ap.add_argument("--only", help="--polling-cost: only the workloads whose label contains this (e.g. fib)")
    args = ap.parse_args()
    if args.polling_cost:
        return polling_cost(args.repeat, args.json, args.only)

    with tempfile.TemporaryDirectory() as cache:
        lm, first = load_noodle(cache)
        _, cached = load_noodle(cache)  # the same module again: machine code comes from the disk cache
    print(f"Noodle compile + link, first run: {first * 1000:.0f} ms; with cached machine code: {cached * 1000:.0f} ms")
    native = all(getattr(lm.functions[n], "__noodle_native__", False) for n in ("fib", "loops"))
    print(f"Noodle functions native: {native}")

    try:
        import numba
        import inspect
        t = time.perf_counter()
        nb: dict = {}
        sources = "".join(inspect.getsource(f) for f in (fib, loops, sumsq, dotp, saxpy, matmul, stencil))
        exec(sources, nb)  # noqa: S102 - own source, fresh globals
        for name in ("fib", "loops", "sumsq", "dotp", "saxpy", "matmul", "stencil"):
            nb[name] = numba.njit(nb[name])  # recursion finds the jitted fib through these globals
        nb["fib"](2)
        nb["loops"](2)
        import numpy
        small = numpy.ones(4)
        nb["sumsq"](small)
        nb["dotp"](small, small)
        nb["saxpy"](1.0, small, small.copy())
        sq = numpy.ones((4, 4))
        nb["matmul"](sq, sq, sq.copy())
        nb["stencil"](sq.copy(), sq.copy(), 1)
        print(f"Numba {numba.__version__} first call (compile): {(time.perf_counter() - t) * 1000:.0f} ms")
    except ImportError:
        nb = None
        print("Numba is not installed (pip install -e '.[bench]'): no Numba column")

    rows = []
    import numpy

    for label, (name, fargs) in WORKLOADS.items():
        rows.append(measure(label, lm.functions[name], nb[name] if nb else None, globals()[name], None, fargs,
                            args.repeat))
    for label, (name, fargs, numpy_fn) in array_workloads().items():
        if name == "saxpy":
            x, y = fargs[1], fargs[2]
            numpy_fn = lambda: numpy.add(numpy.multiply(2.0, x), y, out=y)  # noqa: E731 - y = 2x + y in place
        if name == "stencil":
            ga, gb = fargs[0], fargs[1]

            def numpy_fn() -> None:
                for _ in range(10):
                    gb[1:-1, 1:-1] = 0.25 * (ga[:-2, 1:-1] + ga[2:, 1:-1] + ga[1:-1, :-2] + ga[1:-1, 2:])
                    ga[1:-1, 1:-1] = gb[1:-1, 1:-1]
        rows.append(measure(label, lm.functions[name], nb[name] if nb else None, None, numpy_fn, fargs,
                            max(3, args.repeat // 2) if name in ("matmul", "stencil") else args.repeat))
        if name == "stencil" and nb:
            # the same, each call right after a BLAS matrix product: a loop nest split across the
            # cores then shares them with OpenBLAS's spinning threads
            m = numpy.random.default_rng(2).random((256, 256))
            rows.append(measure(label + ", after BLAS", lm.functions[name], nb[name] if nb else None, None, None,
                                fargs, max(3, args.repeat // 2), before=lambda: m @ m))
    print(f"\n{'workload':<40} {'noodle':>10} {'numba':>10} {'numpy':>10} {'cpython':>10} {'noodle/best peer':>17}")
    for r in rows:
        cells = [f"{r[k] * 1000:.2f} ms" if r[k] else "-" for k in ("noodle_s", "numba_s", "numpy_s", "cpython_s")]
        print(f"{r['workload']:<40} " + " ".join(f"{c:>10}" for c in cells) + f" {r['noodle_over_best_peer']:>16.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"first_ms": first * 1000, "cached_ms": cached * 1000, "rows": rows},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
