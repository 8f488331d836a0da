"""FitResult: everything a fit found, built once and never patched."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thetahat.families.base import Family

__all__ = ["FitResult", "FittedDistribution"]


def _plain(value: Any) -> Any:
    """numpy scalars/arrays -> Python floats/lists for JSON."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        v = float(arr)
        return v if math.isfinite(v) else None
    return [_plain(v) for v in arr]


@dataclass(frozen=True)
class FitResult:
    """The maximum-likelihood fit of a family to data.

    Attributes
    ----------
    family : Family
        The fitted family.
    params : dict
        Name -> estimate, in the user's parametrisation (fixed ones included).
    se : dict
        Name -> standard error from the observed information (free,
        regular parameters only; ``nan`` where the information is singular,
        with ``diagnostics()`` saying why).
    cov : ndarray
        Covariance of the flattened free parameters, ordered as ``cov_names``.
    loglik : float
        Maximised log-likelihood, the weighted sum of ``logpdf`` over the data.
    nobs : float
        Number of observations (the sum of frequency weights).
    n_free : int
        Number of free scalar parameters (used in AIC/BIC).
    converged : bool
        True when the score vanished at a positive-definite Hessian, or the
        estimate is a closed form (possibly on the boundary, see ``at_boundary``).
    """

    family: Family
    params: dict[str, Any]
    se: dict[str, Any]
    cov: NDArray[np.float64]
    cov_names: tuple[str, ...]
    loglik: float
    nobs: float
    n_free: int
    converged: bool
    n_iter: int
    score_norm: float
    method: str
    message: str
    fixed: dict[str, Any] = field(default_factory=dict)
    at_boundary: tuple[str, ...] = ()
    hessian_ok: bool = True
    hessian_message: str = "ok"
    #: Log prior density at the estimate for MAP fits (``fit(..., prior=...)``), else None.
    log_prior: float | None = None
    # Wald limits on the unconstrained scale, mapped back: name -> function(level)
    _interval: Any = field(default=None, repr=False, compare=False)
    # The fit's data, standardisation and settings, for refits (bootstrap,
    # profile likelihood); see thetahat.batch.
    _context: Any = field(default=None, repr=False, compare=False)
    _params_std: Any = field(default=None, repr=False, compare=False)

    @property
    def data(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The fitted observations and their weights (as validated)."""
        return self._context.x, np.asarray(self._context.w)

    @property
    def fit_options(self) -> dict[str, Any]:
        """Keyword arguments that reproduce this fit with :func:`thetahat.fit`."""
        spec = self._context.spec
        free = [p.name for p in self.family.params if p.default is not None and p.name in spec.free]
        # Defaults (loc = 0) are left out: they apply again without being named.
        user_fixed = {k: v for k, v in self.fixed.items()
                      if self.family.param(k).default is None or v != self.family.param(k).default}
        options: dict[str, Any] = {"fixed": user_fixed or None, "free": free}
        if spec.bounds:
            options["bounds"] = dict(spec.bounds)
        if spec.prior:
            options["prior"] = dict(spec.prior)
        return options

    # -- derived quantities ---------------------------------------------
    @property
    def aic(self) -> float:
        """Akaike information criterion, 2k - 2 loglik."""
        return 2.0 * self.n_free - 2.0 * self.loglik

    @property
    def bic(self) -> float:
        """Bayesian information criterion, k log n - 2 loglik."""
        return self.n_free * math.log(self.nobs) - 2.0 * self.loglik

    def conf_int(
        self,
        level: float = 0.95,
        method: str = "wald",
        *,
        n_boot: int = 1000,
        rng: Any = None,
        kind: str = "percentile",
        bootstrap: str = "nonparametric",
    ) -> dict[str, tuple[Any, Any]]:
        """Confidence intervals of the free parameters, name -> (low, high).

        Parameters
        ----------
        level : float, default=0.95
        method : {"wald", "profile", "bootstrap"}, default="wald"
            "wald": computed on the unconstrained scale and mapped back, so
            that an interval for a positive parameter stays positive.
            "profile": profile likelihood (:func:`thetahat.intervals.profile_likelihood`).
            "bootstrap": batched refits (:func:`thetahat.intervals.bootstrap`).
        n_boot, rng, kind, bootstrap
            For ``method="bootstrap"``: replicates, seed, "percentile" or
            "bca", "nonparametric" or "parametric".
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1); got {level!r}.")
        if method == "wald":
            return self._interval(level) if self._interval else {}
        from thetahat import intervals

        if method == "profile":
            return intervals.profile_intervals(self, level)
        if method == "bootstrap":
            return intervals.bootstrap_intervals(
                self, level, n_boot=n_boot, rng=rng, kind=kind, bootstrap=bootstrap
            )
        raise ValueError(f"method must be 'wald', 'profile' or 'bootstrap'; got {method!r}.")

    def diagnostics(self) -> dict[str, Any]:
        """Convergence and identifiability checks in one dictionary."""
        return {
            "converged": self.converged,
            "message": self.message,
            "score_norm": self.score_norm,
            "hessian_positive_definite": self.hessian_ok,
            "hessian_message": self.hessian_message,
            "at_boundary": list(self.at_boundary),
        }

    def logpdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Log-density of the fitted model at ``x``.

        Evaluated in the fit's standardised units and mapped back (minus
        log scale per dimension), so data near 1e+-308 keep their digits even
        though XLA flushes subnormal intermediates to zero.
        """
        import jax
        import jax.numpy as jnp

        if self._context is None or self._params_std is None:
            return self.dist.logpdf(x)
        std = self._context.std
        x_std = std.data(np.asarray(x, dtype=np.float64))
        with jax.enable_x64(True):
            params = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in self._params_std.items()}
            values = np.asarray(self.family.logpdf(jnp.asarray(x_std), **params))
        if self.family.is_discrete:
            return values
        dims = 1 if self.family.data_ndim == 1 else np.shape(x)[-1]
        return values - dims * np.log(std.scale)

    @property
    def dist(self) -> FittedDistribution:
        """The fitted distribution: pdf, cdf, ppf, sample, scipy conversion."""
        return FittedDistribution(self.family, self.params)

    # -- display ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (non-finite numbers become None)."""
        ci = self.conf_int()
        return {
            "family": self.family.name,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "se": {k: _plain(v) for k, v in self.se.items()},
            "conf_int_95": {k: [_plain(lo), _plain(hi)] for k, (lo, hi) in ci.items()},
            "fixed": {k: _plain(v) for k, v in self.fixed.items()},
            "loglik": _plain(self.loglik),
            "aic": _plain(self.aic),
            "bic": _plain(self.bic),
            "nobs": _plain(self.nobs),
            "n_free": self.n_free,
            "converged": self.converged,
            "n_iter": self.n_iter,
            "score_norm": _plain(self.score_norm),
            "method": self.method,
            "message": self.message,
            "at_boundary": list(self.at_boundary),
            "log_prior": _plain(self.log_prior) if self.log_prior is not None else None,
        }

    def summary(self) -> str:
        """A readable table of estimates, standard errors and 95% intervals."""
        from thetahat.display import summary_table

        return summary_table(self)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return "<pre>" + self.summary().replace("&", "&amp;").replace("<", "&lt;") + "</pre>"


@dataclass(frozen=True)
class FittedDistribution:
    """A family frozen at fitted parameters.

    ``pdf``/``cdf``/``ppf``/``sample`` delegate to the equivalent
    ``scipy.stats`` distribution where one exists (``to_scipy``).
    """

    family: Family
    params: dict[str, Any]

    def to_scipy(self) -> Any:
        """The equivalent frozen scipy.stats distribution."""
        frozen = self.family.scipy_dist(**self.params)
        if frozen is None:
            raise NotImplementedError(
                f"family {self.family.name!r} has no scipy.stats equivalent; use logpdf."
            )
        return frozen

    def logpdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Log-density (log-mass for discrete families)."""
        import jax
        import jax.numpy as jnp

        with jax.enable_x64(True):
            params = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in self.params.items()}
            return np.asarray(self.family.logpdf(jnp.asarray(np.asarray(x, float)), **params))

    def pdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Density (mass for discrete families)."""
        return np.exp(self.logpdf(x))

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Cumulative distribution function."""
        return np.asarray(self.to_scipy().cdf(x))

    def ppf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Quantile function."""
        return np.asarray(self.to_scipy().ppf(q))

    def sample(self, size: int | tuple[int, ...], rng: Any = None) -> NDArray[np.float64]:
        """Random draws, seeded by ``rng`` (int or numpy Generator)."""
        return np.asarray(self.to_scipy().rvs(size=size, random_state=np.random.default_rng(rng)))
