"""2mm (linear-algebra/kernels): D := alpha*A*B*C + beta*D, as two matrix products."""
import numpy as np

NAME, CATEGORY, FUNCTION = "2mm", "linear-algebra/kernels", "kernel_2mm"
SIZES = {"MINI": dict(ni=16, nj=18, nk=22, nl=24), "SMALL": dict(ni=40, nj=50, nk=70, nl=80),
         "MEDIUM": dict(ni=180, nj=190, nk=210, nl=220), "LARGE": dict(ni=800, nj=900, nk=1100, nl=1200)}
INIT, SCALARS = ("ni", "nj", "nk", "nl", "A", "B", "C", "D"), ("alpha", "beta")
KERNEL = ("ni", "nj", "nk", "nl", "alpha", "beta", "tmp", "A", "B", "C", "D")
OUTPUTS = ("D", "tmp")


def arrays(ni, nj, nk, nl):
    return {"tmp": np.zeros((ni, nj)), "A": np.zeros((ni, nk)), "B": np.zeros((nk, nj)),
            "C": np.zeros((nj, nl)), "D": np.zeros((ni, nl))}


def init_array(ni, nj, nk, nl, A, B, C, D):
    alpha = 1.5
    beta = 1.2
    for i in range(ni):
        for j in range(nk):
            A[i, j] = ((i * j + 1) % ni) / ni
    for i in range(nk):
        for j in range(nj):
            B[i, j] = (i * (j + 1) % nj) / nj
    for i in range(nj):
        for j in range(nl):
            C[i, j] = ((i * (j + 3) + 1) % nl) / nl
    for i in range(ni):
        for j in range(nl):
            D[i, j] = (i * (j + 2) % nk) / nk
    return alpha, beta


def kernel(ni, nj, nk, nl, alpha, beta, tmp, A, B, C, D):
    for i in range(ni):
        for j in range(nj):
            tmp[i, j] = 0.0
            for k in range(nk):
                tmp[i, j] += alpha * A[i, k] * B[k, j]
    for i in range(ni):
        for j in range(nl):
            D[i, j] *= beta
            for k in range(nj):
                D[i, j] += tmp[i, k] * C[k, j]


def kernel_numpy(ni, nj, nk, nl, alpha, beta, tmp, A, B, C, D):
    np.matmul(alpha * A, B, out=tmp)
    D *= beta
    D += tmp @ C
