"""The NumPy pilot in machine code: `dot` of two float Arrays lowers natively as a call of the BLAS
`ddot` NumPy itself calls, the way `numpy.dot` calls it (so its bits are NumPy's by construction),
and its Python entry's checks in C bound what it takes.  How a promoted candidate is served by that
machine code alone is in tests/test_ale_serving.py."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from noodle.build.driver import compile_source
from noodle.vm.machine import Machine

pytest.importorskip("llvmlite")

from noodle.backends.llvm import blas, pyentry  # noqa: E402
from noodle.runtime.values import ErrorValue  # noqa: E402

try:
    blas.library()
except ImportError:  # pragma: no cover - NumPy and SciPy without a BLAS native code can call
    pytest.skip("no BLAS library for native code", allow_module_level=True)

SOURCE = """
fn d(a: Array<float>, b: Array<float>) -> float { return dot(a, b) }
fn twice(a: Array<float>, b: Array<float>) -> float {
    var s = 0.0
    for k in 0..2 { s = s + d(a, b) }
    return s
}
fn di(a: Array<int>, b: Array<int>) -> int { return dot(a, b) }
"""
DOT = "ndarray<float64>[1d], ndarray<float64>[1d]"


@pytest.fixture(scope="module")
def machines() -> tuple[dict[str, Any], dict[str, Any], Machine]:
    _, module = compile_source(SOURCE, "dots.nd", "dots")
    native = Machine(backend="auto")
    functions = native.load(module).functions
    vm = Machine(backend="vm")
    return functions, vm.load(module).functions, native


def bits(x: Any) -> bytes:
    return np.float64(x).tobytes()


def test_dot_of_float_arrays_runs_natively_and_an_int_dot_stays_in_the_vm(machines: Any) -> None:
    functions, _, native = machines
    report = native.native_report["dots"]
    assert report == "native: d, twice"  # `d` has no loop: the library call alone makes it worth it
    assert getattr(functions["d"], "__noodle_native__", False)
    assert not getattr(functions["di"], "__noodle_native__", False)  # an int dot is checked for overflow


values = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=150, deadline=None)
@example(n=1, steps=(1, 1), seed=0, specials=[-0.0])  # a -0.0 dot, which `twice` adds to +0.0 (a random run found it)
@given(n=st.one_of(st.integers(0, 9), st.integers(10, 70), st.sampled_from([255, 1000, 4099])),
       steps=st.tuples(st.sampled_from([1, 2, 3, -1, -2]), st.sampled_from([1, 2, -1, -3])),
       seed=st.integers(0, 2**32 - 1), specials=st.lists(values, max_size=4))
def test_native_dot_is_numpy_dot_to_the_bit(machines: Any, n: int, steps: tuple[int, int], seed: int,
                                            specials: list[float]) -> None:
    functions, vm_functions, _ = machines
    rng = np.random.default_rng(seed)
    arrays = []
    for k, step in enumerate(steps):
        base = rng.standard_normal(max(1, n * abs(step))) * 10.0 ** rng.integers(-3, 4)
        view = base[::step][:n]
        for i, v in enumerate(specials):  # NaN, inf, signed zeros, huge and tiny values
            if n and (i + k) % 2 == 0:
                view[(i * 7 + k) % n] = v
        arrays.append(view)
    x, y = arrays
    with np.errstate(all="ignore"):  # the oracle overflows to inf as the code under test does, silently
        want = np.dot(x, y)
        twice = (0.0 + want) + want
    assert bits(functions["d"](x, y)) == bits(want)  # the Python entry (strides as they are)
    # called from native code: `s = 0.0` then `s = s + d(a, b)` twice (0.0 + -0.0 is 0.0: the sum
    # starts from +0.0, so a -0.0 dot gives 0.0 here, not want + want)
    assert bits(functions["twice"](x, y)) == bits(twice)
    assert bits(vm_functions["d"](x, y)) == bits(want)  # the VM: the same bits


def test_native_dot_copies_what_numpy_copies(machines: Any) -> None:
    functions, _, _ = machines
    raw = bytearray(8 * 40 + 1)
    misaligned = np.frombuffer(raw, dtype=np.float64, count=40, offset=1)  # writeable, data not 8-aligned
    misaligned[:] = np.random.default_rng(3).standard_normal(40)
    other = np.random.default_rng(4).standard_normal(40)
    assert bits(functions["d"](misaligned, other)) == bits(np.dot(misaligned, other))
    broadcast = np.broadcast_to(np.array([0.1]), (40,))  # stride 0 (read-only: the ctypes way)
    assert bits(functions["d"](broadcast, other)) == bits(np.dot(broadcast, other))
    assert bits(functions["d"](np.array([-0.0]), np.array([1.0]))) == bits(-0.0)  # NumPy's x[0] * y[0]
    assert bits(functions["d"](np.array([]), np.array([]))) == bits(0.0)


def test_without_a_blas_the_function_stays_in_the_vm_and_the_rest_is_native(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise ImportError("no BLAS (test)")

    monkeypatch.setattr(blas, "library", missing)
    source = SOURCE + "fn loops(n: int) -> int {\n    var s = 0\n    for i in 0..n { s += i }\n    return s\n}\n"
    _, module = compile_source(source, "noblas.nd", "noblas")
    machine = Machine(backend="auto")
    functions = machine.load(module).functions
    report = machine.native_report["noblas"]
    assert report.startswith("native: loops;") and "no BLAS (test)" in report, report
    assert functions["d"](np.ones(3), np.ones(3)) == 3.0 and functions["loops"](4) == 6


def test_dot_of_different_lengths_is_the_vms_error(machines: Any) -> None:
    functions, _, _ = machines
    with pytest.raises(ErrorValue, match="lengths 3 and 4"):
        functions["d"](np.ones(3), np.ones(4))
    with pytest.raises(ErrorValue, match="lengths 2 and 1"):
        functions["twice"](np.ones(2), np.ones(1))


def test_the_limit_is_the_entrys_own(machines: Any) -> None:
    functions, _, _ = machines
    fn = functions["d"]
    seen: list[int] = []
    bounded = pyentry.rehandled(fn, lambda status, *args: seen.append(status) or "refused", 2)
    try:
        assert bounded(np.ones(2), np.ones(2)) == 2.0
        assert bounded(np.ones(3), np.ones(3)) == "refused" and seen == [pyentry.NOT_FAST]
        assert fn(np.ones(3), np.ones(3)) == 3.0  # the function's own entry: the ctypes way, same result
    finally:
        pyentry.rehandled(fn, lambda *a: None, None)  # unbounded again
