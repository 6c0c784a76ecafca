"""cholesky (linear-algebra/solvers): Cholesky decomposition in place, A = L*L^T."""
import numpy as np

NAME, CATEGORY, FUNCTION = "cholesky", "linear-algebra/solvers", "kernel_cholesky"
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
    # make the matrix positive semi-definite: A := A*A^T, through a local B
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
                A[i, j] -= A[i, k] * A[j, k]
            A[i, j] /= A[j, j]
        for k in range(i):
            A[i, i] -= A[i, k] * A[i, k]
        A[i, i] = np.sqrt(A[i, i])


def kernel_numpy(n, A):
    # the lower triangle becomes L; the strict upper triangle is left as it was
    A[:] = np.linalg.cholesky(A) + np.triu(A, 1)
