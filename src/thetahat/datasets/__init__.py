"""Small real data sets shipped inside the package, for examples and the demo.

=============  =====  ====================================================
name           rows   what
=============  =====  ====================================================
``faithful``   272    Old Faithful geyser: ``eruptions`` (duration, min) and
                      ``waiting`` (time to the next eruption, min).
                      R package datasets (Azzalini and Bowman, 1990,
                      Applied Statistics 39, 357-365).
``galaxies``   82     ``dat``: velocities (km/s) of distant galaxies in the
                      Corona Borealis region; a classic test of mixture
                      models. R package MASS (Roeder, 1990, JASA 85,
                      617-624).
``groundbeef`` 254    ``serving``: serving sizes (g) of ground beef patties
                      eaten by children under 5, from a French survey.
                      R package fitdistrplus (Delignette-Muller and Cornu,
                      2008, Int. J. Food Microbiol. 128, 158-164).
=============  =====  ====================================================

The files are the CSV exports of the R objects, copied unchanged (the data are
distributed with R under the GPL). R's row names, a ``rownames`` column in two of
the files, carry no information and are dropped by :func:`load`.

Examples
--------
>>> from thetahat import datasets
>>> datasets.names()
['faithful', 'galaxies', 'groundbeef']
>>> beef = datasets.load("groundbeef")
>>> beef.shape, list(beef.columns)
((254, 1), ['serving'])
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from thetahat.errors import DataError

__all__ = ["load", "names"]


def names() -> list[str]:
    """Names of the packaged data sets, sorted.

    Examples
    --------
    >>> from thetahat.datasets import names
    >>> "groundbeef" in names()
    True
    """
    return sorted(
        entry.name[: -len(".csv")]
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".csv")
    )


def load(name: str) -> pd.DataFrame:
    """Load a packaged data set as a DataFrame.

    Parameters
    ----------
    name : str
        One of :func:`names`, e.g. ``"groundbeef"``.

    Returns
    -------
    pandas.DataFrame
        One column per variable, with a fresh default index.

    Raises
    ------
    DataError
        If there is no data set called ``name``.

    Examples
    --------
    >>> from thetahat.datasets import load
    >>> load("faithful").columns.tolist()
    ['eruptions', 'waiting']
    """
    available = names()
    if name not in available:
        raise DataError(f"no packaged data set called {name!r}; choose one of {available}.")
    with resources.files(__name__).joinpath(f"{name}.csv").open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh)
    if "rownames" in table.columns:  # R's row names: 1..n, no information
        table = table.drop(columns="rownames")
    return table
