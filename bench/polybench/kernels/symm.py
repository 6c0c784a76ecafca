"""symm (linear-algebra/blas): C := alpha*A*B + beta*C, A symmetric (its lower triangle stored)."""
import numpy as np

NAME, CATEGORY, FUNCTION = "symm", "linear-algebra/blas", "kernel_symm"
SIZES = {"MINI": dict(m=20, n=30), "SMALL": dict(m=60, n=80), "MEDIUM": dict(m=200, n=240),
         "LARGE": dict(m=1000, n=1200)}
INIT, SCALARS = ("m", "n", "C", "A", "B"), ("alpha", "beta")
KERNEL, OUTPUTS = ("m", "n", "alpha", "beta", "C", "A", "B"), ("C",)


def arrays(m, n):
    return {"C": np.zeros((m, n)), "A": np.zeros((m, m)), "B": np.zeros((m, n))}


def init_array(m, n, C, A, B):
    alpha = 1.5
    beta = 1.2
    for i in range(m):
        for j in range(n):
            C[i, j] = ((i + j) % 100) / m
            B[i, j] = ((n + i - j) % 100) / m
    for i in range(m):
        for j in range(i + 1):
            A[i, j] = ((i + j) % 100) / m
        for j in range(i + 1, m):
            A[i, j] = -999.0  # regions of arrays that should not be used
    return alpha, beta


def kernel(m, n, alpha, beta, C, A, B):
    for i in range(m):
        for j in range(n):
            temp2 = 0.0
            for k in range(i):
                C[k, j] += alpha * B[i, j] * A[i, k]
                temp2 += B[k, j] * A[i, k]
            C[i, j] = beta * C[i, j] + alpha * B[i, j] * A[i, i] + alpha * temp2


def kernel_numpy(m, n, alpha, beta, C, A, B):
    low = np.tril(A)
    full = low + np.tril(A, -1).T
    C[:] = beta * C + alpha * (full @ B)
