"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with a cubic polynomial kernel."""

from __future__ import annotations

import numpy as np

__all__ = ["polynomial_mmd2", "kernel_distance"]


def _kernel(a: np.ndarray, b: np.ndarray, degree: int, coef: float) -> np.ndarray:
    """(a·bᵀ / D + coef)^degree [len(a), len(b)], the power by repeated products (np.power is ~3× slower)."""
    base = a @ b.T / a.shape[1] + coef
    out = base.copy()
    for _ in range(degree - 1):
        out *= base
    return out


def polynomial_mmd2(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0) -> float:
    """Unbiased MMD² between x [m, D] and y [n, D] with k(a, b) = (a·b / D + coef)^degree.

    MMD²_u = Σ_{i≠j} k(xᵢ, xⱼ)/(m(m−1)) + Σ_{i≠j} k(yᵢ, yⱼ)/(n(n−1)) − 2 Σ_{i,j} k(xᵢ, yⱼ)/(mn);
    its expectation is 0 when x and y come from one distribution (it can be negative).
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    kxx, kyy, kxy = _kernel(x, x, degree, coef), _kernel(y, y, degree, coef), _kernel(x, y, degree, coef)
    m, n = len(x), len(y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    )


def _subset_sums(a: np.ndarray, b: np.ndarray, sa: np.ndarray, sb: np.ndarray, degree: int, coef: float) -> np.ndarray:
    """Σ_{i∈A_k, j∈B_k} k(aᵢ, bⱼ) for every subset pair k, as sa[:, k]ᵀ K sb[:, k] with sa [len(a), S] and
    sb [len(b), S] the subsets' 0/1 indicators; K [len(a), len(b)] is built in blocks of rows, so memory
    stays at a block of K while each entry is computed once for all S subsets."""
    out = np.zeros(sa.shape[1])
    for r in range(0, len(a), 2048):
        block = _kernel(a[r : r + 2048], b, degree, coef)  # [≤2048, len(b)]
        out += (sa[r : r + 2048] * (block @ sb)).sum(axis=0)
    return out


def kernel_distance(real, fake, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation of the unbiased MMD² over random subsets of both sets
    (the protocol of Bińkowski et al.: 100 subsets of 1,000), subset size capped by the set sizes.

    Each subset's value is :func:`polynomial_mmd2` of its rows; the kernel matrices are computed once and
    summed over every subset through indicator vectors, not rebuilt per subset (the same sums, in
    another order)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    sr, sf = np.zeros((len(real), subsets)), np.zeros((len(fake), subsets))
    for k in range(subsets):  # the draws of the per-subset protocol, in its order: real rows, then fake rows
        sr[rng.choice(len(real), size, replace=False), k] = 1.0
        sf[rng.choice(len(fake), size, replace=False), k] = 1.0
    deg, coef = 3, 1.0  # polynomial_mmd2's kernel: (a·b / D + 1)³

    def diag(x: np.ndarray) -> np.ndarray:  # k(xᵢ, xᵢ) [n]: the terms the unbiased sums leave out
        return (np.einsum("nd,nd->n", x, x) / x.shape[1] + coef) ** deg

    kxx = _subset_sums(real, real, sr, sr, deg, coef) - diag(real) @ sr  # [subsets]
    kyy = _subset_sums(fake, fake, sf, sf, deg, coef) - diag(fake) @ sf
    kxy = _subset_sums(real, fake, sr, sf, deg, coef)
    m = size
    vals = kxx / (m * (m - 1)) + kyy / (m * (m - 1)) - 2 * kxy / (m * m)
    return float(np.mean(vals)), float(np.std(vals))
