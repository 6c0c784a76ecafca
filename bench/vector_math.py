"""`@vector_math` against exact native math and NumPy: sums of sin, exp and log over N points.

    python bench/vector_math.py [N]        (default 200000)

Each loop `s += math.F(lo + i * h)` is compiled twice, with and without `@vector_math`, and run
natively; NumPy computes `numpy.F(xs).sum()` on the points made beforehand (its time does not
include making them).  Prints ns per element (median of REPEATS, interleaved) and the ratios, and
the vector functions `--explain` finds.  Run it under the bench lock (docs/performance.md).
"""
from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from noodle.backends.llvm import vecmath
from noodle.build.driver import compile_source
from noodle.vm.machine import Machine

REPEATS = 9
LOOPS = {"sin": (0.0, 10.0), "exp": (-5.0, 5.0), "log": (0.5, 50.0)}


def source(attribute: str) -> str:
    out = ["import math\n"]
    for name in LOOPS:
        out.append(f"""
{attribute}
fn total_{name}(lo: float, h: float, n: int) -> float {{
    var s = 0.0
    for i in 0..n {{
        s += math.{name}(lo + float(i) * h)
    }}
    return s
}}
""")
    return "".join(out)


def timed(f, *args) -> float:  # noqa: ANN001 - a callable and its arguments
    t0 = time.perf_counter()
    f(*args)
    return time.perf_counter() - t0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    machine = Machine(backend="auto")
    vec = machine.load(compile_source(source("@vector_math"), "vec.nd", "vec")[1]).functions
    exact = machine.load(compile_source(source(""), "exact.nd", "exact")[1]).functions
    assert machine.native_report["vec"].startswith("native: ") and machine.native_report["exact"].startswith("native: ")
    print(f"vector math: {vecmath.unavailable() or 'libmvec at ' + vecmath.library().path}")  # type: ignore[union-attr]
    print(f"{'loop':6s} {'exact ns/el':>12s} {'@vector_math':>13s} {'NumPy':>9s} {'vector/exact':>13s} {'vs NumPy':>9s}")
    for name, (lo, hi) in LOOPS.items():
        h = (hi - lo) / n
        xs = lo + np.arange(n) * h
        fn = getattr(np, name)
        exact_f, vec_f = exact[f"total_{name}"], vec[f"total_{name}"]
        for f in (exact_f, vec_f):
            f(lo, h, n)  # compiled and warm
        a, b, c = [], [], []
        for _ in range(REPEATS):  # interleaved: load from elsewhere hits all three alike
            a.append(timed(exact_f, lo, h, n))
            b.append(timed(vec_f, lo, h, n))
            c.append(timed(lambda: fn(xs).sum()))
        ea, eb, ec = (statistics.median(t) / n * 1e9 for t in (a, b, c))
        agree = abs(exact_f(lo, h, n) - vec_f(lo, h, n)) <= 1e-9 * abs(exact_f(lo, h, n))
        print(f"{name:6s} {ea:12.2f} {eb:13.2f} {ec:9.2f} {ea / eb:12.1f}x {ec / eb:8.1f}x"
              f"{'' if agree else '  (sums differ by more than 1e-9!)'}")


if __name__ == "__main__":
    main()
