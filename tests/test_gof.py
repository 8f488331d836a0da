"""Goodness of fit (thetahat.gof) and generalisation (thetahat.crossval)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import thetahat
from thetahat import ConvergenceWarning, DataError, FitError
from thetahat.crossval import SmallSampleWarning, crossval
from thetahat.gof import chi2_test, edf_statistics


@pytest.fixture(scope="module")
def gamma_sample() -> np.ndarray:
    return np.random.default_rng(21).gamma(2.5, 1.5, size=80)


@pytest.fixture(scope="module")
def gamma_fit(gamma_sample: np.ndarray) -> thetahat.FitResult:
    return thetahat.fit(gamma_sample, "gamma")


def test_statistics_equal_scipy(gamma_fit: thetahat.FitResult, gamma_sample: np.ndarray) -> None:
    out = thetahat.gof(gamma_fit, n_boot=0)
    dist = gamma_fit.dist.to_scipy()
    assert out["ks"]["statistic"] == pytest.approx(stats.kstest(gamma_sample, dist.cdf).statistic, rel=1e-13)
    assert out["cvm"]["statistic"] == pytest.approx(
        stats.cramervonmises(gamma_sample, dist.cdf).statistic, rel=1e-13
    )
    known = {"a": dist.args[0], **dist.kwds}
    ad = stats.goodness_of_fit(stats.gamma, gamma_sample, known_params=known, statistic="ad", n_mc_samples=9, rng=0)
    assert out["ad"]["statistic"] == pytest.approx(ad.statistic, rel=1e-12)
    assert all(math.isnan(v["pvalue"]) for v in out.values())


def test_edf_statistics_batch_rows_equal_single_rows() -> None:
    x = np.sort(np.random.default_rng(0).normal(size=(3, 40)), axis=1)
    both = edf_statistics(x, stats.norm.logcdf(x), stats.norm.logsf(x))
    for b in range(3):
        one = edf_statistics(x[b], stats.norm.logcdf(x[b]), stats.norm.logsf(x[b]))
        for key in ("ks", "cvm", "ad"):
            assert both[key][b] == one[key]


def test_bootstrap_pvalues_are_seeded_and_sensible(gamma_fit: thetahat.FitResult, gamma_sample: np.ndarray) -> None:
    a = thetahat.gof(gamma_fit, n_boot=199, rng=3)
    b = thetahat.gof(gamma_fit, n_boot=199, rng=3)
    assert a == b
    for key in ("ks", "cvm", "ad"):
        p = a[key]["pvalue"]
        assert 1 / 200 <= p <= 1 and round(p * 200) == pytest.approx(p * 200)
        assert p > 0.05  # gamma data, gamma fit
    wrong = thetahat.gof(thetahat.fit(gamma_sample, "exponential"), n_boot=199, rng=3)
    assert all(wrong[key]["pvalue"] < 0.01 for key in ("ks", "cvm", "ad"))


def test_estimated_parameters_make_pvalues_larger_than_naive(gamma_fit: thetahat.FitResult, gamma_sample: np.ndarray) -> None:
    # With the fitted data, the naive KS p-value (CDF "known") is too large; the
    # refitting bootstrap compares against the smaller statistics of refits.
    refit = thetahat.gof(gamma_fit, n_boot=199, rng=4)
    known = thetahat.gof(gamma_fit, gamma_sample + 0.0, n_boot=199, rng=4)
    assert refit["ks"]["statistic"] == known["ks"]["statistic"]
    other = thetahat.gof(gamma_fit, gamma_sample[:60], n_boot=199, rng=4)
    assert other["ks"]["statistic"] == pytest.approx(
        stats.kstest(gamma_sample[:60], gamma_fit.dist.cdf).statistic, rel=1e-13
    )
    assert 0 < other["ks"]["pvalue"] <= 1


def test_von_mises_statistics_use_the_cdf_on_minus_pi_to_pi() -> None:
    # scipy's vonmises(kappa, loc=mu) has its CDF on [mu - pi, mu + pi]: with
    # mu = 3 it runs negative on the data and the statistics were NaN.
    from scipy import integrate, special

    rng = np.random.default_rng(11)
    rng.vonmises(0.3, 2, 40)
    x = rng.vonmises(3.0, 4, 50)
    res = thetahat.fit(x, "von_mises")
    mu, kappa = res.params["mu"], res.params["kappa"]

    def density(u: float) -> float:
        return math.exp(kappa * (math.cos(u - mu) - 1)) / (2 * math.pi * special.i0e(kappa))

    grid = np.linspace(-np.pi, np.pi, 13)
    exact = np.array([integrate.quad(density, -np.pi, t, limit=200)[0] for t in grid])
    np.testing.assert_allclose(res.dist.cdf(grid), exact, atol=1e-12)
    np.testing.assert_allclose(res.dist.ppf(exact[1:-1]), grid[1:-1], atol=1e-9)
    draws = res.dist.sample(500, rng=1)
    assert draws.min() >= -np.pi and draws.max() <= np.pi
    xs = np.sort(x)
    cdf = np.array([integrate.quad(density, -np.pi, t, limit=200)[0] for t in xs])
    n = xs.size
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    out = thetahat.gof(res, n_boot=50, rng=0)
    assert out["ks"]["statistic"] == pytest.approx(ks, abs=1e-10)
    assert all(math.isfinite(out[k]["statistic"]) for k in ("ks", "cvm", "ad"))


def test_integer_weights_equal_repeated_data() -> None:
    x = np.array([1.2, 2.5, 3.1, 4.7, 0.8, 2.2, 5.5, 1.9, 2.8, 3.3])
    w = np.array([3, 1, 2, 1, 4, 2, 1, 2, 1, 3])
    weighted = thetahat.gof(thetahat.fit(x, "gamma", weights=w), n_boot=0)
    repeated = thetahat.gof(thetahat.fit(np.repeat(x, w), "gamma"), n_boot=0)
    for key in ("ks", "cvm", "ad"):
        assert weighted[key]["statistic"] == pytest.approx(repeated[key]["statistic"], rel=1e-9)
    with pytest.raises(DataError, match="integer frequency weights"):
        thetahat.gof(thetahat.fit(x, "gamma", weights=w + 0.5))


def test_chi2_test_for_counts() -> None:
    x = np.random.default_rng(5).poisson(3.0, 250)
    res = thetahat.fit(x, "poisson")
    out = thetahat.gof(res)["chi2"]
    cells = out["cells"]
    observed = np.array([c[2] for c in cells])
    expected = np.array([c[3] for c in cells])
    assert expected.min() >= 5 and observed.sum() == x.size
    assert expected.sum() == pytest.approx(x.size, rel=1e-12)
    assert cells[-1][1] == math.inf and cells[0][0] == 0
    ref = stats.chisquare(observed, expected, ddof=1)
    assert out["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert out["pvalue"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert out["df"] == len(cells) - 2
    # Other data than the fitted: the parameter counts as known, df not reduced.
    assert chi2_test(res, x[:100], n_estimated=0)["df"] == len(chi2_test(res, x[:100])["cells"]) - 1


def test_chi2_with_too_few_cells_has_no_pvalue() -> None:
    x = np.array([0, 1, 1, 0, 1, 1, 1, 0, 1, 1] * 3, dtype=float)
    out = thetahat.gof(thetahat.fit(x, "bernoulli"))["chi2"]
    assert out["df"] == 0 and math.isnan(out["pvalue"])


def test_gof_refuses_a_fit_that_did_not_converge() -> None:
    x = np.random.default_rng(0).standard_t(4, 60)
    with pytest.warns(ConvergenceWarning):
        res = thetahat.fit(x, "student_t", max_iter=2)
    with pytest.raises(FitError, match="did not converge"):
        thetahat.gof(res, n_boot=10)


def test_gof_bad_arguments(gamma_fit: thetahat.FitResult) -> None:
    with pytest.raises(DataError, match="n_boot"):
        thetahat.gof(gamma_fit, n_boot=-1)
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(DataError, match="univariate"):
        thetahat.gof(thetahat.fit(X, "multivariate_normal"))


# -- cross-validation -------------------------------------------------------------------


def test_leave_one_out_equals_refitting_by_hand() -> None:
    x = np.random.default_rng(6).normal(1.0, 2.0, 24)
    res = thetahat.fit(x, "normal")
    cv = crossval(res, k=x.size, rng=0)
    by_hand = []
    for i in range(x.size):
        rest = np.delete(x, i)
        by_hand.append(stats.norm.logpdf(x[i], rest.mean(), rest.std()))
    assert cv.k == x.size
    assert cv.heldout_loglik == pytest.approx(np.mean(by_hand), rel=1e-8)
    assert cv.optimism > 0
    assert cv.insample_loglik == pytest.approx(res.loglik / x.size, rel=1e-14)


def test_kfold_is_seeded_and_kl_is_small_for_the_true_family() -> None:
    x = np.random.default_rng(7).gamma(2.0, 3.0, 500)
    res = thetahat.fit(x, "gamma")
    a, b = crossval(res, k=5, rng=1), crossval(res, k=5, rng=1)
    np.testing.assert_array_equal(a.pointwise, b.pointwise)
    assert abs(a.kl) < 3 * a.heldout_se + 0.02
    normal = crossval(thetahat.fit(x, "normal"), k=5, rng=1)
    assert normal.kl > a.kl + 0.05
    # The spacing estimate tracks the sample's own -mean log f(x) under the true density.
    assert a.entropy == pytest.approx(-stats.gamma(2.0, scale=3.0).logpdf(x).mean(), abs=0.03)


def test_small_sample_warning() -> None:
    x = np.random.default_rng(8).gamma(2.0, 3.0, 12)
    with pytest.warns(SmallSampleWarning, match="observations for 2 free parameters"):
        cv = crossval(thetahat.fit(x, "gamma"), k=4, rng=0)
    assert cv.k == 4
    assert issubclass(SmallSampleWarning, thetahat.ThetahatWarning)


def test_crossval_of_counts_uses_the_plugin_entropy() -> None:
    x = np.random.default_rng(9).poisson(4.0, 400)
    cv = crossval(thetahat.fit(x, "poisson"), k=5, rng=0)
    assert abs(cv.kl) < 0.03
    assert cv.entropy == pytest.approx(stats.poisson(4.0).entropy(), abs=0.05)


@pytest.mark.parametrize("name", ["pareto", "uniform"])
def test_an_infinite_statistic_has_no_pvalue(name: str) -> None:
    # The fitted support ends at an observation: Anderson-Darling is infinite
    # for the data and for every bootstrap sample; p = 1 would read as a
    # perfect fit.
    rng = np.random.default_rng(0)
    x = 1 + rng.pareto(3.0, 200) if name == "pareto" else rng.uniform(2.0, 5.0, 200)
    res = thetahat.fit(x, name)
    with pytest.warns(thetahat.BoundaryWarning, match="infinite"):
        out = thetahat.gof(res, n_boot=50, rng=0)
    assert out["ad"]["statistic"] == math.inf and math.isnan(out["ad"]["pvalue"])
    assert 0 < out["ks"]["pvalue"] <= 1 and 0 < out["cvm"]["pvalue"] <= 1
