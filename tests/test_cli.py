"""The ``thetahat`` command line: output, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import thetahat
from thetahat import datasets
from thetahat.cli import UsageError, app, parse_fixed, parse_free

runner = CliRunner()

X = np.array([2.1, 3.4, 1.9, 5.2, 4.4, 2.8, 3.3, 0.7])


@pytest.fixture
def data_csv(tmp_path: Path) -> Path:
    path = tmp_path / "obs.csv"
    frame = pd.DataFrame({"x": X, "w": [1, 2, 1, 3, 1, 1, 2, 1], "text": list("abcdefgh")})
    frame.to_csv(path, index=False)
    return path


def invoke(*args: Any) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def assert_one_error_line(result: Any, *fragments: str) -> str:
    """Exit 2, nothing on stdout, exactly one ``error:`` line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return str(lines[0])


# -- --fixed / --free parsing ----------------------------------------------------


def test_parse_fixed() -> None:
    assert parse_fixed([]) == {}
    assert parse_fixed(["loc=0", " df = 4 ,mu=-1.5e-3", "s=1E2"]) == {
        "loc": 0.0, "df": 4.0, "mu": -0.0015, "s": 100.0,
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("loc", "NAME=NUMBER"),
        ("=1", "NAME=NUMBER"),
        ("loc=", "NAME=NUMBER"),
        ("1x=2", "NAME=NUMBER"),
        ("loc=zero", "needs a number; got 'zero'"),
        ("loc=__import__('os')", "needs a number"),  # parsed, never evaluated
        ("loc=1,loc=2", "gives 'loc' twice"),
    ],
)
def test_parse_fixed_errors(item: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_fixed([item])


def test_parse_free() -> None:
    assert parse_free(["loc", "a, b", ""]) == ["loc", "a", "b"]
    with pytest.raises(UsageError, match="parameter names"):
        parse_free(["loc=0"])


def test_usage_error_is_a_thetahat_error() -> None:
    assert issubclass(UsageError, thetahat.ThetahatError)


# -- thetahat fit ----------------------------------------------------------------------


def test_fit_prints_the_summary(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "--column", "x", "--family", "normal")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.strip() == thetahat.fit(X, "normal").summary()


def test_fit_json_parses_and_matches_the_api(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "x", "-f", "normal", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    expected = thetahat.fit(X, "normal").to_dict()
    assert out == json.loads(json.dumps(expected))
    assert out["family"] == "normal" and out["converged"] is True
    assert set(out["conf_int_95"]) == {"mu", "sigma"}


def test_fit_fixed(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "x", "-f", "normal", "--fixed", "mu=3", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    api = thetahat.fit(X, "normal", fixed={"mu": 3.0})
    assert out["params"] == {"mu": 3.0, "sigma": api.params["sigma"]}
    assert out["fixed"] == {"mu": 3.0}
    assert out["n_free"] == 1
    summary = invoke("fit", data_csv, "-c", "x", "-f", "normal", "--fixed", "mu=3").stdout
    assert "fixed" in summary


def test_fit_weights_column_equals_replication(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "x", "-f", "normal", "--weights", "w", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    replicated = thetahat.fit(np.repeat(X, [1, 2, 1, 3, 1, 1, 2, 1]), "normal")
    assert out["nobs"] == 12
    assert out["loglik"] == pytest.approx(replicated.loglik, rel=1e-12)
    assert out["params"]["sigma"] == pytest.approx(replicated.params["sigma"], rel=1e-12)


def test_fit_parquet(tmp_path: Path) -> None:
    path = tmp_path / "obs.parquet"
    pd.DataFrame({"x": X}).to_parquet(path)
    result = invoke("fit", path, "-c", "x", "-f", "normal", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["params"]["mu"] == pytest.approx(X.mean(), rel=1e-15)


def test_fit_free_threshold(tmp_path: Path) -> None:
    path = tmp_path / "beef.csv"
    datasets.load("groundbeef").to_csv(path, index=False)
    result = invoke("fit", path, "-c", "serving", "-f", "gamma", "--free", "loc", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out["params"]) >= {"loc"} and "loc" not in out["fixed"]
    assert out["params"]["loc"] < 10.0  # below min(serving)
    two = json.loads(invoke("fit", path, "-c", "serving", "-f", "gamma", "--json").stdout)
    assert out["loglik"] >= two["loglik"] - 1e-9  # the nested model cannot fit better


# -- errors: one line, exit 2 ------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    result = invoke("fit", tmp_path / "nope.csv", "-c", "x", "-f", "normal")
    assert_one_error_line(result, "nope.csv", "not found")


def test_missing_column(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "y", "-f", "normal")
    assert_one_error_line(result, "obs.csv", "no column 'y'", "['x', 'w', 'text']")


def test_missing_weights_column(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "x", "-f", "normal", "-w", "weight")
    assert_one_error_line(result, "no column 'weight'")


def test_non_numeric_column(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "text", "-f", "normal")
    assert_one_error_line(result, "must be numeric", "8 values", "'a' at index 0")


def test_unknown_family(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "x", "-f", "gausian")
    assert_one_error_line(result, "unknown family 'gausian'", "'normal'")


def test_bad_fixed_syntax(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "x", "-f", "normal", "--fixed", "mu")
    assert_one_error_line(result, "--fixed expects NAME=NUMBER", "'mu'")


def test_fixed_unknown_parameter(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "x", "-f", "normal", "--fixed", "loc=0")
    assert_one_error_line(result, "unknown parameter(s) ['loc']", "['mu', 'sigma']")


def test_fixed_value_outside_the_domain(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "x", "-f", "normal", "--fixed", "sigma=-1")
    assert_one_error_line(result, "'sigma'")


def test_data_outside_the_support(tmp_path: Path) -> None:
    path = tmp_path / "neg.csv"
    path.write_text("x\n1\n-2\n3\n")
    result = invoke("fit", path, "-c", "x", "-f", "poisson")
    assert_one_error_line(result, "outside the support", "-2.0")


def test_weights_with_the_wrong_sign(data_csv: Path, tmp_path: Path) -> None:
    path = tmp_path / "negw.csv"
    path.write_text("x,w\n1,1\n2,-1\n3,1\n")
    result = invoke("fit", path, "-c", "x", "-f", "normal", "-w", "w")
    assert_one_error_line(result, "weights must be non-negative")


def test_missing_required_option_is_a_usage_error(data_csv: Path) -> None:
    result = invoke("fit", data_csv, "-c", "x")
    assert result.exit_code == 2
    assert "--family" in result.stderr


# -- warnings ------------------------------------------------------------------------------


def test_fit_warnings_become_one_line_each(data_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fit = thetahat.fit

    def fit_that_warns(*args: Any, **kwargs: Any) -> Any:
        warnings.warn("first line\n  second line", thetahat.ConvergenceWarning, stacklevel=2)
        warnings.warn("on the boundary", thetahat.BoundaryWarning, stacklevel=2)
        warnings.warn("on the boundary", thetahat.BoundaryWarning, stacklevel=2)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(sys.modules["thetahat.fit"], "fit", fit_that_warns)
    result = invoke("fit", data_csv, "-c", "x", "-f", "normal")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: first line second line",
        "warning: on the boundary",
    ]
    assert result.stdout.startswith("Maximum-likelihood fit: normal")


def test_strict_turns_non_convergence_into_an_error(
    data_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fit_that_fails(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise thetahat.FitError("normal fit did not converge: iteration limit")

    monkeypatch.setattr(sys.modules["thetahat.fit"], "fit", fit_that_fails)
    result = invoke("fit", data_csv, "-c", "x", "-f", "normal", "--strict")
    assert_one_error_line(result, "did not converge")
    assert seen["strict"] is True


# -- demo, families, help -------------------------------------------------------------------


def test_demo() -> None:
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    out = result.stdout
    for fragment in ("gamma", "estimate", "std.err", "2.5%", "97.5%", "loglik", "AIC", "converged"):
        assert fragment in out
    # fitdistrplus 1.1-8: fitdist(groundbeef$serving, "gamma") -> loglik -1253.625
    res = thetahat.fit(datasets.load("groundbeef")["serving"], "gamma")
    assert res.loglik == pytest.approx(-1253.625, abs=1e-3)
    assert res.summary() in out


def test_demo_in_a_fresh_process() -> None:
    """The first command a new user runs, as they run it."""
    proc = subprocess.run(
        [sys.executable, "-m", "thetahat", "demo"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Maximum-likelihood fit: gamma" in proc.stdout


def test_module_entry_point_reports_errors_the_same_way(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "thetahat.cli", "fit", str(tmp_path / "nope.csv"), "-c", "x", "-f", "normal"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [f"error: file '{tmp_path / 'nope.csv'}' not found."]


def test_families_lists_every_family() -> None:
    result = invoke("families")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == thetahat.families()
    normal = next(line for line in lines if line.startswith("normal "))
    assert normal.split(None, 1)[1] == "mu, sigma"


def test_families_marks_known_and_default_parameters() -> None:
    out = invoke("families").stdout
    for name in thetahat.families():
        fam = thetahat.get_family(name)
        for p in fam.params:
            if p.known:
                assert f"{p.name} (known: --fixed {p.name}=...)" in out
            elif p.default is not None:
                assert f"{p.name}={p.default:g} (--free {p.name} to estimate)" in out


def test_help_and_version() -> None:
    assert invoke("--help").exit_code == 0
    assert "fit" in invoke("--help").stdout
    version = invoke("--version")
    assert version.exit_code == 0 and version.stdout.strip() == f"thetahat {thetahat.__version__}"
    assert invoke().exit_code in (0, 2)  # no arguments: help
