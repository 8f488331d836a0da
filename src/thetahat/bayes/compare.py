"""Maximum likelihood and the posterior side by side, and the posterior's summary table.

With little data the MLE can sit on the boundary of the parameter space (no
collision in m flights: p = 0, an event declared impossible), where it has no
standard error. :func:`compare_mle` puts it next to the MAP estimate, the
posterior mean and a credible interval, and says so in the table instead of
raising the engine's BoundaryWarning.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from thetahat.errors import BoundaryWarning, DataError
from thetahat.families.base import Family

if TYPE_CHECKING:
    from thetahat.bayes.conjugate import Posterior
    from thetahat.bayes.priors import Prior
    from thetahat.result import FitResult

__all__ = ["compare_mle", "Comparison", "ComparisonRow"]


@dataclass(frozen=True)
class ComparisonRow:
    """One scalar parameter (or one entry of a vector/matrix parameter)."""

    parameter: str
    mle: float
    map: float
    mean: float
    low: float
    high: float
    mle_on_boundary: bool


@dataclass(frozen=True)
class Comparison:
    """MLE, MAP, posterior mean and credible interval per parameter (see :func:`compare_mle`).

    Attributes
    ----------
    rows : tuple of ComparisonRow
        One per scalar entry of each free parameter.
    mle : FitResult or None
        The maximum-likelihood fit, None when no MLE exists for the data.
    at_boundary : tuple of str
        Parameters whose MLE lies on the boundary of the parameter space.
    note : str
        Why there is no MLE, or what the boundary means; empty otherwise.

    Examples
    --------
    >>> import thetahat
    >>> from thetahat.bayes import compare_mle
    >>> print(compare_mle([0] * 30, "bernoulli", prior=thetahat.Beta(2, 8)))
    MLE vs posterior: bernoulli (30 observations); prior Beta(a=2.0, b=8.0)
    parameter  MLE        MAP  posterior mean  95% credible interval (equal-tailed)
    p           0*  0.0263158            0.05                [0.00627197, 0.134764]
    * the MLE of ['p'] lies on the boundary of the parameter space: it has no standard error
    or Wald interval, and a probability of 0 declares an event impossible that merely has not
    been seen yet; the posterior stays inside.
    """

    family: Family
    prior: str
    nobs: float
    level: float
    kind: str
    rows: tuple[ComparisonRow, ...]
    mle: FitResult | None
    at_boundary: tuple[str, ...]
    note: str

    def row(self, parameter: str) -> ComparisonRow:
        """The row called ``parameter`` (e.g. ``"p"`` or ``"probs[2]"``)."""
        for r in self.rows:
            if r.parameter == parameter:
                return r
        raise KeyError(parameter)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (non-finite numbers become None)."""

        def plain(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "family": self.family.name,
            "prior": self.prior,
            "nobs": self.nobs,
            "level": self.level,
            "interval": self.kind,
            "at_boundary": list(self.at_boundary),
            "note": self.note,
            "rows": [
                {
                    "parameter": r.parameter,
                    "mle": plain(r.mle),
                    "map": plain(r.map),
                    "posterior_mean": plain(r.mean),
                    "credible_interval": [plain(r.low), plain(r.high)],
                    "mle_on_boundary": r.mle_on_boundary,
                }
                for r in self.rows
            ],
        }

    def __str__(self) -> str:
        pct = f"{100 * self.level:g}%"
        kind = "equal-tailed" if self.kind == "equal" else "HPD"
        head = ("parameter", "MLE", "MAP", "posterior mean", f"{pct} credible interval ({kind})")
        rows = [head] + [
            (
                r.parameter,
                _fmt(r.mle) + ("*" if r.mle_on_boundary else ""),
                _fmt(r.map),
                _fmt(r.mean),
                f"[{_fmt(r.low)}, {_fmt(r.high)}]" if not math.isnan(r.low) else "-",
            )
            for r in self.rows
        ]
        lines = [
            f"MLE vs posterior: {self.family.name} ({self.nobs:g} observations); prior {self.prior}",
            *_columns(rows),
        ]
        if self.note:
            lines.append(textwrap.fill(self.note, width=90, break_on_hyphens=False))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<pre>" + str(self).replace("&", "&amp;").replace("<", "&lt;") + "</pre>"


def compare_mle(
    x: ArrayLike,
    family: str | Family,
    prior: Prior | Mapping[str, Prior] | None = None,
    *,
    weights: ArrayLike | None = None,
    fixed: Mapping[str, Any] | None = None,
    level: float = 0.95,
    kind: str = "equal",
) -> Comparison:
    r"""Fit the MLE and the conjugate posterior, and put them side by side.

    Parameters
    ----------
    x, family, prior, weights, fixed
        As for :func:`thetahat.posterior`.
    level : float, default=0.95
        Content of the credible intervals.
    kind : {"equal", "hpd"}, default="equal"
        Equal-tailed or highest-posterior-density intervals.

    Returns
    -------
    Comparison
        Printable table; ``at_boundary`` names parameters whose MLE is on the
        boundary of the parameter space (marked ``*``). The engine's
        :class:`~thetahat.BoundaryWarning` for them is caught and reported in
        the table instead. Data for which no MLE exists (one observation of a
        normal) give a row of nan MLEs and the reason in ``note``.

    Notes
    -----
    The MLE is ``thetahat.fit(x, family, fixed=..., weights=...)``; the MAP
    :math:`\arg\max_\theta\, p(\theta \mid x)`, the posterior mean
    :math:`E[\theta \mid x]` and the interval come from the closed-form posterior.

    Examples
    --------
    >>> import thetahat
    >>> from thetahat.bayes import compare_mle
    >>> table = compare_mle([0] * 30, "bernoulli", prior=thetahat.Beta(1, 1))
    >>> table.at_boundary, table.row("p").mle, round(table.row("p").mean, 5)
    (('p',), 0.0, 0.03125)
    """
    from thetahat.bayes.conjugate import posterior

    post = posterior(x, family, prior, weights=weights, fixed=fixed)
    return compare_posterior(post, level, kind)


def compare_posterior(post: Posterior, level: float, kind: str) -> Comparison:
    """:func:`compare_mle` for an existing posterior (all the data it has seen)."""
    from thetahat.fit import fit

    x, w = post.data()
    res: FitResult | None
    try:
        # The boundary is expected here (it is the point of the comparison):
        # report it in the table instead of as a warning. Other warnings pass.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=BoundaryWarning)
            res = fit(x, post.family, fixed=post.fixed, weights=w)
        note = ""
    except DataError as err:
        res, note = None, f"no MLE exists for these data: {err}"
    at_boundary = tuple(res.at_boundary) if res is not None else ()
    mode, mean = post.mode(), post.mean()
    ci = post.credible_interval(level, kind)
    rows = []
    for name in post.params:
        shape = np.shape(mean[name])
        mle = np.asarray(res.params[name], float) if res is not None else np.full(shape, np.nan)
        flagged = _boundary_entries(mle, name in at_boundary)
        if mle.shape != shape and mle.ndim == 1 and res is not None:
            # Categories of the prior beyond max(x) were never seen: their MLE is 0.
            pad = shape[0] - mle.size
            mle = np.concatenate([mle, np.zeros(pad)])
            flagged = np.concatenate([flagged, np.ones(pad, dtype=bool)])
            if name not in at_boundary:
                at_boundary += (name,)
        lo, hi = (np.asarray(v, float) for v in ci[name])
        for idx in np.ndindex(*shape) if shape else [()]:
            label = name if not shape else f"{name}[{','.join(map(str, idx))}]"
            rows.append(
                ComparisonRow(
                    label,
                    float(mle[idx]),
                    float(np.asarray(mode[name])[idx]),
                    float(np.asarray(mean[name])[idx]),
                    float(lo[idx]),
                    float(hi[idx]),
                    bool(flagged[idx]),
                )
            )
    if at_boundary:
        note = (
            f"* the MLE of {list(at_boundary)} lies on the boundary of the parameter space: it "
            "has no standard error or Wald interval, and a probability of 0 declares an event "
            "impossible that merely has not been seen yet; the posterior stays inside."
        )
    return Comparison(post.family, post.prior, post.nobs, level, kind, tuple(rows), res, at_boundary, note)


def _boundary_entries(mle: np.ndarray, on_boundary: bool) -> np.ndarray:
    """Which entries of a boundary parameter sit on the boundary (zero probabilities)."""
    if not on_boundary:
        return np.zeros(mle.shape, dtype=bool)
    if mle.ndim == 0:
        return np.ones((), dtype=bool)
    zeros = mle == 0
    return zeros if zeros.any() else np.ones(mle.shape, dtype=bool)


def posterior_table(post: Posterior, level: float) -> str:
    """The text of :meth:`Posterior.summary`."""
    mean, var, mode = post.mean(), post.var(), post.mode()
    ci = post.credible_interval(level)
    tail = 50 * (1 - level)
    head = ("parameter", "mean", "sd", "MAP", f"{tail:g}%", f"{100 - tail:g}%")
    rows = [head]
    for name in post.params:
        shape = np.shape(mean[name])
        lo, hi = (np.asarray(v, float) for v in ci[name])
        for idx in np.ndindex(*shape) if shape else [()]:
            label = name if not shape else f"{name}[{','.join(map(str, idx))}]"
            sd = float(np.sqrt(np.asarray(var[name], float)[idx]))
            rows.append((
                label,
                _fmt(float(np.asarray(mean[name])[idx])),
                _fmt(sd),
                _fmt(float(np.asarray(mode[name])[idx])),
                _fmt(float(lo[idx])),
                _fmt(float(hi[idx])),
            ))
    fixed = ", ".join(f"{k} = {np.asarray(v).tolist():g}" if np.ndim(v) == 0 else f"{k} = {np.asarray(v).tolist()}"
                      for k, v in post.fixed.items())
    lines = [
        f"Posterior: {post.family.name} ({post.nobs:g} observations{'; fixed ' + fixed if fixed else ''})",
        f"prior:      {post.prior}",
        f"posterior:  {post.conjugate!r}",
        *_columns(rows),
        f"predictive: {_describe(post.predictive)}",
    ]
    return "\n".join(lines)


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
        for r in rows
    ]


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.6g}"


def _describe(dist: Any) -> str:
    inner = getattr(dist, "dist", None)
    if inner is not None and hasattr(dist, "args"):
        args = [f"{a:g}" for a in dist.args] + [f"{k}={v:g}" for k, v in dist.kwds.items()]
        return f"{inner.name}({', '.join(args)})"
    if hasattr(dist, "pk"):  # scipy rv_discrete built from values: the categorical predictive
        return f"categorical(probs={np.round(dist.pk, 6).tolist()})"
    if hasattr(dist, "df") and hasattr(dist, "loc"):  # multivariate t
        return f"multivariate_t(df={dist.df:g}, loc={np.round(dist.loc, 6).tolist()})"
    return type(dist).__name__.replace("_frozen", "")
