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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


def _has_linear_predictor(layout: Layout) -> bool:
    """True when the first free parameter is the family's unconstrained linear coefficient."""
    coef = layout.family.linear_coef
    return (
        coef is not None
        and bool(layout.free)
        and layout.free[0][0] == coef
        and layout.free[0][1].kind == "identity"
    )


def _linear_predictor_block(
    layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any
) -> tuple[Any, Any, Any]:
    r"""Value, gradient and Hessian through the linear predictor :math:`\eta = X\beta`.

    With :math:`v_i = (\eta_i, z_r)` (the predictor and the other free
    parameters) and per-observation derivatives :math:`g_i, H_i` of
    :math:`\log p` in :math:`v_i` (JAX, forward mode on 1 + m variables),
    the chain rule gives :math:`\nabla_\beta = X^\top (w g_{\eta})`,
    :math:`H_{\beta\beta} = X^\top \operatorname{diag}(w H_{\eta\eta}) X`,
    :math:`H_{\beta r} = X^\top (w H_{\eta r})` and sums over rows for the
    rest: one matrix product per block instead of differentiating p times
    through X (the same sum over observations, exactly).
    """
    fam = layout.family
    p = layout.free[0][1].size
    X = fam.design(x)
    eta = X @ z[:p]
    m = z.shape[0] - p
    zero_coef = jnp.zeros(p, z.dtype)

    def term(v: Any, row: Any) -> Any:
        params = layout.unpack(jnp.concatenate([zero_coef, v[1:]]), fixed_flat, bounds)
        others = {k: val for k, val in params.items() if k != fam.linear_coef}
        return fam.local_logpdf(row[None], v[:1], **others)[0]

    def derivatives(v: Any, row: Any) -> Any:
        return _forward_value_grad_hess(lambda q: term(q, row), v)

    v = jnp.concatenate([eta[:, None], jnp.broadcast_to(z[p:], (eta.shape[0], m))], axis=1)
    value, grad, hess = jax.vmap(derivatives)(v, x)
    used = w > 0  # zero-weight rows contribute exactly 0, even at -inf
    wv = jnp.where(used, w * value, 0.0)
    wg = jnp.where(used[:, None], w[:, None] * grad, 0.0)
    wh = jnp.where(used[:, None, None], w[:, None, None] * hess, 0.0)
    h_cc = (X * wh[:, 0, 0][:, None]).T @ X
    h_cr = X.T @ wh[:, 0, 1:]
    h_rr = jnp.sum(wh[:, 1:, 1:], axis=0)
    g_full = jnp.concatenate([X.T @ wg[:, 0], jnp.sum(wg[:, 1:], axis=0)])
    h_full = jnp.block([[h_cc, h_cr], [h_cr.T, h_rr]])
    return -jnp.sum(wv), -g_full, -h_full


def _forward_value_grad_hess(fn: Callable[[Any], Any], z: Any, reverse: bool = False) -> tuple[Any, Any, Any]:
    """Value, gradient and Hessian of the scalar ``fn`` at ``z`` in one sweep.

    The gradient is forward mode (jvps along the unit vectors, whose shared
    primal is the value: ``fn`` is traced once) or, with ``reverse``, reverse
    mode; a forward sweep over it gives the Hessian with the value and the
    gradient as auxiliary output of the same primal pass.
    """
    def value_and_grad(zz: Any) -> Any:
        if reverse:
            value, grad = jax.value_and_grad(fn)(zz)
        else:
            basis = jnp.eye(zz.shape[0], dtype=zz.dtype)
            value, grad = jax.vmap(lambda t: jax.jvp(fn, (zz,), (t,)), out_axes=(None, 0))(basis)
        return grad, (value, grad)

    hess, (value, grad) = jax.jacfwd(value_and_grad, has_aux=True)(z)
    return value, grad, hess


def _value_grad_hess_block(
    layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any
) -> tuple[Any, Any, Any]:
    if _has_linear_predictor(layout):
        return _linear_predictor_block(layout, z, x, w, fixed_flat, bounds)

    def total(zz: Any) -> Any:
        return nll(layout, zz, x, w, fixed_flat, bounds)

    # Few parameters: forward over forward mode keeps every derivative an
    # elementwise expression XLA fuses into one pass (no reverse tape);
    # measured ~2x faster than forward-over-reverse for a 2-parameter Weibull
    # batch.
    return _forward_value_grad_hess(total, z, reverse=z.shape[0] > FORWARD_MODE_MAX)


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
