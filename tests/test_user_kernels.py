"""The same mathematics as PolyBench's kernels, written the way other people write it
(tests/user_kernels.nd: other loop orders, names, scalars, transposes, triangles, 3-D arrays and
spellings — issue 11's "loops nobody tuned for"): every kernel computes what its loops do under the
VM and native code (against the same loops kept as written, `@no_optimize`), on empty, tiny and odd
sizes; what `noodlec --explain` says of each is pinned: the routine or intent it recognised, or,
for a nest that must be left alone (aliasing, a carried dependence, a bound the nest computes), the
reason."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from noodle.build.driver import compile_source
from noodle.ir.explain import explain_functions, explain_loops
from noodle.ir.native_plan import plan
from noodle.ir.nodes import decode_module
from noodle.vm.machine import Machine

SOURCE = (Path(__file__).resolve().parent / "user_kernels.nd").read_text()
RNG = np.random.default_rng(11)


def _r(*shape: int) -> np.ndarray:
    return RNG.random(shape)


def _spd(n: int) -> np.ndarray:
    a = _r(n, n)
    return a @ a.T + n * np.eye(n)


def _diagonal(n: int) -> np.ndarray:
    a = _r(n, n) * 0.1
    np.fill_diagonal(a, 2.0 + _r(n))
    return a


#: kernel -> its arguments at size n (odd, non-square shapes where the kernel allows them)
ARGS: dict[str, Callable[[int], list]] = {
    "gemm_ijk": lambda n: [1.5, 1.2, _r(n, n + 1), _r(n, n + 2), _r(n + 2, n + 1)],
    "gemm_jik": lambda n: [_r(n, n + 1), _r(n, n + 2), _r(n + 2, n + 1)],
    "gemm_kij": lambda n: [_r(n, n + 1), _r(n, n + 2), _r(n + 2, n + 1)],
    "gemm_kji": lambda n: [_r(n, n + 1), _r(n, n + 2), _r(n + 2, n + 1)],
    "gemm_jki": lambda n: [_r(n, n + 1), _r(n, n + 2), _r(n + 2, n + 1)],
    "gemm_ikj": lambda n: [n, n + 1, n + 2, _r(n, n + 1), _r(n, n + 2), _r(n + 2, n + 1)],
    "gemm_scalar": lambda n: [1.5, 1.2, _r(n, n + 1), _r(n, n + 2), _r(n + 2, n + 1)],
    "gemm_tn": lambda n: [_r(n, n + 1), _r(n + 2, n), _r(n + 2, n + 1)],
    "gemm_rows": lambda n: [_r(n, n + 1), _r(n, n + 2), _r(n + 2, n + 1)],
    "gemm_after": lambda n: [1.5, 1.2, _r(n, n + 1), _r(n, n + 2), _r(n + 2, n + 1), _r(n, n + 1)],
    "mm3": lambda n: [_r(n, n), _r(n, n + 1), _r(n + 1, n), _r(n, n), _r(n, n + 2), _r(n + 2, n), _r(n, n)],
    "gemv_scalar": lambda n: [1.5, 1.2, _r(n, n + 1), _r(n + 1), _r(n)],
    "gemvt_cols": lambda n: [_r(n + 1, n), _r(n + 1), _r(n)],
    "gemv_rev": lambda n: [_r(n, n + 1), _r(n + 1), _r(n)],
    "ger_jouter": lambda n: [1.5, _r(n, n + 1), _r(n), _r(n + 1)],
    "trmv_lower": lambda n: [_r(n, n), _r(n), _r(n)],
    "syrk_upper": lambda n: [1.5, 1.2, _r(n, n), _r(n, n + 3)],
    "syrk_incl": lambda n: [1.5, 1.2, _r(n, n), _r(n, n + 3)],
    "syr2k_upper_scalar": lambda n: [1.5, 1.2, _r(n, n), _r(n, n + 3), _r(n, n + 3)],
    "bmm": lambda n: [_r(3, n, n + 1), _r(3, n, n + 2), _r(3, n + 2, n + 1)],
    "doitgen_qr": lambda n: [_r(n + 1, n + 2, n), _r(n, n), _r(n)],
    "tcontract": lambda n: [_r(n, n + 1), _r(n, 3, 4), _r(4, 3, n + 1)],
    "st9": lambda n: [_r(n + 1, n + 2), _r(n + 1, n + 2)],
    "st27": lambda n: [_r(n + 2, n + 2, n + 2), _r(n + 2, n + 2, n + 2)],
    "st1d_r2": lambda n: [_r(3 * n), _r(3 * n)],
    "jacobi_swap": lambda n: [3, _r(n + 1, n + 1), _r(n + 1, n + 1)],
    "relu": lambda n: [_r(n * n) - 0.5, _r(n * n)],
    "possum": lambda n: [_r(n * n) - 0.5],
    "sqnorm": lambda n: [_r(n * n)],
    "lu_kij": lambda n: [_diagonal(n) + 3 * np.eye(n)],
    "chol_scalar": lambda n: [_spd(n)],
    "alias_sq": lambda n: [_r(n, n) * 0.01],
    "carried": lambda n: [_r(n * n), _r(n * n), 0.5],
    "result_bound": lambda n: [np.zeros(n, dtype=np.int64), _r(n, n), _r(n), _r(n)],
    "shifted_rows": lambda n: [_r(n, n), _r(n, n), _r(n, n)],
    "backsub": lambda n: [_diagonal(n), _r(n), _r(n)],
    "fwd_rev": lambda n: [_diagonal(n), _r(n)],
    "doitgen_carry": lambda n: [_r(n + 1, n + 2, n), _r(n, n), _r(n)],
    "trmm_rev": lambda n: [_r(n, n), _r(n, n + 1)],
    "elem_store": lambda n: [_r(n * n)],
    "chain_reuse": lambda n: [_r(n + 2), _r(n + 2), _r(n + 2)],
    "chol_incl": lambda n: [_spd(n)],
    "bmm_scaled": lambda n: [_r(3, n, n + 1), _r(3, n, n + 2), _r(3, n + 2, n + 1)],
    "bmm_self": lambda n: [_r(3, n, n), _r(3, n, n)],
    "bmm_prefix": lambda n: [_r(n + 1, n, n + 1), _r(n + 1, n, n + 2), _r(n + 1, n + 2, n + 1)],
    "hoist_acc": lambda n: [_r(n, n + 1), _r(n, n + 2), _r(n + 2, n + 1)],
}

GEMM = r"dgemm: "
#: kernel -> patterns its `--explain` lines must hold (a recognition, or a reason for leaving it alone)
EXPLAIN: dict[str, list[str]] = {
    "gemm_ijk": [GEMM + r"c\[i, j\] = alpha \* a\[i, k\] \* b\[k, j\] \+ c\[i, j\]"],
    "gemm_jik": [GEMM],
    "gemm_kij": [GEMM + r"c\[i, j\] = a\[i, k\] \* b\[k, j\] \+ c\[i, j\]"],  # through `let aik = a[i, k]`
    "gemm_kji": [GEMM],
    "gemm_jki": [GEMM],
    "gemm_ikj": [GEMM + r"out\[row, col\] = lhs\[row, inner\] \* rhs\[inner, col\]"],
    "gemm_scalar": [GEMM + r"c\[i, j\] = alpha \* a\[i, k\] \* b\[k, j\] \+ beta \* c\[i, j\]"],
    "gemm_tn": [GEMM + r"c\[i, j\] = a\[k, i\] \* b\[k, j\]"],
    "gemm_rows": [GEMM + r"c\[i, j\] = a\[i, k\] \* b\[k, j\] \+ c\[i, j\]"],  # `c[i][j]`, `len(c[i])`
    "gemm_after": [GEMM + r"t\[i, j\] = a\[i, k\] \* b\[k, j\] \+ t\[i, j\]"],
    "mm3": [GEMM + r"e\[i, j\]", GEMM + r"f\[i, j\]", GEMM + r"g\[i, j\] = e\[i, k\] \* f\[k, j\]"],
    "gemv_scalar": [r"dgemv: y\[i\] = alpha \* a\[i, j\] \* x\[j\] \+ beta \* y\[i\]"],
    "gemvt_cols": [r"dgemv: y\[j\] = a\[i, j\] \* x\[i\] \+ y\[j\]"],
    "gemv_rev": [r"dgemv: y\[i\] = a\[i, j\] \* x\[j\] \+ y\[i\]"],  # both loops counting down
    "ger_jouter": [r"dger: a\[i, j\] \+= -1\*alpha \* x\[i\] \* y\[j\]"],
    "trmv_lower": [r"not a contraction: .*does not run from 0", r"reduction: sum into `s`"],
    "syrk_upper": [r"dsyrk \(upper triangle\)"],
    "syrk_incl": [r"dsyrk \(lower triangle\)"],
    "syr2k_upper_scalar": [r"dsyr2k \(upper triangle\)"],
    "bmm": [r"batched dgemm, one per slice `t`: c\[t\]\[i, j\] = a\[t\]\[i, k\] \* b\[t\]\[k, j\]"],
    "doitgen_qr": [r"batched dgemm, one row per \(r, q\): tmp\[p\] = c4\[k, p\] \* a\[r, q, k\], copied into "
                   r"a\[r, q, p\]"],  # the batch loops in the other order
    "doitgen_carry": [r"not a contraction: .*adds to what `tmp` held"],
    "tcontract": [r"not a contraction: .*`a` is not a float array of 1 or 2 dimensions"],
    "st9": [r"stencil: 9-point 2-D neighbourhood, into `b`"],
    "st27": [r"stencil: 27-point 3-D neighbourhood, into `b`"],  # offsets as loops through a scalar
    "st1d_r2": [r"stencil: 5-point 1-D neighbourhood, into `b`"],
    "jacobi_swap": [r"iterated stencil \(sweeps copied back\) recognised"],
    "relu": [r"elementwise map: into `y`"],
    "possum": [r"reduction: sum into `s` under an if-filter"],
    "sqnorm": [r"reduction: sum into `s`"],  # `for v in x`: indexed, native
    "elem_store": [r"fn elem_store: VM — line \d+: a `for` over a collection runs in the VM"],
    "lu_kij": [r"not a contraction: .*depend on each other in both directions",
               r"no intent: line \d+ reads `a` at another position than line \d+ writes it"],
    "chol_scalar": [r"dpotrf: the Cholesky factorisation of `a` in place"],  # sums through scalars
    "chol_incl": [r"fn chol_incl: native"],
    # must be left alone
    "alias_sq": [r"not a contraction: line \d+: `a` is both read and written in a way no in-place routine computes"],
    "carried": [r"no intent: line \d+ reads `x` at another position than line \d+ writes it: a loop-carried "
                r"dependence"],
    "result_bound": [r"not a contraction: line \d+: the upper bound is not affine"],
    "shifted_rows": [r"not a contraction: .*a subscript is not a loop variable"],
    "backsub": [r"fn backsub: native"],
    "fwd_rev": [r"fn fwd_rev: native", r"not a contraction: line \d+: a loop does not count by one"],
    "chain_reuse": [r"fn chain_reuse: native"],
    "bmm_scaled": [r"fn bmm_scaled: native"],
    "bmm_prefix": [r"fn bmm_prefix: native"],
    "bmm_self": [r"fn bmm_self: native", r"not a contraction: .*written earlier in the nest"],
    "trmm_rev": [r"fn trmm_rev: native", r"not a contraction: line \d+: a loop does not count by one"],
    "hoist_acc": [r"fn hoist_acc: native", r"not a contraction: .*depend on each other in both directions"],
}

#: kernels that must not be rewritten at all: no recognised nest may appear among their lines
LEFT_ALONE = {"alias_sq", "carried", "result_bound", "shifted_rows", "fwd_rev", "hoist_acc", "doitgen_carry", "trmm_rev", "chol_incl", "bmm_scaled", "bmm_self", "bmm_prefix"}


def _explain() -> dict[str, list[str]]:
    """`noodlec --explain`'s lines (without the OpenCL part), by the kernel they speak of."""
    module_ir = decode_module(compile_source(SOURCE, "user_kernels.nd", "user_kernels")[1].ir)
    try:
        from noodle.backends.llvm import available, decide
        p = decide(module_ir).plan if available() else plan(module_ir)
    except ImportError:  # pragma: no cover - llvmlite missing
        p = plan(module_ir)
    lines = explain_functions(module_ir, p, True) + explain_loops(module_ir, p)
    out: dict[str, list[str]] = {}
    for _, text in lines:
        m = re.match(r"fn (\w+):", text) or re.search(r" in (\w+): ", text)
        if m:
            out.setdefault(m.group(1), []).append(text)
    return out


@pytest.fixture(scope="module")
def explained() -> dict[str, list[str]]:
    return _explain()


def test_every_kernel_of_the_corpus_is_pinned() -> None:
    names = set(re.findall(r"^fn (\w+)\(", SOURCE, flags=re.M))
    assert names == set(ARGS) == set(EXPLAIN)


@pytest.mark.parametrize("name", sorted(EXPLAIN))
def test_explain_says_what_each_kernel_became(name: str, explained: dict[str, list[str]]) -> None:
    lines = explained[name]
    text = "\n".join(lines)
    for pattern in EXPLAIN[name]:
        assert re.search(pattern, text), (pattern, text)
    if name in LEFT_ALONE:
        assert not any(" recognised — " in x for x in lines), text
    if not any("fn " + name + ": VM" in x for x in lines):
        assert f"fn {name}: native (llvm)" in text


@pytest.fixture(scope="module")
def kernels() -> dict[str, dict]:
    reference = re.sub(r"^fn (\w+)\(", r"@no_optimize\nfn \1_ref(", SOURCE, flags=re.M)
    _, module = compile_source(SOURCE + reference.split("\n", 3)[3], "user_kernels.nd", "user_kernels")
    return {backend: Machine(backend=backend).load(module).functions for backend in ("vm", "auto")}


def _copy(args: list) -> list:
    copies: dict[int, np.ndarray] = {}
    return [copies.setdefault(id(a), a.copy()) if isinstance(a, np.ndarray) else a for a in args]


@pytest.mark.parametrize("backend", ["vm", "auto"])
@pytest.mark.parametrize("name", sorted(ARGS))
def test_kernel_agrees_with_its_loops(name: str, backend: str, kernels: dict[str, dict]) -> None:
    fns = kernels[backend]
    for n in (0, 1, 2, 5, 8):
        args = ARGS[name](n)
        got, want = _copy(args), _copy(args)
        result, expected = fns[name](*got), fns[name + "_ref"](*want)
        assert (result is None and expected is None) or result == pytest.approx(expected, rel=1e-10, abs=1e-10), \
            (name, n)
        for g, w in zip(got, want):
            if isinstance(g, np.ndarray):
                assert np.allclose(g, w, rtol=1e-10, atol=1e-10, equal_nan=True), (name, n)


@pytest.mark.parametrize("backend", ["vm", "auto"])
def test_a_product_of_an_array_with_itself_is_left_to_the_loops(backend: str, kernels: dict[str, dict]) -> None:
    """The same array passed as the product's output and an operand: BLAS would read what it has
    overwritten, so the guard sends the call to the loops as written."""
    fns = kernels[backend]
    for name in ("gemm_jik", "gemm_scalar", "gemm_tn", "gemm_kij", "gemm_rows"):
        for n in (1, 4, 7):
            a = _r(n, n)
            got, want = a.copy(), a.copy()
            extra = [1.5, 1.2] if name == "gemm_scalar" else []
            fns[name](*extra, got, got, got)
            fns[name + "_ref"](*extra, want, want, want)
            assert np.allclose(got, want, rtol=1e-12, atol=1e-12), (name, n)
