"""jacobi-2d (stencils): 2-D Jacobi relaxation, a 5-point stencil."""
import numpy as np

NAME, CATEGORY, FUNCTION = "jacobi-2d", "stencils", "kernel_jacobi_2d"
SIZES = {"MINI": dict(tsteps=20, n=30), "SMALL": dict(tsteps=40, n=90), "MEDIUM": dict(tsteps=100, n=250),
         "LARGE": dict(tsteps=500, n=1300)}
INIT, SCALARS = ("n", "A", "B"), ()
KERNEL, OUTPUTS = ("tsteps", "n", "A", "B"), ("A", "B")


def arrays(tsteps, n):
    return {"A": np.zeros((n, n)), "B": np.zeros((n, n))}


def init_array(n, A, B):
    for i in range(n):
        for j in range(n):
            A[i, j] = (float(i) * (j + 2) + 2) / n
            B[i, j] = (float(i) * (j + 3) + 3) / n


def kernel(tsteps, n, A, B):
    for t in range(tsteps):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                B[i, j] = 0.2 * (A[i, j] + A[i, j - 1] + A[i, 1 + j] + A[1 + i, j] + A[i - 1, j])
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                A[i, j] = 0.2 * (B[i, j] + B[i, j - 1] + B[i, 1 + j] + B[1 + i, j] + B[i - 1, j])


def kernel_numpy(tsteps, n, A, B):
    for t in range(tsteps):
        B[1:-1, 1:-1] = 0.2 * (A[1:-1, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:] + A[2:, 1:-1] + A[:-2, 1:-1])
        A[1:-1, 1:-1] = 0.2 * (B[1:-1, 1:-1] + B[1:-1, :-2] + B[1:-1, 2:] + B[2:, 1:-1] + B[:-2, 1:-1])
