"""The app survives what lab machines do to it: key mashing, any size, live resizes, odd input."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual import events
from textual.geometry import Size
from textual.widgets import Input
from tui_support import CONFIG, asyncio_test, screen_text, settle, wait_for

from engine.config import ConfigError
from engine.record.saving import SaveError
from tui.app import MIN_HEIGHT, MIN_WIDTH, AmalApp
from tui.cli import build_parser, config_from_args

# Keys a user can hit: the bindings (but not the quit keys), editing and control keys, text.
BINDING_KEYS = [
    "s",
    "right",
    "r",
    "space",
    "x",
    "l",
    "plus",
    "minus",
    "question_mark",
    "c",
    "e",
    "left_square_bracket",
    "right_square_bracket",
]
CONTROL_KEYS = [
    "tab",
    "shift+tab",
    "escape",
    "enter",
    "backspace",
    "delete",
    "left",
    "up",
    "down",
    "home",
    "end",
    "ctrl+a",
    "ctrl+e",
    "ctrl+k",
    "ctrl+u",
    "ctrl+w",
    "pageup",
    "pagedown",
]
CHARACTERS = "0123456789.e-+abcxyz ,;/_"
CHARACTER_KEYS = {
    ".": "full_stop",
    "-": "minus",
    "+": "plus",
    " ": "space",
    ",": "comma",
    ";": "semicolon",
    "/": "slash",
    "_": "underscore",
}
SPECIAL_CHARACTERS = {
    "tab": "\t",
    "shift+tab": None,
    "escape": "\x1b",
    "enter": "\r",
    "backspace": "\x7f",
    "space": " ",
    "plus": "+",
    "minus": "-",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "full_stop": ".",
    "comma": ",",
    "semicolon": ";",
    "slash": "/",
    "underscore": "_",
}


def key_event(key: str) -> events.Key:
    if len(key) == 1:
        name = CHARACTER_KEYS.get(key, key)
        return events.Key(name, key)
    if key.startswith("ctrl+") and len(key) == 6:
        return events.Key(key, chr(ord(key[-1]) - 96))
    return events.Key(key, SPECIAL_CHARACTERS.get(key))


def random_keys(generator: random.Random, count: int) -> list[str]:
    keys = []
    for _ in range(count):
        kind = generator.random()
        if kind < 0.35:
            keys.append(generator.choice(BINDING_KEYS))
        elif kind < 0.6:
            keys.append(generator.choice(CONTROL_KEYS))
        else:
            keys.append(generator.choice(CHARACTERS))
    return keys


def assert_consistent(app: AmalApp) -> None:
    """The engine's state agrees with itself and with the screen."""
    session = app.session
    assert session is not None
    for descent in getattr(app, "descents", None) or [session.descent]:
        losses = descent.losses
        assert descent.iteration == len(losses)
        if descent.test_losses is not None:
            assert len(descent.test_losses) == len(losses)
        snapshot = descent.snapshot()
        assert snapshot.iteration == len(losses)
        if len(losses) and descent.status.value != "diverged":
            assert np.isfinite(losses).all()
            assert np.isfinite(snapshot.W).all() and np.isfinite(snapshot.b).all()
        assert descent.iteration <= descent.config.max_iter


# Seeds of 1,500 keys each, 12 s of CPU apiece: `make test` runs one, `make crosscheck` (and a
# plain `pytest`) both; a third found nothing new.
@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.exhaustive)])
@asyncio_test
async def test_thousands_of_random_keys_leave_the_app_alive_and_consistent(seed):
    generator = random.Random(seed)
    app = AmalApp(CONFIG.replace(max_iter=20_000))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for batch in range(60):
            for key in random_keys(generator, 25):
                app.post_message(key_event(key))
            await pilot.pause(0.01 if batch % 3 else 0.05)
        # Leave any modal or field, pause any run, and let everything settle.
        for _ in range(4):
            await pilot.press("escape")
        if app.running:
            await pilot.press("r")
        await wait_for(pilot, lambda: not app.running, what="the run to pause")
        await settle(pilot)
        assert app.is_running
        assert_consistent(app)
        assert "iteration" in screen_text(app)
        # And it still does what it is asked.
        await pilot.press("x", "s")
        await settle(pilot)
        assert app.session.descent.iteration == 1


@asyncio_test
async def test_random_text_in_every_field_never_breaks_anything():
    generator = random.Random(7)
    alphabet = "0123456789.eE-+ xyzäé,;_/\\'\"nanif"
    app = AmalApp(CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        fields = list(app.query(Input))
        assert len(fields) >= 5
        for field in fields:
            # Two texts a field (the form has 10 fields now): 34 s with four, on CI's 2 cores.
            for _ in range(2):
                text = "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 12)))
                field.focus()
                field.value = text
                await pilot.press("enter")
                await pilot.pause()
                await pilot.press("escape")
                await settle(pilot)
                assert_consistent(app)
        assert app.is_running


SIZES = [(40, 12), (60, 20), (71, 21), (72, 22), (80, 24), (100, 30), (120, 40), (250, 70)]


@pytest.mark.parametrize("width,height", SIZES)
@asyncio_test
async def test_any_size_from_40x12_to_250x70(width, height):
    app = AmalApp(CONFIG)
    async with app.run_test(size=(width, height)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        text = screen_text(app)
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            assert "terminal too small" in text
        else:
            assert "terminal too small" not in text and "iteration 1" in text


@asyncio_test
async def test_live_resizes_during_a_run_never_raise():
    generator = random.Random(3)
    app = AmalApp(CONFIG.replace(threshold=-1, max_iter=10_000_000))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.running, what="the run")
        for _ in range(25):
            size = Size(generator.randint(40, 250), generator.randint(12, 70))
            # What a terminal sends; pilot.resize_terminal would wait for an idle app.
            app.post_message(events.Resize(size, size))
            await pilot.pause(0.02)
        await pilot.resize_terminal(100, 30)
        await pilot.press("r")
        await settle(pilot)
        assert_consistent(app)
        assert app.session.descent.iteration > 0
        assert "terminal too small" not in screen_text(app)


# -- every option, fed arbitrary strings --------------------------------------------------

OPTIONS = [
    "--lr",
    "--seed",
    "--init-seed",
    "--threshold",
    "--max-iter",
    "--dtype",
    "--device",
    "--optimizer",
    "--momentum",
    "--beta1",
    "--beta2",
    "--batch-size",
    "--compare",
    "--logdir",
    "--data",
    "--target",
    "--test-fraction",
    "--n",
    "--d",
    "--m",
    "--noise",
    "--functions",
    "--mse",
    "--linear",
    "--config",
    "--speed",
    "--fps",
]


@settings(max_examples=400, deadline=None)
@given(option=st.sampled_from(OPTIONS), value=st.text(max_size=30))
def test_any_option_value_gives_a_config_or_a_one_line_error(option, value):
    parser = build_parser()
    try:
        args = parser.parse_args(["--headless", f"{option}={value}"])
        config_from_args(args)
    except SystemExit as exit_:
        assert exit_.code == 2
    except (ConfigError, SaveError) as error:
        assert "\n" not in str(error)
