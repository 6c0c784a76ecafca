"""correlation (datamining): the correlation matrix of N data points in M dimensions."""
import numpy as np

NAME, CATEGORY, FUNCTION = "correlation", "datamining", "kernel_correlation"
SIZES = {"MINI": dict(m=28, n=32), "SMALL": dict(m=80, n=100), "MEDIUM": dict(m=240, n=260),
         "LARGE": dict(m=1200, n=1400)}
INIT, SCALARS = ("m", "n", "data"), ("float_n",)
KERNEL, OUTPUTS = ("m", "n", "float_n", "data", "corr", "mean", "stddev"), ("corr", "mean", "stddev", "data")


def arrays(m, n):
    return {"data": np.zeros((n, m)), "corr": np.zeros((m, m)), "mean": np.zeros(m), "stddev": np.zeros(m)}


def init_array(m, n, data):
    float_n = float(n)
    for i in range(n):
        for j in range(m):
            data[i, j] = (i * j) / m + i
    return float_n


def kernel(m, n, float_n, data, corr, mean, stddev):
    eps = 0.1
    for j in range(m):
        mean[j] = 0.0
        for i in range(n):
            mean[j] += data[i, j]
        mean[j] /= float_n
    for j in range(m):
        stddev[j] = 0.0
        for i in range(n):
            stddev[j] += (data[i, j] - mean[j]) * (data[i, j] - mean[j])
        stddev[j] /= float_n
        stddev[j] = np.sqrt(stddev[j])
        stddev[j] = 1.0 if stddev[j] <= eps else stddev[j]
    for i in range(n):
        for j in range(m):
            data[i, j] -= mean[j]
            data[i, j] /= np.sqrt(float_n) * stddev[j]
    for i in range(m - 1):
        corr[i, i] = 1.0
        for j in range(i + 1, m):
            corr[i, j] = 0.0
            for k in range(n):
                corr[i, j] += data[k, i] * data[k, j]
            corr[j, i] = corr[i, j]
    corr[m - 1, m - 1] = 1.0


def kernel_numpy(m, n, float_n, data, corr, mean, stddev):
    mean[:] = data.sum(axis=0) / float_n
    stddev[:] = np.sqrt(((data - mean) ** 2).sum(axis=0) / float_n)
    stddev[stddev <= 0.1] = 1.0
    data -= mean
    data /= np.sqrt(float_n) * stddev
    corr[:] = data.T @ data
    np.fill_diagonal(corr, 1.0)
