"""Golden IR: for each input in tests/golden/ir/, the IR as lowered and after each pass (-O1).

The expected text is what `noodlec NAME.nd --emit ir-passes` prints, kept in NAME.ir beside the
input, so a change to a pass shows in review as a change to these files.  After an intended
change, rewrite them with `make golden` (NOODLE_UPDATE_GOLDEN=1) and read the diff.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from noodle.build.driver import PassTrace, compile_source
from helpers import HANG_S

GOLDEN = Path(__file__).resolve().parent / "golden" / "ir"
INPUTS = sorted(GOLDEN.glob("*.nd"))
UPDATE = os.environ.get("NOODLE_UPDATE_GOLDEN") == "1"


def trace(path: Path) -> str:
    passes = PassTrace()
    compile_source(path.read_text(encoding="utf-8"), path.name, path.stem, observe_passes=passes)
    return passes.text()


@pytest.mark.parametrize("path", INPUTS, ids=[p.stem for p in INPUTS])
def test_ir_after_each_pass_is_as_recorded(path: Path) -> None:
    got = trace(path)
    expected_file = path.with_suffix(".ir")
    if UPDATE:
        expected_file.write_text(got, encoding="utf-8")
    assert expected_file.exists(), f"no {expected_file.name}: run `make golden` and review it"
    assert got == expected_file.read_text(encoding="utf-8")


def test_the_inputs_show_every_pass_at_work() -> None:
    """Each pass that rewrites code (fold is done by the checker as it lowers) changes some input."""
    changed = set()
    for path in INPUTS:
        changed |= set(re.findall(r"^== after (\w+) ==$", path.with_suffix(".ir").read_text(), re.M))
    assert {"dce", "ranges", "intents", "outline", "parallel"} <= changed


def test_the_trace_is_what_noodlec_prints() -> None:
    import subprocess
    import sys

    path = INPUTS[0]
    out = subprocess.run([str(Path(sys.executable).parent / "noodlec"), path.name, "--emit", "ir-passes"],
                         capture_output=True, text=True, timeout=HANG_S, cwd=path.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout == trace(path)
