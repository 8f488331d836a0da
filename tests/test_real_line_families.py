"""Cauchy, Laplace, logistic, Gumbel, beta, uniform and von Mises fits.

Closed forms are checked against their textbook formulas computed here
independently; every fit against scipy's own ``fit``; location-scale
families for exact equivariance.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import optimize, special, stats

import thetahat
from thetahat.errors import DataError
from thetahat.families import get_family

#: family -> (scipy distribution, keyword arguments of its fit, sampler)
SCIPY_FITS = {
    "cauchy": (stats.cauchy, {}, lambda rng, n: 0.5 + 2.0 * rng.standard_cauchy(n)),
    "laplace": (stats.laplace, {}, lambda rng, n: rng.laplace(1.0, 0.5, n)),
    "logistic": (stats.logistic, {}, lambda rng, n: rng.logistic(-1.0, 0.7, n)),
    "gumbel": (stats.gumbel_r, {}, lambda rng, n: rng.gumbel(2.0, 1.5, n)),
    "uniform": (stats.uniform, {}, lambda rng, n: rng.uniform(-1.0, 3.0, n)),
    "beta": (stats.beta, {"floc": 0, "fscale": 1}, lambda rng, n: rng.beta(2.5, 4.0, n)),
    "von_mises": (stats.vonmises, {"fscale": 1}, lambda rng, n: rng.vonmises(1.0, 2.5, n)),
}

#: scipy's cauchy.fit is a generic Nelder-Mead search: we only require to
#: match or beat it. The others solve the likelihood equations (or are exact).
SCIPY_IS_EXACT = {"laplace", "logistic", "gumbel", "uniform", "beta", "von_mises"}

LOCATION_SCALE = {
    "cauchy": ("mu", "sigma"),
    "laplace": ("mu", "scale"),
    "logistic": ("mu", "scale"),
    "gumbel": ("mu", "scale"),
    "uniform": ("low", "high"),
}


def _scipy_loglik(name: str, x: np.ndarray) -> float:
    dist, kwargs, _ = SCIPY_FITS[name]
    with warnings.catch_warnings():
        # scipy's optimisers may warn on the way; only its answer matters here.
        warnings.simplefilter("ignore")
        params = dist.fit(x, **kwargs)
    return float(np.sum(dist.logpdf(x, *params)))


# -- against scipy's fit ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCIPY_FITS))
@pytest.mark.parametrize("n", [7, 50, 1000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loglik_at_least_scipy_fit(name: str, n: int, seed: int) -> None:
    x = SCIPY_FITS[name][2](np.random.default_rng(seed), n)
    res = thetahat.fit(x, name)
    assert res.converged
    ref = _scipy_loglik(name, x)
    assert res.loglik >= ref - 1e-9 * abs(ref)
    if name in SCIPY_IS_EXACT:
        np.testing.assert_allclose(res.loglik, ref, rtol=1e-9)


def test_cauchy_fixed_scale_finds_the_global_maximum() -> None:
    # Three clusters; the median lies in the middle one, a local maximum only.
    x = np.array([-10.0, -10.01, -9.99, 0.0, 0.02, 10.0, 10.01])
    res = thetahat.fit(x, "cauchy", fixed={"sigma": 0.1})
    grid = np.linspace(-11, 11, 220001)
    profile = [np.sum(stats.cauchy.logpdf(x, m, 0.1)) for m in grid[::100]]
    coarse = grid[::100][int(np.argmax(profile))]
    fine = np.linspace(coarse - 0.02, coarse + 0.02, 4001)
    best = max(np.sum(stats.cauchy.logpdf(x, m, 0.1)) for m in fine)
    assert res.loglik >= best - 1e-9 * abs(best)
    assert abs(res.params["mu"] + 10.0) < 0.01
    scipy_mu = stats.cauchy.fit(x, fscale=0.1)[0]
    assert res.loglik > np.sum(stats.cauchy.logpdf(x, scipy_mu, 0.1)) + 1.0


def test_beta_log_beta_function_is_accurate() -> None:
    # jax.scipy.special.betaln is off by ~2e-8 relative near (8, 12.6).
    x = np.random.default_rng(1).beta(2.5, 4.0, 7)
    for a, b in ((8.148, 12.5865), (30.0, 40.0), (100.0, 3.0), (0.5, 0.7)):
        dist = thetahat.FittedDistribution(get_family("beta"), {"a": a, "b": b})
        ref = stats.beta.logpdf(x, a, b)
        np.testing.assert_allclose(dist.logpdf(x), ref, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(dist.logpdf(x).sum(), ref.sum(), rtol=0, atol=1e-12)


# -- closed forms against textbook formulas -------------------------------------


@pytest.mark.parametrize("n", [9, 10])
def test_laplace_closed_form(n: int) -> None:
    x = np.random.default_rng(n).laplace(-2.0, 3.0, n)
    res = thetahat.fit(x, "laplace")
    assert res.method == "closed form"
    median = np.median(x)  # the midpoint of the two middle values for even n
    mad = np.mean(np.abs(x - median))
    np.testing.assert_allclose(res.params["mu"], median, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(res.params["scale"], mad, rtol=1e-14)
    # d^2/db^2 of -n log b - S/b at b = S/n is -n/b^2.
    np.testing.assert_allclose(res.se["scale"], mad / np.sqrt(n), rtol=1e-12)
    assert "mu" not in res.se


def test_laplace_closed_form_with_one_parameter_fixed() -> None:
    x = np.random.default_rng(3).laplace(0.0, 1.0, 25)
    res = thetahat.fit(x, "laplace", fixed={"mu": 0.25})
    np.testing.assert_allclose(res.params["scale"], np.mean(np.abs(x - 0.25)), rtol=1e-14)
    res = thetahat.fit(x, "laplace", fixed={"scale": 2.0})
    np.testing.assert_allclose(res.params["mu"], np.median(x), rtol=1e-15)


def test_laplace_weighted_median_equals_replication() -> None:
    rng = np.random.default_rng(4)
    x = rng.laplace(5.0, 2.0, 40)
    for counts in (rng.integers(0, 5, 40), np.r_[np.ones(20), np.zeros(19), 2.0]):
        counts = counts.astype(int)
        weighted = thetahat.fit(x, "laplace", weights=counts)
        repeated = thetahat.fit(np.repeat(x, counts), "laplace")
        assert weighted.params["mu"] == repeated.params["mu"]
        np.testing.assert_allclose(weighted.params["mu"], np.median(np.repeat(x, counts)), rtol=1e-15)
        np.testing.assert_allclose(weighted.params["scale"], repeated.params["scale"], rtol=1e-14)
        np.testing.assert_allclose(weighted.loglik, repeated.loglik, rtol=1e-13)
        np.testing.assert_allclose(weighted.se["scale"], repeated.se["scale"], rtol=1e-12)


def test_laplace_even_split_of_weights_takes_the_midpoint() -> None:
    res = thetahat.fit([1.0, 2.0, 4.0, 8.0], "laplace", weights=[1.0, 2.0, 2.0, 1.0])
    assert res.params["mu"] == 3.0
    np.testing.assert_allclose(res.params["scale"], (2 + 2 + 2 + 5) / 6, rtol=1e-15)


def test_uniform_closed_form_is_min_and_max_exactly() -> None:
    x = np.random.default_rng(5).uniform(-0.3, 0.7, 101)
    res = thetahat.fit(x, "uniform")
    assert res.method == "closed form" and res.converged
    assert res.params == {"low": x.min(), "high": x.max()}
    np.testing.assert_allclose(res.loglik, -x.size * np.log(x.max() - x.min()), rtol=1e-14)
    assert np.all(np.isfinite(res.logpdf(x)))  # min and max lie inside the fitted support
    res = thetahat.fit(x, "uniform", fixed={"low": -1.0}, weights=np.r_[np.ones(100), 0.0])
    assert res.params == {"low": -1.0, "high": x[:100].max()}
    huge = x * 2.0**700  # standardised inside the fit: rescaled only, so still exact
    res = thetahat.fit(huge, "uniform")
    assert res.params == {"low": huge.min(), "high": huge.max()}
    assert np.all(np.isfinite(res.logpdf(huge)))


def test_uniform_of_identical_values_raises() -> None:
    with pytest.raises(DataError, match="spread"):
        thetahat.fit([2.0, 2.0, 2.0], "uniform")


def _vonmises_kappa(r: float) -> float:
    """Textbook MLE: A(kappa) = I1/I0 = R, solved with scipy's Bessel functions."""
    return optimize.brentq(lambda k: special.i1(k) / special.i0(k) - r, 1e-12, 100.0, xtol=1e-15, rtol=1e-15)


def test_von_mises_closed_form() -> None:
    rng = np.random.default_rng(6)
    x = rng.vonmises(-2.0, 1.5, 300)
    w = rng.integers(0, 4, 300).astype(float)
    res = thetahat.fit(x, "von_mises", weights=w)
    assert res.method == "closed form"
    c, s = np.dot(w, np.cos(x)), np.dot(w, np.sin(x))
    np.testing.assert_allclose(res.params["mu"], np.arctan2(s, c), rtol=1e-14)
    np.testing.assert_allclose(res.params["kappa"], _vonmises_kappa(np.hypot(c, s) / w.sum()), rtol=1e-12)
    mu = -1.5
    res = thetahat.fit(x, "von_mises", weights=w, fixed={"mu": mu})
    r = np.dot(w, np.cos(x - mu)) / w.sum()
    np.testing.assert_allclose(res.params["kappa"], _vonmises_kappa(r), rtol=1e-12)


@pytest.mark.parametrize("spread", [1e-1, 1e-3, 1e-6])
def test_von_mises_concentrated_kappa_to_full_precision(spread: float) -> None:
    import mpmath as mp
    x = 3.0 + spread * np.random.default_rng(7).standard_normal(200)
    x = np.where(x > np.pi, x - 2 * np.pi, x)  # wrap across the +-pi cut
    res = thetahat.fit(x, "von_mises")
    with mp.workdps(50):
        c = mp.fsum(mp.cos(mp.mpf(v)) for v in x)
        s = mp.fsum(mp.sin(mp.mpf(v)) for v in x)
        r = mp.sqrt(c * c + s * s) / len(x)
        kappa = mp.findroot(lambda k: mp.besseli(1, k) / mp.besseli(0, k) - r, res.params["kappa"])
        mu = mp.atan2(s, c)
    np.testing.assert_allclose(res.params["kappa"], float(kappa), rtol=1e-12)
    np.testing.assert_allclose(res.params["mu"], float(mu), rtol=1e-13)
    assert -np.pi < res.params["mu"] <= np.pi


# -- equivariance ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOCATION_SCALE))
def test_scale_by_power_of_two_is_exact(name: str) -> None:
    x = SCIPY_FITS[name][2](np.random.default_rng(8), 200)
    c = 2.0**5
    base, scaled = thetahat.fit(x, name), thetahat.fit(x * c, name)
    loc, scale = LOCATION_SCALE[name]
    assert scaled.params[loc] == c * base.params[loc]
    # A positive estimate passes through log and exp (the bijection) on its
    # way out, which may round its last bit differently at either scale.
    np.testing.assert_array_max_ulp(scaled.params[scale], c * base.params[scale], maxulp=2)
    np.testing.assert_allclose(scaled.loglik, base.loglik - x.size * np.log(c), rtol=1e-14)


@pytest.mark.parametrize("name", sorted(LOCATION_SCALE))
def test_shift_moves_location_only(name: str) -> None:
    x = SCIPY_FITS[name][2](np.random.default_rng(9), 200)
    base, shifted = thetahat.fit(x, name), thetahat.fit(x + 3.0, name)
    loc, scale = LOCATION_SCALE[name]
    np.testing.assert_allclose(shifted.loglik, base.loglik, rtol=1e-11)
    if name == "uniform":  # closed form: exactly the shifted min and max
        assert shifted.params == {"low": (x + 3.0).min(), "high": (x + 3.0).max()}
        return
    if name == "laplace":  # closed form: the median of the shifted data
        assert abs(shifted.params[loc] - np.median(x + 3.0)) <= 4 * np.spacing(4.0)
        np.testing.assert_allclose(shifted.params[scale], base.params[scale], rtol=1e-13)
        return
    # Numerical fits stop within ~1e-6 standard errors of the optimum.
    for p, move in ((loc, 3.0), (scale, 0.0)):
        assert abs(shifted.params[p] - base.params[p] - move) < 1e-5 * base.se[p], p


@pytest.mark.parametrize("df", [0.1, 1.0, 10.0, 1e3, 1e6, 1e12])
def test_student_t_log_density_keeps_its_digits_for_any_df(df: float) -> None:
    # lgamma((df+1)/2) - lgamma(df/2) cancels for large df (0.43 off at df = 1e12).
    import jax
    import mpmath

    fam = get_family("student_t")
    xs = np.array([0.0, 0.3, 2.5, -40.0])
    with jax.enable_x64(True):
        got = np.asarray(fam.logpdf(xs, df=df, mu=0.0, sigma=1.0))
    with mpmath.workdps(60):
        d = mpmath.mpf(df)
        const = mpmath.loggamma((d + 1) / 2) - mpmath.loggamma(d / 2) - mpmath.log(d * mpmath.pi) / 2
        want = [float(const - (d + 1) / 2 * mpmath.log1p(mpmath.mpf(x) ** 2 / d)) for x in xs]
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
