"""The app, driven as a user drives it: keys and fields in, engine state and screen text out."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Input
from tui_support import (
    CONFIG,
    ENDLESS,
    GatedFactory,
    asyncio_test,
    running,
    screen_text,
    settle,
    wait_for,
)

from engine.config import Config
from tui.app import CHUNK_SECONDS, MIN_HEIGHT, MIN_WIDTH, AmalApp, build_session
from tui.help_screen import HelpScreen
from tui.loss_chart import LossChart

STUDENTS = Path(__file__).parents[1] / "students"

# -- the first screen comes before torch ---------------------------------------------------


def test_importing_the_app_does_not_import_torch():
    code = (
        "import sys, tui.app, tui.hyperparameters, tui.loss_chart, tui.parameters, "
        "tui.status_line, tui.help_screen, tui.messages\n"
        "heavy = [m for m in ('torch', 'engine.core.descent', 'engine.session', 'engine.core.functions')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@asyncio_test
async def test_first_screen_says_loading_until_the_engine_is_ready():
    factory = GatedFactory()
    app = AmalApp(CONFIG, session_factory=factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "loading…" in text
        assert "Hyperparameters" in text and "Loss" in text and "Parameters" in text
        assert app.session is None
        factory.release()
        await settle(pilot)
        text = screen_text(app)
        assert "loading…" not in text
        assert "iteration 0" in text and "ready" in text


@asyncio_test
async def test_keys_pressed_while_loading_wait_for_the_engine():
    factory = GatedFactory()
    app = AmalApp(CONFIG, session_factory=factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s", "s", "right", "l", "question_mark")
        assert isinstance(app.screen, HelpScreen)  # help does not need the engine
        await pilot.press("escape")
        assert app.session is None
        factory.release()
        await settle(pilot)
        assert app.session.descent.iteration == 3
        assert app.query_one(LossChart).log_scale
        assert "iteration 3" in screen_text(app)


@asyncio_test
async def test_an_engine_that_fails_to_load_is_reported_not_a_crash():
    factory = GatedFactory(fail=RuntimeError("no torch here"))
    app = AmalApp(CONFIG, session_factory=factory)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        factory.release()
        await wait_for(pilot, lambda: app.engine_error is not None)
        await pilot.press("s", "r", "x", "plus")
        await pilot.pause()
        assert "cannot start: RuntimeError: no torch here" in screen_text(app)
        await pilot.press("q")
    assert app.return_code == 0


# -- the keys ------------------------------------------------------------------------------


@asyncio_test
async def test_s_and_right_step_one_iteration():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert app.session.descent.iteration == 1
        text = screen_text(app)
        assert "iteration 1" in text and "loss 13.6831" in text and "paused" in text
        # The parameters after one step, with the gradient norms of that step.
        snapshot = app.session.descent.snapshot()
        assert f"‖∇W‖ {snapshot.grad_W_norm:.4g}" in text
        await pilot.press("right")
        await settle(pilot)
        assert app.session.descent.iteration == 2
        assert "iteration 2" in screen_text(app)


@asyncio_test
async def test_r_runs_the_default_problem_to_convergence_at_1475():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        descent = app.session.descent
        assert descent.iteration == 1475
        assert descent.status.value == "converged"
        text = screen_text(app)
        assert "iteration 1475" in text
        assert "converged" in text
        assert "converged at 1475" in text  # the notification
        # The chart shows the whole run: its x axis ends at the last iteration.
        assert "1475" in "".join(text.splitlines()[8:27])


@asyncio_test
async def test_space_pauses_after_the_chunk_in_progress_and_resumes():
    # Not timed (a loaded machine makes any time limit flaky): the pause is as quick as a
    # chunk of CHUNK_SECONDS because, once space is pressed, no new chunk starts.
    chunks: list[tuple[float, bool]] = []  # (seconds asked, whether the pause was asked)

    def factory(config, warn, **options):
        experiment = build_session(config, warn, **options)
        run_for = experiment.run_for

        def counted(seconds):
            chunks.append((seconds, app.controller.stop.is_set()))
            return run_for(seconds)

        experiment.run_for = counted
        return experiment

    app = AmalApp(ENDLESS, session_factory=factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("space")
        await running(pilot)
        assert "running" in screen_text(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: app.settled)
        # At most the one the worker had decided on when space was pressed.
        assert sum(paused for _, paused in chunks) <= 1
        assert max(seconds for seconds, _ in chunks) <= CHUNK_SECONDS
        paused_at = app.session.descent.iteration
        await pilot.pause(0.15)
        assert app.session.descent.iteration == paused_at
        text = screen_text(app)
        assert "paused" in text and f"iteration {paused_at}" in text
        await pilot.press("r")
        await running(pilot)
        await wait_for(pilot, lambda: app.session.descent.iteration > paused_at)
        await pilot.press("r")
        await settle(pilot)
        assert app.session.descent.iteration > paused_at


@asyncio_test
async def test_steps_per_second_shown_while_running_only():
    app = AmalApp(ENDLESS)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await running(pilot)
        await wait_for(pilot, lambda: "steps/s" in screen_text(app), what="steps/s")
        await pilot.press("r")
        await settle(pilot)
        assert "steps/s" not in screen_text(app)


@asyncio_test
async def test_x_resets_to_iteration_0_with_the_same_initial_parameters():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        first = app.session.descent.snapshot()
        await pilot.press("s", "s", "s")
        await settle(pilot)
        assert not np.array_equal(app.session.descent.snapshot().W, first.W)
        await pilot.press("x")
        await settle(pilot)
        again = app.session.descent.snapshot()
        assert again.iteration == 0
        np.testing.assert_array_equal(again.W, first.W)
        np.testing.assert_array_equal(again.b, first.b)
        text = screen_text(app)
        assert "iteration 0" in text and "ready" in text
        await pilot.press("s")
        await settle(pilot)
        assert "loss 13.6831" in screen_text(app)


@asyncio_test
async def test_x_during_a_run_stops_it_and_resets():
    app = AmalApp(ENDLESS)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await running(pilot)
        await pilot.press("x")
        await settle(pilot)
        await pilot.pause(0.1)  # a late message from the stopped run must not show
        assert app.session.descent.iteration == 0
        assert "iteration 0" in screen_text(app)


@asyncio_test
async def test_s_during_a_run_pauses_then_steps_once():
    app = AmalApp(ENDLESS)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await running(pilot)
        await pilot.press("s")
        await settle(pilot)
        stepped = app.session.descent.iteration
        await pilot.pause(0.1)
        assert app.session.descent.iteration == stepped
        assert f"iteration {stepped}" in screen_text(app)


@asyncio_test
async def test_l_toggles_a_log_axis():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        chart = app.query_one(LossChart)
        assert not chart.log_scale
        await pilot.press("l")
        await pilot.pause()
        assert chart.log_scale
        assert "log scale" in screen_text(app)
        await pilot.press("l")
        await pilot.pause()
        assert not chart.log_scale
        assert "linear" in screen_text(app)


@asyncio_test
async def test_plus_and_minus_scale_the_learning_rate_and_reset():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s", "s")
        await pilot.press("plus")
        await settle(pilot)
        assert app.config.learning_rate == 0.1
        assert app.session.config.learning_rate == 0.1
        assert app.session.descent.iteration == 0
        assert app.query_one("#lr", Input).value == "0.1"
        await pilot.press("minus", "minus")
        await settle(pilot)
        assert app.session.config.learning_rate == 0.001
        assert app.query_one("#lr", Input).value == "0.001"
        assert "learning rate0.001" in screen_text(app)


@asyncio_test
async def test_question_mark_opens_help_and_escape_question_mark_or_q_close_it():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for close in ("escape", "question_mark", "q"):
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            # The help is longer than 30 rows: read it as a user scrolls through it.
            box = app.screen.query_one("#help")
            text = ""
            for y in range(0, int(box.max_scroll_y) + 20, 20):
                box.scroll_to(y=y, animate=False)
                await pilot.pause()
                text += screen_text(app)
            box.scroll_home(animate=False)
            for key in ("run / pause", "reset to iteration 0", "learning rate × 10", "quit"):
                assert key in text
            await pilot.press(close)
            assert not isinstance(app.screen, HelpScreen)
        # q closed the help, not the app; s still steps.
        await pilot.press("s")
        await settle(pilot)
        assert app.session.descent.iteration == 1


@asyncio_test
async def test_q_quits_and_flushes_the_tensorboard_log(tmp_path, monkeypatch):
    # A short relative folder: a long absolute one is cut with … on screen.
    monkeypatch.chdir(tmp_path)
    app = AmalApp(Config(logdir="tb-q"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s", "s", "s")
        await settle(pilot)
        assert "TensorBoard: tb-q" in screen_text(app)
        await pilot.press("q")
    assert app.return_code == 0
    (event_file,) = (tmp_path / "tb-q").glob("*/events.out.tfevents.*")
    # The header record and 3 losses, each a TFRecord: all written when the app closed.
    assert event_file.stat().st_size > 3 * 40


@asyncio_test
async def test_q_during_a_run_stops_the_worker():
    app = AmalApp(ENDLESS)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await running(pilot)
        await pilot.press("q")
    assert app.return_code == 0
    assert not app.running
    iteration = app.session.descent.iteration
    time.sleep(0.1)
    assert app.session.descent.iteration == iteration


@asyncio_test
async def test_tab_moves_into_the_fields_and_keys_there_type():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.focused is None
        await pilot.press("tab")
        assert app.focused.id == "lr"
        await pilot.press("tab")
        assert app.focused.id == "seed"
        await pilot.press("shift+tab", "s", "r", "x", "q", "space")
        await pilot.pause()
        assert app.session.descent.iteration == 0 and not app.running
        assert app.focused.id == "lr"
        assert app.query_one("#lr", Input).value == "srxq "


# -- the fields ----------------------------------------------------------------------------

FIELDS = [
    # widget id, a valid text, the setting it gives, an invalid text, the reason shown
    ("lr", "0.5", ("learning_rate", 0.5), "0", "must be a positive finite number"),
    ("lr", "1e-3", ("learning_rate", 0.001), "abc", "expected a number, got 'abc'"),
    ("seed", "7", ("seed", 7), "-1", "must be between 0 and"),
    ("init-seed", "42", ("init_seed", 42), "x", "expected an integer, got 'x'"),
    ("init-seed", "", ("init_seed", None), "1.5", "expected an integer, got '1.5'"),
    ("threshold", "1.5", ("threshold", 1.5), "nan", "must be a number, got NaN"),
    ("max-iter", "100", ("max_iter", 100), "0", "must be a positive integer, got 0"),
]


async def _type_into(pilot, field_id: str, text: str) -> None:
    app = pilot.app
    await pilot.press("tab")
    while app.focused.id != field_id:
        await pilot.press("tab")
    await pilot.press("ctrl+a", "ctrl+k", *text)  # select_on_focus selects all anyway
    await pilot.pause()


@pytest.mark.parametrize("field_id, valid, setting, invalid, reason", FIELDS)
@asyncio_test
async def test_a_valid_field_applied_with_enter_resets_the_run_with_it(
    field_id, valid, setting, invalid, reason
):
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s", "s")
        await _type_into(pilot, field_id, valid)
        assert app.query_one("#hyperparameters").error_text(field_id) is None
        await pilot.press("enter")
        await settle(pilot)
        name, value = setting
        assert getattr(app.config, name) == value
        assert getattr(app.session.config, name) == value
        assert app.session.descent.iteration == 0
        assert app.focused is None  # back to the run's keys
        assert "iteration 0" in screen_text(app)


@pytest.mark.parametrize("field_id, valid, setting, invalid, reason", FIELDS)
@asyncio_test
async def test_an_invalid_field_shows_its_reason_and_changes_nothing(
    field_id, valid, setting, invalid, reason
):
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s", "s")
        session = app.session
        await _type_into(pilot, field_id, invalid)
        panel = app.query_one("#hyperparameters")
        assert reason in panel.error_text(field_id)
        assert reason in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert app.config == CONFIG
        assert app.session is session and session.descent.iteration == 2
        assert app.focused.id == field_id  # still editing
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is None
        assert panel.error_text(field_id) is None
        assert reason not in screen_text(app)


@asyncio_test
async def test_escape_leaves_a_field_without_applying_it():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await _type_into(pilot, "lr", "0.5")
        await pilot.press("escape")
        await settle(pilot)
        assert app.focused is None
        assert app.config.learning_rate == 0.01
        assert app.query_one("#lr", Input).value == "0.01"
        assert app.session.descent.iteration == 1
        await pilot.press("s")  # the run's keys work again
        await settle(pilot)
        assert app.session.descent.iteration == 2


@asyncio_test
async def test_enter_during_a_run_stops_it_and_starts_over_with_the_new_value():
    app = AmalApp(ENDLESS)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await _type_into(pilot, "lr", "0.02")
        # Pilot waits for the process to idle after each key: start the run after typing.
        await app.run_action("toggle_run")
        await running(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.pause(0.1)
        assert app.session.config.learning_rate == 0.02
        assert app.session.descent.iteration == 0
        assert "iteration 0" in screen_text(app)


@asyncio_test
async def test_a_field_applied_while_loading_is_used_once_loaded():
    factory = GatedFactory()
    app = AmalApp(CONFIG, session_factory=factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await _type_into(pilot, "max-iter", "50")
        await pilot.press("enter")
        await pilot.press("r")
        factory.release()
        await settle(pilot)
        assert app.session.config.max_iter == 50
        assert app.session.descent.iteration == 50
        assert "capped" in screen_text(app)


# -- how runs end --------------------------------------------------------------------------


@asyncio_test
async def test_a_capped_run_says_so():
    app = AmalApp(Config(tensorboard=False, max_iter=100))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        text = screen_text(app)
        assert "iteration 100" in text and "capped at 100" in text
        await pilot.press("r")  # a finished run does not run again; x resets it
        await settle(pilot)
        assert app.session.descent.iteration == 100
        assert "x resets it" in screen_text(app)


@asyncio_test
async def test_a_diverged_run_still_draws_its_finite_losses():
    app = AmalApp(Config(tensorboard=False, learning_rate=10))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        descent = app.session.descent
        assert descent.status.value == "diverged"
        text = screen_text(app)
        assert f"diverged at {descent.iteration}" in text
        assert "┤" in text  # the chart's axis: it drew
        await pilot.press("l")
        await pilot.pause()
        assert "log scale" in screen_text(app)


# -- sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (MIN_WIDTH, MIN_HEIGHT)])
@asyncio_test
async def test_every_panel_is_visible(size):
    app = AmalApp(CONFIG)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen.region
        for selector in ("#hyperparameters", "#chart", "#parameters", "#status", "Footer"):
            region = app.query_one(selector).region
            assert region.area > 0 and screen.contains_region(region), selector
        for field_id in ("lr", "seed", "init-seed", "threshold", "max-iter"):
            assert app.query_one(f"#{field_id}").region.area > 0
        text = screen_text(app)
        if size[0] < 100 or size[1] < 30:  # the compact layout: W transposed, a bar an entry
            assert "Wᵀ (3×13)" in text and re.search(r"│ ?2 [▁-█ ]{5}", text)  # all of W, b
            assert "|W|" in text and "|b|" in text  # and their scales
        else:
            assert "b (1×3)" in text and re.search(r"12 +[-+]\d", text)  # all of W and b
        assert "terminal too small" not in text


@asyncio_test
async def test_a_terminal_too_small_says_so_instead_of_a_broken_layout():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(40, 12)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert f"terminal too small (need at least {MIN_WIDTH}×{MIN_HEIGHT}" in text
        assert "Parameters" not in text
        await pilot.press("s")  # keys still work
        await settle(pilot)
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        text = screen_text(app)
        assert "terminal too small" not in text and "iteration 1" in text


# -- the CLI opens the app -----------------------------------------------------------------


def test_the_cli_opens_the_app_with_every_option(monkeypatch):
    from tui import cli

    opened = []
    monkeypatch.setattr(AmalApp, "run", lambda self, **options: opened.append(self.config))
    monkeypatch.setattr(cli, "not_a_terminal", lambda: None)
    argv = ["--lr", "0.5", "--seed", "3", "--init-seed", "4", "--threshold", "0.1"]
    argv += ["--max-iter", "99", "--dtype", "float64", "--logdir", "x", "--optimizer", "adam"]
    argv += ["--beta1", "0.8", "--beta2", "0.99", "--batch-size", "7"]
    assert cli.main(argv) == 0
    assert opened == [
        Config(
            learning_rate=0.5,
            seed=3,
            init_seed=4,
            threshold=0.1,
            max_iter=99,
            dtype="float64",
            logdir="x",
            optimizer="adam",
            beta1=0.8,
            beta2=0.99,
            batch_size=7,
        )
    ]


@asyncio_test
async def test_the_cli_config_reaches_the_engine():
    config = Config(tensorboard=False, learning_rate=0.5, init_seed=42, max_iter=7, dtype="float64")
    app = AmalApp(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.session.config == config
        await pilot.press("r")
        await settle(pilot)
        assert app.session.descent.iteration <= 7
        assert math.isfinite(app.session.descent.losses[0])


# -- failures are shown, not crashes -------------------------------------------------------


@asyncio_test
async def test_a_tensorboard_failure_is_a_warning_and_the_run_goes_on(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    app = AmalApp(Config(logdir=str(blocked)))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await wait_for(pilot, lambda: "cannot write TensorBoard logs" in screen_text(app))
        app.clear_notifications()  # the warning starts the status line's row: then the log's state
        await pilot.pause()
        assert "TensorBoard: off (logging failed)" in screen_text(app)
        await pilot.press("r")
        await settle(pilot)
        assert app.session.descent.iteration == 1475


@asyncio_test
async def test_settings_the_engine_refuses_keep_the_current_run():
    calls = []

    def factory(config, warn, **options):
        calls.append(config)
        if len(calls) > 1:
            raise RuntimeError("out of memory")
        from tui.app import build_session

        return build_session(config, warn, **options)

    app = AmalApp(CONFIG, session_factory=factory)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("s", "plus")
        await settle(pilot)
        assert app.config == CONFIG and app.session.descent.iteration == 1
        assert app.query_one("#lr", Input).value == "0.01"
        text = screen_text(app)
        # Running out of memory says so in one line (engine.data.memory.out_of_memory's words).
        assert "cannot use these settings: out of" in text and "memory" in text


# -- the engine's other options reach the app ----------------------------------------------


@asyncio_test
async def test_functions_that_fail_the_check_do_not_run():
    app = AmalApp(Config(tensorboard=False, functions=str(STUDENTS / "linear_b_mean.py")))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        # The check starts a Python and torch of its own: seconds on a loaded machine.
        await wait_for(pilot, lambda: app.engine_error is not None, timeout=60)
        await pilot.press("r")
        await pilot.pause()
        assert app.session is None
        assert "fail the check" in app.engine_error
        assert "the run does not start. Closing this quits." in screen_text(app)


@asyncio_test
async def test_a_students_functions_run_and_their_errors_are_shown():
    good = AmalApp(Config(tensorboard=False, functions=str(STUDENTS / "correct.py")))
    async with good.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert good.session.descent.mse.__module__ != "engine.core.functions"
        await pilot.press("r")
        await settle(pilot)
        assert good.session.descent.iteration == 1475
    config = Config(
        tensorboard=False, functions=str(STUDENTS / "backward_exception.py"), force=True
    )
    bad = AmalApp(config)
    async with bad.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        text = screen_text(bad)
        assert "your Functions raised: backward_exception.py" in text


@asyncio_test
async def test_a_test_loss_is_drawn_and_shown():
    config = Config(
        tensorboard=False, data="synthetic", test_fraction=0.25, max_iter=50, threshold=-1
    )
    app = AmalApp(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        test_losses = app.session.descent.test_losses
        assert test_losses is not None and len(test_losses) == 50
        text = screen_text(app)
        assert f"test {test_losses[-1]:.6g}" in text
        assert "• test" in text


@pytest.mark.parametrize(
    "size, first, last", [((100, 30), "W (40×6)", "b (1×6)"), ((80, 24), "Wᵀ (6×40)", "≥100×30")]
)
@asyncio_test
async def test_a_large_w_scrolls_instead_of_breaking_the_layout(size, first, last):
    # In full from 100×30; compact (a row per output, a bar per input) at 80×24.
    app = AmalApp(Config(tensorboard=False, data="synthetic", d=40, m=6))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        panel = app.query_one("#parameters")
        assert panel.virtual_size.height > panel.size.height
        assert panel.virtual_size.width > panel.size.width
        assert first in screen_text(app)
        panel.scroll_end(animate=False)
        await pilot.pause()
        assert last in screen_text(app)


@asyncio_test
async def test_a_redraw_after_the_widgets_are_gone_does_nothing():
    """A load that fails as the app leaves redraws once more: its widgets are gone by then."""
    app = AmalApp(Config(tensorboard=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
    app.redraws.changed()
    app._redraw(force=True)  # raised NoMatches('#status')
