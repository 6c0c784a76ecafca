"""fdtd-2d (stencils): 2-D finite-difference time-domain kernel."""
import numpy as np

NAME, CATEGORY, FUNCTION = "fdtd-2d", "stencils", "kernel_fdtd_2d"
SIZES = {"MINI": dict(tmax=20, nx=20, ny=30), "SMALL": dict(tmax=40, nx=60, ny=80),
         "MEDIUM": dict(tmax=100, nx=200, ny=240), "LARGE": dict(tmax=500, nx=1000, ny=1200)}
INIT, SCALARS = ("tmax", "nx", "ny", "ex", "ey", "hz", "_fict_"), ()
KERNEL, OUTPUTS = ("tmax", "nx", "ny", "ex", "ey", "hz", "_fict_"), ("ex", "ey", "hz")


def arrays(tmax, nx, ny):
    return {"ex": np.zeros((nx, ny)), "ey": np.zeros((nx, ny)), "hz": np.zeros((nx, ny)), "_fict_": np.zeros(tmax)}


def init_array(tmax, nx, ny, ex, ey, hz, _fict_):
    for i in range(tmax):
        _fict_[i] = i
    for i in range(nx):
        for j in range(ny):
            ex[i, j] = (float(i) * (j + 1)) / nx
            ey[i, j] = (float(i) * (j + 2)) / ny
            hz[i, j] = (float(i) * (j + 3)) / nx


def kernel(tmax, nx, ny, ex, ey, hz, _fict_):
    for t in range(tmax):
        for j in range(ny):
            ey[0, j] = _fict_[t]
        for i in range(1, nx):
            for j in range(ny):
                ey[i, j] = ey[i, j] - 0.5 * (hz[i, j] - hz[i - 1, j])
        for i in range(nx):
            for j in range(1, ny):
                ex[i, j] = ex[i, j] - 0.5 * (hz[i, j] - hz[i, j - 1])
        for i in range(nx - 1):
            for j in range(ny - 1):
                hz[i, j] = hz[i, j] - 0.7 * (ex[i, j + 1] - ex[i, j] + ey[i + 1, j] - ey[i, j])


def kernel_numpy(tmax, nx, ny, ex, ey, hz, _fict_):
    for t in range(tmax):
        ey[0, :] = _fict_[t]
        ey[1:, :] -= 0.5 * (hz[1:, :] - hz[:-1, :])
        ex[:, 1:] -= 0.5 * (hz[:, 1:] - hz[:, :-1])
        hz[:-1, :-1] -= 0.7 * (ex[:-1, 1:] - ex[:-1, :-1] + ey[1:, :-1] - ey[:-1, :-1])
