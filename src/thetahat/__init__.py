"""thetahat: maximum-likelihood estimation with honest uncertainty.

>>> import thetahat
>>> res = thetahat.fit([2.1, 3.4, 1.9, 5.2, 4.4], "lognormal")
>>> res.converged
True
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# compare and gof share their names with their modules, so they are imported
# eagerly (7 ms): loaded lazily, the submodule import would rebind `thetahat.gof`
# to the module, and `thetahat.gof(res)` would fail on its second use.
from thetahat.compare import compare, lr_test
from thetahat.custom import custom
from thetahat.errors import (
    BoundaryWarning,
    ConvergenceWarning,
    DataError,
    FitError,
    DegenerateWarning,
    HessianWarning,
    ThetahatError,
    ThetahatWarning,
)
from thetahat.families import Family, Param, Support, families, get_family
from thetahat.fit import fit
from thetahat.gof import gof
from thetahat.result import FitResult, FittedDistribution

# Bayesian learning and regression load on first use: `import thetahat` stays
# fast for a single fit or the CLI.
_LAZY = {
    "posterior": "thetahat.bayes",
    "parse_prior": "thetahat.bayes",
    "Beta": "thetahat.bayes",
    "Dirichlet": "thetahat.bayes",
    "Gamma": "thetahat.bayes",
    "HalfNormal": "thetahat.bayes",
    "InverseGamma": "thetahat.bayes",
    "LogNormal": "thetahat.bayes",
    "Normal": "thetahat.bayes",
    "NormalInverseGamma": "thetahat.bayes",
    "NormalInverseWishart": "thetahat.bayes",
    "Uniform": "thetahat.bayes",
    "regress": "thetahat.regression",
    "GaussianMixture": "thetahat.mixture",
    "Mixture": "thetahat.mixture",
    "MixtureResult": "thetahat.mixture",
    "select_gaussian_mixture": "thetahat.mixture",
    "select_mixture": "thetahat.mixture",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'thetahat' has no attribute {name!r}")


__all__ = [
    "fit",
    "custom",
    "families",
    "get_family",
    "Family",
    "Param",
    "Support",
    "FitResult",
    "FittedDistribution",
    "ThetahatError",
    "DataError",
    "FitError",
    "ThetahatWarning",
    "ConvergenceWarning",
    "BoundaryWarning",
    "HessianWarning",
    "DegenerateWarning",
    "compare",
    "lr_test",
    "gof",
    *_LAZY,
]
__version__ = "0.1.0"
