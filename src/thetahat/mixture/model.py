r"""Finite mixtures of any univariate families, fitted by EM, with standard errors.

.. math::

    p(x \mid \theta) = \sum_{j=1}^{k} \pi_j\, p_j(x \mid \theta_j)

Standard errors come from the observed information of the *marginal*
log-likelihood at the EM optimum (the exact Hessian by autodiff, in the
natural parameters :math:`\pi_1..\pi_{k-1}, \theta_1..\theta_k`); the SE of
the last weight follows from :math:`\pi_k = 1 - \sum_{j<k} \pi_j`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike, NDArray

from thetahat.data import Standardizer, as_float_array, validate_weights
from thetahat.errors import ConvergenceWarning, DataError, DegenerateWarning, FitError
from thetahat.inference import invert_information
from thetahat.mixture.components import Component, make_component
from thetahat.mixture.kmeans import kmeans_plusplus, lloyd, subsample
from thetahat.mixture.program import programs
from thetahat.optimize import pad_to_bucket

__all__ = ["Mixture", "MixtureResult"]

SCREEN_ROWS = 4096
SCREEN_ITER = 100


@dataclass(frozen=True)
class MixtureResult:
    """A fitted mixture of families.

    Attributes
    ----------
    families : tuple of str
        Component families, in order.
    weights, weights_se : ndarray
        Mixing proportions and their standard errors.
    params, se : list of dict
        Each component's parameters (fixed ones included) and the standard
        errors of its free parameters.
    cov : ndarray
        Covariance of the free parameters, ordered as ``cov_names``.
    loglik : float
        Maximised log-likelihood (weighted).
    trace : ndarray
        Log-likelihood after each EM iteration (never decreases).
    """

    families: tuple[str, ...]
    weights: NDArray[np.float64]
    weights_se: NDArray[np.float64]
    params: list[dict[str, float]]
    se: list[dict[str, float]]
    cov: NDArray[np.float64]
    cov_names: tuple[str, ...]
    loglik: float
    nobs: float
    n_free: int
    trace: NDArray[np.float64]
    n_iter: int
    converged: bool
    hessian_ok: bool
    hessian_message: str
    _mixture: Mixture = field(repr=False, compare=False)
    _state_std: Any = field(repr=False, compare=False)
    _std: Standardizer = field(repr=False, compare=False)

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_free

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.n_free * float(np.log(self.nobs))

    def logpdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Log-density of the fitted mixture at ``x``."""
        return self._rows(x)[0]

    def predict_proba(self, x: ArrayLike) -> NDArray[np.float64]:
        """Posterior probability of each component at each ``x``: ``(n, k)``."""
        return self._rows(x)[1]

    def _rows(self, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        arr = as_float_array(x)
        xs = self._std.data(arr)
        xp, _ = pad_to_bucket(xs, np.ones(xs.shape[0]))
        comps = self._mixture._components(self._std)
        with jax.enable_x64(True):
            norm, resp = programs(comps, 2).rows(self._state_std, jnp.asarray(xp))
        jac = 0.0 if self._mixture._discrete else np.log(self._std.scale)
        return np.asarray(norm)[: arr.shape[0]] - jac, np.asarray(resp)[: arr.shape[0]]

    def summary(self) -> str:
        """Estimates and standard errors of weights and component parameters."""
        rows = [("parameter", "estimate", "std.err")]
        for j, fam in enumerate(self.families):
            rows.append((f"weight[{j}]", _fmt(self.weights[j]), _fmt(self.weights_se[j])))
            for name, value in self.params[j].items():
                se = self.se[j].get(name)
                rows.append((f"{fam}[{j}].{name}", _fmt(value), "fixed" if se is None else _fmt(se)))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"Mixture fit by EM: {' + '.join(self.families)}   (n = {self.nobs:g})"]
        lines += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                            enumerate(zip(r, widths))) for r in rows]
        lines.append(f"loglik = {self.loglik:.6f}   AIC = {self.aic:.4f}   BIC = {self.bic:.4f}   "
                     f"free parameters = {self.n_free}")
        status = "converged" if self.converged else "NOT CONVERGED"
        lines.append(f"{status} after {self.n_iter} EM iterations")
        if not self.hessian_ok:
            lines.append(f"warning: {self.hessian_message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _fmt(value: Any) -> str:
    value = float(value)
    return f"{value:.6g}" if np.isfinite(value) else "-"


class Mixture:
    r"""A finite mixture of thetahat families, fitted by maximum likelihood (EM).

    Density: :math:`p(x) = \sum_j \pi_j p_j(x \mid \theta_j)`.

    Parameters
    ----------
    components : sequence of str, Family or (family, fixed-dict)
        The component families, e.g. ``["poisson", "poisson"]`` or
        ``["gamma", "lognormal"]``; thresholds (``loc``) stay at 0, known
        constants are given as ``("binomial", {"n": 10})``.
    tol : float, default=1e-8
        Stop when the log-likelihood per observation changes by less than this.
    max_iter : int, default=2000
        EM iterations per run.
    n_init : int, default=1
        Full EM runs from different starts; the best is kept.
    init_candidates : int, default=10
        Each run starts from the best of this many k-means partitions of the
        data (on the log scale for positive families), each refined by EM on at
        most 4,096 rows.
    random_state : int, numpy Generator or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> import thetahat
    >>> rng = np.random.default_rng(1)
    >>> x = np.concatenate([rng.poisson(2.0, 600), rng.poisson(9.0, 400)])
    >>> res = thetahat.Mixture(["poisson", "poisson"], random_state=0).fit(x)
    >>> sorted(round(p["rate"], 1) for p in res.params)
    [2.0, 9.0]
    """

    def __init__(
        self,
        components: Sequence[Any],
        *,
        tol: float = 1e-8,
        max_iter: int = 2000,
        n_init: int = 1,
        init_candidates: int = 10,
        random_state: Any = None,
    ) -> None:
        if isinstance(components, str) or len(components) < 1:
            raise DataError("components must be a list of families, e.g. ['poisson', 'poisson'].")
        self.specs = list(components)
        base = [make_component(spec) for spec in self.specs]
        self.families = tuple(c.family.name for c in base)
        kinds = {c.family.is_discrete for c in base}
        if len(kinds) > 1:
            raise DataError(
                "a mixture cannot combine discrete and continuous families "
                f"({', '.join(self.families)}): their densities are not comparable."
            )
        self._discrete = kinds == {True}
        self._base = base
        self.tol, self.max_iter, self.n_init = tol, max_iter, n_init
        self.init_candidates, self.random_state = init_candidates, random_state

    @property
    def k(self) -> int:
        return len(self.specs)

    # -- set-up ---------------------------------------------------------------
    def _standardizer(self, x: np.ndarray) -> Standardizer:
        modes = {c.family.standardize for c in self._base}
        if self._discrete or "none" in modes:
            return Standardizer()
        location = {"location-scale", "robust location-scale"}
        mode = "location-scale" if modes <= location else "scale"
        return Standardizer.for_data(x, mode)

    def _components(self, std: Standardizer) -> tuple[Component, ...]:
        out = []
        for spec, base in zip(self.specs, self._base):
            fixed_user = dict(spec[1]) if isinstance(spec, tuple) else {}
            fixed_std = {
                k: float(std.param_to_std(base.family.param(k).role, v))
                for k, v in fixed_user.items()
            }
            out.append(make_component((base.family, fixed_std)))
        return tuple(out)

    def _check_data(self, x: np.ndarray, w: np.ndarray) -> None:
        for c in self._base:
            bad = c.family.support.outside(x, c.fixed) & (w > 0)
            if bad.any():
                from thetahat.errors import describe_bad_values

                raise DataError(
                    f"x lies outside the support {c.family.support.describe(c.fixed)} of the "
                    f"{c.family.name} component: {describe_bad_values(x, bad)}."
                )
        used = x[w > 0]
        distinct = np.unique(used).size
        if distinct < self.k:
            raise DataError(
                f"{self.k} components but x has only {distinct} distinct value(s): each "
                f"component needs values of its own. Use at most {distinct} components."
            )
        for name in ("max_iter", "n_init", "init_candidates"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise DataError(f"{name} must be a positive integer; got {value!r}.")

    # -- fitting ----------------------------------------------------------------
    def fit(self, x: ArrayLike, weights: ArrayLike | None = None) -> MixtureResult:
        """Fit by EM; returns a :class:`MixtureResult` with standard errors."""
        from thetahat.mixture._prepare import rng_from

        arr = as_float_array(x)
        w = np.ones(arr.shape[0]) if weights is None else validate_weights(weights, arr.shape[0])
        std = self._standardizer(arr[w > 0])
        comps = self._components(std)
        self._check_data(arr, w)
        xs = std.data(arr)
        rng = rng_from(self.random_state)
        prog = programs(comps, int(self.max_iter) + 1)
        xp, wp = pad_to_bucket(xs, w)
        best = None
        with jax.enable_x64(True):
            for _ in range(int(self.n_init)):
                start = self._start(xs, w, comps, rng)
                run = prog.fit(start, jnp.asarray(xp), jnp.asarray(wp), float(self.tol),
                               int(self.max_iter))
                if best is None or (bool(run.finite) and float(run.loglik) > float(best.loglik)):
                    best = run
        assert best is not None
        if not bool(best.finite):
            raise FitError(
                "EM broke down: a component's parameters stopped being finite, typically a "
                "component collapsing onto a single value. Use fewer components."
            )
        return self._result(best, xs, w, std, comps)

    def _start(self, xs: np.ndarray, w: np.ndarray, comps: tuple[Component, ...],
               rng: np.random.Generator) -> Any:
        xsub, wsub = subsample(xs[:, None], w, rng, SCREEN_ROWS)
        xsub, wsub = xsub[:, 0], wsub
        positive = all(c.family.support.low >= 0 for c in comps) and np.all(xsub > 0)
        feature = (np.log(xsub) if positive else xsub)[:, None]
        starts = []
        for i in range(int(self.init_candidates)):
            centers = kmeans_plusplus(feature, wsub, self.k, rng)
            if i % 2 == 0:
                labels = lloyd(feature, wsub, centers)
            else:
                labels = np.argmin((feature - centers.T) ** 2, axis=1)
            # Components in order of their group's location: with different
            # families, different orders are different starts.
            order = np.argsort([feature[labels == j, 0].mean() if np.any(labels == j) else 0
                                for j in range(self.k)])
            if i % 4 >= 2:
                order = rng.permutation(self.k)
            starts.append(self._start_from_labels(xsub, wsub, comps, np.argsort(order)[labels]))
        if len(starts) == 1:
            return starts[0]
        # Each candidate runs the very program of the full fit (same compiled
        # code when the data fit in the subsample), capped at SCREEN_ITER.
        xp, wp = pad_to_bucket(xsub, wsub)
        prog = programs(comps, int(self.max_iter) + 1)
        best, best_ll = starts[0], -np.inf
        for start in starts:
            run = prog.fit(start, jnp.asarray(xp), jnp.asarray(wp), float(self.tol),
                           min(SCREEN_ITER, int(self.max_iter)))
            if bool(run.finite) and float(run.loglik) > best_ll:
                best, best_ll = run.params, float(run.loglik)
        return best

    def _start_from_labels(self, x: np.ndarray, w: np.ndarray, comps: tuple[Component, ...],
                           labels: np.ndarray) -> Any:
        zs, mass = [], []
        for j, c in enumerate(comps):
            member = labels == j
            params = None
            if np.unique(x[member]).size >= 2:
                try:
                    params = c.family.initial_params(x[member], w[member], c.fixed)
                except (ValueError, ArithmeticError, FloatingPointError):
                    params = None
            if params is None:  # too few points of its own: start from all the data
                params = c.family.initial_params(x, w, c.fixed)
            z = c.pack({k: params[k] for k in c.free})
            zs.append(jnp.asarray(np.nan_to_num(z)))
            mass.append(max(float(w[member].sum()), 1e-3 * float(w.sum())))
        weights = np.asarray(mass) / np.sum(mass)
        return (jnp.asarray(weights), tuple(zs))

    # -- result -------------------------------------------------------------------
    def _result(self, run: Any, xs: np.ndarray, w: np.ndarray, std: Standardizer,
                comps: tuple[Component, ...]) -> MixtureResult:
        weights = np.asarray(run.params[0])
        state = run.params
        n_iter = int(run.n_iter)
        jac = 0.0 if self._discrete else float(w.sum() * np.log(std.scale))
        params_std = []
        for c, z in zip(comps, state[1]):
            with jax.enable_x64(True):
                values = c.unpack(jnp.asarray(z))
            params_std.append({k: float(values[k]) for k in c.family.param_names})
        cov_std, names, message = _information(comps, state, xs, w)
        # Natural parameters move by their roles: a diagonal, constant Jacobian.
        scale = [1.0] * (self.k - 1) + [
            std.jacobian(c.family.param(name).role) for c in comps for name in c.free
        ]
        ok = cov_std is not None
        cov = np.full((len(names),) * 2, np.nan)
        if cov_std is not None:
            cov = cov_std * np.outer(scale, scale)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None)) if ok else np.full(len(names), np.nan)
        last = np.sqrt(max(cov[: self.k - 1, : self.k - 1].sum(), 0.0)) if ok else np.nan
        weights_se = np.append(sd[: self.k - 1], last)
        params, se, start = [], [], self.k - 1
        for c, values in zip(comps, params_std):
            data_units = {k: float(std.param_from_std(c.family.param(k).role, v))
                          for k, v in values.items()}
            params.append(data_units)
            se.append({name: float(sd[start + i]) for i, name in enumerate(c.free)})
            start += len(c.free)
        converged = bool(run.converged)
        if not converged:
            warnings.warn(
                f"EM did not converge in {self.max_iter} iterations (tol={self.tol:g}). "
                "Increase max_iter or tol.", ConvergenceWarning, stacklevel=3,
            )
        self._diagnose(weights, state, xs, w, comps)
        return MixtureResult(
            families=self.families, weights=weights, weights_se=weights_se, params=params,
            se=se, cov=cov, cov_names=tuple(names), loglik=float(run.loglik) - jac,
            nobs=float(w.sum()), n_free=len(names), trace=np.asarray(run.trace)[: n_iter + 1] - jac,
            n_iter=n_iter, converged=converged, hessian_ok=ok, hessian_message=message,
            _mixture=self, _state_std=state, _std=std,
        )

    def _diagnose(self, weights: np.ndarray, state: Any, xs: np.ndarray, w: np.ndarray,
                  comps: tuple[Component, ...]) -> None:
        xp, _ = pad_to_bucket(xs, w)
        with jax.enable_x64(True):
            _, resp = programs(comps, 2).rows(state, jnp.asarray(xp))
        labels = np.argmax(np.asarray(resp)[: xs.shape[0]], axis=1)
        for j, c in enumerate(comps):
            if weights[j] * w.sum() < 1e-6:
                warnings.warn(
                    f"component {j} ({c.family.name}) is empty (weight {weights[j]:.3g}). "
                    f"Use fewer components.", DegenerateWarning, stacklevel=4,
                )
            elif not self._discrete and np.unique(xs[(labels == j) & (w > 0)]).size == 1:
                warnings.warn(
                    f"component {j} ({c.family.name}) collapsed onto a single value: the "
                    "likelihood grows without bound there. Use fewer components.",
                    DegenerateWarning, stacklevel=4,
                )


def _information(comps: tuple[Component, ...], state: Any, xs: np.ndarray,
                 w: np.ndarray) -> tuple[np.ndarray | None, list[str], str]:
    """Covariance of (pi_1..pi_{k-1}, free params) from the marginal loglik's Hessian."""
    k = len(comps)
    names = [f"weight[{j}]" for j in range(k - 1)]
    names += [f"{c.family.name}[{j}].{n}" for j, c in enumerate(comps) for n in c.free]
    weights, zs = state
    with jax.enable_x64(True):
        values = [c.unpack(jnp.asarray(z)) for c, z in zip(comps, zs)]
        flat0 = jnp.concatenate(
            [jnp.asarray(weights)[: k - 1]]
            + [jnp.stack([jnp.asarray(v[n], dtype=jnp.float64).reshape(()) for n in c.free])
               for c, v in zip(comps, values)]
        )
        xp, wp = pad_to_bucket(xs, w)
        hess = np.asarray(programs(comps, 2).hessian(flat0, jnp.asarray(xp), jnp.asarray(wp)))
    if not np.all(np.isfinite(hess)):
        return None, names, "the observed information is not finite at the estimate"
    cov, message = invert_information(-hess)
    return cov, names, message
