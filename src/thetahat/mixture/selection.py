"""Choosing the number of components (and the covariance structure) by BIC.

Every combination on the grid is fitted; the table reports the
log-likelihood, parameter count, BIC and AIC of each, and the best model by
the chosen criterion is returned fitted. BIC here is scikit-learn's
``-2 loglik + p log n`` (lower is better); mclust reports the negative of
this, so its largest value is the same model.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from thetahat.errors import DataError, ThetahatWarning
from thetahat.mixture.gaussian import GaussianMixture
from thetahat.mixture.gaussian_em import COV_TYPES
from thetahat.mixture.model import Mixture, MixtureResult

__all__ = [
    "MixtureSelection",
    "select_gaussian_mixture",
    "select_mixture",
    "parse_components",
    "mixture_command",
]


@dataclass(frozen=True)
class MixtureSelection:
    """A grid of fitted mixtures ranked by an information criterion.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model: ``n_components``, ``model`` (covariance type or
        family), ``loglik``, ``n_parameters``, ``bic``, ``aic``, ``converged``,
        ``warnings``; sorted best first.
    best : GaussianMixture or MixtureResult
        The best model, fitted.
    criterion : str
    """

    table: pd.DataFrame
    best: Any
    criterion: str

    def summary(self) -> str:
        top = self.table.iloc[0]
        lines = [
            f"Best by {self.criterion.upper()}: {int(top['n_components'])} component(s), "
            f"{top['model']} (loglik = {top['loglik']:.4f}, {self.criterion.upper()} = "
            f"{top[self.criterion]:.4f})",
            self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        rows = json.loads(self.table.to_json(orient="records"))
        return {"criterion": self.criterion, "models": rows, "best": rows[0]}


def parse_components(text: str) -> list[int]:
    """``"1-6"`` -> [1..6]; ``"2,3,5"`` -> [2, 3, 5].

    >>> parse_components("1-4")
    [1, 2, 3, 4]
    """
    values: list[int] = []
    try:
        for part in str(text).split(","):
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                values.extend(range(lo, hi + 1))
            elif part.strip():
                values.append(int(part))
    except ValueError:
        raise DataError(f"components must look like 1-6 or 2,3,5; got {text!r}.") from None
    if not values or min(values) < 1:
        raise DataError(f"components must be positive integers; got {text!r}.")
    return sorted(set(values))


def _check_criterion(criterion: str) -> None:
    if criterion not in ("bic", "aic"):
        raise DataError(f"criterion must be 'bic' or 'aic'; got {criterion!r}.")


def select_gaussian_mixture(
    X: ArrayLike,
    components: Sequence[int] | str = range(1, 10),
    covariance_types: Sequence[str] = COV_TYPES,
    *,
    criterion: str = "bic",
    sample_weight: ArrayLike | None = None,
    n_init: int = 1,
    random_state: Any = 0,
    **kwargs: Any,
) -> MixtureSelection:
    """Fit a Gaussian mixture for every (components, covariance type) and rank them.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
    components : sequence of int or str, default=1..9
        Numbers of components, or a string such as ``"1-6"``.
    covariance_types : sequence of str, default=all four
    criterion : {"bic", "aic"}, default="bic"
    sample_weight : array-like, optional
    n_init, random_state, **kwargs
        Passed to each :class:`GaussianMixture`.

    Returns
    -------
    MixtureSelection

    Examples
    --------
    >>> from thetahat.datasets import load
    >>> X = load("faithful")[["eruptions", "waiting"]]
    >>> sel = select_gaussian_mixture(X, "1-4", ["full", "tied"])
    >>> int(sel.table.iloc[0]["n_components"]), sel.table.iloc[0]["model"]
    (3, 'tied')
    """
    _check_criterion(criterion)
    ks = parse_components(components) if isinstance(components, str) else list(components)
    x = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    rows, fits = [], []
    for cov_type in covariance_types:
        for k in ks:
            model = GaussianMixture(k, covariance_type=cov_type, n_init=n_init,
                                    random_state=random_state, **kwargs)
            model._pad_components_to = max(ks)  # one compilation per covariance type
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ThetahatWarning)
                try:
                    model.fit(x, sample_weight=sample_weight)
                except DataError as exc:
                    if "distinct" in str(exc):  # more components than the data allow
                        continue
                    raise
            n = float(np.sum(sample_weight)) if sample_weight is not None else x.shape[0]
            p = model.n_parameters()
            rows.append({
                "n_components": k, "model": cov_type, "loglik": model.loglik_,
                "n_parameters": p, "bic": -2 * model.loglik_ + p * np.log(n),
                "aic": -2 * model.loglik_ + 2 * p, "converged": model.converged_,
                "warnings": "; ".join(sorted({type(w.message).__name__ for w in caught})),
            })
            fits.append(model)
    return _rank(rows, fits, criterion)


def select_mixture(
    x: ArrayLike,
    family: str,
    components: Sequence[int] | str = range(1, 6),
    *,
    criterion: str = "bic",
    weights: ArrayLike | None = None,
    random_state: Any = 0,
    **kwargs: Any,
) -> MixtureSelection:
    """Mixtures of 1, 2, ... components of one family, ranked by BIC (or AIC).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.poisson(1, 300), rng.poisson(8, 300)])
    >>> int(select_mixture(x, "poisson", "1-3").table.iloc[0]["n_components"])
    2
    """
    _check_criterion(criterion)
    ks = parse_components(components) if isinstance(components, str) else list(components)
    rows, fits = [], []
    for k in ks:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ThetahatWarning)
            try:
                res: MixtureResult = Mixture([family] * k, random_state=random_state,
                                             **kwargs).fit(x, weights=weights)
            except DataError as exc:
                if "distinct" in str(exc):
                    continue
                raise
        rows.append({
            "n_components": k, "model": family, "loglik": res.loglik,
            "n_parameters": res.n_free, "bic": res.bic, "aic": res.aic,
            "converged": res.converged,
            "warnings": "; ".join(sorted({type(w.message).__name__ for w in caught})),
        })
        fits.append(res)
    return _rank(rows, fits, criterion)


def _rank(rows: list[dict[str, Any]], fits: list[Any], criterion: str) -> MixtureSelection:
    if not rows:
        raise DataError("no model on the grid could be fitted: use fewer components.")
    table = pd.DataFrame(rows)
    order = np.argsort(table[criterion].to_numpy(), kind="stable")
    return MixtureSelection(table.iloc[order].reset_index(drop=True), fits[int(order[0])],
                            criterion)


def mixture_command(
    path: str,
    columns: str,
    components: str = "1-6",
    covariance_types: str | None = None,
    family: str | None = None,
    json_output: bool = False,
) -> str:
    """The ``thetahat mixture`` command: read columns, select by BIC, format.

    With ``family`` (one column only), mixtures of that family are compared;
    otherwise Gaussian mixtures over the covariance types.
    """
    from thetahat.io import read_table

    names = [c.strip() for c in columns.split(",") if c.strip()]
    if not names:
        raise DataError("--columns needs at least one column name, e.g. --columns A,B.")
    table = read_table(path, names)
    if family is not None:
        if len(names) != 1:
            raise DataError(f"--family fits one column; got {len(names)} columns.")
        selection = select_mixture(table[names[0]].to_numpy(float), family, components)
    else:
        types = COV_TYPES if covariance_types is None else tuple(
            t.strip() for t in covariance_types.split(",") if t.strip()
        )
        unknown = set(types) - set(COV_TYPES)
        if unknown:
            raise DataError(f"unknown covariance type(s) {sorted(unknown)}; use {COV_TYPES}.")
        selection = select_gaussian_mixture(table[names].to_numpy(float), components, types)
    if json_output:
        out = selection.to_dict()
        best = selection.best
        if isinstance(best, GaussianMixture):
            out["parameters"] = {
                "weights": best.weights_.tolist(), "means": best.means_.tolist(),
                "covariances": best.covariances_.tolist(),
            }
        else:
            out["parameters"] = {"weights": best.weights.tolist(), "components": best.params,
                                 "weights_se": best.weights_se.tolist(), "se": best.se}
        return json.dumps(out)
    best = selection.best
    if isinstance(best, GaussianMixture):
        detail = [f"\nBest model ({len(names)} column(s): {', '.join(names)}):"]
        for j in range(best.n_components):
            detail.append(f"  component {j}: weight {best.weights_[j]:.4f}, mean "
                          f"{np.round(best.means_[j], 6).tolist()}")
        return selection.summary() + "\n".join(detail)
    return selection.summary() + "\n\n" + best.summary()
