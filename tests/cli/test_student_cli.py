"""Student mode on the command line: --check, --functions, --force, --mse/--linear."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui.cli import main

STUDENTS = Path(__file__).parents[1] / "students"


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
        ("linear_b_shape.py", "Linear", "mean instead of a sum"),
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


# -- a verdict that the file cannot forge ---------------------------------------------------

FORGING = STUDENTS / "forging"
# The command line, with a shorter time limit per call so that a hang costs seconds.
CLI = (
    "import sys, engine.student.sandbox as sandbox; sandbox.CALL_TIMEOUT = float(sys.argv[1]); "
    "from tui.cli import main; sys.exit(main(sys.argv[2:]))"
)


def _pids(path: Path) -> list[int]:
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie has ended: only its parent's wait is left)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def amal_tui(tmp_path: Path, *args, limit: float = 10.0) -> subprocess.CompletedProcess:
    """amal-tui in a process of its own: what it prints, its exit status; no crash file, no process left."""
    crash = tmp_path / "crash"
    crash.mkdir(exist_ok=True)
    pids = tmp_path / "pids"
    env = {**os.environ, "AMAL_TUI_CRASH_DIR": str(crash), "AMAL_TUI_TEST_PIDS": str(pids)}
    result = subprocess.run(
        [sys.executable, "-c", CLI, str(limit), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert list(crash.iterdir()) == []
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in _pids(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in _pids(pids) if _alive(pid)] == []
    return result


@pytest.fixture
def checked(tmp_path, capfd, monkeypatch):
    """amal_tui's checks, in this process (the file still runs in a process of its own, and
    its output goes through fds 1 and 2 as there): no Python and torch to start per check."""
    import engine.student.sandbox as sandbox

    crash = tmp_path / "crash"
    crash.mkdir()
    pids = tmp_path / "pids"
    monkeypatch.setenv("AMAL_TUI_CRASH_DIR", str(crash))
    monkeypatch.setenv("AMAL_TUI_TEST_PIDS", str(pids))

    def check(*args, limit: float = 10.0) -> subprocess.CompletedProcess:
        monkeypatch.setattr(sandbox, "CALL_TIMEOUT", limit)
        code = main([str(a) for a in args])
        out, err = capfd.readouterr()
        assert list(crash.iterdir()) == []
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in _pids(pids)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in _pids(pids) if _alive(pid)] == []
        return subprocess.CompletedProcess(args, code, out, err)

    return check


WRONG_MSE = ["✗ MSE: forward(ctx, yhat, y)", "✗ check failed: fix MSE and run the check again"]


@pytest.mark.parametrize(
    "name,lines,limit",
    [
        ("patch_close.py", WRONG_MSE, 10),
        ("replace_check_functions.py", WRONG_MSE, 10),
        ("sys_modules.py", WRONG_MSE, 10),
        ("prints.py", WRONG_MSE, 10),
        ("exit_at_import.py", ["✗ the file exited during import (code 0)", "✗ check failed"], 10),
        (
            "exit_in_backward.py",
            ["✗ the file exited during MSE.backward (code 3)", "✗ check failed"],
            10,
        ),
        (
            "loop_at_import.py",
            [
                "✗ importing the file did not end within 2 s (an infinite loop at import?)",
                "✗ check failed",
            ],
            2,
        ),
        (
            "loop_in_forward.py",
            ["✗ MSE.forward did not return within 2 s (an infinite loop?)", "✗ check failed"],
            2,
        ),
        (
            "garbage_reply.py",
            ["✗ the file's process sent an unreadable reply during import", "✗ check failed"],
            10,
        ),
    ],
)
def test_the_file_cannot_change_its_verdict(checked, name, lines, limit):
    result = checked("--check", FORGING / name, limit=limit)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout.splitlines()
    assert out[-1] == lines[-1] and lines[0] in out, result.stdout
    assert "✓ check passed" not in result.stdout
    assert "\x1b" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_the_files_prints_go_to_stderr_under_a_title(checked):
    result = checked("--check", FORGING / "prints.py")
    err = result.stderr.splitlines()
    assert err[0] == "amal-tui: what the file printed during the check:"
    assert "    \\x1b[2J\\x1b[H✓ check passed" in err
    assert "✓ check passed" not in result.stdout


def test_a_forged_verdict_is_not_in_the_json_either(tmp_path):
    result = amal_tui(tmp_path, "--check", FORGING / "replace_check_functions.py", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["passed"] is False
    assert report["functions"][0]["gradients"][0]["hint_codes"] == ["numel"]


def test_a_check_that_did_not_finish_cannot_be_forced(tmp_path):
    result = amal_tui(
        tmp_path, "--headless", "--force", "--functions", FORGING / "loop_in_forward.py", limit=2
    )
    assert result.returncode == 1
    assert "did not finish the check (--force cannot run them): the run does not start" in (
        result.stderr
    )


def _recording(tmp_path: Path, source: Path) -> tuple[Path, Path]:
    """A copy of ``source`` that writes the pid of each process that imports it."""
    pids = tmp_path / "imported_by"
    path = tmp_path / source.name
    path.write_text(
        f"import os\nwith open({str(pids)!r}, 'a') as f:\n    f.write(f'{{os.getpid()}}\\n')\n"
        + source.read_text()
    )
    return path, pids


def test_check_never_imports_the_file_in_its_own_process(capsys, tmp_path):
    path, pids = _recording(tmp_path, STUDENTS / "correct.py")
    code, out, _ = run(capsys, "--check", path)
    assert code == 0 and "✓ check passed" in out
    (pid,) = _pids(pids)
    assert pid != os.getpid()
    assert not any(getattr(m, "__file__", None) == str(path) for m in list(sys.modules.values()))


@pytest.mark.parametrize("source,here", [("correct.py", True), ("linear_b_mean.py", False)])
def test_functions_runs_the_file_here_only_after_the_verdict(capsys, tmp_path, source, here):
    path, pids = _recording(tmp_path, STUDENTS / source)
    args = ["--headless", "--no-tensorboard", "--max-iter", "3", "--functions", path]
    code, _, err = run(capsys, *args)
    imported = _pids(pids)
    assert imported[0] != os.getpid()  # the check's child first
    assert (os.getpid() in imported) is here
    assert code == (0 if here else 1), err


def test_forced_functions_run_here_after_a_failed_verdict_saying_so(capsys, tmp_path):
    path, pids = _recording(tmp_path, STUDENTS / "linear_b_mean.py")
    code, _, err = run(
        capsys, "--headless", "--no-tensorboard", "--max-iter", "3", "--force", "--functions", path
    )
    first, second = _pids(pids)
    assert code == 0 and (first != os.getpid(), second) == (True, os.getpid())
    assert "running with Functions that fail the check (--force)" in err


def test_a_saved_run_runs_its_functions_only_when_given_on_the_command_line(capsys, tmp_path):
    path, pids = _recording(tmp_path, STUDENTS / "correct.py")
    saved = tmp_path / "run.json"
    code, _, err = run(
        capsys, "--headless", "--no-tensorboard", "--max-iter", "3", "--functions", path,
        "--save", saved,
    )  # fmt: skip
    assert code == 0, err
    before = _pids(pids)
    with pytest.raises(SystemExit) as exit_:
        main(["--headless", "--no-tensorboard", "--config", str(saved)])
    _, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert f"run.json names functions {path}: give --functions {path} to run them" in err
    assert _pids(pids) == before  # not run, not even checked
    code, _, err = run(
        capsys, "--headless", "--no-tensorboard", "--config", saved, "--functions", path
    )
    assert code == 0, err
    assert len(_pids(pids)) == len(before) + 2


def test_help_says_where_the_file_runs(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "runs FILE.py in a separate Python process" in out
    assert "a Python file it names runs only with --functions FILE.py given here" in out


def test_functions_written_for_b_of_shape_m_run_saying_so(capsys):
    code, out, err = run(
        capsys, "--headless", "--no-tensorboard", "--functions", STUDENTS / "linear_vector_bias.py"
    )
    assert code == 0, err
    assert "Convergence reached at n = 1475" in out
    assert "takes b of shape (m,): the descent gives it b as (m,)" in err


# -- checking a class ---------------------------------------------------------------------


def _class(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    for name in names:
        (folder / name).write_text((STUDENTS / name).read_text())
    (folder / "notes.txt").write_text("not Python: left out\n")
    return folder


def test_check_a_folder_prints_a_table_and_a_summary_and_exits_1_when_any_fails(capsys, tmp_path):
    folder = _class(tmp_path, "correct.py", "linear_missing.py", "syntax_error.py")
    code, out, _ = run(capsys, "--check", folder)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["file", "MSE", "Linear", "first", "hint"]
    rows = {line.split()[0].rsplit("/", 1)[-1]: line.split(maxsplit=3)[1:] for line in lines[1:-1]}
    assert rows["correct.py"] == ["✓", "✓"]
    assert rows["linear_missing.py"][:2] == ["✓", "missing"]
    assert rows["linear_missing.py"][2].startswith("Linear: no class Linear in linear_missing.py")
    assert rows["syntax_error.py"][:2] == ["-", "-"]
    assert "syntax_error.py, line 22: SyntaxError" in rows["syntax_error.py"][2]
    assert lines[-1] == "3 files checked: 1 pass, 2 fail"


def test_check_several_files_with_json_gives_one_object_per_line(capsys):
    files = [STUDENTS / "correct.py", STUDENTS / "linear_vector_bias.py"]
    code, out, _ = run(capsys, "--check", *files, "--json")
    assert code == 0
    objects = [json.loads(line) for line in out.splitlines()]
    assert [o["path"] for o in objects] == [str(f) for f in files]
    assert all(o["passed"] for o in objects)


def test_the_files_a_class_check_finds(tmp_path):
    from engine.student.batch import student_files

    folder = _class(tmp_path, "correct.py", "mse_rmse.py")
    (folder / "sub").mkdir()
    (folder / "sub" / "deeper.py").write_text("x = 1\n")
    files, problems = student_files([str(folder), str(folder / "correct.py")])
    assert [Path(f).name for f in files] == ["correct.py", "mse_rmse.py"] and problems == []
    files, problems = student_files([str(folder / "m*.py"), str(tmp_path / "nothing*.py")])
    assert [Path(f).name for f in files] == ["mse_rmse.py"]
    assert problems == [f"{tmp_path / 'nothing*.py'}: no .py file matches"]


def test_a_class_check_of_a_folder_without_python_files_is_bad_input(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, "--check", tmp_path / "empty")
    assert code == 2 and out == ""
    assert (
        err
        == f"amal-tui: error: argument --check: {tmp_path / 'empty'}: no .py file in this folder\n"
    )
