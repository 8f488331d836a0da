r"""The conjugate pairs: sufficient statistics, update rules, marginals, predictives.

This module: the model protocol and the Beta, Dirichlet and Gamma pairs;
:mod:`thetahat.bayes._normal_models` has the normal and multivariate normal.

Each model keeps the posterior as a tuple of hyperparameters (``hyper``) in the
parametrisation of its prior class, so that the update is one line of
arithmetic on additive sufficient statistics and sequential updates equal one
batch update. Improper default priors (Jeffreys) are hyperparameters outside
the prior class's domain (e.g. a Gamma rate of 0); :meth:`_Model.improper`
says when the posterior is still improper after the data.

All densities are over the family's parameters (sigma, not sigma^2): the mode
is the maximiser of that density, the MAP that ``fit(..., prior=...)`` finds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from thetahat.bayes.priors import Beta, Dirichlet, Gamma, Prior, Uniform
from thetahat.errors import DataError

__all__ = ["Hyper", "_Model", "_BetaModel", "_DirichletModel", "_GammaModel"]

Hyper = tuple[Any, ...]


def _sums(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """(sum of weights, weighted sum of x); DataError if it overflows."""
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        total, s = float(np.sum(w)), float(np.einsum("i,i->", w, x))
    if not (math.isfinite(total) and math.isfinite(s)):
        raise DataError("the weighted sum of x overflows float64: rescale or check the data.")
    return total, s


class _Model:
    """Base: one family with a given set of free parameters and its conjugate prior."""

    family: str = ""
    free: tuple[str, ...] = ()
    prior_type: type[Prior] = Prior
    #: How the default (possibly improper) prior reads in summaries and docs.
    default_text: str = ""
    #: An example of a proper prior, quoted in error messages.
    example: str = ""

    def default_hyper(self, x: np.ndarray, fixed: dict[str, Any]) -> Hyper:
        raise NotImplementedError

    def hyper_of(self, prior: Prior, x: np.ndarray) -> Hyper:
        return tuple(prior.hyperparameters().values())

    def check_data(self, hyper: Hyper, x: np.ndarray) -> None:
        """Data checks that depend on the prior (number of categories, dimension)."""

    def stats(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any], hyper: Hyper) -> Hyper:
        raise NotImplementedError

    def update(self, hyper: Hyper, stats: Hyper) -> Hyper:
        raise NotImplementedError

    def improper(self, hyper: Hyper) -> str | None:
        """None, or why the posterior with these hyperparameters is improper (naming the parameter)."""
        return None

    def as_prior(self, hyper: Hyper) -> Prior:
        return self.prior_type(*hyper)

    def marginals(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        """Name -> frozen posterior distribution of the parameter."""
        raise NotImplementedError

    def elements(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, np.ndarray]:
        """Name -> object array (the parameter's shape) of 1-D marginals, None where unknown."""
        return {k: np.asarray(v, dtype=object) for k, v in self.marginals(hyper, fixed).items()}

    def mean(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        return {k: _elementwise(v, lambda d: d.mean()) for k, v in self.elements(hyper, fixed).items()}

    def var(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        return {k: _elementwise(v, lambda d: d.var()) for k, v in self.elements(hyper, fixed).items()}

    def mode(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def predictive(self, hyper: Hyper, fixed: dict[str, Any]) -> Any:
        raise NotImplementedError


def _elementwise(marginals: np.ndarray, f: Any) -> Any:
    out = np.array([np.nan if d is None else float(f(d)) for d in marginals.reshape(-1)])
    return float(out[0]) if marginals.ndim == 0 else out.reshape(marginals.shape)


def _beta_mode(a: float, b: float) -> float:
    """Mode of Beta(a, b): interior, or the end where the density is largest; nan if not unique."""
    if a > 1 and b > 1:
        return (a - 1.0) / (a + b - 2.0)
    if a <= 1 and b > 1:
        return 0.0
    if b <= 1 and a > 1:
        return 1.0
    return math.nan  # uniform or U-shaped: no unique mode


class _BetaModel(_Model):
    r"""Beta(a, b) prior on p: Bernoulli, binomial (known n), geometric (failures before a success)."""

    free = ("p",)
    prior_type = Beta
    default_text = "Beta(1, 1) (uniform)"
    example = "Beta(1, 1)"

    def __init__(self, family: str) -> None:
        self.family = family

    def default_hyper(self, x: np.ndarray, fixed: dict[str, Any]) -> Hyper:
        return (1.0, 1.0)

    def hyper_of(self, prior: Prior, x: np.ndarray) -> Hyper:
        if isinstance(prior, Uniform):  # Uniform(0, 1) is Beta(1, 1); checked by the caller
            return (1.0, 1.0)
        return (prior.a, prior.b)  # type: ignore[attr-defined]

    def stats(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any], hyper: Hyper) -> Hyper:
        total, s = _sums(x, w)
        if self.family == "bernoulli":
            return (s, total - s)  # (successes, failures)
        if self.family == "binomial":
            return (s, float(fixed["n"]) * total - s)
        return (total, s)  # geometric: one success per observation, x failures

    def update(self, hyper: Hyper, stats: Hyper) -> Hyper:
        return (hyper[0] + stats[0], hyper[1] + stats[1])

    def marginals(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        from scipy import stats

        return {"p": stats.beta(*hyper)}

    def mode(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        return {"p": _beta_mode(*hyper)}

    def predictive(self, hyper: Hyper, fixed: dict[str, Any]) -> Any:
        from scipy import stats

        a, b = hyper
        if self.family == "bernoulli":
            return stats.betabinom(1, a, b)
        if self.family == "binomial":
            return stats.betabinom(int(fixed["n"]), a, b)
        return stats.betanbinom(1, a, b)


class _DirichletModel(_Model):
    r"""Dirichlet(alpha) prior on the categorical probabilities."""

    family = "categorical"
    free = ("probs",)
    prior_type = Dirichlet
    default_text = "Dirichlet(1, ..., 1) (Laplace add-one smoothing)"
    example = "Dirichlet.symmetric(1.0, k)"

    def default_hyper(self, x: np.ndarray, fixed: dict[str, Any]) -> Hyper:
        return (np.ones(int(x.max()) + 1),)

    def hyper_of(self, prior: Prior, x: np.ndarray) -> Hyper:
        return (np.asarray(prior.alpha, dtype=float),)  # type: ignore[attr-defined]

    def check_data(self, hyper: Hyper, x: np.ndarray) -> None:
        k = hyper[0].size
        bad = x >= k
        if bad.any():
            from thetahat.errors import describe_bad_values

            raise DataError(
                f"x has category codes beyond the {k} categories (0, ..., {k - 1}) of the Dirichlet "
                f"prior on 'probs': {describe_bad_values(x, bad)}. Give the prior one "
                "concentration per category."
            )

    def stats(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any], hyper: Hyper) -> Hyper:
        return (np.bincount(x.astype(np.int64), weights=w, minlength=hyper[0].size),)

    def update(self, hyper: Hyper, stats: Hyper) -> Hyper:
        return (hyper[0] + stats[0],)

    def as_prior(self, hyper: Hyper) -> Prior:
        return Dirichlet(tuple(hyper[0]))

    def marginals(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        from scipy import stats

        return {"probs": stats.dirichlet(hyper[0])}

    def elements(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, np.ndarray]:
        from scipy import stats

        alpha = hyper[0]
        total = alpha.sum()
        out = np.empty(alpha.size, dtype=object)
        for j, a in enumerate(alpha):  # each probability is Beta(alpha_j, alpha_0 - alpha_j)
            out[j] = stats.beta(a, total - a)
        return {"probs": out}

    def mean(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        return {"probs": hyper[0] / hyper[0].sum()}

    def mode(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        # Maximise sum (alpha_j - 1) log pi_j on the simplex: pi_j proportional to
        # alpha_j - 1, and pi_j = 0 where alpha_j <= 1 (the density is largest on that face).
        excess = np.maximum(hyper[0] - 1.0, 0.0)
        if excess.sum() == 0:
            return {"probs": np.full(excess.size, np.nan)}
        return {"probs": excess / excess.sum()}

    def predictive(self, hyper: Hyper, fixed: dict[str, Any]) -> Any:
        from scipy import stats

        alpha = hyper[0]
        return stats.rv_discrete(values=(np.arange(alpha.size), alpha / alpha.sum()))


class _GammaModel(_Model):
    r"""Gamma(shape, rate) prior on the Poisson rate or the exponential rate (threshold fixed)."""

    free = ("rate",)
    prior_type = Gamma
    example = "Gamma(1, 1)"

    def __init__(self, family: str) -> None:
        self.family = family
        self.default_text = (
            "Jeffreys p(rate) ∝ rate^(-1/2), i.e. Gamma(1/2, 0)"
            if family == "poisson"
            else "Jeffreys p(rate) ∝ 1/rate, i.e. Gamma(0, 0)"
        )

    def default_hyper(self, x: np.ndarray, fixed: dict[str, Any]) -> Hyper:
        return (0.5, 0.0) if self.family == "poisson" else (0.0, 0.0)

    def stats(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any], hyper: Hyper) -> Hyper:
        if self.family == "poisson":
            total, s = _sums(x, w)
            return (s, total)
        total, s = _sums(x - float(fixed.get("loc", 0.0)), w)
        return (total, s)

    def update(self, hyper: Hyper, stats: Hyper) -> Hyper:
        return (hyper[0] + stats[0], hyper[1] + stats[1])

    def improper(self, hyper: Hyper) -> str | None:
        if hyper[0] > 0 and hyper[1] > 0:
            return None
        return (
            f"the posterior of 'rate' is improper (Gamma(shape={hyper[0]:g}, rate={hyper[1]:g}) "
            "needs both positive): every observation equals the threshold loc, so the data "
            "say nothing against an arbitrarily large rate"
        )

    def marginals(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        from scipy import stats

        return {"rate": stats.gamma(hyper[0], scale=1.0 / hyper[1])}

    def mode(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        return {"rate": max(hyper[0] - 1.0, 0.0) / hyper[1]}

    def predictive(self, hyper: Hyper, fixed: dict[str, Any]) -> Any:
        from scipy import stats

        a, b = hyper
        if self.family == "poisson":
            return stats.nbinom(a, b / (1.0 + b))
        return stats.lomax(a, loc=float(fixed.get("loc", 0.0)), scale=b)
