"""Numerically careful weighted statistics shared by the closed forms."""

from __future__ import annotations

import numpy as np

from thetahat.data import is_unit

__all__ = ["weighted_mean_var", "weighted_quantile", "merge_mean_var"]


def weighted_mean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """(sum of weights, mean, M2 = sum w (x - mean)^2) by a corrected two-pass algorithm.

    The second pass re-centres on the first-pass mean and adds back the
    rounding residual (Chan, Golub & LeVeque's corrected two-pass formula),
    so no digits are lost to cancellation (NIST NumAcc4 needs this).
    """
    if is_unit(w):  # no weights: skip the multiplications by one
        total = float(x.shape[0])
        mean = float(x.sum()) / total
        d = x - mean
        resid = float(d.sum())
        m2 = float(np.einsum("i,i->", d, d)) - resid * resid / total
    else:
        total = float(w.sum())
        mean = float(np.einsum("i,i->", w, x)) / total
        d = x - mean
        wd = w * d
        resid = float(wd.sum())
        m2 = float(np.einsum("i,i->", wd, d)) - resid * resid / total
    # einsum, not np.dot: BLAS ddot is ~15x slower here under OPENBLAS_CORETYPE.
    mean += resid / total
    return total, mean, max(m2, 0.0)


def merge_mean_var(
    a: tuple[float, float, float], b: tuple[float, float, float]
) -> tuple[float, float, float]:
    """Merge two (weight, mean, M2) summaries exactly as if computed together (Chan et al.)."""
    na, ma, sa = a
    nb, mb, sb = b
    n = na + nb
    delta = mb - ma
    return n, ma + delta * nb / n, sa + sb + delta * delta * na * nb / n


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """The weighted q-quantile (lower weighted median for q = 0.5)."""
    if np.all(w == 1.0):
        return float(np.quantile(x, q, method="inverted_cdf"))
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    idx = int(np.searchsorted(cum, q * cum[-1], side="left"))
    return float(x[order][min(idx, x.size - 1)])
