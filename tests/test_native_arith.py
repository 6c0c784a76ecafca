"""Native arithmetic at the edges, operation by operation (noodle/backends/llvm/lower.py: `binary`,
`floor_divmod`, `float_divmod`, `narrow`, `checked`, `guarded`, `span`, and `-x`).

Each operation is a small function whose work sits in a loop (so that it runs natively), called on
the values where a check or a corner matters: MIN and MAX, -1 and 0, signs of zeros, NaN, the
32-bit limits.  What must come out is Python's own answer, computed here — the value, or the
Noodle error kind where the contract says the operation fails — compared exactly (floats by their
`repr`, so that -0.0 is not 0.0), natively and in the VM.  The loops over ranges check the guard
that drops a loop's overflow checks when its bounds prove them away: a range one past where that
proof holds must still overflow.  One module is compiled once for all: fast enough for mutation
testing (`make mutate`) to run the file for every mutant.
"""
from __future__ import annotations

import math
import re
import operator
from typing import Any, Callable

import numpy as np
import pytest

from noodle.backends.llvm import _last_status as native_status
from noodle.backends.llvm import native_part
from noodle.build.driver import compile_source
from noodle.runtime.errors import to_error
from noodle.vm.machine import Machine

MIN, MAX = -(2**63), 2**63 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1

INT_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "//", "mod": "%", "band": "&", "bor": "|", "xor": "^"}
CMP_OPS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
FLOAT_OPS = {"fadd": "+", "fsub": "-", "fmul": "*", "fdiv": "/", "ffloordiv": "//", "fmod": "%"}
I32_OPS = {"iadd": "+", "isub": "-", "imul": "*", "idiv": "//", "imod": "%"}
F32_OPS = {"gadd": "+", "gsub": "-", "gmul": "*", "gdiv": "/"}


def loop_fn(name: str, params: str, ret: str, init: str, expr: str) -> str:
    return f"fn {name}({params}) -> {ret} {{\n var t = {init}\n for k in 0..1 {{ t = {expr} }}\n return t\n}}\n"


SOURCE = "".join(
    [loop_fn(n, "x: int, y: int", "int", "0", f"x {op} y") for n, op in INT_OPS.items()]
    + [loop_fn(n, "x: int, y: int", "bool", "false", f"x {op} y") for n, op in CMP_OPS.items()]
    + [loop_fn("f" + n, "x: float, y: float", "bool", "false", f"x {op} y") for n, op in CMP_OPS.items()]
    + [loop_fn("b" + n, "x: bool, y: bool", "bool", "false", f"x {op} y") for n, op in CMP_OPS.items()
       if n in ("eq", "ne")]
    + [loop_fn(n, "x: float, y: float", "float", "0.0", f"x {op} y") for n, op in FLOAT_OPS.items()]
    + [loop_fn(n, "x: i32, y: i32", "i32", "i32(0)", f"x {op} y") for n, op in I32_OPS.items()]
    + [loop_fn(n, "x: f32, y: f32", "f32", "f32(0.0)", f"x {op} y") for n, op in F32_OPS.items()]
    + [loop_fn("neg", "x: int", "int", "0", "-x"), loop_fn("fneg", "x: float", "float", "0.0", "-x"),
       loop_fn("ineg", "x: i32", "i32", "i32(0)", "-x"), loop_fn("gneg", "x: f32", "f32", "f32(0.0)", "-x"),
       loop_fn("to_i32", "x: int", "int", "0", "int(i32(x))"),
       loop_fn("not_", "x: bool", "bool", "false", "not x"),
       loop_fn("shl", "x: int, y: int", "int", "0", "x << y"), loop_fn("shr", "x: int, y: int", "int", "0", "x >> y"),
       loop_fn("ipow", "x: int, y: int", "int", "0", "x ** y"), loop_fn("fpow", "x: float, y: float", "float", "0.0", "x ** y"),
       loop_fn("i2f", "x: int", "float", "0.0", "float(x) + 0.5"),
       loop_fn("g2f", "x: f32", "float", "0.0", "float(x) * 3.0"), loop_fn("f2g", "x: float", "f32", "f32(0.0)", "f32(x)")]
    # loops whose checks a guard on their bounds may drop: t over every (i, j) of the ranges
    + [f"fn {name}(a: int, b: int, c: int, d: int) -> int {{\n var t = 0\n"
       f" for i in a..b {{ for j in c..d {{ t = {expr} }} }}\n return t\n}}\n"
       for name, expr in (("sums", "i + j"), ("diffs", "i - j"), ("prods", "i * j"), ("mixed", "i * 2 - j + 1"))]
    # `i * 3 - 7 + i` over 0..10 cannot overflow (the `ranges` pass proves it): no check; the sum can
    + ["fn proven(x: int) -> int {\n var t = x\n for i in 0..10 { t = t + (i * 3 - 7 + i) }\n return t\n}\n"])


class Fails(Exception):
    """The Noodle error an operation must raise (its kind)."""


def fits(v: int, lo: int = MIN, hi: int = MAX) -> int:
    if not lo <= v <= hi:
        raise Fails("OverflowError")
    return v


def int_ref(op: str, lo: int = MIN, hi: int = MAX) -> Callable[[int, int], int]:
    """Python's `op` on Noodle's ints of [lo, hi]: zero divisors and results outside raise."""
    f = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod,
         "&": operator.and_, "|": operator.or_, "^": operator.xor}[op]

    def ref(x: int, y: int) -> int:
        if op in ("//", "%") and y == 0:
            raise Fails("ZeroDivisionError")
        return fits(f(x, y), lo, hi)
    return ref


def float_ref(op: str) -> Callable[[float, float], float]:
    f = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
         "//": operator.floordiv, "%": operator.mod}[op]

    def ref(x: float, y: float) -> float:
        if op in ("/", "//", "%") and y == 0.0:
            raise Fails("ZeroDivisionError")
        return f(x, y)
    return ref


def f32_ref(op: str) -> Callable[[float, float], float]:
    def ref(x: float, y: float) -> float:
        if op == "/" and y == 0.0:
            raise Fails("ZeroDivisionError")
        with np.errstate(all="ignore"):
            return float({"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[op](
                np.float32(x), np.float32(y)))
    return ref


def to_f32(x: float) -> float:
    """`f32(x)`: rounded to single precision, infinite beyond its range."""
    with np.errstate(over="ignore"):
        return float(np.float32(x))


def shift_ref(op: str) -> Callable[[int, int], int]:
    def ref(x: int, y: int) -> int:
        if y < 0:
            raise Fails("ValueError")  # a negative shift count or exponent
        return fits({"<<": operator.lshift, ">>": operator.rshift, "**": operator.pow}[op](x, y))
    return ref


def nest_ref(expr: Callable[[int, int], int]) -> Callable[[int, int, int, int], int]:
    def ref(a: int, b: int, c: int, d: int) -> int:
        t = 0
        for i in range(a, b):
            for j in range(c, d):
                t = expr(i, j)
        return t
    return ref


def add(x: int, y: int) -> int:
    return fits(x + y)


def sub(x: int, y: int) -> int:
    return fits(x - y)


def mul(x: int, y: int) -> int:
    return fits(x * y)


def proven(x: int) -> int:
    t = x
    for i in range(10):
        t = add(t, i * 3 - 7 + i)
    return t


INTS = [0, 1, -1, 2, -2, 7, -7, 3, MAX, MIN, MAX - 1, MIN + 1, 2**32, -(2**32), 3037000499, 3037000500]
FLOATS = [0.0, -0.0, 1.0, -1.0, 7.5, -7.5, 2.0, -2.0, 3.0, -3.0, 1e300, 1e-300, -1e-300, math.inf, -math.inf,
          math.nan, 0.1]
I32S = [0, 1, -1, 2, -2, 7, -7, I32_MAX, I32_MIN, I32_MAX - 1, I32_MIN + 1, 46341, -46341, 65536]
F32S = [0.0, -0.0, 1.0, -1.5, 3.0, float(np.float32(0.1)), 3.4028234663852886e38, -3.4028234663852886e38,
        float(np.float32(1e-45)), math.inf, math.nan]
NEAR_MAX, NEAR_MIN = MAX - 2, MIN + 2
VM_ONLY = {"shl", "shr", "ipow", "fpow"}

CASES: list[tuple[str, Callable[..., Any], list[tuple]]] = (
    [(n, int_ref(op), [(x, y) for x in INTS for y in INTS]) for n, op in INT_OPS.items()]
    + [(n, {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
            "!=": operator.ne}[op], [(x, y) for x in INTS[:10] for y in INTS[:10]]) for n, op in CMP_OPS.items()]
    + [("f" + n, {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
                  "!=": operator.ne}[op], [(x, y) for x in FLOATS for y in FLOATS]) for n, op in CMP_OPS.items()]
    + [("beq", operator.eq, [(x, y) for x in (True, False) for y in (True, False)]),
       ("bne", operator.ne, [(x, y) for x in (True, False) for y in (True, False)])]
    + [(n, float_ref(op), [(x, y) for x in FLOATS for y in FLOATS]) for n, op in FLOAT_OPS.items()]
    + [(n, int_ref(op, I32_MIN, I32_MAX), [(x, y) for x in I32S for y in I32S]) for n, op in I32_OPS.items()]
    + [(n, f32_ref(op), [(x, y) for x in F32S for y in F32S]) for n, op in F32_OPS.items()]
    + [("neg", lambda x: fits(-x), [(x,) for x in INTS]), ("fneg", operator.neg, [(x,) for x in FLOATS]),
       ("ineg", lambda x: fits(-x, I32_MIN, I32_MAX), [(x,) for x in I32S]),
       ("gneg", lambda x: float(-np.float32(x)), [(x,) for x in F32S]),
       ("to_i32", lambda x: fits(x, I32_MIN, I32_MAX),
        [(x,) for x in (0, -5, I32_MAX, I32_MAX + 1, I32_MIN, I32_MIN - 1, MAX, MIN)]),
       ("not_", operator.not_, [(True,), (False,)]),
       ("i2f", lambda x: float(x) + 0.5, [(x,) for x in INTS] + [(2**53 + 1,)]),
       ("g2f", lambda x: x * 3.0, [(x,) for x in F32S]),  # exact in double: widened, not rounded to f32
       ("f2g", to_f32, [(x,) for x in FLOATS + [3.4028235677973366e38, 1e-46]])]
    # in the VM only (native code leaves functions with these to the VM)
    + [("shl", shift_ref("<<"), [(x, y) for x in (0, 1, -1, 3, MAX, MIN) for y in (0, 1, 2, 62, 63, 64, -1)]),
       ("shr", shift_ref(">>"), [(x, y) for x in (0, 1, -1, -8, 7, MAX, MIN) for y in (0, 1, 2, 63, 64, 99, -1)]),
       ("ipow", shift_ref("**"), [(x, y) for x in (0, 1, -1, 2, -2, 3, MIN) for y in (0, 1, 2, 39, 40, 62, 63, -1)]),
       ("fpow", lambda x, y: {(0.0, -1.0): Fails("ZeroDivisionError"), (10.0, 400.0): Fails("OverflowError"),
                              (-8.0, 1 / 3): math.nan}.get((x, y)) or math.pow(x, y),
        [(2.0, 0.5), (2.0, -1.0), (0.0, -1.0), (10.0, 400.0), (-8.0, 1 / 3), (-2.0, 3.0), (1.5, 0.0)])]
    # each bound of each range alone decides whether the loop's check could be dropped
    + [("sums", nest_ref(add), [(NEAR_MAX, NEAR_MAX + 1, 0, 3), (NEAR_MAX, NEAR_MAX + 1, 0, 2), (0, 3, NEAR_MAX, NEAR_MAX + 1),
                                (NEAR_MIN, NEAR_MIN + 1, -2, 0), (NEAR_MIN, NEAR_MIN + 1, -3, 0), (-3, 0, NEAR_MIN, NEAR_MIN + 1),
                                (-5, 5, -5, 5), (5, -5, NEAR_MAX, MAX)]),
       ("diffs", nest_ref(sub), [(NEAR_MAX, NEAR_MAX + 1, -2, 0), (NEAR_MAX, NEAR_MAX + 1, -3, 0), (NEAR_MIN, NEAR_MIN + 1, 0, 2),
                                 (NEAR_MIN, NEAR_MIN + 1, 0, 3), (0, 1, MIN + 1, MIN + 3), (-1, 0, MIN + 1, MIN + 3),
                                 (-2, 0, MIN + 1, MIN + 3), (-5, 5, -5, 5),
                                 # the extremes of `i - j` are the far corners: (last i, first j) and
                                 # (first i, last j); the near corners fit
                                 (NEAR_MAX, MAX, -2, 0), (MIN + 1, MIN + 3, 0, 3)]),
       ("prods", nest_ref(mul), [(0, 50, 0, 50), (-5, 5, -7, 3), (3037000499, 3037000500, 3037000499, 3037000500),
                                 (3037000499, 3037000501, 3037000499, 3037000501), (0, 2, MAX - 1, MAX),
                                 (0, 3, MAX - 1, MAX), (2, 3, NEAR_MIN, NEAR_MIN + 2), (-3, -2, NEAR_MAX // 3, NEAR_MAX // 3 + 2),
                                 (NEAR_MAX // 3, NEAR_MAX // 3 + 2, -3, -2), (-2, -1, 2**62, 2**62 + 1),
                                 (2**62, 2**62 + 1, -2, -1), (-1, 0, MIN, MIN + 1),
                                 # one range crosses zero: its least product lies at the other's far end
                                 (-3, 2, 3074457345618258602, 3074457345618258604),
                                 (3074457345618258602, 3074457345618258604, -3, 2)]),
       ("mixed", nest_ref(lambda i, j: add(sub(mul(i, 2), j), 1)),
        [(0, 5, 0, 5), (2**62 - 1, 2**62, -1, 0), (2**62 - 1, 2**62, -2, 0), (2**62, 2**62 + 1, 0, 1),
         (-(2**62), -(2**62) + 1, 0, 2), (-(2**62), -(2**62) + 1, 1, 3)]),
       ("proven", proven, [(x,) for x in (0, -110, MAX - 110, MAX - 109, MIN + 6, MIN + 7)])]
)


def load(backend: str) -> dict:
    """The module's functions on `backend`, compiled here: inside the test that calls it, so that
    mutation testing sees every operation's lowering reached by that test (a module-scoped fixture
    would credit it all to whichever test ran first, and run only that one for each mutant)."""
    _, module = compile_source(SOURCE, "a.nd", "a")
    machine = Machine(backend=backend)
    lm = machine.load(module)
    if backend == "auto":
        native = set(machine.native_report["a"].removeprefix("native: ").split(", "))
        assert native == {name for name, _, _ in CASES} - VM_ONLY
    return lm.functions


def outcome(f: Callable[..., Any], args: tuple) -> str:
    """The result as its repr (floats to the bit, -0.0 apart from 0.0), or the error kind."""
    try:
        v = f(*args)
        if isinstance(v, Fails):
            raise v
    except Fails as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - turned into the Noodle error's kind, compared exactly
        return to_error(e).f_kind
    return repr(float(v) if isinstance(v, (float, np.floating)) else v)


def native_outcome(f: Callable[..., Any], args: tuple) -> str:
    """`outcome` of a native function, marked where native code failed on a call that has an answer.

    A native call that fails hands the call to the VM (or raises the error of its status), so a
    check that fires where it must not would still give the VM's right answer: the status of the
    thread's last failed native call (`_last_status`) tells which of the two answered.
    """
    native_status.value = 0
    out = outcome(f, args)
    if native_status.value != 0 and not out.endswith("Error"):
        return f"{out}, after native code failed"
    return out


@pytest.mark.parametrize("backend", ["vm", "auto"])
def test_each_operation_gives_pythons_answer_at_the_edges(backend: str) -> None:
    fns = load(backend)
    run = native_outcome if backend == "auto" else outcome
    got = {name: [run(fns[name], a) for a in args] for name, _, args in CASES}
    # compared operation by operation: a difference names the operation and shows its outcomes
    for name, ref, args in CASES:
        assert got[name] == [outcome(ref, a) for a in args], name


def test_a_guarded_loop_alone_in_its_module_is_native() -> None:
    """The guard declares the overflow intrinsics itself when nothing before it has."""
    source = re.search(r"fn prods\(.*?\n}\n", SOURCE, re.S).group(0)  # type: ignore[union-attr]
    _, module = compile_source(source, "p.nd", "p")
    machine = Machine(backend="auto")
    prods = machine.load(module).functions["prods"]
    assert machine.native_report["p"] == "native: prods"
    assert [native_outcome(prods, a) for a in [(0, 50, 0, 50), (0, 3, MAX - 1, MAX)]] == ["2401", "OverflowError"]


def blocks(function_ir: str) -> dict[str, list[str]]:
    """The basic blocks of one function's LLVM IR text: label -> its instructions."""
    out: dict[str, list[str]] = {}
    label = ""
    for line in function_ir.splitlines():
        if re.fullmatch(r"[\w.]+:", line):
            label = line[:-1]
            out[label] = []
        elif label and line.strip():
            out[label].append(line.strip())
    return out


def test_native_code_keeps_the_overflow_checks_it_needs_and_only_those() -> None:
    """Which int operations are checked, guarded by their loops' bounds, or left bare (`nsw`): the
    results are the same either way, so only the code shows a check kept where it was proven away
    or a guard missing (the loops would be slower, not wrong)."""
    _, module = compile_source(SOURCE, "a.nd", "a")
    text, _, _ = native_part(module)
    functions = {chunk.split('"')[1]: blocks(chunk) for chunk in text.split("define ")[1:]}

    def kept(name: str) -> tuple[list[list[str]], list[str]]:
        """(each guard's fast path, `%` names cut; the operations whose overflow raises) of `name`."""
        bs = functions[f"nd_{name}_impl"]
        fast = [[re.sub(r'%"[^"]*"', "%", i) for i in b] for label, b in bs.items() if label.startswith("fits")]
        code = "\n".join(i for b in bs.values() for i in b)
        calls = dict(re.findall(r'(%"[^"]+") = call \{i64, i1\} @"llvm\.s(\w+)\.with\.overflow\.i64"', code))
        bits = {bit: calls[pair] for bit, pair in re.findall(r'(%"[^"]+") = extractvalue \{i64, i1\} (%"[^"]+"), 1', code)
                if pair in calls}
        return fast, [bits[r] for r in re.findall(r'br i1 (%"[^"]+"), label %"fail\.OverflowError', code)]

    guard = lambda op, y="%": [f"% = {op} nsw i64 %, {y}", 'br label %']  # noqa: E731
    assert kept("sums")[0] == [guard("add")] and kept("diffs")[0] == [guard("sub")]
    assert kept("prods")[0] == [guard("mul")]
    assert kept("mixed")[0] == [guard("mul", "2"), guard("sub"), guard("add", "1")]
    # the checked copy of each guarded operation, and a plain operation's one check
    assert kept("sums")[1] == ["add"] and kept("prods")[1] == ["mul"] and kept("mixed")[1] == ["mul", "sub", "add"]
    assert kept("add") == ([], ["add"]) and kept("mul") == ([], ["mul"])
    # only a product's guard asks for operands that are not negative, and against 0
    signs = {name: [re.sub(r'%"[^"]*"', "%", i) for i in functions[f"nd_{name}_impl"]["body.1"] if "icmp sge" in i]
             for name in ("sums", "diffs", "prods")}
    assert signs == {"sums": [], "diffs": [], "prods": ["% = icmp sge i64 %, 0"] * 2}
    # the spans of loop variables (`i + j`) and of a constant (`i * 2`) are sound as they stand: each
    # guard starts from true
    for name in ("sums", "mixed"):
        assert '= and i1 1, 1' in "\n".join(functions[f"nd_{name}_impl"]["body.1"]), name
    # proven: bare `nsw` operations, no guard; only the running sum is checked
    body = "\n".join(i for b in functions["nd_proven_impl"].values() for i in b)
    assert kept("proven") == ([], ["add"])
    assert [re.sub(r'%"[^"]*"', "%", i) for i in re.findall(r"= \w+ nsw i64 .*", body)] == [
        "= mul nsw i64 %, 3", "= sub nsw i64 %, 7", "= add nsw i64 %, %", "= add nsw i64 %, 1"]
