r"""Goodness of fit: EDF statistics with bootstrap p-values, and the chi-square test.

For a continuous family with fitted CDF :math:`F` and the sorted sample
:math:`x_{(1)} \le \dots \le x_{(n)}`, :math:`u_i = F(x_{(i)})`:

.. math::

    D &= \max_i \max\Bigl(\tfrac{i}{n} - u_i,\; u_i - \tfrac{i-1}{n}\Bigr)
    \quad\text{(Kolmogorov--Smirnov)} \\
    W^2 &= \frac{1}{12n} + \sum_i \Bigl(u_i - \frac{2i-1}{2n}\Bigr)^2
    \quad\text{(Cram\'er--von Mises)} \\
    A^2 &= -n - \frac{1}{n}\sum_i (2i-1)\bigl(\log u_i + \log(1 - u_{n+1-i})\bigr)
    \quad\text{(Anderson--Darling)}

(the definitions of ``scipy.stats.kstest``, ``cramervonmises`` and
``anderson``; :math:`\log(1-u)` is taken from the survival function so that
the tails keep their digits). The textbook p-values of these statistics
assume a CDF known in advance; with estimated parameters they are far too
large. Here the null distribution is simulated by the parametric bootstrap
of Stute, Gonzalez Manteiga and Presedo Quindimil (1993): samples of the
fitted distribution, each *refitted* (one batched solve through
:func:`thetahat.batch.refit_batch`) and scored against its own fit, so
:math:`p = (1 + \#\{T^*_b \ge T\}) / (1 + B)`.

Discrete families get Pearson's chi-square test: counts of each value,
adjacent cells pooled until every expected count is at least 5, the upper
cell taking the whole tail, and
:math:`\mathrm{df} = \text{cells} - 1 - k` for :math:`k` estimated parameters.

Examples
--------
>>> import numpy as np, thetahat
>>> x = np.random.default_rng(0).gamma(2.0, 3.0, size=200)
>>> out = thetahat.gof(thetahat.fit(x, "gamma"), n_boot=200, rng=1)
>>> sorted(out), bool(out["ks"]["pvalue"] > 0.05)
(['ad', 'cvm', 'ks'], True)
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thetahat.data import as_float_array, is_unit
from thetahat.errors import BoundaryWarning, DataError

if TYPE_CHECKING:
    from thetahat.result import FitResult

__all__ = ["chi2_test", "edf_statistics", "gof"]

#: Smallest expected count of a chi-square cell.
_MIN_EXPECTED = 5.0


def _observations(result: FitResult, x: ArrayLike | None) -> tuple[NDArray[np.float64], bool]:
    """The sample to test (frequency weights expanded) and whether it is the fitted one."""
    if x is not None:
        arr = as_float_array(x, ndim=1)
        fitted, _ = result.data
        same = arr.shape == fitted.shape and bool(np.array_equal(arr, fitted))
        if not same:
            return arr, False
    if result._context is None:
        raise DataError("pass x: this result holds no fitted data.")
    data, w = result.data
    if result.family.data_ndim != 1:
        raise DataError(f"goodness-of-fit tests are for univariate families; {result.family.name} is not.")
    if is_unit(w):
        return data, True
    counts = np.rint(w)
    if not np.allclose(w, counts, rtol=0, atol=1e-9):
        raise DataError(
            "goodness-of-fit statistics need unweighted data or integer frequency weights; "
            f"the fit has non-integer weights (the first is {w[~np.isclose(w, counts)][0]!r})."
        )
    return np.repeat(data, counts.astype(np.int64)), True


def _frozen(family: Any, params: dict[str, Any]) -> Any:
    dist = family.scipy_dist(**params)
    if dist is None:
        raise DataError(
            f"family {family.name!r} has no CDF (no scipy.stats equivalent); "
            "goodness-of-fit statistics need one."
        )
    return dist


def edf_statistics(
    x_sorted: NDArray[np.float64], logcdf: NDArray[np.float64], logsf: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    """KS, CvM and AD statistics from the log-CDF and log-survival at sorted samples.

    The last axis runs over the observations; leading axes are a batch.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from thetahat.gof import edf_statistics
    >>> x = np.sort(np.random.default_rng(0).normal(size=50))
    >>> out = edf_statistics(x, stats.norm.logcdf(x), stats.norm.logsf(x))
    >>> bool(np.isclose(out["ks"], stats.kstest(x, "norm").statistic, rtol=1e-14))
    True
    """
    n = logcdf.shape[-1]
    u = np.exp(logcdf)
    i = np.arange(1, n + 1)
    d_plus = np.max(i / n - u, axis=-1)
    d_minus = np.max(u - (i - 1) / n, axis=-1)
    cvm = 1.0 / (12 * n) + np.sum((u - (2 * i - 1) / (2.0 * n)) ** 2, axis=-1)
    ad = -n - np.sum((2 * i - 1.0) / n * (logcdf + logsf[..., ::-1]), axis=-1)
    return {"ks": np.maximum(d_plus, d_minus), "cvm": cvm, "ad": ad}


def _statistics_at(result: FitResult, x_sorted: NDArray[np.float64]) -> dict[str, float]:
    dist = _frozen(result.family, result.params)
    with np.errstate(divide="ignore"):
        stats = edf_statistics(x_sorted, dist.logcdf(x_sorted), dist.logsf(x_sorted))
    return {k: float(v) for k, v in stats.items()}


def _batch_statistics(
    result: FitResult, samples: NDArray[np.float64], params: dict[str, NDArray[np.float64]]
) -> dict[str, NDArray[np.float64]]:
    """Statistics of each row of ``samples`` (sorted) against its own parameters."""
    fam = result.family
    fixed = {k: v for k, v in result.params.items() if k not in params}
    columns = {k: np.asarray(v)[:, None] for k, v in params.items()}
    with np.errstate(divide="ignore"):
        try:
            dist = _frozen(fam, {**fixed, **columns})
            logcdf, logsf = dist.logcdf(samples), dist.logsf(samples)
        except (TypeError, ValueError):
            # A scipy_dist hook written for scalars (math.exp): one row at a time.
            rows = [_frozen(fam, {**fixed, **{k: float(v[b, 0]) for k, v in columns.items()}})
                    for b in range(samples.shape[0])]
            logcdf = np.stack([d.logcdf(s) for d, s in zip(rows, samples)])
            logsf = np.stack([d.logsf(s) for d, s in zip(rows, samples)])
    return edf_statistics(samples, logcdf, logsf)


def gof(
    result: FitResult,
    x: ArrayLike | None = None,
    *,
    n_boot: int = 1000,
    rng: int | np.random.Generator | None = None,
) -> dict[str, dict[str, float]]:
    """Goodness-of-fit statistics and p-values of a fitted distribution.

    Parameters
    ----------
    result : FitResult
        A converged fit of a univariate family.
    x : array_like, optional
        The sample to test; by default the fitted data. For other data the
        parameters count as known: the p-values then come from samples of the
        fitted distribution without refitting (and the chi-square df is not
        reduced).
    n_boot : int, default=1000
        Bootstrap samples for the p-values of continuous families; 0 skips
        them (``pvalue`` is then nan).
    rng : int or numpy.random.Generator, optional
        Seed of the bootstrap.

    Returns
    -------
    dict
        Continuous families: ``{"ks": {"statistic", "pvalue"}, "cvm": ..., "ad": ...}``;
        discrete families: ``{"chi2": {"statistic", "pvalue", "df", "cells"}}``
        (see :func:`chi2_test`).

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(3).lognormal(0.0, 0.5, size=100)
    >>> out = thetahat.gof(thetahat.fit(x, "weibull"), n_boot=200, rng=0)
    >>> round(out["ad"]["statistic"], 3), bool(out["ad"]["pvalue"] < 0.05)
    (1.514, True)
    """
    from thetahat.intervals import require_converged

    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 0):
        raise DataError(f"n_boot must be a non-negative integer; got {n_boot!r}.")
    require_converged(result, "goodness-of-fit p-values", needs_data=x is None)
    sample, fitted = _observations(result, x)
    if result.family.is_discrete:
        return {"chi2": chi2_test(result, sample, n_estimated=result.n_free if fitted else 0)}
    sample = np.sort(sample)
    observed = _statistics_at(result, sample)
    if n_boot == 0:
        return {k: {"statistic": v, "pvalue": float("nan")} for k, v in observed.items()}
    null = _null_statistics(result, sample.shape[0], n_boot, rng, refit=fitted)
    out = {
        k: {"statistic": v, "pvalue": float((1 + np.sum(null[k] >= v)) / (1 + null[k].shape[0]))}
        for k, v in observed.items()
    }
    undefined = [k for k, v in observed.items() if not np.isfinite(v)]
    if undefined:
        # Anderson-Darling weighs by 1 / (F (1 - F)): infinite when the fitted
        # support ends at an observation (uniform ends, Pareto scale), for
        # the data and every bootstrap sample alike -- no p-value, not p = 1.
        for k in undefined:
            out[k]["pvalue"] = float("nan")
        warnings.warn(
            f"{result.family.name} fit: the {undefined} statistic is infinite (the fitted "
            "support ends at an observation), so it has no p-value; use the others.",
            BoundaryWarning,
            stacklevel=2,
        )
    return out


def _null_statistics(
    result: FitResult, n: int, n_boot: int, rng: Any, *, refit: bool
) -> dict[str, NDArray[np.float64]]:
    from thetahat.intervals import _batched_refits

    gen = np.random.default_rng(rng)
    samples = np.sort(result.dist.sample((n_boot, n), gen), axis=1)
    if not refit:
        params = {k: np.full(n_boot, float(v)) for k, v in result.params.items() if k not in result.fixed}
        return _batch_statistics(result, samples, params)
    done = 0

    def next_rows(b: int) -> dict[str, Any]:
        nonlocal done
        done += b
        return {"data": samples[done - b : done]}

    fits = _batched_refits(result, n_boot, n, next_rows)
    ok = fits.converged
    return _batch_statistics(result, samples[ok], {k: v[ok] for k, v in fits.params.items()})


def chi2_test(result: FitResult, x: ArrayLike, *, n_estimated: int | None = None) -> dict[str, Any]:
    """Pearson's chi-square test of a discrete fit, with cells pooled to expected counts >= 5.

    Parameters
    ----------
    result : FitResult
        A fit of a discrete family.
    x : array_like
        Integer observations.
    n_estimated : int, optional
        Parameters estimated from ``x`` (default: ``result.n_free``); the
        degrees of freedom are cells - 1 - n_estimated.

    Returns
    -------
    dict
        ``statistic``, ``pvalue`` (nan when df < 1), ``df`` and ``cells``: a
        list of ``(first value, last value, observed, expected)``; the last
        cell's upper end is the top of the support.

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> from thetahat.gof import chi2_test
    >>> x = np.random.default_rng(0).poisson(4.0, size=300)
    >>> out = chi2_test(thetahat.fit(x, "poisson"), x)
    >>> out["df"], bool(out["pvalue"] > 0.05)
    (8, True)
    """
    from scipy import stats

    fam = result.family
    if not fam.is_discrete:
        raise DataError(f"the chi-square test here is for discrete families; {fam.name} is continuous.")
    obs = as_float_array(x, ndim=1)
    k_est = result.n_free if n_estimated is None else int(n_estimated)
    low, high = fam.support.bounds({k: float(v) for k, v in result.params.items() if np.ndim(v) == 0})
    low = max(low, float(obs.min())) if not np.isfinite(low) else low
    top = int(obs.max())
    values = np.arange(int(low), top + 1)
    probs = result.dist.pdf(values.astype(float))
    probs = np.where(np.isfinite(probs), probs, 0.0)
    tail = max(0.0, 1.0 - float(probs[:-1].sum()))  # the last cell takes P(X >= top)
    probs[-1] = tail
    counts = np.bincount((obs - int(low)).astype(np.int64), minlength=values.shape[0]).astype(float)
    n = float(obs.shape[0])
    cells = _pool(values, counts, probs * n, high)
    observed = np.array([c[2] for c in cells])
    expected = np.array([c[3] for c in cells])
    statistic = float(np.sum((observed - expected) ** 2 / expected)) if expected.all() else float("inf")
    df = len(cells) - 1 - k_est
    pvalue = float(stats.chi2.sf(statistic, df)) if df >= 1 else float("nan")
    return {"statistic": statistic, "pvalue": pvalue, "df": df, "cells": cells}


def _pool(
    values: NDArray[np.int64], counts: NDArray[np.float64], expected: NDArray[np.float64], high: float
) -> list[tuple[float, float, float, float]]:
    """Merge adjacent cells left to right until each expects >= 5; a short last cell joins the one before."""
    cells: list[list[float]] = []
    current: list[float] | None = None
    for v, o, e in zip(values, counts, expected):
        if current is None:
            current = [float(v), float(v), 0.0, 0.0]
        current[1], current[2], current[3] = float(v), current[2] + float(o), current[3] + float(e)
        if current[3] >= _MIN_EXPECTED:
            cells.append(current)
            current = None
    if current is not None:
        if cells:
            last = cells[-1]
            last[1], last[2], last[3] = current[1], last[2] + current[2], last[3] + current[3]
        else:
            cells.append(current)
    cells[-1][1] = float(high)
    return [(c[0], c[1], c[2], c[3]) for c in cells]
