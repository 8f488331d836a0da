"""Discrete families for counts and categories.

Every family here has a closed-form (or one-dimensional profile) MLE computed
from a few weighted sums, and a ``loglik_from_stats`` that reproduces the
weighted sum of ``logpdf`` exactly (the log-factorial terms included), so the
fit, its log-likelihood and its observed information need one pass over the
data. ``xlogy``/``xlog1py`` keep the log-mass finite at p = 0 or 1 wherever the
data allow it (all-zero counts give rate 0 and log-likelihood 0).

The Poisson log-mass uses Loader's (2000) saddle-point form,
``-bd0 - stirlerr - log sqrt(2 pi x)``, rather than ``x log(lambda) - lambda - log x!``:
the naive form subtracts terms of size x log x, which loses every digit for
counts beyond ~1e13 (scipy's ``logpmf`` returns 8.7e186 for a count of 1e200 at
its own MLE; the true value is -231). The binomial and negative binomial keep
the ``gammaln`` form (as scipy): the saddle-point form made their compiled
Hessians 3-4x slower to build, for counts that are rarely that large.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, xlog1py, xlogy
from thetahat._lazy import special

from thetahat.constraints import positive, simplex, unit_interval
from thetahat.data import is_unit
from thetahat.errors import DataError
from thetahat.families import register
from thetahat.families.base import Family, Param, Support

__all__ = ["Bernoulli", "Binomial", "Categorical", "Geometric", "NegativeBinomial", "Poisson"]

_COUNTS = Support(low=0.0, low_closed=True, integer=True)
_HALF_LOG_2PI = 0.5 * float(np.log(2 * np.pi))
#: Counts up to this value are tallied with ``bincount`` (one O(n) pass).
_BINCOUNT_MAX = 1 << 20


def _stirlerr(n: Any, xp: Any = jnp) -> Any:
    """log n! - log(sqrt(2 pi n) (n/e)^n) for real n > 0 (Loader 2000).

    The asymptotic series above 15 (five terms: error < 1e-17), the defining
    formula below, where its terms are small enough to keep ~1e-14 absolute.
    ``xp`` is ``jax.numpy`` (traceable, differentiable) or ``numpy``.
    """
    lgamma = gammaln if xp is jnp else special.gammaln
    big = n > 15
    nb = xp.where(big, n, 16.0)
    ns = xp.where(big, 1.0, n)  # both branches stay finite: safe gradients
    inv = 1.0 / nb
    inv2 = inv * inv  # (1/n)^2, not 1/n^2: n^2 overflows beyond 1e154
    series = (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - inv2 / 1188) * inv2) * inv2) * inv2) * inv
    direct = lgamma(ns + 1.0) - (ns + 0.5) * xp.log(ns) + ns - _HALF_LOG_2PI
    return xp.where(big, series, direct)


def _bd0(x: Any, m: Any, xp: Any = jnp) -> Any:
    """The deviance term x log(x/m) + m - x >= 0 without cancellation (Loader 2000).

    Near x = m it is summed as (x - m) v + 2x (v^3/3 + v^5/5 + ...),
    v = (x - m)/(x + m), which keeps full relative precision where the direct
    formula would cancel. x = 0 gives m.
    """
    d = x - m
    small = xp.abs(d) < 0.1 * (x + m)
    v = xp.where(small, d / xp.where(small, x + m, 1.0), 0.0)
    v2 = v * v
    tail = 0.0
    for j in range(8, 0, -1):  # |v| < 0.1: the next term, v^19/19, is below 1e-19
        tail = v2 * (1.0 / (2 * j + 1) + tail)
    series = d * v + 2.0 * x * v * tail
    safe = small | (x == 0)
    xs, ms = xp.where(safe, 1.0, x), xp.where(safe, 1.0, m)
    direct = xs * xp.log(xs / ms) + m - x
    return xp.where(small, series, direct)


def _log_factorial_excess(x: Any, xp: Any = jnp) -> Any:
    """log x! - (x log x - x) = log sqrt(2 pi x) + stirlerr(x); 0 at x = 0."""
    pos = x > 0
    xs = xp.where(pos, x, 1.0)
    return xp.where(pos, _HALF_LOG_2PI + 0.5 * xp.log(xs) + _stirlerr(xs, xp), 0.0)


def _count_terms(x: Any) -> tuple[Any]:
    """The fused pass's term of a count family: x, NaN where x is not an integer.

    Its sum is sum x; its NaN spares the numpy support check an elementwise pass.
    """
    return (jnp.where(x == jnp.floor(x), x, jnp.nan),)


def _totals(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """(sum of weights, weighted sum of x); DataError if the sum overflows."""
    with np.errstate(over="ignore"):  # overflow is reported just below
        if is_unit(w):  # no weights: skip the multiplications by one
            total, s = float(x.shape[0]), float(x.sum())
        else:
            total, s = float(w.sum()), float(np.dot(w, x))
    if not np.isfinite(s):
        raise DataError(
            "the weighted sum of the counts overflows float64 (largest count "
            f"{float(x.max()):g}): no estimate is representable. Rescale or check the data."
        )
    return total, s


def _value_counts(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values with positive weight and their weighted counts.

    Both are padded with (value 0, count 0) to a power of two, so that the
    compiled likelihood-from-statistics is reused across data sets with
    similar numbers of distinct values; padding contributes exactly zero.
    """
    values, counts, tallied = _integer_counts(x, w)
    if tallied:
        seen = counts > 0  # drop the values that do not occur
        values, counts = values[seen], counts[seen]
    else:
        values, inverse = np.unique(values, return_inverse=True)
        counts = np.bincount(inverse, weights=counts, minlength=values.size)
    size = max(8, 1 << (values.size - 1).bit_length())
    pad = size - values.size
    return np.concatenate([values, np.zeros(pad)]), np.concatenate([counts, np.zeros(pad)])


def _integer_counts(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(values, weighted counts, tallied) over which sums of f(x) take one term per value.

    Small non-negative integer counts (the usual case) are tallied by one O(n)
    ``bincount`` (values 0..max, some with count 0; ``tallied`` is True);
    otherwise the rows with positive weight are returned as they are.
    """
    unit = is_unit(w)
    used, wu = (x, None) if unit else (x[w > 0], w[w > 0])
    if used.max() <= _BINCOUNT_MAX:
        counts = np.bincount(used.astype(np.int64), weights=wu)
        return np.arange(counts.size, dtype=float), counts, True
    return used, (np.ones(used.size) if wu is None else wu), False


def _trials(fixed: dict[str, Any]) -> float:
    """The known number of binomial trials, validated as one positive integer."""
    n = np.asarray(fixed["n"], dtype=float)
    if n.ndim != 0 or n != np.floor(n):
        raise DataError(
            f"fixed value of 'n' must be a single positive integer (the number of "
            f"trials); got {fixed['n']!r}."
        )
    return float(n)


class Bernoulli(Family):
    r"""Bernoulli distribution on {0, 1}.

    Notes
    -----
    .. math:: \log p(x \mid p) = x \log p + (1 - x) \log(1 - p), \quad x \in \{0, 1\}

    The MLE is the weighted proportion of ones, :math:`\hat p = \sum w_n x_n / \sum w_n`.
    All zeros or all ones give :math:`\hat p` = 0 or 1, reported in
    ``at_boundary`` with a :class:`~thetahat.BoundaryWarning`.

    Examples
    --------
    >>> import thetahat
    >>> res = thetahat.fit([0, 1, 1, 0, 1], "bernoulli")
    >>> res.params["p"], round(res.se["p"], 6)
    (0.6, 0.219089)
    """

    name = "bernoulli"
    params = (Param("p", unit_interval, doc="probability of a one"),)
    support = Support(low=0.0, high=1.0, low_closed=True, high_closed=True, integer=True)
    is_discrete = True
    example_params = {"p": 0.3}

    def logpdf(self, x: Any, p: Any) -> Any:
        valid = (x == 0) | (x == 1)
        return jnp.where(valid, xlogy(x, p) + xlog1py(1.0 - x, -p), -jnp.inf)

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[float, ...]:
        return _totals(x, w)

    def stats_terms(self, x: Any, shift: Any) -> tuple[Any, ...]:
        return (jnp.where((x == 0) | (x == 1), x, jnp.nan),)

    def stats_from_sums(self, summary: Any) -> tuple[float, ...]:
        return float(summary.n), summary.sums[0]

    def mle_from_stats(self, stats: tuple[float, ...], fixed: dict[str, Any]) -> dict[str, Any]:
        total, ones = stats
        return {} if "p" in fixed else {"p": ones / total}

    def loglik_from_stats(self, stats: Any, p: Any) -> Any:
        total, ones = stats
        return xlogy(ones, p) + xlog1py(total - ones, -p)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        total, ones = _totals(x, w)
        return {"p": (ones + 0.5) / (total + 1.0)}

    def scipy_dist(self, p: float) -> Any:
        from scipy import stats

        return stats.bernoulli(p)


class Binomial(Family):
    r"""Binomial distribution: successes in a known number ``n`` of trials.

    ``n`` is a known constant: pass it as ``fixed={"n": ...}``.

    Notes
    -----
    .. math::
        \log p(x \mid n, p) = \log\binom{n}{x} + x \log p + (n - x) \log(1 - p),
        \quad x \in \{0, \dots, n\}

    The MLE is :math:`\hat p = \sum w_i x_i / (n \sum w_i)`. The sufficient
    statistics keep the distinct values and their weighted counts, so that the
    binomial coefficients (which depend on ``n``) enter the log-likelihood exactly.

    Examples
    --------
    >>> import thetahat
    >>> res = thetahat.fit([3, 5, 4, 6], "binomial", fixed={"n": 10})
    >>> round(res.params["p"], 12), res.params["n"]
    (0.45, 10.0)
    """

    name = "binomial"
    params = (
        Param("n", positive, known=True, doc="number of trials (known)"),
        Param("p", unit_interval, doc="success probability"),
    )
    support = Support(low=0.0, low_closed=True, high_closed=True, integer=True, high_param="n")
    is_discrete = True
    example_params = {"p": 0.3}
    example_fit_kwargs = {"fixed": {"n": 12}}

    def logpdf(self, x: Any, n: Any, p: Any) -> Any:
        valid = (x >= 0) & (x <= n) & (x == jnp.floor(x))
        log_choose = gammaln(n + 1.0) - gammaln(x + 1.0) - gammaln(n - x + 1.0)
        return jnp.where(valid, log_choose + xlogy(x, p) + xlog1py(n - x, -p), -jnp.inf)

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
        return _value_counts(x, w)

    def stats_terms(self, x: Any, shift: Any) -> tuple[Any, ...]:
        return _count_terms(x)  # the statistics are a table: numpy passes after the check

    def mle_from_stats(self, stats: tuple[Any, ...], fixed: dict[str, Any]) -> dict[str, Any]:
        n = _trials(fixed)
        total, successes = _totals(*stats)
        return {} if "p" in fixed else {"p": successes / (n * total)}

    def loglik_from_stats(self, stats: Any, n: Any, p: Any) -> Any:
        values, counts = stats
        log_choose = gammaln(n + 1.0) - gammaln(values + 1.0) - gammaln(n - values + 1.0)
        successes = jnp.sum(counts * values)
        failures = n * jnp.sum(counts) - successes
        return jnp.sum(counts * log_choose) + xlogy(successes, p) + xlog1py(failures, -p)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        n = _trials(fixed)
        total, successes = _totals(x, w)
        return {"p": (successes + 0.5) / (n * total + 1.0)}

    def scipy_dist(self, n: float, p: float) -> Any:
        from scipy import stats

        return stats.binom(int(n), p)


class Poisson(Family):
    r"""Poisson distribution of counts.

    Notes
    -----
    .. math:: \log p(x \mid \lambda) = x \log\lambda - \lambda - \log x!, \quad x = 0, 1, 2, \dots

    The MLE is the weighted mean, :math:`\hat\lambda = \bar x`. All-zero counts
    give :math:`\hat\lambda = 0` (log-likelihood 0), reported in ``at_boundary``.
    The log-mass is evaluated as :math:`-\mathrm{bd_0}(x, \lambda) - \log\sqrt{2\pi x}
    - \mathrm{stirlerr}(x)` (Loader 2000), accurate for counts of any size.

    Examples
    --------
    >>> import thetahat
    >>> res = thetahat.fit([2, 0, 3, 1, 4], "poisson")
    >>> res.params["rate"], round(res.se["rate"], 6)
    (2.0, 0.632456)
    """

    name = "poisson"
    params = (Param("rate", positive, doc="mean count (lambda)"),)
    support = _COUNTS
    is_discrete = True
    example_params = {"rate": 3.5}

    def logpdf(self, x: Any, rate: Any) -> Any:
        valid = (x >= 0) & (x == jnp.floor(x))
        return jnp.where(valid, -_bd0(x, rate) - _log_factorial_excess(x), -jnp.inf)

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[float, ...]:
        total, s = _totals(x, w)
        mean = s / total
        # With D = sum w bd0(x, mean) and sum w x = N mean, the log-likelihood is
        # exactly -D - N bd0(mean, rate) - sum w (log x! - x log x + x): no
        # large terms cancel, whatever the size of the counts.
        values, counts, _ = _integer_counts(x, w)
        deviance = float(np.dot(counts, _bd0(values, mean, np)))
        excess = float(np.dot(counts, _log_factorial_excess(values, np)))
        return total, mean, deviance, excess

    def stats_terms(self, x: Any, shift: Any) -> tuple[Any, ...]:
        return _count_terms(x)  # the statistics need a table: numpy passes after the check

    def mle_from_stats(self, stats: tuple[float, ...], fixed: dict[str, Any]) -> dict[str, Any]:
        return {} if "rate" in fixed else {"rate": stats[1]}

    def loglik_from_stats(self, stats: Any, rate: Any) -> Any:
        total, mean, deviance, excess = stats
        return -deviance - total * _bd0(mean, rate) - excess

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        total, s = _totals(x, w)
        return {"rate": (s + 0.5) / total}

    def scipy_dist(self, rate: float) -> Any:
        from scipy import stats

        return stats.poisson(rate)


class Geometric(Family):
    r"""Geometric distribution: the number of failures before the first success.

    The support is {0, 1, 2, ...}; scipy's ``geom`` counts trials instead, so
    the equivalent is ``scipy.stats.geom(p, loc=-1)``.

    Notes
    -----
    .. math:: \log p(x \mid p) = \log p + x \log(1 - p), \quad x = 0, 1, 2, \dots

    The MLE is :math:`\hat p = N / (N + \sum w_i x_i)` with :math:`N = \sum w_i`;
    all-zero counts give :math:`\hat p = 1`, reported in ``at_boundary``.

    Examples
    --------
    >>> import thetahat
    >>> res = thetahat.fit([0, 3, 1, 0, 1], "geometric")
    >>> res.params["p"]
    0.5
    """

    name = "geometric"
    params = (Param("p", unit_interval, doc="success probability per trial"),)
    support = _COUNTS
    is_discrete = True
    example_params = {"p": 0.25}

    def logpdf(self, x: Any, p: Any) -> Any:
        valid = (x >= 0) & (x == jnp.floor(x))
        return jnp.where(valid, jnp.log(p) + xlog1py(x, -p), -jnp.inf)

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[float, ...]:
        return _totals(x, w)

    def stats_terms(self, x: Any, shift: Any) -> tuple[Any, ...]:
        return _count_terms(x)

    def stats_from_sums(self, summary: Any) -> tuple[float, ...]:
        return float(summary.n), summary.sums[0]

    def mle_from_stats(self, stats: tuple[float, ...], fixed: dict[str, Any]) -> dict[str, Any]:
        total, failures = stats
        return {} if "p" in fixed else {"p": total / (total + failures)}

    def loglik_from_stats(self, stats: Any, p: Any) -> Any:
        total, failures = stats
        return total * jnp.log(p) + xlog1py(failures, -p)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        total, failures = _totals(x, w)
        return {"p": total / (total + failures + 0.5)}

    def scipy_dist(self, p: float) -> Any:
        from scipy import stats

        return stats.geom(p, loc=-1)


class NegativeBinomial(Family):
    r"""Negative binomial distribution: failures before the ``r``-th success.

    ``r`` is a positive real (the dispersion); the variance
    :math:`\mu + \mu^2/r` exceeds the mean :math:`\mu = r(1-p)/p`, and the
    Poisson is the limit :math:`r \to \infty`. Same parametrisation as
    ``scipy.stats.nbinom(r, p)``.

    Notes
    -----
    .. math::
        \log p(x \mid r, p) = \log\Gamma(x + r) - \log\Gamma(r) - \log x!
        + r \log p + x \log(1 - p)

    For fixed ``r`` the MLE of ``p`` is :math:`r / (r + \bar x)`; inserting it
    leaves the profile score equation in ``r``

    .. math:: \sum_i w_i\,\psi(x_i + r) - N\psi(r) + N\log\frac{r}{r + \bar x} = 0,

    which has a unique root if and only if the (1/N) variance exceeds the mean
    (Levin & Reeds, 1977). It is solved by safeguarded Newton in ``log r`` over
    the distinct values and their weighted counts. Data that are not
    over-dispersed have no finite MLE and raise :class:`~thetahat.DataError`.

    Examples
    --------
    >>> import thetahat
    >>> res = thetahat.fit([0, 1, 0, 7, 2, 0, 12, 3, 1, 0], "negative_binomial")
    >>> round(res.params["r"], 4), round(res.params["p"], 4)
    (0.4852, 0.1573)
    """

    name = "negative_binomial"
    params = (
        Param("r", positive, doc="number of successes (dispersion, real)"),
        Param("p", unit_interval, doc="success probability"),
    )
    support = _COUNTS
    is_discrete = True
    example_params = {"r": 3.0, "p": 0.4}

    def logpdf(self, x: Any, r: Any, p: Any) -> Any:
        valid = (x >= 0) & (x == jnp.floor(x))
        log_mass = gammaln(x + r) - gammaln(r) - gammaln(x + 1.0) + r * jnp.log(p) + xlog1py(x, -p)
        return jnp.where(valid, log_mass, -jnp.inf)

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
        return _value_counts(x, w)

    def stats_terms(self, x: Any, shift: Any) -> tuple[Any, ...]:
        return _count_terms(x)  # the statistics are a table: numpy passes after the check

    def mle_from_stats(self, stats: tuple[Any, ...], fixed: dict[str, Any]) -> dict[str, Any] | None:
        values, counts = (np.asarray(s, dtype=float) for s in stats)
        total, s = _totals(values, counts)
        mean = s / total
        if "r" in fixed:
            return {} if "p" in fixed else {"p": float(fixed["r"] / (fixed["r"] + mean))}
        if "p" in fixed:
            return None  # r given p: left to the generic optimiser
        var = _check_overdispersed(values, counts, mean)
        r = _profile_root(values[counts > 0], counts[counts > 0], mean, var)
        return {"r": r, "p": r / (r + mean)}

    def loglik_from_stats(self, stats: Any, r: Any, p: Any) -> Any:
        values, counts = stats
        terms = gammaln(values + r) - gammaln(r) - gammaln(values + 1.0)
        total = jnp.sum(counts)
        return jnp.sum(counts * terms) + total * r * jnp.log(p) + xlog1py(jnp.sum(counts * values), -p)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        values, counts = _value_counts(x, w)
        total, s = _totals(values, counts)
        mean = s / total
        if "r" in fixed or "p" in fixed:
            var = float(np.dot(counts, (values - mean) ** 2) / counts.sum())
            r = float(fixed.get("r", max(mean * mean / max(var - mean, 1e-3 * mean), 1e-3)))
            return {"r": r, "p": float(fixed.get("p", r / (r + mean)))}
        var = _check_overdispersed(values, counts, mean)
        r = mean * mean / (var - mean)  # method of moments
        return {"r": r, "p": r / (r + mean)}

    def scipy_dist(self, r: float, p: float) -> Any:
        from scipy import stats

        return stats.nbinom(r, p)


def _check_overdispersed(values: np.ndarray, counts: np.ndarray, mean: float) -> float:
    """The 1/N weighted variance; DataError unless it exceeds the mean."""
    var = float(np.dot(counts, (values - mean) ** 2) / counts.sum())
    if not var > mean:
        raise DataError(
            f"the data are not over-dispersed (weighted variance {var:.6g} <= mean "
            f"{mean:.6g}): the negative_binomial likelihood increases towards r = inf, "
            "the Poisson limit, so no finite MLE exists. Fit the 'poisson' family "
            "instead, or fix r (fixed={'r': ...})."
        )
    return var


def _x_minus_log1p(y: np.ndarray | float) -> Any:
    """y - log(1 + y) without cancellation for small y (series below 0.1)."""
    y = np.asarray(y, dtype=float)
    if y >= 0.1:
        return y - np.log1p(y)
    k = np.arange(2, 26)
    return float(np.sum((-1.0) ** k * y**k / k))


def _nb_profile_score(
    r: float, values: np.ndarray, counts: np.ndarray, total: float, mean: float
) -> tuple[float, float]:
    """Profile score in r and its derivative, arranged to avoid cancellation.

    psi(x + r) - psi(r) - x/r = -sum_{k<x} k / (r (r + k)) is summed exactly
    for moderate counts; with N log(r/(r+mean)) = -N mean/r - N (y - log1p(y)),
    y = mean/r, the O(1/r) terms cancel analytically and the score keeps its
    relative precision even near the Poisson limit (r large).
    """
    top = int(values.max())
    if top <= 1_000_000:
        k = np.arange(top, dtype=float)
        d_excess = np.concatenate([[0.0], np.cumsum(k / (r * (r + k)))])[values.astype(int)]
        d_prime = np.concatenate([[0.0], np.cumsum(1.0 / (r + k) ** 2)])[values.astype(int)]
    else:
        d_excess = values / r - (special.digamma(values + r) - special.digamma(r))
        d_prime = special.polygamma(1, r) - special.polygamma(1, values + r)
    score = -float(np.dot(counts, d_excess)) + total * _x_minus_log1p(mean / r)
    slope = -float(np.dot(counts, d_prime)) + total * mean / (r * (r + mean))
    return score, slope


def _profile_root(values: np.ndarray, counts: np.ndarray, mean: float, var: float) -> float:
    """Root of the negative-binomial profile score by safeguarded Newton in log r."""
    total = float(counts.sum())

    def f(t: float) -> tuple[float, float]:
        r = float(np.exp(t))
        score, slope = _nb_profile_score(r, values, counts, total, mean)
        return score, r * slope  # d score / d log r

    t = float(np.log(mean * mean / (var - mean)))  # method of moments start
    lo, hi = -np.inf, np.inf  # score > 0 below the root, < 0 above it
    t_max = float(np.log(mean / 1e-15))  # beyond: p rounds to 1, the Poisson limit
    for _ in range(200):
        score, slope = f(t)
        if score == 0.0:
            return float(np.exp(t))
        if score > 0:
            lo = t
        else:
            hi = t
        step = -score / slope if slope < 0 else (1.0 if score > 0 else -1.0)
        new = t + float(np.clip(step, -2.0, 2.0))
        if np.isfinite(lo) and np.isfinite(hi) and not lo < new < hi:
            new = 0.5 * (lo + hi)  # Newton left the bracket: bisect
        if abs(new - t) <= 1e-14 * max(1.0, abs(t)) or hi - lo <= 1e-14 * max(1.0, abs(t)):
            return float(np.exp(new))
        if new > t_max and not np.isfinite(hi):
            break
        t = new
    if np.isfinite(lo) and np.isfinite(hi):  # rounding noise in the score: bracket is tight
        return float(np.exp(t))
    raise DataError(
        f"the over-dispersion of the data is too slight to estimate r (weighted variance "
        f"{var:.17g}, mean {mean:.17g}): the negative_binomial fit is numerically the "
        "Poisson limit. Fit the 'poisson' family instead, or fix r (fixed={'r': ...})."
    )


class Categorical(Family):
    r"""Categorical distribution over integer codes 0, ..., k - 1.

    The number of categories is ``k = max(x) + 1``; a category that never
    occurs gets probability 0 and puts ``probs`` in ``at_boundary``.

    Notes
    -----
    .. math:: \log p(x \mid \pi) = \log \pi_x, \quad x \in \{0, \dots, k-1\},\ \sum_j \pi_j = 1

    The MLE is the vector of weighted relative frequencies,
    :math:`\hat\pi_j = \sum_{i: x_i = j} w_i / \sum_i w_i`.

    Examples
    --------
    >>> import thetahat
    >>> res = thetahat.fit([0, 2, 1, 2, 2, 0, 1, 2], "categorical")
    >>> res.params["probs"].tolist()
    [0.25, 0.25, 0.5]
    """

    name = "categorical"
    params = (Param("probs", simplex, doc="category probabilities"),)
    support = _COUNTS
    is_discrete = True
    example_params = {"probs": [0.2, 0.5, 0.3]}

    def param_shapes(self, x: np.ndarray) -> dict[str, tuple[int, ...]]:
        codes = x[(x >= 0) & (x == np.floor(x))]  # invalid codes are reported later
        top = float(codes.max()) if codes.size else 0.0
        if top >= 1_000_000:
            raise DataError(
                f"categorical codes must be integers 0, ..., k-1; the largest is {top:g}, "
                "which would mean over a million categories. Recode the categories as "
                "consecutive integers starting at 0 (e.g. numpy.unique(x, return_inverse=True))."
            )
        return {"probs": (int(top) + 1,)}

    def logpdf(self, x: Any, probs: Any) -> Any:
        k = probs.shape[-1]
        valid = (x >= 0) & (x <= k - 1) & (x == jnp.floor(x))
        index = jnp.clip(x, 0, k - 1).astype(jnp.int32)
        return jnp.where(valid, jnp.log(probs[index]), -jnp.inf)

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray]:
        k = self.param_shapes(x)["probs"][0]
        return (np.bincount(x.astype(np.int64), weights=w, minlength=k),)

    def mle_from_stats(self, stats: tuple[Any, ...], fixed: dict[str, Any]) -> dict[str, Any]:
        (counts,) = stats
        return {} if "probs" in fixed else {"probs": counts / counts.sum()}

    def loglik_from_stats(self, stats: Any, probs: Any) -> Any:
        (counts,) = stats
        return jnp.sum(xlogy(counts, probs))

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        (counts,) = self.sufficient_stats(x, w)
        smoothed = counts + 0.5
        return {"probs": smoothed / smoothed.sum()}

    def scipy_dist(self, probs: Any) -> Any:
        from scipy import stats

        probs = np.asarray(probs, dtype=float)
        return stats.rv_discrete(values=(np.arange(probs.size), probs))


register(Bernoulli())
register(Binomial())
register(Poisson())
register(Geometric())
register(NegativeBinomial())
register(Categorical())
