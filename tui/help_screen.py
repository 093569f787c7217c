"""The help screen (``?``): every key, and what the panels show."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.i18n import N_, _

from .keys import help_rows, translate_bindings
from .prompts import OneShotScreen
from .states import STATE_WORDS

# The keys and their rows are listed once, in tui/keys.py; the states' words in tui/states.py.
KEYS: tuple[tuple[str, str], ...] = help_rows()

PANELS = N_(
    "Settings: the learning rate ε, the seeds, the threshold and max iter as in the notebook; "
    "then the optimizer (sgd, momentum, nesterov, adam, with their momentum, β1, β2), the "
    "batch size (empty: the whole batch) and the data (toy, synthetic or a CSV/TSV file). "
    "ε_max = 2/L: plain gradient descent diverges past it (⚠ says so before you run).\n"
    "Parameters: ‖θ−θ*‖ the distance of θ = (W, b) to the least-squares optimum θ* "
    "(‖θ−θ_true‖ to the truth of synthetic data); each entry of W and b with its sign, and a "
    "bar ▁…█ for its size relative to the largest entry; blue is positive, red negative. "
    "◆ marks the entries the last step changed most. ‖∇W‖, ‖∇b‖: norms of the last gradients. "
    "Under 100×30 the panel is compact: Wᵀ, a row per output, a bar per input (rising: "
    "positive, hanging: negative) and b's bar, their scales |W| and |b|, and the entry "
    "changed most; a terminal of 100×30 or more shows every value.\n"
    "Loss: the loss of every iteration, ─ the threshold, ·· the optimum (the loss cannot go "
    "under it), ● the current iteration, • the loss on the test rows (with --test-fraction). "
    "Comparing, each learning rate has its marker (+ x o * …), named in the legend and the "
    "table: ε, status, iterations, current loss.\n"
    "The status line: iteration, loss, Δloss, the state, steps/s (of each run while "
    "comparing), the speed asked for and where TensorBoard logs; the chart's title names the data: n points, "
    "d features, m outputs. The app's messages (a run's end, a save, a setting refused) start "
    "its second row for a few seconds, marked › (information), ⚠ warning or ✗ error, cut "
    "with … to the width: the last ones are listed in full at the end of this help."
)


def help_renderable(save_dir: str = "amal-runs") -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for keys, meaning in help_rows(save_dir):
        table.add_row(keys, meaning)
    return table


def states_renderable() -> Table:
    """What each word of the status line (and of the comparison table) means: tui/states.py."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column()
    for state in STATE_WORDS:
        hint = f"; {_(state.hint)}" if state.hint else ""
        table.add_row(
            Text(f" {state.mark} {_(state.word)} ", style=state.style), _(state.meaning) + hint
        )
    return table


def notes_widgets(notes: Sequence[str]) -> list[Static]:
    """The app's last messages in full (the status line shows each in one line for a while)."""
    if not notes:
        return []
    title = Text(_("Recent messages, oldest first"), style="bold")
    return [
        Static(title, id="help-notes-title"),
        Static(Text("\n".join(notes)), id="help-notes"),
    ]


class HelpScreen(OneShotScreen):
    """Closes with Escape, ? or q."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", N_("Close help")),
    ]

    def __init__(self, save_dir: str = "amal-runs", notes: Sequence[str] = ()) -> None:
        super().__init__()
        translate_bindings(self._bindings)
        self.save_dir = save_dir
        self.notes = tuple(notes)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as box:
            box.border_title = _("amal-tui · keys")
            box.border_subtitle = _("↑↓ scroll · esc, ? or q: close")
            yield Static(help_renderable(self.save_dir), id="help-keys")
            yield Static(
                Text(_("What the status line says the run is doing"), style="bold"),
                id="help-states-title",
            )
            yield Static(states_renderable(), id="help-states")
            yield Static(Text(_(PANELS)), id="help-panels")
            yield from notes_widgets(self.notes)

    def on_mount(self) -> None:
        # Focused: ↑ ↓ page up/down scroll it (the app focuses nothing by itself).
        self.query_one("#help", VerticalScroll).focus()
