"""`parallel.map` / `parallel.reduce`: the compile-time check, placement, the local pool and a real
Dask LocalCluster (2 worker processes, started and stopped here, one per module)."""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noodle.errors import CompileError
from noodle.parallel.placement import TargetCost, Work, choose
from noodle.parallel.wire import TaskMessage, VersionMismatch, bundle_of, decode_values, encode_values
from noodle.runtime.errors import NoodleRuntimeError
from noodle.tools.run import install_parallel, load_program
from helpers import HANG_S

PROGRAM = """
import parallel
import io

struct P {
    a: int
    b: float
}

fn sq(x: int) -> int {
    return (x * x + 3) % 1000
}

fn mk(n: int) -> P {
    return P(a: n, b: float(n) / 2.0)
}

fn boom(n: int) -> int {
    if n == 7 {
        return 10 // (n - 7)
    }
    return n
}

fn add(a: int, b: int) -> int {
    return a + b
}

// marks its start in a file (a test waits for it), then works long enough to be killed mid-task
fn slow(x: int) -> int {
    io.write_text(sys_dir() + "/started-" + str(x), "")
    var t = 0
    for i in range(400000) {
        t = (t + i * x) % 7919
    }
    return t
}

fn sys_dir() -> str {
    return "MARKERS"
}

fn map_sq(xs: List<int>) -> List<int> {
    return parallel.map(sq, xs)
}

fn map_mk(xs: List<int>) -> List<P> {
    return parallel.map(mk, xs)
}

fn map_boom(xs: List<int>) -> List<int> {
    return parallel.map(boom, xs)
}

fn map_slow(xs: List<int>) -> List<int> {
    return parallel.map(slow, xs)
}

fn rowsum(r: Array<float, 1>) -> float {
    return sum(r)
}

fn map_rows(a: Array<float, 2>) -> List<float> {
    return parallel.map(rowsum, a)
}

fn sum_all(xs: List<int>, init: int) -> int {
    return parallel.reduce(add, xs, init)
}

fn pick(p: (Array<float>, int)) -> float {
    let (a, i) = p
    return a[i] * 2.0 + OFFSET
}

var OFFSET = 0.0

fn map_pick(a: Array<float>, n: int, offset: float) -> List<float> {
    OFFSET = offset
    var jobs: List<(Array<float>, int)> = []
    for i in range(n) {
        jobs.append((a, i))
    }
    return parallel.map(pick, jobs)
}
"""


def _program(folder: Path, cluster: str | None = None):
    path = folder / "prog.nd"
    (folder / "markers").mkdir(exist_ok=True)
    path.write_text(PROGRAM.replace("MARKERS", str(folder / "markers")))
    machine, lm = load_program(str(path))
    machine.call(lm, lm.functions["__init__"])
    runner = install_parallel(machine, str(path), cluster=cluster, explain=False)
    return machine, lm, runner


def call(machine, lm, name, *args):
    return machine.call(lm, lm.functions[name], *args)


@pytest.fixture(scope="module")
def vm_backend():
    # the worker processes inherit this: every function runs as VM code (native code would run on threads)
    old = os.environ.get("NOODLE_BACKEND")
    os.environ["NOODLE_BACKEND"] = "vm"
    yield
    if old is None:
        del os.environ["NOODLE_BACKEND"]
    else:
        os.environ["NOODLE_BACKEND"] = old


@pytest.fixture(scope="module")
def local(tmp_path_factory, vm_backend):
    machine, lm, runner = _program(tmp_path_factory.mktemp("local"))
    yield machine, lm, runner
    runner.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, vm_backend):
    folder = tmp_path_factory.mktemp("cluster")
    machine, lm, runner = _program(folder, cluster="local:2")
    runner.force = "cluster"
    yield machine, lm, runner, folder
    runner.close()


# ------------------------------------------------------------------ the language

@pytest.mark.parametrize("arg, why", [
    ("x => x + 1", "a lambda has no name"),
    ("g", "`g` is a local value"),
    ("p.f", "a method is bound to its object"),
])
def test_only_a_top_level_function_can_be_sent(tmp_path, arg, why):
    src = f"""import parallel
struct Q {{
    v: int
    fn f(self, x: int) -> int {{
        return x + self.v
    }}
}}
fn inc(x: int) -> int {{
    return x + 1
}}
fn main() {{
    let g = inc
    let p = Q(v: 1)
    print(parallel.map({arg}, [1, 2]))
}}
"""
    (tmp_path / "bad.nd").write_text(src)
    with pytest.raises(CompileError) as info:
        load_program(str(tmp_path / "bad.nd"))
    diags = info.value.diagnostics
    assert diags[0].code == "E0404", diags  # a method is not a value either (E0202 follows)
    assert why in diags[0].message and "top-level function" in diags[0].message


def test_tiny_map_runs_inline_and_keeps_order(local):
    machine, lm, runner = local
    assert call(machine, lm, "map_sq", [3, 1, 2]) == [12, 4, 7]
    assert runner.decisions[-1][1].target == "inline"
    assert call(machine, lm, "sum_all", [1, 2, 3, 4], 10) == 20
    assert call(machine, lm, "sum_all", [], 10) == 10


def test_placement_prefers_inline_for_little_work_and_workers_for_much():
    pool = TargetCost("pool", 2, startup_s=0.2, per_task_s=0.002)
    assert choose(Work(10, 1e-5), [pool]).target == "inline"
    assert choose(Work(64, 0.05), [pool]).target == "pool"
    slow_start = TargetCost("cluster", 2, startup_s=5.0, per_task_s=0.01)
    assert choose(Work(64, 0.05), [pool, slow_start]).target == "pool"


@given(st.integers(0, 5000), st.integers(1, 64), st.integers(1, 50))
def test_guided_chunks_cover_the_map_and_shrink(elements, workers, smallest):
    from noodle.parallel.placement import chunk_sizes

    sizes = chunk_sizes(elements, workers, smallest)
    assert sum(sizes) == elements and all(s >= 1 for s in sizes)
    assert all(a >= b for a, b in zip(sizes, sizes[1:]))  # large first, small last
    assert all(s >= smallest for s in sizes[:-1])  # only the remainder may be smaller
    if elements >= 2 * workers * max(smallest, 1) * 4:
        assert sizes[-1] <= max(smallest, 1) and len(sizes) < elements  # fine at the end, few messages


def test_values_travel_with_their_types():
    import numpy as np

    values = [1, -2.5, True, "s", None, [1, 2], (1, "x"), {"a": 1, (1, 2): [3]}, np.arange(6.0).reshape(2, 3)]
    back = decode_values(encode_values(values), lambda m, n: None)
    assert back[:8] == values[:8] and type(back[6]) is tuple and type(back[7][(1, 2)]) is list
    assert back[8].shape == (2, 3) and back[8].dtype == np.float64 and (back[8] == values[8]).all()


# ------------------------------------------------------------------ the local pool

@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.integers(-10**6, 10**6), max_size=40))
def test_pool_map_equals_serial(local, xs):
    machine, lm, runner = local
    runner.force = "pool"
    try:
        got = call(machine, lm, "map_sq", xs)
    finally:
        runner.force = None
    assert got == [(x * x + 3) % 1000 for x in xs]
    if len(xs) > 1:
        assert runner.decisions[-1][1].target == "pool"


def test_pool_carries_structs_and_reduces(local):
    machine, lm, runner = local
    runner.force = "pool"
    try:
        ps = call(machine, lm, "map_mk", list(range(9)))
        total = call(machine, lm, "sum_all", list(range(100)), 5)
    finally:
        runner.force = None
    assert [(p.f_a, p.f_b) for p in ps] == [(n, n / 2) for n in range(9)]
    assert type(ps[0]) is type(call(machine, lm, "mk", 1))  # this machine's own struct class
    assert total == 5 + sum(range(100))


def test_pool_maps_over_an_arrays_rows(local):
    import numpy as np

    machine, lm, runner = local
    a = np.arange(40.0).reshape(10, 4)
    runner.force = "pool"
    try:
        got = call(machine, lm, "map_rows", a)
    finally:
        runner.force = None
    assert got == [float(r.sum()) for r in a] and runner.decisions[-1][1].target == "pool"


def test_pool_error_names_the_element_and_carries_the_task_stack(local):
    machine, lm, runner = local
    runner.force = "pool"
    try:
        with pytest.raises(NoodleRuntimeError) as info:
            call(machine, lm, "map_boom", list(range(12)))
    finally:
        runner.force = None
    e = info.value
    assert e.kind == "ZeroDivisionError" and "element 7: 7" in e.message
    names = [f.name for f in e.stack]
    assert names[0] == "map_boom" and names[-1] == "boom", names


def test_a_changed_module_is_refused(local):
    machine, lm, runner = local
    bundle, _ = runner._bundle(lm.name)
    tampered = bundle_of(bundle.entry, dict(bundle.modules), bundle.capabilities)
    from noodle.parallel import worker

    bad = msgspec.structs.replace(tampered, hashes={**tampered.hashes, lm.name: "0" * 64})
    with pytest.raises(VersionMismatch, match="do not match its hash"):
        worker.install(bad)
    worker.install(bundle)
    task = TaskMessage(bundle.key, lm.name, "f" * 64, "sq", 0, encode_values([1]))
    with pytest.raises(VersionMismatch, match="refused"):
        worker.run_task(task)


def test_a_large_array_is_shared_once_not_sent_in_every_task(local):
    import numpy as np

    machine, lm, runner = local
    a = np.arange(100_000.0)  # 800 kB, held by every element
    runner.force, runner.chunk = "pool", 8
    try:
        got = call(machine, lm, "map_pick", a, 40, 0.5)
    finally:
        runner.force, runner.chunk = None, None
    assert got == [i * 2.0 + 0.5 for i in range(40)]  # OFFSET: the program's global as the map began
    sent = runner.dispatches[-1]
    assert sent.target == "pool" and sent.shared_arrays == 1 and sent.shared_bytes == a.nbytes
    assert len(sent.task_bytes) > 1 and max(sent.task_bytes) < 4096, sent.task_bytes
    assert not list(Path("/dev/shm").glob("noodle-shared-*")) if Path("/dev/shm").is_dir() else True


def test_a_killed_pool_process_loses_nothing(tmp_path, vm_backend):
    machine, lm, runner = _program(tmp_path)
    markers = tmp_path / "markers"
    xs = list(range(1, 7))
    expected = [call(machine, lm, "slow", x) for x in xs]
    for f in markers.iterdir():
        f.unlink()
    runner.force = "pool"
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = call(machine, lm, "map_slow", xs)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    try:
        started = threading.Event()
        # a task has started in a pool process when its marker exists (element 1 runs inline first)
        while not started.wait(0.05) and t.is_alive():
            if any(f.name != "started-1" for f in markers.iterdir()) and runner.pool.worker_pids():
                started.set()
        assert started.is_set(), result
        os.kill(runner.pool.worker_pids()[0], signal.SIGKILL)
        t.join(timeout=HANG_S)
        assert "error" not in result, result.get("error")
        assert result["value"] == expected
    finally:
        t.join(timeout=HANG_S)
        runner.close()


def test_workers_do_not_rerun_top_level_code(tmp_path, capfd, vm_backend):
    # no `main`: the whole program is top-level code, which must run once, here, not again per worker
    (tmp_path / "top.nd").write_text("""import parallel
fn scale() -> int {
    print("scale computed")
    return 3
}
let K = scale()
var BIAS = 0
fn f(x: int) -> int {
    return x * K + BIAS
}
print("top-level ran")
BIAS = 100
let ys = parallel.map(f, [1, 2, 3, 4, 5, 6, 7, 8])
print(ys)
""")
    machine, lm = load_program(str(tmp_path / "top.nd"))
    runner = install_parallel(machine, str(tmp_path / "top.nd"))
    runner.force = "pool"
    try:
        machine.call(lm, lm.functions["__init__"])
    finally:
        runner.close()
    out = capfd.readouterr().out
    assert runner.decisions[-1][1].target == "pool"
    assert out == "scale computed\ntop-level ran\n[103, 106, 109, 112, 115, 118, 121, 124]\n", out


def test_a_module_changed_since_the_start_does_not_travel(tmp_path, vm_backend):
    machine, lm, runner = _program(tmp_path)
    source = tmp_path / "prog.nd"
    text = source.read_text()
    source.write_text(text.replace("% 1000", "% 999"))
    runner.force = "pool"
    try:
        with pytest.raises(NoodleRuntimeError, match="changed since the program started") as info:
            call(machine, lm, "map_sq", list(range(5)))
        assert info.value.kind == "ParallelError"
    finally:
        runner.close()
    machine, lm, runner = _program(tmp_path / "markers")  # a fresh program, then a source that no longer compiles
    source = tmp_path / "markers" / "prog.nd"
    source.write_text(source.read_text().replace("struct P {\n    a: int", "struct P {\n    a: int\n    c: int"))
    runner.force = "pool"
    try:
        with pytest.raises(NoodleRuntimeError, match="could not be prepared for other processes") as info:
            call(machine, lm, "map_sq", list(range(5)))
        assert info.value.kind == "ParallelError" and "E0209" in info.value.message
    finally:
        runner.close()


def test_structs_are_matched_by_module_and_name():
    from noodle.parallel.wire import StructMismatch
    from noodle.runtime.values import make_struct_class

    mine = make_struct_class("P", ["a"], "geo")
    theirs = make_struct_class("P", ["x", "y"], "other")
    classes = {("geo", "P"): mine, ("other", "P"): theirs}
    back = decode_values(encode_values([theirs(1, 2), mine(3)]), lambda m, n: classes[(m, n)])
    assert type(back[0]) is theirs and (back[0].f_x, back[0].f_y) == (1, 2)
    assert type(back[1]) is mine and back[1].f_a == 3
    changed = {("other", "P"): make_struct_class("P", ["x"], "other")}  # another version of `other`
    with pytest.raises(StructMismatch, match="2 fields"):
        decode_values(encode_values([theirs(1, 2)]), lambda m, n: changed[(m, n)])
    with pytest.raises(StructMismatch, match="does not have"):
        decode_values(encode_values([mine(1)]), lambda m, n: changed[(m, n)])


# ------------------------------------------------------------------ the cluster

@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.integers(-10**6, 10**6), min_size=2, max_size=30))
def test_cluster_map_equals_serial(cluster, xs):
    machine, lm, runner, _ = cluster
    assert call(machine, lm, "map_sq", xs) == [(x * x + 3) % 1000 for x in xs]
    assert runner.decisions[-1][1].target == "cluster"


def test_cluster_error_names_the_element_and_carries_the_task_stack(cluster):
    machine, lm, runner, _ = cluster
    with pytest.raises(NoodleRuntimeError) as info:
        call(machine, lm, "map_boom", list(range(10)))
    e = info.value
    assert e.kind == "ZeroDivisionError" and "element 7: 7" in e.message
    assert [f.name for f in e.stack][-1] == "boom"
    assert runner.decisions[-1][1].target == "cluster"


def test_cluster_refuses_a_task_for_other_code(cluster):
    machine, lm, runner, _ = cluster
    call(machine, lm, "map_sq", [1, 2, 3])  # the program's code is on the workers now
    bundle, bundle_bytes = runner._bundle(lm.name)
    task = msgspec.msgpack.encode(TaskMessage(bundle.key, lm.name, "e" * 64, "sq", 0, encode_values([1])))
    with pytest.raises(VersionMismatch, match="refused"):
        runner.cluster.run(bundle.key, bundle_bytes, [task])


def test_the_cluster_scatters_a_large_array_once(cluster):
    import numpy as np

    machine, lm, runner, _ = cluster
    a = np.arange(100_000.0)
    runner.chunk = 8
    try:
        assert call(machine, lm, "map_pick", a, 30, 1.5) == [i * 2.0 + 1.5 for i in range(30)]
    finally:
        runner.chunk = None
    sent = runner.dispatches[-1]
    assert sent.target == "cluster" and sent.shared_arrays == 1 and sent.shared_bytes == a.nbytes
    assert len(sent.task_bytes) > 1 and max(sent.task_bytes) < 4096, sent.task_bytes


def test_a_scheduler_without_workers_is_an_error_not_a_wait(monkeypatch):
    from distributed import LocalCluster

    from noodle.parallel.cluster import ClusterError, DaskCluster

    monkeypatch.setenv("NOODLE_CLUSTER_WAIT", "1")
    with LocalCluster(n_workers=0, dashboard_address=":0", processes=True, silence_logs=50) as empty:
        with pytest.raises(ClusterError, match="has no worker that answers"):
            DaskCluster(empty.scheduler_address)


def test_a_map_whose_workers_all_leave_is_abandoned(tmp_path, vm_backend, monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setenv("NOODLE_CLUSTER_WAIT", "1")
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0", processes=True,
                      silence_logs=50) as dask:
        machine, lm, runner = _program(tmp_path, cluster=dask.scheduler_address)
        runner.force = "cluster"
        markers = tmp_path / "markers"
        result: dict[str, object] = {}

        def run() -> None:
            try:
                result["value"] = call(machine, lm, "map_slow", list(range(1, 30)))
            except BaseException as e:  # noqa: BLE001 - checked below
                result["error"] = e

        t = threading.Thread(target=run)
        t.start()
        try:
            started = threading.Event()
            while not started.wait(0.05) and t.is_alive():
                if any(f.name != "started-1" for f in markers.iterdir()):
                    started.set()
            assert started.is_set(), result
            dask.scale(0)  # every worker leaves (a killed one would come back: its nanny restarts it)
            t.join(timeout=HANG_S)
            e = result.get("error")
            assert isinstance(e, NoodleRuntimeError) and e.kind == "ParallelError", result
            assert "no workers left" in e.message
        finally:
            t.join(timeout=HANG_S)
            runner.close()


def test_a_worker_killed_mid_map_loses_nothing(cluster):
    machine, lm, runner, folder = cluster
    markers = folder / "markers"
    xs = list(range(1, 7))
    expected = [call(machine, lm, "slow", x) for x in xs]
    for f in markers.iterdir():
        f.unlink()
    pids = runner.cluster.worker_pids()
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = call(machine, lm, "map_slow", xs)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    victim = None
    started = threading.Event()
    # a task has started on a worker when its marker exists (element 1 runs inline while sampling)
    while not started.wait(0.05):
        if any(f.name != "started-1" for f in markers.iterdir()):
            busy = [w for w, keys in runner.cluster.client.processing().items() if keys]
            if busy:
                victim = pids[busy[0]]
                started.set()
        if not t.is_alive():
            break
    assert victim is not None, "no task started on a worker"
    os.kill(victim, signal.SIGKILL)
    t.join(timeout=HANG_S)
    assert "error" not in result, result.get("error")
    assert result["value"] == expected


# ------------------------------------------------------------------ the commands

def _noodle(*args: str, cwd: Path, env: dict | None = None):
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("noodle")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=HANG_S,
                          env={**os.environ, **(env or {})})


def test_run_explain_says_where_each_map_ran(tmp_path):
    (tmp_path / "p.nd").write_text("import parallel\nfn sq(x: int) -> int {\n    return x * x\n}\n"
                                   "fn main() {\n    print(parallel.map(sq, [1, 2, 3]))\n}\n")
    r = _noodle("run", "--explain", "p.nd", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "[1, 4, 9]\n"
    assert "noodle parallel: map(sq, 3 elements) -> inline" in r.stderr
    quiet = _noodle("run", "p.nd", cwd=tmp_path, env={"NOODLE_PARALLEL_LOG": ""})
    assert quiet.stderr == ""
    bad = _noodle("run", "--cluster", "nowhere", "p.nd", cwd=tmp_path)
    assert bad.returncode == 1 and "bad cluster 'nowhere'" in bad.stderr and "Traceback" not in bad.stderr


def test_noodle_worker_joins_a_scheduler_and_runs_tasks(tmp_path, vm_backend, monkeypatch):
    import subprocess
    import sys

    from distributed import LocalCluster

    with LocalCluster(n_workers=0, dashboard_address=":0", processes=True, silence_logs=50) as scheduler:
        exe = Path(sys.executable).with_name("noodle")
        worker = subprocess.Popen([str(exe), "worker", scheduler.scheduler_address], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            monkeypatch.setenv("NOODLE_CLUSTER_WAIT", "120")  # the worker process may still be starting
            machine, lm, runner = _program(tmp_path, cluster=scheduler.scheduler_address)
            try:
                runner.force = "cluster"
                assert call(machine, lm, "map_sq", list(range(20))) == [(x * x + 3) % 1000 for x in range(20)]
                assert runner.decisions[-1][1].target == "cluster"
            finally:
                runner.close()
        finally:
            worker.terminate()
            worker.wait(timeout=HANG_S)


def test_a_worker_grants_only_the_programs_capabilities(local):
    machine, lm, runner = local
    bundle, _ = runner._bundle(lm.name)
    from noodle.parallel import worker

    assert "fs_write" in bundle.capabilities  # `noodle run` grants everything
    sandboxed = bundle_of(bundle.entry, dict(bundle.modules), [])  # a host that granted nothing
    worker.install(sandboxed)
    reply = worker.run_task(TaskMessage(sandboxed.key, lm.name, sandboxed.hashes[lm.name], "slow", 0,
                                        encode_values([3])))
    assert reply.failure is not None and reply.failure.kind == "PermissionError"
    assert "fs_write" in reply.failure.message and reply.failure.index == 0
