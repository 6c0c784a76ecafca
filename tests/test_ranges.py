"""The `ranges` pass drops only overflow checks that cannot fire: -O1 behaves exactly as -O0."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import output_of
from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.walk import walk

MIN, MAX = -(2**63), 2**63 - 1
EDGES = [MIN, MIN + 1, MIN + 2, -3, -2, -1, 0, 1, 2, 3, 2**31, 2**32 + 1, MAX - 2, MAX - 1, MAX]


def run(source: str, opt: int) -> str:
    return output_of(source, "r", opt)


def skips(source: str) -> list[tuple[str, int]]:
    module_ir, _ = compile_source(source, "r.nd", "r", opt_level=1)
    return [(n.op, n.skip) for f in module_ir.functions for s in f.body for n in walk(s)
            if isinstance(n, (ir.Binary, ir.Unary)) and n.op.startswith("int.")]


def test_loops_and_fib_lose_the_checks_they_do_not_need() -> None:
    loops = "fn main() {\n var t = 0\n for i in 0..3000 { for j in 0..3000 { t += (i * j) % 7 } }\n print(t)\n}\n"
    # i * j cannot overflow (both checks gone), t += only upwards (the lower one gone), % keeps its
    assert skips(loops) == [("int.add", 1), ("int.mod", 0), ("int.mul", 3)]
    fib = "fn fib(n: int) -> int {\n if n < 2 { return n }\n return fib(n - 1) + fib(n - 2)\n}\n"
    assert skips(fib) == [("int.add", 0), ("int.sub", 3), ("int.sub", 3)]


def test_mutable_variables_and_unknown_values_keep_their_checks() -> None:
    src = ("fn main() {\n var n = 5\n let f = () => { n = 9223372036854775807 }\n"
           " if n < 10 { f()\n  try { print(n + 1) } catch e { print(e.kind) } }\n}\n")
    assert run(src, 1) == "OverflowError\n"


CMPS = ["<", "<=", ">", ">=", "==", "!="]
OPS = ["+", "-", "*", "//"]


@settings(max_examples=120, deadline=None)
@given(cmp=st.sampled_from(CMPS), c1=st.sampled_from(EDGES), op=st.sampled_from(OPS),
       c2=st.sampled_from(EDGES + ["m"]), negate=st.booleans(), args=st.lists(st.sampled_from(EDGES), min_size=2,
                                                                              max_size=2))
def test_guarded_arithmetic_matches_unoptimised(cmp: str, c1: int, op: str, c2: "int | str", negate: bool,
                                                args: list[int]) -> None:
    guard = f"not (n {cmp} {c1})" if negate else f"n {cmp} {c1}"
    right = c2 if c2 == "m" else f"({c2})"
    src = (f"fn f(n: int, m: int) -> int {{\n if {guard} {{ return 0 }}\n let k = n {op} {right}\n"
           f" return -k\n}}\n"
           f"fn main() {{\n try {{ print(f({args[0]}, {args[1]})) }} catch e {{ print(e.kind) }}\n"
           f" for i in 0..3 {{ try {{ print(f({args[0]} - 0, i)) }} catch e {{ print(e.kind) }} }}\n}}\n")
    assert run(src, 1) == run(src, 0), src


@settings(max_examples=60, deadline=None)
@given(lo=st.sampled_from([MIN, -5, 0, 3, MAX - 3]), hi=st.sampled_from([MIN + 3, 0, 4, MAX]),
       k=st.sampled_from(EDGES), op=st.sampled_from(OPS))
def test_loop_variables_match_unoptimised(lo: int, hi: int, k: int, op: str) -> None:
    src = (f"fn main() {{\n var n = 0\n for i in range({lo}, {hi}, 1) {{\n  n += 1\n  if n > 3 {{ break }}\n"
           f"  try {{ print(i {op} ({k})) }} catch e {{ print(e.kind) }}\n }}\n}}\n")
    assert run(src, 1) == run(src, 0), src


def test_loops_with_negative_and_wide_steps_keep_the_checks_they_need() -> None:
    # one program, every loop: the first values of `i` near both ends of the int range, stepping down
    # or by more than one, each combined with constants that overflow only at the extremes
    loops = [(MIN + 3, MIN - 0, -1), (MIN + 5, MIN, -2), (MAX, MAX - 4, -1), (MAX, MAX - 9, -3), (2, -3, -1),
             (MIN, MIN + 6, 2), (MAX - 7, MAX, 3), (MIN + 4, MAX, MAX), (MAX, MIN, MIN)]
    ks = [1, 2, 3, 4, -1, -2, -4]
    body = []
    for lo, hi, step in loops:
        for op in ("+", "-", "*"):
            for k in ks:
                body.append(f" for i in range({lo}, {hi}, {step}) {{ try {{ print(i {op} ({k})) }} "
                            f"catch e {{ print(e.kind) }} }}\n")
    # bounds known only as ranges: the loop variable lies between the stop and the start's upper bound
    for step in (-1, -2, 1, 2):
        for op in ("+", "-"):
            body.append(f" for i in range(n, m, {step}) {{ try {{ print(i {op} 2) }} catch e {{ print(e.kind) }} }}\n")
    src = "fn f(n: int, m: int) {\n" + "".join(body[-8:]) + "}\nfn main() {\n" + "".join(body[:-8])
    src += "".join(f" f({a}, {b})\n" for a, b in [(MAX, MAX - 3), (MIN + 3, MIN), (MIN, MIN + 3), (MAX - 3, MAX),
                                                   (1, -2), (-2, 1)]) + "}\n"
    optimised, plain = run(src, 1), run(src, 0)
    assert optimised == plain
    assert plain.count("OverflowError") > 20  # the loops do reach both ends of the range
    assert any(n.op in ("int.add", "int.sub") and n.skip for n in
               (node for f in compile_source(src, "r.nd", "r", opt_level=1)[0].functions for s in f.body
                for node in walk(s)) if isinstance(n, ir.Binary))  # and some checks were dropped


def test_array_lengths_and_shapes_are_bounded_like_lengths() -> None:
    from noodle.build.driver import compile_source
    from noodle.ir.nodes import decode_module
    from noodle.ir import nodes as ir
    from noodle.ir.walk import walk

    src = ("fn f(a: Array<float, 2>) -> int {\n var n = 0\n for i in 1..len(a) - 1 { n += 1 }\n"
           " return n + (a.shape[1] - 1)\n}\n")
    _, module = compile_source(src, "m.nd", "m")
    subs = [n for f in decode_module(module.ir).functions for s in f.body for n in walk(s)
            if isinstance(n, ir.Binary) and n.op == "int.sub"]
    assert subs and all(n.skip == 3 for n in subs)  # a length minus one cannot overflow
