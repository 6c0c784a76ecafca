"""covariance (datamining): the covariance matrix of N data points in M dimensions."""
import numpy as np

NAME, CATEGORY, FUNCTION = "covariance", "datamining", "kernel_covariance"
SIZES = {"MINI": dict(m=28, n=32), "SMALL": dict(m=80, n=100), "MEDIUM": dict(m=240, n=260),
         "LARGE": dict(m=1200, n=1400)}
INIT, SCALARS = ("m", "n", "data"), ("float_n",)
KERNEL, OUTPUTS = ("m", "n", "float_n", "data", "cov", "mean"), ("cov", "mean", "data")


def arrays(m, n):
    return {"data": np.zeros((n, m)), "cov": np.zeros((m, m)), "mean": np.zeros(m)}


def init_array(m, n, data):
    float_n = float(n)
    for i in range(n):
        for j in range(m):
            data[i, j] = (float(i) * j) / m
    return float_n


def kernel(m, n, float_n, data, cov, mean):
    for j in range(m):
        mean[j] = 0.0
        for i in range(n):
            mean[j] += data[i, j]
        mean[j] /= float_n
    for i in range(n):
        for j in range(m):
            data[i, j] -= mean[j]
    for i in range(m):
        for j in range(i, m):
            cov[i, j] = 0.0
            for k in range(n):
                cov[i, j] += data[k, i] * data[k, j]
            cov[i, j] /= (float_n - 1.0)
            cov[j, i] = cov[i, j]


def kernel_numpy(m, n, float_n, data, cov, mean):
    mean[:] = data.sum(axis=0) / float_n
    data -= mean
    cov[:] = (data.T @ data) / (float_n - 1.0)
