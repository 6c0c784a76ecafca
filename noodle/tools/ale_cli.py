"""`noodle ale ...`: the usage log and the candidate registry, in the terminal (rich) or as JSON.

    noodle ale status                 hot calls, candidates by state, time saved
    noodle ale evolve                 one round: new candidates validated, benchmarked, put on canary;
                                      clean canaries promoted
    noodle ale candidates [--state S]
    noodle ale show ID                a candidate: its source, validation, benchmark, audit
    noodle ale promote|reject|rollback ID [--reason TEXT]
    noodle ale audit [ID]
    noodle ale report [--html FILE]

The database is `--db PATH`, else NOODLE_ALE_DB, else `.noodle/ale.sqlite` in `--project DIR`
(default: the current folder).  Every command takes `--json`.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from noodle.tools.ale_vms import plain_vm, sandbox_vm

EXIT_OK, EXIT_ERROR = 0, 1


def _db(db: str | None, project: str | None) -> Path:
    if db:
        return Path(db)
    env = os.environ.get("NOODLE_ALE_DB")
    if env:
        return Path(env)
    return Path(project or ".") / ".noodle" / "ale.sqlite"


def _existing(db: Path) -> Path:
    if not db.exists():
        click.echo(f"error: no usage log at {db}: run a program that uses `import py` first "
                   "(or name the database with --db)", err=True)
        sys.exit(EXIT_ERROR)
    return db


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Any:
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold", justify="right" if c in ("calls", "mean", "total", "speedup", "id",
                                                                   "served", "mismatches", "saved") else "left")
    for r in rows:
        t.add_row(*r)
    return t


_STATE_STYLE = {"proposed": "white", "validated": "cyan", "canary": "yellow", "promoted": "green",
                "rejected": "red", "rolled_back": "magenta"}


def _state(s: str) -> str:
    return f"[{_STATE_STYLE.get(s, 'white')}]{s}[/]"


def _common(f: Any) -> Any:
    f = click.option("--json", "as_json", is_flag=True, help="print JSON instead of tables")(f)
    f = click.option("--project", default=None, help="the program's folder (its .noodle/ale.sqlite)")(f)
    f = click.option("--db", default=None, help="the usage database (default: NOODLE_ALE_DB or .noodle/ale.sqlite)")(f)
    return f


@click.group("ale")
def ale() -> None:
    """Adaptive library evolution: hot calls into Python, and their validated native replacements."""


@ale.command()
@_common
def status(db: str | None, project: str | None, as_json: bool) -> None:
    """Hot calls into Python, candidates by state, time saved."""
    from noodle.ale.report import summary

    s = summary(_existing(_db(db, project)))
    if as_json:
        _emit(s.to_json())
        return
    con = _console()
    con.print(f"[bold]{s.db}[/]: {s.runs} runs recorded, {s.calls:,} calls into Python, "
              f"time saved on live calls ≈ {s.time_saved_s:.4f} s")
    con.print(_table("Hot calls", ["function", "signature", "calls", "mean", "total", "sites"],
                     [[h["name"], h["signature"], f"{h['calls']:,}", f"{h['mean_ns'] / 1000:.2f} µs",
                       f"{h['total_s']:.4f} s", ", ".join(h["sites"][:2])] for h in s.hot]))
    con.print("candidates: " + ", ".join(f"{_state(k)} {v}" for k, v in s.states.items() if v) if s.candidates
              else "no candidates yet: run `noodle ale evolve`")


@ale.command()
@_common
@click.option("--no-canary", is_flag=True, help="promote what passes validation and the benchmark at once")
@click.option("--canary-share", type=click.FloatRange(0.0, 1.0), default=0.1, show_default=True,
              help="share of live calls a canary is compared on")
@click.option("--canary-calls", type=click.IntRange(1), default=20, show_default=True,
              help="clean live comparisons before a canary is promoted")
@click.option("--min-calls", type=click.IntRange(1), default=100, show_default=True,
              help="calls in the log that make a function hot")
@click.option("--min-seconds", type=click.FloatRange(0.0), default=0.05, show_default=True,
              help="time spent in a function (per the log) that makes it hot")
@click.option("--examples", type=click.IntRange(0), default=60, show_default=True,
              help="generated inputs per candidate (after the captured samples)")
@click.option("--math", "math_mode", type=click.Choice(["vector", "exact"]), default="vector", show_default=True,
              help="translated functions may use vector math (@vector_math: a few ulps off) or not (exact)")
def evolve(db: str | None, project: str | None, as_json: bool, no_canary: bool, canary_share: float,
           canary_calls: int, min_calls: int, min_seconds: float, examples: int, math_mode: str) -> None:
    """One round: new candidates validated and benchmarked; clean canaries promoted."""
    from noodle.ale.evolve import Options, evolve as run_evolve

    path = _existing(_db(db, project))
    options = Options(min_calls=min_calls, min_seconds=min_seconds, canary=not no_canary, canary_share=canary_share,
                      canary_calls=canary_calls, generated=examples, vector_math=math_mode == "vector")
    t0 = time.perf_counter()
    import warnings

    with warnings.catch_warnings():  # NumPy's overflow warnings on generated inputs are expected
        warnings.simplefilter("ignore")
        report = run_evolve(path, sandbox_vm, plain_vm, options)
    if as_json:
        _emit(report.to_json())
        return
    con = _console()
    con.print(_table(f"Evolution ({time.perf_counter() - t0:.1f} s)", ["id", "function", "pattern", "state", "why"],
                     [[str(s.candidate), s.name, s.pattern, _state(s.state), s.detail] for s in report.steps]))
    for line in report.skipped:
        con.print(f"[dim]{line}[/]")
    if not report.steps and not report.skipped:
        con.print("nothing new: every hot call has a candidate (see `noodle ale candidates`)")


@ale.command()
@_common
@click.option("--state", type=click.Choice(["proposed", "validated", "canary", "promoted", "rejected", "rolled_back"]),
              default=None, help="only candidates in this state")
def candidates(db: str | None, project: str | None, as_json: bool, state: str | None) -> None:
    """Every candidate, with its state and speedup."""
    from noodle.ale.registry import Registry

    with Registry(_existing(_db(db, project))) as reg:
        cands = reg.candidates((state,) if state else None)
    if as_json:
        _emit([c.to_json() for c in cands])
        return
    _console().print(_table("Candidates", ["id", "function", "pattern", "from", "state", "speedup", "why"],
                            [[str(c.id), c.name, c.pattern, c.origin, _state(c.state),
                              f"{c.speedup:.2f}x" if c.speedup else "-", c.reason] for c in cands]))


@ale.command()
@_common
@click.argument("cid", type=int)
def show(db: str | None, project: str | None, as_json: bool, cid: int) -> None:
    """One candidate: its Noodle source, validation, benchmark and audit trail."""
    from noodle.ale.registry import Registry, RegistryError

    with Registry(_existing(_db(db, project))) as reg:
        try:
            c = reg.get(cid)
        except RegistryError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_ERROR)
        trail = reg.audit(cid)
    if as_json:
        _emit({**c.to_json(), "audit": [a.to_json() for a in trail]})
        return
    from rich.syntax import Syntax

    con = _console()
    con.print(f"[bold]candidate {c.id}[/]: {c.name}({c.pattern}) from {c.origin}, {_state(c.state)}")
    con.print(f"  {c.reason}")
    if c.source:
        con.print(Syntax(c.source, "rust", line_numbers=False))
    con.print(f"validation: {json.dumps(c.validation)}")
    con.print(f"benchmark:  {json.dumps(c.benchmark)}")
    con.print(f"canary:     {c.canary_calls} clean live comparisons, {c.canary_mismatches} mismatches "
              f"(share {c.canary_share:.0%})")
    con.print(_audit_table(trail))


def _audit_table(trail: list[Any]) -> Any:
    return _table("Audit", ["time", "id", "from", "to", "reason", "by"],
                  [[time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a.time)), str(a.candidate),
                    _state(a.from_state) if a.from_state else "", _state(a.to_state), a.reason, a.actor]
                   for a in trail])


def _move(db: str | None, project: str | None, as_json: bool, cid: int, to: str, reason: str) -> None:
    from noodle.ale.registry import Registry, RegistryError

    with Registry(_existing(_db(db, project))) as reg:
        try:
            if to == "rolled_back" and reg.get(cid).state not in ("promoted", "canary"):
                raise RegistryError(f"candidate {cid} is {reg.get(cid).state}: only a promoted or canary "
                                    "candidate can be rolled back")
            c = reg.move(cid, to, reason, actor="by hand")
        except RegistryError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_ERROR)
    if as_json:
        _emit(c.to_json())
    else:
        _console().print(f"candidate {c.id} ({c.name}) is now {_state(c.state)}: {reason}")


@ale.command()
@_common
@click.argument("cid", type=int)
@click.option("--reason", default="promoted by hand", show_default=True)
def promote(db: str | None, project: str | None, as_json: bool, cid: int, reason: str) -> None:
    """Promote a validated, canary or rolled-back candidate (never a rejected or unvalidated one)."""
    _move(db, project, as_json, cid, "promoted", reason)


@ale.command()
@_common
@click.argument("cid", type=int)
@click.option("--reason", default="rejected by hand", show_default=True)
def reject(db: str | None, project: str | None, as_json: bool, cid: int, reason: str) -> None:
    """Reject a candidate that is proposed, validated or on canary."""
    _move(db, project, as_json, cid, "rejected", reason)


@ale.command()
@_common
@click.argument("cid", type=int)
@click.option("--reason", default="rolled back by hand", show_default=True)
def rollback(db: str | None, project: str | None, as_json: bool, cid: int, reason: str) -> None:
    """Take a promoted or canary candidate out of service (running programs follow within a second)."""
    _move(db, project, as_json, cid, "rolled_back", reason)


@ale.command()
@_common
@click.argument("cid", type=int, required=False)
def audit(db: str | None, project: str | None, as_json: bool, cid: int | None) -> None:
    """The audit log: every state change, when and why (of one candidate with ID)."""
    from noodle.ale.registry import Registry

    with Registry(_existing(_db(db, project))) as reg:
        trail = reg.audit(cid)
    if as_json:
        _emit([a.to_json() for a in trail])
        return
    _console().print(_audit_table(trail))


@ale.command()
@_common
@click.option("--html", "html_file", default=None, help="write one self-contained HTML page to this file")
def report(db: str | None, project: str | None, as_json: bool, html_file: str | None) -> None:
    """Hot calls, candidates, speedups and time saved (tables, JSON, or an HTML page)."""
    from noodle.ale.report import summary, write_html

    path = _existing(_db(db, project))
    if html_file:
        out = write_html(path, html_file)
        if as_json:
            _emit({"html": str(out)})
        else:
            click.echo(f"wrote {out}")
        return
    s = summary(path, hot_limit=30)
    if as_json:
        _emit(s.to_json())
        return
    con = _console()
    con.print(_table("Candidates", ["id", "function", "state", "speedup", "served", "saved", "why"],
                     [[str(c["id"]), c["name"], _state(c["state"]), f"{c['speedup']:.2f}x" if c["speedup"] else "-",
                       f"{c['served_calls']:,}", f"{c['time_saved_s']:.4f} s", c["reason"]] for c in s.candidates]))
    con.print(f"time saved on live calls ≈ {s.time_saved_s:.4f} s over {s.runs} runs")
