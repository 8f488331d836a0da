"""Observed information, covariance by the delta method, Wald intervals.

The covariance is the inverse of the observed information -- the Hessian of
the NLL at the MLE -- taken on the unconstrained scale ``z`` of the
standardised problem (where it is well conditioned), then carried to the
user's parametrisation by the delta method: cov_theta = J cov_z J' with
J = d theta / d z, followed by the constant Jacobian of the standardisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from thetahat._jit import jit
from thetahat.likelihood import Layout

__all__ = ["invert_information", "split_packed", "stats_information", "unpack_jacobian"]


def invert_information(hess: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Inverse of the observed information, or (None, reason) if not positive definite."""
    if hess.size == 0:
        return np.zeros((0, 0)), "ok"
    if hess.shape[0] <= 2:  # most fits: the same test in scalar arithmetic
        return _invert_small(hess.tolist())
    return _invert_general(hess)


def _invert_general(hess: np.ndarray) -> tuple[np.ndarray | None, str]:
    # ndarray methods, not np.* functions: this runs on every fit.
    if not np.isfinite(hess).all():
        return None, "the Hessian has non-finite entries"
    sym = 0.5 * (hess + hess.T)
    diag = sym.diagonal()
    if (diag <= 0).any():
        return None, "the observed information is not positive definite (a non-positive diagonal)"
    # Judge definiteness on the correlation-scaled matrix D^-1/2 H D^-1/2, so
    # that parameters on very different scales are not mistaken for singular.
    scale = 1.0 / np.sqrt(diag)
    outer = scale[:, None] * scale
    lam, q = np.linalg.eigh(sym * outer)
    # Beyond a condition number of 1e11 the standard errors carry no digits.
    if lam[0] <= 1e-11 * abs(lam[-1]):
        cond = np.inf if lam[0] <= 0 else lam[-1] / lam[0]
        return None, f"the observed information is not positive definite (condition number {cond:.3g})"
    return ((q / lam) @ q.T) * outer, "ok"


def _invert_small(hess: list[list[float]]) -> tuple[np.ndarray | None, str]:
    """:func:`invert_information` of a 1 x 1 or 2 x 2 matrix, without numpy's
    per-call overhead (which costs more than the arithmetic here).

    The correlation-scaled matrix [[1, r], [r, 1]] has eigenvalues 1 -/+ |r|
    and inverse [[1, -r], [-r, 1]] / ((1 - r)(1 + r)).
    """
    a = hess[0][0]
    c = hess[1][1] if len(hess) == 2 else 1.0
    b = 0.5 * (hess[0][1] + hess[1][0]) if len(hess) == 2 else 0.0
    if not all(math.isfinite(v) for row in hess for v in row):
        return None, "the Hessian has non-finite entries"
    if a <= 0 or c <= 0:
        return None, "the observed information is not positive definite (a non-positive diagonal)"
    if len(hess) == 1:
        return np.array([[1.0 / a]]), "ok"
    sa, sc = 1.0 / math.sqrt(a), 1.0 / math.sqrt(c)
    r = b * sa * sc
    low, high = 1.0 - abs(r), 1.0 + abs(r)
    if low <= 1e-11 * high:
        cond = math.inf if low <= 0 else high / low
        return None, (
            f"the observed information is not positive definite (condition number {cond:.3g})"
        )
    det = (1.0 - r) * (1.0 + r)
    off = -r / det * sa * sc
    return np.array([[sa * sa / det, off], [off, sc * sc / det]]), "ok"


@lru_cache(maxsize=256)
def _flat_unpack(layout: Layout) -> Callable[..., Any]:
    def flat(z: Any, fixed: Any, bounds: Any) -> Any:
        params = layout.unpack(z, fixed, bounds)
        return jnp.concatenate([jnp.ravel(params[name]) for name in layout.free_names])

    return jit(lambda *a: (flat(*a), jax.jacfwd(flat)(*a)))


_ELEMENTWISE = ("identity", "lower", "upper", "interval")


def _elementwise_unpack(layout: Layout, z: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and (diagonal) Jacobian of elementwise bijectors in numpy: nothing to compile."""
    values, slopes, start = [], [], 0
    for i, (_, bij) in enumerate(layout.free):
        zi = z[start : start + bij.size]
        low, high = bounds[i]
        values.append(bij.forward_numpy(zi, low, high))
        slopes.append(bij.slope_numpy(zi, low, high))
        start += bij.size
    return np.concatenate(values), np.diag(np.concatenate(slopes))


def unpack_jacobian(
    layout: Layout, z: np.ndarray, fixed: np.ndarray, bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The flattened free parameters at ``z`` and their Jacobian d theta / dz."""
    if layout.size == 0:
        return np.zeros(0), np.zeros((0, 0))
    if all(bij.kind in _ELEMENTWISE for _, bij in layout.free):
        return _elementwise_unpack(layout, np.asarray(z, float), np.asarray(bounds, float))
    values, jac = _flat_unpack(layout)(jnp.asarray(z), jnp.asarray(fixed), jnp.asarray(bounds))
    return np.asarray(values), np.asarray(jac)


#: The shapes of one call's arguments: (stats shapes, fixed size, exact names and shapes).
_Signature = tuple[tuple[tuple[int, ...], ...], int, tuple[tuple[str, tuple[int, ...]], ...]]


def split_packed(packed: Any, shapes: Sequence[tuple[int, ...]]) -> list[Any]:
    """Consecutive pieces of the vector ``packed`` with the given shapes."""
    pieces, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        pieces.append(packed[start : start + size].reshape(shape))
        start += size
    return pieces


@lru_cache(maxsize=256)
def _stats_information(layout: Layout, signature: _Signature) -> Callable[..., Any]:
    stats_shapes, n_fixed, exact_shapes = signature

    def nll(z: Any, stats: Any, fixed: Any, bounds: Any) -> Any:
        return -layout.family.loglik_from_stats(stats, **layout.unpack(z, fixed, bounds))

    def flat(z: Any, fixed: Any, bounds: Any) -> Any:
        params = layout.unpack(z, fixed, bounds)
        return jnp.concatenate([jnp.ravel(params[name]) for name in layout.free_names])

    def everything(packed: Any) -> Any:
        shapes = [(layout.size,), *stats_shapes, (n_fixed,), (len(layout.free), 2)]
        z, *rest = split_packed(packed, shapes + [shape for _, shape in exact_shapes])
        stats, (fixed, bounds), exact_values = (
            tuple(rest[: len(stats_shapes)]), rest[len(stats_shapes) : len(stats_shapes) + 2],
            rest[len(stats_shapes) + 2 :],
        )
        exact = dict(zip((name for name, _ in exact_shapes), exact_values))

        def grad_twice(zz: Any) -> Any:
            grad = jax.grad(nll)(zz, stats, fixed, bounds)
            return grad, grad

        # One forward sweep over the reverse-mode score gives the Hessian and,
        # as auxiliary output, the score itself (a single trace of the NLL).
        hess, grad = jax.jacfwd(grad_twice, has_aux=True)(z)
        # The value at the exact closed-form estimate, not at forward(z): a
        # rate of 1e100 loses digits through log/exp that x log(rate) - rate
        # would amplify.
        value = -layout.family.loglik_from_stats(stats, **{**layout.unpack(z, fixed, bounds), **exact})
        jac = jax.jacfwd(flat)(z, fixed, bounds)
        theta = flat(z, fixed, bounds)
        pieces = [jnp.reshape(value, (1,)), grad, jnp.ravel(hess), theta, jnp.ravel(jac)]
        return jnp.concatenate(pieces)

    # One compiled function for value, score, information and the Jacobian of
    # the parametrisation: a fresh process pays a single compilation. One
    # packed vector in and out: each argument or result costs a transfer.
    return jit(everything)


def stats_information(
    layout: Layout,
    z: np.ndarray,
    stats: tuple[Any, ...],
    fixed: np.ndarray,
    bounds: np.ndarray,
    exact: dict[str, Any],
) -> tuple[float, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """NLL, score, Hessian (in z) and (theta, d theta/dz) from sufficient statistics alone."""
    if layout.size == 0:  # every parameter fixed or on a boundary: only the value
        params = {**layout.unpack(jnp.zeros(0), jnp.asarray(fixed), jnp.asarray(bounds)),
                  **{k: jnp.asarray(v) for k, v in exact.items()}}
        value = -float(layout.family.loglik_from_stats(
            tuple(jnp.asarray(s, dtype=jnp.float64) for s in stats), **params))
        flat = [np.ravel(np.asarray(params[n], dtype=float)) for n in layout.free_names]
        values = np.concatenate(flat) if flat else np.zeros(0)
        return value, np.zeros(0), np.zeros((0, 0)), (values, np.zeros((values.size, 0)))
    stats_arrays = [np.asarray(s, np.float64) for s in stats]
    exact_arrays = {k: np.asarray(v, np.float64) for k, v in exact.items()}
    signature = (
        tuple(a.shape for a in stats_arrays),
        int(np.size(fixed)),
        tuple((k, a.shape) for k, a in exact_arrays.items()),
    )
    packed = np.concatenate(
        [np.ravel(a) for a in (z, *stats_arrays, fixed, bounds, *exact_arrays.values())]
    ).astype(np.float64, copy=False)
    # A numpy argument goes to the compiled function as it is: jnp.asarray
    # would compile a small staging program per shape in a fresh process.
    out = np.asarray(_stats_information(layout, signature)(packed))
    k = layout.size
    m = sum(math.prod(bij.shape) for _, bij in layout.free)  # theta's length (a simplex: k + 1)
    value, grad, hess, flat, jac = split_packed(out, [(), (k,), (k, k), (m,), (m, k)])
    return float(value), grad, hess, (flat, jac)
