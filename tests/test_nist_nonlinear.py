"""NIST StRD nonlinear regression: certified values from both starting points.

A least-squares fit is the Gaussian ML fit, so ``regress(y, x, mean=f)``
must reproduce the certified parameters (LRE >= 6) and, in the (n - p)
convention NIST uses, the certified standard errors (LRE >= 4).
"""

from __future__ import annotations

import json
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import thetahat
from conftest import REFERENCE_DATA

FOLDER = REFERENCE_DATA / "nist" / "nonlinear"
INDEX = json.loads((FOLDER / "index.json").read_text())
NAMES = [k for k in INDEX if k != "_about"]
_NS = {"exp": jnp.exp, "log": jnp.log, "sin": jnp.sin, "cos": jnp.cos, "arctan": jnp.arctan, "pi": np.pi}

#: Lanczos1's certified RSS (1.4e-25) is below what float64 residuals of
#: data near 1 resolve: the float64 rounding of y alone moves the exact
#: least-squares standard errors by ~1e-3.5 (test_lanczos1_float64_cap), which
#: caps its SE accuracy and the convergence test.
SE_CAP = {"Lanczos1": 2.5}


def _load(name: str) -> tuple[np.ndarray, np.ndarray]:
    lines = (FOLDER / INDEX[name]["file"]).read_text().splitlines()
    start = max(i for i, line in enumerate(lines) if line.strip().startswith("Data:"))
    data = np.array([[float(v) for v in line.split()] for line in lines[start + 1 :] if line.strip()])
    y = np.log(data[:, 0]) if name == "Nelson" else data[:, 0]
    return y, (data[:, 1] if data.shape[1] == 2 else data[:, 1:])


def _model(name: str):  # type: ignore[no-untyped-def]
    meta = INDEX[name]
    expr = meta["model_formula"].replace("x1", "x[:, 0]").replace("x2", "x[:, 1]")
    # The formula is trusted reference data from the test folder, not user input.
    return eval(f"lambda x, {', '.join(meta['parameter_names'])}: {expr}", _NS)  # noqa: S307


def lre(est: np.ndarray, cert: np.ndarray) -> float:
    err = np.abs(np.asarray(est) - cert) / np.abs(cert)
    return float(np.min(np.where(err == 0, 15.0, -np.log10(np.maximum(err, 1e-300)))))


@pytest.mark.parametrize("start", ["start1", "start2"])
@pytest.mark.parametrize("name", NAMES)
def test_certified_values(name: str, start: str) -> None:
    meta = INDEX[name]
    y, x = _load(name)
    names = meta["parameter_names"]
    with warnings.catch_warnings():
        if name == "Lanczos1":  # noise-level residuals: the decrement test cannot be met
            warnings.simplefilter("ignore", thetahat.ConvergenceWarning)
        res = thetahat.regress(y, x, mean=_model(name), start=dict(zip(names, meta[start])))
    est = np.array([res.params[n] for n in names])
    se = np.array([res.se_unbiased[n] for n in names])
    assert lre(est, np.array(meta["certified_values"])) >= 6
    assert lre(se, np.array(meta["certified_std_errors"])) >= SE_CAP.get(name, 4)
    if name != "Lanczos1":
        assert res.converged
        dof = meta["degrees_of_freedom"]
        assert res.sigma_unbiased == pytest.approx(meta["certified_residual_std_dev"], rel=1e-6)
        assert res.sigma_ml == pytest.approx(res.sigma_unbiased * np.sqrt(dof / len(y)), rel=1e-6)


def _exact_least_squares(y: list, x: list, b0: list) -> list:  # type: ignore[type-arg]
    """Lanczos1 standard errors by Gauss-Newton in 50-digit arithmetic (mpmath)."""
    import mpmath as mp

    b = list(b0)
    for _ in range(8):
        J, r = mp.matrix(len(y), 6), mp.matrix(len(y), 1)
        for i, (yi, xi) in enumerate(zip(y, x)):
            e = [mp.exp(-b[2 * k + 1] * xi) for k in range(3)]
            r[i] = yi - sum(b[2 * k] * e[k] for k in range(3))
            for k in range(3):
                J[i, 2 * k], J[i, 2 * k + 1] = e[k], -b[2 * k] * xi * e[k]
        A = J.T * J
        step = mp.lu_solve(A, J.T * r)
        b = [b[k] + step[k] for k in range(6)]
    s2 = sum(r[i] ** 2 for i in range(len(y))) / (len(y) - 6)
    inv = A**-1
    return [float(mp.sqrt(s2 * inv[k, k])) for k in range(6)]


def test_lanczos1_float64_cap() -> None:
    """The float64 rounding of Lanczos1's data caps any SE near LRE 3.4; we reach that cap.

    Exact least squares on the decimal data reproduces the certified SEs
    (LRE > 10); on the float64 values of the same data (what every float64
    program receives) it gives SE LRE below 4, as do we.
    """
    import mpmath as mp

    mp.mp.dps = 50
    meta = INDEX["Lanczos1"]
    lines = (FOLDER / meta["file"]).read_text().splitlines()
    start = max(i for i, line in enumerate(lines) if line.strip().startswith("Data:"))
    rows = [line.split() for line in lines[start + 1 :] if line.strip()]
    cert_b = [mp.mpf(str(v)) for v in meta["certified_values"]]
    cert_se = np.array(meta["certified_std_errors"])
    exact = _exact_least_squares([mp.mpf(a) for a, _ in rows], [mp.mpf(b) for _, b in rows], cert_b)
    rounded = _exact_least_squares([mp.mpf(float(a)) for a, _ in rows], [mp.mpf(float(b)) for _, b in rows], cert_b)
    cap = lre(np.array(rounded), cert_se)
    assert lre(np.array(exact), cert_se) > 10
    assert cap < 4
    y, x = _load("Lanczos1")
    names = meta["parameter_names"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", thetahat.ConvergenceWarning)
        res = thetahat.regress(y, x, mean=_model("Lanczos1"), start=dict(zip(names, meta["start1"])))
    ours = lre(np.array([res.se_unbiased[n] for n in names]), cert_se)
    assert ours >= cap - 0.5
