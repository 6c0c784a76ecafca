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
- `numpy.dot` itself, and the crossing of its result into a Noodle `float`;
- since the candidate's function runs natively (its `dot` a call of NumPy's BLAS ddot): the site
  served by the machine code alone (its Python entry's checks in C are the guard), that entry alone
  (what the evolve benchmark times now), and — "VM candidate" — the same candidate loaded into a VM
  without native code, behind the Python guard: the serving this replaced, in the same process.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
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
from noodle.vm.native import guarded_entry  # noqa: E402
from noodle.vm.pyffi.replacements import MISS, Replacement, ReplacementTable  # noqa: E402

PATTERN = "ndarray<float64>[1d], ndarray<float64>[1d]"
NUMBER = 20_000


def main() -> None:
    recorder.stop()
    src = intent_source("numpy.dot", PATTERN)
    assert src is not None
    runner = CandidateRunner(plain_vm(), 1, src.source, src.entry, src.params, Path(tempfile.mkdtemp()))
    assert runner.direct is not None
    served = entry(PATTERN, 3, runner.direct, True, python_exception)
    fast = guarded_entry(runner.direct, MISS, python_exception, 3)
    assert fast is not None, "the candidate did not run natively"
    vm_only = plain_vm()
    vm_only.machine.backend = "vm"  # the candidate as it ran before: its Noodle frame and the VM's dot
    old = CandidateRunner(vm_only, 2, src.source, src.entry, src.params, Path(tempfile.mkdtemp()))
    old_served = entry(PATTERN, 3, old.direct, True, python_exception)
    guard_only = entry(PATTERN, 3, lambda a0, a1: 0.0, True, python_exception)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    args = (a, b)
    dot, vm_dot, nd_dot, float_t = np.dot, NATIVES["array.dot"].impl, np.ndarray.dot, parse_type("float")
    result = dot(a, b)

    plain, replaced, native, before = ReplacementTable(), ReplacementTable(), ReplacementTable(), ReplacementTable()
    replaced.install([Replacement("numpy.dot", 1, lambda *_: True, runner.serve, served)])
    native.install([Replacement("numpy.dot", 1, lambda *_: True, runner.serve, fast=fast)])
    before.install([Replacement("numpy.dot", 2, lambda *_: True, old.serve, old_served)])
    site_o, site_r = sites.CallSite("bench:1"), sites.CallSite("bench:2")
    site_n, site_b = sites.CallSite("bench:3"), sites.CallSite("bench:4")
    for k, t in enumerate((plain, replaced, native, before)):
        t.version = 100 + k  # distinct: a site shared by two tables binds again when the table changes

    def through(table: ReplacementTable, site: sites.CallSite):
        def call() -> object:
            sites.TABLE = table  # the site reads the module's table: swap it per side (costs both the same)
            return sites.call(site, dot, args)
        return call

    cases = {
        "site: numpy.dot (original)": through(plain, site_o),
        "site: served, VM candidate (before)": through(before, site_b),
        "site: served, Python guard + native fn": through(replaced, site_r),
        "site: served, native entry (after)": through(native, site_n),
        "entry: VM candidate (benchmark before)": lambda: old_served(dot, args, None),
        "entry: native, C guard (benchmark after)": lambda: fast(a, b),
        "entry: Python guard + native fn": lambda: served(dot, args, None),
        "  guard alone (entry, no-op target)": lambda: guard_only(dot, args, None),
        "  candidate function in the VM (frame + VM dot)": lambda: old.direct(a, b),
        "  candidate function, native (its own entry)": lambda: runner.direct(a, b),
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
    in_the_program({"original": plain, "VM candidate (before)": before, "native entry (after)": native})


PROGRAM = """import py numpy as np
fn run() -> float {
    let a = np.array([1.0, 2.0, 3.0])
    let b = np.array([0.5, -1.0, 2.0])
    var dots = 0.0
    for _ in 0..3000 {
        let d: float = np.dot(a, b)
        dots += d
    }
    return dots
}
"""


def in_the_program(tables: dict[str, ReplacementTable]) -> None:
    """examples/ale's pilot loop as the program runs it (the VM's loop, the call site, the crossing
    of the result): ns per `let d: float = np.dot(a, b)`, medians of 9 runs of 3000, interleaved."""
    import noodle

    folder = Path(tempfile.mkdtemp())
    (folder / "pilot.nd").write_text(PROGRAM)
    vm = noodle.VM(capabilities=noodle.Capabilities(py_import=True), root=folder)
    vm.load(folder / "pilot.nd")
    times: dict[str, list[float]] = {k: [] for k in tables}
    results = set()
    for _ in range(9):
        for k, t in tables.items():
            sites.TABLE = t
            results.add(vm.call("pilot.run"))
            results.add(vm.call("pilot.run"))  # the site binds to the table's entry on its first call
            t0 = time.perf_counter()
            results.add(vm.call("pilot.run"))
            times[k].append((time.perf_counter() - t0) / 3000 * 1e9)
    base = statistics.median(times["original"])
    print(f"in the program: ns per `let d: float = np.dot(a, b)` (median of 9); gain = original / this;"
          f" results {'identical' if len(results) == 1 else 'DIFFER'}")
    for k, v in times.items():
        m = statistics.median(v)
        print(f"  {k:40s} {m:8.0f}   {base / m:5.2f}")


if __name__ == "__main__":
    main()
