"""A function the native backend fails to lower costs that function only: it runs in the VM, its
callers too, the rest of the module stays native, and the machine's report and `noodlec --explain`
say so (the same decision, not two guesses)."""
from __future__ import annotations

import io
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from noodle.build.driver import compile_source
from noodle.vm.machine import Machine

pytest.importorskip("llvmlite")

from noodle.backends.llvm import decide, lower, native_part  # noqa: E402

SOURCE = ("fn broken(a: Array<float>) -> float {\n var s = 0.0\n for i in 0..len(a) { s += a[i] * 2.0 }\n"
          " return s\n}\n"
          "fn caller(a: Array<float>) -> float {\n var t = 0.0\n for k in 0..2 { t += broken(a) }\n return t\n}\n"
          "fn fine(a: Array<float>) {\n for i in 0..len(a) { a[i] = a[i] + 1.0 }\n}\n"
          "fn main() {\n let a = ones(4)\n fine(a)\n print(broken(a), caller(a), a)\n}\n")


@pytest.fixture
def broken_lowering(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lowering bug planted in one function: lowering `broken` raises, as blas.lower_fits did on an
    Array local."""
    real = lower._FunctionLowering.lower

    def lower_or_fail(self: "lower._FunctionLowering") -> None:
        if self.f.name == "broken":
            raise TypeError("cannot unpack non-iterable LocalArray object")
        real(self)

    monkeypatch.setattr(lower._FunctionLowering, "lower", lower_or_fail)


def _run(source: str) -> tuple[str, Machine, dict]:
    _, module = compile_source(source, "n.nd", "n")
    machine = Machine(backend="auto")
    out = io.StringIO()
    with redirect_stdout(out):
        lm = machine.load(module)
        machine.run_main(lm)
    return out.getvalue(), machine, lm.functions


def test_a_function_that_fails_to_lower_runs_in_the_vm_alone(broken_lowering: None) -> None:
    out, machine, functions = _run(SOURCE)
    assert out == "16.0 32.0 array([2.0, 2.0, 2.0, 2.0])\n"
    assert getattr(functions["fine"], "__noodle_native__", False)  # the rest of the module stays native
    assert not getattr(functions["broken"], "__noodle_native__", False)
    assert not getattr(functions["caller"], "__noodle_native__", False)
    report = machine.native_report["n"]
    assert report.startswith("native: fine; VM: ")
    assert "broken (native lowering failed: TypeError: cannot unpack non-iterable LocalArray object)" in report
    assert "caller (calls `broken`, which native code could not take)" in report


def test_without_a_failure_everything_planned_is_native() -> None:
    _, machine, functions = _run(SOURCE)
    assert machine.native_report["n"] == "native: broken, caller, fine"
    _, module = compile_source(SOURCE, "n.nd", "n")
    assert native_part(module)[2] == {}


def test_the_decision_names_the_refused_functions(broken_lowering: None) -> None:
    from noodle.ir.nodes import decode_module

    _, module = compile_source(SOURCE, "n.nd", "n")
    d = decide(decode_module(module.ir))
    assert d.plan.native == ["fine"]
    assert set(d.refused) == {"broken", "caller"}
    text, entries, refused = native_part(module)
    assert [e[0] for e in entries] == ["fine"] and "nd_broken" not in text and refused == d.refused


def test_llvm_ir_that_does_not_verify_costs_its_function_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lowering that emits invalid LLVM IR (a block without a terminator) for one function."""
    real = lower._FunctionLowering.lower

    def lower_badly(self: "lower._FunctionLowering") -> None:
        real(self)
        if self.f.name == "broken":
            self.fn.append_basic_block("dangling")  # no terminator: the verifier rejects the function

    monkeypatch.setattr(lower._FunctionLowering, "lower", lower_badly)
    out, machine, functions = _run(SOURCE)
    assert out == "16.0 32.0 array([2.0, 2.0, 2.0, 2.0])\n"
    assert getattr(functions["fine"], "__noodle_native__", False)
    assert "VM: broken (its LLVM IR does not verify: " in machine.native_report["n"]


def test_explain_says_vm_for_a_function_that_fails_to_lower(broken_lowering: None, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from noodle.tools.cli import noodlec_main

    (tmp_path / "n.nd").write_text(SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["noodlec", "n.nd", "--explain"])
    with pytest.raises(SystemExit) as done:
        noodlec_main()
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    assert "n.nd:1: fn broken: VM — native lowering failed: TypeError: cannot unpack non-iterable " \
        "LocalArray object" in out
    assert "n.nd:6: fn caller: VM — calls `broken`, which native code could not take" in out
    assert "n.nd:11: fn fine: native (llvm)" in out


def test_an_array_local_in_a_recognised_product_is_native() -> None:
    """The regression: a product into a function-local Array (PolyBench cholesky's init) is lowered,
    BLAS's guard reading the local's data and shape."""
    src = ("fn square(n: int, A: Array<float, 2>) {\n let B = zeros(n, n)\n"
           " for t in 0..n {\n  for r in 0..n {\n   for s in 0..n {\n    B[r, s] += A[r, t] * A[s, t]\n   }\n  }\n }\n"
           " for r in 0..n {\n  for s in 0..n {\n   A[r, s] = B[r, s]\n  }\n }\n}\n"
           "fn main() {\n let A = arange(0.0, 9.0, 1.0).reshape(3, 3)\n square(3, A)\n print(A)\n}\n")
    out, machine, functions = _run(src)
    assert getattr(functions["square"], "__noodle_native__", False), machine.native_report
    assert machine.native_report["n"] == "native: square"
    assert out == "array([[5.0, 14.0, 23.0], [14.0, 50.0, 86.0], [23.0, 86.0, 149.0]])\n"
