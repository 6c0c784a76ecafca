"""gramschmidt (linear-algebra/solvers): QR decomposition by modified Gram-Schmidt."""
import numpy as np

NAME, CATEGORY, FUNCTION = "gramschmidt", "linear-algebra/solvers", "kernel_gramschmidt"
# PolyBench's headers give M < N (MINI 20x30 ... LARGE 1000x1200): A is wider than tall, the columns
# past the M-th reduce to zero and the kernel divides 0 by 0 (C makes NaNs of it; Noodle, like Python,
# raises ZeroDivisionError). The suite exchanges M and N, so A is tall and the decomposition exists.
SIZES = {"MINI": dict(m=30, n=20), "SMALL": dict(m=80, n=60), "MEDIUM": dict(m=240, n=200),
         "LARGE": dict(m=1200, n=1000)}
INIT, SCALARS = ("m", "n", "A", "R", "Q"), ()
KERNEL, OUTPUTS = ("m", "n", "A", "R", "Q"), ("R", "Q", "A")


def arrays(m, n):
    return {"A": np.zeros((m, n)), "R": np.zeros((n, n)), "Q": np.zeros((m, n))}


def init_array(m, n, A, R, Q):
    for i in range(m):
        for j in range(n):
            A[i, j] = (((i * j) % m) / m) * 100 + 10
            Q[i, j] = 0.0
    for i in range(n):
        for j in range(n):
            R[i, j] = 0.0


def kernel(m, n, A, R, Q):
    for k in range(n):
        nrm = 0.0
        for i in range(m):
            nrm += A[i, k] * A[i, k]
        R[k, k] = np.sqrt(nrm)
        for i in range(m):
            Q[i, k] = A[i, k] / R[k, k]
        for j in range(k + 1, n):
            R[k, j] = 0.0
            for i in range(m):
                R[k, j] += Q[i, k] * A[i, j]
            for i in range(m):
                A[i, j] = A[i, j] - Q[i, k] * R[k, j]


def kernel_numpy(m, n, A, R, Q):
    for k in range(n):
        R[k, k] = np.sqrt(A[:, k] @ A[:, k])
        Q[:, k] = A[:, k] / R[k, k]
        R[k, k + 1:] = Q[:, k] @ A[:, k + 1:]
        A[:, k + 1:] -= np.outer(Q[:, k], R[k, k + 1:])


def check(initial, got, ref):
    """PolyBench's A is rank-deficient at every size (rank 19 of 20 columns at MINI, 48 of 60 at
    SMALL): some columns reduce to rounding noise, which is then normalised, so Q and R differ
    wherever two correct implementations round differently. What must hold is the factorisation:
    Q*R reproduces the initial A, and R is upper triangular."""
    A0, Q, R = initial["A"], got["Q"], got["R"]
    err = float(np.max(np.abs(Q @ R - A0))) / max(1.0, float(np.max(np.abs(A0))))
    lower = float(np.max(np.abs(np.tril(R, -1)), initial=0.0))
    return err <= 1e-10 and lower == 0.0, f"|Q*R - A| {err:.1e} of scale, below R's diagonal {lower:.0e}"
