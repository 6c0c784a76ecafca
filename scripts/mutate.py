"""Mutation testing of the critical modules with mutmut: `make mutate [MODULE=path] [FUNCS=glob]`.

mutmut plants small bugs (an operator, a constant, a comparison) in one function at a time and runs
the tests that reach that function; a mutant the tests still pass on "survived" and marks a missing
test (or an equivalent change).  Each critical module is run with the test files that exercise it,
listed here, so a module takes minutes, not the whole suite per mutant.

    python scripts/mutate.py noodle/vm/convert.py          # one module
    python scripts/mutate.py noodle/vm/translate.py 'noodle.vm.translate.x_checked*'   # some functions
    python scripts/mutate.py                                # every critical module, smallest first
    python scripts/mutate.py --scores                      # the scores of what has run (.mutmut/)

The scores go in docs/testing.md by hand, with the survivors explained.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

#: module -> the test files that exercise it (kept small: each mutant runs those of them that reach it)
CRITICAL: dict[str, list[str]] = {
    "noodle/vm/convert.py": ["tests/test_convert.py", "tests/test_embedding.py"],
    "noodle/format/module_file.py": ["tests/test_module_file.py", "tests/test_cache.py"],
    # test_cache.py runs `noodle run` in a subprocess, which mutants never reach: the in-process
    # checks of the cache's rules are test_cache_entries.py
    "noodle/format/cache.py": ["tests/test_cache_entries.py", "tests/test_cache.py"],
    "noodle/vm/cache.py": ["tests/test_cache_entries.py", "tests/test_cache.py"],
    "noodle/format/hashing.py": ["tests/test_cache_entries.py", "tests/test_cache.py", "tests/test_module_file.py"],
    # the meter's rules, checked directly; the whole programs of test_trust_limits.py, test_embedding.py
    # and test_runtime.py reach Meter.start/refill too, and made each surviving mutant run 6 minutes
    "noodle/vm/limits.py": ["tests/test_limits_rules.py", "tests/test_meter_native.py"],
    # the cost rules, checked directly; test_embedding.py and test_trust_limits.py reach the metered
    # operators only through whole programs: a surviving mutant of `helpers` ran them for 6 minutes
    "noodle/vm/metering.py": ["tests/test_metering.py", "tests/test_limits_rules.py"],
    # the intent guards: their rule-by-rule cases (in-process, a second a file); test_loop_intents.py,
    # test_intents.py and test_sweeps.py run the variants natively against their loops (minutes)
    "noodle/ir/intents/__init__.py": ["tests/test_intent_guards.py", "tests/test_loop_facts.py"],
    "noodle/ir/intents/access.py": ["tests/test_intent_guards.py", "tests/test_loop_facts.py"],
    "noodle/ir/intents/loop_facts.py": ["tests/test_loop_facts.py", "tests/test_intent_guards.py"],
    "noodle/ir/intents/dot.py": ["tests/test_intent_guards.py", "tests/test_loop_facts.py"],
    "noodle/ir/intents/stencil.py": ["tests/test_intent_guards.py", "tests/test_loop_facts.py"],
    "noodle/ir/intents/sweeps.py": ["tests/test_sweep_guard.py"],
    # test_sweeps.py runs its sweeps natively (minutes a run under load): the guard's own cases are
    # test_nest_guard.py, and the parallel pass reaches it in-process from test_parallel.py
    "noodle/ir/nest.py": ["tests/test_nest_guard.py", "tests/test_parallel.py"],
    "noodle/ir/passes/ranges.py": ["tests/test_ranges_facts.py", "tests/test_ranges.py"],
    "noodle/host/embed.py": ["tests/test_upgrade.py", "tests/test_upgrade_gate.py", "tests/test_embedding.py"],
    # test_arithmetic.py and test_native.py too would take hours: test_native_arith.py is every
    # operation at its edges against Python's answer, in one module compiled once (both backends)
    "noodle/vm/translate.py": ["tests/test_translate.py", "tests/test_native_arith.py"],
    "noodle/backends/llvm/lower.py": ["tests/test_native_arith.py"],
    "noodle/vm/verify.py": ["tests/test_verify.py"],
}

KILLED = {1, 3, -11, -9, -8, -6, -4}  # a failing test, pytest's internal error, a crash (SEGV, KILL, FPE: native
# `MIN // -1` unchecked, ABRT: LLVM refusing bad IR, ILL): the test run failed, as it would in CI
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUT = {36, -24, 24, 152, 255}


#: what a module's work folder links to: the package, the tests and the files the tests read
LINKED = ["noodle", "tests", "examples", "bench", "docs", "README.md", "Makefile", "pyproject.toml"]
ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutmut"


def workdir(module: str) -> Path:
    """A folder of its own for `module` (mutmut keeps its copy and results in `mutants/` beside it,
    and would not mutate a file again that an earlier run of another module copied unmutated)."""
    folder = WORK / module.replace("/", ".").removesuffix(".py")
    folder.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = folder / name
        if not link.exists() and (ROOT / name).exists():
            link.symlink_to(ROOT / name)
    return folder


def timeout_multiplier() -> float | None:
    """`MUTATE_TIMEOUT=25` stretches mutmut's time limits (pyproject.toml's `timeout_multiplier`).

    mutmut gives a mutant's tests a wall-clock limit of a few times their measured duration; on a
    machine busy with other work (and this run at low priority) that limit is reached by mutants
    that do not hang at all, which would count them as caught.  A larger multiplier leaves only
    real hangs to the timeout; changing it makes mutmut test the timed-out mutants again.
    """
    value = os.environ.get("MUTATE_TIMEOUT")
    return float(value) if value else None


def run(module: str, names: list[str]) -> int:
    """mutmut on `module` alone with its tests (a child process: mutmut's configuration is global).

    `MUTATE_CHILDREN=1` runs one mutant at a time (2 by default)."""
    children = int(os.environ.get("MUTATE_CHILDREN", "2"))
    code = (
        "import sys\n"
        "from mutmut import configuration\n"
        "cfg = configuration.config()\n"
        f"cfg.only_mutate = [{module!r}]\n"
        f"cfg.pytest_add_cli_args_test_selection = {CRITICAL[module]!r}\n"
        f"cfg.timeout_multiplier = {timeout_multiplier()!r} or cfg.timeout_multiplier\n"
        "from mutmut.__main__ import cli\n"
        f"cli(['run', '--max-children', '{children}', *{names!r}])\n"
    )
    # derandomised property tests (tests/conftest.py's `ci` profile): a mutant's verdict must not
    # depend on the examples drawn, nor on failures an earlier mutant left in an example database
    env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
    return subprocess.call([sys.executable, "-c", code], cwd=workdir(module), env=env)


def scores() -> dict[str, Counter]:
    """Per module, how many mutants were killed, survived, had no test, timed out (from mutants/)."""
    out: dict[str, Counter] = {}
    for module in CRITICAL:
        meta = workdir(module) / "mutants" / (module + ".meta")
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        c: Counter = Counter()
        for code in codes.values():
            c["killed" if code in KILLED else "survived" if code in SURVIVED else "no tests" if code in NO_TESTS
              else "timeout" if code in TIMEOUT else "not run" if code is None else "other"] += 1
        out[module] = c
    return out


def print_scores() -> None:
    print(f"{'module':34} {'mutants':>7} {'killed':>6} {'timeout':>7} {'survived':>8} {'no test':>7} {'score':>6}"
          f" {'not run':>7}")
    for module, c in scores().items():
        total = sum(c.values()) - c["not run"]
        if not total:
            continue
        caught = c["killed"] + c["timeout"]  # a mutant that hangs the tests is caught by the timeout
        score = f"{100 * caught / total:.0f}%" if total else "-"
        print(f"{module:34} {total:7} {c['killed']:6} {c['timeout']:7} {c['survived']:8} {c['no tests']:7} {score:>6}"
              f" {c['not run']:7}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--scores"]:
        print_scores()
        return 0
    if argv and argv[0] not in CRITICAL:
        print(f"not a critical module: {argv[0]} (one of: {', '.join(CRITICAL)})", file=sys.stderr)
        return 2
    modules = argv[:1] or sorted(CRITICAL, key=lambda m: Path(m).stat().st_size)
    status = 0
    for module in modules:
        status |= run(module, argv[1:])
    print_scores()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
