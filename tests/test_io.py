"""thetahat.io (CSV/TSV/Parquet columns) and thetahat.datasets (packaged data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import thetahat
from thetahat import datasets
from thetahat.io import read_column, read_columns, read_table

FRAME = pd.DataFrame(
    {
        "x": [1.5, 2.25, 0.125, 7.0, 3.5],
        "n": [1, 2, 3, 4, 5],
        "label": ["a", "b", "c", "d", "e"],
    }
)


def write(frame: pd.DataFrame, path: Path) -> Path:
    suffixes = "".join(path.suffixes)
    if suffixes in (".parquet", ".pq"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, sep="\t" if suffixes.startswith(".tsv") else ",", index=False)
    return path


@pytest.mark.parametrize("name", ["d.csv", "d.tsv", "d.parquet", "d.pq", "d.csv.gz", "D.CSV"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    path = write(FRAME, tmp_path / name)
    x = read_column(path, "x")
    np.testing.assert_array_equal(x, FRAME["x"].to_numpy())
    assert x.dtype == np.float64
    n = read_column(str(path), "n")  # str paths work too
    np.testing.assert_array_equal(n, [1, 2, 3, 4, 5])
    assert n.dtype.kind == "i"
    assert list(read_table(path).columns) == ["x", "n", "label"]


def test_read_columns_in_the_order_asked(tmp_path: Path) -> None:
    path = write(FRAME, tmp_path / "d.parquet")
    n, x = read_columns(path, "n", "x")
    np.testing.assert_array_equal(n, FRAME["n"])
    np.testing.assert_array_equal(x, FRAME["x"])
    (same,) = read_columns(path, "x")
    np.testing.assert_array_equal(same, x)
    assert list(read_table(path, ["label", "x"]).columns) == ["label", "x"]


def test_fit_from_file_equals_fit_from_array(tmp_path: Path) -> None:
    path = write(FRAME, tmp_path / "d.csv")
    from_file = thetahat.fit(read_column(path, "x"), "normal")
    direct = thetahat.fit(FRAME["x"].to_numpy(), "normal")
    assert from_file.params == direct.params
    assert from_file.loglik == direct.loglik


@pytest.mark.parametrize("name", ["d.csv", "d.parquet"])
def test_missing_column_lists_the_columns(tmp_path: Path, name: str) -> None:
    path = write(FRAME, tmp_path / name)
    with pytest.raises(thetahat.DataError, match=r"d\.(csv|parquet)' has no column 'y'; its columns are \['x', 'n', 'label'\]"):
        read_column(path, "y")
    with pytest.raises(thetahat.DataError, match=r"has no columns 'y', 'z'"):
        read_columns(path, "x", "y", "z")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(thetahat.DataError, match=r"file '.*nowhere\.csv' not found"):
        read_column(missing, "x")
    with pytest.raises(thetahat.DataError, match="not found"):
        read_column(tmp_path / "nowhere.xlsx", "x")  # existence is checked first


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(thetahat.DataError, match="is a directory"):
        read_table(tmp_path)


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    path.write_text("x\n1\n")
    with pytest.raises(thetahat.DataError, match=r"cannot tell the format of '.*d\.xlsx'.*\.csv, \.tsv, \.parquet, \.pq"):
        read_column(path, "x")


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(thetahat.DataError, match=r"file '.*empty\.csv' is empty"):
        read_column(empty, "x")
    broken = tmp_path / "broken.parquet"
    broken.write_text("x\n1\n")
    with pytest.raises(thetahat.DataError, match=r"cannot read '.*broken\.parquet' as PARQUET: "):
        read_column(broken, "x")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("x,y\n1,2\n3,4,5,6\n")  # pandas' usecols= would accept this silently
    with pytest.raises(thetahat.DataError, match=r"cannot read '.*ragged\.csv' as CSV: .*line 3"):
        read_column(ragged, "x")
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"x\n\xff\xfe1\n")
    with pytest.raises(thetahat.DataError, match=r"cannot read '.*binary\.tsv' as TSV: .*utf-8"):
        read_column(binary, "x")


def test_header_only_gives_an_empty_column_that_fit_rejects(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("x\n")
    x = read_column(path, "x")
    assert x.shape == (0,)
    with pytest.raises(thetahat.DataError, match="empty"):
        thetahat.fit(x, "normal")


def test_text_stays_text_so_fit_names_it(tmp_path: Path) -> None:
    path = write(FRAME, tmp_path / "d.parquet")
    label = read_column(path, "label")
    assert label.dtype == object and label[0] == "a"
    with pytest.raises(thetahat.DataError, match=r"must be numeric.*5 values; the first is 'a' at index 0"):
        thetahat.fit(label, "normal")


def test_csv_cells_that_are_numbers_are_numbers(tmp_path: Path) -> None:
    # pandas reads the whole column as text because of one bad cell; fit must
    # count only that cell, not the numbers around it.
    path = tmp_path / "mixed.csv"
    path.write_text("x\n1.5\n2\nabc\n 4 \n\n")
    x = read_column(path, "x")
    assert list(x[:4]) == [1.5, 2.0, "abc", 4.0]
    with pytest.raises(thetahat.DataError, match=r"must be numeric.*1 value; the first is 'abc' at index 2"):
        thetahat.fit(x, "normal")


def test_missing_numbers_become_nan_and_fit_rejects_them(tmp_path: Path) -> None:
    frame = pd.DataFrame({"k": pd.array([3, None, 5, 1], dtype="Int64")})
    for name in ("d.parquet", "d.csv"):
        path = write(frame, tmp_path / name)
        k = read_column(path, "k")
        assert k.dtype == np.float64
        np.testing.assert_array_equal(k, [3.0, np.nan, 5.0, 1.0])
        with pytest.raises(thetahat.DataError, match=r"non-finite.*1 value; the first is .*nan.* at index 1"):
            thetahat.fit(k, "normal")


def test_nullable_ints_without_missing_keep_their_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({"k": pd.array([3, 4, 5], dtype="Int64")})
    k = read_column(write(frame, tmp_path / "d.parquet"), "k")
    np.testing.assert_array_equal(k, [3, 4, 5])


# -- packaged data sets --------------------------------------------------------


def test_dataset_names() -> None:
    assert {"groundbeef", "faithful", "galaxies"} <= set(datasets.names())


def test_groundbeef() -> None:
    beef = datasets.load("groundbeef")
    assert list(beef.columns) == ["serving"]
    assert len(beef) == 254
    assert beef["serving"].min() > 0
    assert beef["serving"].mean() == pytest.approx(73.64567, abs=5e-6)  # fitdistrplus descdist


@pytest.mark.parametrize(("name", "shape", "columns"), [
    ("faithful", (272, 2), ["eruptions", "waiting"]),
    ("galaxies", (82, 1), ["dat"]),
])
def test_r_row_names_are_dropped(name: str, shape: tuple[int, int], columns: list[str]) -> None:
    table = datasets.load(name)
    assert table.shape == shape
    assert list(table.columns) == columns
    assert np.issubdtype(table[columns[0]].dtype, np.number)


def test_unknown_dataset() -> None:
    with pytest.raises(thetahat.DataError, match=r"no packaged data set called 'beef'; choose one of \["):
        datasets.load("beef")
