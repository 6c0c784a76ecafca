"""Every benchmark gives the same output under `--backend vm` and `--backend auto` (issue 4's bar):
the whole-program workloads of bench/workloads and the kernels of bench/native.py."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from noodle.build.driver import compile_source
from noodle.vm.machine import Machine
from helpers import HANG_S

BENCH = Path(__file__).resolve().parent.parent / "bench"
WORKLOADS = sorted(p.name for p in (BENCH / "workloads").glob("*.nd"))


@pytest.mark.parametrize("name", WORKLOADS)
def test_a_workload_prints_the_same_on_both_backends(name: str, tmp_path: Path) -> None:
    shutil.copy(BENCH / "workloads" / name, tmp_path / name)
    noodle = Path(sys.executable).parent / "noodle"
    outputs = []
    for backend in ("vm", "auto"):
        p = subprocess.run([str(noodle), "run", "--backend", backend, name], cwd=tmp_path, capture_output=True,
                           text=True, timeout=HANG_S, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        outputs.append(p.stdout)
    assert outputs[0] == outputs[1] and outputs[0]


@pytest.fixture(scope="module")
def kernels() -> tuple[dict, dict]:
    sys.path.insert(0, str(BENCH))
    try:
        import native
    finally:
        sys.path.remove(str(BENCH))
    _, module = compile_source(native.NOODLE, "kernels.nd", "kernels")
    return Machine(backend="vm").load(module).functions, Machine(backend="auto").load(module).functions


def test_the_native_benchmark_kernels_agree(kernels: tuple[dict, dict]) -> None:
    vm, auto = kernels
    assert vm["fib"](20) == auto["fib"](20) == 6765
    assert vm["loops"](150) == auto["loops"](150)
    rng = np.random.default_rng(4)
    a, b = rng.random(1001), rng.random(1001)
    for name, args in (("sumsq", (a,)), ("dotp", (a, b))):
        assert auto[name](*args) == pytest.approx(vm[name](*args), rel=1e-12)  # recognised sums may reassociate
    y_vm, y_auto = b.copy(), b.copy()
    vm["saxpy"](2.0, a, y_vm)
    auto["saxpy"](2.0, a, y_auto)
    assert np.array_equal(y_vm, y_auto)
    m1, m2 = rng.random((17, 9)), rng.random((9, 13))
    c_vm, c_auto = np.zeros((17, 13)), np.zeros((17, 13))
    vm["matmul"](m1, m2, c_vm)
    auto["matmul"](m1, m2, c_auto)
    assert np.allclose(c_vm, c_auto, rtol=1e-12)
    g = rng.random((33, 33))  # the kernel takes square grids
    s_vm, s_auto = (g.copy(), np.zeros_like(g)), (g.copy(), np.zeros_like(g))
    vm["stencil"](*s_vm, 3)
    auto["stencil"](*s_auto, 3)
    assert np.array_equal(s_vm[0], s_auto[0]) and np.array_equal(s_vm[1], s_auto[1])
