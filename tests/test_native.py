"""The llvmlite backend: which functions go native, and that they behave exactly as the VM does."""
from __future__ import annotations

import io
import threading
from contextlib import redirect_stdout

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noodle.build.driver import compile_source
from noodle.vm.machine import Machine
from helpers import HANG_S

pytest.importorskip("llvmlite")

from noodle.backends.llvm import jit  # noqa: E402
from noodle.backends.llvm.lower import plan  # noqa: E402

MIN, MAX = -(2**63), 2**63 - 1


def run(source: str, backend: str) -> tuple[str, Machine]:
    _, module = compile_source(source, "n.nd", "n")
    out = io.StringIO()
    m = Machine(backend=backend)
    with redirect_stdout(out):
        lm = m.load(module)
        m.run_main(lm)
    return out.getvalue(), m


def both(source: str) -> str:
    """Run under both backends: the same output, to the bit, unless native code has a recognised
    float sum (its `fadd`s flagged `reassoc`), which it may add in another order (the contract's one
    allowance): then floats may differ by rounding (a relative 1e-9), every other word still exactly."""
    import math

    from noodle.backends.llvm import REASSOCIATION, native_part

    native_ir = native_part(compile_source(source, "n.nd", "n")[1])
    reordered = native_ir is not None and REASSOCIATION in native_ir[0]
    vm, _ = run(source, "vm")
    native, machine = run(source, "auto")
    if not reordered:
        assert native == vm, source
        return native
    a, b = vm.split(), native.split()
    assert len(a) == len(b), source
    for x, y in zip(a, b):
        if x != y:
            try:
                fx, fy = float(x), float(y)
            except ValueError:
                raise AssertionError(f"{x} != {y} in\n{source}") from None
            # no order of additions turns a +0.0 sum into -0.0: the signs agree even for zeros
            assert math.isclose(fx, fy, rel_tol=1e-9, abs_tol=1e-300) and \
                math.copysign(1.0, fx) == math.copysign(1.0, fy), f"{x} != {y} in\n{source}"
    return native


FIB = "fn fib(n: int) -> int {\n if n < 2 { return n }\n return fib(n - 1) + fib(n - 2)\n}\n"


def test_plan_takes_loops_and_recursion_and_says_why_not() -> None:
    src = FIB + ("fn leaf(x: int) -> int { return x + 1 }\n"
                 "fn total(n: int) -> int {\n var s = 0\n for i in 0..n { s += leaf(i) }\n return s\n}\n"
                 "fn main() { print(fib(10), total(5)) }\n")
    module_ir, _ = compile_source(src, "n.nd", "n")
    p = plan(module_ir)
    assert sorted(p.native) == ["fib", "total"] and sorted(p.compiled) == ["fib", "leaf", "total"]
    assert "no loop or recursion" in p.reasons["leaf"] and "print" in p.reasons["main"]
    out, machine = run(src, "auto")
    assert out == "55 15\n" and machine.native_report["n"] == "native: fib, total"


def test_native_errors_carry_the_noodle_stack() -> None:
    src = ("fn grow(n: int) -> int {\n var x = 1\n for i in 0..n { x = x * 3 }\n return x\n}\n"
           "fn main() {\n try { print(grow(50)) } catch e { print(e.kind, e.message) }\n"
           " print(grow(10))\n print(grow(100))\n}\n")
    from noodle.runtime.errors import NoodleRuntimeError

    with pytest.raises(NoodleRuntimeError) as e:
        run(src, "auto")
    assert e.value.kind == "OverflowError"
    assert [f.name for f in e.value.stack] == ["main", "grow"] and e.value.stack[-1].line == 3


def test_runaway_native_recursion_is_a_recursion_error() -> None:
    src = ("fn down(n: int) -> int {\n if n == 0 { return 0 }\n return 1 + down(n - 1)\n}\n"
           "fn main() {\n print(down(5000))\n try { print(down(1000000)) } catch e { print(e.kind) }\n}\n")
    assert both(src) == "5000\nRecursionError\n"


def test_float_semantics_match_python() -> None:
    src = ("fn f(a: float, b: float) -> float {\n var s = 0.0\n for i in 0..3 { s += a // b + a % b }\n"
           " return s\n}\nfn g(n: int) -> float {\n var acc = 0.0\n var i = 1\n while i <= n {\n"
           "  acc += 1.0 / float(i)\n  i += 1\n }\n return acc\n}\n"
           "fn main() {\n print(f(7.5, -2.0), f(-7.5, 2.0), f(0.0, -3.0), f(1e300, 1e-300))\n"
           " print(g(1000))\n try { print(f(1.0, 0.0)) } catch e { print(e.kind) }\n}\n")
    both(src)


def test_machine_code_is_cached_on_disk(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NOODLE_CACHE_DIR", str(tmp_path))
    from noodle.backends.llvm import native_part

    _, module = compile_source(FIB.replace("fib", "fib_cache_probe"), "c.nd", "c")
    text, _, _ = native_part(module)
    _, cached_first = jit.compile_ir(text)
    _, cached_second = jit.compile_ir(text)
    assert not cached_first and cached_second
    assert list((tmp_path / "native").glob("*.o"))


def test_native_code_runs_in_several_threads() -> None:
    _, module = compile_source(FIB, "t.nd", "t")
    m = Machine(backend="auto")
    lm = m.load(module)
    fib = lm.functions["fib"]
    assert getattr(fib, "__noodle_native__", False)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.extend(fib(22) for _ in range(5))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [17711] * 20


# ---------------------------------------------------------------- differential: random functions

INT_EDGES = [0, 1, 2, 3, -1, -7, 1000, 2**31, 2**62, MAX, MIN, MAX - 1, MIN + 1]
FLOAT_EDGES = [0.0, -0.0, 0.5, -2.5, 3.0, 1e300, -1e-300, 1e-9]

ops_int = st.sampled_from(["+", "-", "*", "//", "%", "&", "|", "^"])
ops_float = st.sampled_from(["+", "-", "*", "/", "//", "%"])


@st.composite
def int_expr(draw, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(st.sampled_from(["a", "b", "i", "acc"] + [f"({v})" for v in INT_EDGES]))
    op = draw(ops_int)
    return f"({draw(int_expr(depth + 1))} {op} {draw(int_expr(depth + 1))})"


@st.composite
def float_expr(draw, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(st.sampled_from(["x", "y", "float(i)", "facc"] + [f"({v!r})" for v in FLOAT_EDGES]))
    op = draw(ops_float)
    return f"({draw(float_expr(depth + 1))} {op} {draw(float_expr(depth + 1))})"


@settings(max_examples=60, deadline=None)
@given(e1=int_expr(), e2=float_expr(), cond=st.sampled_from(["i % 2 == 0", "acc > b", "a < 0 or i == 2",
                                                               "not (acc == 0)"]),
       a=st.sampled_from(INT_EDGES), b=st.sampled_from(INT_EDGES), x=st.sampled_from(FLOAT_EDGES),
       y=st.sampled_from(FLOAT_EDGES), n=st.integers(0, 4))
def test_random_functions_agree_with_the_vm(e1: str, e2: str, cond: str, a: int, b: int, x: float, y: float,
                                            n: int) -> None:
    src = (f"fn k(a: int, b: int, x: float, y: float, n: int) -> float {{\n var acc = 0\n var facc = 0.0\n"
           f" for i in 0..n {{\n  if {cond} {{ acc = {e1} }} else {{ acc = acc - 1 }}\n"
           f"  facc = {e2}\n  if i == 3 {{ break }}\n }}\n return float(acc % 1000) + facc\n}}\n"
           f"fn main() {{\n try {{ print(k({a}, {b}, {x!r}, {y!r}, {n})) }} catch e {{ print(e.kind) }}\n}}\n")
    both(src)


# ---------------------------------------------------------------- outlined loops

def test_a_loop_in_main_is_outlined_and_returns_what_it_changed() -> None:
    src = ("fn main() {\n var total = 0\n var count = 0\n var x = 1.5\n"
           " for i in 0..300 {\n  for j in 0..300 {\n   total += (i * j) % 7\n   count += 1\n  }\n  x = x * 1.01\n }\n"
           " print(total, count, x)\n}\n")
    module_ir, _ = compile_source(src, "o.nd", "o")
    names = [f.name for f in module_ir.functions]
    assert "__loop_1_main" in names
    out = both(src)
    assert out.startswith("231169 90000 ")


def test_loops_whose_moving_could_be_seen_stay_put() -> None:
    in_try = ("fn main() {\n var n = 0\n try {\n  for i in 0..10 {\n   n += 1\n   if i == 5 { n = n // 0 }\n  }\n"
              " } catch e { print(n, e.kind) }\n}\n")
    with_lambda = "fn main() {\n var n = 0\n let f = () => n\n for i in 0..10 { n += i }\n print(f())\n}\n"
    for src in (in_try, with_lambda):
        module_ir, _ = compile_source(src, "o.nd", "o")
        assert not any(f.name.startswith("__loop_") for f in module_ir.functions)
        both(src)
    assert both(in_try) == "6 ZeroDivisionError\n"


def test_an_error_in_an_outlined_loop_has_its_stack() -> None:
    src = "fn main() {\n var x = 1\n for i in 0..100 { x *= 10 }\n print(x)\n}\n"
    from noodle.runtime.errors import NoodleRuntimeError

    for backend in ("vm", "auto"):
        with pytest.raises(NoodleRuntimeError) as e:
            run(src, backend)
        assert e.value.kind == "OverflowError" and e.value.stack[-1].line == 3


def test_recognised_sums_and_in_bounds_loops() -> None:
    src = ("fn sumsq(a: Array<float>) -> float {\n var s = 0.0\n for i in 0..len(a) { s += a[i] * a[i] }\n return s\n}\n"
           "fn dotp(a: Array<float>, b: Array<float>) -> float {\n var s = 0.0\n"
           " for i in 0..len(a) { s += a[i] * b[i] }\n return s\n}\n"
           "fn main() {\n let a = linspace(0.0, 1.0, 1001)\n print(sumsq(a), dotp(a, a), sumsq(a[10:20]))\n"
           " let m = array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])\n print(sumsq(transpose(m)[1]))\n"
           " try { print(dotp(a, a[0:10])) } catch e { print(e.kind) }\n}\n")
    out = both(src)
    assert out.split()[-1] == "IndexError"  # the shorter array: the checked copy of the loop runs
    module_ir, module = compile_source(src, "r.nd", "r")
    from noodle.backends.llvm import native_part

    text, entries, _ = native_part(module)
    # both are dot products (sumsq of `a` with itself): called from the VM they choose BLAS or their
    # loops, which were outlined and run natively
    assert "fadd reassoc double" in text and " nsz" not in text and {e[0] for e in entries} == {"__loop_1_sumsq", "__loop_1_dotp"}


SUMS = """
fn plain(a: Array<float>) -> float {
    var s = 0.0
    for i in 0..len(a) { s += a[i] }
    return s
}
fn stored(a: Array<float>, out: Array<float>) -> float {
    var s = 0.0
    for i in 0..len(a) {
        s += a[i]
        out[i] = s * 2.0
    }
    return s
}
fn copied(a: Array<float>) -> float {
    var s = 0.0
    var t = 0.0
    for i in 0..len(a) {
        s = a[i] + s
        t = s
    }
    return t
}
"""


def test_only_sums_seen_nowhere_else_in_the_loop_may_be_reordered() -> None:
    # a sum whose every partial value is stored or read must add in order: its IR has no `reassoc`
    from noodle.backends.llvm import native_part

    _, module = compile_source(SUMS, "sums.nd", "sums")
    text, _, _ = native_part(module)
    flagged = {chunk.split('"')[1] for chunk in text.split("define ")[1:] if "reassoc" in chunk}
    assert flagged == {"nd_plain_impl"}
    both(SUMS + "fn main() {\n let a = arange(0.0, 1.0, 0.001) * 1e16 + 0.1\n let o = zeros(len(a))\n"
                      " print(stored(a, o), copied(a))\n print(o)\n}\n")  # bit-equal to the VM's
    # a recognised sum of negative zeros starting from +0.0 is +0.0 in any order
    assert both(SUMS + "fn main() {\n print(plain(zeros(100) * -1.0), plain(zeros(0)))\n}\n") == "0.0 0.0\n"


def test_native_stores_into_arrays() -> None:
    src = ("fn saxpy(alpha: float, x: Array<float>, y: Array<float>) {\n"
           " for i in 0..len(x) { y[i] = alpha * x[i] + y[i] }\n}\n"
           "fn fill(a: Array<int>, v: int) {\n for i in 0..len(a) { a[i] = v * i }\n}\n"
           "fn main() {\n let x = linspace(0.0, 1.0, 5)\n let y = ones(5)\n saxpy(2.0, x, y)\n print(y)\n"
           " let part = y[1:4]\n saxpy(-1.0, x[0:3], part)\n print(y)\n"
           " try { saxpy(1.0, x, ones(3)) } catch e { print(e.kind) }\n"
           " let b = arange(4)\n try { fill(b, 9223372036854775807) } catch e { print(e.kind, b) }\n}\n")
    out = both(src)
    assert out.splitlines()[2:] == ["IndexError", "OverflowError array([0, 9223372036854775807, 2, 3])"]
    _, machine = run(src, "auto")
    assert machine.native_report["n"] == "native: fill, saxpy"


def test_explain_names_each_function_and_loop(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    src = tmp_path / "k.nd"
    src.write_text("fn dotp(a: Array<float>, b: Array<float>) -> float {\n var s = 0.0\n"
                   " for i in 0..len(a) { s += a[i] * b[i] }\n return s\n}\n"
                   "fn main() {\n var t = 0\n for i in 0..10 { t += i }\n print(t, dotp(ones(3), ones(3)))\n}\n")
    noodlec = Path(sys.executable).parent / "noodlec"
    out = subprocess.run([str(noodlec), "k.nd", "--explain"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=HANG_S).stdout
    assert "k.nd:1: fn dotp: VM — line 3: it chooses between the variants of a recognised dot product" in out
    assert "k.nd:3: loop nest in dotp: dot product recognised — BLAS (numpy.dot) when " in out
    assert "k.nd:3: for loop in dotp: dot product: into `s` — native (llvm); bounds-check-free version when the " \
        "range fits `a`, `b`" in out
    assert "k.nd:6: fn main: VM — line 9: calling `print` runs in the VM" in out
    assert "k.nd:8: for loop in main: reduction: sum into `t` — native (llvm)" in out


def test_two_dimensional_arrays_natively() -> None:
    src = ("fn mm(a: Array<float, 2>, b: Array<float, 2>, c: Array<float, 2>) {\n"
           " for i in 0..len(a) {\n  for j in 0..b.shape[1] {\n   var s = 0.0\n"
           "   for k in 0..len(b) { s += a[i, k] * b[k, j] }\n   c[i, j] = s\n  }\n }\n}\n"
           "fn jacobi(a: Array<float, 2>, b: Array<float, 2>, n: int) {\n"
           " for i in 1..n - 1 {\n  for j in 1..n - 1 {\n"
           "   b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])\n  }\n }\n}\n"
           "fn main() {\n let a = arange(0.0, 12.0, 1.0).reshape(3, 4)\n let b = arange(0.0, 8.0, 1.0).reshape(4, 2)\n"
           " let c = zeros(3, 2)\n mm(a, b, c)\n print(c, a @ b)\n"
           " let g = rand(6, 6)\n let h = zeros(6, 6)\n jacobi(g, h, 6)\n print(sum(h) > 0.0)\n"
           " mm(transpose(b), transpose(a), zeros(2, 3))\n"
           " try { jacobi(g, zeros(2, 2), 6) } catch e { print(e.kind) }\n}\n")
    out = both(src)
    lines = out.splitlines()
    assert lines[0].split(") array(")[0] + ")" == "array(" + lines[0].split(") array(")[1]
    assert lines[-1] == "IndexError"
    _, machine = run(src, "auto")
    # mm is a recognised contraction: native code itself calls BLAS when it fits, else runs its loops
    assert machine.native_report["n"] == "native: jacobi, mm"


GUARDED = ("fn prods(a: int, b: int, c: int, d: int) -> int {\n var t = 0\n"
           " for i in a..b { for j in c..d { t = i * j } }\n return t\n}\n"
           "fn sums(a: int, b: int, c: int, d: int) -> int {\n var t = 0\n"
           " for i in a..b { for j in c..d { t = i + j - (i - j) } }\n return t\n}\n"
           "fn down(a: int, b: int) -> int {\n var t = 0\n for i in range(a, b, -1) { t = (i - 1) * 2 }\n return t\n}\n"
           "fn mods(n: int) -> int {\n var t = 0\n for i in -n..n { for j in 0..n { t += (i * j) % 7 } }\n return t\n}\n"
           # i * j over -3..1 x -1..m: the corners' products fit, -3 * m does not (the first one computed)
           "fn negs(m: int) -> int {\n var t = 0\n"
           " for i in -3..2 { for j in range(m, -2, -1) {\n  t = i * j\n  break\n } }\n return t\n}\n"
           "fn quot(x: int, d: int) -> int {\n var t = 0\n for i in 0..1 { t = x // d }\n return t\n}\n"
           "fn rem(x: int, d: int) -> int {\n var t = 0\n for i in 0..1 { t = x % d }\n return t\n}\n")


@pytest.mark.parametrize("call, expected", [
    ("prods(0, 50, 0, 50)", "2401"), ("prods(-5, 5, -7, 3)", "8"), ("mods(40)", "8210"),
    ("prods(3037000499, 3037000500, 3037000499, 3037000500)", "9223372030926249001"),
    ("prods(3037000499, 3037000501, 3037000499, 3037000501)", "OverflowError"),
    ("prods(0, 2, 9223372036854775806, 9223372036854775807)", "9223372036854775806"),
    ("prods(0, 3, 9223372036854775806, 9223372036854775807)", "OverflowError"),
    ("sums(9223372036854775806, 9223372036854775807, 0, 2)", "2"),
    ("sums(4611686018427387904, 4611686018427387905, 4611686018427387904, 4611686018427387905)", "OverflowError"),
    ("sums(-9223372036854775807, -9223372036854775806, 2, 3)", "OverflowError"),
    ("down(10, 0)", "0"), ("down(-4611686018427387903, -4611686018427387905)", "OverflowError"),
    ("negs(5)", "5"), ("negs(4611686018427387903)", "OverflowError"),
    ("negs(3074457345618258602)", "3074457345618258602"),  # -3 * m is MIN + 2: fits
    ("quot(-9223372036854775807 - 1, -1)", "OverflowError"),  # a bare sdiv traps (SIGFPE)
    ("quot(-9223372036854775807 - 1, 1)", "-9223372036854775808"), ("quot(-7, 2)", "-4"), ("quot(7, -2)", "-4"),
    ("quot(5, 0)", "ZeroDivisionError"), ("rem(-9223372036854775807 - 1, -1)", "0"), ("rem(-7, 2)", "1"),
    ("rem(7, -2)", "-1"),
])
def test_loop_arithmetic_checked_once_for_the_whole_range_still_overflows_exactly(call: str, expected: str) -> None:
    # a check the loop bounds prove away runs once before the loop; huge bounds keep the checked loop
    src = GUARDED + f"fn main() {{\n try {{ print({call}) }} catch e {{ print(e.kind) }}\n}}\n"
    assert both(src) == expected + "\n"


def test_native_constant_operands_at_the_edge_of_the_int_range() -> None:
    # natively as in the VM: x * -1, x // -1 and -x overflow at MIN; x % -1 is 0 (srem would trap)
    ops = {"mul": "x * -1", "div": "x // -1", "rem": "x % -1", "neg": "-x"}
    src = "".join(f"fn {name}(x: int) -> int {{\n var t = 0\n for i in 0..1 {{ t = {op} }}\n return t\n}}\n"
                  for name, op in ops.items())
    calls = [f"{name}({x})" for x in ("-9223372036854775807 - 1", "9223372036854775807", "7") for name in ops]
    src += "fn main() {\n" + "".join(f" try {{ print({c}) }} catch e {{ print(e.kind) }}\n" for c in calls) + "}\n"
    assert both(src).split() == ["OverflowError", "OverflowError", "0", "OverflowError",
                                 "-9223372036854775807", "-9223372036854775807", "0", "-9223372036854775807",
                                 "-7", "-7", "0", "-7"]
    _, machine = run(src, "auto")
    assert machine.native_report["n"] == "native: div, mul, neg, rem"


STENCIL = ("fn sweep(a: Array<float, 2>, b: Array<float, 2>, r0: int, r1: int, c0: int, c1: int) {\n"
           " for i in r0..r1 {\n  for j in c0..c1 {\n"
           "   b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])\n  }\n }\n}\n"
           "fn shift(a: Array<int>, k: int) {\n for j in 0..len(a) - 1 { a[j] = a[j + 1] * k }\n}\n")


@pytest.mark.parametrize("call, expected", [
    ("sweep(g, h, 1, 5, 1, 5)", "ok"),
    ("sweep(g, h, 1, 5, 0, 5)", "ok"),  # a[i, -1] is the row's last element, as in the VM
    ("sweep(g, h, 1, 6, 1, 5)", "IndexError"),  # a[6, j]
    ("sweep(g, h, 1, 5, 1, 6)", "IndexError"),  # a[i, 6]
    ("sweep(g, zeros(6, 4), 1, 5, 1, 5)", "IndexError"),  # b[i, 4]
    ("sweep(transpose(g), h, 1, 5, 1, 5)", "ok"),  # strided rows: the checked loop
    ("sweep(g, g, 1, 5, 1, 5)", "ok"),  # in place: each store is seen by the loads after it
    ("sweep(g, h, 5, 1, 1, 5)", "ok"),
    ("sweep(g, h, 1, 5, 9223372036854775806, 9223372036854775807)", "IndexError"),  # j + 1 would overflow
])
def test_stencil_loops_skip_bounds_checks_only_when_the_whole_range_fits(call: str, expected: str) -> None:
    src = STENCIL + ("fn main() {\n let g = arange(0.0, 36.0, 1.0).reshape(6, 6)\n let h = zeros(6, 6)\n"
                     f" try {{ {call}\n  print(\"ok\") }} catch e {{ print(e.kind) }}\n print(g, h)\n"
                     " let v = arange(5)\n shift(v, 3)\n print(v)\n}\n")
    out = both(src)
    assert out.splitlines()[0] == expected
    assert out.splitlines()[-1] == "array([3, 6, 9, 12, 4])"


REVERSED = "fn rev(a: Array<float>, b: Array<float>, k: int, lo: int, hi: int) {\n" \
    " for j in lo..hi { b[j] = a[k - j - 1] * 2.0 }\n}\n"


@pytest.mark.parametrize("call, expected", [
    ("rev(a, b, 6, 0, 6)", "ok"),
    ("rev(a, b, 6, 2, 6)", "ok"),
    ("rev(a, b, 4, 0, 4)", "ok"),
    ("rev(a, b, 7, 0, 6)", "IndexError"),  # a[6] first
    ("rev(a, b, 5, 0, 6)", "ok"),  # a[-1] last: the array's last element, as in the VM
    ("rev(a, b, 3, 0, 6)", "ok"),  # a[-3] last
    ("rev(a, b, 12, 5, 7)", "IndexError"),  # b[6]
    ("rev(a, b, 6, 6, 0)", "ok"),  # empty
    ("rev(a, b, -9223372036854775807 - 1, 0, 2)", "OverflowError"),  # k - j - 1 overflows
])
def test_a_loop_walking_an_array_backwards_skips_checks_only_when_the_whole_range_fits(call: str,
                                                                                        expected: str) -> None:
    src = REVERSED + ("fn main() {\n let a = arange(0.0, 6.0, 1.0)\n let b = zeros(6)\n"
                      f" try {{ {call}\n  print(\"ok\") }} catch e {{ print(e.kind) }}\n print(a, b)\n}}\n")
    out = both(src)
    assert out.splitlines()[0] == expected


def test_optimised_code_targets_the_host() -> None:
    import llvmlite.binding as llvm

    _, module = compile_source(GUARDED, "g.nd", "g")
    from noodle.backends.llvm import native_part

    text, _, _ = native_part(module)
    engine, _ = jit.compile_ir(text)
    assert engine is not None
    mod = llvm.parse_assembly(text)
    assert "!prof" in text  # error exits are cold: the checked path falls through
    assert mod.triple in ("", "unknown-unknown-unknown")  # the image stays target-neutral; the JIT sets the host's


def test_in_bounds_versions_need_every_access_to_be_decidable_before_the_loop() -> None:
    from noodle.ir import nodes as ir
    from noodle.ir.native_plan import in_bounds_accesses
    from noodle.ir.walk import walk

    src = STENCIL + ("fn mixed(a: Array<float>, b: Array<float>) {\n for j in 0..len(a) // 2 { a[j] = b[2 * j] }\n}\n"
                     "fn rows(a: Array<float, 2>) {\n for i in 0..len(a) { for j in 0..len(a) { a[j, i] = 0.0 } }\n}\n")
    import re

    src += REVERSED
    module_ir, _ = compile_source(src, "v.nd", "v")
    found: dict[str, list] = {}
    for f in module_ir.functions:
        loops = [n for s in f.body for n in walk(s) if isinstance(n, ir.ForRange)]
        owner = re.sub(r"^__chunk_\d+_", "", f.name)  # a nest split across cores lives in its chunk
        found.setdefault(owner, []).extend(
            sorted(d for access in in_bounds_accesses(n) for _, d in access.forms if d is not None) for n in loops)
    assert found["sweep"] == [[], [1, 1, 1, 1, 1]] and found["shift"] == [[1, 1]]
    # `b[2 * j]` cannot be decided from the range's ends; the outer loop of `rows` holds an inner
    # loop's index; the inner loop walks down a column (`a[j, i]`), which can (`rows` is there
    # twice: interchanged to walk along rows, noodle.ir.intents.interchange, and as written)
    assert found["mixed"] == [[]] and found["rows"] == [[], [1]] * 2
    # `a[k - j - 1]` walks backwards: its ends are k - lo - 1 and k - hi
    assert found["rev"] == [[-1, 1]]


@pytest.mark.parametrize("failing", ["k = b[i] * 4611686018427387904", "k = b[i] // (i - 2)"])
def test_a_native_function_that_stores_into_arrays_reports_the_failing_line(failing: str) -> None:
    """Such a function cannot be re-run in the VM to find the error's position: the status carries
    the line, and the stack ends as the VM's does."""
    from noodle.runtime.errors import NoodleRuntimeError

    src = ("fn fill(a: Array<int>, v: int) {\n for i in 0..len(a) {\n  let w = v * i\n  a[i] = w\n }\n}\n"
           "fn main() {\n let b = arange(4)\n var k = 0\n for i in 0..len(b) {\n  b[i] = i\n"
           f"  {failing}\n }}\n fill(b, 4611686018427387904)\n}}\n")
    stacks = []
    for backend in ("vm", "auto"):
        with pytest.raises(NoodleRuntimeError) as e:
            run(src, backend)
        stacks.append([(f.name, f.line, f.col) for f in e.value.stack])
    assert stacks[0] == stacks[1] and stacks[0][-1][1] == 12, stacks
    fill = src.replace(failing, "k = b[i]")
    stacks = []
    for backend in ("vm", "auto"):
        with pytest.raises(NoodleRuntimeError) as e:
            run(fill, backend)
        stacks.append([(f.name, f.line, f.col) for f in e.value.stack])
    assert stacks[0] == stacks[1] and stacks[0][-1] == ("fill", 3, 3), stacks
