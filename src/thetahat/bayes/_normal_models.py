r"""Conjugate pairs of the normal and multivariate normal families (see :mod:`._models`).

Known sigma: a normal prior on mu. Known mu: an inverse gamma on sigma^2.
Both unknown: normal-inverse-gamma. Multivariate: normal-inverse-Wishart.
Every update is written in terms of the weighted (N, mean, M2/scatter) from the
corrected two-pass algorithm, so that no digits are lost to cancellation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from thetahat.bayes._marginals import SqrtInverseGamma
from thetahat.bayes._models import Hyper, _Model
from thetahat.bayes.priors import (
    InverseGamma,
    Normal,
    NormalInverseGamma,
    NormalInverseWishart,
    Prior,
)
from thetahat.errors import DataError
from thetahat.families._helpers import weighted_mean_var

__all__ = ["_NormalMeanModel", "_NormalVarianceModel", "_NIGModel", "_NIWModel"]


class _NormalMeanModel(_Model):
    r"""Normal(m, s) prior on the normal mean, sigma known. hyper = (m, precision 1/s^2)."""

    family = "normal"
    free = ("mu",)
    prior_type = Normal
    default_text = "flat p(mu) ∝ 1 (Jeffreys)"
    example = "Normal(0, 10)"

    def default_hyper(self, x: np.ndarray, fixed: dict[str, Any]) -> Hyper:
        return (0.0, 0.0)

    def hyper_of(self, prior: Prior, x: np.ndarray) -> Hyper:
        return (prior.mu, 1.0 / prior.sigma**2)  # type: ignore[attr-defined]

    def stats(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any], hyper: Hyper) -> Hyper:
        total, mean, _ = weighted_mean_var(x, w)
        return (total / float(fixed["sigma"]) ** 2, mean)  # (data precision, mean)

    def update(self, hyper: Hyper, stats: Hyper) -> Hyper:
        m, tau = hyper
        tau_data, mean = stats
        tau_n = tau + tau_data
        return (m + tau_data * (mean - m) / tau_n, tau_n)

    def as_prior(self, hyper: Hyper) -> Prior:
        return Normal(hyper[0], 1.0 / math.sqrt(hyper[1]))

    def marginals(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        from scipy import stats

        return {"mu": stats.norm(hyper[0], 1.0 / math.sqrt(hyper[1]))}

    def mode(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        return {"mu": hyper[0]}

    def predictive(self, hyper: Hyper, fixed: dict[str, Any]) -> Any:
        from scipy import stats

        return stats.norm(hyper[0], math.sqrt(1.0 / hyper[1] + float(fixed["sigma"]) ** 2))


class _NormalVarianceModel(_Model):
    r"""InverseGamma(a, b) prior on sigma^2 (``squared=True``), mu known."""

    family = "normal"
    free = ("sigma",)
    prior_type = InverseGamma
    default_text = "Jeffreys p(sigma) ∝ 1/sigma, i.e. sigma^2 ~ InverseGamma(0, 0)"
    example = "InverseGamma(1, 1, squared=True)"

    def default_hyper(self, x: np.ndarray, fixed: dict[str, Any]) -> Hyper:
        return (0.0, 0.0)

    def hyper_of(self, prior: Prior, x: np.ndarray) -> Hyper:
        return (prior.shape, prior.scale)  # type: ignore[attr-defined]

    def stats(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any], hyper: Hyper) -> Hyper:
        d = x - float(fixed["mu"])
        with np.errstate(over="ignore"):
            ss = float(np.einsum("i,i,i->", w, d, d))
        if not math.isfinite(ss):
            raise DataError("the sum of squares of x - mu overflows float64: rescale the data.")
        return (0.5 * float(np.sum(w)), 0.5 * ss)

    def update(self, hyper: Hyper, stats: Hyper) -> Hyper:
        return (hyper[0] + stats[0], hyper[1] + stats[1])

    def improper(self, hyper: Hyper) -> str | None:
        if hyper[0] > 0 and hyper[1] > 0:
            return None
        return (
            "the posterior of 'sigma' is improper: every observation equals the known mean "
            "mu, so the data cannot rule out sigma -> 0"
        )

    def as_prior(self, hyper: Hyper) -> Prior:
        return InverseGamma(hyper[0], hyper[1], squared=True)

    def marginals(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        return {"sigma": SqrtInverseGamma(*hyper)}

    def mode(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        # p(sigma | x) ∝ sigma^(-2a-1) exp(-b / sigma^2): maximal at sigma^2 = 2b / (2a + 1).
        return {"sigma": math.sqrt(2.0 * hyper[1] / (2.0 * hyper[0] + 1.0))}

    def predictive(self, hyper: Hyper, fixed: dict[str, Any]) -> Any:
        from scipy import stats

        a, b = hyper
        return stats.t(2.0 * a, loc=float(fixed["mu"]), scale=math.sqrt(b / a))


class _NIGModel(_Model):
    r"""Normal-inverse-gamma prior on (mu, sigma). hyper = (mu0, kappa0, alpha0, beta0)."""

    family = "normal"
    free = ("mu", "sigma")
    prior_type = NormalInverseGamma
    default_text = "Jeffreys p(mu, sigma) ∝ 1/sigma, i.e. NIG(0, 0, -1/2, 0)"
    example = "NormalInverseGamma(0, 1, 1, 1)"

    def default_hyper(self, x: np.ndarray, fixed: dict[str, Any]) -> Hyper:
        return (0.0, 0.0, -0.5, 0.0)

    def stats(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any], hyper: Hyper) -> Hyper:
        return weighted_mean_var(x, w)  # (N, mean, M2): corrected two-pass

    def update(self, hyper: Hyper, stats: Hyper) -> Hyper:
        m, kappa, alpha, beta = hyper
        total, mean, m2 = stats
        kappa_n = kappa + total
        delta = mean - m
        return (
            m + total * delta / kappa_n,
            kappa_n,
            alpha + 0.5 * total,
            beta + 0.5 * m2 + 0.5 * kappa * total * delta * delta / kappa_n,
        )

    def improper(self, hyper: Hyper) -> str | None:
        _, _, alpha, beta = hyper
        if alpha > 0 and beta > 0:
            return None
        why = "fewer than 2 observations" if alpha <= 0 else "all observations are identical"
        return (
            f"the posterior of 'sigma' is improper: {why}, and the prior alone does not "
            "determine the spread"
        )

    def marginals(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        from scipy import stats

        m, kappa, alpha, beta = hyper
        return {
            "mu": stats.t(2.0 * alpha, loc=m, scale=math.sqrt(beta / (alpha * kappa))),
            "sigma": SqrtInverseGamma(alpha, beta),
        }

    def mode(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        # Joint density over (mu, sigma) ∝ sigma^(-2 alpha - 2) exp(-(2 beta + kappa (mu - m)^2) / (2 sigma^2)).
        m, _, alpha, beta = hyper
        return {"mu": m, "sigma": math.sqrt(beta / (alpha + 1.0))}

    def predictive(self, hyper: Hyper, fixed: dict[str, Any]) -> Any:
        from scipy import stats

        m, kappa, alpha, beta = hyper
        return stats.t(2.0 * alpha, loc=m, scale=math.sqrt(beta * (kappa + 1.0) / (alpha * kappa)))


class _NIWModel(_Model):
    r"""Normal-inverse-Wishart prior on (mean, cov). hyper = (mu0, kappa0, nu0, psi0)."""

    family = "multivariate_normal"
    free = ("mean", "cov")
    prior_type = NormalInverseWishart
    default_text = "Jeffreys-type p(mean, cov) ∝ |cov|^(-(d+1)/2), i.e. NIW(0, 0, -1, 0)"
    example = "NormalInverseWishart(mu0, 1, d + 2, identity)"

    def default_hyper(self, x: np.ndarray, fixed: dict[str, Any]) -> Hyper:
        d = x.shape[1]
        return (np.zeros(d), 0.0, -1.0, np.zeros((d, d)))

    def hyper_of(self, prior: Prior, x: np.ndarray) -> Hyper:
        p: Any = prior
        return (np.asarray(p.mu0), p.kappa0, p.nu0, np.asarray(p.psi0))

    def check_data(self, hyper: Hyper, x: np.ndarray) -> None:
        d = hyper[0].size
        if x.shape[1] != d:
            raise DataError(
                f"x has {x.shape[1]} columns but the NormalInverseWishart prior is {d}-dimensional; "
                "give mu0 and psi0 one entry per column."
            )

    def stats(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any], hyper: Hyper) -> Hyper:
        from thetahat.families import get_family

        total, mean, scatter = get_family("multivariate_normal").sufficient_stats(x, w)  # type: ignore[misc]
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scatter))):
            raise DataError("the mean or scatter of x overflows float64: rescale the columns.")
        return (total, mean, scatter)

    def update(self, hyper: Hyper, stats: Hyper) -> Hyper:
        m, kappa, nu, psi = hyper
        total, mean, scatter = stats
        kappa_n = kappa + total
        delta = mean - m
        psi_n = psi + scatter + (kappa * total / kappa_n) * np.outer(delta, delta)
        return (m + total * delta / kappa_n, kappa_n, nu + total, 0.5 * (psi_n + psi_n.T))

    def improper(self, hyper: Hyper) -> str | None:
        _, _, nu, psi = hyper
        d = psi.shape[0]
        if nu <= d - 1:
            return (
                f"the posterior of 'cov' is improper: {d}-dimensional data need more than "
                f"{d} observations under the default prior (degrees of freedom {nu:g} <= d - 1)"
            )
        diag = np.diag(psi)
        if np.all(diag > 0):
            scale = 1.0 / np.sqrt(diag)
            lam = np.linalg.eigvalsh(psi * scale[:, None] * scale[None, :])
            if lam[0] > 1e-12 * lam[-1]:
                return None
        return (
            "the posterior of 'cov' is improper: the scatter matrix of x is singular (a constant "
            "column, or fewer than d + 1 points in general position)"
        )

    def as_prior(self, hyper: Hyper) -> Prior:
        m, kappa, nu, psi = hyper
        return NormalInverseWishart(tuple(m), kappa, nu, tuple(map(tuple, psi)))

    def _t(self, hyper: Hyper) -> tuple[float, np.ndarray]:
        _, kappa, nu, psi = hyper
        df = nu - psi.shape[0] + 1.0
        return df, psi / (kappa * df)

    def marginals(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        from scipy import stats

        df, shape = self._t(hyper)
        return {
            "mean": stats.multivariate_t(hyper[0], shape, df=df),
            "cov": stats.invwishart(hyper[2], hyper[3]),
        }

    def elements(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, np.ndarray]:
        from scipy import stats

        m, _, nu, psi = hyper
        d = psi.shape[0]
        df, shape = self._t(hyper)
        mean = np.empty(d, dtype=object)
        cov = np.full((d, d), None, dtype=object)
        for j in range(d):
            mean[j] = stats.t(df, loc=m[j], scale=math.sqrt(shape[j, j]))
            # A diagonal entry of an inverse Wishart is inverse gamma ((nu - d + 1)/2, psi_jj/2).
            cov[j, j] = stats.invgamma(0.5 * (nu - d + 1.0), scale=0.5 * psi[j, j])
        return {"mean": mean, "cov": cov}

    def mean(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        m, _, nu, psi = hyper
        d = psi.shape[0]
        df, _ = self._t(hyper)
        return {
            "mean": m.copy() if df > 1 else np.full(d, np.nan),
            "cov": psi / (nu - d - 1.0) if nu > d + 1 else np.full((d, d), np.nan),
        }

    def var(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        _, _, nu, psi = hyper
        d = psi.shape[0]
        df, shape = self._t(hyper)
        diag = np.diag(psi)
        if nu > d + 3:
            # Elementwise variance of the inverse Wishart (e.g. Press 1982, 5.2).
            k = nu - d
            cov_var = ((k + 1) * psi**2 + (k - 1) * np.outer(diag, diag)) / (k * (k - 1) ** 2 * (k - 3))
        else:
            cov_var = np.full((d, d), np.inf)
        mean_var = np.diag(shape) * df / (df - 2.0) if df > 2 else np.full(d, np.inf)
        return {"mean": mean_var, "cov": cov_var}

    def mode(self, hyper: Hyper, fixed: dict[str, Any]) -> dict[str, Any]:
        m, _, nu, psi = hyper
        return {"mean": m.copy(), "cov": psi / (nu + psi.shape[0] + 2.0)}

    def predictive(self, hyper: Hyper, fixed: dict[str, Any]) -> Any:
        from scipy import stats

        kappa = hyper[1]
        df, shape = self._t(hyper)
        return stats.multivariate_t(hyper[0], shape * (kappa + 1.0), df=df)
