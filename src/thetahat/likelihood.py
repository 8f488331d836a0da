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

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from thetahat.families.base import Family
from thetahat.transforms import Bijector

__all__ = ["CHUNK", "LONG_BLOCK", "Layout", "loglik_terms", "nll", "nll_value_grad", "nll_value_grad_hess"]

#: Rows per block when accumulating derivatives over large data.
CHUNK = 65536
#: Rows per block (at most) of a linear predictor's value-and-gradient pass.
LONG_BLOCK = 16 * CHUNK
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
    #: Whether rows of zero weight may have a non-finite log-density (deleted
    #: observations, bootstrap and EM weights), so that the linear-predictor
    #: path masks their terms out instead of multiplying them by 0. False
    #: only where every zero weight is a padding copy of a used row
    #: (:func:`thetahat.optimize.solve`): the mask, a select per row, costs
    #: a third of a logistic-regression pass.
    guard: bool = True

    def __post_init__(self) -> None:
        # Read on every fit: computed once (plain attributes, not fields).
        object.__setattr__(self, "_size", sum(b.size for _, b in self.free))
        object.__setattr__(self, "_free_names", tuple(name for name, _ in self.free))

    @property
    def size(self) -> int:
        """Length of the unconstrained vector."""
        return self._size  # type: ignore[attr-defined,no-any-return]

    @property
    def free_names(self) -> tuple[str, ...]:
        return self._free_names  # type: ignore[attr-defined,no-any-return]

    def unpack(self, z: Any, fixed_flat: Any, bounds: Any) -> dict[str, Any]:
        """All named parameters (constrained) from ``z`` and the fixed values."""
        params: dict[str, Any] = {}
        start = 0
        for i, (name, bij) in enumerate(self.free):
            params[name] = bij.forward(z[start : start + bij.size], bounds[i, 0], bounds[i, 1])
            start += bij.size
        start = 0
        for name, shape in self.fixed:
            size = math.prod(shape)
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


def _weigh(layout: Layout, w: Any, terms: Any) -> Any:
    """``w * terms`` (``w`` broadcast to them); with ``layout.guard``, zero-weight rows give exactly 0 even at -inf."""
    return jnp.where(w > 0, w * terms, 0.0) if layout.guard else w * terms


def nll(layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any) -> Any:
    """Weighted negative log-likelihood at the unconstrained point ``z``."""
    # Always masked here: without the select, XLA fuses the forward-mode
    # Hessian of a generic family into one loop that recomputes its
    # transcendental functions per output (a Student-t pass measured 4x slower).
    terms = loglik_terms(layout, z, x, fixed_flat, bounds)
    return -jnp.sum(jnp.where(w > 0, w * terms, 0.0))


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
    layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any, hessian: bool = True
) -> tuple[Any, ...]:
    r"""Value, gradient (and Hessian) through the linear predictor :math:`\eta = X\beta`.

    With :math:`v_i = (\eta_i, z_r)` (the predictor and the other free
    parameters) and per-observation derivatives :math:`g_i, H_i` of
    :math:`\log p` in :math:`v_i` (JAX, forward mode on 1 + m variables),
    the chain rule gives :math:`\nabla_\beta = X^\top (w g_{\eta})`,
    :math:`H_{\beta\beta} = X^\top \operatorname{diag}(w H_{\eta\eta}) X`,
    :math:`H_{\beta r} = X^\top (w H_{\eta r})` and sums over rows for the
    rest: one matrix product per block instead of differentiating p times
    through X (the same sum over observations, exactly). ``hessian=False``
    returns the value and gradient only.
    """
    fam = layout.family
    p = layout.free[0][1].size
    # X = M[:, k:]; products with M and then dropping the first k rows and
    # columns avoid copying X out of M.
    M, k = fam.design(x)
    eta = M @ jnp.concatenate([jnp.zeros(k, z.dtype), z[:p]])
    zero_coef = jnp.zeros(p, z.dtype)

    def terms(u: Any) -> Any:
        # u = (a shift of every eta_i, the other free parameters): each row
        # depends on its own eta_i only, so derivatives in the shift are the
        # per-observation derivatives in eta_i -- forward mode on 1 + m
        # variables over whole columns, no per-row vmap.
        params = layout.unpack(jnp.concatenate([zero_coef, u[1:]]), fixed_flat, bounds)
        others = {k: val for k, val in params.items() if k != fam.linear_coef}
        return fam.local_logpdf(x, eta + u[0], **others)

    u0 = jnp.concatenate([jnp.zeros(1, z.dtype), z[p:]])
    if hessian:
        # shapes (n,), (1+m, n), (1+m, n, 1+m)
        value, grad, hess = _forward_value_grad_hess(terms, u0)
    else:
        value, grad = _forward_value_grad(terms, u0)
    wv, wg = _weigh(layout, w, value), _weigh(layout, w, grad)
    # Contractions over rows written as einsums over the row index: XLA's
    # dot of a transposed tall matrix (M.T @ r) copies the transpose first,
    # measured 8x slower on the CPU than r @ M.
    g_full = jnp.concatenate([jnp.einsum("n,nj->j", wg[0], M)[k:], jnp.sum(wg[1:], axis=1)])
    if not hessian:
        return -jnp.sum(wv), -g_full
    wh = _weigh(layout, w[:, None], hess)
    h_cc = jnp.einsum("ni,nj->ij", M * wh[0, :, :1], M)[k:, k:]
    h_cr = jnp.einsum("nj,nr->jr", M, wh[0, :, 1:])[k:]
    h_rr = jnp.sum(wh[1:, :, 1:], axis=1)
    h_full = jnp.block([[h_cc, h_cr], [h_cr.T, h_rr]])
    return -jnp.sum(wv), -g_full, -h_full


def _has_threshold_features(layout: Layout) -> bool:
    """True when the family's log-density is linear in features of the data above a threshold."""
    return layout.family.threshold_param is not None and not _has_linear_predictor(layout)


def _threshold_block(
    layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any, hessian: bool = True
) -> tuple[Any, ...]:
    r"""Value, gradient (and Hessian) from weighted feature sums (``Family.threshold_param``).

    With :math:`\log p(x_i) = a(	heta) + b(	heta)^	op T(x_i, t)` above the
    threshold :math:`t`, the NLL is :math:`-(W a + b^	op S(t))`,
    :math:`S(t) = \sum_i w_i T(x_i, t)`. One pass gives :math:`S, S', S''` at
    the current :math:`t_0` (forward mode in the scalar :math:`t`); the
    quadratic :math:`S_0 + S'd + S''d^2/2` in :math:`d = t - t_0` has the same
    value, gradient and Hessian at :math:`t_0`, so JAX differentiates a
    function of a few scalars instead of every row. A used row at or below
    the threshold makes the NLL +inf, as the log-density's -inf does.
    """
    fam = layout.family
    name = fam.threshold_param
    assert name is not None
    default = fam.param(name).default
    t0 = jnp.asarray(layout.unpack(z, fixed_flat, bounds).get(name, 0.0 if default is None else default))
    used = w > 0
    weights = jnp.where(used, w, 0.0)

    def sums(t: Any) -> Any:
        # One reduction per feature: XLA fuses them into a single pass (a dot
        # of the stacked features over rows runs several times slower on the CPU).
        return jnp.stack([jnp.sum(weights * f) for f in fam.threshold_features(x, t)])

    one = jnp.ones_like(t0)
    if hessian:
        (s0, s1), (_, s2) = jax.jvp(lambda t: jax.jvp(sums, (t,), (one,)), (t0,), (one,))
    else:
        (s0, s1), s2 = jax.jvp(sums, (t0,), (one,)), 0.0
    total = jnp.sum(weights)
    outside = jnp.any(used & (x <= t0))

    def neg_loglik(zz: Any) -> Any:
        params = layout.unpack(zz, fixed_flat, bounds)
        d = params[name] - t0 if name in params else 0.0
        a, b = fam.natural(**params)
        return -(total * a + b @ (s0 + s1 * d + 0.5 * s2 * d * d))

    if hessian:
        value, grad, hess = _forward_value_grad_hess(neg_loglik, z)
        return jnp.where(outside, jnp.inf, value), grad, hess
    value, grad = _forward_value_grad(neg_loglik, z)
    return jnp.where(outside, jnp.inf, value), grad


def _forward_value_grad(fn: Callable[[Any], Any], z: Any) -> tuple[Any, Any]:
    """Value and gradient of the scalar ``fn`` of a few variables by forward mode (one primal)."""
    basis = jnp.eye(z.shape[0], dtype=z.dtype)
    return jax.vmap(lambda t: jax.jvp(fn, (z,), (t,)), out_axes=(None, 0))(basis)


def _forward_value_grad_hess(fn: Callable[[Any], Any], z: Any, reverse: bool = False) -> tuple[Any, Any, Any]:
    """Value, gradient and Hessian of the scalar ``fn`` at ``z`` in one sweep.

    The gradient is forward mode (jvps along the unit vectors, whose shared
    primal is the value: ``fn`` is traced once) or, with ``reverse``, reverse
    mode; a forward sweep over it gives the Hessian with the value and the
    gradient as auxiliary output of the same primal pass.
    """
    def value_and_grad(zz: Any) -> Any:
        value, grad = jax.value_and_grad(fn)(zz) if reverse else _forward_value_grad(fn, zz)
        return grad, (value, grad)

    hess, (value, grad) = jax.jacfwd(value_and_grad, has_aux=True)(z)
    return value, grad, hess


def _value_grad_hess_block(
    layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any
) -> tuple[Any, Any, Any]:
    if _has_linear_predictor(layout):
        return _linear_predictor_block(layout, z, x, w, fixed_flat, bounds)
    if _has_threshold_features(layout):
        return _threshold_block(layout, z, x, w, fixed_flat, bounds)  # type: ignore[return-value]

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
    def block(xb: Any, wb: Any) -> tuple[Any, Any, Any]:
        return _value_grad_hess_block(layout, z, xb, wb, fixed_flat, bounds)

    return _with_prior(layout, z, fixed_flat, bounds, _sum_over_blocks(block, x, w), hessian=True)


def nll_value_grad(
    layout: Layout, z: Any, x: Any, w: Any, fixed_flat: Any, bounds: Any
) -> tuple[Any, Any]:
    """NLL and its gradient in ``z``, without the Hessian (traceable; jit it from outside).

    The cheap pass of Newton steps that reuse a Hessian (see
    :func:`thetahat.optimize.solve`): reverse mode costs a few passes over the
    data whatever the number of parameters. Blocks of ``CHUNK`` rows as in
    :func:`nll_value_grad_hess`.
    """
    linear = _has_linear_predictor(layout)

    threshold = _has_threshold_features(layout)

    def block(xb: Any, wb: Any) -> tuple[Any, Any]:
        if linear:
            return _linear_predictor_block(layout, z, xb, wb, fixed_flat, bounds, hessian=False)
        if threshold:
            return _threshold_block(layout, z, xb, wb, fixed_flat, bounds, hessian=False)  # type: ignore[return-value]
        return jax.value_and_grad(lambda zz: nll(layout, zz, xb, wb, fixed_flat, bounds))(z)

    # A linear predictor's value and gradient are two products with X and a
    # few elementwise terms: XLA runs them ~2x faster over long blocks than
    # over cache-sized ones (unlike the Hessian, whose per-row outer products
    # want the cache).
    rows = LONG_BLOCK if linear else CHUNK
    return _with_prior(layout, z, fixed_flat, bounds, _sum_over_blocks(block, x, w, rows), hessian=False)


def _sum_over_blocks(block: Callable[[Any, Any], Any], x: Any, w: Any, rows: int = CHUNK) -> Any:
    """``block(x, w)``, or its sum by a ``lax.scan`` over blocks of ``CHUNK`` rows or a
    multiple of it up to ``rows`` (the data are padded to a multiple of ``CHUNK``)."""
    n = x.shape[0]
    if n <= rows:
        return block(x, w)
    chunks = n // CHUNK
    per_block = max(k for k in range(1, rows // CHUNK + 1) if chunks % k == 0) * CHUNK
    blocks = (x.reshape((n // per_block, per_block) + x.shape[1:]), w.reshape(n // per_block, per_block))

    def add_block(carry: Any, xw: Any) -> Any:
        return jax.tree.map(jnp.add, carry, block(*xw)), None

    shapes = jax.eval_shape(block, blocks[0][0], blocks[1][0])
    init = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    return jax.lax.scan(add_block, init, blocks)[0]


def _with_prior(
    layout: Layout, z: Any, fixed_flat: Any, bounds: Any, parts: tuple[Any, ...], hessian: bool
) -> tuple[Any, ...]:
    """The data's (value, gradient[, Hessian]) plus the negative log prior's, added once."""
    if layout.log_prior is None:
        return parts

    def neg_log_prior(zz: Any) -> Any:
        return -layout.log_prior(layout.unpack(zz, fixed_flat, bounds))  # type: ignore[misc]

    prior: tuple[Any, ...] = (neg_log_prior(z), jax.grad(neg_log_prior)(z))
    if hessian:
        prior += (jax.hessian(neg_log_prior)(z),)
    return tuple(a + b for a, b in zip(parts, prior))
