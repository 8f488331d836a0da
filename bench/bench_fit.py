"""Fit-time benchmark: thetahat against scipy.stats `fit` and the numpy floor.

Run:  python bench/bench_fit.py [--sizes 10000 1000000] [--repeat 5]

For each family and sample size it prints, from one run on one machine:
  * thetahat: median wall time of `thetahat.fit` after one warm-up call
    (the warm-up, which includes JAX compilation, is printed separately);
  * floor: one numpy pass computing the same sufficient statistics
    (closed-form families only) -- the physical lower bound;
  * checked: the cheapest numpy passes computing what a fit must compute
    under the reliability contract -- the same statistics, the support and
    integrality checks the floor skips, and the data-only term of the
    log-likelihood (sum log x! for the Poisson, sum log x for the inverse
    Gaussian); equal to the floor where the statistics already check
    (a log of a negative value is NaN);
  * scipy: `scipy.stats.<dist>.fit` with the same fixed parameters;
  * the log-likelihood each reached, and the ratios.
Timing never enters the test suite; this script is the place for it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.stats as st
from scipy.special import gammaln

import thetahat


@dataclass
class Case:
    family: str
    draw: Callable[[np.random.Generator, int], np.ndarray]
    fit_kwargs: dict[str, Any]
    floor: Callable[[np.ndarray], Any] | None
    scipy_fit: Callable[[np.ndarray], float] | None  # returns scipy's loglik
    checked: Callable[[np.ndarray], Any] | None = None  # None: the floor checks already


def _sum_sq(v: np.ndarray) -> float:
    # einsum rather than v @ v: BLAS ddot is slow under OPENBLAS_CORETYPE here,
    # and the floor should be the fastest honest numpy pass.
    return float(np.einsum("i,i->", v, v))


def _as_counts(x: np.ndarray) -> np.ndarray:
    # Non-negative integer values: the integer copy and its comparison.
    c = x.astype(np.int64)
    if not (c == x).all() or c.min() < 0:
        raise ValueError("not counts")
    return c


def _poisson_checked(x: np.ndarray) -> tuple[Any, ...]:
    # The count table gives sum x and sum log x! together.
    table = np.bincount(_as_counts(x))
    return table @ np.arange(table.size), table @ gammaln(np.arange(1, table.size + 1))


def _scipy(dist: Any, **kw: Any) -> Callable[[np.ndarray], float]:
    def run(x: np.ndarray) -> float:
        params = dist.fit(x, **kw)
        return float(np.sum(dist.logpdf(x, *params)))

    return run


CASES = [
    Case("normal", lambda r, n: r.normal(3.0, 2.0, n), {}, lambda x: (x.sum(), _sum_sq(x)), _scipy(st.norm)),
    Case("exponential", lambda r, n: r.exponential(2.0, n), {}, lambda x: x.sum(), _scipy(st.expon, floc=0),
         lambda x: (x.sum(), x.min())),
    Case("gamma", lambda r, n: r.gamma(2.5, 1.5, n), {}, lambda x: (x.sum(), np.log(x).sum()), _scipy(st.gamma, floc=0)),
    Case("lognormal", lambda r, n: r.lognormal(0.5, 0.7, n), {}, lambda x: (lambda lx: (lx.sum(), _sum_sq(lx)))(np.log(x)), _scipy(st.lognorm, floc=0)),
    Case("half_normal", lambda r, n: np.abs(r.normal(0, 2.0, n)), {}, lambda x: _sum_sq(x), _scipy(st.halfnorm, floc=0),
         lambda x: (_sum_sq(x), x.min())),
    Case("inverse_gaussian", lambda r, n: r.wald(2.0, 3.0, n), {}, lambda x: (x.sum(), (1 / x).sum()), _scipy(st.invgauss, floc=0),
         lambda x: (x.sum(), (1 / x).sum(), np.log(x).sum())),
    Case("poisson", lambda r, n: r.poisson(4.0, n).astype(float), {}, lambda x: x.sum(), None, _poisson_checked),
    Case("bernoulli", lambda r, n: (r.random(n) < 0.3).astype(float), {}, lambda x: x.sum(), None,
         # inside [0, 1] with sum x^2 = sum x: every value is 0 or 1
         lambda x: (x.sum(), _sum_sq(x), x.min(), x.max())),
    Case("geometric", lambda r, n: r.geometric(0.3, n).astype(float) - 1, {}, lambda x: x.sum(), None,
         lambda x: (_as_counts(x), x.sum())),  # no log x! term in its loglik
    Case("weibull", lambda r, n: r.weibull(1.7, n) * 2.0, {}, None, _scipy(st.weibull_min, floc=0)),
    Case("student_t", lambda r, n: r.standard_t(4.0, n) * 0.5 + 1.0, {}, None, _scipy(st.t)),
    Case("gamma", lambda r, n: 10.0 + r.gamma(3.0, 1.5, n), {"free": ["loc"]}, None, _scipy(st.gamma)),
    Case("weibull", lambda r, n: 5.0 + r.weibull(2.0, n) * 2.0, {"free": ["loc"]}, None, _scipy(st.weibull_min)),
]


def _median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def bench_case(case: Case, n: int, repeat: int, with_scipy: bool) -> dict[str, Any]:
    x = case.draw(np.random.default_rng(12345), n)
    t0 = time.perf_counter()
    thetahat.fit(x, case.family, **case.fit_kwargs)
    first = time.perf_counter() - t0
    t_fit, res = _median_time(lambda: thetahat.fit(x, case.family, **case.fit_kwargs), repeat)
    row: dict[str, Any] = {"first": first, "thetahat": t_fit, "ll": res.loglik, "iters": res.n_iter}
    if case.floor is not None:
        row["floor"], _ = _median_time(lambda: case.floor(x), max(repeat, 5))
        checked = case.checked or case.floor
        row["checked"], _ = _median_time(lambda: checked(x), max(repeat, 5))
    if case.scipy_fit is not None and with_scipy:
        scipy_repeat = 1 if n >= 10**6 else 3
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy's own overflow chatter
            row["scipy"], row["scipy_ll"] = _median_time(lambda: case.scipy_fit(x), scipy_repeat)
    return row


def fresh_process_normal() -> float:
    code = (
        "import numpy as np, thetahat; "
        "thetahat.fit(np.random.default_rng(0).normal(size=1000), 'normal')"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def repeated_small_weibull(repeat: int = 200) -> float:
    x = np.random.default_rng(1).weibull(1.5, 100) * 3.0
    thetahat.fit(x, "weibull")
    t0 = time.perf_counter()
    for _ in range(repeat):
        thetahat.fit(x, "weibull")
    return (time.perf_counter() - t0) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**4, 10**6])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-scipy", action="store_true", help="skip the (slow) scipy fits")
    parser.add_argument("--families", nargs="*", help="only these families")
    args = parser.parse_args()

    header = (
        f"{'family':<22}{'N':>9}{'first s':>9}{'thetahat ms':>13}{'floor ms':>10}{'x floor':>9}"
        f"{'checked ms':>12}{'x checked':>11}"
        f"{'scipy ms':>11}{'scipy/th':>10}{'loglik thetahat':>20}{'ll - scipy ll':>15}"
    )
    print(f"thetahat {thetahat.__version__}, numpy {np.__version__}, scipy {st.__name__ and __import__('scipy').__version__}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        for case in CASES:
            if args.families and case.family not in args.families:
                continue
            label = case.family + (" (free loc)" if case.fit_kwargs.get("free") else "")
            r = bench_case(case, n, args.repeat, not args.no_scipy)
            floor, checked = r.get("floor"), r.get("checked")
            scipy_t = r.get("scipy")
            print(
                f"{label:<22}{n:>9}{r['first']:>9.2f}{1e3 * r['thetahat']:>13.2f}"
                f"{(1e3 * floor if floor else float('nan')):>10.2f}"
                f"{(r['thetahat'] / floor if floor else float('nan')):>9.2f}"
                f"{(1e3 * checked if checked else float('nan')):>12.2f}"
                f"{(r['thetahat'] / checked if checked else float('nan')):>11.2f}"
                f"{(1e3 * scipy_t if scipy_t else float('nan')):>11.1f}"
                f"{(scipy_t / r['thetahat'] if scipy_t else float('nan')):>10.1f}"
                f"{r['ll']:>20.6f}"
                f"{(r['ll'] - r['scipy_ll'] if 'scipy_ll' in r else float('nan')):>15.3g}",
                flush=True,
            )
    print()
    print(f"fresh process: import thetahat + normal fit of 1,000 points: {fresh_process_normal():.2f} s")
    print(f"repeated small fit (weibull, 100 points), per fit: {1e3 * repeated_small_weibull():.2f} ms")


if __name__ == "__main__":
    main()
