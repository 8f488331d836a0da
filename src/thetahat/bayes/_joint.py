r"""Joint priors on two parameters at once: normal-inverse-gamma and normal-inverse-Wishart.

They are the conjugate priors of the normal with unknown mean and variance and
of the multivariate normal. Their ``logpdf`` takes both parameters together,
so they are passed to :func:`thetahat.posterior` as ``prior=`` themselves, not
in a ``{name: prior}`` dict (``thetahat.fit``'s ``prior=`` takes independent
priors, one per parameter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve
from jax.scipy.special import gammaln, multigammaln

from thetahat.bayes._base import HALF_LOG_2PI, Prior, positive_number, real_number
from thetahat.errors import DataError

__all__ = ["NormalInverseGamma", "NormalInverseWishart"]


@dataclass(frozen=True)
class NormalInverseGamma(Prior):
    r"""Normal-inverse-gamma prior on the normal's ``(mu, sigma)``.

    :math:`\sigma^2 \sim \mathrm{InvGamma}(\alpha_0, \beta_0)` and
    :math:`\mu \mid \sigma^2 \sim N(\mu_0, \sigma^2/\kappa_0)`: the conjugate
    prior of the normal with unknown mean and variance. :math:`\kappa_0` is a
    prior number of observations for the mean, :math:`2\alpha_0` one for the
    variance, and :math:`\beta_0/\alpha_0` a prior guess of the variance.

    Parameters
    ----------
    mu0 : float
        Prior mean of ``mu``.
    kappa0 : float
        Positive prior sample size behind ``mu0``.
    alpha0 : float
        Positive inverse-gamma shape of the variance.
    beta0 : float
        Positive inverse-gamma scale of the variance.

    Notes
    -----
    ``logpdf(value)`` takes ``value[..., 0] = mu``, ``value[..., 1] = sigma``
    and is the density over :math:`(\mu, \sigma)` (the family's parameters),
    the density over :math:`(\mu, \sigma^2)` times the Jacobian :math:`2\sigma`:

    .. math::
        \log p(\mu, \sigma) = \tfrac12\log\kappa_0 - \tfrac12\log 2\pi + \alpha_0\log\beta_0
        - \log\Gamma(\alpha_0) + \log 2 - 2(\alpha_0+1)\log\sigma
        - \frac{2\beta_0 + \kappa_0(\mu-\mu_0)^2}{2\sigma^2}

    ``to_scipy()`` is ``scipy.stats.normal_inverse_gamma``, a distribution over
    :math:`(\mu, \sigma^2)`.

    Examples
    --------
    >>> from thetahat.bayes import NormalInverseGamma
    >>> prior = NormalInverseGamma(0.0, 1.0, 2.0, 2.0)
    >>> prior
    NormalInverseGamma(mu0=0.0, kappa0=1.0, alpha0=2.0, beta0=2.0)
    >>> import thetahat
    >>> post = thetahat.posterior([0.5, 1.5, 1.0], "normal", prior=prior)
    >>> post.conjugate
    NormalInverseGamma(mu0=0.75, kappa0=4.0, alpha0=3.5, beta0=2.625)
    """

    mu0: float
    kappa0: float
    alpha0: float
    beta0: float
    #: The family parameters this joint prior covers.
    covers: ClassVar[tuple[str, ...]] = ("mu", "sigma")
    _checks: ClassVar[dict[str, tuple[str, str]]] = {
        "mu0": ("real", "the prior mean"),
        "kappa0": ("positive", "a prior sample size"),
        "alpha0": ("positive", "a concentration"),
        "beta0": ("positive", "a scale"),
    }

    def logpdf(self, value: Any) -> Any:
        v = jnp.asarray(value)
        mu, sigma = v[..., 0], v[..., 1]
        inside = sigma > 0
        s = jnp.where(inside, sigma, 1.0)
        lp = (
            0.5 * math.log(self.kappa0)
            - HALF_LOG_2PI
            + self.alpha0 * math.log(self.beta0)
            - gammaln(self.alpha0)
            + math.log(2.0)
            - 2.0 * (self.alpha0 + 1.0) * jnp.log(s)
            - (2.0 * self.beta0 + self.kappa0 * (mu - self.mu0) ** 2) / (2.0 * s * s)
        )
        return jnp.where(inside, lp, -jnp.inf)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.normal_inverse_gamma(self.mu0, self.kappa0, self.alpha0, self.beta0)

    def in_support(self, value: Any) -> bool:
        v = np.asarray(value, dtype=float)
        return bool(np.all(v[..., 1] >= 0))

    def describe_support(self) -> str:
        return "mu real, sigma >= 0"


@dataclass(frozen=True)
class NormalInverseWishart(Prior):
    r"""Normal-inverse-Wishart prior on the multivariate normal's ``(mean, cov)``.

    :math:`\Sigma \sim \mathrm{InvWishart}(\nu_0, \Psi_0)` and
    :math:`\mu \mid \Sigma \sim N(\mu_0, \Sigma/\kappa_0)`.

    Parameters
    ----------
    mu0 : sequence of float
        Prior mean vector (length d >= 1).
    kappa0 : float
        Positive prior sample size behind ``mu0``.
    nu0 : float
        Degrees of freedom, greater than d - 1.
    psi0 : (d, d) array_like
        Symmetric positive-definite scale matrix; the prior mean of
        :math:`\Sigma` is :math:`\Psi_0/(\nu_0 - d - 1)` for :math:`\nu_0 > d + 1`.

    Notes
    -----
    ``logpdf(value)`` takes ``value = (mean, cov)``:

    .. math::
        \log p(\mu, \Sigma) = \log N(\mu; \mu_0, \Sigma/\kappa_0)
        + \tfrac{\nu_0}{2}\log|\Psi_0| - \tfrac{\nu_0 d}{2}\log 2 - \log\Gamma_d(\tfrac{\nu_0}{2})
        - \tfrac{\nu_0+d+1}{2}\log|\Sigma| - \tfrac12\operatorname{tr}(\Psi_0\Sigma^{-1})

    scipy has no normal-inverse-Wishart; the posterior marginals are
    ``scipy.stats.multivariate_t`` and ``scipy.stats.invwishart``.

    Examples
    --------
    >>> from thetahat.bayes import NormalInverseWishart
    >>> prior = NormalInverseWishart([0, 0], 1.0, 4.0, [[1, 0], [0, 1]])
    >>> prior.dim, prior.psi0
    (2, ((1.0, 0.0), (0.0, 1.0)))
    """

    mu0: tuple[float, ...]
    kappa0: float
    nu0: float
    psi0: tuple[tuple[float, ...], ...]
    covers: ClassVar[tuple[str, ...]] = ("mean", "cov")

    def __post_init__(self) -> None:
        owner = "NormalInverseWishart"
        mu0 = np.asarray(self.mu0) if not isinstance(self.mu0, (str, bytes)) else np.asarray(None)
        if mu0.ndim != 1 or mu0.size < 1 or mu0.dtype.kind not in "iuf":
            raise DataError(f"{owner} hyperparameter 'mu0' must be a vector of numbers; got {self.mu0!r}.")
        d = mu0.size
        mu = tuple(real_number(owner, f"mu0[{j}]", m) for j, m in enumerate(mu0))
        kappa0 = positive_number(owner, "kappa0", self.kappa0, "a prior sample size")
        nu0 = real_number(owner, "nu0", self.nu0)
        if not nu0 > d - 1:
            raise DataError(
                f"{owner} hyperparameter 'nu0' (degrees of freedom) must exceed d - 1 = {d - 1}; "
                f"got {nu0!r}."
            )
        psi = np.asarray(self.psi0) if not isinstance(self.psi0, (str, bytes)) else np.asarray(None)
        if psi.shape != (d, d) or psi.dtype.kind not in "iuf":
            raise DataError(
                f"{owner} hyperparameter 'psi0' must be a {d} x {d} matrix of numbers (d = len(mu0)); "
                f"got {self.psi0!r}."
            )
        psi = psi.astype(float)
        if not (np.all(np.isfinite(psi)) and np.allclose(psi, psi.T, rtol=1e-12, atol=0)):
            raise DataError(f"{owner} hyperparameter 'psi0' must be finite and symmetric; got {psi.tolist()}.")
        if not np.all(np.linalg.eigvalsh(psi) > 0):
            raise DataError(
                f"{owner} hyperparameter 'psi0' must be positive definite; its smallest eigenvalue "
                f"is {float(np.linalg.eigvalsh(psi)[0])!r}."
            )
        object.__setattr__(self, "mu0", mu)
        object.__setattr__(self, "kappa0", kappa0)
        object.__setattr__(self, "nu0", nu0)
        object.__setattr__(self, "psi0", tuple(tuple(float(v) for v in row) for row in psi))

    @property
    def dim(self) -> int:
        """The dimension d."""
        return len(self.mu0)

    def logpdf(self, value: Any) -> Any:
        mean, cov = (jnp.asarray(v) for v in value)
        d = self.dim
        mu0, psi = jnp.asarray(self.mu0), jnp.asarray(self.psi0)
        lower = jnp.linalg.cholesky(cov)
        log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(lower)))
        delta = mean - mu0
        quad = self.kappa0 * jnp.dot(delta, cho_solve((lower, True), delta))
        trace = jnp.trace(cho_solve((lower, True), psi))
        log_det_psi = float(np.linalg.slogdet(np.asarray(self.psi0))[1])
        return (
            -d * HALF_LOG_2PI
            + 0.5 * d * math.log(self.kappa0)
            - 0.5 * log_det
            - 0.5 * quad
            + 0.5 * self.nu0 * log_det_psi
            - 0.5 * self.nu0 * d * math.log(2.0)
            - multigammaln(0.5 * self.nu0, d)
            - 0.5 * (self.nu0 + d + 1.0) * log_det
            - 0.5 * trace
        )

    def in_support(self, value: Any) -> bool:
        _, cov = value
        cov = np.asarray(cov, dtype=float)
        if cov.shape != (self.dim, self.dim):
            return False
        lam = np.linalg.eigvalsh(0.5 * (cov + cov.T))
        return bool(lam[0] >= -1e-12 * max(abs(lam[-1]), 1e-300))

    def describe_support(self) -> str:
        return f"mean in R^{self.dim}, cov positive semi-definite"
