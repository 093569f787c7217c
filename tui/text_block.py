"""A block of Rich text drawn row by row from strips made once per change.

A ``Static`` turns its text into strips again at every repaint; a panel redrawn
several times a second then spends most of its CPU there.  ``TextBlock`` does it
once, when the text changes, and a repaint (a border title, a notification
passing over) reuses the strips.  Lines longer than the widget end in ``…``.

Only the rows that changed are repainted (``refresh_rows``): Textual's cost is per row
drawn, and in a status line or a chart that moves most rows stay as they were.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget


def block_size(text: Text) -> tuple[int, int]:
    """(width, height) of a block of lines, in terminal cells."""
    lines = text.plain.split("\n")
    return max(cell_len(line) for line in lines), len(lines)


def refresh_rows(widget: Widget, old: list[Strip] | None, new: list[Strip]) -> None:
    """Repaint the rows of ``widget`` where ``new`` differs from ``old`` (all if unknown).

    None when ``old`` was never drawn or has another number of rows: the whole widget.
    """
    if old is None or len(old) != len(new):
        widget.refresh()
        return
    width = widget.size.width
    rows = [Region(0, y, width, 1) for y, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    if rows:
        widget.refresh(*rows)


class TextBlock(Widget):
    """Shows a :class:`~rich.text.Text`; ``show_text`` replaces it."""

    SIZED_BY_TEXT = True
    """Whether the widget's size follows its text (``width: auto``): then a text of another
    size asks for a layout pass (the whole screen's); digits changing in place do not."""

    def __init__(self, text: Text | str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text(text) if isinstance(text, str) else text
        self._block = block_size(self._text)
        self._strips: tuple[int, list[Strip]] | None = None

    @property
    def text(self) -> Text:
        return self._text

    def show_text(self, text: Text) -> None:
        size = block_size(text)
        layout = self.SIZED_BY_TEXT and size != self._block
        drawn, width = self._strips, self.size.width
        self._text, self._block, self._strips = text, size, None
        if layout or drawn is None or drawn[0] != width or not self.is_mounted:
            self.refresh(layout=layout)
            return
        # Same place, same size: the strips now, and only the rows that changed repainted.
        self._strips = (width, self._render_strips(width))
        refresh_rows(self, drawn[1], self._strips[1])

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self._block[0]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._block[1]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None  # the theme's colours or the background changed

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._strips is None or self._strips[0] != width:
            self._strips = (width, self._render_strips(width))
        strips = self._strips[1]
        return strips[y] if y < len(strips) else Strip.blank(width, self.rich_style)

    def _render_strips(self, width: int) -> list[Strip]:
        base, console = self.rich_style, self.app.console
        strips = []
        for line in self._text.split("\n", allow_blank=True):
            if line.cell_len > width:
                line = line.copy()
                line.truncate(width, overflow="ellipsis")
            segments = Segment.apply_style(line.render(console), base)
            strips.append(Strip(segments).adjust_cell_length(width, base))
        return strips
