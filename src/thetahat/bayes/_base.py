"""The prior base class and hyperparameter validation shared by every prior."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np

from thetahat.errors import DataError

__all__ = ["Prior"]

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def real_number(owner: str, name: str, value: Any) -> float:
    """A finite real hyperparameter as a Python float, or DataError naming it."""
    arr = np.asarray(value) if not isinstance(value, (str, bytes)) else None
    if arr is None or arr.ndim != 0 or arr.dtype.kind not in "iuf":
        raise DataError(f"{owner} hyperparameter {name!r} must be a real number; got {value!r}.")
    v = float(arr)
    if not math.isfinite(v):
        raise DataError(f"{owner} hyperparameter {name!r} must be finite; got {v!r}.")
    return v


def positive_number(owner: str, name: str, value: Any, meaning: str) -> float:
    v = real_number(owner, name, value)
    if not v > 0:
        raise DataError(
            f"{owner} hyperparameter {name!r} ({meaning}) must be positive; got {v!r}. "
            f"Choose {name} > 0."
        )
    return v


class Prior:
    """Base class of the prior distributions.

    Subclasses are frozen dataclasses whose fields are the hyperparameters.
    ``_checks`` maps a field to ``(kind, meaning)``, kind ``"real"`` or
    ``"positive"``; ``__post_init__`` converts and validates those fields.
    Any object with a ``jax.numpy``-traceable ``logpdf(value)`` works as a
    prior for ``thetahat.fit(..., prior=...)``; subclassing adds validation,
    ``to_scipy`` and the support check of :func:`~thetahat.bayes.validate_prior`.

    Examples
    --------
    >>> from thetahat.bayes import Beta, Prior
    >>> prior = Beta(2, 3)
    >>> isinstance(prior, Prior), prior.hyperparameters(), prior.describe_support()
    (True, {'a': 2.0, 'b': 3.0}, '[0, 1]')
    """

    _checks: ClassVar[dict[str, tuple[str, str]]] = {}

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name, (kind, meaning) in self._checks.items():
            value = getattr(self, name)
            checked = (
                positive_number(owner, name, value, meaning) if kind == "positive" else real_number(owner, name, value)
            )
            object.__setattr__(self, name, checked)

    def logpdf(self, value: Any) -> Any:
        """Log-density at ``value`` in ``jax.numpy`` (-inf outside the support)."""
        raise NotImplementedError

    def to_scipy(self) -> Any:
        """The equivalent frozen ``scipy.stats`` distribution."""
        raise NotImplementedError(f"scipy.stats has no equivalent of {type(self).__name__}.")

    def in_support(self, value: Any) -> bool:
        """True when ``value`` lies in the closure of the support."""
        v = np.asarray(value, dtype=float)
        low, high = self.support()
        return bool(np.all((v >= low) & (v <= high)))

    def support(self) -> tuple[float, float]:
        """(low, high) ends of the support of a scalar prior."""
        return -math.inf, math.inf

    def describe_support(self) -> str:
        """E.g. ``"[0, 1]"``."""
        low, high = self.support()
        return f"[{low:g}, {high:g}]"

    def hyperparameters(self) -> dict[str, Any]:
        """Name -> value of the hyperparameters."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


def log_positive(value: Any) -> tuple[Any, Any]:
    """(value > 0, log of value where positive, 0 elsewhere): finite, safe gradients."""
    v = jnp.asarray(value)
    inside = v > 0
    return inside, jnp.log(jnp.where(inside, v, 1.0))
