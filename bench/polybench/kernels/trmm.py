"""trmm (linear-algebra/blas): B := alpha*A^T*B, A unit lower triangular."""
import numpy as np

NAME, CATEGORY, FUNCTION = "trmm", "linear-algebra/blas", "kernel_trmm"
SIZES = {"MINI": dict(m=20, n=30), "SMALL": dict(m=60, n=80), "MEDIUM": dict(m=200, n=240),
         "LARGE": dict(m=1000, n=1200)}
INIT, SCALARS = ("m", "n", "A", "B"), ("alpha",)
KERNEL, OUTPUTS = ("m", "n", "alpha", "A", "B"), ("B",)


def arrays(m, n):
    return {"A": np.zeros((m, m)), "B": np.zeros((m, n))}


def init_array(m, n, A, B):
    alpha = 1.5
    for i in range(m):
        for j in range(i):
            A[i, j] = ((i + j) % m) / m
        A[i, i] = 1.0
        for j in range(n):
            B[i, j] = ((n + (i - j)) % n) / n
    return alpha


def kernel(m, n, alpha, A, B):
    for i in range(m):
        for j in range(n):
            for k in range(i + 1, m):
                B[i, j] += A[k, i] * B[k, j]
            B[i, j] = alpha * B[i, j]


def kernel_numpy(m, n, alpha, A, B):
    # row i reads rows k > i of B before they change: the strictly lower part of A, transposed
    B[:] = alpha * (B + np.tril(A, -1).T @ B)
