"""W and b: each value, its sign and size in colour *and* in characters, and what moved most.

A value is written with its sign (``+0.2934``) and followed by a bar whose
height is its size relative to the largest entry of its matrix (``▁`` … ``█``),
so a 16-colour or ``NO_COLOR`` terminal shows what the colours show.  The
entries the last step changed most carry a ``◆`` and are shown reversed.

In the compact layout (80×24) the panel shows W transposed, a row per output and a
bar per input (``compact_parameter_text``): a positive value's bar rises from the
bottom of its cell, a negative one's hangs from the top, their heights scaled to the
largest |W| (and |b|) written under them; the entry the last step changed most is
written out in full.  The values in full are the wide layout's (100×30 and up).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from rich.text import Span, Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer

from engine.i18n import _

from .formatting import PARAMETER_WIDTH, norm_text, parameter_text
from .text_block import TextBlock

BARS = "▁▂▃▄▅▆▇█"
CHANGED_MARK = "◆"
# How many entries of W (and of b) are marked as the ones the last step changed most.
MOST_CHANGED_W = 3
MOST_CHANGED_B = 1
# A feature's name labels W's row in this many characters at most (longer ones end in …).
ROW_LABEL_WIDTH = 6
# θ = (W, b); θ* the least-squares optimum, θ_true the ground truth of synthetic data.
TO_OPTIMUM, TO_TRUTH = "‖θ−θ*‖", "‖θ−θ_true‖"
POSITIVE = ("#5f87af", "#5fafff", "bold #87d7ff")
NEGATIVE = ("#af5f5f", "#ff5f5f", "bold #ff8787")


def bar(magnitude: float, largest: float) -> str:
    """One character, ▁ to █, for ``magnitude`` relative to ``largest``; a space for 0."""
    if not math.isfinite(magnitude) or not math.isfinite(largest) or largest <= 0:
        return "█" if not math.isfinite(magnitude) else " "
    if magnitude == 0:
        return " "
    level = min(len(BARS) - 1, int(magnitude / largest * len(BARS)))
    return BARS[level]


def most_changed(delta: np.ndarray | None, count: int) -> set[tuple[int, int]]:
    """The (row, column) of the ``count`` largest |delta|, none if nothing moved.

    At most a quarter of the entries (one at least), and none of a single entry: marking
    every entry of a small W would say nothing.
    """
    if delta is None or count <= 0 or delta.size <= 1:
        return set()
    size = np.nan_to_num(np.abs(delta), nan=0.0, posinf=np.finfo(np.float64).max)
    if not size.max() > 0:
        return set()
    count = min(count, max(1, size.size // 4))
    flat = np.argpartition(size.ravel(), -count)[-count:]
    return {
        (int(r), int(c))
        for r, c in zip(*np.unravel_index(flat, size.shape), strict=True)
        if size[r, c] > 0
    }


def _style(value: float, largest: float) -> str:
    if not math.isfinite(value):
        return "bold reverse"
    if value == 0 or largest <= 0 or not math.isfinite(largest):
        return "dim"
    level = min(2, int(abs(value) / largest * 3))
    return (POSITIVE if value > 0 else NEGATIVE)[level]


def _largest(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 0.0


def row_label(index: int, width: int) -> str:
    """The label of W's row ``index`` (an input) in ``width`` characters."""
    return f"{index:>{width}}"


def output_label(index: int, width: int) -> str:
    """The label of output ``index`` (a column of W and of b) in ``width`` characters."""
    return f"{index:>{width}}"


def matrix_lines(
    values: np.ndarray,
    delta: np.ndarray | None,
    marks: int,
    index_width: int,
    labels: list[str] | None = None,
) -> list[Text]:
    """The lines of one matrix: a row index (or its ``labels``), then each entry as value,
    bar and mark."""
    largest = _largest(values)
    changed = most_changed(delta, marks)
    lines = []
    rows, _ = values.shape
    for r, row in enumerate(values.tolist()):
        # The plain text and its spans at once: Text.append per cell cost most of a redraw.
        if labels is not None:
            parts = [f"{labels[r]:<{index_width}} "]
        else:
            parts = [f"{row_label(r, index_width)} " if rows > 1 else " " * (index_width + 1)]
        spans, at = [], len(parts[0])
        for c, value in enumerate(row):
            cell = f"{parameter_text(value):>{PARAMETER_WIDTH}}{bar(abs(value), largest)}"
            style = _style(value, largest)
            if (r, c) in changed:
                spans.append(Span(at, at + len(cell), f"{style} reverse"))
                spans.append(Span(at + len(cell), at + len(cell) + 1, "bold"))
                parts += [cell, CHANGED_MARK]
            else:
                spans.append(Span(at, at + len(cell), style))
                parts += [cell, " "]
            at += len(cell) + 1
        lines.append(Text("".join(parts), style="dim", spans=spans))
    return lines


def short_label(name: str, width: int) -> str:
    """A column's name in ``width`` characters at most, cut with "…"; escaped when it holds a
    character a terminal would not print as it is."""
    if not name.isprintable():
        name = repr(name)[1:-1]
    return name if len(name) <= width else name[: width - 1] + "…"


def axis_labels(
    names: tuple[Any, Any] | None,
) -> tuple[list[str] | None, str | None]:
    """W's row labels (the feature names, cut to ``ROW_LABEL_WIDTH``) and the line that names
    the columns of W and b (the target names, right-aligned over each value); (None, None)
    without names: rows keep their indexes, columns have no header."""
    if names is None:
        return None, None
    features, targets = names
    rows = [short_label(str(name), ROW_LABEL_WIDTH) for name in features]
    width = max(map(len, rows), default=1)
    header = " " * (width + 1) + "".join(
        f"{short_label(str(name), PARAMETER_WIDTH):>{PARAMETER_WIDTH}}  " for name in targets
    )
    return rows, header.rstrip()


def parameter_text_block(
    snapshot: Any,
    distances: tuple[tuple[str, float | None], ...] = (),
    names: tuple[Any, Any] | None = None,
) -> Text:
    """Everything the panel shows for a StepSnapshot, the distances (name, value) first.

    ``names``: (feature names, target names) of a data file, which label W's rows and the
    columns of W and b; None for indexes."""
    W, b = snapshot.W, snapshot.b
    labels, header = axis_labels(names)
    if labels is not None and len(labels) != W.shape[0]:
        labels, header = None, None  # names of other data (a reload under way): indexes
    out = Text()
    if distances:
        for i, (name, value) in enumerate(distances):
            out.append(("   " if i else "") + f"{name} ", style="dim")
            out.append(norm_text(value), style="bold")
        out.append("\n")
    rows, cols = W.shape
    index_width = len(str(max(rows, b.shape[0]) - 1))
    if labels is not None:
        index_width = max(map(len, labels), default=1)
    out.append(f"W ({rows}×{cols})", style="bold")
    out.append(f"   ‖∇W‖ {norm_text(snapshot.grad_W_norm)}\n")
    if header is not None:
        out.append(header + "\n", style="dim")
    for line in matrix_lines(W, snapshot.delta_W, MOST_CHANGED_W, index_width, labels):
        out.append_text(line)
        out.append("\n")
    rows, cols = b.shape
    out.append(f"b ({rows}×{cols})", style="bold")
    out.append(f"    ‖∇b‖ {norm_text(snapshot.grad_b_norm)}\n")
    if header is not None:
        out.append(header + "\n", style="dim")
    for line in matrix_lines(b, snapshot.delta_b, MOST_CHANGED_B, index_width):
        out.append_text(line)
        out.append("\n")
    out.append(
        _("{CHANGED_MARK} changed most in the last step").format(CHANGED_MARK=CHANGED_MARK),
        style="dim",
    )
    return out


def signed_bar(value: float, largest: float) -> tuple[str, str]:
    """(character, style) of one value in the compact W: rising if positive, hanging if negative.

    A hanging bar is the complementary block shown reversed, so it reads without colour:
    its filled part, at the top of the cell, is as tall as a rising bar of the same size.
    """
    glyph = bar(abs(value), largest)
    style = _style(value, largest)
    if not math.isfinite(value) or value >= 0 or glyph == " ":
        return glyph, style
    level = BARS.index(glyph)
    return (BARS[len(BARS) - 2 - level] if level < len(BARS) - 1 else " "), f"{style} reverse"


def compact_parameter_text(
    snapshot: Any, distances: tuple[tuple[str, float | None], ...] = ()
) -> Text:
    """W transposed (a row per output, a bar per input) with b's bar, their scales, and
    the entry the last step changed most, in about 24 columns."""
    W, b = snapshot.W, snapshot.b
    inputs, outputs = W.shape
    out = Text()
    for name, value in distances:
        out.append(f"{name} ", style="dim")
        out.append(norm_text(value), style="bold")
        out.append("\n")
    width = len(str(outputs - 1))
    title = f"Wᵀ ({outputs}×{inputs})"
    # "b" over b's column, one after W's last.
    out.append(
        " " * (width + 1) + title + " " * max(1, inputs + 1 - len(title)) + "b\n", style="bold"
    )
    largest_W, largest_b = _largest(W), _largest(b)
    for c in range(outputs):
        out.append(f"{output_label(c, width)} ", style="dim")
        for r in range(inputs):
            out.append(*signed_bar(float(W[r, c]), largest_W))
        out.append(" ")
        out.append(*signed_bar(float(b[0, c]) if b.shape[0] == 1 else math.nan, largest_b))
        out.append("\n")
    out.append(f"█ |W| {norm_text(largest_W)}  |b| {norm_text(largest_b)}\n", style="dim")
    (changed,) = most_changed(snapshot.delta_W, 1) or {None}
    if changed is not None:
        r, c = changed
        out.append(f"{CHANGED_MARK} W[{r},{c}] {parameter_text(float(W[r, c]))}", style="bold")
        out.append("\n")
    out.append(_("▄+ ▀−  values: ≥100×30"), style="dim")
    return out


class ParameterPanel(ScrollableContainer, can_focus=False):
    """Shows the W and b of the last snapshot; redraws only when the text would change.

    The notebook's W (13×3) fits; a larger one (``--data``) scrolls with the mouse
    wheel.  Not focusable: tab goes from the run's keys to the fields.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = _("Parameters")
        self._shown: Text | None = None
        self._last: tuple[Any, tuple[tuple[str, float | None], ...], Any] | None = None
        self._compact = False

    @property
    def compact(self) -> bool:
        """Whether it shows the compact W (the compact layout) or every value."""
        return self._compact

    @compact.setter
    def compact(self, compact: bool) -> None:
        if compact != self._compact:
            self._compact = compact
            if self._last is not None:
                self.show(*self._last)

    def compose(self) -> ComposeResult:
        yield TextBlock(_("loading…"), id="parameter-values")

    def show(
        self,
        snapshot: Any,
        distances: tuple[tuple[str, float | None], ...] = (),
        names: tuple[Any, Any] | None = None,
    ) -> None:
        """W and b, after the distances to the optimum (and to the truth); ``names``: the
        feature and target names that label W's rows and the columns (None: indexes).

        The distances are a line of the text, not the border's title: a title that
        changes repaints the whole panel, borders and blank rows included.
        """
        self._last = (snapshot, distances, names)
        if self._compact:  # transposed bars: the names of a file's columns need the full panel
            text = compact_parameter_text(snapshot, distances)
        else:
            text = parameter_text_block(snapshot, distances, names)
        # Late in a run most digits stop moving: an identical panel is not sent again.
        if self._shown is not None and text == self._shown:
            return
        self.query_one(TextBlock).show_text(text)
        self._shown = text
