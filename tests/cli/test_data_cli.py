"""Data on the command line: files, synthetic data, test losses, one-line errors with exit 2."""

import json
from pathlib import Path

import pytest

from tui.cli import main

DIABETES = Path(__file__).parents[2] / "data" / "diabetes.csv"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_standardised_file_reaches_the_optimum_the_theory_reports(capsys):
    code, out, _ = run(
        capsys,
        "--headless",
        "--json",
        "--no-tensorboard",
        "--data",
        DIABETES,
        "--lr",
        "0.2",
        "--threshold",
        "-1",
        "--max-iter",
        "4000",
    )
    summary = json.loads(out)
    assert code == 0 and summary["config"]["data"] == str(DIABETES)
    assert summary["final_loss"] == pytest.approx(summary["theory"]["optimal_loss"], rel=1e-4)
    assert min(summary["losses"]) >= summary["theory"]["optimal_loss"] * (1 - 1e-6)


def test_the_test_loss_is_recorded_at_each_iteration(capsys):
    code, out, _ = run(
        capsys,
        "--headless",
        "--json",
        "--no-tensorboard",
        "--data",
        DIABETES,
        "--test-fraction",
        "0.2",
        "--lr",
        "0.1",
        "--max-iter",
        "50",
        "--threshold",
        "-1",
    )
    summary = json.loads(out)
    assert len(summary["test_losses"]) == len(summary["losses"]) == 50
    assert summary["test_losses"][-1] < summary["test_losses"][0]
    options = ["--data", DIABETES, "--test-fraction", "0.2", "--lr", "0.1", "--max-iter", "50"]
    code, text, _ = run(capsys, "--headless", "--no-tensorboard", "--threshold", "-1", *options)
    first, last = summary["test_losses"][0], summary["test_losses"][-1]
    assert (
        f"TEST loss, on the 88 rows kept apart: {first:.6g} at the start, {last:.6g} at the end"
        in text
    )


def test_synthetic_data(capsys):
    code, out, _ = run(
        capsys,
        "--headless",
        "--json",
        "--no-tensorboard",
        "--data",
        "synthetic",
        "--n",
        "500",
        "--d",
        "7",
        "--m",
        "2",
        "--noise",
        "0.01",
        "--lr",
        "0.5",
        "--threshold",
        "-1",
        "--max-iter",
        "300",
    )
    summary = json.loads(out)
    assert len(summary["W"]) == 7 and len(summary["W"][0]) == 2
    assert summary["final_loss"] == pytest.approx(summary["theory"]["optimal_loss"], rel=1e-3)


@pytest.mark.parametrize(
    "content,words",
    [
        ("", "empty file"),
        ("a,b,c\n", "a header but no data rows"),
        ("a,b,c\n1,2,3\n4,5\n", "row 3: 2 values, expected 3"),
        ("a,b,c\n1,2,3\n4,x,6\n", "row 3, column 'b': not a number: 'x'"),
        ("a,b,c\n1,2,3\n", "only 1 data row"),
        ("a,b,c\n1,2,3\n4,NA,6\n", "missing value"),
        ("a,b,c\n1,2,3\n4,inf,6\n", "infinite value"),
        ("a,b\x00,c\n1,2,3\n", "binary content"),
    ],
)
def test_bad_files_are_one_line_errors_with_exit_2(capsys, tmp_path, content, words):
    path = tmp_path / "data.csv"
    path.write_text(content)
    code, out, err = run(capsys, "--headless", "--no-tensorboard", "--data", path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err and "data.csv" in err
    assert "Traceback" not in err


def test_missing_file_and_unknown_target(capsys, tmp_path):
    code, _, err = run(capsys, "--headless", "--data", tmp_path / "nope.csv")
    assert code == 2 and "no such file" in err
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n")
    code, _, err = run(capsys, "--headless", "--data", path, "--target", "price")
    assert code == 2 and "unknown target column 'price'" in err


def test_dropna_drops_rows_with_missing_values(capsys, tmp_path):
    path = tmp_path / "na.csv"
    path.write_text("a,b,c\n1,2,3\n4,NA,6\n7,8,9\n10,11,12\n")
    code, out, _ = run(
        capsys,
        "--headless",
        "--json",
        "--no-tensorboard",
        "--data",
        path,
        "--dropna",
        "--max-iter",
        "5",
    )
    assert code == 0 and json.loads(out)["iterations"] <= 5


def test_a_file_name_with_a_newline_stays_on_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "--headless", "--data", tmp_path / "bad\nname.csv")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no such file" in err


def test_a_constant_target_has_an_optimum_of_zero(capsys, tmp_path):
    """Standardised, a constant column is all zeros: the optimum is 0 and the note says so."""
    path = tmp_path / "const.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i * i % 7},5\n" for i in range(20)))
    code, out, err = run(capsys, "--headless", "--no-tensorboard", "--data", path)
    assert code == 0 and "Traceback" not in err
    assert "converged" in out and "still above the optimum 0: a lower threshold" in out
    assert "optimum 0 0" not in out  # it was said twice


# -- what the loader learned reaches the user ------------------------------------------------

# Row 3 has an empty cell (dropped with --dropna); column b is constant (centred, not scaled).
CLEANED = "a,b,c,y\n1,5,2,3\n2,5,,4\n3,5,1,7\n4,5,3,9\n5,5,2,11\n"


def test_the_text_output_says_what_the_loader_learned(capsys, tmp_path):
    path = tmp_path / "cleaned.csv"
    path.write_text(CLEANED)
    code, out, _ = run(
        capsys, "--headless", "--no-tensorboard", "--data", path, "--dropna", "--max-iter", "3"
    )
    head = out.split(" BATCH GRADIENT DESCENT ")[0].splitlines()
    assert code == 0
    assert head[0] == (f"Data: {path}: 4 rows; features: a, b, c; target: y; standardised")
    assert "Data note: 1 row with missing values dropped" in head
    assert any(line.startswith("Data note: column 'b' is constant") for line in head)


def test_the_json_output_has_a_data_object(capsys, tmp_path):
    path = tmp_path / "cleaned.csv"
    path.write_text(CLEANED)
    code, out, _ = run(
        capsys,
        "--headless",
        "--json",
        "--no-tensorboard",
        "--data",
        path,
        "--dropna",
        "--target",
        "a",
        "--no-standardize",
        "--max-iter",
        "3",
    )
    data = json.loads(out)["data"]
    assert code == 0
    assert data["features"] == ["b", "c", "y"] and data["targets"] == ["a"]
    assert data["rows"] == 4 and data["dropped_rows"] == 1 and data["standardized"] is False
    assert data["notes"] == ["1 row with missing values dropped"]


def test_a_comparison_says_it_too_and_the_notebooks_data_says_nothing(capsys, tmp_path):
    path = tmp_path / "cleaned.csv"
    path.write_text(CLEANED)
    code, out, _ = run(
        capsys,
        "--headless",
        "--json",
        "--no-tensorboard",
        "--data",
        path,
        "--dropna",
        "--compare",
        "0.01,0.1",
        "--max-iter",
        "3",
    )
    assert code == 0 and json.loads(out)["data"]["dropped_rows"] == 1
    code, out, _ = run(capsys, "--headless", "--json", "--no-tensorboard", "--max-iter", "3")
    assert code == 0 and json.loads(out)["data"] is None
    code, out, _ = run(capsys, "--headless", "--no-tensorboard", "--max-iter", "3")
    assert "Data" not in out
