"""The benchmark: the candidate as live calls would run it, against the original, at recorded shapes.

Each side is timed on the same inputs (captured samples where there are some, else inputs
generated at the recorded shapes), each input called enough times in a row to take at least
:data:`MIN_SECONDS`, best of :data:`REPEATS`; the figure per side is the sum over inputs.  The
candidate's side is the very entry a call site holds once the candidate serves
(:func:`noodle.ale.serving.served`): the pattern's guard, any argument conversion and the call.
What the site does around it (the version check, the countdown) is the same for both sides.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

MIN_SECONDS = 0.01
REPEATS = 5
#: a candidate must be at least this much faster to go forward
MARGIN = 1.1


@dataclass
class Benchmark:
    original_ns: float
    candidate_ns: float
    inputs: int
    #: how the candidate's side ran: "native" (its machine code, checked in C) or "python" (a compiled
    #: guard and a call)
    entry: str = "python"

    @property
    def speedup(self) -> float:
        return self.original_ns / self.candidate_ns if self.candidate_ns > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"original_ns": round(self.original_ns, 1), "candidate_ns": round(self.candidate_ns, 1),
                "inputs": self.inputs, "speedup": round(self.speedup, 3), "margin": MARGIN, "entry": self.entry}


def per_call_ns(fn: Callable[[], Any], min_seconds: float = MIN_SECONDS, repeats: int = REPEATS) -> float:
    """The best time of one call of `fn` (which must not fail)."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_seconds or number >= 1 << 20:
            break
        number *= 2 if dt <= 0 else max(2, min(10, int(min_seconds / dt * 1.2) + 1))
    best = dt / number
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best * 1e9


def benchmark(original: Callable[..., Any], entry: Callable[..., Any], inputs: list[tuple],
              min_seconds: float = MIN_SECONDS, repeats: int = REPEATS, positional: bool = False) -> Benchmark:
    """Time both sides on every input of `inputs` on which the original does not raise and that the
    entry serves (it returns :data:`~noodle.vm.pyffi.replacements.MISS` for one it does not).
    `entry(original, args, None)` serves a call, or `entry(*args)` when `positional` (machine code
    checking its arguments itself), as a call site calls it."""
    from noodle.vm.pyffi.replacements import MISS

    total_o = total_c = 0.0
    used = 0
    for args in inputs:
        try:
            original(*args)
            first = entry(*args) if positional else entry(original, args, None)
            if first is MISS:  # also warms it: the first call compiles native code
                continue
        except Exception:
            continue
        total_o += per_call_ns(lambda: original(*args), min_seconds, repeats)
        if positional:
            total_c += per_call_ns(lambda: entry(*args), min_seconds, repeats)
        else:
            total_c += per_call_ns(lambda: entry(original, args, None), min_seconds, repeats)
        used += 1
    return Benchmark(total_o, total_c, used, "native" if positional else "python")
