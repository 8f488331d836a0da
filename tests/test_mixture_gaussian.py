"""GaussianMixture: the scikit-learn contract, likelihood at least scikit-learn's,
monotone EM, weights, equivariance and the degenerate cases."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.utils.estimator_checks import check_estimator

from thetahat import ConvergenceWarning, DataError, DegenerateWarning, GaussianMixture
from thetahat.datasets import load

COV_TYPES = ["full", "tied", "diag", "spherical"]


def blobs(seed: int, k: int, d: int, n: int = 400) -> np.ndarray:
    """k Gaussian clusters with random means, covariances and sizes."""
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(n, rng.dirichlet(np.full(k, 3.0)))
    parts = []
    for size in sizes:
        a = rng.normal(size=(d, d))
        cov = a @ a.T / d + 0.1 * np.eye(d)
        parts.append(rng.multivariate_normal(rng.normal(0, 4, d), cov, size=size))
    return np.concatenate(parts)


def sklearn_loglik(X: np.ndarray, **kwargs) -> float:
    return float(SkGaussianMixture(**kwargs).fit(X).score(X) * X.shape[0])


def test_check_estimator_passes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's own SkipTestWarning, collapse warnings
        results = check_estimator(GaussianMixture(), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    skipped = [r["check_name"] for r in results if r["status"] == "skipped"]
    assert failed == []
    # Only the array-API check, which needs SCIPY_ARRAY_API set, may skip.
    assert set(skipped) <= {"check_array_api_input"}
    assert len(results) > 40


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("seed", [0, 1, 2, pytest.param(3, marks=pytest.mark.slow)]
                         + [pytest.param(s, marks=pytest.mark.slow) for s in range(4, 20)])
def test_loglik_at_least_sklearn_on_generated_data(cov_type: str, seed: int) -> None:
    for k, d in [(2, 1), (3, 2), (4, 3)]:
        X = blobs(seed, k, d)
        for n_init in (1, 3):
            ours = GaussianMixture(k, covariance_type=cov_type, n_init=n_init, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DegenerateWarning)
                ours.fit(X)
            theirs = sklearn_loglik(
                X, n_components=k, covariance_type=cov_type, n_init=n_init, random_state=seed
            )
            assert ours.loglik_ >= theirs - 1e-9 * abs(theirs), (k, d, n_init)


def _reference_data() -> list[tuple[str, np.ndarray, range]]:
    faithful = load("faithful")[["eruptions", "waiting"]].to_numpy(float)
    galaxies = load("galaxies")[["dat"]].to_numpy(float)
    return [("faithful", faithful, range(1, 5)), ("galaxies", galaxies, range(1, 7))]


def _at_least_sklearn_on_reference_data(
    cov_type: str, seeds: range, n_inits: tuple[int, ...]
) -> None:
    for name, X, ks in _reference_data():
        for k in ks:
            for seed in seeds:
                for n_init in n_inits:
                    ours = GaussianMixture(
                        k, covariance_type=cov_type, n_init=n_init, random_state=seed
                    )
                    # Zero-weight padding components (exact no-ops, as in
                    # select_gaussian_mixture): one compilation for all k.
                    ours._pad_components_to = max(ks)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", DegenerateWarning)
                        ours.fit(X)
                    theirs = sklearn_loglik(
                        X, n_components=k, covariance_type=cov_type, n_init=n_init,
                        random_state=seed,
                    )
                    assert ours.loglik_ >= theirs - 1e-9 * abs(theirs), (name, k, seed, n_init)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_loglik_at_least_sklearn_on_faithful_and_galaxies(cov_type: str) -> None:
    _at_least_sklearn_on_reference_data(cov_type, range(2), (1, 5))


@pytest.mark.slow
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_loglik_at_least_sklearn_on_faithful_and_galaxies_many_seeds(cov_type: str) -> None:
    _at_least_sklearn_on_reference_data(cov_type, range(20), (1, 5))


def test_faithful_two_components_match_published_fit() -> None:
    X = load("faithful")[["eruptions", "waiting"]].to_numpy(float)
    gm = GaussianMixture(2, random_state=0).fit(X)
    order = np.argsort(gm.means_[:, 0])
    # The well-known two-cluster solution (short and long eruptions).
    np.testing.assert_allclose(gm.means_[order], [[2.04, 54.48], [4.29, 79.97]], atol=0.01)
    np.testing.assert_allclose(gm.weights_[order], [0.356, 0.644], atol=0.001)
    assert gm.loglik_ == pytest.approx(-1130.264, abs=1e-3)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_trace_never_decreases(cov_type: str) -> None:
    for seed in range(6):
        X = blobs(100 + seed, 3, 2, n=300)
        for init in ("random", "k-means++"):
            gm = GaussianMixture(3, covariance_type=cov_type, init=init, init_candidates=1,
                                 random_state=seed, tol=1e-10)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DegenerateWarning)
                gm.fit(X)
            trace = gm.loglik_trace_
            assert np.all(np.isfinite(trace))
            assert np.all(np.diff(trace) >= -1e-10 * np.abs(trace[1:])), (seed, init)
            assert trace[-1] == pytest.approx(gm.loglik_, rel=1e-12)


def test_weights_equal_repeated_rows() -> None:
    X = blobs(7, 2, 2, n=120)
    counts = np.random.default_rng(1).integers(0, 4, X.shape[0])
    means = np.array([X[0], X[-1]])
    kw = dict(init=means, tol=1e-12, max_iter=5000)
    weighted = GaussianMixture(2, **kw).fit(X, sample_weight=counts)
    repeated = GaussianMixture(2, **kw).fit(np.repeat(X, counts, axis=0))
    assert weighted.loglik_ == pytest.approx(repeated.loglik_, rel=1e-10)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-7)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-6)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_rescaling_by_a_power_of_two_is_exact(cov_type: str) -> None:
    X = blobs(3, 2, 2)
    a = GaussianMixture(2, covariance_type=cov_type, random_state=0, reg_covar=0.0).fit(X)
    b = GaussianMixture(2, covariance_type=cov_type, random_state=0, reg_covar=0.0).fit(X * 32)
    np.testing.assert_allclose(b.means_, a.means_ * 32, rtol=1e-12)
    np.testing.assert_allclose(b.covariances_, a.covariances_ * 1024, rtol=1e-12)
    assert b.loglik_ == pytest.approx(a.loglik_ - X.size * np.log(32), rel=1e-12)


def test_far_from_origin_data_loses_no_digits() -> None:
    X = blobs(4, 2, 2)
    a = GaussianMixture(2, random_state=0, reg_covar=0.0).fit(X)
    b = GaussianMixture(2, random_state=0, reg_covar=0.0).fit(X + 1e7)
    np.testing.assert_allclose(b.means_ - 1e7, a.means_, atol=1e-7)
    np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=1e-6)


def test_predictions_are_consistent() -> None:
    X = blobs(5, 3, 2)
    gm = GaussianMixture(3, random_state=0).fit(X)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(gm.predict(X), proba.argmax(axis=1))
    assert gm.score(X) * X.shape[0] == pytest.approx(gm.loglik_, rel=1e-12)
    n_params = 2 + 3 * 2 + 3 * 3
    assert gm.bic(X) == pytest.approx(-2 * gm.loglik_ + n_params * np.log(X.shape[0]))
    assert gm.aic(X) == pytest.approx(-2 * gm.loglik_ + 2 * n_params)
    sample, labels = gm.sample(500)
    assert sample.shape == (500, 2) and labels.shape == (500,)


def test_one_column_data() -> None:
    x = load("galaxies")[["dat"]].to_numpy(float)
    gm = GaussianMixture(3, random_state=0).fit(x)
    assert gm.means_.shape == (3, 1) and gm.covariances_.shape == (3, 1, 1)
    with pytest.raises(DataError, match="reshape"):
        gm.fit(x.ravel())
    with pytest.raises(DataError, match="0 sample"):
        GaussianMixture(2).fit(np.zeros((0, 1)))
    with pytest.raises(DataError, match="features"):
        gm.predict(np.zeros((4, 2)))


def test_more_components_than_distinct_points_is_an_error() -> None:
    X = np.repeat([[0.0, 1.0], [2.0, 3.0], [5.0, 5.0]], 10, axis=0)
    with pytest.raises(DataError, match="only 3 distinct row"):
        GaussianMixture(4).fit(X)


def test_duplicate_points_fit_cleanly() -> None:
    X = np.repeat(blobs(6, 2, 2, n=50), 5, axis=0)
    gm = GaussianMixture(2, random_state=0).fit(X)
    assert np.all(np.isfinite(gm.covariances_)) and gm.converged_


def test_component_on_a_single_point_is_reported() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (200, 2)), [[40.0, 40.0]]])
    with pytest.warns(DegenerateWarning, match="component . collapsed"):
        gm = GaussianMixture(2, random_state=0).fit(X)
    assert np.all(np.isfinite(gm.covariances_))


def test_constant_column_is_reported() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=100), np.full(100, 3.0)])
    with pytest.warns(DegenerateWarning, match="constant"):
        GaussianMixture(1).fit(X)


def test_empty_component_is_reported_with_finite_parameters() -> None:
    X = np.random.default_rng(0).normal(size=(100, 2))
    with pytest.warns(DegenerateWarning, match="component 1 is empty"):
        gm = GaussianMixture(2, init=np.array([[0.0, 0.0], [1e4, 1e4]])).fit(X)
    assert gm.weights_[1] == 0.0
    assert np.all(np.isfinite(gm.means_)) and np.all(np.isfinite(gm.covariances_))


def test_bad_inputs_name_the_problem() -> None:
    X = np.random.default_rng(0).normal(size=(50, 2))
    X[3, 1] = np.nan
    with pytest.raises(DataError, match=r"NaN.*1 value; the first is nan at index \(3, 1\)"):
        GaussianMixture(2).fit(X)
    good = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(DataError, match="covariance_type"):
        GaussianMixture(2, covariance_type="banded").fit(good)
    with pytest.raises(DataError, match="weights must be non-negative"):
        GaussianMixture(2).fit(good, sample_weight=-np.ones(50))
    with pytest.raises(DataError, match="init means"):
        GaussianMixture(2, init=np.zeros((3, 2))).fit(good)


def test_non_convergence_is_reported() -> None:
    X = blobs(8, 3, 2)
    # Given, poor means: the screening starts are refined by EM and may already
    # sit at an exact fixed point (it happened on a GPU), which tol = 0 accepts.
    poor = X.mean(axis=0) + np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1]])
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 iterations"):
        gm = GaussianMixture(3, max_iter=2, tol=0.0, init=poor, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 2


def test_standard_errors_agree_with_the_bootstrap_on_faithful() -> None:
    X = load("faithful")[["eruptions", "waiting"]].to_numpy(float)
    gm = GaussianMixture(2, random_state=0).fit(X)
    table = gm.standard_errors(X)
    order = np.argsort(gm.means_[:, 0])
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(100):
        counts = rng.multinomial(len(X), np.full(len(X), 1 / len(X)))
        boot = GaussianMixture(2, init=gm.means_, init_candidates=1).fit(X, sample_weight=counts)
        o = np.argsort(boot.means_[:, 0])
        draws.append(np.concatenate([boot.weights_[o], boot.means_[o].ravel()]))
    boot_sd = np.std(draws, axis=0, ddof=1)
    wald = np.concatenate([
        table["std.err"][[f"weight[{j}]" for j in order]],
        table["std.err"][[f"mean[{j}][{i}]" for j in order for i in range(2)]],
    ])
    np.testing.assert_allclose(wald, boot_sd, rtol=0.3)
    assert list(table.columns) == ["estimate", "std.err", "2.5%", "97.5%"]
    assert len(table) == 2 + 4 + 6


def test_standard_errors_cover_every_covariance_type() -> None:
    X = blobs(9, 2, 2)
    for cov_type in COV_TYPES:
        gm = GaussianMixture(2, covariance_type=cov_type, random_state=0).fit(X)
        table = gm.standard_errors(X)
        assert np.all(np.isfinite(table["std.err"])) and np.all(table["std.err"] > 0)
        assert len(table) == gm.n_parameters() + 1  # every weight is listed
