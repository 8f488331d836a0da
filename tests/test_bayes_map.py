"""MAP through the generic optimiser: ``thetahat.fit(x, family, prior={...})``.

The conjugate posteriors give exact answers to check it against: the MAP is
the posterior mode, and the Laplace covariance (inverse Hessian of the
negative log posterior at the MAP) tends to the exact posterior variance as n
grows, its relative error shrinking like 1/n.
"""

from __future__ import annotations

import itertools
import math

import jax
import numpy as np
import pytest

import thetahat
from thetahat import DataError
from thetahat.bayes import (
    Beta,
    Gamma,
    HalfNormal,
    InverseGamma,
    Normal,
    Uniform,
    parse_prior,
    posterior,
    validate_prior,
)

#: The MAP from the generic optimiser agrees with the closed-form mode to about
#: 1e-8 relative, no better: the trust-region solver accepts a step only when the
#: objective does not rise, so it stalls where the remaining decrease,
#: ~H (delta theta)^2 / 2, drops below the rounding of the objective, i.e. at
#: |delta theta| ~ sqrt(eps |nll| / H) (3e-8 for the Poisson case below).
MAP_RTOL = 1e-8
#: The default tolerance stops once the Newton decrement is below 1e-12 (1 + |nll|),
#: which grows with n: at n = 1000 it can stop one Newton step early, 3e-7 away.
MAP_TOL = 1e-14


def test_map_equals_beta_bernoulli_mode() -> None:
    x = (np.random.default_rng(0).random(40) < 0.3).astype(float)
    prior = Beta(2.5, 4.0)
    res = thetahat.fit(x, "bernoulli", prior={"p": prior}, tol=MAP_TOL)
    post = posterior(x, "bernoulli", prior=prior)
    assert res.converged and res.log_prior is not None
    assert res.params["p"] == pytest.approx(post.mode()["p"], rel=MAP_RTOL, abs=0)
    # loglik stays the log-likelihood; log_prior is the prior's log density at the MAP.
    with jax.enable_x64(True):
        assert res.log_prior == pytest.approx(float(prior.logpdf(res.params["p"])), rel=1e-12)


def test_map_equals_gamma_poisson_mode() -> None:
    x = np.random.default_rng(1).poisson(3.0, size=50).astype(float)
    prior = Gamma(2.0, 1.0)
    res = thetahat.fit(x, "poisson", prior={"rate": prior}, tol=MAP_TOL)
    post = posterior(x, "poisson", prior=prior)
    assert res.converged
    assert res.params["rate"] == pytest.approx(post.mode()["rate"], rel=MAP_RTOL, abs=0)


def test_map_equals_normal_mean_mode_with_known_sigma() -> None:
    x = np.random.default_rng(2).normal(10.0, 3.0, size=15)
    prior = Normal(0.0, 2.0)
    res = thetahat.fit(x, "normal", fixed={"sigma": 3.0}, prior={"mu": prior}, tol=MAP_TOL)
    post = posterior(x, "normal", fixed={"sigma": 3.0}, prior={"mu": prior})
    assert res.params["mu"] == pytest.approx(post.mode()["mu"], rel=MAP_RTOL, abs=0)
    # A Gaussian posterior: the Laplace approximation is exact.
    assert res.se["mu"] == pytest.approx(post.dist["mu"].std(), rel=1e-8)


def test_map_equals_normal_sigma_mode_with_known_mean() -> None:
    x = np.random.default_rng(3).normal(1.0, 0.5, size=20)
    prior = InverseGamma(3.0, 0.5, squared=True)
    res = thetahat.fit(x, "normal", fixed={"mu": 1.0}, prior={"sigma": prior}, tol=MAP_TOL)
    post = posterior(x, "normal", fixed={"mu": 1.0}, prior={"sigma": prior})
    assert res.params["sigma"] == pytest.approx(post.mode()["sigma"], rel=MAP_RTOL, abs=0)


def test_map_reaches_rounding_level_accuracy() -> None:
    x = np.random.default_rng(1).poisson(3.0, size=50).astype(float)
    res = thetahat.fit(x, "poisson", prior={"rate": Gamma(2.0, 1.0)}, tol=1e-16)
    mode = (2.0 + x.sum() - 1.0) / (1.0 + x.size)
    assert res.converged and res.params["rate"] == pytest.approx(mode, rel=1e-13, abs=0)


def _laplace_errors(family: str, draw, prior_key: str, prior: object) -> list[float]:  # type: ignore[no-untyped-def]
    errors = []
    rng = np.random.default_rng(4)
    for n in (10, 100, 1000, 10000):
        x = draw(rng, n)
        res = thetahat.fit(x, family, prior={prior_key: prior}, tol=MAP_TOL)
        exact = posterior(x, family, prior={prior_key: prior}).var()[prior_key]
        errors.append(abs(res.cov[0, 0] / exact - 1.0))
    return errors


@pytest.mark.parametrize(
    "family, draw, key, prior",
    [
        ("bernoulli", lambda r, n: (r.random(n) < 0.3).astype(float), "p", Beta(2.0, 3.0)),
        ("poisson", lambda r, n: r.poisson(2.5, n).astype(float), "rate", Gamma(2.0, 1.0)),
    ],
    ids=["beta-bernoulli", "gamma-poisson"],
)
def test_laplace_variance_approaches_exact_posterior_variance(family, draw, key, prior) -> None:  # type: ignore[no-untyped-def]
    errors = _laplace_errors(family, draw, key, prior)
    assert all(later < earlier for earlier, later in itertools.pairwise(errors)), errors
    assert errors[-1] < 1e-3  # O(1/n)
    assert errors[0] * 10 > errors[1]  # and not faster than it should: the approximation is not exact


def test_non_conjugate_gamma_shape_prior_gives_a_sensible_map() -> None:
    x = np.random.default_rng(5).gamma(2.0, 1.5, size=25)
    prior = {"shape": Gamma(40.0, 10.0)}  # confident that the shape is near 4
    mle = thetahat.fit(x, "gamma")
    res = thetahat.fit(x, "gamma", prior=prior)
    assert res.converged and res.hessian_ok and res.method.startswith("MAP")
    k_mle, k_map = mle.params["shape"], res.params["shape"]
    assert k_map != pytest.approx(k_mle, rel=1e-3)
    assert abs(k_map - 4.0) < abs(k_mle - 4.0)  # pulled towards the prior
    assert res.loglik <= mle.loglik + 1e-9  # the MLE maximises the likelihood ...
    with jax.enable_x64(True):
        lp_mle = float(prior["shape"].logpdf(k_mle))
    assert res.loglik + res.log_prior >= mle.loglik + lp_mle - 1e-9  # ... the MAP the posterior
    assert math.isfinite(res.se["shape"]) and res.se["shape"] < mle.se["shape"]  # the prior adds information


def test_parsed_priors_drive_fit() -> None:
    x = np.random.default_rng(6).normal(2.0, 1.0, size=30)
    res = thetahat.fit(x, "normal", prior=parse_prior("mu=normal(0, 1); sigma=half_normal(2)"))
    assert res.converged and 0 < res.params["mu"] < x.mean()
    direct = thetahat.fit(x, "normal", prior={"mu": Normal(0, 1), "sigma": HalfNormal(2)})
    assert res.params == direct.params


def test_validate_prior_catches_a_support_that_excludes_the_mle() -> None:
    x = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    mle = thetahat.fit(x, "bernoulli")
    with pytest.raises(DataError, match=r"prior for 'p'.*excludes the maximum-likelihood estimate p = 0.6"):
        validate_prior({"p": Uniform(0, 0.1)}, "bernoulli", estimate=mle.params)
    with pytest.raises(DataError, match=r"unknown parameter.*'q'"):
        validate_prior({"q": Beta(1, 1)}, "bernoulli")
    with pytest.raises(DataError, match=r"must have a logpdf"):
        validate_prior({"p": 0.5}, "bernoulli")
    assert validate_prior({"p": Beta(2, 2)}, "bernoulli", estimate=mle.params) == {"p": Beta(2, 2)}
