r"""Gaussian mixture models fitted by EM, with the scikit-learn estimator API.

.. math::

    p(x \mid \theta) = \sum_{k=1}^{K} \pi_k\,
        \mathcal N(x \mid \mu_k, \Sigma_k)

The fit standardises the data (exactly, by a power of two), starts each of
``n_init`` runs from the best of several k-means partitions (each refined and
ranked by EM on at most 4,096 rows), runs the
jitted EM loop of :mod:`thetahat.mixture.em` on all rows, and keeps the run
with the highest log-likelihood. Unlike scikit-learn it takes observation
weights, reports the whole log-likelihood trace, warns about empty and
collapsed components, and gives standard errors (:meth:`GaussianMixture.summary`).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import pandas as pd
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from thetahat.data import as_float_array, validate_weights
from thetahat.errors import (
    ConvergenceWarning,
    DataError,
    DegenerateWarning,
    FitError,
    HessianWarning,
)
from thetahat.inference import invert_information
from thetahat.mixture import gaussian_em, gaussian_inference
from thetahat.mixture._prepare import (
    Prepared,
    chunk_rows,
    count_distinct_rows,
    prepare_rows,
    rng_from,
)
from thetahat.mixture.gaussian_em import COV_TYPES, GaussParams
from thetahat.mixture.kmeans import kmeans_plusplus, lloyd, subsample
from thetahat.optimize import pad_to_bucket

__all__ = ["GaussianMixture", "n_parameters"]

INITS = ("kmeans", "k-means++", "random")
#: EM iterations used to rank candidate starts.
SCREEN_ITER = 100
#: Rows on which candidate starts are built and screened.
SCREEN_ROWS = 4096


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters: k - 1 weights, k*d means and the covariance entries."""
    k, d = n_components, n_features
    cov = {
        "full": k * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": k * d,
        "spherical": k,
    }[covariance_type]
    return (k - 1) + k * d + cov


def params_from_resp(
    x: np.ndarray, w: np.ndarray, resp: np.ndarray, reg: float, cov_type: str
) -> GaussParams:
    """The M-step from explicit responsibilities (numpy; used to start EM)."""
    r = resp * w[:, None]
    total = r.sum()
    n_k = r.sum(axis=0) + 10 * np.finfo(float).eps * total
    means = (r.T @ x) / n_k[:, None]
    d = x.shape[1]
    diff = x[:, None, :] - means[None]
    if cov_type in ("full", "tied"):
        scatter = np.einsum("nk,nki,nkj->kij", r, diff, diff)
        cov = scatter / n_k[:, None, None] if cov_type == "full" else scatter.sum(0) / total
        cov = cov + reg * np.eye(d)
    else:
        var = np.einsum("nk,nkd->kd", r, diff**2) / n_k[:, None]
        cov = var + reg if cov_type == "diag" else var.mean(axis=1) + reg
    return GaussParams(n_k / n_k.sum(), means, cov)


class GaussianMixture(DensityMixin, BaseEstimator):  # type: ignore[misc]
    r"""Gaussian mixture fitted by maximum likelihood (EM).

    Density: :math:`p(x) = \sum_k \pi_k \mathcal N(x \mid \mu_k, \Sigma_k)`.

    Parameters
    ----------
    n_components : int, default=1
        Number of components K.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        One full covariance per component, one shared full covariance, one
        diagonal per component, or one variance per component.
    tol : float, default=1e-6
        Stop when the log-likelihood per observation changes by less than this
        (the scale of scikit-learn's ``tol``, whose default is 1e-3).
    reg_covar : float, default=1e-6
        Added to the covariance diagonals (data units) to keep them positive
        definite.
    max_iter : int, default=1000
        EM iterations per run; a run that reaches it is reported with a
        ``ConvergenceWarning`` and ``converged_ = False``.
    n_init : int, default=1
        Runs from different starts; the one with the highest log-likelihood is kept.
    init : {"kmeans", "k-means++", "random"} or array of shape (K, d), default="kmeans"
        Start: a converged weighted k-means partition (from k-means++ seeds),
        the k-means++ seeds' nearest-seed partition, random responsibilities,
        or the given means.
    init_candidates : int, default=20
        Each run starts from the best of this many starts of the ``init``
        kind, each refined by up to 100 EM iterations on the data (a random
        subsample of 4,096 rows when larger) and ranked by log-likelihood.
        1 uses a single start as it is.
    random_state : int, numpy Generator or None, default=None
        Seed for the starts and for :meth:`sample`.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        Fitted parameters (scikit-learn's shapes and conventions).
    loglik_ : float
        Log-likelihood of the (weighted) training data at the fitted parameters.
    lower_bound_ : float
        ``loglik_`` per unit of weight (scikit-learn's ``lower_bound_`` scale).
    loglik_trace_ : ndarray
        Log-likelihood after each EM iteration of the kept run (never decreases).
    converged_ : bool
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from thetahat import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(6, 1, (100, 2))])
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> np.round(np.sort(gm.weights_), 2)
    array([0.33, 0.67])
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-6,
        reg_covar: float = 1e-6,
        max_iter: int = 1000,
        n_init: int = 1,
        init: Any = "kmeans",
        init_candidates: int = 20,
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init = init
        self.init_candidates = init_candidates
        self.random_state = random_state

    # -- fitting ------------------------------------------------------------
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> Any:
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Frequency weights: weight 2 counts a row twice.

        Returns
        -------
        self
        """
        x = self._validated(X, reset=True)
        w = np.ones(x.shape[0]) if sample_weight is None else validate_weights(
            sample_weight, x.shape[0]
        )
        self._check_settings(x, w)
        data = prepare_rows(x, w)
        reg = float(self.reg_covar) / data.scale**2
        rng = rng_from(self.random_state)
        best, failures = None, 0
        with jax.enable_x64(True):
            for _ in range(int(self.n_init)):
                start = _pad(self._start(data, reg, rng), self._k_run(), self.covariance_type)
                run = gaussian_em.fit_em(
                    GaussParams(*(jnp.asarray(a) for a in start)),
                    data.xc, data.wc, reg, float(self.tol), int(self.max_iter),
                    cov_type=self.covariance_type, trace_len=int(self.max_iter) + 1,
                )
                if not bool(run.finite):
                    failures += 1
                    if best is None:
                        best = run
                    continue
                if best is None or not bool(best.finite) or float(run.loglik) > float(best.loglik):
                    best = run
        assert best is not None
        if not bool(best.finite):
            raise FitError(
                f"EM broke down in all {self.n_init} run(s): a covariance stopped being "
                f"positive definite (reg_covar={self.reg_covar:g}). Increase reg_covar, use "
                "fewer components or a simpler covariance_type."
            )
        self._store(best, data, x.shape[0])
        self._diagnose(x, w, data)
        return self

    def _validated(self, X: ArrayLike, *, reset: bool) -> np.ndarray:
        try:
            arr = validate_data(
                self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False,
            )
        except DataError:
            raise
        except ValueError as err:  # scikit-learn's checks (shape, features): ours to raise
            raise DataError(f"X: {err}") from None
        return as_float_array(arr, name="X", ndim=2)

    def _check_settings(self, x: np.ndarray, w: np.ndarray) -> None:
        k = self.n_components
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise DataError(f"n_components must be a positive integer; got {k!r}.")
        if self.covariance_type not in COV_TYPES:
            raise DataError(
                f"covariance_type must be one of {COV_TYPES}; got {self.covariance_type!r}."
            )
        for name in ("tol", "reg_covar"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.floating)) or not value >= 0:
                raise DataError(f"{name} must be a non-negative number; got {value!r}.")
        for name in ("max_iter", "n_init", "init_candidates"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise DataError(f"{name} must be a positive integer; got {value!r}.")
        if isinstance(self.init, str):
            if self.init not in INITS:
                raise DataError(f"init must be one of {INITS} or an array of means; got {self.init!r}.")
        else:
            means = np.asarray(self.init, dtype=float)
            if means.shape != (k, x.shape[1]) or not np.all(np.isfinite(means)):
                raise DataError(
                    f"init means must be a finite array of shape ({k}, {x.shape[1]}); "
                    f"got shape {means.shape}."
                )
        distinct = count_distinct_rows(x, w, k)
        if distinct < k:
            raise DataError(
                f"n_components={k} but X has only {distinct} distinct row(s) with positive "
                f"weight: each component needs points of its own. Use n_components <= {distinct}."
            )

    def _start(self, data: Prepared, reg: float, rng: np.random.Generator) -> GaussParams:
        """The best of ``init_candidates`` starts, each refined by EM on a subsample.

        Candidates are built and run on at most 4,096 rows (all rows of
        smaller data), so their cost is bounded at any N; the winner's
        parameters start EM on all rows.
        """
        xs, ws = subsample(data.x, data.w, rng, SCREEN_ROWS)
        if not isinstance(self.init, str):
            centers = (np.asarray(self.init, dtype=float) - data.shift) / data.scale
            labels = np.argmin(((xs[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
            start = params_from_resp(xs, ws, np.eye(self.n_components)[labels], reg,
                                     self.covariance_type)
            return start._replace(means=centers)
        starts = [_pad(self._one_start(xs, ws, reg, rng, i), self._k_run(), self.covariance_type)
                  for i in range(int(self.init_candidates))]
        if len(starts) == 1:
            return starts[0]
        xc, wc = chunk_rows(xs, ws)
        stacked = GaussParams(*(jnp.asarray(np.stack(parts)) for parts in zip(*starts)))
        loglik, ends = gaussian_em.screen_em(
            stacked, xc, wc, reg, float(self.tol), SCREEN_ITER,
            cov_type=self.covariance_type, trace_len=SCREEN_ITER + 1,
        )
        best = int(np.argmax(np.asarray(loglik)))
        if not np.isfinite(np.asarray(loglik)[best]):
            return starts[0]
        return GaussParams(*(np.asarray(a)[best] for a in ends))

    def _one_start(
        self, xs: np.ndarray, ws: np.ndarray, reg: float, rng: np.random.Generator, i: int
    ) -> GaussParams:
        k = int(self.n_components)
        if self.init == "random":
            resp = rng.uniform(size=(xs.shape[0], k))
            resp /= resp.sum(axis=1, keepdims=True)
        else:
            centers = kmeans_plusplus(xs, ws, k, rng)
            # For "kmeans", every other candidate keeps the k-means++ seeds'
            # partition: more diverse starts than converged k-means alone.
            if self.init == "kmeans" and i % 2 == 0:
                labels = lloyd(xs, ws, centers)
            else:
                labels = np.argmin(((xs[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
            resp = np.eye(k)[labels]
        return params_from_resp(xs, ws, resp, reg, self.covariance_type)

    def _k_run(self) -> int:
        # select_gaussian_mixture pads every model of a grid to one number of
        # components (extra ones with weight exactly 0 are exact no-ops), so
        # that the grid compiles once per covariance type, not once per k.
        return max(int(self.n_components), getattr(self, "_pad_components_to", 0))

    def _store(self, run: Any, data: Prepared, n_rows: int) -> None:
        s = data.scale
        d = data.x.shape[1]
        n_iter = int(run.n_iter)
        k = int(self.n_components)
        cov = np.asarray(run.params.cov)
        self.weights_ = np.asarray(run.params.weights)[:k]
        self.means_ = np.asarray(run.params.means)[:k] * s + data.shift
        self.covariances_ = (cov if self.covariance_type == "tied" else cov[:k]) * s**2
        self.loglik_ = float(run.loglik) - data.w.sum() * d * np.log(s)
        self.lower_bound_ = self.loglik_ / data.w.sum()
        self.loglik_trace_ = np.asarray(run.trace)[: n_iter + 1] - data.w.sum() * d * np.log(s)
        self.n_iter_ = n_iter
        self.converged_ = bool(run.converged)
        self.precisions_cholesky_ = _precision_cholesky(self.covariances_, self.covariance_type)
        self.precisions_ = _precisions(self.precisions_cholesky_, self.covariance_type)
        self._n_train = n_rows

    def _diagnose(self, x: np.ndarray, w: np.ndarray, data: Prepared) -> None:
        if not self.converged_:
            warnings.warn(
                f"EM did not converge in {self.max_iter} iterations (tol={self.tol:g}); the "
                "last change of the log-likelihood per observation was "
                f"{np.diff(self.loglik_trace_)[-1] / w.sum():.3g}. Increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=3,
            )
        used = x[w > 0]
        constant = np.flatnonzero(np.all(used == used[0], axis=0))
        if constant.size:
            warnings.warn(
                f"{constant.size} column(s) of X are constant (the first is column "
                f"{constant[0]}, value {used[0, constant[0]]!r}): their variance is only "
                f"reg_covar={self.reg_covar:g}, so the log-likelihood depends on reg_covar. "
                "Drop constant columns.",
                DegenerateWarning,
                stacklevel=3,
            )
        for k in range(self.n_components):
            count = self.weights_[k] * w.sum()
            if count < 1e-6:
                warnings.warn(
                    f"component {k} is empty (weight {self.weights_[k]:.3g}): no observation "
                    f"belongs to it. Use fewer components (n_components={self.n_components - 1}).",
                    DegenerateWarning,
                    stacklevel=3,
                )
                continue
            if self._collapsed(k, constant):
                warnings.warn(
                    f"component {k} collapsed onto a point or a line (about {count:.3g} "
                    f"observation(s), near {np.round(self.means_[k], 6).tolist()}): its "
                    f"covariance is essentially reg_covar={self.reg_covar:g} in some direction, "
                    "where the likelihood is unbounded. Use fewer components or a larger reg_covar.",
                    DegenerateWarning,
                    stacklevel=3,
                )

    def _collapsed(self, k: int, constant: np.ndarray) -> bool:
        keep = np.setdiff1d(np.arange(self.n_features_in_), constant)
        if keep.size == 0:
            return False
        cov = self.covariances_
        if self.covariance_type == "full":
            smallest = np.linalg.eigvalsh(cov[k][np.ix_(keep, keep)])[0]
        elif self.covariance_type == "tied":
            smallest = np.linalg.eigvalsh(cov[np.ix_(keep, keep)])[0]
        elif self.covariance_type == "diag":
            smallest = cov[k][keep].min()
        else:
            smallest = cov[k]
        return bool(smallest <= 2.0 * self.reg_covar)

    # -- using the fit ---------------------------------------------------------
    def _gauss_params(self) -> GaussParams:
        return GaussParams(self.weights_, self.means_, self.covariances_)

    def _score_and_resp(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self, "means_")
        x = self._validated(X, reset=False)
        n = x.shape[0]
        xp, _ = pad_to_bucket(x, np.ones(n))
        # Evaluated about the fitted means' centre: no cancellation far from 0.
        shift = self.means_.mean(axis=0)
        params = self._gauss_params()._replace(means=self.means_ - shift)
        with jax.enable_x64(True):
            logp, resp = gaussian_em.score_rows(
                GaussParams(*(jnp.asarray(a) for a in params)),
                jnp.asarray(xp - shift),
                cov_type=self.covariance_type,
            )
        return np.asarray(logp)[:n], np.asarray(resp)[:n]

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Log-density of the mixture at each row of ``X``."""
        return self._score_and_resp(X)[0]

    def score(self, X: ArrayLike, y: Any = None) -> float:
        """Mean log-density per row (scikit-learn's convention)."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Posterior probability of each component for each row."""
        return self._score_and_resp(X)[1]

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Most probable component of each row."""
        return np.argmax(self.predict_proba(X), axis=1)

    def fit_predict(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> np.ndarray:
        """Fit, then label the training rows."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_samples`` rows and their component labels."""
        check_is_fitted(self, "means_")
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise DataError(f"n_samples must be a positive integer; got {n_samples!r}.")
        rng = rng_from(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        d = self.means_.shape[1]
        rows, labels = [], []
        for k, count in enumerate(counts):
            cov = self._component_cov(k)
            rows.append(rng.multivariate_normal(self.means_[k], cov, size=count, method="cholesky"))
            labels.append(np.full(count, k))
        return np.concatenate(rows).reshape(-1, d), np.concatenate(labels)

    def _component_cov(self, k: int) -> np.ndarray:
        d = self.means_.shape[1]
        cov = self.covariances_
        return {
            "full": lambda: cov[k],
            "tied": lambda: cov,
            "diag": lambda: np.diag(cov[k]),
            "spherical": lambda: cov[k] * np.eye(d),
        }[self.covariance_type]()

    def standard_errors(self, X: ArrayLike, sample_weight: ArrayLike | None = None) -> pd.DataFrame:
        """Estimates, standard errors and 95% Wald intervals of every parameter.

        Uses the observed information of the marginal log-likelihood on the
        training data ``X`` (pass the same ``X`` and ``sample_weight`` as to
        ``fit``), so that the weights, means and covariance entries all get SEs.
        The last weight's SE follows from the others (they sum to one).
        """
        import pandas as pd

        check_is_fitted(self, "means_")
        x = self._validated(X, reset=False)
        w = np.ones(x.shape[0]) if sample_weight is None else validate_weights(
            sample_weight, x.shape[0]
        )
        k, d = self.means_.shape
        shift = self.means_.mean(axis=0)  # evaluate about the means: no cancellation
        params = GaussParams(self.weights_, self.means_ - shift, self.covariances_)
        flat = gaussian_inference.flatten(params, self.covariance_type)
        xp, wp = pad_to_bucket(x - shift, w)
        with jax.enable_x64(True):
            hess = np.asarray(gaussian_inference.hessian(
                jnp.asarray(flat), jnp.asarray(xp), jnp.asarray(wp),
                k=k, d=d, cov_type=self.covariance_type,
            ))
        cov, message = invert_information(-hess) if np.all(np.isfinite(hess)) else (None, "")
        if cov is None:
            warnings.warn(
                f"the observed information is singular or not finite: no standard errors. {message}",
                HessianWarning, stacklevel=2,
            )
            cov = np.full(hess.shape, np.nan)
        names = gaussian_inference.parameter_names(k, d, self.covariance_type)
        estimate = gaussian_inference.flatten(self._gauss_params(), self.covariance_type)
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        last = np.sqrt(max(cov[: k - 1, : k - 1].sum(), 0.0)) if np.isfinite(cov).all() else np.nan
        names.insert(k - 1, f"weight[{k - 1}]")
        estimate = np.insert(estimate, k - 1, self.weights_[-1])
        se = np.insert(se, k - 1, last)
        return pd.DataFrame(
            {"estimate": estimate, "std.err": se,
             "2.5%": estimate - 1.959963984540054 * se, "97.5%": estimate + 1.959963984540054 * se},
            index=pd.Index(names, name="parameter"),
        )

    def n_parameters(self) -> int:
        """Number of free parameters of the fitted model."""
        check_is_fitted(self, "means_")
        return n_parameters(self.n_components, self.means_.shape[1], self.covariance_type)

    def bic(self, X: ArrayLike) -> float:
        """Bayesian information criterion on ``X`` (lower is better)."""
        n = np.asarray(X).shape[0]
        return -2 * self.score(X) * n + self.n_parameters() * np.log(n)

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion on ``X`` (lower is better)."""
        n = np.asarray(X).shape[0]
        return -2 * self.score(X) * n + 2 * self.n_parameters()


def _pad(params: GaussParams, k_run: int, cov_type: str) -> GaussParams:
    """Append components of weight exactly 0 (never responsible for any row)."""
    k = np.asarray(params.weights).shape[0]
    extra = k_run - k
    if extra <= 0:
        return params
    weights = np.concatenate([np.asarray(params.weights), np.zeros(extra)])
    means = np.concatenate([np.asarray(params.means), np.repeat(np.asarray(params.means)[:1], extra, 0)])
    cov = np.asarray(params.cov)
    if cov_type != "tied":
        cov = np.concatenate([cov, np.repeat(cov[:1], extra, 0)])
    return GaussParams(weights, means, cov)


def _precision_cholesky(cov: np.ndarray, cov_type: str) -> np.ndarray:
    """Upper-triangular U with precision = U U' (scikit-learn's convention)."""
    if cov_type in ("full", "tied"):
        chol = np.linalg.cholesky(cov)
        eye = np.broadcast_to(np.eye(cov.shape[-1]), cov.shape)
        return np.swapaxes(np.linalg.solve(chol, eye), -1, -2)
    return 1.0 / np.sqrt(cov)


def _precisions(prec_chol: np.ndarray, cov_type: str) -> np.ndarray:
    if cov_type in ("full", "tied"):
        return prec_chol @ np.swapaxes(prec_chol, -1, -2)
    return prec_chol**2
