"""lu (linear-algebra/solvers): LU decomposition in place, without pivoting."""
import numpy as np

NAME, CATEGORY, FUNCTION = "lu", "linear-algebra/solvers", "kernel_lu"
SIZES = {"MINI": dict(n=40), "SMALL": dict(n=120), "MEDIUM": dict(n=400), "LARGE": dict(n=2000)}
INIT, SCALARS = ("n", "A"), ()
KERNEL, OUTPUTS = ("n", "A"), ("A",)


def arrays(n):
    return {"A": np.zeros((n, n))}


def init_array(n, A):
    for i in range(n):
        for j in range(i + 1):
            A[i, j] = (-(j % n)) / n + 1  # C's % truncates: -j % n is -j here
        for j in range(i + 1, n):
            A[i, j] = 0.0
        A[i, i] = 1.0
    B = np.zeros((n, n))
    for t in range(n):
        for r in range(n):
            for s in range(n):
                B[r, s] += A[r, t] * A[s, t]
    for r in range(n):
        for s in range(n):
            A[r, s] = B[r, s]


def kernel(n, A):
    for i in range(n):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[k, j]
            A[i, j] /= A[j, j]
        for j in range(i, n):
            for k in range(i):
                A[i, j] -= A[i, k] * A[k, j]


def kernel_numpy(n, A):
    # right-looking elimination: one rank-1 update of the trailing block per column
    for k in range(n - 1):
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
