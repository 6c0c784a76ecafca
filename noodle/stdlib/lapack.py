"""The VM's side of recognised factorisations (noodle.ir.intents.factorisation): LAPACK through
SciPy.  Native code calls the same routine itself (noodle.backends.llvm.lapack)."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from noodle.stdlib.natives import native


@native("lapack.potrf", 3)
def _potrf(flags: str, n: int, a: Any) -> bool:
    """Factor a's leading n x n block in place, A = L Lᵀ into its lower triangle (flags `L`) or
    A = Uᵀ U into its upper (`U`), the other triangle untouched; True when done.  False, with a
    unchanged, when an element of the triangle is not finite or the matrix is not positive
    definite (the loops then do what they do)."""
    import numpy as np
    from scipy.linalg.lapack import dpotrf

    n = max(n, 0)
    block = a[:n, :n]
    part = np.tril_indices(n) if flags == "L" else np.triu_indices(n)
    if not np.isfinite(block[part]).all():
        return False
    if n == 0:
        return True
    factor, info = dpotrf(block, lower=1 if flags == "L" else 0, clean=0)
    if info != 0:
        return False
    block[part] = factor[part]
    return True
