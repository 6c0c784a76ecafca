"""Validation: the candidate against the original, on captured samples and on generated inputs.

Inputs: every captured sample whose signature fits the candidate's pattern, then inputs that
hypothesis generates at the recorded types and shapes — the recorded shapes themselves, and empty
and odd sizes (0, 1, 3, 7) in the same arrangement (arguments that had the same length keep the
same length); floats with edge values (0, -0, ±1, tiny and huge, nan, ±inf); ints around the
recorded ones and small ones.  The candidate runs in the sandbox VM it is given (limits, no
capabilities); the original runs here, on its own copy of the inputs, and an input it takes more
than :data:`~noodle.ale.runner.ORIGINAL_SECONDS` on is skipped.  The rule is
:func:`noodle.ale.compare.differs`: zero mismatches, or the candidate is rejected (validation stops
at the first mismatch).  An input on which the candidate runs past the sandbox's limits is
inconclusive, like one the original is too slow on; more inconclusive inputs than checked ones
fail validation.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from noodle.ale.compare import REL_TOL, ABS_TOL, differs
from noodle.ale.patterns import DTYPE_ELEMS, split
from noodle.ale.runner import CandidateRunner, original_outcome
from noodle.vm.pyffi.kinds import array_sizes, generalise

#: generated inputs per candidate (after the samples)
GENERATED = 60

EDGE_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, 1e-300, 1e300, -1e300, float("nan"), float("inf"), float("-inf")]


@dataclass
class Validation:
    samples: int = 0
    generated: int = 0
    skipped: int = 0
    mismatches: int = 0
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tolerance: str = f"floats within {REL_TOL:g} relative or {ABS_TOL:g} absolute; ints exactly"

    @property
    def passed(self) -> bool:
        """No mismatch, and more inputs checked than left inconclusive."""
        checked = self.samples + self.generated
        return self.mismatches == 0 and checked > 0 and self.skipped <= checked

    def to_json(self) -> dict[str, Any]:
        return {"samples": self.samples, "generated": self.generated, "skipped": self.skipped,
                "mismatches": self.mismatches, "examples": self.examples, "seconds": round(self.seconds, 3),
                "tolerance": self.tolerance, "passed": self.passed}


def validate(runner: CandidateRunner, original: Callable[..., Any], pattern: str, samples: list[tuple],
             recorded: list[str], generated: int = GENERATED) -> Validation:
    """Compare on `samples` (argument tuples) and on `generated` inputs shaped like the `recorded`
    signatures."""
    t0 = time.perf_counter()
    result = Validation()

    def check(args: tuple, origin: str) -> None:
        if result.mismatches:
            return  # one mismatch decides; the rest would only cost time
        expected = original_outcome(original, args)
        if expected is None:
            result.skipped += 1
            return
        got = runner.outcome(args)
        if got.error == "LimitExceeded":  # the sandbox's time budget, not a wrong answer: inconclusive
            result.skipped += 1
            return
        if origin == "sample":
            result.samples += 1
        else:
            result.generated += 1
        why = differs(expected, got)
        if why is not None:
            result.mismatches += 1
            result.examples.append(f"{_show_args(args)}: {why}")

    for args in samples:
        check(args, "sample")
    if generated and not result.mismatches:
        _generate(pattern, recorded, samples, generated, lambda args: check(args, "generated"))
    result.seconds = time.perf_counter() - t0
    return result


def _show_args(args: tuple) -> str:
    text = ", ".join(_short(a) for a in args)
    return f"({text})"


def _short(a: Any) -> str:
    if type(a).__name__ == "ndarray":
        return f"ndarray<{a.dtype}>{list(a.shape)}"
    text = repr(a)
    return text if len(text) <= 30 else text[:27] + "..."


def _generate(pattern: str, recorded: list[str], samples: list[tuple], n: int, check: Callable[[tuple], None]) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    strategy = inputs(pattern, recorded, samples)

    @settings(max_examples=n, database=None, derandomize=True, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(strategy)
    def run(args: tuple) -> None:
        check(args)

    run()  # never fails: mismatches are counted, not raised (no replay, no shrinking)


def inputs(pattern: str, recorded: list[str], samples: list[tuple]) -> Any:
    """A hypothesis strategy of argument tuples for `pattern`."""
    import numpy as np
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    kinds = split(pattern)
    shape_sets = [array_sizes(sig) for sig in recorded if generalise(sig) == pattern] or [[]]
    arrays_at = [i for i, k in enumerate(kinds) if k.startswith("ndarray<")]
    odd: list[list[tuple[int, ...]]] = []
    for shapes in shape_sets[:3]:
        for size in (0, 1, 3, 7):
            odd.append([_resize(s, shapes, size) for s in shapes])
    ints_seen = sorted({a for args in samples for a in args if type(a) is int})
    lens_seen = sorted({len(a) for args in samples for a in args if type(a) is list})

    def scalar(kind: str) -> Any:
        if kind == "float":
            return st.one_of(st.sampled_from(EDGE_FLOATS), st.floats(-1e6, 1e6), st.floats(width=64))
        if kind == "int":
            seen = st.sampled_from(ints_seen) if ints_seen else st.nothing()
            return st.one_of(seen, st.integers(-3, 60), st.sampled_from([0, 1, -1, 2, 1000]))
        if kind == "bool":
            return st.booleans()
        if kind == "str":
            return st.text(max_size=8)
        raise ValueError(kind)

    def element(dtype: str) -> Any:
        if dtype.startswith("float"):
            return st.one_of(st.sampled_from(EDGE_FLOATS), st.floats(-1e3, 1e3, width=64 if dtype == "float64" else 32))
        if dtype == "bool":
            return st.booleans()
        return st.integers(-1000, 1000)

    def one(kind: str, shape: tuple[int, ...] | None) -> Any:
        if kind.startswith("ndarray<"):
            dtype = kind[len("ndarray<"):kind.index(">")]
            assert dtype in DTYPE_ELEMS
            return hnp.arrays(np.dtype(dtype), shape or (3,), elements=element(dtype))
        if kind.startswith("list<"):
            inner = kind[5:-1]
            top = max(lens_seen + [12])
            return st.lists(scalar(inner) if inner in ("int", "float", "bool", "str") else st.nothing(),
                            max_size=min(top, 64))
        return scalar(kind)

    @st.composite
    def args(draw: Any) -> tuple:
        shapes = draw(st.sampled_from(shape_sets + odd)) if arrays_at else []
        out = []
        for i, kind in enumerate(kinds):
            shape = shapes[arrays_at.index(i)] if i in arrays_at and arrays_at.index(i) < len(shapes) else None
            out.append(draw(one(kind, shape)))
        return tuple(out)

    return args()


def _resize(shape: tuple[int, ...], shapes: list[tuple[int, ...]], size: int) -> tuple[int, ...]:
    """`shape` with every dimension replaced by `size` (all arguments alike, so they still fit
    together where they did)."""
    return tuple(size for _ in shape)
