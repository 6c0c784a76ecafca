"""examples/ale end to end, as a user runs it: `noodle run` several times, `noodle ale evolve`,
canary runs, `evolve` again; the plain-Python functions end up promoted, every later run prints
exactly what the first one printed, and the replacements served its calls."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import HANG_S

ROOT = Path(__file__).resolve().parent.parent


def native_code() -> bool:
    """Can this process run the candidates natively (llvmlite, and a BLAS for `dot`)?"""
    try:
        import llvmlite  # noqa: F401

        from noodle.backends.llvm import blas, pyentry
        blas.library()
    except ImportError:
        return False
    return pyentry.layout_matches()
NOODLE = [sys.executable, "-c", "from noodle.tools.cli import main; main()"]


def noodle(*args: str, cwd: Path) -> str:
    env = {**os.environ, "NOODLE_ALE_DB": str(cwd / ".noodle" / "ale.sqlite")}
    proc = subprocess.run(NOODLE + list(args), cwd=cwd, capture_output=True, text=True, timeout=HANG_S, env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


@pytest.fixture
def example(tmp_path: Path) -> Path:
    dest = tmp_path / "ale"
    shutil.copytree(ROOT / "examples" / "ale", dest, ignore=shutil.ignore_patterns(".noodle", "__noodlecache__",
                                                                                  "__pycache__", ".hypothesis"))
    return dest


def test_the_example_evolves_and_prints_the_same(example: Path) -> None:
    first = noodle("run", "--ale-capture", "main.nd", cwd=example)
    for _ in range(2):
        assert noodle("run", "--ale-capture", "main.nd", cwd=example) == first
    evolve = ["ale", "evolve", "--json", "--canary-share", "1.0", "--canary-calls", "20", "--examples", "15",
              "--min-seconds", "0.01"]
    steps = json.loads(noodle(*evolve, cwd=example))["steps"]
    states = {s["name"]: s["state"] for s in steps}
    for fn in ("physics.integrate", "physics.longest_collatz", "physics.roughness"):
        assert states.get(fn) == "canary", steps
    assert noodle("run", "main.nd", cwd=example) == first  # canary: the original's results, compared
    steps = json.loads(noodle(*evolve, cwd=example))["steps"]
    assert {s["name"] for s in steps if s["state"] == "promoted"} >= {
        "physics.integrate", "physics.longest_collatz", "physics.roughness"}
    assert noodle("run", "main.nd", cwd=example) == first  # served by the replacements now
    cands = json.loads(noodle("ale", "candidates", "--json", cwd=example))
    by_name = {c["name"]: c for c in cands}
    for fn in ("physics.integrate", "physics.longest_collatz", "physics.roughness"):
        c = by_name[fn]
        assert c["origin"] == "transpiled" and c["validation"]["mismatches"] == 0 and c["speedup"] > 1.1
    dot = by_name["numpy.dot"]  # the pilot: mapped to the `dot` intent and validated; promoted only if faster
    assert dot["origin"] == "intent" and dot["validation"]["passed"]
    if native_code():  # timed as sites serve it: its machine code alone (tests/test_ale_serving.py: the mechanism)
        assert dot["benchmark"]["entry"] == "native", dot
    assert dot["state"] in ("canary", "promoted") or "not faster" in dot["reason"] or "slowdown" in dot["reason"]
    mean = by_name["numpy.mean"]  # NumPy on Noodle Lists: pairwise summation, the same to the bit
    assert mean["origin"] == "intent" and mean["pattern"] == "list<float>" and mean["validation"]["passed"]
    assert mean["validation"]["mismatches"] == 0
    assert mean["state"] in ("canary", "promoted") or "not faster" in mean["reason"] or "slowdown" in mean["reason"]
    conn = sqlite3.connect(example / ".noodle" / "ale.sqlite")
    served = dict(conn.execute("SELECT name, SUM(calls) FROM calls WHERE via != 0 GROUP BY name").fetchall())
    conn.close()
    assert served.get("physics.longest_collatz", 0) >= 20 and served.get("physics.roughness", 0) >= 20
    page = example / "report.html"
    noodle("ale", "report", "--html", str(page), cwd=example)
    assert "physics.roughness" in page.read_text()
