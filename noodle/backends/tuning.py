"""Variant thresholds measured on this machine: `noodle tune` measures them, the guards read them.

A guard chooses a variant by what it can check cheaply at the call (shapes, dtypes, overlap) and by
size: below some number of elements the fixed cost of a variant — a call into native code, a BLAS
dispatch — outweighs what it saves.  Where that crossover lies depends on the machine, so it is
measured: each `Threshold` says how to time its variant against the next one on arrays of growing
size, and the smallest size from which the variant wins (and keeps winning) is kept in
`<cache>/tuning.json`, keyed by this machine (CPU, cores, NumPy and llvmlite versions).  A machine
or toolchain that was never tuned uses the defaults in noodle.backends.variants (measured on the
development machine with the same code, `bench/fusion.py`).
"""
from __future__ import annotations

import json
import os
import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from noodle.backends import variants
from noodle.vm.cache import read_file, user_cache_root, write_file

#: sizes tried, in elements
SIZES = tuple(1 << k for k in range(6, 21))


@dataclass(frozen=True)
class Threshold:
    """One size threshold of `variants.THRESHOLDS`, and the kernels that measure it."""

    key: str  # as in variants.THRESHOLDS
    source: str  # a Noodle module whose function `kernel(a, b)` runs the intent
    what: str  # for the report
    sizes: tuple[int, ...] = ()  # elements tried (default: SIZES)
    per_element: int = 1  # the threshold's unit per element: array accesses for a split across cores


THRESHOLDS = [
    Threshold("map.fused", "fn kernel(a: Array<float>, b: Array<float>) -> Array<float> {\n"
                           " let c = a * b + 2.0 * a - b\n return c\n}\n", "fused elementwise map vs NumPy passes"),
    Threshold("dot.blas", "fn kernel(a: Array<float>, b: Array<float>) -> float {\n var s = 0.0\n"
                          " for i in 0..len(a) { s += a[i] * b[i] }\n return s\n}\n",
              "BLAS dot vs the native loop"),
    # a map reads one element and writes one: two array accesses per element
    Threshold("map.parallel", "fn kernel(a: Array<float>, b: Array<float>) {\n"
                              " for i in 0..len(a) { b[i] = a[i] * 2.0 + 1.0 }\n}\n",
              "a nest split across the cores vs one core", tuple(1 << k for k in range(10, 23)), per_element=2),
]


def machine_key() -> str:
    """What the measurements hold for: this CPU and the libraries whose code is timed."""
    import numpy

    try:
        import llvmlite
        llvm = llvmlite.__version__
    except ImportError:
        llvm = "none"
    return f"{platform.machine()}|{_cpu_name()}|{os.cpu_count()}|numpy {numpy.__version__}|llvmlite {llvm}"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def path() -> str:
    return os.path.join(user_cache_root(), "tuning.json")


def load() -> dict[str, int]:
    """The thresholds measured for this machine, or {} when it was never tuned (or the file is bad)."""
    data = read_file(path())
    if data is None:
        return {}
    try:
        stored = json.loads(data)
        entry = stored.get(machine_key()) if isinstance(stored, dict) else None
        if isinstance(entry, dict):
            return {k: v for k, v in entry.items() if k in variants.THRESHOLDS and type(v) is int and v >= 0}
    except (ValueError, ImportError):
        pass
    return {}


def apply() -> None:
    """Put this machine's measured thresholds in place of the defaults (called once, lazily)."""
    variants.THRESHOLDS.update(load())


@contextmanager
def forced(key: str, value: int) -> Iterator[None]:
    """Run with one threshold set to `value` (0: the variant always; `NEVER`: never), then restore it."""
    variants.threshold(key)  # this machine's measured values are in place before one is overridden
    saved = variants.THRESHOLDS[key]
    variants.THRESHOLDS[key] = value
    try:
        yield
    finally:
        variants.THRESHOLDS[key] = saved


#: a threshold no array reaches
NEVER = 1 << 62


def measure(repeat: int = 7, report: Callable[[str], None] = print) -> dict[str, int]:
    """Time every thresholded variant against the next one here; store and return the crossovers."""
    import numpy

    from noodle.compiler.driver import compile_source
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
            rng = numpy.random.default_rng(n)
            a, b = rng.random(n), rng.random(n)
            with forced(t.key, 0):
                with_variant = _fastest(always, a, b, repeat)
            with forced(t.key, NEVER):
                without = _fastest(never, a, b, repeat)
            wins.append((n, with_variant / without))
        crossover = _crossover(wins)
        found[t.key] = crossover if crossover == NEVER else crossover * t.per_element
        ratios = ", ".join(f"{n}: {r:.2f}x" for n, r in wins)
        unit = "elements" if t.per_element == 1 else "array accesses"
        report(f"{t.key} ({t.what}): from {found[t.key]} {unit}  [variant / next, by elements: {ratios}]")
    _store(found)
    variants.THRESHOLDS.update(found)
    return found


def _fastest(kernel: Callable[..., Any], a: Any, b: Any, repeat: int) -> float:
    """The fastest of `repeat` calls: on a shared machine noise only ever adds time."""
    kernel(a, b)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        kernel(a, b)
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


def _store(found: dict[str, int]) -> None:
    data = read_file(path())
    try:
        stored = json.loads(data) if data is not None else {}
    except ValueError:
        stored = {}
    if not isinstance(stored, dict):
        stored = {}
    stored[machine_key()] = found
    data = json.dumps(stored, indent=2).encode()
    write_file(path(), data)
    if read_file(path()) != data:  # the cache folder is not writable: the measurements are only used now
        raise OSError(f"cannot write {path()}")
