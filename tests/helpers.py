"""Shared helpers for the tests: compile and run Noodle source in-process, or run the real commands.

In-process helpers go through the public entry points (`compile_source`, `Machine().load`);
the command helpers run the installed `noodle` / `noodlec` next to the test interpreter, with
a fixed environment so that output does not depend on the terminal.
"""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from noodle.compiler.diagnostics import CompileError, Diagnostic
from noodle.build.driver import compile_source
from noodle.runtime.errors import NoodleRuntimeError
from noodle.vm.machine import Machine

BIN = Path(sys.executable).parent
NOODLE = BIN / "noodle"
NOODLEC = BIN / "noodlec"
#: how long a test waits on a subprocess, a thread or an output before calling it hung: only a
#: guard against hangs, never a measure of speed, so generous on a loaded machine
#: (`NOODLE_TEST_HANG_S` changes it)
HANG_S = float(os.environ.get("NOODLE_TEST_HANG_S", "600"))
TIMEOUT_S = HANG_S
TRACEBACK = "Traceback (most recent call last)"

# A Machine raises Python's recursion limit to fit the Noodle call depth; do it once, up front,
# so that it does not change in the middle of a test (Hypothesis warns when it does).
Machine()


def compile_ok(source: str, name: str = "prog", opt: int = 1):
    """(ir_module, ModuleFile) of `source`, which must compile."""
    try:
        return compile_source(source, f"{name}.nd", name, opt_level=opt)
    except CompileError as e:
        raise AssertionError(f"program does not compile:\n{e.render()}\n--- source ---\n{source}") from None


def diagnostics(source: str, name: str = "prog") -> list[Diagnostic]:
    """The diagnostics of a program that must NOT compile (any other exception propagates)."""
    try:
        compile_source(source, f"{name}.nd", name)
    except CompileError as e:
        assert e.diagnostics, "CompileError without diagnostics"
        return list(e.diagnostics)
    raise AssertionError(f"program compiled, but errors were expected:\n{source}")


@dataclass
class Outcome:
    stdout: str
    error: NoodleRuntimeError | None


def run_module(module_file) -> Outcome:
    """Load (run top-level code) and run `main` of a module file in-process, capturing stdout."""
    buf = io.StringIO()
    err = None
    with contextlib.redirect_stdout(buf):
        try:
            machine = Machine()
            lm = machine.load(module_file)
            machine.run_main(lm)
        except NoodleRuntimeError as e:
            err = e
    return Outcome(buf.getvalue(), err)


def run_source(source: str, name: str = "prog", opt: int = 1) -> Outcome:
    """Compile and run `source` in-process."""
    _, mf = compile_ok(source, name, opt)
    return run_module(mf)


def output_of(source: str, name: str = "prog", opt: int = 1) -> str:
    """stdout of a program that must run without an uncaught error."""
    out = run_source(source, name, opt)
    assert out.error is None, f"uncaught {out.error.render()}\n--- stdout ---\n{out.stdout}"
    return out.stdout


def metered_output_of(source: str, name: str = "prog", opt: int = 1) -> str:
    """stdout of a program run under a step limit (the machine translates it as metered code,
    whose comparisons, slices and string building are calls that charge the meter)."""
    from noodle.vm.limits import Limits

    _, mf = compile_ok(source, name, opt)
    machine = Machine(limits=Limits(max_steps=10**7))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        machine.run_main(machine.load(mf))
    return buf.getvalue()


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"})
    return env


@dataclass
class Proc:
    returncode: int
    stdout: str
    stderr: str

    def context(self) -> str:
        return f"\n--- exit {self.returncode} ---\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


def run_cmd(args: list[str], cwd: Path, command: Path = NOODLE, stdin: bytes | None = None) -> Proc:
    """Run `noodle ARGS` (or `noodlec`) in `cwd`; stdout and stderr decoded."""
    assert command.exists(), f"{command.name} is not installed next to {sys.executable}"
    p = subprocess.run([str(command), *args], cwd=cwd, capture_output=True, timeout=TIMEOUT_S,
                       env=cli_env(), input=stdin)
    return Proc(p.returncode, p.stdout.decode("utf-8", errors="replace"),
                p.stderr.decode("utf-8", errors="replace"))


def noodle(args: list[str], cwd: Path) -> Proc:
    return run_cmd(args, cwd, NOODLE)


def noodlec(args: list[str], cwd: Path) -> Proc:
    return run_cmd(args, cwd, NOODLEC)


def write(dir: Path, rel: str, text: str) -> Path:
    """Write a source file under `dir` (creating folders); return its path."""
    p = dir / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def float_text(x: float) -> str:
    """How Noodle prints a float: the shortest text that reads back, `inf`, `-inf`, `nan`."""
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return repr(x)
