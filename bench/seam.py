"""The fixed cost of calling native code: calls per second of a native function that does (almost)
nothing, with 0, 1 and 3 Array arguments, against Numba's dispatch of the same function.

Each function runs a one-iteration loop (a function without a loop is not worth a native call, so
the plan keeps it in the VM) and returns an int; `stencil` is a jacobi-1d step on 10 elements, a
small kernel whose time is mostly the call.  Both sides are called from Python with the same
NumPy arrays, as the PolyBench runner calls them.

    flock /work/wt/bench.lock nice -n -15 .venv/bin/python bench/seam.py
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import timeit
from typing import Any, Callable

import numpy as np

SOURCE = """
fn none0() -> int {
    var s = 0
    for i in 0..1 { s += i }
    return s
}
fn one1(a: Array<float>) -> int {
    var s = 0
    for i in 0..1 { s += i }
    return s
}
fn three3(a: Array<float>, b: Array<float>, c: Array<float, 2>) -> int {
    var s = 0
    for i in 0..1 { s += i }
    return s
}
fn stencil(n: int, A: Array<float>, B: Array<float>) {
    for i in 1..n - 1 {
        B[i] = 0.33333 * (A[i - 1] + A[i] + A[i + 1])
    }
}
"""


def noodle_functions() -> dict[str, Callable[..., Any]]:
    import os

    from noodle.build.driver import compile_source
    from noodle.vm.machine import Machine

    os.environ.setdefault("NOODLE_CACHE_DIR", tempfile.mkdtemp(prefix="noodle-seam-"))
    _, module = compile_source(SOURCE, "seam.nd", "seam")
    machine = Machine(backend="auto")
    loaded = machine.load(module)
    report = machine.native_report["seam"]
    assert report == "native: none0, one1, stencil, three3", report
    return dict(loaded.functions)


def numba_functions() -> dict[str, Callable[..., Any]] | None:
    try:
        from numba import njit
    except ImportError:
        return None

    @njit(cache=False)
    def none0() -> int:
        s = 0
        for i in range(1):
            s += i
        return s

    @njit(cache=False)
    def one1(a: Any) -> int:
        s = 0
        for i in range(1):
            s += i
        return s

    @njit(cache=False)
    def three3(a: Any, b: Any, c: Any) -> int:
        s = 0
        for i in range(1):
            s += i
        return s

    @njit(cache=False)
    def stencil(n: int, A: Any, B: Any) -> None:
        for i in range(1, n - 1):
            B[i] = 0.33333 * (A[i - 1] + A[i] + A[i + 1])

    return {"none0": none0, "one1": one1, "three3": three3, "stencil": stencil}


def per_call(fn: Callable[..., Any], args: tuple, number: int, repeat: int) -> float:
    """Median seconds per call over `repeat` runs of `number` calls."""
    fn(*args)  # compiled, caches warm
    return statistics.median(timeit.repeat(lambda: fn(*args), number=number, repeat=repeat)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    ns = parser.parse_args()
    a, b, c = np.zeros(10), np.zeros(10), np.zeros((4, 4))
    cases = {"none0": (), "one1": (a,), "three3": (a, b, c), "stencil": (10, a, b)}
    labels = {"none0": "0 Arrays", "one1": "1 Array", "three3": "3 Arrays", "stencil": "jacobi-1d step, n=10"}
    mine = noodle_functions()
    theirs = numba_functions()
    print(f"{'call':<22}{'Noodle us':>11}{'calls/s':>12}{'Numba us':>10}{'calls/s':>12}{'ratio':>8}")
    for name, args in cases.items():
        t = per_call(mine[name], args, ns.number, ns.repeat)
        line = f"{labels[name]:<22}{t * 1e6:>11.3f}{1 / t:>12,.0f}"
        if theirs is not None:
            u = per_call(theirs[name], args, ns.number, ns.repeat)
            line += f"{u * 1e6:>10.3f}{1 / u:>12,.0f}{t / u:>7.2f}x"
        print(line)


if __name__ == "__main__":
    main()
