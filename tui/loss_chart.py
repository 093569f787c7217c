"""The loss against the iteration, with the threshold and the optimum as lines.

One run is drawn in braille with its current point (and its test loss in dots);
a comparison draws one curve per learning rate, each with its own marker
character (``+``, ``x``, ``o``…) named in the legend, so a 16-colour or
``NO_COLOR`` terminal tells them apart as well as a colour one.

Only finite numbers reach the drawing (nan, inf and values near the float limits
have no place on an axis), and never more points than the chart has columns to
show: a run of 10⁷ iterations costs the same to draw as one of 10³.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from .chart_canvas import BRAILLE, Curve, Figure, HLine, draw
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


class LossChart(Widget):
    """``show`` hands it one run, ``show_comparison`` several; it draws when Textual renders it.

    The figure is drawn once per change (of the data, the scale or the size) by
    :mod:`tui.chart_canvas`, then handed to Textual row by row.
    """

    log_scale: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._curves: tuple[np.ndarray, ...] = (np.empty(0),)
        self._labels: tuple[str, ...] = ()
        self._test_losses: np.ndarray | None = None
        self._threshold: float | None = None
        self._optimum: float | None = None
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
    ) -> None:
        """The whole run's losses (read-only, never changed afterwards), the threshold, the
        test loss of each iteration when the data have a test part, the least-squares optimum,
        and a line that says what the data are (in the title)."""
        self._data = data
        self._curves = (losses,)
        self._labels = ()
        self._test_losses = test_losses
        self._threshold = threshold
        self._optimum = optimum
        self._update_titles()
        self._redraw()

    def show_comparison(
        self,
        curves: Sequence[tuple[str, np.ndarray]],
        threshold: float | None,
        optimum: float | None = None,
        *,
        data: str = "",
    ) -> None:
        """One (label, losses) per learning rate, drawn with ``compare_marker(i)``."""
        self._data = data
        self._curves = tuple(losses for _, losses in curves)
        self._labels = tuple(label for label, _ in curves)
        self._test_losses = None
        self._threshold = threshold
        self._optimum = optimum
        self._update_titles()
        self._redraw()

    def watch_log_scale(self) -> None:
        self._update_titles()
        self._redraw()

    def _redraw(self) -> None:
        """Draw the figure again now; repaint only the rows that changed."""
        drawn, self._drawn = self._drawn, None
        if drawn is None or not self.is_mounted or drawn[0] != tuple(self.size):
            self.refresh()
            return
        refresh_rows(self, drawn[1], self._rows())

    def _update_titles(self) -> None:
        # Set only when they change: setting a border's title repaints the whole chart.
        scale = "log scale" if self.log_scale else "linear"
        title = " · ".join(filter(None, ("Loss", scale, self._data)))
        if title != self._titles[0]:
            self.border_title = title
        # The legend names only the lines the chart can draw (no threshold of 0 on a log scale).
        drawn = [("─ threshold", self._line(self._threshold) is not None)]
        if self._optimum is not None and math.isfinite(self._optimum):
            drawn.append((f"{OPTIMUM_MARKER * 2} optimum {self._optimum:.4g}", True))
        lines = "  ".join(name for name, shown in drawn if shown)
        if self._labels:
            legend = "  ".join(
                f"{compare_marker(i)} {label}" for i, label in enumerate(self._labels)
            )
            subtitle = "  ".join(filter(None, (legend, lines)))
        else:
            test = "  • test" if self._test_losses is not None else ""
            subtitle = "  ".join(filter(None, (lines, f"● now{test}")))
        if subtitle != self._titles[1]:
            self.border_subtitle = subtitle
        self._titles = (title, subtitle)

    def _series(self, counts: list[int], columns: int) -> list[Series]:
        log_scale = self.log_scale
        if not self._labels:
            (losses,), (count,) = self._curves, counts
            indices = sample_indices(count, columns * POINTS_PER_COLUMN)
            series = []
            test = self._test_losses
            if test is not None:
                tested = min(finite_count(test), count)
                kept = indices[indices < tested]
                if len(kept):
                    # Dots, not braille: told apart from the training loss without colours too.
                    series.append(
                        Series(kept + 1, chart_values(test[kept], log_scale), "•", "magenta")
                    )
            series.append(
                Series(indices + 1, chart_values(losses[indices], log_scale), "braille", "blue")
            )
            return series
        # A comparison: one point per column (markers are whole characters), on a grid common to
        # every curve so that they line up, each curve ending at its own last iteration.
        grid = sample_indices(max(counts), columns)
        series = []
        for i, (losses, count) in enumerate(zip(self._curves, counts, strict=True)):
            if count == 0:
                continue
            indices = np.union1d(grid[grid < count], [count - 1])
            values = chart_values(losses[indices], log_scale)
            color = COMPARE_COLORS[i % len(COMPARE_COLORS)]
            diverged = count < len(losses)
            series.append(Series(indices + 1, values, compare_marker(i), color, diverged))
        return series

    def _line(self, value: float | None) -> float | None:
        """A horizontal line's height on the chart's scale, or None when it cannot be drawn."""
        if value is None or not math.isfinite(value):
            return None
        if self.log_scale:
            return math.log10(value) if value > 0 else None
        return min(max(value, -LINEAR_LIMIT), LINEAR_LIMIT)

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
        self._drawn = ((width, height), strips)
        return strips

    def _figure(self, width: int, height: int) -> Figure | str:
        """The figure to draw, or a message when there is nothing to draw."""
        counts = [finite_count(losses) for losses in self._curves]
        recorded = max(len(losses) for losses in self._curves)
        if max(counts) == 0 or width < 12 or height < 5:
            if not recorded:
                return "no iteration yet: s steps, r runs"
            return "the first loss is not finite: nothing to draw" if max(counts) == 0 else ""
        # Room for the y labels (up to 9 characters) and the frame.
        columns = max(width - 12, 4)
        series = self._series(counts, columns)
        scaled = series
        if self._labels:
            # A diverged run would squash every other curve into the bottom row: the axis
            # is scaled to the runs that did not diverge, the diverged ones leave at the top.
            scaled = [s for s in series if not s.diverged] or series
        low = min(float(s.y.min()) for s in scaled)
        high = max(float(s.y.max()) for s in scaled)
        threshold, optimum = self._line(self._threshold), self._line(self._optimum)
        for line in (threshold, optimum):
            if line is not None:
                low, high = min(low, line), max(high, line)
        if high - low < 1e-12 * max(abs(high), 1.0):
            pad = max(abs(high) * 0.1, 1e-3)
            low, high = low - pad, high + pad

        first = 1
        last = max(max(int(s.x[-1]) for s in series), 2)
        layers: list[Curve | HLine] = []
        if threshold is not None:
            layers.append(HLine(threshold, "red"))
        if optimum is not None:
            # Drawn before the curves: they stay on top where they cross it; over the
            # threshold (0.6971 and 0.70 share a row on the notebook's problem) it reads ·─·─.
            dots = max(columns // DOT_SPACING, 2)
            layers.append(
                Curve(np.linspace(first, last, dots), np.full(dots, optimum), OPTIMUM_MARKER,
                      "green", lines=False)
            )  # fmt: skip
        for s in series:
            y = np.clip(s.y, low, high) if s.diverged else s.y
            layers.append(Curve(s.x, y, BRAILLE if s.marker == "braille" else s.marker, s.color))
        if not self._labels:
            current = series[-1]
            layers.append(
                Curve(current.x[-1:], current.y[-1:], CURRENT_MARKER, "green", lines=False)
            )

        y_ticks = ticks(low, high, min(5, max(2, height // 4)))
        y_labels = [axis_text(10**v if self.log_scale else v) for v in y_ticks]
        x_ticks = sorted({round(v) for v in ticks(first, last, min(5, max(2, columns // 10)))})
        return Figure(
            x_limits=(first, last),
            y_limits=(low, high),
            x_ticks=[(x, count_text(x)) for x in x_ticks],
            y_ticks=list(zip(y_ticks, y_labels, strict=True)),
            layers=layers,
        )
