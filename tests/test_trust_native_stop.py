"""Native code polls its context's stop flag: Ctrl-C stops a native loop (exit 130), `--watch`
restarts one, a time limit holds in native code, and with any limit a VM runs native code."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

import noodle
from test_watch import save, wait_for
from helpers import HANG_S

pytest.importorskip("llvmlite")

NOODLE = str(Path(sys.executable).parent / "noodle")

#: a pure loop (re-run in the VM when stopped) and one storing into an Array (cannot be re-run)
SPIN = """
fn spin(n: int) -> int {
    var s = 0
    for i in 0..n {
        s = (s + i * 7) % 1000003
    }
    return s
}

fn fill(a: Array<float>, rounds: int) -> float {
    for _r in 0..rounds {
        for i in 0..len(a) {
            a[i] = a[i] * 0.5 + 1.0
        }
    }
    return a[0]
}

fn wander(n: int) -> int {
    var x = n
    var steps = 0
    while x != 0 {
        x = (x * 1103515245 + 12345) % 2147483648
        steps = steps + 1
    }
    return steps
}
"""


def test_ctrl_c_stops_a_native_loop_with_status_130(tmp_path: Path) -> None:
    (tmp_path / "spin.nd").write_text(SPIN + 'fn main() {\n    print("started")\n    print(spin(100000000000))\n}\n')
    proc = subprocess.Popen([NOODLE, "run", "spin.nd"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"  # main is in the native loop
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=HANG_S)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted"


@pytest.mark.parametrize("call", ["spin(100000000000)", "fill(zeros(1000), 1000000000)", "wander(7)"])
def test_a_time_limit_holds_in_native_code(call: str) -> None:
    vm = noodle.VM(limits=noodle.Limits(max_seconds=0.5))
    m = vm.load(noodle.Source(SPIN + f"fn go() -> float {{ return float({call}) }}\n", name="spin"))
    assert vm.machine.native_report["spin"].startswith("native:")  # limits no longer turn native code off
    with pytest.raises(noodle.LimitExceeded) as e:
        m.go()
    assert e.value.limit == "seconds"
    assert vm.machine.native_report["spin"].startswith("native:")


def test_the_next_call_after_a_deadline_runs_natively_to_its_end() -> None:
    vm = noodle.VM(limits=noodle.Limits(max_seconds=0.5))
    m = vm.load(noodle.Source(SPIN, name="spin"))
    with pytest.raises(noodle.LimitExceeded):
        m.spin(100000000000)
    expected = 0
    for i in range(100000):
        expected = (expected + i * 7) % 1000003
    assert m.spin(100000) == expected  # the flag was released: native code is not stopped for good


@pytest.mark.parametrize("limits, call, limit", [({"max_steps": 10_000}, "spin(100000000000)", "steps"),
                                                 ({"max_steps": 10_000}, "wander(7)", "steps"),
                                                 ({"max_steps": 10_000}, "fill(zeros(1000), 1000000000)", "steps"),
                                                 ({"max_depth": 100}, "spin(100000000000)", "seconds"),
                                                 ({"max_memory_mb": 256}, "wander(7)", "seconds")])
def test_every_limit_keeps_native_code(limits: dict, call: str, limit: str) -> None:
    vm = noodle.VM(limits=noodle.Limits(max_seconds=0.5, **limits))
    m = vm.load(noodle.Source(SPIN + f"fn go() -> float {{ return float({call}) }}\n", name="spin"))
    assert vm.machine.native_report["spin"].startswith("native:")
    with pytest.raises(noodle.LimitExceeded) as e:
        m.go()
    assert e.value.limit == limit


def test_watch_restarts_a_program_running_a_native_loop(tmp_path: Path) -> None:
    app = tmp_path / "app.nd"
    save(app, SPIN + 'fn main() {\n    print("v1")\n    print(spin(100000000000))\n}\n')
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen([NOODLE, "run", "--watch", "app.nd"], cwd=tmp_path, stdout=o, stderr=e)
    try:
        wait_for(out, "v1")
        save(app, SPIN + 'fn main() {\n    print("v2 {spin(1000)}")\n}\n')
        wait_for(out, "v2 ", timeout=HANG_S)
        assert proc.wait(timeout=HANG_S) == 0
    finally:
        proc.kill()


def test_ctrl_c_stops_watch_while_main_runs_a_native_loop(tmp_path: Path) -> None:
    app = tmp_path / "app.nd"
    save(app, SPIN + 'fn main() {\n    print("v1")\n    print(spin(100000000000))\n}\n')
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen([NOODLE, "run", "--watch", "app.nd"], cwd=tmp_path, stdout=o, stderr=e)
    try:
        wait_for(out, "v1")  # main's worker thread is in the native loop from here on
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=HANG_S) == 130, err.read_text()
    finally:
        proc.kill()
