"""What the app shows of a path, a file name or an error is shown as it is: control characters
and escape sequences escaped (a shared --config can name any path), and a "[" never read as
Textual markup.  Out of memory in a worker is one line, not a traceback."""

import os

from textual.widgets import Input
from tui_support import CONFIG, GatedFactory, asyncio_test, screen_text, settle, wait_for

from engine.config import Config
from engine.student.loading import describe_run_error
from tui.app import AmalApp
from tui.prompts import ReportScreen

PROBE = "r[bold]\x1b[31m"
"""Markup for Textual and an escape sequence for the terminal, in one file name."""
SHOWN = "r[bold]\\x1b[31m"


@asyncio_test
async def test_the_status_line_escapes_the_data_and_logdir_paths_while_loading(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # short relative paths: a long one may be cut on screen
    gate = GatedFactory(fail=RuntimeError("never loaded"))
    config = Config(data=f"{PROBE}.csv", logdir=f"logs{PROBE}")
    app = AmalApp(config, session_factory=gate)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: gate.calls == 1, what="the load to start")
        await pilot.pause()
        # The status line's two lines (the data field above holds the path as given, to edit).
        text = "\n".join(screen_text(app).splitlines()[-3:-1])
        assert "\x1b" not in text
        assert f"loading '{SHOWN}.csv'…" in text, text
        assert f"TensorBoard: logs under 'logs{SHOWN}'/" in text, text
        gate.release()
        # Failed before the app closes: a load failing during the exit is another matter.
        await wait_for(pilot, lambda: app.engine_error is not None, what="the load to fail")
        await pilot.pause()


@asyncio_test
async def test_the_saved_notification_shows_the_path_as_it_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = AmalApp(CONFIG)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        app.controller.last_save_path = f"{PROBE}.json"  # the prompt offers it: no key can type ESC
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.query_one(Input).value == f"{PROBE}.json"
        await pilot.press("enter")
        await settle(pilot)
        assert os.path.exists(tmp_path / f"{PROBE}.json")
        text = screen_text(app).replace("\n", "")
        assert "\x1b" not in text
        assert f"saved in '{SHOWN}.json'" in text, text


@asyncio_test
async def test_a_refused_save_path_with_a_bracket_shows_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = AmalApp(CONFIG)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        app.controller.last_save_path = "runs[bold]/"
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert "runs[bold]/ is a folder" in app.screen.error_text()
        assert "✗ runs[bold]/ is a folder" in screen_text(app)


@asyncio_test
async def test_a_report_titled_with_a_bracketed_file_name_shows_it():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        app.push_screen(ReportScreen("the check of f[bold].py", "✓ all good"))
        await pilot.pause()
        assert "the check of f[bold].py" in screen_text(app)


@asyncio_test
async def test_running_out_of_memory_while_loading_is_one_line(tmp_path):
    app = AmalApp(CONFIG, session_factory=GatedFactory(fail=MemoryError()))
    app._factory.release()
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.engine_error is not None, what="the load to fail")
        assert app.engine_error.startswith("out of memory: the data are too large")
        await pilot.pause()
        assert "the engine could not load: out of memory" in screen_text(app)


def _no_memory(*args, **kwargs):
    raise RuntimeError(
        "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: "
        "can't allocate memory: you tried to allocate 4000000000 bytes"
    )


@asyncio_test
async def test_running_out_of_memory_in_a_run_or_a_step_is_one_line():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await settle(pilot)
        app.experiment.run_for = app.experiment.advance = _no_memory  # the run's worker
        await pilot.press("r")
        await settle(pilot)
        text = screen_text(app).replace("\n", "")
        assert "the run stopped: out of memory (4 GB asked)" in text, text
        assert "enforce fail" not in text
        app.clear_notifications()
        app.experiment.step = _no_memory  # a step, in the app's own thread
        await pilot.press("s")
        await settle(pilot)
        text = screen_text(app).replace("\n", "")
        assert "the run stopped: out of memory (4 GB asked)" in text, text
        assert "enforce fail" not in text


def test_a_students_file_name_and_message_are_escaped_in_a_run_error(tmp_path):
    error = ValueError("bad \x1b[2J value")
    text = describe_run_error(error, tmp_path / f"{PROBE}.py")
    assert "\x1b" not in text
    assert text == f"'{SHOWN}.py': ValueError: bad \\x1b[2J value"


class Crashing(AmalApp):
    """An app with a bug whose message holds a newline and an escape sequence."""

    def on_mount(self) -> None:
        super().on_mount()
        self.set_timer(0.2, self.boom)

    def boom(self) -> None:
        raise ZeroDivisionError(f"a bug\nin {PROBE}")


def test_an_unexpected_error_of_the_app_is_one_escaped_line(tmp_path, monkeypatch, capsys):
    from tui.app import run_app

    monkeypatch.setenv("AMAL_TUI_CRASH_DIR", str(tmp_path))
    assert run_app(CONFIG, app=Crashing(CONFIG), headless=True) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"amal-tui: unexpected error: ZeroDivisionError: 'a bug\\nin {SHOWN}';")


@asyncio_test
async def test_a_load_error_quoting_an_escape_sequence_is_shown_escaped():
    app = AmalApp(CONFIG, session_factory=GatedFactory(fail=OSError(f"cannot open {PROBE}")))
    app._factory.release()
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.engine_error is not None, what="the load to fail")
        assert app.engine_error == f"OSError: cannot open {SHOWN}"
        await pilot.pause()
        assert "\x1b" not in screen_text(app)
