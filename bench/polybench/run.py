"""PolyBench 4.2 in Noodle against NumPy and Numba, side by side in one run.

    .venv/bin/python bench/polybench/run.py [--size MEDIUM] [--only gemm,lu] [--repeat 5] [--explain]
                                            [--json OUT] [--markdown OUT]

For each kernel: the arrays are initialised by PolyBench's `init_array` (the Python loops, run by
Numba when it is installed); Noodle's own `init_array` must produce the very same arrays (checked
at MINI and SMALL, or always with --check-init). Then the kernel runs as Noodle (the loops as
PolyBench writes them), Numba (the same loops, @njit) and NumPy (vectorised); every result is
checked against the reference (Numba's run of the loops, else CPython's), and each contender is
timed on fresh copies of the same initialised arrays, call by call in turn (medians). The table
prints Noodle's time over the best peer's and the geometric mean of those ratios, and beside them
the first-run compile time: Noodle's compile + LLVM + link with an empty cache, Numba's first call
less one run. --explain adds `noodlec --explain` of every kernel file.

Exit status: 0 when every kernel compiled and every result agreed; 1 otherwise (the reason is in
the table); 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

import numpy as np  # noqa: E402

import noodle_side  # noqa: E402
import suite  # noqa: E402

#: a contender whose warm-up call takes longer than this is timed by that call alone
SLOW_CALL_S = 2.0
#: seconds of quiet before each kernel: OpenBLAS's threads spin for ~0.2 s after a BLAS call
SETTLE_S = 0.3


@dataclass
class Row:
    kernel: str
    native: bool | None = None          # is the Noodle kernel function native code?
    noodle_s: float | None = None
    numba_s: float | None = None
    numpy_s: float | None = None
    noodle_compile_s: float | None = None
    numba_compile_s: float | None = None
    checks: dict[str, str] = field(default_factory=dict)  # contender -> "ok ..." or the disagreement
    error: str | None = None
    checksum: float | None = None

    @property
    def best_peer_s(self) -> float | None:
        peers = [t for t in (self.numba_s, self.numpy_s) if t is not None]
        return min(peers) if peers else None

    @property
    def ratio(self) -> float | None:
        best = self.best_peer_s
        if self.noodle_s is None or best is None or best <= 0 or not self.checks.get("noodle", "").startswith("ok"):
            return None
        return self.noodle_s / best

    @property
    def agreed(self) -> bool:
        return self.error is None and all(v.startswith("ok") for v in self.checks.values())


def numba_or_none():
    try:
        import numba  # noqa: F401
        return numba
    except ImportError:
        return None


def copy_into(dst: dict[str, np.ndarray], src: dict[str, np.ndarray]) -> None:
    for name, array in src.items():
        np.copyto(dst[name], array)


def interleaved_medians(calls: list[tuple[Callable[..., Any], list[Any], dict[str, np.ndarray]]],
                        pristine: dict[str, np.ndarray], repeat: int, first_s: list[float]) -> list[float]:
    """Median time of each (function, args, its arrays), the contenders timed in turn, each call on
    arrays reset to `pristine` (untimed). A contender whose warm-up took over SLOW_CALL_S is not
    called again: its warm-up time stands (one sample)."""
    times: list[list[float]] = [[] for _ in calls]
    slow = [t > SLOW_CALL_S for t in first_s]
    for k, t in enumerate(first_s):
        if slow[k]:
            times[k].append(t)
    for r in range(repeat):
        for k in [(r + j) % len(calls) for j in range(len(calls))]:
            if slow[k]:
                continue
            fn, args, arrays = calls[k]
            copy_into(arrays, pristine)
            t = time.perf_counter()
            fn(*args)
            times[k].append(time.perf_counter() - t)
    return [statistics.median(ts) for ts in times]


def timed_call(fn: Callable[..., Any], args: list[Any]) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def run_kernel(k: suite.Kernel, size: str, repeat: int, numba: Any, check_init: bool, cache_root: str) -> Row:
    row = Row(k.name)
    # the reference initialisation: PolyBench's init_array loops (compiled by Numba when present)
    py_init = numba.njit(k.py.init_array) if numba else k.py.init_array
    ref = suite.instance(k, size, py_init)
    pristine = ref.arrays

    # Noodle: compile and load with an empty machine-code cache (a first run)
    try:
        loaded = noodle_side.load(k.source, tempfile.mkdtemp(dir=cache_root))
    except noodle_side.CompileFailed as e:
        row.error = f"Noodle: {e}"
        loaded = None
    if loaded is not None:
        row.noodle_compile_s = loaded.compile_s
        row.native = loaded.native(k.function)
        if check_init:
            mine = suite.instance(k, size, loaded.functions["init_array"])
            identical = mine.scalars == ref.scalars and suite.init_agrees(k, mine.arrays, pristine, exact=True)
            close = mine.scalars == ref.scalars and suite.init_agrees(k, mine.arrays, pristine, exact=False)
            row.checks["noodle init"] = "ok (identical)" if identical else \
                "ok (within rounding: a product run as BLAS)" if close else "differs from PolyBench's init_array"

    # the reference result: the same loops, by Numba (else CPython, feasible at small sizes only)
    reference = ref.fresh_arrays()
    contenders: list[tuple[str, Callable[..., Any], list[Any], dict[str, np.ndarray]]] = []
    first: dict[str, float] = {}
    numba_first_s = 0.0
    if numba:
        nb_kernel = numba.njit(k.py.kernel)
        numba_first_s = timed_call(nb_kernel, ref.kernel_args(reference))  # compiles, then runs
        first["numba"] = timed_call(nb_kernel, ref.kernel_args(ref.fresh_arrays()))  # compiled: the warm-up
        contenders.append(("numba", nb_kernel, ref.kernel_args(arrays := ref.fresh_arrays()), arrays))
    else:
        k.py.kernel(*ref.kernel_args(reference))
    row.checks["numba" if numba else "cpython"] = "ok (reference)"

    work = ref.fresh_arrays()
    first["numpy"] = timed_call(k.py.kernel_numpy, ref.kernel_args(work))
    agree = suite.compare(k, work, reference, initial=pristine)
    row.checks["numpy"] = ("ok " if agree.ok else "MISMATCH ") + agree.detail
    contenders.append(("numpy", k.py.kernel_numpy, ref.kernel_args(arrays := ref.fresh_arrays()), arrays))

    if loaded is not None:
        fn = loaded.functions[k.function]
        work = ref.fresh_arrays()
        try:
            first["noodle"] = timed_call(fn, ref.kernel_args(work))
        except Exception as e:  # noqa: BLE001 - a Noodle run-time error is a result to report
            row.error = f"Noodle: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        else:
            agree = suite.compare(k, work, reference, initial=pristine)
            row.checks["noodle"] = ("ok " if agree.ok else "MISMATCH ") + agree.detail
            row.checksum = suite.checksum(k, work)
            contenders.insert(0, ("noodle", fn, ref.kernel_args(arrays := ref.fresh_arrays()), arrays))

    time.sleep(SETTLE_S)
    medians = interleaved_medians([(f, a, arr) for _, f, a, arr in contenders], pristine, repeat,
                                  [first[name] for name, *_ in contenders])
    for (name, *_), median in zip(contenders, medians):
        setattr(row, f"{name}_s", median)
    if numba and row.numba_s is not None:
        row.numba_compile_s = max(0.0, numba_first_s - row.numba_s)
    return row


def fmt_ms(s: float | None) -> str:
    return "-" if s is None else (f"{s * 1000:.3f}" if s < 0.01 else f"{s * 1000:.1f}")


def geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def table(rows: list[Row], size: str, numba: Any) -> list[str]:
    head = (f"{'kernel':<16}{'native':>7}{'noodle ms':>12}{'numba ms':>11}{'numpy ms':>11}{'noodle/best':>13}"
            f"{'compile: noodle ms':>20}{'numba ms':>10}  check")
    lines = [f"PolyBench 4.2, {size} dataset" + ("" if numba else "  (Numba not installed: no Numba column)"), head]
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        native = "-" if r.native is None else ("yes" if r.native else "VM")
        bad = [f"{who}: {what}" for who, what in r.checks.items() if not what.startswith("ok")]
        check = r.error or ("; ".join(bad) if bad else "ok")
        lines.append(f"{r.kernel:<16}{native:>7}{fmt_ms(r.noodle_s):>12}{fmt_ms(r.numba_s):>11}{fmt_ms(r.numpy_s):>11}"
                     f"{ratio:>13}{fmt_ms(r.noodle_compile_s):>20}{fmt_ms(r.numba_compile_s):>10}  {check}")
    ratios = [r.ratio for r in rows if r.ratio is not None]
    g = geomean(ratios)
    at_or_under = sum(1 for x in ratios if x <= 1.0)
    natives = sum(1 for r in rows if r.native)
    lines.append("")
    lines.append(f"geometric mean of noodle/best peer: {'-' if g is None else f'{g:.2f}x'} over {len(ratios)} kernels; "
                 f"{at_or_under} at or under 1.0x; {natives} of {len(rows)} kernel functions native")
    compile_total = sum(r.noodle_compile_s or 0.0 for r in rows)
    numba_total = sum(r.numba_compile_s or 0.0 for r in rows)
    lines.append(f"first-run compile time, whole suite: Noodle {compile_total:.1f} s"
                 + (f", Numba {numba_total:.1f} s" if numba else ""))
    return lines


def markdown(rows: list[Row], size: str) -> str:
    out = [f"| kernel | native | Noodle ms | Numba ms | NumPy ms | Noodle / best peer | Noodle compile ms | Numba compile ms |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = r.error or ("-" if r.ratio is None else f"{r.ratio:.2f}x")
        native = "-" if r.native is None else ("yes" if r.native else "VM")
        out.append(f"| {r.kernel} | {native} | {fmt_ms(r.noodle_s)} | {fmt_ms(r.numba_s)} | {fmt_ms(r.numpy_s)} | "
                   f"{ratio} | {fmt_ms(r.noodle_compile_s)} | {fmt_ms(r.numba_compile_s)} |")
    ratios = [r.ratio for r in rows if r.ratio is not None]
    g = geomean(ratios)
    out.append("")
    out.append(f"{size}: geometric mean {'-' if g is None else f'{g:.2f}x'} over {len(ratios)} kernels, "
               f"{sum(1 for x in ratios if x <= 1.0)} at or under 1.0x, "
               f"{sum(1 for r in rows if r.native)} of {len(rows)} kernel functions native; "
               f"Noodle first-run compile {sum(r.noodle_compile_s or 0 for r in rows):.1f} s for the suite.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="MEDIUM", type=str.upper, choices=suite.SIZE_NAMES)
    ap.add_argument("--only", help="comma-separated kernel names (PolyBench's, e.g. floyd-warshall)")
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per contender (default 5)")
    ap.add_argument("--explain", action="store_true", help="print `noodlec --explain` of every kernel")
    ap.add_argument("--check-init", action="store_true",
                    help="compare Noodle's init_array with PolyBench's at any size (default: MINI and SMALL)")
    ap.add_argument("--no-numba", action="store_true", help="leave Numba out")
    ap.add_argument("--json", help="write the rows as JSON")
    ap.add_argument("--markdown", help="write the table as Markdown")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    try:
        chosen = suite.kernels(args.only.split(",") if args.only else None)
    except KeyError as e:
        ap.error(f"unknown kernel(s): {e.args[0]}; the suite: {', '.join(k.name for k in suite.kernels())}")
    numba = None if args.no_numba else numba_or_none()
    if numba is None and args.size in ("MEDIUM", "LARGE"):
        print("note: without Numba the reference runs the loops in CPython, which takes long at this size",
              file=sys.stderr)
    check_init = args.check_init or args.size in ("MINI", "SMALL")

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as cache_root:
        for k in chosen:
            print(f"  {k.name} ...", file=sys.stderr, flush=True)
            rows.append(run_kernel(k, args.size, args.repeat, numba, check_init, cache_root))
    print("\n".join(table(rows, args.size, numba)))
    print("(times are medians of in-process calls; on a shared, loaded machine the ratios are indicative)")

    if args.explain:
        print("\n== noodlec --explain ==")
        for k in chosen:
            print(f"\n# {k.name} ({k.source.name})")
            print("\n".join(noodle_side.explain(k.source)))
    if args.json:
        Path(args.json).write_text(json.dumps({"size": args.size, "rows": [asdict(r) | {"ratio": r.ratio} for r in rows]},
                                              indent=2))
    if args.markdown:
        Path(args.markdown).write_text(markdown(rows, args.size))
    return 0 if all(r.agreed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
