"""gesummv (linear-algebra/blas): y := alpha*A*x + beta*B*x."""
import numpy as np

NAME, CATEGORY, FUNCTION = "gesummv", "linear-algebra/blas", "kernel_gesummv"
SIZES = {"MINI": dict(n=30), "SMALL": dict(n=90), "MEDIUM": dict(n=250), "LARGE": dict(n=1300)}
INIT, SCALARS = ("n", "A", "B", "x"), ("alpha", "beta")
KERNEL, OUTPUTS = ("n", "alpha", "beta", "A", "B", "tmp", "x", "y"), ("y", "tmp")


def arrays(n):
    return {"A": np.zeros((n, n)), "B": np.zeros((n, n)), "tmp": np.zeros(n), "x": np.zeros(n), "y": np.zeros(n)}


def init_array(n, A, B, x):
    alpha = 1.5
    beta = 1.2
    for i in range(n):
        x[i] = (i % n) / n
        for j in range(n):
            A[i, j] = ((i * j + 1) % n) / n
            B[i, j] = ((i * j + 2) % n) / n
    return alpha, beta


def kernel(n, alpha, beta, A, B, tmp, x, y):
    for i in range(n):
        tmp[i] = 0.0
        y[i] = 0.0
        for j in range(n):
            tmp[i] = A[i, j] * x[j] + tmp[i]
            y[i] = B[i, j] * x[j] + y[i]
        y[i] = alpha * tmp[i] + beta * y[i]


def kernel_numpy(n, alpha, beta, A, B, tmp, x, y):
    tmp[:] = A @ x
    y[:] = alpha * tmp + beta * (B @ x)
