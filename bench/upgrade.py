"""Live-upgrade benchmark: swap latency and call throughput while a module is upgraded repeatedly.

    .venv/bin/python bench/upgrade.py [--upgrades 200] [--json OUT]

One thread calls an exported function of the module continuously (through an importing module,
as an application would); the main thread performs upgrades and rollbacks of it. Reports the swap
latency (the time calls are held back: state migration and the switch) and the whole upgrade
(compile, verify, translate, checks, swap), as median and p99, and the calls per second the caller
achieved during the upgrades against a quiet period of the same length.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import noodle  # noqa: E402

CLIENT = 'module client version "1.0.0"\nimport svc\nfn go(x: int) -> int { return svc.handle(x) }\n'


def svc(tag: int) -> str:
    return (f'module svc version "1.{tag}.0"\nvar served = 0\nvar log: List<int> = []\n'
            f"fn handle(x: int) -> int {{\n    served += 1\n    return x * 1000 + {tag}\n}}\n"
            f'test "handle" {{ assert handle(1) == 1000 + {tag} }}\n')


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upgrades", type=int, default=200)
    ap.add_argument("--json", help="write the figures as JSON here")
    args = ap.parse_args()

    vm = noodle.VM(history=10)
    vm.load(noodle.Source(svc(0), name="svc"))
    client = vm.load(noodle.Source(CLIENT, name="client"))
    sources = [noodle.Source(svc(t), name="svc") for t in range(1, 11)]

    stop = threading.Event()
    counter = [0]

    def caller() -> None:
        x = 0
        while not stop.is_set():
            x += 1
            client.go(x)
            counter[0] += 1

    thread = threading.Thread(target=caller, daemon=True)
    thread.start()
    time.sleep(0.2)

    swaps: list[float] = []
    totals: list[float] = []
    start_calls, t0 = counter[0], time.perf_counter()
    for i in range(args.upgrades):
        if i % 4 == 3:
            report = vm.rollback("svc")
        else:
            report = vm.upgrade(sources[i % len(sources)])
        swaps.append(report.swap_seconds)
        totals.append(report.total_seconds)
    busy_seconds = time.perf_counter() - t0
    busy_rate = (counter[0] - start_calls) / busy_seconds

    start_calls, t0 = counter[0], time.perf_counter()
    time.sleep(busy_seconds)
    quiet_rate = (counter[0] - start_calls) / (time.perf_counter() - t0)
    stop.set()
    thread.join(5)

    figures = {
        "upgrades": args.upgrades,
        "swap_ms_median": statistics.median(swaps) * 1000, "swap_ms_p99": percentile(swaps, 99) * 1000,
        "upgrade_ms_median": statistics.median(totals) * 1000, "upgrade_ms_p99": percentile(totals, 99) * 1000,
        "calls_per_s_during_upgrades": busy_rate, "calls_per_s_quiet": quiet_rate,
        "served": vm.module("svc").served, "calls": counter[0],
    }
    print(f"{args.upgrades} upgrades and rollbacks while one thread calls svc.handle through client.go")
    print(f"  swap (calls held back):  median {figures['swap_ms_median']:.3f} ms   p99 {figures['swap_ms_p99']:.3f} ms")
    print(f"  whole upgrade:           median {figures['upgrade_ms_median']:.2f} ms   "
          f"p99 {figures['upgrade_ms_p99']:.2f} ms")
    print(f"  calls/s during upgrades: {busy_rate:,.0f}   quiet: {quiet_rate:,.0f}   "
          f"ratio {busy_rate / quiet_rate:.2f}")
    print(f"  state: served {figures['served']:,} of {figures['calls']:,} calls "
          f"({'none lost' if figures['served'] == figures['calls'] else 'MISMATCH'})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if figures["served"] == figures["calls"] else 1


if __name__ == "__main__":
    sys.exit(main())
