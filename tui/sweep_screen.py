"""The sweep view (``w``): K learning rates from the run's start, and where each one ended.

The range is the view's own field, at its top ("1e-4:3:64": K rates log-spaced from
FROM to TO, read by the engine's ``parse_sweep``; ``tab`` edits it, Enter sweeps again,
and a bad range is said in one line naming the field).  It is no setting of the run,
and the settings panel has no row to spare at 80×24 and 100×30 (the plot keeps 12
rows, W all of its own): the app remembers the last range for the next ``w``.  The K runs are the engine's batched
:class:`~engine.core.sweep.Sweep`, stepped in a thread worker a short chunk at a time
(the screen stays live and says how far it is); each run stops by a single run's
rules (threshold, max iter, divergence).

The plot shows, against ε on a log axis, each run's loss at its last iteration (``o``),
the loss the theory predicts there for plain full-batch gradient descent (``·``,
:func:`engine.core.sweep.predicted_last_losses`; exact on the quadratic, none for the
other optimizers or mini-batches), the stability bound of the optimizer in use
(``│``, from :func:`engine.core.theory.stability_bound`: 2/L, 2(1+μ)/L…; none where no
bound is known, and the legend says why) and each run that diverged as ``×`` at the
top: characters, not colours alone, so a 16-colour or ``NO_COLOR`` terminal shows the
same.  ``i`` plots the iterations each run took instead (converging takes about 1/ε).

← → move a cursor (``●``) over the K rates; Enter opens the one under it as the run
(its ε becomes the learning rate, and the run starts over, as the settings form
does); Escape closes the view with nothing changed.  Only the engine's Functions
batch: a student's run one at a time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input, Label, Static
from textual.worker import get_current_worker

from engine.config import Config, ConfigError, parse_sweep
from engine.i18n import N_, _

from .chart_canvas import Curve, Figure, HLine
from .comparison import RunBound, run_bound
from .formatting import axis_text, count_text, loss_text
from .keys import translate_bindings
from .loss_chart import figure_strips, log_ticks, ticks
from .prompts import OneShotScreen
from .states import BY_NAME

# The range until the student types another: 64 rates log-spaced from 1e-4, where the
# notebook's runs are capped, to 3, past 2/L = 1.53.
DEFAULT_SWEEP = "1e-4:3:64"

# The field's name in every message about its text.
FIELD = "sweep"
# The worker steps the sweep in chunks of about this many seconds: a closed view stops it
# within one, and the progress is posted no more often than PROGRESS_SECONDS.
CHUNK_SECONDS = 0.05
PROGRESS_SECONDS = 0.25
# The plot's characters: readable without colour.
MEASURED, PREDICTED, DIVERGED, CURSOR, BOUND = "o", "·", "×", "●", "│"
THRESHOLD = "─"
LOSS_VIEW, ITERATIONS_VIEW = "loss", "iterations"


RANGE_HINT = N_("FROM:TO:K, log-spaced · tab: edit · enter: sweep")
NO_ITERATION = N_("sweeping… no iteration yet")


def range_error(text: str) -> str | None:
    """Why the field's text is not a range, in one line naming the field; None when it is."""
    try:
        sweep_range(text)
    except ConfigError as error:
        return str(error)
    return None


def sweep_range(text: str) -> tuple[float, float, int]:
    """The field's text as the engine reads it (empty: the default range).

    Raises ``ConfigError`` naming the field ("sweep: K must be between 1 and …")."""
    parsed = parse_sweep(text.strip() or DEFAULT_SWEEP, FIELD)
    assert parsed  # not empty: the default stands in for an empty field
    return parsed


@dataclass(frozen=True)
class SweepPoints:
    """Where each run of the sweep is, as plain numpy (what the worker hands the screen)."""

    rates: tuple[float, ...]
    losses: np.ndarray
    """Each run's loss at its last iteration (nan before its first)."""
    iterations: np.ndarray
    statuses: tuple[str, ...]
    """The engine's ``Status`` value of each run: ready, running, converged, capped, diverged."""
    predicted: np.ndarray | None
    """The theory's loss at each run's last iteration (None: no exact theory for this run)."""
    iteration: int
    """Iterations of the longest run so far."""
    finished: bool

    @property
    def stopped(self) -> int:
        return sum(status in ("converged", "capped", "diverged") for status in self.statuses)

    @property
    def diverged(self) -> np.ndarray:
        return np.array([status == "diverged" for status in self.statuses], dtype=bool)


def points_of(sweep: Any, runs: Sequence[Any] | None = None) -> SweepPoints:
    """A sweep's state; ``runs`` (its results, once finished) adds the theory's prediction."""
    from engine.core.sweep import predicted_last_losses

    count = len(sweep.learning_rates)
    if runs is None:
        # While it runs: the loss at each run's parameters now (one batched forward).
        losses = sweep.final_losses()
        statuses = tuple(sweep.status(k).value for k in range(count))
        iterations = np.full(count, sweep.iteration)
        predicted = None
    else:
        losses = np.array([r.losses[-1] if r.iterations else math.nan for r in runs])
        statuses = tuple(r.status.value for r in runs)
        iterations = np.array([r.iterations for r in runs])
        predicted = predicted_last_losses(sweep, list(runs))
    return SweepPoints(
        rates=tuple(sweep.learning_rates),
        losses=np.asarray(losses, dtype=np.float64),
        iterations=iterations,
        statuses=statuses,
        predicted=None if predicted is None else np.asarray(predicted, dtype=np.float64),
        iteration=sweep.iteration,
        finished=runs is not None,
    )


def rate_label(log_rate: float) -> str:
    """An x label: the learning rate 10**log_rate, short ("0.0001", "0.01", "3")."""
    return f"{10**log_rate:.3g}"


def sweep_figure(
    points: SweepPoints,
    bound: RunBound,
    cursor: int,
    width: int,
    height: int,
    view: str = LOSS_VIEW,
    threshold: float | None = None,
) -> Figure | str:
    """The plot of ``points`` in ``width`` × ``height`` cells (a message when there is none)."""
    if width < 20 or height < 6:
        return ""
    log_rates = np.log10(np.asarray(points.rates, dtype=np.float64))
    x_limits = (float(log_rates.min()), float(log_rates.max()))
    if x_limits[1] - x_limits[0] < 1e-9:
        x_limits = (x_limits[0] - 0.5, x_limits[1] + 0.5)
    diverged = points.diverged
    started = points.iterations > 0
    if view == ITERATIONS_VIEW:
        values = points.iterations.astype(np.float64)
        measured = started
        log_y = True
    else:
        values = points.losses
        measured = started & ~diverged & np.isfinite(values)
        finite = values[measured]
        log_y = bool(len(finite)) and float(finite.min()) > 0 and finite.max() / finite.min() >= 10
    if not measured.any() and not diverged.any():
        return _(NO_ITERATION)
    shown = values[measured]
    if log_y:
        shown = np.log10(np.maximum(shown, 1e-300))
    predicted = None
    if view == LOSS_VIEW and points.predicted is not None:
        keep = np.isfinite(points.predicted) & ~diverged & (points.predicted > 0)
        predicted = (log_rates[keep], points.predicted[keep])
        if log_y:
            predicted = (predicted[0], np.log10(predicted[1]))
    lows = [float(shown.min())] if len(shown) else []
    highs = [float(shown.max())] if len(shown) else []
    line = None
    if view == LOSS_VIEW and threshold is not None and math.isfinite(threshold):
        if not log_y or threshold > 0:
            line = math.log10(threshold) if log_y else threshold
            lows.append(line)
            highs.append(line)
    low, high = (min(lows), max(highs)) if lows else (0.0, 1.0)
    if high - low < 1e-12 * max(abs(high), 1.0):
        pad = max(abs(high) * 0.01, 1e-3)
        low, high = low - pad, high + pad
    # A row of room at the top: the diverged runs' × sit there, over every other point.
    top = high + (high - low) / max(height - 4, 1)

    layers: list[Curve | HLine] = []
    if line is not None:
        layers.append(HLine(line, "red", THRESHOLD))
    if bound.value is not None and x_limits[0] <= math.log10(bound.value) <= x_limits[1]:
        x = math.log10(bound.value)
        layers.append(Curve(np.array([x, x]), np.array([low, top]), BOUND, "yellow"))
    if predicted is not None and len(predicted[0]):
        layers.append(Curve(predicted[0], np.clip(predicted[1], low, top), PREDICTED, "green"))
    if len(shown):
        layers.append(Curve(log_rates[measured], shown, MEASURED, "cyan", lines=False))
    if view == LOSS_VIEW and diverged.any():
        gone = log_rates[diverged]
        layers.append(Curve(gone, np.full(len(gone), top), DIVERGED, "red", lines=False))
    elif view == ITERATIONS_VIEW and diverged.any():
        gone = np.log10(np.maximum(points.iterations[diverged], 1))
        layers.append(Curve(log_rates[diverged], gone, DIVERGED, "red", lines=False))
    # The cursor, over everything: at its point (or its ×), at the bottom before it starts.
    k = min(max(cursor, 0), len(points.rates) - 1)
    if view == LOSS_VIEW and diverged[k]:
        y = top
    elif measured[k]:
        y = math.log10(max(values[k], 1e-300)) if log_y else values[k]
    elif view == ITERATIONS_VIEW and diverged[k]:
        y = math.log10(max(points.iterations[k], 1))
    else:
        y = low
    layers.append(Curve(log_rates[k : k + 1], np.array([y]), CURSOR, "white", lines=False))

    y_ticks = ticks(low, high, min(5, max(2, height // 4)))
    y_labels = [
        (count_text(10**v) if view == ITERATIONS_VIEW else axis_text(10**v))
        if log_y
        else axis_text(v)
        for v in y_ticks
    ]
    columns = max(width - 12, 4)
    x_ticks = log_ticks(*x_limits, min(6, max(2, columns // 8)))
    return Figure(
        x_limits=x_limits,
        y_limits=(low, top),
        x_ticks=[(x, rate_label(x)) for x in x_ticks],
        y_ticks=list(zip(y_ticks, y_labels, strict=True)),
        layers=layers,
    )


def bound_text(bound: RunBound, rates: Sequence[float]) -> str:
    """The legend's word on the bound line."""
    if bound.value is None:
        return _("no {BOUND} line: {why_none}").format(BOUND=BOUND, why_none=bound.why_none)
    text = f"{BOUND} {bound.name} = {bound.value:.4g}"
    if not (min(rates) <= bound.value <= max(rates)):
        text += " " + _("(off the range)")
    return text


def legend_text(
    points: SweepPoints | None, bound: RunBound, rates: Sequence[float], view: str
) -> str:
    """What each character of the plot is; the bound first: a narrow screen cuts the end."""
    # Each word through _() outside the f-strings: Babel does not extract inside them.
    measured = _("iterations") if view == ITERATIONS_VIEW else _("loss")
    parts = [bound_text(bound, rates), DIVERGED + " " + _("diverged"), MEASURED + " " + measured]
    if view == LOSS_VIEW:
        if points is not None and points.finished and points.predicted is None:
            parts.append(_("no theory (plain GD only)"))
        else:
            parts.append(PREDICTED + " " + _("theory (plain GD)"))
    return "  ".join(parts)


def cursor_text(points: SweepPoints | None, rates: Sequence[float], k: int) -> str:
    """The run under the cursor: its ε, how it ended, its last loss and the theory's."""
    rate = f"{CURSOR} ε {rates[k]:.4g}"
    if points is None:
        return rate
    status = points.statuses[k]
    parts = [rate, _(BY_NAME[status].word) if status in BY_NAME else status]
    if points.iterations[k]:
        parts.append(_("{count} it.").format(count=points.iterations[k]))
    if status != "diverged" and math.isfinite(points.losses[k]):
        parts.append(_("loss {loss}").format(loss=loss_text(float(points.losses[k]))))
    if points.predicted is not None and math.isfinite(points.predicted[k]):
        parts.append(_("theory {loss}").format(loss=loss_text(float(points.predicted[k]))))
    return "  ".join(parts)


def progress_text(points: SweepPoints | None, count: int, max_iter: int) -> str:
    if points is None:
        return _("sweeping {count} learning rates…").format(count=count)
    return _(
        "sweeping… iteration {iteration:,} of at most {max_iter:,} · "
        "{stopped} of {count} runs stopped"
    ).format(iteration=points.iteration, max_iter=max_iter, stopped=points.stopped, count=count)


class SweepProgress(Message):
    """The worker's news: where the runs are (``points.finished``: the last one)."""

    def __init__(self, points: SweepPoints) -> None:
        super().__init__()
        self.points = points


class SweepChart(Widget):
    """The plot, drawn by :mod:`tui.chart_canvas` once per change of the data or the size."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.points: SweepPoints | None = None
        self.bound = RunBound(None, None, "")
        self.cursor = 0
        self.view = LOSS_VIEW
        self.threshold: float | None = None
        self._drawn: tuple[tuple[int, int], list[Strip]] | None = None

    def show(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self._drawn = None
        self.refresh()

    def figure(self) -> Figure | str:
        """The figure at the widget's size (tests read its layers)."""
        if self.points is None:
            return _(NO_ITERATION)
        width, height = self.size
        return sweep_figure(
            self.points, self.bound, self.cursor, width, height, self.view, self.threshold
        )

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn = None

    def render_line(self, y: int) -> Strip:
        rows = self._rows()
        return rows[y] if y < len(rows) else Strip.blank(self.size.width, self.rich_style)

    def _rows(self) -> list[Strip]:
        width, height = self.size
        if self._drawn is not None and self._drawn[0] == (width, height):
            return self._drawn[1]
        base = self.rich_style
        figure = self.figure()
        if isinstance(figure, str):
            italic = base + Style(italic=True)
            strips = [Strip([Segment(figure, italic)]).adjust_cell_length(width, base)]
        else:
            strips = figure_strips(figure, width, height, base)
        self._drawn = ((width, height), strips)
        return strips

    def text(self) -> str:
        """The plot as plain text (for tests and the README)."""
        return "\n".join(strip.text for strip in self._rows())


class SweepScreen(OneShotScreen):
    """Runs the sweep of ``experiment``'s settings over a range; dismissed with the ε chosen
    (Enter) or None (Escape)."""

    # The plot's keys act while the range field is not being edited (tab edits it).
    AUTO_FOCUS = None

    BINDINGS = [
        Binding("tab", "edit_range", N_("Range"), show=False),
        Binding("left", "move(-1)", "ε−", show=False),
        Binding("right", "move(1)", "ε+", show=False),
        Binding("home", "move_to(0)", N_("first"), show=False),
        Binding("end", "move_to(-1)", N_("last"), show=False),
        Binding("enter", "choose", N_("Run this ε"), show=False),
        Binding("i", "toggle_view", N_("Iterations"), show=False),
        Binding("escape", "back", N_("Back"), show=False),
        Binding("w,q", "dismiss", N_("Back"), show=False),
    ]

    def __init__(self, experiment: Any, text: str, learning_rate: float) -> None:
        """``text``: the range (FROM:TO:K) to sweep first, already checked by ``sweep_range``."""
        super().__init__(id="sweep-screen")
        translate_bindings(self._bindings)
        self.config: Config = experiment.config
        self.problem = experiment.problem
        self.learning_rate = learning_rate
        self.bound = run_bound(self.config, self.problem, experiment.theory)
        self.error: str | None = None
        self.view = LOSS_VIEW
        self.worker: Any = None
        """Cancelled when the view closes (Textual cancels a removed screen's workers) or
        another range is swept (it is exclusive): its thread stops within a chunk."""
        self.text = text.strip() or DEFAULT_SWEEP
        """The range swept now, as typed (the app keeps it for the next w)."""
        self._use_range(sweep_range(self.text))

    def _use_range(self, sweep: tuple[float, float, int]) -> None:
        from engine.core.sweep import sweep_rates

        self.range = sweep
        self.rates = sweep_rates(*sweep)
        self.points: SweepPoints | None = None
        self.error = None
        # The cursor starts on the rate nearest the run's (in log distance).
        logs = np.abs(np.log10(np.asarray(self.rates)) - math.log10(self.learning_rate))
        self.cursor = int(np.argmin(logs))

    @property
    def finished(self) -> bool:
        return self.points is not None and self.points.finished

    def compose(self) -> ComposeResult:
        with Vertical(id="sweep-box") as box:
            box.border_subtitle = _("←→ ε · enter: run it · i: iterations · tab: range · esc: back")
            with Horizontal(id="sweep-range-row"):
                yield Label(_("range") + " ", id="sweep-range-label")
                field = Input(self.text, id="sweep-range", compact=True, select_on_focus=True)
                field.cursor_blink = False  # a blink writes to the terminal twice a second
                yield field
                yield Static(_(RANGE_HINT), id="sweep-range-hint")
            yield SweepChart(id="sweep-chart")
            yield Static("", id="sweep-status")
            yield Static("", id="sweep-legend")

    def on_mount(self) -> None:
        self._start()

    @property
    def _chart(self) -> SweepChart:
        return self.query_one("#sweep-chart", SweepChart)

    @property
    def _field(self) -> Input:
        return self.query_one("#sweep-range", Input)

    def _start(self) -> None:
        """Sweep ``self.rates`` from the start (a sweep going on is cancelled)."""
        start, stop, count = self.range
        box = self.query_one("#sweep-box")
        optimizer = self.config.optimizer
        box.border_title = _("Sweep · {count} ε from {start:g} to {stop:g} · {optimizer}").format(
            count=count, start=start, stop=stop, optimizer=optimizer
        )
        self._chart.show(
            points=None, bound=self.bound, cursor=self.cursor, threshold=self.config.threshold
        )
        self._show_texts()
        self.worker = self._run_sweep(self.rates)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep", name="sweep")
    def _run_sweep(self, rates: tuple[float, ...]) -> None:
        from engine.core.sweep import Sweep

        worker = get_current_worker()
        sweep = Sweep(self.config, rates, self.problem)
        size, posted = 16, time.perf_counter()
        while not sweep.finished:
            if worker.is_cancelled:
                return  # the view was closed, or another range asked for
            began = time.perf_counter()
            sweep.run(size)
            now = time.perf_counter()
            # Chunks of about CHUNK_SECONDS, whatever K and the data cost an iteration.
            if now - began < CHUNK_SECONDS / 2:
                size = min(size * 2, 1 << 16)
            elif now - began > CHUNK_SECONDS * 2:
                size = max(size // 2, 1)
            if now - posted >= PROGRESS_SECONDS and not sweep.finished:
                self.post_message(SweepProgress(points_of(sweep)))
                posted = now
        if not worker.is_cancelled:
            self.post_message(SweepProgress(points_of(sweep, sweep.results())))

    def on_sweep_progress(self, message: SweepProgress) -> None:
        if self.finished or message.points.rates != self.rates:
            return  # overtaken by the last one, or from the range swept before
        self.points = message.points
        self._chart.show(points=self.points)
        self._show_texts()

    def on_worker_state_changed(self, event: Any) -> None:
        if event.state.name == "ERROR" and event.worker is self.worker:
            error = event.worker.error
            self.error = _("the sweep failed: {error}").format(
                error=f"{type(error).__name__}: {error}"
            )
            self._show_texts()

    def _show_texts(self) -> None:
        count = len(self.rates)
        typed = range_error(self._field.value)
        if typed is not None:
            status = f"✗ {typed}"  # one line, naming the field: "sweep: K must be …"
        elif self.error is not None:
            status = self.error
        elif self.finished:
            status = cursor_text(self.points, self.rates, self.cursor)
        else:
            progress = progress_text(self.points, count, self.config.max_iter)
            status = f"{progress}   {cursor_text(None, self.rates, self.cursor)}"
        self.query_one("#sweep-status", Static).update(Text(status))
        legend = legend_text(self.points, self.bound, self.rates, self.view)
        self.query_one("#sweep-legend", Static).update(Text(legend, style="dim"))

    # -- the range field ------------------------------------------------------------------

    def action_edit_range(self) -> None:
        self._field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._field.set_class(range_error(event.value) is not None, "-invalid")
        self._show_texts()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the field: sweep the range typed (a bad one is said, naming the field)."""
        event.stop()
        if range_error(event.value) is not None:
            self.app.bell()
            return
        self.set_focus(None)
        self.text = event.value.strip() or DEFAULT_SWEEP
        self._use_range(sweep_range(self.text))
        self._start()

    async def action_back(self) -> None:
        """Escape: out of the field (its text back to the range swept), else out of the view."""
        if self._field.has_focus:
            self._field.value = self.text
            self.set_focus(None)
            return
        await self.action_dismiss(None)

    # -- keys ---------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        self.action_move_to(min(max(self.cursor + step, 0), len(self.rates) - 1))

    def action_move_to(self, index: int) -> None:
        self.cursor = index % len(self.rates)
        self._chart.show(cursor=self.cursor)
        self._show_texts()

    def action_toggle_view(self) -> None:
        self.view = ITERATIONS_VIEW if self.view == LOSS_VIEW else LOSS_VIEW
        self._chart.show(view=self.view)
        self._show_texts()

    async def action_choose(self) -> None:
        await self.action_dismiss(self.rates[self.cursor])
