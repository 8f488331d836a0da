r"""One fused EM pass for Gaussian mixtures, for the four covariance structures.

The E-step needs, for every row :math:`x_n` and component :math:`k`, the
difference :math:`d_{nk} = x_n - \mu_k`. The M-step is written in the same
differences, taken around the *current* means:

.. math::

    \mu_k' = \mu_k + \bar d_k,\qquad
    \Sigma_k' = \frac{1}{N_k}\sum_n r_{nk} d_{nk} d_{nk}^\top - \bar d_k \bar d_k^\top
               + \epsilon I,

with :math:`N_k = \sum_n r_{nk}`, :math:`\bar d_k = \sum_n r_{nk} d_{nk} / N_k`
and :math:`\epsilon` = ``reg_covar``. Near convergence :math:`\bar d_k \to 0`,
so the one-pass formula has no cancellation, and responsibilities are summed
chunk by chunk instead of stored (N x k never materialises for large N).

Covariance parameters are stored as:

* ``"full"``: ``(k, d, d)``; ``"tied"``: ``(d, d)``;
* ``"diag"``: ``(k, d)`` variances; ``"spherical"``: ``(k,)`` variances.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jax.scipy.special import logsumexp

from thetahat._jit import jit
from thetahat.mixture.em import EMRun, run_em

__all__ = ["COV_TYPES", "GaussParams", "log_joint", "em_step", "fit_em", "log_density"]

COV_TYPES = ("full", "tied", "diag", "spherical")
LOG_2PI = 1.8378770664093453


class GaussParams(NamedTuple):
    """Mixture weights ``(k,)``, means ``(k, d)`` and covariances (see module doc)."""

    weights: Any
    means: Any
    cov: Any


def _whitener(cov: Any, cov_type: str, d: int) -> tuple[Any, Any]:
    """(factor, half log-determinant per component) of the covariances."""
    if cov_type in ("full", "tied"):
        chol = jnp.linalg.cholesky(cov)
        eye = jnp.broadcast_to(jnp.eye(d), chol.shape)
        inv_chol = jsl.solve_triangular(chol, eye, lower=True)
        half_logdet = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
        return inv_chol, half_logdet
    if cov_type == "diag":
        return jax.lax.rsqrt(cov), 0.5 * jnp.sum(jnp.log(cov), axis=-1)
    return jax.lax.rsqrt(cov), 0.5 * d * jnp.log(cov)


def _whiten(diff: Any, factor: Any, cov_type: str) -> Any:
    if cov_type == "full":
        return jnp.einsum("kij,nkj->nki", factor, diff)
    if cov_type == "tied":
        return jnp.einsum("ij,nkj->nki", factor, diff)
    if cov_type == "diag":
        return diff * factor[None]
    return diff * factor[None, :, None]


def log_joint(params: GaussParams, x: Any, cov_type: str) -> tuple[Any, Any]:
    """log(pi_k) + log N(x_n | mu_k, Sigma_k) as ``(n, k)``, and the differences."""
    d = x.shape[-1]
    factor, half_logdet = _whitener(params.cov, cov_type, d)
    diff = x[:, None, :] - params.means[None, :, :]
    y = _whiten(diff, factor, cov_type)
    log_pdf = -0.5 * jnp.sum(y * y, axis=-1) - half_logdet - 0.5 * d * LOG_2PI
    return log_pdf + jnp.log(params.weights), diff


def log_density(params: GaussParams, x: Any, cov_type: str) -> tuple[Any, Any]:
    """Per-row log-density of the mixture and the responsibilities."""
    joint, _ = log_joint(params, x, cov_type)
    norm = logsumexp(joint, axis=1)
    return norm, jnp.exp(joint - norm[:, None])


def _chunk_stats(params: GaussParams, xb: Any, wb: Any, cov_type: str) -> tuple[Any, ...]:
    joint, diff = log_joint(params, xb, cov_type)
    norm = logsumexp(joint, axis=1)
    used = wb > 0  # padding rows contribute exactly nothing
    r = jnp.where(used[:, None], jnp.exp(joint - norm[:, None]) * wb[:, None], 0.0)
    loglik = jnp.sum(jnp.where(used, wb * norm, 0.0))
    rd = r[:, :, None] * diff
    if cov_type in ("full", "tied"):
        second = jnp.einsum("nki,nkj->kij", rd, diff)
    else:
        second = jnp.sum(rd * diff, axis=0)
    return loglik, jnp.sum(r, axis=0), jnp.sum(rd, axis=0), second


def _m_step(
    params: GaussParams, n_k: Any, s1: Any, s2: Any, reg: Any, cov_type: str
) -> GaussParams:
    d = params.means.shape[1]
    total = jnp.sum(n_k)
    # A tiny floor keeps an empty component finite (its mean stays put and
    # its covariance becomes reg*I); its weight is exactly 0 and is reported.
    n_safe = n_k + 10 * jnp.finfo(n_k.dtype).eps * total
    delta = s1 / n_safe[:, None]
    means = params.means + delta
    if cov_type == "full":
        cov = s2 / n_safe[:, None, None] - delta[:, :, None] * delta[:, None, :]
        cov = 0.5 * (cov + jnp.swapaxes(cov, 1, 2)) + reg * jnp.eye(d)
    elif cov_type == "tied":
        scatter = s2 - n_safe[:, None, None] * delta[:, :, None] * delta[:, None, :]
        cov = jnp.sum(scatter, axis=0) / total
        cov = 0.5 * (cov + cov.T) + reg * jnp.eye(d)
    else:
        var = s2 / n_safe[:, None] - delta**2
        cov = var + reg if cov_type == "diag" else jnp.mean(var, axis=1) + reg
    return GaussParams(n_k / total, means, cov)


def em_step(
    params: GaussParams, xc: Any, wc: Any, reg: Any, cov_type: str
) -> tuple[GaussParams, Any]:
    """One E+M pass over chunked data ``xc`` ``(chunks, rows, d)``, ``wc`` ``(chunks, rows)``."""
    k, d = params.means.shape
    zero = (
        jnp.asarray(0.0),
        jnp.zeros(k),
        jnp.zeros((k, d)),
        jnp.zeros((k, d, d)) if cov_type in ("full", "tied") else jnp.zeros((k, d)),
    )

    def add(acc: Any, block: Any) -> Any:
        stats = _chunk_stats(params, block[0], block[1], cov_type)
        return tuple(a + s for a, s in zip(acc, stats)), None

    (loglik, n_k, s1, s2), _ = jax.lax.scan(add, zero, (xc, wc))
    return _m_step(params, n_k, s1, s2, reg, cov_type), loglik


def _fit_em(
    params0: GaussParams,
    xc: Any,
    wc: Any,
    reg: Any,
    tol: Any,
    max_iter: Any,
    *,
    cov_type: str,
    trace_len: int,
) -> EMRun:
    """EM to convergence from ``params0`` (compiled once per shape and structure)."""

    def step(params: GaussParams) -> tuple[GaussParams, Any]:
        return em_step(params, xc, wc, reg, cov_type)

    return run_em(step, params0, tol=tol, max_iter=max_iter, n_total=jnp.sum(wc),
                  trace_len=trace_len)


fit_em = jit(_fit_em, static_argnames=("cov_type", "trace_len"))


@partial(jit, static_argnames=("cov_type",))
def score_rows(params: GaussParams, x: Any, *, cov_type: str) -> tuple[Any, Any]:
    """Jitted :func:`log_density` (rows padded by the caller)."""
    return log_density(params, x, cov_type)


@partial(jit, static_argnames=("cov_type", "trace_len"))
def screen_em(
    params0: GaussParams,
    xc: Any,
    wc: Any,
    reg: Any,
    tol: Any,
    max_iter: Any,
    *,
    cov_type: str,
    trace_len: int,
) -> Any:
    """EM from each of a batch of starts (on a subsample): log-likelihoods and ends.

    ``params0`` carries a leading candidate axis. EM runs on a subsample
    rank the starts far better than k-means inertia does (the "short-EM"
    strategy of Biernacki, Celeux & Govaert 2003).
    """

    def one(p0: GaussParams) -> Any:
        run = _fit_em(p0, xc, wc, reg, tol, max_iter, cov_type=cov_type,
                                 trace_len=trace_len)
        return jnp.where(run.finite, run.loglik, -jnp.inf), run.params

    return jax.vmap(one)(params0)
