"""`@vector_math`: a function's loops may call libmvec's vector math, within a few ulps of the VM.

Each math function with a vector variant is checked over many inputs (hypothesis) in a loop that
LLVM vectorises (the optimised IR is inspected for the vector call): within ULPS of Python's
`math` (which the VM calls); without the attribute, the same loop gives Python's bits.  Math errors
raised in a vectorised loop are still the VM's errors; a function storing into an Array keeps its
exact checks; a machine without libmvec runs the same code with scalar calls.
"""
from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noodle.build.driver import compile_source
from noodle.runtime.errors import to_error
from noodle.vm.machine import Machine

pytest.importorskip("llvmlite")

from noodle.backends.llvm import decide, vecmath  # noqa: E402
from noodle.ir.nodes import decode_module  # noqa: E402

from helpers import diagnostics, noodlec, write  # noqa: E402

#: the most ulps a vector function may differ from the C library's (glibc documents libmvec's
#: double functions to within 4; measured here at most 3)
ULPS = 4

#: each vector function, with the inputs drawn for it (inside its domain, and no overflow)
ONE = {"sin": (-1e4, 1e4), "cos": (-1e4, 1e4), "tan": (-1.5, 1.5), "asin": (-1.0, 1.0), "acos": (-1.0, 1.0),
       "atan": (-1e6, 1e6), "exp": (-700.0, 700.0), "log": (1e-300, 1e300)}
TWO = {"atan2": ((-1e3, 1e3), (-1e3, 1e3)), "pow": ((1e-3, 1e3), (-40.0, 40.0))}
LANES = 32  # more than one vector iteration at 8 lanes, unrolled twice


def pick_source(attribute: str) -> str:
    """`pick_NAME(xs, [ys,] k)`: NAME of element k, computed in a loop over every element (so the
    element goes through whatever the loop was vectorised to); the other elements add +0.0 (exact)."""
    out = ["import math\n"]
    for name in ONE:
        out.append(f"""
{attribute}
fn pick_{name}(xs: Array<float>, k: int) -> float {{
    var s = 0.0
    for i in 0..len(xs) {{
        let v = math.{name}(xs[i])
        s += v if i == k else 0.0
    }}
    return s
}}
""")
    for name in TWO:
        out.append(f"""
{attribute}
fn pick_{name}(xs: Array<float>, ys: Array<float>, k: int) -> float {{
    var s = 0.0
    for i in 0..len(xs) {{
        let v = math.{name}(xs[i], ys[i])
        s += v if i == k else 0.0
    }}
    return s
}}
""")
    return "".join(out)


def load(source: str, backend: str = "auto") -> tuple[dict, Machine]:
    _, module = compile_source(source, "v.nd", "v")
    machine = Machine(backend=backend)
    return machine.load(module).functions, machine


def optimised_calls(source: str) -> dict[str, list[str]]:
    """{native function: the libmvec functions its optimised machine code calls}."""
    import llvmlite.binding as llvm

    from noodle.backends.llvm import jit
    from noodle.backends.llvm.lower import symbol

    module_ir = decode_module(compile_source(source, "v.nd", "v")[1].ir)
    d = decide(module_ir)
    tm = jit._target_machine()
    mod = llvm.parse_assembly(vecmath.prepare(d.llvm_ir))
    mod.triple, mod.data_layout = tm.triple, str(tm.target_data)
    jit.optimise(mod)
    text = str(mod)
    return {f.name: sorted({v for vs in vecmath.called(text, [symbol(f.name), symbol(f.name) + "_impl",
                                                               symbol(f.name) + "_py"]).values() for v in vs})
            for f in module_ir.functions if f.name in d.plan.native}


def ulps(a: float, b: float) -> int:
    """How many doubles lie between a and b (0 when equal, -0.0 and 0.0 apart by one)."""
    def ordered(x: float) -> int:
        i = struct.unpack("<q", struct.pack("<d", x))[0]
        return i if i >= 0 else -(2**63) - i
    return abs(ordered(a) - ordered(b))


needs_libmvec = pytest.mark.skipif(vecmath.library() is None, reason=f"no vector math here: {vecmath.unavailable()}")


@pytest.fixture(scope="module")
def vector() -> dict:
    fns, machine = load(pick_source("@vector_math"))
    assert machine.native_report["v"] == "native: " + ", ".join(sorted(f"pick_{n}" for n in [*ONE, *TWO]))
    return fns


@pytest.fixture(scope="module")
def exact() -> dict:
    return load(pick_source(""))[0]


def arrays(lo: float, hi: float) -> st.SearchStrategy:
    return st.lists(st.floats(lo, hi, allow_nan=False, allow_infinity=False), min_size=LANES, max_size=LANES)


@needs_libmvec
def test_the_loops_call_the_vector_functions_and_only_with_the_attribute() -> None:
    calls = optimised_calls(pick_source("@vector_math"))
    for name in [*ONE, *TWO]:
        variants = calls[f"pick_{name}"]
        assert variants and all(v.endswith("_" + name) for v in variants), (name, variants)
    assert all(not vs for vs in optimised_calls(pick_source("")).values())


@needs_libmvec
@pytest.mark.parametrize("name", list(ONE))
def test_one_argument_functions_within_a_few_ulps(vector: dict, exact: dict, name: str) -> None:
    lo, hi = ONE[name]
    differ = []

    @settings(max_examples=25, deadline=None)
    @given(arrays(lo, hi))
    def check(xs: list[float]) -> None:
        a = np.array(xs)
        for k in range(LANES):
            want = getattr(math, name)(xs[k])
            got = vector[f"pick_{name}"](a, k)
            assert ulps(got, want) <= ULPS, (name, xs[k], got, want)
            differ.append(got != want)
            assert exact[f"pick_{name}"](a, k) == want  # without the attribute: the VM's bits
    check()
    # the vector function was really used: somewhere it rounds differently from the C library's
    # (asin, acos, atan, log and pow agree with it more often; a few draws may show no difference)
    if name in ("sin", "cos", "exp", "tan"):
        assert any(differ), name


@needs_libmvec
@pytest.mark.parametrize("name", list(TWO))
def test_two_argument_functions_within_a_few_ulps(vector: dict, exact: dict, name: str) -> None:
    (a_lo, a_hi), (b_lo, b_hi) = TWO[name]

    @settings(max_examples=25, deadline=None)
    @given(arrays(a_lo, a_hi), arrays(b_lo, b_hi))
    def check(xs: list[float], ys: list[float]) -> None:
        a, b = np.array(xs), np.array(ys)
        for k in range(LANES):
            want = getattr(math, name)(xs[k], ys[k])
            assert ulps(vector[f"pick_{name}"](a, b, k), want) <= ULPS, (name, xs[k], ys[k])
            assert exact[f"pick_{name}"](a, b, k) == want
    check()


ERRORS = """
import math

@vector_math
fn area(lo: float, h: float, n: int) -> float {
    var s = 0.0
    for i in 0..n {
        let x = lo + float(i) * h
        s += math.sqrt(x) * math.sin(x)
    }
    return s
}

@vector_math
fn growth(lo: float, h: float, n: int) -> float {
    var s = 0.0
    for i in 0..=n {
        s += math.exp(lo + float(i) * h)
    }
    return s
}

@vector_math
fn logs(xs: Array<float>, ys: Array<float>) {
    for i in 0..len(xs) {
        ys[i] = math.log(xs[i])
    }
}
"""


def error_of(f, *args) -> str:  # noqa: ANN001
    try:
        f(*args)
    except Exception as e:  # noqa: BLE001 - the Noodle error's kind and message, compared exactly
        err = to_error(e)
        return f"{err.f_kind}: {err.f_message}"
    return "no error"


@pytest.mark.parametrize("backend", ["vm", "auto"])
def test_math_errors_in_a_vectorised_loop_are_the_vms(backend: str) -> None:
    fns, _ = load(ERRORS, backend)
    # the failing iteration is deep inside a strip: the flags the strip's end tests catch it
    assert error_of(fns["area"], -100.0, 0.25, 1000) == "ValueError: math domain error in sqrt"
    assert error_of(fns["area"], 0.0, 1e306, 1000) == "ValueError: math domain error in sin"
    assert error_of(fns["growth"], 0.0, 1.0, 100000) == "OverflowError: float overflow in exp"
    # without errors: the sums, within rounding (each term a few ulps, the additions reassociated)
    area = math.fsum(math.sqrt(i * 0.001) * math.sin(i * 0.001) for i in range(100000))
    assert math.isclose(fns["area"](0.0, 0.001, 100000), area, rel_tol=1e-12)
    growth = math.fsum(math.exp(i * 0.001) for i in range(1001))
    assert math.isclose(fns["growth"](0.0, 0.001, 1000), growth, rel_tol=1e-12)


@pytest.mark.parametrize("backend", ["vm", "auto"])
def test_a_function_storing_into_an_array_fails_at_the_failing_element(backend: str) -> None:
    fns, _ = load(ERRORS, backend)
    xs = np.linspace(1.0, 2.0, 100)
    xs[37] = -1.0
    ys = np.zeros(100)
    assert error_of(fns["logs"], xs, ys) == "ValueError: math domain error in log"
    # the elements before the failing one were written, none after it (the checks were not deferred)
    assert (ys[:37] == np.log(xs[:37])).all() and (ys[37:] == 0.0).all()


@needs_libmvec
def test_explain_names_the_vector_math(tmp_path: Path) -> None:
    write(tmp_path, "e.nd", ERRORS + "\nfn main() {\n    print(area(0.0, 0.5, 10))\n}\n")
    out = noodlec(["--explain", "e.nd"], tmp_path).stdout
    line = next(x for x in out.splitlines() if "fn area: @vector_math" in x)
    assert "libmvec's vector math (sin: " in line and "lanes" in line, out
    assert "e.nd:5:" in line  # the function's line (after its attribute)
    assert any("fn growth: @vector_math: its loops call libmvec's vector math (exp: " in x for x in out.splitlines())


def test_without_libmvec_the_calls_stay_scalar_and_exact(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(vecmath, "_open", lambda: None)
    vecmath.reset()
    try:
        assert vecmath.library() is None and "libmvec was not found" in vecmath.unavailable()
        source = pick_source("@vector_math")
        assert all(not vs for vs in optimised_calls(source).values())
        text = decide(decode_module(compile_source(source, "v.nd", "v")[1].ir)).llvm_ir
        assert vecmath.prepare(text) == text
        fns, machine = load(source)
        assert machine.native_report["v"].startswith("native: ")
        xs = np.linspace(-3.0, 3.0, LANES)
        assert [fns["pick_sin"](xs, k) for k in range(LANES)] == [math.sin(x) for x in xs]
        module_ir = decode_module(compile_source(source, "v.nd", "v")[1].ir)
        lines = vecmath.explain(module_ir, text, [f.name for f in module_ir.functions])
        assert lines and all("not used: glibc's libmvec was not found" in t for _, t in lines)
    finally:
        vecmath.reset()


def test_the_attribute_is_known_and_the_hint_names_it() -> None:
    compile_source("@vector_math\nfn f(x: float) -> float {\n    return x\n}\n", "a.nd", "a")
    d = diagnostics("@vector_maths\nfn f(x: float) -> float {\n    return x\n}\n")
    assert d and d[0].code == "E0005" and "vector_math" in (d[0].hint or "")


def test_the_vm_ignores_the_attribute() -> None:
    fns, _ = load(pick_source("@vector_math"), "vm")
    xs = np.linspace(-3.0, 3.0, LANES)
    assert [fns["pick_sin"](xs, k) for k in range(LANES)] == [math.sin(x) for x in xs]


@needs_libmvec
def test_safe_mode_keeps_the_vms_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    from noodle.backends.llvm import jit

    compiled: list[str] = []
    real = jit.compile_ir
    monkeypatch.setattr(jit, "compile_ir", lambda text: (compiled.append(text), real(text))[1])
    _, module = compile_source(pick_source("@vector_math"), "v.nd", "v")
    for mode in ("safe", "optimized"):
        machine = Machine(backend="auto", mode=mode)
        fns = machine.load(module).functions
        assert machine.native_report["v"].startswith("native: ")
        xs = np.linspace(-30.0, 30.0, LANES)
        assert [fns["pick_sin"](xs, k) for k in range(LANES)] == [math.sin(x) for x in xs] or mode != "safe"
    # safe: the calls stay scalar (its sums are not reassociated either, so nothing would vectorise)
    assert "vector-function-abi-variant" not in compiled[0] and "vector-function-abi-variant" in compiled[1]


# ---------------------------------------------------------------- library evolution (noodle ale)

def _physics():  # noqa: ANN202 - examples/ale's plain-Python module
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "examples" / "ale" / "physics.py"
    spec = importlib.util.spec_from_file_location("physics_for_vector_math", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_transpiler_marks_what_it_writes_unless_math_is_exact() -> None:
    from noodle.ale.transpile import translate

    physics = _physics()
    vector = translate(physics.integrate, ["float", "float", "int"])
    assert "@vector_math\nfn ale_integrate(" in vector.source
    helpers = translate(physics.longest_collatz, ["int", "int"])
    assert helpers.source.count("@vector_math\nfn ") == 2  # the helper `collatz_steps` too
    exact = translate(physics.integrate, ["float", "float", "int"], vector_math=False)
    assert "@vector_math" not in exact.source and "fn ale_integrate(" in exact.source


@needs_libmvec
def test_the_translated_integrate_calls_vector_sin_within_the_tolerance() -> None:
    import noodle
    from noodle.ale.compare import floats_agree
    from noodle.ale.transpile import translate

    physics = _physics()
    tr = translate(physics.integrate, ["float", "float", "int"])
    assert any(v.endswith("_sin") for v in optimised_calls(tr.source)["ale_integrate"])
    vm = noodle.VM()
    vm.load(noodle.Source(tr.source, name="t"))
    for hi in (0.25, 1.0, 3.0, 5.0):
        want = physics.integrate(0.0, hi, 20000)
        got = vm.call(f"t.{tr.entry}", 0.0, hi, 20000)
        assert floats_agree(want, got), (hi, got, want)


def test_the_validation_tolerance_covers_a_few_ulps_and_not_a_real_error() -> None:
    from noodle.ale.compare import floats_agree

    for x in (1e-300, 3.5e-17, 1e-12, 0.7, 1.0, -2.5, 123456.789, 1e300):
        near = x
        for _ in range(ULPS):
            near = math.nextafter(near, math.inf)
        assert floats_agree(x, near) and floats_agree(near, x), x
    # a wrong result by a relative 1e-7 (ten million times a few ulps) is a mismatch
    assert not floats_agree(1.0, 1.0 + 1e-7) and not floats_agree(-2.5, -2.5 * (1 + 1e-7))


def test_evolve_math_exact_turns_the_attribute_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from noodle.ale import evolve as evolve_module
    from noodle.tools import ale_cli

    seen = []

    def fake(path, sandbox, plain, options):  # noqa: ANN001, ANN202 - records what the command asked
        seen.append(options.vector_math)
        return evolve_module.EvolveReport()
    monkeypatch.setattr(evolve_module, "evolve", fake)
    db = tmp_path / "ale.sqlite"
    from noodle.ale.registry import Registry
    with Registry(db):
        pass
    for args, want in (([], True), (["--math", "exact"], False), (["--math", "vector"], True)):
        out = CliRunner().invoke(ale_cli.ale, ["evolve", "--db", str(db), "--json", *args])
        assert out.exit_code == 0, out.output
        assert seen[-1] is want
    assert evolve_module.Options().vector_math is True
