"""Every wait in the tests is bounded by `helpers.HANG_S`, the suite's one guard against hangs.

A literal timeout of a minute decides a test's verdict by the machine's speed: on a loaded 2-core
machine `noodlec --explain` took longer than the 60 s a helper allowed, and the suite went red with
nothing wrong (docs/testing.md, "A loaded machine").  This test reads every test file with `ast`
and refuses a number of seconds above one given as a `timeout` (a call's keyword argument or a
parameter's default); sub-second values are polling intervals inside a loop that is itself bounded.
"""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
#: the longest literal `timeout` allowed: a polling interval, not a deadline
POLL_S = 1.0


def literal_timeouts(tree: ast.AST) -> list[tuple[int, float]]:
    """(line, seconds) of each numeric `timeout=` keyword or `timeout` default above POLL_S."""
    found: list[tuple[int, float]] = []

    def check(node: ast.AST | None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool) and node.value > POLL_S:
            found.append((node.lineno, float(node.value)))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "timeout":
                    check(kw.value)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            positional = args.posonlyargs + args.args
            for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
                if arg.arg == "timeout":
                    check(default)
            for arg, kwdefault in zip(args.kwonlyargs, args.kw_defaults):
                if arg.arg == "timeout":
                    check(kwdefault)
    return sorted(found)


def test_no_test_waits_on_a_literal_deadline() -> None:
    bad = [f"{path.name}:{line}: timeout={seconds:g}"
           for path in sorted(TESTS.glob("*.py"))
           for line, seconds in literal_timeouts(ast.parse(path.read_text(encoding="utf-8")))]
    assert not bad, "use helpers.HANG_S for waits (a hang guard, not a speed limit):\n" + "\n".join(bad)


def test_the_check_sees_keywords_and_defaults() -> None:
    tree = ast.parse("run(x, timeout=60)\nf(timeout=0.5)\ndef g(a, timeout=30.0): pass\n"
                     "def h(*, timeout=120): pass\ndef k(timeout=HANG_S): pass\nm(timeout=True)\n")
    assert literal_timeouts(tree) == [(1, 60.0), (3, 30.0), (4, 120.0)]
