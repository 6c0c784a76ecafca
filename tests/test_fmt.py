"""`noodle fmt`: one canonical layout, idempotent, comments kept, the program unchanged.

The properties run on every example and on examples whose layout hypothesis has scrambled
(spaces between tokens, indentation, blank lines): formatting is a fixed point, the formatted
program compiles to the same IR (line numbers aside), and a scramble of spaces and indentation
alone formats back to the canonical text.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from noodle.build.driver import PassTrace, compile_source
from noodle.errors import CompileError
from noodle.tools.fmt import WIDTH, FormatError, _lines, _signature, source_tokens, format_source
from helpers import HANG_S

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.nd") if "__noodlecache__" not in p.parts)


def _parses(source: str) -> bool:
    from noodle.compiler.parser import parse

    try:
        parse(source)
    except CompileError:
        return False
    return True


def _ir(source: str, name: str) -> str | None:
    """The IR after every pass, without line numbers; None for a program that does not compile alone."""
    trace = PassTrace()
    try:
        compile_source(source, f"{name}.nd", name, observe_passes=trace)
    except CompileError:
        return None
    # line numbers also live in the call-site strings `import py` calls carry ('main.nd:40')
    text = re.sub(r"\bline \d+", "line _", trace.text())
    return re.sub(r"('[^'\n]*\.nd):\d+'", r"\1:_'", text)


#: a width that breaks many lines of the examples
NARROW = 48


def _breakable(line: str) -> bool:
    """Has a line a place a break could go: a `(` or `[` followed by more than its closer, and no
    `{` (inside a block a newline ends a statement)?"""
    code = line.split("//")[0].split('"')[0]  # (a string's brackets are not brackets)
    return "{" not in code and bool(re.search(r"[(\[](?![)\]]|$)", code))


def _comments(source: str) -> list[str]:
    """The text of every comment, in order (a block comment's lines without their indentation)."""
    return [" ".join(line.strip() for line in item.text.splitlines())
            for line in _lines(source, source_tokens(source, "x.nd")) for item in line if item.kind == "COMMENT"]


PARSING = [p for p in EXAMPLES if _parses(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("path", PARSING, ids=[str(p.relative_to(ROOT / "examples")) for p in PARSING])
def test_every_example_is_a_fixed_point_with_the_same_ir(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    before = _ir(source, path.stem)
    # at the default width, at a narrow one (most long lines broken, some several times) and at none
    for width in (WIDTH, NARROW, None):
        once = format_source(source, path.name, width)
        assert format_source(once, path.name, width) == once  # (so no line left too long could be broken)
        assert _comments(once) == _comments(source)
        if before is not None and width != WIDTH:
            assert _ir(once, path.stem) == before
        if width == NARROW:
            assert all(len(line) <= NARROW for line in once.splitlines() if _breakable(line)), width


def test_the_examples_are_in_canonical_layout() -> None:
    """The examples are the house style: the formatter leaves them as they are (most of them)."""
    unchanged = [p for p in PARSING if format_source(p.read_text(encoding="utf-8"), p.name) == p.read_text(encoding="utf-8")]
    assert len(unchanged) == len(PARSING), sorted(set(PARSING) - set(unchanged))


MESSY = """\


// a header comment
fn  add( a:int,b :int )->int{
        return a+b   // the sum
}



fn main( ) {
  let xs=[1,2,3]
  let m = {"a":1}
  var t=0
  for i in 0..len(xs){ t+=xs[i] * -1 }
  let s = xs[0:2]
  /* a block
     comment */
  print("sum {t + 1} of {len(xs)}",add(1,
        2), m["a"], s, - -4, 7 // 2)
  let f = (x:int) => x*2
  print(f(3))

}
"""

CANONICAL = """\
// a header comment
fn add(a: int, b: int) -> int {
    return a + b  // the sum
}

fn main() {
    let xs = [1, 2, 3]
    let m = {"a": 1}
    var t = 0
    for i in 0..len(xs) { t += xs[i] * -1 }
    let s = xs[0:2]
    /* a block
     comment */
    print("sum {t + 1} of {len(xs)}", add(1,
        2), m["a"], s, - -4, 7 // 2)
    let f = (x: int) => x * 2
    print(f(3))
}
"""


def test_a_messy_program_gets_the_canonical_layout_and_keeps_its_meaning() -> None:
    assert format_source(MESSY) == CANONICAL
    assert _ir(CANONICAL, "m") == _ir(MESSY, "m") is not None


LONG = """\
fn compute(a: int, b: int, c: int) -> int {
    return a + b + c
}

fn main() {
    let first_argument = 1
    let second_argument = 2
    let total = compute(first_argument, second_argument, 3) + compute(4, 5, first_argument)  // why
    print(total > 1 and second_argument < 10 or compute(total, total, total) > 1000 * total)
    print([first_argument, second_argument, first_argument + second_argument, 10, 20, 30])
    if compute(first_argument, second_argument, total) > 100 { print("large") }
}
"""

LONG_AT_60 = """\
fn compute(a: int, b: int, c: int) -> int {
    return a + b + c
}

fn main() {
    let first_argument = 1
    let second_argument = 2
    let total = compute(first_argument, second_argument,
        3) + compute(4, 5, first_argument)  // why
    print(
        total > 1 and second_argument < 10 or
        compute(total, total, total) > 1000 * total)
    print([first_argument, second_argument,
        first_argument + second_argument, 10, 20, 30])
    if compute(first_argument, second_argument,
        total) > 100 { print("large") }
}
"""


def test_long_lines_are_broken_at_the_width() -> None:
    """Calls, argument lists, list literals and binary expressions break inside their brackets
    (where a newline means nothing), at the shallowest bracket and the loosest operator that lets
    the first piece fit, comments kept; the result is a fixed point and means the same."""
    assert format_source(LONG, width=60) == LONG_AT_60
    assert format_source(LONG_AT_60, width=60) == LONG_AT_60
    assert format_source(LONG, width=None) == LONG == format_source(LONG, width=200)
    assert _ir(LONG_AT_60, "m") == _ir(LONG, "m") is not None
    # a function's parameters broken: its body and `}` stay at the function's level
    header = "fn compute(first: int, second: int, third: int) -> int {\n    return first\n}\n"
    assert format_source(header, width=40) == (
        "fn compute(first: int, second: int,\n    third: int) -> int {\n    return first\n}\n")


def test_a_program_with_errors_is_refused_with_its_diagnostics() -> None:
    with pytest.raises(FormatError) as e:
        format_source("fn main( {\n")
    assert e.value.diagnostics and e.value.diagnostics[0].code == "E0001"


# ------------------------------------------------------------------ hypothesis: scrambled layouts

SMALL = [p for p in PARSING if len(p.read_text(encoding="utf-8")) < 4000][:12]
_NO_TOUCH = frozenset({"//", "//=", "<", ">", ">>", "{", "}", ":"})  # spacing the formatter keeps or `//` reads


def _scramble(source: str, draw, keep_lines: bool) -> str:  # noqa: ANN001 - hypothesis draw
    """`source` with the spaces between tokens and the indentation changed at random (and, unless
    `keep_lines`, blank lines added), where that cannot change what the tokens are."""
    toks = [t for t in source_tokens(source, "x.nd") if t.kind != "NL"]
    out: list[str] = []
    cursor = 0
    for prev, tok in zip([None, *toks], toks):
        gap = source[cursor:tok.pos]
        touchable = (prev is not None and prev.end_line == tok.line and gap in ("", " ")
                     and prev.kind not in _NO_TOUCH and tok.kind not in _NO_TOUCH)
        if touchable and gap == " ":
            gap = draw(st.sampled_from([" ", "  ", "\t "]))
        elif touchable and not (prev.kind[0].isalnum() and tok.kind[0].isalnum()):
            gap = draw(st.sampled_from(["", " "]))
        elif prev is None or prev.end_line != tok.line:
            head, _, indent = gap.rpartition("\n")
            if "/" not in indent:
                indent = draw(st.sampled_from(["", " ", "  ", "\t", "        "]))
            if not keep_lines and head and "/" not in head and draw(st.booleans()):
                head += "\n"
            gap = f"{head}\n{indent}" if "\n" in gap else indent
        out.append(gap)
        out.append(source[tok.pos:tok.end])
        cursor = tok.end
    out.append(source[cursor:])
    return "".join(out)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), index=st.integers(0, max(0, len(SMALL) - 1)), keep_lines=st.booleans(),
       width=st.sampled_from([None, 24, 40, 60, WIDTH]))
def test_a_scrambled_example_formats_to_a_fixed_point_with_the_same_ir(data, index: int, keep_lines: bool,  # noqa: ANN001
                                                                       width: int | None) -> None:
    path = SMALL[index]
    source = path.read_text(encoding="utf-8")
    messy = _scramble(source, data.draw, keep_lines)
    assume(_signature(source_tokens(messy, "x.nd"), messy) == _signature(source_tokens(source, "x.nd"), source))
    assume(_parses(messy))
    once = format_source(messy, path.name, width)
    assert format_source(once, path.name, width) == once
    assert _comments(once) == _comments(messy)
    if keep_lines:
        assert once == format_source(source, path.name, width)
    before = _ir(messy, path.stem)
    if before is not None:
        assert _ir(once, path.stem) == before


def test_noodle_fmt_check_and_rewrite(tmp_path: Path) -> None:
    messy = tmp_path / "m.nd"
    messy.write_text(MESSY, encoding="utf-8")
    broken = tmp_path / "broken.nd"
    broken.write_text("fn main( {\n", encoding="utf-8")
    noodle = [str(Path(sys.executable).parent / "noodle")]
    check = subprocess.run([*noodle, "fmt", "--check", str(messy)], capture_output=True, text=True, timeout=HANG_S)
    assert check.returncode == 1 and "would reformat" in check.stdout
    assert messy.read_text(encoding="utf-8") == MESSY
    rewrite = subprocess.run([*noodle, "fmt", str(messy)], capture_output=True, text=True, timeout=HANG_S)
    assert rewrite.returncode == 0 and messy.read_text(encoding="utf-8") == CANONICAL
    again = subprocess.run([*noodle, "fmt", "--check", str(messy)], capture_output=True, text=True, timeout=HANG_S)
    assert again.returncode == 0 and again.stdout == ""
    long = tmp_path / "long.nd"
    long.write_text(LONG, encoding="utf-8")
    narrow = subprocess.run([*noodle, "fmt", "--width", "60", "-"], input=LONG, capture_output=True, text=True,
                            timeout=HANG_S)
    assert narrow.returncode == 0 and narrow.stdout == LONG_AT_60
    wide = subprocess.run([*noodle, "fmt", "--check", str(long)], capture_output=True, text=True, timeout=HANG_S)
    assert wide.returncode == 0  # within the default width
    unbroken = subprocess.run([*noodle, "fmt", "--width", "0", "-"], input=LONG_AT_60, capture_output=True,
                              text=True, timeout=HANG_S)
    assert unbroken.stdout == LONG_AT_60  # lines are never joined, only broken
    bad = subprocess.run([*noodle, "fmt", str(broken)], capture_output=True, text=True, timeout=HANG_S)
    assert bad.returncode == 2 and "E0001" in bad.stderr and "Traceback" not in bad.stderr
    assert broken.read_text(encoding="utf-8") == "fn main( {\n"
