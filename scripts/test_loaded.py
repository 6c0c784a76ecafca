"""`make test` several times in a row with a CPU hog beside it: `make test-loaded [RUNS=10] [HOGS=2]`.

The hog is HOGS processes spinning at full speed (on a 2-core machine, two: the suite's two
workers get about half the CPU).  Every run's verdict and time are printed; the exit status is
that of the first red run (0: every run green).  docs/testing.md records the results.

The runs use the Hypothesis profile CI uses (`ci`: derandomised), so that what the runs vary is
the load alone and ten runs are ten of CI's runs; `HYPOTHESIS_PROFILE=dev make test-loaded` draws
new random examples each run instead (a search for wrong tests: `make test-deep` is the larger one).
"""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time


def spin() -> None:
    while True:
        pass


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 2)]
    for h in hogs:
        h.start()
    verdicts: list[str] = []
    env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
    print(f"== {len(hogs)} hogs; Hypothesis profile {env['HYPOTHESIS_PROFILE']}", flush=True)
    try:
        for i in range(1, runs + 1):
            t0 = time.monotonic()
            rc = subprocess.call([sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider"], env=env)
            verdicts.append(f"run {i}: {'green' if rc == 0 else f'RED (exit {rc})'} in {time.monotonic() - t0:.0f} s")
            print(f"== {verdicts[-1]}", flush=True)
            if rc != 0:
                return rc
        return 0
    finally:
        for h in hogs:
            h.terminate()
        for h in hogs:
            h.join()
        print("\n".join(["== summary, with a CPU hog beside each run:"] + verdicts))


if __name__ == "__main__":
    sys.exit(main())
