"""`noodle tune` for OpenCL (noodle/tools/tune_opencl.py, noodle/backends/opencl/selection.py): the
choice is measured, kept per device, shown as a table, and read by the compiler without opening the
device; an OpenCL variant is never chosen where it measured slower than what runs otherwise."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from noodle.backends.opencl import selection
from noodle.backends.opencl.device import DeviceInfo
from noodle.ir.kernels import OFFLOADABLE

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


def test_nothing_measured_offers_nothing_unless_forced(cache) -> None:  # type: ignore[no-untyped-def]
    assert selection.offered() == frozenset()
    assert selection.offered("opencl") == frozenset(OFFLOADABLE)
    assert selection.offered("vm") == frozenset()


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


def test_crossover_is_where_opencl_wins_at_every_larger_size() -> None:
    from noodle.tools.tune import _crossover

    assert _crossover([(10, 2.0), (100, 0.5), (1000, 0.4)]) == 100
    assert _crossover([(10, 0.5), (100, 1.5), (1000, 0.4)]) == 1000
    assert _crossover([(10, 2.0), (100, 1.2)]) >= selection.NEVER


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
    shown = subprocess.run([str(NOODLE), "tune", "--show"], capture_output=True, text=True, env=env, timeout=60)
    assert "nothing measured" in shown.stdout and shown.returncode == 0
    selection.store(INFO, "", {"map": {"threshold": selection.NEVER, "table": [[4096, 0.002, 0.001, 0.0005]]}})
    shown = subprocess.run([str(NOODLE), "tune", "--show"], capture_output=True, text=True, env=env, timeout=60)
    assert "map" in shown.stdout and "2.00" in shown.stdout and "never" in shown.stdout
    src = tmp_path / "k.nd"
    src.write_text("fn f(a: Array<float>, b: Array<float>) {\n for i in 0..len(a) { b[i] = a[i] + 1.0 }\n}\n"
                   "fn g(a: Array<float>) -> float {\n var s = 0.0\n"
                   " for i in 0..len(a) { if a[i] > 0.0 { s += a[i] } }\n return s\n}\n")
    out = subprocess.run([str(NOODLEC), str(src), "--explain"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert "OpenCL variant of the map nest in f: not offered" in out.stdout
    assert "OpenCL variant of the loop nest in g: none — the float sum `s` is not a reduction" in out.stdout



def test_no_device_is_not_an_error_and_explain_says_why(cache) -> None:  # type: ignore[no-untyped-def]
    import os

    examples = Path(__file__).resolve().parent.parent / "examples"
    env = dict(os.environ, NOODLE_CACHE_DIR=str(cache), NOODLE_OPENCL_DEVICE="9:9", NOODLE_BACKEND="opencl")
    run = subprocess.run([str(NOODLE), "run", "intents.nd"], capture_output=True, text=True, env=env, timeout=120,
                         cwd=examples)
    assert run.returncode == 0 and run.stdout == (examples / "intents.out").read_text(), run.stderr
    out = subprocess.run([str(NOODLEC), "intents.nd", "--explain"], capture_output=True, text=True, env=env,
                         timeout=120, cwd=examples)
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert "OpenCL: no device, no OpenCL variant is offered (NOODLE_OPENCL_DEVICE='9:9' names no device" in out.stdout
    assert "OpenCL variant of the histogram nest in histogram: not offered: no device" in out.stdout
