"""Bad input of every kind ends in one line naming the field or file and the problem, exit 2,
and no crash report: data too large for the dtype, learning rates float32 cannot hold,
JSON nested too deeply or with huge numbers, a process memory limit, names too long for the
file system, control characters in paths.  The property tests feed random bytes and JSON
to --config and random cells to the CSV reader."""

import json
import math
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import LR_MAX, LR_MIN, Config, ConfigError, make_config
from engine.core.theory import threshold_note
from engine.data import memory
from engine.data.dataset import DataError
from engine.data.reading import load_table
from engine.data.synthetic import synthetic
from engine.record.saving import SaveError, load_config
from tui.cli import build_parser, config_from_args, main

AMAL = [sys.executable, "-m", "tui.cli"]
ROOT = Path(__file__).parents[2]
LONG = "x" * 300
"""A file name longer than any Linux file system allows (255 bytes)."""


@pytest.fixture(autouse=True)
def crash_dir(tmp_path, monkeypatch):
    """Crash reports go to a folder of the test's own: each test checks that none was written."""
    folder = tmp_path / "crashes"
    folder.mkdir()
    monkeypatch.setenv("AMAL_TUI_CRASH_DIR", str(folder))
    yield folder
    assert list(folder.iterdir()) == [], "a crash report was written"


def run(capfd, *args):
    """main() in this process; capfd also sees what C libraries write on the descriptors."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit_:  # argparse's errors
        code = exit_.code
    out, err = capfd.readouterr()
    return code, out, err


def one_line_error(code: int, out: str, err: str, *words: str) -> None:
    assert code == 2, (code, err)
    assert out == "", out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "unexpected error" not in err and "Traceback" not in err
    assert "\x1b" not in err
    for word in words:
        assert word in err, (word, err)


def table(tmp_path, name: str, rows: list[str], header: str = "a,b,y") -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


# -- data too large for the dtype ----------------------------------------------------------


def test_float64_values_near_the_largest_are_refused_without_noise_on_stdout(capfd, tmp_path):
    """They made torch.linalg.lstsq fail an internal assert, after MKL wrote on stdout."""
    path = table(tmp_path, "big.csv", [f"{i}e306,{i * i % 7},{i % 3}e307" for i in range(20)])
    for standardize in ("--standardize", "--no-standardize"):
        code, out, err = run(
            capfd, "--headless", "--no-tensorboard", "--dtype", "float64", "--data", path,
            standardize,
        )  # fmt: skip
        one_line_error(code, out, err, "big.csv", "column 'a'", "too large")


def test_a_column_too_large_to_standardise_is_refused_not_zeroed(tmp_path):
    """1e200: its squares overflow float64, the std was inf and the column became zeros."""
    path = table(tmp_path, "s.csv", [f"{i}e200,{i % 5},{i}" for i in range(20)])
    with pytest.raises(DataError, match=r"s\.csv, column 'a': values too large to standardise"):
        load_table(path, dtype=np.float64)
    with pytest.raises(DataError, match=r"column 'a': values up to 1\.9e\+201 are too large"):
        load_table(path, dtype=np.float64, standardize=False)


def test_float32_values_whose_squares_overflow_are_refused_unless_standardised(tmp_path):
    path = table(tmp_path, "f.csv", [f"{i}e20,{i % 5},{i}" for i in range(20)])
    with pytest.raises(DataError, match="overflow float32 and the loss cannot be computed"):
        load_table(path, standardize=False)
    assert np.isfinite(load_table(path).X).all()  # standardised: within a few units of 0
    assert np.isfinite(load_table(path, standardize=False, dtype=np.float64).X).all()


@pytest.mark.parametrize(
    "noise,dtype,words",
    [
        ("1e300", "float32", "noise 1e+300 is too large for float32"),
        ("1e300", "float64", "column 'y0': values up to"),
        ("1e30", "float32", "overflow float32"),
    ],
)
def test_noise_too_large_for_the_dtype(capfd, noise, dtype, words):
    """--noise 1e300 gave inf and NaN data, silently."""
    code, out, err = run(
        capfd, "--headless", "--no-tensorboard", "--data", "synthetic", "--noise", noise,
        "--dtype", dtype,
    )  # fmt: skip
    one_line_error(code, out, err, "synthetic", words, "--noise")


def test_a_large_but_representable_noise_still_runs():
    dataset = synthetic(n=20, noise=1e15)
    assert np.isfinite(dataset.Y).all()


def test_test_rows_far_outside_the_training_rows_are_refused(tmp_path, monkeypatch):
    """Standardised with the training rows' statistics, a test row's loss can overflow."""
    rows = [f"{i},{i % 3},{i}" for i in range(9)] + ["1e200,1,1"]
    path = table(tmp_path, "t.csv", rows)
    # The test part is the row drawn by the permutation: find a seed that draws the last one.
    seed = next(s for s in range(100) if np.random.default_rng(s).permutation(10)[0] == 9)
    # The test row is read with the others: either the shift taken while reading or the
    # test part's own check refuses it, naming the column.
    with pytest.raises(DataError, match="column 'a'.*overflow float64"):
        load_table(path, test_fraction=0.1, seed=seed, dtype=np.float64)


# -- learning rates float32 cannot hold ------------------------------------------------------


@pytest.mark.parametrize(
    "args,words",
    [
        (["--lr", "1e300"], "1e+300 is too large for float32"),
        (["--lr", "1e-300"], "the smallest usable learning rate is 1.175e-38"),
        (["--lr", "1e-40", "--dtype", "float64"], "too small"),
        (["--compare", "0.1,1e300"], "'1e300' is not a learning rate"),
    ],
)
def test_learning_rates_float32_cannot_hold_are_refused(capfd, args, words):
    """1e300 crashed in W.add_(alpha=...); 1e-300 became 0 and the loss never moved."""
    code, out, err = run(capfd, "--headless", "--no-tensorboard", *args)
    one_line_error(code, out, err, words)


def test_a_config_file_with_a_learning_rate_float32_cannot_hold(capfd, tmp_path):
    for rate in (1e300, 1e-300):
        path = tmp_path / "run.json"
        path.write_text(json.dumps({"config": {"learning_rate": rate}}))
        code, out, err = run(capfd, "--headless", "--config", path)
        one_line_error(code, out, err, "run.json", "learning rate")


def test_the_learning_rate_range_is_float32s_normal_range():
    assert make_config(learning_rate=LR_MAX).learning_rate == LR_MAX
    assert make_config(learning_rate=LR_MIN).learning_rate == LR_MIN
    assert np.float32(LR_MAX) == LR_MAX and np.float32(LR_MIN) == np.finfo(np.float32).tiny
    for rate in (LR_MAX * 1.01, LR_MIN * 0.99):
        with pytest.raises(ConfigError, match="learning rate"):
            make_config(learning_rate=rate)


# -- JSON nested too deeply, numbers with too many digits --------------------------------------


@pytest.mark.parametrize(
    "text,words",
    [
        ('{"config": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"config": {"seed": 1' + "0" * 100_000 + "}}", "too many digits"),
        ('{"config": {"seed": ' + "[" * 900 + "]" * 900 + "}}", "expected an integer, got a list"),
        ('{"config": {"max_iter": 1' + "0" * 4000 + "}}", "max iterations"),
        ('{"config": {"data": {"a": 1}}}', "expected text, got an object"),
    ],
    ids=["nested", "100000 digits", "a list 900 deep", "4000 digits", "an object"],
)
def test_json_that_python_cannot_read_or_show(capfd, tmp_path, text, words):
    """RecursionError and the int-str conversion limit's ValueError were crashes."""
    path = tmp_path / "run.json"
    path.write_text(text)
    code, out, err = run(capfd, "--headless", "--config", path)
    one_line_error(code, out, err, "run.json", words)


@pytest.mark.parametrize(
    "text,words",
    [
        ('{"config": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"config": {"seed": 1' + "0" * 100_000 + "}}", "too many digits"),
    ],
    ids=["nested", "100000 digits"],
)
def test_load_config_itself_turns_what_json_raises_into_a_save_error(tmp_path, text, words):
    """The engine's reader, not only the CLI, gives one line: any front end may call it."""
    path = tmp_path / "run\x1b[31m.json"
    path.write_text(text)
    with pytest.raises(SaveError) as raised:
        load_config(path)
    message = str(raised.value)
    assert words in message and "\x1b" not in message and len(message.splitlines()) == 1


def test_load_config_without_memory_is_a_save_error(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    path.write_text('{"config": {}}')

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(json, "loads", no_memory)
    with pytest.raises(SaveError, match="run.json: too large to be a saved run"):
        load_config(path)


HUGE = "1" + "0" * 100_000


@pytest.mark.parametrize(
    "option", ["--seed", "--init-seed", "--max-iter", "--batch-size", "--n", "--lr"]
)
def test_a_100000_digit_number_on_the_command_line(capfd, option):
    extra = ["--data", "synthetic"] if option == "--n" else []
    code, out, err = run(capfd, "--headless", *extra, option, HUGE)
    one_line_error(code, out, err, option)


@pytest.mark.parametrize("option", ["--n", "--d", "--m", "--max-iter", "--batch-size"])
def test_sizes_past_what_a_tensor_dimension_holds(capfd, option):
    """A 401-digit --n reached the memory check, whose float() overflowed."""
    extra = ["--data", "synthetic"] if option in ("--n", "--d", "--m") else []
    code, out, err = run(capfd, "--headless", *extra, option, "1" + "0" * 24)
    one_line_error(code, out, err, option, "at most 9223372036854775807")
    code, out, err = run(capfd, "--headless", *extra, option, "1" + "0" * 400)
    one_line_error(code, out, err, option, "too large: a number of 401 digits")


def test_a_100000_digit_threshold_is_infinite_and_the_note_says_so(capfd):
    code, out, err = run(capfd, "--headless", "--no-tensorboard", "--threshold", HUGE)
    assert code == 0 and "converged at once" in out and "inf×" not in out


# -- the memory check and the process's own limit (ulimit -v) ---------------------------------


def test_the_memory_check_counts_the_address_space_limit(monkeypatch):
    """With ``ulimit -v`` low, the check passed and the allocation failed 27 s later."""
    assert memory.address_space_left() is None or memory.address_space_left() >= 0
    real = resource.getrlimit
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = mapped + (50 << 20)  # 50 MB left to map
    monkeypatch.setattr(
        resource,
        "getrlimit",
        lambda which: (limit, limit) if which == resource.RLIMIT_AS else real(which),
    )
    assert memory.available_memory() <= 60 << 20
    # 100 MB of data: far under any machine's free memory, over what this process may map.
    with pytest.raises(DataError, match=r"too large for memory .*\(ulimit -v\)"):
        synthetic(n=1_000_000, d=23)


def test_a_real_address_space_limit_is_a_one_line_error(tmp_path):
    """The whole program under ``ulimit -v 3000000`` (3 GB), asked for 4 GB of data."""
    limit = 3 << 30

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = subprocess.run(
        [*AMAL, "--headless", "--no-tensorboard", "--data", "synthetic"]
        + ["--n", "50000000", "--d", "18", "--max-iter", "1"],
        capture_output=True,
        text=True,
        preexec_fn=limited,
        cwd=ROOT,
        env={**os.environ, "AMAL_TUI_CRASH_DIR": str(tmp_path / "crashes")},
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert "too large for memory" in result.stderr


@pytest.mark.parametrize(
    "error",
    [
        MemoryError(),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate "
            "memory: you tried to allocate 2400000000 bytes. Error code 12 (Cannot allocate memory)"
        ),
    ],
)
def test_an_allocation_that_fails_during_the_run_is_a_one_line_error(capfd, monkeypatch, error):
    import tui.headless

    def out_of_memory(*args, **kwargs):
        raise error

    monkeypatch.setattr(tui.headless, "run", out_of_memory)
    code, out, err = run(capfd, "--headless", "--no-tensorboard")
    one_line_error(code, out, err, "out of memory")


def test_other_runtime_errors_are_still_reported_as_crashes(capfd, monkeypatch, crash_dir):
    import tui.headless

    def broken(*args, **kwargs):
        raise RuntimeError("something else")

    monkeypatch.setattr(tui.headless, "run", broken)
    code, _, err = run(capfd, "--headless", "--no-tensorboard")
    assert code == 1 and "unexpected error" in err
    for report in crash_dir.iterdir():
        report.unlink()


def test_an_unexpected_error_is_reported_in_one_escaped_line(capfd, monkeypatch, crash_dir):
    import tui.headless

    def broken(*args, **kwargs):
        raise RuntimeError("line one\nline two \x1b[31mred")

    monkeypatch.setattr(tui.headless, "run", broken)
    code, _, err = run(capfd, "--headless", "--no-tensorboard")
    assert code == 1 and "unexpected error" in err
    assert len(err.strip().splitlines()) == 1 and "\x1b" not in err, err
    assert "line one\\nline two \\x1b[31mred" in err
    for report in crash_dir.iterdir():
        report.unlink()


# -- names too long for the file system ----------------------------------------------------


def test_a_logdir_name_too_long_warns_and_the_run_goes_on(capfd):
    code, out, err = run(capfd, "--headless", "--max-iter", "3", "--logdir", LONG)
    assert code == 0 and "Broke the loop without converging" in out
    assert "warning: cannot write TensorBoard logs" in err and "File name too long" in err
    assert "unexpected error" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["--check", LONG + ".py"],
        ["--headless", "--data", LONG + ".csv"],
        ["--headless", "--config", LONG + ".json"],
        ["--headless", "--save", LONG + ".json"],
        ["--headless", "--functions", LONG + ".py"],
    ],
)
def test_a_file_name_too_long_is_a_one_line_error_before_anything_runs(capfd, args):
    code, out, err = run(capfd, *args)
    one_line_error(code, out, err, args[-2], "a name in the path is 30", "allows 255")


# -- control characters and escape sequences in paths ------------------------------------------

ESCAPE = "\x1b[2J\x1b]0;pwned\x07"


def test_a_logdir_with_escape_sequences_is_shown_escaped(capfd, tmp_path):
    blocker = tmp_path / f"file{ESCAPE}"
    blocker.write_text("")
    code, _, err = run(capfd, "--headless", "--max-iter", "3", "--logdir", blocker / "runs")
    assert code == 0 and "\x1b" not in err and "\x07" not in err
    assert "cannot write TensorBoard logs in" in err and "\\x1b[2J" in err
    folder = tmp_path / f"logs{ESCAPE}"
    code, _, err = run(capfd, "--headless", "--max-iter", "3", "--logdir", folder)
    assert code == 0 and "TensorBoard log in" in err and "\x1b" not in err


def test_a_config_setting_named_with_escape_sequences(capfd, tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"config": {ESCAPE: 1}}))
    code, out, err = run(capfd, "--headless", "--config", path)
    one_line_error(code, out, err, "is not a setting", "\\x1b[2J")


def test_arguments_argparse_echoes_are_escaped(capfd):
    with pytest.raises(SystemExit) as exit_:
        main(["--headless", f"stray{ESCAPE}"])
    _, err = capfd.readouterr()
    assert exit_.value.code == 2 and "unrecognized arguments" in err
    assert "\x1b" not in err and "\x07" not in err


def test_a_save_path_with_escape_sequences_is_shown_escaped(capfd, tmp_path):
    save = tmp_path / f"run{ESCAPE}.json"
    code, _, err = run(capfd, "--headless", "--no-tensorboard", "--max-iter", "3", "--save", save)
    assert code == 0 and save.exists()
    assert "saved the run in" in err and "\\x1b[2J" in err
    assert "\x1b" not in err and "\x07" not in err


def test_the_loading_progress_shows_the_file_name_escaped():
    import io

    from tui.headless import StopRequest, _LoadingProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    _LoadingProgress(stream, f"d{ESCAPE}.csv", StopRequest())(0.5)
    written = stream.getvalue()
    assert "reading 'd\\x1b[2J" in written
    # Only the progress line's own "erase the line" sequence reaches the terminal.
    assert written.count("\x1b") == 1 and "\x07" not in written


def test_a_data_file_named_with_escape_sequences_is_described_escaped(tmp_path):
    path = table(tmp_path, f"d{ESCAPE}.csv", [f"{i},{i % 3},{i}" for i in range(5)])
    assert "\x1b" not in load_table(path).describe()


# -- the note on a constant target -----------------------------------------------------------


def test_an_optimum_of_zero_is_said_once():
    """It read "still above the optimum 0 0"."""
    note = threshold_note(0.7, 0.0)
    assert "still above the optimum 0: a lower threshold" in note and "0 0" not in note
    assert "1.4× the optimum 0.5:" in threshold_note(0.7, 0.5)
    assert threshold_note(0.7, 0.6971) is None


# -- property tests ---------------------------------------------------------------------------

SETTINGS = sorted(Config().to_dict())
SPECIAL = st.sampled_from(
    ["inf", "-inf", "nan", "NaN", "1e300", "1e-300", "-0", "0x10", "1_000", "", " ", "\x1b[2J"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**1200)
    | st.floats()
    | st.text(max_size=20)
    | SPECIAL
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
CONFIGS = st.dictionaries(st.sampled_from(SETTINGS) | st.text(max_size=8), VALUES, max_size=6)
DOCUMENTS = st.fixed_dictionaries({"config": CONFIGS}) | VALUES


def config_of(path: Path) -> Config | str:
    """What --config makes of a file, parsed in this process: a Config or the one-line error."""
    try:
        return config_from_args(build_parser().parse_args(["--config", str(path)]))
    except SaveError as error:
        message = str(error)
        assert "\n" not in message and str(path.name) in message
        return message


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=DOCUMENTS)
def test_any_json_given_to_config_is_a_config_or_one_line(tmp_path, document):
    path = tmp_path / "random.json"
    path.write_text(json.dumps(document))  # NaN and Infinity too: Python's json reads them
    result = config_of(path)
    if isinstance(result, Config):
        assert math.isfinite(result.learning_rate) and result.learning_rate >= LR_MIN


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_any_bytes_given_to_config_are_a_config_or_one_line(tmp_path, content):
    path = tmp_path / "random.json"
    path.write_bytes(content)
    config_of(path)


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe{", b'{"config": ' + b"[" * 5000, b'{"config": {"seed": 1' + b"0" * 5000 + b"}}"],
    ids=["binary", "nested", "5000 digits"],
)
def test_bad_config_files_in_a_real_run(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    result = subprocess.run(
        [*AMAL, "--headless", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "AMAL_TUI_CRASH_DIR": str(tmp_path / "crashes")},
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "bad.json" in result.stderr


CELLS = (
    st.sampled_from(
        ["", "?", "NA", "nan", "inf", "-inf", "1e309", "1e-400", "1e308", "-1.7e308", "1e200"]
        + ["3.4e38", "3.5e38", "1e20", '"1"', "'2'", '"', "1,5", "1;2", "é", "\u202e1", "0x1"]
    )
    | st.floats().map(repr)
    | st.integers(-(10**30), 10**30).map(str)
    | st.text(max_size=6)
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.lists(CELLS, min_size=3, max_size=3), min_size=1, max_size=6),
    header=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    standardize=st.booleans(),
    dropna=st.booleans(),
)
def test_any_cells_read_as_finite_data_or_one_line(
    tmp_path, rows, header, dtype, standardize, dropna
):
    lines = (["a,b,y"] if header else []) + [",".join(row) for row in rows]
    path = tmp_path / "cells.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        dataset = load_table(path, dtype=dtype, standardize=standardize, dropna=dropna)
    except DataError as error:
        assert "\n" not in str(error) and str(error).startswith(str(path))
        return
    assert dataset.X.dtype == dtype and dataset.n >= 1
    assert np.isfinite(dataset.X).all() and np.isfinite(dataset.Y).all()


@pytest.mark.parametrize(
    "line,words",
    [
        ("4,5,\r6", None),
        ("4," + "7" * 200_000 + ",5", "'7777777777777777777777777777777777777...' is too large"),
        ('4,"' + "7" * 200_000 + '",5', "'7777777777777777777777777777777777777...' is too large"),
    ],
    ids=["a carriage return in a cell", "a 200 kB number", "a 200 kB quoted number"],
)
def test_cells_the_csv_module_refuses(tmp_path, line, words):
    """Found by the property test: csv.Error escaped the reader."""
    path = tmp_path / "cells.csv"
    path.write_text(f"a,b,y\n1,2,3\n{line}\n", newline="")
    if words is None:
        assert load_table(path, standardize=False).Y[1, 0] == 6
        return
    with pytest.raises(DataError, match="row 3, column 'b'") as error:
        load_table(path)
    assert words in str(error.value) and len(str(error.value)) < 300


@pytest.mark.parametrize(
    "args",
    [
        ["--optimizer", "momentum", "--momentum", "0.99999999"],
        ["--optimizer", "nesterov", "--momentum", "0.99999999"],
        ["--optimizer", "adam", "--beta1", "0.99999999"],
        ["--optimizer", "adam", "--beta2", "0.99999999"],
    ],
)
def test_a_decay_factor_float32_rounds_to_1_is_refused(capfd, args):
    """0.99999999 is 1.0 in float32: a momentum that never lets the velocity decay."""
    code, out, err = run(capfd, "--headless", "--no-tensorboard", *args)
    one_line_error(code, out, err, args[-2], "float32 rounds 0.99999999 up to 1", "0.99999994")
    assert make_config(momentum=0.99999994).momentum == 0.99999994
