#!/usr/bin/env python3
"""`parallel.map` side by side: serial VM, local pool, Dask cluster, and what placement picks.

    .venv/bin/python bench/parallel.py [--repeat N] [--workers 2] [--json OUT]

Cases (all VM code: NOODLE_BACKEND=vm, so nothing runs as native code on threads):
  cpu64   64 elements, each a CPU-bound loop (tens of ms in the VM)
  tiny64  64 elements, each a few arithmetic operations
  empty64 64 elements of an empty function on the cluster, next to Dask's own client.map of 64
          empty Python tasks (what Dask costs before Noodle adds anything)
Each target is timed warm (pool started, code on the workers) `--repeat` times; medians are
reported, with the pool's and the cluster's start-up measured once.  `auto` is the runner left to
choose; the last column says whether it chose the fastest measured target.  The order of the
targets rotates from one repeat to the next (the run after a serial one starts with one core's
scheduling history, which penalises whatever comes next).

Two phases: first serial, pool and auto for cpu64 before any cluster exists (the bar's figures: a
LocalCluster's scheduler runs as threads inside this process and takes the GIL now and then, which
slows the serial loop too and flatters every speed-up), then everything side by side with the
cluster running.  This is a measurement, not a test: the exit status is 0 unless something failed
to run.  On a shared machine run it alone and first in line for the CPUs (`make bench-parallel`:
its own session, whose scheduling group gets nice -20, and nice -20 inside it).
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

os.environ["NOODLE_BACKEND"] = "vm"  # before the VM or a worker starts: every function is VM code

PROGRAM = """
import parallel

fn cpu(seed: int) -> int {
    var t = seed
    for i in range(ROUNDS) {
        t = (t * 31 + i) % 1000003
    }
    return t
}

fn tiny(x: int) -> int {
    return x * x + 1
}

fn empty(x: int) -> int {
    return x
}

fn map_cpu(xs: List<int>) -> List<int> {
    return parallel.map(cpu, xs)
}

fn map_tiny(xs: List<int>) -> List<int> {
    return parallel.map(tiny, xs)
}

fn map_empty(xs: List<int>) -> List<int> {
    return parallel.map(empty, xs)
}
"""


def _noop(x: int) -> int:
    return x


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=60000, help="loop rounds per cpu64 element")
    ap.add_argument("--json", help="write the figures here")
    opts = ap.parse_args()

    from noodle.tools.run import install_parallel, load_program

    folder = Path(tempfile.mkdtemp(prefix="noodle-bench-parallel-"))
    path = folder / "bench.nd"
    path.write_text(PROGRAM.replace("ROUNDS", str(opts.rounds)))
    machine, lm = load_program(str(path))
    machine.call(lm, lm.functions["__init__"])
    xs = list(range(64))
    runner = install_parallel(machine, str(path))
    runner.pool.workers = opts.workers

    def timed(fn: str, force: str | None) -> tuple[float, str]:
        runner.force = force
        t = time.perf_counter()
        machine.call(lm, lm.functions[fn], xs)
        elapsed = time.perf_counter() - t
        runner.force = None
        return elapsed, runner.decisions[-1][1].target if runner.decisions else "inline"

    # phase 1, no cluster in this process: the pool's start-up (processes, code loaded), then cpu64
    t = time.perf_counter()
    timed("map_tiny", "pool")
    pool_start = time.perf_counter() - t
    clean: dict[str, list[float]] = {"inline": [], "pool": [], "auto": []}
    order = ["inline", "pool", "auto"]
    for r in range(opts.repeat):
        for target in order[r % 3:] + order[:r % 3]:  # rotated: no target always follows the serial run
            clean[target].append(timed("map_cpu", None if target == "auto" else target)[0])
    clean_med = {t: statistics.median(v) for t, v in clean.items()}
    runner.close()

    # phase 2: the same program with a LocalCluster as well
    t0 = time.perf_counter()
    runner = install_parallel(machine, str(path), cluster=f"local:{opts.workers}")
    cluster_start = time.perf_counter() - t0
    runner.pool.workers = opts.workers
    timed("map_tiny", "pool")
    timed("map_tiny", "cluster")  # the code reaches the cluster's workers

    rows = []
    for case, fn, targets in (("cpu64", "map_cpu", ["inline", "pool", "cluster"]),
                              ("tiny64", "map_tiny", ["inline", "pool", "cluster"]),
                              ("empty64", "map_empty", ["inline", "cluster"])):
        times: dict[str, list[float]] = {t: [] for t in targets + ["auto"]}
        picked: list[str] = []
        order = targets + ["auto"]
        for r in range(opts.repeat):
            for target in order[r % len(order):] + order[:r % len(order)]:
                elapsed, chose = timed(fn, None if target == "auto" else target)
                times[target].append(elapsed)
                if target == "auto":
                    picked.append(chose)
        med = {t: statistics.median(v) for t, v in times.items()}
        fastest = min(targets, key=lambda t: med[t])
        chose = statistics.mode(picked)
        rows.append({"case": case, "median_s": med, "auto_picked": chose, "fastest": fastest,
                     "speedup_pool": med["inline"] / med["pool"] if "pool" in med else None})

    # Dask's own overhead: 64 empty Python tasks through client.map, warm
    client = runner.cluster.client
    client.gather(client.map(_noop, xs, pure=False))
    dask_times = []
    for _ in range(opts.repeat):
        t = time.perf_counter()
        client.gather(client.map(_noop, xs, pure=False))
        dask_times.append(time.perf_counter() - t)
    runner.close()

    load = os.getloadavg()[0]
    print(f"parallel.map, {opts.workers} workers, medians of {opts.repeat}; load average {load:.1f} on "
          f"{os.cpu_count()} cores (a shared machine: figures are noisy)")
    print(f"start-up: pool {pool_start * 1e3:.0f} ms, LocalCluster {cluster_start * 1e3:.0f} ms")
    print(f"cpu64 without a cluster: serial {clean_med['inline'] * 1e3:.1f} ms, pool {clean_med['pool'] * 1e3:.1f} ms "
          f"({clean_med['inline'] / clean_med['pool']:.2f}x), auto {clean_med['auto'] * 1e3:.1f} ms "
          f"({clean_med['inline'] / clean_med['auto']:.2f}x)")
    print("with the LocalCluster running:")
    print(f"{'case':8} {'serial':>9} {'pool':>9} {'cluster':>9} {'auto':>9}  pool/serial  auto picked (fastest)")
    for r in rows:
        m = r["median_s"]

        def cell(t: str) -> str:
            return f"{m[t] * 1e3:8.1f}ms" if t in m else f"{'-':>10}"
        sp = f"{r['speedup_pool']:.2f}x" if r["speedup_pool"] else "-"
        ok = "yes" if r["auto_picked"] == r["fastest"] else "NO"
        print(f"{r['case']:8} {cell('inline')} {cell('pool')} {cell('cluster')} {cell('auto')}  {sp:>11}  "
              f"{r['auto_picked']} ({r['fastest']}: {ok})")
    print(f"Dask alone: client.map of 64 empty tasks {statistics.median(dask_times) * 1e3:.1f} ms")
    if opts.json:
        Path(opts.json).write_text(json.dumps({"rows": rows, "cpu64_without_cluster_s": clean_med, "dask_empty64_s": statistics.median(dask_times),
                                               "pool_start_s": pool_start, "cluster_start_s": cluster_start,
                                               "load": load}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
