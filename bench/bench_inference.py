"""Inference benchmark: bootstrap, model comparison and interval coverage.

Run:  python bench/bench_inference.py [--sections compare bootstrap coverage]
                                      [--n-compare 100000] [--coverage-samples 2000]
                                      [--boot-samples 500]

Printed from one run on one machine (absolute times are noisy; the ratios
compare peers measured in the same run):

* bootstrap -- a nonparametric bootstrap of 1,000 Weibull refits (shape and
  scale, threshold 0) on n = 1,000: ``thetahat.intervals.bootstrap`` (one
  vmapped batch of refits) against a loop over
  ``scipy.stats.weibull_min.fit(resample, floc=0)`` on the same resamples.
  thetahat is timed on its first call in the process (JAX compilation
  included) and in steady state (median of 3).
* compare -- ``thetahat.compare`` of every applicable family on 1e5 points
  against a fitter/distfit-style loop over ``scipy.stats`` fits of the same
  families: (a) with the same parametrisation (threshold ``floc=0`` where
  thetahat fixes it), (b) as fitter does it (every parameter free, loc and
  scale included). Each scipy fit is followed by its log-likelihood and KS
  statistic, as compare computes them.
* coverage -- the 95% intervals for the gamma shape (true 2, rate 1) at
  n = 30 by simulation with fixed seeds: profile and Wald on
  ``--coverage-samples`` samples, bootstrap percentile and BCa (B = 1,000)
  on ``--boot-samples`` samples.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.stats as st

import thetahat
from thetahat.compare import candidate_families
from thetahat.intervals import bootstrap, profile_likelihood

#: thetahat family -> (scipy distribution, fit keywords of the same parametrisation).
SCIPY_SAME: dict[str, tuple[Any, dict[str, float]]] = {
    "normal": (st.norm, {}),
    "student_t": (st.t, {}),
    "cauchy": (st.cauchy, {}),
    "laplace": (st.laplace, {}),
    "logistic": (st.logistic, {}),
    "gumbel": (st.gumbel_r, {}),
    "uniform": (st.uniform, {}),
    "gamma": (st.gamma, {"floc": 0.0}),
    "weibull": (st.weibull_min, {"floc": 0.0}),
    "lognormal": (st.lognorm, {"floc": 0.0}),
    "exponential": (st.expon, {"floc": 0.0}),
    "inverse_gaussian": (st.invgauss, {"floc": 0.0}),
    "half_normal": (st.halfnorm, {"floc": 0.0}),
    "pareto": (st.pareto, {"floc": 0.0}),
    "beta": (st.beta, {"floc": 0.0, "fscale": 1.0}),
    "von_mises": (st.vonmises, {"fscale": 1.0}),
}


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


def _median_time(func: Callable[[], Any], repeat: int = 3) -> float:
    return float(np.median([_timed(func)[0] for _ in range(repeat)]))


# -- bootstrap ---------------------------------------------------------------------------


def bench_bootstrap(n: int = 1000, n_boot: int = 1000) -> None:
    x = 2.0 * np.random.default_rng(0).weibull(1.5, n)

    def ours() -> Any:
        return bootstrap(thetahat.fit(x, "weibull"), n_boot, rng=1)

    cold, boot = _timed(ours)
    steady = _median_time(ours)
    counts = np.random.default_rng(1).multinomial(n, np.full(n, 1.0 / n), size=n_boot)

    def scipy_loop() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy's own optimiser chatter
            return np.array([st.weibull_min.fit(np.repeat(x, c), floc=0.0)[0] for c in counts])

    t_scipy, shapes = _timed(scipy_loop)
    diff = np.max(np.abs(boot.replicates["shape"] - shapes) / shapes)
    print(f"\n== nonparametric bootstrap, Weibull, n = {n}, B = {n_boot} ==")
    print(f"thetahat first call (incl. compilation) {cold:8.3f} s")
    print(f"thetahat steady state (median of 3)     {steady:8.3f} s")
    print(f"scipy weibull_min.fit(floc=0) loop      {t_scipy:8.3f} s")
    print(f"ratio scipy / thetahat: steady {t_scipy / steady:.1f}x, first call {t_scipy / cold:.1f}x")
    print(f"max relative difference of the replicate shapes (scipy vs thetahat): {diff:.2e}")


# -- compare -----------------------------------------------------------------------------


def _scipy_search(x: np.ndarray, names: list[str], same: bool) -> dict[str, float]:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name in names:
            dist, kw = SCIPY_SAME[name]
            params = dist.fit(x, **(kw if same else {}))
            out[name] = float(np.sum(dist.logpdf(x, *params)))
            st.kstest(x, dist(*params).cdf)
    return out


def bench_compare(n: int) -> None:
    x = np.random.default_rng(2).gamma(2.0, 3.0, n)
    names = candidate_families(x)
    cold, cmp = _timed(lambda: thetahat.compare(x))
    steady = _median_time(lambda: thetahat.compare(x))
    t_same, ll_same = _timed(lambda: _scipy_search(x, names, same=True))
    t_free, _ = _timed(lambda: _scipy_search(x, names, same=False))
    print(f"\n== compare, {len(names)} families, n = {n} ==")
    print(f"families: {', '.join(names)}")
    print(f"thetahat.compare first call (incl. compilation) {cold:8.3f} s")
    print(f"thetahat.compare steady state (median of 3)     {steady:8.3f} s")
    print(f"scipy loop, same parametrisation               {t_same:8.3f} s")
    print(f"scipy loop, fitter-style (all parameters free) {t_free:8.3f} s")
    print(f"ratio scipy(same) / thetahat: steady {t_same / steady:.1f}x, first call {t_same / cold:.2f}x")
    print(f"ratio scipy(fitter-style) / thetahat: steady {t_free / steady:.1f}x, first call {t_free / cold:.2f}x")
    worse = {k: cmp.table.loc[k, "loglik"] - v for k, v in ll_same.items()}
    print("thetahat loglik - scipy loglik (same parametrisation): "
          + ", ".join(f"{k} {v:+.2e}" for k, v in worse.items()))
    print(cmp.table[["loglik", "k", "aic", "delta_aic", "converged"]].head(5).to_string())


# -- coverage ----------------------------------------------------------------------------


def bench_coverage(n_samples: int, n_boot_samples: int, n: int = 30, shape: float = 2.0) -> None:
    rng = np.random.default_rng(20240601)  # the seed of tests/test_coverage_slow.py
    profile_hits = wald_hits = 0
    start = time.perf_counter()
    for _ in range(n_samples):
        res = thetahat.fit(rng.gamma(shape, 1.0, n), "gamma")
        low, high = profile_likelihood(res, "shape").interval
        profile_hits += low < shape < high
        w_low, w_high = res.conf_int()["shape"]
        wald_hits += w_low < shape < w_high
    t_profile = time.perf_counter() - start
    boot_rng = np.random.default_rng(99)
    pct_hits = bca_hits = 0
    start = time.perf_counter()
    for i in range(n_boot_samples):
        res = thetahat.fit(boot_rng.gamma(shape, 1.0, n), "gamma")
        boot = bootstrap(res, 1000, rng=i)
        low, high = boot.conf_int(kind="percentile")["shape"]
        pct_hits += low < shape < high
        low, high = boot.conf_int(kind="bca")["shape"]
        bca_hits += low < shape < high
    t_boot = time.perf_counter() - start
    print(f"\n== coverage of 95% intervals for the gamma shape (true {shape}), n = {n} ==")
    print(f"profile likelihood  {profile_hits / n_samples:.4f}  ({n_samples} samples, {t_profile:.0f} s incl. Wald)")
    print(f"Wald (log scale)    {wald_hits / n_samples:.4f}  ({n_samples} samples)")
    print(f"bootstrap percentile {pct_hits / n_boot_samples:.4f} ({n_boot_samples} samples, B = 1000)")
    print(f"bootstrap BCa        {bca_hits / n_boot_samples:.4f} ({n_boot_samples} samples, B = 1000; {t_boot:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", default=["compare", "bootstrap", "coverage"],
                        choices=["compare", "bootstrap", "coverage"])
    parser.add_argument("--n-compare", type=int, default=100_000)
    parser.add_argument("--coverage-samples", type=int, default=2000)
    parser.add_argument("--boot-samples", type=int, default=2000)
    args = parser.parse_args()
    if "compare" in args.sections:
        bench_compare(args.n_compare)
    if "bootstrap" in args.sections:
        bench_bootstrap()
    if "coverage" in args.sections:
        bench_coverage(args.coverage_samples, args.boot_samples)


if __name__ == "__main__":
    main()
