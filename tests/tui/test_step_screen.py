"""The inside-a-step screen (i): it opens, shows the engine's own ∇W, fits 80×24 by scrolling."""

from __future__ import annotations

from pathlib import Path

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
from tui.app import AmalApp
from tui.formatting import parameter_text
from tui.step_screen import RECORDING, TEXT_WIDTH, StepScreen

STUDENTS = Path(__file__).parents[1] / "students"
# Loading torch on a loaded machine: the first settle may take long.
LOAD = 90


async def _open(pilot) -> StepScreen:
    await pilot.press("i")
    screen = pilot.app.screen
    assert isinstance(screen, StepScreen)
    await wait_for(
        pilot, lambda: screen.text != RECORDING, timeout=30, what="the step to be recorded"
    )
    await pilot.pause()
    return screen


async def _read(pilot, screen: StepScreen) -> str:
    """Every row of the screen's text, as a user scrolls through it."""
    box = screen.query_one("#inside")
    text = ""
    for y in range(0, int(box.max_scroll_y) + 10, 10):
        box.scroll_to(y=y, animate=False)
        await pilot.pause()
        text += screen_text(pilot.app) + "\n"
    box.scroll_home(animate=False)
    return text


def _gradient_row(text: str, shape: str) -> str:
    return next(line for line in text.splitlines() if f"→ ∇W {shape}" in line)


@asyncio_test
async def test_before_any_step_it_says_to_press_s_and_esc_closes_it():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, timeout=LOAD)
        await _open(pilot)
        assert "press s first" in screen_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, StepScreen)
        assert app.session.descent.iteration == 0  # opening it stepped nothing


@asyncio_test
async def test_after_a_step_it_shows_the_engines_gradient_and_fits_80x24_scrolling():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, timeout=LOAD)
        await pilot.press("s", "s")
        await settle(pilot)
        screen = await _open(pilot)
        box = screen.query_one("#inside")
        # Inside the terminal, taller than it: it scrolls, and never sideways.
        assert box.region.x >= 0 and box.region.right <= 80
        assert box.region.y >= 0 and box.region.bottom <= 24
        assert box.max_scroll_y > 0
        assert box.max_scroll_x == 0
        assert max(len(line) for line in screen.text.plain.splitlines()) <= TEXT_WIDTH
        text = await _read(pilot, screen)
        descent = app.session.descent
        d, m = descent.problem.shape[1:]
        assert "Iteration 2" in text
        # ∇W's shape and its first row, as the engine computed them in the run's last step.
        row = _gradient_row(text, f"({d}×{m})")
        for value in descent.grad_W[0].tolist():
            assert parameter_text(value) in row
        for name in ("Linear.forward", "MSE.forward", "MSE.backward", "Linear.backward"):
            assert name in text
        assert "ctx saved: X" in text and "W ← W − ε·∇W" in text
        await pilot.press("i")  # i closes it too
        assert not isinstance(app.screen, StepScreen)


@asyncio_test
async def test_it_fits_100x30_and_pauses_a_run_to_show_its_last_step():
    app = AmalApp(ENDLESS)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, timeout=LOAD)
        await pilot.press("r")
        await running(pilot)
        screen = await _open(pilot)
        assert not app.running
        box = screen.query_one("#inside")
        assert box.region.right <= 100 and box.region.bottom <= 30
        descent = app.session.descent
        text = await _read(pilot, screen)
        assert f"Iteration {descent.iteration} " in text
        row = _gradient_row(text, "(13×3)")
        for value in descent.grad_W[0].tolist():
            assert parameter_text(value) in row


@asyncio_test
async def test_a_students_wrong_gradient_shows_where_it_differs():
    config = Config(
        tensorboard=False, functions=str(STUDENTS / "mse_missing_factor_2.py"), force=True
    )
    app = AmalApp(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, timeout=LOAD)
        await pilot.press("s")
        await settle(pilot)
        screen = await _open(pilot)
        text = await _read(pilot, screen)
        assert "✗ differs at 150 of 150 entries, most at" in text
        assert "factor 2" in text
        assert "✓ as the reference" in text  # their Linear is right


@asyncio_test
async def test_while_the_engine_loads_it_says_so():
    factory = GatedFactory()
    app = AmalApp(CONFIG, session_factory=factory)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        assert isinstance(app.screen, StepScreen)
        assert "still loading" in screen_text(app)
        await pilot.press("escape")
        factory.release()
        await settle(pilot, timeout=LOAD)
        assert app.session.descent.iteration == 0


@asyncio_test
async def test_comparing_it_shows_the_first_runs_step():
    app = AmalApp(Config(tensorboard=False, compare=(0.01, 0.1)))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, timeout=LOAD)
        await pilot.press("s")
        await settle(pilot)
        screen = await _open(pilot)
        text = await _read(pilot, screen)
        assert "comparing: the first run, ε = 0.01" in text
        assert max(len(line) for line in screen.text.plain.splitlines()) <= TEXT_WIDTH
        row = _gradient_row(text, "(13×3)")
        for value in app.descents[0].grad_W[0].tolist():
            assert parameter_text(value) in row
