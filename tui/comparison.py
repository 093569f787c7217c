"""The comparison table: one row per learning rate, its chart marker, status, iterations, loss.

It takes the parameters panel's place while comparing.  The marker column is
the chart's legend; a learning rate that the engine's theory says diverges
(past ε_max = 2/L, for plain full-batch descent only: ``RunView.diverges``)
carries a ⚠ before it runs, so the table says in characters what the colours say.
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

from .formatting import loss_text
from .loss_chart import compare_marker
from .states import BY_NAME

DIVERGES_MARK = "⚠"


def status_word(status: str, iteration: int, running: bool) -> str:
    """The engine's status as the app says it: a run stopped midway is paused, not running."""
    if status == "running" and not running:
        return "paused" if iteration > 0 else "ready"
    return status


def comparison_renderable(runs: Sequence[Any], lr_max: float | None, running: bool) -> Table:
    """The table for a sequence of ``RunView``; ``running``: whether the app runs them now."""
    table = Table(box=None, padding=(0, 1, 0, 0), show_edge=False, expand=False)
    table.add_column("", no_wrap=True)
    table.add_column("ε", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("iter.", justify="right", no_wrap=True)
    table.add_column("loss", justify="right", no_wrap=True)
    for i, run in enumerate(runs):
        snapshot = run.snapshot
        rate = f"{run.learning_rate:g}"
        if run.diverges:
            rate += DIVERGES_MARK
        status = status_word(snapshot.status.value, snapshot.iteration, running)
        row = [
            Text(compare_marker(i), style="bold"),
            rate,
            Text(status, style=BY_NAME[status].style if status in BY_NAME else ""),
            str(snapshot.iteration),
            loss_text(snapshot.loss),
        ]
        table.add_row(*row)
    return table


def footnote(lr_max: float | None, optimum: float | None, any_past: bool) -> Text:
    out = Text(style="dim")
    if optimum is not None:
        out.append(f"the loss cannot go under the optimum {optimum:.6g}\n")
    if lr_max is not None:
        if any_past:
            out.append(f"{DIVERGES_MARK} ε > ε_max = 2/L = {lr_max:.4g}: diverges\n", style="bold")
        else:
            out.append(f"ε_max = 2/L = {lr_max:.4g}\n")
    out.append("c: other learning rates; empty: one run")
    return out


class ComparisonPanel(ScrollableContainer, can_focus=False):
    """The table of a comparison; redraws only when its text would change."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Comparison"
        self._shown: tuple | None = None
        self._table: Table | None = None

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
        )
        if key == self._shown:
            return
        self._shown = key
        self._table = comparison_renderable(runs, lr_max, running)
        self.query_one("#comparison-table", Static).update(self._table)
        past = any(r.diverges for r in runs)
        self.query_one("#comparison-notes", Static).update(footnote(lr_max, optimum, past))

    def text(self) -> str:
        """The table as plain text (for tests)."""
        if self._table is None:
            return ""
        out = io.StringIO()
        Console(file=out, width=200, color_system=None, force_terminal=False).print(self._table)
        return out.getvalue()
