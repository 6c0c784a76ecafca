"""gemver (linear-algebra/blas): vector multiplication and matrix addition."""
import numpy as np

NAME, CATEGORY, FUNCTION = "gemver", "linear-algebra/blas", "kernel_gemver"
SIZES = {"MINI": dict(n=40), "SMALL": dict(n=120), "MEDIUM": dict(n=400), "LARGE": dict(n=2000)}
INIT, SCALARS = ("n", "A", "u1", "v1", "u2", "v2", "w", "x", "y", "z"), ("alpha", "beta")
KERNEL = ("n", "alpha", "beta", "A", "u1", "v1", "u2", "v2", "w", "x", "y", "z")
OUTPUTS = ("A", "x", "w")


def arrays(n):
    return {"A": np.zeros((n, n)), **{v: np.zeros(n) for v in ("u1", "v1", "u2", "v2", "w", "x", "y", "z")}}


def init_array(n, A, u1, v1, u2, v2, w, x, y, z):
    alpha = 1.5
    beta = 1.2
    fn = float(n)
    for i in range(n):
        u1[i] = i
        u2[i] = ((i + 1) / fn) / 2.0
        v1[i] = ((i + 1) / fn) / 4.0
        v2[i] = ((i + 1) / fn) / 6.0
        y[i] = ((i + 1) / fn) / 8.0
        z[i] = ((i + 1) / fn) / 9.0
        x[i] = 0.0
        w[i] = 0.0
        for j in range(n):
            A[i, j] = (i * j % n) / n
    return alpha, beta


def kernel(n, alpha, beta, A, u1, v1, u2, v2, w, x, y, z):
    for i in range(n):
        for j in range(n):
            A[i, j] = A[i, j] + u1[i] * v1[j] + u2[i] * v2[j]
    for i in range(n):
        for j in range(n):
            x[i] = x[i] + beta * A[j, i] * y[j]
    for i in range(n):
        x[i] = x[i] + z[i]
    for i in range(n):
        for j in range(n):
            w[i] = w[i] + alpha * A[i, j] * x[j]


def kernel_numpy(n, alpha, beta, A, u1, v1, u2, v2, w, x, y, z):
    A += np.outer(u1, v1) + np.outer(u2, v2)
    x += beta * (y @ A) + z
    w += alpha * (A @ x)
