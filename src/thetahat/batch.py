"""Many refits of one model at once: bootstrap replicates, simulated samples.

A fitted result keeps its layout and standardisation; ``refit_batch`` reuses
them and runs the compiled trust-region solver under ``jax.vmap`` over a
batch of weight vectors (nonparametric bootstrap = multinomial counts on the
same data) or of data sets (parametric bootstrap), starting every replicate
from the original estimate. One compilation, one dispatch, no Python loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike, NDArray

from thetahat._jit import jit
from thetahat.data import as_float_array
from thetahat.errors import DataError
from thetahat.likelihood import Layout
from thetahat.optimize import _compiled_solver, convergence, pad_to_bucket
from thetahat.result import FitResult

__all__ = ["BatchFit", "refit_batch"]


@dataclass(frozen=True)
class BatchFit:
    """Estimates of ``B`` refits: ``params[name]`` has shape (B, *param_shape)."""

    params: dict[str, NDArray[np.float64]]
    loglik: NDArray[np.float64]
    converged: NDArray[np.bool_]

    @property
    def n_converged(self) -> int:
        return int(self.converged.sum())


@lru_cache(maxsize=64)
def _batched_solver(layout: Layout, batched_x: bool) -> tuple[Callable[..., Any], Callable[..., Any]]:
    run = _compiled_solver(layout)
    x_axis = 0 if batched_x else None
    solver = jax.vmap(run, in_axes=(None, x_axis, 0, None, 0, None, None))

    def flat(z: Any, fixed: Any, bounds: Any) -> Any:
        params = layout.unpack(z, fixed, bounds)
        return jnp.concatenate([jnp.ravel(params[name]) for name in layout.free_names])

    return jit(solver), jit(jax.vmap(flat, in_axes=(0, None, 0)))


def refit_batch(
    result: FitResult,
    *,
    weights: ArrayLike | None = None,
    data: ArrayLike | None = None,
) -> BatchFit:
    """Refit ``result``'s model to a batch of reweighted or new data sets.

    Parameters
    ----------
    result : FitResult
        A converged fit; its family, fixed parameters and settings are reused.
    weights : array_like of shape (B, n), optional
        One weight vector per replicate (e.g. multinomial bootstrap counts).
    data : array_like of shape (B, n), optional
        One data set per replicate (e.g. parametric bootstrap samples).

    Returns
    -------
    BatchFit

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> from thetahat.batch import refit_batch
    >>> x = np.random.default_rng(0).weibull(1.5, 200) * 2.0
    >>> res = thetahat.fit(x, "weibull")
    >>> counts = np.random.default_rng(1).multinomial(200, np.full(200, 1 / 200), size=50)
    >>> boot = refit_batch(res, weights=counts)
    >>> boot.params["shape"].shape, boot.n_converged
    ((50,), 50)
    """
    est = result._context
    if est is None:
        raise DataError("this result holds no fit context to refit.")
    if est.fam.irregular or result.at_boundary:
        return _refit_loop(result, weights, data)
    x_b, w_b = _batch_inputs(est, weights, data)
    layout, bounds = est._layout(est.spec.free)
    n_batch = w_b.shape[0]
    if data is not None:
        raw = np.asarray(data, dtype=float)
        bounds_b = np.stack([est._layout(est.spec.free, (float(r.min()), float(r.max())))[1] for r in raw])
    else:
        bounds_b = np.broadcast_to(bounds, (n_batch,) + bounds.shape)
    params_std = {name: est.std.param_to_std(est.fam.param(name).role, np.asarray(result.params[name]))
                  for name in est.spec.free}
    z0 = layout.pack(params_std, bounds)
    fixed_flat = est._fixed_flat(layout, {})
    solver, flat = _batched_solver(layout, data is not None)
    with jax.enable_x64(True):
        z, f, _, _, radius, _, dec = solver(
            jnp.asarray(z0), jnp.asarray(x_b), jnp.asarray(w_b), jnp.asarray(fixed_flat),
            jnp.asarray(bounds_b), est.solver.tol, est.solver.max_iter,
        )
        values = np.asarray(flat(z, jnp.asarray(fixed_flat), jnp.asarray(bounds_b)))
    f = np.asarray(f)
    converged, _ = convergence(f, dec, radius, z, est.solver.tol)
    params: dict[str, NDArray[np.float64]] = {}
    start = 0
    for name, bij in layout.free:
        size = math.prod(bij.shape)
        block = values[:, start : start + size].reshape((n_batch,) + bij.shape)
        params[name] = np.asarray(est.std.param_from_std(est.fam.param(name).role, block))
        start += size
    log_jac = 0.0 if est.fam.is_discrete else np.log(est.std.scale) * est.fam.data_ndim
    loglik = -f - w_b.sum(axis=1) * log_jac
    return BatchFit(params, loglik, converged)


def _batch_inputs(est: Any, weights: ArrayLike | None, data: ArrayLike | None) -> tuple[np.ndarray, np.ndarray]:
    if data is not None:
        raw = as_float_array(data, name="data", ndim=2)
        xs = est.std.data(raw)
        w = np.ones_like(xs) if weights is None else np.asarray(weights, dtype=float)
        padded = [pad_to_bucket(r, wr) for r, wr in zip(xs, w)]
        return np.stack([p[0] for p in padded]), np.stack([p[1] for p in padded])
    if weights is None:
        raise DataError("refit_batch needs weights or data (one row per replicate).")
    w = as_float_array(weights, name="weights", ndim=2)
    if w.shape[1] != est.x.shape[0]:
        raise DataError(f"weights must have one column per observation ({est.x.shape[0]}); got {w.shape[1]}.")
    xs, _ = pad_to_bucket(est.xs, np.asarray(est.w))
    w = np.concatenate([w, np.zeros((w.shape[0], xs.shape[0] - w.shape[1]))], axis=1)
    return xs, w


def _refit_loop(result: FitResult, weights: ArrayLike | None, data: ArrayLike | None) -> BatchFit:
    """Closed-form families with boundary estimates: refit one by one (each is cheap)."""
    import warnings

    from thetahat.errors import ThetahatWarning
    from thetahat.fit import fit

    x, _ = result.data
    rows_w = None if weights is None else np.asarray(weights, dtype=float)
    rows_x = None if data is None else np.asarray(data, dtype=float)
    n_batch = (rows_w if rows_w is not None else rows_x).shape[0]  # type: ignore[union-attr]
    fits: list[FitResult | None] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThetahatWarning)  # each refit's status is kept below
        for b in range(n_batch):
            xb = x if rows_x is None else rows_x[b]
            wb = None if rows_w is None else rows_w[b]
            try:
                fits.append(fit(xb, result.family, weights=wb, **result.fit_options))
            except DataError:
                # A resample with no MLE (all values equal, fewer distinct
                # values than parameters) is a failed refit, not a failed call.
                fits.append(None)
    names = [n for n in result.family.param_names if n not in result.fixed]
    missing = {n: np.full(np.shape(result.params[n]), np.nan) for n in names}
    params = {
        n: np.stack([np.asarray(r.params[n]) if r else missing[n] for r in fits]) for n in names
    }
    loglik = np.array([r.loglik if r else np.nan for r in fits])
    return BatchFit(params, loglik, np.array([bool(r and r.converged) for r in fits]))
