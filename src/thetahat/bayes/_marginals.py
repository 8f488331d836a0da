"""One-dimensional posterior marginals: the square root of an inverse gamma, and HPD intervals.

scipy.stats has every marginal a conjugate posterior needs except one: the
standard deviation sigma of a normal whose variance sigma^2 has an
inverse-gamma posterior. :class:`SqrtInverseGamma` is that distribution, with
the subset of the frozen ``scipy.stats`` interface the posteriors use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thetahat.errors import DataError

__all__ = ["SqrtInverseGamma", "hpd_interval", "equal_tailed_interval"]


class SqrtInverseGamma:
    r"""The distribution of :math:`\sigma` when :math:`\sigma^2 \sim \mathrm{InvGamma}(\alpha, \beta)`.

    A frozen distribution with the methods of ``scipy.stats`` frozen
    distributions that the posteriors use: ``logpdf``, ``pdf``, ``cdf``,
    ``sf``, ``ppf``, ``isf``, ``mean``, ``var``, ``std``, ``median``,
    ``interval``, ``rvs`` and ``support``, plus ``mode``.

    Parameters
    ----------
    shape : float
        :math:`\alpha > 0`, the inverse-gamma shape of :math:`\sigma^2`.
    scale : float
        :math:`\beta > 0`, the inverse-gamma scale of :math:`\sigma^2`.

    Notes
    -----
    .. math::
        p(\sigma) = \frac{2\beta^\alpha}{\Gamma(\alpha)}\,\sigma^{-2\alpha-1}
        e^{-\beta/\sigma^2}, \quad \sigma > 0

    Quantiles are square roots of the inverse-gamma quantiles (the map is
    monotone). :math:`E\sigma = \sqrt\beta\,\Gamma(\alpha-\tfrac12)/\Gamma(\alpha)`
    for :math:`\alpha > 1/2`, :math:`E\sigma^2 = \beta/(\alpha-1)` for
    :math:`\alpha > 1`, and the density peaks at :math:`\sqrt{2\beta/(2\alpha+1)}`.

    Examples
    --------
    >>> from thetahat.bayes import SqrtInverseGamma
    >>> d = SqrtInverseGamma(3.0, 2.0)
    >>> round(d.median() ** 2, 12) == round(float(d.base.median()), 12)
    True
    >>> round(d.mode(), 6)
    0.755929
    """

    def __init__(self, shape: float, scale: float) -> None:
        from scipy import stats

        self.shape, self.scale = float(shape), float(scale)
        #: The inverse-gamma distribution of sigma^2 (frozen scipy).
        self.base = stats.invgamma(self.shape, scale=self.scale)

    def __repr__(self) -> str:
        return f"SqrtInverseGamma(shape={self.shape!r}, scale={self.scale!r})"

    def logpdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Log-density: that of sigma^2 at x^2 plus log 2x (the Jacobian)."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.base.logpdf(x * x) + np.log(2.0 * x)
        return np.asarray(np.where((x > 0) & np.isfinite(x), out, -np.inf))

    def pdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Density."""
        return np.exp(self.logpdf(x))

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """P(sigma <= x)."""
        x = np.asarray(x, dtype=float)
        return np.asarray(np.where(x > 0, self.base.cdf(np.maximum(x, 0.0) ** 2), 0.0))

    def sf(self, x: ArrayLike) -> NDArray[np.float64]:
        """P(sigma > x), computed directly (no 1 - cdf cancellation)."""
        x = np.asarray(x, dtype=float)
        return np.asarray(np.where(x > 0, self.base.sf(np.maximum(x, 0.0) ** 2), 1.0))

    def ppf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Quantile function: the square root of the inverse-gamma quantile."""
        return np.asarray(np.sqrt(self.base.ppf(q)))

    def isf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Inverse survival function."""
        return np.asarray(np.sqrt(self.base.isf(q)))

    def mean(self) -> float:
        """E sigma; infinite for shape <= 1/2."""
        from scipy.special import gammaln

        if self.shape <= 0.5:
            return math.inf
        return math.sqrt(self.scale) * math.exp(gammaln(self.shape - 0.5) - gammaln(self.shape))

    def var(self) -> float:
        """Var sigma = E sigma^2 - (E sigma)^2; infinite for shape <= 1."""
        if self.shape <= 1.0:
            return math.inf
        m = self.mean()
        return self.scale / (self.shape - 1.0) - m * m

    def std(self) -> float:
        """Standard deviation."""
        return math.sqrt(self.var())

    def median(self) -> float:
        """Median."""
        return float(self.ppf(0.5))

    def mode(self) -> float:
        """The peak of the density of sigma, sqrt(2 scale / (2 shape + 1))."""
        return math.sqrt(2.0 * self.scale / (2.0 * self.shape + 1.0))

    def interval(self, confidence: float) -> tuple[float, float]:
        """Equal-tailed interval with the given probability content."""
        tail = 0.5 * (1.0 - confidence)
        return float(self.ppf(tail)), float(self.isf(tail))

    def support(self) -> tuple[float, float]:
        """(0, inf)."""
        return 0.0, math.inf

    def rvs(self, size: Any = None, random_state: Any = None) -> Any:
        """Random draws (``random_state``: int or numpy Generator)."""
        return np.sqrt(self.base.rvs(size=size, random_state=random_state))


def equal_tailed_interval(dist: Any, level: float) -> tuple[float, float]:
    """(ppf((1 - level)/2), isf((1 - level)/2)) of a frozen 1-D distribution."""
    tail = 0.5 * (1.0 - level)
    return float(dist.ppf(tail)), float(dist.isf(tail))


def hpd_interval(dist: Any, level: float, name: str = "the parameter") -> tuple[float, float]:
    r"""Highest-posterior-density interval of a unimodal frozen 1-D distribution.

    Parameters
    ----------
    dist : frozen distribution
        Needs ``ppf`` and ``logpdf`` (a ``scipy.stats`` frozen continuous
        distribution or :class:`SqrtInverseGamma`).
    level : float
        Probability content, in (0, 1).
    name : str
        Used in the error message.

    Returns
    -------
    (low, high) : tuple of float

    Notes
    -----
    Among the intervals :math:`[F^{-1}(q), F^{-1}(q + \ell)]` with content
    :math:`\ell`, the HPD interval is the shortest. The width
    :math:`w(q) = F^{-1}(q+\ell) - F^{-1}(q)` has derivative
    :math:`1/f(F^{-1}(q+\ell)) - 1/f(F^{-1}(q))`, so for a unimodal density
    the minimum is the root of
    :math:`g(q) = \log f(F^{-1}(q)) - \log f(F^{-1}(q+\ell))` in
    :math:`(0, 1-\ell)`, which Brent's method finds to rounding level (a
    minimiser of :math:`w` itself would only locate :math:`q` to
    :math:`\sqrt\epsilon`). When :math:`g(0) \ge 0` the density decreases from
    the lower end of the support (e.g. Beta(1, b)), and the interval starts
    there; symmetrically at the upper end. A density that rises at both ends
    (Beta(a < 1, b < 1)) has no single HPD interval: DataError.

    Examples
    --------
    >>> from scipy import stats
    >>> from thetahat.bayes import hpd_interval
    >>> lo, hi = hpd_interval(stats.beta(1.0, 31.0), 0.95)   # mode at 0
    >>> lo, round(hi, 12) == round(1 - 0.05 ** (1 / 31), 12)
    (0.0, True)
    """
    from scipy.optimize import brentq

    if not 0.0 < level < 1.0:
        raise DataError(f"level must be in (0, 1); got {level!r}.")
    end = 1.0 - level

    def log_density(q: float) -> float:
        v = float(dist.ppf(q))
        if not np.isfinite(v):  # an infinite end of the support: zero density
            return -np.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(dist.logpdf(v))

    def g(q: float) -> float:
        return log_density(q) - log_density(q + level)

    g_low, g_high = g(0.0), g(end)
    if np.isnan(g_low) or np.isnan(g_high):
        raise DataError(f"the HPD interval of {name} cannot be evaluated ({dist!r}).")
    if g_low == 0.0 and g_high == 0.0:  # flat density: every interval is shortest
        return equal_tailed_interval(dist, level)
    if g_low > 0.0 and g_high < 0.0:
        raise DataError(
            f"the posterior of {name} ({_describe(dist)}) is not unimodal: its density "
            "rises towards both ends of the support, so the highest-density region is not "
            "one interval. Use kind='equal' for an equal-tailed interval."
        )
    if g_low >= 0.0:
        q = 0.0
    elif g_high <= 0.0:
        q = end
    else:
        q = float(brentq(g, 0.0, end, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=200))
    return float(dist.ppf(q)), float(dist.ppf(q + level))


def _describe(dist: Any) -> str:
    inner = getattr(dist, "dist", None)
    if inner is not None and hasattr(dist, "args"):
        args = ", ".join(f"{a:g}" for a in dist.args)
        return f"{inner.name}({args})"
    return repr(dist)
