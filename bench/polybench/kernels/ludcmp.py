"""ludcmp (linear-algebra/solvers): LU decomposition, then forward and back substitution."""
import numpy as np

NAME, CATEGORY, FUNCTION = "ludcmp", "linear-algebra/solvers", "kernel_ludcmp"
SIZES = {"MINI": dict(n=40), "SMALL": dict(n=120), "MEDIUM": dict(n=400), "LARGE": dict(n=2000)}
INIT, SCALARS = ("n", "A", "b", "x", "y"), ()
KERNEL, OUTPUTS = ("n", "A", "b", "x", "y"), ("x", "y", "A")


def arrays(n):
    return {"A": np.zeros((n, n)), "b": np.zeros(n), "x": np.zeros(n), "y": np.zeros(n)}


def init_array(n, A, b, x, y):
    fn = float(n)
    for i in range(n):
        x[i] = 0.0
        y[i] = 0.0
        b[i] = (i + 1) / fn / 2.0 + 4
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


def kernel(n, A, b, x, y):
    for i in range(n):
        for j in range(i):
            w = A[i, j]
            for k in range(j):
                w -= A[i, k] * A[k, j]
            A[i, j] = w / A[j, j]
        for j in range(i, n):
            w = A[i, j]
            for k in range(i):
                w -= A[i, k] * A[k, j]
            A[i, j] = w
    for i in range(n):
        w = b[i]
        for j in range(i):
            w -= A[i, j] * y[j]
        y[i] = w
    for i in range(n - 1, -1, -1):
        w = y[i]
        for j in range(i + 1, n):
            w -= A[i, j] * x[j]
        x[i] = w / A[i, i]


def kernel_numpy(n, A, b, x, y):
    for k in range(n - 1):
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
    for i in range(n):
        y[i] = b[i] - A[i, :i] @ y[:i]
    for i in range(n - 1, -1, -1):
        x[i] = (y[i] - A[i, i + 1:] @ x[i + 1:]) / A[i, i]
