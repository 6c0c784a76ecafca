"""mvt (linear-algebra/kernels): x1 += A*y_1 and x2 += A^T*y_2."""
import numpy as np

NAME, CATEGORY, FUNCTION = "mvt", "linear-algebra/kernels", "kernel_mvt"
SIZES = {"MINI": dict(n=40), "SMALL": dict(n=120), "MEDIUM": dict(n=400), "LARGE": dict(n=2000)}
INIT, SCALARS = ("n", "x1", "x2", "y_1", "y_2", "A"), ()
KERNEL, OUTPUTS = ("n", "x1", "x2", "y_1", "y_2", "A"), ("x1", "x2")


def arrays(n):
    return {"x1": np.zeros(n), "x2": np.zeros(n), "y_1": np.zeros(n), "y_2": np.zeros(n), "A": np.zeros((n, n))}


def init_array(n, x1, x2, y_1, y_2, A):
    for i in range(n):
        x1[i] = (i % n) / n
        x2[i] = ((i + 1) % n) / n
        y_1[i] = ((i + 3) % n) / n
        y_2[i] = ((i + 4) % n) / n
        for j in range(n):
            A[i, j] = (i * j % n) / n


def kernel(n, x1, x2, y_1, y_2, A):
    for i in range(n):
        for j in range(n):
            x1[i] = x1[i] + A[i, j] * y_1[j]
    for i in range(n):
        for j in range(n):
            x2[i] = x2[i] + A[j, i] * y_2[j]


def kernel_numpy(n, x1, x2, y_1, y_2, A):
    x1 += A @ y_1
    x2 += y_2 @ A
