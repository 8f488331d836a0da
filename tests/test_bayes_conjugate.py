"""Conjugate posteriors against their textbook formulas, sequential updates, bad input.

Every expected value is computed here independently of thetahat.bayes (the
update formulas written out, predictive masses from gammaln/betaln), and
compared at 1e-12 relative.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import special, stats

import thetahat
from thetahat import BoundaryWarning, DataError
from thetahat.bayes import (
    Beta,
    Dirichlet,
    Gamma,
    HalfNormal,
    InverseGamma,
    LogNormal,
    Normal,
    NormalInverseGamma,
    NormalInverseWishart,
    Uniform,
    compare_mle,
    hpd_interval,
    parse_prior,
    posterior,
)

TOL = 1e-12
RNG = np.random.default_rng(20240606)


def close(actual: object, expected: object, tol: float = TOL) -> None:
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=tol, atol=0)


def weights(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, size=n).astype(float)


# -- Beta: Bernoulli, binomial, geometric ----------------------------------------


def test_beta_bernoulli_posterior_is_the_textbook_formula() -> None:
    x = (RNG.random(57) < 0.3).astype(float)
    w = weights(57)
    a, b = 2.5, 1.5
    post = posterior(x, "bernoulli", prior={"p": Beta(a, b)}, weights=w)
    s, n = float(np.sum(w * x)), float(np.sum(w))
    a1, b1 = a + s, b + n - s
    assert post.conjugate == Beta(a1, b1)
    close(post.mean()["p"], a1 / (a1 + b1))
    close(post.mode()["p"], (a1 - 1) / (a1 + b1 - 2))
    close(post.var()["p"], a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1)))
    close(post.dist["p"].args, (a1, b1))
    close(post.predictive.pmf([0, 1]), [b1 / (a1 + b1), a1 / (a1 + b1)])
    assert post.nobs == n


def test_beta_binomial_posterior_and_predictive() -> None:
    trials = 12
    x = RNG.binomial(trials, 0.4, size=30).astype(float)
    post = posterior(x, "binomial", prior=Beta(3, 4), fixed={"n": trials})
    s = x.sum()
    a1, b1 = 3 + s, 4 + trials * x.size - s
    assert post.conjugate == Beta(a1, b1)
    k = np.arange(trials + 1)
    # beta-binomial: C(n, k) B(k + a, n - k + b) / B(a, b)
    pmf = np.exp(
        special.gammaln(trials + 1) - special.gammaln(k + 1) - special.gammaln(trials - k + 1)
        + special.betaln(k + a1, trials - k + b1) - special.betaln(a1, b1)
    )
    close(post.predictive.pmf(k), pmf, 1e-11)


def test_beta_geometric_posterior_and_predictive() -> None:
    x = RNG.geometric(0.3, size=40).astype(float) - 1  # failures before the first success
    w = weights(40, 2)
    post = posterior(x, "geometric", prior=Beta(1.5, 2.0), weights=w)
    a1, b1 = 1.5 + w.sum(), 2.0 + np.dot(w, x)
    assert post.conjugate == Beta(a1, b1)
    k = np.arange(6)
    # beta-geometric: P(k) = B(a + 1, b + k) / B(a, b)
    close(post.predictive.pmf(k), np.exp(special.betaln(a1 + 1, b1 + k) - special.betaln(a1, b1)), 1e-11)


def test_default_beta_prior_is_uniform_and_uniform01_equals_beta11() -> None:
    x = [0, 1, 1, 0, 1]
    assert posterior(x, "bernoulli").conjugate == Beta(4, 3)
    assert posterior(x, "bernoulli", prior={"p": Uniform(0, 1)}).conjugate == Beta(4, 3)
    assert posterior(x, "bernoulli", prior=Beta(1, 1)).conjugate == Beta(4, 3)


# -- Dirichlet-categorical ----------------------------------------------------------


def test_dirichlet_categorical_posterior_and_add_alpha_smoothing() -> None:
    x = RNG.integers(0, 4, size=50).astype(float)
    w = weights(50, 3)
    counts = np.array([w[x == j].sum() for j in range(5)])
    alpha = np.array([0.5, 1.0, 2.0, 1.5, 3.0])  # five categories, the last never observed
    post = posterior(x, "categorical", prior=Dirichlet(alpha), weights=w)
    a1 = alpha + counts
    close(post.conjugate.alpha, a1)
    close(post.mean()["probs"], a1 / a1.sum())
    close(post.mode()["probs"], (a1 - 1) / (a1.sum() - a1.size))
    lo, hi = post.credible_interval(0.9)["probs"]
    close(lo, stats.beta(a1, a1.sum() - a1).ppf(0.05))
    close(hi, stats.beta(a1, a1.sum() - a1).isf(0.05))
    close(post.predictive.pmf(np.arange(5)), a1 / a1.sum())
    # Add-alpha smoothing is the posterior mean under a symmetric Dirichlet.
    for smoothing in (1.0, 0.5, 0.01):
        post = posterior(x, "categorical", prior=Dirichlet.symmetric(smoothing, 5), weights=w)
        close(post.mean()["probs"], (counts + smoothing) / (counts.sum() + 5 * smoothing))
    # Default: Laplace (add-one) over max(x) + 1 categories.
    plain = np.bincount(x.astype(int), minlength=4)
    close(posterior(x, "categorical").mean()["probs"], (plain + 1) / (plain.sum() + 4))


# -- Gamma: Poisson and exponential -------------------------------------------------


def test_gamma_poisson_posterior_and_negative_binomial_predictive() -> None:
    x = RNG.poisson(3.2, size=45).astype(float)
    w = weights(45, 4)
    post = posterior(x, "poisson", prior=Gamma(2.0, 0.5), weights=w)
    a1, b1 = 2.0 + np.dot(w, x), 0.5 + w.sum()
    assert post.conjugate == Gamma(a1, b1)
    close(post.mean()["rate"], a1 / b1)
    close(post.mode()["rate"], (a1 - 1) / b1)
    close(post.var()["rate"], a1 / b1**2)
    k = np.arange(12)
    pmf = np.exp(
        special.gammaln(k + a1) - special.gammaln(a1) - special.gammaln(k + 1)
        + a1 * np.log(b1 / (1 + b1)) - k * np.log1p(b1)
    )
    close(post.predictive.pmf(k), pmf, 1e-11)
    # Default: Jeffreys p(rate) ∝ rate^(-1/2).
    jeff = posterior(x, "poisson", weights=w)
    close(jeff.conjugate.hyperparameters()["shape"], 0.5 + np.dot(w, x))
    close(jeff.conjugate.hyperparameters()["rate"], w.sum())


def test_gamma_exponential_posterior_and_lomax_predictive() -> None:
    loc = 0.5
    x = loc + RNG.exponential(2.0, size=35)
    w = weights(35, 5)
    post = posterior(x, "exponential", prior=Gamma(3.0, 2.0), weights=w, fixed={"loc": loc})
    a1, b1 = 3.0 + w.sum(), 2.0 + np.dot(w, x - loc)
    close([post.conjugate.shape, post.conjugate.rate], [a1, b1])
    y = np.array([0.1, 1.0, 4.0])
    close(post.predictive.pdf(loc + y), a1 * b1**a1 / (b1 + y) ** (a1 + 1))
    jeff = posterior(x, "exponential", weights=w, fixed={"loc": loc})  # Jeffreys 1/rate
    close([jeff.conjugate.shape, jeff.conjugate.rate], [w.sum(), np.dot(w, x - loc)])


# -- normal --------------------------------------------------------------------------


def test_normal_mean_with_known_sigma() -> None:
    sigma, m0, s0 = 1.7, -1.0, 2.5
    x = RNG.normal(0.8, sigma, size=25)
    w = weights(25, 6)
    post = posterior(x, "normal", prior={"mu": Normal(m0, s0)}, fixed={"sigma": sigma}, weights=w)
    tau = 1 / s0**2 + w.sum() / sigma**2
    m1 = (m0 / s0**2 + np.dot(w, x) / sigma**2) / tau
    close([post.conjugate.mu, post.conjugate.sigma], [m1, 1 / math.sqrt(tau)])
    close(post.mode()["mu"], m1)
    close(post.predictive.std(), math.sqrt(1 / tau + sigma**2))
    flat = posterior(x, "normal", fixed={"sigma": sigma}, weights=w)  # flat prior
    close([flat.conjugate.mu, flat.conjugate.sigma], [np.dot(w, x) / w.sum(), sigma / math.sqrt(w.sum())])


def test_normal_sigma_with_known_mean() -> None:
    mu, a, b = 2.0, 3.0, 1.5
    x = RNG.normal(mu, 0.7, size=30)
    w = weights(30, 7)
    post = posterior(x, "normal", prior={"sigma": InverseGamma(a, b, squared=True)}, fixed={"mu": mu}, weights=w)
    a1, b1 = a + w.sum() / 2, b + np.dot(w, (x - mu) ** 2) / 2
    assert post.conjugate.squared
    close([post.conjugate.shape, post.conjugate.scale], [a1, b1])
    close(post.mode()["sigma"], math.sqrt(2 * b1 / (2 * a1 + 1)))
    close(post.mean()["sigma"], math.sqrt(b1) * math.exp(special.gammaln(a1 - 0.5) - special.gammaln(a1)))
    s = np.array([0.5, 0.7, 1.0])
    close(post.dist["sigma"].cdf(s), stats.invgamma(a1, scale=b1).cdf(s**2))
    pred = post.predictive
    close([pred.args[0], pred.kwds["loc"], pred.kwds["scale"]], [2 * a1, mu, math.sqrt(b1 / a1)])


def test_normal_inverse_gamma_posterior() -> None:
    mu0, k0, a0, b0 = 1.0, 2.0, 3.0, 4.0
    x = RNG.normal(0.3, 1.4, size=40)
    w = weights(40, 8)
    post = posterior(x, "normal", prior=NormalInverseGamma(mu0, k0, a0, b0), weights=w)
    n = w.sum()
    xbar = np.dot(w, x) / n
    ss = np.dot(w, (x - xbar) ** 2)
    kn = k0 + n
    mn = (k0 * mu0 + n * xbar) / kn
    an = a0 + n / 2
    bn = b0 + ss / 2 + k0 * n * (xbar - mu0) ** 2 / (2 * kn)
    close(list(post.conjugate.hyperparameters().values()), [mn, kn, an, bn])
    close(post.mode()["mu"], mn)
    close(post.mode()["sigma"], math.sqrt(bn / (an + 1)))
    t = post.dist["mu"]
    close([t.args[0], t.kwds["loc"], t.kwds["scale"]], [2 * an, mn, math.sqrt(bn / (an * kn))])
    pred = post.predictive
    close([pred.args[0], pred.kwds["loc"], pred.kwds["scale"]], [2 * an, mn, math.sqrt(bn * (kn + 1) / (an * kn))])


def test_normal_jeffreys_default_gives_the_classical_t_and_chi_square() -> None:
    x = RNG.normal(5.0, 2.0, size=12)
    n, xbar = x.size, x.mean()
    ss = np.sum((x - xbar) ** 2)
    post = posterior(x, "normal")
    t = post.dist["mu"]  # (mu - xbar) / (s / sqrt(n)) ~ t_{n-1}
    close([t.args[0], t.kwds["loc"], t.kwds["scale"]], [n - 1, xbar, math.sqrt(ss / (n - 1) / n)])
    s = np.array([1.0, 2.0, 3.5])  # SS / sigma^2 ~ chi^2_{n-1}
    close(post.dist["sigma"].cdf(s), stats.chi2(n - 1).sf(ss / s**2), 1e-11)


def test_normal_inverse_wishart_posterior() -> None:
    d = 3
    cov = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])
    X = RNG.multivariate_normal([1.0, -2.0, 0.5], cov, size=60)
    w = weights(60, 9)
    mu0, k0, nu0, psi0 = np.array([0.0, 0.0, 1.0]), 1.5, 6.0, np.eye(d) * 2.0
    post = posterior(X, "multivariate_normal", prior=NormalInverseWishart(mu0, k0, nu0, psi0), weights=w)
    n = w.sum()
    xbar = w @ X / n
    scatter = (X - xbar).T @ ((X - xbar) * w[:, None])
    kn, nun = k0 + n, nu0 + n
    mn = (k0 * mu0 + n * xbar) / kn
    psin = psi0 + scatter + k0 * n / kn * np.outer(xbar - mu0, xbar - mu0)
    c = post.conjugate
    close(c.mu0, mn)
    close([c.kappa0, c.nu0], [kn, nun])
    close(c.psi0, psin)
    close(post.mean()["cov"], psin / (nun - d - 1))
    close(post.mode()["cov"], psin / (nun + d + 2))
    dfn = nun - d + 1
    pred = post.predictive
    close(pred.shape, psin * (kn + 1) / (kn * dfn))
    assert pred.df == dfn
    lo, hi = post.credible_interval(0.95)["cov"]
    close(np.diag(lo), stats.invgamma((nun - d + 1) / 2, scale=np.diag(psin) / 2).ppf(0.025))
    assert np.isnan(lo[0, 1]) and np.isnan(hi[1, 2])  # off-diagonal marginals: no closed form


def test_one_dimensional_niw_equals_nig() -> None:
    x = RNG.normal(1.0, 2.0, size=20)
    nig = posterior(x, "normal", prior=NormalInverseGamma(0.5, 2.0, 3.0, 1.5))
    niw = posterior(x[:, None], "multivariate_normal", prior=NormalInverseWishart([0.5], 2.0, 6.0, [[3.0]]))
    h = nig.conjugate
    close([niw.conjugate.mu0[0], niw.conjugate.kappa0, niw.conjugate.nu0 / 2, niw.conjugate.psi0[0][0] / 2],
          [h.mu0, h.kappa0, h.alpha0, h.beta0])
    close(niw.credible_interval()["mean"][0], nig.credible_interval()["mu"][0])


# -- sequential learning ------------------------------------------------------------


def _max_rel_diff(a: dict, b: dict) -> float:
    worst = 0.0
    for k, v in a.items():
        x, y = np.asarray(v, float), np.asarray(b[k], float)
        worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-300))))
    return worst


SEQUENTIAL_CASES = [
    ("bernoulli", lambda r, n: (r.random(n) < 0.2).astype(float), {"prior": Beta(2, 3)}),
    ("categorical", lambda r, n: r.integers(0, 5, n).astype(float), {"prior": Dirichlet.symmetric(0.5, 5)}),
    ("poisson", lambda r, n: r.poisson(4.0, n).astype(float), {}),
    ("exponential", lambda r, n: r.exponential(3.0, n), {"prior": Gamma(2, 1)}),
    ("normal", lambda r, n: r.normal(1e3, 0.1, n), {}),
    ("normal", lambda r, n: r.normal(3.0, 2.0, n), {"prior": Normal(0, 10), "fixed": {"sigma": 2.0}}),
    ("normal", lambda r, n: r.normal(3.0, 2.0, n), {"prior": {"sigma": InverseGamma(1, 1, squared=True)}, "fixed": {"mu": 3.0}}),
    ("multivariate_normal", lambda r, n: r.normal(size=(n, 2)) @ [[1.0, 0.5], [0.0, 2.0]], {}),
]


@pytest.mark.parametrize("family, draw, kwargs", SEQUENTIAL_CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_100_sequential_updates_equal_one_batch(family: str, draw: object, kwargs: dict) -> None:
    rng = np.random.default_rng(11)
    # The first batch is large enough for the improper default priors to give a proper posterior.
    batches = [draw(rng, 10 if i == 0 else int(rng.integers(1, 9))) for i in range(100)]  # type: ignore[operator]
    wts = [rng.integers(0, 3, size=b.shape[0]).astype(float) + 0.5 for b in batches]
    post = posterior(batches[0], family, weights=wts[0], **kwargs)
    for b, w in zip(batches[1:], wts[1:]):
        post = post.update(b, weights=w)
    whole = posterior(np.concatenate(batches), family, weights=np.concatenate(wts), **kwargs)
    assert post.nobs == pytest.approx(whole.nobs, rel=1e-15)
    hyper = {k: v for k, v in post.conjugate.hyperparameters().items() if k != "squared"}
    ref = {k: v for k, v in whole.conjugate.hyperparameters().items() if k != "squared"}
    assert _max_rel_diff(hyper, ref) < TOL
    assert _max_rel_diff(post.mean(), whole.mean()) < TOL


def test_update_equals_the_posterior_used_as_the_next_prior() -> None:
    x1, x2 = RNG.poisson(2.0, 20), RNG.poisson(2.0, 15)
    post = posterior(x1, "poisson", prior=Gamma(1, 1))
    assert post.update(x2).conjugate == posterior(x2, "poisson", prior=post.conjugate).conjugate
    assert post.conjugate == posterior(x1, "poisson", prior=Gamma(1, 1)).conjugate  # unchanged


# -- zero collisions in m flights ---------------------------------------------------


def test_zero_collisions_mle_on_boundary_posterior_inside() -> None:
    m = 50
    x = np.zeros(m)
    with pytest.warns(BoundaryWarning, match="boundary"):
        res = thetahat.fit(x, "bernoulli")
    assert res.params["p"] == 0.0 and res.at_boundary == ("p",)

    table = compare_mle(x, "bernoulli")  # no warning escapes: filterwarnings = error
    row = table.row("p")
    assert table.at_boundary == ("p",) and row.mle == 0.0 and row.mle_on_boundary
    assert "boundary" in str(table) and "0*" in str(table)
    close(row.mean, 1 / (m + 2))  # Laplace's rule of succession under Beta(1, 1)
    assert row.mean > 0 and row.high > 0

    post = posterior(x, "bernoulli")
    lo, hi = post.credible_interval(0.95, kind="hpd")["p"]
    assert lo == 0.0
    close(hi, 1 - 0.05 ** (1 / (m + 1)))  # HPD of Beta(1, m + 1): [0, 1 - 0.05^(1/(m+1))]

    informed = compare_mle(x, "bernoulli", prior=Beta(2, 20)).row("p")
    close(informed.map, 1 / (m + 20))  # (a - 1) / (a + b - 2) with a = 2, b = 20 + m
    assert informed.map > 0 and informed.mean > informed.map > informed.mle == 0.0
    assert 0 < informed.low < informed.map < informed.high


def test_comparison_with_no_mle_reports_why() -> None:
    table = compare_mle([2.5], "normal", prior=NormalInverseGamma(0, 1, 2, 2))
    assert table.mle is None and "no MLE" in table.note
    assert math.isnan(table.row("sigma").mle) and table.row("sigma").map > 0
    json.dumps(table.to_dict())


def test_comparison_of_unseen_category_marks_it_on_the_boundary() -> None:
    table = compare_mle([0, 1, 1, 2, 0, 0], "categorical", prior=Dirichlet.symmetric(1.0, 4))
    assert table.row("probs[3]").mle == 0.0 and table.row("probs[3]").mle_on_boundary
    assert not table.row("probs[0]").mle_on_boundary
    close(table.row("probs[3]").mean, 1 / 10)


# -- credible intervals ---------------------------------------------------------------


def test_hpd_interval_is_the_shortest_and_has_equal_density_ends() -> None:
    post = posterior([0, 1, 0, 2, 1, 0], "poisson", prior=Gamma(1.5, 1.0))
    lo, hi = post.credible_interval(0.9, kind="hpd")["rate"]
    d = post.dist["rate"]
    close(d.cdf(hi) - d.cdf(lo), 0.9)
    close(d.pdf(lo), d.pdf(hi), 1e-9)
    elo, ehi = post.credible_interval(0.9)["rate"]
    assert hi - lo < ehi - elo
    q = np.linspace(0, 0.1, 20001)[1:-1]  # brute force over the quantile function
    assert hi - lo <= np.min(d.ppf(q + 0.9) - d.ppf(q)) + 1e-12


def test_hpd_of_symmetric_marginal_is_equal_tailed() -> None:
    post = posterior(RNG.normal(size=10), "normal")
    close(post.credible_interval(kind="hpd")["mu"], post.credible_interval()["mu"], 1e-10)


def test_hpd_of_u_shaped_density_is_an_error() -> None:
    with pytest.raises(DataError, match="not unimodal"):
        hpd_interval(stats.beta(0.5, 0.5), 0.9, "'p'")


@pytest.mark.parametrize("level, kind", [(1.0, "equal"), (0.0, "hpd"), (0.9, "central")])
def test_bad_interval_arguments(level: float, kind: str) -> None:
    with pytest.raises(DataError, match="level|kind"):
        posterior([1, 0], "bernoulli").credible_interval(level, kind)


# -- priors --------------------------------------------------------------------------


def _x64_logpdf(prior: object, value: object) -> np.ndarray:
    import jax

    with jax.enable_x64(True):
        return np.asarray(prior.logpdf(value))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "prior, points",
    [
        (Beta(2.5, 0.7), [0.01, 0.3, 0.999]),
        (Gamma(2.0, 3.0), [0.01, 1.0, 7.5]),
        (Normal(-1.0, 2.0), [-5.0, 0.0, 3.0]),
        (InverseGamma(3.0, 2.0), [0.1, 1.0, 9.0]),
        (HalfNormal(1.5), [0.0, 1.0, 4.0]),
        (LogNormal(0.5, 0.8), [0.2, 1.0, 6.0]),
        (Uniform(-1.0, 3.0), [-0.5, 0.0, 2.9]),
    ],
)
def test_prior_logpdf_matches_scipy(prior: object, points: list) -> None:
    close(_x64_logpdf(prior, np.array(points)), prior.to_scipy().logpdf(points), 1e-13)  # type: ignore[attr-defined]


def test_priors_are_minus_infinity_outside_their_support() -> None:
    for prior, outside in [(Beta(2, 2), 1.5), (Gamma(2, 1), -1.0), (HalfNormal(1), -0.1), (Uniform(0, 1), 2.0),
                           (InverseGamma(2, 1, squared=True), -1.0), (LogNormal(0, 1), 0.0)]:
        assert _x64_logpdf(prior, outside) == -np.inf


def test_joint_and_vector_prior_logpdfs_match_scipy() -> None:
    d = Dirichlet((0.5, 2.0, 3.0))
    v = np.array([0.2, 0.3, 0.5])
    close(_x64_logpdf(d, v), stats.dirichlet(np.array(d.alpha)).logpdf(v), 1e-13)
    sq = InverseGamma(3.0, 2.0, squared=True)
    close(_x64_logpdf(sq, 1.3), stats.invgamma(3.0, scale=2.0).logpdf(1.3**2) + math.log(2 * 1.3), 1e-13)
    nig = NormalInverseGamma(1.0, 2.0, 3.0, 4.0)  # density over (mu, sigma) = over (mu, sigma^2) * 2 sigma
    close(_x64_logpdf(nig, [0.5, 1.2]), nig.to_scipy().logpdf(0.5, 1.44) + math.log(2 * 1.2), 1e-13)
    psi = np.array([[2.0, 0.3], [0.3, 1.0]])
    niw = NormalInverseWishart([0.5, -1.0], 2.0, 5.0, psi)
    mean, cov = np.array([0.2, -0.5]), np.array([[1.1, 0.2], [0.2, 0.7]])
    expected = stats.multivariate_normal([0.5, -1.0], cov / 2.0).logpdf(mean) + stats.invwishart(5.0, psi).logpdf(cov)
    close(_x64_logpdf(niw, (mean, cov)), expected, 1e-13)


def test_priors_are_immutable_hashable_and_compare_by_value() -> None:
    assert Beta(1, 1) == Beta(1.0, 1.0) and hash(Beta(1, 1)) == hash(Beta(1.0, 1.0))
    assert Dirichlet([1, 2]) == Dirichlet((1.0, 2.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        Beta(1, 1).a = 2.0  # type: ignore[misc]
    assert len({Gamma(1, 2), Gamma(1.0, 2.0), NormalInverseWishart([0], 1, 1, [[1]])}) == 2


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: Beta(-1, 2), r"Beta hyperparameter 'a' \(a concentration\) must be positive; got -1.0"),
        (lambda: Beta(1, 0), r"'b'.*got 0.0"),
        (lambda: Gamma(0.0, 1.0), r"Gamma hyperparameter 'shape'.*got 0.0"),
        (lambda: Gamma(1.0, -2.0), r"'rate'.*-2.0"),
        (lambda: Dirichlet([1.0, -2.0, 1.0]), r"'alpha\[1\]'.*-2.0"),
        (lambda: Dirichlet([1.0]), r"at least 2"),
        (lambda: Normal(0, -1), r"'sigma'.*-1.0"),
        (lambda: InverseGamma(-0.5, 1), r"'shape'.*-0.5"),
        (lambda: NormalInverseGamma(0, -1, 1, 1), r"'kappa0'.*-1.0"),
        (lambda: NormalInverseWishart([0, 0], 1, 0.5, np.eye(2)), r"'nu0'.*exceed d - 1"),
        (lambda: NormalInverseWishart([0, 0], 1, 3, [[1, 2], [2, 1]]), r"'psi0'.*positive definite"),
        (lambda: Uniform(1, 0), r"low < high"),
        (lambda: Beta("1", 2), r"'a' must be a real number"),
        (lambda: Beta(np.nan, 2), r"'a' must be finite"),
        (lambda: HalfNormal(True), r"'sigma' must be a real number"),
    ],
)
def test_invalid_hyperparameters_name_the_hyperparameter_and_value(build: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        build()  # type: ignore[operator]


# -- bad input to posterior ------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        # a prior on a parameter the family does not have, or on a fixed one
        (lambda: posterior([1, 2], "poisson", prior={"lam": Gamma(1, 1)}), r"unknown parameter.*'lam'"),
        (lambda: posterior([1.0, 2.0], "normal", prior={"sigma": HalfNormal(1)}, fixed={"sigma": 1.0}), r"\['sigma'\].*fixed"),
        (lambda: posterior([1, 2], "binomial", prior={"n": Gamma(1, 1)}, fixed={"n": 5}), r"\['n'\].*fixed"),
        # a prior whose support excludes the MLE
        (lambda: posterior([0, 1, 1, 1], "bernoulli", prior={"p": Uniform(0, 0.1)}), r"prior for 'p'.*excludes the maximum-likelihood estimate p = 0.75"),
        (lambda: posterior([3, 4, 2], "poisson", prior={"rate": Beta(2, 2)}), r"prior for 'rate'.*excludes.*rate = 3"),
        (lambda: posterior([1.0, -2.0, 0.5], "normal", prior={"mu": HalfNormal(1)}, fixed={"sigma": 1.0}), r"prior for 'mu'.*excludes"),
        # an improper posterior
        (lambda: posterior([2.5], "normal"), r"posterior of 'sigma' is improper: fewer than 2"),
        (lambda: posterior([2.5, 2.5, 2.5], "normal"), r"posterior of 'sigma' is improper: all observations are identical"),
        (lambda: posterior([1.0, 1.0], "normal", fixed={"mu": 1.0}), r"posterior of 'sigma' is improper"),
        (lambda: posterior([0.0, 0.0], "exponential"), r"posterior of 'rate' is improper"),
        (lambda: posterior([[0.0, 1.0], [1.0, 2.0]], "multivariate_normal"), r"posterior of 'cov' is improper"),
        (lambda: posterior([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0]], "multivariate_normal"), r"'cov' is improper.*singular"),
        # priors that are not conjugate
        (lambda: posterior([1, 2], "poisson", prior={"rate": LogNormal(0, 1)}), r"prior for 'rate'.*not conjugate.*Gamma"),
        (lambda: posterior([1.0, 2.0], "normal", prior={"sigma": InverseGamma(2, 1)}, fixed={"mu": 0.0}), r"squared=True"),
        (lambda: posterior([1.0, 2.0], "normal", prior={"mu": Normal(0, 1), "sigma": HalfNormal(1)}), r"joint NormalInverseGamma"),
        (lambda: posterior([1.0, 2.0], "normal", prior=Beta(1, 1)), r"Beta prior covers"),
        (lambda: posterior([1.0, 2.0], "normal", prior="beta(1,1)"), r"prior must be a Prior"),
        (lambda: posterior([1.0, 2.0], "cauchy"), r"cauchy family has no conjugate prior"),
        (lambda: posterior([1.0, 2.0], "normal", fixed={"mu": 0.0, "sigma": 1.0}), r"nothing to learn"),
        # bad data, as everywhere else
        (lambda: posterior([0, 1, np.nan], "bernoulli"), r"non-finite.*1 value; the first is .*nan.* at index 2"),
        (lambda: posterior([0, 1, 2, 3], "bernoulli"), r"outside the support.*2 values; the first is .*2.0.* at index 2"),
        (lambda: posterior(["a", "b"], "poisson"), r"must be numeric"),
        (lambda: posterior([], "poisson"), r"empty"),
        (lambda: posterior([1, 2], "poisson", weights=[1, -1]), r"non-negative"),
        (lambda: posterior([1, 2], "binomial"), r"known value of 'n'"),
        (lambda: posterior([1, 2], "binomial", fixed={"n": 4.5}), r"'n' must be one positive integer"),
        (lambda: posterior([0, 1, 3], "categorical", prior=Dirichlet([1, 1, 1])), r"codes beyond the 3 categories.*1 value; the first is .*3.0.* at index 2"),
        (lambda: posterior(np.ones((5, 2)), "multivariate_normal", prior=NormalInverseWishart([0, 0, 0], 1, 4, np.eye(3))), r"3-dimensional"),
    ],
)
def test_bad_input_is_a_clear_data_error(call: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        call()  # type: ignore[operator]


def test_update_validates_the_new_batch() -> None:
    post = posterior([0, 1], "bernoulli")
    with pytest.raises(DataError, match="outside the support"):
        post.update([1, 5])
    with pytest.raises(DataError, match="non-finite"):
        post.update([np.inf])


# -- input policy -------------------------------------------------------------------------


def test_inputs_are_not_mutated_and_dtypes_agree() -> None:
    x = np.array([1, 0, 1, 1], dtype=np.int64)
    ref = posterior(x.astype(float), "bernoulli").conjugate
    for variant in (x, x.astype(bool), x.astype(np.float32), x.astype(object), list(x)):
        assert posterior(variant, "bernoulli").conjugate == ref
    xf = np.array([0.5, 1.5, 2.0])
    post = posterior(xf, "exponential")
    xf[0] = 100.0  # the posterior keeps its own copy of the data
    assert post.data()[0][0] == 0.5
    assert xf[0] == 100.0


def test_zero_weight_equals_deletion_but_is_validated() -> None:
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    a = posterior(x, "poisson", weights=[1, 1, 0, 1, 1])
    b = posterior(x[[0, 1, 3, 4]], "poisson")
    assert a.conjugate == b.conjugate
    with pytest.raises(DataError, match="outside the support"):
        posterior([3.0, -1.0], "poisson", weights=[1, 0])


def test_integer_weights_equal_replication() -> None:
    x = np.array([0.3, 1.2, 2.2])
    a = posterior(x, "normal", weights=[2, 1, 3])
    b = posterior(np.repeat(x, [2, 1, 3]), "normal")
    close(list(a.conjugate.hyperparameters().values()), list(b.conjugate.hyperparameters().values()))


# -- text ------------------------------------------------------------------------------------


def test_parse_prior_reads_the_grammar() -> None:
    assert parse_prior("p=beta(1,1)") == {"p": Beta(1.0, 1.0)}
    assert parse_prior(" shape = Gamma( 2 , .5 ) ; rate=lognormal(-1e-1, 2E0);") == {
        "shape": Gamma(2.0, 0.5),
        "rate": LogNormal(-0.1, 2.0),
    }
    assert parse_prior("mu=normal(0,10), sigma=half_normal(1)") == {"mu": Normal(0, 10), "sigma": HalfNormal(1)}
    assert parse_prior("probs=dirichlet(1,2,3)") == {"probs": Dirichlet((1, 2, 3))}
    assert parse_prior("sigma=inverse_gamma_sq(2,1)") == {"sigma": InverseGamma(2, 1, squared=True)}
    post = posterior([0, 0, 1], "bernoulli", prior=parse_prior("p=beta(2,2)"))
    assert post.conjugate == Beta(3, 4)


@pytest.mark.parametrize(
    "text, match",
    [
        ("", r"empty prior"),
        ("p=beta(1,1", r"expected '\)' or ','.*end of the text"),
        ("p beta(1,1)", r"expected '=' after 'p'.*'beta' at position 2"),
        ("p=betta(1,1)", r"unknown distribution 'betta'"),
        ("p=beta(1,2,3)", r"beta\(\) takes 2 number\(s\), got 3"),
        ("p=beta(1,-2)", r"invalid prior for 'p'.*'b'.*-2.0"),
        ("p=beta(1,1) q=beta(1,1)", r"expected ';' or ','.*'q'"),
        ("p=beta(1,1); p=beta(2,2)", r"'p' is given twice"),
        ("p=__import__('os').system('echo hacked')", r"unexpected character \"'\""),
        ("p=beta(1+1,2)", r"expected '\)' or ','"),
        ("p=beta(x,2)", r"expected a number in beta"),
    ],
)
def test_parse_prior_errors_name_the_offending_text(text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_prior(text)


def test_summary_lists_everything() -> None:
    post = posterior(RNG.normal(size=(20, 2)), "multivariate_normal")
    text = post.summary()
    for piece in ("multivariate_normal", "mean[1]", "cov[0,1]", "MAP", "predictive: multivariate_t"):
        assert piece in text
    assert "Beta(a=3.0, b=2.0)" in str(posterior([1, 1, 0], "bernoulli"))
    assert str(post) == text and post._repr_html_().startswith("<pre>")
