"""Turn an optimiser solution on the standardised, unconstrained scale into a FitResult."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from statistics import NormalDist

from thetahat.data import weight_total
from thetahat.errors import BoundaryWarning, ConvergenceWarning, FitError, HessianWarning
from thetahat.inference import invert_information, unpack_jacobian
from thetahat.likelihood import Layout
from thetahat.optimize import Solution
from thetahat.result import FitResult

if TYPE_CHECKING:
    from thetahat.fit import _Estimation

#: A threshold closer than this fraction of the data's range to min(x) signals
#: an unbounded likelihood (e.g. three-parameter Weibull/gamma with shape < 1).
_THRESHOLD_COLLAPSE = 1e-9


def assemble_result(
    est: _Estimation,
    layout: Layout,
    bounds: np.ndarray,
    fixed_flat: np.ndarray,
    sol: Solution,
    method: str,
    boundary: tuple[str, ...],
    extra: dict[str, Any],
    exact: dict[str, Any] | None = None,
) -> FitResult:
    exact = exact or {}
    fam, std = est.fam, est.std
    if sol.unpacked is not None:
        flat, jac = sol.unpacked
    else:
        flat, jac = unpack_jacobian(layout, sol.z, fixed_flat, bounds)
    params_std = {**est.fixed_std, **_split(layout, flat)}
    params_std.update({k: np.asarray(v, float) for k, v in extra.items()})
    # Closed forms are reported exactly, not through forward(inverse(theta)).
    params_std.update({k: np.asarray(v, float) for k, v in exact.items()})
    params = {
        p.name: _scalar_or_array(std.param_from_std(p.role, params_std[p.name]))
        for p in fam.params
    }
    overflowed = [
        k for k, v in params.items()
        if not (math.isfinite(v) if isinstance(v, float) else np.isfinite(v).all())
    ]
    overflowed = list(dict.fromkeys(overflowed + _underflowed(est, params, params_std, boundary)))
    if overflowed:
        from thetahat.errors import DataError

        raise DataError(
            f"the {fam.name} estimate of {overflowed} is not representable in float64 "
            f"(data range {est.data_range[0]!r} to {est.data_range[1]!r}). Rescale the data."
        )
    cov_z, hess_msg = invert_information(sol.hess)
    hessian_ok = cov_z is not None
    cov_names, role_scale = _flat_names(layout, est)
    if cov_z is not None:
        cov_std = jac @ cov_z @ jac.T
    else:
        cov_std = np.full((len(cov_names), len(cov_names)), np.nan)
    # Standard errors are scaled from standardised units one factor at a time
    # (data at 1e300 have SEs near 1e300 whose squares would overflow); the
    # covariance in data units may then hold inf/0 at such magnitudes.
    se = _standard_errors(layout, est, cov_std, np.abs(role_scale))
    if std.is_identity:
        cov = cov_std + 0.0  # no "-0.0" entries, as np.where below gives
    else:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            cov = np.where(cov_std == 0, 0.0, cov_std * np.outer(role_scale, role_scale))
    used_w = weight_total(est.w)
    log_jacobian = 0.0 if fam.is_discrete else used_w * fam.data_ndim * np.log(std.scale)
    if fam.data_ndim == 2:
        log_jacobian = used_w * est.x.shape[1] * np.log(std.scale)
    log_prior = None
    if layout.log_prior is not None:
        import jax.numpy as jnp

        log_prior = float(layout.log_prior({k: jnp.asarray(v) for k, v in params_std.items()}))
        method = f"MAP ({method})"
    # The optimiser minimised -(loglik + log prior): take the prior back out.
    loglik = float(-sol.nll - (log_prior or 0.0) - log_jacobian) + 0.0  # no "-0.0"

    converged, message = sol.converged, sol.message
    spread = (est.data_range[1] - est.data_range[0]) / std.scale  # standardised units
    collapsed = _collapsed_thresholds(layout, bounds, params_std, spread)
    if collapsed:
        converged = False
        message = (
            f"the likelihood is unbounded: {collapsed} ran into min(x) "
            "(typically a shape parameter below 1); no maximum exists. "
            "Fix the threshold (fixed={'loc': ...}) instead."
        )
    if not np.isfinite(loglik):
        converged, message = False, f"non-finite log-likelihood ({loglik}) at the end of the fit"
    _warn(est, converged, message, hessian_ok, hess_msg, boundary)
    return FitResult(
        family=fam,
        params=params,
        se=se,
        cov=cov,
        cov_names=tuple(cov_names),
        loglik=loglik,
        nobs=float(used_w),
        n_free=est.spec.n_free(est.fam),
        converged=bool(converged),
        n_iter=sol.n_iter,
        score_norm=float(np.abs(sol.grad).max()) if sol.grad.size else 0.0,
        method=method,
        message=message,
        fixed={k: _scalar_or_array(v) for k, v in est.spec.fixed.items()},
        at_boundary=boundary,
        hessian_ok=hessian_ok,
        hessian_message=hess_msg,
        log_prior=log_prior,
        _interval=_interval_function(layout, est, sol, bounds, cov_z, params, se),
        _context=est,
        _params_std={k: np.asarray(v, float) for k, v in params_std.items()},
    )


def _split(layout: Layout, flat: np.ndarray) -> dict[str, np.ndarray]:
    from thetahat.fit import _split_flat

    return dict(zip(layout.free_names, _split_flat(layout, flat)))


def _underflowed(
    est: _Estimation, params: dict[str, Any], params_std: dict[str, Any], boundary: tuple[str, ...]
) -> list[str]:
    """Scalar parameters inside their domain in standardised units but not in data units."""
    from thetahat.constraints import Interval

    hits = []
    for name in est.spec.free:
        constraint = est.fam.param(name).constraint
        if name in boundary or name in est.fam.irregular or not isinstance(constraint, Interval):
            continue
        if isinstance(constraint.low, str) or isinstance(constraint.high, str):
            continue
        if np.ndim(params[name]) == 0 and not constraint.check(params[name]):
            hits.append(name)
    return hits


def _scalar_or_array(value: Any) -> Any:
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def _flat_names(layout: Layout, est: _Estimation) -> tuple[list[str], np.ndarray]:
    names, scales = [], []
    for name, bij in layout.free:
        jac = est.std.jacobian(est.fam.param(name).role)
        size = math.prod(bij.shape)
        if bij.shape == ():
            names.append(name)
        else:
            names.extend(f"{name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*bij.shape))
        scales.extend([jac] * size)
    return names, np.asarray(scales, dtype=float)


def _standard_errors(
    layout: Layout, est: _Estimation, cov_std: np.ndarray, factor: np.ndarray
) -> dict[str, Any]:
    se: dict[str, Any] = {}
    var = np.sqrt(np.maximum(cov_std.diagonal(), 0.0)) * factor if cov_std.size else np.zeros(0)
    start = 0
    for name, bij in layout.free:
        size = math.prod(bij.shape)
        block = var[start : start + size]
        se[name] = float(block[0]) if bij.shape == () else block.reshape(bij.shape)
        start += size
    return se


def _collapsed_thresholds(
    layout: Layout, bounds: np.ndarray, params_std: dict[str, Any], spread: float
) -> list[str]:
    # Relative to the data's range, not to their magnitude: data at 1e6 with a
    # range of 3 put a regular threshold 1e-7 below min(x), 1e-13 of 1e6.
    tiny = _THRESHOLD_COLLAPSE * (spread if spread > 0 and math.isfinite(spread) else 1.0)
    hits = []
    for i, (name, bij) in enumerate(layout.free):
        constraint = layout.family.param(name).constraint
        if name in layout.family.irregular:  # a boundary estimate is its MLE there
            continue
        if bij.kind in ("upper", "interval") and getattr(constraint, "high", None) == "data_min":
            if float(bounds[i, 1] - params_std[name]) < tiny:
                hits.append(name)
    return hits


def _warn(
    est: _Estimation,
    converged: bool,
    message: str,
    hessian_ok: bool,
    hess_msg: str,
    boundary: tuple[str, ...],
) -> None:
    name = est.fam.name
    if not converged:
        text = f"{name} fit did not converge: {message}"
        if est.strict:
            raise FitError(text)
        warnings.warn(text + ". Results are reported with converged=False.", ConvergenceWarning, stacklevel=4)
    elif not hessian_ok:
        remedy = (
            "Rescale the data (the magnitudes are extreme)."
            if "non-finite" in hess_msg or "overflow" in hess_msg
            else "The model may be over-parametrised for these data: fix a parameter."
        )
        warnings.warn(
            f"{name} fit: {hess_msg}; standard errors are not available (nan). {remedy}",
            HessianWarning,
            stacklevel=4,
        )
    if boundary:
        warnings.warn(
            f"{name} fit: the MLE of {list(boundary)} lies on the boundary of the parameter "
            "space; no Wald standard error or interval exists for it.",
            BoundaryWarning,
            stacklevel=4,
        )


def _interval_function(
    layout: Layout,
    est: _Estimation,
    sol: Solution,
    bounds: np.ndarray,
    cov_z: np.ndarray | None,
    params: dict[str, Any],
    se: dict[str, Any],
) -> Callable[[float], dict[str, tuple[Any, Any]]]:
    """Wald intervals: on z for scalar parameters (mapped back), natural scale otherwise."""

    def intervals(level: float) -> dict[str, tuple[Any, Any]]:
        q = NormalDist().inv_cdf(0.5 + level / 2)
        out: dict[str, tuple[Any, Any]] = {}
        start = 0
        for i, (name, bij) in enumerate(layout.free):
            role = est.fam.param(name).role
            if bij.shape == () and cov_z is not None:
                half = q * np.sqrt(max(cov_z[start, start], 0.0))
                ends = [
                    float(est.std.param_from_std(role, bij.forward_numpy(sol.z[start] + d, bounds[i, 0], bounds[i, 1])))
                    for d in (-half, half)
                ]
                out[name] = (min(ends), max(ends))
            elif cov_z is not None:
                value, err = np.asarray(params[name]), np.asarray(se[name])
                out[name] = (value - q * err, value + q * err)
            else:
                out[name] = (np.nan, np.nan)
            start += bij.size
        for name in est.spec.free:
            out.setdefault(name, (np.nan, np.nan))
        return out

    return intervals
