"""The comparison table: one row per learning rate, its chart marker, status, iterations, loss.

It takes the parameters panel's place while comparing.  The marker column is
the chart's legend; a learning rate that the engine's theory says diverges
(past the stability bound of the optimizer in use: ``RunView.diverges``)
carries a ⚠ before it runs, so the table says in characters what the colours say.
The footnote names that bound as the engine's one rule writes it
(``engine.core.theory.stability_bound``: 2/L, 2(1+μ)/L with momentum,
2(1+μ)/((1+2μ)L) with Nesterov), or says that none is known (Adam, mini-batches).

In the compact layout (80×24) the table fits 24 columns: the status is its mark
(``tui.states``: the help screen says each), the loss has 4 significant digits, and
the notes are short.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
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
# The compact table's width: a footnote line longer than this is cut in two.
COMPACT_WIDTH = 24


@dataclass(frozen=True)
class RunBound:
    """The stability bound of the optimizer in use on the data on screen, or why none."""

    value: float | None
    name: str | None
    """How the engine writes it: "2/L", "2(1+μ)/L", "2(1+μ)/((1+2μ)L)"."""
    why_none: str | None = None


def run_bound(config: Any, problem: Any, theory: Any) -> RunBound:
    """``config``'s bound from the engine's one rule (``stability_bound``), or why none is known."""
    if theory is None:
        return RunBound(None, None, _("no bound: no theory of the data"))
    from engine.core.theory import stability_bound  # torch: loaded with the Experiment

    n = int(problem.X.shape[0])
    bound = stability_bound(theory.lr_max, config.optimizer, config.batch_size, n, config.momentum)
    if bound is not None:
        return RunBound(bound.value, bound.name)
    if config.batch_size is not None and config.batch_size < n:
        why = _("no bound for mini-batches of {size}").format(size=config.batch_size)
        return RunBound(None, None, why)
    return RunBound(
        None, None, _("no bound is known for {optimizer}").format(optimizer=config.optimizer)
    )


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
    lr_max: float | None,
    optimum: float | None,
    any_past: bool,
    compact: bool = False,
    bound: RunBound | None = None,
) -> Text:
    """The notes under the table: the optimum, the bound of the optimizer in use (``bound``:
    its value and how it is written, or why none is known, plain SGD's 2/L = ``lr_max``
    then said as such), and what c does."""
    if compact:
        return compact_footnote(lr_max, optimum, any_past, bound)
    why_none = None if bound is None else bound.why_none
    if bound is not None and bound.value is None:
        bound = None
    out = Text(style="dim")
    if optimum is not None:
        out.append(
            _("the loss cannot go under the optimum {optimum:.6g}\n").format(optimum=optimum)
        )
    if bound is not None:
        if any_past:
            out.append(
                _("{DIVERGES_MARK} ε > ε_max = {name} = {value:.4g}: diverges\n").format(
                    DIVERGES_MARK=DIVERGES_MARK, name=bound.name, value=bound.value
                ),
                style="bold",
            )
        else:
            out.append(f"ε_max = {bound.name} = {bound.value:.4g}\n")
    elif why_none is not None and lr_max is not None:
        out.append(
            _("{why_none} (plain SGD's 2/L = {lr_max:.4g})\n").format(
                why_none=why_none, lr_max=lr_max
            )
        )
    out.append(_("c: other learning rates; empty: one run"))
    return out


def compact_footnote(
    lr_max: float | None,
    optimum: float | None,
    any_past: bool,
    bound: RunBound | None = None,
) -> Text:
    """The notes in 24 columns; what c does is said under the learning rates' field."""
    why_none = None if bound is None else bound.why_none
    if bound is not None and bound.value is None:
        bound = None
    lines = []
    if optimum is not None:
        lines.append((_("optimum {optimum:.6g}").format(optimum=optimum), "dim"))
    if bound is not None:
        value = f"{bound.value:.4g}"
        if any_past:
            head = _("{DIVERGES_MARK} past {name}").format(
                DIVERGES_MARK=DIVERGES_MARK, name=bound.name
            )
            style = "bold"
        else:
            head, style = f"ε_max={bound.name}", "dim"
        if len(f"{head}={value}") <= COMPACT_WIDTH:
            lines.append((f"{head}={value}", style))
        else:  # Nesterov's 2(1+μ)/((1+2μ)L): its value on a line of its own
            lines.append((head, style))
            lines.append((f"  = {value}", style))
    elif why_none is not None and lr_max is not None:
        lines.append((_("no bound; 2/L={lr_max:.4g}").format(lr_max=lr_max), "dim"))
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
        self._bound: RunBound | None = None

    @property
    def compact(self) -> bool:
        """Whether it shows the compact table (the compact layout)."""
        return self._compact

    @compact.setter
    def compact(self, compact: bool) -> None:
        if compact != self._compact:
            self._compact = compact
            if self._last is not None:
                self.show(*self._last, bound=self._bound)

    def compose(self) -> ComposeResult:
        yield Static("", id="comparison-table")
        yield Static("", id="comparison-notes")

    def show(
        self,
        runs: Sequence[Any],
        lr_max: float | None,
        optimum: float | None,
        running: bool = False,
        *,
        bound: RunBound | None = None,
    ) -> None:
        """``bound``: the stability bound of the optimizer in use (``run_bound``), or why
        none is known."""
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
            bound,
        )
        self._last = (runs, lr_max, optimum, running)
        self._bound = bound
        if key == self._shown:
            return
        self._shown = key
        compact = self._compact
        self._table = comparison_renderable(runs, lr_max, running, compact)
        self.query_one("#comparison-table", Static).update(self._table)
        past = any(r.diverges for r in runs)
        notes = footnote(lr_max, optimum, past, compact, bound)
        self.query_one("#comparison-notes", Static).update(notes)

    def text(self) -> str:
        """The table as plain text (for tests)."""
        if self._table is None:
            return ""
        out = io.StringIO()
        Console(file=out, width=200, color_system=None, force_terminal=False).print(self._table)
        return out.getvalue()
