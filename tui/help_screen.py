"""The help screen (``?``): every key, and what the panels show."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("s  →", "one iteration (a step)"),
    ("r  space", "run / pause"),
    ("x", "reset to iteration 0, same seeds (same W and b to start)"),
    ("l", "loss chart: logarithmic / linear y axis"),
    ("+  -", "learning rate × 10 / ÷ 10, and reset"),
    ("tab", "edit the hyperparameters (shift+tab: back)"),
    ("enter", "in a field: apply it and reset the run"),
    ("esc", "in a field: leave it unchanged"),
    ("?", "this help"),
    ("q", "quit (ctrl+q too)"),
)

PANELS = (
    "Parameters: each entry of W and b with its sign, and a bar ▁…█ for its size "
    "relative to the largest entry; blue is positive, red negative. "
    "◆ marks the entries the last step changed most. ‖∇W‖, ‖∇b‖: norms of the last gradients.\n"
    "Loss: the loss of every iteration, the threshold as a line, ● the current iteration, "
    "• the loss on the test rows (with --test-fraction).\n"
    "A run stops when a loss is at or under the threshold (converged), after max iter "
    "iterations (capped), or when the loss or a parameter is no longer finite (diverged)."
)


def help_renderable() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for keys, meaning in KEYS:
        table.add_row(keys, meaning)
    return table


class HelpScreen(ModalScreen[None]):
    """Closes with Escape, ? or q."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close help"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as box:
            box.border_title = "amal-tui · keys"
            box.border_subtitle = "esc, ? or q: close"
            yield Static(help_renderable(), id="help-keys")
            yield Static(Text(PANELS), id="help-panels")
