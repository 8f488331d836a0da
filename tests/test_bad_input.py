"""Bad input, degenerate data and misuse: the reliability contract, case by case.

Every case of RELIABILITY.md "Cases every family and model is tested on" that
applies to univariate fits. Generic cases loop over every univariate family
registered at collection time (so new families are covered automatically);
family-specific ones name their family and fail with a clear message if it
is not registered.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import thetahat
from thetahat import ConvergenceWarning, DataError, FitError, FitResult, ThetahatWarning
from thetahat.constraints import Interval, Simplex
from thetahat.families import get_family
from thetahat.families.base import Family

from conftest import sample

UNIVARIATE = [n for n in thetahat.families() if get_family(n).data_ndim == 1]
MULTIVARIATE = [n for n in thetahat.families() if get_family(n).data_ndim == 2]
CONTINUOUS = [n for n in UNIVARIATE if not get_family(n).is_discrete]
DISCRETE = [n for n in UNIVARIATE if get_family(n).is_discrete]


# -- helpers ----------------------------------------------------------------
def require(name: str) -> Family:
    """The family ``name``; a clear failure (not a skip) if it is not registered."""
    assert name in thetahat.families(), f"family {name!r} is not registered yet"
    return get_family(name)


def kwargs(name: str) -> dict[str, Any]:
    return dict(get_family(name).example_fit_kwargs)


def free_params(fam: Family) -> list[str]:
    fixed = fam.example_fit_kwargs.get("fixed", {})
    return [p.name for p in fam.params if p.name not in fixed and not p.known and p.default is None]


def n_free(fam: Family) -> int:
    """Number of free scalar parameters in the default fit."""
    k = 0
    for name in free_params(fam):
        size = int(np.size(fam.example_params.get(name, 0.0)))
        k += size - 1 if isinstance(fam.param(name).constraint, Simplex) else size
    return k


def valid_data(name: str, n: int = 30, seed: int = 0) -> np.ndarray:
    return sample(name, n, seed)


def fit_recording(x: Any, name: str, **kw: Any) -> tuple[FitResult, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = thetahat.fit(x, name, **kw)
    return res, record


def assert_honest(res: FitResult, x: np.ndarray, record: list[warnings.WarningMessage]) -> None:
    """A result never lies: own warnings only, finite loglik = sum of logpdf."""
    foreign = [f"{w.category.__name__}: {w.message}" for w in record if not issubclass(w.category, ThetahatWarning)]
    assert not foreign, foreign
    assert np.isfinite(res.loglik), res.loglik
    np.testing.assert_allclose(res.loglik, float(np.sum(res.logpdf(x))), rtol=1e-10, atol=1e-10)
    if res.converged:
        for p in res.family.params:
            assert p.constraint.check(np.asarray(res.params[p.name])) or p.name in res.at_boundary, (
                p.name, res.params[p.name])


def assert_same_fit(a: FitResult, b: FitResult) -> None:
    assert a.params.keys() == b.params.keys()
    for k in a.params:
        np.testing.assert_array_equal(np.asarray(a.params[k]), np.asarray(b.params[k]), err_msg=k)
    assert a.loglik == b.loglik
    for k in a.se:
        np.testing.assert_array_equal(np.asarray(a.se[k]), np.asarray(b.se[k]), err_msg=k)


def with_value(x: np.ndarray, index: int, value: float) -> np.ndarray:
    out = np.array(x, dtype=float)
    out[index] = value
    return out


# -- empty, NaN, inf --------------------------------------------------------
@pytest.mark.parametrize("name", UNIVARIATE)
@pytest.mark.parametrize("empty", [[], np.array([]), np.zeros(0, dtype=np.int64)], ids=["list", "float", "int"])
def test_empty_data_is_rejected(name: str, empty: Any) -> None:
    with pytest.raises(DataError, match="empty"):
        thetahat.fit(empty, name, **kwargs(name))


@pytest.mark.parametrize("name", UNIVARIATE)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_one_non_finite_value_is_rejected_with_count_and_position(name: str, bad: float) -> None:
    x = with_value(valid_data(name), 3, bad)
    with pytest.raises(DataError, match=rf"1 value; the first is .*{re.escape(str(bad))}.* at index 3"):
        thetahat.fit(x, name, **kwargs(name))


@pytest.mark.parametrize("name", UNIVARIATE)
def test_several_nans_are_counted(name: str) -> None:
    x = valid_data(name)
    x[[4, 7, 9]] = np.nan
    with pytest.raises(DataError, match=r"3 values; the first is .*nan.* at index 4"):
        thetahat.fit(x, name, **kwargs(name))


def test_nan_in_a_zero_weight_row_is_still_rejected() -> None:
    x = np.array([1.0, 2.0, np.nan, 4.0])
    with pytest.raises(DataError, match="index 2"):
        thetahat.fit(x, "normal", weights=[1.0, 1.0, 0.0, 1.0])


# -- strings and dtypes -----------------------------------------------------
def _string_inputs(name: str) -> dict[str, Any]:
    text = [repr(float(v)) for v in valid_data(name, 8)]
    return {
        "unicode": np.array(text),
        "bytes": np.array([t.encode() for t in text]),
        "object": np.array(text, dtype=object),
        "list": list(text),
        "pandas": pd.Series(text, dtype=object),
    }


@pytest.mark.parametrize("name", UNIVARIATE)
@pytest.mark.parametrize("kind", ["unicode", "bytes", "object", "list", "pandas"])
def test_numeric_strings_are_rejected(name: str, kind: str) -> None:
    # Strings are rejected by every entry alike, even when they parse as numbers.
    with pytest.raises(DataError, match="numeric"):
        thetahat.fit(_string_inputs(name)[kind], name, **kwargs(name))


def test_non_numeric_object_is_named_with_its_position() -> None:
    with pytest.raises(DataError, match=r"1 value; the first is 'a' at index 1"):
        thetahat.fit(np.array([1.0, "a", 3.0], dtype=object), "normal")


def test_complex_data_is_rejected() -> None:
    with pytest.raises(DataError, match="real"):
        thetahat.fit(np.array([1 + 1j, 2.0, 3.0]), "normal")


@pytest.mark.parametrize("name", UNIVARIATE)
@pytest.mark.parametrize("dtype", [np.float32, object], ids=["float32", "object"])
def test_float32_and_object_input_give_the_float64_answer(name: str, dtype: Any) -> None:
    x64 = valid_data(name, 40, seed=1).astype(dtype).astype(np.float64)  # the values as given
    res = thetahat.fit(x64.astype(dtype), name, **kwargs(name))
    assert_same_fit(res, thetahat.fit(x64, name, **kwargs(name)))


@pytest.mark.parametrize("name", UNIVARIATE)
def test_integer_input_gives_the_float64_answer(name: str) -> None:
    fam = get_family(name)
    x = valid_data(name, 40, seed=2)
    if not fam.is_discrete:
        x = np.round(x * 8)  # integers on the data's own scale
    fixed = {k: float(v) for k, v in fam.example_fit_kwargs.get("fixed", {}).items()}
    if fam.support.outside(x, fixed).any() or np.unique(x).size < 3:
        pytest.skip(f"no spread of integers inside the support of {name}")
    res = thetahat.fit(x.astype(np.int64), name, **kwargs(name))
    assert_same_fit(res, thetahat.fit(x, name, **kwargs(name)))


def test_large_integers_do_not_overflow_sums_of_squares() -> None:
    # int64 squares of 3e9 overflow; the data must be cast before any arithmetic.
    x = 3_000_000_000 + np.array([0, 7, 3, 12, 5, 9, 1, 4], dtype=np.int64) * 1_000_000
    res = thetahat.fit(x, "normal")
    xf = x.astype(np.float64)
    assert res.params["mu"] == pytest.approx(np.mean(xf), rel=1e-15)
    assert res.params["sigma"] == pytest.approx(np.std(xf), rel=1e-13)


@pytest.mark.parametrize("name", ["normal", "bernoulli"])
def test_bool_input_gives_the_float64_answer(name: str) -> None:
    require(name)
    b = np.array([True, False, False, True, True, False, True, False, False, False])
    assert_same_fit(thetahat.fit(b, name), thetahat.fit(b.astype(np.float64), name))


# -- shape ------------------------------------------------------------------
@pytest.mark.parametrize("name", UNIVARIATE)
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4), ()], ids=["2d", "3d", "0d"])
def test_wrong_shape_is_rejected(name: str, shape: tuple[int, ...]) -> None:
    x = np.resize(valid_data(name, 24), shape)
    with pytest.raises(DataError, match=r"1-D"):
        thetahat.fit(x, name, **kwargs(name))


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_one_dimensional_data_for_a_multivariate_family_is_rejected(name: str) -> None:
    with pytest.raises(DataError, match=r"2-D"):
        thetahat.fit(np.arange(10.0), name, **kwargs(name))


# -- support ----------------------------------------------------------------
OUTSIDE_SUPPORT = [
    ("gamma", -1.5),
    ("weibull", -1.5),
    ("exponential", -0.25),
    ("lognormal", 0.0),  # on the open edge of (0, inf)
    ("lognormal", -2.0),
    ("beta", 1.5),
    ("beta", 0.0),  # open edge of (0, 1)
    ("poisson", 2.5),  # not an integer count
    ("poisson", -1.0),
    ("bernoulli", 0.5),
    ("bernoulli", 2.0),
    ("binomial", 13.0),  # above the known n = 12
    ("geometric", 1.5),
    ("negative_binomial", -3.0),
    ("von_mises", 4.0),
]


@pytest.mark.parametrize(("name", "bad"), OUTSIDE_SUPPORT)
def test_value_outside_the_support_names_count_and_first_value(name: str, bad: float) -> None:
    require(name)
    x = with_value(valid_data(name), 2, bad)
    with pytest.raises(DataError, match=rf"1 value; the first is .*{re.escape(repr(bad))}.* at index 2") as err:
        thetahat.fit(x, name, **kwargs(name))
    assert name in str(err.value) and "support" in str(err.value)


@pytest.mark.parametrize(("name", "bad"), [("gamma", -1.0), ("poisson", 0.5), ("beta", 2.0)])
def test_several_values_outside_the_support_are_counted(name: str, bad: float) -> None:
    require(name)
    x = valid_data(name)
    x[[5, 8]] = bad
    with pytest.raises(DataError, match=rf"2 values; the first is .*{re.escape(repr(bad))}.* at index 5"):
        thetahat.fit(x, name, **kwargs(name))


def test_zero_weight_row_outside_the_support_is_still_rejected() -> None:
    require("poisson")
    x = np.array([1.0, 3.0, -2.0, 0.0, 4.0])
    with pytest.raises(DataError, match="index 2"):
        thetahat.fit(x, "poisson", weights=[1.0, 1.0, 0.0, 1.0, 1.0])


# -- too little or degenerate data -------------------------------------------
@pytest.mark.parametrize("name", [n for n in CONTINUOUS if n_free(get_family(n)) >= 2])
def test_one_observation_cannot_identify_several_parameters(name: str) -> None:
    with pytest.raises(DataError, match="cannot identify"):
        thetahat.fit(valid_data(name, 1), name, **kwargs(name))


@pytest.mark.parametrize("name", [n for n in UNIVARIATE if n not in CONTINUOUS or n_free(get_family(n)) < 2])
def test_one_observation_otherwise_never_lies(name: str) -> None:
    # One parameter, or a count family whose MLE may sit on the boundary.
    x = valid_data(name, 1)
    try:
        res, record = fit_recording(x, name, **kwargs(name))
    except DataError:
        return
    assert_honest(res, x, record)


#: Families whose MLE exists for identical non-zero values (a scale measured
#: from a fixed origin): parameter -> its estimate from the value.
ESTIMABLE_WHEN_CONSTANT = {"exponential": ("rate", lambda v: 1 / v), "half_normal": ("sigma", abs)}


@pytest.mark.parametrize("name", CONTINUOUS)
def test_all_identical_values_are_rejected_where_no_mle_exists(name: str) -> None:
    value = float(np.median(valid_data(name, 11)))
    if name not in ESTIMABLE_WHEN_CONSTANT:
        with pytest.raises(DataError, match="identical|every observation equals"):
            thetahat.fit(np.full(12, value), name, **kwargs(name))
        return
    x = np.full(12, value)
    res, record = fit_recording(x, name, **kwargs(name))
    assert_honest(res, x, record)
    param, estimate = ESTIMABLE_WHEN_CONSTANT[name]
    assert res.params[param] == pytest.approx(estimate(value), rel=1e-14)
    with pytest.raises(DataError, match="identical"):  # at the origin: rate or sigma degenerate
        thetahat.fit(np.zeros(12), name, **kwargs(name))


@pytest.mark.parametrize("name", DISCRETE)
def test_all_identical_counts_never_lie(name: str) -> None:
    x = np.full(12, float(np.median(valid_data(name, 11))))
    try:
        res, record = fit_recording(x, name, **kwargs(name))
    except DataError:
        return
    assert_honest(res, x, record)


@pytest.mark.parametrize("name", [n for n in UNIVARIATE if n_free(get_family(n)) >= 3])
def test_fewer_observations_than_parameters_are_rejected(name: str) -> None:
    x = np.unique(valid_data(name, 20))[: n_free(get_family(name)) - 1]
    with pytest.raises(DataError, match="cannot identify"):
        thetahat.fit(x, name, **kwargs(name))


@pytest.mark.parametrize("name", [n for n in CONTINUOUS if n_free(get_family(n)) >= 3])
def test_fewer_distinct_values_than_parameters_are_rejected(name: str) -> None:
    # Two distinct values, each repeated: no MLE of three parameters exists
    # (for the Student t the likelihood is unbounded as sigma, df -> 0).
    a, b = np.unique(valid_data(name, 20))[[3, 12]]
    with pytest.raises(DataError):
        thetahat.fit(np.repeat([a, b], 5), name, **kwargs(name))


# -- arguments ----------------------------------------------------------------
@pytest.mark.parametrize("family", ["nosuch", "Normal", "", 123, None])
def test_unknown_family_is_rejected_with_the_choices(family: Any) -> None:
    with pytest.raises(DataError, match=r"unknown family .*normal"):
        thetahat.fit([1.0, 2.0, 3.0], family)


def test_unknown_method_is_rejected() -> None:
    with pytest.raises(DataError, match="method"):
        thetahat.fit([1.0, 2.0, 3.0], "normal", method="newton")


@pytest.mark.parametrize("name", UNIVARIATE)
@pytest.mark.parametrize("arg", ["fixed", "free", "bounds", "start"])
def test_unknown_parameter_name_is_rejected(name: str, arg: str) -> None:
    value: Any = {"fixed": {"bogus": 1.0}, "free": ["bogus"], "bounds": {"bogus": (0.0, 1.0)},
                  "start": {"bogus": 1.0}}[arg]
    kw = kwargs(name)
    kw[arg] = {**kw.get(arg, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(DataError, match=rf"{arg} names unknown parameter\(s\) \['bogus'\]"):
        thetahat.fit(valid_data(name), name, **kw)


def _outside_domain(fam: Family, name: str) -> list[Any]:
    constraint = fam.param(name).constraint
    bad: list[Any] = [np.nan, np.inf]
    if isinstance(constraint, Interval):
        low, high = constraint.low, constraint.high
        if isinstance(low, float) and np.isfinite(low):
            bad += [low, low - 1.0]
        if isinstance(high, float) and np.isfinite(high):
            bad += [high, high + 0.5]
    if isinstance(constraint, Simplex):
        k = np.size(fam.example_params[name])
        bad = [np.full(k, 1.0), np.full(k, -1.0 / k)]
    return bad


FIXED_OUTSIDE = [
    (n, p, v)
    for n in UNIVARIATE
    for p in free_params(get_family(n))
    for v in _outside_domain(get_family(n), p)
]


@pytest.mark.parametrize(("name", "param", "value"), FIXED_OUTSIDE)
def test_fixed_value_outside_its_domain_is_rejected(name: str, param: str, value: Any) -> None:
    kw = kwargs(name)
    kw["fixed"] = {**kw.get("fixed", {}), param: value}
    with pytest.raises(DataError, match=rf"fixed value of '{param}'"):
        thetahat.fit(valid_data(name), name, **kw)


@pytest.mark.parametrize("name", ["normal", "student_t"])
@pytest.mark.parametrize(
    "kw",
    [
        {"fixed": {"sigma": "a"}},
        {"fixed": {"sigma": [1.0, 2.0]}},
        {"bounds": {"mu": 5.0}},
        {"bounds": {"mu": (np.nan, 1.0)}},
        {"bounds": {"mu": (0.0, 1.0, 2.0)}},
        {"start": {"mu": np.nan}},
        {"start": {"sigma": np.inf}},
        {"start": {"sigma": -1.0}},
        {"start": {"mu": "a"}},
    ],
    ids=lambda kw: repr(kw),
)
def test_malformed_fixed_bounds_and_start_are_rejected(name: str, kw: dict[str, Any]) -> None:
    with pytest.raises(DataError):
        thetahat.fit(valid_data(name), name, **kw)


def test_bounds_are_honoured_by_the_closed_form() -> None:
    # The constrained sup is at mu -> 10 with sigma^2 = mean((x - 10)^2); a fit
    # that returns the unconstrained sigma with mu clipped to 10 is not a maximum.
    x = np.random.default_rng(1).normal(3.0, 2.0, 300)
    profile = float(np.sum(get_family("normal").scipy_dist(10.0, np.sqrt(np.mean((x - 10.0) ** 2))).logpdf(x)))
    try:
        res, record = fit_recording(x, "normal", bounds={"mu": (10.0, 20.0)})
    except (DataError, FitError):
        return
    assert_honest(res, x, record)
    if res.converged:
        assert res.loglik >= profile - 1e-9 * abs(profile), (res.params, res.loglik, profile)
        assert 10.0 <= res.params["mu"] <= 20.0


@pytest.mark.parametrize("name", UNIVARIATE)
def test_all_parameters_fixed_gives_the_loglik_or_a_clear_error(name: str) -> None:
    fam = get_family(name)
    fixed = {**fam.example_fit_kwargs.get("fixed", {}), **fam.example_params}
    x = valid_data(name)
    try:
        res, record = fit_recording(x, name, fixed=fixed)
    except DataError:
        return
    assert res.n_free == 0 and not record
    with jax.enable_x64(True):
        p = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in fixed.items()}
        expected = float(jnp.sum(fam.logpdf(jnp.asarray(x), **p)))
    np.testing.assert_allclose(res.loglik, expected, rtol=1e-12)


# -- weights --------------------------------------------------------------------
@pytest.mark.parametrize("name", UNIVARIATE)
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda n: np.r_[np.ones(n - 1), -1.0], r"non-negative: 1 value; the first is .*-1\.0"),
        (lambda n: np.ones(n - 1), r"one entry per observation"),
        (lambda n: np.ones(n + 1), r"one entry per observation"),
        (lambda n: np.zeros(n), r"all zero"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], r"weights contains non-finite"),
        (lambda n: np.ones((n, 2)), r"weights must be a 1-D"),
        (lambda n: np.array(["1"] * n), r"weights must be numeric"),
    ],
    ids=["negative", "short", "long", "all-zero", "nan", "2d", "strings"],
)
def test_bad_weights_are_rejected(name: str, make: Callable[[int], Any], match: str) -> None:
    x = valid_data(name)
    with pytest.raises(DataError, match=match):
        thetahat.fit(x, name, weights=make(x.shape[0]), **kwargs(name))


# -- pathological starts and tiny iteration limits ---------------------------------
def _pathological_start(fam: Family) -> dict[str, Any]:
    start: dict[str, Any] = {}
    for name in free_params(fam):
        value = np.asarray(fam.example_params[name], dtype=float)
        constraint = fam.param(name).constraint
        if isinstance(constraint, Simplex):
            start[name] = np.r_[1.0 - 1e-4 * (value.size - 1), np.full(value.size - 1, 1e-4)]
        elif isinstance(constraint, Interval) and np.isfinite(float(constraint.high)):
            start[name] = float(constraint.low) + 1e-4 * (float(constraint.high) - float(constraint.low))
        elif isinstance(constraint, Interval) and np.isfinite(float(constraint.low)):
            start[name] = float(value) * 1e4
        else:
            start[name] = float(value) + 1e4 * (1.0 + abs(float(value)))
    return start


NUMERICAL = [n for n in UNIVARIATE if not get_family(n).irregular]


@pytest.mark.parametrize("name", NUMERICAL)
def test_pathological_start_with_one_iteration_reports_non_convergence(name: str) -> None:
    fam = get_family(name)
    x = valid_data(name, 100)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = thetahat.fit(x, name, method="numerical", start=_pathological_start(fam), max_iter=1, **kwargs(name))
    assert not res.converged
    assert res.n_iter <= 1


@pytest.mark.parametrize("name", NUMERICAL)
def test_strict_turns_non_convergence_into_fit_error(name: str) -> None:
    fam = get_family(name)
    with pytest.raises(FitError, match="did not converge"):
        thetahat.fit(valid_data(name, 100), name, method="numerical", start=_pathological_start(fam),
                     max_iter=1, strict=True, **kwargs(name))


# -- inputs are never mutated ---------------------------------------------------------
@pytest.mark.parametrize("name", UNIVARIATE)
def test_inputs_are_never_mutated(name: str) -> None:
    x = valid_data(name, 50)
    w = np.random.default_rng(3).integers(1, 4, size=x.shape[0]).astype(float)
    x_before, w_before = x.copy(), w.copy()
    fit_recording(x, name, weights=w, **kwargs(name))
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(w, w_before)
    x.setflags(write=False)
    w.setflags(write=False)
    fit_recording(x, name, weights=w, **kwargs(name))  # read-only inputs are fine


def test_list_and_pandas_inputs_give_the_array_answer() -> None:
    x = valid_data("normal", 25)
    ref = thetahat.fit(x, "normal")
    assert_same_fit(thetahat.fit(list(x), "normal"), ref)
    assert_same_fit(thetahat.fit(pd.Series(x), "normal"), ref)
