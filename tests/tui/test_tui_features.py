"""The app's experiments, driven as a user drives them: compare mode, the theory on screen,
optimizers and mini-batches, saved runs, a student's Functions, data files, --fps, crashes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import Input
from tui_support import (
    CONFIG,
    ENDLESS,
    asyncio_test,
    count_panel_draws,
    running,
    screen_text,
    settle,
    type_into,
    wait_for,
)

from engine.config import Config
from tui.app import PERIODS_IDLE, AmalApp, build_session, run_app
from tui.comparison import ComparisonPanel
from tui.hyperparameters import HyperparameterPanel
from tui.loss_chart import LossChart
from tui.parameters import ParameterPanel
from tui.prompts import PromptScreen, ReportScreen
from tui.status_line import StatusLine
from tui.text_block import TextBlock

TESTS = Path(__file__).parents[1]
STUDENTS = TESTS / "students"
DIABETES = TESTS.parent / "data" / "diabetes.csv"
# The notebook's three runs: the same start (init seed 42) and the same cap.
NOTEBOOK = Config(tensorboard=False, init_seed=42, max_iter=1001)


def panel(app: AmalApp) -> HyperparameterPanel:
    return app.query_one(HyperparameterPanel)


def table_rows(app: AmalApp) -> list[list[str]]:
    """The comparison table's rows, as words: marker, ε, status, iterations, loss."""
    lines = app.query_one(ComparisonPanel).text().splitlines()
    return [line.split() for line in lines[1:] if line.strip()]


# -- compare mode --------------------------------------------------------------------------


@asyncio_test
async def test_c_compares_the_notebooks_three_learning_rates_from_the_same_start():
    app = AmalApp(NOTEBOOK)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("c")
        prompt = app.screen
        assert isinstance(prompt, PromptScreen)
        assert prompt.query_one(Input).value == "0.0001,0.01,0.5"
        await pilot.press("enter")
        await settle(pilot)
        assert app.config.compare == (0.0001, 0.01, 0.5)
        descents = app.descents
        assert [d.config.learning_rate for d in descents] == [0.0001, 0.01, 0.5]
        # One problem, one start: the same tensors for every run.
        assert len({id(d.problem) for d in descents}) == 1
        assert app.query_one("#comparison").display and not app.query_one("#parameters").display

        await pilot.press("s")
        await settle(pilot)
        assert [d.iteration for d in descents] == [1, 1, 1]
        await pilot.press("r")
        await settle(pilot)
        assert [(d.status.value, d.iteration) for d in descents] == [
            ("capped", 1001),
            ("capped", 1001),
            ("converged", 30),
        ]
        rows = table_rows(app)
        assert [row[:4] for row in rows] == [
            ["+", "0.0001", "capped", "1001"],
            ["x", "0.01", "capped", "1001"],
            ["o", "0.5", "converged", "30"],
        ]
        assert rows[2][4] == f"{descents[2].losses[-1]:.6g}"
        text = screen_text(app)
        # The curves are told apart by their marker, named in the legend.
        assert "+ 0.0001" in text and "x 0.01" in text and "o 0.5" in text
        chart = "\n".join(text.splitlines()[10:27])
        assert "+" in chart and "x" in chart and "o" in chart
        assert "finished" in text and "ε 0.5: converged at 30" in text

        await pilot.press("x")
        await settle(pilot)
        assert [d.iteration for d in app.descents] == [0, 0, 0]
        assert "ready" in screen_text(app)


@asyncio_test
async def test_typing_in_a_prompt_replaces_its_suggestion():
    app = AmalApp(NOTEBOOK)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("c", *"0.01,0.5", "enter")
        await settle(pilot)
        assert app.config.compare == (0.01, 0.5)
        await pilot.press("c", "backspace", "enter")  # the whole suggestion goes: one run
        await settle(pilot)
        assert app.config.compare == ()


@asyncio_test
async def test_compare_from_the_command_line_and_back_to_one_run():
    app = AmalApp(NOTEBOOK.replace(compare="0.01,0.5"))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        assert "--compare runs with --headless" not in screen_text(app)
        assert len(app.descents) == 2
        assert "Comparison" in screen_text(app)
        problem = app.experiment.problem
        # + and - do not apply to a comparison; c changes its learning rates.
        await pilot.press("plus")
        await settle(pilot)
        assert app.config.compare == (0.01, 0.5)
        assert "c changes them" in screen_text(app)

        await pilot.press("c")
        field = app.screen.query_one(Input)
        assert field.value == "0.01,0.5"  # the last list
        await pilot.press("ctrl+a", "ctrl+k", *"0.1,x")
        await pilot.pause()
        assert "'x' is not a learning rate" in app.screen.error_text()
        await pilot.press("enter")  # refused: the prompt stays
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("escape")  # cancelled: nothing changes
        await settle(pilot)
        assert app.config.compare == (0.01, 0.5) and len(app.descents) == 2

        await pilot.press("c", "ctrl+a", "ctrl+k", "enter")  # empty: back to one run
        await settle(pilot)
        assert app.config.compare == () and len(app.descents) == 1
        assert app.experiment.problem is problem  # the same data, not read again
        assert app.query_one("#parameters").display and not app.query_one("#comparison").display
        assert "W (13×3)" in screen_text(app)
        await pilot.press("c")
        assert app.screen.query_one(Input).value == "0.01,0.5"
        await pilot.press("escape")


# -- the theory ----------------------------------------------------------------------------


@asyncio_test
async def test_the_optimum_is_a_line_and_the_distance_to_it_shrinks():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        theory = app.experiment.theory
        assert theory.optimal_loss == pytest.approx(0.6971, abs=1e-4)
        chart = app.query_one(LossChart)
        assert "·· optimum 0.6971" in chart.border_subtitle
        assert "─ threshold" in chart.border_subtitle

        def distance() -> float:
            return shown_distance(app, "‖θ−θ*‖")

        start = distance()
        assert start == pytest.approx(
            theory.distance(app.session.descent.snapshot().W, app.session.descent.snapshot().b),
            rel=1e-3,
        )
        await pilot.press("s", "s", "s")
        await settle(pilot)
        after = distance()
        assert after < start
        assert "‖θ−θ*‖" in screen_text(app)
        assert "optimum 0.6971" in screen_text(app)
        assert "ε_max 1.532" in screen_text(app)
        # The optimum's dotted line is on the chart, on the threshold's row here (0.697 ≈ 0.70).
        text = screen_text(app)
        assert "─·" in text or "·─" in text  # a dot of its line next to a dash of the threshold


def shown_distance(app: AmalApp, name: str) -> float:
    """The distance ``name`` on the first line of the parameters panel."""
    first = app.query_one(ParameterPanel).query_one(TextBlock).text.plain.split("\n")[0]
    words = first.split()
    assert name in words, first
    return float(words[words.index(name) + 1])


@asyncio_test
async def test_synthetic_data_show_the_distance_to_the_truth():
    app = AmalApp(Config(tensorboard=False, data="synthetic"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        start = shown_distance(app, "‖θ−θ_true‖")
        await pilot.press("r")
        await settle(pilot)
        assert shown_distance(app, "‖θ−θ_true‖") < start
        assert "synthetic: n=200, d=5, m=1" in screen_text(app)


def said_by(app: AmalApp) -> list[tuple[str, str]]:
    """(title, message) of each notification the app shows from now on."""
    said: list[tuple[str, str]] = []
    notify = app.notify

    def recording(message, *args, **kwargs):
        said.append((kwargs.get("title", ""), str(message)))
        return notify(message, *args, **kwargs)

    app.notify = recording
    return said


def comparison_notes(app: AmalApp) -> str:
    return str(app.query_one("#comparison-notes").content)


@asyncio_test
async def test_a_comparison_flags_past_2_over_L_only_the_runs_the_bound_applies_to():
    # ε > 2/L diverges is a bound for plain full-batch descent: an Adam or momentum row past
    # it is not "diverges" (the table once flagged every optimizer's), a plain one is.
    rates = (0.01, 2.0)  # 2/L = 1.532 on the notebook's problem
    for optimizer, flagged in (("adam", False), ("momentum", False), ("sgd", True)):
        app = AmalApp(NOTEBOOK.replace(optimizer=optimizer, compare=rates, max_iter=5))
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert [row[1] for row in table_rows(app)] == ["0.01", "2⚠" if flagged else "2"]
            notes = comparison_notes(app)
            assert ("diverges" in notes) is flagged, (optimizer, notes)
            # The footnote names the bound of the optimizer in use (tests/tui/test_comparison_bound.py).
            assert "2/L = 1.532" in notes or "2(1+μ)/L = 2.912" in notes


@asyncio_test
async def test_the_app_says_what_the_loader_learned_about_a_file(tmp_path):
    path = tmp_path / "cleaned.csv"
    path.write_text("a,b,c,y\n1,5,2,3\n2,5,,4\n3,5,1,7\n4,5,3,9\n5,5,2,11\n")
    app = AmalApp(CONFIG.replace(data=str(path), dropna=True, max_iter=5))
    said = said_by(app)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        notes = [message for title, message in said if title == "data"]
        (note,) = notes
        assert "4 rows; features: a, b, c; target: y; standardised" in note
        assert "1 row with missing values dropped" in note
        assert "column 'b' is constant" in note
    # The notebook's own data: nothing to say.
    app = AmalApp(CONFIG)
    said = said_by(app)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        assert not [message for title, message in said if title == "data"]


@asyncio_test
async def test_a_learning_rate_past_2_over_L_is_flagged_before_it_runs_then_diverges():
    app = AmalApp(CONFIG.replace(learning_rate=1.6))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        warning = panel(app).warning_text()
        assert warning == "⚠ ε 1.6 > ε_max 1.532: diverges"
        text = screen_text(app)
        assert "⚠ ε 1.6 > ε_max" in text
        assert "gradient descent will" in text  # the engine's own warning, as a notification
        assert app.session.descent.iteration == 0  # shown before anything runs
        await pilot.press("r")
        await settle(pilot)
        assert app.session.descent.status.value == "diverged"
        assert "diverged" in screen_text(app)


@asyncio_test
async def test_typing_a_learning_rate_past_2_over_L_warns_at_once():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert panel(app).warning_text() is None
        await type_into(pilot, "lr", "1.6")
        assert "diverges" in panel(app).warning_text()
        assert "⚠ ε 1.6 > ε_max" in screen_text(app)
        await pilot.press("ctrl+a", "ctrl+k", *"1.5")
        await pilot.pause()
        assert panel(app).warning_text() is None  # 1.5 converges
        await pilot.press("ctrl+a", "ctrl+k", *"1.6")
        await pilot.press("escape")  # not applied: no warning, the run unchanged
        await pilot.pause()
        assert panel(app).warning_text() is None
        await type_into(pilot, "lr", "1.6")
        await pilot.press("enter")
        await settle(pilot)
        assert app.config.learning_rate == 1.6
        assert panel(app).warning_text() is not None
        # Adam has no such bound: no warning.
        await type_into(pilot, "optimizer", "adam")
        await pilot.press("enter")
        await settle(pilot)
        assert app.config.optimizer == "adam"
        assert panel(app).warning_text() is None
        # Nor an ε_max beside the learning rate: 2/L is named as plain SGD's bound.
        hint = panel(app).hint_text("lr")
        assert "ε_max" not in hint and "ε<" not in hint and "2/L 1.532" in hint


# -- optimizers and mini-batches -----------------------------------------------------------

FIELDS = [
    # optimizer to show the field, widget id, valid text, setting and value, invalid text, reason
    ("sgd", "optimizer", "Nesterov", ("optimizer", "nesterov"), "rmsprop", "must be one of sgd"),
    ("momentum", "momentum", "0.5", ("momentum", 0.5), "1", "must be in [0, 1)"),
    ("adam", "beta1", "0.8", ("beta1", 0.8), "-0.1", "must be in [0, 1)"),
    ("adam", "beta2", "0.99", ("beta2", 0.99), "x", "expected a number, got 'x'"),
    ("sgd", "batch-size", "10", ("batch_size", 10), "0", "positive integer or 'full'"),
    ("sgd", "batch-size", "full", ("batch_size", None), "2.5", "expected an integer"),
]


@asyncio_test
async def test_optimizer_and_batch_fields_validate_apply_and_reset():
    app = AmalApp(CONFIG.replace(batch_size=5))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for optimizer, field_id, valid, (name, value), invalid, reason in FIELDS:
            if app.config.optimizer != optimizer:
                await type_into(pilot, "optimizer", optimizer)
                await pilot.press("enter")
                await settle(pilot)
            await pilot.press("x", "s", "s")
            await settle(pilot)
            session = app.session
            await type_into(pilot, field_id, invalid)
            assert reason in panel(app).error_text(field_id)
            await pilot.press("enter")
            await settle(pilot)
            assert app.session is session and session.descent.iteration == 2
            await pilot.press("ctrl+a", "ctrl+k", *valid, "enter")
            await settle(pilot)
            assert getattr(app.config, name) == value, field_id
            assert getattr(app.session.descent.config, name) == value
            assert app.session.descent.iteration == 0
            assert app.experiment.problem is session.descent.problem  # not loaded again
            await pilot.press("s")
            await settle(pilot)
            assert app.session.descent.iteration == 1


@asyncio_test
async def test_each_optimizer_shows_its_own_settings():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)

        def shown() -> set[str]:
            return {
                row.id.removesuffix("-row")
                for row in app.query(".field-row")
                if row.display and row.id in ("momentum-row", "beta1-row", "beta2-row")
            }

        assert shown() == set()
        await type_into(pilot, "optimizer", "momentum")
        await pilot.press("enter")
        await settle(pilot)
        assert shown() == {"momentum"}
        await type_into(pilot, "optimizer", "adam")
        await pilot.press("enter")
        await settle(pilot)
        assert shown() == {"beta1", "beta2"}
        await pilot.press("r")
        await settle(pilot)
        assert app.session.descent.status.finished


# -- saved runs ----------------------------------------------------------------------------


@asyncio_test
async def test_e_saves_the_run_as_json_and_csv(tmp_path):
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("s", "s", "s")
        await settle(pilot)
        await pilot.press("e")
        field = app.screen.query_one(Input)
        assert field.value.startswith("amal-runs/amal-run-") and field.value.endswith(".json")
        await pilot.press("ctrl+a", "ctrl+k", *"first", "enter")
        await settle(pilot)
        saved = json.loads((tmp_path / "first.json").read_text())
        assert saved["iterations"] == 3 and len(saved["losses"]) == 3
        assert saved["status"] == "paused"  # stopped at 3, as the app says
        assert saved["theory"]["lr_max"] == pytest.approx(1.532, abs=1e-3)
        rows = (tmp_path / "first.losses.csv").read_text().splitlines()
        assert rows[0] == "iteration,loss" and len(rows) == 4
        text = screen_text(app)
        assert "first.json" in text and "first.losses.csv" in text
        assert app.session.descent.iteration == 3  # the run is untouched


@asyncio_test
async def test_a_failed_save_is_one_line_and_loses_nothing(tmp_path):
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("s", "s")
        await settle(pilot)
        await pilot.press("e", "ctrl+a", "ctrl+k", *"no/such/run.json", "enter")
        await settle(pilot)
        assert "saved nothing: no/such/run.json: the folder no/such does not exist" in (
            screen_text(app).replace("\n", "")
        ) or "does not exist" in screen_text(app)
        assert app.session.descent.iteration == 2
        assert not list(tmp_path.glob("*.json"))
        # The prompt remembers the path that failed, to fix it.
        await pilot.press("e")
        assert app.screen.query_one(Input).value == "no/such/run.json"
        await pilot.press("ctrl+a", "ctrl+k", "enter")  # empty: refused, says why
        assert "expected a file name" in app.screen.error_text()
        await pilot.press("escape")
        await pilot.press("s")
        await settle(pilot)
        assert app.session.descent.iteration == 3


@asyncio_test
async def test_saving_during_a_run_pauses_it_saves_a_consistent_state_and_goes_on(tmp_path):
    app = AmalApp(ENDLESS)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        # Typed before the run starts: Pilot waits for an idle app after each key.
        await pilot.press("e", "ctrl+a", "ctrl+k", *"during")
        await app.action_toggle_run()  # what r does, here behind the prompt
        await running(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "during.json").exists(), what="the save")
        await wait_for(pilot, lambda: app.running, what="the run to go on")
        saved = json.loads((tmp_path / "during.json").read_text())
        assert saved["iterations"] == len(saved["losses"]) > 0
        rows = (tmp_path / "during.losses.csv").read_text().splitlines()
        assert len(rows) == saved["iterations"] + 1
        await wait_for(pilot, lambda: app.session.descent.iteration > saved["iterations"])
        await pilot.press("r")
        await settle(pilot)


@asyncio_test
async def test_a_comparison_is_saved_with_every_run(tmp_path):
    app = AmalApp(NOTEBOOK.replace(compare=(0.01, 0.5), max_iter=40))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("e", "ctrl+a", "ctrl+k", *"both.json", "enter")
        await settle(pilot)
    saved = json.loads((tmp_path / "both.json").read_text())
    assert [run["iterations"] for run in saved["runs"]] == [40, 30]
    header = (tmp_path / "both.losses.csv").read_text().splitlines()[0]
    assert header == "iteration,loss_lr0.01,loss_lr0.5"


@asyncio_test
async def test_quitting_finishes_a_save_in_progress(tmp_path, monkeypatch):
    import engine.record.saving

    started = threading.Event()
    real_save = engine.record.saving.save_run

    def slow_save(*args, **kwargs):
        started.set()
        time.sleep(0.5)
        return real_save(*args, **kwargs)

    monkeypatch.setattr(engine.record.saving, "save_run", slow_save)
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("e", "ctrl+a", "ctrl+k", *"late", "enter")
        await wait_for(pilot, started.is_set, what="the save to start")
        await pilot.press("q")
    assert app.return_code == 0
    assert json.loads((tmp_path / "late.json").read_text())["iterations"] == 1


# -- a student's Functions -----------------------------------------------------------------


@asyncio_test
async def test_functions_that_fail_the_check_show_the_report_and_do_not_run():
    app = AmalApp(Config(tensorboard=False, functions=str(STUDENTS / "linear_b_mean.py")))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), what="the report")
        await pilot.pause()
        text = screen_text(app)
        assert "✗ Linear" in text and "gradient for b" in text and "hint:" in text
        assert "the run does not start" in text
        await pilot.press("r", "s")  # behind the report: nothing
        await pilot.pause()
        assert app.session is None and not app.running
        await pilot.press("escape")  # read: the app quits, as --check exits, with 1
        await pilot.pause()
    assert app.return_code == 1
    path = STUDENTS / "linear_b_mean.py"
    assert app.refused == f"the Functions of {path} fail the check (--force runs them anyway)"


@asyncio_test
async def test_force_runs_functions_that_fail_the_check_with_a_warning():
    config = Config(tensorboard=False, functions=str(STUDENTS / "linear_b_mean.py"), force=True)
    app = AmalApp(config.replace(max_iter=20))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        assert not isinstance(app.screen, ReportScreen)
        assert "fail the check (--force)" in screen_text(app)
        assert app.session.descent.linear.__module__ != "engine.core.functions"
        await pilot.press("r")
        await settle(pilot)
        assert app.session.descent.iteration == 20


@asyncio_test
async def test_a_file_that_does_not_even_load_is_reported_not_a_crash():
    app = AmalApp(Config(tensorboard=False, functions=str(STUDENTS / "syntax_error.py")))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), what="the report")
        await pilot.pause()
        assert "syntax_error.py, line 22: SyntaxError" in screen_text(app)
        await pilot.press("q")  # q closes the report, and the app: nothing can run
        await pilot.pause()
    assert app.return_code == 1 and "cannot be loaded" in app.refused


# -- data ----------------------------------------------------------------------------------


@asyncio_test
async def test_a_data_file_is_loaded_through_the_data_field_and_reused_when_it_can():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await type_into(pilot, "data", str(DIABETES))
        await pilot.press("enter")
        await settle(pilot)
        assert app.config.data == str(DIABETES)
        n, d, m = app.experiment.problem.shape
        assert (n, d, m) == (442, 10, 1)
        text = screen_text(app)
        assert "diabetes.csv: n=442, d=10, m=1" in text
        assert "W (10×1)" in text
        problem = app.experiment.problem
        # A setting that keeps the data keeps the loaded problem (no second read).
        await type_into(pilot, "max-iter", "30")
        await pilot.press("enter")
        await settle(pilot)
        assert app.experiment.problem is problem
        # One that changes them reads them again.
        await type_into(pilot, "seed", "7")
        await pilot.press("enter")
        await settle(pilot)
        assert app.experiment.problem is not problem
        await pilot.press("r")
        await settle(pilot)
        assert app.session.descent.iteration == 30


@asyncio_test
async def test_a_bad_data_file_is_one_line_and_the_run_stays(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n4,oops,6\n7,8,9\n")
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("s", "s")
        await settle(pilot)
        session = app.session
        await type_into(pilot, "data", "bad.csv")
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "cannot use these settings: bad.csv, row 3" in text.replace("\n", "")
        assert app.session is session and session.descent.iteration == 2
        assert app.config == CONFIG
        assert app.query_one("#data", Input).value == "toy"
        await type_into(pilot, "data", "missing.csv")
        await pilot.press("enter")
        await settle(pilot)
        assert "missing.csv: no such file" in screen_text(app)
        await pilot.press("s")
        await settle(pilot)
        assert app.session is session and session.descent.iteration == 3


@asyncio_test
async def test_a_bad_data_file_at_start_can_be_fixed_in_the_field():
    app = AmalApp(Config(tensorboard=False, data="missing.csv"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.engine_error is not None, what="the error")
        assert "cannot start: missing.csv: no such file" in screen_text(app)
        await type_into(pilot, "data", "toy")
        await pilot.press("enter")
        await settle(pilot)
        assert app.engine_error is None and app.session.descent.problem.shape == (50, 13, 3)


@asyncio_test
async def test_a_large_file_shows_how_far_it_is_read():
    gate = threading.Event()

    def factory(config, warn, *, reuse=None, progress=None):
        if config.data == "big.csv":
            progress(0.42)
            gate.wait(10)
            config = config.replace(data="toy")
        return build_session(config, warn, reuse=reuse, progress=progress)

    app = AmalApp(CONFIG, session_factory=factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await type_into(pilot, "data", "big.csv")
        await pilot.press("enter", "s")  # the step waits for the data
        await wait_for(pilot, lambda: "reading big.csv 42%" in screen_text(app), what="progress")
        assert "loading…" in app.query_one(StatusLine).info.state
        gate.set()
        await settle(pilot)
        assert "reading" not in screen_text(app)
        assert app.session.descent.iteration == 1


# -- keys, redraws, crashes ----------------------------------------------------------------


@asyncio_test
async def test_ctrl_c_quits_during_a_run():
    app = AmalApp(ENDLESS)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await running(pilot)
        await pilot.press("ctrl+c")
    assert app.return_code == 0 and not app.running


@pytest.mark.parametrize("where", ["a prompt", "a field"])
@asyncio_test
async def test_in_a_prompt_or_a_field_q_is_text_and_ctrl_c_still_quits(where):
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c" if where == "a prompt" else "tab")
        await pilot.press("backspace", "q")
        await pilot.pause()
        assert app.focused.value == "q" and app.return_code is None
        assert "Quit" not in screen_text(app).splitlines()[-1]  # the footer
        await pilot.press("ctrl+c")
    assert app.return_code == 0


@asyncio_test
async def test_fps_caps_every_panels_redraws():
    app = AmalApp(ENDLESS, fps=2)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        draws = count_panel_draws(app)
        started = time.monotonic()
        await pilot.press("r")
        await pilot.pause(2.0)
        counts, elapsed = dict(draws), time.monotonic() - started
        await pilot.press("r")
        await settle(pilot)
    # At most 2 per second, +1 for the redraw the r key itself makes at once.
    for name, count in counts.items():
        assert 2 <= count <= 2 * elapsed + 1, (name, count, elapsed)
    assert AmalApp(CONFIG)._periods() == PERIODS_IDLE  # without --fps: the usual rates
    with pytest.raises(ValueError):
        AmalApp(CONFIG, fps=0)


class Crashing(AmalApp):
    """An app with a bug: a handler raises."""

    def on_mount(self) -> None:
        super().on_mount()
        self.set_timer(0.2, self.boom)

    def boom(self) -> None:
        raise ZeroDivisionError("a bug in a handler")


def test_a_crash_writes_a_report_and_says_where_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AMAL_TUI_CRASH_DIR", str(tmp_path))
    status = run_app(CONFIG, app=Crashing(CONFIG), headless=True)
    assert status == 1
    (report,) = tmp_path.glob("amal-tui-crash-*.txt")
    assert "ZeroDivisionError: a bug in a handler" in report.read_text()
    assert "in boom" in report.read_text()
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        f"amal-tui: unexpected error: ZeroDivisionError: a bug in a handler; "
        f"the traceback is in {report}"
    )


def test_run_app_returns_0_after_q(monkeypatch):
    async def quit_at_once(pilot):
        await settle(pilot)
        await pilot.press("s", "q")

    app = AmalApp(CONFIG)
    monkeypatch.setattr(
        app, "run", lambda **options: AmalApp.run(app, auto_pilot=quit_at_once, **options)
    )
    assert run_app(CONFIG, app=app, headless=True) == 0
    assert app.session.descent.iteration == 1


def test_the_help_names_the_new_keys():
    from tui.help_screen import KEYS, PANELS

    keys = {key for key, _ in KEYS}
    assert {"c", "e"} <= keys
    assert "ε_max" in PANELS and "optimum" in PANELS and "‖θ−θ*‖" in PANELS


@asyncio_test
async def test_holding_plus_past_lr_max_does_not_stack_warnings():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        for _ in range(4):  # 0.1, 1, 10, 100: the last two past ε_max
            await pilot.press("plus")
            await settle(pilot)
        text = screen_text(app).replace("\n", "")
        assert text.count("will diverge") == 1 and "learning rate 100 >" in text


@asyncio_test
async def test_converging_far_above_the_optimum_is_explained():
    app = AmalApp(CONFIG.replace(data=str(DIABETES)))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        text = screen_text(app).replace("\n", "")
        assert "converged at" in text and "still 1.45× the optimum" in text


# -- speed ---------------------------------------------------------------------------------


@asyncio_test
async def test_a_slow_speed_lets_you_watch_and_pause_the_descent():
    app = AmalApp(CONFIG, speed=10)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "speed 10/s [ ]" in screen_text(app)
        await pilot.press("r")
        await pilot.pause(0.6)
        await pilot.press("space")
        await settle(pilot)
        # About 7 iterations at 10 a second; at full speed it would have converged at 1475.
        iteration = app.session.descent.iteration
        assert 1 <= iteration < 100 and "paused" in screen_text(app)
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert app.speed == 100 and "speed 100/s" in screen_text(app)
        await pilot.press(*["right_square_bracket"] * 5)
        assert app.speed is None and "speed max" in screen_text(app)
        await pilot.press("r")
        await settle(pilot)
        assert app.session.descent.iteration == 1475
        await pilot.press(*["left_square_bracket"] * 9)
        assert app.speed == 1


@asyncio_test
async def test_a_paused_comparison_says_paused_and_its_pace_is_per_run():
    app = AmalApp(NOTEBOOK.replace(compare="0.1,0.5"), speed=10)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause(1.2)
        rate = app.steps_per_second()
        assert rate is not None and rate < 15  # 10/s for each run, not 20 for both
        await pilot.press("space")
        await settle(pilot)
        rows = table_rows(app)
        assert [row[2] for row in rows] == ["paused", "paused"]
