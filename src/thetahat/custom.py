"""Custom likelihoods: a user's per-observation log-density becomes a family.

The result is an ordinary :class:`~thetahat.families.base.Family`, so it gets
exactly the treatment of a built-in one: the same optimiser, observed
information, standard errors, intervals and result object.
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from thetahat.constraints import Constraint, Interval, interval, positive, real, unit_interval
from thetahat.errors import DataError
from thetahat.families.base import Family, Param, Support

__all__ = ["custom"]

_NAMED = {"real": real, "positive": positive, "unit_interval": unit_interval}


def _as_constraint(name: str, spec: Any) -> Constraint:
    if isinstance(spec, Constraint):
        return spec
    if isinstance(spec, str) and spec in _NAMED:
        return _NAMED[spec]
    if isinstance(spec, tuple) and len(spec) == 2:
        low, high = (_bound_value(name, v) for v in spec)
        if not low < high:
            raise DataError(
                f"interval constraint of parameter {name!r} needs low < high; got {spec!r}."
            )
        return interval(low, high)
    raise DataError(
        f"constraint of parameter {name!r} must be a Constraint, one of {sorted(_NAMED)} "
        f"or a (low, high) tuple; got {spec!r}."
    )


def _bound_value(name: str, value: Any) -> float:
    """One end of a ``(low, high)`` constraint: a number (``±inf`` allowed, not NaN)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise DataError(
            f"interval constraint of parameter {name!r} needs numeric low and high "
            f"(±inf allowed); got {value!r}."
        )
    value = float(value)
    if math.isnan(value):
        raise DataError(f"interval constraint of parameter {name!r} has a NaN low or high.")
    return value


def _check_signature(logpdf: Callable[..., Any], names: tuple[str, ...]) -> None:
    """The declared names must be keywords ``logpdf`` accepts besides the data argument."""
    try:
        sig = inspect.signature(logpdf)
    except (TypeError, ValueError):  # builtins and some C callables: checked by the trial call
        return
    kinds = inspect.Parameter
    items = list(sig.parameters.values())
    positional = [p for p in items if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
    if not positional and not any(p.kind is kinds.VAR_POSITIONAL for p in items):
        raise DataError("logpdf must take the data as its first (positional) argument: logpdf(x, **params).")
    data_arg = positional[0].name if positional else None
    reserved = {"x"} | ({data_arg} if data_arg else set())
    clash = [n for n in names if n in reserved]
    if clash:
        raise DataError(
            f"parameter name {clash[0]!r} is reserved for the data argument of logpdf; rename it."
        )
    by_name = {p.name: p for p in items[1:] if p.kind is not kinds.POSITIONAL_ONLY}
    var_kw = any(p.kind is kinds.VAR_KEYWORD for p in items)
    unknown = [n for n in names if n not in by_name and not var_kw]
    if unknown:
        takes = [p.name for p in items[1:] if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)]
        raise DataError(
            f"logpdf does not take the declared parameter(s) {unknown} as keyword arguments; "
            f"it takes {takes}. The names in params must match the function's arguments."
        )
    missing = [
        p.name
        for p in items[1:]
        if p.default is inspect.Parameter.empty
        and p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY, kinds.POSITIONAL_ONLY)
        and p.name not in names
    ]
    if missing:
        raise DataError(
            f"logpdf requires argument(s) {missing} that are not declared in params."
        )


def _start_value(name: str, value: Any, constraint: Constraint) -> Any:
    """A user's start value: numeric, finite and inside the parameter's domain."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"start value of parameter {name!r} must be a number; got {value!r}.") from None
    if not np.all(np.isfinite(arr)):
        raise DataError(f"start value of parameter {name!r} must be finite; got {value!r}.")
    if not constraint.check(arr):
        raise DataError(
            f"start value {value!r} of parameter {name!r} lies outside its domain "
            f"({constraint.describe()})."
        )
    return float(arr) if arr.ndim == 0 else arr


def _default_start(constraint: Constraint) -> float:
    if isinstance(constraint, Interval):
        if isinstance(constraint.low, str) or isinstance(constraint.high, str):
            raise DataError("a parameter with a data-dependent bound needs a start value.")
        low, high = float(constraint.low), float(constraint.high)
        if np.isfinite(low) and np.isfinite(high):
            return 0.5 * (low + high)
        if np.isfinite(low):
            return low + 1.0
        if np.isfinite(high):
            return high - 1.0
        return 0.0
    raise DataError("vector or matrix parameters of a custom likelihood need start values.")


def custom(
    logpdf: Callable[..., Any],
    params: Mapping[str, Any],
    *,
    start: Mapping[str, float] | None = None,
    name: str = "custom",
    support: tuple[float, float] | None = None,
    discrete: bool = False,
) -> Family:
    r"""Build a family from a per-observation log-density written in ``jax.numpy``.

    Parameters
    ----------
    logpdf : callable
        ``logpdf(x, **params)`` returning the log-density of each observation
        (elementwise over ``x``), written with ``jax.numpy``.
    params : dict
        Parameter name -> constraint: a :mod:`thetahat.constraints` object,
        ``"real"``, ``"positive"``, ``"unit_interval"`` or a ``(low, high)`` tuple.
    start : dict, optional
        Start values; by default 0 (real), 1 (positive) or the interval midpoint.
    name : str, default="custom"
        Shown in summaries.
    support : (low, high), optional
        Closed range of valid observations, checked before fitting.
    discrete : bool, default=False
        True for a log-mass function (no change-of-variables term).

    Returns
    -------
    Family

    Examples
    --------
    A Rayleigh distribution, :math:`\log p(x\mid s) = \log x - 2\log s - x^2/(2s^2)`:

    >>> import jax.numpy as jnp, numpy as np, thetahat
    >>> rayleigh = thetahat.custom(
    ...     lambda x, s: jnp.log(x) - 2 * jnp.log(s) - x**2 / (2 * s**2),
    ...     params={"s": "positive"}, support=(0.0, np.inf), name="rayleigh")
    >>> x = np.random.default_rng(0).rayleigh(2.0, size=4000)
    >>> res = thetahat.fit(x, rayleigh)
    >>> bool(abs(res.params["s"] - np.sqrt(np.mean(x**2) / 2)) < 1e-9)
    True
    """
    if not callable(logpdf):
        raise DataError(f"logpdf must be callable; got {type(logpdf).__name__}.")
    if not params:
        raise DataError("a custom likelihood needs at least one parameter.")
    declared = tuple(
        Param(str(key), _as_constraint(str(key), spec), "shape") for key, spec in params.items()
    )
    names = tuple(p.name for p in declared)
    _check_signature(logpdf, names)
    start = dict(start or {})
    unknown = [k for k in start if k not in names]
    if unknown:
        raise DataError(f"start names {unknown} that are not parameters; the parameters are {list(names)}.")
    starts = {p.name: _default_start(p.constraint) for p in declared if p.name not in start}
    starts.update({p.name: _start_value(p.name, start[p.name], p.constraint) for p in declared if p.name in start})
    starts = {k: starts[k] for k in names}
    low, high = support if support is not None else (-np.inf, np.inf)
    cls = type(
        f"Custom_{name}",
        (_CustomFamily,),
        {
            "name": name,
            "params": declared,
            "support": Support(float(low), float(high), True, True, bool(discrete)),
            "is_discrete": bool(discrete),
        },
    )
    return cls(logpdf, starts)  # type: ignore[no-any-return]


class _CustomFamily(Family):
    """A family whose log-density is a user function (see :func:`custom`)."""

    _TRIAL_ROWS = 8

    def __init__(self, logpdf: Callable[..., Any], starts: dict[str, Any]) -> None:
        self._logpdf = logpdf
        self._starts = starts

    def logpdf(self, x: Any, **params: Any) -> Any:
        return self._logpdf(x, **params)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        self.check_logpdf(x, {**self._starts, **fixed})
        return dict(self._starts)

    def check_logpdf(self, x: np.ndarray, values: Mapping[str, Any]) -> None:
        """Trace the log-density once on the first rows: it must be jax-traceable
        and return one value per observation (not a total), else a DataError."""
        rows = np.asarray(x, dtype=float)[: self._TRIAL_ROWS]
        if rows.shape[0] == 0:
            return
        with jax.enable_x64(True):
            trial_x = jnp.asarray(rows)
            trial_p = {k: jnp.asarray(np.asarray(v, dtype=float)) for k, v in values.items()}
            try:
                out = jax.eval_shape(lambda xx, p: self._logpdf(xx, **p), trial_x, trial_p)
            except Exception as exc:  # the user's function failed: report why
                raise DataError(
                    f"the log-density of {self.name!r} failed on a trial call at the start values "
                    f"({type(exc).__name__}: {exc}). It must be written with jax.numpy, take the "
                    "data as its first argument and the declared parameters as keywords."
                ) from exc
        shape = getattr(out, "shape", None)
        if shape != rows.shape[:1]:
            raise DataError(
                f"the log-density of {self.name!r} must return one value per observation "
                f"(shape {rows.shape[:1]} for {rows.shape[0]} observations); it returned "
                f"shape {shape}. Return the elementwise log-density, not a total."
            )
