"""Diagnostic plots with matplotlib (imported only when a plot is drawn).

Every function builds and returns a :class:`matplotlib.figure.Figure` without
touching pyplot's global state, so it works under any backend (and none):
save it with ``fig.savefig(path)`` or show it in a notebook.

* :func:`plot_diagnostics` -- the four-panel check of one fit: density over
  the histogram, CDF over the empirical CDF, Q-Q and P-P plots;
* :func:`plot_fits` -- several fitted families over the same data;
* :func:`plot_profile` -- profile-likelihood curves with their intervals.

Examples
--------
>>> import numpy as np, thetahat
>>> from thetahat.plots import plot_diagnostics
>>> x = np.random.default_rng(0).gamma(2.0, 3.0, size=200)
>>> fig = plot_diagnostics(thetahat.fit(x, "gamma"))
>>> [ax.get_title() for ax in fig.axes]
['Density', 'CDF', 'Q-Q', 'P-P']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thetahat.data import as_float_array, is_unit
from thetahat.errors import DataError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from thetahat.result import FitResult

__all__ = ["plot_diagnostics", "plot_fits", "plot_profile"]


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _sample(result: FitResult, x: ArrayLike | None) -> NDArray[np.float64]:
    if x is not None:
        return np.sort(as_float_array(x, ndim=1))
    if result._context is None:
        raise DataError("pass x: this result holds no fitted data.")
    data, w = result.data
    if result.family.data_ndim != 1:
        raise DataError(f"plots are for univariate families; {result.family.name} is not.")
    if is_unit(w):
        return np.sort(data)
    # Frequency weights: each row counts as often as its (rounded) weight.
    return np.sort(np.repeat(data, np.rint(w).astype(np.int64)))


def _scipy(result: FitResult) -> Any:
    dist = result.family.scipy_dist(**result.params)
    if dist is None:
        raise DataError(f"family {result.family.name!r} has no CDF (no scipy.stats equivalent) to plot.")
    return dist


def _grid(results: Sequence[FitResult], x: NDArray[np.float64]) -> NDArray[np.float64]:
    lo, hi = float(x[0]), float(x[-1])
    pad = 0.05 * (hi - lo if hi > lo else max(1.0, abs(hi)))
    if results[0].family.is_discrete:
        return np.arange(np.floor(lo), np.ceil(hi) + 1.0)
    grid = np.linspace(lo - pad, hi + pad, 400)
    return grid


def _label(result: FitResult) -> str:
    return f"{result.family.name} (AIC {result.aic:.5g})"


def _data_panels(ax_pdf: Any, ax_cdf: Any, x: NDArray[np.float64], discrete: bool, bins: Any) -> None:
    n = x.shape[0]
    if discrete:
        values, counts = np.unique(x, return_counts=True)
        ax_pdf.bar(values, counts / n, width=0.8, color="0.8", label="data")
    else:
        ax_pdf.hist(x, bins=bins, density=True, color="0.8", label="data")
    ax_cdf.step(x, np.arange(1, n + 1) / n, where="post", color="0.3", label="empirical")
    ax_pdf.set_title("Density" if not discrete else "Probability mass")
    ax_cdf.set_title("CDF")
    ax_pdf.set_xlabel("x")
    ax_cdf.set_xlabel("x")


def _fit_curves(ax_pdf: Any, ax_cdf: Any, result: FitResult, grid: NDArray[np.float64], **style: Any) -> None:
    dist = result.dist
    dens = dist.pdf(grid)
    if result.family.is_discrete:
        ax_pdf.plot(grid, dens, "o-", ms=3, **style)
        ax_cdf.step(grid, _scipy(result).cdf(grid), where="post", **style)
    else:
        ax_pdf.plot(grid, dens, **style)
        ax_cdf.plot(grid, _scipy(result).cdf(grid), **style)


def plot_diagnostics(result: FitResult, x: ArrayLike | None = None, *, bins: Any = "auto") -> Figure:
    """The four-panel diagnostic of one fit.

    Parameters
    ----------
    result : FitResult
        A fit of a univariate family with a CDF.
    x : array_like, optional
        Data to show (default: the fitted data).
    bins : int or str, default="auto"
        Histogram bins (``numpy.histogram_bin_edges`` rules).

    Returns
    -------
    matplotlib.figure.Figure
        Density (or mass) over the histogram, fitted CDF over the empirical
        CDF, Q-Q plot (sorted data against the fitted quantiles at
        :math:`(i - 1/2)/n`) and P-P plot (fitted CDF at the sorted data
        against :math:`(i - 1/2)/n`).
    """
    xs = _sample(result, x)
    n = xs.shape[0]
    dist = _scipy(result)
    fig = _figure(9.0, 7.0)
    axes = fig.subplots(2, 2)
    (ax_pdf, ax_cdf), (ax_qq, ax_pp) = axes
    _data_panels(ax_pdf, ax_cdf, xs, result.family.is_discrete, bins)
    _fit_curves(ax_pdf, ax_cdf, result, _grid([result], xs), color="C0", label=result.family.name)
    ax_pdf.legend()
    positions = (np.arange(1, n + 1) - 0.5) / n
    theoretical = dist.ppf(positions)
    ax_qq.plot(theoretical, xs, ".", color="C0", ms=3)
    ends = [min(theoretical[0], xs[0]), max(theoretical[-1], xs[-1])]
    ax_qq.plot(ends, ends, color="0.5", lw=1)
    ax_qq.set(title="Q-Q", xlabel="fitted quantiles", ylabel="sample quantiles")
    ax_pp.plot(positions, dist.cdf(xs), ".", color="C0", ms=3)
    ax_pp.plot([0, 1], [0, 1], color="0.5", lw=1)
    ax_pp.set(title="P-P", xlabel="empirical probabilities", ylabel="fitted probabilities")
    fig.suptitle(f"{result.family.name} fit to {n} observations")
    return fig


def plot_fits(results: Sequence[FitResult], x: ArrayLike | None = None, *, bins: Any = "auto") -> Figure:
    """Several fitted families over the same data: densities and CDFs.

    Parameters
    ----------
    results : sequence of FitResult
        Fits to the same data (e.g. ``thetahat.compare(x).fits.values()``).
    x : array_like, optional
        Data to show (default: the first result's data).
    bins : int or str, default="auto"

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> from thetahat.plots import plot_fits
    >>> x = np.random.default_rng(0).gamma(2.0, 3.0, size=200)
    >>> fig = plot_fits([thetahat.fit(x, f) for f in ("gamma", "lognormal")])
    >>> len(fig.axes[0].get_lines())
    2
    """
    results = list(results)
    if not results:
        raise DataError("plot_fits needs at least one fit.")
    xs = _sample(results[0], x)
    fig = _figure(10.0, 4.0)
    ax_pdf, ax_cdf = fig.subplots(1, 2)
    _data_panels(ax_pdf, ax_cdf, xs, results[0].family.is_discrete, bins)
    grid = _grid(results, xs)
    for i, res in enumerate(results):
        _fit_curves(ax_pdf, ax_cdf, res, grid, color=f"C{i % 10}", label=_label(res))
    ax_pdf.legend(fontsize="small")
    fig.suptitle(f"{len(results)} fitted families, {xs.shape[0]} observations")
    return fig


def plot_profile(
    result: FitResult, names: Sequence[str] | None = None, *, level: float = 0.95, grid: int = 31
) -> Figure:
    """Profile-likelihood curves of free parameters with their intervals.

    Each panel shows the deviance :math:`2(\\hat\\ell - \\ell_p(\\psi))`
    (solid), its quadratic (Wald) approximation (dashed), the
    :math:`\\chi^2_1` threshold of ``level`` and the interval ends.

    Parameters
    ----------
    result : FitResult
        A converged maximum-likelihood fit.
    names : sequence of str, optional
        Parameters to profile (default: every free scalar parameter).
    level : float, default=0.95
    grid : int, default=31
        Profile points evaluated across each interval.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> from thetahat.plots import plot_profile
    >>> x = np.random.default_rng(0).gamma(2.0, 3.0, size=50)
    >>> fig = plot_profile(thetahat.fit(x, "gamma"), ["shape"], grid=11)
    >>> fig.axes[0].get_xlabel()
    'shape'
    """
    from thetahat.intervals import free_names, profile_likelihood

    chosen = list(names) if names is not None else [
        n for n in free_names(result) if np.ndim(result.params[n]) == 0
    ]
    fig = _figure(4.0 * len(chosen), 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(chosen)))
    for ax, name in zip(axes, chosen):
        prof = profile_likelihood(result, name, level, grid=grid)
        ax.plot(prof.values, prof.deviance, color="C0", label="profile")
        se = result.se.get(name, np.nan)
        if np.isfinite(se) and se > 0:
            ax.plot(prof.values, ((prof.values - prof.estimate) / se) ** 2, "--", color="C1", label="Wald")
        ax.axhline(prof.threshold, color="0.5", lw=1)
        for end, is_open in ((prof.low, prof.is_low_open), (prof.high, prof.is_high_open)):
            if not is_open and np.isfinite(end):
                ax.axvline(end, color="C0", lw=1, ls=":")
        ax.set_ylim(0.0, 2.0 * prof.threshold)
        ax.set(xlabel=name, ylabel="deviance", title=f"{level:.0%} profile interval")
        ax.legend(fontsize="small")
    fig.suptitle(f"{result.family.name}: profile likelihood")
    return fig
