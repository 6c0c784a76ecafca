"""adi (stencils): alternating direction implicit solver of a 2-D heat equation."""
import numpy as np

NAME, CATEGORY, FUNCTION = "adi", "stencils", "kernel_adi"
SIZES = {"MINI": dict(tsteps=20, n=20), "SMALL": dict(tsteps=40, n=60), "MEDIUM": dict(tsteps=100, n=200),
         "LARGE": dict(tsteps=500, n=1000)}
INIT, SCALARS = ("n", "u"), ()
KERNEL, OUTPUTS = ("tsteps", "n", "u", "v", "p", "q"), ("u",)


def arrays(tsteps, n):
    return {"u": np.zeros((n, n)), "v": np.zeros((n, n)), "p": np.zeros((n, n)), "q": np.zeros((n, n))}


def init_array(n, u):
    for i in range(n):
        for j in range(n):
            u[i, j] = (i + n - j) / n


def _coefficients(tsteps, n):
    DX = 1.0 / n
    DY = 1.0 / n
    DT = 1.0 / tsteps
    B1 = 2.0
    B2 = 1.0
    mul1 = B1 * DT / (DX * DX)
    mul2 = B2 * DT / (DY * DY)
    a = -mul1 / 2.0
    b = 1.0 + mul1
    c = a
    d = -mul2 / 2.0
    e = 1.0 + mul2
    f = d
    return a, b, c, d, e, f


def kernel(tsteps, n, u, v, p, q):
    DX = 1.0 / n
    DY = 1.0 / n
    DT = 1.0 / tsteps
    B1 = 2.0
    B2 = 1.0
    mul1 = B1 * DT / (DX * DX)
    mul2 = B2 * DT / (DY * DY)
    a = -mul1 / 2.0
    b = 1.0 + mul1
    c = a
    d = -mul2 / 2.0
    e = 1.0 + mul2
    f = d
    for t in range(1, tsteps + 1):
        # column sweep
        for i in range(1, n - 1):
            v[0, i] = 1.0
            p[i, 0] = 0.0
            q[i, 0] = v[0, i]
            for j in range(1, n - 1):
                p[i, j] = -c / (a * p[i, j - 1] + b)
                q[i, j] = (-d * u[j, i - 1] + (1.0 + 2.0 * d) * u[j, i] - f * u[j, i + 1]
                           - a * q[i, j - 1]) / (a * p[i, j - 1] + b)
            v[n - 1, i] = 1.0
            for j in range(n - 2, 0, -1):
                v[j, i] = p[i, j] * v[j + 1, i] + q[i, j]
        # row sweep
        for i in range(1, n - 1):
            u[i, 0] = 1.0
            p[i, 0] = 0.0
            q[i, 0] = u[i, 0]
            for j in range(1, n - 1):
                p[i, j] = -f / (d * p[i, j - 1] + e)
                q[i, j] = (-a * v[i - 1, j] + (1.0 + 2.0 * a) * v[i, j] - c * v[i + 1, j]
                           - d * q[i, j - 1]) / (d * p[i, j - 1] + e)
            u[i, n - 1] = 1.0
            for j in range(n - 2, 0, -1):
                u[i, j] = p[i, j] * u[i, j + 1] + q[i, j]


def kernel_numpy(tsteps, n, u, v, p, q):
    # the sweeps along j are recurrences; all rows i of one sweep move together as a vector
    a, b, c, d, e, f = _coefficients(tsteps, n)
    inner = slice(1, n - 1)
    for t in range(1, tsteps + 1):
        v[0, inner] = 1.0
        p[inner, 0] = 0.0
        q[inner, 0] = v[0, inner]
        for j in range(1, n - 1):
            den = a * p[inner, j - 1] + b
            p[inner, j] = -c / den
            q[inner, j] = (-d * u[j, 0:n - 2] + (1.0 + 2.0 * d) * u[j, inner] - f * u[j, 2:n]
                           - a * q[inner, j - 1]) / den
        v[n - 1, inner] = 1.0
        for j in range(n - 2, 0, -1):
            v[j, inner] = p[inner, j] * v[j + 1, inner] + q[inner, j]
        u[inner, 0] = 1.0
        p[inner, 0] = 0.0
        q[inner, 0] = u[inner, 0]
        for j in range(1, n - 1):
            den = d * p[inner, j - 1] + e
            p[inner, j] = -f / den
            q[inner, j] = (-a * v[0:n - 2, j] + (1.0 + 2.0 * a) * v[inner, j] - c * v[2:n, j]
                           - d * q[inner, j - 1]) / den
        u[inner, n - 1] = 1.0
        for j in range(n - 2, 0, -1):
            u[inner, j] = p[inner, j] * u[inner, j + 1] + q[inner, j]
