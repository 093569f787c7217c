"""What a form asks the data layer before loading: a file's columns from its first lines
(``table_columns``), synthetic sizes (``check_synthetic``), and which setting a DataError
is about; the loader's one-line description with the rows it dropped."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.data.dataset import DataError
from engine.data.loading import load
from engine.data.reading import load_table, table_columns
from engine.data.synthetic import check_synthetic, synthetic

DIABETES = Path(__file__).parents[2] / "data" / "diabetes.csv"


def test_the_columns_of_a_file_and_its_default_target():
    columns = table_columns(DIABETES)
    assert columns.names[:3] == ("age", "sex", "bmi") and len(columns.names) == 11
    assert columns.header is True
    assert columns.targets == (10,) and columns.features == tuple(range(10))


def test_targets_by_name_or_index_as_the_loader_resolves_them():
    assert table_columns(DIABETES, "bmi,progression").targets == (2, 10)
    assert table_columns(DIABETES, "0, -1").targets == (0, 10)
    assert load_table(DIABETES, target="bmi,progression").target_names == ["bmi", "progression"]


@pytest.mark.parametrize(
    "target, reason",
    [
        ("nosuch", "unknown target column 'nosuch'"),
        ("11", "target column 11 is out of range"),
        ("bmi,bmi", "column 'bmi' is given twice"),
        (",".join(str(j) for j in range(11)), "no feature column left"),
    ],
)
def test_a_target_the_file_cannot_take_names_the_target_setting(target, reason):
    with pytest.raises(DataError) as caught:
        table_columns(DIABETES, target)
    assert caught.value.setting == "target"
    assert reason in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(DataError) as loaded:  # the loader says the same
        load_table(DIABETES, target=target)
    assert str(loaded.value) == str(caught.value)


def test_a_file_without_a_header_has_numbered_columns(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("1,2,3\n4,5,6\n")
    columns = table_columns(path)
    assert columns.names == ("0", "1", "2") and columns.header is False


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a folder, not a file"),
        (lambda p: p.write_text(""), "empty file"),
        (lambda p: p.write_bytes(b"PK\x03\x04rest"), "looks like an Excel/zip file"),
        (lambda p: p.write_text("only\n1\n2\n"), "only one column"),
    ],
)
def test_a_file_that_is_no_table_is_refused_in_one_line(tmp_path, make, reason):
    path = tmp_path / "bad.csv"
    make(path)
    with pytest.raises(DataError) as caught:
        table_columns(path)
    assert reason in str(caught.value) and caught.value.setting is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    outcome: list[str] = []

    def read() -> None:
        try:
            table_columns(pipe)
        except DataError as error:
            outcome.append(error.reason)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(timeout=5)
    if thread.is_alive():  # unblock it before failing, so the test run goes on
        with open(pipe, "w"):
            pass
    assert outcome == ["not a regular file"]


def test_only_the_first_lines_are_read(tmp_path):
    path = tmp_path / "long.csv"
    rows = "\n".join(f"{i},{i * 2}" for i in range(60_000))  # over a megabyte
    path.write_text(f"x,y\n{rows}\n1,oops\n")
    assert table_columns(path).names == ("x", "y")  # the bad row, far down, is not read
    with pytest.raises(DataError, match="row 60002"):
        load_table(path)


@pytest.mark.parametrize(
    "sizes, setting, reason",
    [
        (dict(n=1), "n", "n must be at least 2, got 1"),
        (dict(n=0), "n", "n must be a positive integer, got 0"),
        (dict(d="x"), "d", "d must be a positive integer"),
        (dict(m=1.5), "m", "m must be a positive integer"),
        (dict(noise=-1.0), "noise", "noise must be a finite number >= 0"),
        (dict(noise=1e39), "noise", "too large for float32"),
        (dict(n=2, test_fraction=0.9), "test_fraction", "leaves no training row"),
        (dict(test_fraction=1.0), "test_fraction", "must be in [0, 1)"),
        (dict(n=10**9, max_bytes=10**6), "n", "too large for memory"),
    ],
)
def test_synthetic_sizes_are_checked_before_anything_is_drawn(sizes, setting, reason):
    values = dict(n=200, d=5, m=1, noise=0.1) | sizes
    options = {k: values.pop(k) for k in ("test_fraction", "max_bytes") if k in values}
    with pytest.raises(DataError) as checked:
        check_synthetic(values["n"], values["d"], values["m"], values["noise"], **options)
    assert checked.value.setting == setting and reason in checked.value.reason
    with pytest.raises(DataError) as drawn:  # the same rule, the same words, when drawing
        synthetic(values["n"], values["d"], values["m"], values["noise"], **options)
    assert str(drawn.value) == str(checked.value)


def test_valid_synthetic_sizes_come_back_as_used():
    n, d, m, noise, dtype, fraction = check_synthetic("300", 4, 2, "0.5", test_fraction=0.2)
    assert (n, d, m, noise, dtype, fraction) == (300, 4, 2, 0.5, np.dtype("float32"), 0.2)


def test_the_description_says_how_many_rows_were_dropped(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b,y\n1,2,1\n2,?,2\n3,1,3\n4,5,5\n")
    dataset = load(str(path), dropna=True)
    assert dataset.describe() == "gaps.csv: n=3, d=2, m=1, standardised, 1 row dropped"
    assert load(str(DIABETES)).describe() == "diabetes.csv: n=442, d=10, m=1, standardised"
