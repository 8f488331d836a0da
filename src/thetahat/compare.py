r"""Which model: fit every candidate family, rank by AIC; likelihood-ratio tests.

For each candidate with :math:`k` free parameters, maximised log-likelihood
:math:`\hat\ell` and :math:`n` observations:

.. math::

    \mathrm{AIC} = 2k - 2\hat\ell, \qquad
    \mathrm{AIC_c} = \mathrm{AIC} + \frac{2k(k+1)}{n-k-1}, \qquad
    \mathrm{BIC} = k\log n - 2\hat\ell,

:math:`\Delta_i = \mathrm{AIC}_i - \min_j \mathrm{AIC}_j` and the Akaike
weights :math:`w_i = e^{-\Delta_i/2} / \sum_j e^{-\Delta_j/2}` (over the
converged fits), the probability-like weight of evidence for each model
within the set (Burnham & Anderson 2002, ch. 2).

Which families are candidates by default: every registered univariate
family whose support contains the data with its default settings (a
threshold ``loc`` at 0), except those that need a known constant (binomial
trials) and the categorical. On data that are all non-negative integers both
the discrete and the continuous families are candidates: the density of a
continuous family at an integer then stands for the probability of the unit
cell around it, which makes the likelihoods comparable when the values spread
over many integers (measurements such as grams); for small counts pass
``kind="discrete"``. The ``kind`` column says which is which.

Examples
--------
>>> import numpy as np, thetahat
>>> x = np.random.default_rng(0).gamma(3.0, 2.0, size=300)
>>> cmp = thetahat.compare(x, ["gamma", "weibull", "lognormal", "normal"])
>>> list(cmp.table.index), cmp.best.family.name
(['gamma', 'weibull', 'lognormal', 'normal'], 'gamma')
"""

from __future__ import annotations

import json as _json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from thetahat.data import as_float_array, validate_weights
from thetahat.errors import DataError, FitError, ThetahatError, ThetahatWarning
from thetahat.families import families as _family_names
from thetahat.families import get_family

if TYPE_CHECKING:
    import pandas as pd

    from thetahat.result import FitResult

__all__ = ["Comparison", "LRTest", "candidate_families", "compare", "compare_command", "lr_test"]

#: Families never tried by default: they need a known constant or label data.
_NOT_DEFAULT = ("binomial", "categorical")


def candidate_families(x: ArrayLike, kind: str = "auto") -> list[str]:
    """Registered families whose support contains ``x`` (the default of :func:`compare`).

    Parameters
    ----------
    x : array_like
        1-D observations.
    kind : {"auto", "continuous", "discrete"}, default="auto"
        "auto": continuous families, and discrete ones too when every value
        is a non-negative integer.

    Examples
    --------
    >>> from thetahat.compare import candidate_families
    >>> candidate_families([0.2, 0.5, 0.9], kind="continuous")[:3]
    ['beta', 'cauchy', 'exponential']
    """
    if kind not in ("auto", "continuous", "discrete"):
        raise DataError(f"kind must be 'auto', 'continuous' or 'discrete'; got {kind!r}.")
    arr = as_float_array(x, ndim=1)
    names = []
    for name in _family_names():
        fam = get_family(name)
        if name in _NOT_DEFAULT or fam.data_ndim != 1 or any(p.known for p in fam.params):
            continue
        if (kind == "continuous" and fam.is_discrete) or (kind == "discrete" and not fam.is_discrete):
            continue
        defaults = {p.name: float(p.default) for p in fam.params if p.default is not None}
        if not fam.support.outside(arr, defaults).any():
            names.append(name)
    return names


@dataclass(frozen=True)
class Comparison:
    """The candidates of :func:`compare`, ranked.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per family (index), best first: ``kind``, ``loglik``, ``k``,
        ``aic``, ``aicc``, ``bic``, ``delta_aic``, ``weight``, ``converged``,
        goodness-of-fit statistics (``ks``, ``cvm``, ``ad`` for continuous
        families, ``chi2`` with ``chi2_df`` and ``chi2_pvalue`` for discrete
        ones) and ``note`` (the fit's warnings, or why it failed).
    fits : dict
        Family name -> FitResult of every family that could be fitted.
    failed : dict
        Family name -> reason, for the families that could not be fitted.
    """

    table: pd.DataFrame
    fits: dict[str, FitResult]
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def best(self) -> FitResult:
        """The converged fit with the smallest AIC."""
        for name, row in self.table.iterrows():
            if row["converged"]:
                return self.fits[str(name)]
        raise FitError(
            "no candidate family converged; see the table's note column. "
            "Try other families or check the data."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable rows (non-finite numbers become None), best first."""
        rows = []
        for name, row in self.table.iterrows():
            entry: dict[str, Any] = {"family": name}
            for key, value in row.items():
                if isinstance(value, (float, np.floating)):
                    entry[str(key)] = float(value) if math.isfinite(value) else None
                elif isinstance(value, (np.integer, np.bool_)):
                    entry[str(key)] = value.item()
                else:
                    entry[str(key)] = value
            rows.append(entry)
        return {"ranking": rows}

    def plot(self, **kwargs: Any) -> Any:
        """Every converged fit over the data: :func:`thetahat.plots.plot_fits`."""
        from thetahat.plots import plot_fits

        fits = [self.fits[str(n)] for n, row in self.table.iterrows() if row["converged"]]
        return plot_fits(fits, **kwargs)

    def __str__(self) -> str:
        shown = self.table.drop(columns=["note"])
        with _pandas_display():
            text = shown.to_string(float_format=lambda v: f"{v:.6g}")
        notes = [f"  {name}: {row['note']}" for name, row in self.table.iterrows() if row["note"]]
        return text + ("\nnotes:\n" + "\n".join(notes) if notes else "")

    def _repr_html_(self) -> str:
        return str(self.table.to_html(float_format=lambda v: f"{v:.6g}"))


def _pandas_display() -> Any:
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_columns", 30)


def compare(
    x: ArrayLike,
    families: Sequence[str] | None = None,
    *,
    weights: ArrayLike | None = None,
    kind: str = "auto",
    gof: bool = True,
) -> Comparison:
    """Fit every candidate family to ``x`` and rank them by AIC.

    Parameters
    ----------
    x : array_like
        1-D observations.
    families : sequence of str, optional
        Candidates; by default :func:`candidate_families` (every registered
        univariate family whose support contains the data).
    weights : array_like, optional
        Frequency weights, passed to every fit.
    kind : {"auto", "continuous", "discrete"}, default="auto"
        Restricts the default candidates (ignored when ``families`` is given).
    gof : bool, default=True
        Add the goodness-of-fit statistics (KS, CvM, AD; chi-square for
        discrete families) to the table. Their bootstrap p-values cost refits:
        ask :func:`thetahat.gof` for the families of interest.

    Returns
    -------
    Comparison
        Converged fits first by AIC, then fits that did not converge, then
        the families that could not be fitted, each with its reason.

    Raises
    ------
    DataError
        When no candidate can be fitted (e.g. negative data and only
        positive families), with each family's reason.

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(1).normal(10.0, 2.0, size=200)
    >>> cmp = thetahat.compare(x, ["normal", "gamma", "laplace"])
    >>> cmp.best.family.name, round(float(cmp.table.loc["normal", "weight"]), 2)
    ('normal', 0.95)
    """
    arr = as_float_array(x, ndim=1)
    w = None if weights is None else validate_weights(weights, arr.shape[0])
    names = list(families) if families is not None else candidate_families(arr, kind)
    if not names:
        raise DataError(
            f"no built-in family of kind {kind!r} has a support containing the data "
            f"(range [{arr.min():g}, {arr.max():g}]). Pass families=[...] or a custom family."
        )
    fits: dict[str, FitResult] = {}
    failed: dict[str, str] = {}
    notes: dict[str, str] = {}
    for name in names:
        label = name if isinstance(name, str) else get_family(name).name
        try:
            with warnings.catch_warnings(record=True) as caught:
                # Keep each fit's warnings with its row instead of a stream of them.
                warnings.simplefilter("always", ThetahatWarning)
                fits[label] = _fit(arr, name, w)
            notes[label] = "; ".join(dict.fromkeys(str(c.message) for c in caught
                                                   if issubclass(c.category, ThetahatWarning)))
        except ThetahatError as exc:
            failed[label] = str(exc)
    if not fits:
        reasons = "\n".join(f"  {k}: {v}" for k, v in failed.items())
        raise DataError(f"none of the candidate families could be fitted to the data:\n{reasons}")
    table = _table(arr, w, fits, failed, notes, gof)
    return Comparison(table, fits, failed)


def _fit(x: np.ndarray, family: Any, w: Any) -> FitResult:
    from thetahat.fit import fit

    return fit(x, family, weights=w)


def _table(
    x: np.ndarray, w: Any, fits: dict[str, FitResult], failed: dict[str, str],
    notes: dict[str, str], with_gof: bool,
) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for name, res in fits.items():
        n, k = res.nobs, res.n_free
        aicc = res.aic + 2.0 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else math.inf
        row: dict[str, Any] = {
            "family": name, "kind": "discrete" if res.family.is_discrete else "continuous",
            "loglik": res.loglik, "k": k, "aic": res.aic, "aicc": aicc, "bic": res.bic,
            "converged": res.converged, "note": notes.get(name, ""),
        }
        if with_gof:
            row.update(_gof_columns(res))
        rows.append(row)
    for name, reason in failed.items():
        rows.append({"family": name, "kind": _kind(name), "k": 0, "converged": False, "note": reason})
    table = pd.DataFrame(rows).set_index("family")
    ok = table["converged"].astype(bool) & np.isfinite(table["aic"].astype(float))
    best = float(table.loc[ok, "aic"].min()) if ok.any() else math.nan
    table["delta_aic"] = table["aic"] - best
    rel = np.where(ok, np.exp(-0.5 * np.nan_to_num(table["delta_aic"].to_numpy(float), nan=np.inf)), 0.0)
    table["weight"] = rel / rel.sum() if rel.sum() > 0 else np.nan
    order = ["kind", "loglik", "k", "aic", "aicc", "bic", "delta_aic", "weight", "converged"]
    extra = [c for c in ("ks", "cvm", "ad", "chi2", "chi2_df", "chi2_pvalue") if c in table.columns]
    table = table[order + extra + ["note"]]
    rank = np.where(ok, 0, np.where(table.index.isin(list(failed)), 2, 1))
    table = table.assign(_rank=rank).sort_values(["_rank", "aic"], kind="stable").drop(columns="_rank")
    table["k"] = table["k"].astype(int)
    table["converged"] = table["converged"].astype(bool)
    return table


def _kind(name: str) -> str:
    try:
        return "discrete" if get_family(name).is_discrete else "continuous"
    except ThetahatError:
        return "unknown"


def _gof_columns(res: FitResult) -> dict[str, Any]:
    from thetahat.gof import gof

    if not res.converged or res.family.scipy_dist(**res.params) is None:
        return {}
    try:
        out = gof(res, n_boot=0)
    except DataError:
        return {}
    if "chi2" in out:
        chi = out["chi2"]
        return {"chi2": chi["statistic"], "chi2_df": chi["df"], "chi2_pvalue": chi["pvalue"]}
    return {k: v["statistic"] for k, v in out.items()}


# -- likelihood-ratio test ------------------------------------------------------------

#: (restricted, full) pairs where the restricted family is a limit of the full
#: one at the edge of its parameter space: the null is on the boundary.
BOUNDARY_PAIRS = frozenset({("poisson", "negative_binomial"), ("normal", "student_t")})


@dataclass(frozen=True)
class LRTest:
    r"""Result of :func:`lr_test`.

    Attributes
    ----------
    statistic : float
        :math:`2(\hat\ell_\text{full} - \hat\ell_\text{restricted})`.
    df : int
        :math:`k_\text{full} - k_\text{restricted}`.
    pvalue : float
    boundary : bool
        Whether the boundary-corrected mixture was used.
    """

    statistic: float
    df: int
    pvalue: float
    boundary: bool

    def __str__(self) -> str:
        mix = " (boundary: 1/2 chi2_{df-1} + 1/2 chi2_df)" if self.boundary else ""
        return f"LR statistic {self.statistic:.6g} on {self.df} df, p-value {self.pvalue:.4g}{mix}"


def lr_test(restricted: FitResult, full: FitResult, *, boundary: bool | None = None) -> LRTest:
    r"""Likelihood-ratio test of a restricted model nested in a full one.

    Parameters
    ----------
    restricted, full : FitResult
        Fits to the same data; the restricted model is a special case of the
        full one (the caller vouches for the nesting; the data, weights and
        parameter counts are checked).
    boundary : bool, optional
        True when the restricted model puts one parameter of the full model
        on the boundary of its space (Poisson = negative binomial with
        :math:`r = \infty`; normal = Student-t with infinite df; a variance
        component of 0). The null distribution is then the mixture
        :math:`\tfrac12\chi^2_{d-1} + \tfrac12\chi^2_{d}` (Self & Liang 1987;
        :math:`\chi^2_0` is a point mass at 0). By default it is True for the
        known pairs in :data:`BOUNDARY_PAIRS` and False otherwise.

    Returns
    -------
    LRTest

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> x = np.random.default_rng(0).negative_binomial(2.0, 0.4, size=300)
    >>> t = thetahat.lr_test(thetahat.fit(x, "poisson"), thetahat.fit(x, "negative_binomial"))
    >>> t.df, t.boundary, t.pvalue < 1e-10
    (1, True, True)
    """
    from scipy import stats

    for res, label in ((restricted, "restricted"), (full, "full")):
        if not res.converged:
            raise FitError(f"the {label} fit ({res.family.name}) did not converge: {res.message}.")
    _check_same_data(restricted, full)
    df = full.n_free - restricted.n_free
    if df < 1:
        raise DataError(
            f"the full model must have more free parameters than the restricted one; got "
            f"{full.n_free} ({full.family.name}) and {restricted.n_free} ({restricted.family.name})."
        )
    if boundary is None:
        boundary = (restricted.family.name, full.family.name) in BOUNDARY_PAIRS
    statistic = 2.0 * (full.loglik - restricted.loglik)
    tol = 1e-7 * (1.0 + abs(full.loglik))
    if statistic < -2.0 * tol:
        raise FitError(
            f"the full model's log-likelihood ({full.loglik:.10g}) is below the restricted "
            f"model's ({restricted.loglik:.10g}): the models are not nested or the full fit "
            "missed its maximum. Refit the full model starting from the restricted estimate."
        )
    statistic = max(statistic, 0.0)
    if boundary:
        upper = stats.chi2.sf(statistic, df)
        lower = stats.chi2.sf(statistic, df - 1) if df > 1 else float(statistic <= 0.0)
        pvalue = 0.5 * (upper + lower)
    else:
        pvalue = float(stats.chi2.sf(statistic, df))
    return LRTest(float(statistic), int(df), float(pvalue), bool(boundary))


def _check_same_data(a: FitResult, b: FitResult) -> None:
    if a._context is None or b._context is None:
        if not math.isclose(a.nobs, b.nobs):
            raise DataError(f"the fits have different numbers of observations ({a.nobs} and {b.nobs}).")
        return
    (xa, wa), (xb, wb) = a.data, b.data
    if xa.shape != xb.shape or not (np.array_equal(xa, xb) and np.array_equal(wa, wb)):
        raise DataError(
            "the two fits are not to the same data (or weights): a likelihood-ratio test "
            "compares models of one data set. Refit both models to the same observations."
        )


# -- command line -------------------------------------------------------------------------


def compare_command(
    file: str,
    column: str,
    families: Sequence[str] | None = None,
    json: bool = False,
    plot: str | None = None,
    kind: str = "auto",
) -> str:
    """``thetahat compare FILE --column C [--families ...] [--json] [--plot out.png]``.

    Reads the column, runs :func:`compare`, optionally saves the overlay plot
    of the converged fits to ``plot``, and returns the text to print: the
    ranking table, or its JSON form. Errors are raised as
    :class:`~thetahat.ThetahatError` for the CLI to report.

    Parameters
    ----------
    file : str
        CSV, TSV or Parquet file.
    column : str
        The column of observations.
    families : sequence of str, optional
        Candidate families (comma-separated entries are split).
    json : bool, default=False
        Return JSON instead of the table.
    plot : str, optional
        Save the figure of every converged fit over the data here (PNG, PDF, SVG).
    kind : {"auto", "continuous", "discrete"}, default="auto"

    Examples
    --------
    >>> from importlib.resources import files
    >>> from thetahat.compare import compare_command
    >>> path = str(files("thetahat.datasets") / "faithful.csv")
    >>> out = compare_command(path, "waiting", ["normal", "logistic"], json=True)
    >>> import json; [r["family"] for r in json.loads(out)["ranking"]]
    ['normal', 'logistic']
    """
    from thetahat.io import read_column

    names = [n.strip() for item in families or [] for n in item.split(",") if n.strip()] or None
    result = compare(read_column(file, column), names, kind=kind)
    if plot:
        fig = result.plot()
        fig.savefig(plot, dpi=120, bbox_inches="tight")
    return _json.dumps(result.to_dict()) if json else str(result)
