"""A student's Functions in the app (issue 15, point 3): the status line names their file and
the check's verdict; o re-checks the file (in a child process) and, if it passes, starts the
run over with it; the app offers to when the file changes on disk; a broken or deleted file
never stops the run on screen nor the app."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tui_support import ENDLESS, asyncio_test, running, screen_text, settle, wait_for

from engine.config import Config
from tui.app import AmalApp
from tui.presenter import check_verdict
from tui.status_line import FUNCTIONS_CELLS, VERDICT_CELLS, StatusInfo, StatusLine, status_text

STUDENTS = Path(__file__).parents[1] / "students"
# A check in a child process imports torch there: seconds on a loaded machine.
CHECK_SECONDS = 90.0


class NotedApp(AmalApp):
    """The app, recording what it notifies (wherever the notifications are shown)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Not ``notes``: the app keeps its own (the status line's recent messages).
        self.heard: list[str] = []

    def notify(self, message: str, **kwargs: Any) -> None:
        self.heard.append(message)
        super().notify(message, **kwargs)


def student_file(tmp_path: Path, sample: str = "correct.py") -> Path:
    path = tmp_path / "alice-tp1.py"
    shutil.copyfile(STUDENTS / sample, path)
    return path


def edit(path: Path, sample: str) -> None:
    """The student saves another version (the samples differ in size: a new stamp)."""
    path.write_text((STUDENTS / sample).read_text())


def status(app: AmalApp) -> str:
    """Both rows of the status line as they are composed (before any cut to the width)."""
    return app.query_one(StatusLine).text.plain


def noted(app: NotedApp, text: str) -> bool:
    return any(text in note for note in app.heard)


async def reloaded(pilot: Any, app: NotedApp) -> None:
    """Press o and wait until the file's check has ended, passed or not."""
    app.heard.clear()
    await pilot.press("o")
    await wait_for(
        pilot,
        lambda: noted(app, "alice-tp1.py reloaded") or noted(app, "alice-tp1.py fails the check"),
        CHECK_SECONDS,
        "the re-check to end",
    )
    await settle(pilot)


@asyncio_test
async def test_the_status_names_the_file_and_its_verdict_and_o_reloads_it(tmp_path):
    path = student_file(tmp_path)
    app = NotedApp(Config(tensorboard=False, max_iter=20, functions=str(path)))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, CHECK_SECONDS)
        assert "alice-tp1.py ✓ checked" in status(app)
        assert "alice-tp1.py ✓ checked" in screen_text(app)  # on screen at 100 columns
        first = app.session.descent.mse
        await pilot.press("s", "s")
        await settle(pilot)

        # A new version on disk: offered, not loaded (the run on screen is not lost).
        edit(path, "mse_missing_factor_2.py")
        await wait_for(pilot, lambda: noted(app, "changed on disk"), 10, "the offer to reload")
        assert "alice-tp1.py changed on disk: press o to reload and re-check" in app.heard
        assert "changed on disk: o reloads" in status(app)
        assert app.session.descent.iteration == 2 and app.session.descent.mse is first

        # o: it fails the check now; the run keeps the Functions it had, and its iteration.
        await reloaded(pilot, app)
        assert noted(app, "alice-tp1.py fails the check: ✗ MSE: gradients for yhat, y wrong")
        assert "alice-tp1.py ✗ MSE: gradients for yhat, y wrong" in status(app)
        assert "running the version before" in status(app)
        assert "changed on disk" not in status(app)
        assert app.session.descent.iteration == 2 and app.session.descent.mse is first
        await pilot.pause(2 * 1.5 + 0.5)  # two looks at the file: this version is not offered again
        assert not noted(app, "changed on disk")

        # Fixed: o loads it, the run starts over with the new Functions.
        edit(path, "correct.py")
        await wait_for(pilot, lambda: noted(app, "changed on disk"), 10, "the offer to reload")
        await reloaded(pilot, app)
        assert noted(app, "alice-tp1.py reloaded: ✓ checked; the run starts over at iteration 0")
        assert "alice-tp1.py ✓ checked" in status(app)
        assert "running the version before" not in status(app)
        assert app.session.descent.iteration == 0
        assert app.session.descent.mse is not first  # loaded again, from the new version
        await pilot.press("r")
        await settle(pilot)
        assert app.session.descent.iteration == 20


@asyncio_test
async def test_a_deleted_file_or_a_syntax_error_is_said_and_the_run_goes_on(tmp_path):
    path = student_file(tmp_path)
    app = NotedApp(ENDLESS.replace(functions=str(path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, CHECK_SECONDS)
        assert "alice-tp1.py ✓ checked" in screen_text(app)  # at 80 columns too
        path.unlink()
        await wait_for(pilot, lambda: noted(app, "no longer on disk"), 10, "the file's absence")
        assert "gone from disk" in status(app)
        await pilot.press("r")
        await running(pilot)
        # o with no file: said in one line; the run that was going on goes on.
        app.heard.clear()
        await pilot.press("o")
        await wait_for(pilot, lambda: noted(app, "fails the check"), CHECK_SECONDS, "the check")
        assert noted(app, "alice-tp1.py fails the check: ✗ no such file")
        assert "alice-tp1.py ✗ no such file" in status(app)
        await wait_for(pilot, lambda: app.running, 10, "the run to go on")
        before = app.session.descent.iteration
        await wait_for(pilot, lambda: app.session.descent.iteration > before, 10, "iterations")

        # Back, with a syntax error: said with its line, the app still runs.
        edit(path, "syntax_error.py")
        await wait_for(pilot, lambda: "changed on disk" in status(app), 10, "the offer")
        await pilot.press("r")  # pause
        await settle(pilot)
        await reloaded(pilot, app)
        assert "alice-tp1.py ✗ line 22: SyntaxError: expected ':'" in status(app)
        assert app.session is not None and app.return_code is None


@asyncio_test
async def test_force_shows_the_failed_verdict_while_the_functions_run(tmp_path):
    path = student_file(tmp_path, "linear_b_mean.py")
    app = NotedApp(Config(tensorboard=False, max_iter=5, force=True, functions=str(path)))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, CHECK_SECONDS)
        assert "alice-tp1.py ✗ Linear: gradient for b wrong (run with --force)" in status(app)
        edit(path, "mse_wrong_sign.py")  # fails too, but runs: --force still applies
        await reloaded(pilot, app)
        assert "alice-tp1.py ✗ MSE: gradients for yhat, y wrong (run with --force)" in status(app)
        assert noted(app, "alice-tp1.py reloaded: ✗ MSE: gradients for yhat, y wrong")


@asyncio_test
async def test_o_without_a_functions_file_says_there_is_none():
    app = NotedApp(Config(tensorboard=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await pilot.pause()
        assert app.heard == ["no Functions file to reload: amal-tui --functions FILE.py runs yours"]
        assert "checked" not in status(app)


# -- the texts, without the app ------------------------------------------------------------


def test_the_verdict_is_the_checks_own_in_a_few_words():
    # The samples are the project's own files: trusted, checked here (a student's never is).
    from engine.student.check import check_functions
    from engine.student.loading import load_functions
    from engine.student.report import CheckReport

    def verdict(sample: str) -> str:
        path = STUDENTS / sample
        return check_verdict(check_functions(*load_functions(path), path=path))

    assert verdict("correct.py") == "✓ checked"
    assert verdict("linear_b_mean.py") == "✗ Linear: gradient for b wrong"
    assert verdict("mse_missing_factor_2.py") == "✗ MSE: gradients for yhat, y wrong"
    assert verdict("backward_exception.py") == "✗ Linear: backward raises RuntimeError"
    # A file that cannot be loaded: the check's own line, less the file's name (shown beside it).
    error = "import_error.py, line 20: NameError: name 'Functon' is not defined"
    not_loaded = CheckReport(False, [], error, path="tp/import_error.py", loaded=False)
    assert check_verdict(not_loaded) == "✗ line 20: NameError: name 'Functon' is not defined"


def test_a_long_file_name_and_verdict_are_shortened_to_fit():
    name = "alice-with-a-very-long-name-tp1-v3.py"
    verdict = "✗ MSE: gradients for yhat, y wrong; Linear: gradients for X, W, b wrong"
    second_row = status_text(StatusInfo(functions=name, verdict=verdict)).plain.split("\n")[1]
    shown_name, _, rest = second_row.partition(" ")
    assert shown_name.startswith("…") and shown_name.endswith("tp1-v3.py")
    assert len(shown_name) == FUNCTIONS_CELLS
    shown_verdict = rest.split("  ·  ")[0]
    assert shown_verdict.startswith("✗ MSE: gradients") and shown_verdict.endswith("…")
    assert len(shown_verdict) == VERDICT_CELLS
    # The engine's own Functions: nothing about a file.
    engines = StatusInfo(tensorboard="TensorBoard: off")
    assert status_text(engines).plain.split("\n")[1] == "TensorBoard: off"


# -- the controller's reload flow, with a fake App (no child process, no Textual) ------------


def controller_on(path: Path):
    """A controller whose first Experiment, of ``path``'s Functions, has loaded and passed."""
    from test_controller import FakeExperiment, FakePort, run

    from tui.controller import RunController

    class Port(FakePort):
        def start_load(self, config: Config, reuse: Any, recheck: bool = False) -> Any:
            return self._start("recheck" if recheck else "load", config, reuse)

    config = Config(tensorboard=False, functions=str(path))
    port = Port()
    controller = RunController(config, port)
    controller.start_load(config)
    experiment = FakeExperiment(config)
    experiment.check = SimpleNamespace(passed=True)
    run(controller.loaded(experiment, config))
    return controller, port, run


def test_o_pressed_twice_checks_the_file_once(tmp_path):
    controller, port, run = controller_on(student_file(tmp_path))
    run(controller.reload_functions())
    run(controller.reload_functions())
    assert port.count("recheck") == 1 and controller.pending == []
    assert controller.status_info().verdict == "checking…"


def test_a_run_paused_for_a_failed_recheck_goes_on(tmp_path):
    from engine.student.refusal import FunctionsRefused

    controller, port, run = controller_on(student_file(tmp_path))
    run(controller.toggle_run())
    run(controller.reload_functions())
    assert not controller.running  # paused while the file is checked
    report = SimpleNamespace(passed=False, error="no such file", path=None, functions=[])
    worker = port.last("recheck")
    worker.error = FunctionsRefused("the Functions of alice-tp1.py cannot be loaded", "", report)
    controller.worker_ended(worker, "error")
    assert port.notes[-1] == (
        "error",
        "alice-tp1.py fails the check: ✗ no such file (the run keeps its Functions)",
    )
    assert controller.pending == ["toggle_run"] and port.later == [controller.drain_pending]
    assert port.refusals == []  # no report screen: the app does not quit
    run(controller.drain_pending())
    assert controller.running


def test_the_watch_offers_each_new_version_once(tmp_path):
    path = student_file(tmp_path)
    controller, port, _ = controller_on(path)
    controller.watch_functions()
    assert port.notes == []  # as checked
    edit(path, "mse_missing_factor_2.py")
    controller.watch_functions()
    controller.watch_functions()
    assert port.notes == [
        ("information", "alice-tp1.py changed on disk: press o to reload and re-check")
    ]
    path.unlink()
    controller.watch_functions()
    assert port.notes[-1] == (
        "warning",
        "alice-tp1.py is no longer on disk: the run keeps its Functions",
    )
    assert controller.status_info().functions_note == "gone from disk"
