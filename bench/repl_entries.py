"""What one REPL entry costs as the session grows (issue 13: 150 entries must not cost quadratically).

A session is filled with definitions — functions, `var`s and structs in turn, each its own entry —
and at sizes 1, 50 and 150 the same small entries are timed (an expression over a variable, a call,
a new function): the median of `--repeat` runs each.  Run it under the bench lock at raised
priority (figures taken on a loaded machine are noise):

    flock /work/wt/bench.lock nice -n -15 .venv/bin/python bench/repl_entries.py
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

from noodle.tools.repl import Session

PROBES = {
    "expression": "v1 + 1",
    "call": "f3(4)",
    "assignment": "v1 = v1 + 1",
    "new fn": "fn probe(n: int) -> int { return n * 2 }",
}


def definition(i: int) -> str:
    kind = i % 3
    if kind == 0:
        return f"fn f{i}(n: int) -> int {{ return n + {i} }}"
    if kind == 1:
        return f"var v{i} = {i}"
    return f"struct S{i} {{ a: int; b: str\n    fn twice(self) -> int {{ return self.a * 2 }} }}"


def entry(session: Session, text: str) -> float:
    sink = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(sink):
        kept = session.evaluate(text, sink, sink)
    elapsed = time.perf_counter() - start
    if not kept:
        raise SystemExit(f"entry {text!r} failed:\n{sink.getvalue()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,50,150,300")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    session = Session()
    for probe in range(3):  # warm the compiler's caches (the first entry pays for imports)
        entry(session, definition(probe + 1))
    for text in PROBES.values():  # and each probe once: the first run of a code path is not the entry's cost
        entry(session, text)
    made = 3
    rows = []
    for size in sizes:
        while made < size:
            made += 1
            entry(session, definition(made))
        medians = {name: statistics.median(entry(session, text) for _ in range(args.repeat)) * 1000
                   for name, text in PROBES.items()}
        rows.append((size, medians))
    print("definitions | " + " | ".join(PROBES) + "   (median ms per entry)")
    for size, medians in rows:
        print(f"{max(size, 3):>11} | " + " | ".join(f"{medians[name]:.1f}" for name in PROBES))
    first, last = rows[0][1], rows[-1][1]
    print("ratio last/first: " + ", ".join(f"{name} {last[name] / first[name]:.2f}" for name in PROBES))


if __name__ == "__main__":
    main()
