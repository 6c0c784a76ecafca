"""examples/ale before and after library evolution: time per run, and each candidate's speedup.

    python bench/ale_example.py [SCALE] [--math exact]   (default 5: five times the example's default work)

Copies the example to a temporary folder; times `noodle run main.nd SCALE` with library evolution
off (median of 3), records 2 runs with capture, runs `noodle ale evolve --no-canary`, times the
evolved program (median of 3) and checks that it prints what the original printed; then prints the
registry's benchmark figures per candidate (measured at the recorded shapes).  `--math exact` is
passed to `noodle ale evolve` (translations without `@vector_math`: the exact native math).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOODLE = [sys.executable, "-c", "from noodle.tools.cli import main; main()"]


def noodle(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[str, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(NOODLE + args, cwd=cwd, capture_output=True, text=True, env=env, timeout=1800)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"noodle {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout, dt


def main() -> None:
    args = [a for a in sys.argv[1:] if a not in ("--math", "exact")]
    scale = args[0] if args else "5"
    math_mode = ["--math", "exact"] if "exact" in sys.argv[1:] else []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "ale"
        shutil.copytree(ROOT / "examples" / "ale", work,
                        ignore=shutil.ignore_patterns(".noodle", "__noodlecache__", "__pycache__"))
        env = {**os.environ, "NOODLE_ALE_DB": str(work / ".noodle" / "ale.sqlite")}
        off = {**env, "NOODLE_ALE": "off"}
        noodle(["run", "main.nd", scale], work, off)  # warm the module cache
        before = [noodle(["run", "main.nd", scale], work, off) for _ in range(3)]
        for _ in range(2):
            noodle(["run", "--ale-capture", "main.nd", scale], work, env)
        _, evolve_s = noodle(["ale", "evolve", "--no-canary", "--json", "--min-seconds", "0.01", *math_mode], work, env)
        noodle(["run", "main.nd", scale], work, env)  # first evolved run: native code compiled and cached
        after = [noodle(["run", "main.nd", scale], work, env) for _ in range(3)]
        same = {out for out, _ in before} | {out for out, _ in after}
        cands = json.loads(noodle(["ale", "candidates", "--json"], work, env)[0])
    t_before = statistics.median(dt for _, dt in before)
    t_after = statistics.median(dt for _, dt in after)
    print(f"examples/ale at scale {scale} (medians of 3 runs, process start included)")
    print(f"  output identical before and after: {len(same) == 1}")
    print(f"  time per run: {t_before:.2f} s before, {t_after:.2f} s after evolution ({t_before / t_after:.1f}x); "
          f"evolve took {evolve_s:.1f} s")
    print("  candidates (benchmark at the recorded shapes, the replacement served as live calls serve it):")
    for c in cands:
        b = c["benchmark"] or {}
        figure = (f"{b['original_ns'] / 1000:10.1f} µs -> {b['candidate_ns'] / 1000:9.1f} µs  {c['speedup']:8.1f}x"
                  if b else " " * 42)
        print(f"    #{c['id']} {c['name']:26s} {c['origin']:10s} {c['state']:9s} {figure}  {c['reason'][:60]}")
    plain = [c["benchmark"] for c in cands if c["origin"] == "transpiled" and c["state"] == "promoted"]
    if plain:
        before_ns, after_ns = sum(b["original_ns"] for b in plain), sum(b["candidate_ns"] for b in plain)
        print(f"  the promoted plain-Python functions together (the same benchmark inputs): "
              f"{before_ns / 1000:.1f} µs -> {after_ns / 1000:.1f} µs ({before_ns / after_ns:.1f}x)")


if __name__ == "__main__":
    main()
