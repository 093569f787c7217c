"""Every status word is explained in the help from one table (tui/states.py), "ready" and
"paused" read differently without colour, and * and / scale the learning rate by 2."""

from __future__ import annotations

import dataclasses
import json
import re

from tui_support import CONFIG, RECORDED, asyncio_test, screen_text, settle, views_from_json

from tui import presenter, states
from tui.comparison import status_word
from tui.controller import STATES
from tui.status_line import StatusInfo, status_text

FIRST = views_from_json(json.loads((RECORDED / "first.json").read_text()))
Status = type(FIRST[0].snapshot.status)


def at(iteration: int, status: str = "running"):
    view = FIRST[0]
    snapshot = dataclasses.replace(view.snapshot, iteration=iteration, status=Status(status))
    return (dataclasses.replace(view, snapshot=snapshot),)


# -- one table ---------------------------------------------------------------------------------


def test_every_word_the_app_can_show_is_in_the_table():
    """The controller's states, the engine's statuses and the comparison's words."""
    assert set(STATES) == set(states.BY_NAME)
    assert {status.value for status in Status} <= set(states.BY_NAME)
    for status in Status:
        for running in (False, True):
            for iteration in (0, 5):
                assert status_word(status.value, iteration, running) in states.BY_NAME


def test_every_word_has_its_own_mark_and_a_meaning():
    marks = [state.mark for state in states.STATE_WORDS]
    words = [state.word for state in states.STATE_WORDS]
    assert len(set(marks)) == len(marks) and len(set(words)) == len(words)
    assert all(len(state.mark) == 1 and state.meaning for state in states.STATE_WORDS)


def test_the_presenter_says_the_tables_word_mark_and_hint(monkeypatch):
    """Read from the table, not from a list of its own: a changed table changes the line."""
    changed = dataclasses.replace(states.BY_NAME["paused"], word="halted", mark="#", hint="go on")
    monkeypatch.setitem(states.BY_NAME, "paused", changed)
    info = presenter.status_info("paused", at(7))
    assert (info.state, info.mark, info.hint) == ("halted", "#", "go on")


def test_the_help_explains_every_word_from_the_same_table(monkeypatch):
    from rich.console import Console

    from tui import help_screen

    def rendered() -> str:
        console = Console(width=200, color_system=None, record=True)
        console.print(help_screen.states_renderable())
        return console.export_text()

    text = rendered()
    for state in states.STATE_WORDS:
        assert re.search(rf"{re.escape(state.mark)} {re.escape(state.word)} +"
                         rf"{re.escape(state.meaning)}", text), state.name  # fmt: skip
    monkeypatch.setattr(
        help_screen, "STATE_WORDS", (dataclasses.replace(states.STATE_WORDS[0], meaning="xyz"),)
    )
    assert "xyz" in rendered()


# -- ready and paused at a glance, without colour --------------------------------------------


def test_ready_and_paused_differ_in_mark_word_and_keys_without_colour():
    ready = status_text(presenter.status_info("ready", at(0))).plain
    paused = status_text(presenter.status_info("paused", at(265))).plain
    assert "○ ready  r runs, s steps" in ready
    assert "‖ paused  r resumes, x resets" in paused
    assert "iteration 265" in paused


def test_the_words_before_any_run_have_their_mark_too():
    assert status_text(presenter.status_info("loading", ())).plain.startswith("◌ loading…")
    failed = status_text(presenter.status_info("failed", (), engine_error="OSError: x")).plain
    assert failed.startswith("⊘ cannot start: OSError: x")


def test_a_line_drawn_before_the_presenter_has_no_mark():
    """StatusInfo alone (a test's, a recorded screen's) draws no mark it was not given."""
    assert "paused" in status_text(StatusInfo(iteration=3, loss=1.0, state="paused")).plain


# -- the learning rate's keys ------------------------------------------------------------------


def test_the_keys_are_bound_once_and_listed_in_the_help():
    from tui.keys import KEYS, LEARNING_RATE_KEYS, help_rows

    bound = [key for binding in KEYS for key in binding.key.split(",")]
    assert len(bound) == len(set(bound))
    assert {"asterisk", "slash", "plus", "minus"} <= set(bound)
    rows = dict(help_rows("my-runs"))
    assert rows["+  -"] == "learning rate × 10 / ÷ 10, and reset"
    assert rows["*  /"] == "learning rate × 2 / ÷ 2, and reset"
    assert "my-runs/" in rows["e"]
    factors = {shown: factor for _, shown, factor, _ in LEARNING_RATE_KEYS}
    assert factors == {"+": 10, "-": 0.1, "*": 2, "/": 0.5}


@asyncio_test
async def test_star_and_slash_double_and_halve_the_learning_rate():
    from tui.app import AmalApp

    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "* ε×2" in screen_text(app) and "/ ε÷2" in screen_text(app)  # the footer
        await pilot.press("asterisk")
        await settle(pilot)
        assert app.config.learning_rate == 0.02
        await pilot.press("slash", "slash")
        await settle(pilot)
        assert app.config.learning_rate == 0.005
        await pilot.press("plus")
        await settle(pilot)
        assert app.config.learning_rate == 0.05
        await pilot.press("minus", "asterisk")
        await settle(pilot)
        assert app.config.learning_rate == 0.01


@asyncio_test
async def test_the_status_line_and_the_help_at_80_by_24():
    from rich.console import Console
    from textual.widgets import Static

    from tui.app import AmalApp
    from tui.status_line import StatusLine

    app = AmalApp(CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "○ ready  r runs, s steps" in app.query_one(StatusLine).text.plain
        await pilot.press("s")
        await settle(pilot)
        assert "‖ paused  r resumes, x resets" in app.query_one(StatusLine).text.plain
        await pilot.press("question_mark")
        await pilot.pause()
        # Every row, scrolled into view or not: the help's tables as text.
        console = Console(width=76, color_system=None, record=True)
        for widget in app.screen.query(Static):
            console.print(widget.content)
        help_text = console.export_text()
        for state in states.STATE_WORDS:
            assert state.word in help_text, state.name
        assert "*  /" in help_text and "amal-runs/" in help_text
