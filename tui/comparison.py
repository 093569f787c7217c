"""The comparison table: one row per learning rate, its chart marker, status, iterations, loss.

It takes the parameters panel's place while comparing.  The marker column is
the chart's legend; a learning rate that the engine's theory says diverges
(past ε_max = 2/L, for plain full-batch descent only: ``RunView.diverges``)
carries a ⚠ before it runs, so the table says in characters what the colours say.

In the compact layout (80×24) the table fits 24 columns: the status is its mark
(``tui.states``: the help screen says each), the loss has 4 significant digits, and
the notes are short.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import Static

from engine.i18n import _

from .formatting import loss_text, norm_text
from .loss_chart import compare_marker
from .states import BY_NAME

DIVERGES_MARK = "⚠"


def status_word(status: str, iteration: int, running: bool) -> str:
    """The engine's status as the app says it: a run stopped midway is paused, not running."""
    if status == "running" and not running:
        return "paused" if iteration > 0 else "ready"
    return status


def comparison_renderable(
    runs: Sequence[Any], lr_max: float | None, running: bool, compact: bool = False
) -> Table:
    """The table for a sequence of ``RunView``; ``running``: whether the app runs them now;
    ``compact``: the status as its mark, the loss to 4 digits (24 columns)."""
    table = Table(box=None, padding=(0, 1, 0, 0), show_edge=False, expand=False)
    table.add_column("", no_wrap=True)
    table.add_column("ε", no_wrap=True)
    table.add_column("" if compact else _("status"), no_wrap=True)
    table.add_column(_("iter.") if not compact else _("iter"), justify="right", no_wrap=True)
    table.add_column(_("loss"), justify="right", no_wrap=True)
    for i, run in enumerate(runs):
        snapshot = run.snapshot
        rate = f"{run.learning_rate:g}"
        if run.diverges:
            rate += DIVERGES_MARK
        status = status_word(snapshot.status.value, snapshot.iteration, running)
        state = BY_NAME.get(status)
        shown = (state.mark if state else "?") if compact else _(status)
        row = [
            Text(compare_marker(i), style="bold"),
            rate,
            Text(shown, style=state.style if state else ""),
            str(snapshot.iteration),
            norm_text(snapshot.loss) if compact else loss_text(snapshot.loss),
        ]
        table.add_row(*row)
    return table


def footnote(
    lr_max: float | None, optimum: float | None, any_past: bool, compact: bool = False
) -> Text:
    if compact:
        return compact_footnote(lr_max, optimum, any_past)
    out = Text(style="dim")
    if optimum is not None:
        out.append(
            _("the loss cannot go under the optimum {optimum:.6g}\n").format(optimum=optimum)
        )
    if lr_max is not None:
        if any_past:
            out.append(
                _("{DIVERGES_MARK} ε > ε_max = 2/L = {lr_max:.4g}: diverges\n").format(
                    DIVERGES_MARK=DIVERGES_MARK, lr_max=lr_max
                ),
                style="bold",
            )
        else:
            out.append(f"ε_max = 2/L = {lr_max:.4g}\n")
    out.append(_("c: other learning rates; empty: one run"))
    return out


def compact_footnote(lr_max: float | None, optimum: float | None, any_past: bool) -> Text:
    """The notes in 24 columns; what c does is said under the learning rates' field."""
    lines = []
    if optimum is not None:
        lines.append((_("optimum {optimum:.6g}").format(optimum=optimum), "dim"))
    if lr_max is not None:
        if any_past:
            lines.append(
                (
                    _("{DIVERGES_MARK} past 2/L={lr_max:.4g}").format(
                        DIVERGES_MARK=DIVERGES_MARK, lr_max=lr_max
                    ),
                    "bold",
                )
            )
        else:
            lines.append((f"ε_max=2/L={lr_max:.4g}", "dim"))
    out = Text()
    for i, (line, style) in enumerate(lines):
        out.append(("\n" if i else "") + line, style=style)
    return out


class ComparisonPanel(ScrollableContainer, can_focus=False):
    """The table of a comparison; redraws only when its text would change."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = _("Comparison")
        self._shown: tuple | None = None
        self._table: Table | None = None
        self._last: tuple | None = None
        self._compact = False

    @property
    def compact(self) -> bool:
        """Whether it shows the compact table (the compact layout)."""
        return self._compact

    @compact.setter
    def compact(self, compact: bool) -> None:
        if compact != self._compact:
            self._compact = compact
            if self._last is not None:
                self.show(*self._last)

    def compose(self) -> ComposeResult:
        yield Static("", id="comparison-table")
        yield Static("", id="comparison-notes")

    def show(
        self,
        runs: Sequence[Any],
        lr_max: float | None,
        optimum: float | None,
        running: bool = False,
    ) -> None:
        key = (
            tuple(
                (
                    r.learning_rate,
                    r.diverges,
                    r.snapshot.status,
                    r.snapshot.iteration,
                    r.snapshot.loss,
                )
                for r in runs
            ),
            lr_max,
            optimum,
            running,
            self._compact,
        )
        self._last = (runs, lr_max, optimum, running)
        if key == self._shown:
            return
        self._shown = key
        compact = self._compact
        self._table = comparison_renderable(runs, lr_max, running, compact)
        self.query_one("#comparison-table", Static).update(self._table)
        past = any(r.diverges for r in runs)
        notes = footnote(lr_max, optimum, past, compact)
        self.query_one("#comparison-notes", Static).update(notes)

    def text(self) -> str:
        """The table as plain text (for tests)."""
        if self._table is None:
            return ""
        out = io.StringIO()
        Console(file=out, width=200, color_system=None, force_terminal=False).print(self._table)
        return out.getvalue()
