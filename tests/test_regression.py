"""regress: agreement with statsmodels, formulas, predictions and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import thetahat
from thetahat import DataError

import statsmodels.api as sm


def _data(n: int = 400, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 3))])
    return X, rng


def test_ols_matches_statsmodels() -> None:
    X, rng = _data()
    y = X @ [1.0, 0.5, -0.3, 0.2] + rng.normal(0, 0.7, len(X))
    res = thetahat.regress(y, X[:, 1:], intercept=True)
    ref = sm.OLS(y, X).fit()
    est = np.array(list(res.coef.values()))
    np.testing.assert_allclose(est, ref.params, rtol=1e-8)
    np.testing.assert_allclose(list(res.se_unbiased.values()), ref.bse, rtol=1e-6)
    assert res.sigma_unbiased == pytest.approx(np.sqrt(ref.scale), rel=1e-8)
    assert res.loglik == pytest.approx(ref.llf, rel=1e-10)


@pytest.mark.parametrize("kind", ["logit", "poisson"])
def test_glm_matches_statsmodels(kind: str) -> None:
    X, rng = _data()
    eta = X @ [0.3, 0.8, -0.5, 0.2]
    if kind == "logit":
        y = (rng.uniform(size=len(X)) < 1 / (1 + np.exp(-eta))).astype(float)
        ref = sm.Logit(y, X).fit(disp=0, tol=1e-14)
        res = thetahat.regress(y, X[:, 1:], family="bernoulli", intercept=True)
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
        ref = sm.GLM(y, X, family=sm.families.Poisson()).fit(tol=1e-14)
        res = thetahat.regress(y, X[:, 1:], family="poisson", intercept=True)
    np.testing.assert_allclose(list(res.coef.values()), ref.params, rtol=1e-8)
    np.testing.assert_allclose(list(res.se.values()), ref.bse, rtol=1e-6)
    assert res.loglik == pytest.approx(ref.llf, rel=1e-10)


def test_formula_names_and_predict() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x1": rng.normal(size=300), "group": rng.choice(["a", "b", "c"], 300)})
    df["y"] = rng.poisson(np.exp(0.2 + 0.4 * df.x1 + (df.group == "b") * 0.5))
    res = thetahat.regress("y ~ x1 + C(group)", data=df, family="poisson")
    assert list(res.coef) == ["Intercept", "x1", "C(group)[T.b]", "C(group)[T.c]"]
    pred = res.predict(data=df.iloc[:5])
    np.testing.assert_allclose(pred.mean, res.predict().mean[:5], rtol=1e-12)
    assert np.all(pred.dist.mean() == pytest.approx(pred.mean))
    pearson = res.residuals("pearson")
    assert pearson.shape == (300,) and np.all(np.isfinite(res.residuals("deviance")))


@pytest.mark.parametrize("family", ["gamma", "lognormal", "weibull", "negative_binomial", "student_t"])
def test_other_families_converge(family: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(500, 1))
    mu = np.exp(1.0 + 0.5 * x[:, 0])
    y = {"gamma": rng.gamma(3.0, mu / 3.0), "lognormal": mu * rng.lognormal(0, 0.5, 500),
         "weibull": mu * rng.weibull(2.0, 500), "negative_binomial": rng.poisson(mu * rng.gamma(2, 0.5, 500)),
         "student_t": 1 + 0.5 * x[:, 0] + rng.standard_t(4, 500)}[family]
    link = "log" if family == "gamma" else None
    res = thetahat.regress(y, x, family=family, intercept=True, link=link)
    assert res.converged
    assert abs(res.coef["x1"] - 0.5) < 5 * res.se["x1"]


def test_bad_input_named() -> None:
    X, rng = _data(50)
    y = rng.normal(size=50)
    with pytest.raises(DataError, match="same number of rows"):
        thetahat.regress(y[:-1], X)
    with pytest.raises(DataError, match=r"\[.x2., .x5.\] are \(nearly\) collinear"):
        thetahat.regress(y, np.column_stack([X, 2 * X[:, 1]]))
    with pytest.raises(DataError, match="all constant"):
        thetahat.regress(y, np.column_stack([X, np.full(50, 3.0)]))
    with pytest.raises(DataError, match="all 50 counts are zero"):
        thetahat.regress(np.zeros(50), X, family="poisson")
    with pytest.raises(DataError, match="non-finite"):
        thetahat.regress(y, np.where(np.arange(50)[:, None] == 3, np.nan, X))
    with pytest.raises(DataError, match="outside the support"):
        thetahat.regress(y, X, family="poisson")
    with pytest.raises(DataError, match="not finite at the start values"):
        thetahat.regress(np.abs(y) + 1, X[:, 1], mean=lambda x, a: jnp_log(a * x), start={"a": 1.0},
                         family="gamma", link="log")


def jnp_log(v):  # type: ignore[no-untyped-def]
    import jax.numpy as jnp

    return jnp.log(v)


def test_separation_reported() -> None:
    x = np.linspace(-1, 1, 40)
    y = (x > 0).astype(float)
    with pytest.raises(DataError, match="separation.*x1"):
        thetahat.regress(y, x, family="bernoulli", intercept=True)


_STRUCTURED_CASES = [("normal", "identity"), ("bernoulli", "probit"), ("bernoulli", "logit"),
                     ("poisson", "identity"), ("negative_binomial", "log"), ("gamma", "inverse"),
                     ("student_t", "identity"), ("weibull", "log"), ("lognormal", "log")]


@pytest.mark.parametrize(("response", "link"), _STRUCTURED_CASES)
def test_linear_predictor_derivatives_equal_generic_autodiff(response: str, link: str) -> None:
    """The chain-rule Hessian X' diag(l'') X equals autodiff through X, zero weights included."""
    import jax
    import jax.numpy as jnp

    from thetahat.likelihood import Layout, nll_value_grad_hess
    from thetahat.regression.models import RegressionFamily, get_response
    from thetahat.regression.links import get_link
    from thetahat.transforms import Bijector

    rng = np.random.default_rng(7)
    n, p = 300, 3
    X = np.column_stack([np.ones(n), rng.uniform(0.2, 1.0, size=(n, p - 1))])
    y = {"normal": rng.normal(size=n), "student_t": rng.normal(size=n),
         "bernoulli": rng.integers(0, 2, n).astype(float),
         "poisson": rng.poisson(2.0, n).astype(float),
         "negative_binomial": rng.poisson(2.0, n).astype(float)}.get(response, rng.gamma(2.0, 1.0, n))
    rows = np.column_stack([y, X])
    w = rng.integers(0, 3, n).astype(float)  # zero weights are deleted rows
    structured = RegressionFamily(get_response(response), get_link(link))
    generic = RegressionFamily(get_response(response), get_link(link))
    generic.linear_coef = None
    extras = [q.name for q in structured.response.extras]
    coef = np.array([0.8, 0.3, 0.2]) if link != "inverse" else np.array([0.9, 0.2, 0.1])
    z = np.concatenate([coef, rng.normal(0.0, 0.3, len(extras))])
    bounds = np.array([[-np.inf, np.inf]] + [[0.0, np.inf]] * len(extras))
    out = []
    for fam in (structured, generic):
        free = (("coef", Bijector("identity", (p,))),) + tuple((e, Bijector("lower")) for e in extras)
        layout = Layout(fam, free, ())
        with jax.enable_x64(True):
            out.append([np.asarray(v) for v in nll_value_grad_hess(
                layout, jnp.asarray(z), jnp.asarray(rows), jnp.asarray(w), jnp.zeros(0), jnp.asarray(bounds))])
    for a, b in zip(*out):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * np.max(np.abs(b)))


def test_large_poisson_matches_statsmodels() -> None:
    """Past one block of rows (scan over blocks, padding, subsample start) the answer is unchanged."""
    rng = np.random.default_rng(3)
    n = 140_000
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 3))])
    y = rng.poisson(np.exp(X @ [0.2, 0.3, -0.2, 0.1])).astype(float)
    res = thetahat.regress(y, X[:, 1:], family="poisson", intercept=True)
    ref = sm.GLM(y, X, family=sm.families.Poisson()).fit(tol=1e-13)
    np.testing.assert_allclose(list(res.coef.values()), ref.params, rtol=1e-8)
    np.testing.assert_allclose(list(res.se.values()), ref.bse, rtol=1e-6)
    assert res.loglik == pytest.approx(ref.llf, rel=1e-12)
