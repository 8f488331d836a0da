r"""How well a fit generalises: k-fold held-out log-likelihood and an estimated KL divergence.

A maximised log-likelihood is optimistic: the data chose the parameters.
Cross-validation scores each observation by a fit that did not see it. The
observations are split into :math:`K` folds at random; fold :math:`j` is
predicted by the fit to the others, and

.. math:: \bar\ell_\text{cv} = \frac{1}{N} \sum_{j=1}^K \sum_{i \in \text{fold } j}
          w_i \log f(x_i \mid \hat\theta_{-j}).

The :math:`K` fits are one batched refit (:func:`thetahat.batch.refit_batch`):
the held-out fold gets weight 0.

The Kullback-Leibler divergence from the data-generating distribution
:math:`p` to the fit, :math:`\mathrm{KL} = \mathrm{E}_p[\log p] -
\mathrm{E}_p[\log f_{\hat\theta}]`, is estimated as :math:`-\hat H -
\bar\ell_\text{cv}`, with the entropy :math:`\hat H` of the empirical
distribution: for continuous data the spacing estimator of
``scipy.stats.differential_entropy`` (Vasicek 1976 and successors), for
counts the plug-in entropy with the Miller-Madow correction. Both terms are
estimates, so a good fit can give a slightly negative value; its
standard error is reported beside it.

Examples
--------
>>> import numpy as np, thetahat
>>> from thetahat.crossval import crossval
>>> x = np.random.default_rng(0).gamma(2.0, 3.0, size=400)
>>> cv = crossval(thetahat.fit(x, "gamma"), k=10, rng=0)
>>> bool(cv.heldout_loglik < cv.insample_loglik), bool(abs(cv.kl) < 0.05)
(True, True)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from thetahat.data import is_unit
from thetahat.errors import DataError, ThetahatWarning

if TYPE_CHECKING:
    from thetahat.result import FitResult

__all__ = ["CrossValidation", "SmallSampleWarning", "crossval"]

#: Observations per free parameter below which the held-out estimate is warned about.
_MIN_PER_PARAM = 10


class SmallSampleWarning(ThetahatWarning):
    """Too few observations per parameter for the estimate to be reliable."""


@dataclass(frozen=True)
class CrossValidation:
    """Result of :func:`crossval` (log-likelihoods are per observation).

    Attributes
    ----------
    heldout_loglik : float
        Mean log-density of each observation under the fit without its fold.
    heldout_se : float
        Its standard error (from the spread of the per-observation terms).
    insample_loglik : float
        ``result.loglik / nobs``; the gap to ``heldout_loglik`` is the optimism.
    kl : float
        Estimated KL divergence from the data-generating distribution to the fit (nats).
    entropy : float
        The entropy estimate used in ``kl``.
    k : int
        Number of folds.
    pointwise : ndarray
        Held-out log-density of every observation.
    """

    heldout_loglik: float
    heldout_se: float
    insample_loglik: float
    kl: float
    entropy: float
    k: int
    pointwise: NDArray[np.float64]

    @property
    def optimism(self) -> float:
        """In-sample minus held-out log-likelihood per observation."""
        return self.insample_loglik - self.heldout_loglik


def crossval(
    result: FitResult,
    k: int = 10,
    *,
    rng: int | np.random.Generator | None = None,
) -> CrossValidation:
    """K-fold held-out log-likelihood and the estimated KL divergence of a fit.

    Parameters
    ----------
    result : FitResult
        A converged fit of a univariate family (its data and settings are reused).
    k : int, default=10
        Number of folds (at most the number of observations: leave-one-out).
    rng : int or numpy.random.Generator, optional
        Seed of the random split into folds.

    Returns
    -------
    CrossValidation

    Warns
    -----
    SmallSampleWarning
        When there are fewer than 10 observations per free parameter: the
        fits without a fold are then unstable and the estimate noisy.
    """
    from thetahat.intervals import _batched_refits, require_converged

    require_converged(result, "a cross-validation")
    if result.family.data_ndim != 1:
        raise DataError(f"crossval is for univariate families; {result.family.name} is not.")
    x, w = result.data
    wd = np.ones(x.shape[0]) if is_unit(w) else np.asarray(w, dtype=float)
    rows = np.flatnonzero(wd > 0)
    if not (isinstance(k, (int, np.integer)) and 2 <= k):
        raise DataError(f"k must be an integer >= 2; got {k!r}.")
    k = int(min(k, rows.shape[0]))
    if result.nobs < _MIN_PER_PARAM * max(result.n_free, 1):
        warnings.warn(
            f"{result.nobs:g} observations for {result.n_free} free parameters of the "
            f"{result.family.name} fit: held-out log-likelihood and KL estimates are unreliable "
            f"below {_MIN_PER_PARAM} observations per parameter.",
            SmallSampleWarning,
            stacklevel=2,
        )
    folds = np.full(x.shape[0], -1)
    folds[rows] = np.random.default_rng(rng).permutation(rows.shape[0]) % k
    done = 0

    def fold_weights(b: int) -> dict[str, Any]:
        nonlocal done
        block = np.stack([np.where(folds == j, 0.0, wd) for j in range(done, done + b)])
        done += b
        return {"weights": block}

    fits = _batched_refits(result, k, x.shape[0], fold_weights)
    if not fits.converged.all():
        raise DataError(
            f"{int((~fits.converged).sum())} of the {k} fits without a fold did not converge; "
            "use fewer folds or more data."
        )
    pointwise = _heldout_terms(result, x, folds, fits.params, rows)
    total = wd[rows].sum()
    heldout = float(np.sum(wd[rows] * pointwise) / total)
    spread = float(np.sqrt(np.sum(wd[rows] * (pointwise - heldout) ** 2) / total))
    entropy = _entropy(x[rows], wd[rows], result.family.is_discrete)
    return CrossValidation(
        heldout_loglik=heldout,
        heldout_se=spread / math.sqrt(total),
        insample_loglik=result.loglik / result.nobs,
        kl=-entropy - heldout,
        entropy=entropy,
        k=k,
        pointwise=pointwise,
    )


def _heldout_terms(
    result: FitResult, x: NDArray[np.float64], folds: NDArray[np.int64],
    params: dict[str, NDArray[np.float64]], rows: NDArray[np.int64],
) -> NDArray[np.float64]:
    from thetahat.result import FittedDistribution

    out = np.empty(rows.shape[0])
    for j in range(int(folds.max()) + 1):
        members = folds[rows] == j
        values = {**result.params, **{name: v[j] for name, v in params.items()}}
        out[members] = FittedDistribution(result.family, values).logpdf(x[rows][members])
    return out


def _entropy(x: NDArray[np.float64], w: NDArray[np.float64], discrete: bool) -> float:
    if discrete:
        _, inverse = np.unique(x, return_inverse=True)
        counts = np.bincount(inverse, weights=w)
        n = counts.sum()
        p = counts / n
        # Miller-Madow: the plug-in entropy is biased low by (cells - 1) / (2n).
        return float(-np.sum(p * np.log(p)) + (p.shape[0] - 1) / (2.0 * n))
    from scipy.stats import differential_entropy

    counts = np.rint(w)
    sample = x if np.all(w == 1.0) else np.repeat(x, counts.astype(np.int64))
    return float(differential_entropy(np.sort(sample)))
