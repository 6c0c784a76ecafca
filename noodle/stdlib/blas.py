"""The VM's side of recognised tensor contractions (noodle.ir.intents.contraction): the guard
`blas.fits` and one native per BLAS routine, computed with NumPy's BLAS.

Native code calls the same routines itself, in the same library (NumPy's OpenBLAS; noodle.backends.llvm.blas);
these run when the function holding the contraction stays in the VM.  Each routine's arguments
are the IR call's: row-major flags (`N`/`T` per operand; side, triangle, transpose, diagonal for
trmm), the sizes the loops run over (the leading block of each array: a bound below the array's
extent is a sub-matrix), alpha, the operands, beta, and the array written last.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from noodle.stdlib.natives import native, quiet_float_warnings

quiet_float_warnings(__name__)


def np() -> Any:
    """NumPy, imported on first use (noodle.stdlib.arrays imports this module while it loads)."""
    import numpy

    return numpy


@native("blas.fits", -1)
def _fits(nwritten: int, *arrays: Any) -> bool:
    """Are the arrays float64, and does each array written share no memory with any other?"""
    n = np()
    if any(getattr(a, "dtype", None) != n.float64 for a in arrays):
        return False
    for k, w in enumerate(arrays[:nwritten]):
        for other in arrays[k + 1:]:
            if n.may_share_memory(w, other):
                return False
    return True


def _op(a: Any, flag: str, rows: int, cols: int) -> Any:
    """The rows x cols matrix op(a) reads: a's leading block, transposed for `T`."""
    return a[:rows, :cols] if flag == "N" else a[:cols, :rows].T


def _update(c: Any, product: Any, beta: float) -> None:
    """c = product + beta * c, in place (beta 0 overwrites: BLAS does not read c then)."""
    if beta == 0.0:
        c[...] = product
    else:
        if beta != 1.0:
            c *= beta
        c += product


def _sizes(*xs: int) -> list[int]:
    return [max(x, 0) for x in xs]


@native("blas.gemm", 9)
def _gemm(flags: str, m: int, n: int, k: int, alpha: float, a: Any, b: Any, beta: float, c: Any) -> None:
    """c[:m, :n] = alpha * op(a) @ op(b) + beta * c[:m, :n]."""
    m, n, k = _sizes(m, n, k)
    _update(c[:m, :n], alpha * (_op(a, flags[0], m, k) @ _op(b, flags[1], k, n)), beta)


@native("blas.gemm_batch", 10)
def _gemm_batch(flags: str, count: int, m: int, n: int, k: int, alpha: float, a: Any, b: Any, beta: float,
                c: Any) -> None:
    """For each of the first `count` slices t of the 3-D arrays: c[t] = alpha * op(a[t]) @ op(b[t]) + beta * c[t]
    (noodle.ir.intents.batched.recognise_slices)."""
    for t in range(max(count, 0)):
        _gemm(flags, m, n, k, alpha, a[t], b[t], beta, c[t])


@native("blas.gemm_rows", 9)
def _gemm_rows(flags: str, rows: int, n: int, k: int, alpha: float, x: Any, m: Any, y: Any, t: Any) -> None:
    """A batched product: each row of x (its first `rows` entries of the first dimension, every one of
    the dimensions between, the first k of the last) times alpha * op(m), into the same row of y
    (its first n elements); t[:n] = the last row computed."""
    rows, n, k = _sizes(rows, n, k)
    lead = tuple(x.shape[1:-1])
    count = rows * int(np().prod(lead, dtype=np().int64))
    product = alpha * (x[:rows, ..., :k].reshape(count, k) @ (m[:k, :n] if flags == "N" else m[:n, :k].T))
    y[:rows, ..., :n] = product.reshape((rows,) + lead + (n,))
    if count:
        t[:n] = product[-1]


@native("blas.symm", 8)
def _symm(flags: str, m: int, n: int, alpha: float, a: Any, b: Any, beta: float, c: Any) -> None:
    """c[:m, :n] = alpha * S @ b (flags[0] `L`) or alpha * b @ S (`R`) + beta * c, S the symmetric
    matrix one triangle of a's leading square block stands for (flags[1]: `L` lower, `U` upper)."""
    nmp = np()
    m, n = _sizes(m, n)
    size = m if flags[0] == "L" else n
    block = a[:size, :size]
    if flags[1] == "L":
        s = nmp.tril(block) + nmp.tril(block, -1).T
    else:
        s = nmp.triu(block) + nmp.triu(block, 1).T
    _update(c[:m, :n], alpha * (s @ b[:m, :n] if flags[0] == "L" else b[:m, :n] @ s), beta)


@native("blas.gemv", 8)
def _gemv(flags: str, m: int, n: int, alpha: float, a: Any, x: Any, beta: float, y: Any) -> None:
    """y[:m] = alpha * op(a) @ x[:n] + beta * y[:m]."""
    m, n = _sizes(m, n)
    _update(y[:m], alpha * (_op(a, flags, m, n) @ x[:n]), beta)


@native("blas.ger", 7)
def _ger(_flags: str, m: int, n: int, alpha: float, x: Any, y: Any, a: Any) -> None:
    """a[:m, :n] += alpha * outer(x[:m], y[:n])."""
    m, n = _sizes(m, n)
    a[:m, :n] += alpha * np().multiply.outer(x[:m], y[:n])


def _triangle(c: Any, n: int, flags: str) -> Any:
    """The elements of the triangle flags[0] names (`L` lower, `U` upper), without the diagonal
    when flags[2:] is `S` (strict)."""
    off = 1 if flags[2:] == "S" else 0
    return np().tril_indices(n, -off) if flags[0] == "L" else np().triu_indices(n, off)


@native("blas.syrk", 7)
def _syrk(flags: str, n: int, k: int, alpha: float, a: Any, beta: float, c: Any) -> None:
    """One triangle of c[:n, :n] = alpha * op(a) @ op(a).T + beta * c (flags: triangle, transpose,
    `S` for the triangle without its diagonal)."""
    n, k = _sizes(n, k)
    opa = _op(a, flags[1], n, k)
    part = _triangle(c, n, flags)
    view = c[:n, :n]
    view[part] = (alpha * (opa @ opa.T))[part] + (0.0 if beta == 0.0 else beta * view[part])


@native("blas.syr2k", 8)
def _syr2k(flags: str, n: int, k: int, alpha: float, a: Any, b: Any, beta: float, c: Any) -> None:
    """One triangle of c[:n, :n] = alpha * (op(a) @ op(b).T + op(b) @ op(a).T) + beta * c."""
    n, k = _sizes(n, k)
    opa, opb = _op(a, flags[1], n, k), _op(b, flags[1], n, k)
    part = _triangle(c, n, flags)
    view = c[:n, :n]
    view[part] = (alpha * (opa @ opb.T + opb @ opa.T))[part] + (0.0 if beta == 0.0 else beta * view[part])


@native("blas.trmm", 6)
def _trmm(flags: str, m: int, n: int, alpha: float, a: Any, b: Any) -> None:
    """b[:m, :n] = alpha * op(T) @ b (side L) or alpha * b @ op(T) (side R), T the unit (flags[3] `U`)
    or plain triangle (flags[1]: `L` lower, `U` upper) of a's leading square block."""
    nmp = np()
    m, n = _sizes(m, n)
    side, uplo, trans, diag = flags
    size = m if side == "L" else n
    block = a[:size, :size]
    if diag == "U":
        t = (nmp.tril(block, -1) if uplo == "L" else nmp.triu(block, 1)) + nmp.eye(size)
    else:
        t = nmp.tril(block) if uplo == "L" else nmp.triu(block)
    if trans == "T":
        t = t.T
    view = b[:m, :n]
    view[...] = alpha * (t @ view if side == "L" else view @ t)


@native("blas.trsv", 4)
def _trsv(flags: str, n: int, a: Any, x: Any) -> None:
    """Solve op(T) x[:n] = x[:n] in place, T the (unit, flags[2] `U`) lower or upper (flags[0])
    triangle of a's leading n x n block, op the transpose for flags[1] `T`."""
    from scipy.linalg import solve_triangular

    n = max(n, 0)
    if n:
        uplo, trans, diag = flags
        x[:n] = solve_triangular(a[:n, :n], x[:n], lower=uplo == "L", trans=1 if trans == "T" else 0,
                                 unit_diagonal=diag == "U", check_finite=False)


@native("blas.diagonal_nonzero", 2)
def _diagonal_nonzero(n: int, a: Any) -> bool:
    """Is no element of a's diagonal, among the first n, zero?  (The loops divide by them.)"""
    n = max(n, 0)
    return bool(np().all(np().diagonal(a)[:n] != 0.0))
