"""Run-time behaviour: the Noodle stack of uncaught errors, recursion depth, catching every
kind of error, closures, struct equality and how values print.

Uncaught errors and deep recursion go through the real `noodle run` (exit status, stderr,
and no Python traceback or crash); the rest runs in-process.
"""
from __future__ import annotations

import re
import resource
import subprocess
from pathlib import Path

import pytest

from helpers import NOODLE, TIMEOUT_S, TRACEBACK, Proc, cli_env, noodle, output_of, run_source, write

FRAME = re.compile(r"^  at (?P<name>.+) \((?P<file>[^:()]+):(?P<line>\d+):(?P<col>\d+)\)$")


def frames(stderr: str) -> list[tuple[str, str, int]]:
    """(name, file, line) of each `at NAME (FILE:LINE:COL)` line; every such line must parse."""
    out = []
    for ln in stderr.splitlines()[1:]:
        if ln.startswith("  ... "):
            continue
        m = FRAME.match(ln)
        assert m, f"not a stack frame: {ln!r}\n{stderr}"
        assert int(m["col"]) >= 1
        out.append((m["name"], m["file"], int(m["line"])))
    return out


# ---------------------------------------------------------------- the Noodle stack

STACK_PROGRAM = """struct Point {
    x: float
    y: float
    fn scaled(self, k: int) -> Point {
        return Point(self.x * 10.0 // k, self.y)
    }
}

fn apply(xs: List<int>, f: fn(int) -> int) -> List<int> {
    return map(xs, f)
}

fn main() {
    print("before")
    let p = Point(1.0, 2.0)
    let ks = apply([2, 1, 0], (k: int) => {
        let q = p.scaled(k)
        return int(q.x)
    })
    print(ks)
}
"""


def test_uncaught_error_prints_the_noodle_stack(tmp_path: Path) -> None:
    write(tmp_path, "stack.nd", STACK_PROGRAM)
    p = noodle(["run", "stack.nd"], tmp_path)
    assert p.returncode == 1, p.context()
    assert TRACEBACK not in p.stderr, p.context()
    assert p.stdout == "before\n", "output printed before the error is kept"
    assert p.stderr.splitlines()[0] == "ZeroDivisionError: division by zero", p.context()
    # outermost first, innermost last
    assert frames(p.stderr) == [
        ("main", "stack.nd", 16),
        ("apply", "stack.nd", 10),
        ("<lambda:16>", "stack.nd", 17),
        ("Point.scaled", "stack.nd", 5),
    ], p.context()


def test_uncaught_error_in_top_level_code(tmp_path: Path) -> None:
    write(tmp_path, "top.nd", 'let xs = [1, 2]\nprint("top")\nprint(xs[5])\nprint("never")\n')
    p = noodle(["run", "top.nd"], tmp_path)
    assert p.returncode == 1 and TRACEBACK not in p.stderr, p.context()
    assert p.stdout == "top\n"
    assert p.stderr.splitlines()[0] == "IndexError: index out of range"
    assert frames(p.stderr) == [("<module>", "top.nd", 3)], p.context()


def test_uncaught_throw_from_a_subdirectory_path(tmp_path: Path) -> None:
    write(tmp_path, "src/app.nd", 'fn check(n: int) {\n    if n < 0 {\n        throw Error("negative: {n}")\n'
                                  '    }\n}\nfn main() {\n    check(1)\n    check(-2)\n}\n')
    p = noodle(["run", "src/app.nd"], tmp_path)
    assert p.returncode == 1 and TRACEBACK not in p.stderr, p.context()
    assert p.stderr.splitlines()[0] == "Error: negative: -2"
    assert frames(p.stderr) == [("main", "src/app.nd", 8), ("check", "src/app.nd", 3)], p.context()


def test_failed_assert_uncaught(tmp_path: Path) -> None:
    write(tmp_path, "a.nd", 'fn main() {\n    let n = 3\n    assert n % 2 == 0, "n must be even"\n}\n')
    p = noodle(["run", "a.nd"], tmp_path)
    assert p.returncode == 1 and TRACEBACK not in p.stderr, p.context()
    assert p.stderr.splitlines()[0] == "AssertionError: n must be even"
    assert frames(p.stderr) == [("main", "a.nd", 3)]


def test_runtime_error_in_process_carries_the_stack() -> None:
    out = run_source(STACK_PROGRAM, "stack")
    assert out.stdout == "before\n"
    assert out.error is not None
    assert (out.error.kind, out.error.message) == ("ZeroDivisionError", "division by zero")
    assert [(f.name, f.line) for f in out.error.stack] == [
        ("main", 16), ("apply", 10), ("<lambda:16>", 17), ("Point.scaled", 5)]
    assert all(f.file == "stack.nd" and f.col >= 1 for f in out.error.stack)


# ---------------------------------------------------------------- recursion depth

RECURSE = """fn down(n: int) -> int {
    if n == 0 {
        return 0
    }
    return down(n - 1) + 1
}
"""


def test_recursion_5000_deep_works() -> None:
    assert output_of(RECURSE + "fn main() {\n    print(down(5000))\n}\n") == "5000\n"


def test_documented_depth_10000_works(tmp_path: Path) -> None:
    """docs/language.md promises at least MAX_DEPTH = 10 000 nested calls (also from a lambda via map)."""
    write(tmp_path, "d.nd", RECURSE + "print(down(10000))\nprint(map([10000], (n: int) => down(n)))\n")
    p = noodle(["run", "d.nd"], tmp_path)
    assert (p.returncode, p.stdout) == (0, "10000\n[10000]\n"), p.context()[:3000]


def test_recursion_limit_is_catchable() -> None:
    src = RECURSE + ('fn main() {\n    try {\n        print(down(100000))\n    } catch e {\n'
                     '        print(e.kind, e.message)\n    }\n    print(down(3000))\n}\n')
    assert output_of(src) == "RecursionError recursion depth exceeded\n3000\n"


def test_deep_recursion_uncaught(tmp_path: Path) -> None:
    write(tmp_path, "deep.nd", RECURSE + "fn main() {\n    print(down(5000))\n    print(down(100000))\n}\n")
    p = noodle(["run", "deep.nd"], tmp_path)
    assert p.returncode == 1, p.context()
    assert TRACEBACK not in p.stderr, p.context()[:3000]
    assert p.stdout == "5000\n"
    lines = p.stderr.splitlines()
    assert lines[0] == "RecursionError: recursion depth exceeded"
    fr = frames(p.stderr)
    assert fr[0] == ("main", "deep.nd", 9) and fr[-1] == ("down", "deep.nd", 5)
    assert len(lines) < 50, "a deep stack is shortened"
    assert any(re.fullmatch(r"  \.\.\. \d+ more frames \.\.\.", ln) for ln in lines)


@pytest.mark.parametrize("stack_kib", [None, 2048], ids=["default-stack", "2MiB-stack"])
def test_deep_recursion_through_higher_order_natives(stack_kib: int | None, tmp_path: Path) -> None:
    """Recursion that passes through map/filter/reduce/sorted ends in RecursionError, not a crash.

    The natives call Noodle functions from Python code, so this holds even with a small C stack
    (a C-level callback per level used to overflow it: a segmentation fault).
    """
    write(tmp_path, "ho.nd", """fn via_map(n: int) -> int {
    if n == 0 { return 0 }
    return map([n - 1], (k: int) => via_map(k))[0] + 1
}
fn via_filter(n: int) -> int {
    if n == 0 { return 0 }
    return len(filter([n - 1], (k: int) => via_filter(k) >= 0)) + via_filter(0)
}
fn via_reduce(n: int) -> int {
    if n == 0 { return 0 }
    return reduce([n - 1], 0, (acc: int, k: int) => via_reduce(k)) + 1
}
fn via_sorted(n: int) -> int {
    if n == 0 { return 0 }
    let order = sorted([n - 1, n + 1], (k: int) => -via_sorted(n - 1))
    return order[0] + 1
}
fn main() {
    print(via_map(300), via_reduce(300), via_sorted(10))
    let all: List<fn(int) -> int> = [via_map, via_filter, via_reduce, via_sorted]
    for f in all {
        try {
            print(f(100000))
        } catch e {
            print(e.kind)
        }
    }
}
""")
    if stack_kib is None:
        p = noodle(["run", "ho.nd"], tmp_path)
    else:
        def small_stack() -> None:
            hard = resource.getrlimit(resource.RLIMIT_STACK)[1]
            soft = stack_kib * 1024 if hard == resource.RLIM_INFINITY else min(stack_kib * 1024, hard)
            resource.setrlimit(resource.RLIMIT_STACK, (soft, hard))
        done = subprocess.run([str(NOODLE), "run", "ho.nd"], cwd=tmp_path, capture_output=True, timeout=TIMEOUT_S,
                              env=cli_env(), preexec_fn=small_stack)
        p = Proc(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))
    assert p.returncode == 0, p.context()[:3000]
    assert p.stdout == "300 300 10\n" + "RecursionError\n" * 4, p.context()[:3000]


def test_mutual_recursion_and_methods_deep() -> None:
    src = """struct Walker {
    steps: int
    fn walk(self, n: int) -> int {
        if n == 0 { return self.steps }
        self.steps += 1
        return self.walk(n - 1)
    }
}
fn is_even(n: int) -> bool { return true if n == 0 else is_odd(n - 1) }
fn is_odd(n: int) -> bool { return false if n == 0 else is_even(n - 1) }
fn main() {
    print(Walker(0).walk(4000), is_even(4000), is_odd(3001))
}
"""
    assert output_of(src) == "4000 true true\n"


# ---------------------------------------------------------------- catching every kind

CATCH_ALL = """import math
import io

fn show(f: fn() -> none) {
    try {
        f()
        print("no error")
    } catch e {
        print(e.kind, "|", e.message)
    }
}

fn deep(n: int) -> int { return deep(n + 1) + 1 }

fn main() {
    show(() => { throw Error("custom") })
    show(() => { assert 1 > 2 })
    show(() => { assert false, "with message" })
    show(() => { let x = 9223372036854775807; print(x + 1) })
    show(() => { print(2 ** 64) })
    show(() => { print(10.0 ** 400.0) })
    show(() => { print(1 // 0) })
    show(() => { print(1.5 % 0.0) })
    show(() => { print(1 / 0) })
    show(() => { print([1][2]) })
    show(() => { print("abc"[-4]) })
    show(() => { let xs: List<int> = []; print(xs.pop()) })
    show(() => { print({"a": 1}["b"]) })
    show(() => { print({(1, "x"): 1}[(2, "y")]) })
    show(() => { print(2 ** -1) })
    show(() => { print(int("x1")) })
    show(() => { print(math.sqrt(-1.0)) })
    show(() => { print(deep(0)) })
    show(() => { print(len("ab" * 4000000000)) })
    show(() => { print(io.read_text("/nonexistent-dir/file.txt")) })
    show(() => { let m = {1: 1}; for k in m { m[k + 1] = 1 } })
    show(() => { print(int(math.nan)) })
    show(() => { print(round(math.inf)) })
    show(() => { print(1 << -1) })
    show(() => { let r = range(0, 5, 0); print(r) })
}
"""

CATCH_ALL_OUT = """Error | custom
AssertionError | assertion failed
AssertionError | with message
OverflowError | integer overflow
OverflowError | integer overflow
OverflowError | float overflow
ZeroDivisionError | division by zero
ZeroDivisionError | division by zero
ZeroDivisionError | division by zero
IndexError | index out of range
IndexError | index out of range
IndexError | pop from an empty list
KeyError | key not found: "b"
KeyError | key not found: (2, "y")
ValueError | negative exponent for int ** int (use a float base)
ValueError | invalid int: "x1"
ValueError | math domain error in sqrt
RecursionError | recursion depth exceeded
MemoryError | a string of 8,000,000,000 characters is too large (limit 2,147,483,648)
IOError | No such file or directory: /nonexistent-dir/file.txt
RuntimeError | dictionary changed size during iteration
ValueError | cannot convert nan to int
OverflowError | cannot convert inf to int
ValueError | negative shift count
ValueError | range step must not be zero
"""


def test_catching_each_kind_of_error() -> None:
    assert output_of(CATCH_ALL) == CATCH_ALL_OUT


def test_error_values_and_rethrow() -> None:
    src = """fn risky(n: int) -> int {
    if n < 0 { throw Error("negative: {n}") }
    return n
}
fn main() {
    let e1 = Error("stored")
    print(e1, e1.kind, e1.message, [e1])
    try {
        try { risky(-1) } catch e { print("inner", e.message); throw e }
    } catch e {
        print("outer", e.kind, e.message)
    }
    try { throw e1 } catch e { print(e == e1, e.message) }
    var caught = 0
    for d in [1, 0, 2, 0] {
        try { print(10 // d) } catch { caught += 1 }
    }
    print("caught", caught)
}
"""
    assert output_of(src) == ('Error("stored") Error stored [Error("stored")]\ninner negative: -1\n'
                              "outer Error negative: -1\ntrue stored\n10\n5\ncaught 2\n")


def test_global_read_before_it_is_set() -> None:
    out = run_source("fn uses_late() -> int { return late }\nlet early = uses_late()\nlet late = 5\n")
    assert out.error is not None
    assert (out.error.kind, out.error.message) == ("RuntimeError", "a module variable was used before it was set")


# ---------------------------------------------------------------- closures

def test_closures_update_captured_variables() -> None:
    src = """var total = 0

fn make_counter(step: int) -> fn() -> int {
    var n = 0
    return () => {
        n += step
        return n
    }
}

fn make_account() -> (fn(int) -> none, fn() -> int) {
    var balance = 0
    let deposit = (x: int) => { balance += x }
    let read = () => balance
    return (deposit, read)
}

fn main() {
    let a = make_counter(1)
    let b = make_counter(10)
    a()
    a()
    b()
    print(a(), b())
    let (dep, read) = make_account()
    dep(5)
    dep(7)
    print(read())
    var hits = 0
    let bump = () => { hits += 1 }
    for i in 0..4 { bump() }
    print(hits)
    var depth2 = 0
    let outer = () => {
        let inner = () => { depth2 += 100 }
        inner()
        inner()
    }
    outer()
    print(depth2)
    let add_total = (x: int) => { total += x }
    add_total(3)
    add_total(4)
    print(total)
    var fns: List<fn() -> int> = []
    for i in 0..3 { fns.append(() => i * 10) }
    print(map(fns, (f: fn() -> int) => f()))
    var seen: List<int> = []
    let xs = [3, 1, 2]
    let ys = map(xs, (x: int) => {
        seen.append(x)
        return x * len(seen)
    })
    print(ys, seen)
}
"""
    assert output_of(src) == "3 20\n12\n4\n200\n7\n[20, 20, 20]\n[3, 2, 6] [3, 1, 2]\n"


# ---------------------------------------------------------------- structs

def test_struct_equality_and_reference_semantics() -> None:
    src = """struct P { x: int; y: float }
struct Line { a: P; b: P; tags: List<str> }
struct Q { x: int; y: float }
fn main() {
    let p = P(1, 2.0)
    print(p == P(1, 2.0), p == P(1, 2.5), p != P(x: 1, y: 2.0))
    let l1 = Line(P(0, 0.0), P(1, 1.0), ["a"])
    let l2 = Line(P(0, 0.0), P(1, 1.0), ["a"])
    print(l1 == l2)
    l2.tags.append("b")
    print(l1 == l2, [p] == [P(1, 2.0)], {"k": p} == {"k": P(1, 2.0)})
    let alias = p
    alias.x = 9
    print(p, p == alias)
    let n = P(0, 0.0 / 1.0)
    print(P(1, 2) == P(1, 2.0))
    print(Q(1, 2.0) == Q(1, 2.0))
}
"""
    assert output_of(src) == ("true false false\ntrue\nfalse true true\nP(x: 9, y: 2.0) true\ntrue\ntrue\n")


def test_struct_with_nan_is_not_equal_to_itself_copy() -> None:
    src = 'import math\nstruct F { v: float }\nprint(F(math.nan) == F(math.nan), F(1.0) == F(1.0))\n'
    assert output_of(src) == "false true\n"


# ---------------------------------------------------------------- printing

def test_printing_nested_containers() -> None:
    src = """struct P { x: int; tags: List<str> }
fn main() {
    print([[1, 2], [], [3]])
    print({"a": [1.5, 2.0], "b": []}, {1: {"x": true}})
    print((1, "x", [none, none]), ((1, 2), (3.0, "y")))
    print([P(1, ["a", "b"])], {"p": P(2, [])})
    print([true, false], none, [[[]]])
    let m: Map<str, List<int>> = {}
    let e: List<(int, str)> = []
    print(m, e, [m])
    print(str([1, 2]), "{[1, 2]}", "in {(1, "a")} text")
}
"""
    assert output_of(src) == """[[1, 2], [], [3]]
{"a": [1.5, 2.0], "b": []} {1: {"x": true}}
(1, "x", [none, none]) ((1, 2), (3.0, "y"))
[P(x: 1, tags: ["a", "b"])] {"p": P(x: 2, tags: [])}
[true, false] none [[[]]]
{} [] [{}]
[1, 2] [1, 2] in (1, "a") text
"""


def test_printing_floats() -> None:
    src = """import math
fn main() {
    print(0.1, 1e-09, 2.0, 1e16, 1e22, 1.5e300, 5e-324, 123456789.125)
    print(math.inf, -math.inf, math.nan, 0.1 + 0.2, 1.0 / 3.0)
    let z = float("-0.0")
    print(z, -z, [z, 0.1, math.inf, math.nan], (z, 1e-09))
    print(str(0.1), "{1e-09}", str(math.inf) + "!", 7 / 2, 2 ** 0.5)
    print(float(7), float("1e3"), float("inf"), 1e100 * 1e300, -1e308 * 10.0)
}
"""
    assert output_of(src) == """0.1 1e-09 2.0 1e+16 1e+22 1.5e+300 5e-324 123456789.125
inf -inf nan 0.30000000000000004 0.3333333333333333
-0.0 0.0 [-0.0, 0.1, inf, nan] (-0.0, 1e-09)
0.1 1e-09 inf! 3.5 1.4142135623730951
7.0 1000.0 inf inf -inf
"""


def test_printing_strings_inside_containers() -> None:
    src = r"""fn main() {
    let s = "say \"hi\""
    print(s, [s], {s: "x"})
    print(["tab\there", "new\nline", "back\\slash", "\{braces\}"])
    print(("it's", "ok"), [""], ["é", "日本"])
    print(str(["a"]), "{["q\"q"]}")
}
"""
    assert output_of(src) == r"""say "hi" ["say \"hi\""] {"say \"hi\"": "x"}
["tab\there", "new\nline", "back\\slash", "\{braces\}"]
("it's", "ok") [""] ["é", "日本"]
["a"] ["q\"q"]
"""


def test_printing_negative_zero_literal() -> None:
    assert output_of("print(0.0, -0.0, [-0.0])\n") == "0.0 -0.0 [-0.0]\n"
