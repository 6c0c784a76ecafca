"""Recognised maps and stencils split across cores: the same results as the loops, bit for bit,
on any shape, view and overlap; never split when an index could fail or arrays overlap."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noodle.ir.variants import forced
from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.nodes import decode_module
from noodle.ir.walk import walk
from noodle.runtime.errors import to_error
from noodle.runtime.values import ErrorValue
from noodle.vm.machine import Machine
from helpers import HANG_S

KERNELS = """
fn axpy(alpha: float, x: Array<float>, y: Array<float>) {
    for i in 0..len(x) { y[i] = alpha * x[i] + y[i] }
}
fn smooth(a: Array<float, 2>, b: Array<float, 2>) {
    for i in 1..len(a) - 1 {
        for j in 1..a.shape[1] - 1 {
            b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        }
    }
}
fn copy2(a: Array<float, 2>, b: Array<float, 2>, rows: int) {
    for i in 0..rows {
        for j in 0..b.shape[1] { b[i, j] = a[i, j] }
    }
}
"""
LOOPS = "".join("@no_optimize\n" + "fn " + block.replace("(", "_loops(", 1) + "\n"
                for block in KERNELS.split("\nfn ")[1:])


@pytest.fixture(scope="module")
def kernels() -> tuple[dict, dict]:
    _, module = compile_source(KERNELS + LOOPS, "p.nd", "p")
    with forced("map.parallel", 0):  # split at every size (read when the machine code is linked)
        split = Machine(backend="auto").load(module).functions
    return split, Machine(backend="vm").load(module).functions


def test_maps_and_stencils_get_a_split_and_the_rest_do_not() -> None:
    _, module = compile_source(KERNELS + "fn f(a: Array<float>) {\n for i in 0..len(a) { a[i] = a[i] / 2.0 }\n}\n",
                               "p.nd", "p")
    fns = {f.name: f for f in decode_module(module.ir).functions}
    runs = {name for name, f in fns.items() for s in f.body for n in walk(s)
            if isinstance(n, ir.CallBuiltin) and n.name == "parallel.run"}
    assert runs == {"axpy", "smooth", "copy2"}  # f divides: a division by zero could fail half-way
    assert sum(name.startswith("__chunk_") for name in fns) == 3


def values(draw, size: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """`size` floats from a generator hypothesis seeds (lists of thousands are more than it draws)."""
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1))).uniform(-1e3, 1e3, size)


def grid(draw, rows: int, cols: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    data = values(draw, 2 * rows * cols)
    layout = draw(st.sampled_from(["plain", "transposed", "strided"]))
    if layout == "transposed":
        return data[: rows * cols].reshape(cols, rows).T
    if layout == "strided":
        return data.reshape(2 * rows, cols)[::2] if rows else data[:0].reshape(0, cols)
    return data[: rows * cols].reshape(rows, cols)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_split_gives_the_loops_results(kernels, data) -> None:  # type: ignore[no-untyped-def]
    split, loops = kernels
    rows, cols = data.draw(st.sampled_from([0, 1, 2, 3, 9, 40])), data.draw(st.sampled_from([0, 1, 3, 17]))
    a = grid(data.draw, rows, cols)
    got, want = np.zeros((rows, cols)), np.zeros((rows, cols))
    split["smooth"](a, got)
    loops["smooth_loops"](a, want)
    assert np.array_equal(got, want)
    n = data.draw(st.sampled_from([0, 1, 5, 64, 1000]))
    x = values(data.draw, n)
    y1, y2 = x[::-1].copy(), x[::-1].copy()
    split["axpy"](1.5, x, y1)
    loops["axpy_loops"](1.5, x, y2)
    assert np.array_equal(y1, y2)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_overlapping_arrays_run_on_one_core_as_written(kernels, data) -> None:  # type: ignore[no-untyped-def]
    split, loops = kernels
    n = data.draw(st.sampled_from([2, 3, 10, 200]))
    v = values(data.draw, n + 1)
    shift = data.draw(st.sampled_from([0, 1]))
    got, want = v.copy(), v.copy()
    split["axpy"](2.0, got[: n + 1 - shift], got[shift:])  # y overlaps x: each step reads the last one's write
    loops["axpy_loops"](2.0, want[: n + 1 - shift], want[shift:])
    assert np.array_equal(got, want)
    g = values(data.draw, n * n).reshape(n, n)
    in_place, ref = g.copy(), g.copy()
    split["smooth"](in_place, in_place)
    loops["smooth_loops"](ref, ref)
    assert np.array_equal(in_place, ref)


def test_a_nest_whose_indices_could_fail_raises_as_written(kernels) -> None:  # type: ignore[no-untyped-def]
    split, loops = kernels
    a, b = np.arange(12.0).reshape(3, 4), np.zeros((3, 4))
    for fns, name in ((split, "copy2"), (loops, "copy2_loops")):
        with pytest.raises((ErrorValue, IndexError)) as e:  # as the machine reports it: an IndexError
            fns[name](a, b, 5)  # rows past the end: the split's guard says no, the loop raises at row 3
        assert to_error(e.value).f_kind == "IndexError"
    partial, ref = np.zeros((3, 4)), np.zeros((3, 4))
    for fns, name, out in ((split, "copy2", partial), (loops, "copy2_loops", ref)):
        with pytest.raises((ErrorValue, IndexError)) as e:
            fns[name](a, out, 5)
        assert to_error(e.value).f_kind == "IndexError"
    assert np.array_equal(partial, ref)  # the rows before the failure, and no more


def test_splits_from_several_threads_at_once(kernels) -> None:  # type: ignore[no-untyped-def]
    """The pool runs one split at a time: the others run on their own thread, with the same results."""
    import threading

    split, loops = kernels
    rng = np.random.default_rng(5)
    grids = [rng.uniform(-1, 1, (60, 33)) for _ in range(4)]
    wants = []
    for g in grids:
        want = np.zeros_like(g)
        loops["smooth_loops"](g, want)
        wants.append(want)
    gots = [np.zeros_like(g) for g in grids]
    failures: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(200):
                split["smooth"](grids[k], gots[k])
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(grids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=HANG_S)
    assert not failures and not any(t.is_alive() for t in threads)
    assert all(np.array_equal(g, w) for g, w in zip(gots, wants))


def test_a_forked_child_splits_with_a_pool_of_its_own(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The pool's threads do not survive a fork: the child starts its own and finishes its work."""
    import subprocess
    import sys

    script = tmp_path / "fork.py"
    script.write_text(f"""
import os, sys
import numpy as np
from noodle.ir.variants import forced
from noodle.build.driver import compile_source
from noodle.vm.machine import Machine
_, module = compile_source({KERNELS!r}, "p.nd", "p")
with forced("map.parallel", 0):
    smooth = Machine(backend="auto").load(module).functions["smooth"]
a = np.random.default_rng(1).uniform(-1, 1, (300, 200))
want = np.zeros_like(a)
smooth(a, want)  # the parent's pool starts here
pid = os.fork()
if pid == 0:
    got = np.zeros_like(a)
    for _ in range(50):
        smooth(a, got)
    os._exit(0 if np.array_equal(got, want) else 3)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
""")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0 and "child 0" in out.stdout, out.stderr


@pytest.mark.parametrize("value, warned", [("1", False), ("2", False), ("many", True), ("0", True)])
def test_noodle_threads_sets_the_threads_a_split_uses(tmp_path, value: str, warned: bool) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "s.nd").write_text("""
fn saxpy(x: float, a: Array<float, 1>, b: Array<float, 1>) {
    for i in 0..len(a) { b[i] = x * a[i] + b[i] }
}
fn main() {
    let a = arange(0.0, 2000000.0, 1.0)
    let b = ones(2000000)
    saxpy(2.0, a, b)
    print(b[1999999], sum(b))
}
""")
    noodle = Path(sys.executable).parent / "noodle"
    out = subprocess.run([str(noodle), "run", "s.nd"], cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S,
                         env={**os.environ, "NOODLE_THREADS": value})
    assert out.returncode == 0 and out.stdout == "3999999.0 4000000000000.0\n", out.stderr
    assert ("NOODLE_THREADS" in out.stderr) == warned and out.stderr.count("\n") == int(warned)


def test_thread_count_reads_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    from noodle.backends.llvm.threads import MAX_THREADS, thread_count
    monkeypatch.setenv("NOODLE_THREADS", "3")
    assert thread_count() == 3
    monkeypatch.setenv("NOODLE_THREADS", "100000")
    assert thread_count() == MAX_THREADS
    monkeypatch.delenv("NOODLE_THREADS")
    assert thread_count() == max(1, min(os.cpu_count() or 1, MAX_THREADS))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or (os.cpu_count() or 1) < 2,
                    reason="counts threads through Linux's /proc, on a machine with cores to split over")
def test_the_first_split_starts_the_pools_workers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Splits really run on more threads than the caller's (a missing C symbol would quietly leave
    the pool without workers, every split then running on one core)."""
    import subprocess
    import sys

    script = tmp_path / "count.py"
    script.write_text(f"""
import os
import numpy as np
from noodle.ir.variants import forced
from noodle.build.driver import compile_source
from noodle.vm.machine import Machine
_, module = compile_source({KERNELS!r}, "p.nd", "p")
with forced("map.parallel", 0):
    axpy = Machine(backend="auto").load(module).functions["axpy"]
x = np.ones(100000)
before = len(os.listdir("/proc/self/task"))
axpy(2.0, x, x.copy())
print(len(os.listdir("/proc/self/task")) - before)
""")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=HANG_S,
                         env={**os.environ, "NOODLE_THREADS": "2"})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == 1  # one worker besides the caller
