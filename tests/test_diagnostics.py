"""Compile-time diagnostics: one bad program per code the compiler emits.

Each case gives a small program that is wrong in exactly one way and the code, line and
column the compiler must report (and, for some, text the message or hint must contain: the
did-you-mean name, the expected and found types).  Import errors need files and go through
the real `noodle run`.  Every case is also run through the command line: exit status 2, a
`FILE:LINE:COL: error[CODE]: message` line with the source line and a caret, and never a
Python traceback.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import TRACEBACK, compile_ok, diagnostics, noodle, noodlec, write
from noodle.compiler.diagnostics import CODES
from noodle.build.driver import CompileOptions, Project
from noodle.errors import CompileError


@dataclass(frozen=True)
class Case:
    code: str
    source: str
    line: int
    col: int
    #: substrings the message must contain
    message: tuple[str, ...] = ()
    #: substrings the hint must contain
    hint: tuple[str, ...] = ()


CASES: list[Case] = [
    # lexical and syntax
    Case("E0001", "fn main() {\n    let x = 1 +* 2\n}\n", 2, 16, ("'*'",)),
    Case("E0002", 'fn main() {\n    let s = "abc\n    print(s)\n}\n', 2, 13, ("unterminated string",)),
    Case("E0003", 'let s = "a\\qb"\n', 1, 11, ("\\q",)),
    Case("E0004", "fn main() {\n    let big = 99999999999999999999\n}\n", 2, 15, ("99999999999999999999",),
         ("9223372036854775807",)),
    Case("E0005", 'print(1)\nmodule app.main version "1.0.0"\n', 2, 1, ("module header",)),
    Case("E0006", 'module app version "1.2"\nprint(1)\n', 1, 1, ("'1.2'", "semantic version"), ("1.2.0",)),
    Case("E0006", 'module app version "1.2"\nprint(1)\n', 1, 1, ("semantic version",), ("MAJOR.MINOR.PATCH",)),
    # names
    Case("E0100", "fn main() {\n    let count = 1\n    print(cuont)\n}\n", 3, 11, ("cuont",), ("`count`",)),
    Case("E0101", "fn main() {\n    total = 5\n}\n", 2, 5, ("total",), ("var total",)),
    Case("E0102", "fn main() {\n    let x = 1\n    x = 2\n}\n", 3, 5, ("`x`",), ("var x",)),
    Case("E0103", "fn f() { }\n\nfn f() { }\n", 3, 4, ("`f`",), ("line 1",)),
    Case("E0104", "fn g() -> int { return 1 }\nconst N: int = g()\n", 2, 16, ("const N",)),
    # types
    Case("E0200", 'fn main() {\n    let x: int = "hello"\n}\n', 2, 18, ("expected int", "found str")),
    Case("E0201", "fn add(a: int, b: int) -> int { return a + b }\nfn main() {\n    print(add(1, 2, 3))\n}\n",
         3, 11, ("`add`", "2 arguments", "found 3")),
    Case("E0202", "struct Box { width: int }\nfn main() {\n    let b = Box(1)\n    print(b.widht)\n}\n", 4, 13,
         ("widht",), ("`width`",)),
    Case("E0203", "fn main() {\n    let x = 5\n    x(1)\n}\n", 3, 5, ("int is not callable",)),
    Case("E0204", "fn main() {\n    let xs = []\n}\n", 2, 9, ("`xs`",), ("let xs: List<",)),
    Case("E0205", 'fn main() {\n    print("a" - 1)\n}\n', 2, 11, ("`-`", "str", "int")),
    Case("E0206", "fn main() {\n    let n = 5\n    print(n[0])\n}\n", 3, 11, ("int cannot be indexed",)),
    Case("E0207", "fn sign(x: int) -> int {\n    if x > 0 { return 1 }\n}\n", 1, 4, ("`sign`", "int")),
    Case("E0208", "fn f(x: flaot) { }\n", 1, 9, ("flaot",), ("`float`",)),
    Case("E0209", "struct P { x: int; y: int }\nfn main() {\n    let p = P(x: 1, z: 2)\n}\n", 3, 21, ("`z`",)),
    # control flow
    Case("E0300", "fn main() {\n    if true {\n        break\n    }\n}\n", 3, 9, ("break",)),
    Case("E0301", "print(1)\nreturn 5\n", 2, 1, ("return",)),
    # modules (E0400 and E0402 need files: see the tests below)
    Case("E0401", "from math import sqroot\n", 1, 18, ("sqroot",), ("`sqrt`",)),
    Case("E0403", "fn main() {\n    let a = array([1.0])\n    print(min(a))\n}\n", 3, 11, ("not available",)),
    Case("E0404", "import parallel\nlet ys = parallel.map(x => x + 1, [1, 2])\n", 2, 23,
         ("top-level function", "lambda"), ("fn NAME",)),
]

FILE_CODES = {"E0400", "E0402"}

#: More mistakes, beyond one per code: each was once accepted or reported badly.
MORE_CASES: list[Case] = [
    # ordering values that have no `<` (was a Python TypeError at run time)
    Case("E0205", "struct P { x: int }\nfn main() {\n    print(sorted([P(2), P(1)]))\n}\n", 3, 11,
         ("`sorted`", "P")),
    Case("E0205", "fn main() {\n    let fs = [() => 1, () => 2]\n    print(max(fs))\n}\n", 3, 11, ("`max`",)),
    Case("E0205", "struct P { x: int }\nfn main() {\n    let xs = [P(2)]\n    xs.sort()\n}\n", 4, 5, ("P",)),
    Case("E0205", "struct P { x: int }\nfn main() {\n    print(sorted([P(1)], (p: P) => p))\n}\n", 3, 11,
         ("keys",), ("sorted(xs, x => x.",)),
    Case("E0205", "fn main() {\n    print(min([none, none]))\n}\n", 2, 11, ("none",)),
    # the fields of an Error are read-only (was: "Error has no field `message`")
    Case("E0102", 'fn main() {\n    let e = Error("x")\n    e.message = "y"\n}\n', 3, 5, ("Error",)),
    # an unresolved local is reported where it is declared, with a fitting example
    Case("E0204", "fn main() {\n    print(1)\n    let m = {}\n}\n", 3, 9, ("`m`",), ("Map<",)),
    # the E0200 hint names the expected and found types
    Case("E0200", "fn half(x: float) -> float { return x / 2 }\nfn main() {\n    print(half(\"4\"))\n}\n", 3, 16,
         ("expected float", "found str"), ("float(s)",)),
]

#: Programs that must compile (the other side of the cases above).
ACCEPTED = [
    "struct P { x: int }\nfn main() {\n    print(sorted([P(2), P(1)], (p: P) => p.x))\n}\n",
    "fn main() {\n    print(sorted([(1, \"b\"), (0, \"a\")]), max([[1], [2, 0]]), min([true, false]))\n}\n",
    "fn main() {\n    let xs = []\n    xs.sort()\n    xs.append(3)\n}\n",
]


def test_every_code_has_a_case() -> None:
    """A new diagnostic code must come with a bad program here."""
    covered = {c.code for c in CASES} | FILE_CODES
    errors = {c for c in CODES if c.startswith("E")}  # warnings: tests/test_warnings.py
    assert covered == errors, f"missing: {sorted(set(CODES) - covered)}, unknown: {sorted(covered - set(CODES))}"


def _check(case: Case, found) -> None:
    listing = "\n".join(f"{d.code} {d.span.line}:{d.span.col} {d.message} | hint: {d.hint}" for d in found)
    matching = [d for d in found if d.code == case.code]
    assert matching, f"expected {case.code}, got:\n{listing}"
    d = matching[0]
    assert (d.span.line, d.span.col) == (case.line, case.col), \
        f"{case.code} at {d.span.line}:{d.span.col}, expected {case.line}:{case.col}\n{listing}"
    for text in case.message:
        assert text in d.message, f"{text!r} not in message {d.message!r}"
    for text in case.hint:
        assert d.hint is not None and text in d.hint, f"{text!r} not in hint {d.hint!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.code for c in CASES])
def test_diagnostic(case: Case) -> None:
    found = diagnostics(case.source)
    _check(case, found)
    # one mistake is reported once, not as a cascade
    assert len(found) == 1, "\n".join(f"{d.code} {d.span.line}:{d.span.col} {d.message}" for d in found)


@pytest.mark.parametrize("case", MORE_CASES, ids=[f"{c.code}-{i}" for i, c in enumerate(MORE_CASES)])
def test_more_diagnostics(case: Case) -> None:
    found = diagnostics(case.source)
    _check(case, found)
    assert len(found) == 1, "\n".join(f"{d.code} {d.span.line}:{d.span.col} {d.message}" for d in found)


@pytest.mark.parametrize("source", ACCEPTED)
def test_accepted(source: str) -> None:
    compile_ok(source)


def _caret_lines(stderr: str, file: str, case_line: int, case_col: int, code: str) -> list[str]:
    lines = stderr.splitlines()
    head = f"{file}:{case_line}:{case_col}: error[{code}]: "
    idx = [i for i, ln in enumerate(lines) if ln.startswith(head)]
    assert idx, f"no line starting with {head!r}"
    return lines[idx[0]:]


@pytest.mark.parametrize("case", CASES, ids=[c.code for c in CASES])
def test_diagnostic_through_noodle_run(case: Case, tmp_path: Path) -> None:
    """`noodle run` exits 2 and prints FILE:LINE:COL: error[CODE], the source line and a caret."""
    write(tmp_path, "bad.nd", case.source)
    p = noodle(["run", "bad.nd"], tmp_path)
    assert TRACEBACK not in p.stderr + p.stdout, p.context()
    assert p.returncode == 2, p.context()
    assert p.stdout == "", p.context()
    block = _caret_lines(p.stderr, "bad.nd", case.line, case.col, case.code)
    src_line = case.source.splitlines()[case.line - 1].expandtabs(4)
    assert len(block) >= 3 and block[1].endswith(src_line), p.context()
    caret = block[2]
    gutter = block[1][: len(block[1]) - len(src_line)]
    assert caret.index("^") == len(gutter) + case.col - 1, p.context()


# ---------------------------------------------------------------- import errors (files)

def test_E0400_module_not_found(tmp_path: Path) -> None:
    write(tmp_path, "util/helper.nd", "fn g() -> int { return 2 }\n")
    write(tmp_path, "main.nd", "// uses a helper\nimport util.helpr\nprint(1)\n")
    p = noodle(["run", "main.nd"], tmp_path)
    assert TRACEBACK not in p.stderr, p.context()
    assert p.returncode == 2, p.context()
    first = p.stderr.splitlines()[0]
    assert first.startswith("main.nd:2:1: error[E0400]: "), p.context()
    assert "util.helpr" in first
    assert "did you mean `helper`?" in p.stderr, p.context()


def test_E0400_in_process_project(tmp_path: Path) -> None:
    main = write(tmp_path, "main.nd", "import nosuch\n")
    project = Project(tmp_path, CompileOptions(use_cache=False))
    with pytest.raises(CompileError) as info:
        project.compile_file(main, display="main.nd")
    [d] = info.value.diagnostics
    assert (d.code, d.span.line, d.span.col) == ("E0400", 1, 1)


def test_E0402_import_cycle(tmp_path: Path) -> None:
    write(tmp_path, "a.nd", "import b\nfn fa() -> int { return 1 }\nprint(b.fb())\n")
    write(tmp_path, "b.nd", "\nimport a\nfn fb() -> int { return 2 }\n")
    p = noodle(["run", "a.nd"], tmp_path)
    assert TRACEBACK not in p.stderr, p.context()
    assert p.returncode == 2, p.context()
    first = p.stderr.splitlines()[0]
    assert re.match(r"b\.nd:2:1: error\[E0402\]: .*a -> b -> a", first), p.context()


def test_E0401_noodle_module_member(tmp_path: Path) -> None:
    write(tmp_path, "shapes.nd", "fn area(w: float, h: float) -> float { return w * h }\n"
                                 "fn _secret() -> int { return 1 }\n")
    write(tmp_path, "main.nd", "import shapes\nfn main() {\n    print(shapes.aera(1.0, 2.0))\n}\n")
    write(tmp_path, "private.nd", "from shapes import _secret\n")
    p = noodle(["run", "main.nd"], tmp_path)
    assert p.returncode == 2, p.context()
    assert re.match(r"main\.nd:3:18: error\[E0401\]", p.stderr), p.context()
    assert "did you mean `area`?" in p.stderr, p.context()
    p = noodle(["run", "private.nd"], tmp_path)
    assert p.returncode == 2, p.context()
    assert re.match(r"private\.nd:1:20: error\[E0401\]: .*_secret", p.stderr), p.context()
    assert TRACEBACK not in p.stderr


def test_E0006_header_name_of_an_imported_module(tmp_path: Path) -> None:
    write(tmp_path, "lib.nd", 'module other version "1.0.0"\nfn f() -> int { return 1 }\n')
    write(tmp_path, "main.nd", "import lib\nprint(lib.f())\n")
    p = noodle(["run", "main.nd"], tmp_path)
    assert p.returncode == 2 and TRACEBACK not in p.stderr, p.context()
    assert re.match(r"lib\.nd:1:1: error\[E0006\]: .*`other`.*`lib`", p.stderr), p.context()


def test_import_diagnostics_show_source_line_and_caret(tmp_path: Path) -> None:
    write(tmp_path, "main.nd", "import nosuch\nprint(1)\n")
    p = noodle(["run", "main.nd"], tmp_path)
    lines = p.stderr.splitlines()
    assert lines[0].startswith("main.nd:1:1: error[E0400]")
    assert len(lines) >= 3 and lines[1].endswith("import nosuch") and "^" in lines[2], p.context()


# ---------------------------------------------------------------- several errors, JSON

TWO_ERRORS = """fn main() {
    let a: int = "x"
    print(undefined_name)
}

fn other() {
    break
}
"""


def test_independent_errors_are_reported_together() -> None:
    found = diagnostics(TWO_ERRORS)
    got = [(d.code, d.span.line, d.span.col) for d in found]
    assert got == [("E0200", 2, 18), ("E0100", 3, 11), ("E0300", 7, 5)]  # each once, in source order


@pytest.mark.parametrize("comment", ["/* one\n two\n three */", "/*\n*/", "/* a */ /* b\n c */", "// x /* y\n/* z\n*/"])
def test_lines_after_a_block_comment_spanning_lines_are_counted_exactly(comment: str) -> None:
    newlines = comment.count("\n")
    src = f"{comment}\nfn main() {{\n    let x: int = \"s\"\n /* q\n */ let y: str = 1\n}}\n"
    got = [(d.code, d.span.line, d.span.col, d.span.end_line, d.span.end_col) for d in diagnostics(src)]
    assert got == [("E0200", newlines + 3, 18, newlines + 3, 21), ("E0200", newlines + 5, 18, newlines + 5, 19)]
    # a comment that ends on the line of the code after it: columns count from that line's start
    got = [(d.span.line, d.span.col) for d in diagnostics("fn main() {\n /* a\n b */ let z: bool = 2\n}\n")]
    assert got == [(3, 21)]


def test_independent_errors_through_noodle_run(tmp_path: Path) -> None:
    write(tmp_path, "two.nd", TWO_ERRORS)
    p = noodle(["run", "two.nd"], tmp_path)
    assert p.returncode == 2 and TRACEBACK not in p.stderr, p.context()
    heads = [ln for ln in p.stderr.splitlines() if re.match(r"two\.nd:\d+:\d+: error\[E\d{4}\]: ", ln)]
    assert [h.split(": ")[0] + ": " + h.split(": ")[1] for h in heads] == [
        "two.nd:2:18: error[E0200]", "two.nd:3:11: error[E0100]", "two.nd:7:5: error[E0300]"], p.context()


def test_noodlec_json(tmp_path: Path) -> None:
    write(tmp_path, "bad.nd", TWO_ERRORS)
    p = noodlec(["--json", "bad.nd"], tmp_path)
    assert p.returncode == 2, p.context()
    assert TRACEBACK not in p.stderr, p.context()
    data = json.loads(p.stdout)
    assert isinstance(data, list)
    got = [(d["code"], d["line"], d["col"]) for d in data]
    assert got == [("E0200", 2, 18), ("E0100", 3, 11), ("E0300", 7, 5)], data
    for d in data:
        assert d["file"] == "bad.nd"
        assert d["message"] and d["severity"] == "error"


def test_noodlec_json_clean_program(tmp_path: Path) -> None:
    write(tmp_path, "ok.nd", "print(1)\n")
    p = noodlec(["--json", "ok.nd", "-o", "ok.nbc"], tmp_path)
    assert p.returncode == 0, p.context()
    assert json.loads(p.stdout) == []
    assert (tmp_path / "ok.nbc").is_file()


def test_non_utf8_source(tmp_path: Path) -> None:
    (tmp_path / "latin.nd").write_bytes(b'print("caf\xe9")\n')
    p = noodle(["run", "latin.nd"], tmp_path)
    assert p.returncode == 2 and TRACEBACK not in p.stderr, p.context()
    assert re.match(r"latin\.nd:1:1: error\[E0002\]: .*UTF-8", p.stderr), p.context()


def test_missing_source_file(tmp_path: Path) -> None:
    p = noodle(["run", "nothere.nd"], tmp_path)  # its own message and status, not a diagnostic at 1:1
    assert p.returncode == 66 and TRACEBACK not in p.stderr, p.context()
    assert p.stderr == "noodle: cannot open nothere.nd: no such file\n", p.context()


COMMENT_HINT = ("`//` right after a value, with at most one space between, is floor division; "
                "to start a comment there, put two spaces before it")


@pytest.mark.parametrize("line, code", [
    ("let a = 6 // half of twelve", "E0001"),  # a parse error further on
    ("let a = 6 // twelve", "E0100"),  # the name right after it
    ("let a = (6)// twelve", "E0100"),
    ('let a = "6" // twelve', "E0100"),
])
def test_a_comment_read_as_floor_division_says_so(line: str, code: str) -> None:
    (d,) = diagnostics("fn main() {\n    " + line + "\n    print(a)\n}\n")
    assert (d.code, d.span.line, d.hint) == (code, 2, COMMENT_HINT)


@pytest.mark.parametrize("line", [
    "let a = twelve",  # no `//`
    "let a = twelve // 2",  # the error is before it
    "let a = 6  // x\n    let b = twelve",  # a comment (two spaces), the error on another line
])
def test_other_errors_get_no_comment_hint(line: str) -> None:
    (d,) = diagnostics("fn main() {\n    " + line + "\n}\n")
    assert d.code == "E0100" and d.hint != COMMENT_HINT


def test_two_spaces_make_it_a_comment() -> None:
    compile_ok("fn main() {\n    let a = 6  // half of twelve\n    print(a)\n}\n")
