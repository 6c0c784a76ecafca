"""What a served call costs, and where it goes: `numpy.dot` of two 3-element float64 arrays (the
pilot of examples/ale), original against its `dot` intent replacement.

    python bench/ale_serving.py

Prints, in ns per call (medians of 9 rounds, each the best of 3 batches of 20,000 calls,
interleaved):

- through a call site (`sites.call`, what compiled code calls for `np.dot(a, b)`): the original,
  and the replacement served by its entry;
- the entry alone (what the benchmark of `noodle ale evolve` times) and its parts: the guard
  (the entry with a target that does nothing), the candidate's function (its Noodle frame and the
  VM's `dot`), the VM's `dot` native alone, `ndarray.dot` alone;
- `numpy.dot` itself, and the crossing of its result into a Noodle `float`.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from noodle.ale.intents import intent_source  # noqa: E402
from noodle.ale.patterns import entry  # noqa: E402
from noodle.ale.runner import CandidateRunner, python_exception  # noqa: E402
from noodle.ir.types import parse_type  # noqa: E402
from noodle.stdlib.natives import NATIVES  # noqa: E402
from noodle.tools.ale_vms import plain_vm  # noqa: E402
from noodle.vm.pyffi import recorder, sites  # noqa: E402
from noodle.vm.pyffi.crossing import from_py  # noqa: E402
from noodle.vm.pyffi.replacements import Replacement, ReplacementTable  # noqa: E402

PATTERN = "ndarray<float64>[1d], ndarray<float64>[1d]"
NUMBER = 20_000


def main() -> None:
    recorder.stop()
    src = intent_source("numpy.dot", PATTERN)
    assert src is not None
    runner = CandidateRunner(plain_vm(), 1, src.source, src.entry, src.params, Path(tempfile.mkdtemp()))
    assert runner.direct is not None
    served = entry(PATTERN, 3, runner.direct, True, python_exception)
    guard_only = entry(PATTERN, 3, lambda a0, a1: 0.0, True, python_exception)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    args = (a, b)
    dot, vm_dot, nd_dot, float_t = np.dot, NATIVES["array.dot"].impl, np.ndarray.dot, parse_type("float")
    result = dot(a, b)

    plain, replaced = ReplacementTable(), ReplacementTable()
    replaced.install([Replacement("numpy.dot", 1, lambda *_: True, runner.serve, served)])
    site_o, site_r = sites.CallSite("bench:1"), sites.CallSite("bench:2")

    def through(table: ReplacementTable, site: sites.CallSite):
        def call() -> object:
            sites.TABLE = table  # the site reads the module's table: swap it per side (costs both the same)
            return sites.call(site, dot, args)
        return call

    cases = {
        "site: numpy.dot (original)": through(plain, site_o),
        "site: served (entry)": through(replaced, site_r),
        "entry (the benchmark's side)": lambda: served(dot, args, None),
        "  guard alone (entry, no-op target)": lambda: guard_only(dot, args, None),
        "  candidate function (frame + VM dot)": lambda: runner.direct(a, b),
        "  VM dot native alone": lambda: vm_dot(a, b),
        "  ndarray.dot alone": lambda: nd_dot(a, b),
        "numpy.dot alone": lambda: dot(a, b),
        "crossing numpy.float64 -> float": lambda: from_py(result, float_t),
    }
    for f in cases.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(9):
        for k, f in cases.items():
            times[k].append(min(timeit.repeat(f, number=NUMBER, repeat=3)) / NUMBER * 1e9)
    base = statistics.median(times["numpy.dot alone"])
    print(f"numpy.dot of two 3-element float64 arrays: ns per call (median of 9); ratio = numpy.dot alone / this")
    for k, v in times.items():
        m = statistics.median(v)
        print(f"  {k:40s} {m:8.0f}   {base / m:5.2f}")


if __name__ == "__main__":
    main()
