"""gemm (linear-algebra/blas): C := alpha*A*B + beta*C."""
import numpy as np

NAME, CATEGORY, FUNCTION = "gemm", "linear-algebra/blas", "kernel_gemm"
SIZES = {"MINI": dict(ni=20, nj=25, nk=30), "SMALL": dict(ni=60, nj=70, nk=80),
         "MEDIUM": dict(ni=200, nj=220, nk=240), "LARGE": dict(ni=1000, nj=1100, nk=1200)}
INIT, SCALARS = ("ni", "nj", "nk", "C", "A", "B"), ("alpha", "beta")
KERNEL, OUTPUTS = ("ni", "nj", "nk", "alpha", "beta", "C", "A", "B"), ("C",)


def arrays(ni, nj, nk):
    return {"C": np.zeros((ni, nj)), "A": np.zeros((ni, nk)), "B": np.zeros((nk, nj))}


def init_array(ni, nj, nk, C, A, B):
    alpha = 1.5
    beta = 1.2
    for i in range(ni):
        for j in range(nj):
            C[i, j] = ((i * j + 1) % ni) / ni
    for i in range(ni):
        for j in range(nk):
            A[i, j] = (i * (j + 1) % nk) / nk
    for i in range(nk):
        for j in range(nj):
            B[i, j] = (i * (j + 2) % nj) / nj
    return alpha, beta


def kernel(ni, nj, nk, alpha, beta, C, A, B):
    for i in range(ni):
        for j in range(nj):
            C[i, j] *= beta
        for k in range(nk):
            for j in range(nj):
                C[i, j] += alpha * A[i, k] * B[k, j]


def kernel_numpy(ni, nj, nk, alpha, beta, C, A, B):
    C *= beta
    C += alpha * (A @ B)
