"""Continuous univariate families (part 1: location-scale and heavy tails)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from thetahat.constraints import positive, real
from thetahat.families import register
from thetahat._lazy import special
from thetahat.families._helpers import (
    mean_var_from_shifted_sums,
    weighted_mean_var,
    weighted_quantile,
)
from thetahat.families._special import softplus
from thetahat.families.base import Family, Param

__all__ = ["Cauchy", "Gumbel", "Laplace", "Logistic", "Normal", "StudentT"]


class Normal(Family):
    r"""Normal (Gaussian) distribution.

    Notes
    -----
    .. math:: \log p(x \mid \mu, \sigma) = -\tfrac12\log(2\pi\sigma^2) - \frac{(x-\mu)^2}{2\sigma^2}

    The MLE is closed form: :math:`\hat\mu = \bar x`,
    :math:`\hat\sigma^2 = \frac1N\sum (x_n-\bar x)^2` (the 1/N estimate, not n-1),
    computed by a two-pass algorithm so that data such as NIST NumAcc4
    (values near 1e7 with spread 0.1) keep every digit float64 allows.

    Examples
    --------
    >>> import thetahat
    >>> res = thetahat.fit([1.0, 2.0, 3.0, 4.0], "normal")
    >>> res.params["mu"], round(res.params["sigma"], 6)
    (2.5, 1.118034)
    """

    name = "normal"
    params = (
        Param("mu", real, "location", doc="mean"),
        Param("sigma", positive, "scale", doc="standard deviation (1/N MLE)"),
    )
    standardize = "location-scale"
    example_params = {"mu": 1.5, "sigma": 2.0}

    def logpdf(self, x: Any, mu: Any, sigma: Any) -> Any:
        z = (x - mu) / sigma
        return -0.5 * z * z - jnp.log(sigma) - 0.5 * jnp.log(2 * jnp.pi)

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[float, ...]:
        total, mean, m2 = weighted_mean_var(x, w)
        return (total, mean, m2)

    def stats_terms(self, x: Any, shift: Any) -> tuple[Any, ...]:
        d = x - shift
        return d, d * d

    def stats_from_sums(self, summary: Any) -> tuple[float, ...] | None:
        found = mean_var_from_shifted_sums(float(summary.n), summary.shift, *summary.sums)
        return None if found is None else tuple(found)

    def mle_from_stats(self, stats: tuple[float, ...], fixed: dict[str, Any]) -> dict[str, Any]:
        total, mean, m2 = stats
        mu = float(fixed.get("mu", mean))
        if "sigma" in fixed:
            return {"mu": mu}
        # Around a fixed mu: sigma^2 = (M2 + N (mean - mu)^2) / N.
        return {"mu": mu, "sigma": float(np.sqrt(m2 / total + (mean - mu) ** 2))}

    def loglik_from_stats(self, stats: Any, mu: Any, sigma: Any) -> Any:
        total, mean, m2 = stats
        ss = m2 + total * (mean - mu) ** 2
        return -total * (jnp.log(sigma) + 0.5 * jnp.log(2 * jnp.pi)) - 0.5 * ss / sigma**2

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        _, mean, m2 = weighted_mean_var(x, w)
        return {"mu": mean, "sigma": max(np.sqrt(m2 / w.sum()), 1e-3)}

    def scipy_dist(self, mu: float, sigma: float) -> Any:
        from scipy import stats

        return stats.norm(mu, sigma)


#: Shift of the argument before the asymptotic series of log Gamma(y + 1/2) - log Gamma(y):
#: from y >= 16 on, six terms are exact to 3e-18.
_T_SHIFT = 16
#: Coefficients of y^-1, y^-3, ..., y^-11 in that series, from the Bernoulli
#: polynomials: (-1)^(k+1) [B_{k+1}(1/2) - B_{k+1}] / (k (k+1)).
_T_SERIES = (-1 / 8, 1 / 192, -1 / 640, 17 / 14336, -31 / 18432, 691 / 180224)


def log_t_normaliser(df: Any) -> Any:
    r"""Log normalising constant of Student's t, :math:`\log\Gamma(\frac{\nu+1}2) - \log\Gamma(\frac\nu2) - \frac12\log(\nu\pi)`.

    The two ``gammaln`` cancel catastrophically for large :math:`\nu`, and
    their second derivatives (polygamma series) made the Student-t solver
    take seconds to compile. Here, with :math:`x = \nu/2` and the recurrence
    :math:`\Gamma(y+1) = y\Gamma(y)` shifting the argument by 16,

    .. math::
        c(\nu) = -\tfrac12\log 2\pi + \tfrac12\log\!\big(1 + \tfrac{16}{x}\big)
        + S(x + 16) - \sum_{k=0}^{15}\log\!\big(1 + \tfrac{1/2}{x + k}\big),

    where :math:`S(y) = \log\Gamma(y+\frac12) - \log\Gamma(y) - \frac12\log y
    = -\frac1{8y} + \frac1{192y^3} - \dots`: only logarithms and a
    polynomial, accurate to a few ulp for every :math:`\nu > 0`.

    Examples
    --------
    >>> import math, jax, jax.numpy as jnp
    >>> from thetahat.families.continuous import log_t_normaliser
    >>> exact = math.lgamma(3.0) - math.lgamma(2.5) - 0.5 * math.log(5 * math.pi)
    >>> with jax.enable_x64(True):
    ...     value = float(log_t_normaliser(jnp.float64(5.0)))
    >>> abs(value - exact) < 1e-15
    True
    """
    x = 0.5 * df
    y = x + _T_SHIFT
    inv, inv2 = 1.0 / y, 1.0 / (y * y)
    series = jnp.zeros_like(inv)
    for c in reversed(_T_SERIES):
        series = series * inv2 + c
    # One vector expression (not 16 scalar ones): a fraction of the compile time.
    shifts = jnp.sum(jnp.log1p(0.5 / (jnp.expand_dims(x, -1) + np.arange(_T_SHIFT))), axis=-1)
    return -0.5 * np.log(2 * np.pi) + 0.5 * jnp.log1p(_T_SHIFT / x) + series * inv - shifts


class StudentT(Family):
    r"""Student's t distribution with location and scale.

    Notes
    -----
    .. math::
        \log p(x \mid \nu, \mu, \sigma) = \log\Gamma(\tfrac{\nu+1}{2}) - \log\Gamma(\tfrac{\nu}{2})
        - \tfrac12\log(\nu\pi\sigma^2) - \tfrac{\nu+1}{2}\log\!\left(1 + \frac{(x-\mu)^2}{\nu\sigma^2}\right)

    No closed form: fitted numerically from the median and a MAD-based scale.

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(1).standard_t(5, size=2000)
    >>> res = thetahat.fit(x, "student_t")
    >>> res.converged
    True
    """

    name = "student_t"
    params = (
        Param("df", positive, "shape", doc="degrees of freedom"),
        Param("mu", real, "location", doc="location"),
        Param("sigma", positive, "scale", doc="scale"),
    )
    # df beyond 1e6 is indistinguishable from the normal limit (df -> inf):
    # report it as a boundary estimate instead of a point on the plateau.
    divergent = {"df": 1e6}
    standardize = "robust location-scale"
    example_params = {"df": 4.0, "mu": -1.0, "sigma": 0.5}

    def logpdf(self, x: Any, df: Any, mu: Any, sigma: Any) -> Any:
        z = (x - mu) / sigma
        return log_t_normaliser(df) - jnp.log(sigma) - 0.5 * (df + 1) * jnp.log1p(z * z / df)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        median = weighted_quantile(x, w, 0.5)
        mad = weighted_quantile(np.abs(x - median), w, 0.5)
        return {"df": 5.0, "mu": median, "sigma": max(1.4826 * mad, 1e-3)}

    def limit_fit(
        self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]
    ) -> tuple[float, dict[str, Any]] | None:
        # As df -> inf the t becomes the normal, whose fit is closed-form. On
        # a few points the t likelihood can peak at a finite df below it
        # (five points: df = 2.7 at -103.084, the normal at -103.059).
        if "df" in fixed:
            return None
        total, mean, m2 = weighted_mean_var(x, w)
        mu = float(fixed["mu"]) if "mu" in fixed else mean
        ss = m2 + total * (mean - mu) ** 2  # sum w (x - mu)^2
        sigma = float(fixed["sigma"]) if "sigma" in fixed else math.sqrt(ss / total)
        if not sigma > 0:
            return None
        loglik = -0.5 * total * math.log(2 * math.pi * sigma**2) - 0.5 * ss / sigma**2
        return loglik, {"df": 100.0, "mu": mu, "sigma": sigma}

    def scipy_dist(self, df: float, mu: float, sigma: float) -> Any:
        from scipy import stats

        return stats.t(df, mu, sigma)



def _median_and_half_iqr(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    q25, median, q75 = (weighted_quantile(x, w, q) for q in (0.25, 0.5, 0.75))
    return median, 0.5 * (q75 - q25)


class Cauchy(Family):
    r"""Cauchy distribution with location and scale.

    Notes
    -----
    .. math::
        \log p(x \mid \mu, \sigma) = -\log\pi - \log\sigma
        - \log\!\left(1 + \frac{(x-\mu)^2}{\sigma^2}\right)

    No closed form: fitted numerically from the median and half the
    interquartile range (the population values of both). With both
    parameters free the likelihood has a single stationary point, its maximum
    (Copas 1975, *Biometrika* 62, 701), unless half the weight sits on one
    value. With ``sigma`` fixed the likelihood in ``mu`` can have a local
    maximum near each cluster of the data: the start is then the median or
    one of 64 quantiles, whichever scores best after the three best-scoring
    are each climbed by the monotone EM iteration
    :math:`\mu \leftarrow \sum v_n x_n / \sum v_n`,
    :math:`v_n = w_n / (\sigma^2 + (x_n-\mu)^2)`.

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(0).standard_cauchy(1000)
    >>> res = thetahat.fit(x, "cauchy")
    >>> res.converged
    True
    """

    name = "cauchy"
    params = (
        Param("mu", real, "location", doc="location (median)"),
        Param("sigma", positive, "scale", doc="scale (half the interquartile range)"),
    )
    standardize = "robust location-scale"
    example_params = {"mu": 0.5, "sigma": 2.0}

    def logpdf(self, x: Any, mu: Any, sigma: Any) -> Any:
        z = (x - mu) / sigma
        return -jnp.log(jnp.pi) - jnp.log(sigma) - jnp.log1p(z * z)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        if "sigma" in fixed:
            mu = fixed["mu"] if "mu" in fixed else _cauchy_location_start(x, w, float(fixed["sigma"]))
            return {"mu": float(mu)}
        if "mu" in fixed:
            # Half of a Cauchy sample lies within sigma of mu. (The MLE solves
            # sum w z^2 / (1 + z^2) = N/2, one root, decreasing in sigma.)
            mu = float(fixed["mu"])
            sigma = weighted_quantile(np.abs(x - mu), w, 0.5)
        else:
            mu, sigma = _median_and_half_iqr(x, w)
            if sigma <= 0:  # more than half the weight on one value
                sigma = weighted_quantile(np.abs(x - mu), w, 0.75)
        return {"mu": mu, "sigma": max(sigma, 1e-3)}

    def scipy_dist(self, mu: float, sigma: float) -> Any:
        from scipy import stats

        return stats.cauchy(mu, sigma)


def _cauchy_location_start(x: np.ndarray, w: np.ndarray, sigma: float) -> float:
    """Global search for mu at a fixed sigma: best quantile, then EM to its local maximum."""
    keep = w > 0
    x, w = x[keep], w[keep]

    def loglik(m: float) -> float:
        return -float(np.dot(w, np.log1p(((x - m) / sigma) ** 2)))

    def climb(m: float) -> float:
        for _ in range(30):  # EM for the t location: each step raises the likelihood
            v = w / (sigma * sigma + (x - m) ** 2)
            m = float(np.dot(v, x) / v.sum())
        return m

    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    levels = np.r_[0.5, (np.arange(min(x.size, 64)) + 0.5) / min(x.size, 64)]
    idx = np.minimum(np.searchsorted(cum, levels * cum[-1]), x.size - 1)
    best = sorted(np.unique(x[order][idx]), key=loglik)[-3:]
    return max((climb(m) for m in best), key=loglik)


class Laplace(Family):
    r"""Laplace (double exponential) distribution.

    Notes
    -----
    .. math:: \log p(x \mid \mu, b) = -\log(2b) - \frac{|x-\mu|}{b}

    Closed form: :math:`\hat\mu` is the weighted median (the midpoint of the
    two middle values when the weights split exactly in half, as
    :func:`numpy.median`; every point between them is a maximiser) and
    :math:`\hat b = \sum w_n |x_n - \hat\mu| / \sum w_n`. The log-likelihood
    has a kink in :math:`\mu` at the estimate, so ``mu`` is irregular: no Wald
    standard error is reported for it; that of ``scale`` is exact.

    Examples
    --------
    >>> import thetahat
    >>> res = thetahat.fit([1.0, 2.0, 3.0, 4.0, 10.0], "laplace")
    >>> res.params["mu"], round(res.params["scale"], 12)
    (3.0, 2.2)
    """

    name = "laplace"
    params = (
        Param("mu", real, "location", doc="location (median)"),
        Param("scale", positive, "scale", doc="scale (mean absolute deviation)"),
    )
    standardize = "location-scale"
    irregular = ("mu",)
    example_params = {"mu": 1.0, "scale": 0.5}

    def logpdf(self, x: Any, mu: Any, scale: Any) -> Any:
        return -jnp.log(2 * scale) - jnp.abs(x - mu) / scale

    def mle(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        mu = float(fixed["mu"]) if "mu" in fixed else _weighted_median(x, w)
        if "mu" not in fixed:
            out["mu"] = mu
        if "scale" not in fixed:
            out["scale"] = float(np.dot(w, np.abs(x - mu)) / w.sum())
        return out

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        start = self.mle(x, w, fixed)
        if "scale" in start:
            start["scale"] = max(start["scale"], 1e-3)
        return start

    def scipy_dist(self, mu: float, scale: float) -> Any:
        from scipy import stats

        return stats.laplace(mu, scale)


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    """Weighted median; the midpoint of the median interval when the weight splits evenly."""
    keep = w > 0
    order = np.argsort(x[keep], kind="stable")
    xs, cum = x[keep][order], np.cumsum(w[keep][order])
    half = 0.5 * cum[-1]
    k = int(np.searchsorted(cum, half, side="left"))
    if cum[k] == half and k + 1 < xs.size:
        return float(0.5 * xs[k] + 0.5 * xs[k + 1])
    return float(xs[k])


class Logistic(Family):
    r"""Logistic distribution.

    Notes
    -----
    .. math::
        \log p(x \mid \mu, s) = -\log s - \operatorname{softplus}(z) - \operatorname{softplus}(-z),
        \qquad z = \frac{x-\mu}{s}

    (that is :math:`-z - 2\log(1 + e^{-z}) - \log s`, written symmetrically so
    that neither tail overflows). No closed form: fitted numerically from the
    median and the moment estimate :math:`s = \sqrt3\,\mathrm{sd}/\pi`; the
    log-likelihood is concave in :math:`(\mu/s, 1/s)`, so the maximum is unique.

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(0).logistic(2.0, 0.5, size=1000)
    >>> res = thetahat.fit(x, "logistic")
    >>> res.converged
    True
    """

    name = "logistic"
    params = (
        Param("mu", real, "location", doc="location (mean and median)"),
        Param("scale", positive, "scale", doc="scale (sd * sqrt(3) / pi)"),
    )
    standardize = "location-scale"
    example_params = {"mu": -1.0, "scale": 0.7}

    def logpdf(self, x: Any, mu: Any, scale: Any) -> Any:
        z = (x - mu) / scale
        return -jnp.log(scale) - softplus(z) - softplus(-z)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        mu = float(fixed.get("mu", weighted_quantile(x, w, 0.5)))
        spread = np.sqrt(np.dot(w, (x - mu) ** 2) / w.sum())
        return {"mu": mu, "scale": max(spread * np.sqrt(3) / np.pi, 1e-3)}

    def scipy_dist(self, mu: float, scale: float) -> Any:
        from scipy import stats

        return stats.logistic(mu, scale)


class Gumbel(Family):
    r"""Gumbel distribution of maxima (``scipy.stats.gumbel_r``).

    Notes
    -----
    .. math:: \log p(x \mid \mu, \beta) = -\log\beta - z - e^{-z}, \qquad z = \frac{x-\mu}{\beta}

    No closed form: fitted numerically. The start takes :math:`\beta` from the
    standard deviation (:math:`\beta = \sqrt6\,\mathrm{sd}/\pi`) and then
    :math:`\mu` from its exact profile given :math:`\beta`,
    :math:`\mu = -\beta\log\left(\sum w_n e^{-x_n/\beta} / \sum w_n\right)`.
    The log-likelihood is concave in :math:`(\mu/\beta, 1/\beta)`.

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(0).gumbel(10.0, 2.0, size=1000)
    >>> res = thetahat.fit(x, "gumbel")
    >>> res.converged
    True
    """

    name = "gumbel"
    params = (
        Param("mu", real, "location", doc="location (mode)"),
        Param("scale", positive, "scale", doc="scale"),
    )
    standardize = "location-scale"
    example_params = {"mu": 2.0, "scale": 1.5}

    def logpdf(self, x: Any, mu: Any, scale: Any) -> Any:
        z = (x - mu) / scale
        return -jnp.log(scale) - z - jnp.exp(-z)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        total, mean, m2 = weighted_mean_var(x, w)
        scale = max(np.sqrt(m2 / total) * np.sqrt(6) / np.pi, 1e-3)
        if "scale" in fixed:
            scale = float(fixed["scale"])
        elif "mu" in fixed:
            # E(x) = mu + Euler's gamma * scale; keep exp(-z) finite at min(x).
            mu = float(fixed["mu"])
            scale = max(scale, (mean - mu) / np.euler_gamma, (mu - x[w > 0].min()) / 30)
        if "mu" in fixed:
            return {"mu": float(fixed["mu"]), "scale": scale}
        mu = -scale * float(special.logsumexp(-x / scale, b=w / total))
        return {"mu": mu, "scale": scale}

    def scipy_dist(self, mu: float, scale: float) -> Any:
        from scipy import stats

        return stats.gumbel_r(mu, scale)


register(Normal())
register(StudentT())
register(Cauchy())
register(Laplace())
register(Logistic())
register(Gumbel())
