"""One compiled pass over large 1-D data: its range and a family's statistic sums.

A closed-form fit needs little from the data: their range (finiteness, the
support check, degeneracy, standardisation) and a few sums (the sufficient
statistics). numpy computes each in its own pass -- min, max, sum x, sum x^2,
a log for the gamma -- and rereads the data every time. Here XLA fuses them
into one read of the data, at memory speed, with the transcendental
functions vectorised.

A family opts in with :meth:`Family.stats_terms` (per-observation terms in
``jax.numpy``, NaN where a value is invalid for it, e.g. not an integer) and
:meth:`Family.stats_from_sums` (the sums -> the same statistics as
:meth:`Family.sufficient_stats`, or None where they would lose digits, when
the caller falls back to the numpy passes). Terms are taken about a shift,
a value inside the data, so that sums of deviations do not cancel.

The data are read where they are: JAX uses a float64 array without a copy
when it starts on a 64-byte boundary, so the pass skips up to seven leading
values to get there, and reads the rest in blocks of a few fixed lengths
(one compilation each, whatever the sample size). The leftover rows -- the
skipped head and what is shorter than the smallest block -- are copied into
one or two blocks of the smallest length, padded with a copy of one of them
(which leaves the range as it is), and the padding's terms are masked out.
The pass runs where JAX computes on the CPU; on an accelerator the numpy
passes, which read the data in place, are taken instead.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from thetahat._jit import jit

if TYPE_CHECKING:
    from thetahat.families.base import Family

__all__ = ["MIN_ROWS", "DataSummary", "summarize"]

#: Below this many rows the numpy passes cost less than the dispatches.
MIN_ROWS = 1 << 16
#: Block lengths, longest first: at most three blocks of each but the longest
#: (three lengths: a large fit compiles three kernels, not one per power of two).
_BLOCKS = (1 << 20, 1 << 18, 1 << 16)
#: JAX reads a host array in place when it starts on this boundary (bytes).
_ALIGN = 64
#: Values spread over the data whose mean is the shift.
_SHIFT_POINTS = 16


@dataclass(frozen=True)
class DataSummary:
    """What one pass learnt: ``low``/``high`` (min/max), the ``shift`` the
    terms were taken about, and ``sums`` of the family's terms (NaN if some
    value is invalid for the family or a sum overflowed)."""

    n: int
    low: float
    high: float
    shift: float
    sums: tuple[float, ...]

    @property
    def finite(self) -> bool:
        """True when the range and every sum are finite numbers."""
        values = (self.low, self.high, *self.sums)
        return all(math.isfinite(v) for v in values)


def summarize(fam: Family, x: np.ndarray) -> DataSummary | None:
    """Range and statistic sums of unweighted 1-D float64 ``x`` in one pass.

    None when the pass does not apply: the family declares no terms, ``x``
    has fewer than :data:`MIN_ROWS` rows or is not contiguous float64, or
    JAX computes on an accelerator (which would first copy the data over:
    the numpy passes read them where they are).
    """
    n = x.shape[0]
    if (
        x.ndim != 1
        or n < MIN_ROWS
        or x.dtype != np.float64
        or not x.flags.c_contiguous
        or not fam.has_stats_terms
        or not _on_cpu()
    ):
        return None
    if not jax.config.read("jax_enable_x64"):  # fit switches once: a switch slows dispatch
        with jax.enable_x64(True):
            return _summarize(fam, x)
    return _summarize(fam, x)


def _summarize(fam: Family, x: np.ndarray) -> DataSummary:
    n = x.shape[0]
    shift = float(np.mean(x[:: n // _SHIFT_POINTS]))
    address = x.__array_interface__["data"][0]
    head = (-(address % _ALIGN) // x.itemsize) % (_ALIGN // x.itemsize)
    if address % x.itemsize:
        head = 0  # not even 8-byte aligned: JAX copies, which is still right
    pieces = []
    start = head
    for size in _BLOCKS:
        repeats = 0
        while n - start >= size and (size == _BLOCKS[0] or repeats < 3):
            pieces.append(_kernel(fam, size, False)(x[start : start + size], shift))
            start += size
            repeats += 1
    # The rest -- the head and the tail, under two blocks -- is copied into
    # padded blocks, padded with a copy of one of its values, which leaves
    # min/max as they are; the terms of the padding are masked out.
    rest = [x[:head], x[start:]]
    buffers = _padding_buffers()
    while rest[0].size + rest[1].size:
        padded, count = buffers[len(pieces) % 2], 0
        for i, part in enumerate(rest):
            take = min(part.size, _BLOCKS[-1] - count)
            padded[count : count + take] = part[:take]
            count += take
            rest[i] = part[take:]
        padded[count:] = padded[0]
        pieces.append(_kernel(fam, _BLOCKS[-1], True)(padded, shift, count))
    parts = np.array([np.asarray(p) for p in pieces])  # cheaper than jax.device_get
    with np.errstate(invalid="ignore", over="ignore"):
        sums = parts[:, 2:].sum(axis=0).tolist()
    return DataSummary(n, float(parts[:, 0].min()), float(parts[:, 1].max()), shift, tuple(sums))


@lru_cache(maxsize=1)
def _on_cpu() -> bool:
    return bool(jax.default_backend() == "cpu")


_local = threading.local()


def _padding_buffers() -> tuple[np.ndarray, np.ndarray]:
    """This thread's two aligned padding blocks, allocated once.

    A fresh half-megabyte block costs page faults on every fit. Each fit
    waits for its results before returning, so the next one may reuse them.
    """
    if not hasattr(_local, "buffers"):
        _local.buffers = (_aligned_empty(_BLOCKS[-1]), _aligned_empty(_BLOCKS[-1]))
    return _local.buffers  # type: ignore[no-any-return]


def _aligned_empty(size: int) -> np.ndarray:
    buf = np.empty(size + _ALIGN // 8)
    skip = (-(buf.ctypes.data % _ALIGN) // 8) % (_ALIGN // 8)
    return buf[skip : skip + size]


def _combine(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    sums = (u + v for u, v in zip(a[2:], b[2:]))
    return (jnp.minimum(a[0], b[0]), jnp.maximum(a[1], b[1]), *sums)


@lru_cache(maxsize=None)
def _kernel(fam: Family, size: int, masked: bool) -> Any:
    """The compiled pass over one block of ``size`` rows (the first ``count`` if masked)."""
    heavy = set(fam.stats_heavy_terms)

    def block_pass(block: Any, shift: Any, count: Any = None) -> Any:
        terms = fam.stats_terms(block, shift)
        if masked:  # a multiplying mask: a select costs three times as much here
            used = (jnp.arange(size) < count).astype(block.dtype)
            terms = tuple(t * used for t in terms)
        # One variadic reduction: XLA then reads the block once for all the
        # outputs (separate reductions materialise shared intermediates).
        # min/max propagate NaN, so a NaN value shows in the range as well.
        light = [t for i, t in enumerate(terms) if i not in heavy]
        init = (jnp.inf, -jnp.inf) + (0.0,) * len(light)
        low, high, *light_sums = jax.lax.reduce((block, block, *light), init, _combine, (0,))
        # But XLA's CPU backend does not vectorise that loop, where a log
        # costs four times what it does in a plain sum: the heavy terms get
        # sums of their own, each over a distinct 2-D view so that XLA does
        # not merge them back into the shared loop.
        sums = iter(light_sums)
        out = [
            jnp.sum(t.reshape(-1, 64 << i)) if i in heavy else next(sums)
            for i, t in enumerate(terms)
        ]
        return jnp.stack([low, high, *out])

    return jit(block_pass)
