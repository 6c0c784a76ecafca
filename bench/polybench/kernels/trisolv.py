"""trisolv (linear-algebra/solvers): forward substitution, L*x = b."""
import numpy as np

NAME, CATEGORY, FUNCTION = "trisolv", "linear-algebra/solvers", "kernel_trisolv"
SIZES = {"MINI": dict(n=40), "SMALL": dict(n=120), "MEDIUM": dict(n=400), "LARGE": dict(n=2000)}
INIT, SCALARS = ("n", "L", "x", "b"), ()
KERNEL, OUTPUTS = ("n", "L", "x", "b"), ("x",)


def arrays(n):
    return {"L": np.zeros((n, n)), "x": np.zeros(n), "b": np.zeros(n)}


def init_array(n, L, x, b):
    for i in range(n):
        x[i] = -999.0
        b[i] = i
        for j in range(i + 1):
            L[i, j] = (i + n - j + 1) * 2 / n


def kernel(n, L, x, b):
    for i in range(n):
        x[i] = b[i]
        for j in range(i):
            x[i] -= L[i, j] * x[j]
        x[i] = x[i] / L[i, i]


def kernel_numpy(n, L, x, b):
    for i in range(n):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
