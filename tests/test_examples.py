"""Golden example programs: every examples/NAME.nd is run with the real installed `noodle`
command and its behaviour compared with the expectation files next to it.

    NAME.out        exact stdout of `noodle run NAME.nd`
    NAME.code       exit status of `noodle run NAME.nd` (default 0)
    NAME.err        prefix of the first line of stderr of `noodle run NAME.nd`
    NAME.stack      lines that must each occur, in this order, inside stderr lines
                    (frames of the Noodle stack, e.g. `at main (fail_throw.nd:15:`)
    NAME.test.out   exact stdout of `noodle test NAME.nd`
    NAME.test.code  exit status of `noodle test NAME.nd` (default 0)

The commands run with examples/ as the working directory, so paths in diagnostics and stack
frames are relative to it (`bad_type.nd:9:18: error[E0200]`). Files under examples/modlib/ are
library modules imported by the examples and are not run on their own.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOODLE = Path(sys.executable).parent / "noodle"
#: only a hang reaches it: `make test-loaded` at low priority took the OpenCL example past 60 s
TIMEOUT_S = 600

RUN_SUFFIXES = (".out", ".code", ".err", ".stack")
TEST_SUFFIXES = (".test.out", ".test.code")


def _programs() -> list[Path]:
    return sorted(EXAMPLES.glob("*.nd"))


def _cases() -> list:
    cases = []
    for nd in _programs():
        stem = nd.stem
        if any((EXAMPLES / f"{stem}{s}").exists() for s in RUN_SUFFIXES):
            cases.append(pytest.param("run", nd.name, id=f"run-{stem}"))
            # the same program with every function in the VM: both backends must give the same output
            cases.append(pytest.param("run-vm", nd.name, id=f"run-vm-{stem}"))
            # every recognised loop on OpenCL wherever a kernel can run it (PoCL in CI): the same output
            cases.append(pytest.param("run-opencl", nd.name, id=f"run-opencl-{stem}"))
        if any((EXAMPLES / f"{stem}{s}").exists() for s in TEST_SUFFIXES):
            cases.append(pytest.param("test", nd.name, id=f"test-{stem}"))
    return cases


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def _run(command: str, name: str) -> subprocess.CompletedProcess:
    assert NOODLE.exists(), f"the noodle command is not installed next to {sys.executable}"
    env = dict(os.environ)
    env.update({"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8",
                "NOODLE_BACKEND": command[4:] if command.startswith("run-") else "auto"})
    return subprocess.run(
        [str(NOODLE), "run" if command.startswith("run-") else command, name],
        cwd=EXAMPLES,
        capture_output=True,
        timeout=TIMEOUT_S,
        env=env,
    )


@pytest.mark.parametrize(("command", "name"), _cases())
def test_example(command: str, name: str) -> None:
    stem = name[: -len(".nd")]
    prefix = stem if command.startswith("run") else f"{stem}.test"
    proc = _run(command, name)
    stdout = proc.stdout.decode("utf-8", errors="replace")
    if command == "test":  # the summary's time is the one part that changes from run to run
        stdout = re.sub(r" in \d+\.\d\ds\n\Z", " in TIME\n", stdout)
    stderr = proc.stderr.decode("utf-8", errors="replace")
    context = f"\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"

    assert "Traceback (most recent call last)" not in stderr, "a Python traceback reached the user" + context

    expected_out = _read(EXAMPLES / f"{prefix}.out")
    if expected_out is not None:
        assert stdout == expected_out, f"stdout of `noodle {command} {name}` differs" + context

    code_text = _read(EXAMPLES / f"{prefix}.code")
    expected_code = int(code_text.strip()) if code_text is not None else 0
    assert proc.returncode == expected_code, (
        f"`noodle {command} {name}` exited {proc.returncode}, expected {expected_code}" + context
    )

    if command.startswith("run"):
        expected_err = _read(EXAMPLES / f"{stem}.err")
        if expected_err is not None:
            first_line = stderr.splitlines()[0] if stderr else ""
            assert first_line.startswith(expected_err.strip("\n")), (
                f"first stderr line {first_line!r} does not start with {expected_err.strip()!r}" + context
            )
        expected_stack = _read(EXAMPLES / f"{stem}.stack")
        if expected_stack is not None:
            lines = stderr.splitlines()
            pos = 0
            for frame in [f for f in expected_stack.splitlines() if f.strip()]:
                while pos < len(lines) and frame not in lines[pos]:
                    pos += 1
                assert pos < len(lines), f"stack frame {frame!r} missing or out of order in stderr" + context
                pos += 1


def test_every_program_has_expectations() -> None:
    """A golden program without expectation files would silently test nothing."""
    missing = [nd.name for nd in _programs()
               if not any((EXAMPLES / f"{nd.stem}{s}").exists() for s in RUN_SUFFIXES + TEST_SUFFIXES)]
    assert not missing, f"programs without .out/.test.out/.code/.err: {missing}"


def test_every_expectation_has_a_program() -> None:
    """An expectation file whose program was renamed or deleted is a stale golden."""
    orphans = []
    for f in EXAMPLES.iterdir():
        if not f.is_file():
            continue
        for suffix in TEST_SUFFIXES + RUN_SUFFIXES:
            if f.name.endswith(suffix):
                if not (EXAMPLES / (f.name[: -len(suffix)] + ".nd")).exists():
                    orphans.append(f.name)
                break
    assert not orphans, f"expectation files without a program: {orphans}"
