"""atax (linear-algebra/kernels): y := A^T*(A*x)."""
import numpy as np

NAME, CATEGORY, FUNCTION = "atax", "linear-algebra/kernels", "kernel_atax"
SIZES = {"MINI": dict(m=38, n=42), "SMALL": dict(m=116, n=124), "MEDIUM": dict(m=390, n=410),
         "LARGE": dict(m=1900, n=2100)}
INIT, SCALARS = ("m", "n", "A", "x"), ()
KERNEL, OUTPUTS = ("m", "n", "A", "x", "y", "tmp"), ("y", "tmp")


def arrays(m, n):
    return {"A": np.zeros((m, n)), "x": np.zeros(n), "y": np.zeros(n), "tmp": np.zeros(m)}


def init_array(m, n, A, x):
    fn = float(n)
    for i in range(n):
        x[i] = 1 + (i / fn)
    for i in range(m):
        for j in range(n):
            A[i, j] = ((i + j) % n) / (5 * m)


def kernel(m, n, A, x, y, tmp):
    for i in range(n):
        y[i] = 0.0
    for i in range(m):
        tmp[i] = 0.0
        for j in range(n):
            tmp[i] = tmp[i] + A[i, j] * x[j]
        for j in range(n):
            y[j] = y[j] + A[i, j] * tmp[i]


def kernel_numpy(m, n, A, x, y, tmp):
    np.matmul(A, x, out=tmp)
    np.matmul(tmp, A, out=y)
