"""Conditional models p(y | x, theta): regression and curve fitting by maximum likelihood.

>>> import numpy as np, thetahat
>>> x = np.arange(10.0)
>>> noise = np.array([0.1, -0.1, -0.1, 0.1] * 2 + [0, 0])  # orthogonal to 1 and x
>>> res = thetahat.regress(1.0 + 2.0 * x + noise, x, intercept=True)
>>> [round(v, 6) for v in res.coef.values()]
[1.0, 2.0]
"""

from thetahat.regression.api import Prediction, RegressionResult, regress, regress_command

__all__ = ["regress", "regress_command", "RegressionResult", "Prediction"]
