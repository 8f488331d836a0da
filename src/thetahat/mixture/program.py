r"""The compiled EM programs of a mixture of families (cached per component set).

State: ``(weights (k,), (z_1, ..., z_k))`` with ``z_j`` the unconstrained
free parameters of component j. One step is

.. math::

    r_{nj} \propto \pi_j\, p_j(x_n \mid \theta_j),\qquad
    \pi_j' = \frac{\sum_n w_n r_{nj}}{\sum_n w_n},\qquad
    \theta_j' = \arg\max_\theta \sum_n w_n r_{nj} \log p_j(x_n \mid \theta),

the last by each component's own M-step (:mod:`thetahat.mixture.components`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from thetahat._jit import jit
from thetahat.mixture.components import Component
from thetahat.mixture.em import run_em

__all__ = ["Programs", "programs", "log_joint", "marginal_loglik"]


def log_joint(components: tuple[Component, ...], state: Any, x: Any) -> Any:
    """log(pi_j) + log p_j(x_n) as ``(n, k)``; NaN (off every support) -> -inf."""
    weights, zs = state
    logs = jnp.stack([c.logpdf(x, z) for c, z in zip(components, zs)], axis=1)
    logs = logs + jnp.log(weights)
    return jnp.where(jnp.isnan(logs), -jnp.inf, logs)


def _step(components: tuple[Component, ...], state: Any, x: Any, w: Any) -> tuple[Any, Any]:
    weights, zs = state
    joint = log_joint(components, state, x)
    norm = logsumexp(joint, axis=1)
    used = w > 0
    r = jnp.where(used[:, None], jnp.exp(joint - norm[:, None]) * w[:, None], 0.0)
    loglik = jnp.sum(jnp.where(used, w * norm, 0.0))
    n_k = jnp.sum(r, axis=0)
    new_zs = tuple(c.m_step(z, x, r[:, j]) for j, (c, z) in enumerate(zip(components, zs)))
    return (n_k / jnp.sum(n_k), new_zs), loglik


class Programs(NamedTuple):
    """Jitted functions for one tuple of components."""

    fit: Callable[..., Any]
    rows: Callable[..., Any]
    hessian: Callable[..., Any]


def marginal_loglik(components: tuple[Component, ...], flat: Any, x: Any, w: Any) -> Any:
    """Log-likelihood in the natural parameters ``(pi_1..pi_{k-1}, free params...)``."""
    k = len(components)
    pis = jnp.concatenate([flat[: k - 1], 1.0 - jnp.sum(flat[: k - 1], keepdims=True)])
    logs, start = [], k - 1
    for c in components:
        params = {**c.fixed, **{n: flat[start + i] for i, n in enumerate(c.free)}}
        logs.append(c.family.logpdf(x, **params))
        start += len(c.free)
    joint = jnp.stack(logs, axis=1) + jnp.log(pis)
    return jnp.sum(jnp.where(w > 0, w * logsumexp(joint, axis=1), 0.0))


@lru_cache(maxsize=64)
def programs(components: tuple[Component, ...], trace_len: int) -> Programs:
    """Compile (lazily, once per component set and trace length) the EM programs."""

    def fit(state0: Any, x: Any, w: Any, tol: Any, max_iter: Any) -> Any:
        return run_em(
            lambda s: _step(components, s, x, w), state0, tol=tol, max_iter=max_iter,
            n_total=jnp.sum(w), trace_len=trace_len,
        )

    def rows(state: Any, x: Any) -> tuple[Any, Any]:
        joint = log_joint(components, state, x)
        norm = logsumexp(joint, axis=1)
        return norm, jnp.exp(joint - norm[:, None])

    def hessian(flat: Any, x: Any, w: Any) -> Any:
        return jax.hessian(lambda f: marginal_loglik(components, f, x, w))(flat)

    return Programs(jit(fit), jit(rows), jit(hessian))
