"""The REPL: piped input through the real command, and the session model directly."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from noodle.tools.repl import Session, brace_depth

NOODLE = str(Path(sys.executable).parent / "noodle")


def repl(text: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NOODLE, *args], input=text, capture_output=True, text=True, timeout=60)


def test_piped_repl_from_the_issue() -> None:
    proc = repl("let x = 2\nprint(x * 21)\n", "repl")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "42\n", "")


def test_noodle_alone_and_run_without_file_start_the_repl() -> None:
    assert repl("print(1 + 1)\n").stdout == "2\n"
    assert repl("print(3)\n", "run").stdout == "3\n"


def test_definitions_persist_and_values_are_echoed() -> None:
    text = ('fn sq(n: int) -> int {\n    return n * n\n}\nstruct P { x: int }\nvar c = 0\nc += 5\n'
            'sq(c)\n"hi"\nP(3)\n[1.5, 2.0]\nprint("no echo for none")\n')
    proc = repl(text, "repl")
    assert proc.stdout == '25\n"hi"\nP(x: 3)\n[1.5, 2.0]\nno echo for none\n', proc.stderr


def test_errors_are_reported_and_the_session_goes_on() -> None:
    proc = repl("let a = 1\nprint(nope)\n1 / 0\nlet a2 = a + 1\na2\n", "repl")
    assert proc.stdout == "2\n"
    assert "error[E0100]" in proc.stderr and "ZeroDivisionError: division by zero" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_type_help_and_quit() -> None:
    proc = repl('let xs = [1, 2]\n:type xs\n:type xs[0] * 1.5\n:help\n:quit\nprint("after quit")\n', "repl")
    lines = proc.stdout.splitlines()
    assert lines[0] == "List<int>" and lines[1] == "float"
    assert ":type EXPR" in proc.stdout and "after quit" not in proc.stdout


def test_output_of_earlier_entries_is_not_repeated() -> None:
    s = Session()
    out, err = io.StringIO(), io.StringIO()
    assert s.evaluate('print("once")', out, err)
    assert s.evaluate("let y = 3", out, err)
    assert s.evaluate("y * 2", out, err)
    assert out.getvalue() == "once\n6\n"
    assert not s.evaluate("y = 4", out, err)  # `let` cannot be reassigned: rejected, not kept
    assert "E0102" in err.getvalue()
    assert len(s.entries) == 3


def test_brace_depth_continues_entries() -> None:
    assert brace_depth("fn f() {") == 1
    assert brace_depth('let s = "{"') == 0
    assert brace_depth("let m = {\"a\": [1,") == 2
    assert brace_depth("x // {") == 0
