r"""Closed-form conjugate posteriors: ``thetahat.posterior(x, family, prior=...)``.

Pipeline: validate data and fixed values with the engine's validators ->
choose the conjugate pair from the family and its free parameters -> check the
prior (names, type, support) -> weighted sufficient statistics -> update the
hyperparameters -> :class:`Posterior`, which answers everything (marginals,
mean, MAP, credible intervals, predictive, sequential ``update``) from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
from numpy.typing import ArrayLike

from thetahat.bayes._marginals import equal_tailed_interval, hpd_interval
from thetahat.bayes._models import Hyper, _BetaModel, _DirichletModel, _GammaModel, _Model
from thetahat.bayes._normal_models import (
    _NIGModel,
    _NIWModel,
    _NormalMeanModel,
    _NormalVarianceModel,
)
from thetahat.bayes.priors import Prior, Uniform, validate_prior
from thetahat.data import as_float_array, validate_weights
from thetahat.errors import DataError
from thetahat.families import get_family
from thetahat.families.base import Family

if TYPE_CHECKING:
    from thetahat.bayes.compare import Comparison

__all__ = ["posterior", "Posterior"]


def posterior(
    x: ArrayLike,
    family: str | Family,
    prior: Prior | Mapping[str, Prior] | None = None,
    *,
    weights: ArrayLike | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> Posterior:
    r"""The exact posterior of a family's parameters under its conjugate prior.

    Parameters
    ----------
    x : array_like
        Observations: 1-D, or (n_samples, n_features) for ``multivariate_normal``.
    family : str or Family
        One of the families with a conjugate prior (table below).
    prior : Prior or dict, optional
        ``{parameter: prior}``, or the prior itself (for a one-parameter
        model, and for the joint priors ``NormalInverseGamma`` /
        ``NormalInverseWishart``). None uses the default in the table.
    weights : array_like, optional
        Non-negative frequency weights: they multiply the sufficient statistics
        (integer weights equal repeating the observations).
    fixed : dict, optional
        Known parameters: the binomial ``n`` (required), the normal ``sigma``
        (posterior of ``mu`` alone) or ``mu`` (posterior of ``sigma`` alone),
        the exponential threshold ``loc`` (default 0).

    Returns
    -------
    Posterior

    Raises
    ------
    DataError
        Bad data (the count and first offending value, as in ``fit``); a prior
        on a parameter the family does not have, or on a fixed one; a prior
        that is not conjugate, or whose support excludes the maximum-likelihood
        estimate; an improper posterior (each naming the parameter).

    Notes
    -----
    With :math:`N = \sum w_i` and weighted sums :math:`S = \sum w_i x_i`:

    ========================  ====================  ==========================================  ====================================
    family (free parameters)  default prior         posterior                                   posterior predictive
    ========================  ====================  ==========================================  ====================================
    bernoulli (p)             Beta(1, 1)            Beta(a + S, b + N - S)                      beta-binomial(1, a', b')
    binomial (p; n known)     Beta(1, 1)            Beta(a + S, b + nN - S)                     beta-binomial(n, a', b')
    geometric (p)             Beta(1, 1)            Beta(a + N, b + S)                          beta-negative-binomial(1, a', b')
    categorical (probs)       Dirichlet(1, ..., 1)  Dirichlet(alpha + counts)                   categorical(alpha' / sum alpha')
    poisson (rate)            Gamma(1/2, 0) [J]     Gamma(a + S, b + N)                         negative binomial(a', b' / (1 + b'))
    exponential (rate)        Gamma(0, 0) [J]       Gamma(a + N, b + S - N loc)                 Lomax(a', scale=b', loc)
    normal (mu; sigma known)  flat [J]              Normal(m', s'), 1/s'^2 = 1/s^2 + N/sigma^2  Normal(m', sqrt(s'^2 + sigma^2))
    normal (sigma; mu known)  1/sigma [J]           sigma^2 ~ InvGamma(a + N/2, b + SS/2)       Student t(2a', mu, sqrt(b'/a'))
    normal (mu, sigma)        1/sigma [J]           NormalInverseGamma (below)                  Student t(2 alpha', mu', ...)
    multivariate_normal       |cov|^(-(d+1)/2) [J]  NormalInverseWishart (below)                multivariate t(nu' - d + 1)
    ========================  ====================  ==========================================  ====================================

    [J]: Jeffreys' prior (improper). SS is the weighted sum of squares about the known mu;
    the predictive scale of the normal-inverse-gamma is sqrt(beta' (kappa' + 1) / (alpha' kappa')).

    Normal-inverse-gamma, with the weighted mean :math:`\bar x` and
    :math:`M_2 = \sum w_i (x_i - \bar x)^2`:

    .. math::
        \kappa' = \kappa_0 + N,\quad \mu' = \mu_0 + N(\bar x - \mu_0)/\kappa',\quad
        \alpha' = \alpha_0 + N/2,\quad
        \beta' = \beta_0 + \tfrac12 M_2 + \frac{\kappa_0 N (\bar x - \mu_0)^2}{2\kappa'}

    and the normal-inverse-Wishart likewise, with :math:`\nu' = \nu_0 + N` and
    :math:`\Psi' = \Psi_0 + S_x + \frac{\kappa_0 N}{\kappa'}(\bar x - \mu_0)(\bar x - \mu_0)^\top`.
    The Jeffreys defaults are improper; their posteriors are proper once the
    data identify the parameters (two distinct values for the normal, d + 1
    points in general position for the multivariate normal, one observation
    above the threshold for the exponential), otherwise DataError.

    Examples
    --------
    >>> import thetahat
    >>> post = thetahat.posterior([0, 0, 1, 0, 0], "bernoulli", prior=thetahat.Beta(2, 2))
    >>> post.conjugate
    Beta(a=3.0, b=6.0)
    >>> round(post.mean()["p"], 6), round(post.mode()["p"], 6)
    (0.333333, 0.285714)
    >>> post.update([1, 1]).conjugate
    Beta(a=5.0, b=6.0)
    """
    fam = get_family(family)
    x_arr = as_float_array(x, ndim=fam.data_ndim)
    w = validate_weights(weights, x_arr.shape[0])
    joint, by_name = _split_prior(prior)
    from thetahat.fit import _check_support, _ParamSpec

    spec = _ParamSpec.build(fam, x_arr, fixed, (), None, None, None)
    fixed_values = dict(spec.fixed)
    if fam.name == "binomial":
        _check_trials(fixed_values["n"])
    _check_support(fam, x_arr, spec)
    model = _find_model(fam.name, spec.free)
    if by_name:
        validate_prior(by_name, fam, fixed=fixed_values, estimate=_mle_or_none(fam, x_arr, w, fixed_values))
    hyper0, text = _prior_hyper(model, joint, by_name, x_arr, fixed_values)
    model.check_data(hyper0, x_arr)
    hyper = model.update(hyper0, model.stats(x_arr, w, fixed_values, hyper0))
    _raise_if_improper(model, hyper)
    return Posterior(
        family=fam,
        prior=text,
        fixed=fixed_values,
        nobs=float(np.sum(w)),
        _model=model,
        _hyper=hyper,
        _data=((_frozen_copy(x_arr), None if weights is None else _frozen_copy(w)),),
    )


#: (family name, free parameters) -> model.
_MODELS: dict[tuple[str, frozenset[str]], _Model] = {
    (m.family, frozenset(m.free)): m
    for m in (
        _BetaModel("bernoulli"),
        _BetaModel("binomial"),
        _BetaModel("geometric"),
        _DirichletModel(),
        _GammaModel("poisson"),
        _GammaModel("exponential"),
        _NormalMeanModel(),
        _NormalVarianceModel(),
        _NIGModel(),
        _NIWModel(),
    )
}


def _find_model(family: str, free: list[str]) -> _Model:
    """The conjugate model for ``family`` with these free parameters, or DataError."""
    model = _MODELS.get((family, frozenset(free)))
    if model is not None:
        return model
    if not free:
        raise DataError(f"every parameter of the {family} family is fixed: there is nothing to learn.")
    known = sorted({f for f, _ in _MODELS})
    if family in known:
        raise DataError(
            f"the {family} family has no closed-form conjugate posterior with free parameters "
            f"{free}; fix the others, or use thetahat.fit(x, {family!r}, prior={{...}}) for the "
            "MAP estimate with a Laplace approximation."
        )
    raise DataError(
        f"the {family} family has no conjugate prior in thetahat (families with closed-form "
        f"posteriors: {known}); use thetahat.fit(x, {family!r}, prior={{...}}) for the MAP "
        "estimate with a Laplace approximation."
    )


def _split_prior(prior: Any) -> tuple[Prior | None, dict[str, Any]]:
    if prior is None:
        return None, {}
    if isinstance(prior, Prior):
        return prior, {}
    if isinstance(prior, Mapping):
        return None, dict(prior)
    raise DataError(
        f"prior must be a Prior (e.g. thetahat.Beta(1, 1)), a dict {{parameter: prior}} or None; "
        f"got {type(prior).__name__}."
    )


def _check_trials(n: Any) -> None:
    n = np.asarray(n, dtype=float)
    if n.ndim != 0 or n != np.floor(n):
        raise DataError(f"fixed value of 'n' must be one positive integer (the number of trials); got {n!r}.")


def _mle_or_none(fam: Family, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any] | None:
    """The closed-form MLE (for the prior-support check), or None where it does not exist."""
    try:
        stats = fam.sufficient_stats(x, w) if fam.has_stats else None
        est = fam.mle_from_stats(stats, fixed) if stats is not None else None
        return est if est is not None else fam.mle(x, w, fixed)
    except DataError:
        return None


def _prior_hyper(
    model: _Model, joint: Prior | None, by_name: dict[str, Any], x: np.ndarray, fixed: dict[str, Any]
) -> tuple[Hyper, str]:
    """Hyperparameters of the prior, and how to describe it; DataError if not conjugate."""
    free = model.free
    if joint is None and not by_name:
        return model.default_hyper(x, fixed), model.default_text
    if joint is not None:
        covers = getattr(joint, "covers", free if len(free) == 1 else ())
        if tuple(covers) != free:
            raise DataError(
                f"a {type(joint).__name__} prior covers {list(covers) or 'one parameter'}, but the "
                f"free parameters of the {model.family} family here are {list(free)}; pass "
                f"a dict {{parameter: prior}} or the joint prior {model.example}."
            )
        dist, name = joint, ", ".join(free)
    else:
        if len(free) > 1:
            raise DataError(
                f"with {list(free)} all free, the {model.family} family's conjugate prior is one "
                f"joint {model.prior_type.__name__} (e.g. prior={model.example}); independent "
                "priors per parameter have no closed-form posterior: use "
                f"thetahat.fit(x, {model.family!r}, prior={{...}}) for the MAP estimate."
            )
        missing = [k for k in free if k not in by_name]
        if missing:
            raise DataError(f"prior has no entry for the free parameter(s) {missing}.")
        name = free[0]
        dist = by_name[name]
    if isinstance(dist, Uniform) and model.prior_type.__name__ == "Beta" and (dist.low, dist.high) == (0.0, 1.0):
        return model.hyper_of(dist, x), repr(dist)
    # The normal sigma's conjugate prior is an inverse gamma on sigma^2 (squared=True).
    needs_squared = model.free == ("sigma",)
    is_conjugate = type(dist) is model.prior_type and getattr(dist, "squared", False) == needs_squared
    if not is_conjugate:
        want = model.example
        raise DataError(
            f"the prior for {name!r} is {dist!r}, which is not conjugate to the {model.family} "
            f"family: the closed-form posterior needs a {model.prior_type.__name__} prior (e.g. "
            f"{want}). For other priors, thetahat.fit(x, {model.family!r}, prior={{...}}) finds the "
            "MAP estimate with a Laplace approximation."
        )
    return model.hyper_of(dist, x), repr(dist)


def _raise_if_improper(model: _Model, hyper: Hyper) -> None:
    why = model.improper(hyper)
    if why:
        raise DataError(f"{why}. Pass a proper prior, e.g. prior={model.example}, or add data.")


def _frozen_copy(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=float, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Posterior:
    r"""The exact posterior of a conjugate pair (returned by :func:`thetahat.posterior`).

    Attributes
    ----------
    family : Family
        The likelihood's family.
    prior : str
        The prior that was used (its repr, or the default's description).
    fixed : dict
        Known parameter values.
    nobs : float
        Sum of the weights of every observation seen (all ``update`` batches).

    Notes
    -----
    ``mode()`` is the joint posterior mode (the MAP estimate) of the density
    over the family's parameters -- the point that
    ``thetahat.fit(x, family, prior=...)`` converges to; ``mean()`` and the
    credible intervals come from each parameter's marginal posterior
    (``dist``), elementwise for vector and matrix parameters (the off-diagonal
    covariances of a normal-inverse-Wishart have no closed-form marginal:
    their intervals are nan).

    Examples
    --------
    >>> import thetahat
    >>> post = thetahat.posterior([3, 1, 4, 1, 5], "poisson", prior=thetahat.Gamma(2, 1))
    >>> post.conjugate
    Gamma(shape=16.0, rate=6.0)
    >>> lo, hi = post.credible_interval(0.9)["rate"]
    >>> round(lo, 4), round(hi, 4)
    (1.6727, 3.8495)
    """

    family: Family
    prior: str
    fixed: dict[str, Any]
    nobs: float
    _model: _Model = field(repr=False, compare=False)
    _hyper: Hyper = field(repr=False, compare=False)
    _data: tuple[tuple[np.ndarray, np.ndarray | None], ...] = field(repr=False, compare=False)

    # -- the posterior distribution -----------------------------------------
    @property
    def params(self) -> tuple[str, ...]:
        """Names of the parameters with a posterior (the free ones)."""
        return self._model.free

    @property
    def conjugate(self) -> Prior:
        """The posterior as a member of the prior's family (e.g. ``Beta(a', b')``).

        Passing it as the prior of a later :func:`thetahat.posterior` call is
        the same as :meth:`update`.
        """
        return self._model.as_prior(self._hyper)

    @property
    def dist(self) -> dict[str, Any]:
        """Parameter name -> frozen posterior distribution (scipy, or :class:`SqrtInverseGamma`)."""
        return self._model.marginals(self._hyper, self.fixed)

    @property
    def predictive(self) -> Any:
        """The posterior predictive distribution of one new observation (frozen scipy)."""
        return self._model.predictive(self._hyper, self.fixed)

    def mean(self) -> dict[str, Any]:
        """Posterior means (nan or inf where the marginal has none)."""
        return self._model.mean(self._hyper, self.fixed)

    def var(self) -> dict[str, Any]:
        """Posterior variances, elementwise."""
        return self._model.var(self._hyper, self.fixed)

    def mode(self) -> dict[str, Any]:
        """The MAP estimate: the joint posterior mode (nan where it is not unique)."""
        return self._model.mode(self._hyper, self.fixed)

    def credible_interval(self, level: float = 0.95, kind: str = "equal") -> dict[str, tuple[Any, Any]]:
        """Credible intervals, name -> (low, high), elementwise for vector parameters.

        Parameters
        ----------
        level : float, default=0.95
            Posterior probability inside each interval.
        kind : {"equal", "hpd"}, default="equal"
            Equal-tailed, or highest posterior density (the shortest interval,
            see :func:`~thetahat.bayes.hpd_interval`; DataError for a marginal
            that is not unimodal).
        """
        if not 0 < level < 1:
            raise DataError(f"level must be in (0, 1); got {level!r}.")
        if kind not in ("equal", "hpd"):
            raise DataError(f"kind must be 'equal' or 'hpd'; got {kind!r}.")
        out: dict[str, tuple[Any, Any]] = {}
        for name, marg in self._model.elements(self._hyper, self.fixed).items():
            flat = marg.reshape(-1)
            lo, hi = np.full(flat.size, np.nan), np.full(flat.size, np.nan)
            for i, d in enumerate(flat):
                if d is None:
                    continue
                label = repr(name) if marg.ndim == 0 else f"'{name}[{i}]'"
                ends = equal_tailed_interval(d, level) if kind == "equal" else hpd_interval(d, level, label)
                lo[i], hi[i] = ends
            if marg.ndim == 0:
                out[name] = (float(lo[0]), float(hi[0]))
            else:
                out[name] = (lo.reshape(marg.shape), hi.reshape(marg.shape))
        return out

    # -- sequential learning ------------------------------------------------
    def update(self, x: ArrayLike, weights: ArrayLike | None = None) -> Posterior:
        """The posterior after also seeing ``x`` (this one is left unchanged).

        Today's posterior is tomorrow's prior: the hyperparameters absorb the
        new batch's sufficient statistics, so a sequence of updates equals one
        posterior over all the data (to rounding).
        """
        fam = self.family
        x_arr = as_float_array(x, ndim=fam.data_ndim)
        w = validate_weights(weights, x_arr.shape[0])
        from thetahat.fit import _check_support, _ParamSpec

        spec = _ParamSpec.build(fam, x_arr, self.fixed, (), None, None, None)
        _check_support(fam, x_arr, spec)
        self._model.check_data(self._hyper, x_arr)
        hyper = self._model.update(self._hyper, self._model.stats(x_arr, w, self.fixed, self._hyper))
        _raise_if_improper(self._model, hyper)
        batch = (_frozen_copy(x_arr), None if weights is None else _frozen_copy(w))
        return replace(self, nobs=self.nobs + float(np.sum(w)), _hyper=hyper, _data=self._data + (batch,))

    # -- side by side with the MLE ------------------------------------------
    def compare_mle(self, level: float = 0.95, kind: str = "equal") -> Comparison:
        """MLE (``thetahat.fit`` on all the data seen), MAP, posterior mean and interval per parameter.

        See :func:`thetahat.bayes.compare_mle`.
        """
        from thetahat.bayes.compare import compare_posterior

        return compare_posterior(self, level, kind)

    def data(self) -> tuple[np.ndarray, np.ndarray | None]:
        """All observations seen so far (and their weights, None if never weighted)."""
        xs = [x for x, _ in self._data]
        if all(w is None for _, w in self._data):
            return np.concatenate(xs), None
        ws = [np.ones(x.shape[0]) if w is None else w for x, w in self._data]
        return np.concatenate(xs), np.concatenate(ws)

    # -- display ------------------------------------------------------------
    def summary(self, level: float = 0.95) -> str:
        """A table: posterior distribution, mean, sd, MAP and credible interval per parameter."""
        from thetahat.bayes.compare import posterior_table

        return posterior_table(self, level)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return "<pre>" + self.summary().replace("&", "&amp;").replace("<", "&lt;") + "</pre>"
