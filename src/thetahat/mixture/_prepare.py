"""Data preparation shared by the mixture estimators: standardise, pad, chunk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from thetahat.errors import DataError
from thetahat.likelihood import CHUNK
from thetahat.optimize import pad_to_bucket

__all__ = ["Prepared", "prepare_rows", "chunk_rows", "rng_from", "count_distinct_rows"]


def chunk_rows(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pad to a bucket size with zero-weight rows and cut into blocks of rows.

    Returns ``(chunks, rows, d)`` data and ``(chunks, rows)`` weights; a new
    sample size reuses an existing compilation.
    """
    xp, wp = pad_to_bucket(x, w)
    n = xp.shape[0]
    rows = min(n, CHUNK)
    return xp.reshape(n // rows, rows, x.shape[1]), wp.reshape(n // rows, rows)


@dataclass(frozen=True)
class Prepared:
    """Standardised, chunked data: x_std = (x - shift) / scale (scale a power of 2)."""

    x: np.ndarray
    w: np.ndarray
    xc: np.ndarray
    wc: np.ndarray
    shift: np.ndarray
    scale: float


def prepare_rows(x: np.ndarray, w: np.ndarray) -> Prepared:
    """Centre on the weighted column means and divide by a common power of two.

    One scale for all columns keeps every covariance structure (spherical
    included) equivariant; powers of two make the map exact.
    """
    total = w.sum()
    shift = (w @ x) / total
    spread = float(np.max(np.abs(x - shift))) if x.size else 0.0
    scale = 1.0 if spread == 0 or not np.isfinite(spread) else float(
        np.ldexp(1.0, int(np.round(np.log2(spread))))
    )
    xs = (x - shift) / scale
    xc, wc = chunk_rows(xs, w)
    return Prepared(xs, w, xc, wc, shift, scale)


def rng_from(random_state: Any) -> np.random.Generator:
    """A numpy Generator from None, an int, a Generator or a RandomState."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise DataError(
        f"random_state must be None, an int or a numpy random generator; got {random_state!r}."
    )


def count_distinct_rows(x: np.ndarray, w: np.ndarray, enough: int) -> int:
    """Distinct rows among those with positive weight, counted up to ``enough``.

    A prefix of the data usually shows ``enough`` distinct rows already, which
    avoids sorting all of a large data set.
    """
    used = x[w > 0] if not np.all(w > 0) else x
    if used.shape[0] == 0:
        return 0
    head = used[: 64 * enough]
    found = int(np.unique(head, axis=0).shape[0])
    if found >= enough or head.shape[0] == used.shape[0]:
        return found
    return int(np.unique(used, axis=0).shape[0])
