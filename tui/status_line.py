"""The status line: iteration, loss, Δloss, what the run is doing, its speed; the data, the log."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

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


def status_text(info: StatusInfo) -> Text:
    if info.iteration is None:
        line = Text.assemble((f"{info.mark} {info.state}" if info.mark else info.state, "bold"))
        if info.state == LOADING:
            line.append("  importing torch and building the problem")
    else:
        delta = (
            None
            if info.loss is None or info.previous_loss is None
            else info.loss - info.previous_loss
        )
        if info.best_rate is None:
            losses = Text.assemble(
                "  loss ",
                (loss_text(info.loss), "bold"),
                "  Δloss ",
                delta_text(delta),
                "" if info.test_loss is None else f"  test {loss_text(info.test_loss)}",
            )
        else:
            losses = Text.assemble(
                "  best loss ", (loss_text(info.loss), "bold"), f" (ε {info.best_rate:g})"
            )
        line = Text.assemble(
            "iteration ",
            (str(info.iteration), "bold"),
            losses,
            "  ",
            (f" {info.mark} {info.state} " if info.mark else f" {info.state} ", info.style),
        )
        if info.hint:
            line.append(f" {info.hint}")
        if info.steps_per_second is not None:
            line.append(f"  {rate_text(info.steps_per_second)}")
    line.append("\n")
    if info.speed:
        line.append(f"speed {info.speed} [ ]")
        line.append("  ·  ", style="dim")
    if info.saved:
        line.append(info.saved, style="bold")
        line.append("  ·  ", style="dim")
    if info.data:
        line.append(info.data)
        line.append("  ·  ", style="dim")
    line.append(info.tensorboard, style="dim")
    return line


class StatusLine(TextBlock):
    """Two lines at the bottom; redraws only when what it shows changed."""

    SIZED_BY_TEXT = False  # two lines across the screen whatever they say

    def __init__(self, *, id: str | None = None) -> None:
        self.info = StatusInfo(mark=BY_NAME["loading"].mark)  # as the presenter says it
        super().__init__(status_text(self.info), id=id)

    def show(self, info: StatusInfo) -> None:
        if info == self.info:
            return
        self.info = info
        self.show_text(status_text(info))
