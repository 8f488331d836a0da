r"""Prior distributions on named parameters.

Each prior is a small immutable (frozen, hashable) object: its hyperparameters
are validated when it is built, ``logpdf(value)`` is written in ``jax.numpy``
(so that ``thetahat.fit(x, family, prior={"p": Beta(2, 2)})`` can maximise
log-likelihood + log-prior, with gradients and Hessians by autodiff) and
``to_scipy()`` gives the equivalent frozen ``scipy.stats`` distribution where
scipy has one. Densities are always over the family's own parameter (the
standard deviation ``sigma`` of the normal, not its variance), so that the
MAP of ``fit(..., prior=...)`` and the mode reported by
:func:`thetahat.posterior` are the same point.

``logpdf`` follows JAX's dtype configuration: inside ``fit`` (which enables
64-bit mode) it is evaluated in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import betaln, gammaln, xlog1py, xlogy

from thetahat.bayes._base import HALF_LOG_2PI, Prior, log_positive, positive_number
from thetahat.bayes._joint import NormalInverseGamma, NormalInverseWishart
from thetahat.errors import DataError

__all__ = [
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
    "validate_prior",
]

@dataclass(frozen=True)
class Beta(Prior):
    r"""Beta prior on a probability: conjugate to the Bernoulli, binomial and geometric ``p``.

    Parameters
    ----------
    a, b : float
        Positive concentrations: prior pseudo-counts of successes and failures.
        ``Beta(1, 1)`` is uniform; ``Beta(0.5, 0.5)`` is Jeffreys' prior.

    Notes
    -----
    .. math:: \log p(\theta) = (a-1)\log\theta + (b-1)\log(1-\theta) - \log B(a, b),
        \quad \theta \in [0, 1]

    Examples
    --------
    >>> from thetahat.bayes import Beta
    >>> Beta(2, 8)
    Beta(a=2.0, b=8.0)
    >>> round(float(Beta(2, 8).to_scipy().mean()), 12)
    0.2
    """

    a: float
    b: float
    _checks: ClassVar[dict[str, tuple[str, str]]] = {
        "a": ("positive", "a concentration"),
        "b": ("positive", "a concentration"),
    }

    def logpdf(self, value: Any) -> Any:
        v = jnp.asarray(value)
        inside = (v >= 0) & (v <= 1)
        vs = jnp.where(inside, v, 0.5)
        lp = xlogy(self.a - 1.0, vs) + xlog1py(self.b - 1.0, -vs) - betaln(self.a, self.b)
        return jnp.where(inside, lp, -jnp.inf)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.beta(self.a, self.b)

    def support(self) -> tuple[float, float]:
        return 0.0, 1.0


@dataclass(frozen=True)
class Gamma(Prior):
    r"""Gamma prior (shape, rate) on a positive parameter: conjugate to Poisson and exponential rates.

    Parameters
    ----------
    shape : float
        Positive shape :math:`\alpha`.
    rate : float
        Positive rate :math:`\beta` (1/scale); the mean is :math:`\alpha/\beta`.

    Notes
    -----
    .. math:: \log p(\lambda) = \alpha\log\beta - \log\Gamma(\alpha) + (\alpha-1)\log\lambda - \beta\lambda,
        \quad \lambda > 0

    Examples
    --------
    >>> from thetahat.bayes import Gamma
    >>> g = Gamma(2, 0.5)
    >>> float(g.to_scipy().mean())
    4.0
    """

    shape: float
    rate: float
    _checks: ClassVar[dict[str, tuple[str, str]]] = {
        "shape": ("positive", "a concentration"),
        "rate": ("positive", "an inverse scale"),
    }

    def logpdf(self, value: Any) -> Any:
        inside, log_v = log_positive(value)
        v = jnp.where(inside, value, 1.0)
        lp = self.shape * math.log(self.rate) - gammaln(self.shape) + (self.shape - 1.0) * log_v - self.rate * v
        return jnp.where(inside, lp, -jnp.inf)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.gamma(self.shape, scale=1.0 / self.rate)

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf


@dataclass(frozen=True)
class Normal(Prior):
    r"""Normal prior on a real parameter: conjugate to the normal mean when sigma is known.

    Parameters
    ----------
    mu : float
        Prior mean.
    sigma : float
        Positive prior standard deviation.

    Notes
    -----
    .. math:: \log p(\theta) = -\tfrac12\log(2\pi\sigma^2) - \frac{(\theta-\mu)^2}{2\sigma^2}

    Examples
    --------
    >>> from thetahat.bayes import Normal
    >>> Normal(0, 10)
    Normal(mu=0.0, sigma=10.0)
    """

    mu: float
    sigma: float
    _checks: ClassVar[dict[str, tuple[str, str]]] = {
        "mu": ("real", "the mean"),
        "sigma": ("positive", "a standard deviation"),
    }

    def logpdf(self, value: Any) -> Any:
        z = (jnp.asarray(value) - self.mu) / self.sigma
        return -0.5 * z * z - math.log(self.sigma) - HALF_LOG_2PI

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.norm(self.mu, self.sigma)


@dataclass(frozen=True)
class InverseGamma(Prior):
    r"""Inverse-gamma prior (shape, scale) on a positive parameter, or on its square.

    With ``squared=True`` the *square* of the parameter follows the
    inverse gamma: the conjugate prior of the normal ``sigma`` when ``mu`` is
    known is ``InverseGamma(a, b, squared=True)`` (the variance
    :math:`\sigma^2` is inverse-gamma), and ``logpdf`` is the density of
    :math:`\sigma` itself, Jacobian included.

    Parameters
    ----------
    shape : float
        Positive shape :math:`\alpha`.
    scale : float
        Positive scale :math:`\beta`.
    squared : bool, default=False
        Put the inverse gamma on the square of the parameter.

    Notes
    -----
    .. math:: \log p(v) = \alpha\log\beta - \log\Gamma(\alpha) - (\alpha+1)\log v - \beta/v, \quad v > 0

    With ``squared=True``, :math:`\log p(\sigma) = \log p_{IG}(\sigma^2) + \log(2\sigma)`,
    and ``to_scipy()`` returns a :class:`~thetahat.bayes.SqrtInverseGamma`
    (scipy has no square-root inverse gamma).

    Examples
    --------
    >>> from thetahat.bayes import InverseGamma
    >>> InverseGamma(3, 2, squared=True)
    InverseGamma(shape=3.0, scale=2.0, squared=True)
    >>> float(InverseGamma(3, 2).to_scipy().mean())
    1.0
    """

    shape: float
    scale: float
    squared: bool = False
    _checks: ClassVar[dict[str, tuple[str, str]]] = {
        "shape": ("positive", "a concentration"),
        "scale": ("positive", "a scale"),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.squared, (bool, np.bool_)):
            raise DataError(f"InverseGamma argument 'squared' must be True or False; got {self.squared!r}.")
        object.__setattr__(self, "squared", bool(self.squared))

    def logpdf(self, value: Any) -> Any:
        v = jnp.asarray(value)
        inside, log_v = log_positive(v)
        vs = jnp.where(inside, v, 1.0)
        t, log_t = (vs * vs, 2.0 * log_v) if self.squared else (vs, log_v)
        lp = self.shape * math.log(self.scale) - gammaln(self.shape) - (self.shape + 1.0) * log_t - self.scale / t
        if self.squared:
            lp = lp + math.log(2.0) + log_v
        return jnp.where(inside, lp, -jnp.inf)

    def to_scipy(self) -> Any:
        if self.squared:
            from thetahat.bayes._marginals import SqrtInverseGamma

            return SqrtInverseGamma(self.shape, self.scale)
        from scipy import stats

        return stats.invgamma(self.shape, scale=self.scale)

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf


@dataclass(frozen=True)
class Dirichlet(Prior):
    r"""Dirichlet prior on a probability vector: conjugate to the categorical ``probs``.

    Parameters
    ----------
    alpha : sequence of float
        Positive concentrations, one per category (at least two): prior
        pseudo-counts. ``Dirichlet.symmetric(1.0, k)`` gives Laplace
        (add-one) smoothing, ``Dirichlet.symmetric(alpha, k)`` add-alpha.

    Notes
    -----
    .. math:: \log p(\pi) = \log\Gamma(\textstyle\sum_j\alpha_j) - \sum_j \log\Gamma(\alpha_j)
        + \sum_j (\alpha_j - 1)\log\pi_j, \quad \pi \in \Delta^{k-1}

    Examples
    --------
    >>> from thetahat.bayes import Dirichlet
    >>> Dirichlet.symmetric(0.5, 3)
    Dirichlet(alpha=(0.5, 0.5, 0.5))
    """

    alpha: tuple[float, ...]

    def __post_init__(self) -> None:
        try:
            raw = list(self.alpha)
        except TypeError:
            raise DataError(
                f"Dirichlet hyperparameter 'alpha' must be a sequence of concentrations; got {self.alpha!r}."
            ) from None
        if len(raw) < 2:
            raise DataError(f"Dirichlet hyperparameter 'alpha' needs at least 2 entries; got {len(raw)}.")
        alpha = tuple(positive_number("Dirichlet", f"alpha[{j}]", a, "a concentration") for j, a in enumerate(raw))
        object.__setattr__(self, "alpha", alpha)

    @classmethod
    def symmetric(cls, alpha: float, k: int) -> Dirichlet:
        """Dirichlet(alpha, ..., alpha) over ``k`` categories (add-alpha smoothing)."""
        if not isinstance(k, (int, np.integer)) or k < 2:
            raise DataError(f"Dirichlet.symmetric needs an integer number of categories k >= 2; got {k!r}.")
        return cls((alpha,) * int(k))

    def logpdf(self, value: Any) -> Any:
        v = jnp.asarray(value)
        alpha = jnp.asarray(self.alpha)
        inside = jnp.all(v >= 0, axis=-1)
        vs = jnp.where(v >= 0, v, 1.0)
        norm = gammaln(jnp.sum(alpha)) - jnp.sum(gammaln(alpha))
        return jnp.where(inside, norm + jnp.sum(xlogy(alpha - 1.0, vs), axis=-1), -jnp.inf)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.dirichlet(np.asarray(self.alpha))

    def in_support(self, value: Any) -> bool:
        # A shorter vector (categories never observed) is padded with zeros.
        v = np.asarray(value, dtype=float).reshape(-1)
        return bool(v.size <= len(self.alpha) and np.all(v >= 0) and abs(v.sum() - 1) < 1e-9)

    def describe_support(self) -> str:
        return f"the probability vectors of length {len(self.alpha)}"


@dataclass(frozen=True)
class HalfNormal(Prior):
    r"""Half-normal prior on a positive parameter (a weakly informative scale prior).

    Parameters
    ----------
    sigma : float
        Positive scale.

    Notes
    -----
    .. math:: \log p(\theta) = \log 2 - \tfrac12\log(2\pi\sigma^2) - \frac{\theta^2}{2\sigma^2}, \quad \theta \ge 0

    Examples
    --------
    >>> from thetahat.bayes import HalfNormal
    >>> round(float(HalfNormal(1.0).to_scipy().median()), 6)
    0.67449
    """

    sigma: float
    _checks: ClassVar[dict[str, tuple[str, str]]] = {"sigma": ("positive", "a scale")}

    def logpdf(self, value: Any) -> Any:
        v = jnp.asarray(value)
        z = v / self.sigma
        return jnp.where(v >= 0, math.log(2.0) - 0.5 * z * z - math.log(self.sigma) - HALF_LOG_2PI, -jnp.inf)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.halfnorm(scale=self.sigma)

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf


@dataclass(frozen=True)
class LogNormal(Prior):
    r"""Log-normal prior on a positive parameter: ``log(theta) ~ Normal(mu, sigma)``.

    Parameters
    ----------
    mu : float
        Mean of the logarithm.
    sigma : float
        Positive standard deviation of the logarithm.

    Notes
    -----
    .. math:: \log p(\theta) = -\log\theta - \tfrac12\log(2\pi\sigma^2) - \frac{(\log\theta-\mu)^2}{2\sigma^2}, \quad \theta > 0

    Examples
    --------
    >>> from thetahat.bayes import LogNormal
    >>> round(float(LogNormal(0.0, 1.0).to_scipy().median()), 12)
    1.0
    """

    mu: float
    sigma: float
    _checks: ClassVar[dict[str, tuple[str, str]]] = {
        "mu": ("real", "the mean of the logarithm"),
        "sigma": ("positive", "the sd of the logarithm"),
    }

    def logpdf(self, value: Any) -> Any:
        inside, log_v = log_positive(value)
        z = (log_v - self.mu) / self.sigma
        return jnp.where(inside, -log_v - 0.5 * z * z - math.log(self.sigma) - HALF_LOG_2PI, -jnp.inf)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.lognorm(self.sigma, scale=math.exp(self.mu))

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf


@dataclass(frozen=True)
class Uniform(Prior):
    r"""Uniform prior on the interval [low, high].

    ``Uniform(0, 1)`` on a probability is ``Beta(1, 1)`` and is accepted by
    :func:`thetahat.posterior` as such; other ranges have no closed-form
    posterior (use ``thetahat.fit(..., prior=...)`` for the MAP).

    Parameters
    ----------
    low, high : float
        Finite ends, ``low < high``.

    Notes
    -----
    .. math:: \log p(\theta) = -\log(\mathrm{high} - \mathrm{low}), \quad \theta \in [\mathrm{low}, \mathrm{high}]

    Examples
    --------
    >>> from thetahat.bayes import Uniform
    >>> Uniform(0, 2).in_support(2.5)
    False
    """

    low: float
    high: float
    _checks: ClassVar[dict[str, tuple[str, str]]] = {
        "low": ("real", "the lower end"),
        "high": ("real", "the upper end"),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.low < self.high:
            raise DataError(
                f"Uniform hyperparameters must satisfy low < high; got low={self.low!r}, high={self.high!r}."
            )

    def logpdf(self, value: Any) -> Any:
        v = jnp.asarray(value)
        inside = (v >= self.low) & (v <= self.high)
        return jnp.where(inside, -math.log(self.high - self.low), -jnp.inf)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.uniform(self.low, self.high - self.low)

    def support(self) -> tuple[float, float]:
        return self.low, self.high


def validate_prior(
    prior: Mapping[str, Any],
    family: Any,
    *,
    fixed: Mapping[str, Any] | None = None,
    estimate: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check a ``{parameter: prior}`` mapping against a family (and an estimate).

    Parameters
    ----------
    prior : dict
        Parameter name -> prior (an object with ``logpdf``).
    family : str or Family
        The family the priors are for.
    fixed : dict, optional
        Fixed parameters: a prior on one of them is an error.
    estimate : dict, optional
        Parameter values (typically the maximum-likelihood estimate). A prior
        whose support (closure) excludes the estimate is a DataError naming
        the parameter: MAP estimation would start, and the posterior would
        pile up, at the prior's edge, far from where the data point.

    Returns
    -------
    dict
        The priors, as a plain dict.

    Examples
    --------
    >>> from thetahat.bayes import Uniform, validate_prior
    >>> validate_prior({"p": Uniform(0, 0.1)}, "bernoulli", estimate={"p": 0.6})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    thetahat.errors.DataError: the prior for 'p' (Uniform(low=0.0, high=0.1), support [0, 0.1]) excludes the maximum-likelihood estimate p = 0.6...
    """
    from thetahat.families import get_family

    fam = get_family(family)
    if not isinstance(prior, Mapping):
        raise DataError(
            f"prior must be a dict {{parameter name: prior}}; got {type(prior).__name__}."
        )
    names = fam.param_names
    unknown = [k for k in prior if k not in names]
    if unknown:
        raise DataError(
            f"prior names unknown parameter(s) {unknown} of family {fam.name!r}; "
            f"its parameters are {list(names)}."
        )
    on_fixed = [k for k in prior if k in (fixed or {})]
    if on_fixed:
        raise DataError(f"prior given for {on_fixed}, which is fixed; drop the prior or the fixed value.")
    for name, dist in prior.items():
        if not callable(getattr(dist, "logpdf", None)):
            raise DataError(
                f"prior for {name!r} must have a logpdf(value) method; got {type(dist).__name__}."
            )
        if estimate is None or name not in estimate or not hasattr(dist, "in_support"):
            continue
        value = np.asarray(estimate[name], dtype=float)
        if not dist.in_support(value):
            shown = f"{float(value):.6g}" if value.ndim == 0 else np.array2string(value, precision=6)
            raise DataError(
                f"the prior for {name!r} ({dist!r}, support {dist.describe_support()}) excludes "
                f"the maximum-likelihood estimate {name} = {shown}: the data contradict the "
                "prior, and its edge would decide the answer. Widen the prior or check "
                "that it is on the right parameter."
            )
    return dict(prior)

