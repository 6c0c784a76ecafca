"""`noodle tune` for OpenCL (noodle/tools/tune_opencl.py, noodle/backends/opencl/selection.py): the
choice is measured, kept per device, shown as a table, and read by the compiler without opening the
device; an OpenCL variant is never chosen where it measured slower than what runs otherwise."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noodle.backends.opencl import selection
from noodle.backends.opencl.device import DeviceInfo
from noodle.ir.kernels import OFFLOADABLE
from helpers import HANG_S

NOODLE = Path(sys.executable).parent / "noodle"
NOODLEC = Path(sys.executable).parent / "noodlec"

INFO = DeviceInfo(platform="P", name="D", kind="gpu", fp64=True, int64_atomics=True, max_work_group=256,
                  local_mem=49152, compute_units=80, index="0:0", version="1")


@pytest.fixture
def cache(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NOODLE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("NOODLE_OPENCL_DEVICE", raising=False)
    monkeypatch.delenv("NOODLE_BACKEND", raising=False)
    return tmp_path


def test_nothing_measured_offers_the_defaults_of_the_device_kind(cache) -> None:  # type: ignore[no-untyped-def]
    selection.remember("", None)  # no device
    assert selection.offered() == frozenset()
    assert selection.offered("opencl") == frozenset(OFFLOADABLE)
    assert selection.offered("vm") == frozenset()
    selection.remember("", INFO)  # a GPU: the documented defaults, the compute-bound intents from smaller sizes
    assert selection.offered() == frozenset(OFFLOADABLE)
    gpu = selection.thresholds(INFO)
    assert gpu["gemm"] < gpu["map"] and gpu["jacobi"] < gpu["sum"] < selection.NEVER
    cpu = DeviceInfo(platform="P", name="C", kind="cpu", fp64=True, int64_atomics=True, max_work_group=4096,
                     local_mem=65536, compute_units=2, index="0:1", version="1")
    selection.remember("", cpu)  # a CPU device (PoCL): native code wins, never by default
    assert selection.offered() == frozenset() and selection.thresholds(cpu) == {}
    assert selection.offered("opencl") == frozenset(OFFLOADABLE)


def test_the_device_kind_is_asked_of_the_driver_once_and_kept(cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    runtime = pytest.importorskip("noodle.backends.opencl.runtime")
    from noodle.backends.opencl import device

    assert selection.seen_kind("") is None
    found = selection.offered()  # probes: the kind of the device the empty setting chooses
    kind = selection.seen_kind("")
    assert kind == (device.choose("").info.kind if device.choose("").info is not None else "")
    assert found == frozenset(selection.DEFAULTS.get(kind, {}))
    calls = []
    monkeypatch.setattr(device, "choose", lambda *a: calls.append(a))
    assert selection.offered() == found and calls == []  # kept: no second probe
    del runtime


def test_only_intents_measured_faster_are_offered_for_the_device_chosen(cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    selection.store(INFO, "", {"map": {"threshold": 4096, "table": []},
                               "sum": {"threshold": selection.NEVER, "table": []}})
    assert selection.offered() == frozenset({"map"})
    assert selection.thresholds(INFO) == {"map": 4096, "sum": selection.NEVER}
    monkeypatch.setenv("NOODLE_OPENCL_DEVICE", "1:0")  # another device: not measured, nothing offered
    assert selection.offered() == frozenset()
    (cache / "opencl-tuning.json").write_text("{not json")
    monkeypatch.delenv("NOODLE_OPENCL_DEVICE")
    assert selection.offered() == frozenset()  # a damaged file is as good as none


def test_the_threshold_is_where_opencl_wins_at_every_larger_size() -> None:
    assert selection.decide([(10, 2.0, 1.0), (100, 0.5, 1.0), (1000, 0.4, 1.0)]) == 100
    assert selection.decide([(10, 0.5, 1.0), (100, 1.5, 1.0), (1000, 0.4, 1.0)]) == 1000
    assert selection.decide([(10, 2.0, 1.0), (100, 1.2, 1.0)]) >= selection.NEVER
    assert selection.decide([(10, 0.5, 1.0), (100, 0.4, 1.0)]) == 0  # everywhere measured: any size
    assert selection.decide([(10, 0.95, 1.0)]) >= selection.NEVER  # within the margin: a tie, not a win
    assert selection.decide([(10, float("nan"), 1.0)]) >= selection.NEVER


ROW = st.tuples(st.floats(1e-6, 1.0), st.floats(1e-6, 1.0))


@given(st.lists(ROW, min_size=1, max_size=6))
def test_no_size_measured_past_the_threshold_had_opencl_slower(rows) -> None:  # type: ignore[no-untyped-def]
    table = [(4 ** (k + 4), cl, alt) for k, (cl, alt) in enumerate(rows)]
    threshold = selection.decide(table)
    assert all(cl < alt for n, cl, alt in table if n >= threshold)
    if threshold < selection.NEVER:  # and it is the smallest such size
        smaller = [row for row in table if row[0] < threshold]
        assert not smaller or not smaller[-1][1] * (1 + selection.MARGIN) < smaller[-1][2]


RECORDED = Path(__file__).resolve().parent / "data" / "opencl_tune_pocl.json"


def test_tune_on_this_machine_chose_no_variant_that_measured_slower() -> None:
    """`noodle tune`'s tables recorded on this machine (PoCL, 2 vCPUs; the file's `how` says how):
    each intent's decision from them, and the one `noodle tune` kept, offer OpenCL nowhere it
    measured slower than what runs otherwise."""
    recorded = json.loads(RECORDED.read_text())
    assert set(recorded["intents"]) == set(OFFLOADABLE)
    for intent, data in recorded["intents"].items():
        threshold = selection.decide(data["table"])
        assert threshold == data["threshold"], intent
        for n, t_cl, t_alt, _ in data["table"]:
            if n >= threshold:
                assert t_cl < t_alt, (intent, n)


@pytest.mark.slow
def test_tune_chooses_no_opencl_variant_that_measured_slower(cache) -> None:  # type: ignore[no-untyped-def]
    runtime = pytest.importorskip("noodle.backends.opencl.runtime")
    if runtime.runtime() is None:
        pytest.skip(f"no OpenCL device: {runtime.why_none()}")
    from noodle.tools import tune_opencl

    found = tune_opencl.measure(repeat=1, report=lambda _: None)
    assert set(found) == set(OFFLOADABLE)
    for intent, data in found.items():
        for n, t_cl, t_alt, _ in data["table"]:
            if n >= data["threshold"]:
                assert t_cl < t_alt, (intent, data)
    stored = json.loads((cache / "opencl-tuning.json").read_text())
    assert stored["chosen"][""] in stored["devices"]


def test_tune_show_prints_the_table_and_explain_says_why_not_offered(cache, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    env = dict(os.environ, NOODLE_CACHE_DIR=str(cache))
    shown = subprocess.run([str(NOODLE), "tune", "--show"], capture_output=True, text=True, env=env, timeout=HANG_S)
    assert "nothing measured" in shown.stdout and shown.returncode == 0
    selection.store(INFO, "", {"map": {"threshold": selection.NEVER, "table": [[4096, 0.002, 0.001, 0.0005]]}})
    shown = subprocess.run([str(NOODLE), "tune", "--show"], capture_output=True, text=True, env=env, timeout=HANG_S)
    assert "map" in shown.stdout and "2.00" in shown.stdout and "never" in shown.stdout
    src = tmp_path / "k.nd"
    src.write_text("import math\nfn f(a: Array<float>, b: Array<float>) {\n for i in 0..len(a) { b[i] = a[i] + 1.0 }\n}\n"
                   "fn g(a: Array<float>, b: Array<float>) {\n"
                   " for i in 0..len(a) { b[i] = math.floor(a[i]) }\n}\n")
    out = subprocess.run([str(NOODLEC), str(src), "--explain"], capture_output=True, text=True, env=env, timeout=HANG_S)
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert "OpenCL variant of the map nest in f: not offered" in out.stdout
    assert "OpenCL variant of the loop nest in g: none — line 6 calls `math.floor`" in out.stdout



def test_no_device_is_not_an_error_and_explain_says_why(cache) -> None:  # type: ignore[no-untyped-def]
    import os

    examples = Path(__file__).resolve().parent.parent / "examples"
    env = dict(os.environ, NOODLE_CACHE_DIR=str(cache), NOODLE_OPENCL_DEVICE="9:9", NOODLE_BACKEND="opencl")
    run = subprocess.run([str(NOODLE), "run", "intents.nd"], capture_output=True, text=True, env=env, timeout=HANG_S,
                         cwd=examples)
    assert run.returncode == 0 and run.stdout == (examples / "intents.out").read_text(), run.stderr
    out = subprocess.run([str(NOODLEC), "intents.nd", "--explain"], capture_output=True, text=True, env=env,
                         timeout=HANG_S, cwd=examples)
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert "OpenCL: no device, no OpenCL variant is offered (NOODLE_OPENCL_DEVICE='9:9' names no device" in out.stdout
    assert "OpenCL variant of the histogram nest in histogram: not offered: no device" in out.stdout
