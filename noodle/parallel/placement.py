"""Where a map runs: a cost model over measured figures.

For each call the runner measures the work (elements left, seconds per element of `f` sampled on
the first elements, bytes per element) and each target reports its overheads (start-up if it is
not running yet, a round trip per task, seconds per byte moved); the estimate of a target is

    start-up + rounds * per-task overhead + bytes * per-byte + elements * seconds-per-element / workers

with `rounds` the tasks each worker runs in turn.  A map is cut by :func:`chunk_sizes` ("guided"
chunks: large first, shrinking to one element, so few messages travel and the last chunks are too
small to leave a core idle while another finishes).  The cheapest estimate wins; inline (no overhead,
one worker) is always a candidate, so a map too small to pay any overhead stays where it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Work:
    """What is left to run after sampling."""

    elements: int
    seconds_per_element: float
    bytes_per_element: float = 0.0


@dataclass(frozen=True, slots=True)
class TargetCost:
    """A target's measured (or, before its first use, assumed) overheads."""

    name: str
    workers: int
    startup_s: float = 0.0
    per_task_s: float = 0.0
    per_byte_s: float = 0.0
    #: where the figures come from ("measured", "assumed until first use")
    source: str = "measured"

    def chunks_for(self, work: Work) -> list[int]:
        """The chunks a map is cut into (see :func:`chunk_sizes`): none smaller than the elements whose
        work pays one task's overhead."""
        smallest = 1
        if work.seconds_per_element > 0:
            smallest = max(1, min(work.elements, math.ceil(self.per_task_s / work.seconds_per_element)))
        return chunk_sizes(work.elements, self.workers, smallest)

    def tasks_for(self, work: Work) -> int:
        return len(self.chunks_for(work))

    def estimate(self, work: Work) -> float:
        tasks = self.tasks_for(work)
        rounds = math.ceil(tasks / self.workers)
        compute = work.elements * work.seconds_per_element / self.workers
        moved = work.elements * work.bytes_per_element * 2  # there and back
        return self.startup_s + rounds * self.per_task_s + moved * self.per_byte_s + compute


INLINE = TargetCost("inline", 1)

#: a chunk is 1/(GUIDED * workers) of the elements still unassigned when it is cut
GUIDED = 2


def chunk_sizes(elements: int, workers: int, smallest: int = 1) -> list[int]:
    """Guided self-scheduling: each chunk takes 1/(2 * workers) of what is left, at least `smallest`.

    Workers take chunks in order as they free up, so the big early chunks keep messages few and the
    shrinking last ones even out the finish (one worker is idle at most one small chunk's time)."""
    sizes: list[int] = []
    left = elements
    while left > 0:
        size = min(left, max(smallest, 1, -(-left // (GUIDED * max(workers, 1)))))
        sizes.append(size)
        left -= size
    return sizes


@dataclass(frozen=True, slots=True)
class Decision:
    target: str
    estimates: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def choose(work: Work, targets: list[TargetCost], with_inline: bool = True) -> Decision:
    """The cheapest target for `work` (inline included unless `with_inline` is false and there are
    targets), with every estimate and the reason."""
    candidates = ([INLINE] if with_inline or not targets else []) + [t for t in targets if t.name != "inline"]
    estimates = {t.name: t.estimate(work) for t in candidates}
    best = min(candidates, key=lambda t: (estimates[t.name], t.name != "inline"))
    others = ", ".join(f"{n} {_s(s)}" for n, s in estimates.items())
    reason = (f"{work.elements} elements at {_s(work.seconds_per_element)} each; estimates: {others}")
    if best.name != "inline":
        reason += f"; {best.name} has {best.workers} workers ({best.source} overheads: start {_s(best.startup_s)}, " \
                  f"{_s(best.per_task_s)} per task)"
    return Decision(best.name, estimates, reason)


def _s(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"
