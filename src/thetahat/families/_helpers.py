"""Numerically careful weighted statistics shared by the closed forms."""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from thetahat.data import is_unit

__all__ = [
    "ONE_PASS_RATIO",
    "MeanVar",
    "mean_var_from_shifted_sums",
    "merge_mean_var",
    "weighted_mean_var",
    "weighted_quantile",
]


class MeanVar(tuple):  # type: ignore[type-arg]
    """``(sum of weights, mean, M2)`` plus ``mean_lo``, the rounding error of ``mean``.

    It unpacks and compares as the plain 3-tuple; ``mean + mean_lo`` is the mean
    to about twice the working precision, which :func:`merge_mean_var` uses so
    that the between-chunk differences of the means lose no digits.
    """

    mean_lo: float

    def __new__(cls, total: float, mean: float, m2: float, mean_lo: float = 0.0) -> Self:
        self = super().__new__(cls, (total, mean, m2))
        self.mean_lo = mean_lo
        return self

    def __reduce__(self) -> Any:
        return (MeanVar, (self[0], self[1], self[2], self.mean_lo))


def _two_sum(a: float, b: float) -> tuple[float, float]:
    """(s, e) with s = fl(a + b) and a + b = s + e exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


#: Largest sum x^2 / M2 at which the one-pass M2 = sum x^2 - mean * sum x is used.
ONE_PASS_RATIO = 8.0


def weighted_mean_var(x: np.ndarray, w: np.ndarray) -> MeanVar:
    """(sum of weights, mean, M2 = sum w (x - mean)^2), to within a few ulps of exact.

    Unweighted data near 0 relative to their spread take one pass (sum x and
    sum x^2, cancelling at most 3 bits). Otherwise a second pass re-centres
    on the first-pass mean and adds back the rounding residual (Chan, Golub &
    LeVeque's corrected two-pass formula), so no digits are lost to
    cancellation (NIST NumAcc4 needs this); it also gives the rounding error
    of the mean (``mean_lo``, see :class:`MeanVar`; 0 after one pass).  An
    empty chunk, or one whose weights are all zero, gives the zero summary
    ``(0.0, 0.0, 0.0)``.
    """
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.size == 0:
        return MeanVar(0.0, 0.0, 0.0)
    if is_unit(w):  # no weights: skip the multiplications by one
        total = float(x.shape[0])
        s1 = float(x.sum())
        mean = s1 / total
        # One pass suffices when the data sit near 0 relative to their spread:
        # the rounding error of sum x^2 - mean * sum x is at most about
        # eps * log2(n) * sum x^2, so a ratio sum x^2 / M2 <= 8 costs at most
        # 3 bits of M2 (~1e-14 relative). Otherwise (e.g. NIST NumAcc, Michelso)
        # the corrected two-pass below keeps every digit.
        s2 = float(np.einsum("i,i->", x, x))
        m2 = s2 - s1 * mean
        if m2 > 0.0 and s2 <= ONE_PASS_RATIO * m2:
            return MeanVar(total, mean, m2)
        d = x - mean
        resid = float(d.sum())
        m2 = float(np.einsum("i,i->", d, d)) - resid * resid / total
    else:
        total = float(w.sum())
        if not total > 0.0:
            return MeanVar(0.0, 0.0, 0.0)
        mean = float(np.einsum("i,i->", w, x)) / total
        d = x - mean
        wd = w * d
        resid = float(wd.sum())
        m2 = float(np.einsum("i,i->", wd, d)) - resid * resid / total
    # einsum, not np.dot: BLAS ddot is ~15x slower here under OPENBLAS_CORETYPE.
    mean, lo = _two_sum(mean, resid / total)
    return MeanVar(total, mean, max(m2, 0.0), lo)


def mean_var_from_shifted_sums(total: float, shift: float, d1: float, d2: float) -> MeanVar | None:
    """(total, mean, M2) from d1 = sum (x - shift) and d2 = sum (x - shift)^2, or None.

    With the shift inside the data, M2 = d2 - d1^2 / total cancels at most
    3 bits when d2 <= 8 M2 (as in :func:`weighted_mean_var`'s one pass);
    otherwise, or for M2 <= 0, None: take the corrected two-pass instead.
    """
    m2 = d2 - d1 * (d1 / total)
    if not (m2 > 0.0 and d2 <= ONE_PASS_RATIO * m2):
        return None
    mean, lo = _two_sum(shift, d1 / total)
    return MeanVar(total, mean, m2, lo)


def merge_mean_var(a: tuple[float, ...], b: tuple[float, ...]) -> MeanVar:
    """Merge two (weight, mean, M2) summaries exactly as if computed together (Chan et al.).

    The means' rounding errors (``mean_lo`` of a :class:`MeanVar`; 0 for a
    plain tuple) enter the difference of the means, so merging many chunks
    loses no digits; a side with no weight is passed through unchanged.
    """
    na, ma, sa = (float(v) for v in a[:3])
    nb, mb, sb = (float(v) for v in b[:3])
    la = float(getattr(a, "mean_lo", 0.0))
    lb = float(getattr(b, "mean_lo", 0.0))
    if nb == 0.0:
        return MeanVar(na, ma, sa, la)
    if na == 0.0:
        return MeanVar(nb, mb, sb, lb)
    n = na + nb
    delta = (mb - ma) + (lb - la)  # mb - ma is exact for close means (Sterbenz)
    mean, lo = _two_sum(ma, la + delta * nb / n)
    return MeanVar(n, mean, sa + sb + delta * delta * na * nb / n, lo)


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """The weighted q-quantile (lower weighted median for q = 0.5)."""
    if np.all(w == 1.0):
        return float(np.quantile(x, q, method="inverted_cdf"))
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    idx = int(np.searchsorted(cum, q * cum[-1], side="left"))
    return float(x[order][min(idx, x.size - 1)])
