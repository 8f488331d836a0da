"""Mixture benchmark: thetahat's EM against scikit-learn's GaussianMixture.

Run:  python bench/bench_mixture.py [--n 1000000] [--iterations 20] [--repeats 3]

Printed from one run on one machine (ratios compare peers measured in the
same run, on the same data):

* per iteration -- N = 1e6 rows, d = 2, k = 3, full covariances: both start
  from the same means and run a fixed number of EM iterations (tol = 0); the
  time of a 1-iteration run is subtracted so that start-up and the final
  E-step cancel. Median of ``--repeats``.
* whole fit -- each library from its own default start (k-means), at equal
  ``n_init = 1`` and equal ``tol = 1e-3`` (scikit-learn's default), steady
  state (after one warm-up fit) and thetahat's first call (JAX compilation
  included). The final log-likelihoods are printed next to the times.
* floor -- one numpy pass over the data (``X.sum()``), the cost of reading it.
* family mixture -- two Poisson and two gamma components, N = 1e5, with
  standard errors; no peer offers SEs (time only).
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any, Callable

import numpy as np
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import thetahat
from thetahat import GaussianMixture


def blobs(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [4.0, 4.0], [-3.0, 5.0]])
    covs = [np.eye(2), np.array([[1, 0.5], [0.5, 1]]), np.array([[2, -0.3], [-0.3, 0.5]])]
    labels = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    X = np.empty((n, 2))
    for j in range(3):
        rows = labels == j
        X[rows] = rng.multivariate_normal(means[j], covs[j], rows.sum())
    return X


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def per_iteration(X: np.ndarray, iterations: int, repeats: int) -> None:
    means = GaussianMixture(3, random_state=0).fit(X[:20000]).means_

    def ours(m: int) -> Callable[[], Any]:
        return lambda: GaussianMixture(3, init=means, tol=0.0, max_iter=m).fit(X)

    def theirs(m: int) -> Callable[[], Any]:
        return lambda: SkGaussianMixture(3, means_init=means, tol=0.0, max_iter=m).fit(X)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in (ours(1), ours(iterations)):
            fn()  # compile
        t_ours = (median_time(ours(iterations), repeats) - median_time(ours(1), repeats))
        t_sk = (median_time(theirs(iterations), repeats) - median_time(theirs(1), repeats))
    t_ours /= iterations - 1
    t_sk /= iterations - 1
    print(f"per EM iteration, N={X.shape[0]:.0e}, d=2, k=3, full:  thetahat {t_ours * 1e3:.1f} ms"
          f"   scikit-learn {t_sk * 1e3:.1f} ms   ratio (ours/theirs) {t_ours / t_sk:.3f}")


def whole_fit(X: np.ndarray, repeats: int) -> None:
    start = time.perf_counter()
    first = GaussianMixture(3, tol=1e-3, random_state=0).fit(X)
    t_first = time.perf_counter() - start
    t_ours = median_time(lambda: GaussianMixture(3, tol=1e-3, random_state=1).fit(X), repeats)
    t_sk = median_time(lambda: SkGaussianMixture(3, tol=1e-3, random_state=1).fit(X), repeats)
    sk = SkGaussianMixture(3, tol=1e-3, random_state=1).fit(X)
    ours = GaussianMixture(3, tol=1e-3, random_state=1).fit(X)
    print(f"whole fit, n_init=1, tol=1e-3: thetahat {t_ours:.3f} s (first call {t_first:.2f} s)"
          f"   scikit-learn {t_sk:.3f} s   speed-up {t_sk / t_ours:.2f}x")
    print(f"   loglik thetahat {ours.loglik_:.4f} ({ours.n_iter_} iterations)   scikit-learn "
          f"{sk.score(X) * X.shape[0]:.4f} ({sk.n_iter_} iterations); first-call loglik "
          f"{first.loglik_:.4f}")
    floor = median_time(lambda: X.sum(), repeats)
    print(f"   floor (one numpy pass over X): {floor * 1e3:.2f} ms; "
          f"whole fit = {t_ours / floor:.0f}x the floor")


def family_mixtures(repeats: int) -> None:
    rng = np.random.default_rng(0)
    n = 100_000
    counts = np.where(rng.uniform(size=n) < 0.6, rng.poisson(2.0, n), rng.poisson(9.0, n))
    sizes = np.where(rng.uniform(size=n) < 0.6, rng.gamma(2.0, 1.0, n), rng.gamma(8.0, 1.6, n))
    for name, x in (("poisson", counts), ("gamma", sizes)):
        model = thetahat.Mixture([name, name], random_state=0)
        start = time.perf_counter()
        model.fit(x)
        first = time.perf_counter() - start
        t = median_time(lambda: model.fit(x), repeats)
        print(f"two-{name} mixture with SEs, N=1e5: {t * 1e3:.0f} ms (first call {first:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X = blobs(args.n)
    per_iteration(X, args.iterations, args.repeats)
    whole_fit(X, args.repeats)
    family_mixtures(args.repeats)


if __name__ == "__main__":
    main()
