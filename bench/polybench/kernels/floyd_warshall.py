"""floyd-warshall (medley): shortest paths between all pairs of nodes (integers)."""
import numpy as np

NAME, CATEGORY, FUNCTION = "floyd-warshall", "medley", "kernel_floyd_warshall"
SIZES = {"MINI": dict(n=60), "SMALL": dict(n=180), "MEDIUM": dict(n=500), "LARGE": dict(n=2800)}
INIT, SCALARS = ("n", "path"), ()
KERNEL, OUTPUTS = ("n", "path"), ("path",)


def arrays(n):
    return {"path": np.zeros((n, n), dtype=np.int64)}


def init_array(n, path):
    for i in range(n):
        for j in range(n):
            path[i, j] = i * j % 7 + 1
            if (i + j) % 13 == 0 or (i + j) % 7 == 0 or (i + j) % 11 == 0:
                path[i, j] = 999


def kernel(n, path):
    for k in range(n):
        for i in range(n):
            for j in range(n):
                path[i, j] = path[i, j] if path[i, j] < path[i, k] + path[k, j] else path[i, k] + path[k, j]


def kernel_numpy(n, path):
    for k in range(n):
        np.minimum(path, path[:, k, None] + path[None, k, :], out=path)
