"""Custom likelihoods: a user's per-observation log-density becomes a family.

The result is an ordinary :class:`~thetahat.families.base.Family`, so it gets
exactly the treatment of a built-in one: the same optimiser, observed
information, standard errors, intervals and result object.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

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
        return interval(float(spec[0]), float(spec[1]))
    raise DataError(
        f"constraint of parameter {name!r} must be a Constraint, one of {sorted(_NAMED)} "
        f"or a (low, high) tuple; got {spec!r}."
    )


def _default_start(constraint: Constraint) -> float:
    if isinstance(constraint, Interval):
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
    >>> abs(res.params["s"] - np.sqrt(np.mean(x**2) / 2)) < 1e-9
    True
    """
    if not callable(logpdf):
        raise DataError(f"logpdf must be callable; got {type(logpdf).__name__}.")
    if not params:
        raise DataError("a custom likelihood needs at least one parameter.")
    declared = tuple(
        Param(str(key), _as_constraint(str(key), spec), "shape") for key, spec in params.items()
    )
    starts = {p.name: _default_start(p.constraint) for p in declared if p.name not in (start or {})}
    starts.update({k: float(v) for k, v in (start or {}).items()})
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

    def __init__(self, logpdf: Callable[..., Any], starts: dict[str, float]) -> None:
        self._logpdf = logpdf
        self._starts = starts

    def logpdf(self, x: Any, **params: Any) -> Any:
        return self._logpdf(x, **params)

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        return dict(self._starts)
