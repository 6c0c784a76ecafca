"""The registry of candidates, in the usage database beside the usage log.

    candidates   (id, name, pattern, signature, origin, state, source, entry, params, result_kind,
                  max_size, validation, benchmark, speedup, canary_share, canary_calls,
                  canary_mismatches, reason, created, updated)
    audit        (id, candidate, time, from_state, to_state, reason, actor)    every transition
    registry_meta (key, value)                                                  `version`: bumped by
                                                                                every change to what serves calls

A candidate replaces one Python function (`name`) for the calls whose generalised signature is
`pattern` (and whose arrays have at most `max_size` elements, where set).  Its `source` is a Noodle
module whose function `entry` takes `params` (Noodle types).  States and the moves between them:

    proposed --validate--> validated --benchmark--> canary --clean live calls--> promoted
        \\--> rejected        \\--> rejected           \\--> rolled_back            \\--> rolled_back

Only a validated candidate can be put on canary or promoted, by `noodle ale evolve` or by hand.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from noodle.vm.pyffi.usage_db import connect as _connect_log

STATES = ("proposed", "validated", "canary", "promoted", "rejected", "rolled_back")
#: the states whose candidates serve live calls
SERVING = ("canary", "promoted")

#: state -> the states it may move to
MOVES: dict[str, tuple[str, ...]] = {
    "proposed": ("validated", "rejected"),
    "validated": ("canary", "promoted", "rejected"),
    "canary": ("promoted", "rolled_back", "rejected"),
    "promoted": ("rolled_back",),
    "rejected": ("proposed",),
    "rolled_back": ("proposed", "canary", "promoted"),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    pattern TEXT NOT NULL,
    signature TEXT NOT NULL,
    origin TEXT NOT NULL,
    state TEXT NOT NULL,
    source TEXT NOT NULL,
    entry TEXT NOT NULL,
    params TEXT NOT NULL,
    result_kind TEXT,
    max_size INTEGER,
    validation TEXT,
    benchmark TEXT,
    speedup REAL,
    canary_share REAL NOT NULL DEFAULT 0.1,
    canary_calls INTEGER NOT NULL DEFAULT 0,
    canary_mismatches INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (name, pattern, origin, source)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    candidate INTEGER NOT NULL REFERENCES candidates (id),
    time REAL NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO registry_meta (key, value) VALUES ('version', 0);
"""


class RegistryError(Exception):
    """A registry operation that is not allowed (an unknown id, a move the state machine forbids)."""


@dataclass
class Candidate:
    """One row of `candidates`."""

    id: int
    name: str
    pattern: str
    signature: str
    origin: str  # "intent" | "transpiled"
    state: str
    source: str
    entry: str
    params: list[str]
    result_kind: str | None = None
    max_size: int | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    benchmark: dict[str, Any] = field(default_factory=dict)
    speedup: float | None = None
    canary_share: float = 0.1
    canary_calls: int = 0
    canary_mismatches: int = 0
    reason: str = ""
    created: float = 0.0
    updated: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AuditEntry:
    id: int
    candidate: int
    time: float
    from_state: str | None
    to_state: str
    reason: str
    actor: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


_COLUMNS = ("id", "name", "pattern", "signature", "origin", "state", "source", "entry", "params", "result_kind",
            "max_size", "validation", "benchmark", "speedup", "canary_share", "canary_calls", "canary_mismatches",
            "reason", "created", "updated")


def _candidate(row: tuple) -> Candidate:
    d = dict(zip(_COLUMNS, row))
    d["params"] = json.loads(d["params"])
    d["validation"] = json.loads(d["validation"] or "{}")
    d["benchmark"] = json.loads(d["benchmark"] or "{}")
    return Candidate(**d)


class Registry:
    """The candidates and their audit log in one usage database."""

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        self.path = Path(path)
        self.conn: sqlite3.Connection = _connect_log(self.path)
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- reading

    def version(self) -> int:
        return int(self.conn.execute("SELECT value FROM registry_meta WHERE key = 'version'").fetchone()[0])

    def get(self, cid: int) -> Candidate:
        row = self.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM candidates WHERE id = ?", (cid,)).fetchone()
        if row is None:
            raise RegistryError(f"there is no candidate {cid}")
        return _candidate(row)

    def candidates(self, states: tuple[str, ...] | None = None) -> list[Candidate]:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM candidates"
        args: tuple = ()
        if states:
            sql += f" WHERE state IN ({', '.join('?' * len(states))})"
            args = states
        return [_candidate(r) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def find(self, name: str, pattern: str, origin: str, source: str) -> Candidate | None:
        row = self.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM candidates WHERE name = ? AND pattern = ? "
                                "AND origin = ? AND source = ?", (name, pattern, origin, source)).fetchone()
        return _candidate(row) if row else None

    def audit(self, cid: int | None = None) -> list[AuditEntry]:
        sql = "SELECT id, candidate, time, from_state, to_state, reason, actor FROM audit"
        rows = self.conn.execute(sql + (" WHERE candidate = ? ORDER BY id" if cid is not None else " ORDER BY id"),
                                 (cid,) if cid is not None else ())
        return [AuditEntry(*r) for r in rows]

    # -------------------------------------------------------------- writing

    def propose(self, name: str, pattern: str, signature: str, origin: str, source: str, entry: str,
                params: list[str], result_kind: str | None, max_size: int | None, canary_share: float,
                reason: str, actor: str = "evolve") -> Candidate:
        """Add a candidate in state `proposed` (or return the one with the same source)."""
        found = self.find(name, pattern, origin, source)
        if found is not None:
            return found
        now = time.time()
        with self._transaction():
            cur = self.conn.execute(
                "INSERT INTO candidates (name, pattern, signature, origin, state, source, entry, params, result_kind, "
                "max_size, canary_share, reason, created, updated) VALUES (?, ?, ?, ?, 'proposed', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, pattern, signature, origin, source, entry, json.dumps(params), result_kind, max_size,
                 canary_share, reason, now, now))
            cid = int(cur.lastrowid or 0)
            self._log(cid, None, "proposed", reason, actor, now)
        return self.get(cid)

    def move(self, cid: int, to: str, reason: str, actor: str = "evolve", **fields: Any) -> Candidate:
        """Move a candidate to state `to`, recording why; `fields` update other columns at once."""
        if to not in STATES:
            raise RegistryError(f"unknown state {to!r}")
        now = time.time()
        with self._transaction():
            row = self.conn.execute("SELECT state FROM candidates WHERE id = ?", (cid,)).fetchone()
            if row is None:
                raise RegistryError(f"there is no candidate {cid}")
            state = row[0]
            if to not in MOVES[state]:
                raise RegistryError(f"candidate {cid} is {state}; it cannot become {to}"
                                    + (" (it must be validated first)" if to in SERVING else ""))
            self._update(cid, state=to, reason=reason, updated=now, **fields)
            self._log(cid, state, to, reason, actor, now)
            if state in SERVING or to in SERVING:
                self.conn.execute("UPDATE registry_meta SET value = value + 1 WHERE key = 'version'")
        return self.get(cid)

    def update(self, cid: int, **fields: Any) -> None:
        with self._transaction():
            self._update(cid, updated=time.time(), **fields)

    def add_canary_results(self, cid: int, calls: int, mismatches: int) -> None:
        with self._transaction():
            self.conn.execute("UPDATE candidates SET canary_calls = canary_calls + ?, "
                              "canary_mismatches = canary_mismatches + ? WHERE id = ?", (calls, mismatches, cid))

    def _update(self, cid: int, **fields: Any) -> None:
        for key in ("validation", "benchmark"):
            if key in fields and not isinstance(fields[key], str):
                fields[key] = json.dumps(fields[key])
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise RegistryError(f"unknown candidate fields {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE candidates SET {sets} WHERE id = ?", (*fields.values(), cid))

    def _log(self, cid: int, from_state: str | None, to: str, reason: str, actor: str, now: float) -> None:
        self.conn.execute("INSERT INTO audit (candidate, time, from_state, to_state, reason, actor) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (cid, now, from_state, to, reason, actor))

    class _Tx:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def __enter__(self) -> None:
            self.conn.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type: object, *rest: object) -> None:
            self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def _transaction(self) -> "Registry._Tx":
        return Registry._Tx(self.conn)

    # -------------------------------------------------------------- the usage log, read

    def hot_calls(self, limit: int = 50) -> list[dict[str, Any]]:
        """Calls into Python by estimated total time, heaviest first (per name and signature)."""
        rows = self.conn.execute(
            "SELECT name, signature, SUM(calls), SUM(timed), SUM(time_ns), MIN(min_ns), COUNT(DISTINCT site), "
            "GROUP_CONCAT(DISTINCT site), SUM(runs) FROM calls WHERE via = 0 GROUP BY name, signature").fetchall()
        out = []
        for name, sig, calls, timed, time_ns, min_ns, nsites, sites, runs in rows:
            mean = time_ns / timed if timed else 0.0
            out.append({"name": name, "signature": sig, "calls": calls, "mean_ns": mean, "min_ns": min_ns,
                        "total_s": mean * calls / 1e9, "sites": sorted((sites or "").split(",")), "runs": runs})
        out.sort(key=lambda r: -r["total_s"])
        return out[:limit]

    def served_calls(self) -> dict[int, dict[str, float]]:
        """Per candidate: calls it served and their mean time (from the usage log's `via` rows)."""
        out: dict[int, dict[str, float]] = {}
        for via, calls, timed, time_ns in self.conn.execute(
                "SELECT via, SUM(calls), SUM(timed), SUM(time_ns) FROM calls WHERE via != 0 GROUP BY via"):
            out[int(via)] = {"calls": calls, "mean_ns": time_ns / timed if timed else 0.0}
        return out

    def samples(self, name: str, signature: str | None = None) -> Iterator[tuple[str, bytes, bytes | None, str | None]]:
        sql = "SELECT signature, args, result, error FROM samples WHERE name = ?"
        args: tuple = (name,)
        if signature is not None:
            sql += " AND signature = ?"
            args += (signature,)
        yield from self.conn.execute(sql + " ORDER BY id", args)
