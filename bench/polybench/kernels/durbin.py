"""durbin (linear-algebra/solvers): Levinson-Durbin recursion for a Toeplitz system."""
import numpy as np

NAME, CATEGORY, FUNCTION = "durbin", "linear-algebra/solvers", "kernel_durbin"
SIZES = {"MINI": dict(n=40), "SMALL": dict(n=120), "MEDIUM": dict(n=400), "LARGE": dict(n=2000)}
INIT, SCALARS = ("n", "r"), ()
KERNEL, OUTPUTS = ("n", "r", "y"), ("y",)


def arrays(n):
    return {"r": np.zeros(n), "y": np.zeros(n)}


def init_array(n, r):
    for i in range(n):
        r[i] = n + 1 - i


def kernel(n, r, y):
    z = np.zeros(n)
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, n):
        beta = (1 - alpha * alpha) * beta
        sum = 0.0
        for i in range(k):
            sum += r[k - i - 1] * y[i]
        alpha = -(r[k] + sum) / beta
        for i in range(k):
            z[i] = y[i] + alpha * y[k - i - 1]
        for i in range(k):
            y[i] = z[i]
        y[k] = alpha


def kernel_numpy(n, r, y):
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, n):
        beta = (1 - alpha * alpha) * beta
        alpha = -(r[k] + r[k - 1::-1] @ y[:k]) / beta
        y[:k] += alpha * y[k - 1::-1]
        y[k] = alpha
