"""`import py` in Noodle programs: operations on py values, conversions, PyErrors, callbacks,
arrays shared with NumPy, the capability gate, and what `noodle run` and `--explain` say."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import noodle
from noodle.vm.pyffi import session
from helpers import HANG_S

HELPER = '''
class Box:
    def __init__(self, v):
        self.v = v

def count_positive(xs):
    return len([x for x in xs if x > 0])

def fail(x):
    return inner(x)

def inner(x):
    raise ValueError(f"bad value {x}")

def apply(f, x):
    return f(x)

def scale_in_place(a, k):
    a *= k
    return a
'''


@pytest.fixture
def vm(tmp_path: Path) -> noodle.VM:
    (tmp_path / "helper.py").write_text(HELPER)
    sys.modules.pop("helper", None)
    session.install(None)
    return noodle.VM(capabilities=noodle.Capabilities(py_import=True), root=tmp_path)


def run(vm: noodle.VM, body: str, name: str = "t") -> object:
    src = f"import py numpy as np\nimport py helper as h\nimport py builtins as bi\n{body}\n"
    return vm.load(noodle.Source(src, name=name))


def test_attributes_calls_named_arguments_indexing_and_operators(vm: noodle.VM) -> None:
    m = run(vm, """
fn go() -> List<float> {
    let a = np.arange(6.0).reshape(2, 3)
    let col = np.sum(a, axis: 0)
    let total: float = np.sum(a)
    let first: float = col[0]
    let big = a > 2.0
    let n: int = np.count_nonzero(big)
    let pi: float = np.pi
    return [total, first, float(n), pi, float(len(col)), float(a.shape[1])]
}""")
    assert m.go() == [15.0, 3.0, 3.0, np.pi, 3.0, 3.0]


def test_conversions_where_the_program_asks_for_a_noodle_type(vm: noodle.VM) -> None:
    m = run(vm, """
fn count(xs: List<int>) -> int { let n: int = h.count_positive(xs)
    return n }
fn rows() -> Array<float, 2> { return np.ones([2, 2]) }
fn to_list() -> List<int> { return np.arange(4).tolist() }
fn text() -> str { return str(np.float64(2.5)) }
fn bad() -> int { let n: int = np.float64(2.5)
    return n }
fn bad_array() -> Array<float, 1> { return np.arange(3) }""")
    assert m.count([1, -2, 3]) == 2 and m.to_list() == [0, 1, 2, 3] and m.text() == "2.5"
    assert m.rows().shape == (2, 2)
    with pytest.raises(noodle.NoodleRuntimeError) as info:
        m.bad()
    assert info.value.kind == "TypeError" and "expected int" in info.value.message and "numpy.float64" in info.value.message
    with pytest.raises(noodle.NoodleRuntimeError) as info:
        m.bad_array()
    assert "Array<float, 1>" in info.value.message and "dtype int64" in info.value.message


def test_python_exceptions_are_catchable_pyerrors(vm: noodle.VM) -> None:
    m = run(vm, """
fn caught() -> str {
    try { h.fail(3) } catch e { return "{e.kind}: {e.message}" }
    return "no"
}
fn uncaught() { h.fail(4) }""")
    assert m.caught() == "PyError: ValueError: bad value 3"
    with pytest.raises(noodle.NoodleRuntimeError) as info:
        m.uncaught()
    e = info.value
    assert e.kind == "PyError" and e.message == "ValueError: bad value 4"
    names = [f.name for f in e.stack]
    assert names[0] == "uncaught" and names[-2:] == ["fail [python]", "inner [python]"]
    assert e.stack[-1].file.endswith("helper.py")


def test_noodle_functions_and_lambdas_are_callable_from_python(vm: noodle.VM) -> None:
    m = run(vm, """
fn klen(s: str) -> int { return len(s) }
fn sorted_by_len() -> List<str> { return bi.sorted(["ccc", "a", "bb"], key: klen) }
fn via_lambda() -> int { let r: int = h.apply(x => x * 3, 14)
    return r }
fn failing() -> int { let r: int = h.apply(x => x // 0, 1)
    return r }""")
    assert m.sorted_by_len() == ["a", "bb", "ccc"] and m.via_lambda() == 42
    with pytest.raises(noodle.NoodleRuntimeError) as info:
        m.failing()
    assert info.value.kind == "PyError" and "ZeroDivisionError" in info.value.message


def test_py_values_iterate_and_objects_take_assignments(vm: noodle.VM) -> None:
    m = run(vm, """
fn go() -> List<int> {
    var out: List<int> = []
    for v in np.arange(3) { out.append(int(v)) }
    let b = h.Box(5)
    b.v = 7
    b.v += 1
    let d = bi.dict()
    d["k"] = 2
    out.append(int(b.v))
    out.append(int(d["k"]))
    return out
}""")
    assert m.go() == [0, 1, 2, 8, 2]


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=1, max_side=8),
                  elements=st.floats(-1e6, 1e6)), st.integers(-3, 3))
def test_arrays_are_shared_with_python_not_copied(arr: np.ndarray, k: int) -> None:
    vm = noodle.VM(capabilities=noodle.Capabilities(py_import=True))
    m = vm.load(noodle.Source("""import py numpy as np
fn scale(a: Array<float, 1>, k: float) -> Array<float, 1> {
    let b: Array<float, 1> = np.multiply(a, k, out: a)
    return b
}""", name="share"))
    before = arr.copy()
    out = m.scale(arr, float(k))
    assert out is arr and np.array_equal(arr, before * k)


def test_lists_cross_as_copies(vm: noodle.VM) -> None:
    m = run(vm, """
fn go() -> List<int> {
    let xs = [1, 2]
    let ys = bi.list(xs)
    ys.append(3)
    let zs: List<int> = ys
    return xs + zs
}""")
    assert m.go() == [1, 2, 1, 2, 3]


def test_the_capability_gate(tmp_path: Path) -> None:
    src = noodle.Source("import py os\nfn go() -> int { let n: int = os.getpid()\n    return n }", name="gate")
    with pytest.raises(noodle.LoadError, match="py_import capability"):
        noodle.VM().load(src)  # the default embedded VM: refused when loading, before anything runs
    assert noodle.VM(capabilities=noodle.Capabilities(py_import=True)).load(src).go() > 0
    plain = noodle.VM().load(noodle.Source("fn go() -> int { return 1 }", name="plain"))
    assert plain.go() == 1


def test_type_errors_at_compile_time_still_apply(vm: noodle.VM) -> None:
    with pytest.raises(noodle.CompileError, match="expected int"):
        run(vm, 'fn go() -> int { let s: str = "x"\n    let n: int = s\n    return n }', name="bad")


def test_noodle_run_grants_it_and_explain_says_what_stays_in_the_vm(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text(HELPER)
    (tmp_path / "prog.nd").write_text("""import py helper as h
fn work(n: int) -> int {
    var s = 0
    for i in 0..n { s += i }
    return s
}
fn ask(x: int) -> int { let n: int = h.count_positive([x, -x, 1])
    return n }
fn main() {
    print(work(10), ask(5))
    h.fail(9)
}
""")
    env = {"NOODLE_ALE": "off", "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-c", "from noodle.tools.cli import main; main()"]
    proc = subprocess.run(cmd + ["run", "prog.nd"], cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S, env=env)
    assert proc.returncode == 1 and proc.stdout == "45 2\n"
    assert "PyError: ValueError: bad value 9" in proc.stderr and "at inner [python]" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / ".noodle").exists()  # NOODLE_ALE=off: no log
    cmd = [sys.executable, "-c", "from noodle.tools.cli import noodlec_main; noodlec_main()"]
    explain = subprocess.run(cmd + ["prog.nd", "--explain"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=HANG_S, env=env).stdout
    assert "fn ask: VM" in explain and "calls into Python" in explain
    assert "fn work: native" in explain or "native code unavailable" in explain
