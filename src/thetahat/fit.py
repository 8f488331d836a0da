"""The one entry point: ``fit(x, family)``.

Pipeline: validate data -> resolve free/fixed parameters -> standardise ->
closed form (sufficient statistics) or trust-region Newton -> observed
information -> FitResult in the user's units. Large unweighted data headed
for a closed form are validated and summed in one compiled pass
(:mod:`thetahat.stats_pass`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from thetahat.constraints import Interval
from thetahat.data import Standardizer, as_float_array, finite_range, is_unit, validate_weights
from thetahat.errors import DataError, describe_bad_values
from thetahat.families import get_family
from thetahat.families.base import Family
from thetahat.inference import split_packed, stats_information, unpack_jacobian
from thetahat.likelihood import CHUNK, Layout
from thetahat.optimize import (
    LARGE,
    Solution,
    TrustRegionNewton,
    bucket_rows,
    device_data,
    eval_vgh,
    pad_to_bucket,
    solve,
    subsample,
)
from thetahat.result import FitResult
from thetahat.stats_pass import DataSummary, summarize
from thetahat.transforms import biject_to

__all__ = ["fit"]


def fit(
    x: ArrayLike,
    family: str | Family,
    *,
    fixed: Mapping[str, Any] | None = None,
    free: Sequence[str] = (),
    bounds: Mapping[str, tuple[float, float]] | None = None,
    weights: ArrayLike | None = None,
    start: Mapping[str, Any] | None = None,
    tol: float = 1e-12,
    max_iter: int = 200,
    strict: bool = False,
    method: str = "auto",
    prior: Mapping[str, Any] | None = None,
) -> FitResult:
    """Fit ``family`` to the observations ``x`` by maximum likelihood.

    Parameters
    ----------
    x : array_like
        Observations: 1-D, or (n_samples, n_features) for multivariate families.
    family : str or Family
        A name from :func:`thetahat.families` or a :class:`Family` instance
        (e.g. from :func:`thetahat.custom`).
    fixed : dict, optional
        Parameters held at given values, e.g. ``{"loc": 0.0}``.
    free : sequence of str, default=()
        Parameters with a default value to estimate instead, e.g. ``["loc"]``
        for the three-parameter gamma, Weibull or lognormal.
    bounds : dict, optional
        Name -> (low, high), narrowing a parameter's domain (open interval).
    weights : array_like, optional
        Non-negative frequency weights, one per observation.
    start : dict, optional
        Start values overriding the data-driven ones.
    tol : float, default=1e-12
        Newton-decrement tolerance (see :class:`TrustRegionNewton`).
    max_iter : int, default=200
        Iteration limit of the optimiser.
    strict : bool, default=False
        Raise :class:`FitError` instead of warning when the fit does not converge.
    method : {"auto", "numerical"}, default="auto"
        "auto" uses the family's closed form when it has one; "numerical"
        forces the generic optimiser (to cross-check a closed form).
    prior : dict, optional
        Parameter name -> prior distribution (any object with a
        ``jax.numpy``-traceable ``logpdf(value)``). The fit then maximises
        log-likelihood + log-prior (the MAP estimate), and ``cov`` is the
        Laplace approximation of the posterior; ``loglik`` stays the
        log-likelihood at the estimate.

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(0).gamma(2.0, 3.0, size=500)
    >>> res = thetahat.fit(x, "gamma")
    >>> round(res.params["shape"], 2), res.converged
    (2.22, True)
    """
    if method not in ("auto", "numerical"):
        raise DataError(f"method must be 'auto' or 'numerical'; got {method!r}.")
    # One switch to float64 for the whole fit: JAX's dispatch of a compiled
    # function is slower on the first call after each switch.
    with jax.enable_x64(True):
        return _fit(
            x, family, weights, fixed, free, bounds, start, tol, max_iter, strict, method, prior
        )


def _fit(
    x: ArrayLike,
    family: str | Family,
    weights: ArrayLike | None,
    fixed: Mapping[str, Any] | None,
    free: Sequence[str],
    bounds: Mapping[str, tuple[float, float]] | None,
    start: Mapping[str, Any] | None,
    tol: float,
    max_iter: int,
    strict: bool,
    method: str,
    prior: Mapping[str, Any] | None,
) -> FitResult:
    fam = get_family(family)
    x_arr = as_float_array(x, ndim=fam.data_ndim, check_finite=False)
    # One min/max pass serves the finiteness and support checks, degeneracy
    # and standardisation; on large unweighted data headed for a closed form
    # it also takes the sums the closed form needs (stats_pass).
    fused = (
        fam.has_stats_terms and weights is None and method == "auto" and not bounds and not prior
    )
    data_range = None if fused else finite_range(x_arr)
    w = validate_weights(weights, x_arr.shape[0])
    used = x_arr if is_unit(w) else x_arr[w > 0]  # zero weight = deleted, for shapes too
    if used is not x_arr:
        data_range = (float(used.min()), float(used.max()))
    spec = _ParamSpec.build(fam, used, fixed, free, bounds, start, prior)
    summary = summarize(fam, x_arr) if fused and fam.stats_apply(spec.fixed) else None
    if summary is not None and not summary.finite:
        summary = None  # a bad value: the numpy checks name it
    if data_range is None:
        data_range = (summary.low, summary.high) if summary is not None else finite_range(x_arr)
    # The terms of a fused pass are NaN at values that are not counts, so a
    # finite summary has checked them already.
    _check_support(fam, x_arr, spec, data_range if used is x_arr else None,
                   counts_checked=summary is not None)
    _check_enough_data(fam, used, spec, data_range)
    solver = TrustRegionNewton(tol, max_iter)
    return _Estimation(fam, x_arr, w, spec, solver, strict, used, data_range, summary).run(method)


@dataclass
class _ParamSpec:
    """Which parameters are free, their fixed values, shapes, bounds and starts."""

    free: list[str]
    fixed: dict[str, Any]
    shapes: dict[str, tuple[int, ...]]
    bounds: dict[str, tuple[float, float]]
    start: dict[str, Any]
    prior: dict[str, Any]
    _n_free: int | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        fam: Family,
        x: np.ndarray,
        fixed: Mapping[str, Any] | None,
        free: Sequence[str],
        bounds: Mapping[str, tuple[float, float]] | None,
        start: Mapping[str, Any] | None,
        prior: Mapping[str, Any] | None = None,
    ) -> _ParamSpec:
        fixed = dict(fixed or {})
        prior = dict(prior or {})
        bounds = dict(bounds or {})
        start = dict(start or {})
        names = fam.param_names
        for arg, given in (
            ("fixed", fixed), ("free", free), ("bounds", bounds), ("start", start), ("prior", prior)
        ):
            unknown = [k for k in given if k not in names]
            if unknown:
                raise DataError(
                    f"{arg} names unknown parameter(s) {unknown} of family {fam.name!r}; "
                    f"its parameters are {list(names)}."
                )
        clash = [k for k in free if k in fixed]
        if clash:
            raise DataError(f"parameter(s) {clash} are both free and fixed; choose one.")
        values: dict[str, Any] = {}
        shapes = fam.param_shapes(x)
        for p in fam.params:
            if p.name in fixed:
                values[p.name] = _numeric_value("fixed", p.name, fixed[p.name], shapes.get(p.name, ()))
            elif p.known:
                raise DataError(
                    f"family {fam.name!r} needs the known value of {p.name!r} "
                    f"({p.doc or 'a known constant'}): pass fixed={{'{p.name}': ...}}."
                )
            elif p.default is not None and p.name not in free:
                values[p.name] = np.asarray(p.default, dtype=float)
        for name, value in values.items():
            constraint = fam.param(name).constraint
            if isinstance(constraint, Interval):
                constraint = constraint.resolve(*_UNKNOWN_DATA_RANGE)
            if not constraint.check(value):
                raise DataError(
                    f"fixed value of {name!r} must be {constraint.describe()}; "
                    f"got {np.asarray(value).tolist()!r}."
                )
        free_names = [p.name for p in fam.params if p.name not in values]
        bounds = {name: _valid_bounds(name, b) for name, b in bounds.items()}
        for name, value in list(start.items()):
            value = _numeric_value("start", name, value, shapes.get(name, ()))
            constraint = _numeric(fam.param(name).constraint)
            if name in free_names and not constraint.check(value):
                raise DataError(
                    f"start value of {name!r} must be {constraint.describe()}; got {value.tolist()!r}."
                )
            start[name] = value
        for name, dist in prior.items():
            if name not in free_names:
                raise DataError(f"prior given for {name!r}, which is not a free parameter.")
            if not callable(getattr(dist, "logpdf", None)):
                raise DataError(
                    f"prior for {name!r} must have a logpdf(value) method; got {type(dist).__name__}."
                )
        return cls(free_names, values, shapes, bounds, start, prior)

    def n_free(self, fam: Family) -> int:
        """Free scalar parameters: the dimension of the unconstrained space
        (a k-category simplex has k - 1, a d x d covariance d(d+1)/2)."""
        if self._n_free is None:  # asked twice per fit: counted once
            self._n_free = sum(
                biject_to(_numeric(fam.param(n).constraint), self.shapes.get(n, ())).size
                for n in self.free
            )
        return self._n_free


def _check_support(
    fam: Family,
    x: np.ndarray,
    spec: _ParamSpec,
    x_range: tuple[float, float] | None = None,
    counts_checked: bool = False,
) -> None:
    values = {k: float(v) for k, v in spec.fixed.items() if np.ndim(v) == 0}
    support = fam.support
    if support.low_param in spec.free:  # a free threshold follows the data
        values[support.low_param] = -np.inf
    # The range decides for continuous supports; the elementwise mask (which
    # costs passes over the data) is built only for counts or a violation.
    if x_range is None:
        x_range = (float(x.min()), float(x.max()))
    integer = support.integer and not counts_checked
    if not integer and support.contains_range(*x_range, values):
        return
    bad = support.outside(x, values)
    if bad.any():
        raise DataError(
            f"x has values outside the support {support.describe(values)} of the "
            f"{fam.name} family: {describe_bad_values(x, bad)}. "
            "Check the data or choose a family whose support contains it."
        )


def _check_enough_data(
    fam: Family, used: np.ndarray, spec: _ParamSpec, data_range: tuple[float, float]
) -> None:
    n_obs = used.shape[0]
    k = spec.n_free(fam)
    # Counts and categories have closed-form MLEs (possibly on the boundary)
    # from any number of observations; multivariate families check their
    # scatter matrix themselves.
    if n_obs < k and not fam.is_discrete and fam.data_ndim == 1:
        raise DataError(
            f"{n_obs} observation(s) with positive weight cannot identify {k} free "
            f"parameters of the {fam.name} family; fix some parameters or add data."
        )
    if fam.is_discrete or fam.data_ndim != 1:
        return
    shape_like = [
        n for n in spec.free if fam.param(n).role in ("scale", "rate", "shape")
    ]
    if k >= 3 and data_range[0] != data_range[1]:
        # Fewer distinct values than parameters: the likelihood is unbounded
        # (e.g. a Student-t collapsing onto two points). A prefix usually
        # settles it without sorting everything.
        distinct = np.unique(used[:10000]).size
        if distinct < k:
            distinct = np.unique(used).size
        if distinct < k:
            raise DataError(
                f"only {distinct} distinct values for {k} free parameters of the {fam.name} "
                "family: the MLE does not exist. Fix some parameters or add data."
            )
    constant = data_range[0] == data_range[1]
    degenerate = constant and fam.degenerate_when_constant(spec.free, data_range[0], spec.fixed)
    if shape_like and degenerate:
        raise DataError(
            f"all {n_obs} observations are identical (value {float(used[0])!r}): the MLE of "
            f"{shape_like} for the {fam.name} family is degenerate. "
            "Fix those parameters or use data with spread."
        )


class _Estimation:
    """One fit in progress; ``run`` returns the FitResult."""

    def __init__(
        self,
        fam: Family,
        x: np.ndarray,
        w: np.ndarray,
        spec: _ParamSpec,
        solver: TrustRegionNewton,
        strict: bool,
        used: np.ndarray,
        data_range: tuple[float, float],
        summary: DataSummary | None = None,
    ) -> None:
        self.fam, self.x, self.w, self.spec = fam, x, w, spec
        self.solver, self.strict = solver, strict
        self.used, self.data_range, self.summary = used, data_range, summary
        self.std = Standardizer()

    @cached_property
    def numerical_std(self) -> Standardizer:
        """The numerical path's standardisation (closed forms on moderate data
        use the raw data instead, see run: found only when needed)."""
        return Standardizer.for_data(self.used, self.fam.standardize, self.data_range)

    def _standardize(self, std: Standardizer) -> None:
        """Work in the units of ``std`` from here on (data, fixed values, bounds)."""
        self.std = std
        # Large data are standardised straight into the solver's padded
        # layout (pad_to_bucket then adds no copy).
        big = self.x.shape[0] > CHUNK and not std.is_identity
        self.xs = std.data(self.x, bucket_rows(self.x.shape[0], self.x.shape[1:]) if big else None)
        extreme = not Standardizer.is_moderate(*self.data_range)
        if extreme and np.count_nonzero(self.xs) != np.count_nonzero(self.x != std.shift):
            raise DataError(
                f"x spans too many orders of magnitude for float64 ({self.data_range[0]!r} to "
                f"{self.data_range[1]!r}): rescaling for the {self.fam.name} fit turns some "
                "non-zero values into 0. Remove or rescale the extreme values."
            )
        self.fixed_std = {
            k: std.param_to_std(self.fam.param(k).role, v) for k, v in self.spec.fixed.items()
        }
        self.log_prior = _log_prior_function(self.fam, self.spec.prior, std)

    # -- the steps ----------------------------------------------------------
    def run(self, method: str = "auto") -> FitResult:
        fam = self.fam
        if method == "numerical" or self.spec.bounds or self.spec.prior:
            # User bounds may exclude the closed-form estimate: the bounded
            # optimiser is the only path that honours them.
            self._standardize(self.numerical_std)
            return self._numerical()
        # Closed forms are exact on raw data of moderate magnitude (their
        # two-pass sums need no shift): skip the standardised copy.
        moderate = Standardizer.is_moderate(*self.data_range)
        self._standardize(Standardizer() if moderate else self.numerical_std)
        applies = fam.has_stats and fam.stats_apply(self.fixed_std)
        stats = self._sufficient_stats() if applies else None
        closed = fam.mle_from_stats(stats, self.fixed_std) if stats is not None else None
        if closed is None:
            closed = fam.mle(self.xs, self.w, self.fixed_std)
            stats = None  # the statistics did not produce this estimate
        if closed is not None:
            return self._from_closed_form(closed, stats)
        self._standardize(self.numerical_std)
        return self._numerical()

    def _sufficient_stats(self) -> Any:
        # The fused pass's sums are in raw units: usable when the closed form
        # works on the raw data, and when they kept their digits.
        if self.summary is not None and self.std.is_identity:
            stats = self.fam.stats_from_sums(self.summary)
            if stats is not None:
                return stats
        return self.fam.sufficient_stats(self.xs, self.w)

    def _layout(
        self, free: Sequence[str], data_range: tuple[float, float] | None = None
    ) -> tuple[Layout, np.ndarray]:
        """The layout of ``free`` and its (n_free, 2) bounds in standardised units.

        ``data_range`` (raw units) overrides the fitted data's (min, max) for
        thresholds bounded by the data, e.g. when refitting resampled data.
        """
        fam = self.fam
        lo_data, hi_data = (
            float(self.std.data(np.asarray(v))) for v in (data_range or self.data_range)
        )
        entries, bounds = [], []
        for name in free:
            constraint = fam.param(name).constraint
            shape = self.spec.shapes.get(name, ())
            if isinstance(constraint, Interval):
                constraint = constraint.resolve(lo_data, hi_data)
                if name in self.spec.bounds:
                    role = fam.param(name).role
                    low, high = (self.std.param_to_std(role, b) for b in self.spec.bounds[name])
                    constraint = constraint.intersect(*sorted((float(low), float(high))))
                bounds.append((float(constraint.low), float(constraint.high)))
            else:
                bounds.append((-np.inf, np.inf))
            entries.append((name, biject_to(constraint, shape)))
        fixed_names = tuple(
            (k, tuple(np.shape(v))) for k, v in self.fixed_std.items() if k not in free
        )
        layout = Layout(fam, tuple(entries), fixed_names, self.log_prior)
        return layout, np.asarray(bounds, dtype=float).reshape(len(free), 2)

    def _fixed_flat(self, layout: Layout, extra: dict[str, Any]) -> np.ndarray:
        values = {**self.fixed_std, **extra}
        parts = [np.ravel(np.asarray(values[k], dtype=float)) for k, _ in layout.fixed]
        return np.concatenate(parts) if parts else np.zeros(0)

    def _numerical(self) -> FitResult:
        fam, spec = self.fam, self.spec
        if not spec.free:  # everything fixed: only the log-likelihood to evaluate
            return self._at_point({}, None, None, [])
        layout, bounds = self._layout(spec.free)
        # On large data, start values from a strided subsample are as good
        # a start and cost a fraction (solve refines on a subsample first too).
        sub = subsample(self.xs, self.w) if self.xs.shape[0] >= LARGE else None
        start = fam.initial_params(*(sub or (self.xs, self.w)), self.fixed_std)
        for name, value in spec.start.items():
            start[name] = self.std.param_to_std(fam.param(name).role, np.asarray(value, float))
        start = {k: _inside(v, bounds[i]) for i, (k, _) in enumerate(layout.free) for v in [start[k]]}
        self._check_prior_covers(start)
        z0 = layout.pack(start, bounds)
        fixed_flat = self._fixed_flat(layout, {})
        sol = solve(layout, z0, self.xs, self.w, fixed_flat, bounds, self.solver, sub=sub)
        sol = self._not_below_limit(layout, sol, fixed_flat, bounds, sub)
        if not np.isfinite(sol.nll):
            where = "at the start values" if sol.n_iter == 0 else "where the optimiser stopped"
            raise DataError(
                f"the {fam.name} log-likelihood is not finite {where}: the log-density "
                "returns -inf or nan for some observations. Check the data against the "
                "model's support, or give start values inside it."
            )
        flat, _ = unpack_jacobian(layout, sol.z, fixed_flat, bounds)
        at_bound = _at_user_bounds(layout, bounds, flat, self.spec.bounds)
        at_bound += self._diverged(layout, flat)
        if at_bound and (sol.converged or set(at_bound) & set(fam.divergent)):
            # The optimum sits on a user bound: the information there is
            # singular in z, so condition on the bounded parameters instead.
            values = dict(zip(layout.free_names, _split_flat(layout, flat)))
            return self._at_point(values, None, sol, at_bound)
        return self._result(layout, bounds, fixed_flat, sol, method="trust-region Newton")

    def _not_below_limit(
        self,
        layout: Layout,
        sol: Solution,
        fixed_flat: np.ndarray,
        bounds: np.ndarray,
        sub: tuple[np.ndarray, np.ndarray] | None,
    ) -> Solution:
        """``sol``, or a solve from the family's limit when that fits better.

        A model never has a lower maximum than a model nested in it: an
        optimum below the limit's (:meth:`Family.limit_fit`) is a local one.
        Bounds may exclude the limit and a prior changes the objective: no
        comparison then.
        """
        if self.spec.bounds or self.spec.prior or not np.isfinite(sol.nll):
            return sol
        limit = self.fam.limit_fit(self.xs, self.w, self.fixed_std)
        if limit is None:
            return sol
        loglik, start = limit
        if -sol.nll >= loglik - 1e-9 * (1.0 + abs(loglik)):
            return sol
        start = {k: _inside(start[k], bounds[i]) for i, (k, _) in enumerate(layout.free)}
        z0 = layout.pack(start, bounds)
        again = solve(layout, z0, self.xs, self.w, fixed_flat, bounds, self.solver, sub=sub)
        return again if again.nll < sol.nll else sol

    def _diverged(self, layout: Layout, flat: np.ndarray) -> list[str]:
        """Free parameters past the family's divergence limit (data units)."""
        hits = []
        for name, value in zip(layout.free_names, _split_flat(layout, flat)):
            limit = self.fam.divergent.get(name)
            role = self.fam.param(name).role
            if limit is not None and np.all(self.std.param_from_std(role, value) > limit):
                hits.append(name)
        return hits

    def _check_prior_covers(self, start_std: dict[str, Any]) -> None:
        """A prior with no mass at the data's own estimate is a user error, not a fit."""
        for name, dist in self.spec.prior.items():
            value = self.std.param_from_std(self.fam.param(name).role, np.asarray(start_std[name]))
            with jax.enable_x64(True):
                density = float(jnp.sum(dist.logpdf(jnp.asarray(value, dtype=jnp.float64))))
            if not np.isfinite(density):
                raise DataError(
                    f"the prior for {name!r} gives zero density at the data-driven estimate "
                    f"{np.round(value, 6).tolist()}: its support excludes where the likelihood "
                    "lies. Widen the prior, or use bounds= to restrict the parameter instead."
                )

    def _from_closed_form(self, closed: dict[str, Any], stats: Any) -> FitResult:
        return self._at_point(closed, stats, None, [])

    def _at_point(
        self, estimate: dict[str, Any], stats: Any, sol: Solution | None, on_bound: list[str]
    ) -> FitResult:
        """Result at a known optimum (closed form, or an optimum on a bound)."""
        fam = self.fam
        all_std = {**self.fixed_std, **{k: np.asarray(v, float) for k, v in estimate.items()}}
        # Parameters on the boundary of their domain (rate 0 of all-zero
        # counts), on the support (uniform ends) or on a user bound get no Wald SE.
        boundary = [
            n for n in self.spec.free
            if n not in fam.irregular and (n in on_bound or not _strictly_inside(fam, n, all_std[n]))
        ]
        regular = [n for n in self.spec.free if n not in fam.irregular and n not in boundary]
        layout, bounds = self._layout(regular)
        extra = {k: all_std[k] for k in self.spec.free if k not in regular}
        layout = Layout(
            fam,
            layout.free,
            layout.fixed + tuple((k, tuple(np.shape(v))) for k, v in extra.items()),
            layout.log_prior,
        )
        fixed_flat = self._fixed_flat(layout, extra)
        z = layout.pack(all_std, bounds)
        unpacked = None
        if stats is not None:
            exact = {k: all_std[k] for k in regular}
            f, g, h, unpacked = stats_information(layout, z, stats, fixed_flat, bounds, exact)
        else:
            value, grad, hess = self._data_vgh(layout, z, fixed_flat, bounds)
            f, g, h = float(value), np.asarray(grad), np.asarray(hess)
        if sol is None:
            sol = Solution(z, f, g, h, 0, 0.0, True, "closed form", unpacked)
            method = "closed form"
        else:
            sol = Solution(z, f, g, h, sol.n_iter, sol.decrement, True,
                           "converged to a bound", unpacked)
            method = "trust-region Newton"
        return self._result(layout, bounds, fixed_flat, sol, method=method,
                            boundary=tuple(boundary), extra=extra,
                            exact={k: all_std[k] for k in regular})

    def _data_vgh(self, layout: Layout, z: np.ndarray, fixed_flat: np.ndarray, bounds: np.ndarray) -> Any:
        data = device_data(*pad_to_bucket(self.xs, self.w), layout)
        return eval_vgh(layout, z, data, jnp.asarray(fixed_flat), jnp.asarray(bounds))

    def _result(
        self,
        layout: Layout,
        bounds: np.ndarray,
        fixed_flat: np.ndarray,
        sol: Solution,
        method: str,
        boundary: tuple[str, ...] = (),
        extra: dict[str, Any] | None = None,
        exact: dict[str, Any] | None = None,
    ) -> FitResult:
        from thetahat._assemble import assemble_result

        return assemble_result(
            self, layout, bounds, fixed_flat, sol, method, boundary, extra or {}, exact
        )


def _log_prior_function(
    fam: Family, prior: Mapping[str, Any], std: Standardizer
) -> Callable[[dict[str, Any]], Any] | None:
    """Sum of the priors' log-densities, taking standardised parameter values."""
    if not prior:
        return None
    roles = {name: fam.param(name).role for name in prior}

    def log_prior(params_std: dict[str, Any]) -> Any:
        return sum(
            jnp.sum(dist.logpdf(std.param_from_std(roles[name], params_std[name])))
            for name, dist in prior.items()
        )

    return log_prior


def _numeric_value(arg: str, name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A fixed or start value as a float array of the parameter's shape, or DataError."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{arg} value of {name!r} must be numeric; got {value!r}.") from None
    if arr.shape != tuple(shape):
        raise DataError(
            f"{arg} value of {name!r} must have shape {tuple(shape)}; got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{arg} value of {name!r} must be finite; got {value!r}.")
    return arr


def _valid_bounds(name: str, given: Any) -> tuple[float, float]:
    """User bounds as (low, high) numbers with low < high (inf allowed), or DataError."""
    try:
        low, high = (float(b) for b in given)
    except (TypeError, ValueError):
        raise DataError(
            f"bounds of {name!r} must be a (low, high) pair of numbers; got {given!r}."
        ) from None
    if np.isnan(low) or np.isnan(high) or not low < high:
        raise DataError(f"bounds of {name!r} must satisfy low < high; got {given!r}.")
    return low, high


#: (data_min, data_max) when the data are not at hand: a bound "below min(x)"
#: becomes no bound at all, so fixed values are checked only where they can be.
_UNKNOWN_DATA_RANGE = (np.inf, -np.inf)


def _numeric(constraint: Any) -> Any:
    return constraint.resolve(*_UNKNOWN_DATA_RANGE) if isinstance(constraint, Interval) else constraint


def _split_flat(layout: Layout, flat: np.ndarray) -> list[np.ndarray]:
    return split_packed(flat, [bij.shape for _, bij in layout.free])


def _at_user_bounds(
    layout: Layout, bounds: np.ndarray, flat: np.ndarray, user: Mapping[str, Any]
) -> list[str]:
    """Scalar free parameters that ended on a bound the user imposed."""
    hits = []
    for i, ((name, bij), value) in enumerate(zip(layout.free, _split_flat(layout, flat))):
        if name not in user or bij.shape != ():
            continue
        low, high = bounds[i]
        width = high - low if np.isfinite(high - low) else max(1.0, abs(float(value)))
        if min(float(value) - low, high - float(value)) < 1e-7 * width:
            hits.append(name)
    return hits


def _inside(value: Any, bound: np.ndarray) -> Any:
    low, high = bound
    value = np.asarray(value, dtype=float)
    if np.isfinite(low) and np.isfinite(high):
        width = high - low
        return np.clip(value, low + 1e-3 * width, high - 1e-3 * width)
    if np.isfinite(low):
        return np.maximum(value, low + 1e-3 * max(1.0, abs(low)) * 1e-3)
    if np.isfinite(high):
        return np.minimum(value, high - 1e-3 * max(1.0, abs(high)) * 1e-3)
    return value


def _strictly_inside(fam: Family, name: str, value: Any) -> bool:
    constraint = fam.param(name).constraint
    if isinstance(constraint, Interval):
        constraint = constraint.resolve(*_UNKNOWN_DATA_RANGE)
        return constraint.check(value)
    value = np.asarray(value, dtype=float)
    if constraint.describe().startswith("a probability"):
        return bool(np.all(value > 0))
    return constraint.check(value)
