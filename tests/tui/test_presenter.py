"""What the app shows (tui/presenter.py), from recorded states: pure functions, no Textual App.

Every word the status line can give the run's state, the status line's numbers for a run
and a comparison, the notes, prompts and error lines.
"""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
from tui_support import RECORDED, views_from_json

from engine.config import Config
from tui import presenter
from tui.controller import STATES
from tui.parameters import TO_OPTIMUM, TO_TRUTH
from tui.status_line import LOADING, StatusInfo

CONFIG = Config(tensorboard=False)
FIRST = views_from_json(json.loads((RECORDED / "first.json").read_text()))
CONVERGED = views_from_json(json.loads((RECORDED / "converged.json").read_text()))
COMPARED = views_from_json(json.loads((RECORDED / "compared.json").read_text()))
Status = type(FIRST[0].snapshot.status)


def with_snapshot(view, **fields):
    return dataclasses.replace(view, snapshot=dataclasses.replace(view.snapshot, **fields))


# -- the state's word ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "word"),
    [
        ("loading", LOADING),
        ("saving", "saving…"),
        ("running", "running"),
        ("ready", "ready"),
        ("paused", "paused"),
        ("converged", "converged"),
        ("capped", "capped"),
        ("diverged", "diverged"),
        ("finished", "finished"),
    ],
)
def test_each_state_has_its_word(state, word):
    assert presenter.state_word(state) == word
    assert presenter.status_info(state, FIRST).state == word


def test_a_failed_load_says_why_it_cannot_start():
    assert presenter.state_word("failed", "OSError: gone") == "cannot start: OSError: gone"
    info = presenter.status_info("failed", (), engine_error="OSError: gone", tensorboard="TB")
    assert info == StatusInfo(
        state="cannot start: OSError: gone", mark="⊘", style="bold red", tensorboard="TB"
    )


def test_every_state_of_the_controller_has_a_word():
    words = {presenter.state_word(state, "x") for state in STATES}
    assert len(words) == len(STATES)  # no two states read the same


# -- the status line's numbers ---------------------------------------------------------------


def test_before_any_run_the_status_line_says_only_what_loads():
    info = presenter.status_info("loading", (), load_progress="reading a.csv 40%")
    assert info == StatusInfo(state=LOADING, mark="◌", data="reading a.csv 40%")
    assert info.iteration is None


def test_a_single_run_shows_its_iteration_loss_and_previous_loss():
    (view,) = CONVERGED
    info = presenter.status_info(
        "converged", CONVERGED, speed=10, steps_per_second=9.5, tensorboard="TB"
    )
    assert info.state == "converged" and info.iteration == 1475
    assert info.loss == view.snapshot.loss and info.previous_loss == view.snapshot.previous_loss
    assert info.speed == "10/s" and info.steps_per_second == 9.5 and info.tensorboard == "TB"
    assert info.best_rate is None and info.test_loss is None
    assert presenter.status_info("ready", FIRST).speed == "max"


def test_the_test_loss_is_the_one_of_the_current_iteration():
    view = dataclasses.replace(
        with_snapshot(FIRST[0], iteration=2, loss=1.0),
        test_losses=np.array([3.0, 2.0, 1.5], dtype=np.float32),
    )
    assert presenter.status_info("paused", (view,)).test_loss == 2.0
    assert presenter.status_info("ready", FIRST).test_loss is None


def test_a_comparison_shows_the_furthest_iteration_and_the_best_rate():
    views = (COMPARED[2], COMPARED[0], COMPARED[1])  # the first one stopped at 30
    info = presenter.status_info("finished", views, comparing=True)
    losses = {view.learning_rate: view.snapshot.loss for view in views}
    best = min(losses, key=losses.get)
    assert info.iteration == 1001 and info.best_rate == best and info.loss == losses[best]
    assert info.previous_loss is None


def test_a_diverged_run_is_never_the_best_and_none_may_be():
    diverged = with_snapshot(COMPARED[2], loss=float("inf"), status=Status("diverged"))
    views = (COMPARED[0], diverged)
    assert presenter.best_run(views) is COMPARED[0]
    nothing = with_snapshot(COMPARED[0], loss=None)
    info = presenter.status_info("paused", (nothing, diverged), comparing=True)
    assert info.best_rate is None and info.loss is None


# -- TensorBoard -----------------------------------------------------------------------------


def test_the_tensorboard_text_says_where_the_logs_go():
    on = Config(logdir="runs")
    assert presenter.tensorboard_text(CONFIG, FIRST) == "TensorBoard: off (--no-tensorboard)"
    assert presenter.tensorboard_text(on, (), loaded=False) == "TensorBoard: logs under runs/"
    assert presenter.tensorboard_text(on, FIRST) == "TensorBoard: off (logging failed)"
    logged = (dataclasses.replace(FIRST[0], log_folder="runs/lr0.01"),)
    assert presenter.tensorboard_text(on, logged) == (
        "TensorBoard: runs/lr0.01  (tensorboard --logdir runs)"
    )
    several = tuple(
        dataclasses.replace(view, log_folder=f"runs/{i}") for i, view in enumerate(COMPARED)
    )
    assert presenter.tensorboard_text(on, several, comparing=True) == (
        "TensorBoard: 3 runs under runs/  (tensorboard --logdir runs)"
    )


# -- notes -----------------------------------------------------------------------------------


def test_a_run_that_converged_far_above_the_optimum_says_so():
    snapshot = CONVERGED[0].snapshot
    near = SimpleNamespace(optimal_loss=0.6971)
    far = SimpleNamespace(optimal_loss=0.1)
    assert presenter.end_note(snapshot, near, 0.7) == ""
    assert presenter.end_note(snapshot, None, 0.7) == ""
    note = presenter.end_note(snapshot, far, 0.7)
    assert note.startswith(": converged because the loss reached the threshold 0.7")
    capped = with_snapshot(CONVERGED[0], status=Status("capped")).snapshot
    assert presenter.end_note(capped, far, 0.7) == ""


def test_the_end_of_a_run_is_said_with_its_severity():
    near = SimpleNamespace(optimal_loss=0.6971)
    assert presenter.end_notice(CONVERGED[0], comparing=False, theory=near, threshold=0.7) == (
        "converged at 1475",
        "information",
    )
    assert presenter.end_notice(COMPARED[0], comparing=True, theory=None, threshold=0.7) == (
        "ε 0.0001: capped at 1001",
        "warning",
    )


def test_a_finished_run_says_x_resets_it():
    assert presenter.finished_note(False, "diverged") == "the run has diverged: x resets it"
    assert presenter.finished_note(True, "capped") == "every run has stopped: x resets them"


# -- the panels ------------------------------------------------------------------------------


def test_distances_to_the_optimum_and_to_the_truth():
    snapshot = CONVERGED[0].snapshot
    theory = SimpleNamespace(distance=lambda W, b: 0.25)
    toy = SimpleNamespace()
    assert presenter.distances(snapshot, theory, toy) == ((TO_OPTIMUM, 0.25),)
    truth = SimpleNamespace(W_true=snapshot.W + 3.0, b_true=snapshot.b + 4.0)
    ((name, value),) = presenter.distances(snapshot, None, truth)
    expected = np.sqrt(9.0 * snapshot.W.size + 16.0 * snapshot.b.size)
    assert name == TO_TRUTH and value == pytest.approx(expected)


def test_the_charts_curves_and_data():
    curves = presenter.comparison_curves(COMPARED)
    assert [name for name, _ in curves] == ["0.0001", "0.01", "0.5"]
    assert curves[2][1] is COMPARED[2].losses
    problem = SimpleNamespace(describe=lambda: "toy: n=50, d=13, m=3")
    assert presenter.data_description(problem) == "toy: n=50, d=13, m=3"


def test_loading_a_file_says_its_name_and_how_far():
    assert presenter.loading_text(CONFIG) is None
    assert presenter.loading_text(CONFIG.replace(data="/d/x.csv")) == "loading /d/x.csv…"
    assert presenter.load_progress_text("/d/x.csv", 0.25) == "reading x.csv 25%"
    assert presenter.load_progress_text("/d/x.csv", 1.0) == "loaded x.csv"
    assert presenter.load_progress_text("/d/a\x1b[2J.csv", 1.0) == "loaded 'a\\x1b[2J.csv'"


def test_the_terminal_too_small_says_what_it_needs():
    assert presenter.too_small_text(60, 20, 72, 22) == (
        "terminal too small (need at least 72×22, this one is 60×20)\nq quits"
    )


# -- errors ----------------------------------------------------------------------------------


def test_an_error_is_one_escaped_line():
    assert presenter.one_line(ValueError("first\nsecond")) == "ValueError: first"
    assert presenter.one_line(ValueError("a \x1b[2J b")) == "ValueError: a \\x1b[2J b"
    assert presenter.one_line(ValueError("")) == "ValueError: "
    assert presenter.one_line(MemoryError()).startswith("out of memory")


def test_a_data_error_or_a_refusal_is_said_as_it_is():
    from engine.data.dataset import DataError
    from engine.student.refusal import FunctionsRefused

    error = DataError("x.csv", "not a number", row=3)
    assert presenter.one_line(error) == "x.csv, row 3: not a number"
    assert presenter.one_line(FunctionsRefused("fails the check", "report")) == "fails the check"


def test_a_run_error_names_whose_code_raised():
    assert presenter.run_error_text(RuntimeError("boom"), None) == (
        "the run stopped: RuntimeError: boom"
    )
    text = presenter.run_error_text(ValueError("shapes"), "/students/mine.py")
    assert text.startswith("your Functions raised: ") and "ValueError: shapes" in text
    assert presenter.run_error_text(MemoryError(), "/students/mine.py").startswith(
        "the run stopped: out of memory"
    )


def test_a_failed_save_says_what_was_kept():
    from engine.record.saving import SaveError

    assert presenter.save_error_text(OSError("disk full")) == "not saved: OSError: disk full"
    assert presenter.save_error_text(SaveError("saved nothing: x")) == "saved nothing: x"
    assert presenter.save_error_text(None) == "not saved: Exception: "
    assert presenter.saved_text("a.json", "a.losses.csv") == "saved in a.json and a.losses.csv"


# -- prompts and reports ---------------------------------------------------------------------


def test_the_compare_prompt_proposes_the_rates():
    title, text, value, keys = presenter.compare_prompt((0.0001, 0.01, 0.5))
    assert title == "Compare learning rates" and value == "0.0001,0.01,0.5"
    assert "at most 8" in text and "esc: cancel" in keys


def test_the_save_prompt_says_run_or_comparison_and_where():
    title, text, value, keys = presenter.save_prompt("r.json", False, "/home/me")
    assert title == "Save the run" and value == "r.json" and "starts in /home/me." in text
    assert presenter.save_prompt("r.json", True, "/")[0] == "Save the comparison"
    assert keys == "enter: save · esc: cancel"


def test_the_report_of_refused_functions_names_the_file():
    config = CONFIG.replace(functions="/students/mine[bold].py")

    class Refused(Exception):
        report = "✗ Linear"

    title, text, note = presenter.refused_report(config, Refused("fails"))
    assert title == "the check of mine[bold].py" and text == "✗ Linear"
    assert note == "fails: the run does not start. Closing this quits."
    assert presenter.refused_report(None, Refused("x"))[0] == "the check of "
