"""A line chart drawn in terminal cells with numpy: braille curves, marker curves, lines, axes.

Pure and cheap (no Textual, no plotext): it turns the loss chart's series into rows of
``(text, colour)`` runs in about a millisecond at 100×30, where plotext and the parsing
of its ANSI output took some 25 ms, most of the CPU an animated run cost a shared server.

The picture follows plotext's conventions, which the chart used before: a frame, the
y labels on the left with ``┤`` at their rows, the x labels under ``┬`` marks, a
horizontal line drawn from frame to frame (``├──…┤``), braille for the single run's
curve (2×4 dots a cell), a character per point for a comparison's curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The dot of each (row, column) of a braille cell: U+2800 + the sum of the dots set.
BRAILLE_DOTS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint16)
BRAILLE = "braille"


@dataclass(frozen=True)
class Curve:
    """Points (x, y) joined by lines, drawn in braille or with a marker character."""

    x: np.ndarray
    y: np.ndarray
    marker: str
    color: str | None
    lines: bool = True


@dataclass(frozen=True)
class HLine:
    """A horizontal line across the plot at height ``y``, from frame to frame."""

    y: float
    color: str | None
    char: str = "─"


@dataclass(frozen=True)
class Note:
    """A line of text in the plot's top right corner, over whatever is drawn there (a
    decreasing curve leaves that corner empty); cut to the plot's width with an ellipsis."""

    text: str
    color: str | None


@dataclass(frozen=True)
class Figure:
    """What to draw: the limits, the ticks with their labels, then layers, bottom first."""

    x_limits: tuple[float, float]
    y_limits: tuple[float, float]
    x_ticks: Sequence[tuple[float, str]]
    y_ticks: Sequence[tuple[float, str]]
    layers: Sequence[Curve | HLine | Note]


Run = tuple[str, str | None]
"""A run of cells of one colour: (text, colour or None for the default)."""


def _scale(values: np.ndarray, low: float, high: float, size: int, flip: bool) -> np.ndarray:
    """Values in [low, high] to integer positions 0 … size-1 (flipped: high at 0)."""
    span = high - low
    if not span > 0:
        position = np.zeros(len(values))
    else:
        position = (np.asarray(values, dtype=np.float64) - low) / span * (size - 1)
    if flip:
        position = (size - 1) - position
    return np.clip(np.rint(position), 0, size - 1).astype(np.int64)


def _cell(
    values: np.ndarray, low: float, high: float, size: int, dots: int, flip: bool
) -> np.ndarray:
    """The cell (0 … size-1) of each value: the one that holds its braille dot.

    Markers, lines and tick labels are placed by the braille grid (``dots`` a cell), not
    by a coarser grid of their own: the current point's ● then sits on the curve's last
    dot, and a horizontal line on the row where the curve reaches its value.
    """
    return _scale(values, low, high, size * dots, flip) // dots


def _segments(px: np.ndarray, py: np.ndarray, lines: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every grid point on the straight lines from each point to the next (or the points alone)."""
    if not lines or len(px) < 2:
        return px, py
    dx, dy = np.diff(px), np.diff(py)
    steps = np.maximum(np.abs(dx), np.abs(dy))
    steps = np.maximum(steps, 1)
    # For segment k, t = 0, 1/steps, …, (steps-1)/steps; the last point is added at the end.
    index = np.repeat(np.arange(len(steps)), steps)
    offset = np.arange(index.size) - np.repeat(np.cumsum(steps) - steps, steps)
    t = offset / steps[index]
    xs = np.rint(px[:-1][index] + t * dx[index]).astype(np.int64)
    ys = np.rint(py[:-1][index] + t * dy[index]).astype(np.int64)
    return np.append(xs, px[-1]), np.append(ys, py[-1])


def draw(figure: Figure, width: int, height: int) -> list[list[Run]]:
    """The figure in ``width`` × ``height`` cells, as rows of runs of one colour.

    Rows: the frame's top, the plot, the frame's bottom with the x ticks, the x labels.
    """
    y_labels = [label for _, label in figure.y_ticks]
    label_width = max((len(label) for label in y_labels), default=0)
    columns = max(width - label_width - 2, 1)
    rows = max(height - 3, 1)
    chars = np.full((rows, columns), " ", dtype="<U1")
    # The colour of each cell, as an index into ``palette`` (0: the default colour).
    palette: list[str | None] = [None]
    colors = np.zeros((rows, columns), dtype=np.int16)
    (x_low, x_high), (y_low, y_high) = figure.x_limits, figure.y_limits
    hline_rows: set[int] = set()

    for layer in figure.layers:
        if layer.color not in palette:
            palette.append(layer.color)
        color = palette.index(layer.color)
        if isinstance(layer, Note):
            text = layer.text if len(layer.text) <= columns else layer.text[: columns - 1] + "…"
            chars[0, columns - len(text) :] = list(text)
            colors[0, columns - len(text) :] = color
            continue
        if isinstance(layer, HLine):
            if not (y_low <= layer.y <= y_high):
                continue
            row = int(_cell(np.array([layer.y]), y_low, y_high, rows, 4, flip=True)[0])
            hline_rows.add(row)
            chars[row, :] = layer.char
            colors[row, :] = color
            continue
        if len(layer.x) == 0:
            continue
        if layer.marker == BRAILLE:
            px = _scale(layer.x, x_low, x_high, columns * 2, flip=False)
            py = _scale(layer.y, y_low, y_high, rows * 4, flip=True)
            px, py = _segments(px, py, layer.lines)
            cells = np.zeros((rows, columns), dtype=np.uint16)
            np.bitwise_or.at(cells, (py // 4, px // 2), BRAILLE_DOTS[py % 4, px % 2])
            dotted = cells > 0
            chars[dotted] = [chr(0x2800 + int(bits)) for bits in cells[dotted]]
            colors[dotted] = color
        else:
            px = _cell(layer.x, x_low, x_high, columns, 2, flip=False)
            py = _cell(layer.y, y_low, y_high, rows, 4, flip=True)
            px, py = _segments(px, py, layer.lines)
            chars[py, px] = layer.marker
            colors[py, px] = color

    tick_rows = {
        int(_cell(np.array([y]), y_low, y_high, rows, 4, flip=True)[0]): label
        for y, label in figure.y_ticks
    }
    out: list[list[Run]] = [[(" " * label_width + "┌" + "─" * columns + "┐", None)]]
    for row in range(rows):
        label = tick_rows.get(row, "")
        left = "├" if row in hline_rows else ("┤" if label else "│")
        right = "┤" if row in hline_rows else "│"
        text = "".join(chars[row])
        # Where the colour changes along the row: one run of text per colour.
        cuts = [0, *(np.flatnonzero(np.diff(colors[row])) + 1).tolist(), columns]
        runs: list[Run] = [(f"{label:>{label_width}}{left}", None)]
        runs.extend(
            (text[start:end], palette[colors[row, start]])
            for start, end in zip(cuts, cuts[1:], strict=False)
        )
        runs.append((right, None))
        out.append(runs)

    tick_columns = [
        (int(_cell(np.array([x]), x_low, x_high, columns, 2, flip=False)[0]), label)
        for x, label in figure.x_ticks
    ]
    bottom = ["─"] * columns
    for column, _ in tick_columns:
        bottom[column] = "┬"
    out.append([(" " * label_width + "└" + "".join(bottom) + "┘", None)])
    out.append([(_x_labels(tick_columns, label_width + 1, width), None)])
    return out


def _x_labels(ticks: Sequence[tuple[int, str]], origin: int, width: int) -> str:
    """The x labels under their ticks: the first starts at its tick, the last ends at it,
    the others are centred; a label that would overlap the one before it is left out
    (the last one is always shown: the one before it makes room)."""
    placed: list[tuple[int, str]] = []
    for i, (column, label) in enumerate(ticks):
        at = origin + column
        last = i == len(ticks) - 1
        start = at if i == 0 else at - len(label) + 1 if last else at - len(label) // 2
        start = max(start, 0)
        if start + len(label) > width:
            continue
        while placed and placed[-1][0] + len(placed[-1][1]) >= start:
            if not last:
                break
            placed.pop()
        if placed and placed[-1][0] + len(placed[-1][1]) >= start:
            continue
        placed.append((start, label))
    line = [" "] * width
    for start, label in placed:
        line[start : start + len(label)] = label
    return "".join(line).rstrip()
