"""Input validation and internal standardisation.

Everything that enters a fit passes through here first, so that every bad
input gets the same kind of message: the problem, how many values, the first
offending one, and what to do about it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thetahat.errors import DataError, describe_bad_values

__all__ = ["as_float_array", "finite_range", "is_unit", "strided_rows", "validate_weights", "Standardizer"]


def as_float_array(
    x: ArrayLike, *, name: str = "x", ndim: int = 1, check_finite: bool = True
) -> NDArray[np.float64]:
    """Convert ``x`` to a float64 array of the given ndim, or raise DataError.

    ints, bools, float32 and numeric object arrays are cast to float64
    (no integer overflow later); strings and other objects are rejected;
    NaN and inf are rejected with their count and first position (unless
    ``check_finite=False``: the caller checks, e.g. by :func:`finite_range`).
    The input is never modified.
    """
    if hasattr(x, "to_numpy"):  # pandas / polars Series and DataFrames
        x = x.to_numpy()
    arr = np.asarray(x)
    if arr.dtype.kind in "Mm":
        raise DataError(
            f"{name} must be numeric; got {arr.dtype.name} (dates or durations). "
            "Convert them to numbers in the unit you mean first."
        )
    if arr.dtype.kind in "USO" or arr.dtype.kind == "V":
        try:
            # Strings are rejected alike whether stored as str or inside an
            # object array: "1.5" is text, not a measurement.
            if arr.dtype.kind in "US" or any(
                isinstance(v, (str, bytes)) for v in arr.reshape(-1)
            ):
                raise TypeError
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            flat = arr.reshape(-1)
            bad = np.array([isinstance(v, (str, bytes)) or not _is_number(v) for v in flat])
            detail = describe_bad_values(flat, bad) if bad.any() else "non-numeric dtype"
            raise DataError(
                f"{name} must be numeric; got {arr.dtype.name} data with {detail}. "
                "Convert the column to numbers first (e.g. pandas.to_numeric)."
            ) from None
    if arr.dtype.kind == "c":
        raise DataError(f"{name} must be real-valued; got complex data.")
    arr = np.asarray(arr, dtype=np.float64)
    if ndim == 1 and arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != ndim:
        want = "a 1-D array of observations" if ndim == 1 else "a 2-D array (n_samples, n_features)"
        raise DataError(f"{name} must be {want}; got an array of shape {arr.shape}.")
    if arr.shape[0] == 0:
        raise DataError(f"{name} is empty: at least one observation is needed.")
    # A sum is NaN or inf when any value is: one cheap reduction instead of an
    # isfinite mask, which is built only when the sum is not finite (a
    # non-finite value, or an overflow of finite ones).
    if check_finite and not np.isfinite(arr.sum()):
        _raise_if_not_finite(arr, name)
    return arr


def finite_range(arr: NDArray[np.float64], name: str = "x") -> tuple[float, float]:
    """``(min, max)`` of ``arr``, or DataError naming its NaN/inf values (min/max propagate them)."""
    low, high = float(arr.min()), float(arr.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        _raise_if_not_finite(arr, name)
    return low, high


def _raise_if_not_finite(arr: NDArray[np.float64], name: str) -> None:
    finite = np.isfinite(arr)
    if not finite.all():
        raise DataError(
            f"{name} contains non-finite values (NaN or inf): {describe_bad_values(arr, ~finite)}. "
            "Remove or impute them before fitting."
        )


def _is_number(v: Any) -> bool:
    if isinstance(v, (str, bytes)):
        return False
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def is_unit(w: np.ndarray) -> bool:
    """True for the read-only all-ones weights that stand for "no weights given"."""
    return w.ndim == 1 and w.strides[0] == 0 and w.shape[0] > 0 and w[0] == 1.0


def weight_total(w: np.ndarray) -> float:
    """Sum of the weights, without summing the all-ones view of "no weights"."""
    return float(w.shape[0]) if is_unit(w) else float(w.sum())


def strided_rows(a: np.ndarray, rows: int) -> np.ndarray:
    """Every k-th row of ``a``, exactly ``rows`` of them, or all of ``a`` below ``2 * rows`` rows.

    A stride (k >= 2) keeps sorted or grouped data representative, where the
    first rows would not be; a fixed row count keeps one compiled shape.
    """
    n = a.shape[0]
    if n < 2 * rows:
        return a
    return np.ascontiguousarray(a[:: n // rows][:rows])


_ONE = np.ones(1)
_ONE.flags.writeable = False


def validate_weights(weights: ArrayLike | None, n: int) -> NDArray[np.float64]:
    """Frequency weights: finite, non-negative, one per observation, not all zero.

    No weights give a zero-stride view of a single 1.0 (see :func:`is_unit`),
    which lets the closed forms skip multiplying by ones.
    """
    if weights is None:  # a read-only zero-stride view of one 1.0
        return np.ndarray((n,), np.float64, _ONE, 0, (0,))
    w = as_float_array(weights, name="weights")
    if w.shape[0] != n:
        raise DataError(f"weights must have one entry per observation ({n}); got {w.shape[0]}.")
    negative = w < 0
    if negative.any():
        raise DataError(f"weights must be non-negative: {describe_bad_values(w, negative)}.")
    if not (w > 0).any():
        raise DataError("weights are all zero: nothing to fit.")
    return w


#: A robust location-scale standardisation divides by at most this many
#: interquartile ranges (normal, logistic, Laplace data span fewer).
_TAIL_CAP = 64.0
#: Rows of the strided sample whose quartiles stand for large data's.
_QUARTILE_ROWS = 1 << 16


def _heavy_tails_capped(x: np.ndarray, shift: float, spread: float) -> tuple[float, float]:
    """(shift, spread) of a robust location-scale standardisation.

    Heavy tails (Cauchy, Student-t with df < 1) put the range at 1e5-1e7
    interquartile ranges: scaled by it, the fitted scale would be ~1e-7 and
    the information in it ~1e14 times that in the shape, beyond what a
    float64 eigendecomposition resolves. (x - mu) / sigma is the same on any
    scale: capping the spread at ``_TAIL_CAP`` interquartile ranges changes
    only the conditioning (not for light tails, whose scale estimate follows
    the outliers). The shift then moves to the median, where the bulk of the
    data is. The standardised data stay within 2^64: covariances square them.
    """
    quartiles = _quartiles(x)
    if quartiles is None or spread <= _TAIL_CAP * (quartiles[2] - quartiles[0]):
        return shift, spread
    return quartiles[1], max(_TAIL_CAP * (quartiles[2] - quartiles[0]), spread * 2.0**-64)


def _quartiles(x: np.ndarray) -> tuple[float, float, float] | None:
    """Quartiles of ``x`` (of a strided sample on large data); None unless they spread."""
    sample = np.ravel(x)[:: max(1, x.size // _QUARTILE_ROWS)]
    if sample.size < 4:
        return None
    low, mid, high = (float(q) for q in np.quantile(sample, [0.25, 0.5, 0.75]))
    return (low, mid, high) if high - low > 0 and math.isfinite(high - low) else None


@dataclass(frozen=True)
class Standardizer:
    """The affine map x -> (x - shift) / scale used inside a fit.

    ``scale`` is a power of two, so the division is exact: rescaling the data
    by 2^j gives bit-identical standardised data and exactly equivariant
    estimates. Parameters move by their declared role.
    """

    shift: float = 0.0
    scale: float = 1.0

    @classmethod
    def for_data(
        cls, x: np.ndarray, mode: str, data_range: tuple[float, float] | None = None
    ) -> Standardizer:
        """Pick shift and scale for data ``x`` (range ``data_range`` if known)
        under mode none/scale/location-scale/robust location-scale."""
        if mode == "none":
            return cls()
        lo, hi = data_range if data_range is not None else (float(x.min()), float(x.max()))
        lo, hi = float(lo), float(hi)  # Python floats: math is cheaper than numpy here
        if mode in ("location-scale", "robust location-scale"):
            shift = lo + (hi - lo) / 2 if math.isfinite(hi - lo) else lo / 2 + hi / 2
            spread = max(abs(hi - shift), abs(lo - shift))
            if not math.isfinite(spread):
                spread = max(abs(hi), abs(lo))
            if mode == "robust location-scale":
                shift, spread = _heavy_tails_capped(x, shift, spread)
        else:
            shift = 0.0
            spread = max(abs(hi), abs(lo))
        if spread == 0 or not math.isfinite(spread):
            return cls(shift, 1.0)
        # Clamp the exponent: 2**1024 overflows for spreads near 1.8e308.
        exponent = min(round(math.log2(spread)), 1023)
        return cls(shift, math.ldexp(1.0, exponent))

    @staticmethod
    def is_moderate(low: float, high: float) -> bool:
        """True when squares and reciprocals of the data cannot over/underflow."""
        biggest = max(abs(low), abs(high))
        return bool(biggest == 0 or 2.0**-80 < biggest < 2.0**80)

    @property
    def is_identity(self) -> bool:
        """True when standardising changes nothing (shift 0, scale 1)."""
        return self.shift == 0.0 and self.scale == 1.0

    def data(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Standardise observations (into ``out`` if given, else a copy; ``x`` itself if the map is identity)."""
        if self.is_identity:
            return x
        if self.shift == 0.0:
            return np.divide(x, self.scale, out=out)
        y = np.subtract(x, self.shift, out=out)
        y /= self.scale
        return y

    def param_to_std(self, role: str, value: Any) -> Any:
        """Map a parameter value from data units to standardised units."""
        return self._map(role, value, inverse=False)

    def param_from_std(self, role: str, value: Any) -> Any:
        """Map a parameter value from standardised units back to data units."""
        return self._map(role, value, inverse=True)

    def jacobian(self, role: str) -> float:
        """d theta / d theta_std for a parameter of this role (a constant)."""
        return {"location": self.scale, "scale": self.scale, "rate": 1.0 / self.scale}.get(
            role, 1.0
        )

    def _map(self, role: str, value: Any, inverse: bool) -> Any:
        if self.is_identity:  # the common case, kept cheap
            return value
        with np.errstate(over="ignore"):  # an unrepresentable estimate is caught by the caller
            return self._map_unchecked(role, value, inverse)

    def _map_unchecked(self, role: str, value: Any, inverse: bool) -> Any:
        m, s = self.shift, self.scale
        if role == "location":
            return value * s + m if inverse else (value - m) / s
        if role == "scale":
            return value * s if inverse else value / s
        if role == "rate":
            return value / s if inverse else value * s
        if role == "log_location":
            return value + np.log(s) if inverse else value - np.log(s)
        return value
