"""nussinov (medley): Nussinov's RNA folding by dynamic programming (integers)."""
import numpy as np

NAME, CATEGORY, FUNCTION = "nussinov", "medley", "kernel_nussinov"
SIZES = {"MINI": dict(n=60), "SMALL": dict(n=180), "MEDIUM": dict(n=500), "LARGE": dict(n=2500)}
INIT, SCALARS = ("n", "seq", "table"), ()
KERNEL, OUTPUTS = ("n", "seq", "table"), ("table",)


def arrays(n):
    return {"seq": np.zeros(n, dtype=np.int64), "table": np.zeros((n, n), dtype=np.int64)}


def init_array(n, seq, table):
    for i in range(n):
        seq[i] = (i + 1) % 4  # bases AGCT as 0..3
    for i in range(n):
        for j in range(n):
            table[i, j] = 0


def kernel(n, seq, table):
    # PolyBench's macros: max_score(s1, s2) = s1 >= s2 ? s1 : s2; match(b1, b2) = b1 + b2 == 3 ? 1 : 0
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            if j - 1 >= 0:
                table[i, j] = table[i, j] if table[i, j] >= table[i, j - 1] else table[i, j - 1]
            if i + 1 < n:
                table[i, j] = table[i, j] if table[i, j] >= table[i + 1, j] else table[i + 1, j]
            if j - 1 >= 0 and i + 1 < n:
                if i < j - 1:
                    m = table[i + 1, j - 1] + (1 if seq[i] + seq[j] == 3 else 0)
                    table[i, j] = table[i, j] if table[i, j] >= m else m
                else:
                    table[i, j] = table[i, j] if table[i, j] >= table[i + 1, j - 1] else table[i + 1, j - 1]
            for k in range(i + 1, j):
                s = table[i, k] + table[k + 1, j]
                table[i, j] = table[i, j] if table[i, j] >= s else s


def kernel_numpy(n, seq, table):
    # row i depends on rows below it: each cell's split maximum is one vector expression
    match = (seq[:, None] + seq[None, :] == 3).astype(table.dtype)
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            best = table[i, j]
            best = max(best, table[i, j - 1])
            if i + 1 < n:
                best = max(best, table[i + 1, j])
                best = max(best, table[i + 1, j - 1] + (match[i, j] if i < j - 1 else 0))
            if j > i + 1:
                best = max(best, (table[i, i + 1:j] + table[i + 2:j + 1, j]).max())
            table[i, j] = best
