"""The Python FFI's crossing rules, PyErrors and Noodle callbacks (run-time side, no compiler needed)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import noodle
from noodle.ir.types import parse_type
from noodle.vm.pyffi import sites
from noodle.vm.pyffi.crossing import NoodleCallable, callable_for_py, convert, from_py, to_py
from noodle.vm.pyffi.failures import PyFailure
from noodle.runtime.values import ErrorValue

ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
scalars = st.one_of(ints, st.floats(allow_nan=False), st.booleans(), st.text(max_size=20), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.tuples(inner, inner),
    st.dictionaries(st.one_of(ints, st.text(max_size=5)), inner, max_size=4)), max_leaves=20)


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))


@given(values)
def test_plain_values_cross_as_themselves_and_containers_are_copies(v: object) -> None:
    out = to_py(v)
    assert out == v and type(out) is type(v)
    if isinstance(v, (list, dict)):
        assert out is not v  # Python may change what it got; the Noodle value stays as it was
        before = repr(v)
        if isinstance(out, list):
            out.append(1)
        else:
            out["new key"] = 1
        assert repr(v) == before


@given(st.lists(st.lists(ints, max_size=3), max_size=4))
def test_nested_lists_are_copied_all_the_way_down(v: list[list[int]]) -> None:
    out = to_py(v)
    for inner_in, inner_out in zip(v, out):
        assert inner_in == inner_out and inner_in is not inner_out
    assert from_py(out, parse_type("List<List<int>>")) == v


DTYPES = {"float": np.float64, "int": np.int64, "f32": np.float32, "i32": np.int32, "bool": np.bool_}


@given(st.sampled_from(sorted(DTYPES)), st.integers(1, 3), st.data())
def test_arrays_are_shared_not_copied_in_both_directions(elem: str, ndim: int, data: st.DataObject) -> None:
    arr = data.draw(hnp.arrays(DTYPES[elem], hnp.array_shapes(min_dims=ndim, max_dims=ndim, max_side=5)))
    assert to_py(arr) is arr
    back = from_py(arr, parse_type(f"Array<{elem}, {ndim}>"))
    assert back is arr and np.shares_memory(back, arr)


@given(st.sampled_from(sorted(DTYPES)), st.data())
def test_strided_views_cross_without_copying(elem: str, data: st.DataObject) -> None:
    base = data.draw(hnp.arrays(DTYPES[elem], st.tuples(st.integers(2, 8), st.integers(2, 8))))
    view = base[::2, ::-1]  # non-contiguous, negative strides: still whole elements apart
    assert from_py(view, parse_type(f"Array<{elem}, 2>")) is view
    assert from_py(base.T, parse_type(f"Array<{elem}, 2>")) is not None


@given(st.sampled_from(sorted(DTYPES)), st.sampled_from(sorted(DTYPES)), st.integers(1, 3), st.integers(1, 3))
def test_an_array_of_the_wrong_dtype_or_rank_names_both(want: str, have: str, want_nd: int, have_nd: int) -> None:
    arr = np.zeros((2,) * have_nd, dtype=DTYPES[have])
    ty = parse_type(f"Array<{want}, {want_nd}>")
    if want == have and want_nd == have_nd:
        assert from_py(arr, ty) is arr
        return
    with pytest.raises(ErrorValue) as info:
        from_py(arr, ty, "the result of f")
    e = info.value
    assert e.f_kind == "TypeError"
    assert str(ty) in e.f_message and f"dtype {arr.dtype}" in e.f_message and f"{have_nd} dimension" in e.f_message


def test_a_structured_field_is_refused_with_a_reason() -> None:
    rec = np.zeros(4, dtype=[("a", "f8"), ("b", "i4")])
    with pytest.raises(ErrorValue, match="whole number of elements"):
        from_py(rec["a"], parse_type("Array<float, 1>"))


@pytest.mark.parametrize("value, type_text, found", [
    (3.5, "int", "Python float"), ("3", "float", "Python str"), (1, "bool", "Python int"),
    (True, "int", "Python bool"), ([1, "a"], "List<int>", "Python str"), ((1, 2), "List<int>", "Python tuple"),
    ({"a": 1.5}, "Map<str, int>", "Python float"), (np.float64(2.5), "int", "numpy.float64"),
    ([1.0], "Array<float, 1>", "Python list"), (None, "str", "Python NoneType"),
])
def test_a_value_that_does_not_fit_names_expected_and_found(value: object, type_text: str, found: str) -> None:
    with pytest.raises(ErrorValue) as info:
        convert(value, type_text, "the result of st.count")
    assert info.value.f_kind == "TypeError"
    assert "the result of st.count" in info.value.f_message and found in info.value.f_message


@given(st.one_of(st.integers(-(2**63), 2**63 - 1).map(np.int64), st.floats(allow_nan=False, width=32).map(np.float32),
                 st.booleans().map(np.bool_)))
def test_numpy_scalars_become_noodle_scalars(x: object) -> None:
    kind = np.asarray(x).dtype.kind
    target = {"i": "int", "f": "float", "b": "bool"}[kind]
    out = convert(x, target)
    assert type(out) is {"int": int, "float": float, "bool": bool}[target]
    assert out == x.item()  # type: ignore[attr-defined]


def test_out_of_range_ints_are_overflow_errors() -> None:
    with pytest.raises(ErrorValue) as info:
        convert(2**64, "int")
    assert info.value.f_kind == "OverflowError"


list_items = st.one_of(ints, st.integers(), st.floats(), st.booleans(), st.text(max_size=3),
                       st.integers(-5, 5).map(np.int64), st.floats(width=32).map(np.float32))


def _outcome(f: object) -> object:
    """A conversion's result to compare: each value by its type and repr, so NaN equals NaN (a
    converted `float32(nan)` is a new float each time, and `nan != nan`) and -0.0 differs from 0.0."""
    try:
        return ("value", [(type(x), repr(x)) for x in f()])  # type: ignore[operator]
    except ErrorValue as e:
        return ("error", e.f_kind, e.f_message)


@settings(max_examples=150, deadline=None)
@given(xs=st.one_of(st.lists(list_items, max_size=6), st.lists(st.floats(allow_nan=False), max_size=40),
                    st.lists(ints, max_size=40)),
       elem=st.sampled_from(["int", "float", "bool", "str"]))
@example(xs=[np.float32("nan")], elem="float")  # found by a random run: a new NaN each conversion
@example(xs=[-0.0, np.float32(-0.0)], elem="float")
def test_a_list_of_scalars_converts_as_its_items_do(xs: list, elem: str) -> None:
    # lists of one exact scalar type take a fast path: it must give what converting item by item
    # gives (values, their types, the error and its message) and a copy
    by_items = _outcome(lambda: [convert(x, elem, f"the list[{i}]") for i, x in enumerate(xs)])
    converted: list = []
    got = _outcome(lambda: converted.append(convert(xs, f"List<{elem}>", "the list")) or converted[0])
    assert got == by_items  # values with their types, or the same error
    if converted:
        assert converted[0] is not xs  # a copy


def test_tuples_and_maps_convert_element_by_element() -> None:
    assert convert((1, 2.5, "x"), "(int, float, str)") == (1, 2.5, "x")
    assert convert((1, 2), "(int, float)") == (1, 2.0) and type(convert((1, 2), "(int, float)")[1]) is float
    with pytest.raises(ErrorValue, match="tuple of 2 items"):
        convert((1, 2, 3), "(int, int)")
    assert convert({"a": np.int64(2)}, "Map<str, int>") == {"a": 2}


# ------------------------------------------------------------------ exceptions


def _raise_deep(n: int) -> None:
    if n == 0:
        raise KeyError("missing")
    _raise_deep(n - 1)


def test_a_python_exception_is_a_catchable_pyerror_with_type_message_and_frames() -> None:
    site = sites.CallSite("t.nd:1")
    with pytest.raises(ErrorValue) as info:
        sites.call(site, _raise_deep, (5,))
    e = info.value
    assert isinstance(e, PyFailure) and e.f_kind == "PyError" and e.py_type == "KeyError"
    assert e.f_message == "KeyError: 'missing'"
    assert 0 < len(e.py_frames) <= 3 and all(f[0] == "_raise_deep" for f in e.py_frames)
    assert e.py_frames[-1][1].endswith("test_pyffi_crossing.py")


def test_exceptions_of_every_operation_are_pyerrors() -> None:
    for op in (lambda: sites.get_attr(np, "no_such_thing"), lambda: sites.get_item([1], 5),
               lambda: sites.binary("+", "a", 1), lambda: sites.length(3), lambda: list(sites.iterate(3)),
               lambda: sites.import_module("no_such_module_here"), lambda: sites.call_attr(sites.CallSite("x"), np, "dott", ())):
        with pytest.raises(ErrorValue) as info:
            op()
        assert info.value.f_kind == "PyError"


def test_python_operators_and_iteration_on_py_values() -> None:
    a = np.arange(3.0)
    assert list(sites.binary("*", a, 2.0)) == [0.0, 2.0, 4.0]
    assert sites.binary("==", 2, 2) is True and sites.binary("in", 1, [1]) is True
    assert list(sites.iterate({"a": 1})) == ["a"] and sites.length(a) == 3 and sites.unary("-", 2) == -2
    assert sites.truth([]) is False and sites.text(np.float64(1.5)) == "1.5"


# ------------------------------------------------------------------ Noodle functions called from Python

APP = """
fn twice(x: int) -> int { return x * 2 }
fn key(s: str) -> int { return len(s) }
fn fail(x: int) -> int { throw Error("no {x}") }
"""


@pytest.fixture(scope="module")
def app() -> object:
    vm = noodle.VM()
    vm.load(noodle.Source(APP, name="cb"))
    return vm.machine.modules["cb"].exports


def test_noodle_functions_are_callable_from_python(app: object) -> None:
    key = callable_for_py(app["key"], "fn(str) -> int")  # type: ignore[index]
    site = sites.CallSite("t.nd:9")
    assert sites.call(site, sorted, (["ccc", "a", "bb"],), {"key": key}) == ["a", "bb", "ccc"]
    twice = callable_for_py(app["twice"], "fn(int) -> int")  # type: ignore[index]
    assert list(map(twice, [1, 2])) == [2, 4]
    assert twice(np.int64(4)) == 8  # a NumPy scalar is converted for the Noodle parameter


def test_a_noodle_error_inside_a_callback_comes_back_as_itself(app: object) -> None:
    fail = callable_for_py(app["fail"], "fn(int) -> int")  # type: ignore[index]
    with pytest.raises(ErrorValue) as info:
        sites.call(sites.CallSite("t.nd:10"), lambda f: f(3), (fail,))
    assert info.value.f_kind == "Error" and info.value.f_message == "no 3"


def test_a_callback_given_the_wrong_python_value_is_a_type_error(app: object) -> None:
    twice = callable_for_py(app["twice"], "fn(int) -> int")  # type: ignore[index]
    with pytest.raises(ErrorValue) as info:
        sites.call(sites.CallSite("t.nd:11"), lambda f: f("x"), (twice,))
    assert info.value.f_kind == "TypeError" and "argument 1 of" in info.value.f_message


def test_untyped_noodle_functions_cross_as_callables(app: object) -> None:
    out = to_py(app["twice"])  # type: ignore[index]
    assert isinstance(out, NoodleCallable) and out(np.int64(5)) == 10


def test_python_functions_used_as_noodle_functions_are_checked() -> None:
    f = from_py(lambda x: x + 0.5, parse_type("fn(int) -> int"), "f")
    with pytest.raises(ErrorValue, match="the result of f"):
        f(1)
    g = from_py(lambda x: x["k"], parse_type("fn(Map<str, int>) -> int"), "g")
    with pytest.raises(ErrorValue) as info:
        g({})
    assert info.value.f_kind == "PyError"
