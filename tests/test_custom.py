"""Custom likelihoods: a user's log-density gets exactly the built-in treatment.

A custom family must reproduce closed forms and the built-in families
(estimates, standard errors from the observed information, log-likelihood),
accept constraints as names, tuples and Constraint objects, and reject bad
specifications with a DataError rather than a leaked exception or a wrong fit.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import gammaln

import thetahat
from thetahat import DataError, FitError, ThetahatWarning
from thetahat.constraints import greater_than, interval, positive, real, unit_interval


def rayleigh_logpdf(x: Any, s: Any) -> Any:
    return jnp.log(x) - 2 * jnp.log(s) - x**2 / (2 * s**2)


def normal_logpdf(x: Any, m: Any, s: Any) -> Any:
    return -0.5 * jnp.log(2 * jnp.pi) - jnp.log(s) - (x - m) ** 2 / (2 * s**2)


def normal_var_logpdf(x: Any, m: Any, v: Any) -> Any:
    return -0.5 * jnp.log(2 * jnp.pi * v) - (x - m) ** 2 / (2 * v)


RAYLEIGH = thetahat.custom(rayleigh_logpdf, params={"s": "positive"}, support=(0.0, np.inf), name="rayleigh")


# -- against closed forms and built-ins ------------------------------------------
@pytest.mark.parametrize("n", [10, 200, 5000])
@pytest.mark.parametrize("seed", [0, 1])
def test_rayleigh_matches_its_closed_form(n: int, seed: int) -> None:
    x = np.random.default_rng(seed).rayleigh(2.0, size=n)
    res = thetahat.fit(x, RAYLEIGH)
    s = math.sqrt(np.mean(x**2) / 2)  # MLE; observed information 4n/s^2 at it
    loglik = float(np.sum(np.log(x)) - 2 * n * math.log(s) - n)
    assert res.converged and res.method == "trust-region Newton" and res.n_iter > 0
    assert res.params["s"] == pytest.approx(s, rel=1e-10)
    assert res.se["s"] == pytest.approx(s / (2 * math.sqrt(n)), rel=1e-8)
    assert res.loglik == pytest.approx(loglik, rel=1e-12)
    lo, hi = res.conf_int(0.95)["s"]
    assert 0 < lo < s < hi


NORMAL_SPECS = {
    "strings": {"m": "real", "s": "positive"},
    "tuples": {"m": (-np.inf, np.inf), "s": (0.0, np.inf)},
    "objects": {"m": real, "s": positive},
    "helpers": {"m": interval(-1e3, 1e3), "s": greater_than(0.0)},
}


@pytest.mark.parametrize("spec", list(NORMAL_SPECS))
def test_hand_written_normal_matches_the_built_in(spec: str) -> None:
    x = np.random.default_rng(2).normal(3.0, 2.0, 300)
    fam = thetahat.custom(normal_logpdf, params=NORMAL_SPECS[spec], name="my_normal")
    mine = thetahat.fit(x, fam)
    ref = thetahat.fit(x, "normal")
    assert mine.converged and mine.hessian_ok
    assert mine.params["m"] == pytest.approx(ref.params["mu"], rel=1e-9)
    assert mine.params["s"] == pytest.approx(ref.params["sigma"], rel=1e-9)
    assert mine.se["m"] == pytest.approx(ref.se["mu"], rel=1e-8)
    assert mine.se["s"] == pytest.approx(ref.se["sigma"], rel=1e-8)
    assert abs(mine.loglik - ref.loglik) <= 1e-9 * abs(ref.loglik)
    assert mine.n_free == 2 and mine.nobs == x.size
    assert mine.aic == pytest.approx(ref.aic, rel=1e-12)


def test_variance_parametrisation_moves_the_se_by_the_delta_method() -> None:
    # At the MLE the observed information transforms exactly: se(v) = 2 sigma se(sigma).
    x = np.random.default_rng(3).normal(-1.0, 0.5, 400)
    mine = thetahat.fit(x, thetahat.custom(normal_var_logpdf, params={"m": "real", "v": "positive"}))
    ref = thetahat.fit(x, "normal")
    sigma = ref.params["sigma"]
    assert mine.params["v"] == pytest.approx(sigma**2, rel=1e-9)
    assert mine.se["v"] == pytest.approx(2 * sigma * ref.se["sigma"], rel=1e-8)
    assert mine.se["m"] == pytest.approx(ref.se["mu"], rel=1e-8)
    assert abs(mine.loglik - ref.loglik) <= 1e-9 * abs(ref.loglik)


@pytest.mark.parametrize("spec", ["unit_interval", (0.0, 1.0), unit_interval], ids=["string", "tuple", "object"])
def test_bernoulli_probability_constraint_spellings_agree(spec: Any) -> None:
    x = (np.random.default_rng(4).random(250) < 0.3).astype(float)
    fam = thetahat.custom(lambda x, p: x * jnp.log(p) + (1 - x) * jnp.log1p(-p),
                          params={"p": spec}, discrete=True, support=(0.0, 1.0))
    res = thetahat.fit(x, fam)
    p = x.mean()
    assert res.params["p"] == pytest.approx(p, rel=1e-10)
    assert res.se["p"] == pytest.approx(math.sqrt(p * (1 - p) / x.size), rel=1e-8)


def test_custom_discrete_family_matches_the_poisson_closed_form() -> None:
    k = np.random.default_rng(5).poisson(3.0, 150).astype(float)
    fam = thetahat.custom(lambda x, lam: x * jnp.log(lam) - lam - gammaln(x + 1),
                          params={"lam": "positive"}, discrete=True, support=(0.0, np.inf))
    res = thetahat.fit(k, fam)
    assert res.params["lam"] == pytest.approx(k.mean(), rel=1e-10)
    assert res.se["lam"] == pytest.approx(math.sqrt(k.mean() / k.size), rel=1e-8)
    with pytest.raises(DataError, match=r"1 value; the first is .*2\.5.* at index 150"):
        thetahat.fit(np.r_[k, 2.5], fam)


def test_custom_fit_with_weights_equals_replication() -> None:
    x = np.random.default_rng(6).rayleigh(1.5, size=40)
    counts = np.random.default_rng(7).integers(1, 4, size=x.size)
    weighted = thetahat.fit(x, RAYLEIGH, weights=counts)
    repeated = thetahat.fit(np.repeat(x, counts), RAYLEIGH)
    assert weighted.params["s"] == pytest.approx(repeated.params["s"], rel=1e-10)
    assert weighted.se["s"] == pytest.approx(repeated.se["s"], rel=1e-8)
    assert weighted.loglik == pytest.approx(repeated.loglik, rel=1e-12)


def test_custom_fixed_parameter() -> None:
    x = np.random.default_rng(8).normal(0.0, 1.5, 200)
    fam = thetahat.custom(normal_logpdf, params={"m": "real", "s": "positive"})
    res = thetahat.fit(x, fam, fixed={"m": 0.0})
    assert res.params["m"] == 0.0
    assert res.params["s"] == pytest.approx(math.sqrt(np.mean(x**2)), rel=1e-10)
    assert list(res.se) == ["s"]


def test_custom_support_is_checked_before_fitting() -> None:
    x = np.r_[np.random.default_rng(9).rayleigh(2.0, 20), -1.0]
    with pytest.raises(DataError, match=r"1 value; the first is .*-1\.0.* at index 20"):
        thetahat.fit(x, RAYLEIGH)


# -- bad specifications ------------------------------------------------------------
@pytest.mark.parametrize(
    "spec",
    ["positve", "data_min", None, 3, [0.0, 1.0], (1.0,), (0.0, 1.0, 2.0), (0.0, "a"), ("data_min", 1.0),
     (1.0, 0.0), (0.0, 0.0), (np.nan, 1.0), (0.0, np.nan)],
    ids=repr,
)
def test_bad_constraint_spec_is_rejected(spec: Any) -> None:
    with pytest.raises(DataError, match="constraint|interval|low|high"):
        thetahat.custom(lambda x, p: x * jnp.log(p) + (1 - x) * jnp.log1p(-p), params={"p": spec})


@pytest.mark.parametrize(
    ("logpdf", "params", "match"),
    [
        (3, {"p": "real"}, "callable"),
        (lambda x, p: -(x - p) ** 2, {}, "at least one parameter"),
    ],
)
def test_bad_custom_arguments_are_rejected(logpdf: Any, params: dict[str, Any], match: str) -> None:
    with pytest.raises(DataError, match=match):
        thetahat.custom(logpdf, params=params)


def _custom_then_fit(logpdf: Any, params: dict[str, Any], **kw: Any) -> None:
    x = np.random.default_rng(10).normal(1.0, 2.0, 30)
    thetahat.fit(x, thetahat.custom(logpdf, params=params, **kw))


@pytest.mark.parametrize(
    ("logpdf", "params", "kw"),
    [
        # start for a parameter that does not exist
        (lambda x, m: -0.5 * (x - m) ** 2, {"m": "real"}, {"start": {"q": 0.3}}),
        # start outside the declared domain, or not a number
        (normal_logpdf, {"m": "real", "s": "positive"}, {"start": {"s": -1.0}}),
        (lambda x, m: -0.5 * (x - m) ** 2, {"m": "real"}, {"start": {"m": "a"}}),
        (lambda x, m: -0.5 * (x - m) ** 2, {"m": "real"}, {"start": {"m": np.nan}}),
        # declared names that the log-density does not take
        (lambda x, m: -0.5 * (x - m) ** 2, {"mu": "real"}, {}),
        # a parameter called like the data argument
        (lambda x, **k: -0.5 * (x - k["x"]) ** 2, {"x": "real"}, {}),
        # a total instead of one value per observation
        (lambda x, m: jnp.sum(-0.5 * (x - m) ** 2), {"m": "real"}, {}),
        # the wrong number of values
        (lambda x, m: -0.5 * (x[:3] - m) ** 2, {"m": "real"}, {}),
        # numpy instead of jax.numpy: cannot be differentiated
        (lambda x, m: -0.5 * (np.asarray(x) - m) ** 2, {"m": "real"}, {}),
    ],
    ids=["unknown-start", "start-outside", "start-string", "start-nan", "unknown-name", "name-x",
         "scalar-output", "wrong-length", "numpy"],
)
def test_bad_custom_likelihood_is_a_data_error_not_a_leak_or_a_wrong_fit(
    logpdf: Any, params: dict[str, Any], kw: dict[str, Any]
) -> None:
    with pytest.raises(DataError):
        _custom_then_fit(logpdf, params, **kw)


def test_log_density_not_finite_at_the_start_never_returns_a_nan_loglik() -> None:
    # log(x - m) is NaN for x < m at the default start m = 0 on data around 1.
    fam = thetahat.custom(lambda x, m: jnp.log(x - m), params={"m": "real"})
    x = np.random.default_rng(11).normal(1.0, 2.0, 30)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            res = thetahat.fit(x, fam)
        except (DataError, FitError):
            return
    assert all(issubclass(w.category, ThetahatWarning) for w in record)
    assert np.isfinite(res.loglik), "a result's loglik is finite (or the fit raises)"
