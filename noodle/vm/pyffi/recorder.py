"""The usage log in memory: calls into Python aggregated per (name, signature, site).

One :class:`Recorder` per process (:data:`RECORDER`, None when recording is off).  Call sites
report their sampled calls to it (:mod:`noodle.vm.pyffi.sites`); it writes the aggregate to the
usage database (:mod:`noodle.vm.pyffi.usage_db`) at exit, and every `flush_seconds` while the
program runs, so a crash loses at most that much.  Each write adds what happened since the
previous one, in one transaction: the database only ever holds whole flushes.

Capture (`noodle run --ale-capture`) keeps, per (name, signature), up to
:data:`~noodle.vm.pyffi.samples.MAX_SAMPLES` encoded inputs and outputs, each at most
:data:`~noodle.vm.pyffi.samples.MAX_SAMPLE_BYTES`.
"""
from __future__ import annotations

import atexit
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from noodle.vm.pyffi import samples as _samples

#: the process's recorder (None: not recording)
RECORDER: "Recorder | None" = None

#: default sampling period (every 256th call of a site is timed, after the ramp)
DEFAULT_PERIOD = 256
DEFAULT_FLUSH_SECONDS = 30.0


@dataclass
class CallRow:
    """One (name, signature, site, via) row of a flush: what happened since the previous flush."""

    name: str
    signature: str
    site: str
    via: int
    calls: int
    timed: int
    time_ns: int
    min_ns: int
    max_ns: int
    #: the first row of this key in this run (the key's `runs` count goes up by one)
    new_in_run: bool = True


@dataclass
class Sample:
    name: str
    signature: str
    args: bytes
    result: bytes | None
    error: str | None


class _Pending:
    __slots__ = ("name", "sig", "args")

    def __init__(self, name: str, sig: str, args: bytes) -> None:
        self.name, self.sig, self.args = name, sig, args


class Recorder:
    """Aggregates sampled calls; writes them to `db_path`."""

    def __init__(self, db_path: Path, program: str, capture: bool = False, period: int = DEFAULT_PERIOD,
                 flush_seconds: float = DEFAULT_FLUSH_SECONDS) -> None:
        self.db_path = Path(db_path)
        self.program = program
        self.capture = capture
        self.period = max(1, period)
        self.flush_seconds = flush_seconds
        self.sites: list[Any] = []
        #: per site: calls already written, and calls not yet attributed to a signature
        self._written: dict[int, int] = {}
        self._unattributed: dict[int, int] = {}
        self._samples: list[Sample] = []
        self._keys_written: set[tuple[str, str, str, int]] = set()
        #: a flush that failed (the database was locked too long, say) is retried with the next
        self._unwritten_rows: list[CallRow] = []
        self._unwritten_samples: list[Sample] = []
        self._sample_counts: dict[tuple[str, str], int] = {}
        self._next_flush = time.monotonic() + flush_seconds
        self.run_id: int | None = None
        self.flushes = 0
        self.last_error: str | None = None

    # -------------------------------------------------------------- from call sites

    def register(self, site: Any) -> None:
        site.registered = True
        self.sites.append(site)

    def add(self, site: Any, sig: str, via: int, ns: int) -> None:
        key = (site.name, sig, via)
        s = site.stats.get(key)
        if s is None:
            site.stats[key] = [1, ns, ns, ns, 1, 0]
            return
        s[0] += 1
        s[1] += ns
        if ns < s[2]:
            s[2] = ns
        if ns > s[3]:
            s[3] = ns
        s[4] += 1

    def before_call(self, name: str, sig: str, args: tuple, kwargs: dict | None) -> _Pending | None:
        """Encode a call's inputs before it runs (it may change them), if a sample is still wanted."""
        if self._sample_counts.get((name, sig), 0) >= _samples.MAX_SAMPLES:
            return None
        try:
            data = _samples.encode((list(args), kwargs or {}))
        except _samples.NotCapturable:
            return None
        return _Pending(name, sig, data)

    def after_call(self, pending: _Pending, result: Any = None, error: BaseException | None = None) -> None:
        encoded: bytes | None = None
        if error is None:
            try:
                encoded = _samples.encode(result)
            except _samples.NotCapturable:
                return
        key = (pending.name, pending.sig)
        self._sample_counts[key] = self._sample_counts.get(key, 0) + 1
        err = None if error is None else type(error).__qualname__
        self._samples.append(Sample(pending.name, pending.sig, pending.args, encoded, err))

    def maybe_flush(self) -> None:
        if time.monotonic() >= self._next_flush:
            self.flush()

    # -------------------------------------------------------------- writing

    def rows(self, final: bool = False) -> list[CallRow]:
        """What happened since the last flush, the site's exact count spread over its signatures."""
        rows: list[CallRow] = []
        for site in self.sites:
            sid = id(site)
            total = site.calls()
            new = total - self._written.get(sid, 0) + self._unattributed.get(sid, 0)
            self._written[sid] = total
            fresh = {k: s for k, s in site.stats.items() if s[4]}
            weights = fresh or (site.stats if final else {})
            weight_sum = sum(s[4] if fresh else s[0] for s in weights.values())
            if not weights or weight_sum == 0:
                self._unattributed[sid] = new
                continue
            self._unattributed[sid] = 0
            left = new
            items = sorted(weights.items(), key=lambda kv: -(kv[1][4] if fresh else kv[1][0]))
            for i, ((name, sig, via), s) in enumerate(items):
                w = s[4] if fresh else s[0]
                share = left if i == len(items) - 1 else round(new * w / weight_sum)
                share = min(share, left)
                left -= share
                timed = s[4]
                timed_ns = s[1] - s[5]
                row_key = (name, sig, site.where, via)
                rows.append(CallRow(name, sig, site.where, via, share, timed, timed_ns, s[2], s[3],
                                    row_key not in self._keys_written))
                self._keys_written.add(row_key)
            for s in site.stats.values():
                s[4] = 0
                s[5] = s[1]
        return rows

    def flush(self, final: bool = False) -> None:
        """Write what happened since the last flush (one transaction).  Never raises: a log that
        cannot be written must not stop the program; the reason is kept in `last_error`."""
        self._next_flush = time.monotonic() + self.flush_seconds
        rows = self._unwritten_rows + self.rows(final)
        samples, self._samples = self._unwritten_samples + self._samples, []
        self._unwritten_rows, self._unwritten_samples = [], []
        if not rows and not samples and self.run_id is not None and not final:
            return
        from noodle.vm.pyffi import usage_db

        try:
            self.run_id = usage_db.write(self.db_path, self.program, self.run_id, rows, samples, final)
            self.flushes += 1
        except Exception as e:  # a full disk, a locked or unwritable database: try again next time
            self.last_error = f"{type(e).__name__}: {e}"
            self._unwritten_rows, self._unwritten_samples = rows, samples


def start(db_path: "str | os.PathLike[str]", program: str, capture: bool = False, period: int | None = None,
          flush_seconds: float | None = None) -> Recorder:
    """Start recording calls into Python for this process; the log is written at exit."""
    global RECORDER
    if RECORDER is not None:
        stop()
    env_period = os.environ.get("NOODLE_ALE_PERIOD")
    env_flush = os.environ.get("NOODLE_ALE_FLUSH_SECONDS")
    rec = Recorder(Path(db_path), program, capture,
                   period if period is not None else int(env_period) if env_period else DEFAULT_PERIOD,
                   flush_seconds if flush_seconds is not None
                   else float(env_flush) if env_flush else DEFAULT_FLUSH_SECONDS)
    RECORDER = rec
    atexit.register(_at_exit, rec)
    return rec


def stop() -> None:
    """Write the log and stop recording."""
    global RECORDER
    rec, RECORDER = RECORDER, None
    if rec is not None:
        atexit.unregister(_at_exit)
        rec.flush(final=True)


def _at_exit(rec: Recorder) -> None:
    global RECORDER
    if RECORDER is rec:
        RECORDER = None
        rec.flush(final=True)


def database_path(program: "str | os.PathLike[str]") -> Path | None:
    """Where the log of `program` goes: NOODLE_ALE_DB, else `.noodle/ale.sqlite` beside it; None when
    NOODLE_ALE=off."""
    if os.environ.get("NOODLE_ALE", "").lower() in ("off", "0", "no", "false"):
        return None
    named = os.environ.get("NOODLE_ALE_DB")
    if named:
        return Path(named)
    return Path(program).resolve().parent / ".noodle" / "ale.sqlite"
