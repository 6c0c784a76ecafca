#!/usr/bin/env python3
"""Noodle benchmark runner.

Runs every workload in bench/workloads/ three ways -- Noodle (``noodle run NAME.nd``), CPython
(``python NAME.py``) and, when a Lua 5.4 interpreter is on PATH, Lua (``lua5.4 NAME.lua``) --
checks that the three print the same thing, and reports the median wall time of each and the
ratios Noodle/CPython and Noodle/Lua.  ``hello`` is reported separately as start-up time.

    python bench/run.py [--repeat N] [--only fib,loops] [--json OUT] [--markdown OUT]

This is a measurement, not a test: slow ratios do not change the exit status.  The exit status
is 1 when an implementation could not be measured (not installed, crashed, timed out) or when
the implementations disagree on a workload's output, 2 on bad arguments, else 0.

Standard library only.  See bench/README.md.
"""
from __future__ import annotations

import argparse
import datetime
import difflib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORKLOAD_DIR = BENCH_DIR / "workloads"

# Preferred order; any other NAME.nd found in workloads/ is appended alphabetically.
ORDER = ["fib", "loops", "strings", "wordcount", "nbody", "bintrees", "hello"]
STARTUP_WORKLOAD = "hello"
STARTUP_BAR = 2.5  # project bar: `noodle run hello.nd` (warm cache) <= 2.5x `python3 hello.py`

NOODLE, CPYTHON, LUA = "noodle", "cpython", "lua"


# --------------------------------------------------------------------------------------------
# Implementations
# --------------------------------------------------------------------------------------------

@dataclass
class Impl:
    key: str                 # noodle | cpython | lua
    ext: str                 # source file extension
    argv: list[str]          # command prefix; the source path is appended
    available: bool = True
    why: str = ""            # reason when not available
    version: str = ""

    def command(self, source: Path) -> list[str]:
        return [*self.argv, str(source.relative_to(ROOT))]


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _quick_output(argv: list[str], timeout: float = 30.0) -> str:
    """stdout+stderr of a short informational command, '' if it fails in any way."""
    try:
        p = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return ""
    return p.stdout.decode("utf-8", "replace").strip() if p.returncode == 0 else ""


def find_noodle(explicit: str | None) -> Impl:
    if explicit:
        candidates = [Path(explicit)]
    else:
        candidates = [ROOT / ".venv" / "bin" / "noodle", Path(sys.executable).parent / "noodle"]
        on_path = shutil.which("noodle")
        if on_path:
            candidates.append(Path(on_path))
        candidates = list(dict.fromkeys(candidates))
    for c in candidates:
        if _is_executable(c):
            version = _quick_output([str(c), "--version"]).splitlines()
            return Impl(NOODLE, ".nd", [str(c), "run"], version=version[0][:80] if version else "")
    looked = ", ".join(str(c) for c in candidates) or "PATH"
    return Impl(NOODLE, ".nd", [], available=False, why=f"not installed (looked for {looked})")


def find_cpython(explicit: str | None) -> Impl:
    exe = explicit or sys.executable
    impl = Impl(CPYTHON, ".py", [exe])
    impl.version = _quick_output([exe, "--version"]) or platform.python_version()
    return impl


def find_lua(explicit: str | None, disabled: bool) -> Impl:
    if disabled:
        return Impl(LUA, ".lua", [], available=False, why="disabled (--no-lua)")
    names = [explicit] if explicit else ["lua5.4", "lua"]
    for name in names:
        path = shutil.which(name) if name else None
        if not path:
            continue
        version = _quick_output([path, "-v"])
        if "Lua 5.4" in version:
            return Impl(LUA, ".lua", [path], version=version.split("  ")[0])
    return Impl(LUA, ".lua", [], available=False,
                why="no Lua 5.4 interpreter on PATH (lua5.4 or lua); install it to compare")


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------

@dataclass
class RunResult:
    ok: bool
    seconds: float
    stdout: str = ""
    error: str = ""          # one-line reason when not ok


def first_error_line(stderr: str) -> str:
    """The most telling line of a failed run's stderr: the exception line of a Python
    traceback, otherwise the first non-empty line."""
    lines = [ln.rstrip() for ln in stderr.splitlines() if ln.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback (most recent call last)"):
        return lines[-1].strip()
    return lines[0].strip()


def run_once(argv: list[str], timeout: float) -> RunResult:
    t0 = time.perf_counter()
    try:
        p = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return RunResult(False, time.perf_counter() - t0, error=f"timed out after {timeout:g} s")
    except OSError as e:
        return RunResult(False, time.perf_counter() - t0, error=f"could not start: {e}")
    seconds = time.perf_counter() - t0
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        err = first_error_line(p.stderr.decode("utf-8", "replace")) or "(no stderr)"
        return RunResult(False, seconds, out, f"exit status {p.returncode}: {err}")
    return RunResult(True, seconds, out)


def normalise(output: str) -> str:
    return "\n".join(line.rstrip() for line in output.replace("\r\n", "\n").rstrip("\n").split("\n"))


@dataclass
class ImplResult:
    status: str = "pending"  # ok | failed | missing
    message: str = ""
    warmup_s: float | None = None
    times: list[float] = field(default_factory=list)
    output: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.status == "ok" and self.times else None


@dataclass
class WorkloadResult:
    name: str
    results: dict[str, ImplResult]
    reference: str | None = None          # impl whose output the others are compared with
    mismatches: list[str] = field(default_factory=list)  # impl keys whose output differs

    def ratio(self, num: str, den: str) -> float | None:
        a, b = self.results.get(num), self.results.get(den)
        if not a or not b or a.median is None or b.median is None:
            return None
        if num in self.mismatches or den in self.mismatches:
            return None
        return a.median / b.median if b.median > 0 else None

    def ratio_note(self, num: str, den: str) -> str:
        a, b = self.results.get(num), self.results.get(den)
        if not a or not b or a.status != "ok" or b.status != "ok":
            return "n/a"
        if num in self.mismatches or den in self.mismatches:
            return "INVALID"
        r = self.ratio(num, den)
        return "n/a" if r is None else f"{r:.2f}x"


def say(msg: str = "") -> None:
    print(msg, flush=True)


def bench_workload(name: str, impls: list[Impl], repeat: int, timeout: float) -> WorkloadResult:
    results: dict[str, ImplResult] = {}
    active: list[Impl] = []
    for impl in impls:
        res = results[impl.key] = ImplResult()
        source = WORKLOAD_DIR / f"{name}{impl.ext}"
        if not impl.available:
            res.status, res.message = "missing", impl.why
        elif not source.is_file():
            res.status, res.message = "missing", f"no {source.relative_to(ROOT)}"
        else:
            active.append(impl)

    # Untimed warm-up: fills Noodle's __noodlecache__/, the OS file cache, etc.
    for impl in active[:]:
        res = results[impl.key]
        r = run_once(impl.command(WORKLOAD_DIR / f"{name}{impl.ext}"), timeout)
        res.warmup_s = r.seconds
        if r.ok:
            res.output = normalise(r.stdout)
        else:
            res.status, res.message = "failed", r.error
            active.remove(impl)

    # Timed rounds; the order of the peers rotates every round to spread machine noise.
    for rnd in range(repeat):
        if not active:
            break
        k = rnd % len(active)
        for impl in active[k:] + active[:k]:
            res = results[impl.key]
            if res.status == "failed":
                continue
            r = run_once(impl.command(WORKLOAD_DIR / f"{name}{impl.ext}"), timeout)
            if not r.ok:
                res.status, res.message = "failed", f"round {rnd + 1}: {r.error}"
                continue
            if normalise(r.stdout) != res.output:
                res.message = "output differs between runs (non-deterministic)"
            res.times.append(r.seconds)
    for impl in active:
        if results[impl.key].status == "pending":
            results[impl.key].status = "ok"

    wr = WorkloadResult(name, results)
    check_outputs(wr)
    return wr


def check_outputs(wr: WorkloadResult) -> None:
    ok = [k for k in (CPYTHON, LUA, NOODLE) if k in wr.results and wr.results[k].status == "ok"]
    if len(ok) < 2:
        wr.reference = ok[0] if ok else None
        return
    wr.reference = ok[0]
    ref = wr.results[wr.reference].output
    for k in ok[1:]:
        out = wr.results[k].output
        if out != ref:
            wr.mismatches.append(k)
            diff = list(difflib.unified_diff(ref.split("\n"), out.split("\n"),
                                             fromfile=f"{wr.name} ({wr.reference})",
                                             tofile=f"{wr.name} ({k})", lineterm="", n=1))
            bar = "!" * 78
            say(bar)
            say(f"!! OUTPUT MISMATCH in {wr.name}: {k} differs from {wr.reference}; "
                f"ratios involving {k} are INVALID")
            for line in diff[:24]:
                say("!!   " + line)
            if len(diff) > 24:
                say(f"!!   ... ({len(diff) - 24} more diff lines)")
            say(bar)


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------

def fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def fmt_ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.1f} ms"


def cell(wr: WorkloadResult, key: str) -> str:
    res = wr.results.get(key)
    if res is None or res.status == "missing":
        return "-"
    if res.status == "failed":
        return "FAILED"
    return fmt_s(res.median)


def output_cell(wr: WorkloadResult) -> str:
    if wr.mismatches:
        return "MISMATCH: " + ",".join(wr.mismatches)
    n = sum(1 for r in wr.results.values() if r.status == "ok")
    return "agree" if n >= 2 else "unchecked"


HEADER = ["workload", "noodle s", "cpython s", "lua s", "noodle/cpython", "noodle/lua", "output"]


def table_rows(results: list[WorkloadResult]) -> list[list[str]]:
    return [[wr.name, cell(wr, NOODLE), cell(wr, CPYTHON), cell(wr, LUA),
             wr.ratio_note(NOODLE, CPYTHON), wr.ratio_note(NOODLE, LUA), output_cell(wr)]
            for wr in results]


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in (0, len(r) - 1) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(HEADER), "  ".join("-" * w for w in widths), *map(line, rows)])


def markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(HEADER) + " |",
           "|" + "|".join([":---"] + ["---:"] * (len(HEADER) - 2) + [":---"]) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def startup_summary(wr: WorkloadResult | None) -> dict | None:
    if wr is None:
        return None
    n, p = wr.results.get(NOODLE), wr.results.get(CPYTHON)
    ratio = wr.ratio(NOODLE, CPYTHON)
    return {
        "noodle_s": n.median if n else None,
        "cpython_s": p.median if p else None,
        "lua_s": wr.results[LUA].median if LUA in wr.results else None,
        "ratio": ratio,
        "bar": STARTUP_BAR,
        "meets_bar": None if ratio is None else ratio <= STARTUP_BAR,
        "note": wr.ratio_note(NOODLE, CPYTHON),
    }


def startup_text(s: dict) -> str:
    if s["ratio"] is None:
        verdict = f"ratio {s['note']}"
    else:
        verdict = (f"ratio {s['ratio']:.2f}x "
                   f"({'meets' if s['meets_bar'] else 'ABOVE'} the bar of {STARTUP_BAR}x)")
    return (f"start-up (hello, warm cache): noodle {fmt_ms(s['noodle_s'])}, "
            f"cpython {fmt_ms(s['cpython_s'])}, lua {fmt_ms(s['lua_s'])}; {verdict}")


def git_commit() -> str:
    return _quick_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], timeout=10)


def meta(impls: list[Impl], args: argparse.Namespace) -> dict:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit() or None,
        "repeat": args.repeat,
        "hello_repeat": args.hello_repeat,
        "statistic": "median wall time (time.perf_counter around subprocess.run)",
        "implementations": {i.key: {"available": i.available, "command": i.argv,
                                    "version": i.version or None, "why": i.why or None}
                            for i in impls},
    }


def to_json(results: list[WorkloadResult], impls: list[Impl], args: argparse.Namespace,
            startup: dict | None) -> dict:
    workloads = {}
    for wr in results:
        workloads[wr.name] = {
            "implementations": {
                k: {"status": r.status, "message": r.message or None,
                    "median_s": r.median, "min_s": min(r.times) if r.times else None,
                    "max_s": max(r.times) if r.times else None,
                    "times_s": r.times, "warmup_s": r.warmup_s}
                for k, r in wr.results.items()},
            "outputs_agree": not wr.mismatches,
            "output_reference": wr.reference,
            "mismatches": wr.mismatches,
            "ratio_noodle_cpython": wr.ratio(NOODLE, CPYTHON),
            "ratio_noodle_lua": wr.ratio(NOODLE, LUA),
        }
    return {"meta": meta(impls, args), "workloads": workloads, "startup": startup}


def to_markdown(results: list[WorkloadResult], impls: list[Impl], args: argparse.Namespace,
                startup: dict | None) -> str:
    m = meta(impls, args)
    lines = ["# Noodle benchmark results", "",
             f"- date: {m['date']}; host: {m['host']} ({m['platform']}, {m['cpu_count']} CPUs)"]
    if m["git_commit"]:
        lines.append(f"- commit: {m['git_commit']}")
    for i in impls:
        desc = (f"`{' '.join(i.argv)}` {i.version}".rstrip() if i.available
                else f"not measured: {i.why}")
        lines.append(f"- {i.key}: {desc}")
    lines += [f"- median of {args.repeat} timed runs (hello: {args.hello_repeat}) after one "
              "untimed warm-up run; wall time in seconds, lower is better", "",
              markdown_table(table_rows(results)), ""]
    if startup:
        lines += ["## Start-up", "", startup_text(startup), ""]
    problems = [(wr.name, k, r.message) for wr in results for k, r in wr.results.items()
                if r.status == "failed"]
    if problems:
        lines += ["## Failures", ""] + [f"- {w} / {k}: {msg}" for w, k, msg in problems] + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def discover() -> list[str]:
    found = {p.stem for p in WORKLOAD_DIR.glob("*.nd")}
    return [w for w in ORDER if w in found] + sorted(found - set(ORDER))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Time Noodle against CPython and Lua 5.4 on the workloads in bench/workloads/.")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per implementation (default 5)")
    ap.add_argument("--hello-repeat", type=int, default=None,
                    help="timed runs for the start-up workload (default max(20, --repeat))")
    ap.add_argument("--only", default=None, help="comma-separated workloads, e.g. fib,loops")
    ap.add_argument("--json", metavar="OUT", help="write full results as JSON to OUT")
    ap.add_argument("--markdown", metavar="OUT", help="write a Markdown report to OUT")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds before one run is killed and counted as failed (default 600)")
    ap.add_argument("--noodle", metavar="PATH", help="noodle executable (default <repo>/.venv/bin/noodle)")
    ap.add_argument("--python", metavar="PATH", help="CPython executable (default: this interpreter)")
    ap.add_argument("--lua", metavar="NAME", help="Lua 5.4 interpreter (default lua5.4, then lua)")
    ap.add_argument("--no-lua", action="store_true", help="do not run the Lua versions")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.hello_repeat is None:
        args.hello_repeat = max(20, args.repeat)
    elif args.hello_repeat < 1:
        ap.error("--hello-repeat must be at least 1")
    available = discover()
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        unknown = [w for w in wanted if w not in available]
        if unknown:
            ap.error(f"unknown workload(s): {', '.join(unknown)}; available: {', '.join(available)}")
        args.workloads = [w for w in available if w in wanted]
    else:
        args.workloads = available
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for w in args.workloads:
            files = [f"{w}{ext}" for ext in (".nd", ".py", ".lua") if (WORKLOAD_DIR / f"{w}{ext}").is_file()]
            say(f"{w:10s} {' '.join(files)}")
        return 0

    impls = [find_noodle(args.noodle), find_cpython(args.python), find_lua(args.lua, args.no_lua)]
    for i in impls:
        if i.available:
            say(f"{i.key:8s} {' '.join(i.argv)}" + (f"   [{i.version}]" if i.version else ""))
        else:
            say(f"{i.key:8s} {'NOT MEASURED' if i.key == NOODLE else 'skipped'}: {i.why}")
    say()

    results: list[WorkloadResult] = []
    for name in args.workloads:
        n = args.hello_repeat if name == STARTUP_WORKLOAD else args.repeat
        say(f"== {name} ({n} timed run{'' if n == 1 else 's'} each)")
        wr = bench_workload(name, impls, n, args.timeout)
        for key, r in wr.results.items():
            if r.status == "ok":
                spread = f" (min {fmt_s(min(r.times))}, max {fmt_s(max(r.times))})" if r.times else ""
                warm = f", first run {fmt_s(r.warmup_s)}" if r.warmup_s is not None else ""
                say(f"   {key:8s} median {fmt_s(r.median)} s{spread}{warm}"
                    + (f"  [{r.message}]" if r.message else ""))
            elif r.status == "failed":
                say(f"   {key:8s} FAILED: {r.message}")
        results.append(wr)

    wr_hello = next((wr for wr in results if wr.name == STARTUP_WORKLOAD), None)
    startup = startup_summary(wr_hello)

    say()
    say(text_table(table_rows(results)))
    if startup:
        say()
        say(startup_text(startup))

    missing_noodle = not impls[0].available
    failures = [(wr.name, k, r.message) for wr in results for k, r in wr.results.items()
                if r.status == "failed"]
    mismatched = [wr.name for wr in results if wr.mismatches]
    if missing_noodle:
        say()
        say(f"noodle: {impls[0].why}; only the reference implementations were run.")
    if failures:
        say()
        say("failures:")
        for w, k, msg in failures:
            say(f"  {w} / {k}: {msg}")
    if mismatched:
        say()
        say(f"OUTPUT MISMATCH in: {', '.join(mismatched)} (see above; those ratios are invalid)")

    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(to_json(results, impls, args, startup), indent=2) + "\n")
        say(f"wrote {args.json}")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(to_markdown(results, impls, args, startup))
        say(f"wrote {args.markdown}")

    return 1 if (missing_noodle or failures or mismatched) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
