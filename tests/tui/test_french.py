"""The app in French: under the pseudo-language that marks every translated text (⟦…⟧),
no English word is left outside the marks on the main screen (one run and a comparison,
compact and wide), the help screen, the settings form and the data screen; and the main
screen in French at 80×24 and 100×30 as snapshots (French is longer: nothing may be cut).

Not a list of texts: whatever the app shows without passing it through ``_()`` is found.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console
from tui_support import CONFIG, RecordedFactory, asyncio_test, screen_text, settle, wait_for

from engine import i18n
from engine.config import Config
from tui.app import AmalApp
from tui.help_screen import PANELS, help_renderable, states_renderable

# The same in every language: the lesson's names, the tools', keys and the chart's axes.
NAMES = {
    "MSE", "Linear", "SGD", "sgd", "momentum", "nesterov", "adam", "Adam", "torch",
    "TensorBoard", "tensorboard", "amal", "tui", "JSON", "CSV", "TSV", "max", "toy",
    "synthetic", "float32", "float64", "cpu", "cuda", "full", "runs",
}  # fmt: skip


@pytest.fixture(autouse=True)
def pseudo_then_english():
    i18n.set_pseudo_language()
    yield
    i18n.set_language("en")


def english_words(text: str) -> list[str]:
    # Options (--no-tensorboard), paths (amal-runs/) and k for thousands (16.4k) name things.
    text = re.sub(r"--[\w-]+|[\w.-]+/|\b\d+(?:\.\d+)?k\b", " ", text)
    words = i18n.unmarked_words(text)
    # The comparison's curves are drawn with the markers o and x (and +, *…).
    return sorted({word for word in words if word not in NAMES and not re.fullmatch("[ox]+", word)})


def _marked(text: str) -> str:
    assert "⟦" in text, "the pseudo-language is not on"
    return text


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 50)], ids=str)
@asyncio_test
async def test_the_main_screen_leaves_no_english(size):
    app = AmalApp(CONFIG)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, 90)
        await pilot.press("s")
        await settle(pilot, 90)
        assert english_words(_marked(screen_text(app))) == []
        await pilot.press("tab")  # the settings form, and its keys in the footer
        await pilot.pause()
        assert english_words(_marked(screen_text(app))) == []


@asyncio_test
async def test_a_comparison_leaves_no_english():
    config = Config(tensorboard=False, init_seed=42, max_iter=101, compare=(0.0001, 0.01, 0.5))
    app = AmalApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, 90)
        await pilot.press("r")
        await settle(pilot, 90)
        assert english_words(_marked(screen_text(app))) == []


@asyncio_test
async def test_the_help_and_data_screens_leave_no_english():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, 90)
        await pilot.press("question_mark")
        await pilot.pause()
        assert english_words(_marked(screen_text(app))) == []
        await pilot.press("escape")
        await pilot.press("d")
        await pilot.pause()
        assert english_words(_marked(screen_text(app))) == []


def test_the_whole_help_leaves_no_english():
    # Past what the screen shows at once: every key's row, every state, the panels.
    console = Console(width=200, record=True, color_system=None)
    console.print(help_renderable())
    console.print(states_renderable())
    console.print(i18n._(PANELS))
    assert english_words(_marked(console.export_text())) == []


def test_english_words_finds_a_text_left_untranslated():
    # The check itself: a text that never went through _() is found, a marked one is not.
    assert english_words("⟦ready⟧ iteration 3 ⟦loss⟧ 0.5") == ["iteration"]
    assert english_words("⟦a long text cut at the wid…\n⟦wrapped over\ntwo lines⟧") == []


@pytest.mark.parametrize("size", [(80, 24), (100, 30)], ids=lambda size: f"{size[0]}x{size[1]}")
def test_the_main_screen_in_french(snap_compare, size):
    i18n.set_language("fr")
    factory = RecordedFactory("one_step", when=lambda e: e.descents[0].iteration == 1)

    async def one_step(pilot) -> None:
        await settle(pilot, 90)
        await pilot.press("s")
        await settle(pilot, 90)
        assert pilot.app.session.descent.iteration == 1
        factory.check()

    app = AmalApp(CONFIG, session_factory=factory)
    assert snap_compare(app, terminal_size=size, run_before=one_step)


# The names of the lesson's code that the inside-a-step screen shows as they are written
# (Function.forward(ctx, grad_output), ctx.needs_input_grad, the tensor named loss, the
# dtype float32: the word's digits are not read as part of it).
CODE_NAMES = {
    "forward", "backward", "ctx", "grad", "output", "needs", "input", "loss", "tensor", "float",
}  # fmt: skip


@asyncio_test
async def test_the_sweep_view_leaves_no_english():
    from tui.sweep_screen import SweepScreen

    app = AmalApp(CONFIG.replace(max_iter=300))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, 90)
        app.sweep_text = "0.01:3:8"  # from capped to diverged: every word of the legend
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweep")
        screen = app.screen
        assert english_words(_marked(screen_text(app))) == []  # while it sweeps
        await wait_for(pilot, lambda: screen.finished, timeout=60, what="the sweep to end")
        await pilot.pause()
        assert english_words(_marked(screen_text(app))) == []
        await pilot.press("end")  # the cursor on a run that diverged, then the other view
        await pilot.press("i")
        await pilot.pause()
        assert english_words(_marked(screen_text(app))) == []
        await pilot.press("tab")  # a bad range is said in one line
        await pilot.press("end", "x")
        await pilot.pause()
        assert english_words(_marked(screen_text(app))) == []


async def _inside_words(pilot) -> list[str]:
    """Every row of the inside-a-step screen, as a user scrolls through it: its English."""
    from tui.step_screen import RECORDING

    await pilot.press("i")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.text != RECORDING, timeout=30, what="the step")
    box = screen.query_one("#inside")
    await pilot.pause()
    words: set[str] = set()
    for y in range(0, int(box.max_scroll_y) + 10, 10):
        box.scroll_to(y=y, animate=False)
        await pilot.pause()
        words.update(english_words(_marked(screen_text(pilot.app))))
    return sorted(words - CODE_NAMES)


@asyncio_test
async def test_the_inside_of_a_step_leaves_no_english():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, 90)
        await pilot.press("i")  # before any step: it says to press s
        await pilot.pause()
        assert english_words(_marked(screen_text(app))) == []
        await pilot.press("escape", "s")
        await settle(pilot, 90)
        assert await _inside_words(pilot) == []


@asyncio_test
async def test_the_inside_of_a_students_wrong_step_leaves_no_english():
    # Where a student's value differs: the diagnosis, the reference's values, the hints.
    students = Path(__file__).parents[1] / "students"
    config = Config(
        tensorboard=False, functions=str(students / "mse_missing_factor_2.py"), force=True
    )
    app = AmalApp(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, 90)
        await pilot.press("s")
        await settle(pilot, 90)
        assert await _inside_words(pilot) == []


def test_the_slow_step_and_data_words_leave_no_english():
    # What the status line says while a slow step is computed or synthetic data are made.
    from tui.presenter import computing_text, load_progress_text

    for text in (computing_text(67, 0.4), load_progress_text("synthetic", 0.4)):
        assert english_words(_marked(text)) == []
    assert english_words(_marked(load_progress_text("synthetic", 1.0))) == []


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "example.org"])
def test_the_servers_words_leave_no_english(host):
    from tui.serve import reach

    url, who = reach(host, 8000)
    assert english_words(_marked(who)) == []
