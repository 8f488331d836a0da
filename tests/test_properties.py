"""Invariances of the maximum-likelihood fit, checked with hypothesis.

Scale and location equivariance, permutation invariance, duplication and
weights, extreme magnitudes, and "never lie" fuzzing of tiny arbitrary
arrays. Deterministic: hypothesis is derandomised, data come from seeded
draws of each family at its example parameters.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import thetahat
from thetahat import DataError, FitResult, ThetahatWarning
from thetahat.families import get_family

from conftest import sample

# hypothesis' failure report touches mypy_extensions.TypedDict, which warns on
# import; under filterwarnings=error that would hide the falsifying example.
pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict:DeprecationWarning")

SETTINGS = settings(deadline=None, max_examples=25, derandomize=True)

WANTED = ["normal", "student_t", "gamma", "weibull", "lognormal", "exponential", "poisson"]
PROPERTY_FAMILIES = [n for n in WANTED if n in thetahat.families()]
CONTINUOUS = [n for n in PROPERTY_FAMILIES if not get_family(n).is_discrete]
LOCATION_SCALE = [
    n for n in PROPERTY_FAMILIES
    if get_family(n).standardize in ("location-scale", "robust location-scale")
]
UNIVARIATE = [n for n in thetahat.families() if get_family(n).data_ndim == 1]

seeds = st.integers(0, 2**20)


# -- helpers ----------------------------------------------------------------
def fit_recording(x: Any, name: str, **kw: Any) -> tuple[FitResult, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = thetahat.fit(x, name, **{**get_family(name).example_fit_kwargs, **kw})
    return res, record


def clean_fit(x: Any, name: str, **kw: Any) -> FitResult:
    """A fit that must succeed without any warning (the data are well posed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return thetahat.fit(x, name, **{**get_family(name).example_fit_kwargs, **kw})


def base_fit(name: str, seed: int, n: int) -> tuple[np.ndarray, FitResult]:
    """Data from the family and its fit; examples whose fit is not clean are skipped."""
    x = sample(name, n, seed)
    res, record = fit_recording(x, name)
    assume(res.converged and not record)
    return x, res


def close(a: Any, b: Any, rtol: float, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=atol)


def rtol_for(res: FitResult) -> float:
    """Closed forms are exact to rounding; iterative fits to the optimiser's tolerance."""
    return 1e-12 if res.method == "closed form" else 1e-8


def scaled(role: str, value: Any, c: float) -> Any:
    """How a parameter of this role moves when the data are multiplied by c > 0."""
    return {
        "location": lambda v: v * c,
        "scale": lambda v: v * c,
        "rate": lambda v: v / c,
        "log_location": lambda v: v + math.log(c),
    }.get(role, lambda v: v)(np.asarray(value, float))


def assert_equivariant_scale(base: FitResult, res: FitResult, c: float, n: float, rtol: float) -> None:
    fam = base.family
    for p in fam.params:
        want = scaled(p.role, base.params[p.name], c)
        atol = 1e-13 * abs(math.log(c)) if p.role == "log_location" else 0.0
        close(res.params[p.name], want, rtol=rtol, atol=atol)
    for name in base.se:
        role = fam.param(name).role
        want_se = np.asarray(base.se[name]) * (c if role in ("location", "scale") else 1 / c if role == "rate" else 1)
        close(res.se[name], want_se, rtol=max(rtol, 1e-12))
    shift = n * math.log(c)
    close(res.loglik, base.loglik - shift, rtol=0, atol=1e-12 * (abs(base.loglik) + abs(shift)) + 1e-12)


# -- scale and location ---------------------------------------------------------
@pytest.mark.parametrize("name", CONTINUOUS)
@SETTINGS
@given(seed=seeds, n=st.integers(20, 80), j=st.integers(-200, 200))
def test_scaling_by_a_power_of_two_is_exact(name: str, seed: int, n: int, j: int) -> None:
    x, base = base_fit(name, seed, n)
    c = 2.0**j
    res = clean_fit(x * c, name)
    assert res.converged
    assert_equivariant_scale(base, res, c, n, rtol=1e-12)


@pytest.mark.parametrize("name", CONTINUOUS)
@SETTINGS
@given(seed=seeds, n=st.integers(20, 80), j=st.integers(-30, 30))
def test_scaling_by_a_power_of_ten_is_equivariant(name: str, seed: int, n: int, j: int) -> None:
    x, base = base_fit(name, seed, n)
    c = 10.0**j
    res = clean_fit(x * c, name)
    assert_equivariant_scale(base, res, c, n, rtol=max(rtol_for(base), 1e-11))


@pytest.mark.parametrize("name", LOCATION_SCALE)
@SETTINGS
@given(seed=seeds, n=st.integers(20, 80), shift=st.floats(-1e3, 1e3))
def test_location_equivariance(name: str, seed: int, n: int, shift: float) -> None:
    x, base = base_fit(name, seed, n)
    res = clean_fit(x + shift, name)
    fam = base.family
    spread = float(np.ptp(x))
    for p in fam.params:
        if p.role == "location":
            close(res.params[p.name], base.params[p.name] + shift, rtol=0,
                  atol=1e-9 * (abs(shift) + spread))
        else:
            close(res.params[p.name], base.params[p.name], rtol=1e-8 * (1 + abs(shift) / spread))
    close(res.loglik, base.loglik, rtol=1e-9 * (1 + abs(shift) / spread))


# -- permutation, duplication, weights ---------------------------------------------
@pytest.mark.parametrize("name", PROPERTY_FAMILIES)
@SETTINGS
@given(seed=seeds, n=st.integers(20, 80), perm_seed=seeds)
def test_permutation_invariance(name: str, seed: int, n: int, perm_seed: int) -> None:
    x, base = base_fit(name, seed, n)
    res = clean_fit(np.random.default_rng(perm_seed).permutation(x), name)
    for k in base.params:
        close(res.params[k], base.params[k], rtol=1e-10 if base.method == "closed form" else 1e-8)
    for k in base.se:
        close(res.se[k], base.se[k], rtol=1e-8)
    close(res.loglik, base.loglik, rtol=1e-12)


@pytest.mark.parametrize("name", PROPERTY_FAMILIES)
@SETTINGS
@given(seed=seeds, n=st.integers(20, 80))
def test_duplicating_the_data_doubles_loglik_and_shrinks_se(name: str, seed: int, n: int) -> None:
    x, base = base_fit(name, seed, n)
    res = clean_fit(np.concatenate([x, x]), name)
    rtol = rtol_for(base)
    for k in base.params:
        close(res.params[k], base.params[k], rtol=rtol, atol=1e-14)
    for k in base.se:
        close(res.se[k], np.asarray(base.se[k]) / math.sqrt(2), rtol=max(rtol, 1e-10))
    close(res.loglik, 2 * base.loglik, rtol=1e-12)
    assert res.nobs == 2 * base.nobs


@pytest.mark.parametrize("name", PROPERTY_FAMILIES)
@SETTINGS
@given(seed=seeds, n=st.integers(20, 60), w_seed=seeds)
def test_integer_weights_equal_replication(name: str, seed: int, n: int, w_seed: int) -> None:
    x, _ = base_fit(name, seed, n)
    counts = np.random.default_rng(w_seed).integers(1, 5, size=n)
    weighted = clean_fit(x, name, weights=counts)
    repeated = clean_fit(np.repeat(x, counts), name)
    rtol = rtol_for(repeated)
    for k in repeated.params:
        close(weighted.params[k], repeated.params[k], rtol=rtol, atol=1e-14)
    for k in repeated.se:
        close(weighted.se[k], repeated.se[k], rtol=max(rtol, 1e-10))
    close(weighted.loglik, repeated.loglik, rtol=1e-11)
    assert weighted.nobs == repeated.nobs


@pytest.mark.parametrize("name", PROPERTY_FAMILIES)
@SETTINGS
@given(seed=seeds, n=st.integers(20, 60), w_seed=seeds)
def test_zero_weight_equals_deletion(name: str, seed: int, n: int, w_seed: int) -> None:
    x = sample(name, n, seed)
    keep = np.random.default_rng(w_seed).random(n) < 0.7
    assume(keep.sum() >= 10)
    deleted, record = fit_recording(x[keep], name)
    assume(deleted.converged and not record)
    zeroed = clean_fit(x, name, weights=keep.astype(float))
    rtol = rtol_for(deleted)
    for k in deleted.params:
        close(zeroed.params[k], deleted.params[k], rtol=rtol, atol=1e-14)
    for k in deleted.se:
        close(zeroed.se[k], deleted.se[k], rtol=max(rtol, 1e-10))
    close(zeroed.loglik, deleted.loglik, rtol=1e-12)
    assert zeroed.nobs == deleted.nobs


@pytest.mark.parametrize("name", PROPERTY_FAMILIES)
@SETTINGS
@given(seed=seeds, n=st.integers(20, 60), alpha=st.floats(1e-3, 1e3))
def test_scaling_the_weights_scales_the_loglik(name: str, seed: int, n: int, alpha: float) -> None:
    x, base = base_fit(name, seed, n)
    res = clean_fit(x, name, weights=np.full(n, alpha))
    rtol = rtol_for(base) if base.method == "closed form" else 1e-7
    for k in base.params:
        close(res.params[k], base.params[k], rtol=rtol, atol=1e-14)
    for k in base.se:
        close(res.se[k], np.asarray(base.se[k]) / math.sqrt(alpha), rtol=max(rtol, 1e-10))
    close(res.loglik, alpha * base.loglik, rtol=1e-11)


# -- extreme magnitudes ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["normal", "gamma"])
@pytest.mark.parametrize("c", [1e300, 1e150, 1e-150, 1e-300])
def test_extreme_magnitudes_are_equivariant_without_overflow(name: str, c: float) -> None:
    assert name in thetahat.families(), f"family {name!r} is not registered yet"
    x = sample(name, 200, seed=11)
    base = clean_fit(x, name)
    res = clean_fit(x * c, name)  # no RuntimeWarning, no HessianWarning
    assert res.converged
    for k, v in res.se.items():
        assert np.all(np.isfinite(v)) and np.all(np.asarray(v) > 0), (k, v)
    assert_equivariant_scale(base, res, c, x.size, rtol=1e-12)
    lo, hi = res.conf_int()[next(iter(res.se))]
    assert np.isfinite(lo) and np.isfinite(hi) and lo < hi


# -- never lie -------------------------------------------------------------------------
SPECIAL = [0.0, -0.0, 1.0, 2.0, 3.0, 0.5, -1.5, 5e-324, -5e-324, 2.2250738585072014e-308,
           1e-300, 1e-150, 1e150, 1e300, 1e308, -1e308, 1.7976931348623157e308, np.nan, np.inf]
values = st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True),
                   st.integers(0, 5).map(float))


def assert_never_lies(name: str, x: np.ndarray) -> None:
    try:
        res, record = fit_recording(x, name)
    except DataError:
        return
    foreign = [f"{w.category.__name__}: {w.message}" for w in record if not issubclass(w.category, ThetahatWarning)]
    assert not foreign, foreign
    assert np.isfinite(res.loglik), res.loglik
    logpdf = res.logpdf(x)
    total = float(np.sum(logpdf))
    np.testing.assert_allclose(res.loglik, total, rtol=1e-9, atol=1e-9, err_msg=str(res.params))
    assert res.n_iter <= 200
    if res.converged:
        for p in res.family.params:
            value = np.asarray(res.params[p.name], float)
            assert np.all(np.isfinite(value)), (p.name, value)
            assert p.constraint.check(value) or p.name in res.at_boundary or p.name in res.family.irregular, (
                p.name, value)
        assert np.all(np.isfinite(logpdf)), "an observation lies outside the fitted support"


@pytest.mark.parametrize("name", UNIVARIATE)
@SETTINGS
@given(data=st.lists(values, min_size=0, max_size=6))
@example(data=[0.0, 5e-324])  # the MLE of sigma (2.5e-324) is not representable
@example(data=[-1e308, 0.0])  # 1/sigma is subnormal
@example(data=[0.5, 1.0, 2.2e-308, 1e308, 0.0])  # the variance of mu overflows
@example(data=[-5e-324, 1e-300, 2.2e-308, 5e-324])  # subnormal data
@example(data=[1.0, 1.0, 2.0, 2.0])  # duplicates, fewer distinct values than parameters
@example(data=[3.0, 3.0, 3.0])
@example(data=[1e300, -1e300, 1e300])
def test_never_lie_on_arbitrary_small_arrays(name: str, data: list[float]) -> None:
    assert_never_lies(name, np.array(data, dtype=float))
