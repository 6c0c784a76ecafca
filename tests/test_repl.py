"""The REPL: a person at a terminal (pexpect), piped input, and the session model directly."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from noodle.tools.repl import Session, is_complete
from noodle.tools.repl.complete import completions
from noodle.tools.repl.entry import may_continue
from noodle.tools.repl.highlight import token_classes
from noodle.tools.repl.terminal import enter_runs, next_indent
from helpers import HANG_S

NOODLE = str(Path(sys.executable).parent / "noodle")


def repl(text: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NOODLE, *args], input=text, capture_output=True, text=True, timeout=HANG_S)


def run(session: Session, entry: str) -> tuple[bool, str, str]:
    out, err = io.StringIO(), io.StringIO()
    kept = session.evaluate(entry, out, err)
    return kept, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------- at a terminal

@pytest.fixture
def terminal(tmp_path: Path):
    pexpect = pytest.importorskip("pexpect")
    env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", NOODLE_HISTORY=str(tmp_path / "history"), TERM="xterm")
    child = pexpect.spawn(NOODLE, ["repl"], env=env, cwd=str(tmp_path), encoding="utf-8", timeout=HANG_S,
                          dimensions=(24, 200))
    child.expect("noodle>")
    yield child
    child.close(force=True)


def test_a_person_at_a_terminal(terminal) -> None:
    c = terminal

    def entry(text: str) -> None:
        c.send(text + "\r")

    entry("import random")
    c.expect("noodle>")
    entry("let r = random.random()")
    c.expect("noodle>")
    values = []
    for _ in range(2):  # the entry that drew the number is not run again
        entry("r")
        c.expect(r"(0\.\d+|1\.0)\r\n")
        values.append(c.match.group(1))
        c.expect("noodle>")
    assert values[0] == values[1]
    entry('let name = input("name? ")')
    c.expect(r"name\? ")  # the program's own prompt shows, and input() reads the terminal
    c.send("Ada\r")
    c.expect("noodle>")
    entry('"hi " + name')  # later entries do not ask again
    c.expect('"hi Ada"')
    c.expect("noodle>")
    entry("var n = 0")
    c.expect("noodle>")
    entry('print("sta" + "rted"); while true { n += 1 }')
    c.expect("started")  # the program's output (the echoed entry does not contain the word)
    deadline = time.monotonic() + HANG_S
    while True:  # Ctrl-C ends the entry, not the session (sent until the loop has seen it)
        c.sendintr()
        if c.expect(["KeyboardInterrupt", __import__("pexpect").TIMEOUT], timeout=0.5) == 0:
            break
        assert time.monotonic() < deadline, "Ctrl-C did not interrupt the entry"
    c.expect("noodle>")
    entry("name")
    c.expect('"Ada"')
    c.expect("noodle>")
    # a definition typed over several lines: Enter continues while the parser wants more
    c.send("fn sq(n: int) -> int {\r")
    c.send("return n * n\r")
    c.send("}\r")
    c.expect("noodle>")
    entry("sq(9)")
    c.expect("81\r\n")
    c.expect("noodle>")
    # a pasted block: several statements, the trailing expression echoed
    c.send("\x1b[200~let a = 20\nlet b = 22\na + b\x1b[201~\r")
    c.expect("42\r\n")
    c.expect("noodle>")
    # tab completion of a session name, then of a standard module's member
    c.send("nam\t")  # the one candidate is inserted (a terminal may redraw only "e": run it)
    c.send("\r")
    c.expect('"Ada"\r\n')
    c.expect("noodle>")
    c.send("unfinished(")
    c.send("\x03")  # Ctrl-C at the prompt clears the line
    c.expect("noodle>")
    c.send("random.rand\t")
    c.expect("randint")
    c.send("\x03")
    c.expect("noodle>")
    entry(":quit")
    c.expect(__import__("pexpect").EOF)


def test_closure_state_across_entries_at_a_terminal(terminal) -> None:
    c = terminal
    for text in ("var count = 0", "let inc = () => { count += 1 }", "inc(); inc()"):
        c.send(text + "\r")
        c.expect("noodle>")
    c.send("count\r")  # the closure an earlier entry made assigned the session's own `count`
    c.expect(r"(?<![\d.])2\r\n")
    c.expect("noodle>")
    c.send("count += 10; inc(); count\r")
    c.expect(r"(?<![\d.])13\r\n")
    c.expect("noodle>")
    # completion of a struct's fields and methods, of standard modules and of the REPL's commands
    c.send("struct Point {\rx: float\rfn norm(self) -> float { return self.x }\r}\r")
    c.expect("noodle>")
    c.send("let pt = Point(2.0)\r")
    c.expect("noodle>")
    c.send("pt.\t")
    c.expect("norm")  # the menu: the method, then the field
    c.expect(r" x {2,}")
    c.send("\x03")
    c.expect("noodle>")
    # a single candidate is inserted (the terminal may redraw only its missing part: run the result)
    c.send("pt.no\t")
    c.send("()\r")
    c.expect(r"(?<![\d.])2\.0\r\n")
    c.expect("noodle>")
    c.send("import ran\t")
    c.send("\r")
    c.expect("noodle>")
    c.send("random.randint(7, 7)\r")
    c.expect(r"(?<![\d.])7\r\n")
    c.expect("noodle>")
    c.send(":ty\t")
    c.send(" pt\r")
    c.expect("Point\r\n")
    c.expect("noodle>")
    c.send("while")  # coloured as it is typed: a keyword in the keyword colour (bold blue)
    c.expect(r"\x1b\[[0-9;]*34[0-9;]*mwhile")
    c.send("\x03")
    c.expect("noodle>")


# ---------------------------------------------------------------- piped

def test_piped_repl_from_the_issue() -> None:
    proc = repl("let x = 2\nprint(x * 21)\n", "repl")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "42\n", "")


def test_noodle_alone_starts_the_repl() -> None:
    assert repl("print(1 + 1)\n").stdout == "2\n"


def test_definitions_persist_and_values_are_echoed() -> None:
    text = ('fn sq(n: int) -> int {\n    return n * n\n}\nstruct P { x: int }\nvar c = 0\nc += 5\n'
            'sq(c)\n"hi"\nP(3)\n[1.5, 2.0]\nprint("no echo for none")\n')
    proc = repl(text, "repl")
    assert proc.stdout == '25\n"hi"\nP(x: 3)\n[1.5, 2.0]\nno echo for none\n', proc.stderr


def test_piped_input_reads_the_following_line_once() -> None:
    proc = repl('let name = input("? ")\nAda\nname\nname\n', "repl")
    assert proc.stdout == '? "Ada"\n"Ada"\n', proc.stderr


def test_else_on_the_line_after_the_brace_and_comment_braces() -> None:
    text = 'let x = 3\nif x > 5 {\n  print("big")\n}\nelse {\n  print("small")\n}\nif x > 1 { print("one") }\n' \
           'print("two")\n/* { */\nx\n'
    proc = repl(text, "repl")
    assert proc.stdout == "small\none\ntwo\n3\n", proc.stderr


def test_errors_are_reported_and_the_session_goes_on() -> None:
    proc = repl("let a = 1\nprint(nope)\n1 / 0\nlet a2 = a + 1\na2\n", "repl")
    assert proc.stdout == "2\n"
    assert "error[E0100]" in proc.stderr and "ZeroDivisionError: division by zero" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_exit_leaves_the_repl_with_its_status() -> None:
    proc = repl('print("a")\nexit(3)\nprint("b")\n', "repl")
    assert (proc.returncode, proc.stdout) == (3, "a\n"), proc.stderr


def test_type_help_and_quit() -> None:
    proc = repl('let xs = [1, 2]\n:type xs\n:type xs[0] * 1.5\nstruct P { x: int }\n:type P(1)\n:help\n:quit\n'
                'print("after quit")\n', "repl")
    lines = proc.stdout.splitlines()
    assert lines[:3] == ["List<int>", "float", "P"]
    assert ":type EXPR" in proc.stdout and "after quit" not in proc.stdout


# ---------------------------------------------------------------- the session

def test_entries_run_once_and_state_lives_on() -> None:
    s = Session()
    assert run(s, 'print("once")') == (True, "once\n", "")
    assert run(s, "import random") == (True, "", "")
    assert run(s, "let r = random.random()")[0]
    first, second = run(s, "r")[1], run(s, "r")[1]
    assert first == second and float(first) < 1.0
    assert run(s, "var c = [1]") == (True, "", "")
    assert run(s, "c.append(2); c")[1] == "[1, 2]\n"
    kept, out, err = run(s, "let r2 = r; r = 4.0")  # `let` cannot be reassigned: rejected, not kept
    assert not kept and "E0102" in err
    assert run(s, "r2")[0] is False  # nothing of the rejected entry was kept


def test_an_entry_that_fails_is_undone_as_a_whole() -> None:
    s = Session()
    run(s, "var n = 1")
    kept, _, err = run(s, "n = 2\nlet z = 5\nthrow Error(\"stop\")")
    assert not kept and 'Error: stop' in err
    assert run(s, "n")[1] == "1\n"
    assert "E0100" in run(s, "z")[2]


def test_redefinitions_replace_functions_structs_and_variables() -> None:
    s = Session()
    run(s, "fn f(n: int) -> int { return n + 1 }")
    run(s, "let g = (n: int) => f(n) * 10")  # a closure made now calls the newest f later
    assert run(s, "g(1)")[1] == "20\n"
    run(s, "fn f(n: int) -> int { return n + 2 }")
    assert run(s, "f(1)")[1] == "3\n"
    assert run(s, "g(1)")[1] == "30\n"
    run(s, "let x = 1")
    run(s, 'let x = "now a string"')
    assert run(s, "x")[1] == '"now a string"\n'
    run(s, "struct P { a: int }")
    run(s, "let p = P(1)")
    kept, _, err = run(s, "struct P { a: int; b: int }")
    assert kept and "`p` dropped" in err
    assert run(s, "P(1, 2)")[1] == "P(a: 1, b: 2)\n"


def test_a_closure_from_an_earlier_entry_reads_the_current_variables() -> None:
    s = Session()
    run(s, "var k = 2")
    run(s, "let times = (x: int) => x * k")
    run(s, "k = 10")
    assert run(s, "times(3)")[1] == "30\n"


def test_closures_from_earlier_entries_share_the_sessions_variables() -> None:
    s = Session()
    run(s, "var count = 0")
    run(s, "let inc = () => { count += 1 }")
    assert run(s, "inc(); inc(); count")[1] == "2\n"  # within the entry
    assert run(s, "count")[1] == "2\n"  # and in later ones
    run(s, "fn add(n: int) { count += n }")
    run(s, "let add_twice = (n: int) => { add(n); add(n) }")
    assert run(s, "add_twice(5); count")[1] == "12\n"
    run(s, "fn add(n: int) { count += 100 * n }")  # redefined: the earlier closure calls the new one
    assert run(s, "add_twice(1); count")[1] == "212\n"
    assert run(s, "fn make() -> fn() -> int {\n    var c = 0\n    return () => {\n        c += 1\n"
                  "        return c\n    }\n}")[0]
    run(s, "let next = make()")
    assert [run(s, "next()")[1] for _ in range(3)] == ["1\n", "2\n", "3\n"]
    kept, _, err = run(s, 'inc(); count = 0; throw Error("undo")')  # a failed entry undoes its assignments
    assert not kept and "undo" in err
    assert run(s, "count")[1] == "212\n"


def test_an_entry_compiles_only_what_it_uses() -> None:
    def compiled() -> set[str]:  # the functions of the latest version: stubs and new code
        return {f.name for f in s.current.image.functions}

    s = Session()
    for i in range(30):
        run(s, f"fn f{i}(n: int) -> int {{ return n + {i} }}")
        run(s, f"var v{i} = {i}")
        run(s, f"struct S{i} {{\n    a: int\n    fn twice(self) {{ return self.a * 2 }}\n}}")
    assert run(s, "f7(v3) + S2(4).twice()") == (True, "18\n", "")
    # the same work as in an empty session: the entry, and stubs of what it names
    assert compiled() == {"__init__", "f7", "S2.twice"} and s.stubbed == {"f7", "S2.twice"}
    assert s.defined == ["__init__"]  # earlier functions keep their code: nothing compiled again
    run(s, "fn g(n: int) -> int { return f1(n) * 2 }")
    assert compiled() == {"__init__", "g", "f1"} and sorted(s.defined) == ["__init__", "g"]
    run(s, "let h = (n: int) => g(n) + 1")
    assert compiled() == {"__init__", "g"}  # g's stub has no body, so no f1
    assert run(s, "h(1)")[1] == "5\n"
    _, _, err = run(s, "f8(v_3)")  # an error is reported with the whole session in view
    assert "error[E0100]" in err and "`v3`" in err
    run(s, "struct S5 { a: int; b: int }")  # earlier code must be checked against the new S5: all of it
    assert "f0" in s.defined and not s.stubbed
    assert run(s, "f2(1) + S5(1, 2).b")[1] == "5\n"
    assert s.defined == ["__init__"]


def test_a_function_redefinition_does_not_rerun_or_retype_old_variables() -> None:
    s = Session()
    run(s, "fn f() -> int { return 7 }")
    run(s, "let v = f()")
    run(s, 'fn f() -> str { return "s" }')  # v's initialiser would no longer be an int
    assert run(s, "v + 1")[1] == "8\n"


def test_errors_point_into_the_entry() -> None:
    s = Session()
    run(s, "let a = 1\nlet b = 2")
    _, _, err = run(s, "let c = (a +\n    nope)")
    assert err.startswith("<repl>:2:5: error[E0100]: name `nope` is not defined")
    assert "   2 |     nope)\n" in err and "\n           ^^^^" in err
    run(s, "fn half(n: int) -> int {\n    return 10 // n\n}")
    _, _, err = run(s, "print(1)\nhalf(0)")
    assert "ZeroDivisionError" in err
    assert "at <module> (<repl>:2:1)" in err
    assert "at half (<repl#" in err and ":2:5)" in err and "return 10 // n" in err


def test_completeness_is_the_parsers() -> None:
    assert is_complete("let x = 1")
    assert not is_complete("fn f() {")
    assert not is_complete("let m = {\"a\": 1,")
    assert not is_complete("/* {")
    assert is_complete("/* { */")  # a brace in a comment is no brace
    assert is_complete('let s = "{"')
    assert is_complete("x  // {")
    assert is_complete("let x = )")  # an error more input cannot fix is reported at once
    assert may_continue("if x { }") and not may_continue("if x { } else { }")


def test_terminal_enter_and_indent() -> None:
    assert not enter_runs("fn f() {")
    assert next_indent("fn f() {") == "    "
    assert next_indent("fn f() {\n    if x {") == "        "
    assert not enter_runs("if x {\n}")  # may be followed by `else`
    assert enter_runs("if x {\n}\n")
    assert enter_runs("1 + 1")


def test_colouring_comes_from_the_lexer() -> None:
    text = 'let x = a // 2  // note\nprint("a{x}")'
    classes = {text[a:b].strip(): c for a, b, c in token_classes(text)}
    assert classes["let"] == "keyword" and classes["//"] == "operator"
    assert classes["// note"] == "comment" and classes['"a{x}"'] == "string"
    assert classes["print"] == "builtin" and classes["2"] == "number"


def test_completion_from_the_checkers_scope(tmp_path: Path) -> None:
    (tmp_path / "geo.nd").write_text("fn area(w: float) -> float { return w * w }\n")
    s = Session(tmp_path)
    run(s, "struct Point {\n    x: float\n    y: float\n    fn norm(self) -> float { return self.x }\n}")
    run(s, "let p = Point(1.0, 2.0)")
    run(s, "let words = [\"a\"]")
    run(s, "import math")
    assert completions(s, "p.") == (0, ["norm", "x", "y"])
    assert completions(s, "p.no") == (2, ["norm"])
    assert "append" in completions(s, "words.")[1]
    assert completions(s, "math.sq") == (2, ["sqrt"])
    assert "pi" in completions(s, "math.")[1]
    assert completions(s, "wor") == (3, ["words"])
    assert completions(s, "pri")[1] == ["print"]
    assert completions(s, ":ty") == (3, [":type"])
    assert "geo" in completions(s, "import g")[1] and "math" in completions(s, "import ")[1]
    run(s, "import geo")
    assert completions(s, "geo.") == (0, ["area"])


def test_a_comment_read_as_floor_division_gets_its_hint_in_the_repl_too() -> None:
    s = Session()
    kept, _, err = run(s, "let a = 6 // twelve")
    assert not kept and "E0100" in err and "to start a comment there, put two spaces before it" in err
    assert run(s, "let b = 6  // twelve\nb") == (True, "6\n", "")
