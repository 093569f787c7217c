"""The sweep view (w): K rates from the run's start, the plot, the bound, ×, and choosing a rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tui_support import CONFIG, asyncio_test, settle, wait_for

from engine.core.sweep import sweep_rates
from engine.core.theory import stability_bound
from tui.app import AmalApp
from tui.chart_canvas import Curve
from tui.comparison import RunBound
from tui.sweep_screen import (
    BOUND,
    CURSOR,
    DIVERGED,
    LOSS_VIEW,
    MEASURED,
    SweepChart,
    SweepScreen,
    legend_text,
)

# 8 rates from 0.01 (capped at 300 iterations: it needs some 1500) to 3 (past 2/L = 1.532).
RANGE = "0.01:3:8"
RATES = sweep_rates(0.01, 3.0, 8)
SHORT = CONFIG.replace(max_iter=300)


async def open_sweep(pilot, text: str = RANGE) -> SweepScreen:
    """Press w on the range ``text`` (the last one swept), wait for the sweep's end."""
    app = pilot.app
    app.sweep_text = text
    await pilot.press("w")
    await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweep view")
    screen = app.screen
    await wait_for(pilot, lambda: screen.finished, timeout=60, what="the sweep to end")
    await pilot.pause()
    return screen


def layers(screen: SweepScreen, marker: str) -> list[Curve]:
    figure = screen.query_one(SweepChart).figure()
    assert not isinstance(figure, str), figure
    return [layer for layer in figure.layers if getattr(layer, "marker", None) == marker]


def plotted_rates(curves: list[Curve]) -> list[float]:
    return sorted(float(x) for curve in curves for x in curve.x)


@asyncio_test
async def test_w_opens_the_sweep_and_plots_every_rate_once_its_worker_ends():
    app = AmalApp(SHORT)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await open_sweep(pilot)
        assert screen.points.rates == RATES
        # The statuses are a single run's, by the rules of these settings.
        assert screen.points.statuses[0] == "capped" and screen.points.statuses[-1] == "diverged"
        # Every rate is on the plot: a point where it ended, or × where it diverged.
        measured, diverged = layers(screen, MEASURED), layers(screen, DIVERGED)
        everything = plotted_rates(measured) + plotted_rates(diverged)
        assert sorted(everything) == pytest.approx(sorted(np.log10(RATES)))
        text = screen.query_one(SweepChart).text()
        assert MEASURED in text and DIVERGED in text and CURSOR in text


@asyncio_test
async def test_the_runs_that_diverged_are_marked_with_a_character_at_the_top():
    app = AmalApp(SHORT)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await open_sweep(pilot)
        points = screen.points
        gone = [r for r, s in zip(RATES, points.statuses, strict=True) if s == "diverged"]
        assert gone == [rate for rate in RATES if rate > app.experiment.theory.lr_max]
        (crosses,) = layers(screen, DIVERGED)
        assert list(crosses.x) == pytest.approx(np.log10(gone))
        # At the top of the plot, over every point that converged or was capped.
        figure = screen.query_one(SweepChart).figure()
        assert set(crosses.y) == {figure.y_limits[1]}
        # And not drawn among the measured points: a × is a character, not a colour.
        assert not set(plotted_rates(layers(screen, MEASURED))) & set(np.log10(gone))
        rows = screen.query_one(SweepChart).text().splitlines()
        assert DIVERGED in rows[1]  # the plot's first row, under the frame's top


@pytest.mark.parametrize(
    ("optimizer", "name"),
    [("sgd", "2/L"), ("momentum", "2(1+μ)/L"), ("nesterov", "2(1+μ)/((1+2μ)L)")],
)
def test_the_bound_line_is_at_the_engines_stability_bound(optimizer, name):
    @asyncio_test
    async def check():
        app = AmalApp(SHORT.replace(optimizer=optimizer))
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            screen = await open_sweep(pilot)
            config, theory = app.experiment.config, app.experiment.theory
            n = app.experiment.problem.X.shape[0]
            bound = stability_bound(theory.lr_max, optimizer, config.batch_size, n, config.momentum)
            (line,) = layers(screen, BOUND)
            assert set(line.x) == {math.log10(bound.value)}
            legend = str(screen.query_one("#sweep-legend").content)
            assert f"{BOUND} {name} = " in legend

    check()


@asyncio_test
async def test_no_bound_line_for_adam_and_the_legend_says_why():
    app = AmalApp(SHORT.replace(optimizer="adam"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await open_sweep(pilot)
        assert layers(screen, BOUND) == []
        legend = str(screen.query_one("#sweep-legend").content)
        assert "no │ line: no bound is known for adam" in legend
        # No exact theory for Adam either: said, not drawn.
        assert screen.points.predicted is None and "no theory" in legend


@asyncio_test
async def test_the_theory_is_drawn_for_plain_gradient_descent():
    app = AmalApp(SHORT)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await open_sweep(pilot)
        predicted = screen.points.predicted
        assert predicted is not None and len(predicted) == len(RATES)
        finite = ~screen.points.diverged
        # The prediction is the engine's: it agrees with each measured last loss.
        assert predicted[finite] == pytest.approx(screen.points.losses[finite], rel=1e-4)
        assert "theory" in str(screen.query_one("#sweep-status").content)


@asyncio_test
async def test_moving_the_cursor_and_enter_make_that_rate_the_run():
    app = AmalApp(SHORT)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await open_sweep(pilot)
        assert screen.cursor == 0  # the rate nearest the run's 0.01
        await pilot.press("right", "right", "right", "left")
        assert screen.cursor == 2
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, SweepScreen))
        await settle(pilot)
        # That ε exactly, as the run on screen, from iteration 0 (the settings form's way).
        assert app.config.learning_rate == RATES[2]
        assert app.session.descent.config.learning_rate == RATES[2]
        assert app.session.descent.iteration == 0
        assert app.query_one("#lr").value == f"{RATES[2]:.12g}"


@asyncio_test
async def test_enter_in_a_comparison_opens_the_rate_as_one_run():
    app = AmalApp(SHORT.replace(compare=(0.01, 0.5)))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await open_sweep(pilot)
        await pilot.press("end", "left", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, SweepScreen))
        await settle(pilot)
        assert not app.comparing and app.config.learning_rate == RATES[-2]


@asyncio_test
async def test_escape_closes_the_sweep_and_changes_nothing():
    app = AmalApp(SHORT)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s", "s")
        await settle(pilot)
        before = (app.config, app.session.descent.iteration, app.session.descent.losses.copy())
        await open_sweep(pilot)
        await pilot.press("right", "right", "escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SweepScreen))
        await settle(pilot)
        assert app.config == before[0]
        assert app.session.descent.iteration == before[1] == 2
        assert np.array_equal(app.session.descent.losses, before[2])


@asyncio_test
async def test_escape_while_it_sweeps_stops_its_worker():
    # Runs that never converge (threshold −1) for 10⁷ iterations: the sweep would not end.
    app = AmalApp(CONFIG.replace(threshold=-1.0, max_iter=10_000_000))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.sweep_text = RANGE
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.points is not None, what="some progress")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.worker.is_finished, what="the worker to stop")
        assert screen.worker.state.name == "CANCELLED"
        assert not screen.finished
        assert app.session.descent.iteration == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e-4:3:0", "sweep: K must be between 1 and"),
        ("1e-4:3", "sweep: expected FROM:TO:K"),
        ("x:3:8", "sweep: FROM:"),
    ],
)
def test_a_bad_range_says_so_in_one_line_naming_the_field(text, reason):
    @asyncio_test
    async def check():
        app = AmalApp(SHORT)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            screen = await open_sweep(pilot)
            await pilot.press("tab")
            field = screen.query_one("#sweep-range")
            assert field.has_focus
            field.value = text
            await pilot.pause()
            status = str(screen.query_one("#sweep-status").content)
            assert status.startswith("✗ ") and reason in status and "\n" not in status
            assert field.has_class("-invalid")
            # Enter sweeps nothing new: the last sweep stays on screen.
            worker = screen.worker
            await pilot.press("enter")
            await pilot.pause()
            assert screen.worker is worker and screen.rates == RATES and screen.finished
            # Escape: the field back to the range swept; a second one closes the view.
            await pilot.press("escape")
            assert field.value == RANGE and not field.has_focus
            assert "✗" not in str(screen.query_one("#sweep-status").content)

    check()


@asyncio_test
async def test_enter_in_the_range_field_sweeps_the_new_range_and_w_starts_on_it():
    app = AmalApp(SHORT)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        epoch = app.controller.epoch
        screen = await open_sweep(pilot)
        await pilot.press("tab")
        screen.query_one("#sweep-range").value = "0.1:2:5"
        await pilot.pause()
        await pilot.press("enter")
        assert screen.rates == sweep_rates(0.1, 2.0, 5)
        await wait_for(pilot, lambda: screen.finished, timeout=60)
        assert screen.points.rates == sweep_rates(0.1, 2.0, 5)
        assert "5 ε from 0.1 to 2" in str(screen.query_one("#sweep-box").border_title)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SweepScreen))
        assert app.controller.epoch == epoch  # the run was not started over
        # The next w starts on the range swept last.
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))
        assert app.screen.rates == sweep_rates(0.1, 2.0, 5)
        assert app.screen.query_one("#sweep-range").value == "0.1:2:5"


@asyncio_test
async def test_a_sweep_from_the_command_line_opens_the_view_once_loaded():
    app = AmalApp(SHORT, sweep=(0.01, 3.0, 8))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), timeout=30)
        # The screen is current before its children are mounted (a loaded CI machine shows it).
        await wait_for(pilot, lambda: bool(app.screen.query("#sweep-range")), timeout=10)
        assert app.screen.rates == RATES
        assert app.screen.query_one("#sweep-range").value == "0.01:3:8"


@asyncio_test
async def test_a_students_functions_are_not_swept(tmp_path):
    app = AmalApp(SHORT)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        # As if the run used a student's file: the sweep batches only the engine's Functions.
        app.controller.config = app.config.replace(functions=str(tmp_path / "mine.py"))
        await pilot.press("w")
        await pilot.pause()
        assert not isinstance(app.screen, SweepScreen)
        assert "batches the engine's Functions" in app.notes[-1].text


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
def test_the_sweep_view_fits_the_terminal(size):
    @asyncio_test
    async def check():
        app = AmalApp(SHORT)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            screen = await open_sweep(pilot)
            chart = screen.query_one(SweepChart)
            width, height = size
            assert chart.size.height >= height - 6 and chart.size.width >= width - 4
            # The two lines under the plot and the keys in the border are on screen.
            for selector in ("#sweep-status", "#sweep-legend"):
                widget = screen.query_one(selector)
                assert widget.region.height == 1 and widget.region.bottom <= height - 1
            legend = str(screen.query_one("#sweep-legend").content)
            assert len(legend) <= width - 4, legend

    check()


@pytest.mark.parametrize(
    "bound",
    [
        RunBound(1.532, "2/L"),
        RunBound(2.912, "2(1+μ)/L"),
        RunBound(1.04, "2(1+μ)/((1+2μ)L)"),
        RunBound(None, None, "no bound is known for adam"),
        RunBound(None, None, "no bound for mini-batches of 10"),
    ],
)
def test_the_legend_says_the_bound_and_the_cross_first_within_80_columns(bound):
    legend = legend_text(None, bound, RATES, LOSS_VIEW)
    # The box at 80 columns shows 76: the bound and × (what the plot's marks mean) fit
    # whatever the optimizer; the rest may be cut with an ellipsis.
    assert legend.index(f"{DIVERGED} diverged") + len(f"{DIVERGED} diverged") <= 76, legend
    assert legend.startswith(BOUND) or legend.startswith(f"no {BOUND} line")
