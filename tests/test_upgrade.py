"""Versioned modules: live upgrade, compatibility, state migration, rollback, and a reliability run."""
from __future__ import annotations

import random
import re
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

import noodle
from noodle.build.driver import compile_source
from noodle.format.module_file import encode
from helpers import HANG_S

CLIENT = "module client version \"1.0.0\"\nimport svc\nfn go(x: int) -> int { return svc.handle(x) }\n"


def svc(tag: int, version: str = "", extra: str = "", handle: str = "") -> str:
    version = version or f"1.{tag}.0"
    handle = handle or f"fn handle(x: int) -> int {{\n    served += 1\n    return x * 1000 + {tag}\n}}"
    return f'module svc version "{version}"\nvar served = 0\nvar note = "v{tag}"\n{handle}\n{extra}\n'


def wait_until(condition: Callable[[], object], timeout: float = HANG_S) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False): for states that
    raise no event of their own, like a thread blocked on a lock."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


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
    assert 0 <= report.swap_seconds <= report.total_seconds and "svc upgraded 1.0.0 -> 1.7.0" in str(report)


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


def test_removing_an_export_an_importer_uses_is_an_incompatible_change() -> None:
    vm = make_vm()
    removed = svc(4, handle="fn other(x: int) -> int { return x }")
    with pytest.raises(noodle.UpgradeRejected) as e:
        vm.upgrade(noodle.Source(removed, name="svc"))
    assert e.value.reason == ("incompatible change to exports in use without a new major version "
                              "(1.0.0 -> 1.4.0): client uses handle")
    assert vm.module("client").go(2) == 2000  # nothing changed
    # an export nobody imports may go; a new major version may remove a used one
    vm.upgrade(noodle.Source(svc(5, extra="fn spare() -> int { return 1 }"), name="svc"))
    report = vm.upgrade(noodle.Source(svc(6), name="svc"))
    assert report.removed == ["spare"] and report.importers_to_upgrade == []
    report = vm.upgrade(noodle.Source(svc(7, "2.0.0", handle="fn other(x: int) -> int { return x }"), name="svc"))
    assert report.importers_to_upgrade == ["client"] and report.removed == ["handle"]


def test_every_importer_and_every_used_export_is_named() -> None:
    vm = make_vm()
    vm.load(noodle.Source("import svc\nfn count() -> int { return svc.served + svc.handle(0) }", name="audit"))
    vm.load(noodle.Source("fn alone() -> int { return 1 }", name="bystander"))  # imports nothing
    retyped = svc(8, handle="fn handle(x: str) -> int { return 0 }").replace("var served = 0", 'var served = ""')
    with pytest.raises(noodle.UpgradeRejected) as e:
        vm.upgrade(noodle.Source(retyped, name="svc"))
    assert e.value.module == "svc"
    assert e.value.reason == ("incompatible change to exports in use without a new major version (1.0.0 -> 1.8.0): "
                              "audit uses handle, served; client uses handle")
    report = vm.upgrade(noodle.Source(svc(9), name="svc"))  # compatible: the bystander is no obstacle
    assert report.importers_to_upgrade == [] and vm.module("bystander").alone() == 1


def test_a_changed_method_is_reported_as_changed() -> None:
    vm = noodle.VM()
    point = 'module geo version "1.0.0"\nstruct P {{\n    x: float\n    fn norm(self) -> float {{ return {} }}\n}}\n'
    vm.load(noodle.Source(point.format("self.x"), name="geo"))
    report = vm.upgrade(noodle.Source(point.format("self.x * 2.0").replace("1.0.0", "1.1.0"), name="geo"))
    assert (report.changed, report.added, report.removed) == (["P.norm"], [], [])


def test_an_upgrade_from_inside_a_call_is_refused() -> None:
    vm = noodle.VM()
    refused: list[str] = []

    def try_upgrade() -> None:
        try:
            vm.upgrade(noodle.Source('module inner version "1.1.0"\nimport h\nfn go() { h.up() }', name="inner"))
        except noodle.UpgradeRejected as e:
            refused.append(e.reason)

    vm.register_module("h", {"up": (try_upgrade, "fn() -> none")})
    vm.load(noodle.Source('module inner version "1.0.0"\nimport h\nfn go() { h.up() }', name="inner")).go()
    assert refused == ["an upgrade cannot start from inside a call into the same VM"]


def test_a_version_that_is_no_number_has_major_zero() -> None:
    from noodle.host.embed import _major

    assert [_major(v) for v in ("2.1.0", "0.3.1", "", "x.1")] == [2, 0, 0, 0]  # (a hand-made module file)


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
    assert reasons == {
        "syntax error": "svc.nd:8:12: error[E0001]: unexpected '{' — expected a name",
        "failing test": "test 'always fails' failed: nope",
        "on_upgrade throws": "on_upgrade failed: Error: refuse",
        "top-level code throws": "the new version's top-level code failed: IndexError: index out of range",
    }
    assert client.go(2) == 2000 and vm.module("svc").served == 2 and dict(vm.modules())["svc"] == "1.0.0"


def test_calls_running_during_an_upgrade_finish_on_the_old_code() -> None:
    vm = noodle.VM()
    entered, release = threading.Event(), threading.Event()
    vm.register_module("gate", {"wait": (lambda: (entered.set(), release.wait(60))[1] and None, "fn() -> none")})
    vm.load(noodle.Source('module slow version "1.0.0"\nimport gate\n'
                          'fn work() -> int { gate.wait()\n return tag() }\nfn tag() -> int { return 1 }', name="slow"))
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(vm.call("slow.work")))
    t.start()
    assert entered.wait(60)
    done: list[object] = []
    up = threading.Thread(target=lambda: done.append(vm.upgrade(noodle.Source(
        'module slow version "1.1.0"\nimport gate\nfn work() -> int { gate.wait()\n return tag() }\n'
        'fn tag() -> int { return 2 }', name="slow"))))
    up.start()
    # wait for the upgrade to be held at the gate (or, were the gate broken, to finish)
    gate = vm._gate._cond
    assert wait_until(lambda: done or (vm._gate._closed and gate._waiters))  # type: ignore[attr-defined]
    assert not done  # the upgrade waits for the call in flight
    release.set()
    t.join(60)
    up.join(60)
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
            seen = calls[0]  # let the caller through between steps: at least one call per version
            assert wait_until(lambda: calls[0] > seen or bool(failures)), "the caller made no progress"
    finally:
        stop.set()
        thread.join(10)
    assert not failures, failures[:5]
    assert len(rejected) == 25 and done["up"] + done["back"] == 75
    assert calls[0] >= 100
    assert vm.module("svc").served == calls[0]  # every call counted in exactly one version, none lost


def test_a_downgrade_is_refused_unless_asked_for() -> None:
    """Any VM refuses an upgrade to an older version (semantic-version precedence, pre-releases
    before their release); equal versions and `allow_downgrade=True` go ahead."""
    vm = make_vm()
    vm.upgrade(noodle.Source(svc(2), name="svc"))  # 1.2.0
    for older in ("1.1.9", "1.2.0-rc.1", "0.9.0"):
        with pytest.raises(noodle.UpgradeRejected, match=f"version {re.escape(older)} is older than the running 1.2.0"):
            vm.upgrade(noodle.Source(svc(3, older), name="svc"))
        assert dict(vm.modules())["svc"] == "1.2.0"
    vm.upgrade(noodle.Source(svc(4, "1.2.0+build.7"), name="svc"))  # build metadata does not order
    vm.upgrade(noodle.Source(svc(5, "1.10.0"), name="svc"))  # numeric, not textual: 1.10 > 1.2
    assert vm.upgrade(noodle.Source(svc(6, "1.1.0"), name="svc"), allow_downgrade=True).to_version == "1.1.0"


@pytest.mark.parametrize("lower, higher", [("1.0.0-alpha", "1.0.0-alpha.1"), ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
                                           ("1.0.0-alpha.beta", "1.0.0-beta"), ("1.0.0-beta.2", "1.0.0-beta.11"),
                                           ("1.0.0-rc.1", "1.0.0"), ("1.9.9", "1.10.0"), ("0.99.0", "1.0.0")])
def test_versions_follow_semantic_version_precedence(lower: str, higher: str) -> None:
    from noodle.host.versions import is_downgrade
    assert is_downgrade(higher, lower) and not is_downgrade(lower, higher) and not is_downgrade(lower, lower)
