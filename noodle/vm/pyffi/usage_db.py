"""The usage log on disk: a SQLite database in WAL mode, one per project.

Tables written here (the evolution registry adds its own, :mod:`noodle.ale.registry`)::

    runs    (id, program, pid, started, last_flush, finished)            one row per recorded run
    calls   (name, signature, site, via, calls, timed, time_ns,          per (name, signature, site, via):
             min_ns, max_ns, runs, first_seen, last_seen)                 via = the candidate that served
                                                                          the calls (0: the original)
    samples (id, name, signature, args, result, error, taken)            captured inputs and outputs

Several programs may record at once: each flush is one `BEGIN IMMEDIATE` transaction that adds
its counts to the rows (SQLite serialises writers; readers never block in WAL mode), waiting up
to :data:`BUSY_SECONDS` for the lock.  A program killed mid-run leaves every completed flush intact
and no partial one.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

#: how long a writer waits for another process's transaction
BUSY_SECONDS = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    program TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    last_flush REAL NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS calls (
    name TEXT NOT NULL,
    signature TEXT NOT NULL,
    site TEXT NOT NULL,
    via INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    timed INTEGER NOT NULL DEFAULT 0,
    time_ns INTEGER NOT NULL DEFAULT 0,
    min_ns INTEGER,
    max_ns INTEGER,
    runs INTEGER NOT NULL DEFAULT 0,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (name, signature, site, via)
);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    signature TEXT NOT NULL,
    args BLOB NOT NULL,
    result BLOB,
    error TEXT,
    taken REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_call ON samples (name, signature);
"""


def connect(path: "str | os.PathLike[str]") -> sqlite3.Connection:
    """A connection to the database at `path` (created, with its folder, if missing), in WAL mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_SECONDS, isolation_level=None)
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        # switching a new database to WAL takes an exclusive lock, and SQLite answers BUSY at once
        # (no busy handler) when another process is creating it at the same moment: try again
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            return conn
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.01)


def write(path: Path, program: str, run_id: int | None, rows: Iterable[Any], samples: Iterable[Any],
          final: bool) -> int:
    """Add one flush to the database; returns the run's id (made on the first flush)."""
    from noodle.vm.pyffi.samples import MAX_SAMPLES

    now = time.time()
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if run_id is None:
                cur = conn.execute("INSERT INTO runs (program, pid, started, last_flush, finished) VALUES (?, ?, ?, ?, ?)",
                                   (program, os.getpid(), now, now, int(final)))
                run_id = int(cur.lastrowid or 0)
            else:
                conn.execute("UPDATE runs SET last_flush = ?, finished = ? WHERE id = ?", (now, int(final), run_id))
            for r in rows:
                conn.execute(
                    "INSERT INTO calls (name, signature, site, via, calls, timed, time_ns, min_ns, max_ns, runs, "
                    "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
                    "ON CONFLICT (name, signature, site, via) DO UPDATE SET calls = calls + excluded.calls, "
                    "timed = timed + excluded.timed, time_ns = time_ns + excluded.time_ns, "
                    "min_ns = MIN(COALESCE(min_ns, excluded.min_ns), excluded.min_ns), "
                    "max_ns = MAX(COALESCE(max_ns, excluded.max_ns), excluded.max_ns), "
                    "runs = runs + ?, last_seen = excluded.last_seen",
                    (r.name, r.signature, r.site, r.via, r.calls, r.timed, r.time_ns, r.min_ns, r.max_ns, now, now,
                     int(r.new_in_run)))
            for s in samples:
                (have,) = conn.execute("SELECT COUNT(*) FROM samples WHERE name = ? AND signature = ?",
                                       (s.name, s.signature)).fetchone()
                if have < MAX_SAMPLES:
                    conn.execute("INSERT INTO samples (name, signature, args, result, error, taken) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", (s.name, s.signature, s.args, s.result, s.error, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return run_id
