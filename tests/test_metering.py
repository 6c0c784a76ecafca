"""The costs of `noodle.vm.metering`, each at the edge that decides it (issue 17's mutation run).

`test_limits_rules.py` checks the costs against what the operations really do, mostly as bounds;
these cases pin each rule's exact figure where a rule has a corner — a budget reached exactly, a
separator at the end of the range of spaces, an index at 0 — so that a changed comparison or
constant in the cost functions fails here (each case was checked by planting such a change).
"""
from __future__ import annotations

import pytest

from noodle.vm import metering as M


class Recorder:
    """A meter that records what it is charged."""

    def __init__(self) -> None:
        self.charges: list[tuple[int, int]] = []

    def charge(self, work: int, nbytes: int = 0) -> None:
        self.charges.append((work, nbytes))


class Pair:
    __slots__ = ("x", "name")

    def __init__(self, x: object = 1, name: object = "abcdef") -> None:
        self.x, self.name = x, name


class Three:
    __slots__ = ("a", "b", "c")

    def __init__(self) -> None:
        self.a = self.b = self.c = "ab"


class OneSlot:
    __slots__ = "x"  # a string, not a tuple: read as no fields

    def __init__(self) -> None:
        self.x = "a long text the size never looks at"


# -- the size of a value as text ------------------------------------------------------------------

def test_the_size_of_a_value_as_text_is_exact() -> None:
    # each element's own size and 2 for its separator; 24 for any number, bool or None
    assert M.repr_size([1, "two", [3.0]], 1 << 40) == 2 + (24 + 2) + (5 + 2) + ((2 + 24 + 2) + 2)
    assert M.repr_size(("ab", None), 1 << 40) == 2 + 6 + 26
    assert M.repr_size({True}, 1 << 40) == 2 + 26
    assert M.repr_size({"k": [1, 2], "v": "x"}, 1 << 40) == 2 + (3 + 54 + 4) + (3 + 3 + 4)
    assert M.repr_size(Pair(), 1 << 40) == 16 + (24 + 1) + (8 + 4)
    assert M.repr_size(OneSlot(), 1 << 40) == 16


def test_the_size_as_text_stops_at_the_first_element_past_the_budget_not_at_it() -> None:
    # ["ab"] * 4: 8, 14, 20, 26 after each element; a budget of exactly 14 is not yet past
    assert M.repr_size(["ab"] * 4, 1 << 40) == 26
    assert M.repr_size(["ab"] * 4, 14) == 20
    assert M.repr_size(["ab"] * 4, 13) == 14
    # a map: 12, 22, 32
    three = {"a": "b", "c": "d", "e": "f"}
    assert M.repr_size(three, 22) == 32
    assert M.repr_size(three, 21) == 22
    # a struct: 21, 26, 31 (each field's text and its name)
    assert M.repr_size(Three(), 1 << 40) == 31
    assert M.repr_size(Three(), 21) == 26
    assert M.repr_size(Three(), 20) == 21


def test_the_size_as_text_gives_nested_values_what_is_left_of_the_budget() -> None:
    inner = ["ab"] * 6  # 8, 14, 20, 26, 32, 38
    # the inner list starts 2 in, so it may count to 24 - 2 = 22: it stops at 26
    assert M.repr_size([inner], 24) == 2 + 26 + 2
    # a map's key and value are both measured from where the item starts: 24 - 2 = 22 again
    assert M.repr_size({"k": inner}, 24) == 2 + 3 + 26 + 4
    # a struct's field after x (16 + 24 + 1 = 41) may count to 60 - 41 = 19: it stops at 20
    assert M.repr_size(Pair(name=inner), 60) == 41 + 20 + 4


# -- the size of a value compared -----------------------------------------------------------------

def test_the_size_of_a_value_compared_is_exact() -> None:
    import numpy as np

    assert [M.compare_size(x) for x in (5, 2.5, False, None)] == [1, 1, 1, 1]
    assert M.compare_size("abc") == 4
    assert M.compare_size([1, 2, 3]) == 4
    assert M.compare_size([1, 1.0, True, None]) == 5  # every kind of atom: still a flat list
    assert M.compare_size(("a", 1)) == 3 + 2 + 1
    assert M.compare_size([[1, 2], [3]]) == 3 + 3 + 2
    assert M.compare_size({"a": 1, "bc": [1, 2]}) == 3 + 2 + 1 + 3 + 3
    assert M.compare_size(np.zeros((2, 3))) == 7
    assert M.compare_size(Pair()) == 1 + 1 + 7
    assert M.compare_size(OneSlot()) == 1
    assert M.compare_size(object()) == 1


def test_the_size_compared_stops_at_the_first_element_past_the_budget_not_at_it() -> None:
    # [[1]] * 4: 5 for the list, then 7, 9, 11, 13 (a list of strings is summed whole, at C speed)
    assert M.compare_size([[1]] * 4) == 13
    assert M.compare_size([[1]] * 4, 9) == 11
    assert M.compare_size([[1]] * 4, 8) == 9
    assert M.compare_size(["ab"] * 4, 5) == 17
    pairs = {"a": "b", "c": "d", "e": "f"}  # 4, then 8, 12, 16
    assert M.compare_size(pairs) == 16
    assert M.compare_size(pairs, 8) == 12
    assert M.compare_size(pairs, 7) == 8
    assert M.compare_size(Three()) == 10  # 1, then 4, 7, 10
    assert M.compare_size(Three(), 4) == 7
    assert M.compare_size(Three(), 3) == 4


def test_the_size_compared_gives_nested_values_what_is_left_of_the_budget() -> None:
    inner = [[1]] * 6  # 7, then 9, 11, 13, 15, 17, 19
    # the first inner list may count to 14 - 3 = 11: it stops at 13, past the budget, so the second
    # is not counted
    assert M.compare_size([inner, inner], 14) == 3 + 13
    assert M.compare_size({"k": inner}, 14) == 2 + 2 + 13  # key and value both from 14 - 2 = 12
    assert M.compare_size(Pair(name=inner), 12) == 1 + 1 + 11  # after x: 12 - 2 = 10, stops at 11


def test_a_comparison_costs_the_smaller_operand() -> None:
    assert M._compared("abc", "abcdefgh") == 4
    assert M._compared("abcdefgh", "abc") == 4
    assert M._compared([1, 2, 3], 5) == 1
    assert M._compared(["ab"] * 4, ["ab"] * 100) == 17  # the long one is not counted to its end


# -- the cost functions ---------------------------------------------------------------------------

def test_an_arange_is_costed_one_element_more_than_it_has() -> None:
    # (stop - start) / step + 1: one over the count, never under it
    assert M._arange(10) == (11, 88)
    assert M._arange(2, 10) == (9, 72)
    assert M._arange(10, 0, -2) == (6, 48)
    assert M._arange(5, 5) == (1, 8)
    assert M._arange(10, 0) == (0, 0)
    assert M._arange(0, 10, 0) == (0, 0)  # a zero step: the native's own error
    assert M._arange("a") == (0, 0)
    assert M._arange(0, 10 ** 400) == (0, 0)  # too large for a float
    assert M._arange(0.0, float("nan")) == (0, 0)


def test_a_replace_is_costed_by_its_longest_result() -> None:
    assert M._replace("aaaa", "a", "bbb") == (4 + 14, 14)
    assert M._replace("abc", "", "--") == (3 + 11, 11)  # exactly "--a--b--c--"
    assert M._replace("abab", "ab", "x") == (8, 4)
    assert M._replace("héllo", "l", "LL") == (5 + 11, 44)


def test_a_join_reads_the_text_of_its_first_64_parts() -> None:
    assert M._join("", ["a"] * 63 + ["é"]) == (64, 256)
    assert M._join("", ["a"] * 64 + ["é"]) == (65, 65)  # the 65th part is not looked at
    assert M._join("é", ["a", "b"]) == (3, 12)
    assert M._join(",", ["ab"]) == (2, 2)


def test_a_sort_is_costed_by_its_comparisons() -> None:
    assert M._sort(["ab", "cd"]) == (9 * 2, 16)  # compared size 9, log2 of 2 is 2 bits
    assert M._sort((3, 1, 2)) == (3 * 2, 24)  # not a list: its length
    assert M._sort([5]) == (2, 8)
    assert M._sort([]) == (1, 0)
    assert M._scan([1, "ab"]) == (7, 0)
    assert M._scan("abc") == (3, 0)
    assert M._scan((1, 2)) == (2, 0)
    assert M._copy(("a", "b")) == (2, 16)


def test_a_split_is_costed_by_its_pieces() -> None:
    piece = M._STR_OBJECT + M._POINTER
    assert M._split("a b  c") == (6, 6 + 4 * piece)  # 3 spaces, at most 6 // 2 separate: 4 pieces
    assert M._split("      ") == (6, 6 + 4 * piece)  # 6 spaces, but runs of them separate once
    assert M._split("ab") == (2, 2 + piece)
    assert M._split("a\x1fb") == (3, 3 + 2 * piece)  # ASCII's last space
    assert M._split("é\u3000x") == (3, 12 + 2 * piece)  # the ideographic space, the last one counted
    assert M._split("é\u3001x") == (3, 12 + piece)
    assert M._split("a,b,,c", ",") == (6, 6 + 4 * piece)
    assert M._split("abc", "") == (3, 0)
    assert M._split("ab", 5) == (2, 0)
    assert M._split([1, 2]) == (2, 0)


def test_a_pop_is_costed_by_the_elements_it_moves() -> None:
    xs = [1, 2, 3, 4]
    assert [M._moved(xs, i)[0] for i in (0, 1, 3, -1, -4, 10, -10)] == [4, 3, 1, 1, 4, 0, 4]
    assert M._moved(xs, "a") == (0, 0)
    assert M._moved(xs, 1) == (3, 0)


def test_a_charged_native_charges_nothing_for_arguments_it_refuses() -> None:
    meter = Recorder()

    def refuse(kind: type) -> object:
        def cost(*_: object) -> tuple[int, int]:
            raise kind("no")
        return M.charged(lambda *a: "the native's own error", cost, meter)

    for kind in (TypeError, ValueError, AttributeError):
        assert refuse(kind)(1) == "the native's own error"
        assert meter.charges[-1] == (0, 0)
    with pytest.raises(KeyError):
        refuse(KeyError)(1)  # not a refusal of the arguments: a bug, not swallowed


# -- the metered operators ------------------------------------------------------------------------

def test_membership_in_a_list_costs_the_smaller_of_its_two_bounds() -> None:
    meter = Recorder()
    contains = M.helpers(meter)["_contains"]
    assert contains("ab", ["ab", "cd", "ef"]) is True and meter.charges[-1] == (3 * 3, 0)
    assert contains("abcdefgh", ["a", "b"]) is False and meter.charges[-1] == (7, 0)
    assert contains([1], [[1], [2]]) is True and meter.charges[-1] == (4, 0)
    assert contains(2.5, [1, 2, 3]) is False and meter.charges[-1] == (3, 0)
    with pytest.raises(TypeError) as e:
        contains(5, "abcd")  # charged the text, then refused by `in` itself (no len() of the int)
    assert meter.charges[-1] == (4, 0) and str(e.value) == "'in <string>' requires string as left operand, not int"


def test_comparisons_are_charged_only_for_values_with_parts() -> None:
    meter = Recorder()
    ops = M.helpers(meter)
    assert ops["_eq"]("abc", "abd") is False and meter.charges == [(4, 0)]
    assert ops["_lt"]([1, 2], [1, 3]) is True and meter.charges[-1] == (3, 0)
    assert ops["_ge"](["ab"] * 4, ["ab"] * 100) is False and meter.charges[-1] == (17, 0)
    n = len(meter.charges)
    assert ops["_ne"](1, 2) is True and ops["_gt"](2.0, 1) is True and ops["_le"](True, True) is True
    assert ops["_eq"](None, None) is True
    assert len(meter.charges) == n  # numbers, bools and none: one comparison, free
    assert [ops[f"_{op}"]("a", "b") for op in ("eq", "ne", "lt", "le", "gt", "ge")] == [
        False, True, True, True, False, False]


def test_the_other_operators_charge_their_result() -> None:
    meter = Recorder()
    ops = M.helpers(meter)
    assert ops["_srepeat"]("é", 2) == "éé" and meter.charges[-1] == (2, 8)
    assert ops["_srepeat"]("ab", 0) == "" and meter.charges[-1] == (0, 0)
    assert ops["_srepeat"]("ab", 1) == "ab" and meter.charges[-1] == (2, 2)
    assert ops["_slice"]("abc") == "abc" and meter.charges[-1] == (3, 12)
    with pytest.raises(TypeError) as e:
        ops["_slice"](5, 1, 2)  # not a sequence: charged nothing, and the slice itself says why
    assert meter.charges[-1] == (0, 0) and str(e.value) == "'int' object is not subscriptable"
    assert ops["_slice"]([1, 2, 3], 1) == [2, 3] and meter.charges[-1] == (2, 16)
    assert ops["_scat"]() == "" and meter.charges[-1] == (0, 0)
    assert ops["_str"](None) == "none" and meter.charges[-1] == (24, 96)


def test_the_costs_found_by_the_mutation_run() -> None:
    import numpy as np

    # a dimension of 1 stays 1 (the result of no broadcast is the operand itself)
    assert M._broadcast_size(np.zeros((1, 4))) == 4
    assert M._broadcast_size(np.zeros((1, 4)), np.zeros(1)) == 4
    # matches of an `old` that do not divide the text: whole matches only, never half a one
    assert M._replace("aaa", "aa", "bbb") == (3 + 5, 5)
    assert M._replace("abc", "b", "éé") == (3 + 7, 28)  # the new text's characters decide the bytes
    # an odd number of characters all spaces: at most half of them (rounded down) separate
    piece = M._STR_OBJECT + M._POINTER
    assert M._split("   ") == (3, 3 + 2 * piece)
    # a printed line holds every element of a list, not just the first
    assert M._printed([1, 2]) == (54, 216)
    assert M._printed("ab", [1, 2]) == (4 + 54, 4 * 58)
    assert M._printed() == (0, 0)


def test_a_map_s_keys_are_measured_within_the_budget_too() -> None:
    key = ("ab",) * 6  # as text 8, 14, 20, 26, 32, 38
    ckey = ((1,),) * 6  # compared 7, then 9, 11, 13, 15, 17, 19
    assert M.repr_size({(1, 2): 3}, 1 << 40) == 2 + 54 + 24 + 4
    # the key starts 2 in: it may count to 24 - 2 = 22, so it stops at 26
    assert M.repr_size({key: 1}, 24) == 2 + 26 + 24 + 4
    assert M.compare_size({(1, 2): 3}) == 2 + 3 + 1
    assert M.compare_size({ckey: 1}, 14) == 2 + 13 + 1  # the key may count to 14 - 2 = 12: it stops at 13
