"""Model choice: compare() ranking, its table, the likelihood-ratio test and the CLI function."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE_DATA
from scipy import stats

import thetahat
from thetahat import DataError, FitError
from thetahat.compare import Comparison, candidate_families, compare_command

GROUNDBEEF = REFERENCE_DATA / "r" / "groundbeef.csv"


@pytest.fixture(scope="module")
def beef() -> np.ndarray:
    return pd.read_csv(GROUNDBEEF)["serving"].to_numpy(dtype=float)


@pytest.fixture(scope="module")
def beef_comparison(beef: np.ndarray) -> Comparison:
    return thetahat.compare(beef)


def test_groundbeef_ranks_gamma_weibull_lognormal(beef_comparison: Comparison) -> None:
    order = [name for name in beef_comparison.table.index if name in ("gamma", "weibull", "lognormal")]
    assert order == ["gamma", "weibull", "lognormal"]
    assert beef_comparison.best.family.name == "gamma"
    # Log-likelihoods published in the fitdistrplus vignette (fitdist(serving, ...)).
    table = beef_comparison.table
    assert table.loc["gamma", "loglik"] == pytest.approx(-1253.625, abs=1e-3)
    assert table.loc["weibull", "loglik"] == pytest.approx(-1255.225, abs=1e-3)
    assert table.loc["lognormal", "loglik"] == pytest.approx(-1261.319, abs=1e-3)


def test_information_criteria_follow_their_definitions(beef_comparison: Comparison, beef: np.ndarray) -> None:
    table = beef_comparison.table
    n = beef.size
    ok = table[table["converged"]]
    for name, row in ok.iterrows():
        res = beef_comparison.fits[name]
        k, ll = res.n_free, res.loglik
        assert row["k"] == k
        assert row["aic"] == 2 * k - 2 * ll
        assert row["bic"] == pytest.approx(k * math.log(n) - 2 * ll, rel=1e-14)
        assert row["aicc"] == pytest.approx(row["aic"] + 2 * k * (k + 1) / (n - k - 1), rel=1e-14)
    assert ok["delta_aic"].iloc[0] == 0.0
    assert np.all(np.diff(ok["aic"].to_numpy()) >= 0)
    assert ok["weight"].sum() == pytest.approx(1.0, rel=1e-12)
    ratio = ok["weight"].iloc[1] / ok["weight"].iloc[0]
    assert ratio == pytest.approx(math.exp(-ok["delta_aic"].iloc[1] / 2), rel=1e-12)


@pytest.mark.parametrize("name", ["gamma", "weibull", "lognormal", "normal"])
def test_edf_statistics_equal_scipy(beef_comparison: Comparison, beef: np.ndarray, name: str) -> None:
    res = beef_comparison.fits[name]
    dist = res.dist.to_scipy()
    row = beef_comparison.table.loc[name]
    assert row["ks"] == pytest.approx(stats.kstest(beef, dist.cdf).statistic, rel=1e-13)
    assert row["cvm"] == pytest.approx(stats.cramervonmises(beef, dist.cdf).statistic, rel=1e-13)
    shapes = dict(zip(dist.dist.shapes.split(", "), dist.args)) if dist.dist.shapes else {}
    known = {**shapes, **dist.kwds}
    ad = stats.goodness_of_fit(dist.dist, beef, known_params=known, statistic="ad", n_mc_samples=9, rng=0)
    assert row["ad"] == pytest.approx(ad.statistic, rel=1e-12)


def test_anderson_darling_equals_scipy_anderson_for_the_exponential(beef_comparison: Comparison, beef: np.ndarray) -> None:
    # scipy's anderson(dist="expon") fits the same MLE (scale = mean, loc = 0).
    expected = stats.anderson(beef, "expon", method="interpolate").statistic
    assert beef_comparison.table.loc["exponential", "ad"] == pytest.approx(expected, rel=1e-12)


def test_table_text_and_json(beef_comparison: Comparison) -> None:
    text = str(beef_comparison)
    assert text.splitlines()[2].startswith("gamma")
    rows = json.loads(json.dumps(beef_comparison.to_dict()))["ranking"]
    assert rows[0]["family"] == "gamma" and rows[0]["converged"] is True


def test_failed_families_are_listed_with_their_reason() -> None:
    x = np.random.default_rng(0).normal(0.5, 1.0, 80)  # some values negative
    cmp = thetahat.compare(x, ["normal", "gamma", "logistic"])
    assert list(cmp.table.index)[-1] == "gamma"
    assert not cmp.table.loc["gamma", "converged"]
    assert "outside the support" in cmp.table.loc["gamma", "note"]
    assert "outside the support" in cmp.failed["gamma"]
    assert set(cmp.fits) == {"normal", "logistic"}
    assert np.isnan(cmp.table.loc["gamma", "aic"])


def test_family_without_an_mle_is_listed_not_dropped() -> None:
    x = np.array([2, 3, 2, 3, 3, 2, 2, 3, 3, 2, 4, 1] * 3, dtype=float)  # under-dispersed
    cmp = thetahat.compare(x, ["poisson", "negative_binomial"])
    assert "negative_binomial" in cmp.failed
    assert cmp.best.family.name == "poisson"
    assert "chi2" in cmp.table.columns


def test_no_family_supports_the_data() -> None:
    x = -np.random.default_rng(1).gamma(2.0, 1.5, 50)
    with pytest.raises(DataError, match="none of the candidate families could be fitted") as info:
        thetahat.compare(x, ["gamma", "weibull", "lognormal"])
    assert "gamma: x has values outside the support" in str(info.value)
    with pytest.raises(DataError, match="no built-in family of kind 'discrete'"):
        thetahat.compare(x, kind="discrete")


def test_default_candidates() -> None:
    counts = [0.0, 3, 1, 4, 2, 2, 7]
    assert {"poisson", "negative_binomial", "geometric"} <= set(candidate_families(counts))
    assert "binomial" not in candidate_families(counts) and "categorical" not in candidate_families(counts)
    assert "poisson" not in candidate_families(counts, kind="continuous")
    assert "normal" not in candidate_families(counts, kind="discrete")
    positive = candidate_families([0.5, 1.5, 2.0])
    assert {"gamma", "weibull", "lognormal", "normal"} <= set(positive)
    assert "gamma" not in candidate_families([-0.5, 1.5, 2.0])
    assert "beta" in candidate_families([0.2, 0.3]) and "beta" not in positive
    with pytest.raises(DataError, match="kind must be"):
        candidate_families(counts, kind="mixed")


def test_functions_stay_callable_after_their_modules_are_imported() -> None:
    # compare and gof share their names with their modules (thetahat.compare, thetahat.gof).
    code = (
        "import thetahat.gof, thetahat.compare, thetahat\n"
        "assert callable(thetahat.gof) and callable(thetahat.compare) and callable(thetahat.lr_test)\n"
        "assert thetahat.gof is thetahat.gof and callable(thetahat.gof)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- likelihood-ratio test --------------------------------------------------------------


def test_lr_test_regular_nesting() -> None:
    x = np.random.default_rng(2).gamma(1.5, 2.0, 150)
    restricted, full = thetahat.fit(x, "exponential"), thetahat.fit(x, "gamma")
    out = thetahat.lr_test(restricted, full)
    assert out.df == 1 and not out.boundary
    assert out.statistic == pytest.approx(2 * (full.loglik - restricted.loglik), rel=1e-14)
    assert out.pvalue == pytest.approx(stats.chi2.sf(out.statistic, 1), rel=1e-12)


def test_lr_test_boundary_mixture() -> None:
    x = np.random.default_rng(3).negative_binomial(5.0, 0.6, 120)
    restricted, full = thetahat.fit(x, "poisson"), thetahat.fit(x, "negative_binomial")
    out = thetahat.lr_test(restricted, full)
    assert out.boundary
    assert out.pvalue == pytest.approx(0.5 * stats.chi2.sf(out.statistic, 1), rel=1e-12)
    plain = thetahat.lr_test(restricted, full, boundary=False)
    assert plain.pvalue == pytest.approx(2 * out.pvalue, rel=1e-12)
    assert "boundary" in str(out)


def test_lr_test_needs_same_data_and_more_parameters() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.gamma(2.0, 1.0, 60), rng.gamma(2.0, 1.0, 60)
    with pytest.raises(DataError, match="same data"):
        thetahat.lr_test(thetahat.fit(x, "exponential"), thetahat.fit(y, "gamma"))
    with pytest.raises(DataError, match="more free parameters"):
        thetahat.lr_test(thetahat.fit(x, "gamma"), thetahat.fit(x, "weibull"))


# -- CLI function ------------------------------------------------------------------------


def test_compare_command(tmp_path: Path) -> None:
    out = compare_command(str(GROUNDBEEF), "serving", ["gamma,weibull", "lognormal"], json=True,
                          plot=str(tmp_path / "fits.png"))
    rows = json.loads(out)["ranking"]
    assert [r["family"] for r in rows] == ["gamma", "weibull", "lognormal"]
    assert (tmp_path / "fits.png").stat().st_size > 10_000
    text = compare_command(str(GROUNDBEEF), "serving", ["gamma"])
    assert "gamma" in text and "aic" in text
    with pytest.raises(DataError, match="column"):
        compare_command(str(GROUNDBEEF), "weight")


def test_best_raises_when_nothing_converged(beef_comparison: Comparison) -> None:
    table = beef_comparison.table.assign(converged=False)
    broken = type(beef_comparison)(table, beef_comparison.fits, {})
    with pytest.raises(FitError, match="no candidate family converged"):
        _ = broken.best
