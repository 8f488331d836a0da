r"""Mixture components: a family, its free parameters, and its weighted M-step.

Each component's M-step maximises its share of the expected complete-data
log-likelihood, :math:`\sum_n w_n r_{nk} \log p_k(x_n \mid \theta_k)`: a
weighted MLE with the responsibilities as weights. Where the family has a
weighted closed form (normal, lognormal, Poisson, exponential, geometric) it is
written here in ``jax.numpy`` (tested against the generic path); every other
family runs the engine's own trust-region Newton solver on the weighted
log-likelihood, warm-started at the current value, so each M-step can only
raise the objective and EM stays monotone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax.numpy as jnp
import numpy as np

from thetahat.constraints import Interval
from thetahat.errors import DataError
from thetahat.families import Family, get_family
from thetahat.likelihood import Layout
from thetahat.optimize import _compiled_solver
from thetahat.transforms import Bijector, biject_to

__all__ = ["Component", "make_component", "CLOSED_FORMS"]

#: Newton iterations allowed per M-step (warm-started: usually 1-3 suffice).
M_STEP_MAX_ITER = 50
M_STEP_TOL = 1e-12


def _inverse(bij: Bijector, theta: Any, low: Any, high: Any) -> Any:
    """jax.numpy inverse of the elementwise bijectors (clamped inside the domain)."""
    tiny = jnp.finfo(jnp.float64).tiny
    if bij.kind == "identity":
        return theta
    if bij.kind == "lower":
        return jnp.log(jnp.maximum(theta - low, tiny))
    if bij.kind == "upper":
        return jnp.log(jnp.maximum(high - theta, tiny))
    u = jnp.clip((theta - low) / (high - low), 1e-300, 1 - 1e-16)
    return jnp.log(u) - jnp.log1p(-u)


def _mean(x: Any, w: Any) -> Any:
    return jnp.sum(w * x) / jnp.sum(w)


def _normal(x: Any, w: Any) -> dict[str, Any]:
    mu = _mean(x, w)
    return {"mu": mu, "sigma": jnp.sqrt(_mean((x - mu) ** 2, w))}


def _lognormal(x: Any, w: Any) -> dict[str, Any]:
    logs = jnp.log(jnp.where(w > 0, x, 1.0))
    mu = _mean(logs, w)
    return {"mu": mu, "sigma": jnp.sqrt(_mean((logs - mu) ** 2, w))}


def _poisson(x: Any, w: Any) -> dict[str, Any]:
    return {"rate": _mean(x, w)}


def _exponential(x: Any, w: Any) -> dict[str, Any]:
    return {"rate": 1.0 / _mean(x, w)}


def _geometric(x: Any, w: Any) -> dict[str, Any]:
    # Failures before the first success (support 0, 1, ...): p = 1 / (1 + mean).
    return {"p": 1.0 / (1.0 + _mean(x, w))}


#: family name -> weighted closed-form MLE (all defaults held fixed at 0).
CLOSED_FORMS: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "normal": _normal,
    "lognormal": _lognormal,
    "poisson": _poisson,
    "exponential": _exponential,
    "geometric": _geometric,
}


@dataclass(frozen=True)
class Component:
    """One component: family, free parameters and their unconstrained layout."""

    family: Family
    layout: Layout
    #: (low, high) of each free parameter; tuples keep the component hashable,
    #: so that compiled EM programs are cached per set of components.
    bounds_tuple: tuple[tuple[float, float], ...]
    fixed_items: tuple[tuple[str, float], ...]

    @property
    def free(self) -> tuple[str, ...]:
        return self.layout.free_names

    @property
    def bounds(self) -> np.ndarray:
        return np.asarray(self.bounds_tuple, dtype=float).reshape(-1, 2)

    @property
    def fixed(self) -> dict[str, float]:
        return dict(self.fixed_items)

    @property
    def fixed_flat(self) -> np.ndarray:
        return np.asarray([v for _, v in self.fixed_items], dtype=float)

    @property
    def size(self) -> int:
        return self.layout.size

    @property
    def closed_form(self) -> Callable[[Any, Any], dict[str, Any]] | None:
        """The weighted closed form, when it applies to this set of fixed values."""
        form = CLOSED_FORMS.get(self.family.name)
        if form is None or any(v != 0.0 for v in self.fixed.values()):
            return None
        return form

    def unpack(self, z: Any) -> dict[str, Any]:
        return self.layout.unpack(z, jnp.asarray(self.fixed_flat), jnp.asarray(self.bounds))

    def pack(self, params: dict[str, Any]) -> np.ndarray:
        return self.layout.pack(params, self.bounds)

    def logpdf(self, x: Any, z: Any) -> Any:
        return self.family.logpdf(x, **self.unpack(z))

    def m_step(self, z: Any, x: Any, w: Any, *, exact: bool = True) -> Any:
        """The weighted MLE, warm-started at ``z`` (traceable).

        ``exact=False`` forces the generic Newton path (used to test the
        closed forms against it).
        """
        total = jnp.sum(w)
        form = self.closed_form if exact else None
        if form is not None:
            theta = form(x, w)
            z_new = jnp.concatenate([
                jnp.reshape(_inverse(bij, theta[name], self.bounds[i, 0], self.bounds[i, 1]), -1)
                for i, (name, bij) in enumerate(self.layout.free)
            ])
        else:
            solve = _compiled_solver(self.layout)
            z_new = solve(z, x, w, jnp.asarray(self.fixed_flat), jnp.asarray(self.bounds),
                          M_STEP_TOL, M_STEP_MAX_ITER)[0]
        # An (almost) empty component keeps its parameters: it has no data
        # to estimate them from, and its weight already says so.
        keep = (total > 1e-10 * jnp.sum(jnp.ones_like(w))) & jnp.all(jnp.isfinite(z_new))
        return jnp.where(keep, z_new, z)


def make_component(spec: Any) -> Component:
    """A :class:`Component` from a family name, a Family, or ``(family, fixed)``.

    ``fixed`` holds known constants (binomial ``n``) or values to hold fixed,
    in data units. Thresholds (``loc``) stay at their default 0.
    """
    fixed_user: dict[str, float] = {}
    if isinstance(spec, tuple):
        spec, fixed_user = spec[0], dict(spec[1])
    family = get_family(spec) if isinstance(spec, str) else spec
    if not isinstance(family, Family):
        raise DataError(f"a mixture component must be a family name or Family; got {spec!r}.")
    if family.data_ndim != 1:
        raise DataError(f"mixture components must be univariate; {family.name} is not.")
    unknown = set(fixed_user) - set(family.param_names)
    if unknown:
        raise DataError(f"{family.name} has no parameter(s) {sorted(unknown)}.")
    fixed: dict[str, float] = {}
    entries, bounds = [], []
    for p in family.params:
        if p.name in fixed_user:
            fixed[p.name] = float(fixed_user[p.name])
        elif p.known:
            raise DataError(
                f"{family.name} needs its known {p.name!r}: give the component as "
                f"({family.name!r}, {{{p.name!r}: value}})."
            )
        elif p.default is not None:
            fixed[p.name] = float(p.default)
        else:
            constraint = p.constraint
            if not isinstance(constraint, Interval):
                raise DataError(f"{family.name} has a non-scalar parameter {p.name!r}.")
            entries.append((p.name, biject_to(constraint)))
            bounds.append((float(constraint.low), float(constraint.high)))
    fixed_names = tuple((name, ()) for name in fixed)
    layout = Layout(family, tuple(entries), fixed_names)
    return Component(family, layout, tuple(bounds), tuple(fixed.items()))
