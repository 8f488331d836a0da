"""Choosing mixtures by BIC, and the `thetahat mixture` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from thetahat import DataError, GaussianMixture, select_gaussian_mixture
from thetahat.cli import app
from thetahat.datasets import load
from thetahat.mixture.selection import parse_components


def test_faithful_selects_mclusts_model() -> None:
    X = load("faithful")[["eruptions", "waiting"]]
    sel = select_gaussian_mixture(X, "1-4")
    best = sel.table.iloc[0]
    # mclust's choice for these data: EEE (one shared full covariance), 3 groups,
    # BIC -2314.386 on its sign convention; ours is at least as likely.
    assert (best["n_components"], best["model"]) == (3, "tied")
    assert best["bic"] <= 2314.386
    assert len(sel.table) == 16
    assert np.all(np.diff(sel.table["bic"]) >= 0)
    # The padded grid fit equals a stand-alone fit of the same model.
    alone = GaussianMixture(3, covariance_type="tied", random_state=0).fit(X.to_numpy())
    assert sel.best.loglik_ == pytest.approx(alone.loglik_, rel=1e-9)
    assert sel.best.weights_.shape == (3,)


def test_component_ranges_parse() -> None:
    assert parse_components("1-3,5") == [1, 2, 3, 5]
    with pytest.raises(DataError, match="components must"):
        parse_components("a-b")
    with pytest.raises(DataError, match="positive"):
        parse_components("0-2")


def test_cli_mixture_json_and_errors(tmp_path) -> None:
    path = tmp_path / "faithful.csv"
    load("faithful").to_csv(path, index=False)
    runner = CliRunner()
    out = runner.invoke(app, ["mixture", str(path), "--columns", "eruptions,waiting",
                              "--components", "1-3", "--covariance", "full,tied", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["best"]["n_components"] == 3 and payload["best"]["model"] == "tied"
    assert len(payload["parameters"]["weights"]) == 3
    text = runner.invoke(app, ["mixture", str(path), "--columns", "waiting", "-k", "1-2"])
    assert text.exit_code == 0 and "Best by BIC" in text.stdout
    bad = runner.invoke(app, ["mixture", str(path), "--columns", "nope"])
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output
    bad = runner.invoke(app, ["mixture", str(path), "--columns", "waiting", "--covariance", "banded"])
    assert bad.exit_code == 2 and "unknown covariance type" in bad.output
