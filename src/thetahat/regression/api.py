r"""``regress``: conditional maximum likelihood :math:`\max_\theta \sum_i w_i \log p(y_i \mid x_i, \theta)`.

The model is a :class:`~thetahat.regression.models.RegressionFamily` on the
rows ``[y, x]``; :func:`thetahat.fit` does the estimation. This module turns
user input (arrays, DataFrames, formulas, a nonlinear mean function) into
those rows, finds good start values (IRLS for linear predictors, the user's
``start`` for nonlinear means), checks the input by name, and wraps the
engine's result with coefficient names, predictions and residuals.
"""

from __future__ import annotations

import inspect
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike, NDArray

from thetahat._jit import jit
from thetahat.data import as_float_array, is_unit, strided_rows, validate_weights
from thetahat.errors import DataError, describe_bad_values
from thetahat.fit import fit
from thetahat.optimize import bucket_rows
from thetahat.regression.links import Link, get_link
from thetahat.regression.models import RegressionFamily, Response, get_response, linear_family
from thetahat.result import FitResult

__all__ = ["Prediction", "RegressionResult", "regress", "regress_command"]

#: |eta| beyond which a logistic/probit fitted probability is 0 or 1 to
#: within 1e-11: rows there signal (quasi-)separation, not an estimate.
_SEPARATION_ETA = 25.0
#: Rows of the subsample that IRLS start values use on large data.
_START_ROWS = 8192
#: (family, link) pairs whose mean is valid for every linear predictor: the
#: start needs no check that the log-likelihood is finite.
_ALWAYS_VALID = {("bernoulli", "logit"), ("bernoulli", "probit"), ("poisson", "log"),
                 ("negative_binomial", "log"), ("gamma", "log"), ("weibull", "log"),
                 ("normal", "identity"), ("student_t", "identity"), ("lognormal", "identity")}


@dataclass(frozen=True)
class Prediction:
    """Predictions at new covariates: the mean and the predictive distribution.

    Attributes
    ----------
    mean : ndarray
        :math:`E[y \\mid x]` at the estimate.
    linear_predictor : ndarray
        :math:`\\eta = x^\\top\\beta` (or the nonlinear mean's value).
    dist : scipy.stats frozen distribution
        The predictive distribution of y at each row (vectorised).
    """

    mean: NDArray[np.float64]
    linear_predictor: NDArray[np.float64]
    dist: Any


@dataclass(frozen=True)
class _Model:
    """What the wrapper needs to predict and explain: response, link, names, data."""

    response: Response
    link: Link
    family: RegressionFamily
    coef_names: tuple[str, ...]
    y: NDArray[np.float64]
    X: NDArray[np.float64]
    w: NDArray[np.float64]
    scales: NDArray[np.float64]
    spec: Any = None  # formulaic model spec of the right-hand side
    #: [y, X] as one (n, 1 + p) array when built that way (X is then a view).
    rows: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class RegressionResult(FitResult):
    """A :class:`~thetahat.FitResult` of a conditional model, parameters by coefficient name.

    ``params``, ``se``, ``cov``, ``conf_int``, ``loglik``, ``aic``, ``bic`` and
    ``summary`` are those of the ML fit (standard errors from the observed
    information). For a normal response the least-squares conventions are
    also given: ``sigma_ml`` (RSS/n), ``sigma_unbiased`` (RSS/(n - p)) and
    ``se_unbiased`` = sqrt(diag(s^2 (J'WJ)^-1)), J = d mean / d coefficients,
    which is what NIST, statsmodels OLS and curve_fit report.
    """

    model: Any = field(default=None, repr=False, compare=False)
    internal: Any = field(default=None, repr=False, compare=False)
    sigma_ml: float | None = None
    sigma_unbiased: float | None = None
    se_unbiased: dict[str, float] | None = None
    cov_unbiased: NDArray[np.float64] | None = None

    @property
    def coef(self) -> dict[str, float]:
        """The mean's coefficients only (no sigma/shape/dispersion)."""
        return {k: self.params[k] for k in self.model.coef_names}

    def conf_int(self, level: float = 0.95, method: str = "wald", **kwargs: Any) -> dict[str, tuple[Any, Any]]:
        """Confidence intervals by parameter name (see :meth:`FitResult.conf_int`)."""
        raw = self.internal.conf_int(level, method, **kwargs)
        lows = _named(self.model, {k: np.asarray(v[0]) for k, v in raw.items()})
        highs = _named(self.model, {k: np.asarray(v[1]) for k, v in raw.items()})
        return {k: (lows[k], highs[k]) for k in lows}

    def predict(self, X: Any = None, *, data: Any = None) -> Prediction:
        """Mean and predictive distribution at new covariates (default: the fitted rows).

        ``X`` is a matrix like the one fitted (for a formula fit: a DataFrame,
        or pass ``data=``); the intercept column is added as in the fit.
        """
        model = self.model
        if data is not None or (model.spec is not None and X is not None):
            frame = data if data is not None else X
            Xn = np.asarray(model.spec.get_model_matrix(frame), dtype=float)
        elif X is None:
            Xn = model.X
        else:
            Xn = _as_matrix(X, model)
        if Xn.shape[1] != model.X.shape[1]:
            raise DataError(f"X must have {model.X.shape[1]} columns like the fitted data; got {Xn.shape[1]}.")
        eta = _predictor(self, Xn)
        loc = model.response.location(eta, model.link)
        extra = {p.name: self.params[p.name] for p in model.response.extras}
        mean, _ = model.response.moments(loc, extra)
        return Prediction(mean, eta, model.response.scipy_dist(loc, extra))

    def residuals(self, kind: str = "response") -> NDArray[np.float64]:
        """Residuals of the fitted rows: "response" (y - mean), "pearson" or "deviance".

        Pearson: (y - mean) / sqrt(Var y); deviance: sign(y - mean) times the
        square root of the unit deviance (unscaled by sigma, as in GLM software).
        """
        model = self.model
        eta = _predictor(self, model.X)
        loc = model.response.location(eta, model.link)
        extra = {p.name: self.params[p.name] for p in model.response.extras}
        mean, var = model.response.moments(loc, extra)
        r = model.y - mean
        if kind == "response":
            return r
        if kind == "pearson":
            return r / np.sqrt(var)
        if kind == "deviance":
            dev = model.response.unit_deviance(model.y, loc, extra)
            return np.sign(r) * np.sqrt(np.maximum(dev, 0.0))
        raise ValueError(f"kind must be 'response', 'pearson' or 'deviance'; got {kind!r}.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary, with the least-squares figures for a normal response."""
        out = super().to_dict()
        out["family"] = self.family.name
        if self.sigma_unbiased is not None:
            out["sigma_ml"] = self.sigma_ml
            out["sigma_unbiased"] = self.sigma_unbiased
            out["se_unbiased"] = dict(self.se_unbiased or {})
        return out


def regress(
    y: Any,
    X: Any = None,
    *,
    data: Any = None,
    family: str = "normal",
    mean: str | Callable[..., Any] = "linear",
    link: str | None = None,
    start: Mapping[str, Any] | None = None,
    weights: ArrayLike | None = None,
    intercept: bool = False,
    tol: float = 1e-12,
    max_iter: int | None = None,
    strict: bool = False,
) -> RegressionResult:
    r"""Fit a conditional model :math:`y_i \sim F(g^{-1}(\eta_i), \phi)` by maximum likelihood.

    Parameters
    ----------
    y : array_like or str
        The response, or a formula ``"y ~ x1 + C(group)"`` (with ``data``),
        parsed by formulaic; coefficients are then named as formulaic names
        them (``Intercept``, ``x1``, ``C(group)[T.b]``).
    X : array_like or DataFrame, optional
        Covariates (n, p) for a linear predictor :math:`\eta = X\beta`, or the
        predictor(s) ``x`` passed to a nonlinear ``mean``. **No intercept is
        added to plain arrays** unless ``intercept=True``; columns are named
        from a DataFrame, else ``x1..xp``.
    data : DataFrame, optional
        The data of a formula.
    family : str, default="normal"
        normal, bernoulli (aliases binomial, logistic), poisson,
        negative_binomial (NB2, dispersion ``alpha``), gamma (``shape``),
        lognormal (``sigma`` of log y), student_t (``sigma``, ``df``: robust
        regression), weibull (accelerated failure time, ``shape``).
    mean : "linear" or callable, default="linear"
        A callable ``f(x, **params)`` in ``jax.numpy`` gives a nonlinear mean;
        ``start`` then names and starts its parameters. With ``link=None`` it
        returns the mean itself; with a link it returns :math:`\eta`.
    link : str, optional
        identity, log, logit, probit or inverse; default the family's
        canonical link (identity for a nonlinear mean).
    start : dict, optional
        Start values (required for a nonlinear mean).
    weights : array_like, optional
        Non-negative frequency weights.
    intercept : bool, default=False
        Prepend a column of ones named ``Intercept`` to array covariates.
    tol, max_iter, strict
        Passed to :func:`thetahat.fit` (``max_iter`` defaults to 200 for a
        linear predictor and 2000 for a nonlinear mean).

    Returns
    -------
    RegressionResult

    Notes
    -----
    The log-likelihood is :math:`\sum_i w_i \log f(y_i;\ g^{-1}(\eta_i), \phi)`,
    e.g. for the normal family
    :math:`-\tfrac12\sum_i w_i[(y_i-\mu_i)^2/\sigma^2 + \log(2\pi\sigma^2)]` and
    for Poisson with log link :math:`\sum_i w_i[y_i\eta_i - e^{\eta_i} - \log y_i!]`.
    Standard errors come from the observed information of all parameters
    jointly; for the normal family ``se_unbiased`` rescales to the
    :math:`(n-p)` convention of least squares.

    Examples
    --------
    >>> import numpy as np, thetahat
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(500, 2))
    >>> y = rng.poisson(np.exp(0.5 + x @ [0.3, -0.2]))
    >>> res = thetahat.regress(y, x, family="poisson", intercept=True)
    >>> [round(v, 2) for v in res.coef.values()]
    [0.42, 0.29, -0.16]
    >>> import jax.numpy as jnp
    >>> t = np.linspace(0, 10, 40)
    >>> obs = 3 * (1 - np.exp(-0.4 * t)) + rng.normal(0, 0.05, 40)
    >>> fit = thetahat.regress(obs, t, mean=lambda x, a, k: a * (1 - jnp.exp(-k * x)),
    ...                        start={"a": 1.0, "k": 1.0})
    >>> round(fit.params["a"], 1), round(fit.params["k"], 1)
    (3.0, 0.4)
    """
    response = get_response(family)
    spec = None
    if isinstance(y, str):
        if "~" not in y:
            raise DataError(f"a string y must be a formula like 'y ~ x1 + x2'; got {y!r}.")
        if data is None:
            raise DataError("a formula needs data=: a DataFrame holding its variables.")
        y, X, names, spec = _from_formula(y, data)
    if X is None:
        raise DataError("X (the covariates) is required unless y is a formula with data=.")
    y_arr = as_float_array(y, name="y")
    if callable(mean):
        return _regress_nonlinear(y_arr, X, response, mean, link, start, weights, tol,
                                  max_iter or 2000, strict)
    if mean != "linear":
        raise DataError(f"mean must be 'linear' or a callable f(x, **params); got {mean!r} instead.")
    if spec is None:
        names = _column_names(X, intercept)
        rows = _response_and_design(y_arr, X, intercept)
    else:
        rows = _response_and_design(y_arr, X, False)
    Xm = rows[:, 1:]  # rows and finiteness were checked while building rows
    lk = get_link(link or response.canonical)
    if lk.name not in response.links:
        raise DataError(
            f"link {lk.name!r} is not available for the {response.name} family; "
            f"choose one of {list(response.links)}."
        )
    w = validate_weights(weights, y_arr.shape[0])
    _check_response(y_arr, response, w)
    _check_rank(Xm, names, w)
    coef0 = _irls_start(y_arr, Xm, w, response, lk)
    if start:
        unknown = [k for k in start if k not in names and k not in {p.name for p in response.extras}]
        if unknown:
            raise DataError(f"start names unknown parameter(s) {unknown}; known: {list(names)}.")
        coef0 = np.array([float(start.get(n, c)) for n, c in zip(names, coef0)])
    extras0 = _extras_start(_strided(y_arr), _strided(Xm) @ coef0, _strided(w), response, lk) \
        if response.extras else {}
    extras0.update({k: float(v) for k, v in (start or {}).items() if k in extras0})
    fam = linear_family(response.name, lk.name)
    model = _Model(response, lk, fam, tuple(names), y_arr, Xm, w, np.ones(len(names)), spec, rows)
    start_all = {"coef": coef0, **extras0}
    if (response.name, lk.name) not in _ALWAYS_VALID:
        _check_start(model, start_all)
    return _run(model, start_all, weights, tol, max_iter or 200, strict)


# -- input ------------------------------------------------------------------
def _from_formula(formula: str, data: Any) -> tuple[Any, Any, list[str], Any]:
    import formulaic

    try:
        mm = formulaic.model_matrix(formula, data, na_action="raise")
    except ValueError as exc:
        raise DataError(f"formula {formula!r}: {exc}. Remove or impute missing values first.") from None
    except Exception as exc:  # formulaic reports unknown names etc. with its own types
        raise DataError(f"formula {formula!r} could not be evaluated on data: {exc}") from None
    if mm.lhs is None or mm.lhs.shape[1] != 1:
        raise DataError(f"formula {formula!r} must have exactly one response on the left of '~'.")
    rhs = mm.rhs
    return np.asarray(mm.lhs, dtype=float)[:, 0], np.asarray(rhs, dtype=float), list(rhs.columns), rhs.model_spec


def _column_names(X: Any, intercept: bool) -> list[str]:
    cols = getattr(X, "columns", None)
    if cols is not None:
        names = [str(c) for c in cols]
    else:
        arr = np.asarray(X)
        p = 1 if arr.ndim == 1 else arr.shape[1]
        names = [f"x{j + 1}" for j in range(p)]
    return (["Intercept"] if intercept else []) + names


def _float_matrix(X: Any) -> NDArray[np.float64]:
    """Covariates as a float (n, p) array (a 1-D array is one column), checked by name."""
    arr = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X)
    return as_float_array(arr.reshape(-1, 1) if arr.ndim == 1 else arr, name="X", ndim=2)


def _check_row_count(y: np.ndarray, n_rows: int) -> None:
    if n_rows != y.shape[0]:
        raise DataError(
            f"y and X must have the same number of rows; got {y.shape[0]} responses and "
            f"{n_rows} covariate rows."
        )


def _response_and_design(y: np.ndarray, X: Any, intercept: bool) -> NDArray[np.float64]:
    """The engine's rows [y, (1,) X] built in one array: one copy of the data, not three."""
    arr = _float_matrix(X)
    _check_row_count(y, arr.shape[0])
    # Built where the solver's padding goes: no second 64 MB copy at 1e6 x 8.
    rows = bucket_rows(arr.shape[0], (arr.shape[1] + 1 + intercept,))
    rows[:, 0] = y
    if intercept:
        rows[:, 1] = 1.0
    rows[:, 1 + intercept :] = arr
    return rows


def _as_matrix(X: Any, model: _Model | None, intercept: bool = False) -> NDArray[np.float64]:
    arr = _float_matrix(X)
    if model is not None:
        intercept = "Intercept" in model.coef_names and model.spec is None and \
            arr.shape[1] == model.X.shape[1] - 1
    return np.column_stack([np.ones(arr.shape[0]), arr]) if intercept else arr


def _check_response(y: np.ndarray, response: Response, w: np.ndarray) -> None:
    bad = response.bad_y(y)
    if bad.any():
        raise DataError(
            f"y has values outside the support ({response.describe_support()}) of the "
            f"{response.name} family: {describe_bad_values(y, bad)}. Check the data or choose "
            "another family."
        )
    used = y if is_unit(w) else y[w > 0]
    if response.support == "count" and np.all(used == 0):
        raise DataError(
            f"all {used.size} counts are zero: the {response.name} mean MLE is 0 (log-mean -inf), "
            "so no finite coefficients exist. Fit a model only to data with some events."
        )
    if response.support == "binary" and (np.all(used == 0) or np.all(used == 1)):
        raise DataError(
            f"all {used.size} responses equal {used[0]:g}: the {response.name} probability MLE "
            "is on the boundary (coefficients diverge). Both outcomes must occur."
        )


def _check_rank(X: np.ndarray, names: list[str], w: np.ndarray) -> None:
    n, p = X.shape
    if n < p:
        raise DataError(f"{n} rows cannot identify {p} coefficients; add data or drop columns.")
    # Rows only add information: when a strided subsample of the used rows
    # already gives a well-conditioned X, so does all of it.
    Xu = X if np.all(w > 0) else X[w > 0]
    sub = _strided(Xu)
    if sub.shape[0] < Xu.shape[0] and _well_conditioned(sub.T @ sub):
        return
    gram = Xu.T @ Xu
    norms = np.sqrt(np.diag(gram))
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise DataError(f"column(s) {[names[j] for j in zero]} of X are all zero; drop them.")
    # Columns whose variance (from the Gram matrix) vanishes to rounding are
    # checked exactly; the others cannot be constant.
    mean = Xu.sum(axis=0) / Xu.shape[0]
    spread = np.diag(gram) / Xu.shape[0] - mean**2
    suspects = np.flatnonzero(spread <= 1e-8 * np.diag(gram) / Xu.shape[0])
    const = [j for j in suspects if np.ptp(Xu[:, j]) == 0]
    if len(const) > 1:
        raise DataError(
            f"columns {[names[j] for j in const]} are all constant: they are collinear "
            "(at most one intercept-like column). Drop all but one."
        )
    if _well_conditioned(gram):
        return
    _, s, vt = np.linalg.svd(_r_factor(Xu / norms), full_matrices=False)
    if s[-1] <= 1e-10 * s[0]:
        v = np.abs(vt[-1])
        involved = [names[j] for j in np.flatnonzero(v > 0.1 * v.max())]
        raise DataError(
            f"X is rank-deficient (condition number {s[0] / max(s[-1], 1e-300):.3g}): columns "
            f"{involved} are (nearly) collinear, so their coefficients are not identified. "
            "Drop one of them."
        )


def _well_conditioned(gram: np.ndarray) -> bool:
    """No zero column and condition number < 1e6, seen without doubt in the scaled Gram matrix.

    Its eigenvalues are exact to ~1e-16, so a well-conditioned X needs no SVD.
    """
    norms = np.sqrt(np.diag(gram))
    if not np.all(norms > 0):
        return False
    eig = np.linalg.eigvalsh(gram / np.outer(norms, norms))
    return bool(eig[0] > 1e-12 * eig[-1])


def _strided(a: np.ndarray) -> np.ndarray:
    """The ``_START_ROWS``-row strided subsample of ``a`` (all of it when short)."""
    return strided_rows(a, _START_ROWS)


def _r_factor(X: np.ndarray, rows: int = 65536) -> np.ndarray:
    """R of X = QR by blocks (tall-skinny QR): X and R share singular values and vectors."""
    blocks: list[NDArray[np.float64]] = [
        np.asarray(np.linalg.qr(X[i : i + rows], mode="r")) for i in range(0, X.shape[0], rows)
    ]
    return blocks[0] if len(blocks) == 1 else np.asarray(np.linalg.qr(np.vstack(blocks), mode="r"))


# -- start values --------------------------------------------------------------
def _irls_start(y: np.ndarray, X: np.ndarray, w: np.ndarray, response: Response, link: Link) -> np.ndarray:
    """Coefficients from a few iteratively reweighted least-squares steps (numpy).

    On large data they run on an evenly spaced subsample of ``_START_ROWS``
    rows: a start within a few standard errors is all the engine's Newton
    iterations need, and each of them costs a pass over the full data.
    """
    y, X, w = _strided(y), _strided(X), _strided(w)
    if response.name in ("lognormal", "weibull"):
        target = np.log(y)
        base = "normal"
    else:
        target, base = y, response.name
    if base == "normal" and link.name == "identity":
        return _wls(X, target, w)
    ybar = float(np.average(target, weights=w))
    mu = {"bernoulli": (target + 0.5) / 2, "poisson": target + 0.1 * ybar + 0.1,
          "negative_binomial": target + 0.1 * ybar + 0.1}.get(base, 0.5 * (target + ybar))
    if base in ("normal", "gamma", "student_t") and link.name in ("log", "inverse"):
        mu = np.maximum(mu, 1e-3 * abs(ybar) + 1e-12)
    with np.errstate(all="ignore"):
        eta = np.asarray(link.link_np(mu), float)
        coef = np.zeros(X.shape[1])
        var = {"bernoulli": lambda m: m * (1 - m), "poisson": lambda m: m,
               "negative_binomial": lambda m: m, "gamma": lambda m: m**2}.get(base, lambda m: np.ones_like(m))
        for _ in range(8):
            d = link.dmu_deta_np(eta)
            ww = w * d**2 / np.maximum(var(mu), 1e-300)
            z = eta + (target - mu) / d
            ok = np.isfinite(z) & np.isfinite(ww)
            new = _wls(X[ok], z[ok], ww[ok])
            if not np.all(np.isfinite(new)):
                break
            settled = np.all(np.abs(new - coef) <= 1e-6 * (1.0 + np.abs(new)))
            coef = new
            if settled:  # a start, not the estimate: the engine takes it from here
                break
            eta = X @ coef
            if base == "bernoulli":
                eta = np.clip(eta, -_SEPARATION_ETA, _SEPARATION_ETA)
            mu = link.inverse_np(eta)
    return coef


def _wls(X: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    return np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)[0]


def _extras_start(y: np.ndarray, eta: np.ndarray, w: np.ndarray, response: Response, link: Link) -> dict[str, float]:
    with np.errstate(all="ignore"):
        loc = response.location(eta, link)
        tiny = 1e-8 * (np.sqrt(np.average(y * y, weights=w)) + 1e-300)
        if response.name == "normal":
            return {"sigma": max(float(np.sqrt(np.average((y - loc) ** 2, weights=w))), tiny)}
        if response.name == "student_t":
            return {"sigma": max(float(np.sqrt(np.average((y - loc) ** 2, weights=w))), tiny), "df": 5.0}
        if response.name == "lognormal":
            s = float(np.sqrt(np.average((np.log(y) - loc) ** 2, weights=w)))
            return {"sigma": max(s, 1e-8)}
        if response.name == "gamma":
            cv2 = float(np.average((y / loc - 1) ** 2, weights=w))
            return {"shape": float(np.clip(1 / cv2, 1e-2, 1e6)) if cv2 > 0 and np.isfinite(cv2) else 1.0}
        if response.name == "negative_binomial":
            a = float(np.average(((y - loc) ** 2 - loc) / loc**2, weights=w))
            return {"alpha": float(np.clip(a, 0.05, 100)) if np.isfinite(a) else 1.0}
        if response.name == "weibull":
            s = float(np.sqrt(np.average((np.log(y) - np.log(loc)) ** 2, weights=w)))
            return {"shape": float(np.clip(np.pi / np.sqrt(6) / max(s, 1e-8), 1e-2, 1e6))}
    return {}


def _check_start(model: _Model, start: dict[str, Any]) -> None:
    """The start must give a finite log-likelihood at every row (inside the domain)."""
    fam = model.family
    rows = np.column_stack([model.y, model.X])
    with jax.enable_x64(True):
        params = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in start.items()}
        terms = np.asarray(fam.logpdf(jnp.asarray(rows), **params))
    bad = ~np.isfinite(terms) & (model.w > 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        named = {k: (v.tolist() if np.ndim(v) else float(v)) for k, v in _named(model, start).items()}
        raise DataError(
            f"the start values {named} lie outside the domain of the {fam.name}: the "
            f"log-likelihood is not finite at {int(bad.sum())} row(s), the first is row {first} "
            f"(y = {model.y[first]!r}). Give start values where the mean is valid "
            "(e.g. positive for a log-scale family)."
        )


# -- nonlinear means -------------------------------------------------------------
def _regress_nonlinear(
    y: np.ndarray, X: Any, response: Response, mean_fn: Callable[..., Any], link: str | None,
    start: Mapping[str, Any] | None, weights: Any, tol: float, max_iter: int, strict: bool,
) -> RegressionResult:
    if not start:
        raise DataError("a nonlinear mean needs start={name: value} for each of its parameters.")
    names = tuple(str(k) for k in start)
    _check_signature(mean_fn, names)
    Xm = _as_matrix(X, None)
    _check_row_count(y, Xm.shape[0])  # _as_matrix rejected non-finite values
    lk = get_link(link or "identity")
    w = validate_weights(weights, y.shape[0])
    _check_response(y, response, w)
    b0 = np.array([float(start[n]) for n in names])
    if not np.all(np.isfinite(b0)):
        bad = [n for n, v in zip(names, b0) if not np.isfinite(v)]
        raise DataError(f"start values of {bad} are not finite.")
    scales = np.where(b0 != 0, np.abs(b0), 1.0)
    fam = RegressionFamily(response, lk, names, mean_fn, tuple(float(s) for s in scales))
    model = _Model(response, lk, fam, names, y, Xm, w, scales)
    # b = scale * u with scale = |b0| > 0: the internal start is the sign of b0.
    internal0 = {n: float(np.sign(b)) for n, b in zip(names, b0)}
    with jax.enable_x64(True):
        eta0 = np.asarray(fam.predictor(jnp.asarray(Xm), internal0))
    if not np.all(np.isfinite(eta0)):
        raise DataError(
            f"the mean function is not finite at the start values {dict(start)} for "
            f"{describe_bad_values(eta0, ~np.isfinite(eta0))}. Choose start values inside its domain."
        )
    start_all: dict[str, Any] = {**internal0, **_extras_start(y, eta0, w, response, lk)}
    _check_start(model, start_all)
    starts = [start_all]
    if response.name == "normal":
        refined, eta_gn = _gauss_newton_start(model, internal0)
        gn = {**refined, **_extras_start(y, eta_gn, w, response, lk)}
        if all(np.isfinite(v) for v in gn.values()) and gn["sigma"] > 0:
            starts.insert(0, gn)
    return _run(model, starts, weights, tol, max_iter, strict)


def _gauss_newton_start(model: _Model, start: dict[str, float]) -> tuple[dict[str, float], np.ndarray]:
    """Refine a nonlinear Gaussian start by damped Gauss-Newton (Levenberg-Marquardt) on the RSS.

    This is the nonlinear analogue of the IRLS start of a GLM: a sequence of
    weighted least-squares problems that needs only first derivatives and
    follows the path least-squares software takes, so the engine's Newton
    iterations then start in the basin of the least-squares solution (from
    distant starts the full-Hessian path can fall into a label-switched or
    other local optimum). The engine still does the final estimation and
    all inference.
    """
    fam, names = model.family, list(start)
    X = jnp.asarray(model.X)
    sw = np.sqrt(np.asarray(model.w, float))

    def mean_of(u: Any) -> Any:
        return model.link.inverse(fam.predictor(X, dict(zip(names, u))))

    with jax.enable_x64(True):
        value_jac = jit(lambda u: (mean_of(u), jax.jacfwd(mean_of)(u)))

        def evaluate(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
            mu, jac = value_jac(jnp.asarray(u, dtype=jnp.float64))
            r = sw * (model.y - np.asarray(mu))
            return r, -sw[:, None] * np.asarray(jac), float(r @ r)

        u = np.array([start[n] for n in names], dtype=float)
        r, J, rss = evaluate(u)
        # Marquardt damping with Moré's scaling (running max of the column
        # norms) and Nielsen's update of the damping from the gain ratio.
        d = np.zeros(len(u))
        lam, nu = 1e-2, 2.0
        for _ in range(1000):
            if not (np.isfinite(rss) and np.all(np.isfinite(J))) or rss == 0:
                break
            d = np.maximum(d, np.sqrt(np.sum(J * J, axis=0)))
            dd = np.maximum(d, 1e-12 * max(d.max(), 1e-300))
            A = np.vstack([J, np.sqrt(lam) * np.diag(dd)])
            step = np.linalg.lstsq(A, np.concatenate([-r, np.zeros(len(u))]), rcond=None)[0]
            predicted = rss - float(np.sum((r + J @ step) ** 2)) - lam * float(np.sum((dd * step) ** 2))
            with np.errstate(all="ignore"):
                r_new, J_new, rss_new = evaluate(u + step)
            gain = (rss - rss_new) / max(predicted, 1e-300) if np.isfinite(rss_new) else -1.0
            if gain > 0:
                small = (rss - rss_new <= 1e-15 * rss
                         and np.linalg.norm(dd * step) <= 1e-10 * (np.linalg.norm(dd * u) + 1e-300))
                u, r, J, rss = u + step, r_new, J_new, rss_new
                lam *= max(1.0 / 3.0, 1.0 - (2.0 * min(gain, 1.0) - 1.0) ** 3)
                nu = 2.0
                if small:
                    break
            else:
                lam *= nu
                nu *= 2.0
                if lam > 1e20:
                    break
        eta = np.asarray(fam.predictor(X, dict(zip(names, jnp.asarray(u)))))
    return dict(zip(names, (float(v) for v in u))), eta


def _check_signature(fn: Callable[..., Any], names: tuple[str, ...]) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    params = list(sig.parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = {p.name for p in params[1:]}
    missing = [p.name for p in params[1:] if p.default is p.empty and p.name not in names]
    unknown = [n for n in names if n not in accepted]
    if missing or unknown:
        raise DataError(
            f"start must name exactly the parameters of the mean function {sorted(accepted)}: "
            f"missing {missing}, unknown {unknown}."
        )


# -- estimation and result -----------------------------------------------------------
def _run(model: _Model, start: dict[str, Any] | list[dict[str, Any]], weights: Any, tol: float,
         max_iter: int, strict: bool) -> RegressionResult:
    """Fit from the first start; try the next ones only while no fit has converged.

    Of non-converged fits the one of highest log-likelihood is kept.
    """
    rows = model.rows if model.rows is not None else np.column_stack([model.y, model.X])
    best: tuple[FitResult, list[Any]] | None = None
    for point in start if isinstance(start, list) else [start]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            internal = fit(rows, model.family, weights=weights, start=point, tol=tol,
                           max_iter=max_iter, strict=False)
        if best is None or _better(internal, best[0]):
            best = (internal, list(caught))
        if best[0].converged:  # later starts are fallbacks only
            break
    assert best is not None
    internal, caught = best
    if not internal.converged and strict:
        from thetahat.errors import FitError

        raise FitError(f"{model.family.name} fit did not converge: {internal.message}")
    if model.response.name == "bernoulli" and model.family.mean_fn is None:
        _check_separation(model, internal)
    for item in caught:  # re-issue the engine's own warnings, now that they are explained
        warnings.warn(item.message, item.category, stacklevel=3)
    return _wrap(model, internal)


def _better(new: FitResult, old: FitResult) -> bool:
    if new.converged != old.converged:
        return new.converged
    if not np.isfinite(new.loglik):
        return False
    return not np.isfinite(old.loglik) or new.loglik > old.loglik + 1e-6 * (1 + abs(old.loglik))


def _check_separation(model: _Model, internal: FitResult) -> None:
    coef = np.asarray(internal.params["coef"])
    # rows @ [0, coef]: X itself is a strided view of the rows (a product with it copies).
    eta = model.X @ coef if model.rows is None else model.rows @ np.concatenate([[0.0], coef])
    if np.max(np.abs(eta)) <= _SEPARATION_ETA:
        return
    extreme = (np.abs(eta) > _SEPARATION_ETA) & (model.w > 0)
    if not extreme.any():
        return
    spread = np.abs(coef) * np.max(np.abs(model.X), axis=0)
    cols = [model.coef_names[j] for j in np.flatnonzero(spread > 0.25 * spread.max())]
    kind = "complete" if extreme.all() else "quasi-complete"
    raise DataError(
        f"perfect separation ({kind}) in the {model.response.name} regression: "
        f"{int(extreme.sum())} of {extreme.size} rows get fitted probabilities of 0 or 1 and "
        f"the coefficients of {cols} diverge, so no finite MLE exists. Drop or merge those "
        "columns, or use a penalised (prior=) fit."
    )


def _named(model: _Model, values: Mapping[str, Any]) -> dict[str, Any]:
    """Internal parameters (coef vector or scaled scalars) -> values by coefficient name."""
    out: dict[str, Any] = {}
    if model.family.mean_fn is None and "coef" in values:
        coef = np.asarray(values["coef"], float)
        out.update({n: float(c) for n, c in zip(model.coef_names, coef)})
    else:
        for n, s in zip(model.coef_names, model.scales):
            if n in values:
                out[n] = float(np.asarray(values[n]) * s)
    for p in model.response.extras:
        if p.name in values:
            out[p.name] = float(np.asarray(values[p.name]))
    return out


def _predictor(res: RegressionResult, X: np.ndarray) -> np.ndarray:
    model = res.model
    internal = {k: np.asarray(v) for k, v in res.internal.params.items()}
    with jax.enable_x64(True):
        return np.asarray(model.family.predictor(jnp.asarray(X), internal), dtype=float)


def _wrap(model: _Model, internal: FitResult) -> RegressionResult:
    params = _named(model, internal.params)
    se = _named(model, internal.se)
    # Flat internal names: coef[j] or b_j (scaled) then the extras.
    factor = np.concatenate([model.scales, np.ones(len(model.response.extras))])
    names = list(model.coef_names) + [p.name for p in model.response.extras]
    cov = internal.cov * np.outer(factor, factor)
    res = RegressionResult(
        **{f: getattr(internal, f) for f in FitResult.__dataclass_fields__},  # type: ignore[arg-type]
        model=model, internal=internal,
    )
    res = replace(res, params=params, se=se, cov=cov, cov_names=tuple(names), _interval=None)
    if model.response.name == "normal":
        res = replace(res, **_least_squares(model, res))
    return res


def _least_squares(model: _Model, res: RegressionResult) -> dict[str, Any]:
    """sigma_ml, sigma_unbiased and the (n - p) standard errors s^2 (J'WJ)^-1."""
    b = np.array([res.params[n] for n in model.coef_names])
    fam = model.family

    def mean_of(bv: Any) -> Any:
        if fam.mean_fn is None:
            eta = jnp.asarray(model.X) @ bv
        else:
            internal = {n: bv[i] / s for i, (n, s) in enumerate(zip(model.coef_names, model.scales))}
            eta = fam.predictor(jnp.asarray(model.X), internal)
        return model.link.inverse(eta)

    with jax.enable_x64(True):
        bj = jnp.asarray(b, dtype=jnp.float64)
        mu = np.asarray(mean_of(bj))
        J = np.asarray(jax.jacfwd(mean_of)(bj))
    w = np.asarray(model.w, float)
    n, p = float(w.sum()), len(b)
    rss = float(np.sum(w * (model.y - mu) ** 2))
    s2 = rss / (n - p) if n > p else np.nan
    sw = np.sqrt(w)[:, None]
    # (J'WJ)^-1 through the SVD of sqrt(W) J: no squaring of the condition number.
    _, sv, vt = np.linalg.svd(J * sw, full_matrices=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = (vt.T / np.where(sv > sv[0] * 1e-15, sv, np.nan) ** 2) @ vt
    cov = s2 * inv
    return {
        # RSS/n directly: the identity sigma^2 = RSS/n holds at the exact MLE,
        # and RSS is resolved more finely than the NLL at noise-level residuals.
        "sigma_ml": float(np.sqrt(rss / n)),
        "sigma_unbiased": float(np.sqrt(s2)),
        "se_unbiased": {k: float(v) for k, v in zip(model.coef_names, np.sqrt(np.diag(cov)))},
        "cov_unbiased": cov,
    }


def regress_command(file: str, formula: str, family: str = "normal", json_output: bool = False) -> str:
    """``thetahat regress FILE --formula "y ~ x1 + x2" --family poisson [--json]``.

    Reads a CSV, TSV or Parquet file (:func:`thetahat.io.read_table`), fits the formula and returns the summary text
    (or JSON with ``json_output=True``) for the CLI to print.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("y,x\\n1,0\\n0,1\\n3,2\\n2,3\\n5,4\\n4,5\\n")
    >>> print(regress_command(path, "y ~ x", "poisson").splitlines()[0])
    Maximum-likelihood fit: poisson regression (log link)   (n = 6)
    """
    from thetahat.io import read_table

    res = regress(formula, data=read_table(file), family=family)
    if json_output:
        return json.dumps(res.to_dict(), indent=2)
    return res.summary()
