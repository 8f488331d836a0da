"""The ``thetahat`` command line: a thin shell over :func:`thetahat.fit`.

Commands
--------
``thetahat demo``
    Fit a gamma distribution to the packaged ground-beef serving sizes.
``thetahat fit FILE --column C --family F [--fixed loc=0] [--free loc] [--weights W] [--json]``
    Fit a family to one column of a CSV, TSV or Parquet file.
``thetahat families``
    List the families and their parameters.
``thetahat mixture FILE --columns A,B --components 1-6 [--json]``
    Gaussian mixtures (or ``--family`` mixtures) over a grid, ranked by BIC.

Every error the library reports (bad data, unknown family, missing file or
column, malformed ``--fixed``) is printed as one line on stderr starting with
``error:``, and the exit status is 2. Warnings of the fit are printed as one
``warning:`` line each on stderr; the result goes to stdout.

Examples
--------
>>> from typer.testing import CliRunner
>>> from thetahat.cli import app
>>> out = CliRunner().invoke(app, ["families"]).output
>>> "normal" in out
True
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Annotated, Any, Iterator, NoReturn, Optional

import typer

from thetahat.errors import ThetahatError, ThetahatWarning

if TYPE_CHECKING:
    from thetahat.result import FitResult

__all__ = ["app", "parse_fixed", "parse_free"]

app = typer.Typer(
    name="thetahat",
    help="Maximum-likelihood fits with standard errors and confidence intervals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class UsageError(ThetahatError, ValueError):
    """A malformed command-line argument (reported like any thetahat error)."""


def parse_fixed(items: list[str]) -> dict[str, float]:
    """Parse ``--fixed`` arguments ``NAME=NUMBER`` (comma-separated lists allowed).

    Parameters
    ----------
    items : list of str
        E.g. ``["loc=0", "df=4,mu=1.5"]``.

    Returns
    -------
    dict
        Name -> float; :func:`thetahat.fit` checks the names and values.

    Raises
    ------
    UsageError
        An item that is not ``NAME=NUMBER``, or a name given twice.

    Examples
    --------
    >>> parse_fixed(["loc=0", "df=4,mu=-1.5e-3"])
    {'loc': 0.0, 'df': 4.0, 'mu': -0.0015}
    >>> parse_fixed(["loc"])
    Traceback (most recent call last):
    ...
    thetahat.cli.UsageError: --fixed expects NAME=NUMBER (e.g. loc=0); got 'loc'.
    """
    fixed: dict[str, float] = {}
    for item in _split(items):
        name, sep, text = (part.strip() for part in item.partition("="))
        if not sep or not name.isidentifier() or not text:
            raise UsageError(f"--fixed expects NAME=NUMBER (e.g. loc=0); got {item!r}.")
        try:
            value = float(text)
        except ValueError:
            raise UsageError(
                f"--fixed {name}= needs a number; got {text!r}."
            ) from None
        if name in fixed:
            raise UsageError(f"--fixed gives {name!r} twice; give each parameter once.")
        fixed[name] = value
    return fixed


def parse_free(items: list[str]) -> list[str]:
    """Parse ``--free`` arguments: parameter names, repeated or comma-separated.

    Examples
    --------
    >>> parse_free(["loc", "a,b"])
    ['loc', 'a', 'b']
    """
    names = list(_split(items))
    bad = [n for n in names if not n.isidentifier()]
    if bad:
        raise UsageError(f"--free expects parameter names (e.g. loc); got {bad[0]!r}.")
    return names


def _split(items: list[str]) -> Iterator[str]:
    for item in items:
        for part in item.split(","):
            if part.strip():
                yield part.strip()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {_one_line(message)}", err=True)
    raise typer.Exit(code=2)


def _fit_reporting_warnings(x: Any, family: str, **kwargs: Any) -> FitResult:
    """Run :func:`thetahat.fit`; its warnings become ``warning:`` lines on stderr."""
    from thetahat.fit import fit

    with warnings.catch_warnings(record=True) as caught:
        # Show each of thetahat's warnings even if an identical one was shown
        # before; other categories keep the interpreter's filters.
        warnings.simplefilter("always", ThetahatWarning)
        res = fit(x, family, **kwargs)
    seen: set[str] = set()
    for w in caught:
        line = _one_line(str(w.message))
        if line not in seen:
            seen.add(line)
            typer.echo(f"warning: {line}", err=True)
    return res


def _version(value: bool) -> None:
    if value:
        from thetahat import __version__

        typer.echo(f"thetahat {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Maximum-likelihood fits with standard errors and confidence intervals."""



@app.command("fit")
def fit_command(
    file: Annotated[str, typer.Argument(help="CSV, TSV or Parquet file (by suffix).")],
    column: Annotated[str, typer.Option("--column", "-c", help="Column holding the observations.")],
    family: Annotated[str, typer.Option("--family", "-f", help="Family name; see `thetahat families`.")],
    fixed: Annotated[
        Optional[list[str]],
        typer.Option("--fixed", help="Hold a parameter at a value: NAME=NUMBER (repeatable, e.g. loc=0)."),
    ] = None,
    free: Annotated[
        Optional[list[str]],
        typer.Option("--free", help="Estimate a parameter that has a default (repeatable, e.g. loc)."),
    ] = None,
    weights: Annotated[
        Optional[str], typer.Option("--weights", "-w", help="Column of frequency weights.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 2) instead of warning when the fit does not converge."),
    ] = False,
    prior: Annotated[
        Optional[list[str]],
        typer.Option(
            "--prior",
            help='Prior on a parameter, e.g. "p=beta(1,1)" (repeatable): gives the MAP fit.',
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fit a family to one column of a data file by maximum likelihood (or MAP with --prior)."""
    from thetahat.io import read_columns

    try:
        priors: dict[str, Any] = {}
        if prior:
            from thetahat.bayes import parse_prior

            for text in prior:
                priors.update(parse_prior(text))
        fixed_values = parse_fixed(fixed or [])
        free_names = parse_free(free or [])
        columns = [column] if weights is None else [column, weights]
        arrays = read_columns(file, *columns)
        res = _fit_reporting_warnings(
            arrays[0],
            family,
            fixed=fixed_values,
            free=free_names,
            weights=arrays[1] if weights is not None else None,
            strict=strict,
            prior=priors or None,
        )
    except ThetahatError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(res.to_dict()) if as_json else res.summary())


@app.command("compare")
def compare_cli(
    file: Annotated[str, typer.Argument(help="CSV, TSV or Parquet file (by suffix).")],
    column: Annotated[str, typer.Option("--column", "-c", help="Column holding the observations.")],
    families: Annotated[
        Optional[list[str]],
        typer.Option("--families", help="Candidate families (repeatable or comma-separated); default: all that fit the data."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    plot: Annotated[
        Optional[str], typer.Option("--plot", help="Save the fitted densities over the data to this image file.")
    ] = None,
) -> None:
    """Fit every candidate family and rank them by AIC, with goodness-of-fit statistics."""
    from thetahat.compare import compare_command

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ThetahatWarning)  # each fit's status is in the table
            text = compare_command(file, column, families, json=as_json, plot=plot)
    except ThetahatError as exc:
        _fail(str(exc))
    typer.echo(text)


@app.command("regress")
def regress_cli(
    file: Annotated[str, typer.Argument(help="CSV, TSV or Parquet file (by suffix).")],
    formula: Annotated[str, typer.Option("--formula", help='Model formula, e.g. "y ~ x1 + C(group)".')],
    family: Annotated[str, typer.Option("--family", "-f", help="Response family (normal, poisson, bernoulli, ...).")] = "normal",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Regress a response on covariates by maximum likelihood (GLMs, robust and AFT models)."""
    from thetahat.regression.api import regress_command

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ThetahatWarning)
            text = regress_command(file, formula, family, json_output=as_json)
    except ThetahatError as exc:
        _fail(str(exc))
    for w in caught:
        typer.echo(f"warning: {_one_line(str(w.message))}", err=True)
    typer.echo(text)


@app.command("mixture")
def mixture_cli(
    file: Annotated[str, typer.Argument(help="CSV, TSV or Parquet file (by suffix).")],
    columns: Annotated[str, typer.Option("--columns", "-c", help="Comma-separated columns, e.g. A,B.")],
    components: Annotated[str, typer.Option("--components", "-k", help="Numbers of components, e.g. 1-6 or 2,3.")] = "1-6",
    covariance: Annotated[
        Optional[str],
        typer.Option("--covariance", help="Covariance types to try (comma-separated; default: full,tied,diag,spherical)."),
    ] = None,
    family: Annotated[
        Optional[str],
        typer.Option("--family", "-f", help="Fit mixtures of this family (one column) instead of Gaussians."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table and best model as JSON.")] = False,
) -> None:
    """Fit mixtures by EM over a grid of component numbers and pick the best by BIC."""
    from thetahat.mixture.selection import mixture_command

    try:
        text = mixture_command(file, columns, components, covariance, family, json_output=as_json)
    except ThetahatError as exc:
        _fail(str(exc))
    typer.echo(text)


@app.command("demo")
def demo_command() -> None:
    """Fit a gamma distribution to 254 ground-beef serving sizes (packaged data)."""
    from thetahat.datasets import load

    try:
        serving = load("groundbeef")["serving"]
        res = _fit_reporting_warnings(serving, "gamma")
    except ThetahatError as exc:
        _fail(str(exc))
    typer.echo(
        "Serving sizes (g) of ground beef patties eaten by 254 young children "
        "(R package fitdistrplus), fitted with a gamma distribution:\n"
        '    thetahat.fit(thetahat.datasets.load("groundbeef")["serving"], "gamma")\n'
    )
    typer.echo(res.summary())
    typer.echo(
        "\nNext: thetahat fit FILE --column C --family F   (see thetahat families, thetahat fit --help)"
    )


@app.command("families")
def families_command() -> None:
    """List the families and their parameters."""
    from thetahat.families import families, get_family

    rows = []
    for name in families():
        fam = get_family(name)
        parts = []
        for p in fam.params:
            if p.known:
                parts.append(f"{p.name} (known: --fixed {p.name}=...)")
            elif p.default is not None:
                parts.append(f"{p.name}={p.default:g} (--free {p.name} to estimate)")
            else:
                parts.append(p.name)
        rows.append((name, ", ".join(parts)))
    width = max(len(name) for name, _ in rows)
    for name, params in rows:
        typer.echo(f"{name.ljust(width)}  {params}")


if __name__ == "__main__":
    app(prog_name="thetahat")
