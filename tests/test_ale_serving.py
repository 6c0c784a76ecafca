"""How a served call runs: the call site holds a compiled entry (the pattern's guard and a direct
call of the replacement), bound against the replacement table's version; the benchmark times that
very entry; NumPy scalar results cross at the cost of a lookup."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noodle.ale.benchmark import benchmark
from noodle.ale.intents import intent_source
from noodle.ale.patterns import accepts, entry
from noodle.ale.registry import Registry
from noodle.ale.runner import python_exception
from noodle.ale.serving import install
from noodle.ir.types import parse_type
from noodle.runtime.values import ErrorValue
from noodle.tools.ale_vms import plain_vm
from noodle.vm.pyffi import recorder, sites
from noodle.vm.pyffi.crossing import from_py
from noodle.vm.pyffi.failures import py_error
from noodle.vm.pyffi.replacements import MISS, Replacement, ReplacementTable

DOT = "ndarray<float64>[1d], ndarray<float64>[1d]"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> ReplacementTable:
    recorder.stop()  # no recorder: a site samples its first call only, then serves through its entry
    t = ReplacementTable()
    monkeypatch.setattr(sites, "TABLE", t)
    return t


def counting_accepts(pattern: str, counts: dict[str, int]):
    check = accepts(pattern, 3)

    def counted(args: tuple, kwargs: dict | None) -> bool:
        counts["accepts"] += 1
        return check(args, kwargs)
    return counted


def test_a_served_call_is_the_entry_alone_not_the_generic_check(table: ReplacementTable) -> None:
    counts = {"accepts": 0, "target": 0}

    def target(a0: np.ndarray, a1: np.ndarray) -> float:
        counts["target"] += 1
        return float(a0.dot(a1)) + 1000.0  # tell the replacement's results from the original's

    table.install([Replacement("numpy.dot", 7, counting_accepts(DOT, counts), lambda *_: None,
                               entry(DOT, 3, target, True, python_exception))])
    site = sites.CallSite("t.nd:1")
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    for _ in range(100):
        assert sites.call(site, np.dot, (a, b)) == 1004.5
    assert counts["target"] == 100
    assert counts["accepts"] <= 1  # the first (sampled) call only
    assert site.entry is table.entries["numpy.dot"]


def test_calls_the_entry_does_not_take_go_to_the_original(table: ReplacementTable) -> None:
    table.install([Replacement("numpy.dot", 7, accepts(DOT, 3), lambda *_: None,
                               entry(DOT, 3, lambda a0, a1: -1.0, True, python_exception))])
    site = sites.CallSite("t.nd:2")
    ints = np.array([1, 2, 3])
    long = np.arange(4.0)
    for _ in range(3):
        assert sites.call(site, np.dot, (ints, ints)) == 14  # int64: another pattern
        assert sites.call(site, np.dot, (long, long)) == 14.0  # past the size it was measured at
        assert sites.call(site, np.dot, (ints[:3].astype(float), long[:3])) == -1.0


def test_the_site_follows_the_table_version(table: ReplacementTable) -> None:
    a = np.array([1.0, 2.0])
    site = sites.CallSite("t.nd:3")
    for answer in (1.0, 2.0):
        table.install([Replacement("numpy.dot", int(answer), accepts(DOT, 3), lambda *_: None,
                                   entry(DOT, 3, lambda a0, a1, x=answer: x, True, python_exception))])
        assert [sites.call(site, np.dot, (a, a)) for _ in range(3)] == [answer] * 3
    table.clear()
    assert sites.call(site, np.dot, (a, a)) == 5.0 and site.entry is None


def test_an_error_of_a_served_call_is_the_pyerror_the_original_gives(table: ReplacementTable) -> None:
    def failing(a0: np.ndarray) -> float:
        raise ErrorValue("Error", "ValueError: zero-size array to reduction operation minimum which has no identity")

    pattern = "ndarray<float64>[1d]"
    table.install([Replacement("numpy.min", 3, accepts(pattern), lambda *_: None,
                               entry(pattern, None, failing, True, python_exception))])
    site, plain = sites.CallSite("t.nd:4"), sites.CallSite("t.nd:5")
    empty = np.array([])
    got = []
    for s, fn in ((site, np.min), (site, np.min), (plain, np.max)):  # the first call of a site is sampled
        with pytest.raises(ErrorValue) as info:
            sites.call(s, fn, (empty,))
        got.append(info.value)
    assert all(e.f_kind == "PyError" and e.f_message.startswith("ValueError") for e in got)


def test_a_replacement_that_converts_its_arguments_serves_through_the_same_entry(table: ReplacementTable) -> None:
    def serve(fn, args: tuple, kwargs: dict | None) -> float:
        return float(sum(args[0])) + 0.25

    table.install([Replacement("numpy.sum", 4, accepts("list<float>", 8), serve,
                               entry("list<float>", 8, serve, False))])
    site = sites.CallSite("t.nd:6")
    assert [sites.call(site, np.sum, ([1.0, 2.0],)) for _ in range(3)] == [3.25] * 3
    assert sites.call(site, np.sum, ([1, 2],)) == 3  # ints: not the pattern


kinds = st.sampled_from([np.float64, np.int64, np.float32])
arrays = st.builds(lambda n, d, nd: np.zeros((n,) * nd, dtype=d), st.integers(0, 5), kinds, st.integers(0, 2))
argument = st.one_of(arrays, st.floats(allow_nan=False), st.integers(-(2**64), 2**64), st.booleans(),
                     st.lists(st.floats(allow_nan=False), max_size=9), st.lists(st.integers(), max_size=3),
                     st.text(max_size=3), st.none())


@settings(max_examples=300, deadline=None)
@given(pattern=st.sampled_from([DOT, "float, int", "list<float>", "bool, str", "ndarray<int64>[2d]"]),
       size=st.one_of(st.none(), st.integers(0, 6)), args=st.lists(argument, max_size=3),
       kwargs=st.one_of(st.none(), st.just({}), st.just({"axis": 0})))
def test_the_entry_serves_exactly_the_calls_the_pattern_accepts(pattern: str, size: int | None, args: list,
                                                                kwargs: dict | None) -> None:
    serve = entry(pattern, size, lambda fn, a, k: "served", False)
    assert (serve(None, tuple(args), kwargs) == "served") == accepts(pattern, size)(tuple(args), kwargs)


def test_the_benchmark_times_only_inputs_the_entry_serves() -> None:
    never = entry(DOT, 3, lambda a0, a1: 0.0, True, python_exception)
    a, long = np.ones(3), np.ones(4)
    assert benchmark(np.dot, never, [(long, long)], 0.0005, 1).inputs == 0
    b = benchmark(np.dot, never, [(a, a), (long, long)], 0.0005, 1)
    assert b.inputs == 1 and b.candidate_ns > 0 and b.original_ns > 0


def promoted_dot(db: Path, source: str | None = None) -> int:
    src = intent_source("numpy.dot", DOT)
    assert src is not None
    with Registry(db) as reg:
        c = reg.propose("numpy.dot", DOT, "ndarray<float64>[3], ndarray<float64>[3]", "intent",
                        source or src.source, src.entry, src.params, src.result, 3, 0.1, "test")
        reg.move(c.id, "validated", "test", actor="test")
        return reg.move(c.id, "promoted", "test", actor="test").id


def test_a_promoted_candidate_is_loaded_at_its_first_call_then_called_directly(tmp_path: Path,
                                                                              table: ReplacementTable) -> None:
    db = tmp_path / ".noodle" / "ale.sqlite"
    db.parent.mkdir()
    cid = promoted_dot(db)
    server = install(db, plain_vm, table)
    assert server.loaded == {}  # nothing compiled before a call needs it
    site = sites.CallSite("t.nd:7")
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    for _ in range(5):
        got = sites.call(site, np.dot, (a, b))
        assert got == 4.5 and type(got) is float  # the candidate's float, not NumPy's float64
    runner = server.loaded[cid]
    (r,) = table.by_name["numpy.dot"]
    assert r.serve == runner.serve
    if r.fast is not None:  # native code: the site holds the machine code itself (below)
        assert site.entry is r.fast and site.positional
    else:
        assert site.entry is r.entry and not site.positional
        assert r.entry.__globals__["TARGET"] is runner.direct  # the candidate's function itself
    server.close()


def test_a_promoted_candidate_that_does_not_load_leaves_the_table(tmp_path: Path, table: ReplacementTable) -> None:
    db = tmp_path / ".noodle" / "ale.sqlite"
    db.parent.mkdir()
    promoted_dot(db, source="fn ale_numpy_dot(a0: Array<float, 1>, a1: Array<float, 1>) -> float {\n    return nope\n}\n")
    server = install(db, plain_vm, table)
    site = sites.CallSite("t.nd:8")
    a = np.array([1.0, 2.0])
    assert [sites.call(site, np.dot, (a, a)) for _ in range(3)] == [5.0] * 3
    assert "numpy.dot" not in table.by_name and server.errors
    server.close()


@pytest.mark.parametrize("value, text, want", [
    (np.float64(2.5), "float", 2.5), (np.float32(0.5), "float", 0.5), (np.int64(7), "float", 7.0),
    (np.int32(-3), "int", -3), (np.uint64(2**63 + 1), "float", float(2**63 + 1)), (np.bool_(True), "bool", True),
])
def test_numpy_scalars_cross_to_the_noodle_scalar(value: object, text: str, want: object) -> None:
    for _ in range(2):  # the second time from the cache of scalar kinds
        got = from_py(value, parse_type(text))
        assert got == want and type(got) is type(want)


def test_a_zero_d_array_crosses_by_its_dtype_not_by_a_kind_cached_for_its_type() -> None:
    assert from_py(np.array(1.5), parse_type("float")) == 1.5
    assert from_py(np.array(2), parse_type("int")) == 2  # also an ndarray: its own kind, i
    with pytest.raises(ErrorValue, match="expected int"):
        from_py(np.array(2.5), parse_type("int"))
    with pytest.raises(ErrorValue, match="does not fit"):
        from_py(np.uint64(2**64 - 1), parse_type("int"))
    with pytest.raises(ErrorValue, match="expected int"):
        from_py(np.float64(2.0), parse_type("int"))


def test_the_vms_dot_keeps_its_meaning_on_its_fast_path() -> None:
    from noodle.stdlib.natives import NATIVES

    dot = NATIVES["array.dot"].impl
    x, y = np.array([0.1, 0.2, 0.3]), np.array([3.0, -1.5, 1e-3])
    for _ in range(2):  # the first float dot learns NumPy's float64 dtype object; the second takes the fast path
        got = dot(x, y)
        assert type(got) is float and np.float64(got).tobytes() == np.dot(x, y).tobytes()
        with pytest.raises(ErrorValue, match="lengths 3 and 2"):
            dot(x, y[:2])
        assert dot(np.array([2, 3]), np.array([4, 5])) == 23


# ---------------------------------------------------------------- served by native code: the site holds the machine code


@pytest.fixture
def served_dot(tmp_path: Path, table: ReplacementTable) -> Any:
    db = tmp_path / ".noodle" / "ale.sqlite"
    db.parent.mkdir()
    promoted_dot(db)
    server = install(db, plain_vm, table)
    site = sites.CallSite("t.nd:3")
    a = np.array([1.0, 2.0, 3.0])
    for _ in range(2):  # the first call loads the candidate; the second binds to its entry
        assert sites.call(site, np.dot, (a, a)) == 14.0
    yield site
    server.close()


def test_the_site_holds_the_candidates_machine_code(served_dot: sites.CallSite, table: ReplacementTable) -> None:
    site = served_dot
    a, b = np.array([0.1, 0.2, 0.3]), np.array([3.0, -1.5, 1e-3])
    got = sites.call(site, np.dot, (a, b))
    (r,) = table.by_name["numpy.dot"]
    assert site.positional and site.entry is r.fast and type(site.entry).__name__ == "builtin_function_or_method"
    assert type(got) is float and got.hex() == float(np.dot(a, b)).hex()  # served: a float, NumPy's bits


@pytest.mark.parametrize("args, kwargs", [
    ((np.ones(3, dtype=np.float32), np.ones(3, dtype=np.float32)), None),  # another dtype
    ((np.ones((3, 1)), np.ones(1)), None),  # another rank
    ((np.ones(4), np.ones(4)), None),  # past the sizes it was measured at (max_size 3)
    (([1.0, 2.0], [3.0, 4.0]), None),  # lists
    ((np.ones(3), np.ones(3)), {"out": None}),  # keywords
    ((np.ones(3), np.ones(3), None), None),  # another count
    ((np.frombuffer(np.ones(3).tobytes()), np.ones(3)), None),  # read-only
])
def test_a_call_the_entry_does_not_take_goes_to_the_original(served_dot: sites.CallSite, args: tuple,
                                                             kwargs: dict | None) -> None:
    site = served_dot
    assert site.positional
    if kwargs is None:
        assert site.entry(*args) is MISS  # refused by the checks in C, not an error
    result = sites.call(site, np.dot, args, kwargs)
    want = np.dot(*args, **(kwargs or {}))
    # NumPy's own result (the candidate's is a Python float): the original served it
    assert type(result) is type(want) and type(result) is not float
    assert np.asarray(result).tobytes() == np.asarray(want).tobytes()


def test_the_native_entrys_failure_is_the_originals_error_kind(served_dot: sites.CallSite) -> None:
    with pytest.raises(ErrorValue) as e:  # the site's PyError: a Python ValueError, as numpy.dot raises
        sites.call(served_dot, np.dot, (np.ones(3), np.ones(2)))
    with pytest.raises(ValueError):
        np.dot(np.ones(3), np.ones(2))
    assert "ValueError" in str(e.value) and e.value.f_kind == py_error(ValueError("x")).f_kind


def test_the_benchmark_times_the_positional_entry(served_dot: sites.CallSite) -> None:
    entry = served_dot.entry
    a = np.array([1.0, 2.0, 3.0])
    b = benchmark(np.dot, entry, [(a, a), (np.ones(5), np.ones(5))], min_seconds=0.001, repeats=1,
                  positional=True)
    assert b.inputs == 1  # the 5-element input is past max_size: MISS, not timed
    assert b.candidate_ns > 0 and b.original_ns > 0
