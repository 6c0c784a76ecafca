"""Versioned modules: live upgrade, compatibility, state migration, rollback, and a reliability run."""
from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

import noodle
from noodle.build.driver import compile_source
from noodle.format.module_file import encode

CLIENT = "module client version \"1.0.0\"\nimport svc\nfn go(x: int) -> int { return svc.handle(x) }\n"


def svc(tag: int, version: str = "", extra: str = "", handle: str = "") -> str:
    version = version or f"1.{tag}.0"
    handle = handle or f"fn handle(x: int) -> int {{\n    served += 1\n    return x * 1000 + {tag}\n}}"
    return f'module svc version "{version}"\nvar served = 0\nvar note = "v{tag}"\n{handle}\n{extra}\n'


def make_vm(history: int = 5) -> noodle.VM:
    vm = noodle.VM(limits=noodle.Limits(max_steps=1_000_000, max_seconds=5.0), history=history)
    vm.load(noodle.Source(svc(0, "1.0.0"), name="svc"))
    vm.load(noodle.Source(CLIENT, name="client"))
    return vm


def test_upgrade_swaps_code_and_carries_state() -> None:
    vm = make_vm()
    client, s = vm.module("client"), vm.module("svc")
    assert client.go(1) == 1000 and client.go(2) == 2000
    report = vm.upgrade(noodle.Source(svc(7, extra="fn extra() -> int { return 1 }"), name="svc"))
    assert (report.from_version, report.to_version) == ("1.0.0", "1.7.0")
    assert report.changed == ["handle"] and report.added == ["extra"] and report.removed == []
    assert report.carried == ["served", "note"] and report.dropped == []
    assert client.go(3) == 3007 and s.served == 3 and s.note == "v0"  # note carried, not re-initialised
    assert report.swap_seconds < 1.0 and "svc upgraded 1.0.0 -> 1.7.0" in str(report)


def test_state_of_another_type_is_dropped_and_on_upgrade_transforms() -> None:
    vm = make_vm()
    vm.module("client").go(1)
    new = ('module svc version "1.1.0"\nvar served = 0\nvar note: List<str> = []\n'
           'fn handle(x: int) -> int { served += 1\n return x * 1000 + 1 }\n'
           'fn on_upgrade(from_version: str) { note.append("from " + from_version)\n served *= 10 }\n')
    report = vm.upgrade(noodle.Source(new, name="svc"))
    assert report.carried == ["served"] and report.dropped == ["note"]
    s = vm.module("svc")
    assert s.served == 10 and s.note == ["from 1.0.0"]


def test_rollback_brings_back_code_and_snapshot_keeping_current_values() -> None:
    vm = make_vm()
    client = vm.module("client")
    client.go(1)
    retyped = ('module svc version "1.2.0"\nvar served = 0\nvar note = 5\n'
               'fn handle(x: int) -> int { served += 1\n note += 1\n return x * 1000 + 2 }\n')
    vm.upgrade(noodle.Source(retyped, name="svc"))
    client.go(1)
    client.go(1)
    report = vm.rollback("svc")
    assert report.rollback and (report.from_version, report.to_version) == ("1.2.0", "1.0.0")
    s = vm.module("svc")
    assert client.go(4) == 4000  # the old code again
    assert s.served == 4  # served while upgraded is not lost
    assert s.note == "v0" and report.restored == ["note"]  # the retyped variable comes back from the snapshot
    with pytest.raises(noodle.UpgradeRejected, match="no earlier version"):
        vm.rollback("svc")


def test_incompatible_change_of_a_used_export_names_its_importers() -> None:
    vm = make_vm()
    changed = svc(3, handle="fn handle(x: str) -> int { served += 1\n return 3 }")
    with pytest.raises(noodle.UpgradeRejected, match=r"client uses handle"):
        vm.upgrade(noodle.Source(changed, name="svc"))
    # a new major version may change it: the report names the importers to upgrade next
    report = vm.upgrade(noodle.Source(svc(3, "2.0.0", handle="fn handle(x: str) -> int { return 3 }"), name="svc"))
    assert report.importers_to_upgrade == ["client"]


def test_broken_upgrades_are_rejected_before_anything_changes(tmp_path: Path) -> None:
    vm = make_vm()
    client = vm.module("client")
    client.go(1)
    cases = {
        "syntax error": noodle.Source(svc(1, extra="fn broken( {"), name="svc"),
        "failing test": noodle.Source(svc(1, extra='test "always fails" { assert 1 == 2, "nope" }'), name="svc"),
        "on_upgrade throws": noodle.Source(svc(1, extra='fn on_upgrade(v: str) { throw Error("refuse") }'),
                                           name="svc"),
        "top-level code throws": noodle.Source(svc(1, extra="let bad = [1][5]"), name="svc"),
    }
    reasons = {}
    for label, source in cases.items():
        with pytest.raises(noodle.UpgradeRejected) as e:
            vm.upgrade(source, run_tests=True)
        reasons[label] = e.value.reason
    _, module = compile_source(svc(1), "svc.nd", "svc")
    truncated = tmp_path / "svc.nbc"
    truncated.write_bytes(encode(module)[:-40])
    with pytest.raises(noodle.UpgradeRejected, match="truncated"):
        vm.upgrade(truncated)
    assert "E0001" in reasons["syntax error"]
    assert "nope" in reasons["failing test"]
    assert "on_upgrade failed: Error: refuse" in reasons["on_upgrade throws"]
    assert "IndexError" in reasons["top-level code throws"]
    assert client.go(2) == 2000 and vm.module("svc").served == 2 and dict(vm.modules())["svc"] == "1.0.0"


def test_calls_running_during_an_upgrade_finish_on_the_old_code() -> None:
    vm = noodle.VM()
    entered, release = threading.Event(), threading.Event()
    vm.register_module("gate", {"wait": (lambda: (entered.set(), release.wait(5))[1] and None, "fn() -> none")})
    vm.load(noodle.Source('module slow version "1.0.0"\nimport gate\n'
                          'fn work() -> int { gate.wait()\n return tag() }\nfn tag() -> int { return 1 }', name="slow"))
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(vm.call("slow.work")))
    t.start()
    assert entered.wait(5)
    done: list[object] = []
    up = threading.Thread(target=lambda: done.append(vm.upgrade(noodle.Source(
        'module slow version "1.1.0"\nimport gate\nfn work() -> int { gate.wait()\n return tag() }\n'
        'fn tag() -> int { return 2 }', name="slow"))))
    up.start()
    time.sleep(0.2)
    assert not done  # the upgrade waits for the call in flight
    release.set()
    t.join(5)
    up.join(5)
    assert result == [1] and done  # the old call finished entirely on the old code
    assert vm.call("slow.work") == 2


def test_history_is_bounded() -> None:
    vm = make_vm(history=2)
    for tag in (1, 2, 3):
        vm.upgrade(noodle.Source(svc(tag), name="svc"))
    vm.rollback("svc")
    vm.rollback("svc")
    with pytest.raises(noodle.UpgradeRejected):
        vm.rollback("svc")
    assert dict(vm.modules())["svc"] == "1.1.0"


def test_reliability_under_load(tmp_path: Path) -> None:
    """One thread calls continuously while another runs 100 upgrades and rollbacks, a quarter broken."""
    vm = make_vm(history=100)
    client = vm.module("client")
    stop = threading.Event()
    deployed: set[int] = {0}  # version tags that were ever live
    failures: list[str] = []
    calls = [0]

    def caller() -> None:
        x = 0
        while not stop.is_set():
            x += 1
            try:
                r = client.go(x)
            except Exception as e:  # noqa: BLE001 - every failure is recorded
                failures.append(f"call failed: {e!r}")
                continue
            calls[0] += 1
            if r // 1000 != x or r % 1000 not in deployed:
                failures.append(f"go({x}) = {r}: not the result of one deployed version")

    rng = random.Random(7)
    _, good_module = compile_source(svc(999), "svc.nd", "svc")
    broken_kinds = ["syntax", "export type", "test", "on_upgrade", "truncated"]
    plan = ["broken"] * 25 + ["up"] * 50 + ["back"] * 25
    rng.shuffle(plan)
    thread = threading.Thread(target=caller)
    thread.start()
    rejected: list[str] = []
    done = {"up": 0, "back": 0}
    try:
        for i, step in enumerate(plan):
            tag = i + 1
            if step == "up" or (step == "back" and not vm._history.get("svc")):
                deployed.add(tag)
                vm.upgrade(noodle.Source(svc(tag), name="svc"), run_tests=True)
                done["up"] += 1
            elif step == "back":
                vm.rollback("svc")
                done["back"] += 1
            else:
                kind = broken_kinds[i % len(broken_kinds)]
                with pytest.raises(noodle.UpgradeRejected) as e:
                    if kind == "syntax":
                        vm.upgrade(noodle.Source(svc(tag, extra="fn ("), name="svc"))
                    elif kind == "export type":
                        vm.upgrade(noodle.Source(svc(tag, handle="fn handle(x: float) -> int { return 0 }"),
                                                 name="svc"))
                    elif kind == "test":
                        vm.upgrade(noodle.Source(svc(tag, extra='test "t" { assert false }'), name="svc"),
                                   run_tests=True)
                    elif kind == "on_upgrade":
                        vm.upgrade(noodle.Source(svc(tag, extra='fn on_upgrade(v: str) { throw Error("x") }'),
                                                 name="svc"))
                    else:
                        path = tmp_path / f"svc{i}.nbc"
                        path.write_bytes(encode(good_module)[: len(encode(good_module)) // 2])
                        vm.upgrade(path)
                assert e.value.reason
                rejected.append(kind)
            time.sleep(0.002)
    finally:
        stop.set()
        thread.join(10)
    assert not failures, failures[:5]
    assert len(rejected) == 25 and done["up"] + done["back"] == 75
    assert calls[0] > 100
    assert vm.module("svc").served == calls[0]  # every call counted in exactly one version, none lost
