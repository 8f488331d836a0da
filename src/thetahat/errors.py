"""One exception and warning hierarchy for thetahat.

Every problem with the user's data is a :class:`DataError` (a ``ValueError``),
every failure of the estimation itself a :class:`FitError` (a ``RuntimeError``).
Warnings are thetahat's own classes so that users can filter or escalate them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ThetahatError",
    "DataError",
    "FitError",
    "ThetahatWarning",
    "ConvergenceWarning",
    "DegenerateWarning",
    "BoundaryWarning",
    "HessianWarning",
]


class ThetahatError(Exception):
    """Root of every exception raised by thetahat."""


class DataError(ThetahatError, ValueError):
    """The data (or an argument describing it) cannot be fitted as given."""


class FitError(ThetahatError, RuntimeError):
    """The estimation failed, e.g. ``strict=True`` and the optimiser did not converge."""


class ThetahatWarning(UserWarning):
    """Root of every warning emitted by thetahat."""


class ConvergenceWarning(ThetahatWarning):
    """The optimiser stopped before the score vanished."""


class BoundaryWarning(ThetahatWarning):
    """The estimate lies on (or runs into) the boundary of the parameter space."""


class HessianWarning(ThetahatWarning):
    """The observed information is singular or not positive definite."""


class DegenerateWarning(ThetahatWarning):
    """A mixture component is empty, collapsed onto a point, or a column is constant."""


def describe_bad_values(values: np.ndarray, bad: np.ndarray) -> str:
    """Return ``"<count> value(s); the first is <value> at index <i>"`` for a mask.

    Used by every validator so that messages share one shape.
    """
    bad = np.asarray(bad)
    flat_bad = bad.reshape(-1) if bad.ndim else bad.reshape(1)
    count = int(flat_bad.sum())
    first = int(np.flatnonzero(flat_bad)[0])
    value = np.asarray(values).reshape(-1)[first]
    value = value.item() if hasattr(value, "item") else value  # 2.0, not np.float64(2.0)
    index: object = first
    if bad.ndim > 1:
        index = tuple(int(i) for i in np.unravel_index(first, bad.shape))
    noun = "value" if count == 1 else "values"
    return f"{count} {noun}; the first is {value!r} at index {index}"
