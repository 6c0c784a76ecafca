"""Cholesky factorisations (noodle.ir.intents.factorisation): the loop orders people write, each
recognised and run as LAPACK's dpotrf (native code and the VM), against the same loops kept as
written (`@no_optimize`) — floats within the reassociation a BLAS call allows on positive definite
matrices, exactly the loops' result (or error) on the others — and the look-alikes left alone
with the reason."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir.nodes import decode_module
from noodle.ir.walk import walk
from noodle.vm.machine import Machine

#: name -> (body over `A` and `n`, the triangle it writes)
FORMS = {
    # PolyBench's: row by row, the elements left of the diagonal, then the diagonal
    "polybench": ("""
    for i in 0..n {
        for j in 0..i {
            for k in 0..j { A[i, j] -= A[i, k] * A[j, k] }
            A[i, j] /= A[j, j]
        }
        for k in 0..i { A[i, i] -= A[i, k] * A[i, k] }
        A[i, i] = math.sqrt(A[i, i])
    }""", "L"),
    # left-looking: column by column, each updated by the columns before it
    "left": ("""
    for col in 0..n {
        for k in 0..col {
            for row in col..n { A[row, col] = A[row, col] - A[col, k] * A[row, k] }
        }
        A[col, col] = sqrt(A[col, col])
        for row in col + 1..n { A[row, col] = A[row, col] / A[col, col] }
    }""", "L"),
    # right-looking: a column, then the outer-product update of the trailing matrix
    "right": ("""
    for k in 0..n {
        A[k, k] = sqrt(A[k, k])
        for i in k + 1..n { A[i, k] /= A[k, k] }
        for j in k + 1..n {
            for i in j..=n - 1 { A[i, j] -= A[i, k] * A[j, k] }
        }
    }""", "L"),
    # the upper form, A = Uᵀ U, PolyBench's loops transposed
    "upper": ("""
    for i in 0..n {
        for j in 0..i {
            for k in 0..j { A[j, i] -= A[k, i] * A[k, j] }
            A[j, i] /= A[j, j]
        }
        for k in 0..i { A[i, i] -= A[k, i] * A[k, i] }
        A[i, i] = sqrt(A[i, i])
    }""", "U"),
    # the upper form right-looking: a row, then the trailing matrix
    "upper_right": ("""
    for k in 0..n {
        A[k, k] = math.sqrt(A[k, k])
        for j in k + 1..n { A[k, j] = A[k, j] / A[k, k] }
        for i in k + 1..n {
            for j in i..n { A[i, j] = A[i, j] - A[k, i] * A[k, j] }
        }
    }""", "U"),
}

#: look-alikes that must be left alone: (body, a piece of the reason --explain gives)
LOOKALIKES = {
    "no square root": ("""
    for i in 0..n {
        for j in 0..i {
            for k in 0..j { A[i, j] -= A[i, k] * A[j, k] }
            A[i, j] /= A[j, j]
        }
        for k in 0..i { A[i, i] -= A[i, k] * A[i, k] }
    }""", "no statement takes the square root"),
    "another subtraction": ("""
    for i in 0..n {
        for j in 0..i {
            for k in 0..j { A[i, j] -= A[i, k] * A[k, j] }
            A[i, j] /= A[j, j]
        }
        for k in 0..i { A[i, i] -= A[i, k] * A[i, k] }
        A[i, i] = sqrt(A[i, i])
    }""", "the product subtracted is not"),
    "an addition": ("""
    for i in 0..n {
        for j in 0..i {
            for k in 0..j { A[i, j] += A[i, k] * A[j, k] }
            A[i, j] /= A[j, j]
        }
        for k in 0..i { A[i, i] -= A[i, k] * A[i, k] }
        A[i, i] = sqrt(A[i, i])
    }""", "something other than a step"),
    "off by one": ("""
    for i in 0..n {
        for j in 0..i {
            for k in 0..=j { A[i, j] -= A[i, k] * A[j, k] }
            A[i, j] /= A[j, j]
        }
        for k in 0..i { A[i, i] -= A[i, k] * A[i, k] }
        A[i, i] = sqrt(A[i, i])
    }""", "outside the triangle"),
    "a product missed": ("""
    for i in 0..n {
        for j in 0..i {
            for k in 1..j { A[i, j] -= A[i, k] * A[j, k] }
            A[i, j] /= A[j, j]
        }
        for k in 0..i { A[i, i] -= A[i, k] * A[i, k] }
        A[i, i] = sqrt(A[i, i])
    }""", "do not cover every element"),
    "divided too early": ("""
    for i in 0..n {
        for j in 0..i {
            A[i, j] /= A[j, j]
            for k in 0..j { A[i, j] -= A[i, k] * A[j, k] }
        }
        for k in 0..i { A[i, i] -= A[i, k] * A[i, k] }
        A[i, i] = sqrt(A[i, i])
    }""", "can run before line"),
    "writes something else": ("""
    for i in 0..n {
        for j in 0..i {
            for k in 0..j { A[i, j] -= A[i, k] * A[j, k] }
            A[i, j] /= A[j, j]
        }
        for k in 0..i { A[i, i] -= A[i, k] * A[i, k] }
        A[i, i] = sqrt(A[i, i])
        B[i, 0] = A[i, i]
    }""", "also writes `B`"),
    "another array's product": ("""
    for i in 0..n {
        for j in 0..i {
            for k in 0..j { A[i, j] -= B[i, k] * B[j, k] }
            A[i, j] /= A[j, j]
        }
        for k in 0..i { A[i, i] -= A[i, k] * A[i, k] }
        A[i, i] = sqrt(A[i, i])
    }""", "subtracts something other than a product of two elements of `A`"),
}


#: each form is two functions: the recognised one (`name`), the loops as written (`name_ref`)
VERSIONS = ("", "_ref")


def _source(bodies: dict[str, str]) -> str:
    out = "import math\n"
    for name, body in bodies.items():
        for version in VERSIONS:
            head = "@no_optimize\n" if version == "_ref" else ""
            out += f"{head}fn {name}{version}(n: int, A: Array<float, 2>, B: Array<float, 2>) {{{body}\n}}\n"
    return out


def _module(bodies: dict[str, str]):  # type: ignore[no-untyped-def]
    return compile_source(_source(bodies), "c.nd", "c")[1]


_FORMS_MODULE = None


def _forms():  # type: ignore[no-untyped-def]
    """The module of every form (compiled once)."""
    global _FORMS_MODULE
    if _FORMS_MODULE is None:
        _FORMS_MODULE = _module({k: v[0] for k, v in FORMS.items()})
    return _FORMS_MODULE


_FUNCTIONS = None


def _functions():  # type: ignore[no-untyped-def]
    global _FUNCTIONS
    if _FUNCTIONS is None:
        _FUNCTIONS = Machine(backend="auto").load(_forms()).functions
    return _FUNCTIONS


def _notes(module, name: str) -> tuple[bool, list[str]]:  # type: ignore[no-untyped-def]
    f = next(x for x in decode_module(module.ir).functions if x.name == name)
    nodes = [n for s in f.body for n in walk(s)]
    return (any(isinstance(n, ir.If) and n.intent == "factorisation" for n in nodes),
            [n.note for n in nodes if isinstance(n, ir.ForRange) and n.note])


def test_every_loop_order_is_recognised_with_its_triangle() -> None:
    module = _forms()
    for name, (_, triangle) in FORMS.items():
        found, notes = _notes(module, name)
        assert found, (name, notes)
        assert "dpotrf" in notes[0] and ("lower" if triangle == "L" else "upper") in notes[0], notes
        assert not _notes(module, name + "_ref")[0]


@pytest.mark.parametrize("case", sorted(LOOKALIKES))
def test_lookalikes_are_left_alone_with_the_reason(case: str) -> None:
    body, why = LOOKALIKES[case]
    found, notes = _notes(_module({"f": body}), "f")
    assert not found and any(why in n and "not a Cholesky factorisation" in n for n in notes), notes


def _spd(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """A well-conditioned positive definite matrix in the leading n x n block of a size x size array
    (the rest arbitrary: only the loops' triangle may change)."""
    a = rng.uniform(-1, 1, (size, size))
    m = rng.uniform(-1, 1, (n, n))
    a[:n, :n] = m @ m.T + n * np.eye(n)
    return a


def _run(name: str, n: int, a: np.ndarray) -> tuple[str, np.ndarray]:
    a = a.copy()
    try:
        _functions()[name](n, a, np.zeros((max(n, 1), 1)))
    except Exception as e:  # noqa: BLE001 - the Noodle error's kind, compared between the two runs
        return getattr(e, "f_kind", type(e).__name__), a
    return "", a


def _untouched(a: np.ndarray, n: int, triangle: str) -> np.ndarray:
    """Where the factorisation must leave the array as it was: the other triangle, past the block."""
    out = np.triu(np.ones_like(a, dtype=bool), 1) if triangle == "L" else np.tril(np.ones_like(a, dtype=bool), -1)
    out[n:, :] = True
    out[:, n:] = True
    return out


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([0, 1, 2, 3, 8, 13]), st.integers(0, 3), st.integers(0, 2**32 - 1))
def test_positive_definite_matrices_factor_as_the_loops_do(n: int, extra: int, seed: int) -> None:
    """Small orders (the loops run in the VM): native code and the VM against the loops."""
    a = _spd(np.random.default_rng(seed), n, n + extra)
    for name, (_, triangle) in FORMS.items():
        a_in = a if triangle == "L" else a.T.copy()
        failed_ref, want = _run(name + "_ref", n, a_in)
        failed, got = _run(name, n, a_in)
        assert failed == failed_ref == ""
        assert np.allclose(got, want, rtol=1e-10, atol=1e-10), (name, n)
        assert np.array_equal(got[_untouched(a_in, n, triangle)], a_in[_untouched(a_in, n, triangle)])


@pytest.mark.parametrize("n", [65, 200])
def test_large_orders_factor_blocked(n: int) -> None:
    """Orders where dpotrf works by blocks: against NumPy's factor (the loops would take seconds in
    the VM; they are the same function of the matrix)."""
    a = _spd(np.random.default_rng(n), n, n + 1)
    factor = np.linalg.cholesky(a[:n, :n])
    for name, (_, triangle) in FORMS.items():
        a_in = a if triangle == "L" else a.T.copy()
        failed, got = _run(name, n, a_in)
        assert failed == ""
        block = got[:n, :n] if triangle == "L" else got[:n, :n].T
        assert np.allclose(np.tril(block), factor, rtol=1e-10, atol=1e-10), (name, n)
        assert np.array_equal(got[_untouched(a_in, n, triangle)], a_in[_untouched(a_in, n, triangle)])


def _not_positive_definite(rng: np.random.Generator, n: int, how: str) -> np.ndarray:
    """A matrix LAPACK refuses: the loops run, with their own error (or NaNs)."""
    a = _spd(rng, n, n)
    if how == "negative":  # sqrt of a negative at row n // 2: the loops raise
        a[n // 2, n // 2] = -1.0
    elif how == "nan":  # NaN propagates through the loops, no error
        a[n - 1, 0] = float("nan")
    elif how == "zero pivot":  # the last diagonal element becomes exactly 0: the loops finish, LAPACK says no
        a[:] = 0.0
        a[:n - 1, :n - 1] = np.eye(n - 1)
    elif how == "infinite":
        a[n - 1, n - 1] = float("inf")
    return a


@pytest.mark.parametrize("how", ["negative", "nan", "zero pivot", "infinite"])
def test_matrices_lapack_refuses_give_exactly_the_loops_result(how: str) -> None:
    rng = np.random.default_rng(3)
    for n in (1, 6, 17):
        a = _not_positive_definite(rng, n, how)
        for name, (_, triangle) in FORMS.items():
            a_in = a if triangle == "L" else a.T.copy()
            failed_ref, want = _run(name + "_ref", n, a_in)
            failed, got = _run(name, n, a_in)
            assert failed == failed_ref, (how, name, n)
            assert np.array_equal(got, want, equal_nan=True), (how, name, n)


def test_a_block_the_array_does_not_hold_runs_the_loops() -> None:
    """n beyond the array: the guard sends it to the loops, which raise their index error."""
    a = _spd(np.random.default_rng(1), 4, 4)
    assert _run("polybench", 5, a)[0] == _run("polybench_ref", 5, a)[0] != ""


@pytest.mark.parametrize("triangle", ["L", "U"])
def test_the_vms_native_factors_or_leaves_the_matrix_as_it_was(triangle: str) -> None:
    """The VM's `lapack.potrf` (where a recognised nest runs in the VM): the factor in the triangle,
    the rest untouched; a matrix that is not positive definite, or not finite, unchanged."""
    from noodle.stdlib.natives import NATIVES

    potrf = NATIVES["lapack.potrf"].impl
    rng = np.random.default_rng(5)
    for n in (0, 1, 9, 70):
        a = _spd(rng, n, n + 2)
        a_in = a if triangle == "L" else a.T.copy()
        got = a_in.copy()
        assert potrf(triangle, n, got) is True
        factor = np.linalg.cholesky(a[:n, :n])
        part = np.tril(got[:n, :n]) if triangle == "L" else np.triu(got[:n, :n]).T
        assert np.allclose(part, factor, rtol=1e-12, atol=1e-12)
        assert np.array_equal(got[_untouched(a_in, n, triangle)], a_in[_untouched(a_in, n, triangle)])
        for how in ("negative", "nan", "infinite", "zero pivot"):
            if n:
                bad = _not_positive_definite(rng, n, how)
                bad = bad if triangle == "L" else bad.T.copy()
                kept = bad.copy()
                assert potrf(triangle, n, bad) is False
                assert np.array_equal(bad, kept, equal_nan=True)


def test_native_code_calls_lapack_itself() -> None:
    from noodle.backends.llvm import lapack, native_part

    text, entries, _ = native_part(_forms())  # type: ignore[misc]
    assert set(FORMS) <= {e[0] for e in entries}
    assert len(re.findall(r'call void @"noodle_lapack_dpotrf"\(', text)) == len(FORMS)
    assert all(lapack.addresses().values())


def test_polybench_cholesky_is_one_dpotrf() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "polybench" / "kernels" / "cholesky.nd"
    _, module = compile_source(path.read_text(), "cholesky.nd", "cholesky")
    found, notes = _notes(module, "kernel_cholesky")
    assert found and notes[0].startswith("dpotrf: the Cholesky factorisation of `A`"), notes
