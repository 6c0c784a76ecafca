"""seidel-2d (stencils): 2-D Gauss-Seidel relaxation, a 9-point stencil updated in place."""
import numpy as np

NAME, CATEGORY, FUNCTION = "seidel-2d", "stencils", "kernel_seidel_2d"
SIZES = {"MINI": dict(tsteps=20, n=40), "SMALL": dict(tsteps=40, n=120), "MEDIUM": dict(tsteps=100, n=400),
         "LARGE": dict(tsteps=500, n=2000)}
INIT, SCALARS = ("n", "A"), ()
KERNEL, OUTPUTS = ("tsteps", "n", "A"), ("A",)


def arrays(tsteps, n):
    return {"A": np.zeros((n, n))}


def init_array(n, A):
    for i in range(n):
        for j in range(n):
            A[i, j] = (float(i) * (j + 2) + 2) / n


def kernel(tsteps, n, A):
    for t in range(tsteps):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                A[i, j] = (A[i - 1, j - 1] + A[i - 1, j] + A[i - 1, j + 1]
                           + A[i, j - 1] + A[i, j] + A[i, j + 1]
                           + A[i + 1, j - 1] + A[i + 1, j] + A[i + 1, j + 1]) / 9.0


def kernel_numpy(tsteps, n, A):
    # each row reads the row above as already updated: rows go one by one; within a row the
    # left neighbour is the one recurrence left to a scalar loop
    for t in range(tsteps):
        for i in range(1, n - 1):
            row = (A[i - 1, :-2] + A[i - 1, 1:-1] + A[i - 1, 2:] + A[i, 1:-1] + A[i, 2:]
                   + A[i + 1, :-2] + A[i + 1, 1:-1] + A[i + 1, 2:])
            for j in range(1, n - 1):
                A[i, j] = (A[i, j - 1] + row[j - 1]) / 9.0
