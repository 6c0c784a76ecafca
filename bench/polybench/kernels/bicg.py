"""bicg (linear-algebra/kernels): the BiCG sub-kernel, s := A^T*r and q := A*p."""
import numpy as np

NAME, CATEGORY, FUNCTION = "bicg", "linear-algebra/kernels", "kernel_bicg"
SIZES = {"MINI": dict(m=38, n=42), "SMALL": dict(m=116, n=124), "MEDIUM": dict(m=390, n=410),
         "LARGE": dict(m=1900, n=2100)}
INIT, SCALARS = ("m", "n", "A", "r", "p"), ()
KERNEL, OUTPUTS = ("m", "n", "A", "s", "q", "p", "r"), ("s", "q")


def arrays(m, n):
    return {"A": np.zeros((n, m)), "s": np.zeros(m), "q": np.zeros(n), "p": np.zeros(m), "r": np.zeros(n)}


def init_array(m, n, A, r, p):
    for i in range(m):
        p[i] = (i % m) / m
    for i in range(n):
        r[i] = (i % n) / n
        for j in range(m):
            A[i, j] = (i * (j + 1) % n) / n


def kernel(m, n, A, s, q, p, r):
    for i in range(m):
        s[i] = 0.0
    for i in range(n):
        q[i] = 0.0
        for j in range(m):
            s[j] = s[j] + r[i] * A[i, j]
            q[i] = q[i] + A[i, j] * p[j]


def kernel_numpy(m, n, A, s, q, p, r):
    np.matmul(r, A, out=s)
    np.matmul(A, p, out=q)
