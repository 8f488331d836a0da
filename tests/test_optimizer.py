"""The trust-region Newton solver: global convergence, honest stopping, saddles and flats.

Convergence is judged by the Newton decrement g' H^-1 g (the predicted
remaining gain in log-likelihood); a start far from the optimum must still
reach it, and a problem without a strict maximum (a non-identified
direction, a saddle, an asymptote) must never be reported as a clean
converged fit with silent NaNs.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import thetahat
from thetahat import ConvergenceWarning, DataError, FitError, FitResult, HessianWarning, ThetahatWarning
from thetahat.data import Standardizer
from thetahat.families import get_family

from conftest import sample


def t_data(n: int = 300, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_t(4.0, n) * 0.5 - 1.0


@pytest.fixture(scope="module")
def t_reference() -> tuple[np.ndarray, FitResult]:
    x = t_data()
    res = thetahat.fit(x, "student_t")
    assert res.converged and 2.0 < res.params["df"] < 20.0
    return x, res


def fit_recording(x: Any, family: Any, **kw: Any) -> tuple[FitResult, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = thetahat.fit(x, family, **kw)
    return res, record


def newton_decrement(family: Any, x: np.ndarray, params: dict[str, float], names: list[str]) -> float:
    """g' H^-1 g of the log-likelihood in the free parameters (natural scale).

    At a near-stationary point it equals the decrement on the optimiser's
    unconstrained scale up to O(|g|^3): the decrement is invariant under
    smooth reparametrisation to leading order.
    """
    with jax.enable_x64(True):
        def ll(theta: Any) -> Any:
            return jnp.sum(family.logpdf(jnp.asarray(x), **{**params, **dict(zip(names, theta))}))

        theta = jnp.asarray([params[n] for n in names], dtype=jnp.float64)
        g = np.asarray(jax.grad(ll)(theta))
        h = np.asarray(jax.hessian(ll)(theta))
    return float(g @ np.linalg.solve(-h, g))


# -- poor starts ---------------------------------------------------------------------
POOR_STARTS = [
    {"mu": 50.0},
    {"mu": -30.0, "sigma": 0.01},
    {"sigma": 100.0},
    {"sigma": 1e-3},
    {"df": 200.0},
    {"df": 0.2},
    {"df": 100.0, "mu": 20.0, "sigma": 30.0},
    {"df": 1e3, "mu": 1e2, "sigma": 1e2},
    {"mu": 1e3},
    {"df": 1e4, "mu": 100.0},
]


@pytest.mark.parametrize("start", POOR_STARTS, ids=repr)
def test_student_t_converges_from_poor_starts(start: dict[str, float], t_reference: tuple[np.ndarray, FitResult]) -> None:
    x, ref = t_reference
    res = thetahat.fit(x, "student_t", start=start)
    assert res.converged, res.message
    assert res.n_iter > 0 and "decrement" in res.message
    assert res.loglik >= ref.loglik - 1e-9 * abs(ref.loglik)
    # Both stop within sqrt(tol (1 + |nll|)) standard errors of the optimum.
    within = 2 * math.sqrt(1e-12 * (1 + abs(ref.loglik)))
    for k in ref.params:
        assert abs(res.params[k] - ref.params[k]) <= within * ref.se[k], (k, res.params[k], ref.params[k])
    assert np.isfinite(res.score_norm) and res.score_norm < 1e-3


@pytest.mark.parametrize("n", [200, 300])
@pytest.mark.parametrize("start", [{"df": 1e8}, {"df": 1e6, "mu": 1e3}, {"df": 1e10}], ids=repr)
def test_start_on_the_normal_plateau_never_claims_a_false_optimum(start: dict[str, float], n: int) -> None:
    # For df -> inf the t likelihood flattens towards the normal one: the score
    # vanishes there without a maximum. Reaching the true optimum or saying
    # "not converged" are both honest; converged=True at a lower loglik is not.
    x = t_data(n)
    ref = thetahat.fit(x, "student_t")
    assert ref.converged and ref.params["df"] < 20
    try:
        res = thetahat.fit(x, "student_t", start=start, strict=True)
    except FitError:
        return
    assert res.loglik >= ref.loglik - 1e-9 * abs(ref.loglik), (res.params, res.loglik, ref.loglik)


@pytest.mark.parametrize("seed", range(6))
def test_student_t_on_normal_data_never_beats_or_undercuts_the_normal_falsely(seed: int) -> None:
    # On normal data the t MLE may run to df -> inf. A model never has a lower
    # maximum than a model nested in it (the normal is the df -> inf limit),
    # and an estimate drifting to infinity is not a converged interior optimum.
    x = np.random.default_rng(seed).normal(size=100)
    normal = thetahat.fit(x, "normal")
    res, record = fit_recording(x, "student_t")
    assert all(issubclass(w.category, ThetahatWarning) for w in record)
    if res.converged:
        assert res.loglik >= normal.loglik - 1e-9 * abs(normal.loglik)
        assert res.params["df"] < 1e6 or "df" in res.at_boundary, (
            f"df = {res.params['df']:.3g} reported as a converged interior optimum")


def test_loglik_of_large_df_matches_scipy() -> None:
    # The t log-density must stay accurate as df grows (no lgamma cancellation),
    # or the optimiser wanders on rounding noise near the normal limit.
    from scipy import stats

    fam = get_family("student_t")
    x = np.random.default_rng(12).normal(size=200)
    with jax.enable_x64(True):
        for df in [1e4, 1e6, 1e8, 1e10, 1e12]:
            ours = float(jnp.sum(fam.logpdf(jnp.asarray(x), df=jnp.asarray(df), mu=0.0, sigma=1.3)))
            ref = float(np.sum(stats.t(df, 0.0, 1.3).logpdf(x)))
            assert abs(ours - ref) <= 1e-10 * abs(ref), (df, ours - ref)


# -- the stopping rule -----------------------------------------------------------------
@pytest.mark.parametrize("tol", [1e-12, 1e-6, 1e-3])
def test_convergence_is_judged_by_the_newton_decrement(tol: float, t_reference: tuple[np.ndarray, FitResult]) -> None:
    x, _ = t_reference
    fam = get_family("student_t")
    res = thetahat.fit(x, "student_t", tol=tol)
    assert res.converged and "decrement" in res.message
    # The solver works on the standardised NLL; translate its |f| back.
    scale = Standardizer.for_data(x, fam.standardize).scale
    f_std = -res.loglik - x.size * math.log(scale)
    decrement = newton_decrement(fam, x, res.params, list(fam.param_names))
    assert 0.0 <= decrement <= 1.01 * tol * (1.0 + abs(f_std)) + 1e-300


def test_a_looser_tolerance_stops_no_later(t_reference: tuple[np.ndarray, FitResult]) -> None:
    x, _ = t_reference
    start = {"df": 100.0, "mu": 20.0, "sigma": 30.0}
    tight = thetahat.fit(x, "student_t", start=start, tol=1e-12)
    loose = thetahat.fit(x, "student_t", start=start, tol=1e-2)
    assert loose.converged and tight.converged
    assert 0 < loose.n_iter <= tight.n_iter


def test_iteration_limit_is_respected_and_reported(t_reference: tuple[np.ndarray, FitResult]) -> None:
    x, _ = t_reference
    for max_iter in (1, 2, 3):
        with pytest.warns(ConvergenceWarning):
            res = thetahat.fit(x, "student_t", start={"df": 100.0, "mu": 20.0, "sigma": 30.0}, max_iter=max_iter)
        assert not res.converged and res.n_iter <= max_iter
        assert np.isfinite(res.loglik) and res.score_norm > 1e-3


def test_score_norm_is_small_at_the_optimum(t_reference: tuple[np.ndarray, FitResult]) -> None:
    _, ref = t_reference
    assert ref.n_iter > 0
    assert 0.0 <= ref.score_norm < 1e-3
    diag = ref.diagnostics()
    assert diag["converged"] and diag["hessian_positive_definite"] and diag["score_norm"] == ref.score_norm


@pytest.mark.parametrize("name", ["normal", "cauchy", "logistic", "gumbel", "gamma", "weibull"])
def test_generic_solver_agrees_with_the_default_fit(name: str) -> None:
    # Smooth families (no irregular parameter): the generic Newton path reaches
    # the same maximum as the family's own (closed-form or profile) path.
    assert name in thetahat.families(), f"family {name!r} is not registered yet"
    fam = get_family(name)
    x = sample(name, 300, seed=13)
    ref = thetahat.fit(x, name, **fam.example_fit_kwargs)
    res = thetahat.fit(x, name, method="numerical", **fam.example_fit_kwargs)
    assert res.converged and res.method == "trust-region Newton"
    assert res.loglik >= ref.loglik - 1e-9 * abs(ref.loglik)


# -- flat directions and saddles ----------------------------------------------------------
def test_non_identifiable_parameters_are_flagged_never_silent_nan() -> None:
    # logpdf depends on a + b only: a flat ridge of maxima.
    fam = thetahat.custom(
        lambda x, a, b: -0.5 * (x - a - b) ** 2 - 0.5 * jnp.log(2 * jnp.pi),
        params={"a": "real", "b": "real"},
    )
    x = np.random.default_rng(14).normal(1.0, 1.0, 100)
    with pytest.warns((HessianWarning, ConvergenceWarning)):
        res = thetahat.fit(x, fam)
    assert not (res.converged and res.hessian_ok)
    assert not res.hessian_ok or not res.converged
    diag = res.diagnostics()
    assert diag["hessian_positive_definite"] is False or diag["converged"] is False
    # The maximum itself is well defined and reported: loglik is finite and right.
    best = -0.5 * np.sum((x - x.mean()) ** 2) - 0.5 * x.size * math.log(2 * math.pi)
    assert np.isfinite(res.loglik) and res.loglik == pytest.approx(best, rel=1e-10)
    assert res.params["a"] + res.params["b"] == pytest.approx(x.mean(), rel=1e-8)
    # NaN standard errors only together with the flag that explains them.
    if any(np.isnan(v) for v in res.se.values()):
        assert not res.hessian_ok and "positive definite" in res.hessian_message


def test_parameter_absent_from_the_likelihood_is_flagged() -> None:
    fam = thetahat.custom(
        lambda x, m, unused: -0.5 * (x - m) ** 2 - 0.5 * jnp.log(2 * jnp.pi) + 0.0 * unused,
        params={"m": "real", "unused": "positive"},
    )
    x = np.random.default_rng(15).normal(0.0, 1.0, 50)
    with pytest.warns((HessianWarning, ConvergenceWarning)):
        res = thetahat.fit(x, fam)
    assert not (res.converged and res.hessian_ok)
    assert res.params["m"] == pytest.approx(x.mean(), rel=1e-8)


def test_start_at_a_saddle_escapes_along_negative_curvature() -> None:
    # mean = a^2: a = 0 is a stationary point (the score is exactly zero) where
    # the log-likelihood has a local *minimum*; the maxima are a = +-sqrt(mean).
    # A trust-region method must step along the negative-curvature direction.
    fam = thetahat.custom(lambda x, a: -0.5 * (x - a**2) ** 2 - 0.5 * jnp.log(2 * jnp.pi), params={"a": "real"})
    x = np.random.default_rng(16).normal(4.0, 1.0, 50)
    res, record = fit_recording(x, fam, start={"a": 0.0})
    assert res.converged, res.message
    assert abs(res.params["a"]) == pytest.approx(math.sqrt(x.mean()), rel=1e-10)
    assert not record


def test_saddle_of_a_product_parametrisation_is_not_reported_as_converged() -> None:
    # mean = a * b from (0, 0): a saddle; the maxima form the ridge a * b = mean.
    fam = thetahat.custom(lambda x, a, b: -0.5 * (x - a * b) ** 2 - 0.5 * jnp.log(2 * jnp.pi),
                          params={"a": "real", "b": "real"})
    x = np.random.default_rng(17).normal(2.0, 1.0, 60)
    res, record = fit_recording(x, fam)
    assert record and all(issubclass(w.category, ThetahatWarning) for w in record)
    assert not (res.converged and res.hessian_ok)
    assert np.isfinite(res.loglik)
    if res.converged:  # reached the ridge: the maximum value is right
        best = -0.5 * np.sum((x - x.mean()) ** 2) - 0.5 * x.size * math.log(2 * math.pi)
        assert res.loglik == pytest.approx(best, rel=1e-10)


def test_unbounded_likelihood_is_not_reported_as_a_maximum() -> None:
    # Two distinct values: the t likelihood grows without bound as sigma, df -> 0.
    x = np.repeat([1.0, 2.0], 6)
    try:
        res, record = fit_recording(x, "student_t")
    except DataError:
        return
    assert not res.converged
    assert any(issubclass(w.category, ConvergenceWarning) for w in record)
    assert np.isfinite(res.loglik)


@pytest.mark.parametrize("family", ["student_t", "gumbel", "weibull"])
def test_python_driven_loop_equals_compiled_loop(family: str) -> None:
    """Single fits drive the solver from Python, batches run it as one while_loop: same steps."""
    import sys

    from thetahat.optimize import _compiled_solver, _run_loop

    fit_module = sys.modules["thetahat.fit"]
    captured: dict[str, Any] = {}
    original = fit_module.solve

    def capture(layout: Any, z0: Any, x: Any, w: Any, fixed: Any, bounds: Any, solver: Any, **kw: Any) -> Any:
        captured.update(args=(layout, z0, x, w, fixed, bounds), solver=solver)
        return original(layout, z0, x, w, fixed, bounds, solver, **kw)

    fit_module.solve = capture
    try:
        thetahat.fit(sample(family, 500, seed=4), family, method="numerical")
    finally:
        fit_module.solve = original
    layout, z0, x, w, fixed, bounds = captured["args"]
    tol, max_iter = captured["solver"].tol, captured["solver"].max_iter
    with jax.enable_x64(True):
        args = [jnp.asarray(a, dtype=jnp.float64) for a in (z0, x, w, fixed, bounds)]
        looped = _run_loop(layout, args[0], (args[1], args[2]), *args[3:], tol, max_iter)
        compiled = _compiled_solver(layout)(*args, tol, max_iter)
    (z1, f1, g1, h1, _, it1, _), (z2, f2, g2, h2, _, it2, _) = (
        [np.asarray(v) for v in out] for out in (looped, compiled))
    # The two programs fuse differently: equal up to rounding.
    np.testing.assert_allclose(z1, z2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(f1, f2, rtol=1e-13)
    np.testing.assert_allclose(g1, g2, atol=1e-9)
    np.testing.assert_allclose(h1, h2, rtol=1e-8)
    assert int(it1) == int(it2)


def test_elementwise_unpack_equals_autodiff_jacobian() -> None:
    """The numpy Jacobian of elementwise bijectors equals JAX's of the layout's unpack."""
    from thetahat.inference import _elementwise_unpack, _flat_unpack
    from thetahat.likelihood import Layout
    from thetahat.transforms import Bijector

    fam = get_family("normal")
    layout = Layout(fam, (("mu", Bijector("identity", (2,))), ("sigma", Bijector("lower")),
                          ("a", Bijector("upper")), ("b", Bijector("interval"))), ())
    z = np.array([0.3, -1.2, 0.4, -0.7, 1.1])
    bounds = np.array([[-np.inf, np.inf], [0.5, np.inf], [-np.inf, 2.0], [-1.0, 3.0]])
    values, jac = _elementwise_unpack(layout, z, bounds)
    with jax.enable_x64(True):
        ref_values, ref_jac = _flat_unpack(layout)(jnp.asarray(z), jnp.zeros(0), jnp.asarray(bounds))
    np.testing.assert_allclose(values, np.asarray(ref_values), rtol=1e-14)
    np.testing.assert_allclose(jac, np.asarray(ref_jac), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize(
    ("family", "kwargs"),
    [("student_t", {}), ("gamma", {"free": ["loc"]}), ("weibull", {"free": ["loc"]}),
     ("logistic regression", {})],
)
def test_large_data_shortcut_reaches_the_full_solvers_optimum(
    family: str, kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Subsample start + lagged-Hessian steps end where the plain trust region does,
    with the exact Hessian at the estimate (not the subsample's)."""
    import thetahat.optimize as optimize

    rng = np.random.default_rng(11)
    n = optimize.LARGE + 12345
    X = rng.normal(size=(n, 2))
    draw = {"student_t": lambda: rng.standard_t(4.0, n) * 0.5 + 1.0,
            "gamma": lambda: 10.0 + rng.gamma(3.0, 1.5, n),
            "weibull": lambda: 5.0 + rng.weibull(2.0, n) * 2.0,
            "logistic regression": lambda: (rng.random(n) < 1 / (1 + np.exp(-0.3 - X @ [0.5, -0.2]))) * 1.0}
    y = draw[family]()

    def estimate() -> Any:
        if family == "logistic regression":
            return thetahat.regress(y, X, family="bernoulli", intercept=True)
        return thetahat.fit(y, family, **kwargs)

    calls = {"lagged": 0}
    original = optimize._lagged_newton

    def counting(*args: Any, **kw: Any) -> Any:
        calls["lagged"] += 1
        return original(*args, **kw)

    monkeypatch.setattr(optimize, "_lagged_newton", counting)
    fast = estimate()
    assert calls["lagged"] >= 1  # the shortcut ran
    monkeypatch.setattr(optimize, "LARGE", 10**12)
    plain = estimate()
    assert fast.converged and plain.converged
    assert fast.loglik >= plain.loglik - 1e-9 * abs(plain.loglik)
    # Both stop by the documented rule (within sqrt(tol * |nll|) ~ 5e-4
    # standard errors of the optimum); the shortcut ends with a polishing step past tol.
    for name in plain.params:
        assert abs(fast.params[name] - plain.params[name]) <= 1e-4 * plain.se[name]
        assert fast.se[name] == pytest.approx(plain.se[name], rel=1e-5)


def test_lagged_newton_hands_over_when_its_hessian_is_useless() -> None:
    """A Hessian that is not positive definite takes no step; the exact one comes back."""
    from thetahat.optimize import _lagged_newton

    fam = get_family("normal")
    from thetahat.likelihood import Layout
    from thetahat.transforms import Bijector

    layout = Layout(fam, (("mu", Bijector("identity")), ("sigma", Bijector("lower"))), ())
    x = np.random.default_rng(0).normal(2.0, 3.0, 1000)
    with jax.enable_x64(True):
        data = (jnp.asarray(x), jnp.ones(1000))
        args = (data, jnp.zeros(0), jnp.asarray([[-np.inf, np.inf], [0.0, np.inf]]))
        (z, f, g, h), converged, steps = _lagged_newton(layout, np.array([0.0, 0.0]), -np.eye(2), *args, 1e-12)
    assert steps == 0 and not converged
    np.testing.assert_array_equal(z, [0.0, 0.0])
    assert np.all(np.linalg.eigvalsh(h) > 0)  # the exact Hessian at z, for the trust region


def test_unguarded_likelihood_equals_guarded_on_padded_data() -> None:
    """Without the zero-weight mask (single fits: padding rows copy row 0) nothing changes."""
    import dataclasses

    from thetahat.likelihood import Layout, nll_value_grad, nll_value_grad_hess
    from thetahat.regression.models import linear_family
    from thetahat.transforms import Bijector

    fam = linear_family("negative_binomial", "log")
    layout = Layout(fam, (("coef", Bijector("identity", (3,))), ("alpha", Bijector("lower"))), ())
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(700), rng.normal(size=(700, 2))])
    rows = np.column_stack([rng.poisson(np.exp(X @ [0.5, 0.2, -0.1])), X])
    rows = np.concatenate([rows, np.repeat(rows[:1], 68, axis=0)])
    w = np.concatenate([np.ones(700), np.zeros(68)])
    with jax.enable_x64(True):
        args = (jnp.asarray([0.4, 0.1, 0.0, -0.5]), jnp.asarray(rows), jnp.asarray(w), jnp.zeros(0),
                jnp.asarray([[-np.inf, np.inf], [0.0, np.inf]]))
        guarded = nll_value_grad_hess(layout, *args)
        unguarded = nll_value_grad_hess(dataclasses.replace(layout, guard=False), *args)
        vg = nll_value_grad(dataclasses.replace(layout, guard=False), *args)
    for a, b in zip(guarded, unguarded):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(vg[0]), np.asarray(guarded[0]), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(vg[1]), np.asarray(guarded[1]), rtol=1e-12)


def test_block_sums_do_not_depend_on_the_block_length() -> None:
    """A sum over blocks of CHUNK rows equals one over longer blocks (the linear-predictor gradient pass)."""
    from thetahat.likelihood import CHUNK, _sum_over_blocks

    rng = np.random.default_rng(3)
    x = rng.normal(size=(6 * CHUNK, 3))
    w = rng.random(6 * CHUNK)

    def block(xb: Any, wb: Any) -> Any:
        return jnp.sum(wb * jnp.sin(xb[:, 0])), jnp.einsum("n,nj->j", wb, xb**2)

    with jax.enable_x64(True):
        short = _sum_over_blocks(block, jnp.asarray(x), jnp.asarray(w), CHUNK)
        for rows in (4 * CHUNK, 16 * CHUNK):  # blocks of 3 and of 6 chunks
            longer = _sum_over_blocks(block, jnp.asarray(x), jnp.asarray(w), rows)
            for a, b in zip(short, longer):
                np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)


def test_rows_built_in_their_bucket_are_padded_in_place() -> None:
    import gc

    from thetahat.optimize import _IN_BUCKET, bucket_rows, bucket_size, pad_to_bucket

    rows = bucket_rows(1000, (3,))
    rows[:] = np.arange(3000.0).reshape(1000, 3)
    xp, wp = pad_to_bucket(rows, np.ones(1000))
    assert xp.shape[0] == bucket_size(1000) > 1000
    assert np.shares_memory(xp, rows) and xp.ctypes.data % 64 == 0
    np.testing.assert_array_equal(xp[:1000], rows)
    np.testing.assert_array_equal(xp[1000:], np.repeat(rows[:1], xp.shape[0] - 1000, axis=0))
    np.testing.assert_array_equal(wp, np.r_[np.ones(1000), np.zeros(xp.shape[0] - 1000)])
    # Any other array is copied, and the registry forgets rows that are gone.
    other = np.array(rows)
    assert not np.shares_memory(pad_to_bucket(other, np.ones(1000))[0], other)
    key = id(rows)
    del rows, xp
    gc.collect()
    assert key not in _IN_BUCKET


def test_secant_update_matches_the_curvature_along_the_step() -> None:
    from thetahat.optimize import _secant_update

    rng = np.random.default_rng(5)
    a = rng.normal(size=(4, 4))
    h = a @ a.T + 4 * np.eye(4)
    exact = h + np.diag([0.0, 0.0, 0.0, 30.0])  # the lagged Hessian misses one direction
    s = rng.normal(size=4)
    y = exact @ s
    updated = _secant_update(h, s, y)
    np.testing.assert_allclose(updated @ s, y, rtol=1e-12)  # the secant condition
    np.testing.assert_allclose(updated, updated.T, rtol=1e-14)
    assert np.linalg.eigvalsh(updated)[0] > 0
    # Negative curvature along the step: no update, h stays positive definite.
    assert _secant_update(h, s, -y) is h


def test_subsample_keeps_the_extremes_of_the_used_rows() -> None:
    from thetahat.optimize import SUBSAMPLE, subsample

    rng = np.random.default_rng(8)
    n = 4 * SUBSAMPLE + 5
    x = rng.normal(size=n)
    x[7], x[11] = -50.0, 60.0  # off the stride
    w = np.ones(n)
    xs, ws = subsample(x, w)
    assert xs.shape == ws.shape == (SUBSAMPLE,)
    assert xs.min() == -50.0 and xs.max() == 60.0
    assert ws[-1] == ws[-2] == pytest.approx(SUBSAMPLE / n)  # the ends stand for themselves
    w[7] = 0.0  # a deleted row is no end
    xs, _ = subsample(x, w)
    assert xs.min() == x[w > 0].min() > -50.0


@pytest.mark.parametrize("family", ["student_t", "logistic regression"])
def test_blocked_passes_equal_whole_array_passes(family: str) -> None:
    """Data in device blocks (one compilation for every size) sum to the single-array pass."""
    import dataclasses

    from thetahat.likelihood import CHUNK, Layout
    from thetahat.optimize import _Blocks, device_data, _eval_vg, eval_vgh, pad_to_bucket
    from thetahat.regression.models import linear_family
    from thetahat.transforms import Bijector

    rng = np.random.default_rng(2)
    n = 16 * CHUNK + 3 * CHUNK + 777  # one long gradient block, then CHUNK blocks
    if family == "student_t":
        layout = Layout(get_family("student_t"), (("df", Bijector("lower")), ("mu", Bijector("identity")),
                                                   ("sigma", Bijector("lower"))), ())
        x, z = rng.standard_t(4.0, n), np.array([1.2, 0.1, -0.3])
        bounds = np.array([[0.0, np.inf], [-np.inf, np.inf], [0.0, np.inf]])
    else:
        layout = Layout(linear_family("bernoulli", "logit"), (("coef", Bijector("identity", (3,))),), ())
        X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
        x = np.column_stack([(rng.random(n) < 0.4) * 1.0, X])
        z, bounds = np.array([0.1, -0.2, 0.3]), np.array([[-np.inf, np.inf]])
    layout = dataclasses.replace(layout, guard=False)
    xp, wp = pad_to_bucket(x, np.ones(n))
    with jax.enable_x64(True):
        blocked = device_data(xp, wp, layout)
        assert isinstance(blocked, _Blocks) and len(blocked.gradient) < len(blocked.hessian)
        whole = (jnp.asarray(xp), jnp.asarray(wp))
        fixed, bnds = jnp.zeros(0), jnp.asarray(bounds)
        for a, b in zip(eval_vgh(layout, z, blocked, fixed, bnds), eval_vgh(layout, z, whole, fixed, bnds)):
            np.testing.assert_allclose(a, b, rtol=1e-11)
        for a, b in zip(_eval_vg(layout, z, blocked, fixed, bnds), _eval_vg(layout, z, whole, fixed, bnds)):
            np.testing.assert_allclose(a, b, rtol=1e-11)


def test_large_weighted_fit_equals_the_fit_without_the_deleted_rows() -> None:
    """Zero weights delete rows on the large-data path too (blocked passes, weighted subsample)."""
    import thetahat.optimize as optimize

    rng = np.random.default_rng(9)
    x = 10.0 + rng.gamma(3.0, 1.5, optimize.LARGE + 4321)
    w = np.ones(x.size)
    w[::7] = 0.0
    x[::7] = -1e6  # outside the support, but deleted: must not matter
    weighted = thetahat.fit(x, "gamma", free=["loc"], weights=w)
    kept = thetahat.fit(x[w > 0], "gamma", free=["loc"])
    assert weighted.converged and kept.converged
    assert weighted.nobs == kept.nobs
    assert weighted.loglik == pytest.approx(kept.loglik, rel=1e-12)
    for name in kept.params:
        assert abs(weighted.params[name] - kept.params[name]) <= 1e-4 * kept.se[name]
        assert weighted.se[name] == pytest.approx(kept.se[name], rel=1e-5)


@pytest.mark.parametrize("free_loc", [True, False])
def test_threshold_feature_sums_equal_the_generic_likelihood(free_loc: bool) -> None:
    """The gamma's feature-sum path (Family.threshold_param) gives the generic value, score and Hessian."""
    from thetahat.likelihood import (
        Layout, _forward_value_grad_hess, _threshold_block, nll, nll_value_grad, nll_value_grad_hess,
    )
    from thetahat.transforms import Bijector

    fam = get_family("gamma")
    rng = np.random.default_rng(6)
    x = 2.0 + rng.gamma(3.0, 0.7, 5000)
    w = rng.integers(0, 3, x.size).astype(float)
    x[np.flatnonzero(w == 0)[:10]] = -5.0  # deleted rows may sit below the threshold
    if free_loc:
        free = (("shape", Bijector("lower")), ("rate", Bijector("lower")), ("loc", Bijector("upper")))
        layout = Layout(fam, free, ())
        z, fixed = np.array([0.9, -0.2, -0.4]), np.zeros(0)
        bounds = np.array([[0.0, np.inf], [0.0, np.inf], [-np.inf, float(x[w > 0].min())]])
    else:
        layout = Layout(fam, (("shape", Bijector("lower")), ("rate", Bijector("lower"))), (("loc", ()),))
        z, fixed = np.array([0.9, -0.2]), np.array([1.5])
        bounds = np.array([[0.0, np.inf], [0.0, np.inf]])
    with jax.enable_x64(True):
        args = (jnp.asarray(x), jnp.asarray(w), jnp.asarray(fixed), jnp.asarray(bounds))
        fast = nll_value_grad_hess(layout, jnp.asarray(z), *args)
        fast_vg = nll_value_grad(layout, jnp.asarray(z), *args)
        generic = _forward_value_grad_hess(lambda zz: nll(layout, zz, *args), jnp.asarray(z))
        # A used row at or below the threshold: +inf, like the log-density's -inf.
        w_bad = w.copy()
        w_bad[np.argmin(np.where(w > 0, x, np.inf))] = 0.0
        below = float(_threshold_block(layout, jnp.asarray(z), jnp.asarray(np.r_[x, 1.0]),
                                       jnp.asarray(np.r_[w_bad, 1.0]), *args[2:])[0])
    for a, b in zip(fast, generic):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-11)
    for a, b in zip(fast_vg, generic):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-11)
    assert below == np.inf


def test_small_information_inverse_equals_the_eigen_path() -> None:
    # 1 x 1 and 2 x 2 information (most fits) take a scalar path: same
    # verdicts, same messages' kind, same inverse as the eigendecomposition.
    from thetahat.inference import _invert_general, invert_information

    rng = np.random.default_rng(7)
    near = 2.0 * (1 - 1e-13)
    cases = [
        np.array([[0.0]]), np.array([[-1.0]]), np.array([[np.inf]]),
        np.array([[np.nan, 0], [0, 1.0]]), np.array([[1.0, 1.0], [1.0, 1.0]]),
        np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([[4.0, near], [near, 1.0]]),
    ]
    for _ in range(2000):
        k = int(rng.integers(1, 3))
        a = rng.normal(size=(k, k)) * 10.0 ** rng.uniform(-5, 5, size=(k, 1))
        cases.append(a @ a.T + np.diag(10.0 ** rng.uniform(-12, 3, size=k)) * (rng.uniform() < 0.5))
    for hess in cases:
        got, msg = invert_information(hess)
        ref, ref_msg = _invert_general(hess)
        assert (got is None) == (ref is None), (hess, msg, ref_msg)
        assert msg.split("(")[0] == ref_msg.split("(")[0]
        if got is not None:
            # The scalar path solves the 2 x 2 exactly; eigh's own error grows
            # with the condition number.
            cond = np.linalg.cond(hess / np.sqrt(np.outer(np.diag(hess), np.diag(hess))))
            tol = 1e-13 * cond
            np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(ref).max())


def test_padding_of_the_step_logic_keeps_a_badly_scaled_hessian_definite() -> None:
    # Curvatures 1e16 and 1e4 (a scale parameter far below the data's spread):
    # a padded unit curvature read as singular next to them.
    from thetahat.optimize import _newton_step, _pad_derivatives

    g = np.array([1.0, 1.0])
    _, gp, hp = _pad_derivatives(0.0, g, np.diag([1e16, 1e4]), 4)
    lam, q = np.linalg.eigh(hp)
    step, dec = _newton_step(gp, lam, q, np)
    assert dec == pytest.approx(1e-16 + 1e-4, rel=1e-12)
    np.testing.assert_allclose(step, [-1e-16, -1e-4, 0.0, 0.0], rtol=1e-12, atol=1e-30)


def test_badly_scaled_information_is_not_mistaken_for_singular() -> None:
    # 70,000 Cauchy draws span ~1e5 sigma: scaled by their range, sigma was
    # ~1e-5 and the information in z reached 1e14, next to which the step
    # logic's padded unit curvature read as a singular Hessian.
    import scipy.stats as st

    x = np.random.default_rng(3449426602).standard_cauchy(70_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = thetahat.fit(x, "cauchy")
    assert res.converged and res.hessian_ok
    loc, scale = st.cauchy.fit(x)
    assert res.loglik >= st.cauchy.logpdf(x, loc, scale).sum() - 1e-9 * abs(res.loglik)


def test_student_t_local_maximum_below_the_normal_limit_is_not_the_answer() -> None:
    # On these five points the t likelihood peaks at df = 2.7 (loglik -103.084),
    # below its supremum, the normal limit df -> inf (-103.059): the fit must
    # reach the limit (a boundary estimate), never stop at the local peak.
    x = np.array([4.77826419e8, -1.25426315e8, 2.47522165e8, 4.49356733e8, 3.15205973e8])
    normal = thetahat.fit(x, "normal")
    res, record = fit_recording(x, "student_t")
    assert res.loglik >= normal.loglik - 1e-9 * abs(normal.loglik), res.params
    assert "df" in res.at_boundary
    assert res.params["mu"] == pytest.approx(normal.params["mu"], rel=1e-7)
    assert all(issubclass(w.category, ThetahatWarning) for w in record)


def test_heavy_tails_are_standardised_by_their_quartiles() -> None:
    # Student-t with df = 0.8: 70,000 draws span ~1e7 interquartile ranges.
    # Scaled by the range, the information in sigma was 1e14 times that in
    # df: the fit stalled at df = 2.4, 19,500 log-likelihood units short.
    fam = thetahat.get_family("student_t")
    x = 1e6 + np.random.default_rng(4263242280).standard_t(0.8, 70_000)
    res = thetahat.fit(x, "student_t")
    assert res.converged
    assert res.params["df"] == pytest.approx(0.8, abs=0.02)
    true = {"df": 0.8, "mu": 1e6, "sigma": 1.0}
    with jax.enable_x64(True):
        at_truth = float(jnp.sum(fam.logpdf(jnp.asarray(x), **true)))
    assert res.loglik >= at_truth
    near = thetahat.fit(x - 1e6, "student_t")
    assert near.params["df"] == pytest.approx(res.params["df"], rel=1e-8)


def test_one_far_outlier_does_not_distort_a_cauchy_fit() -> None:
    # 1,000 Cauchy draws and one value at 1e9: scaled by the range, the fit
    # ended at sigma = 29 (loglik -4599 against scipy's -2501).
    import scipy.stats as st

    x = np.append(np.random.default_rng(5).standard_cauchy(1000), 1e9)
    res = thetahat.fit(x, "cauchy")
    assert res.converged
    loc, scale = st.cauchy.fit(x)
    assert res.loglik >= st.cauchy.logpdf(x, loc, scale).sum() - 1e-9 * abs(res.loglik)
    assert res.params["sigma"] == pytest.approx(1.0, abs=0.15)
