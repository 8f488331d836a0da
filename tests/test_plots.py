"""Diagnostic figures (thetahat.plots): built without pyplot, saved with the Agg canvas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import thetahat
from thetahat import DataError
from thetahat.plots import plot_diagnostics, plot_fits, plot_profile

__import__("matplotlib")


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return np.random.default_rng(0).gamma(2.0, 3.0, size=120)


def test_importing_thetahat_does_not_import_matplotlib() -> None:
    code = "import sys, thetahat; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_four_panel_diagnostic(sample: np.ndarray, tmp_path: Path) -> None:
    res = thetahat.fit(sample, "gamma")
    fig = plot_diagnostics(res)
    assert [ax.get_title() for ax in fig.axes] == ["Density", "CDF", "Q-Q", "P-P"]
    qq_x, qq_y = fig.axes[2].get_lines()[0].get_data()
    np.testing.assert_allclose(qq_y, np.sort(sample))
    np.testing.assert_allclose(qq_x, res.dist.ppf((np.arange(1, 121) - 0.5) / 120))
    fig.savefig(tmp_path / "diag.png")
    assert (tmp_path / "diag.png").stat().st_size > 10_000


def test_diagnostic_of_a_discrete_fit() -> None:
    x = np.random.default_rng(1).poisson(4.0, 200)
    fig = plot_diagnostics(thetahat.fit(x, "poisson"))
    assert fig.axes[0].get_title() == "Probability mass"


def test_several_fits_overlaid(sample: np.ndarray) -> None:
    fits = [thetahat.fit(sample, name) for name in ("gamma", "weibull", "lognormal")]
    fig = plot_fits(fits)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert [lab.split()[0] for lab in labels] == ["gamma", "weibull", "lognormal"]
    assert len(fig.axes[1].get_lines()) == 4  # empirical CDF + three fits
    with pytest.raises(DataError, match="at least one fit"):
        plot_fits([])


def test_comparison_plot(sample: np.ndarray) -> None:
    fig = thetahat.compare(sample, ["gamma", "normal"]).plot()
    assert len(fig.axes[0].get_lines()) == 2


def test_profile_curves(sample: np.ndarray) -> None:
    res = thetahat.fit(sample, "gamma")
    fig = plot_profile(res, grid=9)
    assert [ax.get_xlabel() for ax in fig.axes] == ["shape", "rate"]
    profile_line = fig.axes[0].get_lines()[0]
    values, deviance = profile_line.get_data()
    assert deviance.min() == pytest.approx(0.0, abs=1e-9)
    assert values.min() < res.conf_int(method="profile")["shape"][0]
