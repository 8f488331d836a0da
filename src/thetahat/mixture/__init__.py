"""Mixtures fitted by expectation–maximisation.

* :class:`GaussianMixture` -- Gaussian mixtures with the scikit-learn API;
* :func:`select_gaussian_mixture` -- number of components and covariance
  structure by BIC over a grid;
* :class:`Mixture` -- mixtures of any of thetahat's univariate families.

All three run the same jitted EM loop (:mod:`thetahat.mixture.em`).
"""

from thetahat.mixture.gaussian import GaussianMixture
from thetahat.mixture.model import Mixture, MixtureResult
from thetahat.mixture.selection import (
    MixtureSelection,
    select_gaussian_mixture,
    select_mixture,
)

__all__ = [
    "GaussianMixture",
    "Mixture",
    "MixtureResult",
    "MixtureSelection",
    "select_gaussian_mixture",
    "select_mixture",
]
