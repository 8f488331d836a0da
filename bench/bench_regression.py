"""Poisson and logistic regression, N = 10^6, 6 predictors: thetahat vs statsmodels (same run).

Run: ``python bench/bench_regression.py [N]``. Prints wall times (thetahat
first call, including compilation, and the median of three warm calls),
statsmodels' (median of three),
their ratio and the largest relative difference of the estimates.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import statsmodels.api as sm

import thetahat


def _time(fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    """(result, median wall time of ``repeat`` calls)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def main(n: int = 1_000_000) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6))
    X = np.column_stack([np.ones(n), x])
    beta = np.array([0.2, 0.3, -0.2, 0.1, 0.05, -0.1, 0.15])
    eta = X @ beta
    cases = {
        "poisson": (rng.poisson(np.exp(eta)).astype(float),
                    lambda y: sm.GLM(y, X, family=sm.families.Poisson()).fit(tol=1e-12)),
        "bernoulli": ((rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float),
                      lambda y: sm.Logit(y, X).fit(disp=0, tol=1e-12)),
    }
    for family, (y, ref_fit) in cases.items():
        res, t_first = _time(lambda: thetahat.regress(y, x, family=family, intercept=True))
        res, t_warm = _time(lambda: thetahat.regress(y, x, family=family, intercept=True), 3)
        ref, t_ref = _time(lambda: ref_fit(y), 3)
        est = np.array(list(res.coef.values()))
        diff = np.max(np.abs(est - ref.params) / np.abs(ref.params))
        se_diff = np.max(np.abs(np.array(list(res.se.values())) - ref.bse) / ref.bse)
        print(f"{family:9s} N={n}: thetahat {t_first:.2f}s first / {t_warm:.2f}s warm, "
              f"statsmodels {t_ref:.2f}s; speed-up {t_ref / t_first:.2f}x first, "
              f"{t_ref / t_warm:.2f}x warm; max rel diff params {diff:.1e}, se {se_diff:.1e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
