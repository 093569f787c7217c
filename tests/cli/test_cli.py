"""The amal-tui command: headless log and JSON, exit codes, one-line errors, TensorBoard files."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tui.cli import main

AMAL = [sys.executable, "-m", "tui.cli"]


def run_main(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_headless_prints_the_notebooks_log(capsys):
    code, out, _ = run_main(capsys, "--headless", "--no-tensorboard")
    assert code == 0
    lines = out.splitlines()
    log = [line for line in lines if line.startswith("Iterations|")]
    # The notebook's losses to 1e-5, not the float32 digits a CPU's kernels decide.
    assert log[0].startswith("Iterations|\t TRAIN 0: loss ")
    assert float(log[0].split()[-1]) == pytest.approx(13.6831, abs=1e-4)
    assert [int(line.split()[2].rstrip(":")) for line in log] == list(range(0, 1500, 100))
    assert "\t\t.......Convergence reached at n = 1475" in lines
    assert "FINAL W equals" in out and "FINAL b equals" in out


@pytest.mark.parametrize(
    "args, says",
    [
        ((), "; full-batch descent diverges for ε > 2/L = 1.53"),
        (("--optimizer", "adam"), "a bound that does not hold for adam"),
        (("--batch-size", "10"), "a bound that does not hold for mini-batches of 10"),
        (("--optimizer", "momentum", "--batch-size", "10"), "for momentum on mini-batches of 10"),
    ],
)
def test_the_theory_line_says_for_which_runs_the_bound_holds(capsys, args, says):
    code, out, _ = run_main(capsys, "--headless", "--no-tensorboard", "--max-iter", "3", *args)
    theory = next(line for line in out.splitlines() if line.startswith("Theory:"))
    assert says in theory
    assert ("plain full-batch" in theory) == bool(args)


def test_headless_capped_run(capsys):
    code, out, _ = run_main(
        capsys,
        "--headless",
        "--no-tensorboard",
        "--lr",
        "0.0001",
        "--init-seed",
        "42",
        "--max-iter",
        "1001",
    )
    assert code == 0
    (last,) = [line for line in out.splitlines() if line.startswith("Iterations|\t TRAIN 1000:")]
    assert float(last.split()[-1]) == pytest.approx(15.27704, abs=1e-5)
    assert "\t\t.......Broke the loop without converging." in out


@pytest.mark.parametrize(
    "args,status,iterations,first",
    [
        ([], "converged", 1475, 13.683131217956543),
        (
            ["--lr", "0.0001", "--init-seed", "42", "--max-iter", "1001"],
            "capped",
            1001,
            17.9472599029541,
        ),
        (["--lr", "0.5", "--init-seed", "42"], "converged", 30, 17.9472599029541),
    ],
)
def test_json_reproduces_the_three_runs(capsys, args, status, iterations, first):
    code, out, _ = run_main(capsys, "--headless", "--json", "--no-tensorboard", *args)
    summary = json.loads(out)
    assert code == 0
    assert summary["status"] == status and summary["iterations"] == iterations
    assert len(summary["losses"]) == iterations
    assert summary["losses"][0] == pytest.approx(first, rel=1e-5)
    assert summary["final_loss"] < summary["losses"][-1]
    assert np.array(summary["W"]).shape == (13, 3) and np.array(summary["b"]).shape == (1, 3)
    assert summary["config"]["learning_rate"] == float(
        dict(zip(args[::2], args[1::2], strict=True)).get("--lr", 0.01)
    )
    assert set(summary["config"]) >= {
        "seed",
        "init_seed",
        "threshold",
        "max_iter",
        "dtype",
        "device",
    }


def test_diverged_run_exits_3_with_valid_json(capsys):
    code, out, _ = run_main(
        capsys, "--headless", "--json", "--no-tensorboard", "--lr", "1.6", "--init-seed", "42"
    )
    summary = json.loads(out)  # strict JSON: no NaN or Infinity
    assert code == 3 and summary["status"] == "diverged"
    assert summary["losses"][-1] is None


def test_diverged_run_text(capsys):
    code, out, _ = run_main(
        capsys, "--headless", "--no-tensorboard", "--lr", "1.6", "--init-seed", "42"
    )
    assert code == 3 and ".......Diverged at n = " in out


@pytest.mark.parametrize(
    "args,words",
    [
        (["--lr", "abc"], ["--lr", "expected a number"]),
        (["--lr", "0"], ["--lr", "positive"]),
        (["--lr", "-0.5"], ["--lr", "positive"]),
        (["--lr", "nan"], ["--lr", "positive finite"]),
        (["--lr", "inf"], ["--lr", "positive finite"]),
        (["--threshold", "nan"], ["--threshold", "NaN"]),
        (["--max-iter", "-3"], ["--max-iter", "positive integer"]),
        (["--max-iter", "2.5"], ["--max-iter", "integer"]),
        (["--seed", "4.2"], ["--seed", "integer"]),
        (["--init-seed", "x"], ["--init-seed", "integer"]),
        (["--dtype", "float16"], ["--dtype", "float32, float64"]),
        (["--device", "tpu"], ["--device", "cpu, cuda"]),
        (["--json"], ["--json needs --headless"]),
        (["--frobnicate"], ["unrecognized arguments"]),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, args, words):
    with pytest.raises(SystemExit) as exit_:
        main(["--headless", *args] if args != ["--json"] else args)
    _, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert all(word in err for word in words), err
    assert "Traceback" not in err


def test_cuda_without_a_gpu_is_a_usage_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit) as exit_:
        main(["--headless", "--device", "cuda"])
    assert exit_.value.code == 2
    assert "no GPU" in capsys.readouterr().err


def test_help_teaches(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    for word in ("--headless", "--lr", "--init-seed", "--logdir", "n = 1475", "exit status"):
        assert word in out
    words = " ".join(out.split())  # whatever the wrapping
    for word in ("143 terminated (SIGTERM)", "129 hung up (SIGHUP)", "run.losses.csv"):
        assert word in words


def test_unexpected_error_writes_a_crash_report(capsys, monkeypatch, tmp_path):
    import tui.headless

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tui.headless, "run", boom)
    monkeypatch.setenv("AMAL_TUI_CRASH_DIR", str(tmp_path))
    code, _, err = run_main(capsys, "--headless")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "RuntimeError: boom" in err
    report = next(tmp_path.glob("amal-tui-crash-*.txt")).read_text()
    assert "Traceback" in report and "boom" in report


def _scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    return accumulator.Scalars("Loss/train")


def test_tensorboard_events_equal_the_json_losses(capsys, tmp_path):
    code, out, err = run_main(capsys, "--headless", "--json", "--logdir", str(tmp_path))
    losses = json.loads(out)["losses"]
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("lr0.01_seed42_thr0.7_float32_")
    assert str(folder) in err
    scalars = _scalars(folder)
    assert [s.step for s in scalars] == list(range(len(losses)))
    np.testing.assert_array_equal([s.value for s in scalars], np.float32(losses))


def test_unwritable_logdir_warns_once_and_the_run_goes_on(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, out, err = run_main(capsys, "--headless", "--json", "--logdir", str(blocker / "runs"))
    assert code == 0 and json.loads(out)["iterations"] == 1475
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(blocker) in warnings[0] and "run goes on" in warnings[0]


def test_no_tensorboard_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, _ = run_main(capsys, "--headless", "--no-tensorboard")
    assert code == 0 and list(tmp_path.iterdir()) == []


def test_ctrl_c_exits_130_with_a_partial_summary_and_a_flushed_log(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            *AMAL,
            "--headless",
            "--json",
            "--threshold",
            "-1",
            "--max-iter",
            "100000000",
            "--logdir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
    )
    # Wait until the run has logged something, then interrupt it.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        p.stat().st_size > 200 for p in tmp_path.rglob("events*")
    ):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    summary = json.loads(out)
    assert summary["interrupted"] is True and summary["status"] == "running"
    assert summary["iterations"] == len(summary["losses"]) > 0
    (folder,) = tmp_path.iterdir()
    assert len(_scalars(folder)) == summary["iterations"]


def test_a_disk_that_fills_up_during_a_run_warns_once_and_the_run_goes_on(
    capsys, tmp_path, monkeypatch
):
    import errno

    import engine.record.tensorboard

    calls = {"n": 0}
    original = engine.record.tensorboard.EventFile.write_scalars

    def fill_up(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(engine.record.tensorboard.EventFile, "write_scalars", fill_up)
    code, out, err = run_main(
        capsys,
        "--headless",
        "--json",
        "--logdir",
        str(tmp_path),
        "--threshold",
        "-1",
        "--max-iter",
        "20000",
    )
    assert code == 0 and json.loads(out)["iterations"] == 20000
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "No space left on device" in warnings[0]


def test_without_any_crc32c_logging_is_off_with_a_message(capsys, tmp_path, monkeypatch):
    import engine.record.tensorboard

    def missing():
        raise ImportError("no crc32c")

    monkeypatch.setattr(engine.record.tensorboard, "_crc32c", missing)
    code, out, err = run_main(capsys, "--headless", "--json", "--logdir", str(tmp_path))
    assert code == 0 and json.loads(out)["status"] == "converged"
    assert "pip install google-crc32c" in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--check", str(Path(__file__).parents[1] / "students" / "linear_b_mean.py"), "--json"],
        ["--headless", "--no-tensorboard", "--json"],
    ],
    ids=["check", "headless"],
)
def test_a_reader_that_goes_away_ends_it_quietly_with_141(args):
    """amal-tui ... | head: the pipe closes before amal-tui writes."""
    process = subprocess.Popen(
        AMAL + args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in err and "Exception ignored" not in err


def test_the_app_needs_a_terminal(capsys):
    # Under pytest stdin is not a terminal.
    with pytest.raises(SystemExit) as exit_:
        main(["--no-tensorboard"])
    assert exit_.value.code == 2
    assert "the app needs a terminal" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args,words",
    [
        (["--headless", "--target", "7"], "--target is for a data file (--data PATH): here it"),
        (["--headless", "--n", "5"], "--n is for --data synthetic: here it would be ignored"),
        (["--headless", "--data", "synthetic", "--dropna"], "--dropna is for a data file"),
        (["--headless", "--momentum", "0.5"], "--momentum is for --optimizer momentum or nest"),
        (["--headless", "--optimizer", "momentum", "--beta2", "0.5"], "--beta2 is for --optim"),
        (["--headless", "--force"], "--force is for --functions FILE"),
        (["--headless", "--mse", "M"], "--mse is for --functions FILE"),
        (["--headless", "--compare", "0.1,0.2", "--lr", "0.3"], "--lr is for one run"),
        (["--headless", "--no-tensorboard", "--logdir", "x"], "--logdir is for TensorBoard"),
        (["--headless", "--speed", "10"], "--speed is for the app, not --headless"),
        (["--headless", "--fps", "2"], "--fps is for the app, not --headless"),
        (["--headless", "--no-mouse"], "--no-mouse is for the app, not --headless"),
        (["--check", "x.py", "--fps", "2"], "--fps is for a run"),
        (["--headless", "--compare", "0.1,,0.2"], "a learning rate is missing in '0.1,,0.2'"),
        (
            ["--check", "x.py", "--lr", "5"],
            "--check only checks the file; --lr is for a run (--functions x.py runs",
        ),
        (["--check", "x.py", "--headless"], "--headless is for a run"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_options_that_would_be_ignored_are_errors(capsys, args, words):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_a_batch_larger_than_the_data_is_said(capsys):
    code, _, err = run_main(
        capsys, "--headless", "--no-tensorboard", "--batch-size", "1000", "--max-iter", "3"
    )
    assert code == 0
    assert "batch size 1000 >= the 50 training points: every mini-batch is the whole batch" in err


def test_speed_is_checked_and_reaches_the_app(monkeypatch, capsys):
    from tui import cli

    with pytest.raises(SystemExit) as exit_:
        main(["--speed", "fast"])
    assert exit_.value.code == 2 and "--speed" in capsys.readouterr().err
    opened = []
    monkeypatch.setattr(cli, "not_a_terminal", lambda: None)
    monkeypatch.setattr(cli, "run_app", lambda config, **options: opened.append(options) or 0)
    assert main(["--speed", "10"]) == 0
    assert opened[0]["speed"] == 10


# -- a headless run with --save saves whatever happens to stdout or to the process ----------

LONG = ["--headless", "--threshold", "-1", "--max-iter", "100000000"]


def _amal(args, tmp_path, **popen):
    env = {**os.environ, "AMAL_TUI_CRASH_DIR": str(tmp_path), **popen.pop("env", {})}
    return subprocess.Popen(
        AMAL + args,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
        **popen,
    )


def _saved(tmp_path, name="run"):
    saved = json.loads((tmp_path / f"{name}.json").read_text())
    rows = (tmp_path / f"{name}.losses.csv").read_text().splitlines()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    return saved, rows


def _no_crash(tmp_path, err):
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert "unexpected error" not in err and not list(tmp_path.glob("amal-tui-crash-*")), err


def test_a_reader_that_goes_away_does_not_stop_the_save(tmp_path):
    """amal-tui --headless --save run.json | head -1"""
    save = str(tmp_path / "run.json")
    args = ["--headless", "--no-tensorboard", "--threshold", "-1", "--max-iter", "30000"]
    process = _amal([*args, "--save", save], tmp_path, stdout=subprocess.PIPE)
    assert process.stdout.readline() == "\n"
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 141, err
    _no_crash(tmp_path, err)
    assert "the reader of the output went away: the run went on, for --save" in err
    saved, rows = _saved(tmp_path)
    assert saved["iterations"] == 30000 and len(rows) == 30001


@pytest.mark.parametrize("closed", ["stdout", "stdout and stderr"])
def test_a_closed_stdout_is_said_and_the_run_saved(tmp_path, closed):
    """amal-tui --headless --save run.json >&-"""
    fds = (1,) if closed == "stdout" else (1, 2)
    save = str(tmp_path / "run.json")
    process = _amal(
        ["--headless", "--no-tensorboard", "--save", save],
        tmp_path,
        preexec_fn=lambda: [os.close(fd) for fd in fds],
    )
    err = process.stderr.read()
    assert process.wait(timeout=120) == 1, err
    _no_crash(tmp_path, err)
    if closed == "stdout":
        assert "amal-tui: error: cannot write to stdout: stdout is closed: the run went on" in err
    saved, _ = _saved(tmp_path)
    assert saved["iterations"] == 1475


def test_a_closed_stdout_without_save_stops_with_1(tmp_path):
    process = _amal([*LONG, "--no-tensorboard"], tmp_path, preexec_fn=lambda: os.close(1))
    err = process.stderr.read()
    assert process.wait(timeout=120) == 1, err
    _no_crash(tmp_path, err)
    assert "stdout is closed: the run stopped there (with --save it goes on and is saved)" in err


@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
def test_a_full_disk_on_stdout_is_said_and_the_run_saved(tmp_path, json_output):
    """amal-tui --headless --save run.json >/dev/full"""
    save = str(tmp_path / "run.json")
    args = ["--headless", "--no-tensorboard", "--save", save] + ["--json"] * json_output
    with open("/dev/full", "w") as full:
        process = _amal(args, tmp_path, stdout=full)
        err = process.stderr.read()
    assert process.wait(timeout=120) == 1, err
    _no_crash(tmp_path, err)
    assert "cannot write to stdout: No space left on device: the run went on, for --save" in err
    assert _saved(tmp_path)[0]["status"] == "converged"


ASCII_ENVS = {
    "PYTHONIOENCODING=ascii": {"PYTHONIOENCODING": "ascii"},
    "LC_ALL=C": {"LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"},
}
ASCII_ARGS = {
    "compare": ["--headless", "--no-tensorboard", "--compare", "0.01,0.5", "--save", "run.json"],
    "one run": ["--headless", "--no-tensorboard", "--save", "run.json"],
    "check": ["--check", str(Path(__file__).parents[1] / "students" / "linear_b_mean.py")],
}
# `make test`: each output (a comparison, one run, a check) once and each way of being ASCII
# at least once; `make crosscheck` (and a plain `pytest`): the product (3-5 s of CPU each).
ASCII_IN_MAKE_TEST = {
    ("compare", "PYTHONIOENCODING=ascii"),
    ("one run", "LC_ALL=C"),
    ("check", "LC_ALL=C"),
}


@pytest.mark.parametrize(
    "args,env",
    [
        pytest.param(
            ASCII_ARGS[output],
            ASCII_ENVS[way],
            id=f"{output}-{way}",
            marks=() if (output, way) in ASCII_IN_MAKE_TEST else pytest.mark.exhaustive,
        )
        for way in ASCII_ENVS
        for output in ASCII_ARGS
    ],
)
def test_an_ascii_terminal_gets_plain_stand_ins(tmp_path, env, args):
    process = _amal(
        [arg.replace("run.json", str(tmp_path / "run.json")) for arg in args],
        tmp_path,
        stdout=subprocess.PIPE,
        env=env,
    )
    out, err = process.communicate(timeout=120)
    assert process.returncode == (1 if "--check" in args else 0), err
    _no_crash(tmp_path, err)
    if "--check" in args:
        assert "\nx Linear: " in out and "ok MSE: " in out
    else:
        assert "eps > 2/L" in out and "ε" not in out
        _saved(tmp_path)


def _wait_for_the_log(process, logdir):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        p.stat().st_size > 200 for p in logdir.rglob("events*")
    ):
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.1)


@pytest.mark.parametrize(
    "signum,code,words",
    [
        (signal.SIGTERM, 143, "amal-tui: SIGTERM: stopped at n = "),
        (signal.SIGHUP, 129, "amal-tui: SIGHUP (hang-up): stopped at n = "),
        (signal.SIGINT, 130, "amal-tui: SIGINT (Ctrl+C): stopped at n = "),
    ],
    ids=["SIGTERM", "SIGHUP", "SIGINT"],
)
def test_a_signal_stops_saves_says_where_and_exits_128_plus_it(tmp_path, signum, code, words):
    logdir = tmp_path / "runs"
    save = str(tmp_path / "run.json")
    process = _amal(
        [*LONG, "--json", "--logdir", str(logdir), "--save", save], tmp_path, stdout=subprocess.PIPE
    )
    _wait_for_the_log(process, logdir)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    _no_crash(tmp_path, err)
    assert words in err and f"saved the run in {save}" in err
    summary = json.loads(out)
    assert summary["interrupted"] is True
    saved, rows = _saved(tmp_path)
    assert saved["status"] == "paused" and saved["iterations"] == summary["iterations"] > 0
    assert saved["losses"] == summary["losses"] and len(rows) == saved["iterations"] + 1


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_stops_a_comparison_and_saves_it(tmp_path, signum, code):
    logdir = tmp_path / "runs"
    save = str(tmp_path / "run.json")
    args = [*LONG, "--compare", "0.01,0.5", "--logdir", str(logdir), "--save", save]
    process = _amal(args, tmp_path, stdout=subprocess.PIPE)
    _wait_for_the_log(process, logdir)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    _no_crash(tmp_path, err)
    name = signal.Signals(signum).name
    assert f"amal-tui: {name}" in err and "ε = 0.5 not started" in err
    assert "(interrupted)" in out
    saved, rows = _saved(tmp_path)
    assert [run["status"] for run in saved["runs"]] == ["paused", "ready"]
    assert rows[0] == "iteration,loss_lr0.01,loss_lr0.5"


def test_a_hangup_ignored_by_nohup_stays_ignored(tmp_path):
    """nohup amal-tui --headless --save run.json &: the run outlives the link."""
    logdir = tmp_path / "runs"
    args = ["--headless", "--json", "--threshold", "-1", "--max-iter", "100000"]
    process = _amal(
        [*args, "--logdir", str(logdir), "--save", str(tmp_path / "run.json")],
        tmp_path,
        stdout=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    _wait_for_the_log(process, logdir)
    process.send_signal(signal.SIGHUP)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert json.loads(out)["iterations"] == 100000
    assert _saved(tmp_path)[0]["iterations"] == 100000


def test_the_engine_owns_no_signal_handler_and_no_exit():
    """engine/ is a library: the command line decides what a signal or an exit does."""
    import ast

    for path in (Path(__file__).parents[2] / "engine").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            # Sending a signal (to the check's child) is fine; handling one is the front end's.
            if isinstance(node, ast.ImportFrom) and node.module == "signal":
                assert not {a.name for a in node.names} & {"signal", "setitimer"}, path
            if isinstance(node, ast.Attribute) and node.attr in ("signal", "setitimer"):
                assert getattr(node.value, "id", None) != "signal", path
            if isinstance(node, ast.Attribute) and node.attr == "exit":
                assert getattr(node.value, "id", None) != "sys", path
