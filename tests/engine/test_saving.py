"""Saving a run never destroys a file amal-tui did not write, and writes its JSON + CSV as a pair."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import engine.record.saving
from engine import Descent, make_config
from engine.record.saving import SaveError, check_save_target, save_paths, save_run
from tui.cli import main

DIABETES = Path(__file__).parents[2] / "data" / "diabetes.csv"
ROOT = Path(__file__).parents[2]


def _descent(max_iter=5):
    descent = Descent(make_config(max_iter=max_iter, tensorboard=False))
    descent.run()
    return descent


def _save(path, max_iter=5):
    descent = _descent(max_iter)
    return save_run(path, descent.config, [descent])


def _refused(capsys, *args):
    """Run the CLI, expecting a refusal before the run: exit 2, one line on stderr."""
    with pytest.raises(SystemExit) as exit_:
        main(["--headless", "--no-tensorboard", "--max-iter", "5", *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.fixture
def no_run(monkeypatch):
    """A refusal must come before anything is computed: a run would fail the test."""
    import tui.headless

    def run(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(tui.headless, "run", run)


def test_the_losses_are_name_losses_csv():
    assert save_paths("run.json") == (Path("run.json"), Path("run.losses.csv"))
    assert save_paths("out/run") == (Path("out/run.json"), Path("out/run.losses.csv"))
    assert save_paths("RUN.JSON") == (Path("RUN.JSON"), Path("RUN.losses.csv"))


def test_saving_beside_the_data_set_leaves_the_data_set_alone(tmp_path, capsys):
    """--data save/linnerud.csv --save save/linnerud.json used to replace the data set."""
    folder = tmp_path / "save"
    folder.mkdir()
    data = folder / "linnerud.csv"
    shutil.copy(DIABETES, data)
    before = data.read_bytes()
    code = main(
        ["--headless", "--no-tensorboard", "--data", str(data), "--max-iter", "5"]
        + ["--save", str(folder / "linnerud.json")]
    )
    assert code == 0, capsys.readouterr().err
    assert data.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [
        "linnerud.csv",
        "linnerud.json",
        "linnerud.losses.csv",
    ]
    assert (folder / "linnerud.losses.csv").read_text().startswith("iteration,loss\n")


def test_a_losses_file_used_as_data_is_not_replaced(tmp_path, capsys, no_run):
    _save(tmp_path / "a.json")
    data = tmp_path / "a.losses.csv"
    before = data.read_bytes()
    err = _refused(capsys, "--data", str(data), "--save", str(tmp_path / "a.json"))
    assert "a.losses.csv: is a file this run reads: not replaced" in err
    assert data.read_bytes() == before


@pytest.mark.parametrize(
    "name,content,words",
    [
        ("run.json", '{"results": [1, 2, 3]}\n', "run.json: exists and is not a run saved by"),
        ("run.json", "", "run.json: exists and is not a run saved by amal-tui"),
        ("run.json", "\x00\xff binary", "run.json: exists and is not a run saved by amal-tui"),
        ("run.losses.csv", "x,y\n1,2\n", "run.losses.csv: exists and is not a losses file"),
        ("run.losses.csv", "iteration,loss,extra\n", "run.losses.csv: exists and is not a los"),
    ],
)
def test_an_existing_file_amal_tui_did_not_write_is_refused_before_the_run(
    tmp_path, capsys, no_run, name, content, words
):
    foreign = tmp_path / name
    foreign.write_bytes(content.encode("latin-1"))
    err = _refused(capsys, "--save", str(tmp_path / "run.json"))
    assert words in err and "choose another name, or move it away" in err
    assert foreign.read_bytes() == content.encode("latin-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # and nothing else written


def test_a_file_created_during_the_run_is_refused_at_the_save(tmp_path):
    (tmp_path / "run.json").write_text('{"mine": true}')
    with pytest.raises(SaveError) as error:
        _save(tmp_path / "run.json")
    assert str(error.value).startswith("saved nothing: ")
    assert "run.json: exists and is not a run saved by amal-tui" in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_a_saved_pair_is_replaced_by_the_next_save(tmp_path):
    _save(tmp_path / "run.json", max_iter=5)
    _save(tmp_path / "run.json", max_iter=7)
    assert json.loads((tmp_path / "run.json").read_text())["iterations"] == 7
    assert len((tmp_path / "run.losses.csv").read_text().splitlines()) == 8
    # A comparison's CSV (one column per rate) is amal-tui's too.
    config = make_config(compare=(0.01, 0.5), max_iter=5, tensorboard=False)
    from engine.experiment import compare_descents

    descents = compare_descents(config)
    for descent in descents:
        descent.run()
    save_run(tmp_path / "run.json", config, descents)
    assert check_save_target(tmp_path / "run.json") == save_paths(tmp_path / "run.json")


@pytest.mark.parametrize(
    "target,words",
    [
        ("folder", "folder: is a folder: add a file name"),
        ("folder/", "folder/: is a folder: add a file name"),
        ("missing/run.json", "missing/run.json: the folder missing does not exist"),
        ("plain/run.json", "plain/run.json: the folder plain is not a folder"),
        ("/dev/full", "/dev/full: not a regular file (a device?)"),
        ("/dev/null", "/dev/null: not a regular file (a device?)"),
    ],
)
def test_a_bad_target_is_refused_before_the_run(tmp_path, capsys, no_run, target, words):
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("a file")
    err = _refused(capsys, "--save", target)
    assert f"argument --save: {words}" in err
    assert not Path("/dev/full.json").exists() and not Path("/dev/null.json").exists()


def test_a_target_named_like_a_folder_is_refused(tmp_path, capsys, no_run):
    (tmp_path / "run.json").mkdir()
    err = _refused(capsys, "--save", "run.json")
    assert "run.json: is a folder" in err
    (tmp_path / "run.json").rmdir()
    (tmp_path / "run.losses.csv").mkdir()
    assert "run.losses.csv: is a folder" in _refused(capsys, "--save", "run.json")


def _unwritable_folder(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if not os.access(folder, os.W_OK):
        return folder
    # root writes anywhere a mode allows nothing; sysfs refuses even root.
    for candidate in ("/sys", "/proc/sys"):
        try:
            os.close(os.open(os.path.join(candidate, ".amal-probe"), os.O_CREAT | os.O_WRONLY))
        except OSError:
            return Path(candidate)
    pytest.skip("no folder here refuses a new file")


def test_an_unwritable_folder_is_refused_before_the_run(tmp_path, capsys, no_run):
    folder = _unwritable_folder(tmp_path)
    err = _refused(capsys, "--save", str(folder / "run.json"))
    assert f"cannot write in the folder {folder}" in err


def test_the_compare_run_checks_its_target_before_it_starts(tmp_path, capsys, no_run):
    (tmp_path / "cmp.json").write_text("[]")
    err = _refused(capsys, "--compare", "0.01,0.5", "--save", "cmp.json")
    assert "cmp.json: exists and is not a run saved by amal-tui" in err


# -- the pair, when something fails --------------------------------------------------------


def _old_pair(folder):
    """A pair saved earlier, and its bytes."""
    _save(folder / "run.json", max_iter=3)
    return (folder / "run.json").read_bytes(), (folder / "run.losses.csv").read_bytes()


def _failing(monkeypatch, name, fail_on_call, error=None):
    """os.<name> fails on its ``fail_on_call``-th call (1-based) inside engine.record.saving."""
    real = getattr(os, name)
    calls = {"n": 0}

    def fake(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == fail_on_call:
            raise error or OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.record.saving.os, name, fake)
    return calls


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    "name,call,what",
    [
        ("fsync", 1, "saved nothing: {folder}/run.losses.csv: No space left on device"),
        ("fsync", 2, "saved nothing: {folder}/run.json: No space left on device"),
        ("replace", 1, "saved nothing: {folder}/run.losses.csv: No space left on device"),
    ],
    ids=["csv written", "json written", "csv renamed"],
)
def test_a_failure_before_the_first_rename_saves_nothing_and_says_so(
    tmp_path, monkeypatch, name, call, what
):
    old = _old_pair(tmp_path)
    _failing(monkeypatch, name, call)
    with pytest.raises(SaveError) as error:
        _save(tmp_path / "run.json", max_iter=9)
    assert str(error.value) == what.format(folder=tmp_path)
    assert ((tmp_path / "run.json").read_bytes(), (tmp_path / "run.losses.csv").read_bytes()) == old
    assert _names(tmp_path) == ["run.json", "run.losses.csv"]  # no .tmp left


def test_a_failure_between_the_renames_names_what_was_replaced(tmp_path, monkeypatch):
    old_json, old_csv = _old_pair(tmp_path)
    _failing(monkeypatch, "replace", 2, PermissionError(errno.EACCES, "Permission denied"))
    with pytest.raises(SaveError) as error:
        _save(tmp_path / "run.json", max_iter=9)
    assert str(error.value) == (
        f"replaced {tmp_path}/run.losses.csv but not {tmp_path}/run.json: "
        f"{tmp_path}/run.json: Permission denied"
    )
    assert (tmp_path / "run.json").read_bytes() == old_json
    assert len((tmp_path / "run.losses.csv").read_text().splitlines()) == 10  # the new one
    assert _names(tmp_path) == ["run.json", "run.losses.csv"]


def test_an_interrupted_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    old = _old_pair(tmp_path)
    _failing(monkeypatch, "fsync", 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path / "run.json", max_iter=9)
    assert ((tmp_path / "run.json").read_bytes(), (tmp_path / "run.losses.csv").read_bytes()) == old
    assert _names(tmp_path) == ["run.json", "run.losses.csv"]


def test_the_json_is_renamed_last(tmp_path, monkeypatch):
    renamed = []
    real = os.replace
    monkeypatch.setattr(
        engine.record.saving.os, "replace", lambda a, b: renamed.append(Path(b).name) or real(a, b)
    )
    _save(tmp_path / "run.json")
    assert renamed == ["run.losses.csv", "run.json"]


def test_a_failed_headless_save_exits_1_and_says_what_was_saved(tmp_path, capsys, monkeypatch):
    _failing(monkeypatch, "fsync", 1)
    code = main(["--headless", "--no-tensorboard", "--max-iter", "5", "--save", "run.json"])
    err = capsys.readouterr().err
    assert code == 1
    assert "amal-tui: error: saved nothing: run.losses.csv: No space left on device" in err
    assert _names(tmp_path) == []


def test_a_save_killed_midway_leaves_the_old_pair_and_the_next_save_cleans_up(tmp_path):
    """kill -9 between writing the temporary files and renaming them."""
    _old_pair(tmp_path)
    old_json = (tmp_path / "run.json").read_bytes()
    script = (
        "import os, sys, time\n"
        "import engine.record.saving\n"
        "from engine import Descent, make_config\n"
        "real = os.replace\n"
        "def stall(*args):\n"
        "    print('renaming', flush=True)\n"
        "    time.sleep(60)\n"
        "engine.record.saving.os.replace = stall\n"
        "d = Descent(make_config(max_iter=9, tensorboard=False)); d.run()\n"
        "engine.record.saving.save_run(sys.argv[1], d.config, [d])\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "run.json")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout.readline() == "renaming\n"
    finally:
        process.kill()
        process.wait(timeout=60)
    leftovers = [name for name in _names(tmp_path) if name.endswith(".tmp")]
    assert len(leftovers) == 2 and (tmp_path / "run.json").read_bytes() == old_json
    # One of a save still going on (this process: alive) is left alone.
    ours = tmp_path / f".run.json.{os.getpid()}.abcdefgh.tmp"
    ours.write_text("in progress")
    _save(tmp_path / "run.json", max_iter=4)
    assert _names(tmp_path) == [ours.name, "run.json", "run.losses.csv"]


# -- the app saves through the same checks --------------------------------------------------


def test_the_apps_save_refuses_a_foreign_file_and_says_so(tmp_path):
    (tmp_path / "notes.json").write_text('{"my": "notes"}')
    with pytest.raises(SaveError, match=r"^saved nothing: .*notes.json: exists and is not a run"):
        _save(tmp_path / "notes")
    assert json.loads((tmp_path / "notes.json").read_text()) == {"my": "notes"}


def test_sigterm_during_a_save_only_asks_to_stop(tmp_path):
    """SIGTERM during a headless save: it finishes the pair (the signal only asks to stop)."""
    # What the signal handler of tui.headless does: nothing that interrupts a write.
    from tui.headless import StopRequest, stop_on_signals

    stop = StopRequest()
    with stop_on_signals(stop) as received:
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
        _save(tmp_path / "run.json")
    assert received == [signal.SIGTERM] and stop.reason == "SIGTERM"
    assert _names(tmp_path) == ["run.json", "run.losses.csv"]
