r"""Link functions :math:`g` tying a response mean to the linear predictor, :math:`g(\mu) = \eta`.

Each link gives the inverse :math:`\mu = g^{-1}(\eta)` twice: in ``jax.numpy``
for the likelihood (differentiated by the engine) and in numpy, with its
derivative :math:`d\mu/d\eta`, for the IRLS start values and the residuals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from thetahat._lazy import special
from thetahat.errors import DataError

__all__ = ["Link", "LINKS", "get_link"]


@dataclass(frozen=True)
class Link:
    r"""A link function :math:`\eta = g(\mu)`.

    Attributes
    ----------
    name : str
        ``"identity"``, ``"log"``, ``"logit"``, ``"probit"`` or ``"inverse"``.
    inverse : callable
        :math:`g^{-1}(\eta)` in ``jax.numpy``.
    inverse_np, link_np, dmu_deta_np : callable
        :math:`g^{-1}`, :math:`g` and :math:`d\mu/d\eta` in numpy.

    Examples
    --------
    >>> from thetahat.regression.links import get_link
    >>> float(get_link("logit").inverse_np(0.0))
    0.5
    """

    name: str
    inverse: Callable[[Any], Any]
    inverse_np: Callable[[Any], Any]
    link_np: Callable[[Any], Any]
    dmu_deta_np: Callable[[Any], Any]


def _probit_dmu(eta: Any) -> Any:
    return np.exp(-0.5 * np.asarray(eta) ** 2) / np.sqrt(2 * np.pi)


LINKS: dict[str, Link] = {
    "identity": Link("identity", lambda e: e, lambda e: np.asarray(e, float),
                     lambda m: np.asarray(m, float), lambda e: np.ones_like(np.asarray(e, float))),
    "log": Link("log", jnp.exp, np.exp, np.log, np.exp),
    "logit": Link("logit", lambda e: 1.0 / (1.0 + jnp.exp(-e)), lambda e: special.expit(e),
                  lambda m: special.logit(m), lambda e: special.expit(e) * special.expit(-np.asarray(e))),
    "probit": Link("probit", ndtr, lambda e: special.ndtr(e), lambda m: special.ndtri(m), _probit_dmu),
    "inverse": Link("inverse", lambda e: 1.0 / e, lambda e: 1.0 / np.asarray(e),
                    lambda m: 1.0 / np.asarray(m), lambda e: -1.0 / np.asarray(e) ** 2),
}


def get_link(link: str | Link) -> Link:
    """The :class:`Link` called ``link`` (or ``link`` itself), else a DataError."""
    if isinstance(link, Link):
        return link
    if link not in LINKS:
        raise DataError(f"link must be one of {sorted(LINKS)}; got {link!r} instead.")
    return LINKS[link]
