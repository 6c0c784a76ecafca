"""3mm (linear-algebra/kernels): G := (A*B)*(C*D), as three matrix products."""
import numpy as np

NAME, CATEGORY, FUNCTION = "3mm", "linear-algebra/kernels", "kernel_3mm"
SIZES = {"MINI": dict(ni=16, nj=18, nk=20, nl=22, nm=24), "SMALL": dict(ni=40, nj=50, nk=60, nl=70, nm=80),
         "MEDIUM": dict(ni=180, nj=190, nk=200, nl=210, nm=220),
         "LARGE": dict(ni=800, nj=900, nk=1000, nl=1100, nm=1200)}
INIT, SCALARS = ("ni", "nj", "nk", "nl", "nm", "A", "B", "C", "D"), ()
KERNEL = ("ni", "nj", "nk", "nl", "nm", "E", "A", "B", "F", "C", "D", "G")
OUTPUTS = ("G", "E", "F")


def arrays(ni, nj, nk, nl, nm):
    return {"E": np.zeros((ni, nj)), "A": np.zeros((ni, nk)), "B": np.zeros((nk, nj)), "F": np.zeros((nj, nl)),
            "C": np.zeros((nj, nm)), "D": np.zeros((nm, nl)), "G": np.zeros((ni, nl))}


def init_array(ni, nj, nk, nl, nm, A, B, C, D):
    for i in range(ni):
        for j in range(nk):
            A[i, j] = ((i * j + 1) % ni) / (5 * ni)
    for i in range(nk):
        for j in range(nj):
            B[i, j] = ((i * (j + 1) + 2) % nj) / (5 * nj)
    for i in range(nj):
        for j in range(nm):
            C[i, j] = (i * (j + 3) % nl) / (5 * nl)
    for i in range(nm):
        for j in range(nl):
            D[i, j] = ((i * (j + 2) + 2) % nk) / (5 * nk)


def kernel(ni, nj, nk, nl, nm, E, A, B, F, C, D, G):
    for i in range(ni):
        for j in range(nj):
            E[i, j] = 0.0
            for k in range(nk):
                E[i, j] += A[i, k] * B[k, j]
    for i in range(nj):
        for j in range(nl):
            F[i, j] = 0.0
            for k in range(nm):
                F[i, j] += C[i, k] * D[k, j]
    for i in range(ni):
        for j in range(nl):
            G[i, j] = 0.0
            for k in range(nj):
                G[i, j] += E[i, k] * F[k, j]


def kernel_numpy(ni, nj, nk, nl, nm, E, A, B, F, C, D, G):
    np.matmul(A, B, out=E)
    np.matmul(C, D, out=F)
    np.matmul(E, F, out=G)
