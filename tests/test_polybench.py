"""The PolyBench 4.2 ports in bench/polybench at the MINI size: Noodle's init_array fills the same
arrays as PolyBench's (bit for bit), and Noodle's kernel computes what the same loops compute in
CPython, in the VM bit for bit and in native code within the suite's tolerance; the NumPy versions
the benchmark compares against agree too."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

POLYBENCH = Path(__file__).resolve().parent.parent / "bench" / "polybench"
sys.path.insert(0, str(POLYBENCH))
try:
    import noodle_side
    import suite
finally:
    sys.path.remove(str(POLYBENCH))

KERNELS = {k.stem: k for k in suite.kernels()}
#: kernels the compiler cannot build yet (issue 11), each with the reason; strict: fixing one fails here
BROKEN: dict[str, str] = {}


def _params() -> list:
    return [pytest.param(stem, marks=[pytest.mark.xfail(reason=BROKEN[stem], strict=True)] if stem in BROKEN else [],
                         id=KERNELS[stem].name) for stem in suite.ORDER]


def _reference(kernel: suite.Kernel) -> tuple[suite.Instance, dict[str, np.ndarray]]:
    inst = suite.instance(kernel, "MINI")
    out = inst.fresh_arrays()
    kernel.py.kernel(*inst.kernel_args(out))
    return inst, out


@pytest.mark.parametrize("stem", _params())
def test_noodle_port_agrees_with_the_loops_in_cpython(stem: str, tmp_path: Path) -> None:
    kernel = KERNELS[stem]
    inst, expected = _reference(kernel)
    for backend in ("vm", "auto"):
        # the VM in safe mode: the loops as written (a recognised contraction's BLAS call, taken in
        # the default mode, adds in its own order: native code checks that within the tolerance)
        loaded = noodle_side.load(kernel.source, str(tmp_path / backend), backend=backend,
                                  mode="safe" if backend == "vm" else None)
        mine = suite.instance(kernel, "MINI", loaded.functions["init_array"])
        assert mine.scalars == inst.scalars
        # bit for bit as written; natively within rounding (cholesky's init builds A·Aᵀ: BLAS)
        assert suite.init_agrees(kernel, mine.arrays, inst.arrays, exact=backend == "vm"), \
            f"init_array differs ({backend})"
        got = mine.fresh_arrays()
        loaded.functions[kernel.function](*mine.kernel_args(got))
        # the VM runs the same operations in the same order as CPython; native code may reassociate
        # a recognised reduction or call BLAS
        agreement = suite.compare(kernel, got, expected, rtol=0.0 if backend == "vm" else None, initial=inst.arrays)
        assert agreement.ok, f"{backend}: {agreement.detail}"
        if backend == "auto":
            # the kernel function runs as native code, and so does every function the plan chose:
            # none fell back to the VM because the backend failed on it
            assert loaded.native(kernel.function), loaded.report
            assert loaded.report.startswith("native: ") and "VM:" not in loaded.report, loaded.report


@pytest.mark.parametrize("stem", suite.ORDER)
def test_numpy_version_agrees_with_the_loops(stem: str) -> None:
    kernel = KERNELS[stem]
    inst, expected = _reference(kernel)
    got = inst.fresh_arrays()
    kernel.py.kernel_numpy(*inst.kernel_args(got))
    agreement = suite.compare(kernel, got, expected, initial=inst.arrays)
    assert agreement.ok, agreement.detail


def test_the_suite_is_complete() -> None:
    assert len(KERNELS) == 30
    for kernel in KERNELS.values():
        assert kernel.source.exists()
        assert set(kernel.py.SIZES) == set(suite.SIZE_NAMES)
        assert f"fn {kernel.function}(" in kernel.source.read_text()


def test_compare_catches_a_wrong_result() -> None:
    kernel = KERNELS["gemm"]
    inst, expected = _reference(kernel)
    wrong = {k: v.copy() for k, v in expected.items()}
    wrong["C"][3, 4] += 1e-6
    assert not suite.compare(kernel, wrong, expected).ok
    ints = KERNELS["floyd_warshall"]
    inst, expected = _reference(ints)
    wrong = {k: v.copy() for k, v in expected.items()}
    wrong["path"][1, 2] += 1
    assert not suite.compare(ints, wrong, expected).ok


@pytest.mark.slow
@pytest.mark.parametrize("stem", suite.ORDER)
def test_every_recognised_nest_on_opencl_agrees_with_the_loops(stem: str) -> None:
    """PolyBench's kernels with every recognised nest forced onto OpenCL (PoCL in CI): the same
    results within the suite's tolerance, and no fault inside the OpenCL backend."""
    runtime = pytest.importorskip("noodle.backends.opencl.runtime")
    rt = runtime.runtime()
    if rt is None:
        pytest.skip(f"no OpenCL device: {runtime.why_none()}")
    from noodle.build.driver import compile_source
    from noodle.ir.kernels import OFFLOADABLE
    from noodle.vm.machine import Machine

    kernel = KERNELS[stem]
    inst, expected = _reference(kernel)
    _, module = compile_source(kernel.source.read_text(), kernel.source.name, kernel.stem,
                               offload=frozenset(OFFLOADABLE))
    functions = Machine(backend="opencl").load(module).functions
    before = rt.stats.internal
    got = inst.fresh_arrays()
    functions[kernel.function](*inst.kernel_args(got))
    agreement = suite.compare(kernel, got, expected, initial=inst.arrays)
    assert agreement.ok, agreement.detail
    assert rt.stats.internal == before, rt.last_declined
