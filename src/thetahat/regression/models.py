r"""Conditional families :math:`p(y \mid x, \theta)` built on the engine's Family protocol.

A regression model is an ordinary :class:`~thetahat.families.base.Family`
whose observations are the rows ``[y, x_1, ..., x_p]`` of a matrix
(``data_ndim = 2``) and whose log-density is the response family's at a
location tied to the covariates,

.. math::
    \log p(y_i \mid x_i, \theta) = \log f_{\text{resp}}\big(y_i;\ g^{-1}(\eta_i), \phi\big),
    \qquad \eta_i = x_i^\top \beta \ \text{(linear)} \ \text{or}\ \eta_i = m(x_i; b),

with :math:`\phi` the response family's other parameters (sigma, shape,
dispersion). The engine then supplies the exact gradient and Hessian,
trust-region Newton, standard errors and the FitResult.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, log_ndtr, xlog1py, xlogy

from thetahat._lazy import special, stats
from thetahat.constraints import positive, real
from thetahat.errors import DataError
from thetahat.families._special import softplus
from thetahat.families.base import Family, Param, Support
from thetahat.regression.links import Link, get_link

__all__ = ["RESPONSES", "RegressionFamily", "Response", "get_response", "linear_family"]

_LOG_2PI = float(np.log(2 * np.pi))


def _extra(name: str, doc: str) -> Param:
    return Param(name, positive, "shape", doc=doc)


@dataclass(frozen=True)
class Response:
    """How one response family enters a regression (see the module docstring)."""

    name: str
    canonical: str
    links: tuple[str, ...]
    extras: tuple[Param, ...]
    is_discrete: bool
    support: str  # "real", "positive", "binary", "count"

    # -- per family, overridden below by table entries --------------------
    def logpdf(self, y: Any, eta: Any, link: Link, **extra: Any) -> Any:
        return _LOGPDF[self.name](y, eta, link, **extra)

    def bad_y(self, y: np.ndarray) -> np.ndarray:
        """Mask of responses outside the family's support."""
        if self.support == "real":
            return np.zeros(y.shape, bool)
        if self.support == "positive":
            return ~(y > 0)
        if self.support == "binary":
            return (y != 0) & (y != 1)
        return (y < 0) | (y != np.floor(y))

    def describe_support(self) -> str:
        return {"real": "real numbers", "positive": "positive numbers (0, inf)",
                "binary": "0 or 1", "count": "non-negative integers"}[self.support]

    def location(self, eta: np.ndarray, link: Link) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.asarray(link.inverse_np(eta), float)

    def moments(self, loc: np.ndarray, extra: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """(mean, variance) of y given the fitted location ``loc``."""
        return _MOMENTS[self.name](loc, **extra)

    def unit_deviance(self, y: np.ndarray, loc: np.ndarray, extra: dict[str, float]) -> np.ndarray:
        """2 (saturated log-density - fitted), unscaled by sigma as in GLM software."""
        return _DEVIANCE[self.name](y, loc, **extra)

    def scipy_dist(self, loc: np.ndarray, extra: dict[str, float]) -> Any:
        """The predictive distribution, a vectorised frozen scipy.stats distribution."""
        return _SCIPY[self.name](loc, **extra)


# -- log-densities in terms of the predictor eta (stable for canonical links) --
def _normal(y: Any, eta: Any, link: Link, sigma: Any) -> Any:
    z = (y - link.inverse(eta)) / sigma
    return -0.5 * z * z - jnp.log(sigma) - 0.5 * _LOG_2PI


def _bernoulli(y: Any, eta: Any, link: Link) -> Any:
    if link.name == "logit":  # y eta - log(1 + e^eta)
        return y * eta - softplus(eta)
    if link.name == "probit":
        return jnp.where(y > 0.5, log_ndtr(eta), log_ndtr(-eta))
    p = link.inverse(eta)
    return xlogy(y, p) + xlog1py(1.0 - y, -p)


def _poisson(y: Any, eta: Any, link: Link) -> Any:
    if link.name == "log":
        return y * eta - jnp.exp(eta) - gammaln(y + 1.0)
    mu = link.inverse(eta)
    return xlogy(y, mu) - mu - gammaln(y + 1.0)


def _log_mean(eta: Any, link: Link) -> Any:
    return eta if link.name == "log" else jnp.log(link.inverse(eta))


def _negbin(y: Any, eta: Any, link: Link, alpha: Any) -> Any:
    # NB2: Var y = mu + alpha mu^2; log(alpha mu) and softplus keep it stable.
    r = 1.0 / alpha
    lam = jnp.log(alpha) + _log_mean(eta, link)
    return (gammaln(y + r) - gammaln(r) - gammaln(y + 1.0)
            + y * lam - (y + r) * softplus(lam))


def _gamma(y: Any, eta: Any, link: Link, shape: Any) -> Any:
    log_mu = _log_mean(eta, link)
    return (shape * (jnp.log(shape) - log_mu) + (shape - 1.0) * jnp.log(y)
            - shape * y * jnp.exp(-log_mu) - gammaln(shape))


def _lognormal(y: Any, eta: Any, link: Link, sigma: Any) -> Any:
    log_y = jnp.log(y)
    return _normal(log_y, eta, link, sigma) - log_y


def _student_t(y: Any, eta: Any, link: Link, sigma: Any, df: Any) -> Any:
    z = (y - link.inverse(eta)) / sigma
    return (gammaln(0.5 * (df + 1.0)) - gammaln(0.5 * df) - 0.5 * jnp.log(df * jnp.pi)
            - jnp.log(sigma) - 0.5 * (df + 1.0) * jnp.log1p(z * z / df))


def _weibull(y: Any, eta: Any, link: Link, shape: Any) -> Any:
    u = shape * (jnp.log(y) - _log_mean(eta, link))  # k log(y / lambda)
    return jnp.log(shape) - jnp.log(y) + u - jnp.exp(u)


_LOGPDF: dict[str, Callable[..., Any]] = {
    "normal": _normal, "bernoulli": _bernoulli, "poisson": _poisson,
    "negative_binomial": _negbin, "gamma": _gamma, "lognormal": _lognormal,
    "student_t": _student_t, "weibull": _weibull,
}

_MOMENTS: dict[str, Callable[..., Any]] = {
    "normal": lambda m, sigma: (m, np.full_like(m, sigma**2)),
    "bernoulli": lambda p: (p, p * (1 - p)),
    "poisson": lambda m: (m, m),
    "negative_binomial": lambda m, alpha: (m, m + alpha * m**2),
    "gamma": lambda m, shape: (m, m**2 / shape),
    "lognormal": lambda loc, sigma: (np.exp(loc + sigma**2 / 2),
                                     np.expm1(sigma**2) * np.exp(2 * loc + sigma**2)),
    "student_t": lambda m, sigma, df: (np.where(df > 1, m, np.nan),
                                       np.full_like(m, sigma**2 * df / (df - 2) if df > 2 else np.inf)),
    "weibull": lambda lam, shape: (lam * special.gamma(1 + 1 / shape),
                                   lam**2 * (special.gamma(1 + 2 / shape) - special.gamma(1 + 1 / shape) ** 2)),
}


def _pois_dev(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    return 2 * (special.xlogy(y, y) - special.xlogy(y, m) - (y - m))


_DEVIANCE: dict[str, Callable[..., Any]] = {
    "normal": lambda y, m, sigma: (y - m) ** 2,
    "bernoulli": lambda y, p: -2 * (special.xlogy(y, p) + special.xlog1py(1 - y, -p)),
    "poisson": _pois_dev,
    "negative_binomial": lambda y, m, alpha: 2 * (
        special.xlogy(y, y) - special.xlogy(y, m)
        - (y + 1 / alpha) * (np.log1p(alpha * y) - np.log1p(alpha * m))),
    "gamma": lambda y, m, shape: 2 * (-np.log(y / m) + (y - m) / m),
    "lognormal": lambda y, loc, sigma: (np.log(y) - loc) ** 2,
    "student_t": lambda y, m, sigma, df: (df + 1) * np.log1p(((y - m) / sigma) ** 2 / df),
    "weibull": lambda y, lam, shape: 2 * ((y / lam) ** shape - 1 - shape * np.log(y / lam)),
}

_SCIPY: dict[str, Callable[..., Any]] = {
    "normal": lambda m, sigma: stats.norm(m, sigma),
    "bernoulli": lambda p: stats.bernoulli(p),
    "poisson": lambda m: stats.poisson(m),
    "negative_binomial": lambda m, alpha: stats.nbinom(1 / alpha, 1 / (1 + alpha * m)),
    "gamma": lambda m, shape: stats.gamma(shape, scale=m / shape),
    "lognormal": lambda loc, sigma: stats.lognorm(sigma, scale=np.exp(loc)),
    "student_t": lambda m, sigma, df: stats.t(df, m, sigma),
    "weibull": lambda lam, shape: stats.weibull_min(shape, scale=lam),
}

_CONT = ("identity", "log", "inverse")
RESPONSES: dict[str, Response] = {
    r.name: r
    for r in (
        Response("normal", "identity", _CONT, (_extra("sigma", "residual sd (1/n ML)"),), False, "real"),
        Response("bernoulli", "logit", ("logit", "probit", "log", "identity"), (), True, "binary"),
        Response("poisson", "log", ("log", "identity"), (), True, "count"),
        Response("negative_binomial", "log", ("log", "identity"),
                 (_extra("alpha", "NB2 dispersion: Var y = mu + alpha mu^2"),), True, "count"),
        Response("gamma", "inverse", _CONT, (_extra("shape", "gamma shape: Var y = mu^2/shape"),),
                 False, "positive"),
        Response("lognormal", "identity", _CONT, (_extra("sigma", "sd of log y"),), False, "positive"),
        Response("student_t", "identity", _CONT,
                 (_extra("sigma", "scale"), _extra("df", "degrees of freedom")), False, "real"),
        Response("weibull", "log", ("log", "identity"),
                 (_extra("shape", "Weibull shape k (AFT: log y = eta + W/k)"),), False, "positive"),
    )
}
_ALIASES = {"gaussian": "normal", "logistic": "bernoulli", "binomial": "bernoulli",
            "logit": "bernoulli", "negbin": "negative_binomial", "t": "student_t"}


def get_response(family: str) -> Response:
    """The :class:`Response` called ``family`` (aliases: gaussian, binomial, logistic, t)."""
    name = _ALIASES.get(family, family) if isinstance(family, str) else family
    if name not in RESPONSES:
        raise DataError(
            f"family must be one of {sorted(RESPONSES)}; got {family!r} instead."
        )
    return RESPONSES[name]


class RegressionFamily(Family):
    """A conditional family on rows ``[y, x_1..x_p]`` (built per model by :mod:`api`).

    ``mean_fn=None`` gives the linear predictor ``eta = X @ coef`` with a
    vector parameter ``coef`` of shape (p,); otherwise ``eta = mean_fn(x, **b)``
    with one real scalar parameter per name, internally ``b = scale * u`` so
    that the optimiser works on parameters of order one.
    """

    standardize = "none"
    data_ndim = 2
    support = Support()

    def __init__(
        self,
        response: Response,
        link: Link,
        names: tuple[str, ...] | None = None,
        mean_fn: Callable[..., Any] | None = None,
        scales: tuple[float, ...] | None = None,
    ) -> None:
        self.response, self.link = response, link
        self.mean_fn, self.names, self.scales = mean_fn, names, scales
        if mean_fn is None:
            head: tuple[Param, ...] = (Param("coef", real, "shape", doc="regression coefficients"),)
        else:
            head = tuple(Param(n, real, "shape") for n in names or ())
        self.params = head + response.extras  # type: ignore[misc]
        self.linear_coef = "coef" if mean_fn is None else None  # type: ignore[misc]
        self.is_discrete = response.is_discrete  # type: ignore[misc]
        self.name = f"{response.name} regression ({link.name} link)"  # type: ignore[misc]

    def param_shapes(self, x: np.ndarray) -> dict[str, tuple[int, ...]]:
        return {"coef": (x.shape[1] - 1,)} if self.mean_fn is None else {}

    def initial_params(self, x: np.ndarray, w: np.ndarray, fixed: dict[str, Any]) -> dict[str, Any]:
        return {}  # the api always passes complete start values

    def predictor(self, x: Any, params: dict[str, Any]) -> Any:
        """eta for covariate columns ``x`` (n, p) at internal parameters."""
        if self.mean_fn is None:
            return x @ params["coef"]
        b = {n: params[n] * s for n, s in zip(self.names or (), self.scales or ())}
        return self.mean_fn(x[:, 0] if x.shape[1] == 1 else x, **b)

    def logpdf(self, x: Any, **params: Any) -> Any:
        if self.mean_fn is None:  # x @ [0, coef]: no copy of the covariate columns
            coef = params["coef"]
            eta = x @ jnp.concatenate([jnp.zeros(1, coef.dtype), coef])
        else:
            eta = self.predictor(x[:, 1:], params)
        extra = {p.name: params[p.name] for p in self.response.extras}
        return self.response.logpdf(x[:, 0], eta, self.link, **extra)

    def design(self, x: Any) -> tuple[Any, int]:
        return x, 1

    def local_logpdf(self, x: Any, eta: Any, **others: Any) -> Any:
        extra = {p.name: others[p.name] for p in self.response.extras}
        return self.response.logpdf(x[:, 0], eta, self.link, **extra)


@lru_cache(maxsize=64)
def linear_family(response: str, link: str) -> RegressionFamily:
    """One cached instance per (response, link), so the engine compiles once per shape."""
    return RegressionFamily(get_response(response), get_link(link))
