"""Continuous families on a bounded support: beta, uniform, von Mises (angles)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, i0e, i1e
from thetahat._lazy import optimize, special

from thetahat.constraints import positive, real
from thetahat.errors import DataError
from thetahat.families import register
from thetahat.families._helpers import weighted_mean_var
from thetahat.families.base import Family, Param, Support

__all__ = ["Beta", "Uniform", "VonMises"]


class Beta(Family):
    r"""Beta distribution on the open unit interval.

    Notes
    -----
    .. math::
        \log p(x \mid a, b) = (a-1)\log x + (b-1)\log(1-x) - \log B(a, b)

    No closed form: fitted numerically from the method-of-moments start
    :math:`a = m c`, :math:`b = (1-m) c`, :math:`c = m(1-m)/v - 1`. The
    log-likelihood depends on the data only through :math:`\sum w`,
    :math:`\sum w\log x` and :math:`\sum w\log(1-x)` (concave in
    :math:`(a, b)`: the maximum is unique).

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(0).beta(2.0, 5.0, size=1000)
    >>> res = thetahat.fit(x, "beta")
    >>> res.converged
    True
    """

    name = "beta"
    params = (
        Param("a", positive, "shape", doc="first shape (alpha)"),
        Param("b", positive, "shape", doc="second shape (beta)"),
    )
    support = Support(0.0, 1.0)
    example_params = {"a": 2.5, "b": 4.0}

    def logpdf(self, x: Any, a: Any, b: Any) -> Any:
        inside = (x > 0) & (x < 1)
        xs = jnp.where(inside, x, 0.5)  # keeps the unused branch's gradient finite
        value = (a - 1) * jnp.log(xs) + (b - 1) * jnp.log1p(-xs) - _betaln(a, b)
        return jnp.where(inside, value, -jnp.inf)

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[float, ...]:
        return (float(w.sum()), float(np.dot(w, np.log(x))), float(np.dot(w, np.log1p(-x))))

    def loglik_from_stats(self, stats: Any, a: Any, b: Any) -> Any:
        total, sum_log_x, sum_log_1mx = stats
        return (a - 1) * sum_log_x + (b - 1) * sum_log_1mx - total * _betaln(a, b)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        total, mean, m2 = weighted_mean_var(x, w)
        # Var <= m (1 - m) for data in [0, 1] (Bhatia-Davis), so c > 0 up to rounding.
        common = max(mean * (1 - mean) / max(m2 / total, 1e-300) - 1, 1e-2)
        return {"a": max(mean * common, 1e-3), "b": max((1 - mean) * common, 1e-3)}

    def scipy_dist(self, a: float, b: float) -> Any:
        from scipy import stats

        return stats.beta(a, b)


#: B_2k / (2k (2k - 1)), k = 1..8: the Stirling series of log Gamma. From
#: x = 10 on, the first omitted term is below 2e-18.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400)


def _stirling_remainder(x: Any) -> Any:
    """log Gamma(x) - ((x - 1/2) log x - x + log(2 pi)/2), for x >= 10."""
    inv2 = 1.0 / (x * x)
    acc = jnp.zeros_like(inv2)
    for c in reversed(_STIRLING):
        acc = acc * inv2 + c
    return acc / x


def _betaln(a: Any, b: Any) -> Any:
    """log B(a, b) to a few ulp (R's ``lbeta`` algorithm).

    ``jax.scipy.special.betaln`` is only accurate to about 1e-8 relative
    (e.g. at a = 8, b = 12.6), and the plain sum of three ``gammaln`` loses
    digits when a + b is large; here the large parts cancel analytically and
    only the Stirling remainders are subtracted numerically.
    """
    p, q = jnp.minimum(a, b), jnp.maximum(a, b)
    big_q = q >= 10
    # Inputs each branch may safely see (jnp.where differentiates both).
    ps, qs = jnp.where(big_q, p, 1.0), jnp.where(big_q, q, 10.0)
    pq = ps + qs
    ratio = ps / pq
    tail = _stirling_remainder(qs) - _stirling_remainder(pq)
    both_big = (
        _stirling_remainder(jnp.maximum(ps, 10.0)) + tail + 0.5 * jnp.log(2 * jnp.pi / qs)
        + (ps - 0.5) * jnp.log(ratio) + qs * jnp.log1p(-ratio)
    )
    one_big = gammaln(ps) + tail + ps - ps * jnp.log(pq) + (qs - 0.5) * jnp.log1p(-ratio)
    small = gammaln(p) + gammaln(q) - gammaln(p + q)
    return jnp.where(big_q, jnp.where(p >= 10, both_big, one_big), small)


class Uniform(Family):
    r"""Continuous uniform distribution on :math:`[\mathrm{low}, \mathrm{high}]`.

    Notes
    -----
    .. math::
        \log p(x \mid l, h) = -\log(h - l), \qquad l \le x \le h

    Closed form: :math:`\hat l = \min x`, :math:`\hat h = \max x` over the
    observations with positive weight. Both sit on the edge of the support,
    where the likelihood is not differentiable: they are irregular, with no
    Wald standard errors (their error is of order :math:`(h-l)/n`).

    Where the fit standardises the data (extreme magnitudes), it only
    rescales them by a power of two, never shifts them: :math:`\hat l` and
    :math:`\hat h` then map back to exactly :math:`\min x` and
    :math:`\max x`, whereas a shift would round and could leave an
    observation outside the fitted support.

    Examples
    --------
    >>> import thetahat
    >>> res = thetahat.fit([0.5, 2.0, 1.25], "uniform")
    >>> res.params
    {'low': 0.5, 'high': 2.0}
    """

    name = "uniform"
    params = (
        Param("low", real, "location", doc="lower end"),
        Param("high", real, "location", doc="upper end"),
    )
    support = Support(low_closed=True, high_closed=True, low_param="low", high_param="high")
    standardize = "scale"
    irregular = ("low", "high")
    example_params = {"low": -1.0, "high": 3.0}

    def logpdf(self, x: Any, low: Any, high: Any) -> Any:
        return jnp.where((x >= low) & (x <= high), -jnp.log(high - low), -jnp.inf)

    def mle(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        used = x[w > 0]
        low = float(fixed.get("low", used.min()))
        high = float(fixed.get("high", used.max()))
        if not high > low:
            raise DataError(
                f"the uniform fit needs data with spread: every observation equals {high!r}, "
                "so the likelihood grows without bound as high - low shrinks to 0. "
                "Fix low or high away from the data, or use data with spread."
            )
        return {k: v for k, v in (("low", low), ("high", high)) if k not in fixed}

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        return self.mle(x, w, fixed)

    def scipy_dist(self, low: float, high: float) -> Any:
        from scipy import stats

        return stats.uniform(loc=low, scale=high - low)


class VonMises(Family):
    r"""Von Mises distribution of angles (radians in :math:`[-\pi, \pi]`).

    Notes
    -----
    .. math::
        \log p(x \mid \mu, \kappa) = \kappa\cos(x-\mu) - \log\bigl(2\pi I_0(\kappa)\bigr)

    evaluated as :math:`-2\kappa\sin^2\frac{x-\mu}2 - \log(2\pi\,\mathrm{i0e}(\kappa))`
    with the exponentially scaled Bessel function, so that large
    :math:`\kappa` neither overflows nor cancels.

    Closed form: with :math:`C = \sum w\cos x`, :math:`S = \sum w\sin x`,
    :math:`\hat\mu = \operatorname{atan2}(S, C)` (reported in
    :math:`(-\pi, \pi]`) and :math:`\hat\kappa` solves
    :math:`A(\kappa) = I_1(\kappa)/I_0(\kappa) = \bar R`, the mean resultant
    length. The sufficient statistics are taken about the sample direction
    :math:`\mu_0`: :math:`\sum w`, :math:`\mu_0`, :math:`\sum w\sin(x-\mu_0)`
    and :math:`\sum w\,2\sin^2\frac{x-\mu_0}2 = \sum w(1-\cos(x-\mu_0))`;
    with :math:`1 - A(\kappa)` from the asymptotic series for large
    :math:`\kappa`, concentrated data (:math:`1 - \bar R \approx 1/(2\kappa)`
    tiny) keep every digit of :math:`\hat\kappa` and of the observed
    information. :math:`\bar R \le 0` (possible with ``mu`` fixed) gives
    :math:`\hat\kappa = 0`, on the boundary.

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(0).vonmises(1.0, 4.0, size=1000)
    >>> res = thetahat.fit(x, "von_mises")
    >>> res.method, round(res.params["mu"], 1)
    ('closed form', 1.0)
    """

    name = "von_mises"
    params = (
        Param("mu", real, "location", doc="mean direction (radians)"),
        Param("kappa", positive, "shape", doc="concentration"),
    )
    support = Support(-np.pi, np.pi, low_closed=True, high_closed=True)
    example_params = {"mu": 1.0, "kappa": 2.5}

    def logpdf(self, x: Any, mu: Any, kappa: Any) -> Any:
        inside = (x >= -np.pi) & (x <= np.pi)
        half = jnp.sin(0.5 * (x - mu))
        value = -2 * kappa * half * half - jnp.log(2 * jnp.pi) - _log_i0e(kappa)
        return jnp.where(inside, value, -jnp.inf)

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[float, ...]:
        # (W, mu0, S0, V0) about the sample direction mu0: S0 = sum w sin(x - mu0),
        # V0 = sum w (1 - cos(x - mu0)) = sum w 2 sin^2((x - mu0)/2). They carry
        # the same information as (W, sum w cos x, sum w sin x), but keep the
        # full relative precision of 1 - R (of order 1/(2 kappa)).
        mu0 = float(np.arctan2(np.dot(w, np.sin(x)), np.dot(w, np.cos(x))))
        d = x - mu0
        s0 = float(np.dot(w, np.sin(d)))
        return (float(w.sum()), mu0, s0, float(np.dot(w, 2 * np.sin(0.5 * d) ** 2)))

    def loglik_from_stats(self, stats: Any, mu: Any, kappa: Any) -> Any:
        total, mu0, s0, v0 = stats
        delta = mu - mu0
        half = jnp.sin(0.5 * delta)
        # sum w (cos(x - mu) - 1), expanded about mu0 without cancellation.
        deficit = -v0 * jnp.cos(delta) - 2 * total * half * half + s0 * jnp.sin(delta)
        return kappa * deficit - total * (jnp.log(2 * jnp.pi) + _log_i0e(kappa))

    def mle_from_stats(self, stats: tuple[float, ...], fixed: dict[str, Any]) -> dict[str, Any]:
        total, mu0, s0, v0 = stats
        c0 = total - v0  # sum w cos(x - mu0)
        out: dict[str, Any] = {}
        if "mu" in fixed:
            delta = float(fixed["mu"]) - mu0
            deficit = v0 * np.cos(delta) + 2 * total * np.sin(0.5 * delta) ** 2 - s0 * np.sin(delta)
        else:
            if c0 > 0:
                # mu0 is the resultant direction up to rounding: refine it, and
                # W - W R = v0 - c0 (sqrt(1 + t^2) - 1) with t = s0/c0.
                t2 = (s0 / c0) ** 2
                out["mu"] = _wrap(mu0 + float(np.arctan2(s0, c0)))
                deficit = v0 - c0 * t2 / (np.sqrt(1 + t2) + 1)
            else:  # no mean direction (R = 0 up to rounding)
                out["mu"] = _wrap(mu0)
                deficit = total - np.hypot(c0, s0)
        if "kappa" not in fixed:
            out["kappa"] = _kappa_mle(1.0 - deficit / total, deficit / total)
        return out

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        start = self.mle_from_stats(self.sufficient_stats(x, w), fixed)
        if "kappa" in start:
            start["kappa"] = max(start["kappa"], 1e-2)
        return start

    def scipy_dist(self, mu: float, kappa: float) -> Any:
        from scipy import stats

        return VonMisesOnCircle(stats.vonmises(kappa, loc=mu), mu, kappa)


class VonMisesOnCircle:
    """``scipy.stats.vonmises(kappa, loc=mu)`` on the data's support [-pi, pi].

    scipy's frozen distribution lives on [mu - pi, mu + pi]: its density is 0
    and its CDF runs outside [0, 1] for angles of [-pi, pi] beyond that
    (mu = 3: cdf(-3) < 0). Here the CDF, survival function, quantiles and
    draws are those of the same circular distribution read from -pi; every
    other attribute (mean, var, ...) is scipy's.
    """

    def __init__(self, frozen: Any, mu: Any, kappa: Any) -> None:
        self._frozen, self._mu, self._kappa = frozen, np.asarray(mu), np.asarray(kappa)
        # scipy's CDF keeps rising by 1 per turn beyond its interval: the mass
        # of [-pi, t] is cdf(t) - cdf(-pi).
        self._base = np.asarray(frozen.cdf(-np.pi))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy/pickle probe before __init__: no recursion
            raise AttributeError(name)
        return getattr(self._frozen, name)

    def logpdf(self, x: Any) -> Any:
        from scipy import special

        x = np.asarray(x, dtype=float)
        half = np.sin(0.5 * (x - self._mu))
        value = -2 * self._kappa * half * half - np.log(2 * np.pi * special.i0e(self._kappa))
        return np.where((x >= -np.pi) & (x <= np.pi), value, -np.inf)

    def pdf(self, x: Any) -> Any:
        return np.exp(self.logpdf(x))

    def cdf(self, x: Any) -> Any:
        x = np.asarray(x, dtype=float)
        mass = np.clip(self._frozen.cdf(np.clip(x, -np.pi, np.pi)) - self._base, 0.0, 1.0)
        return np.where(x < -np.pi, 0.0, np.where(x > np.pi, 1.0, mass))

    def sf(self, x: Any) -> Any:
        x = np.asarray(x, dtype=float)
        top = self._base + 1.0  # scipy's cdf(pi)
        mass = np.clip(top - self._frozen.cdf(np.clip(x, -np.pi, np.pi)), 0.0, 1.0)
        return np.where(x < -np.pi, 1.0, np.where(x > np.pi, 0.0, mass))

    def logcdf(self, x: Any) -> Any:
        with np.errstate(divide="ignore"):
            return np.log(self.cdf(x))

    def logsf(self, x: Any) -> Any:
        with np.errstate(divide="ignore"):
            return np.log(self.sf(x))

    def ppf(self, q: Any) -> Any:
        p = np.asarray(q, dtype=float) + self._base  # scipy's level of the same angle
        turn = np.where(p > 1.0, -1.0, np.where(p < 0.0, 1.0, 0.0))
        return np.asarray(self._frozen.ppf(p + turn)) - 2 * np.pi * turn

    def rvs(self, size: Any = None, random_state: Any = None) -> Any:
        draws = np.asarray(self._frozen.rvs(size=size, random_state=random_state))
        return np.mod(draws + np.pi, 2 * np.pi) - np.pi


def _wrap(angle: float) -> float:
    """The same angle in (-pi, pi]."""
    if angle > np.pi:
        return float(angle - 2 * np.pi)
    if angle <= -np.pi:
        return float(angle + 2 * np.pi)
    return float(angle)


#: From this kappa on, 1 - A(kappa) and A' come from the asymptotic series,
#: whose 30 terms then decrease to below 1e-17 relative before they could grow
#: (checked against 60-digit mpmath); below it, the direct formulas lose at
#: most 2 log10(kappa) + 1 digits.
_KAPPA_SERIES = 25.0


def _ratio_series(kappa: Any) -> tuple[Any, Any]:
    """(u, v): u = 1 - A(kappa), v = u - 1/(2 kappa), for kappa >= 25 (numpy or jax).

    I_nu(k) e^-k sqrt(2 pi k) ~ sum_j c_j(nu) with c_0 = 1 and
    c_j / c_{j-1} = ((2j-1)^2 - 4 nu^2) / (8 j k), so that
    u = sum_{j>=1} (c_j(0) - c_j(1)) / sum_j c_j(0): the leading 1s, and
    then the leading 1/(2k) of u, cancel analytically rather than numerically.
    """
    c0 = c1 = 1.0 + 0.0 * kappa
    tail0, rest = 0.0 * kappa, 0.0 * kappa  # sum_{j>=1} c_j(0); sum_{j>=2} (c_j(0) - c_j(1))
    for j in range(1, 31):
        c0 = c0 * ((2 * j - 1) ** 2 / (8 * j)) / kappa
        c1 = c1 * (((2 * j - 1) ** 2 - 4) / (8 * j)) / kappa
        tail0 = tail0 + c0
        if j >= 2:  # j = 1 contributes exactly 1/(2 kappa)
            rest = rest + (c0 - c1)
    u = (0.5 / kappa + rest) / (1.0 + tail0)
    v = (rest - 0.5 * tail0 / kappa) / (1.0 + tail0)
    return u, v


def _one_minus_a(kappa: float) -> float:
    """1 - I1(kappa)/I0(kappa) in numpy, to 3e-15 relative at worst."""
    if kappa < _KAPPA_SERIES:
        i0, i1 = special.i0e(kappa), special.i1e(kappa)
        return float((i0 - i1) / i0)
    return float(_ratio_series(kappa)[0])


def _u_and_slope(kappa: Any) -> tuple[Any, Any]:
    """jax: u = 1 - A(kappa) and A'(kappa) = 1 - A/kappa - A^2, without cancellation."""
    big = kappa >= _KAPPA_SERIES
    kb = jnp.where(big, kappa, _KAPPA_SERIES)
    u_big, v = _ratio_series(kb)
    # A' = 2u - u^2 - (1 - u)/k = 2v + u (1/(2k) - v): every term positive.
    slope_big = 2 * v + u_big * (0.5 / kb - v)
    ks = jnp.where(big, 1.0, kappa)
    i0 = i0e(ks)
    a = i1e(ks) / i0
    tiny = ks < 1e-4  # A/k = 1/2 - k^2/16 + O(k^4)
    a_over_k = jnp.where(tiny, 0.5 - ks * ks / 16, a / jnp.where(tiny, 1.0, ks))
    return jnp.where(big, u_big, (i0 - i1e(ks)) / i0), jnp.where(big, slope_big, 1 - a_over_k - a * a)


@jax.custom_jvp
def _one_minus_a_jax(kappa: Any) -> Any:
    return _u_and_slope(kappa)[0]


@_one_minus_a_jax.defjvp
def _one_minus_a_jvp(primals: Any, tangents: Any) -> Any:
    u, slope = _u_and_slope(primals[0])
    return u, -slope * tangents[0]


@jax.custom_jvp
def _log_i0e(kappa: Any) -> Any:
    """log(I0(kappa) e^-kappa), with exact first and second derivatives.

    They are -(1 - A) and A', computed without cancellation; autodiff
    through ``i0e`` loses them at large kappa (at 1e12 it gets even the sign
    of the second wrong, and so the observed information).
    """
    return jnp.log(i0e(kappa))


@_log_i0e.defjvp
def _log_i0e_jvp(primals: Any, tangents: Any) -> Any:
    (kappa,) = primals
    return _log_i0e(kappa), -_one_minus_a_jax(kappa) * tangents[0]


def _kappa_mle(r: float, one_minus_r: float) -> float:
    """The root of A(kappa) = R (A rises from 0 to 1); 0 when R <= 0.

    ``r`` and ``one_minus_r`` are both computed from the data: the equation
    is solved in whichever form keeps the digits (A = R for small R,
    1 - A = 1 - R near 1).
    """
    if r <= 0.0:
        return 0.0
    if not one_minus_r > 1e-300:
        raise DataError(
            "the angles coincide to within rounding, so kappa is infinite: "
            "fix kappa or use data with spread."
        )
    if r < 0.5:
        def excess(kappa: float) -> float:
            return r - float(special.i1e(kappa) / special.i0e(kappa))
    else:
        def excess(kappa: float) -> float:
            return _one_minus_a(kappa) - one_minus_r

    # A(k) < k/2 puts the root above 2R (bracketed from R, safely inside);
    # 1 - A(k) ~ 1/(2k) puts it below about 1/(1 - R).
    low, high = r, max(1.0 / one_minus_r, 4.0)
    while excess(high) > 0:
        high *= 2.0
    return float(optimize.brentq(excess, low, high, xtol=1e-300, rtol=4 * np.finfo(float).eps))


register(Beta())
register(Uniform())
register(VonMises())
