"""A small numeric library written as plain Python loops (what `noodle ale evolve` transpiles)."""
import math


def integrate(lo, hi, n):
    """Midpoint rule for the integral of sqrt(x) * sin(x) over [lo, hi]."""
    h = (hi - lo) / n
    s = 0.0
    for i in range(n):
        x = lo + (i + 0.5) * h
        s += math.sqrt(x) * math.sin(x)
    return s * h


def collatz_steps(n):
    """Steps for n to reach 1 in the Collatz sequence."""
    steps = 0
    while n > 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def longest_collatz(lo, hi):
    """The number in [lo, hi) with the longest Collatz sequence."""
    best = lo
    best_steps = -1
    for n in range(lo, hi):
        s = collatz_steps(n)
        if s > best_steps:
            best_steps = s
            best = n
    return best


def roughness(a):
    """Sum of squared differences of neighbouring samples of a 1-D array."""
    s = 0.0
    for i in range(1, len(a)):
        d = a[i] - a[i - 1]
        s += d * d
    return s
