"""doitgen (linear-algebra/kernels): the multiresolution analysis kernel, A[r, q, :] := A[r, q, :] * C4."""
import numpy as np

NAME, CATEGORY, FUNCTION = "doitgen", "linear-algebra/kernels", "kernel_doitgen"
SIZES = {"MINI": dict(nq=8, nr=10, np=12), "SMALL": dict(nq=20, nr=25, np=30), "MEDIUM": dict(nq=40, nr=50, np=60),
         "LARGE": dict(nq=140, nr=150, np=160)}
INIT, SCALARS = ("nr", "nq", "np", "A", "C4"), ()
KERNEL, OUTPUTS = ("nr", "nq", "np", "A", "C4", "sum"), ("A", "sum")


def arrays(nq, nr, np_):
    return {"A": np.zeros((nr, nq, np_)), "C4": np.zeros((np_, np_)), "sum": np.zeros(np_)}


def init_array(nr, nq, np_, A, C4):
    for i in range(nr):
        for j in range(nq):
            for k in range(np_):
                A[i, j, k] = ((i * j + k) % np_) / np_
    for i in range(np_):
        for j in range(np_):
            C4[i, j] = (i * j % np_) / np_


def kernel(nr, nq, np_, A, C4, sum):
    for r in range(nr):
        for q in range(nq):
            for p in range(np_):
                sum[p] = 0.0
                for s in range(np_):
                    sum[p] += A[r, q, s] * C4[s, p]
            for p in range(np_):
                A[r, q, p] = sum[p]


def kernel_numpy(nr, nq, np_, A, C4, sum):
    A[:] = (A.reshape(nr * nq, np_) @ C4).reshape(nr, nq, np_)
    sum[:] = A[nr - 1, nq - 1, :]  # the loops leave the last row's sums behind
