"""Multivariate families: observations are the rows of an (n_samples, n_features) array."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve, solve_triangular

from thetahat.constraints import positive_definite, real
from thetahat.errors import DataError
from thetahat.families import register
from thetahat.families.base import Family, Param

__all__ = ["MultivariateNormal"]

#: A scatter matrix whose correlation matrix has an eigenvalue below this
#: (relative to the largest) is treated as singular: the covariance MLE would
#: have a condition number beyond what float64 can resolve.
_SINGULAR_RTOL = 1e-12


def _mean_scatter(x: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(sum of weights, weighted mean, scatter sum w (x - mean)(x - mean)') in two passes.

    The second pass re-centres and subtracts the rounding residual (the
    corrected two-pass algorithm, column by column), as for the normal.
    """
    keep = w > 0
    x, w = x[keep], w[keep]
    total = float(w.sum())
    with np.errstate(over="ignore", invalid="ignore"):  # _check_scatter reports overflow
        mean = (w @ x) / total
        dev = x - mean
        wdev = w[:, None] * dev
        resid = wdev.sum(axis=0)
        scatter = dev.T @ wdev - np.outer(resid, resid) / total
        return total, mean + resid / total, 0.5 * (scatter + scatter.T)


def _check_scatter(scatter: np.ndarray, mean: np.ndarray, total: float) -> None:
    """DataError naming the column(s) when the scatter matrix is (numerically) singular."""
    d = scatter.shape[0]
    if not (np.all(np.isfinite(scatter)) and np.all(np.isfinite(mean))):
        raise DataError(
            "the mean or covariance of x overflows float64 (the data are too large in "
            "magnitude for a representable covariance). Rescale the columns first."
        )
    diag = np.diag(scatter)
    # A constant column leaves only rounding of its mean: |x - mean| ~ eps |mean|.
    tiny = total * (8 * np.finfo(float).eps * np.maximum(np.abs(mean), np.finfo(float).tiny)) ** 2
    constant = np.flatnonzero(diag <= tiny)
    if constant.size:
        j = int(constant[0])
        raise DataError(
            f"x column {j} is constant (every observation with positive weight equals "
            f"{mean[j]!r}), so the covariance MLE of the multivariate_normal family is "
            f"singular ({constant.size} constant column(s) of {d}). Drop the column or add "
            "data with spread in it."
        )
    scale = 1.0 / np.sqrt(diag)
    lam, vec = np.linalg.eigh(scatter * scale[:, None] * scale[None, :])
    if lam[0] <= _SINGULAR_RTOL * lam[-1]:
        involved = np.flatnonzero(np.abs(vec[:, 0]) > 0.1 * np.abs(vec[:, 0]).max()).tolist()
        raise DataError(
            f"the scatter matrix of x is singular: columns {involved} are linearly "
            f"dependent over the observations (e.g. fewer than d + 1 = {d + 1} distinct "
            "points in general position), so the covariance MLE of the multivariate_normal "
            "family does not exist. Drop a redundant column or add data."
        )


class MultivariateNormal(Family):
    r"""Multivariate normal distribution of the rows of ``x`` (n_samples, n_features).

    Notes
    -----
    .. math::
        \log p(x \mid \mu, \Sigma) = -\tfrac{d}{2}\log(2\pi) - \tfrac12\log\det\Sigma
        - \tfrac12 (x-\mu)^\top \Sigma^{-1} (x-\mu)

    evaluated through the Cholesky factor :math:`\Sigma = LL^\top`
    (:math:`\log\det\Sigma = 2\sum_j \log L_{jj}`, a triangular solve for the
    quadratic form; no explicit inverse). The MLE is closed form: the weighted
    mean and the 1/N weighted scatter matrix, computed in two passes. The
    scatter must be non-singular (no constant column, at least d + 1 points in
    general position), otherwise a :class:`~thetahat.DataError` names the column(s).

    Examples
    --------
    >>> import thetahat
    >>> x = [[0.0, 1.0], [2.0, 1.0], [1.0, 3.0], [1.0, -1.0]] * 2
    >>> res = thetahat.fit(x, "multivariate_normal")
    >>> res.params["mean"].tolist(), res.params["cov"].round(12).tolist()
    ([1.0, 1.0], [[0.5, 0.0], [0.0, 2.0]])
    """

    name = "multivariate_normal"
    params = (
        Param("mean", real, "location", doc="mean vector"),
        Param("cov", positive_definite, doc="covariance matrix (1/N MLE)"),
    )
    data_ndim = 2
    example_params = {
        "mean": [1.0, -2.0, 0.5],
        "cov": [[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]],
    }

    def param_shapes(self, x: np.ndarray) -> dict[str, tuple[int, ...]]:
        d = x.shape[1]
        return {"mean": (d,), "cov": (d, d)}

    def logpdf(self, x: Any, mean: Any, cov: Any) -> Any:
        lower = jnp.linalg.cholesky(cov)
        z = solve_triangular(lower, (x - mean).T, lower=True)
        d = cov.shape[-1]
        log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(lower)))
        return -0.5 * (jnp.sum(z * z, axis=0) + log_det + d * jnp.log(2 * jnp.pi))

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[Any, ...]:
        return _mean_scatter(x, w)

    def mle_from_stats(self, stats: tuple[Any, ...], fixed: dict[str, Any]) -> dict[str, Any]:
        total, xbar, scatter = stats
        mean = np.asarray(fixed.get("mean", xbar), dtype=float)
        if "cov" in fixed:
            return {} if "mean" in fixed else {"mean": xbar}
        # About a fixed mean mu the scatter gains N (xbar - mu)(xbar - mu)'.
        delta = xbar - mean
        scatter_mu = scatter + total * np.outer(delta, delta)
        _check_scatter(scatter_mu, mean, total)
        cov = scatter_mu / total
        return {"cov": cov} if "mean" in fixed else {"mean": xbar, "cov": cov}

    def loglik_from_stats(self, stats: Any, mean: Any, cov: Any) -> Any:
        total, xbar, scatter = stats
        delta = xbar - mean
        lower = jnp.linalg.cholesky(cov)
        d = cov.shape[-1]
        log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(lower)))
        # tr(Sigma^-1 S) for the scatter about mean, S = M + N delta delta'.
        trace = jnp.trace(cho_solve((lower, True), scatter)) + total * jnp.dot(
            delta, cho_solve((lower, True), delta)
        )
        return -0.5 * total * (d * jnp.log(2 * jnp.pi) + log_det) - 0.5 * trace

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        stats = _mean_scatter(x, w)
        start = {"mean": stats[1], "cov": np.asarray(fixed.get("cov", np.eye(x.shape[1])))}
        start.update(self.mle_from_stats(stats, fixed))
        return start

    def scipy_dist(self, mean: Any, cov: Any) -> Any:
        from scipy import stats

        return stats.multivariate_normal(np.asarray(mean, float), np.asarray(cov, float))


register(MultivariateNormal())
