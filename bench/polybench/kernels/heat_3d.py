"""heat-3d (stencils): heat equation over a 3-D grid, a 7-point stencil."""
import numpy as np

NAME, CATEGORY, FUNCTION = "heat-3d", "stencils", "kernel_heat_3d"
SIZES = {"MINI": dict(tsteps=20, n=10), "SMALL": dict(tsteps=40, n=20), "MEDIUM": dict(tsteps=100, n=40),
         "LARGE": dict(tsteps=500, n=120)}
INIT, SCALARS = ("n", "A", "B"), ()
KERNEL, OUTPUTS = ("tsteps", "n", "A", "B"), ("A", "B")


def arrays(tsteps, n):
    return {"A": np.zeros((n, n, n)), "B": np.zeros((n, n, n))}


def init_array(n, A, B):
    for i in range(n):
        for j in range(n):
            for k in range(n):
                A[i, j, k] = B[i, j, k] = float(i + j + (n - k)) * 10 / n


def kernel(tsteps, n, A, B):
    for t in range(1, tsteps + 1):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                for k in range(1, n - 1):
                    B[i, j, k] = (0.125 * (A[i + 1, j, k] - 2.0 * A[i, j, k] + A[i - 1, j, k])
                                  + 0.125 * (A[i, j + 1, k] - 2.0 * A[i, j, k] + A[i, j - 1, k])
                                  + 0.125 * (A[i, j, k + 1] - 2.0 * A[i, j, k] + A[i, j, k - 1])
                                  + A[i, j, k])
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                for k in range(1, n - 1):
                    A[i, j, k] = (0.125 * (B[i + 1, j, k] - 2.0 * B[i, j, k] + B[i - 1, j, k])
                                  + 0.125 * (B[i, j + 1, k] - 2.0 * B[i, j, k] + B[i, j - 1, k])
                                  + 0.125 * (B[i, j, k + 1] - 2.0 * B[i, j, k] + B[i, j, k - 1])
                                  + B[i, j, k])


def kernel_numpy(tsteps, n, A, B):
    c = (slice(1, -1),) * 3
    for t in range(1, tsteps + 1):
        for src, dst in ((A, B), (B, A)):
            dst[c] = (0.125 * (src[2:, 1:-1, 1:-1] - 2.0 * src[c] + src[:-2, 1:-1, 1:-1])
                      + 0.125 * (src[1:-1, 2:, 1:-1] - 2.0 * src[c] + src[1:-1, :-2, 1:-1])
                      + 0.125 * (src[1:-1, 1:-1, 2:] - 2.0 * src[c] + src[1:-1, 1:-1, :-2])
                      + src[c])
