"""Hostile programs under limits: each stopped within its limit's bounds, memory given back, the host going on.

Every program here does unbounded work in few steps (a doubling string or list, a huge Array, a
search over a long string in a loop, ...).  What must happen: `LimitExceeded`; the call's peak
memory growth under twice the memory limit (measured in a fresh process, whose peak is its own);
the memory given back afterwards; the same VM answering the next call.  What must not: a crash,
a MemoryError, the call returning.  Which of two limits fires first is not asserted, and time is
checked only against a generous bound (five times the limit: the bugs these guard against ran
for 41 s against 1 s).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import noodle
from noodle.vm import limits as limits_module
from helpers import HANG_S

HOSTILE = {
    "doubling string": 'var s = "ab"\nfor i in 0..40 { s = s + s }\nreturn len(s)',
    "doubling list": "var xs = [1, 2]\nfor i in 0..40 { xs = xs + xs }\nreturn len(xs)",
    "doubling interpolation": 'var s = "ab"\nfor i in 0..40 { s = "{s}{s}" }\nreturn len(s)',
    "huge array": "let a = ones(8000, 8000)\nreturn len(a)",
    "array arithmetic": "var a = zeros(4000000)\nfor i in 0..100000 { a = a + 1.0 }\nreturn len(a)",
    "many 1 MB strings": 'var xs: List<str> = []\nfor i in 0..1500 { xs.append("x" * 1000000 + str(i)) }\n'
                         "return len(xs)",
    "repeated search": 'let s = "ab" * 5000000\nvar n = 0\nfor i in 0..1900 { n = n + s.count("ba") }\nreturn n',
    "repeated membership": 'let s = "ab" * 5000000\nvar n = 0\nfor i in 0..1900 { if "bb" in s { n = n + 1 } }\n'
                           "return n",
    "growing replace": 'var s = "a" * 1000\nfor i in 0..40 { s = s.replace("a", "aaaa") }\nreturn len(s)',
    "text of a shared string": 'let big = "x" * 1000000\nvar xs: List<str> = []\nfor i in 0..2000 { xs.append(big) }\n'
                               "return len(str(xs))",
    "join of a shared string": 'let big = "x" * 1000000\nvar xs: List<str> = []\nfor i in 0..2000 { xs.append(big) }\n'
                               'return len(", ".join(xs))',
    "repeated sort": "var xs: List<int> = []\nfor i in 0..300000 { xs.append((i * 7919) % 300007) }\n"
                     "var n = 0\nfor k in 0..100000 { n = n + sorted(xs)[0] }\nreturn n",
    "repeated slice": "var xs: List<int> = []\nfor i in 0..1000000 { xs.append(i) }\nvar n = 0\n"
                      "for k in 0..100000 { n = n + len(xs[1:]) }\nreturn n",
    # comparisons touch their operands up to the first difference: equal halves are compared whole
    "equal long strings": 'var s = "ab"\nfor i in 0..22 { s = s + s }\nlet t = s + ""\nvar n = 0\n'
                          "for k in 0..200000 { if s == t { n = n + 1 } }\nreturn n",
    "ordered long lists": "var xs: List<int> = []\nfor i in 0..1000000 { xs.append(i) }\nlet ys = xs.copy()\n"
                          "var n = 0\nfor k in 0..200000 { if xs < ys or xs <= ys { n = n + 1 } }\nreturn n",
    "nested equality": "var xs: List<List<str>> = []\nfor i in 0..200 { xs.append([\"x\" * 10000, str(i)]) }\n"
                       "let ys = xs.copy()\nvar n = 0\nfor k in 0..200000 { if xs == ys { n = n + 1 } }\nreturn n",
    "sort of long strings": 'let s = "x" * 200000\nvar xs: List<str> = []\nfor i in 0..200 { xs.append(s + str(i % 13)) }\n'
                            "var n = 0\nfor k in 0..100000 { n = n + len(sorted(xs)) }\nreturn n",
    "maximum of long strings": 'let s = "x" * 200000\nvar xs: List<str> = []\nfor i in 0..200 { xs.append(s + str(i)) }\n'
                               "var n = 0\nfor k in 0..100000 { n = n + len(max(xs)) }\nreturn n",
    # the operations below were each one step (or charged by characters only) before the audit
    "stderr text of a shared string": 'let big = "x" * 1000000\nvar xs: List<str> = []\n'
                                      "for i in 0..2000 { xs.append(big) }\neprint(xs)\nreturn 0",
    "repeated shuffle": "var xs: List<int> = []\nfor i in 0..1000000 { xs.append(i) }\n"
                        "for k in 0..100000 { random.shuffle(xs) }\nreturn xs[0]",
    # 3M pieces of 2 characters: ~200 MB of string objects from a 9 MB string
    "split into many strings": 'let s = "ab," * 3000000\nreturn len(s.split(","))',
    "split on spaces into many strings": 'let s = "ab " * 3000000\nreturn len(s.split())',
    "pop from the front": "var xs = [1, 2]\nfor i in 0..21 { xs = xs + xs }\nvar n = 0\n"
                          "for k in 0..1000000 { n = n + xs.pop(0)\n xs.append(1) }\nreturn n",
    "parse a long int": 'let s = " " * 5000000 + "1"\nvar n = 0\nfor k in 0..100000 { n = n + int(s) }\nreturn n',
    "parse a long float": 'let s = "1" * 5000000\nvar x = 0.0\nfor k in 0..100000 { x = x + float(s) }\n'
                          "return int(x)",
}
SECONDS, MEMORY_MB = 1.0, 64

DRIVER = """
import json, resource, sys, time
import noodle
from noodle.vm.limits import resident_bytes
body = sys.argv[1]
vm = noodle.VM(limits=noodle.Limits(max_seconds=float(sys.argv[2]), max_memory_mb=float(sys.argv[3])))
m = vm.load(noodle.Source("import random\\nimport sys\\nfn hostile() -> int {\\n" + body + "\\n}\\nfn ok() -> int { return 42 }\\n", name="h"))
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = resident_bytes()
t0 = time.perf_counter()
try:
    outcome = {"returned": m.hostile()}
except noodle.LimitExceeded as e:
    outcome = {"limit": e.limit}
outcome["seconds"] = time.perf_counter() - t0
outcome["peak_growth"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
outcome["kept"] = resident_bytes() - base
outcome["after"] = m.ok()
print(json.dumps(outcome))
"""


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_program_is_stopped(name: str) -> None:
    proc = subprocess.run([sys.executable, "-c", DRIVER, HOSTILE[name], str(SECONDS), str(MEMORY_MB)],
                          capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    limit_bytes = MEMORY_MB * 1024 * 1024
    assert "limit" in out, f"the program ran to its end: {out}"
    assert out["limit"] in ("seconds", "memory", "steps")
    assert out["peak_growth"] < 2 * limit_bytes, out
    assert out["kept"] < limit_bytes, out  # what the call built is given back
    assert out["seconds"] < 5 * SECONDS, out
    assert out["after"] == 42  # the host goes on with the same VM


def _vm(**limits: float) -> object:
    return noodle.VM(limits=noodle.Limits(**limits))


def test_a_time_limit_fires_on_cpu_bound_code() -> None:
    """Only the time limit can stop this loop (no steps or memory limit is set)."""
    m = _vm(max_seconds=0.3).load(noodle.Source("fn spin() -> int {\n var i = 0\n while true { i = i + 1 }\n"
                                                " return i\n}", name="spin"))
    with pytest.raises(noodle.LimitExceeded) as e:
        m.spin()
    assert e.value.limit == "seconds"


@pytest.mark.parametrize("max_steps", [1, 100, 1499])
def test_a_step_limit_is_exact(max_steps: int) -> None:
    """A 1,500-iteration loop is 1,501 steps (the call and its iterations): any lower limit stops it."""
    m = _vm(max_steps=max_steps).load(noodle.Source("fn loop() -> int {\n var s = 0\n"
                                                    " for i in 0..1500 { s = s + i }\n return s\n}", name="l"))
    with pytest.raises(noodle.LimitExceeded) as e:
        m.loop()
    assert e.value.limit == "steps"
    assert _vm(max_steps=1501).load(noodle.Source("fn loop() -> int {\n var s = 0\n for i in 0..1500 { s = s + i }\n"
                                                  " return s\n}", name="l")).loop() == 1124250


def test_a_short_call_is_checked_at_its_first_step() -> None:
    """One step that would allocate past the limit is refused before it allocates."""
    m = _vm(max_memory_mb=16).load(noodle.Source("fn big() -> int { return len(zeros(100000000)) }", name="b"))
    with pytest.raises(noodle.LimitExceeded) as e:
        m.big()
    assert e.value.limit == "memory"


def test_work_is_charged_as_steps() -> None:
    """A search over 1M characters costs ~15,600 steps, not one: a 10,000-step budget stops the second."""
    m = _vm(max_steps=10_000).load(noodle.Source(
        'fn f() -> int {\n let s = "ab" * 500000\n return s.count("ba") + s.count("ab")\n}', name="w"))
    with pytest.raises(noodle.LimitExceeded) as e:
        m.f()
    assert e.value.limit == "steps"


def test_a_memory_limit_that_cannot_be_measured_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_module, "resident_bytes", lambda: None)
    with pytest.raises(ValueError, match="max_memory_mb cannot be enforced here"):
        noodle.VM(limits=noodle.Limits(max_memory_mb=64))
    noodle.VM(limits=noodle.Limits(max_seconds=1))  # the other limits need no measurement


def test_an_operation_is_charged_for_its_own_work_only() -> None:
    """A two-element slice of a long list, or a search in a short string, costs next to nothing."""
    m = _vm(max_steps=20_000).load(noodle.Source(
        "fn f(xs: List<int>) -> int {\n var n = 0\n for k in 0..1000 { n = n + len(xs[0:2]) }\n return n\n}",
        name="cheap"))
    assert m.f(list(range(1_000_000))) == 2000


def test_a_comparison_is_charged_by_the_size_it_compares() -> None:
    """Two equal strings of 640,000 characters cost 10,000 steps a comparison; a long string against
    a short one, or two ints, next to nothing."""
    source = ('fn same(k: int) -> int {\n let s = "ab" * 320000\n let t = "ab" * 320000\n var n = 0\n'
              ' for i in 0..k { if s == t { n = n + 1 } }\n return n\n}\n'
              'fn short(k: int) -> int {\n let s = "ab" * 320000\n var n = 0\n'
              ' for i in 0..k { if s < "b" and s != "a" { n = n + 1 } }\n return n\n}\n'
              'fn ints(k: int) -> int {\n var n = 0\n for i in 0..k { if i == n { n = n + 1 } }\n return n\n}\n')
    m = _vm(max_steps=60_000).load(noodle.Source(source, name="cmp"))
    assert m.same(2) == 2
    with pytest.raises(noodle.LimitExceeded) as e:
        m.same(6)
    assert e.value.limit == "steps"
    assert m.short(1000) == 1000
    assert m.ints(10_000) == 10_000


def test_charged_natives_still_compute_what_they_did() -> None:
    """The operations charged since the second audit (splits, `pop(i)`, parsing, shuffling, eprint)
    give the same results under limits as without."""
    source = ('import random\nfn f() -> str {\n let words = " a  b\\tc\\u{3000}d ".split()\n'
              ' let parts = "1,,2".split(",")\n var xs = [1, 2, 3, 4]\n let first = xs.pop(0)\n'
              ' let last = xs.pop(-1)\n random.seed(3)\n random.shuffle(xs)\n eprint(words)\n'
              ' return "{words} {parts} {first} {last} {len(xs)} {int(" 12 ")} {float("1.5")}"\n}\n')
    expected = noodle.VM().load(noodle.Source(source, name="c")).f()
    assert expected == '["a", "b", "c", "d"] ["1", "", "2"] 1 4 2 12 1.5'
    limited = _vm(max_steps=100_000, max_seconds=10, max_memory_mb=64).load(noodle.Source(source, name="c"))
    assert limited.f() == expected


@pytest.mark.parametrize("readable_measures", [0, 1, 3])
def test_a_memory_measure_that_fails_mid_call_stops_the_call(monkeypatch: pytest.MonkeyPatch,
                                                            readable_measures: int) -> None:
    """The memory limit fails closed: once resident memory cannot be read (at the call's start, or
    after some measures), the call stops with the memory limit's error — never runs unmeasured."""
    m = _vm(max_memory_mb=64).load(noodle.Source(
        # a List keeps the loop in the VM, whose steps measure memory once per chunk of 2,000
        "fn spin(n: int) -> int {\n var xs: List<int> = []\n for i in 0..n { xs.append(i) }\n return len(xs)\n}",
        name="mem"))
    assert m.spin(100_000) == 100_000  # measured as usual
    real = limits_module.resident_bytes
    measures = iter(range(readable_measures))
    monkeypatch.setattr(limits_module, "resident_bytes", lambda: real() if next(measures, None) is not None else None)
    with pytest.raises(noodle.LimitExceeded, match="cannot be enforced") as e:
        m.spin(100_000)
    assert e.value.limit == "memory"
    monkeypatch.setattr(limits_module, "resident_bytes", real)
    assert m.spin(10) == 10  # the VM goes on once memory can be measured again
