"""Each recognised intent on OpenCL, through LLVM, in NumPy and in Numba, side by side.

    .venv/bin/python bench/opencl.py [--repeat 5] [--scale 1.0] [--json OUT]

The Noodle kernels are those `noodle tune` measures (noodle/tools/tune_opencl.py), at one size
each (about 1M elements; `--scale` multiplies it).  Per intent:

    first     the first call: for OpenCL the kernel's build by the driver and its first launch (the
              driver's own binary cache makes a second process faster); for LLVM the module's
              native code (compiled at load); for Numba its JIT compile
    cached    the median of the calls after it
    transfer  of a cached OpenCL call, the time spent copying arrays to and from the device
              (on a CPU device arrays only read are not copied: zero-copy); kernel: in the kernels
              themselves, each waited for (both from the runtime's counters, means)
    ratios    OpenCL cached time over each other's cached time (below 1: OpenCL faster)

The device is the one `NOODLE_OPENCL_DEVICE` names, else the best found (a GPU before PoCL on the
CPU); `bench/device.sh` runs this on a GPU machine in one go.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def numpy_versions(np):  # type: ignore[no-untyped-def]
    """The intents in NumPy, each the idiomatic call (or calls) for what the loop computes."""
    def stencil(a, b):  # type: ignore[no-untyped-def]
        b[1:-1, 1:-1] = a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - 4.0 * a[1:-1, 1:-1]

    def jacobi(a, b):  # type: ignore[no-untyped-def]
        for _ in range(10):
            b[1:-1, 1:-1] = 0.25 * (a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:])
            a[1:-1, 1:-1] = b[1:-1, 1:-1]

    def scan(a, out):  # type: ignore[no-untyped-def]
        np.cumsum(a, out=out)

    def hist(a, h):  # type: ignore[no-untyped-def]
        h += np.bincount(a, minlength=len(h))

    def saxpy(a, b):  # type: ignore[no-untyped-def]
        np.multiply(a, 2.0, out=b)
        b += 1.0

    return {"map": saxpy, "stencil": stencil, "sum": lambda a: a.sum(), "product": lambda a: np.prod(a),
            "min": lambda a: a.min(), "max": lambda a: a.max(), "count": lambda a: int((a > 0.5).sum()),
            "dot": lambda a, b: np.dot(a, b), "scan": scan, "histogram": hist,
            "gemm": lambda a, b, c: np.matmul(a, b, out=c), "gemv": lambda a, x, y: np.matmul(a, x, out=y),
            "jacobi": jacobi}


def numba_versions():  # type: ignore[no-untyped-def]
    """The same loops as the Noodle kernels, in Numba (None when Numba is not installed)."""
    try:
        from numba import njit
    except ImportError:
        return None

    @njit(cache=False)
    def saxpy(a, b):  # type: ignore[no-untyped-def]
        for i in range(len(a)):
            b[i] = a[i] * 2.0 + 1.0

    @njit(cache=False)
    def stencil(a, b):  # type: ignore[no-untyped-def]
        for i in range(1, a.shape[0] - 1):
            for j in range(1, a.shape[1] - 1):
                b[i, j] = a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1] - 4.0 * a[i, j]

    @njit(cache=False, fastmath={"reassoc"})
    def total(a):  # type: ignore[no-untyped-def]
        s = 0.0
        for i in range(len(a)):
            s += a[i]
        return s

    @njit(cache=False)
    def product(a):  # type: ignore[no-untyped-def]
        p = 1
        for i in range(len(a)):
            p *= a[i]
        return p

    @njit(cache=False)
    def fmin(a):  # type: ignore[no-untyped-def]
        m = 1.0e300
        for i in range(len(a)):
            m = min(m, a[i])
        return m

    @njit(cache=False)
    def imax(a):  # type: ignore[no-untyped-def]
        m = 0
        for i in range(len(a)):
            m = max(m, a[i])
        return m

    @njit(cache=False)
    def count(a):  # type: ignore[no-untyped-def]
        c = 0
        for i in range(len(a)):
            if a[i] > 0.5:
                c += 1
        return c

    @njit(cache=False, fastmath={"reassoc"})
    def dot(a, b):  # type: ignore[no-untyped-def]
        s = 0.0
        for i in range(len(a)):
            s += a[i] * b[i]
        return s

    @njit(cache=False)
    def scan(a, out):  # type: ignore[no-untyped-def]
        s = 0
        for i in range(len(a)):
            s += a[i]
            out[i] = s

    @njit(cache=False)
    def hist(a, h):  # type: ignore[no-untyped-def]
        for i in range(len(a)):
            h[a[i]] += 1

    @njit(cache=False)
    def matmul(a, b, c):  # type: ignore[no-untyped-def]
        for i in range(a.shape[0]):
            for j in range(b.shape[1]):
                s = 0.0
                for k in range(b.shape[0]):
                    s += a[i, k] * b[k, j]
                c[i, j] = s

    @njit(cache=False)
    def gemv(a, x, y):  # type: ignore[no-untyped-def]
        for i in range(y.shape[0]):
            s = 0.0
            for j in range(x.shape[0]):
                s += a[i, j] * x[j]
            y[i] = s

    @njit(cache=False)
    def jacobi(a, b):  # type: ignore[no-untyped-def]
        for _ in range(10):
            for i in range(1, a.shape[0] - 1):
                for j in range(1, a.shape[1] - 1):
                    b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
            for i in range(1, a.shape[0] - 1):
                for j in range(1, a.shape[1] - 1):
                    a[i, j] = b[i, j]

    return {"map": saxpy, "stencil": stencil, "sum": total, "product": product, "min": fmin, "max": imax,
            "count": count, "dot": dot, "scan": scan, "histogram": hist, "gemm": matmul, "gemv": gemv,
            "jacobi": jacobi}


def timed(fn, args, repeat):  # type: ignore[no-untyped-def]
    """(first call, median of the next `repeat` calls), in seconds."""
    t = time.perf_counter()
    fn(*args)
    first = time.perf_counter() - t
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return first, statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size by this")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    import numpy as np

    from noodle.backends.opencl.runtime import runtime, why_none
    from noodle.build.driver import compile_source
    from noodle.tools.tune_opencl import CASES
    from noodle.vm.machine import Machine

    rt = runtime()
    if rt is None:
        print(f"no OpenCL device: {why_none()}")
        return 1
    print(f"OpenCL device: {rt.info.describe()}")
    npv, nbv = numpy_versions(np), numba_versions()
    header = (f"{'intent':<10} {'elements':>9} | {'OpenCL':>9} {'transfer':>9} {'kernel':>9} {'first':>8} | "
              f"{'LLVM':>9} {'first':>7} | {'NumPy':>9} | {'Numba':>9} {'first':>7} | "
              f"{'cl/llvm':>7} {'cl/np':>6} {'cl/nb':>6}")
    print(header)
    print("-" * len(header))
    rows = []
    for case in CASES:
        n = int(case.sizes[-1] * args.scale)
        make = lambda: case.args(n, np.random.default_rng(7))  # noqa: E731 - fresh arrays per variant
        _, offloaded = compile_source(case.source, "bench.nd", f"bench_{case.intent}", offload=frozenset({case.intent}))
        _, plain = compile_source(case.source, "bench.nd", f"bench_{case.intent}")
        t = time.perf_counter()
        cl = Machine(backend="opencl").load(offloaded).functions["kernel"]
        cl_load = time.perf_counter() - t
        t = time.perf_counter()
        llvm = Machine(backend="auto").load(plain).functions["kernel"]
        llvm_first_load = time.perf_counter() - t
        cl_args = make()
        t = time.perf_counter()
        cl(*cl_args)  # the driver builds the kernels and compiles them for the work-group size
        cl_first = time.perf_counter() - t
        before = rt.stats.copy()
        _, cl_s = timed(cl, cl_args, args.repeat)
        calls = args.repeat + 1
        transfer = (rt.stats.transfer_s - before.transfer_s) / calls
        kernel = (rt.stats.kernel_s - before.kernel_s) / calls
        ran = rt.stats.runs - before.runs
        llvm_first, llvm_s = timed(llvm, make(), args.repeat)
        _, np_s = timed(npv[case.intent], make(), args.repeat)
        nb_first, nb_s = timed(nbv[case.intent], make(), args.repeat) if nbv else (float("nan"), float("nan"))
        row = {"intent": case.intent, "elements": n, "opencl_s": cl_s, "transfer_s": transfer, "kernel_s": kernel,
               "opencl_first_s": cl_first + cl_load, "kernel_runs": ran, "llvm_s": llvm_s,
               "llvm_first_s": llvm_first + llvm_first_load, "numpy_s": np_s, "numba_s": nb_s,
               "numba_first_s": nb_first}
        rows.append(row)
        note = "" if ran >= calls else f"  (OpenCL ran {ran} of {calls} calls: {rt.last_declined})"
        print(f"{case.intent:<10} {n:>9} | {cl_s * 1e3:>7.2f}ms {transfer * 1e3:>7.2f}ms {kernel * 1e3:>7.2f}ms "
              f"{row['opencl_first_s']:>7.2f}s | {llvm_s * 1e3:>7.2f}ms {row['llvm_first_s']:>6.2f}s | "
              f"{np_s * 1e3:>7.2f}ms | {nb_s * 1e3:>7.2f}ms {nb_first:>6.2f}s | "
              f"{cl_s / llvm_s:>7.2f} {cl_s / np_s:>6.2f} {cl_s / nb_s:>6.2f}{note}")
    print("times: medians of", args.repeat, "calls after the first; first: the first call (compiles)")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": rt.info.describe(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
