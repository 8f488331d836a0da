"""thetahat: maximum-likelihood estimation with honest uncertainty.

>>> import thetahat
>>> res = thetahat.fit([2.1, 3.4, 1.9, 5.2, 4.4], "lognormal")
>>> res.converged
True
"""

from thetahat.errors import (
    BoundaryWarning,
    ConvergenceWarning,
    DataError,
    FitError,
    HessianWarning,
    ThetahatError,
    ThetahatWarning,
)
from thetahat.custom import custom
from thetahat.families import Family, Param, Support, families, get_family
from thetahat.fit import fit
from thetahat.result import FitResult, FittedDistribution

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
]
__version__ = "0.1.0"
