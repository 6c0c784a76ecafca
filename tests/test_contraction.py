"""Tensor contractions (noodle.ir.intents.contraction) on generated loop nests: each family of
tests/contraction_nests.py written in random loop orders, names, scalars, transposes, triangles and
forms, run on odd and empty sizes (and with arguments aliasing each other) under the VM and native
code, against the same loops kept as written (`@no_optimize`): floats within the reassociation a BLAS
call allows, ints exact; the look-alikes are left alone and say why."""
from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contraction_nests import FAMILIES, Kernel
from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.nodes import decode_module
from noodle.ir.walk import walk
from noodle.vm.machine import Machine

SIZES = [0, 1, 2, 3, 5, 7]


def _recognition(module_ir: ir.Module, name: str) -> tuple[bool, list[str]]:
    f = next(x for x in module_ir.functions if x.name == name)
    nodes = [n for s in f.body for n in walk(s)]
    found = any(isinstance(n, ir.If) and n.intent == "contraction" for n in nodes)
    return found, [n.note for n in nodes if isinstance(n, ir.ForRange) and n.note.startswith("not a contraction")]


def _arguments(k: Kernel, rng: random.Random, alias: bool) -> list:
    sizes = {s: rng.choice(SIZES) for s in k.sizes}
    arrays: dict[str, np.ndarray] = {}
    args = []
    for name, kind in k.params:
        if kind == "float":
            args.append(rng.choice([1.0, 0.5, -2.0, 0.0, 1.25]))
        elif kind == "int":
            args.append(sizes[name])
        else:
            shape = k.shapes[name](sizes)
            if kind == "imat":
                a = np.array([rng.randint(-9, 9) for _ in range(int(np.prod(shape)))], dtype=np.int64).reshape(shape)
            else:
                a = np.array([rng.uniform(-1, 1) for _ in range(int(np.prod(shape)))]).reshape(shape)
                if k.diagonal and len(shape) == 2 and shape[0] == shape[1]:
                    # a solve divides by the diagonal: well away from zero, but now and then exactly
                    # zero (the loops raise there: the guard must leave it to them)
                    np.fill_diagonal(a, [rng.choice([2.0, -1.5, 3.0, 2.5, 0.0 if rng.random() < 0.1 else 1.0])
                                         for _ in range(shape[0])])
            same = [x for x in arrays.values() if x.shape == a.shape and x.dtype == a.dtype]
            if alias and same:
                a = same[0]  # the same array passed twice: the guard must send it to the loops
            arrays[name] = a
            args.append(a)
    return args


def _copy(args: list) -> list:
    """The arguments copied, keeping which of them are the same array."""
    copies: dict[int, np.ndarray] = {}
    return [copies.setdefault(id(a), a.copy()) if isinstance(a, np.ndarray) else a for a in args]


def _error(fn, args: list) -> str:  # type: ignore[no-untyped-def]
    """Run `fn`; the error it raised (an int nest may overflow), or "" when none."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - the Noodle error's kind, compared between the two runs
        return getattr(e, "f_kind", type(e).__name__)  # native code raises the Noodle error value
    return ""


@settings(max_examples=int(__import__("os").environ.get("NOODLE_EXAMPLES", "10")), deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_generated_nests_are_recognised_and_agree_with_their_loops(seed: int) -> None:
    rng = random.Random(seed)
    kernels = [family(rng, f"{key}{n}") for n, (key, family) in enumerate(FAMILIES.items())]
    source = "".join(k.source() + k.source(reference=True) for k in kernels)
    module_ir, module = compile_source(source, "g.nd", "g")
    module_ir = decode_module(module.ir)
    for k in kernels:
        found, notes = _recognition(module_ir, k.name)
        assert found == k.recognised, (k.source(), notes)
        if not k.recognised:
            assert notes and k.why in notes[0], (k.source(), notes)
    for backend in ("vm", "auto"):
        fns = Machine(backend=backend).load(module).functions
        for k in kernels:
            for attempt in range(3):
                args = _arguments(k, rng, alias=attempt == 2)
                got, want = _copy(args), _copy(args)
                failed = [_error(fns[k.name], got), _error(fns[k.name + "_ref"], want)]
                assert failed[0] == failed[1], (backend, k.source())  # the same error, or none
                for g, w in zip(got, want):
                    if not isinstance(g, np.ndarray):
                        continue
                    if g.dtype == np.int64 or not (k.recognised or k.reduces):
                        assert np.array_equal(g, w, equal_nan=g.dtype != np.int64), (backend, k.source())
                    else:  # a BLAS call adds in its own order
                        assert np.allclose(g, w, rtol=1e-10, atol=1e-10, equal_nan=True), (backend, k.source(), args)


KERNELS = Path(__file__).resolve().parent / "contraction_kernels.nd"

#: function -> the routines its nests are dispatched to, in order
EXPECTED = {
    "gesummv": ["dgemv", "dgemv"], "gemver": ["dger", "dger", "dgemv", "dgemv"], "bicg": ["dgemv", "dgemv"],
    "mvt": ["dgemv", "dgemv"], "k2mm": ["dgemm", "dgemm"], "syr2k": ["dsyr2k"], "trmm": ["dtrmm"],
    "atax": ["dgemv", "dgemv"], "syrk": ["dsyrk"], "trisolv": ["dtrsv"], "corr": ["dsyrk"], "strict": ["dsyr2k"],
    "doitgen": ["dgemm"], "symm": ["dsymm"],
}


def test_polybench_shaped_kernels_name_their_routines() -> None:
    import re

    module_ir, module = compile_source(KERNELS.read_text(), "k.nd", "k")
    for f in decode_module(module.ir).functions:
        if f.name in EXPECTED:
            notes = [s.otherwise[0].note for s in f.body if isinstance(s, ir.If) and s.intent == "contraction"]
            assert re.findall(r"\b(dgemm|dgemv|dger|dsyrk|dsyr2k|dtrmm|dtrsv|dsymm)\b", " ".join(notes)) == EXPECTED[f.name], \
                (f.name, notes)


@pytest.mark.parametrize("backend", ["vm", "auto"])
def test_polybench_shaped_kernels_agree_with_their_loops(backend: str) -> None:
    text = KERNELS.read_text()
    reference = re.sub(r"^fn (\w+)\(", r"@no_optimize\nfn \1_ref(", text, flags=re.M)
    _, module = compile_source(text + reference, "k.nd", "k")
    fns = Machine(backend=backend).load(module).functions
    rng = np.random.default_rng(7)
    n, m = 7, 5
    shapes = {  # the arrays of each kernel, by parameter position
        "gesummv": [(), (), (n, n), (n, n), (n,), (n,), (n,)],
        "gemver": [(), (), (n, n)] + [(n,)] * 8,
        "bicg": [(n, m), (m,), (n,), (m,), (n,)],
        "mvt": [(n,), (n,), (n,), (n,), (n, n)],
        "k2mm": [(), (), (n, m), (n, 3), (3, m), (m, 4), (n, 4)],
        "syr2k": [(), (), (n, n), (n, m), (n, m)],
        "trmm": [(), (n, n), (n, m)],
        "atax": [(n, m), (m,), (m,), (n,)],
        "syrk": [(), (), (n, n), (n, m)],
        "trisolv": [n, (n, n), (n,), (n,)],
        "corr": [n, (m, n), (n, n)],  # a strict triangle: the diagonal is the loops' own
        "strict": [(), (n, n), (n, m), (n, m)],  # the diagonal is kept
        "doitgen": [(4, 3, m), (m, m), (m,)],  # one dgemm of the 12 rows, the last left in sum
        "symm": [(), (), (n, m), (n, n), (n, m)],
    }
    for name, kinds in shapes.items():
        args = [s if isinstance(s, int) else rng.random(s) if s else float(rng.uniform(0.5, 2)) for s in kinds]
        if name == "trisolv":
            np.fill_diagonal(args[1], 2.0)
        got, want = _copy(args), _copy(args)
        fns[name](*got)
        fns[name + "_ref"](*want)
        for g, w in zip(got, want):
            if isinstance(g, np.ndarray):
                assert np.allclose(g, w, rtol=1e-12, atol=1e-12), name


def test_native_code_calls_blas_itself() -> None:
    """The native function holds the BLAS calls (no drop to the VM, no Python call per product)."""
    from noodle.backends.llvm import native_part

    _, module = compile_source(KERNELS.read_text(), "k.nd", "k")
    text, entries, _ = native_part(module)  # type: ignore[misc]
    assert {"gemver", "k2mm", "trmm", "syrk", "syr2k", "doitgen", "symm"} <= {e[0] for e in entries}
    for routine in ("dgemm", "dgemv", "dger", "dsyrk", "dsyr2k", "dtrmm", "dtrsv", "dsymm"):
        assert f"call void @\"noodle_blas_{routine}\"(" in text


def test_blas_comes_from_numpys_openblas_with_its_thread_setter() -> None:
    """Native code calls the BLAS NumPy itself uses (one thread pool in the process, not two), found
    with its 64-bit-int routines, and the setter of that library's thread count (else every call
    would use all of OpenBLAS's spinning threads)."""
    import ctypes

    from noodle.backends.llvm import blas

    stubs = len(blas._keep)
    found = blas._numpy_library()
    assert found is not None and "NumPy" in found.origin  # NumPy's wheels bundle an ILP64 OpenBLAS
    assert set(found.addresses) == set(blas.SIGNATURES) and all(found.addresses.values())
    assert len(blas._keep) == stubs  # OpenBLAS's own setter: a real function, no stub
    # the setter is that library's: it changes the count NumPy's calls use, and says what it was
    setter = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(found.threads)
    before = setter(1)
    try:
        assert before >= 1 and setter(1) == 1
    finally:
        setter(before)
    # the SciPy fallback is a complete library too
    scipy_found = blas._scipy_library()
    assert set(scipy_found.addresses) == set(blas.SIGNATURES) and all(scipy_found.addresses.values())


def test_blas_calls_from_native_code_leave_numpys_thread_count_as_it_was() -> None:
    """The count is set before each call and put back after: NumPy's next product on this thread
    still uses the threads it had (the setting is the library's, shared with NumPy)."""
    import ctypes

    import numpy
    from noodle.backends.llvm import blas
    from noodle.ir.variants import NEVER, forced
    from noodle.vm.machine import Machine

    _, module = compile_source(KERNELS.read_text(), "k.nd", "k")
    setter = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(blas.library().threads)
    before = setter(2)  # two, whatever this machine's count: a call on one thread must not leave 1
    try:
        with forced("blas.parallel", NEVER):  # every call on the calling thread only
            k2mm = Machine(backend="auto").load(module).functions["k2mm"]
        assert k2mm.__noodle_native__
        rng = numpy.random.default_rng(3)
        a, b, c, d = (rng.random((6, 6)) for _ in range(4))
        tmp = numpy.zeros((6, 6))
        k2mm(1.5, 1.2, tmp, a, b, c, d)
        assert setter(2) == 2
    finally:
        setter(before)


#: doitgen look-alikes the batched recogniser must leave alone, and the reason it gives
BATCHED_LOOKALIKES = {
    "the matrix is the output": ("""
fn f(x: Array<float, 2>, y: Array<float, 2>, t: Array<float, 1>) {
    for b in 0..len(y) {
        for p in 0..len(t) { t[p] = 0.0; for s in 0..len(y) { t[p] += x[b, s] * y[s, p] } }
        for p in 0..len(t) { y[b, p] = t[p] }
    }
}""", "is also the array the rows are written to"),
    "another row read": ("""
fn f(x: Array<float, 3>, m: Array<float, 2>, t: Array<float, 1>) {
    for b in 0..len(x) {
        for c in 0..x.shape[1] {
            for p in 0..len(t) { t[p] = 0.0; for s in 0..len(t) { t[p] += x[b, c, s] * m[s, p] * x[b, 0, s] } }
            for p in 0..len(t) { x[b, c, p] = t[p] }
        }
    }
}""", "read other than by rows"),
    "the batch variable in the product": ("""
fn f(x: Array<float, 2>, m: Array<float, 2>, t: Array<float, 1>) {
    for b in 0..len(x) {
        for p in 0..len(t) { t[p] = 0.0; for s in 0..len(t) { t[p] += x[b, s] * m[s, p] * float(b) } }
        for p in 0..len(t) { x[b, p] = t[p] }
    }
}""", "uses a batch variable"),
}


@pytest.mark.parametrize("case", sorted(BATCHED_LOOKALIKES))
def test_batched_lookalikes_are_left_alone_with_the_reason(case: str) -> None:
    source, why = BATCHED_LOOKALIKES[case]
    module_ir, module = compile_source(source, "b.nd", "b")
    found, notes = _recognition(decode_module(module.ir), "f")
    assert not found and notes and why in notes[0], notes
