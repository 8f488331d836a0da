"""Parameter domains.

A constraint says which values a parameter may take. It knows how to check a
value and which bijection (:mod:`thetahat.transforms`) maps the whole real line
(or R^k) onto it, so optimisers only ever see unconstrained vectors.

Bounds may be numbers or the names ``"data_min"`` / ``"data_max"``: a threshold
parameter such as the gamma ``loc`` must stay below the smallest observation,
which is only known at fit time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import numpy as np

Bound = Union[float, str]

__all__ = [
    "Constraint",
    "Interval",
    "Simplex",
    "PositiveDefinite",
    "real",
    "positive",
    "unit_interval",
    "greater_than",
    "less_than",
    "interval",
    "simplex",
    "positive_definite",
]


class Constraint:
    """Base class: the domain of one (scalar, vector or matrix) parameter."""

    def check(self, value: np.ndarray) -> bool:
        """Return True when ``value`` lies inside the domain."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short human-readable description used in error messages."""
        raise NotImplementedError


@dataclass(frozen=True)
class Interval(Constraint):
    """The open interval ``(low, high)``; either end may be infinite.

    ``low``/``high`` may be ``"data_min"``/``"data_max"``, resolved at fit time.
    """

    low: Bound = -np.inf
    high: Bound = np.inf

    def resolve(self, data_min: float, data_max: float) -> Interval:
        """Replace symbolic data bounds by numbers."""
        subst = {"data_min": data_min, "data_max": data_max}
        low = subst[self.low] if isinstance(self.low, str) else self.low
        high = subst[self.high] if isinstance(self.high, str) else self.high
        return Interval(float(low), float(high))

    def intersect(self, low: float, high: float) -> Interval:
        """The intersection with user bounds ``[low, high]``."""
        assert not isinstance(self.low, str) and not isinstance(self.high, str)
        return Interval(max(float(self.low), low), min(float(self.high), high))

    def check(self, value: np.ndarray) -> bool:
        low = -np.inf if isinstance(self.low, str) else self.low
        high = np.inf if isinstance(self.high, str) else self.high
        if np.ndim(value) == 0:  # the common scalar case, without array reductions
            v = float(value)
            return math.isfinite(v) and low < v < high
        value = np.asarray(value, dtype=float)
        finite = bool(np.all(np.isfinite(value)))
        return finite and bool(np.all((value > low) & (value < high)))

    def describe(self) -> str:
        if self.low == -np.inf and self.high == np.inf:
            return "real"
        if self.high == np.inf:
            return "positive" if self.low == 0 else f"greater than {self.low}"
        if self.low == -np.inf:
            return f"less than {self.high}"
        return f"in the open interval ({self.low}, {self.high})"


@dataclass(frozen=True)
class Simplex(Constraint):
    """Probability vectors: non-negative entries that sum to one."""

    def check(self, value: np.ndarray) -> bool:
        value = np.asarray(value, dtype=float)
        return bool(np.all(value >= 0) and abs(value.sum() - 1.0) < 1e-9)

    def describe(self) -> str:
        return "a probability vector (non-negative, summing to 1)"


@dataclass(frozen=True)
class PositiveDefinite(Constraint):
    """Symmetric positive-definite matrices."""

    def check(self, value: np.ndarray) -> bool:
        value = np.asarray(value, dtype=float)
        if value.ndim != 2 or value.shape[0] != value.shape[1]:
            return False
        if not np.allclose(value, value.T):
            return False
        return bool(np.all(np.linalg.eigvalsh(value) > 0))

    def describe(self) -> str:
        return "a symmetric positive-definite matrix"


real = Interval()
positive = Interval(0.0, np.inf)
unit_interval = Interval(0.0, 1.0)
simplex = Simplex()
positive_definite = PositiveDefinite()


def greater_than(low: Bound) -> Interval:
    """The open half-line ``(low, inf)``."""
    return Interval(low, np.inf)


def less_than(high: Bound) -> Interval:
    """The open half-line ``(-inf, high)``."""
    return Interval(-np.inf, high)


def interval(low: Bound, high: Bound) -> Interval:
    """The open interval ``(low, high)``."""
    return Interval(low, high)
