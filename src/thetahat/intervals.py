r"""Confidence intervals beyond Wald: profile likelihood, bootstrap, derived quantities.

Three ways to say "how sure", each reached through
:meth:`FitResult.conf_int <thetahat.FitResult.conf_int>` or directly:

* **Profile likelihood** (as MINOS and bbmle): the interval for a parameter
  :math:`\psi` is the set of values whose profile log-likelihood
  :math:`\ell_p(\psi) = \max_{\lambda} \ell(\psi, \lambda)` (the other free
  parameters re-optimised by :func:`thetahat.fit` with ``fixed={psi: value}``)
  is close enough to the maximum,

  .. math:: 2\,\bigl(\hat\ell - \ell_p(\psi)\bigr) \le \chi^2_{1}(\text{level}).

  Each end is found by stepping away from the estimate in a transformed
  coordinate (log for a positive parameter, logit for an interval, the
  parameter itself on the real line) until the deviance crosses the
  threshold, then by Brent's method. When the profile stays below the
  threshold up to the edge of the parameter's domain, that side is *open*:
  it is reported as the domain edge (0 for a positive parameter, -inf/+inf
  for an unbounded one) with a :class:`~thetahat.BoundaryWarning`, never as
  the point where a search happened to stop.
* **Bootstrap**: nonparametric (multinomial resampling counts on the same
  data, as frequency weights) or parametric (samples of the fitted
  distribution); every replicate is refitted by
  :func:`thetahat.batch.refit_batch` -- one vmapped solve, not a Python loop
  -- and summarised by the percentile or the BCa interval (bias correction
  and jackknife acceleration, Efron 1987), seeded by ``rng``.
* **Derived quantities** :math:`g(\theta)` (a quantile, the mean,
  :math:`P(X > t)`): the delta method, :math:`\operatorname{se}(g) =
  \sqrt{\nabla g^\top \Sigma \nabla g}`, and the profile likelihood of
  :math:`g`, maximising :math:`\ell(\theta)` subject to :math:`g(\theta) = c`
  (SLSQP on the unconstrained coordinates of the free parameters).

Examples
--------
>>> import numpy as np, thetahat
>>> x = np.random.default_rng(1).gamma(2.0, 3.0, size=60)
>>> res = thetahat.fit(x, "gamma")
>>> low, high = res.conf_int(method="profile")["shape"]
>>> bool(low < res.params["shape"] < high)
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import NDArray

from thetahat._jit import jit
from thetahat.constraints import Interval
from thetahat.data import is_unit
from thetahat.errors import BoundaryWarning, DataError, FitError, ThetahatError, ThetahatWarning

if TYPE_CHECKING:
    from thetahat.batch import BatchFit
    from thetahat.result import FitResult

__all__ = [
    "Bootstrap",
    "DerivedInterval",
    "Profile",
    "bootstrap",
    "bootstrap_intervals",
    "derived_interval",
    "profile_intervals",
    "profile_likelihood",
]

_NORMAL = NormalDist()
#: Rows x observations per refit_batch call: bounds the (B, n) weight matrices in memory.
_BATCH_CELLS = 4_000_000
#: Leave-one-out jackknife up to this many rows, grouped jackknife above.
_JACKKNIFE_ROWS = 1000
#: How far a profile search goes before calling a side open: a factor e^20 (about
#: 5e8) beyond the estimate in log/logit coordinates, 1e8 Wald half-widths on the
#: real line. Past that the data say nothing, and the family's own rounding
#: (e.g. the negative binomial at r > 1e10) would only add noise.
_SEARCH_LOG_RANGE = 20.0
_SEARCH_LINEAR_RANGE = 1e8


def _chi2_1(level: float) -> float:
    """Quantile of chi-square with one degree of freedom: the square of a normal quantile."""
    return _NORMAL.inv_cdf(0.5 + level / 2.0) ** 2


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise DataError(f"level must be in (0, 1); got {level!r}.")


def require_converged(result: FitResult, what: str, *, needs_data: bool = True) -> None:
    """Raise :class:`FitError` when ``result`` cannot be the start of ``what``."""
    if not result.converged:
        raise FitError(
            f"cannot compute {what} from a {result.family.name} fit that did not converge "
            f"({result.message}). Fix the fit first (other start values, fixed parameters "
            "or another family)."
        )
    if needs_data and result._context is None:
        raise DataError(f"{what} needs the fit's data; this result holds none.")


def fit_kwargs(result: FitResult) -> dict[str, Any]:
    """Keyword arguments of :func:`thetahat.fit` that reproduce ``result`` on its data."""
    options = {k: v for k, v in result.fit_options.items() if v}
    _, w = result.data
    if not is_unit(w):
        options["weights"] = w
    return options


def free_names(result: FitResult) -> list[str]:
    """The free parameters of ``result`` in declaration order."""
    return [p.name for p in result.family.params if p.name not in result.fixed]


@lru_cache(maxsize=64)
def _loglik_function(family: Any) -> Callable[..., Any]:
    def total(x: Any, w: Any, params: dict[str, Any]) -> Any:
        terms = family.logpdf(x, **params)
        return jnp.sum(jnp.where(w > 0, w * terms, 0.0))

    return jit(total)


def loglik_at(result: FitResult, params: Mapping[str, Any]) -> float:
    """The log-likelihood of ``result``'s data at ``params`` (all parameters given)."""
    x, w = result.data
    with jax.enable_x64(True):
        values = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
        return float(_loglik_function(result.family)(jnp.asarray(x), jnp.asarray(w), values))


def domain(result: FitResult, name: str) -> tuple[float, float]:
    """The open interval of values ``name`` may take in ``result``'s fit (user units).

    Data-dependent ends (a threshold below ``min(x)``) are resolved with the
    fitted data, and user ``bounds`` narrow the declared constraint.
    """
    constraint = result.family.param(name).constraint
    if not isinstance(constraint, Interval):
        raise DataError(f"parameter {name!r} is not scalar; use method='wald' or 'bootstrap'.")
    x, w = result.data
    used = x if is_unit(w) else x[w > 0]
    interval = constraint.resolve(float(used.min()), float(used.max()))
    bounds = result.fit_options.get("bounds") or {}
    if name in bounds:
        interval = interval.intersect(*sorted(float(b) for b in bounds[name]))
    return float(interval.low), float(interval.high)


@dataclass(frozen=True)
class _Coordinate:
    """A monotone increasing map of the open interval (low, high) onto the real line."""

    low: float
    high: float

    def forward(self, value: float) -> float:
        lo_ok, hi_ok = math.isfinite(self.low), math.isfinite(self.high)
        with np.errstate(divide="ignore", invalid="ignore"):
            if lo_ok and hi_ok:
                u = (value - self.low) / (self.high - self.low)
                return float(np.log(u) - np.log1p(-u))
            if lo_ok:
                return float(np.log(value - self.low))
            if hi_ok:
                return float(-np.log(self.high - value))
        return float(value)

    def inverse(self, t: float) -> float:
        lo_ok, hi_ok = math.isfinite(self.low), math.isfinite(self.high)
        with np.errstate(over="ignore"):
            if lo_ok and hi_ok:
                return float(self.low + (self.high - self.low) / (1.0 + np.exp(-t)))
            if lo_ok:
                return float(self.low + np.exp(t))
            if hi_ok:
                return float(self.high - np.exp(-t))
        return float(t)

    def inside(self, value: float) -> bool:
        return bool(math.isfinite(value) and self.low < value < self.high)


# -- profile likelihood ---------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    r"""The profile likelihood of one parameter and the interval it gives.

    Attributes
    ----------
    name : str
        The profiled parameter.
    estimate : float
        Its maximum-likelihood estimate.
    loglik_max : float
        :math:`\hat\ell`, the maximised log-likelihood.
    level : float
        Confidence level of ``low``/``high``.
    low, high : float
        Interval ends; an open side is the edge of the domain (``-inf``,
        ``inf`` or e.g. 0 for a positive parameter), flagged by
        ``is_low_open``/``is_high_open``.
    values, loglik : ndarray
        The profile curve: every :math:`\psi` evaluated (sorted) and
        :math:`\ell_p(\psi)` there.
    """

    name: str
    estimate: float
    loglik_max: float
    level: float
    low: float
    high: float
    is_low_open: bool
    is_high_open: bool
    values: NDArray[np.float64]
    loglik: NDArray[np.float64]

    @property
    def interval(self) -> tuple[float, float]:
        """``(low, high)``."""
        return self.low, self.high

    @property
    def deviance(self) -> NDArray[np.float64]:
        r""":math:`2(\hat\ell - \ell_p(\psi))` along ``values``."""
        return 2.0 * (self.loglik_max - self.loglik)

    @property
    def threshold(self) -> float:
        r""":math:`\chi^2_1(\text{level})`, the deviance at the interval ends."""
        return _chi2_1(self.level)


class _ProfileEvaluator:
    """l_p(psi) for one parameter: refits the others with psi fixed, warm-started."""

    def __init__(self, result: FitResult, name: str) -> None:
        self.result, self.name = result, name
        self.others = [n for n in free_names(result) if n != name]
        self.kwargs = fit_kwargs(result)
        self.kwargs.pop("bounds", None)
        if name in self.kwargs.get("free", ()):
            self.kwargs["free"] = [n for n in self.kwargs["free"] if n != name]
        bounds = dict(result.fit_options.get("bounds") or {})
        bounds.pop(name, None)
        if bounds:
            self.kwargs["bounds"] = bounds
        self.points: dict[float, tuple[float, dict[str, Any]]] = {
            float(result.params[name]): (result.loglik, dict(result.params))
        }

    def __call__(self, value: float) -> float:
        """l_p at ``value``; nan where the constrained fit fails."""
        if value in self.points:
            return self.points[value][0]
        nearest = min(self.points, key=lambda v: abs(v - value))
        start = self.points[nearest][1]
        if not self.others:
            params = {**self.result.params, self.name: value}
            ll = loglik_at(self.result, params)
        else:
            ll, params = self._refit(value, start)
        if math.isfinite(ll):
            self.points[value] = (ll, params)
        return ll

    def _refit(self, value: float, start: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        from thetahat.fit import fit

        x, _ = self.result.data
        fixed = {**(self.kwargs.get("fixed") or {}), self.name: value}
        kwargs = {**self.kwargs, "fixed": fixed, "start": {k: start[k] for k in self.others}}
        try:
            # Each constrained fit reports its status in its result; keep its
            # warnings from reaching the user one by one.
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always", ThetahatWarning)
                res = fit(x, self.result.family, **kwargs)
        except ThetahatError:
            return math.nan, {}
        if not res.converged:
            return math.nan, {}
        return res.loglik, dict(res.params)

    def curve(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        values = np.array(sorted(self.points))
        return values, np.array([self.points[v][0] for v in values])


def _check_profilable(result: FitResult, name: str) -> None:
    fam = result.family
    if name not in free_names(result):
        raise DataError(
            f"{name!r} is not a free parameter of this {fam.name} fit; "
            f"its free parameters are {free_names(result)}."
        )
    if result.fit_options.get("prior"):
        raise DataError(
            "profile intervals are for maximum-likelihood fits; this is a MAP fit (prior=...). "
            "Use method='wald' (the Laplace approximation) instead."
        )
    if np.ndim(result.params[name]) != 0:
        raise DataError(
            f"profile intervals need a scalar parameter; {name!r} has shape "
            f"{np.shape(result.params[name])}. Use method='wald' or 'bootstrap'."
        )
    constraint = fam.param(name).constraint
    data_edge = isinstance(constraint, Interval) and "data_min" in (constraint.low, constraint.high)
    on_support = name in (fam.support.low_param, fam.support.high_param)
    if name in fam.irregular and (data_edge or on_support):
        raise DataError(
            f"the MLE of {name!r} of the {fam.name} family is an extreme observation (an "
            "irregular likelihood): the chi-square calibration of profile intervals does not "
            "hold. Use method='bootstrap' (parametric) instead."
        )


def profile_likelihood(
    result: FitResult, name: str, level: float = 0.95, *, grid: int = 0
) -> Profile:
    r"""Profile likelihood of the parameter ``name`` and its confidence interval.

    Parameters
    ----------
    result : FitResult
        A converged maximum-likelihood fit.
    name : str
        A free scalar parameter of ``result``.
    level : float, default=0.95
        Confidence level; the ends solve
        :math:`2(\hat\ell - \ell_p(\psi)) = \chi^2_1(\text{level})`.
    grid : int, default=0
        If positive, also evaluate :math:`\ell_p` at this many points spread
        over the interval and a quarter of its width beyond each finite end
        (for plotting the curve).

    Returns
    -------
    Profile

    Warns
    -----
    BoundaryWarning
        When a side is open: the profile stays below the threshold up to the
        edge of the domain (or as far as the constrained fit can be evaluated).

    Notes
    -----
    With other free parameters :math:`\lambda`,
    :math:`\ell_p(\psi) = \max_\lambda \ell(\psi, \lambda)` is computed by
    :func:`thetahat.fit` with ``fixed={name: psi}``, started at the nearest
    point already evaluated. The search for each end steps away from
    :math:`\hat\psi` in a coordinate :math:`t(\psi)` that maps the domain onto
    the real line (log, logit or identity), first by the Wald half-width, then
    doubling, and refines the bracket by Brent's method to :math:`10^{-9}` of
    the first step. A side is open when the deviance stays below the
    threshold up to the domain edge, as far as the constrained fit can be
    evaluated, or over a factor :math:`e^{20}` beyond the estimate (log/logit
    coordinates; :math:`10^8` Wald half-widths on the real line): e.g. the
    negative binomial ``r`` on data that a Poisson fits as well.

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> from thetahat.intervals import profile_likelihood
    >>> x = np.random.default_rng(0).weibull(1.5, size=80) * 2.0
    >>> prof = profile_likelihood(thetahat.fit(x, "weibull"), "shape")
    >>> [round(v, 3) for v in prof.interval]
    [1.203, 1.698]
    >>> round(prof.threshold, 4), prof.is_low_open or prof.is_high_open
    (3.8415, False)
    """
    _check_level(level)
    require_converged(result, "a profile likelihood")
    _check_profilable(result, name)
    estimate = float(result.params[name])
    low_edge, high_edge = domain(result, name)
    coord = _Coordinate(low_edge, high_edge)
    evaluate = _ProfileEvaluator(result, name)
    crit = _chi2_1(level)
    wald = result.conf_int(level).get(name, (math.nan, math.nan))
    ends: list[float] = []
    opened: list[bool] = []
    for sign, edge, wald_end in ((-1, low_edge, wald[0]), (1, high_edge, wald[1])):
        end, is_open = _profile_side(evaluate, coord, estimate, sign, wald_end, crit, result.loglik)
        if is_open:
            side = "lower" if sign < 0 else "upper"
            warnings.warn(
                f"the profile likelihood of {name!r} ({result.family.name}) stays within "
                f"{crit:.3g} of its maximum up to {end:g}: the {side} side of the "
                f"{level:.0%} interval is open (reported as {edge:g}). The data do not bound "
                f"{name!r} on that side; consider fixing it or a simpler family.",
                BoundaryWarning,
                stacklevel=2,
            )
            end = edge
        ends.append(end)
        opened.append(is_open)
    if grid > 0:
        _fill_grid(evaluate, coord, ends, grid)
    values, loglik = evaluate.curve()
    # The fit's maximum, not the curve's: far out (a negative binomial's
    # r ~ 1e10 with p within 1e-10 of 1) the curve holds rounding noise above
    # it, which would shift every deviance.
    return Profile(
        name, estimate, result.loglik, level,
        ends[0], ends[1], opened[0], opened[1], values, loglik,
    )


def _profile_side(
    evaluate: _ProfileEvaluator,
    coord: _Coordinate,
    estimate: float,
    sign: int,
    wald_end: float,
    crit: float,
    loglik_max: float,
) -> tuple[float, bool]:
    """One end of the profile interval: (value, False), or (last value reached, True) if open."""
    t_hat = coord.forward(estimate)
    bounded = math.isfinite(coord.low) or math.isfinite(coord.high)
    reach = _SEARCH_LOG_RANGE
    if not math.isfinite(t_hat):
        # The estimate sits on the edge of its domain (a boundary MLE): that side
        # of the interval is the estimate itself; the other starts just inside,
        # and the search range counts from the edge's neighbourhood.
        if (t_hat < 0) == (sign < 0):
            return estimate, False
        t_hat = coord.forward(estimate + sign * 1e-10 * max(1.0, abs(estimate)))
        reach += abs(t_hat)
    step = abs(coord.forward(wald_end) - t_hat) if coord.inside(wald_end) else math.nan
    if not (math.isfinite(step) and step > 0):
        step = 0.5 if bounded else 0.1 * max(1.0, abs(estimate))
    if not bounded:
        reach = _SEARCH_LINEAR_RANGE * step

    def excess(t: float) -> float:
        ll = evaluate(coord.inverse(t))
        return 2.0 * (loglik_max - ll) - crit if math.isfinite(ll) else math.nan

    from scipy.optimize import brentq

    t_in, h = t_hat, step
    for _ in range(60):
        t_out = t_hat + sign * min(h, reach)
        value = coord.inverse(t_out)
        if not coord.inside(value):
            return coord.inverse(t_in), True
        f_out = excess(t_out)
        if math.isnan(f_out):
            # The constrained fit failed out there: find how far it can be evaluated.
            t_in, t_out, crossed = _last_evaluable(excess, t_in, t_out)
            if not crossed:
                return coord.inverse(t_in), True
            f_out = excess(t_out)
        if f_out >= 0:
            t_end = brentq(excess, t_in, t_out, xtol=1e-9 * step, rtol=1e-12)
            return coord.inverse(t_end), False
        if h >= reach:
            return coord.inverse(t_out), True
        t_in, h = t_out, 2.0 * h
    return coord.inverse(t_in), True


def _last_evaluable(excess: Callable[[float], float], t_in: float, t_out: float) -> tuple[float, float, bool]:
    """Bisect between an evaluable point and a failing one; stop early at a crossing."""
    for _ in range(40):
        mid = 0.5 * (t_in + t_out)
        f_mid = excess(mid)
        if math.isnan(f_mid):
            t_out = mid
        elif f_mid >= 0:
            return t_in, mid, True
        else:
            t_in = mid
    return t_in, t_out, False


def _fill_grid(evaluate: _ProfileEvaluator, coord: _Coordinate, ends: list[float], grid: int) -> None:
    low, high = ends
    finite = [v for v in (low, high) if coord.inside(v)]
    if not finite:
        return
    width = (high - low) if len(finite) == 2 else abs(finite[0] - evaluate.result.params[evaluate.name])
    lo = low - 0.25 * width if coord.inside(low) else evaluate.result.params[evaluate.name] - width
    hi = high + 0.25 * width if coord.inside(high) else evaluate.result.params[evaluate.name] + width
    for value in np.linspace(lo, hi, grid):
        if coord.inside(float(value)):
            evaluate(float(value))


def profile_intervals(result: FitResult, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Profile-likelihood intervals of every free parameter, name -> (low, high).

    See :func:`profile_likelihood`; this is ``result.conf_int(method="profile")``.

    Examples
    --------
    >>> import thetahat
    >>> res = thetahat.fit([2.1, 3.4, 1.9, 5.2, 4.4, 2.8], "normal")
    >>> {k: tuple(round(v, 3) for v in ci) for k, ci in res.conf_int(method="profile").items()}
    {'mu': (2.174, 4.426), 'sigma': (0.738, 2.384)}
    """
    return {name: profile_likelihood(result, name, level).interval for name in free_names(result)}


# -- bootstrap ----------------------------------------------------------------------


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap replicates of a fit's free parameters.

    Attributes
    ----------
    result : FitResult
        The fit that was resampled.
    replicates : dict
        Name -> array (n_ok, *shape) of converged refits.
    n_boot : int
        Replicates requested.
    n_failed : int
        Replicates whose refit did not converge (excluded).
    kind : {"nonparametric", "parametric"}
        How the replicates were drawn.
    """

    result: FitResult
    replicates: dict[str, NDArray[np.float64]]
    n_boot: int
    n_failed: int
    kind: str

    def conf_int(self, level: float = 0.95, kind: str = "percentile") -> dict[str, tuple[Any, Any]]:
        r"""Percentile or BCa intervals, name -> (low, high).

        Parameters
        ----------
        level : float, default=0.95
        kind : {"percentile", "bca"}, default="percentile"
            ``"bca"``: the quantiles :math:`\Phi(z_0 + (z_0 + z_\alpha) / (1 - a(z_0 + z_\alpha)))`
            of the replicates, with bias correction :math:`z_0 =
            \Phi^{-1}(\#\{\theta^* < \hat\theta\}/B)` and acceleration
            :math:`a = \sum U_i^3 / (6 (\sum U_i^2)^{3/2})` from jackknife
            influence values :math:`U_i` (leave-one-out refits, batched; above
            1,000 observations a grouped jackknife over 1,000 groups).
        """
        _check_level(level)
        if kind not in ("percentile", "bca"):
            raise DataError(f"kind must be 'percentile' or 'bca'; got {kind!r}.")
        alpha = np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0])
        accel = _jackknife_acceleration(self.result) if kind == "bca" else {}
        out: dict[str, tuple[Any, Any]] = {}
        for name, reps in self.replicates.items():
            if kind == "percentile":
                ends = np.quantile(reps, alpha, axis=0)
            else:
                ends = _bca_ends(reps, np.asarray(self.result.params[name], float), accel[name], alpha, name)
            out[name] = (_scalar(ends[0]), _scalar(ends[1]))
        return out


def _scalar(value: Any) -> Any:
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def bootstrap(
    result: FitResult,
    n_boot: int = 1000,
    *,
    rng: int | np.random.Generator | None = None,
    bootstrap: str = "nonparametric",
) -> Bootstrap:
    """Refit ``result``'s model to ``n_boot`` resampled data sets (batched).

    Parameters
    ----------
    result : FitResult
        A converged fit (else :class:`~thetahat.FitError`).
    n_boot : int, default=1000
        Number of replicates.
    rng : int or numpy.random.Generator, optional
        Seed: the same seed gives the same replicates, bit for bit.
    bootstrap : {"nonparametric", "parametric"}, default="nonparametric"
        "nonparametric": multinomial resampling counts over the observations,
        used as frequency weights on the same data (with weights ``w``, the
        :math:`N = \\sum w` units are resampled with probabilities ``w/N``).
        "parametric": samples of size :math:`N` from the fitted distribution.

    Returns
    -------
    Bootstrap

    Warns
    -----
    ConvergenceWarning
        When some refits did not converge (they are left out).

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> from thetahat.intervals import bootstrap
    >>> x = np.random.default_rng(0).gamma(2.0, 3.0, size=100)
    >>> boot = bootstrap(thetahat.fit(x, "gamma"), 200, rng=1)
    >>> boot.replicates["shape"].shape, boot.n_failed
    ((200,), 0)
    """
    from thetahat.errors import ConvergenceWarning

    require_converged(result, "a bootstrap")
    if bootstrap not in ("nonparametric", "parametric"):
        raise DataError(f"bootstrap must be 'nonparametric' or 'parametric'; got {bootstrap!r}.")
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 2):
        raise DataError(f"n_boot must be an integer >= 2; got {n_boot!r}.")
    gen = np.random.default_rng(rng)
    x, w = result.data
    size = _resample_size(w)
    if bootstrap == "nonparametric":
        probs, scale = _resample_probs(w, size)
        fits = _batched_refits(
            result, n_boot, x.shape[0], lambda b: {"weights": gen.multinomial(size, probs, size=b) * scale}
        )
    else:
        fits = _batched_refits(result, n_boot, size, lambda b: {"data": result.dist.sample((b, size), gen)})
    ok = fits.converged
    n_failed = int((~ok).sum())
    if n_boot - n_failed < 2:
        raise FitError(
            f"{n_failed} of {n_boot} bootstrap refits of the {result.family.name} fit did not "
            "converge: no bootstrap distribution. Check the fit (diagnostics()) and the data."
        )
    if n_failed:
        warnings.warn(
            f"{n_failed} of {n_boot} bootstrap refits of the {result.family.name} fit did not "
            "converge and are left out; the intervals rest on the others.",
            ConvergenceWarning,
            stacklevel=2,
        )
    replicates = {k: v[ok] for k, v in fits.params.items()}
    return Bootstrap(result, replicates, n_boot, n_failed, bootstrap)


#: ``bootstrap`` under a name that its namesake argument below does not shadow.
_resample = bootstrap


def _resample_size(w: NDArray[np.float64]) -> int:
    if is_unit(w):
        return int(w.shape[0])
    total = float(w.sum())
    if abs(total - round(total)) <= 1e-9 * total:
        return max(round(total), 1)
    return int((w > 0).sum())


def _resample_probs(w: NDArray[np.float64], size: int) -> tuple[NDArray[np.float64], float]:
    """Resampling probabilities and the factor that keeps the total weight of the fit."""
    n = w.shape[0]
    if is_unit(w):
        return np.full(n, 1.0 / n), 1.0
    total = float(w.sum())
    return w / total, total / size


def _batched_refits(
    result: FitResult, n_rows: int, row_len: int, make: Callable[[int], dict[str, Any]]
) -> BatchFit:
    """refit_batch over ``n_rows`` replicates in equal chunks (one compilation for all)."""
    from thetahat.batch import BatchFit, refit_batch

    chunk = int(max(1, min(n_rows, _BATCH_CELLS // max(row_len, 1))))
    parts = []
    done = 0
    while done < n_rows:
        take = min(chunk, n_rows - done)
        inputs = make(take)
        if take < chunk and done > 0:
            # Pad the last chunk to the common shape (repeat its first row) and
            # drop the padding after: a new batch shape would compile again.
            inputs = {k: np.concatenate([v, np.repeat(v[:1], chunk - take, axis=0)]) for k, v in inputs.items()}
        fit = refit_batch(result, **inputs)
        parts.append(BatchFit({k: v[:take] for k, v in fit.params.items()}, fit.loglik[:take], fit.converged[:take]))
        done += take
    if len(parts) == 1:
        return parts[0]
    return BatchFit(
        {k: np.concatenate([p.params[k] for p in parts]) for k in parts[0].params},
        np.concatenate([p.loglik for p in parts]),
        np.concatenate([p.converged for p in parts]),
    )


def _jackknife(result: FitResult) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float64]]:
    """Leave-one-out (or grouped) refits: (name -> (G, *shape) estimates, multiplicity of each)."""
    x, w = result.data
    n = x.shape[0]
    wd = np.ones(n) if is_unit(w) else np.asarray(w, dtype=float)
    rows = np.flatnonzero(wd > 0)
    if rows.shape[0] <= _JACKKNIFE_ROWS:
        groups = [np.array([i]) for i in rows]
    else:
        groups = [rows[g::_JACKKNIFE_ROWS] for g in range(_JACKKNIFE_ROWS)]
    # One unit of frequency weight leaves per row (all of it if below 1): the
    # row's influence then counts with its multiplicity w_i.
    mult = np.array([wd[g].sum() for g in groups])
    made = iter(range(len(groups)))

    def make(b: int) -> dict[str, Any]:
        block = np.tile(wd, (b, 1))
        for r in range(b):
            g = groups[next(made)]
            block[r, g] -= np.minimum(wd[g], 1.0)
        return {"weights": block}

    fits = _batched_refits(result, len(groups), n, make)
    return fits.params, mult


def _jackknife_acceleration(result: FitResult) -> dict[str, NDArray[np.float64]]:
    params, mult = _jackknife(result)
    out = {}
    for name, est in params.items():
        m = mult.reshape((-1,) + (1,) * (est.ndim - 1))
        mean = (m * est).sum(axis=0) / m.sum()
        u = mean - est
        num = (m * u**3).sum(axis=0)
        den = 6.0 * (m * u**2).sum(axis=0) ** 1.5
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(den > 0, num / den, 0.0)
    return out


def _bca_ends(
    reps: NDArray[np.float64], estimate: NDArray[np.float64], accel: NDArray[np.float64],
    alpha: NDArray[np.float64], name: str,
) -> NDArray[np.float64]:
    from scipy.special import ndtr, ndtri

    below = (reps < estimate).mean(axis=0) + 0.5 * (reps == estimate).mean(axis=0)
    if np.any((below <= 0) | (below >= 1)):
        raise FitError(
            f"BCa interval of {name!r}: every bootstrap replicate lies on one side of the "
            "estimate, so the bias correction is infinite. Use kind='percentile'."
        )
    z0 = ndtri(below)
    za = ndtri(alpha).reshape((2,) + (1,) * np.ndim(z0))
    adjusted = ndtr(z0 + (z0 + za) / (1.0 - accel * (z0 + za)))
    flat = reps.reshape(reps.shape[0], -1)
    adj = adjusted.reshape(2, -1)
    ends = np.array([[np.quantile(flat[:, j], adj[i, j]) for j in range(flat.shape[1])] for i in range(2)])
    return ends.reshape((2,) + reps.shape[1:])


def bootstrap_intervals(
    result: FitResult,
    level: float = 0.95,
    *,
    n_boot: int = 1000,
    rng: int | np.random.Generator | None = None,
    kind: str = "percentile",
    bootstrap: str = "nonparametric",
) -> dict[str, tuple[Any, Any]]:
    """Bootstrap intervals, name -> (low, high): ``result.conf_int(method="bootstrap")``.

    See :func:`bootstrap` and :meth:`Bootstrap.conf_int`.

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(0).gamma(2.0, 3.0, size=100)
    >>> ci = thetahat.fit(x, "gamma").conf_int(method="bootstrap", n_boot=200, rng=1, kind="bca")
    >>> sorted(ci)
    ['rate', 'shape']
    """
    _check_level(level)
    boot = _resample(result, n_boot, rng=rng, bootstrap=bootstrap)
    return boot.conf_int(level, kind)


# -- derived quantities -----------------------------------------------------------------


@dataclass(frozen=True)
class DerivedInterval:
    """An estimate of g(theta) with its standard error and confidence interval.

    ``se`` is the delta-method standard error (also reported by the profile
    method, for reference); ``method`` is "delta" or "profile".
    """

    estimate: float
    se: float
    low: float
    high: float
    level: float
    method: str

    @property
    def interval(self) -> tuple[float, float]:
        """``(low, high)``."""
        return self.low, self.high


class _FreeVector:
    """Flat vector of the scalar free parameters <-> the full parameter dict."""

    def __init__(self, result: FitResult) -> None:
        self.result = result
        self.names = free_names(result)
        for name in self.names:
            if np.ndim(result.params[name]) != 0:
                raise DataError(
                    f"derived quantities support scalar parameters only; {name!r} has shape "
                    f"{np.shape(result.params[name])}."
                )
        self.theta = np.array([float(result.params[n]) for n in self.names])

    def params(self, theta: Any) -> dict[str, Any]:
        out = dict(self.result.params)
        out.update({n: theta[i] for i, n in enumerate(self.names)})
        return out


class _Gradient:
    """d g / d theta: compiled autodiff, or central differences where ``func`` is not traceable.

    The first call decides: a function written with ``jax.numpy`` is
    differentiated exactly (compiled once); scipy/numpy code (``float()`` of
    a tracer, a scipy distribution) falls back to differences for good.
    """

    def __init__(
        self,
        func: Callable[[dict[str, Any]], Any],
        params_of: Callable[[Any], dict[str, Any]],
        se: NDArray[np.float64],
    ) -> None:
        self.func, self.params_of, self.se = func, params_of, se
        self.compiled: Callable[..., Any] | None = jit(
            jax.grad(lambda t: jnp.asarray(func(params_of(t)), dtype=jnp.float64))
        )

    def __call__(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.compiled is not None:
            with jax.enable_x64(True):
                try:
                    out = np.asarray(self.compiled(jnp.asarray(theta, dtype=jnp.float64)), dtype=float)
                except Exception:  # noqa: BLE001 - untraceable user code: differentiate numerically
                    self.compiled = None
                else:
                    if np.all(np.isfinite(out)):
                        return out
        return self._differences(theta)

    def _differences(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.empty(theta.shape[0])
        for i in range(out.shape[0]):
            # Step 1e-5 standard errors: truncation error O(h^2) and rounding
            # error O(eps/h) balance near eps^(1/3) on the scale of the parameter.
            se = self.se[i]
            h = 1e-5 * (se if np.isfinite(se) and se > 0 else max(1.0, abs(theta[i])))
            up, down = theta.copy(), theta.copy()
            up[i] += h
            down[i] -= h
            out[i] = (float(self.func(self.params_of(up))) - float(self.func(self.params_of(down)))) / (2 * h)
        return out


def derived_interval(
    result: FitResult,
    func: Callable[[dict[str, Any]], Any],
    level: float = 0.95,
    *,
    method: str = "delta",
) -> DerivedInterval:
    r"""Estimate and confidence interval of a function of the parameters.

    Parameters
    ----------
    result : FitResult
        A converged fit.
    func : callable
        ``func(params) -> float`` of the full parameter dict (fixed ones
        included). Written with ``jax.numpy`` it is differentiated exactly;
        other code (scipy, numpy) by central differences.
    level : float, default=0.95
    method : {"delta", "profile"}, default="delta"
        "delta": :math:`\hat g \pm z\,\sqrt{\nabla g^\top \Sigma \nabla g}`
        with :math:`\Sigma` = ``result.cov``. "profile": the values :math:`c`
        with :math:`2(\hat\ell - \max\{\ell(\theta): g(\theta) = c\}) \le
        \chi^2_1(\text{level})`; each constrained maximum is found by SLSQP
        over the unconstrained coordinates of the free parameters (log,
        logit, identity), warm-started from the previous one, and the ends by
        Brent's method as in :func:`profile_likelihood`.

    Returns
    -------
    DerivedInterval

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> from thetahat.intervals import derived_interval
    >>> x = np.random.default_rng(0).gamma(2.0, 3.0, size=200)
    >>> res = thetahat.fit(x, "gamma")
    >>> mean = lambda p: p["shape"] / p["rate"]
    >>> d = derived_interval(res, mean)
    >>> round(d.estimate, 3) == round(float(x.mean()), 3)
    True
    >>> p = derived_interval(res, mean, method="profile")
    >>> bool(p.low < d.estimate < p.high)
    True
    """
    _check_level(level)
    require_converged(result, "an interval for a derived quantity")
    if method not in ("delta", "profile"):
        raise DataError(f"method must be 'delta' or 'profile'; got {method!r}.")
    vec = _FreeVector(result)
    index = [result.cov_names.index(n) for n in vec.names]
    cov = np.asarray(result.cov)[np.ix_(index, index)]
    se_theta = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    estimate = float(func(vec.params(vec.theta)))
    gradient = _Gradient(func, vec.params, se_theta)
    grad = gradient(vec.theta)
    se = math.sqrt(max(float(grad @ cov @ grad), 0.0))
    if method == "delta":
        q = _NORMAL.inv_cdf(0.5 + level / 2.0)
        return DerivedInterval(estimate, se, estimate - q * se, estimate + q * se, level, "delta")
    low, high = _DerivedProfile(result, vec, func, gradient).interval(estimate, se, level)
    return DerivedInterval(estimate, se, low, high, level, "profile")


@lru_cache(maxsize=64)
def _loglik_value_grad(family: Any) -> Callable[..., Any]:
    def total(params: dict[str, Any], x: Any, w: Any) -> Any:
        terms = family.logpdf(x, **params)
        return jnp.sum(jnp.where(w > 0, w * terms, 0.0))

    return jit(jax.value_and_grad(total))


class _DerivedProfile:
    """max l(theta) subject to g(theta) = c, over u = t(theta) (log/logit/identity coordinates)."""

    def __init__(
        self, result: FitResult, vec: _FreeVector, func: Callable[[dict[str, Any]], Any],
        gradient: _Gradient,
    ) -> None:
        self.result, self.vec, self.func, self.gradient = result, vec, func, gradient
        self.coords = [_Coordinate(*domain(result, n)) for n in vec.names]
        self.scale = max(float(result.nobs), 1.0)
        self.u_hat = np.array([c.forward(v) for c, v in zip(self.coords, vec.theta)])
        self.solutions: dict[float, NDArray[np.float64]] = {}

    def theta(self, u: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """theta(u) and the diagonal Jacobian d theta / d u."""
        theta = np.array([c.inverse(float(t)) for c, t in zip(self.coords, u)])
        jac = np.empty_like(theta)
        for i, c in enumerate(self.coords):
            lo_ok, hi_ok = math.isfinite(c.low), math.isfinite(c.high)
            if lo_ok and hi_ok:
                jac[i] = (theta[i] - c.low) * (c.high - theta[i]) / (c.high - c.low)
            elif lo_ok:
                jac[i] = theta[i] - c.low
            elif hi_ok:
                jac[i] = c.high - theta[i]
            else:
                jac[i] = 1.0
        return theta, jac

    def objective(self, u: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        theta, jac = self.theta(u)
        x, w = self.result.data
        with jax.enable_x64(True):
            params = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in self.vec.params(theta).items()}
            value, grad = _loglik_value_grad(self.result.family)(params, jnp.asarray(x), jnp.asarray(w))
        g = np.array([float(grad[n]) for n in self.vec.names]) * jac
        value = float(value)
        if not math.isfinite(value):
            return 1e300, np.zeros_like(u)
        return -value / self.scale, -g / self.scale

    def loglik_at(self, c: float) -> float:
        """The constrained maximum at g = c (nan when SLSQP cannot satisfy the constraint)."""
        from scipy.optimize import minimize

        if c in self.solutions:
            return -self.objective(self.solutions[c])[0] * self.scale
        nearest = min(self.solutions, key=lambda v: abs(v - c)) if self.solutions else None
        u0 = self.u_hat if nearest is None else self.solutions[nearest]

        def constraint(u: NDArray[np.float64]) -> float:
            return float(self.func(self.vec.params(self.theta(u)[0]))) - c

        def constraint_jac(u: NDArray[np.float64]) -> NDArray[np.float64]:
            theta, jac = self.theta(u)
            return self.gradient(theta) * jac

        with np.errstate(all="ignore"):
            sol = minimize(
                self.objective, u0, jac=True, method="SLSQP",
                constraints=[{"type": "eq", "fun": constraint, "jac": constraint_jac}],
                options={"ftol": 1e-12, "maxiter": 100},
            )
        if not (np.all(np.isfinite(sol.x)) and abs(constraint(sol.x)) <= 1e-7 * (1.0 + abs(c))):
            return math.nan
        value = -self.objective(sol.x)[0] * self.scale
        if math.isfinite(value):
            self.solutions[c] = sol.x
        return value

    def interval(self, estimate: float, se: float, level: float) -> tuple[float, float]:
        from scipy.optimize import brentq

        crit = _chi2_1(level)
        loglik_max = self.result.loglik
        step = _NORMAL.inv_cdf(0.5 + level / 2.0) * se if se > 0 else 0.1 * max(1.0, abs(estimate))

        def excess(c: float) -> float:
            ll = self.loglik_at(c)
            return 2.0 * (loglik_max - ll) - crit if math.isfinite(ll) else math.nan

        ends = []
        for sign in (-1, 1):
            c_in, h, end = estimate, step, math.nan
            for _ in range(60):
                c_out = estimate + sign * h
                f_out = excess(c_out)
                if math.isnan(f_out):
                    c_in, c_out, crossed = _last_evaluable(excess, c_in, c_out)
                    if not crossed:
                        break
                    f_out = excess(c_out)
                if f_out >= 0:
                    # SLSQP's constrained maxima carry ~1e-9 relative noise: ends
                    # to 1e-7 of the delta-method half-width are all it resolves.
                    end = brentq(excess, c_in, c_out, xtol=1e-7 * step, rtol=1e-12)
                    break
                c_in, h = c_out, 2.0 * h
            if math.isnan(end):
                end = sign * math.inf
                warnings.warn(
                    f"the profile likelihood of the derived quantity stays within {crit:.3g} of "
                    f"its maximum as far as it can be evaluated ({c_in:g}): that side of the "
                    f"interval is open (reported as {end}).",
                    BoundaryWarning,
                    stacklevel=3,
                )
            ends.append(end)
        return ends[0], ends[1]
