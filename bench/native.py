"""Native code benchmark: Noodle's llvmlite backend against Numba and CPython, kernel time only.

    .venv/bin/python bench/native.py [--repeat 7] [--json OUT]

Each workload is written once as a plain Noodle function and once as the same Python function
(run by CPython and, with @njit, by Numba, when Numba is installed: `pip install -e '.[bench]'`).
Kernel calls are timed in-process after a warm-up call (medians), so start-up and compilation are
excluded; compilation is reported separately: Noodle's first run (compile, LLVM optimisation,
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


WORKLOADS = {"fib(30)": ("fib", 30), "nested int loops 3000x3000": ("loops", 3000)}


def median_time(fn, arg, repeat: int) -> float:
    fn(arg)  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def load_noodle(cache_dir: str):
    os.environ["NOODLE_CACHE_DIR"] = cache_dir
    from noodle.compiler.driver import compile_source
    from noodle.vm.machine import Machine

    t = time.perf_counter()
    _, module = compile_source(NOODLE, "kernels.nd", "kernels")
    machine = Machine(backend="auto")
    lm = machine.load(module)
    return lm, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json")
    args = ap.parse_args()

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
        exec(inspect.getsource(fib) + inspect.getsource(loops), nb)  # noqa: S102 - own source, fresh globals
        for name in ("fib", "loops"):
            nb[name] = numba.njit(nb[name])  # recursion finds the jitted fib through these globals
        nb["fib"](2)
        nb["loops"](2)
        print(f"Numba {numba.__version__} first call (compile): {(time.perf_counter() - t) * 1000:.0f} ms")
    except ImportError:
        nb = None
        print("Numba is not installed (pip install -e '.[bench]'): no Numba column")

    rows = []
    for label, (name, arg) in WORKLOADS.items():
        noodle_s = median_time(lm.functions[name], arg, args.repeat)
        numba_s = median_time(nb[name], arg, args.repeat) if nb else None
        cpython_s = median_time(globals()[name], arg, max(1, args.repeat // 3))
        best = min(x for x in (numba_s, cpython_s) if x is not None)
        rows.append({"workload": label, "noodle_s": noodle_s, "numba_s": numba_s, "cpython_s": cpython_s,
                     "noodle_over_numba": noodle_s / numba_s if numba_s else None,
                     "noodle_over_best_peer": noodle_s / best})
    print(f"\n{'workload':<28} {'noodle':>10} {'numba':>10} {'cpython':>10} {'noodle/numba':>13}")
    for r in rows:
        nbs = f"{r['numba_s'] * 1000:.2f} ms" if r["numba_s"] else "-"
        ratio = f"{r['noodle_over_numba']:.2f}x" if r["noodle_over_numba"] else "-"
        print(f"{r['workload']:<28} {r['noodle_s'] * 1000:>7.2f} ms {nbs:>10} {r['cpython_s'] * 1000:>7.1f} ms "
              f"{ratio:>13}")
    if args.json:
        Path(args.json).write_text(json.dumps({"first_ms": first * 1000, "cached_ms": cached * 1000, "rows": rows},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
