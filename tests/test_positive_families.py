"""Gamma, Weibull, lognormal, exponential, Pareto, inverse Gaussian and half-normal fits.

Closed forms are checked against their textbook formulas computed here
independently (numpy, scipy, mpmath); every fit against scipy's own ``fit``;
three-parameter fits (free threshold) against scipy's free-loc fits; fixed
parameters, weights and exact scale equivariance.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
from scipy import optimize, special, stats

import thetahat
from thetahat.errors import ConvergenceWarning, DataError

#: family -> (scipy distribution, keyword arguments of its fit, sampler)
SCIPY_FITS = {
    "gamma": (stats.gamma, {"floc": 0}, lambda rng, n: rng.gamma(2.5, 1 / 1.5, n)),
    "weibull": (stats.weibull_min, {"floc": 0}, lambda rng, n: 2.0 * rng.weibull(1.8, n)),
    "lognormal": (stats.lognorm, {"floc": 0}, lambda rng, n: rng.lognormal(0.5, 0.75, n)),
    "exponential": (stats.expon, {"floc": 0}, lambda rng, n: rng.exponential(1 / 0.7, n)),
    "pareto": (stats.pareto, {"floc": 0}, lambda rng, n: 2.0 * (1.0 + rng.pareto(3.0, n))),
    "inverse_gaussian": (stats.invgauss, {"floc": 0}, lambda rng, n: rng.wald(2.0, 3.0, n)),
    "half_normal": (stats.halfnorm, {"floc": 0}, lambda rng, n: np.abs(rng.normal(0.0, 1.5, n))),
}

#: scipy's weibull_min.fit(floc=0) stops about 1e-5 short of the maximum: we
#: only require to match or beat it. The others are exact or solve the
#: likelihood equation to rounding level.
SCIPY_IS_EXACT = {"gamma", "lognormal", "exponential", "pareto", "inverse_gaussian", "half_normal"}


def _scipy_loglik(dist: object, x: np.ndarray, **kwargs: float) -> float:
    with warnings.catch_warnings():
        # scipy's optimisers may warn on the way; only its answer matters here.
        warnings.simplefilter("ignore")
        params = dist.fit(x, **kwargs)  # type: ignore[attr-defined]
        return float(np.sum(dist.logpdf(x, *params)))  # type: ignore[attr-defined]


def _loglik(res: thetahat.FitResult, x: np.ndarray, w: np.ndarray | None = None) -> float:
    terms = res.dist.to_scipy().logpdf(x)
    return float(np.sum(terms if w is None else w * terms))


# -- against scipy's fit ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCIPY_FITS))
@pytest.mark.parametrize("n", [5, 60, 2000])
@pytest.mark.parametrize("seed", [0, 1])
def test_loglik_at_least_scipy_fit(name: str, n: int, seed: int) -> None:
    dist, kwargs, draw = SCIPY_FITS[name]
    x = draw(np.random.default_rng(seed), n)
    res = thetahat.fit(x, name)
    assert res.converged and res.method == "closed form"
    ref = _scipy_loglik(dist, x, **kwargs)
    assert res.loglik >= ref - 1e-9 * abs(ref)
    np.testing.assert_allclose(res.loglik, _loglik(res, x), rtol=1e-12)
    if name in SCIPY_IS_EXACT:
        np.testing.assert_allclose(res.loglik, ref, rtol=1e-9)


def test_exponential_free_threshold_equals_scipy_expon_fit() -> None:
    x = 3.0 + np.random.default_rng(4).exponential(2.0, 500)
    res = thetahat.fit(x, "exponential", free=["loc"])
    loc, scale = stats.expon.fit(x)
    assert res.params["loc"] == x.min() == loc
    np.testing.assert_allclose(res.params["rate"], 1.0 / scale, rtol=1e-13)
    np.testing.assert_allclose(res.loglik, np.sum(stats.expon.logpdf(x, loc, scale)), rtol=1e-13)
    assert "loc" not in res.se and np.isfinite(res.se["rate"])


# -- closed forms against their textbook formulas ------------------------------


def test_gamma_closed_form_solves_the_digamma_equation() -> None:
    rng = np.random.default_rng(5)
    x = rng.gamma(0.7, 3.0, 3000)
    w = rng.integers(0, 4, x.size).astype(float)
    res = thetahat.fit(x, "gamma", weights=w)
    mean = np.sum(w * x) / w.sum()
    s = math.log(mean) - np.sum(w * np.log(x)) / w.sum()
    k = optimize.brentq(
        lambda k: math.log(k) - special.digamma(k) - s, 1e-3, 1e3, xtol=1e-300, rtol=1e-15
    )
    np.testing.assert_allclose(res.params["shape"], k, rtol=1e-10)
    np.testing.assert_allclose(res.params["rate"], k / mean, rtol=1e-10)


@pytest.mark.parametrize("log10_shape", [-2, 0, 1, 3, 6, 9])
def test_gamma_shape_accurate_over_many_decades(log10_shape: int) -> None:
    # Large shapes make log(mean) - mean(log x) tiny; the reference solves the
    # likelihood equation in 40-digit arithmetic from the same data.
    x = np.random.default_rng(6).gamma(10.0**log10_shape, 1.0, 400)
    res = thetahat.fit(x, "gamma")
    mpmath.mp.dps = 40
    xs = [mpmath.mpf(float(v)) for v in x]
    mean = mpmath.fsum(xs) / len(xs)
    s = mpmath.log(mean) - mpmath.fsum(mpmath.log(v) for v in xs) / len(xs)
    # log k - psi(k) decreases: the root is unique, so a bracket around the answer verifies it.
    k0 = res.params["shape"]
    k = mpmath.findroot(
        lambda k: mpmath.log(k) - mpmath.digamma(k) - s, (0.9 * k0, 1.1 * k0), solver="anderson"
    )
    np.testing.assert_allclose(res.params["shape"], float(k), rtol=1e-10)
    np.testing.assert_allclose(res.params["rate"], float(k / mean), rtol=1e-10)


def _weibull_reference(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Shape from the profile score equation in 40-digit arithmetic; scale from the shape."""
    mpmath.mp.dps = 40
    logs = [mpmath.log(mpmath.mpf(float(v))) for v in x]
    ws = [mpmath.mpf(float(v)) for v in w]
    n = mpmath.fsum(ws)
    mean_log = mpmath.fsum(wi * li for wi, li in zip(ws, logs)) / n

    def score(k: object) -> object:
        e = [wi * mpmath.exp(k * li) for wi, li in zip(ws, logs)]
        return 1 / k + mean_log - mpmath.fsum(ei * li for ei, li in zip(e, logs)) / mpmath.fsum(e)

    k = mpmath.findroot(score, 1.5)
    scale = (mpmath.fsum(wi * mpmath.exp(k * li) for wi, li in zip(ws, logs)) / n) ** (1 / k)
    return float(k), float(scale)


@pytest.mark.parametrize("shape", [0.4, 1.8, 25.0])
def test_weibull_profile_solves_the_score_equation_to_rounding_level(shape: float) -> None:
    rng = np.random.default_rng(7)
    x = 3.0 * rng.weibull(shape, 300)
    w = rng.integers(0, 3, x.size).astype(float)
    res = thetahat.fit(x, "weibull", weights=w)
    k, scale = _weibull_reference(x, w)
    np.testing.assert_allclose(res.params["shape"], k, rtol=1e-12)
    np.testing.assert_allclose(res.params["scale"], scale, rtol=1e-12)
    # scipy's own fit stops short of this maximum.
    ref = _scipy_loglik(stats.weibull_min, x[w > 0].repeat(w[w > 0].astype(int)), floc=0)
    assert res.loglik >= ref - 1e-12 * abs(ref)


def test_weibull_huge_values_do_not_overflow() -> None:
    # y^k overflows float64 for y ~ 1e150 and k = 5: the profile works on log(y / max y).
    x = 1e150 * np.random.default_rng(8).weibull(5.0, 200)
    res = thetahat.fit(x, "weibull")
    ref = thetahat.fit(x / 2.0**498, "weibull")
    assert res.converged
    np.testing.assert_allclose(res.params["shape"], ref.params["shape"], rtol=1e-12)
    np.testing.assert_allclose(res.params["scale"], ref.params["scale"] * 2.0**498, rtol=1e-12)


def test_lognormal_closed_form_is_mean_and_sd_of_log() -> None:
    rng = np.random.default_rng(9)
    x = rng.lognormal(-1.0, 0.3, 800)
    w = rng.integers(0, 4, x.size).astype(float)
    res = thetahat.fit(x, "lognormal", weights=w)
    mu = np.sum(w * np.log(x)) / w.sum()
    sigma = math.sqrt(np.sum(w * (np.log(x) - mu) ** 2) / w.sum())
    np.testing.assert_allclose(res.params["mu"], mu, rtol=1e-13)
    np.testing.assert_allclose(res.params["sigma"], sigma, rtol=1e-13)


def test_exponential_pareto_inverse_gaussian_half_normal_textbook_formulas() -> None:
    rng = np.random.default_rng(10)
    w = rng.integers(0, 4, 700).astype(float)
    n = w.sum()
    x = rng.exponential(0.5, 700)
    res = thetahat.fit(x, "exponential", weights=w)
    np.testing.assert_allclose(res.params["rate"], n / np.sum(w * x), rtol=1e-13)

    x = 1.5 * (1.0 + rng.pareto(2.0, 700))
    res = thetahat.fit(x, "pareto", weights=w)
    xm = x[w > 0].min()
    assert res.params["scale"] == xm and "scale" not in res.se
    np.testing.assert_allclose(res.params["shape"], n / np.sum(w * np.log(x / xm)), rtol=1e-13)

    x = rng.wald(2.0, 5.0, 700)
    res = thetahat.fit(x, "inverse_gaussian", weights=w)
    mu = np.sum(w * x) / n
    np.testing.assert_allclose(res.params["mu"], mu, rtol=1e-13)
    np.testing.assert_allclose(res.params["shape"], n / np.sum(w * (1 / x - 1 / mu)), rtol=1e-12)

    x = np.abs(rng.normal(0.0, 3.0, 700))
    res = thetahat.fit(x, "half_normal", weights=w)
    np.testing.assert_allclose(res.params["sigma"], math.sqrt(np.sum(w * x * x) / n), rtol=1e-13)


def test_inverse_gaussian_low_dispersion_keeps_its_digits() -> None:
    # lambda / mu = 1e12: mean(1/x) - 1/mean(x) cancels to 12 digits when computed naively.
    x = np.random.default_rng(11).wald(1.0, 1e12, 1000)
    res = thetahat.fit(x, "inverse_gaussian")
    mpmath.mp.dps = 50
    xs = [mpmath.mpf(float(v)) for v in x]
    mean = mpmath.fsum(xs) / len(xs)
    inv_shape = mpmath.fsum(1 / v - 1 / mean for v in xs) / len(xs)
    np.testing.assert_allclose(res.params["shape"], float(1 / inv_shape), rtol=1e-12)


# -- fixed parameters ---------------------------------------------------------------


def test_gamma_fixed_shape_or_rate() -> None:
    x = np.random.default_rng(12).gamma(3.0, 0.5, 1000)
    mean, mean_log = x.mean(), np.log(x).mean()
    res = thetahat.fit(x, "gamma", fixed={"shape": 2.0})
    assert res.method == "closed form"
    np.testing.assert_allclose(res.params["rate"], 2.0 / mean, rtol=1e-14)
    res = thetahat.fit(x, "gamma", fixed={"rate": 1.5})
    # d/dk: psi(k) = log(rate) + mean(log x)
    psi = special.digamma(res.params["shape"])
    np.testing.assert_allclose(psi, math.log(1.5) + mean_log, rtol=1e-13)
    numerical = thetahat.fit(x, "gamma", fixed={"rate": 1.5}, method="numerical")
    np.testing.assert_allclose(res.params["shape"], numerical.params["shape"], rtol=1e-8)
    np.testing.assert_allclose(res.se["shape"], numerical.se["shape"], rtol=1e-6)
    both = thetahat.fit(x, "gamma", fixed={"rate": 1.5, "shape": 2.0})
    direct = np.sum(stats.gamma.logpdf(x, 2.0, scale=1 / 1.5))
    np.testing.assert_allclose(both.loglik, direct, rtol=1e-12)


def test_weibull_fixed_shape_or_scale() -> None:
    x = 2.0 * np.random.default_rng(13).weibull(1.5, 1000)
    res = thetahat.fit(x, "weibull", fixed={"shape": 2.0})
    np.testing.assert_allclose(res.params["scale"], np.mean(x**2.0) ** 0.5, rtol=1e-13)
    res = thetahat.fit(x, "weibull", fixed={"scale": 2.5})
    assert res.converged and res.method == "closed form"
    # d/dk: N/k + sum log(x/s) - sum (x/s)^k log(x/s) = 0
    z = np.log(x / 2.5)
    k = optimize.brentq(
        lambda k: x.size / k + z.sum() - np.sum(np.exp(k * z) * z), 0.1, 20, xtol=1e-15
    )
    np.testing.assert_allclose(res.params["shape"], k, rtol=1e-12)
    numerical = thetahat.fit(x, "weibull", fixed={"scale": 2.5}, method="numerical")
    np.testing.assert_allclose(res.params["shape"], numerical.params["shape"], rtol=1e-6)
    np.testing.assert_allclose(res.se["shape"], numerical.se["shape"], rtol=1e-5)


def test_lognormal_inverse_gaussian_exponential_fixed_parameters() -> None:
    rng = np.random.default_rng(14)
    x = rng.lognormal(0.2, 0.5, 500)
    res = thetahat.fit(x, "lognormal", fixed={"mu": 0.0})
    np.testing.assert_allclose(res.params["sigma"], math.sqrt(np.mean(np.log(x) ** 2)), rtol=1e-13)
    res = thetahat.fit(x, "lognormal", fixed={"sigma": 2.0})
    np.testing.assert_allclose(res.params["mu"], np.log(x).mean(), rtol=1e-13)

    x = rng.wald(2.0, 3.0, 500)
    res = thetahat.fit(x, "inverse_gaussian", fixed={"mu": 1.0})
    np.testing.assert_allclose(res.params["shape"], 1.0 / np.mean((x - 1.0) ** 2 / x), rtol=1e-13)
    res = thetahat.fit(x, "inverse_gaussian", fixed={"shape": 10.0})
    np.testing.assert_allclose(res.params["mu"], x.mean(), rtol=1e-14)

    x = 5.0 + rng.exponential(2.0, 500)
    res = thetahat.fit(x, "exponential", fixed={"loc": 4.0})
    np.testing.assert_allclose(res.params["rate"], 1.0 / np.mean(x - 4.0), rtol=1e-13)
    res = thetahat.fit(x, "exponential", fixed={"rate": 0.3}, free=["loc"])
    assert res.params["loc"] == x.min() and res.converged
    res = thetahat.fit(x, "pareto", fixed={"shape": 2.0})
    assert res.params["scale"] == x.min() and res.converged
    res = thetahat.fit(x, "pareto", fixed={"scale": 4.0})
    np.testing.assert_allclose(res.params["shape"], x.size / np.sum(np.log(x / 4.0)), rtol=1e-13)


@pytest.mark.parametrize(
    ("name", "params"),
    [("gamma", ("shape", "rate")), ("lognormal", ("mu", "sigma")), ("weibull", ("shape", "scale"))],
)
def test_fixed_nonzero_threshold_equals_shifted_data(name: str, params: tuple[str, str]) -> None:
    x = np.random.default_rng(15).gamma(3.0, 1.0, 400)
    res = thetahat.fit(x + 7.0, name, fixed={"loc": 7.0})
    ref = thetahat.fit(x, name)
    assert res.converged
    for p in params:  # gamma and lognormal take the numerical path here
        np.testing.assert_allclose(res.params[p], ref.params[p], rtol=1e-6)
        np.testing.assert_allclose(res.se[p], ref.se[p], rtol=1e-5)


def test_pareto_rejects_zero_with_a_free_scale() -> None:
    with pytest.raises(DataError, match="outside the support"):
        thetahat.fit([0.0, 1.0, 2.0], "pareto")


# -- three-parameter fits -----------------------------------------------------------


THREE_PARAMETER = {
    "gamma": (stats.gamma, lambda rng, n: 10.0 + rng.gamma(3.0, 1.0, n)),
    "weibull": (stats.weibull_min, lambda rng, n: 10.0 + 2.0 * rng.weibull(3.0, n)),
    "lognormal": (stats.lognorm, lambda rng, n: 10.0 + rng.lognormal(1.0, 0.4, n)),
}


@pytest.mark.parametrize("name", sorted(THREE_PARAMETER))
@pytest.mark.parametrize("seed", [0, 1])
def test_free_threshold_at_least_scipy_free_fit(name: str, seed: int) -> None:
    dist, draw = THREE_PARAMETER[name]
    x = draw(np.random.default_rng(seed), 1500)
    res = thetahat.fit(x, name, free=["loc"])
    assert res.converged and res.method == "trust-region Newton"
    assert res.params["loc"] < x.min()
    assert abs(res.params["loc"] - 10.0) < 1.0
    assert all(np.isfinite(res.se[p]) for p in res.se) and set(res.se) == set(res.params)
    ref = _scipy_loglik(dist, x)
    assert res.loglik >= ref - 1e-9 * abs(ref)
    np.testing.assert_allclose(res.loglik, _loglik(res, x), rtol=1e-12)


@pytest.mark.parametrize("name", ["weibull", "gamma"])
def test_free_threshold_with_shape_below_one_is_unbounded(name: str) -> None:
    rng = np.random.default_rng(16)
    x = 10.0 + (2.0 * rng.weibull(0.7, 2000) if name == "weibull" else rng.gamma(0.6, 1.0, 2000))
    with pytest.warns(ConvergenceWarning, match="unbounded"):
        res = thetahat.fit(x, name, free=["loc"])
    assert not res.converged
    assert res.params["loc"] <= x.min()


@pytest.mark.parametrize("name", ["weibull", "gamma"])
def test_free_threshold_far_from_zero_is_not_taken_for_a_collapse(name: str) -> None:
    # Data near 1e6 with a range of ~2 (standardised by their magnitude) put
    # a regular threshold (shape 1.5) ~5e-4 below min(x): 5e-10 of the scale
    # 2^20, but a normal fraction of the range. Location equivariance holds.
    rng = np.random.default_rng(1895678265)
    y = 0.2 * (rng.weibull(1.5, 1000) if name == "weibull" else rng.gamma(1.5, 1.0, 1000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        far, near = (thetahat.fit(y + c, name, free=["loc"]) for c in (1e6, 0.0))
    assert far.converged and near.converged
    assert far.params["shape"] == pytest.approx(near.params["shape"], rel=1e-6)
    assert far.params["loc"] - 1e6 == pytest.approx(near.params["loc"], abs=1e-9)


def test_free_threshold_weights_equal_replication() -> None:
    rng = np.random.default_rng(17)
    x = 5.0 + rng.gamma(4.0, 1.0, 150)
    counts = rng.integers(1, 4, x.size)
    weighted = thetahat.fit(x, "gamma", free=["loc"], weights=counts)
    repeated = thetahat.fit(np.repeat(x, counts), "gamma", free=["loc"])
    np.testing.assert_allclose(weighted.loglik, repeated.loglik, rtol=1e-10)
    for p in ("shape", "rate", "loc"):
        np.testing.assert_allclose(weighted.params[p], repeated.params[p], rtol=1e-6)


# -- weights and equivariance ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCIPY_FITS))
def test_zero_weight_equals_deletion(name: str) -> None:
    rng = np.random.default_rng(18)
    x = SCIPY_FITS[name][2](rng, 80)
    w = np.ones(x.size)
    w[:10] = 0.0
    x[:3] = x[10:].min() / 3  # deleted rows below every used one must not move a boundary MLE
    full = thetahat.fit(x, name, weights=w)
    kept = thetahat.fit(x[10:], name)
    np.testing.assert_allclose(full.loglik, kept.loglik, rtol=1e-12)
    for p in kept.params:
        np.testing.assert_allclose(full.params[p], kept.params[p], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(SCIPY_FITS))
@pytest.mark.parametrize("power", [10, -10, 300, -300])
def test_scale_equivariance_exact(name: str, power: int) -> None:
    x = SCIPY_FITS[name][2](np.random.default_rng(19), 300)
    c = 2.0**power
    res, ref = thetahat.fit(x * c, name), thetahat.fit(x, name)
    fam = thetahat.get_family(name)
    for p in fam.params:
        got, want = res.params[p.name], ref.params[p.name]
        if p.role in ("scale", "location"):
            want = want * c
        elif p.role == "rate":
            want = want / c
        elif p.role == "log_location":
            want = want + power * math.log(2.0)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(res.loglik, ref.loglik - x.size * power * math.log(2.0), rtol=1e-12)


@pytest.mark.parametrize("name", ["gamma", "weibull"])
def test_free_threshold_scale_equivariance(name: str) -> None:
    x = THREE_PARAMETER[name][1](np.random.default_rng(20), 500)
    c = 2.0**10
    res, ref = thetahat.fit(x * c, name, free=["loc"]), thetahat.fit(x, name, free=["loc"])
    # Both fits run on the same standardised data: equal to rounding.
    np.testing.assert_allclose(res.params["loc"], ref.params["loc"] * c, rtol=1e-12)
    np.testing.assert_allclose(res.params["shape"], ref.params["shape"], rtol=1e-12)
    np.testing.assert_allclose(res.loglik, ref.loglik - x.size * 10 * math.log(2.0), rtol=1e-12)
