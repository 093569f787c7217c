"""The loss chart's views, pressed as a user presses them: g the gap to the optimum with the
theory's predicted rate, k the iterations on a log scale, z the last 1000 or 100 iterations."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from textual.app import App, ComposeResult
from tui_support import CONFIG, asyncio_test, screen_text, settle

from engine.config import Config
from engine.core.problem import Problem
from tui import presenter
from tui.app import AmalApp
from tui.chart_canvas import Figure, Note, draw
from tui.help_screen import HelpScreen
from tui.keys import KEYS, help_rows
from tui.loss_chart import (
    AT_ROUNDING,
    GAP_NONE,
    GAP_UNKNOWN,
    LossChart,
    log_ticks,
    rate_text,
    window_indices,
)

COMPARED = Config(tensorboard=False, init_seed=42, max_iter=1001, compare=(0.0001, 0.01, 0.5))


def chart_rows(chart: LossChart) -> list[str]:
    """The chart's rows as text (inside its border)."""
    return [
        "".join(segment.text for segment in chart.render_line(y)) for y in range(chart.size.height)
    ]


def _frame(row: str) -> int:
    """Where the plot's left frame is on a row (│, or ┤ at a tick, ├ at a line)."""
    return min(i for i in (row.find("┤"), row.find("├"), row.find("│")) if i >= 0)


def y_labels(rows: list[str]) -> list[str]:
    """The y axis's labels, top first: the text before the frame's ┤ (or ├)."""
    return [row[: _frame(row)].strip() for row in rows[1:-2] if row[: _frame(row)].strip()]


def x_labels(rows: list[str]) -> list[str]:
    return rows[-1].split()


def plot(rows: list[str]) -> str:
    """The inside of the plot's frame."""
    return "\n".join(row[_frame(row) + 1 : -1] for row in rows[1:-2])


async def _converged(pilot, config=CONFIG) -> LossChart:
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)
    return pilot.app.query_one(LossChart)


async def _press(pilot, key: str) -> None:
    await pilot.press(key)
    await pilot.pause()


# -- g: the gap to the optimum -------------------------------------------------------------


@asyncio_test
async def test_g_shows_the_gap_on_a_log_scale_with_the_predicted_rate():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        chart = await _converged(pilot)
        assert app.session.descent.iteration == 1475
        await _press(pilot, "g")
        assert chart.border_title.startswith("Loss − loss* · log scale")
        # ρ = max|1 − ελ| = 1 − 0.01 λ_min on the toy problem (λ_min = 0.1617).
        assert "·· ρ=0.9984" in chart.border_subtitle
        assert "optimum" not in chart.border_subtitle  # a gap of 0 has no place on a log axis
        rows = chart_rows(chart)
        labels = [float(label) for label in y_labels(rows)]
        # From the first gap, 13.68 − 0.6971, down to the threshold's, 0.70 − 0.6971 = 0.0029
        # (its line is the bottom one): evenly spaced in their logarithm.
        assert labels[0] == pytest.approx(12.99, rel=0.01)
        assert labels[-1] == pytest.approx(0.70 - app.experiment.theory.optimal_loss, rel=0.01)
        ratios = [a / b for a, b in zip(labels, labels[1:], strict=False)]
        assert max(ratios) / min(ratios) < 1.05
        assert x_labels(rows)[0] == "1" and x_labels(rows)[-1] == "1475"
        # The predicted line: dots apart from the curve, early on where faster modes still
        # add to the gap (the curve is above the line there).
        assert "·" in plot(rows)
        await _press(pilot, "g")
        assert chart.border_title.startswith("Loss · linear")
        assert "·· optimum" in chart.border_subtitle


@asyncio_test
async def test_the_prediction_meets_the_curve_at_the_anchor_and_lies_under_it_before():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        chart = await _converged(pilot)
        await _press(pilot, "g")
        lines = plot(chart_rows(chart)).splitlines()
        # Column by column, the dot of the prediction is never above the curve's top dot: the
        # gap is a sum of decaying modes, the slowest of which the line follows.
        for column in range(len(lines[0]) - 1):
            cells = [line[column] for line in lines]
            curve = [r for r, c in enumerate(cells) if "⠀" < c <= "⣿"]
            dots = [r for r, c in enumerate(cells) if c == "·"]
            if curve and dots:
                assert min(dots) >= min(curve), column


@pytest.mark.parametrize(
    "config, note",
    [
        (CONFIG.replace(optimizer="momentum"), "no rate for momentum (plain SGD)"),
        (CONFIG.replace(optimizer="adam"), "no rate for adam (plain SGD)"),
        (CONFIG.replace(batch_size=10), "no rate for mini-batches of 10"),
    ],
    ids=["momentum", "adam", "mini-batches"],
)
@asyncio_test
async def test_the_chart_says_when_no_rate_is_predicted(config, note):
    app = AmalApp(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press(*"sssss")
        await settle(pilot)
        chart = app.query_one(LossChart)
        await _press(pilot, "g")
        rows = chart_rows(chart)
        assert rows[1].rstrip("│").endswith(note)  # the plot's top right corner
        assert "ρ=" not in chart.border_subtitle
        assert "Loss − loss*" in chart.border_title


@asyncio_test
async def test_the_whole_batch_in_batches_still_gets_its_rate():
    app = AmalApp(CONFIG.replace(batch_size=50))  # n = 50: every batch is the whole batch
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press(*"sssss")
        await settle(pilot)
        chart = app.query_one(LossChart)
        await _press(pilot, "g")
        assert "ρ=0.9984" in chart.border_subtitle
        assert "no rate" not in "\n".join(chart_rows(chart))


@asyncio_test
async def test_without_a_theory_the_gap_view_says_why_in_one_line(monkeypatch):
    def fails(self):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(Problem, "theory", property(fails))
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press(*"sss")
        await settle(pilot)
        assert app.experiment.theory is None
        chart = app.query_one(LossChart)
        await _press(pilot, "g")
        rows = [row.strip() for row in chart_rows(chart) if row.strip()]
        assert rows == [GAP_UNKNOWN]
        # The other views still draw the loss.
        await _press(pilot, "g")
        await _press(pilot, "k")
        assert "┤" in "\n".join(chart_rows(chart))


# -- k: log iterations, z: the last iterations ----------------------------------------------


@asyncio_test
async def test_k_puts_the_iterations_on_a_log_scale():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        chart = await _converged(pilot)
        await _press(pilot, "k")
        assert "· log x" in chart.border_title
        rows = chart_rows(chart)
        assert x_labels(rows) == ["1", "10", "100", "1000"]
        # Decades evenly apart: the ticks ┬ of 1, 10, 100 and 1000.
        ticks = [i for i, c in enumerate(rows[-2]) if c == "┬"]
        gaps = np.diff(ticks)
        assert len(ticks) == 4 and max(gaps) - min(gaps) <= 1
        await _press(pilot, "k")
        assert "log x" not in chart.border_title
        assert x_labels(chart_rows(chart))[-1] == "1475"


@asyncio_test
async def test_z_zooms_on_the_last_1000_then_100_iterations_then_all():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        chart = await _converged(pilot)
        before = [float(label) for label in y_labels(chart_rows(chart))]
        await _press(pilot, "z")
        assert "· last 1000" in chart.border_title
        rows = chart_rows(chart)
        assert x_labels(rows)[0] == "476" and x_labels(rows)[-1] == "1475"
        await _press(pilot, "z")
        assert "· last 100" in chart.border_title
        rows = chart_rows(chart)
        assert x_labels(rows)[0] == "1376" and x_labels(rows)[-1] == "1475"
        # The y axis fits the window: the loss of the last 100 iterations, not 13.68.
        assert float(y_labels(rows)[0]) < 0.71 < before[0]
        await _press(pilot, "z")
        assert "last" not in chart.border_title
        assert x_labels(chart_rows(chart))[0] == "1"


@asyncio_test
async def test_the_views_combine():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        chart = await _converged(pilot)
        await pilot.press("g", "k", "z", "z")
        await pilot.pause()
        assert chart.border_title.startswith("Loss − loss* · log scale · last 100 · log x")
        rows = chart_rows(chart)
        assert x_labels(rows)[0] == "1376" and x_labels(rows)[-1] == "1475"
        assert "ρ=0.9984" in chart.border_subtitle


# -- compare mode --------------------------------------------------------------------------


@asyncio_test
async def test_each_view_works_while_comparing():
    app = AmalApp(COMPARED)
    async with app.run_test(size=(100, 30)) as pilot:
        chart = await _converged(pilot)
        assert [d.iteration for d in app.descents] == [1001, 1001, 30]
        await _press(pilot, "g")
        # Each learning rate's marker with its own ρ in the legend (the table names its ε).
        assert chart.border_subtitle.startswith("+ ρ=0.999984  x ρ=0.9984  o ρ=0.919")
        await _press(pilot, "g")
        assert chart.border_subtitle.startswith("+ 0.0001  x 0.01  o 0.5")
        await _press(pilot, "g")
        rows = chart_rows(chart)
        assert y_labels(rows) and "·" in plot(rows)
        await _press(pilot, "k")
        assert x_labels(chart_rows(chart)) == ["1", "10", "100", "1000"]
        await _press(pilot, "k")
        await _press(pilot, "z")
        await _press(pilot, "z")
        rows = chart_rows(chart)
        assert "last 100" in chart.border_title
        assert x_labels(rows)[0] == "902" and x_labels(rows)[-1] == "1001"
        # ε = 0.5 stopped at 30: out of the window, named in the legend only.
        assert "o" not in plot(rows) and "+" in plot(rows) and "x" in plot(rows)


@asyncio_test
async def test_comparing_momentum_says_there_is_no_rate():
    app = AmalApp(COMPARED.replace(optimizer="momentum", max_iter=50))
    async with app.run_test(size=(100, 30)) as pilot:
        chart = await _converged(pilot)
        await _press(pilot, "g")
        assert chart_rows(chart)[1].rstrip("│").endswith("no rate for momentum (plain SGD)")
        assert "ρ=" not in chart.border_subtitle


# -- the keys ------------------------------------------------------------------------------


def test_no_two_bindings_share_a_key():
    keys = [key.strip() for binding in KEYS for key in binding.key.split(",")]
    assert len(keys) == len(set(keys)), sorted(keys)


def test_the_help_lists_the_views():
    rows = dict(help_rows())
    assert "gap" in rows["g"] and "ρ = max|1 − ελᵢ|" in rows["g"]
    assert "logarithmic" in rows["k"] and "x axis" in rows["k"]
    assert "last 1000" in rows["z"] and "last 100" in rows["z"]


@asyncio_test
async def test_the_views_keys_are_in_the_help_screen_at_80x24():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "gap loss − loss*" in text and "last 1000" in text
        await _press(pilot, "escape")


# -- the pieces, without the app -----------------------------------------------------------


class ChartApp(App):
    def __init__(self, losses, optimum, gap=None) -> None:
        super().__init__()
        self.data = (np.asarray(losses, dtype=np.float64), optimum, gap)

    def compose(self) -> ComposeResult:
        yield LossChart(id="chart")

    def on_mount(self) -> None:
        losses, optimum, gap = self.data
        chart = self.query_one(LossChart)
        chart.gap_view = True
        chart.show(losses, 0.7, None, optimum, gap=gap)


def _gap(rate=0.9, resolution=1e-6):
    return presenter.GapTheory((rate,), None, resolution)


@pytest.mark.parametrize(
    "losses, optimum, gap, message",
    [
        ([3.0, 2.0, 1.5], None, None, GAP_UNKNOWN),
        ([3.0, 2.0, 1.5], math.nan, None, GAP_UNKNOWN),
        ([1.0, 1.0, 1.0], 1.0, _gap(), GAP_NONE),
        ([1.0, 0.9999], 1.0, _gap(), GAP_NONE),
    ],
    ids=["no optimum", "nan optimum", "at the optimum", "under it by rounding"],
)
@asyncio_test
async def test_a_gap_with_no_place_on_a_log_scale_is_said(losses, optimum, gap, message):
    app = ChartApp(losses, optimum, gap)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        rows = [row.strip() for row in chart_rows(app.query_one(LossChart)) if row.strip()]
        assert rows == [message]


@asyncio_test
async def test_a_gap_at_rounding_is_said_and_the_prediction_anchored_above_it():
    losses = np.concatenate([1.0 + 0.5 ** (2 * np.arange(40)), np.full(20, 1.0 + 1e-9)])
    # The prediction goes by 0.36 an iteration where the gap goes by 0.25: told apart.
    app = ChartApp(losses, 1.0, _gap(rate=0.6, resolution=1e-6))
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        rows = chart_rows(app.query_one(LossChart))
        assert rows[1].rstrip("│").endswith(AT_ROUNDING)
        assert "·" in plot(rows)


def test_the_gap_theory_of_the_runs_on_screen():
    problem = SimpleNamespace(X=np.zeros((50, 13)))
    theory = SimpleNamespace(optimal_loss=0.7, hessian_eigenvalues=np.array([0.0, 0.5, 1.0]))
    views = [SimpleNamespace(learning_rate=0.1), SimpleNamespace(learning_rate=1.5)]
    gap = presenter.gap_theory(views, CONFIG, theory, problem)
    # The zero eigenvalue is flat: ρ from 0.5 and 1 only.
    assert gap.rates == (pytest.approx(0.95), pytest.approx(0.5)) and gap.no_rate is None
    assert gap.resolution > 0
    momentum = presenter.gap_theory(views, CONFIG.replace(optimizer="momentum"), theory, problem)
    assert momentum.rates == (None, None) and "momentum" in momentum.no_rate
    unknown = presenter.gap_theory(views, CONFIG, None, problem)
    assert unknown.rates == (None, None) and unknown.no_rate == "no rate: no theory of the data"


def test_rho_is_written_with_the_digits_that_tell_it_from_one():
    assert rate_text(0.9983826821616536) == "ρ=0.9984"
    assert rate_text(0.9999838268216165) == "ρ=0.999984"
    assert rate_text(0.5) == "ρ=0.500"
    assert rate_text(1.0469) == "ρ=1.047"


def test_a_log_axis_of_iterations_samples_the_first_ones_too():
    indices = window_indices(0, 10**6, 100, log=True)
    assert indices[0] == 0 and indices[-1] == 10**6 - 1
    assert np.all(np.diff(indices) > 0) and len(indices) <= 100
    assert np.sum(indices < 100) > 20  # a linear sampling would have only the first
    window = window_indices(900, 1000, 10, log=False)
    assert window[0] == 900 and window[-1] == 999


def test_log_ticks_are_the_decades_when_there_are_two():
    assert log_ticks(0.0, math.log10(1475), 5) == [0.0, 1.0, 2.0, 3.0]
    assert log_ticks(0.0, 7.0, 4) == [0.0, 2.0, 5.0, 7.0]
    assert log_ticks(0.0, math.log10(1475), 2) == [0.0, 3.0]  # 1 and 1000
    assert len(log_ticks(2.6, 3.1, 5)) == 5  # within a decade: evenly


def test_a_note_is_cut_to_the_plot_with_an_ellipsis():
    figure = Figure((0, 1), (0, 1), [], [(0.0, "0")], [Note("a long note here", None)])
    rows = ["".join(text for text, _ in row) for row in draw(figure, width=12, height=6)]
    assert rows[1] == " │a long n…│"  # 9 columns inside the frame


@pytest.mark.parametrize("log_iterations", [False, True], ids=["linear x", "log x"])
@asyncio_test
async def test_the_predicted_line_falls_by_rho_squared_an_iteration(log_iterations):
    # A gap of 10 · 0.5^k: the prediction (ρ = 0.9) falls slower, by 0.81 an iteration, from
    # the last point; the figure's points, not the cells, so that the slope is exact.
    losses = 10 * 0.5 ** np.arange(60)  # an optimum of 0: the gaps are exact
    app = ChartApp(losses, 0.0, _gap(rate=0.9, resolution=0.0))
    async with app.run_test(size=(60, 20)) as pilot:
        chart = app.query_one(LossChart)
        chart.log_iterations = log_iterations
        await pilot.pause()
        figure = chart._figure(60, 18)
        (line,) = [layer for layer in figure.layers if getattr(layer, "marker", "") == "·"]
        iterations = 10**line.x if log_iterations else line.x
        slope = np.polyfit(iterations, line.y, 1)[0]
        assert slope == pytest.approx(2 * math.log10(0.9), rel=1e-9)
        # Through the anchor, the last iteration's gap 10 · 0.5^59, where it is on the chart.
        at_anchor = np.polyval(np.polyfit(iterations, line.y, 1), 60)
        assert at_anchor == pytest.approx(math.log10(10 * 0.5**59), rel=1e-9)
