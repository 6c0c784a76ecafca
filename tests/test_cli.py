"""The command line as a user meets it: `noodle FILE.nd`, options and program arguments, exit
statuses, the environment a program sees, the module search path, and `noodle test`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from helpers import HANG_S, TRACEBACK, cli_env, noodle, write

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOODLE = str(Path(sys.executable).parent / "noodle")


def run_env(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([NOODLE, *args], cwd=cwd, capture_output=True, text=True, timeout=HANG_S,
                          env=dict(cli_env(), **env))


# ---------------------------------------------------------------- the word-frequency example

def test_wordfreq_example_counts_words_and_sets_its_status(tmp_path: Path) -> None:
    write(tmp_path, "one.txt", "The cat and the hat.\nDon't stop, the CAT said.\n")
    write(tmp_path, "two.txt", "a hat, a cat\n")
    tool = str(EXAMPLES / "wordfreq.nd")
    p = noodle([tool, "-n", "4", "one.txt", "two.txt"], tmp_path)
    assert (p.returncode, p.stdout, p.stderr) == (0, "3 cat\n3 the\n2 a\n2 hat\n", ""), p.context()
    p = noodle([tool, "one.txt", "missing.txt"], tmp_path)  # the readable file is still counted
    assert p.returncode == 1 and "don't" in p.stdout, p.context()
    assert p.stderr == "wordfreq: No such file or directory: missing.txt\n", p.context()
    write(tmp_path, "paths.txt", "venv/bin/noodle rock-n-roll\n'quoted' it's x''y end'\n")
    p = noodle([tool, "-n", "20", "paths.txt"], tmp_path)  # any non-letter separates words
    assert sorted(p.stdout.splitlines()) == sorted(f"1 {w}" for w in [
        "venv", "bin", "noodle", "rock", "n", "roll", "quoted", "it's", "x", "y", "end"]), p.context()
    p = noodle([tool, "-n", "x", "one.txt"], tmp_path)
    assert p.returncode == 2 and p.stdout == "" and 'not "x"' in p.stderr, p.context()


# ---------------------------------------------------------------- program arguments, exit, env, stderr

def test_a_program_reads_its_arguments_environment_and_sets_its_status(tmp_path: Path) -> None:
    write(tmp_path, "app.nd", 'import sys\nprint(sys.args())\neprint("to stderr", 1)\n'
                              'print(sys.env("NOODLE_TEST_VALUE"), sys.env("NOODLE_TEST_UNSET", "default"), '
                              'sys.has_env("NOODLE_TEST_UNSET"))\nexit(len(sys.args()))\nprint("not reached")\n')
    p = run_env(["app.nd", "a b", "--flag", "-O2"], tmp_path, NOODLE_TEST_VALUE="v")
    assert p.returncode == 3, p.stderr
    assert p.stdout == '["a b", "--flag", "-O2"]\nv default false\n'
    assert p.stderr == "to stderr 1\n"
    p = run_env(["run", "-O0", "app.nd", "--", "--no-cache"], tmp_path, NOODLE_TEST_VALUE="w")
    assert (p.returncode, p.stdout.splitlines()[0]) == (1, '["--no-cache"]'), p.stderr


def test_exit_cannot_be_caught_and_checks_its_status(tmp_path: Path) -> None:
    write(tmp_path, "x.nd", 'try {\n    exit(4)\n} catch {\n    print("caught")\n}\n')
    p = noodle(["x.nd"], tmp_path)
    assert (p.returncode, p.stdout) == (4, ""), p.context()
    write(tmp_path, "y.nd", "exit(300)\n")
    p = noodle(["y.nd"], tmp_path)
    assert p.returncode == 1 and "ValueError: exit status must be between 0 and 255" in p.stderr, p.context()


def test_an_unset_variable_is_a_key_error(tmp_path: Path) -> None:
    write(tmp_path, "e.nd", 'import sys\nprint(sys.env("NOODLE_TEST_UNSET"))\n')
    p = noodle(["e.nd"], tmp_path)
    assert p.returncode == 1 and 'KeyError: environment variable not set: "NOODLE_TEST_UNSET"' in p.stderr


def test_embedded_vms_grant_the_environment_only_as_a_capability() -> None:
    import noodle as nd

    source = nd.Source('import sys\nfn home() -> str { return sys.env("HOME", "?") }\n'
                       "fn args() -> List<str> { return sys.args() }\n", name="app")
    vm = nd.VM(args=["x"])
    app = vm.load(source)
    assert app.args() == ["x"]
    try:
        app.home()
        raise AssertionError("the env capability was not enforced")
    except nd.NoodleRuntimeError as e:
        assert e.kind == "PermissionError" and "env capability" in e.message
    vm2 = nd.VM(capabilities=nd.Capabilities(env=True))
    assert vm2.load(nd.Source(source.text, name="app")).home() == os.environ.get("HOME", "?")


def test_exit_in_an_embedded_vm_is_an_error_for_the_host_not_the_end_of_it() -> None:
    import noodle as nd
    from noodle.errors import ProgramExit

    vm = nd.VM()
    app = vm.load(nd.Source("fn stop() { exit(7) }\n", name="app"))
    try:
        app.stop()
        raise AssertionError("exit did not reach the host")
    except ProgramExit as e:
        assert e.code == 7


# ---------------------------------------------------------------- command-line conventions

def test_noodle_file_runs_it_and_options_go_before_the_file(tmp_path: Path) -> None:
    write(tmp_path, "hi.nd", 'print("hi")\n')
    assert noodle(["hi.nd"], tmp_path).stdout == "hi\n"
    assert noodle(["-O2", "--no-cache", "hi.nd"], tmp_path).stdout == "hi\n"
    p = noodle(["run", "--bogus", "hi.nd"], tmp_path)  # an unknown option is an error, not a file name
    assert p.returncode == 2 and "unknown option '--bogus'" in p.stderr and p.stdout == "", p.context()
    p = noodle(["run", "-O7", "hi.nd"], tmp_path)
    assert p.returncode == 2 and "-O" in p.stderr
    p = noodle(["run", "--backend"], tmp_path)
    assert p.returncode == 2 and "needs a value" in p.stderr
    p = noodle(["run", "--help"], tmp_path)
    assert p.returncode == 0 and "everything after FILE" in " ".join(p.stdout.split())


def test_a_missing_file_has_its_own_message_and_status(tmp_path: Path) -> None:
    for args in (["nothere.nd"], ["run", "nothere.nd"], ["run", "-O0", "sub/nothere.nd"]):
        p = noodle(args, tmp_path)
        assert p.returncode == 66 and "cannot open" in p.stderr and TRACEBACK not in p.stderr, p.context()
    (tmp_path / "folder.nd").mkdir()
    p = noodle(["folder.nd"], tmp_path)
    assert p.returncode == 66 and "is a directory" in p.stderr
    (tmp_path / "project").mkdir()
    p = noodle(["project"], tmp_path)  # an existing path is a file to run, not an unknown command
    assert p.returncode == 66 and "cannot open project: is a directory" in p.stderr, p.context()
    for args in (["check", "nothere.nd"], ["test", "nothere.nd"]):
        p = noodle(args, tmp_path)
        assert p.returncode == 66 and "cannot open nothere.nd" in p.stderr + p.stdout, p.context()
        assert "error:" not in p.stdout + p.stderr, p.context()


def test_colour_follows_force_color_and_the_option(tmp_path: Path) -> None:
    write(tmp_path, "bad.nd", "print(nope)\n")
    plain = run_env(["bad.nd"], tmp_path)
    assert "\x1b[" not in plain.stderr
    forced = run_env(["bad.nd"], tmp_path, FORCE_COLOR="1")
    assert "\x1b[" in forced.stderr and "error[E0100]" in forced.stderr
    assert "\x1b[" in run_env(["run", "--color", "always", "bad.nd"], tmp_path).stderr
    assert "\x1b[" not in run_env(["run", "--color=never", "bad.nd"], tmp_path, FORCE_COLOR="1").stderr


def test_package_metadata_names_a_license() -> None:
    from importlib.metadata import metadata

    meta = metadata("noodle-lang")
    assert "MIT" in (meta.get("License-Expression") or meta.get("License") or "")
    assert "License :: OSI Approved :: MIT License" in (meta.get_all("Classifier") or [])
    assert (EXAMPLES.parent / "LICENSE").read_text().startswith("MIT License")


# ---------------------------------------------------------------- the module search path

def test_imports_search_the_manifest_roots_then_noodle_path(tmp_path: Path) -> None:
    write(tmp_path, "shared/text/util.nd", 'fn shout(s: str) -> str { return s.upper() + "!" }\n')
    write(tmp_path, "elsewhere/calc.nd", "fn twice(n: int) -> int { return 2 * n }\n")
    write(tmp_path, "app/noodle.toml", '[dependencies]\nroots = ["../shared"]\n')
    write(tmp_path, "app/src/main.nd", 'import text.util\nimport calc\nprint(util.shout("hi"), calc.twice(4))\n')
    p = run_env(["app/src/main.nd"], tmp_path, NOODLE_PATH=str(tmp_path / "elsewhere"))
    assert (p.returncode, p.stdout, p.stderr) == (0, "HI! 8\n", "")
    p = run_env(["app/src/main.nd"], tmp_path)  # without NOODLE_PATH `calc` is nowhere
    assert p.returncode == 2 and "module `calc` not found" in p.stderr and "shared/calc.nd" in p.stderr
    write(tmp_path, "app/src/calc.nd", "fn twice(n: int) -> int { return 20 * n }\n")  # the program's own wins
    p = run_env(["app/src/main.nd"], tmp_path, NOODLE_PATH=str(tmp_path / "elsewhere"))
    assert p.stdout == "HI! 80\n", p.stderr


# ---------------------------------------------------------------- noodle test

def _test_tree(root: Path) -> None:
    write(root, "calc.nd", 'fn add(a: int, b: int) -> int { return a + b }\n'
                           'test "adds" {\n    assert add(2, 2) == 4\n}\n'
                           'test "lists" {\n    assert [add(1, 1), 3] == [2, 4]\n}\n')
    write(root, "deep/more.nd", 'test "strings" {\n    assert "ab".upper() == "AB"\n}\n')
    write(root, "plain.nd", 'print("no tests here")\n')


def test_noodle_test_discovers_filters_and_shows_values(tmp_path: Path) -> None:
    _test_tree(tmp_path)
    p = noodle(["test"], tmp_path)
    assert p.returncode == 1, p.context()
    lines = p.stdout.splitlines()
    assert lines[:2] == ["calc.nd", "  PASS adds"]
    assert lines[2:7] == ["  FAIL lists", "    calc.nd:6:5: AssertionError: assertion failed: [add(1, 1), 3] == [2, 4]",
                          "      left:  [2, 3]", "      right: [2, 4]", "deep/more.nd"]
    assert lines[7] == "  PASS strings" and lines[-1].startswith("2 passed, 1 failed in ")
    p = noodle(["test", "deep"], tmp_path)
    assert p.returncode == 0 and p.stdout.startswith("PASS strings\n1 passed, 0 failed in "), p.context()
    p = noodle(["test", "-k", "ADDS"], tmp_path)
    assert p.returncode == 0 and "PASS adds" in p.stdout and "2 deselected" in p.stdout, p.context()
    p = noodle(["test", "-k", "nothing-matches"], tmp_path)
    assert p.returncode == 5 and "no tests found" in p.stdout


def test_a_failed_assert_in_a_helper_shows_both_values(tmp_path: Path) -> None:
    write(tmp_path, "helper.nd", 'fn same_total(xs: List<int>, want: int) {\n    assert sum(xs) == want\n}\n'
                                 'test "totals" {\n    same_total([1, 2], 3)\n    same_total([1, 2], 4)\n}\n'
                                 'test "in a lambda" {\n    let check = (s: str) => { assert s.upper() == s }\n'
                                 '    check("Ab")\n}\n')
    p = noodle(["test", "helper.nd"], tmp_path)
    lines = p.stdout.splitlines()
    assert lines[:4] == ["FAIL totals", "  helper.nd:2:5: AssertionError: assertion failed: sum(xs) == want",
                         "    left:  3", "    right: 4"], p.context()
    assert lines[4:8] == ["FAIL in a lambda",
                          "  helper.nd:9:31: AssertionError: assertion failed: s.upper() == s",
                          '    left:  "AB"', '    right: "Ab"'], p.context()
    write(tmp_path, "prog.nd", "fn half(n: int) -> int {\n    assert n % 2 == 0\n    return n // 2\n}\nprint(half(3))\n")
    p = noodle(["prog.nd"], tmp_path)  # a program's assert, outside any test, explains itself too
    assert p.returncode == 1 and "assertion failed: n % 2 == 0\n  left:  1\n  right: 0" in p.stderr, p.context()


def test_noodle_test_reports_for_ci(tmp_path: Path) -> None:
    _test_tree(tmp_path)
    p = noodle(["test", "--json", "--junit", "report.xml"], tmp_path)
    report = json.loads(p.stdout)
    assert (report["schema"], report["passed"], report["failed"]) == (1, 2, 1)
    failed = [t for t in report["tests"] if t["outcome"] == "failed"][0]
    assert (failed["file"], failed["name"], failed["kind"], failed["where"]) == \
        ("calc.nd", "lists", "AssertionError", "calc.nd:6:5")
    suites = ET.parse(tmp_path / "report.xml").getroot()
    assert suites.get("tests") == "3" and suites.get("failures") == "1"
    failure = suites.find(".//testcase[@name='lists']/failure")
    assert failure is not None and failure.get("type") == "AssertionError"


def test_noodle_test_on_a_file_that_does_not_compile(tmp_path: Path) -> None:
    write(tmp_path, "broken.nd", 'test "x" {\n    assert nope == 1\n}\n')
    p = noodle(["test", "broken.nd"], tmp_path)
    assert p.returncode == 2 and "error[E0100]" in p.stdout and TRACEBACK not in p.stderr, p.context()
