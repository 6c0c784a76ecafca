"""`noodle test`: find test blocks, run them, report (terminal, JSON, JUnit XML).

    noodle test                  every .nd file under the current folder that has a `test` block
    noodle test DIR FILE.nd      under DIR, and FILE.nd
    noodle test -k PATTERN       only tests whose `FILE::name` contains PATTERN (case-insensitive)

Per file: its top-level code runs once, then its tests in source order, each reported as PASS or
FAIL with the failure's place (`FILE:LINE:COL`), kind and message — a failed `assert a == b` in a
test shows the expression and both values.  A summary with the time closes the report.  The exit
status is 0 when everything passed, 1 when a test failed (or a file's top-level code did), 2 when
a file does not compile, 5 when no test was found (pytest's convention).
"""
from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_COMPILE, EXIT_NO_TESTS = 0, 1, 2, 5
EXIT_NO_FILE = 66  # a path on the command line that is not there (as `noodle run` answers one)
#: a test block at the start of a line: which files discovery opens
_HAS_TEST = re.compile(r'^\s*test\s+"', re.MULTILINE)
_SKIP_DIRS = {"__noodlecache__", "node_modules", "__pycache__"}
JSON_SCHEMA = 1


@dataclass
class TestCase:
    """One test's outcome."""

    __test__ = False  # not a pytest class

    file: str
    name: str
    passed: bool
    seconds: float
    kind: str = ""
    message: str = ""
    where: str = ""  # FILE:LINE:COL of the innermost Noodle frame
    stack: list[str] = field(default_factory=list)


@dataclass
class FileProblem:
    """A file whose tests could not run: it does not compile, or its top-level code failed."""

    file: str
    kind: str  # "compile" | "load" | "top-level" | "missing" (a path given that is not there)
    text: str


@dataclass
class Report:
    cases: list[TestCase] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    deselected: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def failed(self) -> int:
        return sum(not c.passed for c in self.cases)

    def status(self) -> int:
        if any(p.kind == "missing" for p in self.problems):
            return EXIT_NO_FILE
        if any(p.kind == "compile" for p in self.problems):
            return EXIT_COMPILE
        if self.failed or self.problems:
            return EXIT_FAILED
        return EXIT_OK if self.cases else EXIT_NO_TESTS


def discover(paths: list[str]) -> tuple[list[str], list[str]]:
    """(files to test, paths that do not exist).  A file named is always taken; a folder is searched
    for `.nd` files holding a test block (hidden folders and caches skipped), in sorted order."""
    found: list[str] = []
    missing: list[str] = []
    for p in paths or ["."]:
        if os.path.isfile(p):
            found.append(p)
        elif os.path.isdir(p):
            for folder, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
                for name in sorted(files):
                    if name.endswith(".nd"):
                        path = os.path.normpath(os.path.join(folder, name))
                        try:
                            text = Path(path).read_text(encoding="utf-8")
                        except (OSError, UnicodeDecodeError):
                            continue
                        if _HAS_TEST.search(text):
                            found.append(path)
        else:
            missing.append(p)
    return list(dict.fromkeys(found)), missing


def selected(file: str, name: str, pattern: str | None) -> bool:
    return pattern is None or pattern.lower() in f"{file}::{name}".lower()


def run(paths: list[str], pattern: str | None = None) -> Report:
    """Discover and run the tests under `paths` (see the module docstring)."""
    from noodle.errors import CompileError, LoadError, ProgramExit
    from noodle.runtime.errors import NoodleRuntimeError
    from noodle.tools.run import _python_world, load_program

    start = time.perf_counter()
    report = Report()
    files, missing = discover(paths)
    for p in missing:
        report.problems.append(FileProblem(p, "missing", f"noodle test: cannot open {p}: no such file or folder"))
    for path in files:
        _python_world(path, record=False)
        try:
            machine, lm = load_program(path)
            tests = [(name, func) for name, func in lm.image.tests]
            chosen = [(name, func) for name, func in tests if selected(path, name, pattern)]
            report.deselected += len(tests) - len(chosen)
            if not chosen:
                continue
            machine.call(lm, lm.functions["__init__"])
        except CompileError as e:
            report.problems.append(FileProblem(path, "compile", e.render()))
            continue
        except LoadError as e:
            report.problems.append(FileProblem(path, "load", f"error: {e}"))
            continue
        except NoodleRuntimeError as e:
            report.problems.append(FileProblem(path, "top-level", e.render()))
            continue
        except ProgramExit as e:
            report.problems.append(FileProblem(path, "top-level", f"the top-level code called exit({e.code})"))
            continue
        for name, func in chosen:
            t0 = time.perf_counter()
            try:
                machine.call(lm, lm.functions[func])
                report.cases.append(TestCase(path, name, True, time.perf_counter() - t0))
            except NoodleRuntimeError as e:
                frames = [str(f).strip() for f in e.stack]
                inner = e.stack[-1] if e.stack else None
                where = f"{inner.file}:{inner.line}:{inner.col}" if inner is not None else path
                report.cases.append(TestCase(path, name, False, time.perf_counter() - t0, e.kind, e.message,
                                             where, frames))
            except ProgramExit as e:
                report.cases.append(TestCase(path, name, False, time.perf_counter() - t0, "ProgramExit",
                                             f"the test called exit({e.code})", path))
    report.seconds = time.perf_counter() - start
    return report


# ---------------------------------------------------------------- reporting

def _paint(text: str, style: str, on: bool) -> str:
    codes = {"green": "32", "red": "31", "bold": "1", "dim": "2", "yellow": "33"}
    return f"\x1b[{codes[style]}m{text}\x1b[0m" if on else text


def render(report: Report, colour: bool = False, verbose: bool = False) -> str:
    """The terminal report: PASS/FAIL per test (grouped by file when there are several), failures
    with place, kind, message (and the stack with `verbose`), then the summary."""
    lines: list[str] = []
    several = len({c.file for c in report.cases}) > 1
    current = None
    for c in report.cases:
        if several and c.file != current:
            current = c.file
            lines.append(_paint(c.file, "bold", colour))
        indent = "  " if several else ""
        if c.passed:
            lines.append(f"{indent}{_paint('PASS', 'green', colour)} {c.name}")
            continue
        lines.append(f"{indent}{_paint('FAIL', 'red', colour)} {c.name}")
        message_lines = c.message.split("\n")
        lines.append(f"{indent}  {c.where}: {_paint(c.kind, 'red', colour)}: {message_lines[0]}")
        lines += [f"{indent}  {m}" for m in message_lines[1:]]
        if verbose:
            lines += [f"{indent}  {_paint(f, 'dim', colour)}" for f in c.stack]
    for p in report.problems:
        if p.kind == "missing":
            lines.append(_paint(p.text, "red", colour))
            continue
        lines.append(_paint(f"error in {p.file}:" if p.kind != "load" else "error:", "red", colour))
        lines.append(p.text)
    parts = [f"{report.passed} passed", f"{report.failed} failed"]
    if report.problems:
        parts.append(f"{len(report.problems)} error{'s' if len(report.problems) != 1 else ''}")
    if report.deselected:
        parts.append(f"{report.deselected} deselected")
    summary = ", ".join(parts) + f" in {report.seconds:.2f}s"
    if not report.cases and not report.problems:
        summary = "no tests found" + (f" ({report.deselected} deselected)" if report.deselected else "") + \
            f" in {report.seconds:.2f}s"
    style = "red" if report.failed or report.problems else "green" if report.cases else "yellow"
    lines.append(_paint(summary, style, colour))
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    import json

    return json.dumps({
        "schema": JSON_SCHEMA,
        "passed": report.passed, "failed": report.failed, "errors": len(report.problems),
        "deselected": report.deselected, "seconds": round(report.seconds, 6),
        "tests": [{"file": c.file, "name": c.name, "outcome": "passed" if c.passed else "failed",
                   "seconds": round(c.seconds, 6), "kind": c.kind or None, "message": c.message or None,
                   "where": c.where or None, "stack": c.stack} for c in report.cases],
        "file_errors": [{"file": p.file, "kind": p.kind, "text": p.text} for p in report.problems],
    }, indent=2)


def to_junit(report: Report) -> str:
    """JUnit XML, one <testsuite> per file, as CI systems read it."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", tests=str(len(report.cases)), failures=str(report.failed),
                      errors=str(len(report.problems)), time=f"{report.seconds:.6f}")
    suites: dict[str, ET.Element] = {}

    def suite(file: str) -> ET.Element:
        if file not in suites:
            suites[file] = ET.SubElement(root, "testsuite", name=file, tests="0", failures="0", errors="0")
        return suites[file]

    for c in report.cases:
        s = suite(c.file)
        s.set("tests", str(int(s.get("tests", "0")) + 1))
        case = ET.SubElement(s, "testcase", classname=c.file, name=c.name, time=f"{c.seconds:.6f}")
        if not c.passed:
            s.set("failures", str(int(s.get("failures", "0")) + 1))
            failure = ET.SubElement(case, "failure", type=c.kind, message=c.message.split("\n")[0])
            failure.text = f"{c.where}: {c.kind}: {c.message}\n" + "\n".join(c.stack)
    for p in report.problems:
        s = suite(p.file)
        s.set("errors", str(int(s.get("errors", "0")) + 1))
        case = ET.SubElement(s, "testcase", classname=p.file, name=f"<{p.kind}>")
        err = ET.SubElement(case, "error", type=p.kind, message=p.text.split("\n")[0])
        err.text = p.text
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def main(paths: list[str], pattern: str | None = None, as_json: bool = False, junit: str | None = None,
         verbose: bool = False) -> int:
    """`noodle test`: run, print (or write) the report, return the exit status."""
    from noodle.tools.render import colour

    report = run(paths, pattern)
    if as_json:
        sys.stdout.write(to_json(report) + "\n")
    else:
        sys.stdout.write(render(report, colour(sys.stdout), verbose or bool(os.environ.get("NOODLE_TEST_VERBOSE"))))
    if junit is not None:
        try:
            Path(junit).write_text(to_junit(report), encoding="utf-8")
        except OSError as e:
            sys.stderr.write(f"noodle test: cannot write {junit}: {e.strerror}\n")
            return EXIT_FAILED
    return report.status()
