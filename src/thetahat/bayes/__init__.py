"""Bayesian parameter learning: priors, closed-form conjugate posteriors, MLE side by side.

``thetahat.posterior(x, family, prior=...)`` returns the exact posterior for
the conjugate pairs (Beta-Bernoulli/binomial/geometric, Dirichlet-categorical,
Gamma-Poisson/exponential, normal with known or unknown variance,
normal-inverse-Wishart for the multivariate normal). For any other family or
prior, ``thetahat.fit(x, family, prior={...})`` finds the MAP estimate with a
Laplace approximation of the posterior. :func:`parse_prior` reads priors
written as text (``"p=beta(1,1)"``), as the command line does.

>>> import thetahat
>>> post = thetahat.posterior([0] * 30, "bernoulli")   # 30 flights, no collision
>>> round(post.mean()["p"], 6)
0.03125
"""

from thetahat.bayes._marginals import SqrtInverseGamma, hpd_interval
from thetahat.bayes.compare import Comparison, compare_mle
from thetahat.bayes.conjugate import Posterior, posterior
from thetahat.bayes.grammar import parse_prior
from thetahat.bayes.priors import (
    Beta,
    Dirichlet,
    Gamma,
    HalfNormal,
    InverseGamma,
    LogNormal,
    Normal,
    NormalInverseGamma,
    NormalInverseWishart,
    Prior,
    Uniform,
    validate_prior,
)

__all__ = [
    "posterior",
    "Posterior",
    "compare_mle",
    "Comparison",
    "parse_prior",
    "validate_prior",
    "hpd_interval",
    "SqrtInverseGamma",
    "Prior",
    "Beta",
    "Gamma",
    "Normal",
    "InverseGamma",
    "Dirichlet",
    "HalfNormal",
    "LogNormal",
    "Uniform",
    "NormalInverseGamma",
    "NormalInverseWishart",
]
