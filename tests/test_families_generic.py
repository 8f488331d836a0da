"""Generic tests over every registered family (the registry drives them)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import thetahat
from thetahat.families import get_family
from thetahat.families.base import Family

from conftest import sample


def _flat(value: object) -> np.ndarray:
    return np.ravel(np.asarray(value, dtype=float))


def _loglik_at(fam: Family, x: np.ndarray, params: dict) -> float:
    with jax.enable_x64(True):
        p = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
        return float(jnp.sum(fam.logpdf(jnp.asarray(x), **p)))


def _has_closed_form(fam: Family) -> bool:
    return type(fam).mle is not Family.mle or type(fam).mle_from_stats is not Family.mle_from_stats


def test_registry_has_required_families() -> None:
    required = {
        "normal", "lognormal", "exponential", "gamma", "weibull", "beta", "student_t",
        "cauchy", "laplace", "logistic", "gumbel", "pareto", "inverse_gaussian",
        "half_normal", "uniform", "von_mises", "bernoulli", "binomial", "poisson",
        "geometric", "negative_binomial", "categorical", "multivariate_normal",
    }
    assert required <= set(thetahat.families())


def test_logpdf_matches_scipy(family_name: str) -> None:
    fam = get_family(family_name)
    params = {**fam.example_params, **fam.example_fit_kwargs.get("fixed", {})}
    x = sample(family_name, 50, seed=1)
    dist = fam.scipy_dist(**params)
    ref = dist.logpmf(x) if fam.is_discrete else dist.logpdf(x)
    np.testing.assert_allclose(_loglik_at(fam, x, params), np.sum(ref), rtol=1e-10)


def test_recovers_parameters_from_large_sample(family_name: str) -> None:
    fam = get_family(family_name)
    x = sample(family_name, 20000, seed=2)
    res = thetahat.fit(x, family_name, **fam.example_fit_kwargs)
    assert res.converged
    for name, true in fam.example_params.items():
        if name in fam.irregular:  # boundary MLE, converging at rate 1/n: no SE
            spread = float(np.ptp(x)) if x.ndim == 1 else 1.0
            assert np.all(np.abs(_flat(res.params[name]) - _flat(true)) < 20 * spread / x.shape[0])
            continue
        est, se = _flat(res.params[name]), _flat(res.se[name])
        assert np.all(np.isfinite(se)) and np.all(se > 0), name
        assert np.all(np.abs(est - _flat(true)) < 5 * se + 1e-12), (name, est, true, se)


def test_fitted_loglik_not_below_truth_and_equals_sum_of_logpdf(family_name: str) -> None:
    fam = get_family(family_name)
    x = sample(family_name, 500, seed=3)
    res = thetahat.fit(x, family_name, **fam.example_fit_kwargs)
    true = {**fam.example_params, **fam.example_fit_kwargs.get("fixed", {})}
    assert res.loglik >= _loglik_at(fam, x, true) - 1e-9 * abs(res.loglik)
    np.testing.assert_allclose(res.loglik, _loglik_at(fam, x, res.params), rtol=1e-11)
    np.testing.assert_allclose(res.logpdf(x).sum(), res.loglik, rtol=1e-11)


def test_closed_form_matches_generic_optimiser(family_name: str) -> None:
    fam = get_family(family_name)
    if not _has_closed_form(fam):
        pytest.skip(f"{family_name} has no closed form: the generic path is the only path")
    x = sample(family_name, 400, seed=4)
    closed = thetahat.fit(x, family_name, **fam.example_fit_kwargs)
    assert closed.method == "closed form"  # the fast path actually ran
    if fam.irregular:
        return  # boundary MLEs (uniform ends, Pareto scale) are not interior optima
    generic = thetahat.fit(x, family_name, method="numerical", **fam.example_fit_kwargs)
    assert generic.method == "trust-region Newton" and generic.converged
    np.testing.assert_allclose(closed.loglik, generic.loglik, rtol=1e-11)
    for name in closed.se:
        np.testing.assert_allclose(_flat(closed.params[name]), _flat(generic.params[name]), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(_flat(closed.se[name]), _flat(generic.se[name]), rtol=1e-5)


def test_standard_errors_match_finite_difference_hessian(family_name: str) -> None:
    fam = get_family(family_name)
    if fam.data_ndim != 1 or any(np.ndim(v) for v in fam.example_params.values()):
        pytest.skip("finite differences here cover scalar parameters of univariate families")
    x = sample(family_name, 300, seed=5)
    res = thetahat.fit(x, family_name, **fam.example_fit_kwargs)
    names = [n for n in res.cov_names if n not in fam.irregular]
    theta = np.array([res.params[n] for n in names])

    def ll(t: np.ndarray) -> float:
        return _loglik_at(fam, x, {**res.params, **dict(zip(names, t))})

    k = len(names)
    hess = np.zeros((k, k))
    h = 1e-4 * np.maximum(np.abs(theta), 1e-2)
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
            hess[i, j] = (ll(theta + ei + ej) - ll(theta + ei - ej) - ll(theta - ei + ej) + ll(theta - ei - ej)) / (4 * h[i] * h[j])
    se_fd = np.sqrt(np.diag(np.linalg.inv(-hess)))
    se = np.array([res.se[n] for n in names])
    np.testing.assert_allclose(se, se_fd, rtol=2e-4)


def test_gradient_matches_finite_differences(family_name: str) -> None:
    fam = get_family(family_name)
    if fam.data_ndim != 1 or any(np.ndim(v) for v in fam.example_params.values()):
        pytest.skip("finite differences here cover scalar parameters of univariate families")
    x = sample(family_name, 200, seed=6)
    params = {**fam.example_params, **fam.example_fit_kwargs.get("fixed", {})}
    names = list(fam.example_params)
    theta = np.array([params[n] for n in names], dtype=float)
    with jax.enable_x64(True):
        def ll(t: jnp.ndarray) -> jnp.ndarray:
            return jnp.sum(fam.logpdf(jnp.asarray(x), **{**params, **dict(zip(names, t))}))

        grad = np.asarray(jax.grad(ll)(jnp.asarray(theta)))
    for i in range(len(names)):
        h = 1e-6 * max(abs(theta[i]), 1.0)
        e = np.eye(len(names))[i] * h
        fd = (_loglik_at(fam, x, {**params, **dict(zip(names, theta + e))}) - _loglik_at(fam, x, {**params, **dict(zip(names, theta - e))})) / (2 * h)
        np.testing.assert_allclose(grad[i], fd, rtol=1e-5, atol=1e-6 * len(x))


def test_sufficient_stats_loglik_equals_sum_of_logpdf(family_name: str) -> None:
    fam = get_family(family_name)
    if not fam.has_stats:
        pytest.skip(f"{family_name} has no sufficient-statistic likelihood")
    x = sample(family_name, 300, seed=7)
    if fam.data_ndim == 1:
        x = x.astype(float)
    w = np.random.default_rng(8).integers(0, 4, size=x.shape[0]).astype(float)
    params = {**fam.example_params, **fam.example_fit_kwargs.get("fixed", {})}
    stats = fam.sufficient_stats(x, w)
    with jax.enable_x64(True):
        p = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
        from_stats = float(fam.loglik_from_stats(tuple(jnp.asarray(s) for s in stats), **p))
        direct = float(jnp.sum(jnp.asarray(w) * fam.logpdf(jnp.asarray(x), **p)))
    np.testing.assert_allclose(from_stats, direct, rtol=1e-11)


def test_fitted_distribution_converts_to_scipy(family_name: str) -> None:
    fam = get_family(family_name)
    x = sample(family_name, 300, seed=9)
    res = thetahat.fit(x, family_name, **fam.example_fit_kwargs)
    frozen = res.dist.to_scipy()
    ref = frozen.logpmf(x) if fam.is_discrete else frozen.logpdf(x)
    np.testing.assert_allclose(res.dist.logpdf(x), ref, rtol=1e-9, atol=1e-12)
    draws = res.dist.sample(5, rng=0)
    assert np.array_equal(draws, res.dist.sample(5, rng=0))


def test_weights_equal_replication(family_name: str) -> None:
    fam = get_family(family_name)
    x = sample(family_name, 60, seed=10)
    counts = np.random.default_rng(11).integers(1, 4, size=x.shape[0])
    weighted = thetahat.fit(x, family_name, weights=counts, **fam.example_fit_kwargs)
    repeated = thetahat.fit(np.repeat(x, counts, axis=0), family_name, **fam.example_fit_kwargs)
    np.testing.assert_allclose(weighted.loglik, repeated.loglik, rtol=1e-9)
    for name in weighted.se:
        np.testing.assert_allclose(_flat(weighted.params[name]), _flat(repeated.params[name]), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(_flat(weighted.se[name]), _flat(repeated.se[name]), rtol=1e-5, atol=1e-12)
