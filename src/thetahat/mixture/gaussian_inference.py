r"""Standard errors of Gaussian-mixture parameters from the observed information.

The marginal log-likelihood :math:`\sum_n w_n \log \sum_k \pi_k
\mathcal N(x_n \mid \mu_k, \Sigma_k)` is differentiated twice by JAX in the
natural parameters: :math:`\pi_1..\pi_{K-1}`, the means, and the distinct
covariance entries (lower triangle for full/tied, variances for
diag/spherical). The covariance of the estimates is the inverse of minus that
Hessian; :math:`\pi_K = 1 - \sum_{k<K} \pi_k` gets its SE by the delta method.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from thetahat._jit import jit
from thetahat.mixture.gaussian_em import GaussParams, log_joint

__all__ = ["flatten", "parameter_names", "hessian"]


def _tril(d: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(d)


def parameter_names(k: int, d: int, cov_type: str) -> list[str]:
    """Labels of the flat natural parameters, in order."""
    names = [f"weight[{j}]" for j in range(k - 1)]
    names += [f"mean[{j}][{i}]" for j in range(k) for i in range(d)]
    rows, cols = _tril(d)
    if cov_type == "full":
        names += [f"cov[{j}][{r},{c}]" for j in range(k) for r, c in zip(rows, cols)]
    elif cov_type == "tied":
        names += [f"cov[{r},{c}]" for r, c in zip(rows, cols)]
    elif cov_type == "diag":
        names += [f"var[{j}][{i}]" for j in range(k) for i in range(d)]
    else:
        names += [f"var[{j}]" for j in range(k)]
    return names


def flatten(params: GaussParams, cov_type: str) -> np.ndarray:
    """(pi_1..pi_{K-1}, means, distinct covariance entries) as one vector."""
    k, d = params.means.shape
    rows, cols = _tril(d)
    cov = np.asarray(params.cov)
    if cov_type == "full":
        entries = cov[:, rows, cols].ravel()
    elif cov_type == "tied":
        entries = cov[rows, cols]
    else:
        entries = cov.ravel()
    return np.concatenate([np.asarray(params.weights)[: k - 1], np.ravel(params.means), entries])


def _unflatten(flat: Any, k: int, d: int, cov_type: str) -> GaussParams:
    weights = jnp.concatenate([flat[: k - 1], 1.0 - jnp.sum(flat[: k - 1], keepdims=True)])
    start = k - 1
    means = flat[start : start + k * d].reshape(k, d)
    start += k * d
    rows, cols = _tril(d)
    if cov_type in ("full", "tied"):
        m = len(rows)
        blocks = flat[start:].reshape(-1, m)
        lower = jnp.zeros((blocks.shape[0], d, d)).at[:, rows, cols].set(blocks)
        cov = lower + jnp.swapaxes(lower, 1, 2) - jnp.eye(d) * lower
        cov = cov if cov_type == "full" else cov[0]
    elif cov_type == "diag":
        cov = flat[start:].reshape(k, d)
    else:
        cov = flat[start:]
    return GaussParams(weights, means, cov)


@partial(jit, static_argnames=("k", "d", "cov_type"))
def hessian(flat: Any, x: Any, w: Any, *, k: int, d: int, cov_type: str) -> Any:
    """Hessian of the weighted marginal log-likelihood in the flat parameters."""

    def loglik(f: Any) -> Any:
        joint, _ = log_joint(_unflatten(f, k, d, cov_type), x, cov_type)
        return jnp.sum(jnp.where(w > 0, w * logsumexp(joint, axis=1), 0.0))

    return jax.hessian(loglik)(flat)
