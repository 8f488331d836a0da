"""Discrete and multivariate families: closed forms against textbook formulas, edge cases."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

import thetahat
from thetahat import BoundaryWarning, DataError

RNG = np.random.default_rng(20240601)
X_BINOM = RNG.binomial(9, 0.35, size=80).astype(float)
W = RNG.integers(0, 4, size=80).astype(float)  # frequency weights, zeros included


def _weighted(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    return float(w.sum()), float(np.sum(w * x))


# -- closed forms against the textbook formulas -------------------------------


def test_bernoulli_closed_form() -> None:
    x = (X_BINOM > 3).astype(float)
    res = thetahat.fit(x, "bernoulli", weights=W)
    n, s = _weighted(x, W)
    p = s / n
    assert res.method == "closed form"
    assert res.params["p"] == pytest.approx(p, rel=1e-14)
    assert res.se["p"] == pytest.approx(math.sqrt(p * (1 - p) / n), rel=1e-10)
    assert res.loglik == pytest.approx(s * math.log(p) + (n - s) * math.log1p(-p), rel=1e-13)


def test_binomial_closed_form() -> None:
    trials = 9
    res = thetahat.fit(X_BINOM, "binomial", fixed={"n": trials}, weights=W)
    n, s = _weighted(X_BINOM, W)
    p = s / (trials * n)
    log_choose = sum(
        wi * (math.lgamma(trials + 1) - math.lgamma(xi + 1) - math.lgamma(trials - xi + 1))
        for xi, wi in zip(X_BINOM, W)
    )
    loglik = log_choose + s * math.log(p) + (trials * n - s) * math.log1p(-p)
    assert res.method == "closed form"
    assert res.params == {"n": 9.0, "p": pytest.approx(p, rel=1e-14)}
    assert res.se["p"] == pytest.approx(math.sqrt(p * (1 - p) / (trials * n)), rel=1e-10)
    assert res.loglik == pytest.approx(loglik, rel=1e-13)


def test_poisson_closed_form() -> None:
    res = thetahat.fit(X_BINOM, "poisson", weights=W)
    n, s = _weighted(X_BINOM, W)
    rate = s / n
    loglik = sum(wi * (xi * math.log(rate) - rate - math.lgamma(xi + 1)) for xi, wi in zip(X_BINOM, W))
    assert res.method == "closed form"
    assert res.params["rate"] == pytest.approx(rate, rel=1e-14)
    assert res.se["rate"] == pytest.approx(math.sqrt(rate / n), rel=1e-10)
    assert res.loglik == pytest.approx(loglik, rel=1e-13)


def test_geometric_closed_form() -> None:
    res = thetahat.fit(X_BINOM, "geometric", weights=W)
    n, s = _weighted(X_BINOM, W)
    p = n / (n + s)
    assert res.method == "closed form"
    assert res.params["p"] == pytest.approx(p, rel=1e-14)
    # Fisher information of the failures-before-success geometric: N / (p^2 (1 - p)).
    assert res.se["p"] == pytest.approx(math.sqrt(p * p * (1 - p) / n), rel=1e-10)
    assert res.loglik == pytest.approx(n * math.log(p) + s * math.log1p(-p), rel=1e-13)
    ref = stats.geom(p, loc=-1).logpmf(X_BINOM)
    assert res.loglik == pytest.approx(float(np.sum(W * ref)), rel=1e-12)


def test_categorical_closed_form() -> None:
    x = X_BINOM.copy()
    res = thetahat.fit(x, "categorical", weights=W)
    counts = np.array([W[x == j].sum() for j in range(int(x.max()) + 1)])
    assert np.all(counts > 0)
    probs = counts / counts.sum()
    assert res.method == "closed form"
    np.testing.assert_allclose(res.params["probs"], probs, rtol=1e-14)
    np.testing.assert_allclose(res.se["probs"], np.sqrt(probs * (1 - probs) / counts.sum()), rtol=1e-9)
    assert res.loglik == pytest.approx(float(np.sum(counts * np.log(probs))), rel=1e-13)


def test_closed_forms_do_not_mutate_inputs() -> None:
    x, w = X_BINOM.copy(), W.copy()
    for name in ("poisson", "geometric", "categorical"):
        thetahat.fit(x, name, weights=w)
    thetahat.fit(x, "binomial", weights=w, fixed={"n": 9})
    np.testing.assert_array_equal(x, X_BINOM)
    np.testing.assert_array_equal(w, W)


# -- boundary estimates ----------------------------------------------------------


def test_poisson_all_zero_counts_gives_rate_zero_at_boundary() -> None:
    with pytest.warns(BoundaryWarning, match="rate"):
        res = thetahat.fit(np.zeros(7), "poisson")
    assert res.params["rate"] == 0.0
    assert res.at_boundary == ("rate",)
    assert res.loglik == 0.0 and np.isfinite(res.loglik)
    assert res.converged


def test_bernoulli_all_ones_gives_p_one_at_boundary() -> None:
    with pytest.warns(BoundaryWarning, match="p"):
        res = thetahat.fit(np.ones(5), "bernoulli")
    assert res.params["p"] == 1.0
    assert res.at_boundary == ("p",)
    assert res.loglik == 0.0


def test_categorical_unseen_category_is_a_boundary_estimate() -> None:
    x = np.array([0, 0, 2, 3, 3, 3, 2, 0, 3, 3], dtype=float)  # category 1 never seen
    with pytest.warns(BoundaryWarning, match="probs"):
        res = thetahat.fit(x, "categorical")
    np.testing.assert_allclose(res.params["probs"], [0.3, 0.0, 0.2, 0.5], rtol=1e-14)
    assert res.at_boundary == ("probs",)
    assert res.loglik == pytest.approx(3 * math.log(0.3) + 2 * math.log(0.2) + 5 * math.log(0.5), rel=1e-14)


# -- bad input -------------------------------------------------------------------


def test_binomial_needs_known_trials() -> None:
    with pytest.raises(DataError, match=r"fixed=\{'n'"):
        thetahat.fit([1, 2, 3], "binomial")
    with pytest.raises(DataError, match="positive integer"):
        thetahat.fit([1, 2, 3], "binomial", fixed={"n": 4.5})


def test_binomial_count_above_trials_is_outside_support() -> None:
    with pytest.raises(DataError, match=r"integers in \[0, 4\].*1 value; the first is .*5.* at index 2"):
        thetahat.fit([1, 2, 5, 3], "binomial", fixed={"n": 4})


@pytest.mark.parametrize("name", ["poisson", "geometric", "negative_binomial", "categorical", "bernoulli"])
def test_non_integer_counts_raise(name: str) -> None:
    with pytest.raises(DataError, match=rf"{name} family: 2 values; the first is .*0\.5.* at index 1"):
        thetahat.fit([0, 0.5, 1, 1.5, 1], name)


@pytest.mark.parametrize("name", ["poisson", "geometric", "negative_binomial", "categorical", "bernoulli"])
def test_negative_counts_raise(name: str) -> None:
    with pytest.raises(DataError, match=r"1 value; the first is .*-1\.0.* at index 3"):
        thetahat.fit([0, 1, 1, -1, 0], name)


def test_categorical_refuses_absurd_codes() -> None:
    with pytest.raises(DataError, match="consecutive integers"):
        thetahat.fit([0, 1, 1e300], "categorical")


# -- negative binomial --------------------------------------------------------------


def _nbinom_sample(seed: int = 3, n: int = 400) -> np.ndarray:
    return stats.nbinom(1.7, 0.3).rvs(size=n, random_state=np.random.default_rng(seed)).astype(float)


def test_negative_binomial_beats_scipy_fit_and_solves_the_profile_score() -> None:
    x = _nbinom_sample()
    res = thetahat.fit(x, "negative_binomial")
    assert res.method == "closed form" and res.converged
    ref = stats.fit(stats.nbinom, x, bounds={"n": (0.01, 100.0), "p": (1e-6, 1 - 1e-6)})
    ref_ll = float(np.sum(stats.nbinom(ref.params.n, ref.params.p).logpmf(x)))
    assert res.loglik >= ref_ll - 1e-9 * abs(ref_ll)
    r, p, mean = res.params["r"], res.params["p"], x.mean()
    score = np.sum(special.digamma(x + r)) - x.size * special.digamma(r) + x.size * np.log(r / (r + mean))
    assert abs(score) < 1e-9 * x.size
    assert p == pytest.approx(r / (r + mean), rel=1e-14)
    assert res.loglik == pytest.approx(float(np.sum(stats.nbinom(r, p).logpmf(x))), rel=1e-12)


def test_negative_binomial_numerical_path_reaches_the_profile_optimum() -> None:
    x = _nbinom_sample(seed=4, n=150)
    w = np.random.default_rng(5).integers(0, 3, size=x.size).astype(float)
    closed = thetahat.fit(x, "negative_binomial", weights=w)
    generic = thetahat.fit(x, "negative_binomial", weights=w, method="numerical")
    assert generic.converged and generic.method == "trust-region Newton"
    assert closed.loglik == pytest.approx(generic.loglik, rel=1e-12)
    assert closed.params["r"] == pytest.approx(generic.params["r"], rel=1e-6)


def test_negative_binomial_with_fixed_r_is_closed_form() -> None:
    x = _nbinom_sample(seed=6, n=50)
    res = thetahat.fit(x, "negative_binomial", fixed={"r": 2.5})
    assert res.method == "closed form"
    assert res.params["p"] == pytest.approx(2.5 / (2.5 + x.mean()), rel=1e-14)


@pytest.mark.parametrize("x", [[3, 4, 5, 4, 3, 5], [0, 0, 0, 0], [2, 2, 2]])
def test_negative_binomial_rejects_data_that_are_not_over_dispersed(x: list[int]) -> None:
    with pytest.raises(DataError, match="not over-dispersed.*poisson"):
        thetahat.fit(x, "negative_binomial")
    with pytest.raises(DataError, match="not over-dispersed.*poisson"):
        thetahat.fit(x, "negative_binomial", method="numerical")


def test_negative_binomial_zero_weight_equals_deletion() -> None:
    x = _nbinom_sample(seed=7, n=60)
    w = np.ones(x.size)
    w[::5] = 0.0
    weighted = thetahat.fit(x, "negative_binomial", weights=w)
    deleted = thetahat.fit(x[w > 0], "negative_binomial")
    assert weighted.params["r"] == pytest.approx(deleted.params["r"], rel=1e-13)
    assert weighted.loglik == pytest.approx(deleted.loglik, rel=1e-13)


# -- multivariate normal ---------------------------------------------------------------


def _mvn_sample(n: int = 200) -> np.ndarray:
    cov = [[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]]
    return np.random.default_rng(11).multivariate_normal([1.0, -2.0, 0.5], cov, size=n)


def test_multivariate_normal_closed_form_matches_numpy_and_scipy() -> None:
    x = _mvn_sample()
    res = thetahat.fit(x, "multivariate_normal")
    assert res.method == "closed form" and res.converged
    np.testing.assert_allclose(res.params["mean"], x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(res.params["cov"], np.cov(x, rowvar=False, bias=True), rtol=1e-12)
    ref = stats.multivariate_normal(res.params["mean"], res.params["cov"]).logpdf(x).sum()
    assert res.loglik == pytest.approx(ref, rel=1e-12)
    assert res.se["mean"].shape == (3,) and res.se["cov"].shape == (3, 3)
    # Asymptotic SE of the mean: sqrt(diag(cov) / N).
    np.testing.assert_allclose(res.se["mean"], np.sqrt(np.diag(res.params["cov"]) / x.shape[0]), rtol=1e-8)


def test_multivariate_normal_weights_and_fixed_mean() -> None:
    x = _mvn_sample(60)
    w = np.random.default_rng(12).integers(0, 4, size=60).astype(float)
    res = thetahat.fit(x, "multivariate_normal", weights=w)
    mean = np.average(x, axis=0, weights=w)
    np.testing.assert_allclose(res.params["mean"], mean, rtol=1e-13)
    np.testing.assert_allclose(res.params["cov"], np.cov(x, rowvar=False, aweights=w, bias=True), rtol=1e-12)
    mu = np.zeros(3)
    fixed = thetahat.fit(x, "multivariate_normal", weights=w, fixed={"mean": mu})
    np.testing.assert_allclose(fixed.params["cov"], (w[:, None] * x).T @ x / w.sum(), rtol=1e-12)


def test_multivariate_normal_constant_column_raises() -> None:
    x = _mvn_sample(30)
    x[:, 1] = 0.1
    with pytest.raises(DataError, match="column 1 is constant"):
        thetahat.fit(x, "multivariate_normal")
    with pytest.raises(DataError, match="column 1 is constant"):
        thetahat.fit(x, "multivariate_normal", method="numerical")


def test_multivariate_normal_collinear_columns_raise() -> None:
    x = _mvn_sample(30)
    x[:, 2] = 2.0 * x[:, 0] - x[:, 1]
    with pytest.raises(DataError, match=r"singular: columns \[0, 1, 2\] are linearly dependent"):
        thetahat.fit(x, "multivariate_normal")


def test_poisson_log_mass_stays_accurate_for_huge_counts() -> None:
    # log p(x | x) = -log sqrt(2 pi x) - stirlerr(x); the naive formula cancels to noise.
    res = thetahat.fit([1e15], "poisson")
    expected = -0.5 * math.log(2 * math.pi * 1e15) - 1 / (12 * 1e15)
    assert res.loglik == pytest.approx(expected, rel=1e-13)
    poisson = thetahat.get_family("poisson")
    with jax.enable_x64(True):
        for count in (1e15, 1e100, 1e200):
            x = jnp.asarray([count])
            value = float(poisson.logpdf(x, jnp.asarray(count))[0])
            assert value == pytest.approx(-0.5 * math.log(2 * math.pi * count), rel=1e-13)
