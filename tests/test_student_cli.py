"""Student mode on the command line: --check, --functions, --force, --mse/--linear."""

import json
from pathlib import Path

import pytest

from tui.cli import main

STUDENTS = Path(__file__).parent / "students"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "name,function,words",
    [
        ("mse_forgot_numel.py", "MSE", "forgot to divide"),
        ("mse_missing_factor_2.py", "MSE", "missing factor 2"),
        ("mse_wrong_sign.py", "MSE", "sign"),
        ("mse_grad_output_ignored.py", "MSE", "grad_output"),
        ("mse_forward_wrong_dim.py", "MSE", "rows"),
        ("linear_b_mean.py", "Linear", "mean instead of a sum"),
        ("linear_b_shape.py", "Linear", "(1, 2)"),
        ("linear_transposed_grad_W.py", "Linear", "transpose"),
        ("linear_wrong_order.py", "Linear", "wrong order"),
        ("linear_grad_output_ignored.py", "Linear", "grad_output"),
    ],
)
def test_check_names_the_function_and_the_hint_and_exits_1(capsys, name, function, words):
    code, out, _ = run(capsys, "--check", STUDENTS / name)
    assert code == 1
    failing = [line for line in out.splitlines() if line.startswith(f"✗ {function}")]
    assert failing, out
    assert "hint:" in out and words in out


@pytest.mark.parametrize("name", ["correct.py", "notebook.py"])
def test_a_correct_file_passes_with_exit_0(capsys, name):
    code, out, _ = run(capsys, "--check", STUDENTS / name)
    assert code == 0 and "✓ check passed" in out


def test_other_class_names(capsys):
    assert run(capsys, "--check", STUDENTS / "renamed.py")[0] == 1
    code, out, _ = run(
        capsys, "--check", STUDENTS / "renamed.py", "--mse", "MyMSE", "--linear", "MyLinear"
    )
    assert code == 0, out


def test_check_json(capsys):
    code, out, _ = run(capsys, "--check", STUDENTS / "linear_b_mean.py", "--json")
    report = json.loads(out)
    assert code == 1 and report["passed"] is False


@pytest.mark.parametrize(
    "name,words", [("syntax_error.py", "line 22"), ("import_error.py", "line")]
)
def test_broken_files_are_reported_with_file_and_line(capsys, name, words):
    code, out, _ = run(capsys, "--check", STUDENTS / name)
    assert code == 1 and name in out and words in out and "Traceback" not in out


def test_functions_run_the_descent_with_the_students_classes(capsys):
    code, out, err = run(
        capsys, "--headless", "--json", "--no-tensorboard", "--functions", STUDENTS / "correct.py"
    )
    summary = json.loads(out)
    assert code == 0 and "pass the check" in err
    assert summary["status"] == "converged" and abs(summary["iterations"] - 1475) <= 1
    assert summary["config"]["functions"].endswith("correct.py")


def test_failed_check_stops_the_run_unless_forced(capsys):
    code, out, err = run(
        capsys, "--headless", "--no-tensorboard", "--functions", STUDENTS / "linear_b_mean.py"
    )
    assert code == 1 and "Iterations|" not in out and "the run does not start" in err
    assert "mean instead of a sum" in err
    code, out, err = run(
        capsys,
        "--headless",
        "--no-tensorboard",
        "--force",
        "--functions",
        STUDENTS / "linear_b_mean.py",
    )
    assert code == 0 and "Iterations|" in out and "--force" in err


def test_an_unloadable_file_cannot_be_forced(capsys):
    code, out, err = run(
        capsys, "--headless", "--force", "--functions", STUDENTS / "syntax_error.py"
    )
    assert code == 1 and "cannot be loaded" in err and "line 22" in err


def test_an_exception_during_the_run_names_the_students_line(capsys, tmp_path):
    source = (
        (STUDENTS / "correct.py")
        .read_text()
        .replace(
            "        grad_b = grad_output.sum(0, keepdim=True)\n",
            "        grad_b = grad_output.sum(0, keepdim=True)\n"
            "        if X.shape[0] == 50:\n"
            "            raise RuntimeError('only fails on the real data')\n",
        )
    )
    path = tmp_path / "late_failure.py"
    path.write_text(source)
    code, out, err = run(capsys, "--headless", "--no-tensorboard", "--functions", path)
    line = (
        source.splitlines().index("            raise RuntimeError('only fails on the real data')")
        + 1
    )
    assert code == 1
    assert (
        f"late_failure.py, line {line}, in backward: RuntimeError: only fails on the real data"
        in err
    )
    assert "Traceback" not in err


def test_a_file_reached_through_a_link_still_names_the_students_line(capsys, tmp_path):
    source = (STUDENTS / "correct.py").read_text()
    source = source.replace(
        "        grad_b = grad_output.sum(0, keepdim=True)\n",
        "        grad_b = grad_output.sum(0, keepdim=True)\n"
        "        if X.shape[0] == 50:\n"
        "            raise RuntimeError('late')\n",
    )
    (tmp_path / "real.py").write_text(source)
    (tmp_path / "link.py").symlink_to(tmp_path / "real.py")
    code, _, err = run(
        capsys, "--headless", "--no-tensorboard", "--functions", tmp_path / "link.py"
    )
    line = source.splitlines().index("            raise RuntimeError('late')") + 1
    assert code == 1 and f"line {line}, in backward: RuntimeError: late" in err
