"""The usage log: aggregation, the SQLite database, capture, crashes and concurrent writers."""
from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from noodle.vm.pyffi import kinds, recorder, samples, sites
from helpers import HANG_S


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / ".noodle" / "ale.sqlite"
    yield path
    recorder.stop()


def rows(path: Path, sql: str = "SELECT name, signature, site, via, calls, runs FROM calls ORDER BY name, site"):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_calls_are_aggregated_per_name_signature_and_site(db: Path) -> None:
    recorder.start(db, "prog.nd")
    a, b = sites.CallSite("prog.nd:3"), sites.CallSite("prog.nd:7")
    v = np.ones(3)
    for i in range(1000):
        sites.call(a, math.sqrt, (float(i),))
        sites.call_attr(b, np, "dot", (v, v))
    for _ in range(5):
        sites.call(a, math.sqrt, (4,))  # a second signature at the same site
    recorder.stop()
    got = rows(db)
    assert ("numpy.dot", "ndarray<float64>[3], ndarray<float64>[3]", "prog.nd:7", 0, 1000, 1) in got
    sqrt = {r[1]: r[4] for r in got if r[0] == "math.sqrt"}
    assert sum(sqrt.values()) == 1005  # the site's count is exact; its split follows the samples
    assert set(sqrt) <= {"float", "int"} and sqrt["float"] >= 990
    (timed, time_ns), = rows(db, "SELECT timed, time_ns FROM calls WHERE name = 'numpy.dot'")
    assert 0 < timed < 1000 and time_ns > 0  # sampled, not every call timed


def test_counts_accumulate_over_runs(db: Path) -> None:
    for _ in range(3):
        recorder.start(db, "prog.nd")
        site = sites.CallSite("prog.nd:1")
        for _ in range(10):
            sites.call(site, abs, (-1,))
        recorder.stop()
    assert rows(db) == [("abs", "int", "prog.nd:1", 0, 30, 3)]
    assert rows(db, "SELECT COUNT(*), SUM(finished) FROM runs") == [(3, 3)]


def test_the_database_is_in_wal_mode(db: Path) -> None:
    recorder.start(db, "p")
    sites.call(sites.CallSite("p:1"), abs, (1,))
    recorder.stop()
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]


def test_where_the_log_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prog = tmp_path / "app" / "main.nd"
    monkeypatch.delenv("NOODLE_ALE_DB", raising=False)
    monkeypatch.delenv("NOODLE_ALE", raising=False)
    assert recorder.database_path(prog) == (tmp_path / "app" / ".noodle" / "ale.sqlite").resolve()
    monkeypatch.setenv("NOODLE_ALE_DB", str(tmp_path / "x.sqlite"))
    assert recorder.database_path(prog) == tmp_path / "x.sqlite"
    monkeypatch.setenv("NOODLE_ALE", "off")
    assert recorder.database_path(prog) is None


def test_without_a_recorder_nothing_is_written_and_calls_still_count(tmp_path: Path) -> None:
    recorder.stop()
    site = sites.CallSite("p:1")
    for _ in range(100):
        sites.call(site, abs, (1,))
    assert site.calls() == 100 and not site.stats


def test_capture_keeps_a_bounded_sample_of_inputs_and_outputs(db: Path) -> None:
    recorder.start(db, "p", capture=True, period=1)
    site = sites.CallSite("p:1")
    for i in range(50):
        sites.call(site, np.add, (np.full(2, float(i)), 1.0))
    big = sites.CallSite("p:2")
    sites.call(big, np.sum, (np.zeros(100_000),))  # over the size limit: counted, not captured
    recorder.stop()
    got = rows(db, "SELECT name, signature, args, result FROM samples")
    assert len(got) == samples.MAX_SAMPLES and all(name == "numpy.add" for name, *_ in got)
    args, kwargs = samples.decode(got[0][2])
    assert np.array_equal(samples.decode(got[0][3]), args[0] + args[1]) and kwargs == {}
    assert rows(db, "SELECT calls FROM calls WHERE name = 'numpy.sum'") == [(1,)]


def test_without_capture_no_values_are_stored(db: Path) -> None:
    recorder.start(db, "p", period=1)
    sites.call(sites.CallSite("p:1"), abs, (-5,))
    recorder.stop()
    assert rows(db, "SELECT COUNT(*) FROM samples") == [(0,)]


plain = st.recursive(
    st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=10), st.none(),
              hnp.arrays(st.sampled_from([np.float64, np.int64, np.float32, np.bool_, np.int32]),
                         hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=4), inner, max_size=3)), max_leaves=12)


def _equal(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and \
            np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


@given(plain)
def test_samples_read_back_as_they_were_written(v: object) -> None:
    try:
        data = samples.encode(v)
    except samples.NotCapturable:
        return
    assert _equal(samples.decode(data), v)


def test_kinds_and_their_general_form() -> None:
    sig = kinds.signature((np.zeros((3, 4)), [1.0, 2.0], 3, "s"), {"axis": 0})
    assert sig == "ndarray<float64>[3x4], list<float>[2], int, str, axis=int"
    assert kinds.generalise(sig) == "ndarray<float64>[2d], list<float>, int, str, axis=int"
    assert kinds.array_sizes(sig) == [(3, 4)]
    assert kinds.kind([[1, 2]]) == "list<list<int>>[1]" and kinds.generalise("list<list<int>>[1]") == "list<list<int>>"


# ------------------------------------------------------------------ crashes and concurrent programs

CRASHING = """
import math, os, signal, sys
from noodle.vm.pyffi import recorder, sites
recorder.start(sys.argv[1], "crash.nd", flush_seconds=0.0, period=1)
site = sites.CallSite("crash.nd:1")
for i in range(200):
    sites.call(site, math.sqrt, (float(i),))
print(recorder.RECORDER.flushes, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_crash_keeps_what_was_flushed_and_never_corrupts_the_database(db: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", CRASHING, str(db)], capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert int(proc.stdout) > 0
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    (calls,), = rows(db, "SELECT calls FROM calls")
    assert 0 < calls <= 200
    assert rows(db, "SELECT finished FROM runs") == [(0,)]  # the run never ended cleanly


def _record_many(db: str, where: str, n: int, barrier: object) -> None:
    from noodle.vm.pyffi import recorder as rec_mod, sites as sites_mod

    rec_mod.start(db, where, flush_seconds=0.0, period=4)
    site = sites_mod.CallSite(where)
    barrier.wait()  # type: ignore[attr-defined]
    for i in range(n):
        sites_mod.call(site, abs, (i,))
    rec_mod.stop()


def test_two_programs_recording_at_once(db: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    n = 3000
    procs = [ctx.Process(target=_record_many, args=(str(db), f"p{i}.nd:1", n, barrier)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert rows(db, "SELECT site, calls FROM calls ORDER BY site") == [("p0.nd:1", n), ("p1.nd:1", n)]
    assert rows(db, "SELECT COUNT(*), SUM(finished) FROM runs") == [(2, 2)]
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
