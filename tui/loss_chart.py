"""The loss against the iteration, with the threshold as a line and the current point.

Only finite numbers reach plotext (it crashes or draws nothing on nan, inf and
on values near the float limits), and never more points than the chart has
columns to show: a run of 10⁷ iterations costs the same to draw as one of 10³.
"""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from .formatting import axis_text, count_text

# Beyond this, plotext's axis arithmetic loses the plot; a loss that large has diverged anyway.
LINEAR_LIMIT = 1e30
# The log axis of a loss of exactly 0: a decade under the smallest positive loss shown.
LOG_FLOOR = 1e-12
# Braille markers put 2 points in each column.
POINTS_PER_COLUMN = 2


def sample_indices(count: int, points: int) -> np.ndarray:
    """At most ``points`` indices spread evenly over ``range(count)``, first and last included."""
    if count <= 0 or points <= 0:
        return np.empty(0, dtype=np.int64)
    if count <= points:
        return np.arange(count, dtype=np.int64)
    return np.unique(np.linspace(0, count - 1, max(points, 2)).round().astype(np.int64))


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
    """Values made safe for plotext: log10 of the loss (clipped above 0), or the clipped loss."""
    values = np.asarray(values, dtype=np.float64)
    if not log_scale:
        return np.clip(values, -LINEAR_LIMIT, LINEAR_LIMIT)
    positive = values[values > 0]
    floor = max(float(positive.min()) / 10, 1e-300) if len(positive) else LOG_FLOOR
    return np.log10(np.clip(values, floor, None))


def ticks(low: float, high: float, count: int) -> list[float]:
    return [float(v) for v in np.linspace(low, high, max(count, 2))]


class LossChart(PlotextPlot):
    """``show`` hands it the losses; it draws when Textual renders it (on ``refresh``)."""

    log_scale: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._losses: np.ndarray = np.empty(0)
        self._test_losses: np.ndarray | None = None
        self._threshold: float | None = None
        self.border_title = "Loss"
        self._update_titles()

    def show(
        self,
        losses: np.ndarray,
        threshold: float | None,
        test_losses: np.ndarray | None = None,
    ) -> None:
        """The whole run's losses (read-only, never changed afterwards), the threshold, and
        the test loss of each iteration when the data have a test part."""
        self._losses = losses
        self._test_losses = test_losses
        self._threshold = threshold
        self._update_titles()
        self.refresh()

    def watch_log_scale(self) -> None:
        self._update_titles()
        self.refresh()

    def _update_titles(self) -> None:
        scale = "log scale" if self.log_scale else "linear"
        self.border_title = f"Loss · {scale}"
        test = "  • test" if self._test_losses is not None else ""
        self.border_subtitle = f"─ threshold  ● now{test}"

    def render(self) -> RenderResult:
        width, height = self.size
        count = finite_count(self._losses)
        if count == 0 or width < 12 or height < 5:
            message = "no iteration yet: s steps, r runs" if not len(self._losses) else ""
            if len(self._losses) and count == 0:
                message = "the first loss is not finite: nothing to draw"
            return Text(message, style="italic")
        self._draw(count, width, height)
        return super().render()

    def _draw(self, count: int, width: int, height: int) -> None:
        plt = self.plt
        plt.clear_figure()
        log_scale = self.log_scale
        # Room for the y labels (up to 9 characters) and the frame.
        columns = max(width - 12, 4)
        indices = sample_indices(count, columns * POINTS_PER_COLUMN)
        iterations = indices + 1  # losses[k] is the loss of iteration k + 1
        values = chart_values(self._losses[indices], log_scale)
        low, high = float(values.min()), float(values.max())
        test = self._test_losses
        test_points = None
        if test is not None:
            tested = min(finite_count(test), count)
            if tested:
                kept = indices[indices < tested]
                test_points = (kept + 1, chart_values(test[kept], log_scale))
                low = min(low, float(test_points[1].min()))
                high = max(high, float(test_points[1].max()))

        threshold = self._threshold
        if threshold is not None and math.isfinite(threshold):
            if log_scale:
                threshold = math.log10(threshold) if threshold > 0 else None
            else:
                threshold = min(max(threshold, -LINEAR_LIMIT), LINEAR_LIMIT)
        else:
            threshold = None
        if threshold is not None:
            low, high = min(low, threshold), max(high, threshold)
        if high - low < 1e-12 * max(abs(high), 1.0):
            pad = max(abs(high) * 0.1, 1e-3)
            low, high = low - pad, high + pad

        x = iterations.tolist()
        if test_points is not None:
            # Dots, not braille: told apart from the training loss without colours too.
            plt.plot(test_points[0].tolist(), test_points[1].tolist(), marker="•", color="magenta")
        plt.plot(x, values.tolist(), marker="braille", color="blue")
        if threshold is not None:
            plt.hline(threshold, color="red")
        plt.scatter([x[-1]], [float(values[-1])], marker="●", color="green")

        plt.ylim(low, high)
        y_ticks = ticks(low, high, min(5, max(2, height // 4)))
        labels = [axis_text(10**v if log_scale else v) for v in y_ticks]
        plt.yticks(y_ticks, labels)

        first, last = 1, max(int(iterations[-1]), 2)
        plt.xlim(first, last)
        x_ticks = sorted({round(v) for v in ticks(first, last, min(5, max(2, columns // 10)))})
        plt.xticks(x_ticks, [count_text(v) for v in x_ticks])
