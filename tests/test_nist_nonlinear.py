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
