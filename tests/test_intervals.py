"""Profile-likelihood, bootstrap and derived-quantity intervals (thetahat.intervals)."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest
from scipy import optimize, stats

import thetahat
from thetahat import BoundaryWarning, ConvergenceWarning, DataError, FitError
from thetahat.intervals import bootstrap, derived_interval, profile_likelihood

CRIT = stats.chi2.ppf(0.95, 1)


@pytest.fixture(scope="module")
def gamma_fit() -> thetahat.FitResult:
    x = np.random.default_rng(11).gamma(2.0, 3.0, size=40)
    return thetahat.fit(x, "gamma")


# -- profile likelihood ---------------------------------------------------------------


def test_normal_mu_profile_matches_closed_form() -> None:
    # With sigma profiled out, 2(l_hat - l_p(mu)) = n log(1 + (xbar - mu)^2 / s^2), s^2 the MLE.
    x = np.random.default_rng(0).normal(5.0, 2.0, size=25)
    res = thetahat.fit(x, "normal")
    n, xbar, s = x.size, x.mean(), x.std()
    half = s * math.sqrt(math.expm1(CRIT / n))
    low, high = res.conf_int(method="profile")["mu"]
    assert low == pytest.approx(xbar - half, rel=1e-9)
    assert high == pytest.approx(xbar + half, rel=1e-9)


def test_normal_sigma_profile_matches_closed_form() -> None:
    # Profile over mu is attained at xbar: deviance n((s/sigma)^2 - 1 - 2 log(s/sigma)).
    x = np.random.default_rng(1).normal(0.0, 3.0, size=30)
    res = thetahat.fit(x, "normal")
    n, s = x.size, x.std()
    dev = lambda sig: n * ((s / sig) ** 2 - 1 - 2 * math.log(s / sig)) - CRIT
    expect = (optimize.brentq(dev, s / 10, s), optimize.brentq(dev, s, 10 * s))
    prof = profile_likelihood(res, "sigma")
    assert prof.low == pytest.approx(expect[0], rel=1e-9)
    assert prof.high == pytest.approx(expect[1], rel=1e-9)
    assert not (prof.is_low_open or prof.is_high_open)


def test_one_parameter_profile_is_the_likelihood() -> None:
    # Exponential rate: deviance 2n(r/r_hat - 1 - log(r/r_hat)).
    x = np.random.default_rng(2).exponential(2.0, size=20)
    res = thetahat.fit(x, "exponential")
    n, r_hat = x.size, 1 / x.mean()
    dev = lambda r: 2 * n * (r / r_hat - 1 - math.log(r / r_hat)) - CRIT
    low, high = res.conf_int(method="profile")["rate"]
    assert low == pytest.approx(optimize.brentq(dev, r_hat / 100, r_hat), rel=1e-9)
    assert high == pytest.approx(optimize.brentq(dev, r_hat, 100 * r_hat), rel=1e-9)


def test_gamma_shape_ends_solve_the_deviance_equation(gamma_fit: thetahat.FitResult) -> None:
    prof = profile_likelihood(gamma_fit, "shape", 0.9)
    x, _ = gamma_fit.data
    for end in prof.interval:
        refit = thetahat.fit(x, "gamma", fixed={"shape": end})
        assert 2 * (gamma_fit.loglik - refit.loglik) == pytest.approx(stats.chi2.ppf(0.9, 1), abs=1e-7)
    wald = gamma_fit.conf_int(0.9)["shape"]
    assert prof.low < gamma_fit.params["shape"] < prof.high
    assert prof.interval != pytest.approx(wald, rel=1e-3)  # asymmetric, unlike Wald


def test_profile_curve_is_kept_for_plotting(gamma_fit: thetahat.FitResult) -> None:
    prof = profile_likelihood(gamma_fit, "rate", grid=15)
    assert prof.values.shape == prof.loglik.shape
    assert prof.values.size >= 15
    assert np.all(np.diff(prof.values) > 0)
    assert np.all(prof.deviance >= -1e-9)
    assert prof.deviance.min() == pytest.approx(0.0, abs=1e-9)


def test_profile_runs_into_the_boundary_is_open_with_warning() -> None:
    # Barely over-dispersed counts: the negative binomial r -> inf (the Poisson)
    # is within the 95% threshold, so the upper side is open.
    x = np.random.default_rng(7).poisson(3.0, 100)
    res = thetahat.fit(x, "negative_binomial")
    with pytest.warns(BoundaryWarning, match="upper side of the 95% interval is open"):
        prof = profile_likelihood(res, "r")
    assert prof.is_high_open and prof.high == math.inf
    assert not prof.is_low_open and 0 < prof.low < res.params["r"]


def test_profile_of_a_boundary_estimate_is_one_sided() -> None:
    # All-zero counts: rate_hat = 0 and the deviance is 2 n rate, so the upper end is crit / (2n).
    with pytest.warns(BoundaryWarning, match="boundary of the parameter space"):
        res = thetahat.fit(np.zeros(20), "poisson")
    assert res.conf_int(method="profile")["rate"] == pytest.approx((0.0, CRIT / 40), rel=1e-9)
    # All successes: p_hat = 1 and the deviance is -2 n log p.
    with pytest.warns(BoundaryWarning, match="boundary of the parameter space"):
        res = thetahat.fit(np.ones(15), "bernoulli")
    assert res.conf_int(method="profile")["p"] == pytest.approx((math.exp(-CRIT / 30), 1.0), rel=1e-9)


def test_profile_refuses_irregular_map_and_vector_parameters() -> None:
    x = np.random.default_rng(3).uniform(0, 1, 30)
    with pytest.raises(DataError, match="irregular"):
        thetahat.fit(x, "uniform").conf_int(method="profile")
    X = np.random.default_rng(3).normal(size=(40, 2))
    with pytest.raises(DataError, match="scalar parameter"):
        profile_likelihood(thetahat.fit(X, "multivariate_normal"), "mean")
    res = thetahat.fit(np.random.default_rng(3).normal(size=30), "normal", prior={"mu": thetahat.Normal(0, 1)})
    with pytest.raises(DataError, match="MAP"):
        res.conf_int(method="profile")
    with pytest.raises(DataError, match="not a free parameter"):
        profile_likelihood(thetahat.fit(x + 1, "gamma"), "loc")


def test_profile_of_a_free_threshold() -> None:
    x = 5.0 + np.random.default_rng(4).gamma(3.0, 2.0, size=200)
    res = thetahat.fit(x, "gamma", free=["loc"])
    low, high = res.conf_int(method="profile")["loc"]
    assert low < res.params["loc"] < high < x.min()


def test_unknown_method_is_rejected(gamma_fit: thetahat.FitResult) -> None:
    with pytest.raises(ValueError, match="method must be"):
        gamma_fit.conf_int(method="exact")


# -- bootstrap ----------------------------------------------------------------------------


def test_bootstrap_same_seed_same_bits(gamma_fit: thetahat.FitResult) -> None:
    a = bootstrap(gamma_fit, 64, rng=5)
    b = bootstrap(gamma_fit, 64, rng=np.random.default_rng(5))
    c = bootstrap(gamma_fit, 64, rng=6)
    np.testing.assert_array_equal(a.replicates["shape"], b.replicates["shape"])
    assert not np.array_equal(a.replicates["shape"], c.replicates["shape"])


def test_bootstrap_replicates_are_fits_of_the_resamples(gamma_fit: thetahat.FitResult) -> None:
    boot = bootstrap(gamma_fit, 16, rng=9)
    x, _ = gamma_fit.data
    counts = np.random.default_rng(9).multinomial(x.size, np.full(x.size, 1 / x.size), size=16)
    for b in range(3):
        ref = thetahat.fit(x, "gamma", weights=counts[b])
        # refit_batch stops on the Newton decrement (tol 1e-12): ~1e-8 relative.
        assert boot.replicates["shape"][b] == pytest.approx(ref.params["shape"], rel=1e-6)
        assert boot.replicates["rate"][b] == pytest.approx(ref.params["rate"], rel=1e-6)


def test_bootstrap_is_batched_not_a_loop_over_fit(
    gamma_fit: thetahat.FitResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("bootstrap called fit() per replicate")

    monkeypatch.setattr(sys.modules["thetahat.fit"], "fit", no_fit)
    ci = gamma_fit.conf_int(method="bootstrap", n_boot=64, rng=0, bootstrap="parametric")
    assert ci["shape"][0] < gamma_fit.params["shape"] < ci["shape"][1]


@pytest.mark.parametrize("kind", ["percentile", "bca"])
def test_bootstrap_intervals(gamma_fit: thetahat.FitResult, kind: str) -> None:
    boot = bootstrap(gamma_fit, 400, rng=1)
    ci = boot.conf_int(0.9, kind)
    for name in ("shape", "rate"):
        low, high = ci[name]
        assert low < gamma_fit.params[name] < high
    pct = np.quantile(boot.replicates["shape"], [0.05, 0.95])
    if kind == "percentile":
        np.testing.assert_allclose(ci["shape"], pct, rtol=1e-14)
    else:
        assert ci["shape"] != pytest.approx(tuple(pct))


def test_weighted_bootstrap_resamples_units() -> None:
    x = np.array([1.2, 2.5, 3.1, 4.7, 0.8, 2.2, 5.5, 1.9])
    w = np.array([3, 1, 2, 1, 4, 2, 1, 2])
    res = thetahat.fit(x, "gamma", weights=w)
    boot = bootstrap(res, 200, rng=0)
    expanded = bootstrap(thetahat.fit(np.repeat(x, w), "gamma"), 200, rng=0)
    # Same distribution of replicates, not the same draws: compare medians loosely.
    assert np.median(boot.replicates["shape"]) == pytest.approx(
        np.median(expanded.replicates["shape"]), rel=0.15
    )


def test_bootstrap_of_a_fit_that_did_not_converge_is_refused() -> None:
    x = np.random.default_rng(0).standard_t(4, 60)
    with pytest.warns(ConvergenceWarning):
        res = thetahat.fit(x, "student_t", max_iter=2)
    assert not res.converged
    with pytest.raises(FitError, match="did not converge"):
        res.conf_int(method="bootstrap", n_boot=50, rng=0)
    with pytest.raises(FitError, match="did not converge"):
        res.conf_int(method="profile")


def test_bootstrap_bad_arguments(gamma_fit: thetahat.FitResult) -> None:
    with pytest.raises(DataError, match="n_boot"):
        bootstrap(gamma_fit, 1)
    with pytest.raises(DataError, match="bootstrap must be"):
        bootstrap(gamma_fit, 10, bootstrap="smooth")
    with pytest.raises(DataError, match="kind must be"):
        bootstrap(gamma_fit, 10, rng=0).conf_int(kind="basic")


# -- derived quantities --------------------------------------------------------------------


def _mean(p: dict) -> object:
    return p["shape"] / p["rate"]


def test_delta_method_matches_hand_gradient(gamma_fit: thetahat.FitResult) -> None:
    k, r = gamma_fit.params["shape"], gamma_fit.params["rate"]
    grad = np.array([1 / r, -k / r**2])
    order = [gamma_fit.cov_names.index(n) for n in ("shape", "rate")]
    cov = gamma_fit.cov[np.ix_(order, order)]
    d = derived_interval(gamma_fit, _mean)
    assert d.estimate == pytest.approx(k / r, rel=1e-14)
    assert d.se == pytest.approx(math.sqrt(grad @ cov @ grad), rel=1e-10)
    assert d.interval == pytest.approx((d.estimate - 1.959963984540054 * d.se, d.estimate + 1.959963984540054 * d.se))


def test_delta_method_falls_back_to_finite_differences(gamma_fit: thetahat.FitResult) -> None:
    def scipy_quantile(p: dict) -> float:
        return float(stats.gamma(float(p["shape"]), scale=1 / float(p["rate"])).ppf(0.9))

    def jax_mean_as_float(p: dict) -> float:
        return float(p["shape"]) / float(p["rate"])  # float() cannot be traced

    assert derived_interval(gamma_fit, jax_mean_as_float).se == pytest.approx(
        derived_interval(gamma_fit, _mean).se, rel=1e-6
    )
    d = derived_interval(gamma_fit, scipy_quantile)
    assert d.estimate == pytest.approx(gamma_fit.dist.ppf(0.9), rel=1e-12)
    assert 0 < d.se < d.estimate


def test_derived_profile_of_a_parameter_equals_its_profile(gamma_fit: thetahat.FitResult) -> None:
    d = derived_interval(gamma_fit, lambda p: p["shape"], method="profile")
    prof = profile_likelihood(gamma_fit, "shape")
    assert d.low == pytest.approx(prof.low, rel=1e-6)
    assert d.high == pytest.approx(prof.high, rel=1e-6)


def test_derived_profile_of_the_mean(gamma_fit: thetahat.FitResult) -> None:
    d = derived_interval(gamma_fit, _mean, method="profile")
    x, _ = gamma_fit.data
    # At each end the constrained maximum is the gamma with that mean:
    # rate = shape / c, maximised over the shape alone.
    for c in d.interval:
        best = optimize.minimize_scalar(
            lambda k, c=c: -np.sum(stats.gamma.logpdf(x, k, scale=c / k)),
            bounds=(0.1, 50), method="bounded", options={"xatol": 1e-10},
        )
        assert 2 * (gamma_fit.loglik + best.fun) == pytest.approx(CRIT, abs=1e-5)


def test_resamples_without_an_mle_are_failed_refits_not_errors() -> None:
    # Six points, a t fit on the df -> inf boundary (refit one by one): about a
    # quarter of the resamples hold two distinct values for three parameters.
    # Two exponential points: resamples of one repeated value (rate 1 / value).
    with pytest.warns(BoundaryWarning):
        t_fit = thetahat.fit(np.array([0.1, -0.5, 2.0, 0.3, -1.2, 0.8]), "student_t")
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        boot = bootstrap(t_fit, 200, rng=0)
    assert 0 < boot.n_failed < 200
    assert all(np.isfinite(v).all() and v.shape[0] == 200 - boot.n_failed
               for v in boot.replicates.values())
    exp_fit = thetahat.fit(np.array([0.5, 2.0]), "exponential")
    boot = bootstrap(exp_fit, 200, rng=0)
    assert boot.n_failed == 0
    assert set(np.round(boot.replicates["rate"], 12)) <= {0.5, 0.8, 2.0}


def test_profile_deviance_is_measured_from_the_fit_not_from_rounding_noise() -> None:
    # Poisson-like counts: the negative binomial profile of p runs out to
    # p = 1 - 1e-10, r ~ 1e10, where the log-likelihood is rounding noise up
    # to 1e-3 above the maximum; deviances are taken from the fit's maximum.
    rng = np.random.default_rng(1)
    rng.exponential(1, 5)
    rng.gamma(2, 1, 20)
    x = rng.poisson(3, 50).astype(float)
    res = thetahat.fit(x, "negative_binomial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryWarning)  # an open upper side
        prof = profile_likelihood(res, "p")
    assert prof.loglik_max == res.loglik
    near = np.abs(prof.values - res.params["p"]) < 1e-3 * res.params["p"]
    assert np.all(np.abs(prof.deviance[near]) < 1e-6)
