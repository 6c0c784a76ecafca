"""Warnings (one small program per code), the hints newcomers need, and how diagnostics are shown.

Each warning case is a program that is fine except for one thing, and the code, line and
column the linter must report.  The same programs then go through `noodlec`, `noodle run` (which
still runs them) and `noodle check --json`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import TRACEBACK, diagnostics, noodle, noodlec, write
from noodle.build.driver import CompileOptions, compile_source
from noodle.compiler.diagnostics import CODES, Diagnostic, source_excerpt
from noodle.compiler.ast import Span
from noodle.errors import CompileError


@dataclass(frozen=True)
class Warn:
    code: str
    source: str
    line: int
    col: int
    message: tuple[str, ...] = ()
    hint: tuple[str, ...] = ()


WARNINGS = [
    Warn("W0101", "fn f() -> int {\n    let unused = 3\n    return 1\n}\nprint(f())\n", 2, 9, ("`unused`",), ("_unused",)),
    Warn("W0101", "for i in 0..3 {\n    print(1)\n}\n", 1, 5, ("loop variable `i`",)),
    Warn("W0102", "fn f(a: int, b: int) -> int {\n    return a\n}\nprint(f(1, 2))\n", 1, 14, ("`b`",), ("`_b`",)),
    Warn("W0103", "import math\nimport random\nprint(math.pi)\n", 2, 1, ("`random`",)),
    Warn("W0103", "from math import sqrt, pi\nprint(pi)\n", 1, 18, ("`sqrt`",)),
    Warn("W0104", "fn f(n: int) -> int {\n    if n > 0 {\n        let n = 2\n        return n\n    }\n    return n\n}\n"
                  "print(f(1))\n", 3, 13, ("shadows the parameter `n`",)),
    Warn("W0105", "fn f() -> int {\n    var k = 4\n    return k\n}\nprint(f())\n", 2, 9, ("`k`", "never reassigned"),
         ("`let`",)),
    Warn("W0201", "fn f() -> int {\n    return 1\n    print(2)\n}\nprint(f())\n", 3, 5, ("never reached",)),
    Warn("W0201", "while true {\n    break\n    print(1)\n}\n", 3, 5, ("never reached",)),
    Warn("W0202", "let x = 1\nx == 2\n", 2, 1, ("dropped",)),
    Warn("W0203", "fn f(x: float) -> float {\n    let y = 2.0 * x\n        + 0.125 * x\n    return y\n}\nprint(f(1.0))\n",
         3, 9, ("starts with `+`", "not a continuation"), ("parentheses",)),
]


def warnings_of(source: str, options: CompileOptions | None = None) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    compile_source(source, "prog.nd", "prog", warnings=found, options=options)
    return found


def test_every_warning_code_has_a_case() -> None:
    assert {w.code for w in WARNINGS} == {c for c in CODES if c.startswith("W")}


@pytest.mark.parametrize("case", WARNINGS, ids=[f"{w.code}-{i}" for i, w in enumerate(WARNINGS)])
def test_warning(case: Warn) -> None:
    found = warnings_of(case.source)
    listing = "\n".join(f"{d.code} {d.span.line}:{d.span.col} {d.message}" for d in found)
    assert [d.code for d in found] == [case.code], listing  # exactly this one, nothing else
    d = found[0]
    assert d.severity == "warning" and (d.span.line, d.span.col) == (case.line, case.col), listing
    for text in case.message:
        assert text in d.message, d.message
    for text in case.hint:
        assert d.hint is not None and text in d.hint, d.hint


CLEAN = [
    "fn f(_unused: int) -> int {\n    let _x = 1\n    return 2\n}\nprint(f(1))\n",
    "var total = 0\nfor i in 0..3 {\n    total += i\n}\nprint(total)\n",  # a global var: exported, never reported
    "fn f() -> int {\n    var k = 0\n    let g = () => { k += 1 }\n    g()\n    return k\n}\nprint(f())\n",
    "let xs = [1]\nxs.append(2)\nprint(xs)\n",
    "fn f(x: float) -> float {\n    let y = (2.0 * x\n        + 0.125 * x)\n    return y\n}\nprint(f(1.0))\n",
    "import math\nfn f() -> float { return math.pi }\nprint(f())\n",
    "struct P {\n    x: int\n    fn get(self) -> int { return self.x }\n}\nprint(P(1).get())\n",
    "fn f(n: int) -> int {\n    if n > 0 {\n        return 1\n    }\n    return 2\n}\nprint(f(1))\n",
]


@pytest.mark.parametrize("source", CLEAN)
def test_no_warning_where_nothing_is_wrong(source: str) -> None:
    assert warnings_of(source) == []


def test_warnings_are_switched_per_code() -> None:
    source = WARNINGS[0].source
    assert warnings_of(source, CompileOptions(allow=frozenset({"W0101"}))) == []
    assert warnings_of(source, CompileOptions(allow=frozenset({"all"}))) == []
    assert warnings_of(source, CompileOptions(allow=frozenset({"W0202"})))[0].code == "W0101"
    with pytest.raises(CompileError) as e:
        warnings_of(source, CompileOptions(deny=frozenset({"W0101"})))
    assert e.value.diagnostics[0].code == "W0101" and e.value.diagnostics[0].severity == "error"


def test_noodle_run_shows_warnings_and_still_runs(tmp_path: Path) -> None:
    write(tmp_path, "w.nd", WARNINGS[-1].source)
    for _ in range(2):  # the second run starts from the cache and shows them again
        p = noodle(["run", "w.nd"], tmp_path)
        assert p.returncode == 0 and p.stdout == "2.0\n", p.context()
        assert p.stderr.startswith("w.nd:3:9: warning[W0203]: this line starts with `+`"), p.context()
        assert "         + 0.125 * x\n" in p.stderr and "\n               ^^^^^^^^^^^\n" in p.stderr
    assert noodle(["run", "-A", "W0203", "w.nd"], tmp_path).stderr == ""
    p = noodle(["run", "-D", "W0203", "w.nd"], tmp_path)
    assert p.returncode == 2 and "error[W0203]" in p.stderr and p.stdout == "", p.context()


def test_noodlec_json_and_noodle_check(tmp_path: Path) -> None:
    write(tmp_path, "w.nd", WARNINGS[0].source)
    write(tmp_path, "bad.nd", "print(nope)\n")
    p = noodlec(["w.nd", "--json"], tmp_path)
    assert p.returncode == 0 and [d["code"] for d in json.loads(p.stdout)] == ["W0101"], p.context()
    p = noodle(["check", "w.nd", "bad.nd", "--json"], tmp_path)
    assert p.returncode == 2, p.context()
    report = json.loads(p.stdout)
    assert report["schema"] == 1 and report["files"] == ["w.nd", "bad.nd"]
    assert (report["errors"], report["warnings"]) == (1, 1)
    assert [(d["code"], d["severity"], d["file"]) for d in report["diagnostics"]] == \
        [("W0101", "warning", "w.nd"), ("E0100", "error", "bad.nd")]
    write(tmp_path / "fresh", "w.nd", WARNINGS[0].source)
    p = noodle(["check", "w.nd"], tmp_path / "fresh")
    assert p.returncode == 0 and "warning[W0101]" in p.stderr, p.context()
    assert [f.name for f in (tmp_path / "fresh").iterdir()] == ["w.nd"]  # check writes nothing
    p = noodle(["check", "nothere.nd"], tmp_path)
    assert p.returncode == 66 and TRACEBACK not in p.stderr


# ---------------------------------------------------------------- hints

HINTS = [
    ("let xs = [1]\nxs.push(2)\n", "E0202", (2, 4), "`append`"),
    ('let s = "a"\nprint(s.toUpperCase())\n', "E0202", (2, 9), "`upper`"),
    ('let m = {"a": 1}\nprint(m.containsKey("a"))\n', "E0202", (2, 9), "`k in m`"),
    ("print(math.sqrt(2.0))\n", "E0100", (1, 7), "add `import math`"),
    ("print(floor(2.5))\n", "E0100", (1, 7), "add `import math` and write `math.floor`"),
    ("let x = null\n", "E0100", (1, 9), "`none`"),
    ("let x = [None]\n", "E0100", (1, 10), "`none`"),
    ("let b = True\n", "E0100", (1, 9), "`true`"),
    ("struct P {\n    n: int\n    fn get(self) -> int { return n }\n}\n", "E0100", (3, 34), "`self.n`"),
    # a continuation line that starts with an operator no statement can start with
    ("let a = 1.0\nlet t = a\n    * 2.0\n", "E0001", (3, 5), "wrap it in parentheses: `x = (a` / `    * b)`"),
    ("let t = true\n    or false\n", "E0001", (2, 5), "cannot start with `or`"),
    ("let xs = [1]\nlet ys = xs\n    .copy()\n", "E0001", (3, 5), "`    .f())`"),
    ("fn f(a: int) -> bool {\n    return a > 0\n        and a < 9\n}\n", "E0001", (3, 9), "cannot start with `and`"),
]


@pytest.mark.parametrize(("source", "code", "where", "hint"), HINTS)
def test_hint(source: str, code: str, where: tuple[int, int], hint: str) -> None:
    d = diagnostics(source)[0]
    assert (d.code, (d.span.line, d.span.col)) == (code, where), d.render()
    assert d.hint is not None and hint in d.hint, d.hint


def test_an_unclosed_brace_is_reported_where_it_opens() -> None:
    source = "fn f(a: int) -> int {\n    if a > 0 {\n        return 1\n\n    return 2\n}\nprint(f(1))\n"
    d = diagnostics(source)[0]
    assert (d.code, d.span.line, d.span.col, d.message) == ("E0001", 2, 14, "`{` is never closed")
    assert d.related and "end of input" in d.related[0][1]
    d = diagnostics("let xs = [1, 2,\nprint(xs)\n")[0]
    assert (d.span.line, d.span.col, d.message) == (1, 10, "`[` is never closed")


def test_secondary_span_shows_where_the_first_definition_is() -> None:
    d = diagnostics("fn f() {\n    let a = 1\n    let a = 2\n}\n")[0]
    assert d.code == "E0103" and d.related[0][1] == "first defined here" and d.related[0][0].line == 2
    text = d.render("fn f() {\n    let a = 1\n    let a = 2\n}\n".splitlines())
    assert "  note: first defined here (prog.nd:2:9)\n   2 |     let a = 1\n               ^" in text


def test_an_arity_error_shows_where_the_function_is_defined() -> None:
    d = diagnostics("fn add(a: int, b: int) -> int {\n    return a + b\n}\nprint(add(1))\n")[0]
    assert d.code == "E0201" and [(s.line, s.col, text) for s, text in d.related] == [(1, 4, "defined here")]


def test_an_argument_of_the_wrong_type_shows_where_the_function_is_defined() -> None:
    d = diagnostics('fn add(a: int, b: int) -> int {\n    return a + b\n}\nprint(add(1, "2"))\n')[0]
    assert d.code == "E0200" and [(s.line, s.col, text) for s, text in d.related] == [(1, 4, "defined here")]
    d = diagnostics('fn add(a: int, b: int) -> int {\n    return a + b\n}\nprint(add(1, b: "2"))\n')[0]
    assert d.code == "E0200" and [(s.line, text) for s, text in d.related] == [(1, "defined here")]


def test_carets_line_up_under_tabs_and_wide_characters() -> None:
    line = '\tlet s = "日本" + x'
    span = Span("f.nd", 1, line.index("x") + 1, 1, line.index("x") + 2)
    text, caret = source_excerpt(span, [line])
    shown = text.split("| ", 1)[1]
    assert "\t" not in shown and caret.index("^") - len("   1 | ") == shown.index("x") + 2  # two wide chars
    span = Span("f.nd", 1, line.index('"') + 1, 1, line.index("+"))
    caret = source_excerpt(span, [line])[1]
    assert caret.count("^") == 6  # `"日本"` is 6 columns wide


def test_str_of_a_compile_error_is_the_rendered_diagnostic() -> None:
    with pytest.raises(CompileError) as e:
        compile_source("let x = 1\nprint(y)\n", "app.nd", "app")
    text = str(e.value)
    assert text.startswith("app.nd:2:7: error[E0100]: name `y` is not defined\n   2 | print(y)\n")
