"""The negative log-likelihood over an unconstrained parameter vector.

A :class:`Layout` says which parameters are free (and through which
bijection), which are fixed, and how the flat vector ``z`` maps to the
family's named parameters. The likelihood is always a weighted *sum over
observations* of ``family.logpdf``, evaluated through :func:`loglik_terms`:
the value, the score and the Hessian are sums of per-observation terms, so
they can be accumulated chunk by chunk (streaming, distributed) or batched
over groups without touching the families.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from thetahat.families.base import Family
from thetahat.transforms import Bijector

__all__ = ["Layout", "loglik_terms", "nll", "nll_value_grad_hess"]

#: Up to this many free parameters, the Hessian is formed from per-observation
#: Hessians in one fused pass; beyond it, by forward-over-reverse on the sum.
PER_OBSERVATION_HESSIAN_MAX = 6


@dataclass(frozen=True)
class Layout:
    """Static description of the unconstrained vector (hashable, jit-static)."""

    family: Family
    free: tuple[tuple[str, Bijector], ...]
    fixed: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def size(self) -> int:
        """Length of the unconstrained vector."""
        return sum(b.size for _, b in self.free)

    @property
    def free_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.free)

    def unpack(self, z: Any, fixed_flat: Any, bounds: Any) -> dict[str, Any]:
        """All named parameters (constrained) from ``z`` and the fixed values."""
        params: dict[str, Any] = {}
        start = 0
        for i, (name, bij) in enumerate(self.free):
            params[name] = bij.forward(z[start : start + bij.size], bounds[i, 0], bounds[i, 1])
            start += bij.size
        start = 0
        for name, shape in self.fixed:
            size = int(np.prod(shape, dtype=int))
            params[name] = fixed_flat[start : start + size].reshape(shape)
            start += size
        return params

    def pack(self, params: dict[str, Any], bounds: np.ndarray) -> np.ndarray:
        """The unconstrained vector for constrained values of the free parameters."""
        parts = [
            bij.inverse(params[name], bounds[i, 0], bounds[i, 1])
            for i, (name, bij) in enumerate(self.free)
        ]
        return np.concatenate(parts) if parts else np.zeros(0)


def loglik_terms(layout: Layout, z: Any, x: Any, fixed_flat: Any, bounds: Any) -> Any:
    """Per-observation log-densities at ``z``: the one code path of the likelihood."""
    return layout.family.logpdf(x, **layout.unpack(z, fixed_flat, bounds))


def _weighted_sum(terms: Any, w: Any) -> Any:
    # Zero-weight rows (padding, deleted observations) contribute exactly 0,
    # even where their log-density is -inf.
    return jnp.sum(jnp.where(w > 0, w * terms, 0.0))


def nll(layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any) -> Any:
    """Weighted negative log-likelihood at the unconstrained point ``z``."""
    return -_weighted_sum(loglik_terms(layout, z, x, fixed_flat, bounds), w)


def nll_value_grad_hess(
    layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any
) -> tuple[Any, Any, Any]:
    """NLL, its gradient and Hessian in ``z`` (traceable; jit it from outside).

    With few parameters the exact Hessian is cheapest as a weighted sum of
    per-observation Hessians: XLA fuses the elementwise derivative formulas
    into one pass over the data instead of storing a reverse-mode tape.
    """
    if layout.size <= PER_OBSERVATION_HESSIAN_MAX and layout.family.data_ndim == 1:

        def one(zz: Any, xi: Any) -> Any:
            return layout.family.logpdf(xi, **layout.unpack(zz, fixed_flat, bounds))

        value = -_weighted_sum(one(z, x), w)
        grads = jax.vmap(jax.grad(one), in_axes=(None, 0))(z, x)
        hessians = jax.vmap(jax.hessian(one), in_axes=(None, 0))(z, x)
        keep = w > 0
        grad = -jnp.einsum("n,np->p", jnp.where(keep, w, 0.0), jnp.where(keep[:, None], grads, 0.0))
        hess = -jnp.einsum(
            "n,npq->pq", jnp.where(keep, w, 0.0), jnp.where(keep[:, None, None], hessians, 0.0)
        )
        return value, grad, hess

    def total(zz: Any) -> Any:
        return nll(layout, zz, x, w, fixed_flat, bounds)

    value, grad = jax.value_and_grad(total)(z)
    hess = jax.hessian(total)(z)
    return value, grad, hess
