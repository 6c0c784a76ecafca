"""Fused elementwise maps against NumPy's one-pass-per-operation, by array size.

    .venv/bin/python bench/fusion.py [--repeat 9]

`let c = a * b + 2.0 * a - b` in a Noodle function: with fusion forced on at every size (one
native loop, no temporaries) and forced off (NumPy's four passes and three temporaries), each
timed as a call from Python after a warm-up (medians).  The crossover is where
`noodle.ir.variants.THRESHOLDS["map.fused"]` (`noodle tune` measures it) should sit on this machine.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SOURCE = "fn f(a: Array<float>, b: Array<float>) -> Array<float> {\n let c = a * b + 2.0 * a - b\n return c\n}\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    import numpy

    from native import median_time  # bench/native.py: the same timing rule

    from noodle.ir.variants import NEVER, forced
    from noodle.build.driver import compile_source
    from noodle.vm.machine import Machine

    _, module = compile_source(SOURCE, "fusion.nd", "fusion")
    f = Machine(backend="auto").load(module).functions["f"]
    print(f"{'elements':>10} {'fused':>10} {'numpy':>10} {'fused/numpy':>12}")
    for n in (64, 256, 1024, 4096, 16384, 65536, 1 << 20, 1 << 23):
        a, b = numpy.random.default_rng(1).random(n), numpy.random.default_rng(2).random(n)
        with forced("map.fused", 0):
            fused = median_time(f, (a, b), args.repeat)
        with forced("map.fused", NEVER):
            numpy_s = median_time(f, (a, b), args.repeat)
        print(f"{n:>10} {fused * 1e6:>8.1f}us {numpy_s * 1e6:>8.1f}us {fused / numpy_s:>11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
