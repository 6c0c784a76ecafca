"""Recording overhead on a call into Python: `math.sqrt` through the FFI, recording off and on.

The bar (issue 12): what recording adds to a call is under 10% of a `math.sqrt` call's own cost
through the FFI (the call with recording off).  Prints medians of several repeats; run it on a
quiet machine for figures to quote (`python bench/ale_overhead.py`).
"""
from __future__ import annotations

import math
import statistics
import tempfile
import timeit
from pathlib import Path

from noodle.vm.pyffi import recorder, sites

N = 200_000
REPEATS = 15


def per_call_ns(site: sites.CallSite) -> float:
    call, sqrt = sites.call, math.sqrt
    args = (2.0,)
    return min(timeit.repeat(lambda: call(site, sqrt, args), number=N, repeat=1)) / N * 1e9


def main() -> None:
    raw = statistics.median(min(timeit.repeat(lambda: math.sqrt(2.0), number=N, repeat=1)) / N * 1e9
                            for _ in range(REPEATS))
    recorder.stop()
    off_site = sites.CallSite("bench:1")
    with tempfile.TemporaryDirectory() as d:
        rec = recorder.start(Path(d) / "ale.sqlite", "bench")
        on_site = sites.CallSite("bench:2")
        off, on = [], []
        for _ in range(REPEATS):  # interleaved, so that load from elsewhere hits both alike
            recorder.RECORDER = None
            off.append(per_call_ns(off_site))
            recorder.RECORDER = rec
            on.append(per_call_ns(on_site))
        recorder.stop()
        # what a sampled call costs on its own (signature, clock, aggregation), spread over the period
        rec = recorder.start(Path(d) / "ale2.sqlite", "bench")
        probe = sites.CallSite("bench:3")
        sites.call(probe, math.sqrt, (2.0,))
        sampled = min(timeit.repeat(lambda: sites._sampled(probe, math.sqrt, math.sqrt, 0, (2.0,), None),
                                    number=20_000, repeat=5)) / 20_000 * 1e9
        recorder.stop()
    m_off, m_on = statistics.median(off), statistics.median(on)
    print(f"math.sqrt called directly from Python: {raw:7.1f} ns")
    print(f"through the FFI, recording off:        {m_off:7.1f} ns")
    print(f"through the FFI, recording on:         {m_on:7.1f} ns")
    print(f"recording adds {m_on - m_off:+.1f} ns = {100 * (m_on - m_off) / m_off:+.1f}% of the call's own cost "
          f"(bar: < 10%)")
    period = recorder.DEFAULT_PERIOD
    print(f"a sampled call costs {sampled:.0f} ns; one call in {period} is sampled: {sampled / period:.1f} ns per call "
          f"= {100 * sampled / period / m_off:.1f}% of the call through the FFI, "
          f"{100 * sampled / period / raw:.1f}% of math.sqrt called directly")


if __name__ == "__main__":
    main()
