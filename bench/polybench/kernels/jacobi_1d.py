"""jacobi-1d (stencils): 1-D Jacobi relaxation, a 3-point stencil."""
import numpy as np

NAME, CATEGORY, FUNCTION = "jacobi-1d", "stencils", "kernel_jacobi_1d"
SIZES = {"MINI": dict(tsteps=20, n=30), "SMALL": dict(tsteps=40, n=120), "MEDIUM": dict(tsteps=100, n=400),
         "LARGE": dict(tsteps=500, n=2000)}
INIT, SCALARS = ("n", "A", "B"), ()
KERNEL, OUTPUTS = ("tsteps", "n", "A", "B"), ("A", "B")


def arrays(tsteps, n):
    return {"A": np.zeros(n), "B": np.zeros(n)}


def init_array(n, A, B):
    for i in range(n):
        A[i] = (float(i) + 2) / n
        B[i] = (float(i) + 3) / n


def kernel(tsteps, n, A, B):
    for t in range(tsteps):
        for i in range(1, n - 1):
            B[i] = 0.33333 * (A[i - 1] + A[i] + A[i + 1])
        for i in range(1, n - 1):
            A[i] = 0.33333 * (B[i - 1] + B[i] + B[i + 1])


def kernel_numpy(tsteps, n, A, B):
    for t in range(tsteps):
        B[1:-1] = 0.33333 * (A[:-2] + A[1:-1] + A[2:])
        A[1:-1] = 0.33333 * (B[:-2] + B[1:-1] + B[2:])
