"""The family protocol: what a distribution declares once.

A family declares, as data, its parameters (:class:`Param`: name, constraint,
how it moves when the data are rescaled) and its support (:class:`Support`),
and writes ``logpdf(x, **params)`` once in ``jax.numpy``. Gradients, Hessians,
standard errors and compilation are derived from that by the engine.

Optional hooks, each defaulting to "use the generic path":

* ``sufficient_stats(x, w)`` + ``loglik_from_stats(stats, **params)`` -- the
  log-likelihood as a function of a few weighted sums, so that the fit, the
  loglik and the observed information cost one pass over the data;
* ``stats_terms(x, shift)`` + ``stats_from_sums(summary)`` -- the same
  statistics from sums of per-observation terms in ``jax.numpy``, which
  large unweighted data get in one fused pass (:mod:`thetahat.stats_pass`);
* ``mle(x, w, fixed)`` / ``mle_from_stats(stats, fixed)`` -- a closed form (or
  a one-dimensional profile) for the maximum-likelihood estimate; return
  ``None`` when the given combination of fixed parameters has none;
* ``initial_params(x, w, fixed)`` -- data-driven start values in the domain;
* ``scipy_dist(**params)`` -- the equivalent frozen ``scipy.stats`` distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from thetahat.constraints import Constraint

__all__ = ["Family", "Param", "Role", "Support"]

#: How a parameter moves when the data are mapped to (x - m) / s:
#: location -> (theta - m)/s, scale -> theta/s, rate -> theta*s,
#: log_location -> theta - log s (lognormal mu), shape -> unchanged.
Role = Literal["location", "scale", "rate", "log_location", "shape"]


@dataclass(frozen=True)
class Param:
    """One parameter of a family.

    Parameters
    ----------
    name : str
        Canonical name, e.g. ``"sigma"``.
    constraint : Constraint
        Its domain; the optimiser works through the matching bijection.
    role : {"location", "scale", "rate", "log_location", "shape"}, default="shape"
        How it transforms when the data are shifted and rescaled.
    default : float or None, default=None
        If given, the parameter is held at this value unless the user frees it
        with ``free=[name]`` (e.g. the threshold ``loc=0`` of the gamma).
    known : bool, default=False
        A known constant that the user must supply in ``fixed``
        (the number of trials of the binomial).
    doc : str
        One line for the summary and documentation.
    """

    name: str
    constraint: Constraint
    role: Role = "shape"
    default: float | None = None
    known: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Support:
    """The set of possible observations.

    ``low``/``high`` are numbers; ``low_param`` names a parameter that replaces
    ``low`` (a threshold ``loc``), ``high_param`` one that replaces ``high``
    (the binomial ``n``). ``integer`` marks count data.
    """

    low: float = -np.inf
    high: float = np.inf
    low_closed: bool = False
    high_closed: bool = False
    integer: bool = False
    low_param: str | None = None
    high_param: str | None = None

    def bounds(self, values: dict[str, float]) -> tuple[float, float]:
        """Numeric (low, high) given the values of fixed parameters."""
        low = values.get(self.low_param, self.low) if self.low_param else self.low
        high = values.get(self.high_param, self.high) if self.high_param else self.high
        return float(low), float(high)

    def contains_range(self, low: float, high: float, values: dict[str, float]) -> bool:
        """Whether [low, high] lies inside the support's bounds (integrality aside)."""
        lo, hi = self.bounds(values)
        above_low = low >= lo if self.low_closed else low > lo
        below_high = high <= hi if self.high_closed else high < hi
        return bool(above_low and below_high)

    def outside(self, x: np.ndarray, values: dict[str, float]) -> np.ndarray:
        """Boolean mask of observations outside the support."""
        low, high = self.bounds(values)
        below = x < low if self.low_closed else x <= low
        above = x > high if self.high_closed else x >= high
        bad = below | above
        if self.integer:
            bad |= x != np.floor(x)
        return bad

    def describe(self, values: dict[str, float]) -> str:
        """E.g. ``"(0, inf)"`` or ``"integers in [0, 10]"``."""
        low, high = self.bounds(values)
        left = "[" if self.low_closed else "("
        right = "]" if self.high_closed else ")"
        text = f"{left}{low:g}, {high:g}{right}"
        return f"integers in {text}" if self.integer else text


class Family:
    """Base class of every distribution family (see the module docstring).

    Subclasses set the class attributes and implement :meth:`logpdf`.
    Instances are immutable and hashable by identity, which lets the engine
    cache one compiled likelihood per family.
    """

    name: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    support: ClassVar[Support] = Support()
    #: "location-scale": data may be shifted and scaled before the numerical
    #: fit; "robust location-scale": the same, but heavy tails are scaled by
    #: the interquartile range instead of the range (Student-t, Cauchy);
    #: "scale": only scaled (support anchored at 0); "none": neither.
    standardize: ClassVar[str] = "none"
    is_discrete: ClassVar[bool] = False
    #: 1 for scalar observations, 2 for rows of a matrix (multivariate).
    data_ndim: ClassVar[int] = 1
    #: Parameters whose MLE sits on the support boundary (uniform ends,
    #: Pareto scale): no Wald standard error exists for them.
    irregular: ClassVar[tuple[str, ...]] = ()
    #: Parameter -> value beyond which the estimate has run off to a limit of
    #: the family (Student-t df -> infinity is the normal): reported as a
    #: boundary estimate instead of a point on a flat likelihood plateau.
    divergent: ClassVar[dict[str, float]] = {}
    #: Typical parameter values: drive the registry tests (sampling,
    #: recovery, comparison with scipy) and the documentation examples.
    example_params: ClassVar[dict[str, Any]] = {}
    #: Keyword arguments the example needs in ``fit`` (e.g. known trials).
    example_fit_kwargs: ClassVar[dict[str, Any]] = {}

    #: Name of a vector parameter that enters the log-density only through a
    #: linear predictor ``eta = design(x) @ value`` (regression coefficients),
    #: with ``logpdf(x, **params) == local_logpdf(x, eta, **others)``; None
    #: for most families. The likelihood then forms the Hessian by the chain
    #: rule, X' diag(d2 l / d eta2) X, instead of differentiating through X.
    linear_coef: ClassVar[str | None] = None

    #: Name of a threshold parameter ``t`` above which the log-density is
    #: linear in a few features of the data: ``logpdf(x, **params) ==
    #: a + b @ threshold_features(x, t)`` with ``(a, b) = natural(**params)``
    #: (e.g. the gamma's ``(log(x - t), x - t)``, a tuple of row arrays);
    #: None for most families.
    #: The derivative sweeps of the likelihood then need only the weighted
    #: sums of the features and of their first two derivatives in ``t`` (one
    #: cheap pass over the data), not autodiff through every row; checked
    #: against the generic path by the tests.
    threshold_param: ClassVar[str | None] = None

    # -- declared once -------------------------------------------------
    def logpdf(self, x: Any, **params: Any) -> Any:
        """Elementwise log-density (log-mass) in ``jax.numpy``; -inf off support."""
        raise NotImplementedError

    def design(self, x: Any) -> tuple[Any, int]:
        """``(M, k)``: the design matrix of the linear predictor is ``M[:, k:]`` (families with ``linear_coef``).

        The whole ``M`` is returned with the first design column ``k``, so that
        the likelihood multiplies ``M`` itself: slicing columns out of a
        row-major array copies it on every pass (measured 3x the cost of a
        logistic-regression pass).
        """
        raise NotImplementedError(f"{self.name} has no linear predictor")

    def local_logpdf(self, x: Any, eta: Any, **others: Any) -> Any:
        """Log-density given the linear predictor ``eta`` (families with ``linear_coef``)."""
        raise NotImplementedError(f"{self.name} has no linear predictor")

    def threshold_features(self, x: Any, t: Any) -> Any:
        """The m features ``T(x, t)`` of rows above the threshold, a tuple of (n,) arrays (families with ``threshold_param``)."""
        raise NotImplementedError(f"{self.name} declares no threshold features")

    def natural(self, **params: Any) -> tuple[Any, Any]:
        """``(a, b)`` with ``logpdf = a + b @ T(x, t)`` above the threshold (families with ``threshold_param``)."""
        raise NotImplementedError(f"{self.name} declares no threshold features")

    # -- optional hooks ------------------------------------------------
    def param_shapes(self, x: np.ndarray) -> dict[str, tuple[int, ...]]:
        """Shapes of vector/matrix parameters for data ``x`` (scalars omitted)."""
        return {}

    def initial_params(
        self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]
    ) -> dict[str, Any]:
        """Start values inside the domain, from (standardised) data."""
        raise NotImplementedError(f"{self.name} declares no start values")

    def mle(
        self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Closed-form MLE from the data, or None to use the numerical path."""
        return None

    def degenerate_when_constant(
        self, free: Sequence[str], value: float, fixed: dict[str, Any]
    ) -> bool:
        """True when observations all equal to ``value`` leave no finite MLE.

        By default: some free parameter is a scale, rate or shape (a spread of
        zero). Families whose scale is measured from a fixed origin (the
        exponential above its threshold, the half-normal) override it.
        """
        return any(self.param(n).role in ("scale", "rate", "shape") for n in free)

    def limit_fit(
        self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]
    ) -> tuple[float, dict[str, Any]] | None:
        """The fit at a limit of the family that lies outside its parameter space.

        ``(log-likelihood, start)``: the maximised log-likelihood of the limiting
        model (Student-t's normal as df -> infinity) and start values heading
        there, or None. A numerical fit that ends below that log-likelihood
        stopped at a local maximum: it is solved again from ``start``, which
        reaches the limit (a boundary estimate, see ``divergent``).
        """
        return None

    def sufficient_stats(self, x: np.ndarray, w: np.ndarray) -> tuple[Any, ...] | None:
        """Weighted sufficient statistics, or None if the family has none."""
        return None

    def mle_from_stats(
        self, stats: tuple[Any, ...], fixed: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Closed-form MLE from sufficient statistics, or None."""
        return None

    #: Indices of :meth:`stats_terms` with a transcendental function that is
    #: not shared with another term: the fused pass sums them in loops of
    #: their own, where XLA vectorises it.
    stats_heavy_terms: tuple[int, ...] = ()

    def stats_terms(self, x: Any, shift: Any) -> tuple[Any, ...]:
        """Per-observation terms (jax.numpy) whose sums give :meth:`sufficient_stats`.

        ``shift`` is a value inside the data to take deviations about. A term
        is NaN where a value is invalid for the family in a way its range
        does not show (a count that is not an integer).
        """
        raise NotImplementedError

    def stats_from_sums(self, summary: Any) -> tuple[Any, ...] | None:
        """:meth:`sufficient_stats` of unweighted data from a
        :class:`thetahat.stats_pass.DataSummary` of them, or None where the
        sums would lose digits or do not determine them (the caller then
        takes the numpy passes; the fused pass has still checked the data)."""
        return None

    def stats_apply(self, fixed: dict[str, Any]) -> bool:
        """Whether :meth:`sufficient_stats` of the data as given can give the MLE under ``fixed``.

        False (e.g. a free threshold, where the statistics depend on it) skips
        computing them: a pass over the data the numerical path does not use.
        """
        return True

    def loglik_from_stats(self, stats: Any, **params: Any) -> Any:
        """The total log-likelihood from sufficient statistics (jax.numpy)."""
        raise NotImplementedError

    def scipy_dist(self, **params: Any) -> Any:
        """The equivalent frozen ``scipy.stats`` distribution, or None."""
        return None

    # -- derived ----------------------------------------------------------
    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of all parameters in declaration order."""
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        """The :class:`Param` called ``name``."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def has_stats(self) -> bool:
        """True when the family overrides the sufficient-statistic hooks."""
        return type(self).sufficient_stats is not Family.sufficient_stats

    @property
    def has_stats_terms(self) -> bool:
        """True when the family's statistics can come from one fused pass."""
        return type(self).stats_terms is not Family.stats_terms

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __repr__(self) -> str:
        return f"<family {self.name}: {', '.join(self.param_names)}>"
