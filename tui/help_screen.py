"""The help screen (``?``): every key, and what the panels show."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from .prompts import OneShotScreen

KEYS: tuple[tuple[str, str], ...] = (
    ("s  →", "one iteration (a step)"),
    ("r  space", "run / pause"),
    ("[  ]", "slower / faster: 1, 3, 10 … 1000 iterations a second, or max (the default)"),
    ("x", "reset to iteration 0, same seeds (same W and b to start)"),
    ("c", "compare learning rates from the same start (a list; empty: back to one run)"),
    ("e", "save the run (or the comparison): JSON and CSV"),
    ("l", "loss chart: logarithmic / linear y axis"),
    ("+  -", "learning rate × 10 / ÷ 10, and reset"),
    ("tab", "edit the settings (shift+tab: back); each field keeps what you type"),
    ("enter", "in a field: apply every edited one and reset the run (none while one is invalid)"),
    ("esc", "in a field: restore every field; in a prompt: cancel"),
    ("?", "this help"),
    ("q", "quit (ctrl+q, ctrl+c too); a save in progress finishes first"),
)

PANELS = (
    "Settings: the learning rate ε, the seeds, the threshold and max iter as in the notebook; "
    "then the optimizer (sgd, momentum, nesterov, adam, with their momentum, β1, β2), the "
    "batch size (empty: the whole batch) and the data (toy, synthetic or a CSV/TSV file). "
    "ε_max = 2/L: plain gradient descent diverges past it (⚠ says so before you run).\n"
    "Parameters: ‖θ−θ*‖ the distance of θ = (W, b) to the least-squares optimum θ* "
    "(‖θ−θ_true‖ to the truth of synthetic data); each entry of W and b with its sign, and a "
    "bar ▁…█ for its size relative to the largest entry; blue is positive, red negative. "
    "◆ marks the entries the last step changed most. ‖∇W‖, ‖∇b‖: norms of the last gradients.\n"
    "Loss: the loss of every iteration, ─ the threshold, ·· the optimum (the loss cannot go "
    "under it), ● the current iteration, • the loss on the test rows (with --test-fraction). "
    "Comparing, each learning rate has its marker (+ x o * …), named in the legend and the "
    "table: ε, status, iterations, current loss.\n"
    "A run stops when a loss is at or under the threshold (converged), after max iter "
    "iterations (capped), or when the loss or a parameter is no longer finite (diverged).\n"
    "The status line: iteration, loss, Δloss, the state, steps/s (of each run while "
    "comparing), the speed asked for and where TensorBoard logs; the chart's title names the data: n points, "
    "d features, m outputs."
)


def help_renderable() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for keys, meaning in KEYS:
        table.add_row(keys, meaning)
    return table


class HelpScreen(OneShotScreen):
    """Closes with Escape, ? or q."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close help"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as box:
            box.border_title = "amal-tui · keys"
            box.border_subtitle = "↑↓ scroll · esc, ? or q: close"
            yield Static(help_renderable(), id="help-keys")
            yield Static(Text(PANELS), id="help-panels")

    def on_mount(self) -> None:
        # Focused: ↑ ↓ page up/down scroll it (the app focuses nothing by itself).
        self.query_one("#help", VerticalScroll).focus()
