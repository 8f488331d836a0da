"""Reading observations from files: CSV, TSV and Parquet.

A thin layer over pandas and pyarrow whose only job is to turn "this file,
that column" into an array for :func:`thetahat.fit`, and every way that can
go wrong (no such file, unknown format, unreadable content, no such column)
into a :class:`~thetahat.DataError` naming the file. The values are returned
as they are: a column of text stays text, so that ``fit`` rejects it with its
usual message (how many values are not numbers, and the first of them).

The format is chosen by the file's suffix: ``.csv``, ``.tsv``, ``.parquet``
or ``.pq``; CSV and TSV may be compressed (``.csv.gz``, ``.tsv.zip``, ...).

Examples
--------
>>> from importlib.resources import files
>>> from thetahat.io import read_column
>>> path = files("thetahat.datasets") / "groundbeef.csv"
>>> read_column(path, "serving")[:5]
array([30., 10., 20., 24., 20.])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from thetahat.errors import DataError

__all__ = ["read_table", "read_column", "read_columns", "SUFFIXES"]

#: Recognised suffixes and the format each one selects.
SUFFIXES: dict[str, str] = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSION = (".gz", ".bz2", ".xz", ".zst", ".zip")

PathLike = str | os.PathLike[str]


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in _COMPRESSION and SUFFIXES.get(suffixes[-2]) in ("csv", "tsv"):
        return SUFFIXES[suffixes[-2]]
    if suffixes and suffixes[-1] in SUFFIXES:
        return SUFFIXES[suffixes[-1]]
    raise DataError(
        f"cannot tell the format of {str(path)!r} from its suffix; "
        f"use one of {', '.join(SUFFIXES)} (CSV/TSV may end in {', '.join(_COMPRESSION)})."
    )


def _header(path: Path, fmt: str) -> list[str]:
    """Column names without reading the data."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return [str(n) for n in pq.read_schema(path).names]
    return [str(c) for c in pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", nrows=0).columns]


def _read(path: Path, fmt: str, columns: list[str] | None) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(path, columns=columns)
    # Read every column, not ``usecols``: with it pandas silently accepts rows
    # with too many fields, and a malformed file should be reported.
    table = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",")
    return table if columns is None else table[columns]


def read_table(path: PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file into a DataFrame.

    Parameters
    ----------
    path : str or path-like
        The file; its suffix selects the format (see :data:`SUFFIXES`).
    columns : sequence of str, optional
        Read only these columns (all by default).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataError
        The file does not exist or cannot be read, its suffix is not
        recognised, it holds no columns, or a requested column is missing
        (the message lists the available ones).

    Examples
    --------
    >>> from importlib.resources import files
    >>> from thetahat.io import read_table
    >>> read_table(files("thetahat.datasets") / "faithful.csv").columns.tolist()
    ['rownames', 'eruptions', 'waiting']
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"file {str(path)!r} not found.")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a directory, not a data file.")
    fmt = _format(path)
    try:
        available = _header(path, fmt)
        if not available:
            raise DataError(f"file {str(path)!r} has no columns.")
        if columns is not None:
            wanted = list(dict.fromkeys(columns))
            missing = [c for c in wanted if c not in available]
            if missing:
                noun = "column" if len(missing) == 1 else "columns"
                raise DataError(
                    f"file {str(path)!r} has no {noun} {', '.join(map(repr, missing))}; "
                    f"its columns are {available}."
                )
            return _read(path, fmt, wanted)
        return _read(path, fmt, None)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"file {str(path)!r} is empty.") from None
    except (OSError, ValueError, ImportError, pd.errors.ParserError) as exc:
        # pyarrow.ArrowInvalid and pandas' parser errors are ValueErrors.
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"cannot read {str(path)!r} as {fmt.upper()}: {detail}") from None


def read_columns(path: PathLike, *columns: str) -> tuple[np.ndarray, ...]:
    """Read several columns of one file as arrays, reading the file once.

    See :func:`read_column`; the arrays come back in the order asked for.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from thetahat.io import read_columns
    >>> eruptions, waiting = read_columns(files("thetahat.datasets") / "faithful.csv",
    ...                                   "eruptions", "waiting")
    >>> eruptions.dtype, waiting[:3]
    (dtype('float64'), array([79, 54, 74]))
    """
    table = read_table(path, columns)
    from_text = _format(Path(path)) in ("csv", "tsv")
    return tuple(_as_array(table[c], from_text) for c in columns)


def read_column(path: PathLike, column: str) -> np.ndarray:
    """Read one column of a CSV, TSV or Parquet file as a 1-D array.

    Parameters
    ----------
    path : str or path-like
        The file; its suffix selects the format (see :data:`SUFFIXES`).
    column : str
        The column's name.

    Returns
    -------
    numpy.ndarray
        Numbers keep their dtype (int, float, bool); missing numbers are
        NaN; text stays text (an object array of ``str``) so that
        :func:`thetahat.fit` can name the offending values. In a CSV or TSV
        column that pandas read as text because some cells are not numbers,
        the cells that are numbers are returned as floats.

    Raises
    ------
    DataError
        As :func:`read_table`; for a missing column the message lists the
        file's columns.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from thetahat.io import read_column
    >>> read_column(files("thetahat.datasets") / "galaxies.csv", "dat")[:3]
    array([9172, 9350, 9483])
    """
    (values,) = read_columns(path, column)
    return values


def _as_array(series: pd.Series, from_text: bool) -> np.ndarray:
    dtype = series.dtype
    if pd.api.types.is_string_dtype(dtype) or dtype == object:
        values = series.to_numpy(dtype=object, copy=True)
        if from_text:
            # pandas reads a whole CSV column as text when any cell is not a
            # number; turn the cells that are numbers back into numbers, so that
            # fit() counts and shows only the cells that are not.
            numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
            parsed = ~np.isnan(numbers)
            values[parsed] = numbers[parsed]
        return values
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and series.hasnans:
        # Nullable ints/booleans (pandas masked or Arrow-backed): missing -> NaN.
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return series.to_numpy()
