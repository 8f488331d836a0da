"""Frequentist properties by simulation (slow: run with ``python -m pytest -m slow``).

Fixed seeds make every run identical. bench/bench_inference.py reports the
same simulations with Wald and bootstrap coverage beside them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import thetahat
from thetahat.intervals import profile_likelihood

pytestmark = pytest.mark.slow

SHAPE, RATE, N = 2.0, 1.0, 30


def test_profile_interval_coverage_gamma_shape_n30() -> None:
    """95% profile intervals for the gamma shape at n = 30 cover in 94-96% of 2,000 samples."""
    rng = np.random.default_rng(20240601)
    hits = wald_hits = 0
    n_samples = 2000
    for _ in range(n_samples):
        res = thetahat.fit(rng.gamma(SHAPE, 1.0 / RATE, N), "gamma")
        low, high = profile_likelihood(res, "shape").interval
        hits += low < SHAPE < high
        w_low, w_high = res.conf_int()["shape"]
        wald_hits += w_low < SHAPE < w_high
    coverage = hits / n_samples
    print(f"profile coverage {coverage:.4f}, Wald (log scale) {wald_hits / n_samples:.4f}")
    assert 0.94 <= coverage <= 0.96


def test_gof_pvalues_are_uniform_under_the_null() -> None:
    """KS test of 1,000 bootstrap p-values (gamma data, gamma fit, n = 50): p > 0.01."""
    rng = np.random.default_rng(7)
    pvalues: dict[str, list[float]] = {"ks": [], "cvm": [], "ad": []}
    for _ in range(1000):
        res = thetahat.fit(rng.gamma(SHAPE, 1.0 / RATE, 50), "gamma")
        out = thetahat.gof(res, n_boot=200, rng=rng)
        for key, values in pvalues.items():
            values.append(out[key]["pvalue"])
    for key, values in pvalues.items():
        uniformity = stats.kstest(values, "uniform").pvalue
        print(f"{key}: KS p-value of uniformity {uniformity:.3f}, rejection rate at 5% "
              f"{np.mean(np.asarray(values) <= 0.05):.3f}")
        assert uniformity > 0.01
