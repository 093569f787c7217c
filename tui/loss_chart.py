"""The loss against the iteration, with the threshold and the optimum as lines.

One run is drawn in braille with its current point (and its test loss in dots);
a comparison draws one curve per learning rate, each with its own marker
character (``+``, ``x``, ``o``…) named in the legend, so a 16-colour or
``NO_COLOR`` terminal tells them apart as well as a colour one.

Only finite numbers reach the drawing (nan, inf and values near the float limits
have no place on an axis), and never more points than the chart has columns to
show: a run of 10⁷ iterations costs the same to draw as one of 10³.

Views, each a key (``tui/keys.py``): the gap to the optimum ``loss − loss*`` on a
log scale (``g``), with the rate the theory predicts for plain full-batch gradient
descent drawn beside it; the iterations on a log scale (``k``); the last 1000 or
100 iterations only (``z``).  They combine, in one run and in a comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from engine.i18n import N_, _

from .chart_canvas import BRAILLE, Curve, Figure, HLine, Note, draw
from .formatting import axis_text, count_text
from .text_block import refresh_rows

# Beyond this, the axis arithmetic loses the plot; a loss that large has diverged anyway.
LINEAR_LIMIT = 1e30
# The log axis of a loss of exactly 0: a decade under the smallest positive loss shown.
LOG_FLOOR = 1e-12
# Braille markers put 2 points in each column.
POINTS_PER_COLUMN = 2

# The curves of a comparison: a marker character (and a colour) per learning rate.
COMPARE_MARKERS = ("+", "x", "o", "*", "#", "%", "@", "&")
COMPARE_COLORS = ("cyan", "magenta", "yellow", "blue", "green", "white", "cyan", "magenta")
# The optimum is a dotted line: a dot every DOT_SPACING columns, told apart from the threshold's.
OPTIMUM_MARKER, DOT_SPACING = "·", 2
CURRENT_MARKER = "●"
MESSAGE_STYLE = Style(italic=True)
# The gap view's predicted line: a dot every DOT_SPACING columns, like the optimum's line
# (which that view has no room for: the optimum is a gap of 0, at −∞ on its log scale).
PREDICTED_MARKER, PREDICTED_COLOR = "·", "yellow"
# What z cycles through: every iteration, then the last 1000, then the last 100.
ZOOMS: tuple[int | None, ...] = (None, 1000, 100)
# One line each, short enough for the chart at 80×24.
GAP_UNKNOWN = N_("gap view: no loss* (no theory of the data)")
GAP_NONE = N_("gap view: loss − loss* ≤ 0 (rounding)")
# Said in the gap view once a run's gap has reached the rounding of its loss.
AT_ROUNDING = N_("the gap is at float rounding")


def compare_marker(index: int) -> str:
    return COMPARE_MARKERS[index % len(COMPARE_MARKERS)]


@dataclass(frozen=True)
class Series:
    """What is drawn for one curve: iterations (1-based) and values already made safe."""

    x: np.ndarray
    y: np.ndarray
    marker: str
    color: str
    diverged: bool = False
    """The run's last loss is not finite: it left the chart."""
    index: int = 0
    """Which of the comparison's runs it is (0 for one run)."""


def sample_indices(count: int, points: int) -> np.ndarray:
    """At most ``points`` indices spread evenly over ``range(count)``, first and last included."""
    if count <= 0 or points <= 0:
        return np.empty(0, dtype=np.int64)
    if count <= points:
        return np.arange(count, dtype=np.int64)
    indices = np.linspace(0, count - 1, max(points, 2)).round().astype(np.int64)
    # Sorted already: drop repeats by hand (np.unique imports numpy.ma on first use, ~0.1 s
    # of CPU in the middle of a watched run).
    return indices[np.concatenate(([True], indices[1:] != indices[:-1]))]


def finite_count(losses: np.ndarray) -> int:
    """How many losses from the start are finite.

    A run stops at its first non-finite loss, so only the last one can be;
    the check is O(1), not a pass over the whole history.
    """
    count = len(losses)
    while count and not math.isfinite(float(losses[count - 1])):
        count -= 1
    return count


def chart_values(values: np.ndarray, log_scale: bool) -> np.ndarray:
    """Values made safe to draw: log10 of the loss (clipped above 0), or the clipped loss."""
    values = np.asarray(values, dtype=np.float64)
    if not log_scale:
        return np.clip(values, -LINEAR_LIMIT, LINEAR_LIMIT)
    positive = values[values > 0]
    floor = max(float(positive.min()) / 10, 1e-300) if len(positive) else LOG_FLOOR
    return np.log10(np.clip(values, floor, None))


def ticks(low: float, high: float, count: int) -> list[float]:
    return [float(v) for v in np.linspace(low, high, max(count, 2))]


def window_indices(start: int, count: int, points: int, log: bool) -> np.ndarray:
    """At most ``points`` indices of ``range(start, count)``, both ends included: spread
    evenly, or on a ``log`` axis of the iteration (index + 1) evenly in its logarithm."""
    if count - start <= points or not log:
        return start + sample_indices(count - start, points)
    iterations = np.geomspace(start + 1, count, max(points, 2)).round().astype(np.int64)
    indices = np.clip(iterations - 1, start, count - 1)
    return indices[np.concatenate(([True], indices[1:] != indices[:-1]))]


def log_ticks(low: float, high: float, count: int) -> list[float]:
    """Ticks of a log10 axis from ``low`` to ``high``: the powers of ten in it when there
    are two or more (at most ``count`` of them, the first and the last kept), else evenly."""
    decades = list(range(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1))
    if len(decades) < 2:
        return ticks(low, high, count)
    kept = np.linspace(0, len(decades) - 1, min(max(count, 2), len(decades))).round()
    return [float(decades[int(i)]) for i in kept]


def rate_text(rate: float) -> str:
    """ρ with the digits that tell it from 1: two significant ones of 1 − ρ."""
    distance = abs(1.0 - rate)
    decimals = 3 if distance == 0 else min(max(3, math.ceil(-math.log10(distance)) + 1), 10)
    return f"ρ={rate:.{decimals}f}"


def figure_strips(figure: Figure, width: int, height: int, base: Style) -> list[Strip]:
    """A figure drawn as a widget's lines: each run of characters in its colour over ``base``
    (one Style per colour, made once)."""
    styles: dict[str | None, Style] = {None: base}
    strips = []
    for runs in draw(figure, width, height):
        segments = []
        for text, color in runs:
            style = styles.get(color)
            if style is None:
                style = styles[color] = base + Style(color=color)
            segments.append(Segment(text, style))
        strips.append(Strip(segments).adjust_cell_length(width, base))
    return strips


class LossChart(Widget):
    """``show`` hands it one run, ``show_comparison`` several; it draws when Textual renders it.

    The figure is drawn once per change (of the data, the scale or the size) by
    :mod:`tui.chart_canvas`, then handed to Textual row by row.
    """

    log_scale: reactive[bool] = reactive(False)
    gap_view: reactive[bool] = reactive(False)
    """Draw loss − loss* on a log scale (whatever ``log_scale`` says) with the predicted rate."""
    log_iterations: reactive[bool] = reactive(False)
    zoom: reactive[int | None] = reactive(None)
    """Show only the last ``zoom`` iterations (None: all)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._curves: tuple[np.ndarray, ...] = (np.empty(0),)
        self._labels: tuple[str, ...] = ()
        self._test_losses: np.ndarray | None = None
        self._threshold: float | None = None
        self._optimum: float | None = None
        # The gap view's theory (a ``tui.presenter.GapTheory``): ρ of each curve, why there
        # is none, and the prediction, all from engine.core.theory (which this module
        # cannot import: the first screen comes before torch).
        self._gap: Any = None
        self._data = ""
        self._drawn: tuple[tuple[int, int], list[Strip]] | None = None
        # The (title, subtitle) last set on the border.
        self._titles: tuple[str | None, str | None] = (None, None)
        self._update_titles()

    @property
    def comparing(self) -> bool:
        return bool(self._labels)

    def show(
        self,
        losses: np.ndarray,
        threshold: float | None,
        test_losses: np.ndarray | None = None,
        optimum: float | None = None,
        *,
        data: str = "",
        gap: Any = None,
    ) -> None:
        """The whole run's losses (read-only, never changed afterwards), the threshold, the
        test loss of each iteration when the data have a test part, the least-squares optimum,
        a line that says what the data are (in the title), and what the gap view needs of
        the theory (a ``tui.presenter.GapTheory``)."""
        self._data = data
        self._curves = (losses,)
        self._labels = ()
        self._test_losses = test_losses
        self._threshold = threshold
        self._optimum = optimum
        self._set_gap(gap)
        self._update_titles()
        self._redraw()

    def show_comparison(
        self,
        curves: Sequence[tuple[str, np.ndarray]],
        threshold: float | None,
        optimum: float | None = None,
        *,
        data: str = "",
        gap: Any = None,
    ) -> None:
        """One (label, losses) per learning rate, drawn with ``compare_marker(i)``."""
        self._data = data
        self._curves = tuple(losses for _, losses in curves)
        self._labels = tuple(label for label, _ in curves)
        self._test_losses = None
        self._threshold = threshold
        self._optimum = optimum
        self._set_gap(gap)
        self._update_titles()
        self._redraw()

    def _set_gap(self, gap: Any) -> None:
        self._gap = gap

    def cycle_zoom(self) -> None:
        """All iterations → the last 1000 → the last 100 → all."""
        self.zoom = ZOOMS[(ZOOMS.index(self.zoom) + 1) % len(ZOOMS)]

    def _view_changed(self) -> None:
        self._update_titles()
        self._redraw()

    watch_log_scale = watch_gap_view = watch_log_iterations = watch_zoom = _view_changed

    @property
    def _gap_known(self) -> bool:
        return self._optimum is not None and math.isfinite(self._optimum)

    def _rate(self, index: int) -> float | None:
        """ρ of curve ``index``, when the theory predicts one."""
        rates = () if self._gap is None else self._gap.rates
        rate = rates[index] if index < len(rates) else None
        return rate if rate is not None and math.isfinite(rate) and rate > 0 else None

    def _redraw(self) -> None:
        """Draw the figure again now; repaint only the rows that changed."""
        drawn, self._drawn = self._drawn, None
        if drawn is None or not self.is_mounted or drawn[0] != tuple(self.size):
            self.refresh()
            return
        refresh_rows(self, drawn[1], self._rows())

    def _update_titles(self) -> None:
        # Set only when they change: setting a border's title repaints the whole chart.
        gap = self.gap_view
        scale = _("log scale") if self.log_scale or gap else _("linear")
        # Short words, the views before the data: the title of the chart at 80×24 shows ~40
        # characters.
        what = _("Loss − loss*") if gap else _("Loss")
        zoom = None if self.zoom is None else _("last {zoom}").format(zoom=self.zoom)
        iterations = _("log x") if self.log_iterations else None
        title = " · ".join(filter(None, (what, scale, zoom, iterations, self._data)))
        if title != self._titles[0]:
            self.border_title = title
        # The legend names only the lines the chart can draw (no threshold of 0 on a log scale).
        drawn = [(_("─ threshold"), self._line(self._threshold) is not None)]
        if self._optimum is not None and math.isfinite(self._optimum) and not gap:
            drawn.append(
                (
                    _("{value} optimum {optimum:.4g}").format(
                        value=OPTIMUM_MARKER * 2, optimum=self._optimum
                    ),
                    True,
                )
            )
        lines = "  ".join(name for name, shown in drawn if shown)
        if self._labels:
            # With ρ, each marker is named by it alone (the comparison's table names its ε):
            # three runs' legend then fits the chart at 80×24.
            legend = "  ".join(
                f"{compare_marker(i)} {self._rate_name(i) or label}"
                for i, label in enumerate(self._labels)
            )
            subtitle = "  ".join(filter(None, (legend, lines)))
        else:
            test = _("  • test") if self._test_losses is not None and not gap else ""
            rate = self._rate_name(0)
            predicted = f"{PREDICTED_MARKER * 2} {rate}" if rate else None
            subtitle = "  ".join(
                filter(None, (predicted, lines, _("● now{test}").format(test=test)))
            )
        if subtitle != self._titles[1]:
            self.border_subtitle = subtitle
        self._titles = (title, subtitle)

    def _rate_name(self, index: int) -> str | None:
        """``ρ=0.9984`` for curve ``index`` in the gap view, when the theory predicts it."""
        rate = self._rate(index) if self.gap_view and self._gap_known else None
        return None if rate is None else rate_text(rate)

    def _values(self, losses: np.ndarray) -> np.ndarray:
        """Losses on the chart's y scale: their log, their gap's log, or themselves."""
        if self.gap_view:
            return chart_values(np.asarray(losses, dtype=np.float64) - self._optimum, True)
        return chart_values(losses, self.log_scale)

    def _series(self, counts: list[int], columns: int, start: int) -> list[Series]:
        """The curves from iteration ``start + 1`` on (the zoom's window)."""
        log = self.log_iterations
        if not self._labels:
            (losses,), (count,) = self._curves, counts
            indices = window_indices(start, count, columns * POINTS_PER_COLUMN, log)
            series = []
            test = self._test_losses
            if test is not None and not self.gap_view:
                # The test loss has an optimum of its own, not loss*: no gap for it.
                tested = min(finite_count(test), count)
                kept = indices[indices < tested]
                if len(kept):
                    # Dots, not braille: told apart from the training loss without colours too.
                    series.append(Series(kept + 1, self._values(test[kept]), "•", "magenta"))
            series.append(Series(indices + 1, self._values(losses[indices]), "braille", "blue"))
            return series
        # A comparison: one point per column (markers are whole characters), on a grid common to
        # every curve so that they line up, each curve ending at its own last iteration.
        grid = window_indices(start, max(counts), columns, log)
        series = []
        for i, (losses, count) in enumerate(zip(self._curves, counts, strict=True)):
            if count <= start:
                continue  # it stopped before the window: only the legend names it
            indices = np.union1d(grid[grid < count], [count - 1])
            values = self._values(losses[indices])
            color = COMPARE_COLORS[i % len(COMPARE_COLORS)]
            diverged = count < len(losses)
            series.append(Series(indices + 1, values, compare_marker(i), color, diverged, i))
        return series

    def _line(self, value: float | None) -> float | None:
        """A horizontal line's height on the chart's scale, or None when it cannot be drawn."""
        if value is None or not math.isfinite(value):
            return None
        if self.gap_view:
            if not self._gap_known:
                return None
            value -= self._optimum
        if self.log_scale or self.gap_view:
            return math.log10(value) if value > 0 else None
        return min(max(value, -LINEAR_LIMIT), LINEAR_LIMIT)

    def _gaps(self, s: Series) -> np.ndarray:
        """loss − loss* at the points of ``s``, not made safe for a log scale."""
        return np.asarray(self._curves[s.index][s.x - 1], dtype=np.float64) - self._optimum

    def _x(self, iterations: np.ndarray) -> np.ndarray:
        """Iterations on the x axis: themselves, or their log10."""
        iterations = np.asarray(iterations, dtype=np.float64)
        return np.log10(iterations) if self.log_iterations else iterations

    def _prediction(
        self, s: Series, rate: float, x_limits: tuple[float, float],
        y_limits: tuple[float, float], dots: int,
    ) -> Curve | None:  # fmt: skip
        """The gap the theory predicts for series ``s``: from its anchor, the last point
        drawn whose gap is above rounding (the current iteration but for a run that has
        reached its float's floor), shrinking by ρ² per iteration; only where it is on
        the chart."""
        gaps = self._gaps(s)
        anchor = self._gap.anchor(gaps)
        if anchor is None:
            return None
        x = np.linspace(*x_limits, max(dots, 2))
        iterations = 10.0**x if self.log_iterations else x
        predicted = self._gap.predicted(rate, int(s.x[anchor]), float(gaps[anchor]), iterations)
        with np.errstate(divide="ignore"):
            y = np.log10(predicted)
        low, high = y_limits
        shown = np.isfinite(y) & (y >= low) & (y <= high)
        color = PREDICTED_COLOR if not self._labels else s.color
        return Curve(x[shown], y[shown], PREDICTED_MARKER, color)

    def render_line(self, y: int) -> Strip:
        """Row ``y`` of the chart, from the rows drawn once per change of the data or the size."""
        rows = self._rows()
        return rows[y] if y < len(rows) else Strip.blank(self.size.width, self.rich_style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn = None  # the theme's colours or the background changed: draw again

    def _rows(self) -> list[Strip]:
        width, height = self.size
        if self._drawn is not None and self._drawn[0] == (width, height):
            return self._drawn[1]
        base = self.rich_style
        figure = self._figure(width, height)
        if isinstance(figure, str):
            strips = [
                Strip([Segment(figure, base + MESSAGE_STYLE)]).adjust_cell_length(width, base)
            ]
        else:
            strips = figure_strips(figure, width, height, base)
        self._drawn = ((width, height), strips)
        return strips

    def _figure(self, width: int, height: int) -> Figure | str:
        """The figure to draw, or a message when there is nothing to draw."""
        counts = [finite_count(losses) for losses in self._curves]
        recorded = max(len(losses) for losses in self._curves)
        if max(counts) == 0 or width < 12 or height < 5:
            if not recorded:
                return _("no iteration yet: s steps, r runs")
            return _("the first loss is not finite: nothing to draw") if max(counts) == 0 else ""
        if self.gap_view and not self._gap_known:
            return _(GAP_UNKNOWN)
        # Room for the y labels (up to 9 characters) and the frame.
        columns = max(width - 12, 4)
        start = 0 if self.zoom is None else max(max(counts) - self.zoom, 0)
        series = self._series(counts, columns, start)
        if self.gap_view and not any(np.any(self._gaps(s) > 0) for s in series):
            return _(GAP_NONE)  # a log scale has no place for them
        scaled = series
        if self._labels:
            # A diverged run would squash every other curve into the bottom row: the axis
            # is scaled to the runs that did not diverge, the diverged ones leave at the top.
            scaled = [s for s in series if not s.diverged] or series
        low = min(float(s.y.min()) for s in scaled)
        high = max(float(s.y.max()) for s in scaled)
        threshold, optimum = self._line(self._threshold), self._line(self._optimum)
        if self.gap_view:
            optimum = None  # a gap of 0: no place on a log scale
        for line in (threshold, optimum):
            if line is not None:
                low, high = min(low, line), max(high, line)
        if high - low < 1e-12 * max(abs(high), 1.0):
            pad = max(abs(high) * 0.1, 1e-3)
            low, high = low - pad, high + pad

        first = start + 1
        last = max(max(int(s.x[-1]) for s in series), first + 1)
        x_limits = (float(self._x([first])[0]), float(self._x([last])[0]))
        dots = max(columns // DOT_SPACING, 2)
        layers: list[Curve | HLine | Note] = []
        if threshold is not None:
            layers.append(HLine(threshold, "red"))
        if optimum is not None:
            # Drawn before the curves: they stay on top where they cross it; over the
            # threshold (0.6971 and 0.70 share a row on the notebook's problem) it reads ·─·─.
            layers.append(
                Curve(np.linspace(*x_limits, dots), np.full(dots, optimum), OPTIMUM_MARKER,
                      "green", lines=False)
            )  # fmt: skip
        if self.gap_view:
            layers.extend(self._predictions(series, x_limits, (low, high), dots))
        for s in series:
            y = np.clip(s.y, low, high) if s.diverged else s.y
            marker = BRAILLE if s.marker == "braille" else s.marker
            layers.append(Curve(self._x(s.x), y, marker, s.color))
        if not self._labels:
            current = series[-1]
            layers.append(
                Curve(self._x(current.x[-1:]), current.y[-1:], CURRENT_MARKER, "green",
                      lines=False)
            )  # fmt: skip
        if self.gap_view:
            note = None if self._gap is None else self._gap.no_rate
            resolution = 0.0 if self._gap is None else self._gap.resolution
            if note is None and any(self._gaps(s)[-1] <= resolution for s in series):
                note = _(AT_ROUNDING)
            if note:
                layers.append(Note(note, None))

        y_ticks = ticks(low, high, min(5, max(2, height // 4)))
        log_y = self.log_scale or self.gap_view
        y_labels = [axis_text(10**v if log_y else v) for v in y_ticks]
        x_count = min(5, max(2, columns // 10))
        if self.log_iterations:
            x_ticks = sorted({round(10**v) for v in log_ticks(*x_limits, x_count)})
        else:
            x_ticks = sorted({round(v) for v in ticks(first, last, x_count)})
        return Figure(
            x_limits=x_limits,
            y_limits=(low, high),
            x_ticks=[(float(self._x([x])[0]), count_text(x)) for x in x_ticks],
            y_ticks=list(zip(y_ticks, y_labels, strict=True)),
            layers=layers,
        )

    def _predictions(
        self, series: list[Series], x_limits: tuple[float, float],
        y_limits: tuple[float, float], dots: int,
    ) -> list[Curve]:  # fmt: skip
        """The predicted gap of each curve the theory has a rate for (drawn under the curves)."""
        out = []
        for s in series:
            rate = self._rate(s.index)
            if rate is None or s.diverged:
                continue
            curve = self._prediction(s, rate, x_limits, y_limits, dots)
            if curve is not None and len(curve.x):
                out.append(curve)
        return out
