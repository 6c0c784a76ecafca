"""syr2k (linear-algebra/blas): C := alpha*A*B^T + alpha*B*A^T + beta*C, lower triangle."""
import numpy as np

NAME, CATEGORY, FUNCTION = "syr2k", "linear-algebra/blas", "kernel_syr2k"
SIZES = {"MINI": dict(m=20, n=30), "SMALL": dict(m=60, n=80), "MEDIUM": dict(m=200, n=240),
         "LARGE": dict(m=1000, n=1200)}
INIT, SCALARS = ("n", "m", "C", "A", "B"), ("alpha", "beta")
KERNEL, OUTPUTS = ("n", "m", "alpha", "beta", "C", "A", "B"), ("C",)


def arrays(m, n):
    return {"C": np.zeros((n, n)), "A": np.zeros((n, m)), "B": np.zeros((n, m))}


def init_array(n, m, C, A, B):
    alpha = 1.5
    beta = 1.2
    for i in range(n):
        for j in range(m):
            A[i, j] = ((i * j + 1) % n) / n
            B[i, j] = ((i * j + 2) % m) / m
    for i in range(n):
        for j in range(n):
            C[i, j] = ((i * j + 3) % n) / m
    return alpha, beta


def kernel(n, m, alpha, beta, C, A, B):
    for i in range(n):
        for j in range(i + 1):
            C[i, j] *= beta
        for k in range(m):
            for j in range(i + 1):
                C[i, j] += A[j, k] * alpha * B[i, k] + B[j, k] * alpha * A[i, k]


def kernel_numpy(n, m, alpha, beta, C, A, B):
    low = np.tril_indices(n)
    upd = beta * C + alpha * (B @ A.T + A @ B.T)
    C[low] = upd[low]
