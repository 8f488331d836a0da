"""Weighted k-means++ seeding and Lloyd iterations: the starting partitions of EM.

EM only needs a reasonable partition to start from, so k-means runs on a
random subsample of at most :data:`MAX_INIT_ROWS` rows: its cost stays
bounded at any N, and EM on the full data does the rest.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_INIT_ROWS", "kmeans_plusplus", "lloyd", "subsample"]

#: Rows used for the k-means start; beyond this, a uniform subsample.
MAX_INIT_ROWS = 16384


def subsample(
    x: np.ndarray, w: np.ndarray, rng: np.random.Generator, rows: int = MAX_INIT_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``rows`` rows (with their weights), drawn uniformly without replacement."""
    if x.shape[0] <= rows:
        return x, w
    idx = rng.choice(x.shape[0], rows, replace=False)
    return x[idx], w[idx]


def _sq_dist(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    # Explicit differences, not the |x|^2 - 2x.c + |c|^2 expansion: no
    # cancellation for data far from the origin.
    diff = x[:, None, :] - centers[None, :, :]
    return np.einsum("nkd,nkd->nk", diff, diff)


def kmeans_plusplus(
    x: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Greedy weighted k-means++ seeds (Arthur & Vassilvitskii 2007).

    Each new center is the best, by total weighted squared distance, of
    ``2 + log k`` candidates drawn with probability proportional to
    weight x squared distance to the nearest existing center.
    """
    n = x.shape[0]
    trials = 2 + int(np.log(k))
    p = w / w.sum()
    centers = [x[rng.choice(n, p=p)]]
    closest = _sq_dist(x, np.asarray(centers))[:, 0]
    for _ in range(1, k):
        mass = w * closest
        total = mass.sum()
        if total <= 0:  # every point coincides with a center already
            candidates = rng.choice(n, size=trials, p=p)
        else:
            candidates = rng.choice(n, size=trials, p=mass / total)
        dist = np.minimum(closest[:, None], _sq_dist(x, x[candidates]))
        best = int(np.argmin((w[:, None] * dist).sum(axis=0)))
        centers.append(x[candidates[best]])
        closest = dist[:, best]
    return np.asarray(centers)


def lloyd(
    x: np.ndarray, w: np.ndarray, centers: np.ndarray, max_iter: int = 100
) -> np.ndarray:
    """Weighted Lloyd iterations from ``centers``; returns the labels.

    Stops when no label changes. An empty cluster keeps its previous center.
    """
    labels = np.argmin(_sq_dist(x, centers), axis=1)
    k = centers.shape[0]
    for _ in range(max_iter):
        mass = np.bincount(labels, weights=w, minlength=k)
        sums = np.stack(
            [np.bincount(labels, weights=w * x[:, j], minlength=k) for j in range(x.shape[1])],
            axis=1,
        )
        filled = mass > 0
        centers = centers.copy()
        centers[filled] = sums[filled] / mass[filled, None]
        new = np.argmin(_sq_dist(x, centers), axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels
