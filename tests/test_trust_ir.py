"""Native code is built only from IR the loader proved to be the verified bytecode's source.

Tampering as an attacker would, with the digest recomputed each time: the IR of another module
swapped in, random structural edits of the IR, random edits of the bytecode with the IR kept, and
a crafted call handing a native function an Array of another kind.  Each is refused at load with
one line, or runs with exactly the VM's results: never a crash, a hang or different output.
"""
from __future__ import annotations

import contextlib
import io
import random
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import noodle as noodle_api
from helpers import TRACEBACK, compile_ok, noodle, write
from noodle.errors import LoadError
from noodle.runtime.errors import NoodleRuntimeError
from noodle.vm.machine import Machine
from noodle.format.module_file import HEADER_SIZE, encode
from noodle.vm.verify import load_bytes
from test_module_file import resign

pytest.importorskip("llvmlite")

PROGRAM = """fn weigh(xs: Array<float>, k: float) -> float {
    var s = 0.0
    for i in 0..len(xs) {
        s = s + xs[i] * k
    }
    return s
}

fn steps(n: int) -> int {
    var count = 0
    var x = n
    while x != 1 {
        if x % 2 == 0 { x = x // 2 } else { x = 3 * x + 1 }
        count = count + 1
    }
    return count
}

fn grid(m: Array<int, 2>) -> int {
    var t = 0
    for i in 0..m.shape[0] {
        for j in 0..m.shape[1] {
            t = t + m[i, j] * (i + 1) - j
        }
    }
    return t
}

fn main() {
    let xs = linspace(0.0, 1.0, 11)
    print(weigh(xs, 2.5))
    print(steps(27), steps(97))
    print(grid(array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])))
}
"""
#: the same functions (names, signatures) computing something else
OTHER = PROGRAM.replace("s + xs[i] * k", "s + xs[i] * k * 2.0").replace("count + 1", "count + 2") \
    .replace("* (i + 1) - j", "* (i + 2) + j")

_, MODULE = compile_ok(PROGRAM, "prog")
_, OTHER_MODULE = compile_ok(OTHER, "prog")
PLAIN = msgspec.msgpack.decode(encode(MODULE)[HEADER_SIZE:])


def _with(payload: dict) -> bytes:
    return resign(msgspec.msgpack.encode(payload))


def _run(module, backend: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        machine = Machine(backend=backend)
        try:
            machine.run_main(machine.load(module))
        except NoodleRuntimeError as e:
            print(f"error {e.kind}: {e.message}")
    return out.getvalue()


def test_the_program_runs_natively_and_agrees_with_the_vm() -> None:
    machine = Machine()
    lm = machine.load(load_bytes(encode(MODULE)))
    assert "weigh" in machine.native_report["prog"] and "grid" in machine.native_report["prog"]
    assert _run(load_bytes(encode(MODULE)), "auto") == _run(load_bytes(encode(MODULE)), "vm")
    assert lm is not None


def test_the_ir_of_another_module_is_refused(tmp_path: Path) -> None:
    swapped = dict(PLAIN, ir=msgspec.msgpack.decode(encode(OTHER_MODULE)[HEADER_SIZE:])["ir"])
    with pytest.raises(LoadError) as e:
        load_bytes(_with(swapped), "swapped.nbc")
    assert "typed IR does not match the bytecode" in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "swapped.nbc").write_bytes(_with(swapped))
    for backend in ("auto", "vm"):
        p = noodle(["run", "--backend", backend, "swapped.nbc"], tmp_path)
        assert p.returncode == 1 and p.stdout == "" and TRACEBACK not in p.stderr, p.context()
        assert p.stderr.startswith("error: ") and "typed IR does not match" in p.stderr, p.context()


def test_an_ir_declaring_another_array_kind_is_refused() -> None:
    ir = msgspec.msgpack.decode(PLAIN["ir"])
    weigh = next(f for f in ir["functions"] if f["name"] == "weigh")
    weigh["local_types"][0] = "Array<int>"
    with pytest.raises(LoadError, match="typed IR"):
        load_bytes(_with(dict(PLAIN, ir=msgspec.msgpack.encode(ir))))


def test_a_local_retyped_in_the_ir_is_refused() -> None:
    """A local's type is not in the bytecode: the typing check catches what re-emission cannot."""
    ir = msgspec.msgpack.decode(PLAIN["ir"])
    steps = next(f for f in ir["functions"] if f["name"] == "steps")
    steps["local_types"][1] = "float"
    with pytest.raises(LoadError, match="not well typed"):
        load_bytes(_with(dict(PLAIN, ir=msgspec.msgpack.encode(ir))))


@pytest.mark.parametrize("array", [np.zeros(11, dtype=bool), np.zeros((11, 1)), np.zeros(11, dtype=np.int64),
                                   np.zeros(22)[::2], np.arange(11.0)[::-1]])
def test_a_native_entry_takes_only_the_arrays_it_reads(array: np.ndarray) -> None:
    """A crafted module's bytecode may pass any value: what native code cannot read runs in the VM."""
    machine = Machine()
    lm = machine.load(load_bytes(encode(MODULE)))
    vm = Machine(backend="vm")
    lm_vm = vm.load(load_bytes(encode(MODULE)))
    assert getattr(lm.functions["weigh"], "__noodle_native__", False)

    def outcome(m: Machine, f) -> object:
        try:
            return m.call(lm, f, array, 2.5)
        except NoodleRuntimeError as e:
            return (e.kind, e.message)
    assert outcome(machine, lm.functions["weigh"]) == outcome(vm, lm_vm.functions["weigh"])


# ---------------------------------------------------------------- random structural edits

def _nodes(x: object, out: list) -> list:
    """Every dict (IR node, function, module) inside decoded msgpack data, parents first."""
    if isinstance(x, dict):
        out.append(x)
        for v in x.values():
            _nodes(v, out)
    elif isinstance(x, list):
        for v in x:
            _nodes(v, out)
    return out


_TYPES = ["int", "float", "bool", "none", "str", "Array<float>", "Array<int>", "Array<bool>", "Array<float, 2>",
          "f32", "i32", "(int, int)"]
_OPS = ["int.add", "int.sub", "int.mul", "int.floordiv", "int.mod", "float.add", "float.mul", "float.div",
        "cmp.lt", "cmp.eq", "cmp.ne", "not", "int.neg", "int.to_float", "and", "or"]


def _edit_ir(ir: dict, rnd: random.Random) -> None:
    nodes = [n for n in _nodes(ir, []) if n is not ir]
    for _ in range(rnd.randint(1, 3)):
        node = rnd.choice(nodes)
        key = rnd.choice(sorted(node))
        v = node[key]
        if key in ("ty", "ret") or (key == "local_types" and not v):
            node[key] = rnd.choice(_TYPES)
        elif key == "local_types":
            v[rnd.randrange(len(v))] = rnd.choice(_TYPES)
        elif key == "op":
            node[key] = rnd.choice(_OPS)
        elif key in ("slot", "params", "skip", "up", "depth"):
            node[key] = v + rnd.choice([-1, 1, 2])
        elif key == "value" and not isinstance(v, (dict, list)):
            node[key] = rnd.choice([0, 1, -1, 2**62, 0.5, -0.0, True, None, "x"])
        elif key in ("func", "name") and isinstance(v, str):
            names = [f["name"] for f in ir["functions"]] + ["array.get", "math.sqrt", "abs.int", "len"]
            node[key] = rnd.choice(names)
        elif key in ("intent",):
            node[key] = rnd.choice(["", "matmul", "dot", "jacobi", "sum", "bogus"])
        elif isinstance(v, list) and v:
            i = rnd.randrange(len(v))
            if rnd.random() < 0.5:
                del v[i]
            else:
                v.insert(rnd.randrange(len(v) + 1), v[i])
        elif isinstance(v, dict):
            other = rnd.choice(nodes)
            if other is not node and other is not v:
                node[key] = msgspec.msgpack.decode(msgspec.msgpack.encode(other))
        elif isinstance(v, int) and not isinstance(v, bool):
            node[key] = v + rnd.choice([-1, 1])


VM_OUTPUT = _run(load_bytes(encode(MODULE)), "vm")


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32))
def test_random_ir_edits_are_refused_or_change_nothing(seed: int) -> None:
    rnd = random.Random(seed)
    ir = msgspec.msgpack.decode(PLAIN["ir"])
    _edit_ir(ir, rnd)
    data = _with(dict(PLAIN, ir=msgspec.msgpack.encode(ir)))
    try:
        module = load_bytes(data, "edited.nbc")
    except LoadError as e:
        assert "\n" not in str(e)
        return
    # accepted: the edit touched nothing the bytecode or native code depends on (a line, a note)
    assert _run(module, "auto") == VM_OUTPUT


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32))
def test_random_bytecode_edits_with_the_ir_kept_are_refused(seed: int) -> None:
    rnd = random.Random(seed)
    m = msgspec.msgpack.decode(msgspec.msgpack.encode(PLAIN))
    f = rnd.choice([f for f in m["functions"] if f["code"]])
    what = rnd.choice(["code", "code", "const", "nlocals", "local_names"])
    if what == "code":
        i = rnd.randrange(len(f["code"]))
        f["code"][i] += rnd.choice([-1, 1])
    elif what == "const" and m["consts"]:
        i = rnd.randrange(len(m["consts"]))
        c = m["consts"][i]
        m["consts"][i] = c + 1 if type(c) in (int, float) else "tampered"
    elif what == "nlocals":
        f["nlocals"] += 1
    else:
        f["local_names"] = f["local_names"] + ["extra"]
    with pytest.raises(LoadError):
        load_bytes(_with(m), "edited.nbc")


def test_a_module_without_ir_runs_in_the_vm(tmp_path: Path) -> None:
    """The IR is optional: without it nothing is built natively, and the bytecode runs as verified."""
    bare = load_bytes(_with(dict(PLAIN, ir=b"")))
    machine = Machine()
    machine.load(bare)
    assert "native" not in machine.native_report.get("prog", "")
    assert _run(bare, "auto") == VM_OUTPUT
    write(tmp_path, "x.nd", "")


# ---------------------------------------------------------------- what a host hands native code

WRITER = """fn fill(a: Array<float>, x: float) -> float {
    for i in 0..len(a) { a[i] = x }
    return a[0]
}
fn total(a: Array<float>) -> float {
    var s = 0.0
    for i in 0..len(a) { s = s + a[i] }
    return s
}
"""


@pytest.mark.parametrize("limits", [None, {"max_steps": 10**9}], ids=["python entry", "ctypes entry"])
def test_native_code_never_writes_a_read_only_array(limits: "dict | None") -> None:
    """An Array over memory NumPy marks read-only (here an immutable `bytes`; a read-only mapping
    would crash) is refused by a store in the VM: native code must give the same error, not write."""
    vm = noodle_api.VM(limits=noodle_api.Limits(**limits) if limits else None)
    m = vm.load(noodle_api.Source(WRITER, name="writer"))
    assert m.fill(np.zeros(4), 7.0) == 7.0 and m.total(np.ones(4)) == 4.0  # natively (warm)
    frozen = bytes(32)
    a = np.frombuffer(frozen, dtype=np.float64)
    with pytest.raises(noodle_api.NoodleRuntimeError, match="read-only"):
        m.fill(a, 7.0)
    assert frozen == bytes(32)
    assert m.total(np.frombuffer(np.ones(4).tobytes(), dtype=np.float64)) == 4.0  # reading one is fine
