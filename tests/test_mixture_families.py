"""Mixtures of any family: recovery within the reported SEs, SEs against the
bootstrap, monotone EM, closed-form M-steps against the generic path, and the
degenerate cases."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import thetahat
from thetahat import DataError, DegenerateWarning, GaussianMixture, Mixture
from thetahat.datasets import load
from thetahat.mixture.components import CLOSED_FORMS, make_component


def two_poisson(seed: int, n: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    first = rng.uniform(size=n) < 0.6
    return np.where(first, rng.poisson(2.0, n), rng.poisson(9.0, n))


def two_gamma(seed: int, n: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    first = rng.uniform(size=n) < 0.6
    return np.where(first, rng.gamma(2.0, 1.0, n), rng.gamma(8.0, 1 / 0.6, n))


POISSON_TRUTH = {"weight": 0.6, "rate0": 2.0, "rate1": 9.0}
GAMMA_TRUTH = {"weight": 0.6, "shape0": 2.0, "rate0": 1.0, "shape1": 8.0, "rate1": 0.6}


def _ordered(res: thetahat.MixtureResult, key: str) -> list[int]:
    """Component order by the mean of each component (label switching)."""
    means = [p["shape"] / p["rate"] if key == "gamma" else p["rate"] for p in res.params]
    return list(np.argsort(means))


def _covered(res: thetahat.MixtureResult, truth: dict[str, float], key: str) -> dict[str, bool]:
    a, b = _ordered(res, key)
    hits = {"weight": abs(res.weights[a] - truth["weight"]) <= 1.96 * res.weights_se[a]}
    for j, idx in ((0, a), (1, b)):
        for name in res.se[idx]:
            est, se = res.params[idx][name], res.se[idx][name]
            hits[f"{name}{j}"] = abs(est - truth[f"{name}{j}"]) <= 1.96 * se
    return hits


def _coverage(maker, truth, family: str, seeds: range) -> dict[str, float]:
    counts: dict[str, int] = {}
    for seed in seeds:
        res = Mixture([family, family], random_state=seed).fit(maker(seed))
        assert res.converged and res.hessian_ok
        for name, hit in _covered(res, truth, family).items():
            counts[name] = counts.get(name, 0) + int(hit)
    return {name: c / len(seeds) for name, c in counts.items()}


@pytest.mark.parametrize(
    "maker, truth, family",
    [(two_poisson, POISSON_TRUTH, "poisson"), (two_gamma, GAMMA_TRUTH, "gamma")],
)
def test_recovers_generated_parameters_within_their_ses(maker, truth, family) -> None:
    coverage = _coverage(maker, truth, family, range(40))
    # 95% intervals over 40 seeds: 0.85 is 3 binomial SDs below 0.95.
    assert min(coverage.values()) >= 0.85, coverage


@pytest.mark.slow
@pytest.mark.parametrize(
    "maker, truth, family",
    [(two_poisson, POISSON_TRUTH, "poisson"), (two_gamma, GAMMA_TRUTH, "gamma")],
)
def test_coverage_is_nominal_over_many_seeds(maker, truth, family) -> None:
    coverage = _coverage(maker, truth, family, range(300))
    assert all(0.92 <= c <= 0.98 for c in coverage.values()), coverage


def _bootstrap_sd(x: np.ndarray, family: str, n_boot: int) -> tuple[thetahat.MixtureResult, dict]:
    res = Mixture([family, family], random_state=0).fit(x)
    a, b = _ordered(res, family)
    rng = np.random.default_rng(123)
    draws: dict[str, list[float]] = {}
    for _ in range(n_boot):
        counts = rng.multinomial(x.size, np.full(x.size, 1 / x.size)).astype(float)
        boot = Mixture([family, family], random_state=1, init_candidates=4).fit(x, weights=counts)
        ba, bb = _ordered(boot, family)
        draws.setdefault("weight", []).append(boot.weights[ba])
        for j, idx in ((0, ba), (1, bb)):
            for name in boot.se[idx]:
                draws.setdefault(f"{name}{j}", []).append(boot.params[idx][name])
    return res, {name: float(np.std(v, ddof=1)) for name, v in draws.items()}


@pytest.mark.parametrize("maker, family", [(two_poisson, "poisson"), (two_gamma, "gamma")])
def test_standard_errors_agree_with_the_bootstrap(maker, family) -> None:
    res, boot_sd = _bootstrap_sd(maker(2024), family, n_boot=150)
    a, b = _ordered(res, family)
    wald = {"weight": res.weights_se[a]}
    for j, idx in ((0, a), (1, b)):
        for name, se in res.se[idx].items():
            wald[f"{name}{j}"] = se
    for name, sd in boot_sd.items():
        # 150 resamples estimate an SD to about +-6%; allow 25%.
        assert wald[name] == pytest.approx(sd, rel=0.25), (name, wald[name], sd)


MIXED = [
    ["poisson", "poisson", "poisson"],
    ["exponential", "exponential"],
    ["gamma", "lognormal"],
    ["weibull", "weibull"],
    ["normal", "normal"],
    ["normal", "gamma"],
]


def _sample_for(families: list[str], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if families[0] == "poisson":
        return np.concatenate([rng.poisson(1.0, 300), rng.poisson(5.0, 200), rng.poisson(15.0, 100)])
    return np.concatenate([rng.gamma(2.0, 1.0, 300), rng.gamma(9.0, 1.0, 200)])


@pytest.mark.parametrize("families", MIXED, ids=["-".join(f) for f in MIXED])
def test_em_trace_never_decreases(families: list[str]) -> None:
    for seed in range(4):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            res = Mixture(families, init_candidates=1, random_state=seed, tol=1e-12,
                          max_iter=3000).fit(_sample_for(families, seed))
        trace = res.trace
        assert np.all(np.isfinite(trace))
        assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[1:])), (families, seed)


@pytest.mark.parametrize("families", MIXED, ids=["-".join(f) for f in MIXED])
def test_loglik_equals_the_mixture_density_summed(families: list[str]) -> None:
    x = _sample_for(families, 0)
    res = Mixture(families, random_state=0).fit(x)
    density = sum(
        res.weights[j] * np.exp(get_logpdf(fam, res.params[j], x))
        for j, fam in enumerate(res.families)
    )
    assert res.loglik == pytest.approx(np.sum(np.log(density)), rel=1e-10)
    np.testing.assert_allclose(res.logpdf(x), np.log(density), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.predict_proba(x).sum(axis=1), 1.0, rtol=1e-12)


def get_logpdf(family: str, params: dict, x: np.ndarray) -> np.ndarray:
    dist = thetahat.get_family(family).scipy_dist(**params)
    return dist.logpmf(x) if hasattr(dist, "logpmf") else dist.logpdf(x)


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_closed_form_m_steps_match_the_generic_newton_path(name: str) -> None:
    rng = np.random.default_rng(5)
    family = thetahat.get_family(name)
    x = family.scipy_dist(**family.example_params).rvs(size=500, random_state=rng).astype(float)
    w = rng.uniform(size=500)
    comp = make_component(name)
    with jax.enable_x64(True):
        start = comp.pack(family.initial_params(x, np.ones_like(x), comp.fixed))
        fast = np.asarray(comp.m_step(jnp.asarray(start), jnp.asarray(x), jnp.asarray(w)))
        slow = np.asarray(comp.m_step(jnp.asarray(start), jnp.asarray(x), jnp.asarray(w),
                                      exact=False))
    np.testing.assert_allclose(fast, slow, rtol=1e-8, atol=1e-10)


def test_normal_mixture_matches_gaussian_mixture_on_galaxies() -> None:
    x = load("galaxies")["dat"].to_numpy(float)
    res = Mixture(["normal"] * 3, random_state=0).fit(x)
    gm = GaussianMixture(3, reg_covar=0.0, random_state=0, tol=1e-10).fit(x[:, None])
    assert res.loglik == pytest.approx(gm.loglik_, abs=1e-5)


def test_weights_equal_repeated_values() -> None:
    x = two_poisson(3, n=300)
    counts = np.random.default_rng(0).integers(0, 4, x.size).astype(float)
    a = Mixture(["poisson", "poisson"], random_state=0).fit(x, weights=counts)
    b = Mixture(["poisson", "poisson"], random_state=0).fit(np.repeat(x, counts.astype(int)))
    assert a.loglik == pytest.approx(b.loglik, rel=1e-9)
    assert sorted(p["rate"] for p in a.params) == pytest.approx(
        sorted(p["rate"] for p in b.params), rel=1e-6
    )


def test_summary_lists_every_parameter() -> None:
    res = Mixture(["gamma", "lognormal"], random_state=0).fit(two_gamma(0))
    text = res.summary()
    for label in ("weight[0]", "gamma[0].shape", "lognormal[1].sigma", "loglik", "converged"):
        assert label in text
    assert res.n_free == 5 and res.bic > res.aic


def test_bad_setups_are_explained() -> None:
    with pytest.raises(DataError, match="only 2 distinct value"):
        Mixture(["poisson"] * 3).fit([1, 1, 2, 2, 2])
    with pytest.raises(DataError, match="outside the support"):
        Mixture(["gamma", "gamma"]).fit([1.0, 2.0, -3.0, 4.0])
    with pytest.raises(DataError, match="discrete and continuous"):
        Mixture(["poisson", "gamma"])
    with pytest.raises(DataError, match="known 'n'"):
        Mixture(["binomial", "binomial"])
    with pytest.raises(DataError, match="NaN"):
        Mixture(["normal", "normal"]).fit([1.0, np.nan, 3.0])


def test_binomial_components_with_known_trials() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.binomial(10, 0.2, 400), rng.binomial(10, 0.8, 600)])
    res = Mixture([("binomial", {"n": 10})] * 2, random_state=0).fit(x)
    assert sorted(p["p"] for p in res.params) == pytest.approx([0.2, 0.8], abs=0.03)


def test_a_component_collapsing_onto_one_value_is_reported() -> None:
    rng = np.random.default_rng(0)
    x = np.append(rng.normal(0, 1, 200), 50.0)
    with pytest.warns(DegenerateWarning, match="collapsed onto a single value"):
        res = Mixture(["normal", "normal"], random_state=0).fit(x)
    assert all(np.isfinite(v) for p in res.params for v in p.values())
