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
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from thetahat.families.base import Family
from thetahat.transforms import Bijector

__all__ = ["CHUNK", "Layout", "loglik_terms", "nll", "nll_value_grad_hess"]

#: Rows per block when accumulating derivatives over large data.
CHUNK = 65536
#: Up to this many free parameters, derivatives use forward mode only.
FORWARD_MODE_MAX = 4


@dataclass(frozen=True)
class Layout:
    """Static description of the unconstrained vector (hashable, jit-static)."""

    family: Family
    free: tuple[tuple[str, Bijector], ...]
    fixed: tuple[tuple[str, tuple[int, ...]], ...]
    #: Optional log prior density of the (standardised) parameters, added once
    #: to the objective for MAP estimation; None for maximum likelihood.
    log_prior: Callable[[dict[str, Any]], Any] | None = None

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


def _value_grad_hess_block(
    layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any
) -> tuple[Any, Any, Any]:
    def total(zz: Any) -> Any:
        return nll(layout, zz, x, w, fixed_flat, bounds)

    if z.shape[0] <= FORWARD_MODE_MAX:
        # Few parameters: forward over forward mode keeps every derivative an
        # elementwise expression XLA fuses into one pass (no reverse tape);
        # measured ~2x faster than forward-over-reverse for a 2-parameter
        # Weibull batch.
        def value_and_grad(zz: Any) -> Any:
            return jax.jacfwd(lambda q: (total(q), total(q)), has_aux=True)(zz)
    else:

        def value_and_grad(zz: Any) -> Any:
            value, grad = jax.value_and_grad(total)(zz)
            return grad, value

    def grad_with_aux(zz: Any) -> Any:
        grad, value = value_and_grad(zz)
        return grad, (value, grad)

    # One sweep yields the Hessian and, as auxiliary output of the same
    # primal pass, the value and the gradient.
    hess, (value, grad) = jax.jacfwd(grad_with_aux, has_aux=True)(z)
    return value, grad, hess


def nll_value_grad_hess(
    layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any
) -> tuple[Any, Any, Any]:
    """NLL, its gradient and Hessian in ``z`` (traceable; jit it from outside).

    Large data are processed in blocks of ``CHUNK`` rows by a ``lax.scan``
    that accumulates the three sums: each block's derivative intermediates
    stay in cache, which measured ~6x faster than one whole-array pass for a
    Student-t on 1e6 points. Data longer than ``CHUNK`` must be padded to a
    multiple of it (:func:`thetahat.optimize.pad_to_bucket` does).
    """
    value, grad, hess = _data_value_grad_hess(layout, z, x, w, fixed_flat, bounds)
    if layout.log_prior is None:
        return value, grad, hess
    # The prior enters once, not once per block of data.
    def neg_log_prior(zz: Any) -> Any:
        return -layout.log_prior(layout.unpack(zz, fixed_flat, bounds))  # type: ignore[misc]

    return (
        value + neg_log_prior(z),
        grad + jax.grad(neg_log_prior)(z),
        hess + jax.hessian(neg_log_prior)(z),
    )


def _data_value_grad_hess(
    layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any
) -> tuple[Any, Any, Any]:
    n = x.shape[0]
    if n <= CHUNK:
        return _value_grad_hess_block(layout, z, x, w, fixed_flat, bounds)
    blocks = (x.reshape((n // CHUNK, CHUNK) + x.shape[1:]), w.reshape(n // CHUNK, CHUNK))

    def add_block(carry: Any, block: Any) -> Any:
        part = _value_grad_hess_block(layout, z, block[0], block[1], fixed_flat, bounds)
        return jax.tree.map(jnp.add, carry, part), None

    p = z.shape[0]
    init = (jnp.zeros((), z.dtype), jnp.zeros(p, z.dtype), jnp.zeros((p, p), z.dtype))
    return jax.lax.scan(add_block, init, blocks)[0]
