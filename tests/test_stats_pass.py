"""The fused statistics pass over large unweighted data (thetahat.stats_pass).

Its statistics must equal the numpy passes' (``sufficient_stats``) to a few
ulps, whatever the length and the alignment of the data, and every kind of
bad value must still raise the numpy path's DataError.
"""

import numpy as np
import pytest

import thetahat
from thetahat.errors import DataError
from thetahat.families import get_family
from thetahat.stats_pass import MIN_ROWS, summarize

FUSED = {
    "normal": lambda r, n: r.normal(3.0, 2.0, n),
    "lognormal": lambda r, n: r.lognormal(0.5, 0.7, n),
    "gamma": lambda r, n: r.gamma(2.5, 1.5, n),
    "exponential": lambda r, n: 4.0 + r.exponential(2.0, n),
    "half_normal": lambda r, n: np.abs(r.normal(0.0, 2.0, n)),
    "inverse_gaussian": lambda r, n: r.wald(2.0, 3.0, n),
    "bernoulli": lambda r, n: (r.random(n) < 0.3).astype(float),
    "geometric": lambda r, n: r.geometric(0.3, n) - 1.0,
}
#: Count families whose statistics are a table: the pass only checks the values.
CHECKED = {
    "poisson": (lambda r, n: r.poisson(4.0, n) + 0.0, {}),
    "binomial": (lambda r, n: r.binomial(12, 0.3, n) + 0.0, {"fixed": {"n": 12}}),
    "negative_binomial": (lambda r, n: r.negative_binomial(3.0, 0.4, n) + 0.0, {}),
}
#: Lengths around the block sizes: exactly one block, a masked remainder, many blocks.
LENGTHS = [MIN_ROWS, MIN_ROWS + 1, 70001, (1 << 20) + 7, 2_500_003]


def _unit(n):
    return np.broadcast_to(np.float64(1.0), (n,))


@pytest.mark.parametrize("name", sorted(FUSED))
@pytest.mark.parametrize("n", LENGTHS)
def test_fused_statistics_equal_the_numpy_passes(name, n):
    fam = get_family(name)
    x = FUSED[name](np.random.default_rng(n), n)
    summary = summarize(fam, x)
    assert summary is not None and summary.finite
    assert (summary.low, summary.high) == (x.min(), x.max())
    fused = fam.stats_from_sums(summary)
    assert fused is not None
    expected = fam.sufficient_stats(x, _unit(n))
    np.testing.assert_allclose(fused, expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("offset", range(8))
def test_any_start_in_memory_gives_the_same_sums(offset):
    # The pass skips a head to reach a 64-byte boundary: every offset must
    # count each value once.
    fam = get_family("normal")
    base = np.random.default_rng(1).normal(3.0, 2.0, size=MIN_ROWS * 3 + 20)
    x = base[offset : offset + MIN_ROWS * 3 + 5]
    summary = summarize(fam, x)
    assert summary is not None
    expected = fam.sufficient_stats(x, _unit(x.size))
    np.testing.assert_allclose(fam.stats_from_sums(summary), expected, rtol=1e-13)


def test_small_strided_or_non_float64_data_take_the_numpy_path():
    fam = get_family("normal")
    x = np.random.default_rng(2).normal(size=2 * MIN_ROWS)
    assert summarize(fam, x[: MIN_ROWS - 1]) is None
    assert summarize(fam, x[::2]) is None
    assert summarize(fam, x.astype(np.float32)) is None
    assert summarize(get_family("weibull"), x) is None  # no terms declared


@pytest.mark.parametrize("name", sorted(FUSED))
def test_fit_on_the_fused_path_equals_the_weighted_numpy_path(name):
    n = 100_003
    x = FUSED[name](np.random.default_rng(3), n)
    fused = thetahat.fit(x, name)
    numpy_path = thetahat.fit(x, name, weights=np.ones(n))
    assert fused.method == numpy_path.method == "closed form"
    for key, value in numpy_path.params.items():
        assert fused.params[key] == pytest.approx(value, rel=1e-13)
    for key, value in numpy_path.se.items():
        assert fused.se[key] == pytest.approx(value, rel=1e-12, nan_ok=True)
    assert fused.loglik == pytest.approx(numpy_path.loglik, rel=1e-13)


def test_sums_that_would_lose_digits_fall_back_to_the_numpy_passes():
    # A spread tiny against the distance from the shift to the mean: every
    # strided value the shift is taken from is one of the outlying rows, so
    # the one-pass variance about it would cancel most digits.
    fam = get_family("normal")
    x = 1e8 + np.random.default_rng(4).normal(0.0, 1e-6, MIN_ROWS)
    x[::16] += 1e-3
    assert fam.stats_from_sums(summarize(fam, x)) is None
    res = thetahat.fit(x, "normal")
    assert res.params["sigma"] == pytest.approx(np.std(x), rel=1e-10)


@pytest.mark.parametrize(
    "name, bad, pattern",
    [
        ("normal", np.nan, "non-finite"),
        ("normal", np.inf, "non-finite"),
        ("lognormal", -1.0, "outside the support"),
        ("lognormal", 0.0, "outside the support"),
        ("gamma", -2.0, "outside the support"),
        ("inverse_gaussian", 0.0, "outside the support"),
        ("exponential", -np.inf, "non-finite"),
        ("half_normal", -0.5, "outside the support"),
        ("bernoulli", 0.5, "outside the support"),
        ("bernoulli", 2.0, "outside the support"),
        ("geometric", 2.5, "outside the support"),
        ("geometric", -1.0, "outside the support"),
    ],
)
def test_bad_values_raise_the_numpy_paths_error(name, bad, pattern):
    x = FUSED[name](np.random.default_rng(5), 3 * MIN_ROWS)
    where = 2 * MIN_ROWS + 11  # inside a block, not the copied remainder
    x[where] = bad
    with pytest.raises(DataError, match=pattern) as info:
        thetahat.fit(x, name)
    assert str(where) in str(info.value)  # names the first offending row


def test_fits_in_threads_equal_the_sequential_fits():
    # Each thread pads its leftover rows in buffers of its own.
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(6)
    samples = [rng.normal(i, 1.0 + i, MIN_ROWS * 2 + 1000 + i) for i in range(6)]
    sequential = [thetahat.fit(x, "normal").params for x in samples]
    with ThreadPoolExecutor(3) as pool:
        threaded = list(pool.map(lambda x: thetahat.fit(x, "normal").params, samples))
    assert threaded == sequential


def test_the_pass_runs_only_where_the_statistics_give_the_estimate(monkeypatch):
    import sys

    fit_module = sys.modules["thetahat.fit"]
    calls = []
    real = fit_module.summarize
    monkeypatch.setattr(fit_module, "summarize", lambda fam, x: calls.append(fam.name) or real(fam, x))
    x = FUSED["gamma"](np.random.default_rng(7), MIN_ROWS + 5)
    thetahat.fit(x, "gamma")
    thetahat.fit(x, "gamma", fixed={"loc": -1.0})  # statistics taken at loc = 0 do not apply
    thetahat.fit(x, "gamma", weights=np.ones(x.size))
    thetahat.fit(x, "gamma", method="numerical")
    assert calls == ["gamma"]


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_count_families_checked_by_the_pass_fit_as_with_weights(name):
    draw, kwargs = CHECKED[name]
    x = draw(np.random.default_rng(8), 3 * MIN_ROWS)
    fam = get_family(name)
    summary = summarize(fam, x)
    assert summary.finite and summary.sums[0] == x.sum() and fam.stats_from_sums(summary) is None
    fused = thetahat.fit(x, name, **kwargs)
    weighted = thetahat.fit(x, name, weights=np.ones(x.size), **kwargs)
    assert fused.params == weighted.params and fused.loglik == weighted.loglik
    x[2 * MIN_ROWS + 11] = 2.5
    with pytest.raises(DataError, match="outside the support") as info:
        thetahat.fit(x, name, **kwargs)
    assert str(2 * MIN_ROWS + 11) in str(info.value)
