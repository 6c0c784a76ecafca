"""deriche (medley): Deriche's recursive edge-detection filter (double precision here)."""
import numpy as np

NAME, CATEGORY, FUNCTION = "deriche", "medley", "kernel_deriche"
SIZES = {"MINI": dict(w=64, h=64), "SMALL": dict(w=192, h=128), "MEDIUM": dict(w=720, h=480),
         "LARGE": dict(w=4096, h=2160)}
INIT, SCALARS = ("w", "h", "imgIn", "imgOut"), ("alpha",)
KERNEL, OUTPUTS = ("w", "h", "alpha", "imgIn", "imgOut", "y1", "y2"), ("imgOut",)


def arrays(w, h):
    return {"imgIn": np.zeros((w, h)), "imgOut": np.zeros((w, h)), "y1": np.zeros((w, h)), "y2": np.zeros((w, h))}


def init_array(w, h, imgIn, imgOut):
    alpha = 0.25
    for i in range(w):
        for j in range(h):
            imgIn[i, j] = ((313 * i + 991 * j) % 65536) / 65535.0
    return alpha


def kernel(w, h, alpha, imgIn, imgOut, y1, y2):
    k = (1.0 - np.exp(-alpha)) * (1.0 - np.exp(-alpha)) / (
        1.0 + 2.0 * alpha * np.exp(-alpha) - np.exp(2.0 * alpha))
    a1 = a5 = k
    a2 = a6 = k * np.exp(-alpha) * (alpha - 1.0)
    a3 = a7 = k * np.exp(-alpha) * (alpha + 1.0)
    a4 = a8 = -k * np.exp(-2.0 * alpha)
    b1 = np.power(2.0, -alpha)
    b2 = -np.exp(-2.0 * alpha)
    c1 = c2 = 1.0
    for i in range(w):
        ym1 = 0.0
        ym2 = 0.0
        xm1 = 0.0
        for j in range(h):
            y1[i, j] = a1 * imgIn[i, j] + a2 * xm1 + b1 * ym1 + b2 * ym2
            xm1 = imgIn[i, j]
            ym2 = ym1
            ym1 = y1[i, j]
    for i in range(w):
        yp1 = 0.0
        yp2 = 0.0
        xp1 = 0.0
        xp2 = 0.0
        for j in range(h - 1, -1, -1):
            y2[i, j] = a3 * xp1 + a4 * xp2 + b1 * yp1 + b2 * yp2
            xp2 = xp1
            xp1 = imgIn[i, j]
            yp2 = yp1
            yp1 = y2[i, j]
    for i in range(w):
        for j in range(h):
            imgOut[i, j] = c1 * (y1[i, j] + y2[i, j])
    for j in range(h):
        tm1 = 0.0
        ym1 = 0.0
        ym2 = 0.0
        for i in range(w):
            y1[i, j] = a5 * imgOut[i, j] + a6 * tm1 + b1 * ym1 + b2 * ym2
            tm1 = imgOut[i, j]
            ym2 = ym1
            ym1 = y1[i, j]
    for j in range(h):
        tp1 = 0.0
        tp2 = 0.0
        yp1 = 0.0
        yp2 = 0.0
        for i in range(w - 1, -1, -1):
            y2[i, j] = a7 * tp1 + a8 * tp2 + b1 * yp1 + b2 * yp2
            tp2 = tp1
            tp1 = imgOut[i, j]
            yp2 = yp1
            yp1 = y2[i, j]
    for i in range(w):
        for j in range(h):
            imgOut[i, j] = c2 * (y1[i, j] + y2[i, j])


def kernel_numpy(w, h, alpha, imgIn, imgOut, y1, y2):
    # the recursions run along one axis; the other axis is a vector
    k = (1.0 - np.exp(-alpha)) * (1.0 - np.exp(-alpha)) / (
        1.0 + 2.0 * alpha * np.exp(-alpha) - np.exp(2.0 * alpha))
    a1 = a5 = k
    a2 = a6 = k * np.exp(-alpha) * (alpha - 1.0)
    a3 = a7 = k * np.exp(-alpha) * (alpha + 1.0)
    a4 = a8 = -k * np.exp(-2.0 * alpha)
    b1 = np.power(2.0, -alpha)
    b2 = -np.exp(-2.0 * alpha)
    zero = np.zeros(w)
    xm1, ym1, ym2 = zero, zero, zero
    for j in range(h):
        y1[:, j] = a1 * imgIn[:, j] + a2 * xm1 + b1 * ym1 + b2 * ym2
        xm1, ym2, ym1 = imgIn[:, j], ym1, y1[:, j]
    xp1, xp2, yp1, yp2 = zero, zero, zero, zero
    for j in range(h - 1, -1, -1):
        y2[:, j] = a3 * xp1 + a4 * xp2 + b1 * yp1 + b2 * yp2
        xp2, xp1, yp2, yp1 = xp1, imgIn[:, j], yp1, y2[:, j]
    np.add(y1, y2, out=imgOut)
    zero = np.zeros(h)
    tm1, ym1, ym2 = zero, zero, zero
    for i in range(w):
        y1[i, :] = a5 * imgOut[i, :] + a6 * tm1 + b1 * ym1 + b2 * ym2
        tm1, ym2, ym1 = imgOut[i, :], ym1, y1[i, :]
    tp1, tp2, yp1, yp2 = zero, zero, zero, zero
    for i in range(w - 1, -1, -1):
        y2[i, :] = a7 * tp1 + a8 * tp2 + b1 * yp1 + b2 * yp2
        tp2, tp1, yp2, yp1 = tp1, imgOut[i, :], yp1, y2[i, :]
    np.add(y1, y2, out=imgOut)
