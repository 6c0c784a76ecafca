"""Flat operator chains (`1 + 1 + ... + 1`, `a and b and ...`, `s + "x" + ...`) of thousands of terms
compile and run, on the VM and in native code, while real nesting (brackets, unary operators,
`**`, conditional expressions) past the parser's limit stays a clean E0001.

Lark builds a chain left-associative, a tree as deep as the chain is long: the depth check counts
a left operand as not nested (noodle.compiler.ast_builder.too_deep), the compile after the parse
gets room for the tree (noodle.deepstack), `and`/`or` chains are a row of VM regions, not a nest
(checker.base.nesting_problem), and native code takes expressions up to MAX_NATIVE_EXPR_DEPTH deep.
An `else if` chain is a list in the grammar and a row of `if`s past FLAT_FROM links (checker.chains).
"""
from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import compile_ok, diagnostics, output_of
from noodle.compiler.checker.chains import FLAT_FROM
from noodle.compiler.parse_state import MAX_NESTING
from noodle.deepstack import call_deep
from noodle.format.limits import MAX_NESTING as MAX_REGIONS
from noodle.ir import nodes as ir
from noodle.ir.native_plan import MAX_NATIVE_EXPR_DEPTH, plan
from test_native import both


def chain(op: str, term: str, n: int) -> str:
    return f" {op} ".join([term] * n)


@pytest.mark.parametrize("n", [MAX_NESTING + 50, 1000, 5000])
def test_int_float_and_string_chains_run(n: int) -> None:
    src = ("fn main() {\n"
           f"  let a = {chain('+', '1', n)}\n"
           f"  let b = {chain('-', '2', n)}\n"
           f"  let f = {chain('+', '0.5', n)}\n"
           f"  let s = {chain('+', chr(34) + 'ab' + chr(34), n)}\n"
           f"  let t = {chain('and', 'a > 0', n)}\n"
           f"  let o = {chain('or', 'a < 0', n)}\n"
           "  print(a, b, f, len(s), t, o)\n}\n")
    assert output_of(src) == f"{n} {2 - 2 * (n - 1)} {n * 0.5} {2 * n} true false\n"


@pytest.mark.parametrize("n", [MAX_NESTING + 50, MAX_NATIVE_EXPR_DEPTH - 1])
def test_chains_in_native_code_agree_with_the_vm(n: int) -> None:
    src = ("fn f(m: int) -> int {\n var c = 0\n for i in 0..m {\n"
           f"  c = c + {chain('+', 'i', n)}\n"
           f"  if {' and '.join(f'i != {k}' for k in range(n))} {{ c += 1 }}\n"
           f"  if {' or '.join(f'i == {k}' for k in range(n))} {{ c -= 1 }}\n"
           " }\n return c\n}\nfn main() { print(f(" + str(n + 3) + ")) }\n")
    module_ir, _ = compile_ok(src)
    assert plan(module_ir).native == ["f"]
    m = n + 3
    assert both(src) == f"{n * m * (m - 1) // 2 + 3 - n}\n"


def test_a_chain_too_deep_for_native_code_runs_on_the_vm_and_says_why() -> None:
    n = MAX_NATIVE_EXPR_DEPTH + 10
    src = ("fn f(m: int) -> int {\n var c = 0\n for i in 0..m {\n"
           f"  c = c + {chain('+', 'i', n)}\n }}\n return c\n}}\nfn main() {{ print(f(10)) }}\n")
    module_ir, _ = compile_ok(src)
    p = plan(module_ir)
    assert p.native == []
    assert p.reasons["__loop_1_f"] == (f"line 4: an expression {n + 1} operations deep "
                                       f"(native code takes at most {MAX_NATIVE_EXPR_DEPTH})")
    assert p.reasons["f"] == "calls `__loop_1_f`, which runs in the VM"
    assert both(src) == f"{45 * n}\n"


NESTED = {
    "brackets": lambda n: "(" * n + "1" + ")" * n,
    "lists": lambda n: "[" * n + "1" + "]" * n,
    "calls": lambda n: "abs(" * n + "1" + ")" * n,
    "right operands": lambda n: " + (".join(["1"] * n) + ")" * (n - 1),
    "unary minus": lambda n: "-" * n + "1",
    "not": lambda n: "not " * n + "true",
    "power (right-associative)": lambda n: chain("**", "1", n),
    "conditional expressions": lambda n: chain("if true else", "1", n),
}


@pytest.mark.parametrize("what", sorted(NESTED))
@pytest.mark.parametrize("n", [MAX_NESTING + 1, 1000])
def test_real_nesting_is_still_a_clean_e0001(what: str, n: int) -> None:
    ds = diagnostics("fn main() {\n  let x = " + NESTED[what](n) + "\n  print(x)\n}\n")
    assert [d.code for d in ds] == ["E0001"]
    assert "nested too deeply" in ds[0].message and ds[0].span.line == 2


def test_a_chain_nested_in_brackets_counts_the_brackets_only() -> None:
    depth = MAX_NESTING - 5
    assert output_of("fn main() {\n  print(" + "(" * depth + chain("+", "1", 1000) + ")" * depth + ")\n}\n") == "1000\n"


def test_call_deep_gives_room_and_puts_the_limit_back() -> None:
    def down(k: int) -> int:
        return 0 if k == 0 else 1 + down(k - 1)

    before = sys.getrecursionlimit()
    assert call_deep(lambda: down(50_000), 50_000) == 50_000
    assert sys.getrecursionlimit() == before
    with pytest.raises(ZeroDivisionError):
        call_deep(lambda: 1 // 0, 50_000)  # the worker's exception, in the caller's thread
    assert sys.getrecursionlimit() == before


# ---------------------------------------------------------------- `else if` chains

def dispatch(matches: list[int], leaves: list[bool], final: str | None) -> tuple[str, object]:
    """A program whose `f(x, seen)` is one `else if` chain: link k is taken when x == matches[k]
    (so a value may match several links: the first wins), and either sets the result or returns
    it; `final` is the final `else` ("set", "return" or None).  Each condition records that it
    was evaluated.  Also the chain's meaning in Python: x -> (result, the conditions evaluated)."""
    every_leaves = all(leaves) and final == "return"
    lines = ["fn probe(seen: List<int>, k: int, hit: bool) -> bool {", "    seen.append(k)", "    return hit", "}",
             "fn f(x: int, seen: List<int>) -> int {"]
    if not every_leaves:
        lines.append("    var r = -100")
    for k, (m, leave) in enumerate(zip(matches, leaves)):
        body = f"return {k}" if leave else f"r = {k}"
        lines.append(f"    {'if' if k == 0 else 'else if'} probe(seen, {k}, x == {m}) {{ {body} }}")
    if final is not None:
        lines.append("    else { " + ("return -1" if final == "return" else "r = -1") + " }")
    if not every_leaves:
        lines.append("    return r")
    lines.append("}")
    xs = sorted(set(matches) | {-1, 10**6})
    lines.append("fn main() {\n    for x in [" + ", ".join(map(str, xs)) + "] {\n"
                 "        let seen: List<int> = []\n        let v = f(x, seen)\n        print(x, v, seen)\n    }\n}")

    def meaning(x: int) -> tuple[int, list[int]]:
        seen: list[int] = []
        for k, m in enumerate(matches):
            seen.append(k)
            if x == m:
                return k, seen
        return (-1 if final is not None else -100), seen

    want = "".join(f"{x} {meaning(x)[0]} [{', '.join(map(str, meaning(x)[1]))}]\n" for x in xs)
    return "\n".join(lines) + "\n", want


@settings(max_examples=30)
@given(st.data())
def test_an_else_if_chain_of_any_length_keeps_its_meaning(data: st.DataObject) -> None:
    n = data.draw(st.sampled_from([1, 2, FLAT_FROM, FLAT_FROM + 1]) | st.integers(1, 3 * MAX_REGIONS))
    matches = data.draw(st.lists(st.integers(0, n), min_size=n, max_size=n))
    leaves = data.draw(st.lists(st.booleans(), min_size=n, max_size=n) | st.just([True] * n))
    final = data.draw(st.sampled_from(["set", "return", None]))
    src, want = dispatch(matches, leaves, final)
    assert both(src) == want


@pytest.mark.parametrize("leave", [True, False])
def test_a_dispatch_past_the_parsers_nesting_limit_compiles_and_runs(leave: bool) -> None:
    n = 1000  # past MAX_NESTING (the parser) and MAX_REGIONS (the verifier) many times over
    matches = list(range(n))
    src, want = dispatch(matches, [leave] * n, "return" if leave else "set")
    assert output_of(src) == want


def test_only_a_chain_longer_than_flat_from_is_made_flat() -> None:
    def shape(n: int, leave: bool) -> list[str]:
        src, _ = dispatch(list(range(n)), [leave] * n, "set")
        module_ir, _ = compile_ok(src)
        (f,) = [fn for fn in module_ir.functions if fn.name == "f"]
        return [type(s).__name__ + (f"/{len(s.otherwise)}" if isinstance(s, ir.If) else "") for s in f.body]

    assert shape(FLAT_FROM, False) == ["LocalSet", "If/1", "Return"]  # kept as written: a nest
    # made flat: the flag, one `if` a link, the final `else` under `not taken`
    assert shape(FLAT_FROM + 1, False) == ["LocalSet", "LocalSet"] + ["If/0"] * (FLAT_FROM + 2) + ["Return"]
    # every link returns: no flag, the final `else` after the row
    assert shape(FLAT_FROM + 1, True) == ["LocalSet"] + ["If/0"] * (FLAT_FROM + 1) + ["LocalSet", "Return"]


def test_a_chain_inside_an_else_block_is_still_real_nesting() -> None:
    # `else { if .. }` is written nested: past the parser's limit it is E0001, as any block nest
    n = MAX_NESTING + 1
    src = "fn main() {\n  var r = 0\n" + "  if r == 1 { r = 2 } else {\n" * n + "  r = 3\n" + "  }\n" * n + "  print(r)\n}\n"
    ds = diagnostics(src)
    assert [d.code for d in ds] == ["E0001"] and "nested too deeply" in ds[0].message
