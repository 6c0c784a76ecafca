"""Odd but valid programs (the hunt of the `robust` brief): long literals, long names, unicode text,
empty functions and blocks, shadowing, numbers at the edges of their range, long argument lists,
recursion to the documented depth, deep but legal nesting.  Each runs to the same output, to the
bit, on the VM and with native code (test_native.both), and that output is pinned; the few a limit
refuses get their designed diagnostic, never a load error or a traceback.  Found by this corpus: a
list literal of more than ~1 000 items (and a string of as many interpolations) compiled and was
then refused at load, "operand stack deeper than 1024" (now built in chunks); a map literal, tuple
or call too wide for one instruction likewise (now E0005 at its span)."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import TRACEBACK, diagnostics, noodle, write
from test_native import both


def _nested_ifs(n: int) -> str:
    opens = "".join("    " * (i + 1) + f"if x > {i} {{\n" for i in range(n))
    closes = "".join("    " * (i + 1) + "}\n" for i in reversed(range(n)))
    return "fn main() {\n    let x = 100\n" + opens + "    " * (n + 1) + 'print("deep", x)\n' + closes + "}\n"


def _nested_loops(n: int) -> str:
    opens = "".join("    " * (i + 1) + f"for i{i} in 0..2 {{\n" for i in range(n))
    closes = "".join("    " * (i + 1) + "}\n" for i in reversed(range(n)))
    return "fn main() {\n    var count = 0\n" + opens + "    " * (n + 1) + "count += 1\n" + closes + \
        "    print(count)\n}\n"


_ARGS = ", ".join(f"a{i}: int" for i in range(60))
_FARGS = ", ".join(f"a{i}: float" for i in range(40))
_DOWN = "fn down(n: int) -> int {\n    if n == 0 { return 0 }\n    return 1 + down(n - 1)\n}\n"

#: name -> (program, its output on every backend)
PROGRAMS: dict[str, tuple[str, str]] = {
    "long_string": ('fn main() {\n    let s = "' + "abcdefghij" * 2000 + '"\n    print(len(s), s[0:5], s[19995:20000])\n}\n',
                    "20000 abcde fghij\n"),
    "long_interp": ('fn main() {\n    let x = 7\n    let s = "' + "{x}-" * 1500 + '"\n    print(len(s), s[0:8])\n}\n',
                    "3000 7-7-7-7-\n"),
    "long_list": ("fn main() {\n    let xs = [" + ", ".join(str(i) for i in range(2000)) + "]\n"
                  "    print(len(xs), sum(xs), xs[0], xs[255], xs[256], xs[1999])\n}\n",
                  "2000 1999000 0 255 256 1999\n"),
    "long_nested_list": ("fn main() {\n    let xs = [" + ", ".join(f"[{i}, -{i}]" for i in range(1500)) + "]\n"
                         "    let e: List<int> = []\n    print(len(xs), xs[1499], e, [[]] == [[]])\n}\n",
                         "1500 [1499, -1499] [] true\n"),
    "list_in_call": ("fn total(xs: List<int>, k: int) -> int { return sum(xs) * k }\nfn main() {\n"
                     "    print(total([" + ", ".join(["1"] * 1200) + "], 2))\n}\n", "2400\n"),
    "map_at_limit": ("fn main() {\n    let m = {" + ", ".join(f'"k{i}": {i}' for i in range(450)) + "}\n"
                     '    print(len(m), m["k449"])\n}\n', "450 449\n"),
    "empty_fns": ("fn nothing() {\n}\nfn also() {}\nfn main() {\n    nothing()\n    also()\n    print(nothing())\n}\n",
                  "none\n"),
    "empty_main": ("fn main() {}\n", ""),
    "empty_blocks": ('fn main() {\n    if true {} else {}\n    while false {}\n    for _i in 0..0 {}\n'
                     '    for _j in 0..3 {}\n    try {} catch e {}\n    print("done")\n}\n', "done\n"),
    "shadow_blocks": ('fn main() {\n    let x = 1\n    if true {\n        let x = "two"\n        print(x)\n'
                      '        if true {\n            let x = 3.5\n            print(x)\n        }\n        print(x)\n'
                      '    }\n    print(x)\n}\n', "two\n3.5\ntwo\n1\n"),
    "shadow_param": ("fn f(x: int) -> int {\n    var y = x\n    for x in 0..3 {\n        y += x\n    }\n"
                     "    return y + x\n}\nfn main() {\n    print(f(10))\n}\n", "23\n"),
    "shadow_global": ("let n = 5\nfn g() -> int { return n }\nfn main() {\n    let n = 6\n    print(n, g())\n}\n",
                      "6 5\n"),
    "int_edges": ("fn main() {\n    let a = 9223372036854775807\n    let b = -9223372036854775807 - 1\n"
                  "    print(a, b, a + b, 0x7fffffffffffffff, 0b0, 1_0_0, -9223372036854775808)\n"
                  "    print(a // 2, b // -3, b % 7, a % -7, b % -1)\n}\n",
                  "9223372036854775807 -9223372036854775808 -1 9223372036854775807 0 100 -9223372036854775808\n"
                  "4611686018427387903 3074457345618258602 6 0 0\n"),
    "float_edges": ("fn main() {\n    print(1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, 0.0, -0.0)\n"
                    "    print(1.7976931348623157e308 * 2.0, 5e-324 / 2.0, 2.0 ** 1023, 1e16 + 1.0)\n}\n",
                    "1.7976931348623157e+308 5e-324 2.2250738585072014e-308 0.0 -0.0\n"
                    "inf 0.0 8.98846567431158e+307 1e+16\n"),
    "float_params": ("fn f(a: float) -> float { return a * 2 }\nfn main() {\n"
                     "    print(f(1), f(0.5), f(1e308), f(-1e308), f(-0.0), 0.1 + 0.2)\n}\n",
                     "2.0 1.0 inf -inf -0.0 0.30000000000000004\n"),
    "float_faults": ("fn d(a: float, b: float) -> float { return a / b }\nfn m(a: float, b: float) -> float { return a % b }\n"
                     "fn main() {\n    try { print(d(1.0, 0.0)) } catch e { print(\"caught\", e.message) }\n"
                     "    try { print(m(1.0, 0.0)) } catch e { print(\"caught\", e.message) }\n"
                     "    print(m(-0.0, 5.0), m(5.0, -1.0), d(-0.0, 1.0))\n}\n",
                     "caught division by zero\ncaught division by zero\n0.0 -0.0 -0.0\n"),
    "int_faults": ("fn f(a: int, b: int) -> int { return a // b }\nfn main() {\n"
                   "    try { print(f(-9223372036854775807 - 1, -1)) } catch e { print(\"caught\", e.message) }\n"
                   "    try { print(abs(-9223372036854775807 - 1)) } catch e { print(\"caught\", e.message) }\n"
                   "    var x = 9223372036854775807\n    try { x += 1 } catch e { print(\"caught\", e.message) }\n"
                   "    print(x)\n}\n",
                   "caught integer overflow\ncaught integer overflow\ncaught integer overflow\n9223372036854775807\n"),
    "pow_edges": ("fn p(a: int, b: int) -> int { return a ** b }\nfn main() {\n"
                  "    print(p(2, 62), p(-2, 63), p(1, 1000000), p(0, 0), p(-1, 999999))\n"
                  "    try { print(p(2, 63)) } catch e { print(\"caught\", e.message) }\n}\n",
                  "4611686018427387904 -9223372036854775808 1 1 -1\ncaught integer overflow\n"),
    "shift_edges": ("fn s(a: int, b: int) -> int { return a << b }\nfn r(a: int, b: int) -> int { return a >> b }\n"
                    "fn main() {\n    print(s(1, 62), r(-1, 63), r(5, 100), r(-5, 100))\n"
                    "    try { print(s(1, 63)) } catch e { print(\"caught\", e.message) }\n"
                    "    try { print(s(1, -1)) } catch e { print(\"caught\", e.message) }\n}\n",
                    "4611686018427387904 -1 0 -1\ncaught integer overflow\ncaught negative shift count\n"),
    "conversions": ("import math\nfn main() {\n    print(float(9223372036854775807), int(1e18), int(-2.9), round(2.5), round(-2.5))\n"
                    "    try { print(int(1e19)) } catch e { print(\"caught\", e.message) }\n"
                    "    try { print(int(math.inf)) } catch e { print(\"caught\", e.message) }\n"
                    "    let n = math.nan\n    print(n == n, n != n, n < 1.0, math.inf - math.inf)\n}\n",
                    "9.223372036854776e+18 1000000000000000000 -2 2 -2\ncaught integer overflow\n"
                    "caught cannot convert inf to int\nfalse true false nan\n"),
    "many_args": (f"fn f({_ARGS}) -> int {{\n    return {' + '.join(f'a{i}' for i in range(60))}\n}}\n"
                  f"fn main() {{\n    print(f({', '.join(str(i) for i in range(60))}))\n}}\n", "1770\n"),
    "many_float_args": (f"fn f({_FARGS}) -> float {{\n    return {' + '.join(f'a{i} * {i}.0' for i in range(40))}\n}}\n"
                        f"fn main() {{\n    print(f({', '.join(f'{i}.5' for i in range(40))}))\n}}\n", "20930.0\n"),
    "many_locals": ("fn main() {\n" + "".join(f"    let v{i} = {i}\n" for i in range(300)) +
                    "    print(" + " + ".join(f"v{i}" for i in range(0, 300, 7)) + ")\n}\n", "6321\n"),
    "many_fns": ("".join(f"fn f{i}(x: int) -> int {{ return x + {i} }}\n" for i in range(200)) +
                 "fn main() {\n    print(f199(f0(f100(1))))\n}\n", "300\n"),
    "recursion_documented_depth": (_DOWN + "fn main() {\n    print(down(10000))\n}\n", "10000\n"),
    "recursion_past_depth": (_DOWN + "fn main() {\n    try { print(down(1000000)) } catch e { print(\"caught\", e.message) }\n"
                             "    print(down(10))\n}\n", "caught recursion depth exceeded\n10\n"),
    "mutual_recursion": ("fn ev(n: int) -> bool {\n    if n == 0 { return true }\n    return od(n - 1)\n}\n"
                         "fn od(n: int) -> bool {\n    if n == 0 { return false }\n    return ev(n - 1)\n}\n"
                         "fn main() {\n    print(ev(5000), od(5001), ev(7))\n}\n", "true true false\n"),
    "nested_ifs": (_nested_ifs(40), "deep 100\n"),
    "nested_loops": (_nested_loops(6), "64\n"),
    "nested_parens": ("fn main() {\n    print(" + "(" * 150 + "1 + 2" + ")" * 150 + ")\n}\n", "3\n"),
    "unary_chain": ("fn main() {\n    let x = 5\n    print(" + "- " * 51 + "x, not not not true)\n}\n", "-5 false\n"),
    "bool_chains": ("fn main() {\n    let a = true\n    print(" + " and ".join(["a"] * 300) + ", " +
                    " or ".join(["not a"] * 300) + ")\n}\n", "true false\n"),
    "str_chain": ('fn main() {\n    let s = "y"\n    print(len(s' + ' + "x"' * 500 + '))\n}\n', "501\n"),
    "ternary_chain": ("fn f(x: int) -> int {\n    return " + " ".join(f"{i} if x == {i} else" for i in range(60)) +
                      " -1\n}\nfn main() {\n    print(f(0), f(59), f(100))\n}\n", "0 59 -1\n"),
    "semicolons": ('fn main() { let a = 1; let b = 2; print(a + b); print("x") }\n', "3\nx\n"),
    "comments": ("/* block\n comment */ fn main() { // hi\n    let a = /* inline */ 6 // 2   // halves\n"
                 "    print(a) /* after */\n}\n// last line, no newline", "3\n"),
    "unicode_text": ('fn main() {\n    let s = "héllo wörld ✓ 日本語 🍜"\n    print(s, len(s), s[0:2], s.upper())\n'
                     '    for c in "αβ" { print(c) }\n}\n', "héllo wörld ✓ 日本語 🍜 19 hé HÉLLO WÖRLD ✓ 日本語 🍜\nα\nβ\n"),
    "escapes": ('fn main() {\n    print("a\\tb\\\\c\\"d\\{e\\}", "{1 + 2}", "line\\nbreak")\n}\n',
                'a\tb\\c"d{e} 3 line\nbreak\n'),
    "long_identifier": ("fn main() {\n    let " + "x" * 500 + " = 42\n    print(" + "x" * 500 + ")\n}\n", "42\n"),
    "underscores": ("fn _private(_: int) -> int { return 1 }\nfn main() {\n    let _a_ = 2\n    let __ = 3\n"
                    "    print(_private(0), _a_, __, 1_000_000, 0xFF_FF)\n}\n", "1 2 3 1000000 65535\n"),
    "top_level_statements": ("let a = 3\nvar b = a * 2\nprint(a, b)\nb += 1\nprint(b)\n", "3 6\n7\n"),
    "range_edges": ("fn main() {\n    var t = 0\n    for _i in 9223372036854775800..9223372036854775807 { t += 1 }\n"
                    "    for _i in 9223372036854775805..=9223372036854775807 { t += 100 }\n"
                    "    for _i in 5..4 { t += 1000 }\n    for i in range(10, 0, -3) { t += i }\n    print(t)\n}\n",
                    "329\n"),
}

#: name -> (program, the diagnostic code a structural limit refuses it with)
REFUSED: dict[str, tuple[str, str]] = {
    "wide_map": ("fn main() {\n    let m = {" + ", ".join(f'"k{i}": {i}' for i in range(700)) + "}\n    print(len(m))\n}\n",
                 "E0005"),
    "wide_tuple": ("fn main() {\n    let t = (" + ", ".join(str(i) for i in range(1100)) + ")\n    print(t[0])\n}\n",
                   "E0005"),
    "wide_call": ("fn main() {\n    print(" + ", ".join(str(i) for i in range(1100)) + ")\n}\n", "E0005"),
    "wide_map_top_level": ("let m = {" + ", ".join(f'"k{i}": {i}' for i in range(700)) + "}\nprint(len(m))\n", "E0005"),
    "float_literal_past_range": ("fn main() {\n    print(1e400)\n}\n", "E0004"),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_runs_the_same_everywhere(name: str) -> None:
    source, expected = PROGRAMS[name]
    assert both(source) == expected


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_limit_is_a_designed_diagnostic(name: str) -> None:
    source, code = REFUSED[name]
    diags = [d for d in diagnostics(source) if d.severity == "error"]
    assert [d.code for d in diags] == [code]
    assert diags[0].span.line >= 1 and diags[0].hint


@pytest.mark.parametrize("name", ["long_list", "long_interp", "recursion_documented_depth", "unicode_text"])
def test_the_commands_agree(name: str, tmp_path: Path) -> None:
    """`noodle run` and `noodle run --backend vm`: the same output, exit 0, no traceback."""
    source, expected = PROGRAMS[name]
    write(tmp_path, "p.nd", source)
    native = noodle(["run", "--no-cache", "p.nd"], tmp_path)
    vm = noodle(["run", "--no-cache", "--backend", "vm", "p.nd"], tmp_path)
    for p in (native, vm):
        assert (p.returncode, p.stdout) == (0, expected), p.context()
        assert TRACEBACK not in p.stderr
