"""The evolution loop: hot calls -> candidates -> validation -> benchmark -> canary -> promotion.

`evolve` reads the usage log, and for each hot (name, pattern) without a candidate yet:

1. makes a candidate — from the intent mapping when the name is mapped, else by translating the
   function when it is plain Python (what cannot be translated is recorded, with its lines, as a
   rejected candidate);
2. validates it in a sandbox VM (zero mismatches or `rejected`);
3. benchmarks it at the recorded shapes (at least :data:`~noodle.ale.benchmark.MARGIN` times
   faster, or `rejected`);
4. puts it on canary (or promotes it at once with `canary=False`).

Canaries that have compared cleanly on at least `canary_calls` live calls are promoted.
"""
from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from noodle.ale import benchmark as bench
from noodle.ale.intents import intent_source
from noodle.ale.patterns import accepts, noodle_types
from noodle.ale.registry import Candidate, Registry
from noodle.ale.runner import CandidateRunner, resolve
from noodle.ale.serving import served
from noodle.ale.transpile import Untranslatable, translate
from noodle.ale.validate import GENERATED, validate
from noodle.vm.pyffi import samples as sample_codec
from noodle.vm.pyffi.kinds import array_sizes, generalise, list_lengths


@dataclass
class Options:
    #: a call is hot with at least this many calls in the log, or this much time spent in it
    min_calls: int = 100
    min_seconds: float = 0.05
    canary: bool = True
    canary_share: float = 0.1
    #: clean live comparisons a canary needs before promotion
    canary_calls: int = 20
    generated: int = GENERATED
    margin: float = bench.MARGIN
    #: for intent candidates: serve arrays and lists up to the largest recorded size (the benchmarked one)
    limit_sizes: bool = True
    #: the benchmark: seconds per timed batch, batches per side, inputs at most
    bench_seconds: float = bench.MIN_SECONDS
    bench_repeats: int = bench.REPEATS
    bench_inputs: int = 4
    #: translated functions are `@vector_math` (their loops may call vector math, a few ulps off the
    #: C library's); False (`--math exact`): their results are the VM's to the bit
    vector_math: bool = True


@dataclass
class Step:
    candidate: int
    name: str
    pattern: str
    state: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class EvolveReport:
    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"steps": [s.to_json() for s in self.steps], "skipped": self.skipped}


def project_root(db_path: Path) -> Path:
    """The program's folder: the database lives in `<root>/.noodle/ale.sqlite`."""
    return db_path.parent.parent if db_path.parent.name == ".noodle" else db_path.parent


def evolve(db_path: "str | os.PathLike[str]", sandbox_factory: Callable[[], Any], vm_factory: Callable[[], Any],
           options: Options | None = None) -> EvolveReport:
    """Run one round of evolution on the registry at `db_path`."""
    options = options or Options()
    db_path = Path(db_path)
    root = project_root(db_path)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # the program's own Python modules, as `import py` finds them
    report = EvolveReport()
    with Registry(db_path) as reg:
        _promote_canaries(reg, options, report)
        groups = _hot_groups(reg, options)
        for (name, pattern), sigs in groups.items():
            if name.startswith("noodle."):
                continue
            existing = [c for c in reg.candidates() if c.name == name and c.pattern == pattern]
            if existing:
                continue
            step = _new_candidate(reg, db_path, name, pattern, sigs, sandbox_factory, vm_factory, options)
            if step is None:
                report.skipped.append(f"{name}({pattern}): no candidate (not mapped, not plain Python, or "
                                      "an argument type Noodle has no parameter type for)")
            else:
                report.steps.append(step)
    return report


def _hot_groups(reg: Registry, options: Options) -> dict[tuple[str, str], list[tuple[str, int]]]:
    groups: dict[tuple[str, str], list[tuple[str, int]]] = {}
    spent: dict[tuple[str, str], float] = {}
    for row in reg.hot_calls(limit=1000):
        key = (row["name"], generalise(row["signature"]))
        groups.setdefault(key, []).append((row["signature"], row["calls"]))
        spent[key] = spent.get(key, 0.0) + row["total_s"]
    return {k: sorted(v, key=lambda s: -s[1]) for k, v in groups.items()
            if sum(c for _, c in v) >= options.min_calls or spent[k] >= options.min_seconds}


def _promote_canaries(reg: Registry, options: Options, report: EvolveReport) -> None:
    for c in reg.candidates(("canary",)):
        if c.canary_mismatches == 0 and c.canary_calls >= options.canary_calls:
            reg.move(c.id, "promoted", f"{c.canary_calls} live calls compared on canary without a difference")
            report.steps.append(Step(c.id, c.name, c.pattern, "promoted", f"after {c.canary_calls} clean canary calls"))


def _new_candidate(reg: Registry, db_path: Path, name: str, pattern: str, sigs: list[tuple[str, int]],
                   sandbox_factory: Callable[[], Any], vm_factory: Callable[[], Any], options: Options) -> Step | None:
    types = noodle_types(pattern)
    if types is None:
        return None
    try:
        original = resolve(name)
    except Exception as e:
        return Step(0, name, pattern, "skipped", f"cannot find the original: {e}")
    recorded = [s for s, _ in sigs]
    max_size = None
    intent = intent_source(name, pattern)
    if intent is not None:
        origin, source, entry, why = "intent", intent.source, intent.entry, f"intent mapping: {intent.intent}"
        sizes = [_size(shape) for sig in recorded for shape in array_sizes(sig)]
        sizes += [n for sig in recorded for n in list_lengths(sig)]
        if options.limit_sizes and sizes:
            max_size = max(sizes)
    elif inspect.isfunction(original):
        try:
            tr = translate(original, types, vector_math=options.vector_math)
        except Untranslatable as u:
            c = reg.propose(name, pattern, recorded[0], "transpiled", "", "", types, None, None, options.canary_share,
                            "transpiler: " + "; ".join(u.problems))
            c = reg.move(c.id, "rejected", "cannot translate: " + "; ".join(u.problems))
            return Step(c.id, name, pattern, c.state, c.reason)
        origin, source, entry, why = "transpiled", tr.source, tr.entry, f"translated from {name}"
    else:
        return None
    c = reg.propose(name, pattern, recorded[0], origin, source, entry, types, None, max_size, options.canary_share, why)
    return _qualify(reg, db_path, c, original, recorded, sandbox_factory, vm_factory, options)


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _samples_for(reg: Registry, name: str, pattern: str) -> list[tuple]:
    out = []
    for sig, args, _result, _error in reg.samples(name):
        if generalise(sig) != pattern:
            continue
        try:
            positional, kwargs = sample_codec.decode(args)
        except Exception:
            continue
        if not kwargs:
            out.append(tuple(positional))
    return out


def qualify(db_path: "str | os.PathLike[str]", cid: int, sandbox_factory: Callable[[], Any],
            vm_factory: Callable[[], Any], options: Options | None = None) -> Step:
    """Validate and benchmark a proposed candidate (by id); the same steps `evolve` takes."""
    options = options or Options()
    with Registry(db_path) as reg:
        c = reg.get(cid)
        original = resolve(c.name)
        recorded = [r["signature"] for r in reg.hot_calls(1000) if r["name"] == c.name
                    and generalise(r["signature"]) == c.pattern] or [c.signature]
        return _qualify(reg, Path(db_path), c, original, recorded, sandbox_factory, vm_factory, options)


def _qualify(reg: Registry, db_path: Path, c: Candidate, original: Any, recorded: list[str],
             sandbox_factory: Callable[[], Any], vm_factory: Callable[[], Any], options: Options) -> Step:
    folder = db_path.parent / "candidates"
    try:
        runner = CandidateRunner(sandbox_factory(), c.id, c.source, c.entry, c.params, folder)
    except Exception as e:
        c = reg.move(c.id, "rejected", f"the candidate does not compile: {_first_line(e)}")
        return Step(c.id, c.name, c.pattern, c.state, c.reason)
    samples = _samples_for(reg, c.name, c.pattern)
    v = validate(runner, original, c.pattern, samples, recorded, options.generated)
    if not v.passed:
        why = (f"{v.mismatches} mismatches in {v.samples + v.generated} inputs" if v.mismatches else
               f"too few conclusive inputs ({v.samples + v.generated} checked, {v.skipped} inconclusive)")
        if v.examples:
            why += f"; first: {v.examples[0]}"
        c = reg.move(c.id, "rejected", f"validation failed: {why}", validation=v.to_json())
        return Step(c.id, c.name, c.pattern, c.state, c.reason)
    c = reg.move(c.id, "validated", f"{v.samples} samples and {v.generated} generated inputs agree",
                 validation=v.to_json())
    live = CandidateRunner(vm_factory(), c.id, c.source, c.entry, c.params, folder)
    inputs = samples[:options.bench_inputs] or _generated_inputs(c.pattern, recorded)[:options.bench_inputs]
    r = served(c, accepts(c.pattern, c.max_size), live)  # what a call site will hold: its fast entry, if any
    b = bench.benchmark(original, r.fast or r.entry, inputs, options.bench_seconds, options.bench_repeats,
                        positional=r.fast is not None)
    if b.inputs == 0 or b.speedup < options.margin:
        c = reg.move(c.id, "rejected", f"not faster: {b.speedup:.2f}x the original at the recorded shapes "
                                       f"(needs {options.margin:.2f}x)", benchmark=b.to_json(), speedup=b.speedup)
        return Step(c.id, c.name, c.pattern, c.state, c.reason)
    if options.canary:
        c = reg.move(c.id, "canary", f"{b.speedup:.1f}x faster; on canary for {c.canary_share:.0%} of live calls",
                     benchmark=b.to_json(), speedup=b.speedup)
    else:
        c = reg.move(c.id, "promoted", f"{b.speedup:.1f}x faster; promoted without canary",
                     benchmark=b.to_json(), speedup=b.speedup)
    return Step(c.id, c.name, c.pattern, c.state, c.reason)


def _generated_inputs(pattern: str, recorded: list[str]) -> list[tuple]:
    """A few inputs at the recorded shapes, for the benchmark when nothing was captured."""
    from hypothesis import HealthCheck, Phase, given, settings

    from noodle.ale.validate import inputs

    found: list[tuple] = []
    shapes = [array_sizes(s) for s in recorded]

    @settings(max_examples=30, database=None, derandomize=True, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(inputs(pattern, recorded[:1], []))
    def collect(args: tuple) -> None:
        shape = [a.shape for a in args if type(a).__name__ == "ndarray"]
        if not shapes or not shapes[0] or shape == shapes[0]:
            if len(found) < 4:
                found.append(args)

    collect()
    return found


def _first_line(e: BaseException) -> str:
    render = getattr(e, "render", None)
    text = render() if callable(render) else str(e)
    return text.splitlines()[0] if text else type(e).__name__
