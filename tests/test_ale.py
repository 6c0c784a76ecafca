"""Library evolution end to end, driven through FFI call sites: transpiler, validation, registry,
canary, rollback, promotion without restart, and the `noodle ale` commands."""
from __future__ import annotations

import ast
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import noodle
from noodle.ale import transpile
from noodle.ale.evolve import Options, evolve
from noodle.ale.intents import MAPPED, intent_source
from noodle.ale.registry import Registry, RegistryError
from noodle.ale.serving import install
from noodle.ale.transpile import Untranslatable, translate
from noodle.tools.ale_vms import plain_vm, sandbox_vm
from noodle.vm.pyffi import recorder, sites
from noodle.vm.pyffi.replacements import TABLE, ReplacementTable

LIB = '''
import math

FACTOR = 2.0


def integrate(lo, hi, n):
    h = (hi - lo) / n
    s = 0.0
    for i in range(n):
        x = lo + (i + 0.5) * h
        s += math.sqrt(x) * math.sin(x)
    return s * h


def steps(n):
    count = 0
    while n > 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        count += 1
    return count


def scaled(x, k):
    total = 0.0
    for i in range(k):
        total += x * FACTOR
    return total


def wobbly(xs):
    out = {}
    for x in xs:
        out[x] = 1
    return len(out)
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A program folder with its own Python module `alelib`, recording into .noodle/ale.sqlite."""
    (tmp_path / "alelib.py").write_text(LIB)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("alelib", None)
    import alelib  # noqa: F401

    table = ReplacementTable()
    monkeypatch.setattr(sites, "TABLE", table)
    yield tmp_path, sys.modules["alelib"], table
    recorder.stop()
    sys.modules.pop("alelib", None)


def run_program(root: Path, lib, rounds: int = 150, capture: bool = True) -> list[float]:
    """What a Noodle program calling alelib would do through its call sites."""
    recorder.start(root / ".noodle" / "ale.sqlite", str(root / "main.nd"), capture=capture, period=4)
    s1, s2, s3 = sites.CallSite("main.nd:4"), sites.CallSite("main.nd:5"), sites.CallSite("main.nd:6")
    out = []
    for k in range(rounds):
        out.append(sites.call(s1, lib.integrate, (0.0, 2.0, 300)))
        out.append(float(sites.call(s2, lib.steps, (837799 + k % 20,))))
        out.append(sites.call(s3, lib.scaled, (1.5, 400)))
    recorder.stop()
    return out


def db_of(root: Path) -> Path:
    return root / ".noodle" / "ale.sqlite"


# margin=0: a candidate is never refused for its measured speed, which a loaded machine decides (the
# rule itself is tested with a margin no candidate can reach, test_ale_decisions.py)
FAST = Options(min_calls=50, generated=15, canary_calls=5, canary_share=0.5, bench_seconds=0.002, bench_repeats=3,
               bench_inputs=2, margin=0.0)


def test_hot_plain_python_functions_are_transpiled_validated_and_put_on_canary(project) -> None:
    root, lib, table = project
    run_program(root, lib)
    report = evolve(db_of(root), sandbox_vm, plain_vm, FAST)
    states = {s.name: s.state for s in report.steps}
    assert states["alelib.integrate"] == "canary" and states["alelib.steps"] == "canary", \
        [(s.name, s.state, s.detail) for s in report.steps]
    with Registry(db_of(root)) as reg:
        c = next(c for c in reg.candidates() if c.name == "alelib.integrate")
        assert c.origin == "transpiled" and c.validation["mismatches"] == 0 and c.validation["samples"] > 0
        assert c.speedup is not None and c.speedup > 0  # measured and recorded
        assert [a.to_state for a in reg.audit(c.id)] == ["proposed", "validated", "canary"]
        assert (root / ".noodle" / "candidates" / f"ale_c{c.id}.nd").read_text() == c.source


def test_canaries_with_clean_live_calls_are_promoted_and_then_serve(project) -> None:
    root, lib, table = project
    expected = run_program(root, lib)
    evolve(db_of(root), sandbox_vm, plain_vm, FAST)
    server = install(db_of(root), plain_vm, table)
    assert run_program(root, lib) == expected  # a canary returns the original's results
    server.close()
    report = evolve(db_of(root), sandbox_vm, plain_vm, FAST)
    promoted = {s.name for s in report.steps if s.state == "promoted"}
    with Registry(db_of(root)) as reg:
        why = [(c.name, c.state, c.reason) for c in reg.candidates()]
    assert {"alelib.integrate", "alelib.steps"} <= promoted, why
    server.refresh()
    served = run_program(root, lib)
    assert served[1::3] == expected[1::3]  # ints exactly
    assert all(abs(a - b) <= 1e-9 * max(1.0, abs(b)) for a, b in zip(served, expected))
    with Registry(db_of(root)) as reg:
        vias = {via for (via,) in reg.conn.execute("SELECT DISTINCT via FROM calls WHERE name = 'alelib.integrate'")}
    assert len(vias) == 2  # the original's calls before, the candidate's after


def test_a_canary_that_starts_to_disagree_is_rolled_back_with_an_audit_entry(project) -> None:
    root, lib, table = project
    run_program(root, lib)
    evolve(db_of(root), sandbox_vm, plain_vm, FAST)
    with Registry(db_of(root)) as reg:
        scaled = next(c for c in reg.candidates() if c.name == "alelib.scaled")
    assert scaled.state == "canary", scaled.reason
    server = install(db_of(root), plain_vm, table)
    lib.FACTOR = 3.0  # behaviour that depends on something the types do not show
    site = sites.CallSite("main.nd:6")
    for _ in range(4):
        assert sites.call(site, lib.scaled, (1.0, 400)) == 1200.0  # the original's result, always
    with Registry(db_of(root)) as reg:
        c = reg.get(scaled.id)
        assert c.state == "rolled_back" and "canary disagreed" in c.reason
        last = reg.audit(c.id)[-1]
        assert last.to_state == "rolled_back" and last.actor.startswith("canary") and "expected 1200.0" in last.reason
    assert all(r.candidate_id != scaled.id for rs in table.by_name.values() for r in rs)
    server.close()


def test_a_canary_that_raises_where_the_original_does_not_or_runs_slower_is_rolled_back(project) -> None:
    root, lib, table = project
    run_program(root, lib)
    evolve(db_of(root), sandbox_vm, plain_vm, FAST)
    with Registry(db_of(root)) as reg:
        by_name = {c.name: c for c in reg.candidates()}
    steps, scaled = by_name["alelib.steps"], by_name["alelib.scaled"]
    assert steps.state == "canary" and scaled.state == "canary", (steps.reason, scaled.reason)
    server = install(db_of(root), plain_vm, table)
    # 3n + 1 leaves 64 bits on the way: Python's ints grow, the translation's raise OverflowError
    big = 2**62 + 1
    site = sites.CallSite("main.nd:5")
    for _ in range(2):
        assert sites.call(site, lib.steps, (big,)) == lib.steps(big)  # the original's result, always
    # the original becomes a closed form, the translation still loops: equal results, far slower
    exec("def scaled(x, k):\n    return x * k * FACTOR\n", lib.__dict__)  # noqa: S102
    site = sites.CallSite("main.nd:6")
    for _ in range(2 * 40):
        assert sites.call(site, lib.scaled, (1.5, 200_000)) == 600_000.0
    with Registry(db_of(root)) as reg:
        for cid, why in ((steps.id, "the candidate raised OverflowError"), (scaled.id, "measured slowdown")):
            c = reg.get(cid)
            assert c.state == "rolled_back" and why in c.reason, c.reason
            last = reg.audit(cid)[-1]
            assert last.to_state == "rolled_back" and last.actor.startswith("canary") and why in last.reason
    assert not any(r.candidate_id in (steps.id, scaled.id) for rs in table.by_name.values() for r in rs)
    server.close()


def test_a_wrong_translation_is_never_promoted(project, monkeypatch: pytest.MonkeyPatch) -> None:
    root, lib, table = project
    run_program(root, lib)
    monkeypatch.setitem(transpile._BINOPS, ast.Mult, "+")  # a planted transpiler bug: * becomes +
    report = evolve(db_of(root), sandbox_vm, plain_vm, FAST)
    states = {s.name: (s.state, s.detail) for s in report.steps}
    assert states["alelib.integrate"][0] == "rejected" and "validation failed" in states["alelib.integrate"][1]
    with Registry(db_of(root)) as reg:
        c = next(c for c in reg.candidates() if c.name == "alelib.integrate")
        assert c.validation["mismatches"] > 0
        with pytest.raises(RegistryError, match="cannot become promoted"):
            reg.move(c.id, "promoted", "by hand")


def test_a_promoted_replacement_is_used_by_a_running_program_without_restart(project) -> None:
    root, lib, table = project
    run_program(root, lib)
    evolve(db_of(root), sandbox_vm, plain_vm, Options(min_calls=50, generated=10, canary=False, bench_seconds=0.002,
                                                     bench_repeats=3, bench_inputs=2, margin=0.0))
    with Registry(db_of(root)) as reg:
        cid = next(c.id for c in reg.candidates() if c.name == "alelib.steps")
        reg.move(cid, "rolled_back", "test: out of service first", actor="test")
    server = install(db_of(root), plain_vm, table, poll_seconds=0.0)
    site = sites.CallSite("x.nd:1")
    assert sites.call(site, lib.steps, (837799,)) == 524
    assert site.replacements is None or all(r.candidate_id != cid for r in site.replacements)
    with Registry(db_of(root)) as reg:  # another process promotes it
        reg.move(cid, "promoted", "test: back in service", actor="test")
    server.refresh()  # what a sampled call's poll does once the version changed
    assert sites.call(site, lib.steps, (837799,)) == 524
    assert any(r.candidate_id == cid for r in site.replacements or ())


def test_the_transpiler_names_what_it_cannot_translate_with_the_line(project) -> None:
    root, lib, table = project
    with pytest.raises(Untranslatable) as info:
        translate(lib.wobbly, ["List<int>"])
    text = " ".join(info.value.problems)
    line = LIB.splitlines().index("    out = {}") + 1
    assert f"alelib.py:{line}" in text and "Dict" in text


@pytest.mark.parametrize("src, types, args", [
    ("def f(a, b):\n    a, b = b, a\n    return a - b\n", ["int", "int"], (3, 10)),
    ("def f(xs):\n    t = 0\n    for x in xs:\n        if x > 2 and not x == 5:\n            t += x\n    return t\n",
     ["List<int>"], ([1, 3, 5, 7],)),
    ("def f(a):\n    m = a[0]\n    for i in range(1, len(a)):\n        m = max(m, a[i])\n    return m\n",
     ["Array<float, 1>"], (np.array([1.0, 7.5, 3.0]),)),
    ("def f(n):\n    out = []\n    for i in range(0, n, 3):\n        out.append(i * i)\n    return out\n",
     ["int"], (10,)),
    ("def f(x):\n    return -x if x < 0 else x ** 2 / 4\n", ["float"], (3.0,)),
])
def test_translations_mean_what_the_python_means(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  src: str, types: list[str], args: tuple) -> None:
    mod = tmp_path / f"tmod_{abs(hash(src))}.py"
    mod.write_text(src)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    fn = importlib.import_module(mod.stem).f
    tr = translate(fn, types)
    vm = noodle.VM()
    vm.load(noodle.Source(tr.source, name="t"))
    assert vm.call(f"t.{tr.entry}", *args) == fn(*args)


def test_the_intent_mapping_covers_the_named_functions_and_compiles() -> None:
    pats = {"numpy.dot": "ndarray<float64>[1d], ndarray<float64>[1d]",
            "numpy.matmul": "ndarray<float64>[2d], ndarray<float64>[2d]", "numpy.sum": "ndarray<float64>[2d]",
            "numpy.mean": "ndarray<float64>[1d]", "numpy.min": "ndarray<int64>[1d]", "numpy.max": "ndarray<float64>[1d]",
            "numpy.add": "ndarray<float64>[1d], ndarray<float64>[1d]", "numpy.subtract": "float, float",
            "numpy.multiply": "ndarray<float64>[2d], ndarray<float64>[2d]", "numpy.sqrt": "float",
            "numpy.exp": "ndarray<float64>[1d]", "numpy.log": "float", "math.sqrt": "float", "math.exp": "int",
            "math.log": "float", "math.sin": "float", "math.cos": "float"}
    assert set(pats) == set(MAPPED)
    vm = noodle.VM()
    for i, (name, pattern) in enumerate(pats.items()):
        src = intent_source(name, pattern)
        assert src is not None, name
        vm.load(noodle.Source(src.source, name=f"i{i}"))


@pytest.fixture(scope="module")
def list_reductions(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from noodle.ale.runner import CandidateRunner

    folder = tmp_path_factory.mktemp("candidates")
    vm = noodle.VM()
    out = {}
    for i, name in enumerate(("numpy.sum", "numpy.mean")):
        src = intent_source(name, "list<float>")
        assert src is not None
        out[name] = CandidateRunner(vm, 900 + i, src.source, src.entry, src.params, folder)
    return out


list_floats = st.floats(-1e6, 1e6) | st.sampled_from([-0.0, 0.0, 1e16, -1e16, 0.1, 1e-300])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(xs=st.lists(list_floats, max_size=20) | st.lists(list_floats, min_size=20, max_size=300))
def test_numpy_sum_and_mean_of_a_list_are_replaced_to_the_bit(list_reductions: dict, xs: list) -> None:
    # the mapping follows NumPy's pairwise summation (short lists) and its array sum (long ones):
    # not close, equal, -0.0 and cancellation included
    for name, fn in (("numpy.sum", np.sum), ("numpy.mean", np.mean)):
        if name == "numpy.mean" and not xs:
            continue  # NumPy warns and gives nan; compared in validation, not here
        want = np.float64(fn(xs)).tobytes()
        assert np.float64(list_reductions[name].serve(fn, (xs,), None)).tobytes() == want, (name, xs)


def test_the_registry_refuses_moves_the_state_machine_forbids(tmp_path: Path) -> None:
    with Registry(tmp_path / "r.sqlite") as reg:
        c = reg.propose("m.f", "int", "int", "transpiled", "fn f() {}", "f", ["int"], None, None, 0.1, "test")
        for bad in ("canary", "promoted", "rolled_back"):
            with pytest.raises(RegistryError):
                reg.move(c.id, bad, "no")
        v0 = reg.version()
        reg.move(c.id, "validated", "ok")
        assert reg.version() == v0  # nothing serves yet
        reg.move(c.id, "promoted", "ok")
        assert reg.version() == v0 + 1
        assert [a.to_state for a in reg.audit(c.id)] == ["proposed", "validated", "promoted"]


def test_the_ale_commands(project) -> None:
    from noodle.tools.ale_cli import ale

    root, lib, table = project
    run_program(root, lib)
    cli = CliRunner()
    db = str(db_of(root))
    out = cli.invoke(ale, ["status", "--db", db, "--json"])
    assert out.exit_code == 0, out.output
    status = json.loads(out.output)
    assert {h["name"] for h in status["hot"]} >= {"alelib.integrate", "alelib.steps"}
    out = cli.invoke(ale, ["evolve", "--db", db, "--json", "--min-calls", "50", "--examples", "10",
                           "--no-canary"])
    assert out.exit_code == 0, out.output
    steps = json.loads(out.output)["steps"]
    cid = next(s["candidate"] for s in steps if s["name"] == "alelib.integrate")
    assert next(s["state"] for s in steps if s["candidate"] == cid) == "promoted"
    shown = json.loads(cli.invoke(ale, ["show", str(cid), "--db", db, "--json"]).output)
    assert shown["source"].startswith("// translated from alelib.integrate") and len(shown["audit"]) == 3
    assert cli.invoke(ale, ["rollback", str(cid), "--db", db]).exit_code == 0
    bad = cli.invoke(ale, ["promote", "999", "--db", db])
    assert bad.exit_code == 1 and "no candidate 999" in bad.output
    for args in (["candidates"], ["audit"], ["report"], ["status"], ["show", str(cid)]):
        res = cli.invoke(ale, args + ["--db", db])
        assert res.exit_code == 0, (args, res.output)
    page = root / "report.html"
    assert cli.invoke(ale, ["report", "--db", db, "--html", str(page)]).exit_code == 0
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text and "alelib.integrate" in text
    assert "<script" not in text and "http" not in text.replace("http-equiv", "")
    missing = cli.invoke(ale, ["status", "--db", str(root / "nothing.sqlite")])
    assert missing.exit_code == 1 and "no usage log" in missing.output
