"""Where e saves (amal-runs/ or --save-dir), what a saved config holds, and that it reloads exactly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from textual.widgets import Input
from tui_support import CONFIG, asyncio_test, screen_text, settle

from engine import Descent
from engine.config import Config
from engine.experiment import make_problem
from engine.record.saving import (
    DEFAULT_SAVE_DIR,
    SaveError,
    load_config,
    make_save_folder,
    save_folder_problem,
    save_run,
)
from tui.cli import main

ROOT = Path(__file__).parents[2]
DIABETES = Path(__file__).parents[2] / "data" / "diabetes.csv"
SYNTHETIC_FIELDS = {"n", "d", "m", "noise"}
FILE_FIELDS = {"target", "dropna"}
FUNCTIONS_FIELDS = {"mse_name", "linear_name", "force"}

# -- what a saved config holds -----------------------------------------------------------------


def test_a_toy_config_holds_no_synthetic_or_file_fields():
    saved = Config().saved_dict()
    assert not (SYNTHETIC_FIELDS | FILE_FIELDS | FUNCTIONS_FIELDS) & set(saved)
    assert {"seed", "init_seed", "standardize", "test_fraction", "learning_rate"} <= set(saved)
    assert not {"momentum", "beta1", "beta2"} & set(saved)  # plain sgd


def test_a_synthetic_config_holds_n_d_m_noise():
    saved = Config(data="synthetic", n=30, d=2, m=2, noise=0.5).saved_dict()
    assert {key: saved[key] for key in SYNTHETIC_FIELDS} == {"n": 30, "d": 2, "m": 2, "noise": 0.5}
    assert not FILE_FIELDS & set(saved)


def test_a_file_config_holds_its_target_standardise_and_test_fraction():
    config = Config(data=str(DIABETES), target="target", standardize=False, test_fraction=0.2)
    saved = config.saved_dict()
    assert saved["target"] == "target" and saved["standardize"] is False
    assert saved["test_fraction"] == 0.2 and saved["dropna"] is False
    assert not SYNTHETIC_FIELDS & set(saved)


def test_the_optimizer_keeps_only_its_own_settings():
    assert {"beta1", "beta2"} <= set(Config(optimizer="adam").saved_dict())
    assert "momentum" not in Config(optimizer="adam").saved_dict()
    assert "momentum" in Config(optimizer="nesterov").saved_dict()


CONFIGS = {
    "toy": Config(tensorboard=False, max_iter=20, learning_rate=0.05, init_seed=3),
    "synthetic": Config(
        tensorboard=False, max_iter=20, data="synthetic", n=40, d=3, m=2, noise=0.3, seed=5
    ),
    "csv": Config(
        tensorboard=False,
        max_iter=20,
        data=str(DIABETES),
        standardize=True,
        test_fraction=0.25,
        optimizer="momentum",
        momentum=0.5,
    ),
}


@pytest.mark.parametrize("source", list(CONFIGS))
def test_a_saved_run_reloads_the_same_config_and_the_same_losses(tmp_path, source):
    config = CONFIGS[source]
    first = Descent(config, make_problem(config))
    first.run()
    json_path, _ = save_run(tmp_path / "run.json", config, [first])
    reloaded = load_config(json_path)
    assert reloaded == config
    again = Descent(reloaded, make_problem(reloaded))
    again.run()
    assert again.losses.tolist() == first.losses.tolist()  # the same CPU: to the bit


def test_a_setting_the_run_does_not_use_is_not_saved_and_reloads_at_its_default(tmp_path):
    config = Config(tensorboard=False, max_iter=5, n=999, noise=2.0, target="x")  # toy data
    descent = Descent(config, make_problem(config))
    descent.run()
    json_path, _ = save_run(tmp_path / "run.json", config, [descent])
    saved = json.loads(json_path.read_text())["config"]
    assert not {"n", "noise", "target"} & set(saved)
    assert load_config(json_path) == config.relevant() == Config(tensorboard=False, max_iter=5)


def test_a_saved_comparison_reloads_its_learning_rates(tmp_path):
    config = Config(tensorboard=False, max_iter=5, compare=(0.01, 0.5))
    descents = [Descent(config.for_learning_rate(rate)) for rate in config.compare]
    for descent in descents:
        descent.run()
    json_path, _ = save_run(tmp_path / "both.json", config, descents)
    assert "learning_rate" not in json.loads(json_path.read_text())["config"]
    assert load_config(json_path) == config.relevant()


# -- the save folder ---------------------------------------------------------------------------


def test_git_ignores_the_save_folder_and_the_logs():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for path in (f"{DEFAULT_SAVE_DIR}/run.json", "runs/lr0.01/events.out", "sub/amal-runs/x.json"):
        ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", path])
        assert ignored.returncode == 0, path


def test_a_missing_folder_is_made_at_the_first_save(tmp_path):
    assert save_folder_problem(tmp_path / "a" / "b") is None
    assert make_save_folder(tmp_path / "a" / "b").is_dir()


def test_a_file_in_the_way_is_named(tmp_path):
    (tmp_path / "blocked").write_text("mine")
    for folder in (tmp_path / "blocked", tmp_path / "blocked" / "deeper"):
        problem = save_folder_problem(folder)
        assert problem is not None and "blocked: is a file, not a folder" in problem
        with pytest.raises(SaveError, match="saved nothing: .*blocked: is a file"):
            make_save_folder(folder)
    assert (tmp_path / "blocked").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_folder_that_cannot_be_written_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        problem = save_folder_problem(locked / "runs")
        assert problem is not None and "locked: not writable" in problem
    finally:
        locked.chmod(0o700)


def _refused(capsys, *args):
    with pytest.raises(SystemExit) as exit_:
        main(["--no-tensorboard", *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1, err
    return err


def test_the_cli_refuses_a_save_dir_with_a_file_in_the_way(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    err = _refused(capsys, "--save-dir", str(tmp_path / "taken"))
    assert "--save-dir" in err and "taken: is a file, not a folder" in err


def test_save_dir_is_for_the_app(capsys):
    assert "--save-dir is for the app" in _refused(capsys, "--headless", "--save-dir", "out")


# -- in the app --------------------------------------------------------------------------------


@asyncio_test
async def test_e_saves_into_the_save_folder_and_says_where(tmp_path):
    from tui.app import AmalApp
    from tui.status_line import StatusLine

    app = AmalApp(CONFIG, save_dir="out/runs")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("s", "s")
        await settle(pilot)
        await pilot.press("e")
        assert app.screen.query_one(Input).value.startswith("out/runs/amal-run-")
        prompt = screen_text(app)
        assert "in out/runs/ (made at the" in prompt and "--save-dir changes it" in prompt
        await pilot.press("enter")
        await settle(pilot)
        (saved,) = (tmp_path / "out" / "runs").glob("amal-run-*.json")
        assert json.loads(saved.read_text())["iterations"] == 2
        shown = f"out/runs/{saved.name}"
        assert f"saved {shown}" in app.query_one(StatusLine).text.plain
        assert shown in screen_text(app)  # and in the notification


@asyncio_test
async def test_a_file_in_the_way_of_the_save_folder_is_one_line_and_loses_nothing(tmp_path):
    from tui.app import AmalApp

    (tmp_path / "amal-runs").write_text("not a folder")
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("s", "s", "s")
        await settle(pilot)
        await pilot.press("e", "enter")
        await settle(pilot)
        text = screen_text(app).replace("\n", "")
        assert "saved nothing: amal-runs: is a file, not a folder" in text
        assert (tmp_path / "amal-runs").read_text() == "not a folder"
        assert app.session.descent.iteration == 3  # the run is untouched, the app goes on
        await pilot.press("s")
        await settle(pilot)
        assert app.session.descent.iteration == 4
