"""The data layer: the toy and synthetic problems, table files, and a one-line error for every bad file.

Every file is written by the test into its tmp_path; the one real data set,
data/diabetes.csv (shipped with the project), comes with its provenance in data/README.md.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import make_config, parse_test_fraction
from engine.config import target_columns as parse_target
from engine.core.descent import Descent
from engine.core.problem import Problem, toy_problem
from engine.data import cleaning, memory, reading, sniffing
from engine.data.dataset import DataError, Dataset
from engine.data.loading import load
from engine.data.reading import load_table
from engine.data.synthetic import synthetic, toy

DIABETES = Path(__file__).parents[2] / "data" / "diabetes.csv"


def write(folder: Path, name: str, content: str | bytes) -> str:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


def raw(path, **options) -> Dataset:
    """The values as written: float64, not standardised."""
    return load_table(path, standardize=False, dtype=np.float64, **options)


def error_of(path, **options) -> str:
    with pytest.raises(DataError) as caught:
        load_table(path, **options)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


# -- reading good files -----------------------------------------------------------------


def test_csv_with_a_header(tmp_path):
    path = write(tmp_path, "house.csv", "rooms,area,price\n3,70.5,210\n4,90,300\n2,45.25,150\n")
    dataset = raw(path)
    assert dataset.feature_names == ["rooms", "area"]
    assert dataset.target_names == ["price"]
    np.testing.assert_array_equal(dataset.X, [[3, 70.5], [4, 90], [2, 45.25]])
    np.testing.assert_array_equal(dataset.Y, [[210], [300], [150]])
    assert dataset.X_test is None and dataset.Y_test is None
    assert dataset.source == path
    assert (dataset.n, dataset.d, dataset.m) == (3, 2, 1)
    assert dataset.W_true is None and not dataset.standardized


def test_default_dtype_is_float32_and_arrays_are_c_contiguous(tmp_path):
    path = write(tmp_path, "t.csv", "a,b,c,d\n1,2,3,4\n5,6,7,8\n9,10,11,12\n")
    dataset = load_table(path, target="b")
    for array in (dataset.X, dataset.Y):
        assert array.dtype == np.float32
        assert array.flags.c_contiguous
    assert load_table(path, dtype="float64").X.dtype == np.float64
    # torch sees the same memory, no copy.
    assert torch.from_numpy(dataset.X).data_ptr() == dataset.X.__array_interface__["data"][0]


def test_no_header_columns_are_named_by_index(tmp_path):
    dataset = raw(write(tmp_path, "plain.csv", "1,2,3\n4,5,6\n"))
    assert dataset.feature_names == ["0", "1"]
    assert dataset.target_names == ["2"]
    np.testing.assert_array_equal(dataset.X, [[1, 2], [4, 5]])


@pytest.mark.parametrize(
    "name,content",
    [
        ("t.tsv", "a\tb\tc\n1\t2\t3\n4\t5\t6\n"),
        ("t.data", "1   2 3\n4\t5   6\n"),
        ("t.txt", " 1 2 3 \n\n4 5 6\n\n"),
        ("uci.data", "1,2,3\n4,5,6\n"),  # UCI .data files are often comma-separated
        ("t.csv", "a;b;c\n1;2;3\n4;5;6\n"),
        ("t.csv", "a,b,c\r\n1,2,3\r\n4,5,6\r\n"),
        ("t.csv", "\ufeffa,b,c\n1,2,3\n4,5,6"),  # a BOM, no final line break
        ("t.csv", 'a,"b, the second",c\n1,2,3\n4,5,6\n'),
        ("t.csv", 'a,b,c\n1, 2 ,"3"\n4,5,6\n'),
        ("t.csv", "a,b,c\n1,2,3\n\n\n4,5,6\n\n"),
        ("t.csv", "a,b,c\n1e0,+2,3.\n.4e1,5.000,6\n"),
    ],
)
def test_formats(tmp_path, name, content):
    dataset = raw(write(tmp_path, name, content))
    np.testing.assert_array_equal(dataset.X, [[1, 2], [4, 5]])
    np.testing.assert_array_equal(dataset.Y, [[3], [6]])


def test_a_quoted_header_name_keeps_its_comma(tmp_path):
    path = write(tmp_path, "q.csv", 'a,"b, the second",c\n1,2,3\n4,5,6\n')
    assert raw(path).feature_names == ["a", "b, the second"]
    assert raw(path, target='"b, the second"').target_names == ["b, the second"]


def test_latin1_header_is_read(tmp_path):
    path = write(tmp_path, "l.csv", "âge,poids\n1,2\n3,4\n".encode("latin-1"))
    assert raw(path).feature_names == ["âge"]


@pytest.mark.parametrize(
    "target,features,targets,Y",
    [
        (None, ["a", "b", "c"], ["d"], [[4], [8], [12]]),
        ("b", ["a", "c", "d"], ["b"], [[2], [6], [10]]),
        ("0", ["b", "c", "d"], ["a"], [[1], [5], [9]]),
        ("-1", ["a", "b", "c"], ["d"], [[4], [8], [12]]),
        ("d,0", ["b", "c"], ["d", "a"], [[4, 1], [8, 5], [12, 9]]),
        (" c , 1 ", ["a", "d"], ["c", "b"], [[3, 2], [7, 6], [11, 10]]),
        (["a", 3], ["b", "c"], ["a", "d"], [[1, 4], [5, 8], [9, 12]]),
    ],
)
def test_target_by_name_or_index(tmp_path, target, features, targets, Y):
    path = write(tmp_path, "t.csv", "a,b,c,d\n1,2,3,4\n5,6,7,8\n9,10,11,12\n")
    dataset = raw(path, target=target)
    assert dataset.feature_names == features
    assert dataset.target_names == targets
    np.testing.assert_array_equal(dataset.Y, Y)
    columns = {"a": 0, "b": 1, "c": 2, "d": 3}
    expected_X = np.arange(1, 13).reshape(3, 4)[:, [columns[f] for f in features]]
    np.testing.assert_array_equal(dataset.X, expected_X)
    assert dataset.X.flags.c_contiguous and dataset.Y.flags.c_contiguous


def test_a_header_name_wins_over_an_index(tmp_path):
    path = write(tmp_path, "t.csv", "x,0,y\n1,2,3\n4,5,6\n")
    assert raw(path, target="0").target_names == ["0"]


def test_parse_target():
    assert parse_target(None) is None
    assert parse_target("") is None
    assert parse_target("  ") is None
    assert parse_target([]) is None
    assert parse_target("price") == ("price",)
    assert parse_target("0, 3") == ("0", "3")
    assert parse_target('"a,b",c') == ("a,b", "c")
    assert parse_target([1, "x"]) == ("1", "x")
    with pytest.raises(ValueError, match="an empty column name in 'a,,b'"):
        parse_target("a,,b")
    with pytest.raises(ValueError, match="column 'a' is given twice"):
        parse_target("a,b,a")


@given(
    st.lists(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_ ]{0,8}[A-Za-z0-9_]", fullmatch=True),
        min_size=1,
        max_size=6,
        unique=True,
    )
)
def test_parse_target_reads_back_what_is_joined(names):
    assert parse_target(",".join(names)) == tuple(names)


def test_parse_test_fraction():
    assert parse_test_fraction("0.25") == 0.25
    assert parse_test_fraction(0) == 0.0
    for bad in ("1", "-0.1", "nan", "abc", None):
        with pytest.raises(ValueError, match="test fraction"):
            parse_test_fraction(bad)


# -- the test split ---------------------------------------------------------------------


def numbered_rows(tmp_path, n=50, name="rows.csv"):
    """Row i holds i, 2i and 3i: any row says which one it is."""
    lines = ["i,double,triple"] + [f"{i},{2 * i},{3 * i}" for i in range(n)]
    return write(tmp_path, name, "\n".join(lines) + "\n")


def test_test_split_is_drawn_from_the_seed(tmp_path):
    path = numbered_rows(tmp_path, 50)
    dataset = raw(path, test_fraction=0.2, seed=3)
    assert (dataset.n, dataset.n_test) == (40, 10)
    train, test = dataset.X[:, 0], dataset.X_test[:, 0]
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(50))
    assert list(train) == sorted(train)  # the training rows keep the file's order
    np.testing.assert_array_equal(dataset.Y_test[:, 0], 3 * test)
    np.testing.assert_array_equal(dataset.X_test[:, 1], 2 * test)
    again = raw(path, test_fraction=0.2, seed=3)
    np.testing.assert_array_equal(again.X_test, dataset.X_test)
    other = raw(path, test_fraction=0.2, seed=4)
    assert set(other.X_test[:, 0]) != set(test)
    expected = np.sort(np.random.default_rng(3).permutation(50)[:10])
    np.testing.assert_array_equal(np.sort(test), expected)
    for array in (dataset.X, dataset.Y, dataset.X_test, dataset.Y_test):
        assert array.flags.c_contiguous


@pytest.mark.parametrize(
    "n,fraction,n_test", [(50, 0.001, 1), (10, 0.25, 2), (2, 0.5, 1), (7, 0.5, 4)]
)
def test_test_rows_count(tmp_path, n, fraction, n_test):
    dataset = raw(numbered_rows(tmp_path, n), test_fraction=fraction)
    assert dataset.n_test == n_test and dataset.n == n - n_test


def test_test_split_refusals(tmp_path):
    path = numbered_rows(tmp_path, 2)
    assert error_of(path, test_fraction=0.9) == (
        f"{path}: a test fraction of 0.9 leaves no training row out of 2 rows"
        " (need at least 1 training and 1 test row)"
    )
    assert error_of(path, test_fraction=1) == f"{path}: test fraction: must be in [0, 1), got 1"
    assert (
        error_of(path, test_fraction=-0.1) == f"{path}: test fraction: must be in [0, 1), got -0.1"
    )


# -- standardisation --------------------------------------------------------------------


def test_standardisation_uses_the_training_rows_only(tmp_path):
    rng = np.random.default_rng(0)
    table = rng.normal(5.0, 3.0, size=(200, 4)) * [1, 10, 100, 0.01]
    path = tmp_path / "s.csv"
    np.savetxt(path, table, delimiter=",", header="a,b,c,y", comments="", fmt="%.17g")
    original = raw(str(path), test_fraction=0.25, seed=1)
    scaled = load_table(str(path), test_fraction=0.25, seed=1, dtype=np.float64)
    mean, std = original.X.mean(axis=0), original.X.std(axis=0)
    np.testing.assert_allclose(scaled.x_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(scaled.x_std, std, rtol=1e-12)
    np.testing.assert_allclose(scaled.X, (original.X - mean) / std, atol=1e-12)
    np.testing.assert_allclose(scaled.X_test, (original.X_test - mean) / std, atol=1e-12)
    y_mean, y_std = original.Y.mean(axis=0), original.Y.std(axis=0)
    np.testing.assert_allclose(scaled.Y, (original.Y - y_mean) / y_std, atol=1e-12)
    np.testing.assert_allclose(scaled.Y_test, (original.Y_test - y_mean) / y_std, atol=1e-12)
    np.testing.assert_allclose(scaled.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled.X.std(axis=0), 1, atol=1e-12)
    assert abs(scaled.X_test.mean()) > 1e-6  # the test part is not centred on its own
    assert scaled.describe() == "s.csv: n=150 (+50 test), d=3, m=1, standardised"


def test_a_constant_column_is_centred_not_divided_by_zero(tmp_path):
    path = write(tmp_path, "c.csv", "a,k,y\n1,7,1\n2,7,2\n4,7,3\n")
    dataset = load_table(path)
    assert np.isfinite(dataset.X).all()
    np.testing.assert_array_equal(dataset.X[:, 1], 0)
    assert dataset.x_std[1] == 1 and dataset.x_mean[1] == 7
    assert dataset.notes == ("column 'k' is constant in the training rows: centred, not scaled",)


def test_float32_standardisation_keeps_the_digits_of_columns_far_from_zero(tmp_path):
    # Timestamps: float32 holds 1.7e9 only to 128, but what matters is their spread.
    rng = np.random.default_rng(0)
    table = np.column_stack([1.7e9 + rng.uniform(0, 1000, 300).round(3), rng.normal(size=300)])
    path = tmp_path / "time.csv"
    np.savetxt(path, table, delimiter=",", fmt="%.17g")
    exact = load_table(str(path), dtype=np.float64)
    single = load_table(str(path))
    np.testing.assert_allclose(single.X, exact.X, atol=1e-6)
    np.testing.assert_allclose(single.x_mean, exact.x_mean, rtol=1e-15)


def test_original_parameters_undo_the_standardisation(tmp_path):
    path = write(tmp_path, "o.csv", "a,b,y\n1,10,3\n2,30,8\n4,20,5\n5,50,12\n")
    scaled = load_table(path, dtype=np.float64)
    W = np.array([[0.5], [-2.0]])
    b = np.array([[0.25]])
    W0, b0 = scaled.original_parameters(W, b)
    original = raw(path)
    predicted = (original.X @ W0 + b0 - scaled.y_mean) / scaled.y_std
    np.testing.assert_allclose(predicted, scaled.X @ W + b, atol=1e-12)
    # Not standardised: the parameters are already the original ones.
    W1, b1 = raw(path).original_parameters(W, b)
    np.testing.assert_array_equal(W1, W)
    np.testing.assert_array_equal(b1, b)


# -- missing values ---------------------------------------------------------------------


def test_dropna_drops_rows_with_missing_values(tmp_path):
    path = write(tmp_path, "m.csv", "a,b,y\n1,2,3\n4,,6\n7,NA,9\n?,1,1\n10,11,12\nnan,0,0\n")
    dataset = raw(path, dropna=True)
    np.testing.assert_array_equal(dataset.X, [[1, 2], [10, 11]])
    assert dataset.dropped_rows == 4
    assert dataset.notes == ("4 rows with missing values dropped",)


def test_dropna_still_refuses_what_is_not_missing(tmp_path):
    path = write(tmp_path, "m.csv", "a,b,y\n1,2,3\n4,,x\n")
    assert error_of(path, dropna=True) == f"{path}, row 3, column 'y': not a number: 'x'"


def test_dropna_with_no_row_left(tmp_path):
    path = write(tmp_path, "m.csv", "a,b,y\n1,,3\n4,?,6\n")
    assert error_of(path, dropna=True) == (
        f"{path}: no data row left after dropping 2 rows with missing values"
    )
    path = write(tmp_path, "n.csv", "a,b,y\n1,,3\n4,5,6\n")
    assert error_of(path, dropna=True) == (
        f"{path}: only 1 data row after dropping 1 row with missing values; need at least 2"
    )


# -- every bad file: a one-line message naming the file, the row and the column ---------


BAD_FILES = [
    ("empty.csv", "", "empty file"),
    ("blank.csv", "\n  \n\t\n", "empty file"),
    ("header.csv", "a,b,c\n", "a header but no data rows"),
    ("header2.csv", "a,b,c\n\n\n", "a header but no data rows"),
    ("short.csv", "a,b,c\n1,2,3\n4,5\n", "row 3: 2 values, expected 3 as in the header"),
    ("long.csv", "a,b,c\n1,2,3\n4,5,6,7\n", "row 3: 4 values, expected 3 as in the header"),
    ("short.data", "1 2 3\n4 5 6\n\n7 8\n", "row 4: 2 values, expected 3 as in row 1"),
    ("words.csv", "age,b,c\n1,2,3\nabc,5,6\n", "row 3, column 'age': not a number: 'abc'"),
    ("words.data", "1 2 3\n4 five 6\n", "row 2, column 1: not a number: 'five'"),
    (
        "comma_no_header.csv",
        "1,5;2;3\n4;5;6\n",
        "row 1, column 0: not a number: '1,5' (a decimal comma? write 1.5, not 1,5)",
    ),
    (
        "comma.csv",
        "a;b;c\n1,5;2;3\n4;5;6\n",
        "row 2, column 'a': not a number: '1,5' (a decimal comma? write 1.5, not 1,5)",
    ),
    ("single.csv", "a,b,c\n1,2,3\n", "only 1 data row; need at least 2"),
    ("single.data", "1 2 3", "only 1 data row; need at least 2"),
    (
        "one_column.csv",
        "y\n1\n2\n",
        "only one column ('y'): need at least one feature column and one target column; is the delimiter right?",
    ),
    (
        "empty_cell.csv",
        "a,b,c\n1,2,3\n4,,6\n",
        "row 3, column 'b': missing value (an empty cell); use --dropna to drop rows with missing values",
    ),
    (
        "na.csv",
        "a,b,c\n1,2,3\n4,5,NA\n",
        "row 3, column 'c': missing value 'NA'; use --dropna to drop rows with missing values",
    ),
    (
        "nan.csv",
        "a,b,c\n1,NaN,3\n4,5,6\n",
        "row 2, column 'b': missing value 'NaN'; use --dropna to drop rows with missing values",
    ),
    (
        "nan2.data",
        "1 2 3\n4 nan 6\n",
        "row 2, column 1: missing value 'nan'; use --dropna to drop rows with missing values",
    ),
    (
        "uci.data",
        "1,2,3\n4,?,6\n",
        "row 2, column 1: missing value '?'; use --dropna to drop rows with missing values",
    ),
    ("inf.csv", "a,b,c\n1,2,3\n4,inf,6\n", "row 3, column 'b': infinite value 'inf'"),
    ("minf.csv", "a,b,c\n1,2,-Infinity\n4,5,6\n", "row 2, column 'c': infinite value '-Infinity'"),
    (
        "huge.csv",
        "a,b,c\n1,2,3\n4,1e400,6\n",
        "row 3, column 'b': '1e400' is too large for float32",
    ),
    (
        "f32.csv",
        "a,b,c\n1,2,3\n4,1e39,6\n",
        "row 3, column 'b': '1e39' is too large for float32; use float64",
    ),
    ("nul.csv", b"a,b\x00,c\n1,2,3\n", "binary content (NUL bytes), not a text table"),
    (
        "random.data",
        bytes(np.random.default_rng(0).integers(1, 256, 4096, dtype=np.uint8)),
        "binary content (control characters), not a text table",
    ),
    (
        "book.xlsx",
        b"PK\x03\x04\x14\x00\x06\x00" + bytes(100),
        "looks like an Excel/zip file; export it as CSV",
    ),
    (
        "book.csv",
        b"PK\x03\x04\x14\x00\x06\x00" + bytes(100),
        "looks like an Excel/zip file; export it as CSV",
    ),
    (
        "packed.csv",
        b"\x1f\x8b\x08\x00" + bytes(40),
        "a gzip-compressed file; decompress it first (gunzip)",
    ),
    ("wide.csv", "a,b\n1,2\n".encode("utf-16"), "UTF-16 text; save it as UTF-8 (or ASCII) CSV"),
    (
        "late_nul.csv",
        b"a,b,c\n" + b"1,2,3\n" * 300 + b"4,\x00\x00,6\n",
        "row 302, column 'b': binary content, not a number",
    ),
]


@pytest.mark.parametrize("name,content,reason", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_file(tmp_path, name, content, reason):
    path = write(tmp_path, name, content)
    message = error_of(path)
    where = "" if reason.startswith("row ") else ": "
    assert message == f"{path}{', ' if where == '' else where}{reason}"


def test_missing_file_and_folder(tmp_path):
    path = str(tmp_path / "nowhere.csv")
    assert error_of(path) == f"{path}: no such file"
    assert error_of(str(tmp_path)) == f"{tmp_path}: is a folder, not a file"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, "secret.csv", "a,b\n1,2\n3,4\n")
    os.chmod(path, 0)
    assert error_of(path) == f"{path}: cannot be read: permission denied"


@pytest.mark.parametrize(
    "target,reason",
    [
        ("price", "unknown target column 'price' (columns: a, b, c)"),
        ("3", "target column 3 is out of range: the file has 3 columns (0 to 2)"),
        ("-4", "target column -4 is out of range: the file has 3 columns (0 to 2)"),
        ("a,0", "the target names column 'a' twice"),
        ("a,b,c", "no feature column left: the target takes all 3 columns"),
        ("a,,b", "target: an empty column name in 'a,,b'"),
        ("b,b", "target: column 'b' is given twice"),
    ],
)
def test_bad_target(tmp_path, target, reason):
    path = write(tmp_path, "t.csv", "a,b,c\n1,2,3\n4,5,6\n")
    assert error_of(path, target=target) == f"{path}: {reason}"


def test_target_by_name_without_a_header(tmp_path):
    path = write(tmp_path, "t.csv", "1,2,3\n4,5,6\n")
    assert error_of(path, target="price") == (
        f"{path}: unknown target column 'price': the file has no header; give a 0-based index (0 to 2)"
    )
    path = write(tmp_path, "dup.csv", "a,a,b\n1,2,3\n4,5,6\n")
    assert error_of(path, target="a") == (
        f"{path}: target column 'a' is ambiguous: columns 0, 1 have that name; give an index"
    )


def test_a_file_too_large_is_refused_before_it_is_read(tmp_path):
    path = numbered_rows(tmp_path, 2000)
    calls = []
    message = error_of(path, max_bytes=10_000, progress=calls.append)
    assert re.fullmatch(
        re.escape(path) + r": too large for memory \(about [\d.]+ kB needed, 10\.0 kB available\)",
        message,
    )
    assert calls == []  # not one chunk was read
    assert load_table(path, max_bytes=10_000_000).n == 2000


def test_the_size_is_estimated_from_the_file_size_before_reading(tmp_path):
    # 1 MB of rows, then a hole: a sparse file of 100 GB that takes no disk space.
    path = numbered_rows(tmp_path, 60_000, name="huge.csv")
    with open(path, "r+b") as handle:
        handle.truncate(100 * 10**9)
    calls = []
    try:
        message = error_of(path, progress=calls.append)
    finally:
        os.remove(path)
    assert re.fullmatch(
        re.escape(path)
        + r": too large for memory \(about \d+\.\d GB needed, [\d.]+ [GMk]B available\)",
        message,
    )
    needed = float(message.split("about ")[1].split(" GB")[0])
    # About 17 bytes a row and 3 float32 values: 100e9 / 17 * 12 bytes.
    assert 60 < needed < 80
    assert calls == []


def test_available_memory_is_a_positive_number():
    assert memory.available_memory() > 0


# -- many chunks: row numbers, blocks, growth and progress ------------------------------


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few kB, so a file of a few hundred kB goes through every path."""
    monkeypatch.setattr(reading, "CHUNK_BYTES", 8192)
    monkeypatch.setattr(cleaning, "SLOW_BYTES", 256)
    monkeypatch.setattr(sniffing, "HEAD_BYTES", 4096)
    monkeypatch.setattr(reading, "PROGRESS_INTERVAL", 0.0)


def test_an_error_far_in_the_file_names_its_line(tmp_path, small_chunks):
    lines = ["a,b,c"] + [f"{i},{i + 1},{i + 2}" for i in range(20_000)]
    lines[15_000] = "1,2,oops"
    path = write(tmp_path, "far.csv", "\n".join(lines) + "\n")
    assert error_of(path) == f"{path}, row 15001, column 'c': not a number: 'oops'"


def test_blank_lines_keep_the_row_numbers_right(tmp_path, small_chunks):
    lines = ["a,b,c"] + [f"{i},{i},{i}" if i % 7 else "" for i in range(5000)]
    lines[4321] = "1,2"
    path = write(tmp_path, "blank.csv", "\n".join(lines) + "\n")
    assert error_of(path) == f"{path}, row 4322: 2 values, expected 3 as in the header"


def test_dropna_across_chunks_matches_a_filter(tmp_path, small_chunks):
    rng = np.random.default_rng(0)
    table = rng.integers(0, 1000, size=(8000, 4)).astype(float)
    holes = rng.random(8000) < 0.01
    lines = ["w,x,y,z"] + [
        ("1,,2,3" if hole else ",".join(f"{v:g}" for v in row))
        for row, hole in zip(table, holes, strict=True)
    ]
    path = write(tmp_path, "holes.csv", "\n".join(lines) + "\n")
    dataset = raw(path, dropna=True)
    assert dataset.dropped_rows == holes.sum()
    np.testing.assert_array_equal(dataset.X, table[~holes][:, :3])
    np.testing.assert_array_equal(dataset.Y, table[~holes][:, 3:])


def test_rows_beyond_the_estimate_grow_the_arrays(tmp_path, small_chunks):
    # Long rows first, short ones after: the estimate from the head is far too small.
    long_rows = [f"{i}.000000000000001,{i}.000000000000001,{i}" for i in range(200)]
    short_rows = [f"{i},{i},{i}" for i in range(200, 30_000)]
    path = write(tmp_path, "grow.csv", "\n".join(long_rows + short_rows) + "\n")
    dataset = raw(path)
    assert dataset.n == 30_000
    np.testing.assert_array_equal(dataset.Y[:, 0], np.arange(30_000))
    assert dataset.X.flags.owndata and dataset.X.flags.c_contiguous


def test_progress_goes_from_0_to_1(tmp_path, small_chunks):
    path = numbered_rows(tmp_path, 20_000)
    calls = []
    load_table(path, progress=calls.append)
    assert calls[0] == 0.0 and calls[-1] == 1.0
    assert len(calls) > 10
    assert all(0 <= a <= b <= 1 for a, b in zip(calls, calls[1:], strict=False))


def test_progress_is_called_a_few_times_per_second_at_most(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "CHUNK_BYTES", 4096)
    path = numbered_rows(tmp_path, 20_000)
    times = []
    started = time.monotonic()
    load_table(path, progress=lambda _: times.append(time.monotonic()))
    elapsed = time.monotonic() - started
    assert len(times) <= 2 + elapsed / reading.PROGRESS_INTERVAL + 1


def test_progress_can_cancel_the_reading(tmp_path, small_chunks):
    class Cancelled(Exception):
        pass

    def cancel(fraction):
        if fraction > 0.3:
            raise Cancelled

    with pytest.raises(Cancelled):
        load_table(numbered_rows(tmp_path, 20_000), progress=cancel)


def test_a_moderate_file_equals_numpys_reading(tmp_path):
    rng = np.random.default_rng(1)
    table = rng.standard_normal((20_000, 21))
    path = tmp_path / "moderate.csv"
    np.savetxt(path, table, delimiter=",", fmt="%.9g")
    expected = np.loadtxt(path, delimiter=",")
    dataset = raw(str(path), target="0,20")
    np.testing.assert_array_equal(dataset.Y, expected[:, [0, 20]])
    np.testing.assert_array_equal(dataset.X, expected[:, 1:20])
    single = load_table(str(path), standardize=False)
    np.testing.assert_array_equal(single.X, expected[:, :20].astype(np.float32))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.integers(2, 12).flatmap(
        lambda rows: st.integers(2, 5).flatmap(
            lambda columns: st.lists(
                st.lists(
                    st.floats(allow_nan=False, allow_infinity=False, width=64),
                    min_size=columns,
                    max_size=columns,
                ),
                min_size=rows,
                max_size=rows,
            )
        )
    ),
    format=st.sampled_from(
        [(".csv", ","), (".csv", ";"), (".tsv", "\t"), (".data", " "), (".txt", "  ")]
    ),
    header=st.booleans(),
    crlf=st.booleans(),
)
def test_any_table_of_finite_numbers_reads_back_exactly(tmp_path, table, format, header, crlf):
    extension, delimiter = format
    columns = len(table[0])
    lines = [delimiter.join(f"c{j}" for j in range(columns))] if header else []
    lines += [delimiter.join(repr(value) for value in row) for row in table]
    newline = "\r\n" if crlf else "\n"
    path = write(tmp_path, "any" + extension, newline.join(lines) + newline)
    expected = np.array(table)
    with np.errstate(over="ignore"):
        overflows = not (
            np.sum(expected[:, :-1] ** 2) <= np.finfo(np.float64).max
            and np.sum(expected[:, -1:] ** 2) <= np.finfo(np.float64).max
        )
    if overflows:
        # Read exactly, then refused: the loss of such data overflows float64.
        assert "are too large: their squares" in error_of(path, standardize=False, dtype="float64")
        return
    dataset = raw(path)
    np.testing.assert_array_equal(dataset.X, expected[:, :-1])
    np.testing.assert_array_equal(dataset.Y, expected[:, -1:])


# -- the synthetic problem and the toy one ---------------------------------------------


def test_synthetic_has_a_known_truth():
    dataset = synthetic(n=500, d=4, m=2, noise=0.0, seed=7)
    assert dataset.X.shape == (500, 4) and dataset.Y.shape == (500, 2)
    assert dataset.W_true.shape == (4, 2) and dataset.b_true.shape == (1, 2)
    assert dataset.X.dtype == dataset.Y.dtype == dataset.W_true.dtype == np.float32
    np.testing.assert_allclose(dataset.Y, dataset.X @ dataset.W_true + dataset.b_true, atol=1e-5)
    assert dataset.source == "synthetic" and dataset.X_test is None
    assert dataset.feature_names == ["x0", "x1", "x2", "x3"] and dataset.target_names == [
        "y0",
        "y1",
    ]


def test_synthetic_noise_and_seed():
    a = synthetic(n=20_000, d=3, noise=0.5, seed=1)
    residual = a.Y - (a.X @ a.W_true + a.b_true)
    assert abs(residual.std() - 0.5) < 0.01
    b = synthetic(n=20_000, d=3, noise=0.5, seed=1)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.Y, b.Y)
    assert not np.array_equal(a.X, synthetic(n=20_000, d=3, noise=0.5, seed=2).X)


def test_synthetic_leaves_the_global_generators_alone():
    state = np.random.get_state()[1].copy()
    torch_state = torch.random.get_rng_state().clone()
    synthetic(n=10, d=2)
    assert np.array_equal(np.random.get_state()[1], state)
    assert torch.equal(torch.random.get_rng_state(), torch_state)


def test_synthetic_float64_and_test_split():
    dataset = synthetic(n=100, d=3, dtype="float64", test_fraction=0.3)
    assert dataset.X.dtype == np.float64
    assert (dataset.n, dataset.n_test) == (70, 30)
    assert dataset.X.flags.c_contiguous and dataset.X_test.flags.c_contiguous


def test_synthetic_standardised_truth_is_in_the_standardised_units():
    dataset = synthetic(n=300, d=3, m=2, noise=0.0, dtype="float64", standardize=True)
    np.testing.assert_allclose(dataset.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(dataset.Y, dataset.X @ dataset.W_true + dataset.b_true, atol=1e-10)


@pytest.mark.parametrize(
    "options,reason",
    [
        ({"n": 0}, "n must be a positive integer, got 0"),
        ({"n": 1}, "n must be at least 2, got 1"),
        ({"d": -1}, "d must be a positive integer, got -1"),
        ({"m": 1.5}, "m must be a positive integer, got 1.5"),
        ({"n": True}, "n must be a positive integer, got True"),
        ({"n": "many"}, "n must be a positive integer, got 'many'"),
        ({"noise": -0.1}, "noise must be a finite number >= 0, got -0.1"),
        ({"noise": float("nan")}, "noise must be a finite number >= 0, got nan"),
        ({"noise": float("inf")}, "noise must be a finite number >= 0, got inf"),
        ({"noise": "loud"}, "noise must be a number, got 'loud'"),
        ({"dtype": "int8"}, "dtype: must be float32 or float64, got 'int8'"),
        ({"test_fraction": 1.0}, "test fraction: must be in [0, 1), got 1.0"),
        ({"n": 10**9, "d": 100}, "too large for memory (about 408.0 GB needed, 1.0 GB available)"),
    ],
)
def test_synthetic_refusals(options, reason):
    with pytest.raises(DataError) as caught:
        synthetic(**options, max_bytes=10**9)
    assert str(caught.value) == f"synthetic: {reason}"


def test_synthetic_accepts_integers_written_as_text():
    assert synthetic(n="1e3", d="2").X.shape == (1000, 2)


def test_toy_is_the_notebooks_problem():
    dataset = toy(seed=42)
    problem = toy_problem(42)
    np.testing.assert_array_equal(dataset.X, problem.X.numpy())
    np.testing.assert_array_equal(dataset.Y, problem.Y.numpy())
    assert dataset.source == "toy" and (dataset.n, dataset.d, dataset.m) == (50, 13, 3)


def test_load_dispatches_and_sets_the_default_standardisation(tmp_path):
    assert load("toy").source == "toy" and not load("toy").standardized
    assert load("synthetic", n=30, d=2).X.shape == (30, 2)
    path = numbered_rows(tmp_path, 10)
    assert load(path).standardized
    assert not load(Path(path), standardize=False).standardized
    assert load(path, test_fraction=0.2).n_test == 2


def test_importing_the_data_layer_loads_neither_torch_nor_a_ui():
    code = (
        "import sys, engine.data.loading, engine.config\n"
        "print(sorted(m for m in ('torch', 'textual', 'rich', 'plotext') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- a real data set: gradient descent reaches the least-squares optimum ---------------


def test_diabetes_descent_reaches_the_least_squares_optimum():
    dataset = load_table(DIABETES)
    assert (dataset.n, dataset.d, dataset.m) == (442, 10, 1)
    assert dataset.feature_names == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    assert dataset.target_names == ["progression"]
    np.testing.assert_allclose(dataset.y_mean, [152.133484], rtol=1e-6)

    # The optimum, independently: least squares with a bias column, in float64.
    X, Y = dataset.X.astype(np.float64), dataset.Y.astype(np.float64)
    X_tilde = np.hstack([X, np.ones((dataset.n, 1))])
    solution, *_ = np.linalg.lstsq(X_tilde, Y, rcond=None)
    optimal_loss = float(np.mean((X_tilde @ solution - Y) ** 2))
    # The known figure for this data set: an affine fit explains R² = 0.5177 of the variance.
    assert 1 - optimal_loss == pytest.approx(0.5177, abs=1e-4)
    largest = np.linalg.eigvalsh(2 / dataset.n * X_tilde.T @ X_tilde)[-1]

    problem = Problem(
        torch.from_numpy(dataset.X),
        torch.from_numpy(dataset.Y),
        torch.zeros(dataset.d, dataset.m),
        torch.zeros(1, dataset.m),
        name="diabetes",
    )
    assert problem.theory.optimal_loss == pytest.approx(optimal_loss, rel=1e-9)
    config = make_config(learning_rate=0.9 * 2 / largest, max_iter=3000, threshold=-1)
    descent = Descent(config, problem)
    descent.run()
    assert descent.iteration == 3000
    assert descent.final_loss() == pytest.approx(optimal_loss, rel=1e-4)
    W = descent.W.double().numpy()
    b = descent.b.double().numpy()
    np.testing.assert_allclose(np.vstack([W, b]), solution, atol=2e-3)

    # In the original units, the same fit as least squares on the raw file.
    original = raw(DIABETES)
    W0, b0 = dataset.original_parameters(W, b)
    raw_solution, *_ = np.linalg.lstsq(
        np.hstack([original.X, np.ones((original.n, 1))]), original.Y, rcond=None
    )
    prediction = original.X @ W0 + b0
    raw_prediction = np.hstack([original.X, np.ones((original.n, 1))]) @ raw_solution
    np.testing.assert_allclose(prediction, raw_prediction, rtol=1e-3, atol=0.1)


# -- the big file, only on request ------------------------------------------------------


def write_big_csv(path: Path, rows: int, columns: int) -> None:
    """Fixed-width numbers built as bytes, 50k rows at a time: seconds for 1 GB, not minutes."""
    rng = np.random.default_rng(0)
    weights = rng.standard_normal(columns - 1) / np.sqrt(columns - 1)
    with open(path, "wb") as handle:
        handle.write((",".join(f"x{j}" for j in range(columns - 1)) + ",y\n").encode())
        for start in range(0, rows, 50_000):
            count = min(50_000, rows - start)
            table = rng.standard_normal((count, columns))
            table[:, -1] = table[:, :-1] @ weights + 0.5 * table[:, -1]
            np.clip(table, -9.999999, 9.999999, out=table)
            digits = np.round(np.abs(table) * 1e6).astype(np.int64)
            text = np.empty((count, columns, 10), dtype=np.uint8)
            text[..., 0] = np.where(table < 0, ord("-"), ord("+"))
            text[..., 1] = ord("0") + digits // 1_000_000
            text[..., 2] = ord(".")
            for k in range(6):
                text[..., 3 + k] = ord("0") + (digits // 10 ** (5 - k)) % 10
            text[..., 9] = ord(",")
            text[:, -1, 9] = ord("\n")
            handle.write(text.tobytes())


@pytest.mark.skipif(os.environ.get("AMAL_SLOW_TESTS") != "1", reason="set AMAL_SLOW_TESTS=1")
def test_a_million_rows_of_100_columns_load_with_progress_and_run(tmp_path):
    path = tmp_path / "big.csv"
    write_big_csv(path, 1_000_000, 100)
    try:
        calls = []
        started = time.perf_counter()
        dataset = load_table(path, progress=calls.append, test_fraction=0.1)
        elapsed = time.perf_counter() - started
    finally:
        path.unlink()
    assert (dataset.n, dataset.n_test, dataset.d, dataset.m) == (900_000, 100_000, 99, 1)
    assert elapsed < 120
    assert len(calls) >= 3 and calls[-1] == 1.0
    problem = Problem(
        torch.from_numpy(dataset.X),
        torch.from_numpy(dataset.Y),
        torch.zeros(99, 1),
        torch.zeros(1, 1),
        name="big",
    )
    descent = Descent(make_config(learning_rate=0.1, max_iter=5, threshold=-1), problem)
    descent.run()
    assert descent.losses[-1] < descent.losses[0]


@pytest.mark.skipif(os.environ.get("AMAL_SLOW_TESTS") != "1", reason="set AMAL_SLOW_TESTS=1")
def test_a_million_synthetic_rows_make_no_copy():
    dataset = synthetic(n=1_000_000, d=100)
    assert dataset.X.nbytes == 400_000_000
    assert dataset.X.base is None or dataset.X.base.nbytes == dataset.X.nbytes


def test_a_column_whose_spread_underflows_is_centred_not_divided_by_zero(tmp_path):
    # Found by hypothesis (tests/cli/test_bad_input.py): the square of 3e-242 is 0 in
    # float64, so the std was 0 while the values differed, and standardising made ±inf.
    path = tmp_path / "tiny.csv"
    path.write_text("0.0,0.0,0.0\n0.0,0.0,3.0814835740766094e-242\n")
    data = load(str(path), standardize=True, dtype=np.float64)
    assert np.isfinite(data.X).all() and np.isfinite(data.Y).all()
    assert any("constant" in note for note in data.notes)
