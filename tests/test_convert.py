"""Values a host passes in, checked against Noodle types (noodle/vm/convert.py): what is accepted as is,
what is widened, and what is refused with a message naming the expected type."""
from __future__ import annotations

import numpy as np
import pytest

import noodle
from noodle.ir.types import (BOOL, ERROR, F32, FLOAT, I32, INT, NONE, RANGE, STR, UNKNOWN, ArrayT, FnT, ListT, MapT,
                             ModuleT, StructT, TupleT)
from noodle.vm.convert import ValueMismatch, checked_callable, to_noodle
from noodle.runtime.values import ErrorValue, function_name, make_struct_class

MIN, MAX = -(2**63), 2**63 - 1
Point = make_struct_class("Point", ["x"])


@pytest.mark.parametrize("value, ty", [
    (MIN, INT), (MAX, INT), (0, INT), (1.5, FLOAT), (True, BOOL), (False, BOOL), ("s", STR), (None, NONE),
    (-(2**31), I32), (2**31 - 1, I32), ([1, 2], ListT(INT)), ({"a": 1}, MapT(STR, INT)),
    (range(3), RANGE), (object(), UNKNOWN),
])
def test_values_of_the_type_cross_as_they_are(value: object, ty: object) -> None:
    assert to_noodle(value, ty) is value


@pytest.mark.parametrize("value, ty, got", [
    (True, INT, "bool True"), (False, INT, "bool False"),  # a bool is an int to Python, not to Noodle
    (2**70, INT, "int 1180591620717411303424"), (MAX + 1, INT, "int 9223372036854775808"),
    (MIN - 1, INT, "int -9223372036854775809"), (1.0, INT, "float 1.0"), ("1", INT, "str '1'"),
    (True, FLOAT, "bool True"), ("1.0", FLOAT, "str '1.0'"), (1, BOOL, "int 1"), (None, BOOL, "NoneType None"),
    (b"s", STR, "bytes b's'"), (0, NONE, "int 0"), (True, I32, "bool True"), (2**31, I32, "int 2147483648"),
    (-(2**31) - 1, I32, "int -2147483649"), ("1", F32, "str '1'"), (True, F32, "bool True"),
    ((1, 2), ListT(INT), "tuple (1, 2)"), ([("a", 1)], MapT(STR, INT), "list [('a', 1)]"),
    ((1,), TupleT((INT, STR)), "tuple (1,)"), ([1, "a"], TupleT((INT, STR)), "list [1, 'a']"),
    ([0, 1], RANGE, "list [0, 1]"), ("e", ERROR, "str 'e'"), (Point(1), StructT("m", "Other"), "Point Point(x: 1)"),
    (3, FnT((INT,), INT), "int 3"),
])
def test_values_that_do_not_fit_are_refused_naming_the_type(value: object, ty: object, got: str) -> None:
    with pytest.raises(ValueMismatch) as e:
        to_noodle(value, ty, "argument 1 of f")
    assert str(e.value) == f"argument 1 of f: expected {ty}, got {got}"


def test_ints_widen_to_floats_and_containers_copy_only_where_they_widen() -> None:
    assert to_noodle(3, FLOAT) == 3.0 and type(to_noodle(3, FLOAT)) is float
    assert to_noodle(0.1, F32) == float(np.float32(0.1)) and to_noodle(2, F32) == 2.0
    floats = [1.5, 2.5]
    assert to_noodle(floats, ListT(FLOAT)) is floats
    widened = to_noodle([1, 2.5], ListT(FLOAT))
    assert widened == [1.0, 2.5] and type(widened[0]) is float
    m = {"a": 1.5}
    assert to_noodle(m, MapT(STR, FLOAT)) is m
    assert to_noodle({"a": 1}, MapT(STR, FLOAT)) == {"a": 1.0}
    assert to_noodle((1, 2), TupleT((FLOAT, INT))) == (1.0, 2)
    assert to_noodle((1, "a"), TupleT((INT, STR))) == (1, "a")  # a tuple is always rebuilt


def test_elements_are_checked_one_by_one_and_named() -> None:
    with pytest.raises(ValueMismatch, match=r"^xs\[2\]: expected int, got bool True$"):
        to_noodle([1, 2, True], ListT(INT), "xs")
    with pytest.raises(ValueMismatch, match=r"^m\['b'\]: expected int, got int 2361183241434822606848$"):
        to_noodle({"a": 1, "b": 2**71}, MapT(STR, INT), "m")
    with pytest.raises(ValueMismatch, match=r"^a key of m: expected str, got int 1$"):
        to_noodle({1: 1}, MapT(STR, INT), "m")
    with pytest.raises(ValueMismatch, match=r"^t\[1\]: expected str, got int 2$"):
        to_noodle((1, 2), TupleT((INT, STR)), "t")


def test_structs_errors_and_arrays() -> None:
    p = Point(1.0)
    assert to_noodle(p, StructT("m", "Point")) is p
    err = ErrorValue("IndexError", "out")
    assert to_noodle(err, ERROR) is err
    a = np.zeros((2, 3))
    assert to_noodle(a, ArrayT(FLOAT, 2)) is a
    assert to_noodle(a[:, 1], ArrayT(FLOAT, 1)) is not None  # a strided view is shared as it is
    for bad in (np.zeros(3), np.zeros((2, 3), dtype=np.int64), [[0.0]]):
        with pytest.raises(ValueMismatch, match=r"^a: expected Array<float, 2> \(a NumPy array of dtype float64 "
                                                r"with 2 dimensions\), got "):
            to_noodle(bad, ArrayT(FLOAT, 2), "a")
    with pytest.raises(ValueMismatch, match=r"dimension\), got"):
        to_noodle(a, ArrayT(FLOAT, 1), "a")
    fields = np.zeros(4, dtype=[("x", "f8"), ("n", "i4")])
    with pytest.raises(ValueMismatch, match=r"^a: its elements do not lie a whole number of elements apart"):
        to_noodle(fields["x"], ArrayT(FLOAT, 1), "a")


def test_long_values_are_cut_in_the_message() -> None:
    with pytest.raises(ValueMismatch) as e:
        to_noodle("x" * 100, INT, "s")
    assert str(e.value) == "s: expected int, got str '" + "x" * 36 + "..."


def test_host_functions_handed_to_noodle_have_their_results_checked() -> None:
    ty = FnT((INT,), INT)
    double = to_noodle(lambda x: 2 * x, ty, "f")
    assert double(4) == 8 and checked_callable(double, ty, "f") is double  # checked once
    lying = checked_callable(lambda x: True, ty, "g")
    with pytest.raises(ErrorValue) as e:
        lying(1)
    assert (e.value.f_kind, e.value.f_message) == ("HostError", "the result of g: expected int, got bool True")
    failing = checked_callable(lambda x: 1 // 0, ty, "h")
    with pytest.raises(ErrorValue) as e:
        failing(1)
    assert (e.value.f_kind, e.value.f_message) == ("HostError", "h: ZeroDivisionError: integer division or modulo "
                                                                "by zero")
    passing_on = checked_callable(lambda x: (_ for _ in ()).throw(ErrorValue("KeyError", "k")), ty, "k")
    with pytest.raises(ErrorValue) as e:
        passing_on(1)
    assert e.value.f_kind == "KeyError"  # a Noodle error from a callback goes on as it is


@pytest.mark.parametrize("arg, got", [(True, "bool True"), (2**70, "int 1180591620717411303424"),
                                      (2**63, "int 9223372036854775808"), (1.0, "float 1.0")])
def test_a_host_call_with_a_value_that_is_no_int_is_a_type_error(arg: object, got: str) -> None:
    vm = noodle.VM()
    m = vm.load(noodle.Source("fn inc(n: int) -> int { return n + 1 }", name="m"))
    with pytest.raises(noodle.NoodleRuntimeError) as e:
        m.inc(arg)
    assert (e.value.kind, e.value.message) == ("TypeError", f"argument 1 of m.inc: expected int, got {got}")
    assert m.inc(MAX - 1) == MAX and m.inc(MIN) == MIN + 1


def test_edges_of_the_messages() -> None:
    with pytest.raises(ValueMismatch, match=r"^value: expected int, got bool True$"):
        to_noodle(True, INT)  # the default name of what is checked
    with pytest.raises(ValueMismatch, match=r"^m: expected module x, got int 1$"):
        to_noodle(1, ModuleT("x"), "m")  # a type no host value can have
    fits, cut = "x" * 38, "x" * 39  # reprs of 40 and 41 characters
    assert str(_mismatch_of(fits)) == f"s: expected int, got str '{fits}'"
    assert str(_mismatch_of(cut)) == "s: expected int, got str '" + "x" * 36 + "..."
    with pytest.raises(ValueMismatch) as e:
        to_noodle(np.zeros(2, dtype=np.int64), ArrayT(FLOAT, 1), "a")
    assert str(e.value) == ("a: expected Array<float, 1> (a NumPy array of dtype float64 with 1 dimension), "
                            "got array([0, 0])")


def _mismatch_of(value: object) -> ValueMismatch:
    with pytest.raises(ValueMismatch) as e:
        to_noodle(value, INT, "s")
    return e.value


def test_widened_containers_hold_floats_and_callbacks_keep_their_name() -> None:
    widened = to_noodle({"a": 1}, MapT(STR, FLOAT))
    assert type(widened["a"]) is float  # (1 == 1.0: equality alone would not tell)
    callback = to_noodle(lambda: True, FnT((), INT), "cb")
    assert function_name(callback) == "cb"
    with pytest.raises(ErrorValue) as e:
        callback()
    assert e.value.f_message == "the result of cb: expected int, got bool True"


@pytest.mark.parametrize("items, elem, bad", [
    ([1, 2, 2**63], INT, "xs[2]: expected int, got int 9223372036854775808"),
    ([1, -(2**63) - 1], INT, "xs[1]: expected int, got int -9223372036854775809"),
    ([1, 2.0], INT, "xs[1]: expected int, got float 2.0"),
    ([True, 1], BOOL, "xs[1]: expected bool, got int 1"),
    (["a", b"b"], STR, "xs[1]: expected str, got bytes b'b'"),
    ([1.5, "2"], FLOAT, "xs[1]: expected float, got str '2'"),
    ([1.5, False], FLOAT, "xs[1]: expected float, got bool False"),
])
def test_lists_of_scalars_cross_whole_and_still_name_what_does_not_fit(items: list, elem: object, bad: str) -> None:
    # lists whose elements already are Noodle values cross by one pass, as themselves (no copy);
    # one element that does not fit sends the list element by element, which names it
    fitting = items[:-1]
    assert to_noodle(fitting, ListT(elem), "xs") is fitting
    assert to_noodle([-(2**63), 2**63 - 1], ListT(INT)) == [-(2**63), 2**63 - 1]
    with pytest.raises(ValueMismatch) as e:
        to_noodle(items, ListT(elem), "xs")
    assert str(e.value) == bad
