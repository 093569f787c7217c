"""The status line: iteration, loss, Δloss, what the run is doing, its speed; the data, the log.

It also carries the app's messages (a run's end, a save, a bad setting): the latest one
starts its second row for a few seconds, marked by a glyph and a word of its severity, so
that no toast ever covers the chart.  The row is one line, cut with … at the screen's
width; the help screen (?) lists the recent messages in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text

from engine.i18n import N_, _

from .formatting import delta_text, loss_text, rate_text
from .states import BY_NAME
from .text_block import TextBlock

LOADING = BY_NAME["loading"].word


@dataclass(frozen=True)
class StatusInfo:
    """What the status line shows; equal infos draw the same line."""

    iteration: int | None = None
    loss: float | None = None
    previous_loss: float | None = None
    state: str = LOADING
    """The state's word (``tui.states``); ``mark`` tells it without colour, ``hint`` its keys."""
    mark: str = ""
    hint: str = ""
    style: str = "bold"
    steps_per_second: float | None = None
    tensorboard: str = ""
    test_loss: float | None = None
    """The loss on the test rows (``--test-fraction``), None without them."""
    best_rate: float | None = None
    """While comparing: the learning rate whose loss is the lowest (``loss``)."""
    data: str = ""
    """The data (``toy: n=50, d=13, m=3``), or how far a file being read is."""
    speed: str = ""
    """How fast a run goes: "max" or "10/s" ([ and ] change it)."""
    saved: str = ""
    """Where the last save went ("saved amal-runs/x.json"), until the next one."""
    functions: str = ""
    """The name of a student's file of Functions (``--functions``), "" for the engine's own."""
    verdict: str = ""
    """What the check said of them ("✓ checked", "✗ MSE: gradient for y wrong", "checking…")."""
    functions_note: str = ""
    """What happened to the file since ("changed on disk: o reloads")."""
    computing: str = ""
    """A slow step being computed, with its elapsed time ("computing step 67… 0.4 s")."""


@dataclass(frozen=True)
class Note:
    """One message of the app (``App.notify``): what it says, how serious, under what title."""

    text: str
    severity: str = "information"
    title: str = ""

    def line(self, marked: bool = True) -> str:
        """The message in one line, its severity in a glyph and a word (no colour needed)."""
        mark, word = SEVERITY_MARKS.get(self.severity, SEVERITY_MARKS["information"])
        said = " ".join(self.text.split())  # a message is one line, whatever it quotes
        # "saved: saved in …" says it twice: a title the message starts with is left out.
        title = f"{self.title}: " if self.title and not said.startswith(self.title) else ""
        return f"{mark} {_(word) if word else word}{title}{said}" if marked else f"{title}{said}"


# (glyph, word) of each severity: told apart in 16 colours or none.
SEVERITY_MARKS = {
    "information": ("›", ""),
    "warning": ("⚠", N_("warning: ")),
    "error": ("✗", N_("error: ")),
}
SEVERITY_STYLES = {"information": "bold", "warning": "bold yellow", "error": "bold red"}
NOTE_SEPARATOR = "  ·  "


def notes_text(notes: Sequence[Note]) -> Text:
    """Messages said together (a comparison's runs ending at once), in the order said; a
    severity is marked once for the messages of that severity that follow each other."""
    out = Text()
    previous: Note | None = None
    for note in notes:
        if previous is not None:
            out.append(" · ", style="dim")
        marked = previous is None or previous.severity != note.severity
        out.append(note.line(marked), style=SEVERITY_STYLES.get(note.severity, "bold"))
        previous = note
    return out


def status_text(info: StatusInfo, notes: Sequence[Note] = ()) -> Text:
    """The two rows: the run on the first; the latest messages, then the settings of the
    display (speed, last save, data, TensorBoard) on the second."""
    if info.iteration is None:
        line = Text.assemble((f"{info.mark} {info.state}" if info.mark else info.state, "bold"))
        if info.state in (LOADING, _(LOADING)):
            line.append(_("  importing torch and building the problem"))
    else:
        delta = (
            None
            if info.loss is None or info.previous_loss is None
            else info.loss - info.previous_loss
        )
        if info.best_rate is None:
            losses = Text.assemble(
                _("  loss "),
                (loss_text(info.loss), "bold"),
                _("  Δloss "),
                delta_text(delta),
                ""
                if info.test_loss is None
                else _("  test {test_loss}").format(test_loss=loss_text(info.test_loss)),
            )
        else:
            losses = Text.assemble(
                _("  best loss "),
                (loss_text(info.loss), "bold"),
                _(" (ε {best_rate:g})").format(best_rate=info.best_rate),
            )
        line = Text.assemble(
            _("iteration "),
            (str(info.iteration), "bold"),
            losses,
            "  ",
            (f" {info.mark} {info.state} " if info.mark else f" {info.state} ", info.style),
        )
        if info.hint:
            line.append(f" {info.hint}")
        if info.computing:
            line.append(f"  {info.computing}", style="bold")
        if info.steps_per_second is not None:
            line.append(f"  {rate_text(info.steps_per_second)}")
    line.append("\n")
    if notes:
        line.append_text(notes_text(notes))
        line.append(NOTE_SEPARATOR, style="dim")
    line.append_text(functions_piece(info))
    if info.speed:
        line.append(_("speed {speed} [ ]").format(speed=info.speed))
        line.append("  ·  ", style="dim")
    if info.saved:
        line.append(info.saved, style="bold")
        line.append("  ·  ", style="dim")
    if info.data:
        line.append(info.data)
        line.append("  ·  ", style="dim")
    line.append(info.tensorboard, style="dim")
    return line


# A student's file name and the check's verdict, shortened to these many cells each: together
# they leave the second row room for the speed at 80 columns (when no note follows).
FUNCTIONS_CELLS, VERDICT_CELLS = 22, 36


def functions_piece(info: StatusInfo) -> Text:
    """``alice-tp1.py ✓ checked  ·  ``: whose Functions run and the check's verdict on them, each
    shortened to fit (the name keeps its end), then what happened to the file since; empty
    for the engine's own Functions."""
    if not info.functions:
        return Text()
    name = info.functions
    if cell_len(name) > FUNCTIONS_CELLS:
        while cell_len(name) > FUNCTIONS_CELLS - 1:
            name = name[1:]  # the end tells the version: …tp1-v3.py
        name = "…" + name
    mark = info.verdict[:1]
    verdict = Text(info.verdict, style={"✓": "bold green", "✗": "bold red"}.get(mark, "bold"))
    verdict.truncate(VERDICT_CELLS, overflow="ellipsis")
    piece = Text.assemble(name, " ", verdict)
    if info.functions_note:
        piece.append(f" ({info.functions_note})", style="bold")
    piece.append("  ·  ", style="dim")
    return piece


class StatusLine(TextBlock):
    """Two lines at the bottom; redraws only when what it shows changed."""

    SIZED_BY_TEXT = False  # two lines across the screen whatever they say

    def __init__(self, *, id: str | None = None) -> None:
        self.info = StatusInfo(
            state=_(LOADING), mark=BY_NAME["loading"].mark
        )  # as the presenter says it
        self.notes: tuple[Note, ...] = ()
        """The messages on show (several when said in the same turn of the event loop)."""
        self._burst = False
        self._said_count = 0
        super().__init__(status_text(self.info), id=id)

    def show(self, info: StatusInfo) -> None:
        if info == self.info:
            return
        self.info = info
        self.show_text(status_text(info, self.notes))

    def say(self, note: Note, timeout: float) -> None:
        """Show ``note`` for ``timeout`` seconds, after the others said in this same turn."""
        if self._burst:
            self.notes += (note,)
        else:
            self.notes = (note,)
            self._burst = True
            self.call_later(self._end_burst)
        self._said_count += 1
        said = self._said_count
        self.set_timer(timeout, lambda: self._expire(said))
        self.show_text(status_text(self.info, self.notes))

    def clear_notes(self) -> None:
        if self.notes:
            self.notes = ()
            self.show_text(status_text(self.info))

    def _end_burst(self) -> None:
        self._burst = False

    def _expire(self, said: int) -> None:
        # Only the timer of the last message said clears the row: a newer one keeps its time.
        if said == self._said_count:
            self.clear_notes()
