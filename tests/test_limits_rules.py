"""The meter's rules and the costs of operations, checked directly (test_trust_limits.py runs whole programs).

The budget arithmetic of `noodle.vm.limits.Meter` (chunks, exact step counts, the deadline, the
memory growth) and the cost functions of `noodle.vm.metering` are what make a limit exact; each is
checked here in-process against what the operation really does, without any timing.
"""
from __future__ import annotations

import pytest

import noodle
from noodle.vm import limits as L
from noodle.vm import metering as M


# -- settings ---------------------------------------------------------------------------------------

def test_capabilities_grant_nothing_by_default_and_everything_when_asked() -> None:
    none, every = L.Capabilities(), L.Capabilities.all()
    fields = ("fs_read", "fs_write", "stdin", "env", "py_import", "network")
    assert [getattr(none, f) for f in fields] == [False] * 6
    assert [getattr(every, f) for f in fields] == [True] * 6
    assert none.grants(None) and every.grants(None)  # a native that needs nothing
    assert not none.grants("fs_read") and every.grants("fs_read")
    assert not every.grants("no_such_capability")
    assert L.Capabilities(env=1).env is True  # truthy values are kept as booleans
    assert [getattr(L.Capabilities(False, True), f) for f in fields] == [False, True, False, False, False, False]


def test_settings_are_immutable_values() -> None:
    a, b = L.Limits(max_steps=5, max_seconds=1.5), L.Limits(max_steps=5, max_seconds=1.5)
    assert a == b and hash(a) == hash(b)
    assert a != L.Limits(max_steps=6, max_seconds=1.5) and a != L.Limits(max_steps=5)
    assert L.Limits() != L.Capabilities()  # another kind of setting is never equal
    assert repr(a) == "Limits(max_steps=5, max_seconds=1.5, max_memory_mb=None, max_depth=None)"
    assert repr(L.Capabilities(stdin=True)) == ("Capabilities(fs_read=False, fs_write=False, stdin=True, env=False, "
                                                "py_import=False, network=False)")
    with pytest.raises(AttributeError, match="Limits is immutable"):
        a.max_steps = 7  # type: ignore[misc]
    assert a.max_steps == 5


@pytest.mark.parametrize("field", ["max_steps", "max_seconds", "max_memory_mb", "max_depth"])
def test_a_negative_limit_is_refused_and_zero_is_a_limit(field: str) -> None:
    with pytest.raises(ValueError) as e:
        L.Limits(**{field: -1})
    assert str(e.value) == f"{field} must not be negative"
    zero = L.Limits(**{field: 0})
    assert getattr(zero, field) == 0 and zero.any
    assert not L.Limits().any


def test_a_limit_signal_is_no_exception_noodle_code_could_catch() -> None:
    sig = L.LimitSignal("steps", "step limit exceeded (5 steps)")
    assert not isinstance(sig, Exception)
    assert (sig.limit, sig.message, str(sig)) == ("steps", "step limit exceeded (5 steps)",
                                                  "step limit exceeded (5 steps)")


def test_resident_memory_is_measured_in_bytes() -> None:
    rss = L.resident_bytes()
    with open("/proc/self/status") as f:  # the kernel's own figure for the same thing, in kB
        vm_rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    assert rss is not None and rss % L._PAGE == 0
    assert abs(rss - vm_rss) < 1 << 20  # resident, not shared, pages (read a moment apart)


# -- the meter ---------------------------------------------------------------------------------------

def started(**limits: float) -> L.Meter:
    m = L.Meter(L.Limits(**limits))
    m.start()
    return m


def spend(m: L.Meter, steps: int) -> None:
    """What metered code does: one decrement per step, a refill when the chunk is used up."""
    for _ in range(steps):
        m.steps -= 1
        if m.steps < 0:
            m.refill()


def test_a_call_starts_with_an_empty_chunk_and_its_budget_is_exact() -> None:
    m = started(max_steps=4500)
    assert (m.active, m.steps, m.granted, m.used, m.depth) == (True, 0, 0, 0, 0)
    spend(m, 1)
    assert (m.used, m.granted, m.steps) == (1, L.CHUNK, L.CHUNK)  # the first step checked the whole budget
    spend(m, 4499)  # 4,500 steps in all: exactly the limit
    with pytest.raises(L.LimitSignal) as e:
        spend(m, 1)
    assert (e.value.limit, e.value.message) == ("steps", "step limit exceeded (4,500 steps)")
    assert m.used == 4501 and m.steps == 0 and m.granted == 0


def test_a_chunk_never_goes_past_the_step_limit() -> None:
    m = started(max_steps=3)
    spend(m, 1)
    assert (m.granted, m.steps) == (2, 2)
    spend(m, 2)
    with pytest.raises(L.LimitSignal):
        spend(m, 1)
    assert started(max_steps=0)._next_chunk() == 0
    unlimited = started(max_seconds=100)
    spend(unlimited, 10_000)
    assert unlimited.used + unlimited.granted - unlimited.steps == 10_000 and unlimited.granted == L.CHUNK
    assert unlimited.max_depth == 1 << 30 and unlimited.deadline is not None


def test_a_new_call_gets_a_fresh_budget() -> None:
    m = started(max_steps=10, max_depth=7)
    spend(m, 10)
    m.depth = 3
    m.stop()
    assert not m.active
    m.start()
    assert (m.used, m.depth, m.max_depth, m.steps, m.granted) == (0, 0, 7, 0, 0)
    spend(m, 10)


def test_the_deadline_fires_once_passed_and_not_before(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(L.time, "perf_counter", lambda: now[0])
    m = started(max_seconds=2)
    assert m.deadline == 1002.0
    now[0] = 1002.0
    m.check_time()  # exactly at the deadline: still in time
    spend(m, 1)
    now[0] = 1002.5
    with pytest.raises(L.LimitSignal) as e:
        m.check_time()
    assert (e.value.limit, e.value.message) == ("seconds", "time limit exceeded (2 s)")
    spend(m, L.CHUNK)  # the rest of the chunk: no check
    with pytest.raises(L.LimitSignal) as e:
        spend(m, 1)  # the next refill checks the time
    assert e.value.limit == "seconds"
    assert started().deadline is None


def test_sleep_wakes_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [50.0]
    slept: list[float] = []

    def fake_sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    monkeypatch.setattr(L.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(L.time, "sleep", fake_sleep)
    m = started(max_seconds=1)
    m.sleep(0.25)
    assert slept == [0.25]
    m.sleep(0.75)  # exactly the time left: not past the deadline
    assert slept == [0.25, 0.75]
    with pytest.raises(L.LimitSignal) as e:
        m.sleep(5)  # past it: sleeps only to the deadline
    assert slept == [0.25, 0.75, 0.0] and e.value.limit == "seconds"
    free = started()
    free.sleep(-1)  # never a negative sleep
    assert slept[-1] == 0.0


def test_memory_is_the_growth_since_the_call_began(monkeypatch: pytest.MonkeyPatch) -> None:
    rss = [100 << 20]
    monkeypatch.setattr(L, "resident_bytes", lambda: rss[0])
    m = started(max_memory_mb=2)
    assert (m.memory_base, m.memory_limit) == (100 << 20, 2 << 20)
    m.check_memory(2 << 20)  # exactly the limit: allowed
    with pytest.raises(L.LimitSignal) as e:
        m.check_memory((2 << 20) + 1)
    assert (e.value.limit, e.value.message) == ("memory", "memory limit exceeded (2 MB) (an operation needs 2 MB more)")
    with pytest.raises(L.LimitSignal) as e:
        m.check_memory(1048575 * 3)
    assert e.value.message == "memory limit exceeded (2 MB) (an operation needs 3 MB more)"
    with pytest.raises(L.LimitSignal) as e:
        m.check_memory(1572864 * 2)  # 3 MB exactly
    assert e.value.message == "memory limit exceeded (2 MB) (an operation needs 3 MB more)"
    with pytest.raises(L.LimitSignal) as e:
        m.check_memory(1572864 + (2 << 20))  # 3.5 MB: rounded to the even 4
    assert e.value.message == "memory limit exceeded (2 MB) (an operation needs 4 MB more)"
    rss[0] += (2 << 20) - 10
    with pytest.raises(L.LimitSignal) as e:
        m.check_memory(11)
    assert e.value.message == "memory limit exceeded (2 MB)"  # under 1 MB needed: no figure
    with pytest.raises(L.LimitSignal) as e:
        m.check_memory(1 << 20)  # 1 MB exactly: the figure is given
    assert e.value.message == "memory limit exceeded (2 MB) (an operation needs 1 MB more)"
    with pytest.raises(L.LimitSignal) as e:
        m.check_memory(1572864)  # 1.5 MB: rounded to the even 2
    assert e.value.message == "memory limit exceeded (2 MB) (an operation needs 2 MB more)"
    spend(m, 1)  # the refill checks the growth so far, which is still under
    rss[0] += 11
    with pytest.raises(L.LimitSignal) as e:
        spend(m, L.CHUNK + 1)
    assert e.value.limit == "memory"


def test_a_charge_checks_large_allocations_at_once_and_counts_work_as_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    rss = [0]
    monkeypatch.setattr(L, "resident_bytes", lambda: rss[0])
    m = started(max_memory_mb=1, max_steps=10_000)
    spend(m, 1)
    m.charge(L.WORK_PER_STEP * 10, L.LARGE_ALLOCATION - 1)
    assert m.steps == L.CHUNK - 10
    m.charge(L.WORK_PER_STEP - 1)  # under one step's work: free
    assert m.steps == L.CHUNK - 10
    with pytest.raises(L.LimitSignal) as e:
        m.charge(0, (1 << 20) + 1)
    assert e.value.limit == "memory"
    m.charge(0, 1 << 20)  # exactly the limit
    m.charge(L.WORK_PER_STEP * (L.CHUNK - 10))
    assert m.steps == 0
    m.charge(L.WORK_PER_STEP)  # below zero: refilled
    assert m.used == 1 + 10 + (L.CHUNK - 10) + 1 and m.steps == L.CHUNK
    rss[0] = (1 << 20) - L.LARGE_ALLOCATION + 1
    with pytest.raises(L.LimitSignal):
        m.charge(0, L.LARGE_ALLOCATION)  # exactly a large allocation: measured at once
    m.charge(0, L.LARGE_ALLOCATION - 1)  # a smaller one waits for the next refill
    small = started(max_steps=10_000)  # no memory limit: large allocations are not measured
    small.charge(0, 1 << 40)


def test_a_memory_limit_needs_a_measurable_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "resident_bytes", lambda: None)
    with pytest.raises(L.LimitUnavailable) as e:
        L.Meter(L.Limits(max_memory_mb=1))
    assert str(e.value).startswith("max_memory_mb cannot be enforced here")
    assert L.Meter(L.Limits(max_steps=1)).memory_limit is None


def test_the_depth_limit_names_its_bound() -> None:
    m = started(max_depth=12)
    with pytest.raises(L.LimitSignal) as e:
        m.too_deep()
    assert (e.value.limit, e.value.message) == ("depth", "call depth limit exceeded (12 calls)")


def test_a_vm_call_deeper_than_its_limit_stops() -> None:
    vm = noodle.VM(limits=noodle.Limits(max_depth=50))
    m = vm.load(noodle.Source("fn down(n: int) -> int {\n if n == 0 { return 0 }\n return down(n - 1) + 1\n}",
                              name="deep"))
    assert m.down(40) == 40
    with pytest.raises(noodle.LimitExceeded) as e:
        m.down(60)
    assert e.value.limit == "depth"


# -- the costs of operations -----------------------------------------------------------------------

def test_text_is_costed_one_byte_a_character_only_when_ascii() -> None:
    assert M._text_bytes(10, "abc", "de") == 10
    assert M._text_bytes(10, "abc", "dé") == 40
    assert M._text_bytes(3, 5, "ab") == 3  # non-strings among the parts are not text


@pytest.mark.parametrize("value", ["abc", 12345, 1.5, True, None, [1, "two", [3.0]], ("a", 2), {1, 2},
                                   {"k": [1, 2], "v": "x"}, [], {}])
def test_the_size_of_a_value_as_text_is_at_least_its_text(value: object) -> None:
    size = M.repr_size(value, 1 << 40)
    assert len(str(value)) <= size <= 24 * (len(str(value)) + 2)


def test_the_size_of_a_large_value_as_text_stops_past_its_budget() -> None:
    big = ["x" * 10] * 1000
    assert M.repr_size(big, 1 << 40) == 2 + 1000 * 14
    cut = M.repr_size(big, 100)
    assert 100 < cut <= 100 + 14
    assert 100 < M.repr_size({i: "x" * 10 for i in range(1000)}, 100) <= 100 + 24 + 12 + 4


def test_the_size_of_an_array_and_of_a_struct_as_text() -> None:
    import numpy as np

    assert M.repr_size(np.zeros((2, 3)), 1 << 40) == 24 * 6 + 16

    class Point:
        __slots__ = ("x", "name")

        def __init__(self) -> None:
            self.x, self.name = 1, "abcdef"

    assert M.repr_size(Point(), 1 << 40) == 16 + 24 + 1 + 8 + 4
    assert M.repr_size(object(), 1 << 40) == 16


@pytest.mark.parametrize("dims, elements", [((3, 4), 12), ((5,), 5), ((), 0), ((3, -2), 0), ((2, "x"), 0),
                                            ((2, 2.0), 0)])
def test_the_elements_of_an_array_of_given_dimensions(dims: tuple, elements: int) -> None:
    assert M._shape_size(dims) == elements


def test_the_elements_of_a_broadcast_result() -> None:
    import numpy as np

    for shapes in [((3, 4), (4,)), ((3, 1), (1, 5)), ((2, 3, 4), (3, 4)), ((6,), ())]:
        args = [np.zeros(s) for s in shapes]
        assert M._broadcast_size(*args) == np.broadcast(*args).size
    assert M._broadcast_size(1.0, 2) == 1
    assert M._elementwise(np.zeros((3, 4)), 1.0) == (12, 96)


@pytest.mark.parametrize("args", [(10,), (2, 10), (0, 10, 3), (10, 0, -2), (0.0, 1.0, 0.25), (5, 5), (0, 10, 0),
                                  ("a",)])
def test_an_arange_is_costed_at_least_its_elements(args: tuple) -> None:
    import numpy as np

    work, nbytes = M._arange(*args)
    try:
        real = len(np.arange(*args)) if args[-1] != 0 or len(args) < 3 else 0
    except TypeError:
        real = 0
    assert real <= work <= real + 1 and nbytes == 8 * work


def test_a_matrix_product_is_costed_by_its_multiplications() -> None:
    import numpy as np

    assert M._matmul(np.zeros((3, 4)), np.zeros((4, 5))) == (60, 120)
    assert M._matmul(np.zeros((3, 4)), np.zeros(4)) == (12, 24)
    assert M._matmul(np.zeros(4), np.zeros((4, 5))) == (20, 40)
    assert M._matmul(np.zeros(4), np.zeros(4)) == (4, 8)


@pytest.mark.parametrize("s, old, new", [("aaaa", "a", "bbb"), ("abab", "ab", "x"), ("abc", "", "--"),
                                         ("héllo", "l", "LL"), ("xyz", "q", "qqqq")])
def test_a_replace_is_costed_at_least_its_result(s: str, old: str, new: str) -> None:
    work, nbytes = M._replace(s, old, new)
    result = s.replace(old, new)
    assert work >= len(s) + len(result)
    assert nbytes >= len(result.encode("utf-8"))
    assert work <= len(s) + len(s) + (len(s) + 1) * max(0, len(new) - len(old))


def test_a_join_is_costed_by_its_result() -> None:
    assert M._join(", ", ["ab", "cde"]) == (7, 7)
    assert M._join("", iter(["é", "x"])) == (2, 8)
    assert M._join("-", []) == (0, 0)


def test_sorts_copies_and_searches_are_costed_by_their_operands() -> None:
    xs = list(range(1000))
    work, nbytes = M._sort(xs)
    assert 1000 * 10 <= work <= 1001 * 10 and nbytes == 8000  # n log2(n) comparisons of small elements
    assert M._sort([])[1] == 0 and M._sort([5])[1] == 8
    assert M._linear(xs, 3) == (1000, 0)
    assert M._linear(5) == (0, 0)
    assert M._copy("héllo") == (5, 20)
    assert M._copy(xs) == (1000, 8000)
    assert M._copy({1: 2, 3: 4}) == (2, 64)
    assert M._search("abcdef", "cd") == (8, 0)
    assert M._to_text([1, 2]) == (54, 216)


def test_every_cost_is_a_pair_of_counts() -> None:
    import numpy as np

    probes = {"str": ("abc",), "print": ("a", 1), "eprint": ("a", 1), "str.split1": ("a,b", ","),
              "list.pop_at": ([1, 2, 3, 4], 1), "int.str": ("12",), "list.extend": ([1], [2, 3]), "map.items": ({1: 2},),
              "enumerate": ([1, 2],), "zip": ([1, 2, 3], [4]), "array.zeros": (2, 3), "array.full.int": (2, 3, 7),
              "array.linspace": (0.0, 1.0, 5), "array.iter": (np.zeros(4),), "array.sum.int": (np.zeros(4),),
              "array.mean": (np.zeros(4),)}
    expected = {"str": (5, 20), "print": (27, 108), "eprint": (27, 108), "str.split1": (3, 147),
                "list.pop_at": (3, 0), "int.str": (2, 2), "list.extend": (2, 16), "map.items": (1, 64), "enumerate": (2, 144),
                "zip": (1, 64), "array.zeros": (6, 48), "array.full.int": (6, 48), "array.linspace": (5, 40),
                "array.iter": (4, 128), "array.sum.int": (4, 0), "array.mean": (4, 0)}
    assert {name: M.COSTS[name](*args) for name, args in probes.items()} == expected


class Recorder:
    def __init__(self) -> None:
        self.charges: list[tuple[int, int]] = []

    def charge(self, work: int, nbytes: int = 0) -> None:
        self.charges.append((work, nbytes))


def test_a_charged_native_is_charged_before_it_runs() -> None:
    meter = Recorder()
    order: list[str] = []
    f = M.charged(lambda s: order.append("ran") or s.upper(), lambda s: (order.append("costed") or len(s), 3), meter)
    assert f("abc") == "ABC" and order == ["costed", "ran"] and meter.charges == [(3, 3)]
    bad = M.charged(lambda *a: "refused by the native", M._join, meter)
    assert bad(None, 5) == "refused by the native" and meter.charges[-1] == (0, 0)


def test_the_metered_operators_charge_what_they_build() -> None:
    meter = Recorder()
    ops = M.helpers(meter)
    assert ops["_scat"]("ab", "cé") == "abcé" and meter.charges[-1] == (4, 16)
    assert ops["_lcat"]([1], [2, 3]) == [1, 2, 3] and meter.charges[-1] == (3, 24)
    assert ops["_srepeat"]("ab", 3) == "ababab" and meter.charges[-1] == (6, 6)
    assert ops["_srepeat"]("ab", -2) == "" and meter.charges[-1] == (0, 0)
    assert ops["_slice"]([1, 2, 3, 4], 1, 3) == [2, 3] and meter.charges[-1] == (2, 16)
    assert ops["_slice"]("abcd", None, -1) == "abc" and meter.charges[-1] == (3, 12)
    assert ops["_slice"]("abcd", 3, 1) == "" and meter.charges[-1] == (0, 0)
    with pytest.raises(TypeError):
        ops["_slice"](5, 1, 2)
    assert meter.charges[-1] == (0, 0)
    assert ops["_contains"]("bc", "abcd") is True and meter.charges[-1] == (6, 0)
    assert ops["_contains"](2, [1, 2]) is True and meter.charges[-1] == (2, 0)
    n = len(meter.charges)
    assert ops["_contains"]("k", {"k": 1}) is True and len(meter.charges) == n  # a map: one lookup, free
    assert ops["_str"]("text") == "text" and len(meter.charges) == n  # already text: free
    assert ops["_str"]([1, 2]) == "[1, 2]" and meter.charges[-1] == (54, 216)


# -- issue 17: the meter's mutants ---------------------------------------------------------------------

def test_a_refill_allows_growth_of_exactly_the_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    rss = [100 << 20]
    monkeypatch.setattr(L, "resident_bytes", lambda: rss[0])
    m = started(max_memory_mb=1)
    rss[0] += 1 << 20  # grown by exactly the limit: still allowed at the refill
    spend(m, 1)
    assert (m.used, m.steps) == (1, L.CHUNK)
    rss[0] += 1  # one byte past it
    with pytest.raises(L.LimitSignal) as e:
        spend(m, L.CHUNK + 1)
    assert (e.value.limit, e.value.message) == ("memory", "memory limit exceeded (1 MB)")


def test_a_memory_measure_lost_mid_call_stops_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    rss: list[int | None] = [100 << 20]
    monkeypatch.setattr(L, "resident_bytes", lambda: rss[0])
    m = L.Meter(L.Limits(max_memory_mb=2.5))
    lost = ("memory", "memory limit (2.5 MB) cannot be enforced: the process's resident memory could not be "
                      "read (/proc/self/statm)")
    rss[0] = None
    with pytest.raises(L.LimitSignal) as e:
        m.start()
    assert (e.value.limit, e.value.message) == lost
    rss[0] = 100 << 20
    m.start()
    rss[0] = None
    with pytest.raises(L.LimitSignal) as e:
        m.check_memory(0)
    assert (e.value.limit, e.value.message) == lost


def test_the_time_limit_error_says_why_an_operation_was_refused() -> None:
    m = started(max_seconds=1.5)
    with pytest.raises(L.LimitSignal) as e:
        m.time_out()
    assert (e.value.limit, e.value.message) == ("seconds", "time limit exceeded (1.5 s)")
    with pytest.raises(L.LimitSignal) as e:
        m.time_out("a sort of 4,000,000 strings would take 2.1 s")
    assert e.value.message == "time limit exceeded (1.5 s): a sort of 4,000,000 strings would take 2.1 s"


def test_a_memory_limit_where_memory_cannot_be_read_is_refused_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "resident_bytes", lambda: None)
    with pytest.raises(L.LimitUnavailable) as e:
        L.Meter(L.Limits(max_memory_mb=1))
    assert str(e.value) == ("max_memory_mb cannot be enforced here: this platform does not report the process's "
                            "resident memory (/proc/self/statm)")


def test_under_a_time_limit_a_result_too_big_to_write_in_time_is_refused_before_it_starts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from noodle.vm import pacing
    now = [1000.0]
    monkeypatch.setattr(L.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(pacing, "_WRITE_RATE", [1e-9])  # 1 ns a byte: 1 GB a second (x WRITE_MARGIN)
    m = started(max_seconds=2)
    now[0] = 1000.5  # 1.5 s left
    m.charge(1, pacing.ALLOCATION_ESTIMATED - 1)  # under the size estimated: never refused
    m.charge(1, 700 << 20)  # 700 MB: 1.47 s with the margin, fits
    with pytest.raises(L.LimitSignal) as e:
        m.charge(1, 800 << 20)  # 1.68 s: refused, nothing written
    assert (e.value.limit, e.value.message) == (
        "seconds", "time limit exceeded (2 s): an operation making 800 MB would take about 1.7 s")
    assert pacing.write_seconds(1 << 30) == pytest.approx(2 * 1.073741824)
    free = started()  # no time limit: nothing estimated, however big
    free.charge(1, 1 << 40)


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="a program of 6 GB")
def test_a_huge_repetition_under_a_time_limit_alone_is_refused_before_it_starts() -> None:
    vm = noodle.VM(limits=noodle.Limits(max_seconds=1.0))
    app = vm.load(noodle.Source('fn f() -> int {\n let s = "abcd" * 1500000000\n return len(s)\n}\n', name="r"))
    with pytest.raises(noodle.LimitExceeded) as e:
        app.f()  # 6 GB in one C call (2-7 s here): refused with the estimate, before any byte is written
    assert e.value.limit == "seconds" and "an operation making 5,722 MB would take about" in str(e.value)
