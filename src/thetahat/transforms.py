"""Bijections between each parameter domain and unconstrained space.

Optimisers see one flat real vector ``z``. Each parameter owns a slice of it
and a bijection ``forward(z) -> theta``; ``inverse`` maps start values in.
Constraints are enforced by the bijection, never by penalties, so every
trial point of the optimiser is a valid parameter.

Interval bounds are passed as *arguments* (``low``, ``high``) rather than baked
into the function, so that one compiled likelihood serves every dataset even
when a bound depends on the data (a threshold below ``min(x)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from thetahat.constraints import Constraint, Interval, PositiveDefinite, Simplex

__all__ = ["Bijector", "biject_to"]


@dataclass(frozen=True)
class Bijector:
    """A bijection R^size -> domain; ``kind`` selects the formula.

    kinds: ``identity``; ``lower`` (low + exp z); ``upper`` (high - exp z);
    ``interval`` (low + (high - low) * sigmoid z); ``simplex`` (softmax of
    ``[z, 0]``, the additive log-ratio); ``cholesky`` (L with log-diagonal,
    cov = L L^T).
    """

    kind: str
    shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        # Read on every fit: computed once (a plain attribute, not a field).
        if self.kind == "simplex":
            size = self.shape[0] - 1
        elif self.kind == "cholesky":
            size = self.shape[0] * (self.shape[0] + 1) // 2
        else:
            size = math.prod(self.shape)
        object.__setattr__(self, "_size", size)

    @property
    def size(self) -> int:
        """Length of this parameter's slice of the unconstrained vector."""
        return self._size  # type: ignore[attr-defined,no-any-return]

    def forward(self, z: Any, low: Any = -jnp.inf, high: Any = jnp.inf) -> Any:
        """Map the unconstrained slice ``z`` into the domain (jax.numpy)."""
        if self.kind == "identity":
            return z.reshape(self.shape)
        if self.kind == "lower":
            return (low + jnp.exp(z)).reshape(self.shape)
        if self.kind == "upper":
            return (high - jnp.exp(z)).reshape(self.shape)
        if self.kind == "interval":
            return (low + (high - low) * jax.nn.sigmoid(z)).reshape(self.shape)
        if self.kind == "simplex":
            return jax.nn.softmax(jnp.concatenate([z, jnp.zeros(1, z.dtype)]))
        if self.kind == "cholesky":
            d = self.shape[0]
            rows, cols = np.tril_indices(d)
            lower = jnp.zeros((d, d), z.dtype).at[rows, cols].set(z)
            diag = jnp.exp(jnp.diagonal(lower))
            lower = lower.at[np.arange(d), np.arange(d)].set(diag)
            return lower @ lower.T
        raise ValueError(f"unknown bijector kind {self.kind!r}")

    def forward_numpy(self, z: np.ndarray, low: float = -np.inf, high: float = np.inf) -> np.ndarray:
        """``forward`` for the elementwise kinds in plain numpy (no JAX dispatch)."""
        z = np.asarray(z, dtype=float)
        if self.kind == "identity":
            return z
        if self.kind == "lower":
            return low + np.exp(z)
        if self.kind == "upper":
            return high - np.exp(z)
        if self.kind == "interval":
            return low + (high - low) / (1.0 + np.exp(-z))
        raise ValueError(f"forward_numpy does not handle the {self.kind!r} bijector")

    def slope_numpy(self, z: np.ndarray, low: float = -np.inf, high: float = np.inf) -> np.ndarray:
        """d forward / dz of the elementwise kinds in plain numpy (the diagonal of the Jacobian)."""
        z = np.asarray(z, dtype=float)
        if self.kind == "identity":
            return np.ones_like(z)
        if self.kind == "lower":
            return np.exp(z)
        if self.kind == "upper":
            return -np.exp(z)
        if self.kind == "interval":
            sig = 1.0 / (1.0 + np.exp(-z))
            return (high - low) * sig * (1.0 - sig)
        raise ValueError(f"slope_numpy does not handle the {self.kind!r} bijector")

    def inverse(self, theta: Any, low: float = -np.inf, high: float = np.inf) -> np.ndarray:
        """Map a value of the domain to its unconstrained slice (numpy)."""
        theta = np.asarray(theta, dtype=float)
        tiny = np.finfo(float).tiny
        if self.kind == "identity":
            return theta.reshape(-1)
        if self.kind == "lower":
            return np.log(np.maximum(theta - low, tiny)).reshape(-1)
        if self.kind == "upper":
            return np.log(np.maximum(high - theta, tiny)).reshape(-1)
        if self.kind == "interval":
            u = np.clip((theta - low) / (high - low), 1e-300, 1 - 1e-16)
            return (np.log(u) - np.log1p(-u)).reshape(-1)
        if self.kind == "simplex":
            p = np.maximum(theta, 1e-300)
            return np.log(p[:-1]) - np.log(p[-1])
        if self.kind == "cholesky":
            lower = np.linalg.cholesky(theta)
            lower[np.diag_indices_from(lower)] = np.log(np.diag(lower))
            return lower[np.tril_indices(self.shape[0])]
        raise ValueError(f"unknown bijector kind {self.kind!r}")


def biject_to(constraint: Constraint, shape: tuple[int, ...] = ()) -> Bijector:
    """The bijector for ``constraint`` (with numeric bounds) and a parameter shape."""
    if isinstance(constraint, Simplex):
        return Bijector("simplex", shape)
    if isinstance(constraint, PositiveDefinite):
        return Bijector("cholesky", shape)
    if isinstance(constraint, Interval):
        has_low = not (isinstance(constraint.low, float | int) and constraint.low == -math.inf)
        has_high = not (isinstance(constraint.high, float | int) and constraint.high == math.inf)
        kind = {
            (False, False): "identity",
            (True, False): "lower",
            (False, True): "upper",
            (True, True): "interval",
        }[(has_low, has_high)]
        return Bijector(kind, shape)
    raise TypeError(f"no bijector for constraint {constraint!r}")
