"""Every word the app uses for what a run is doing: ONE table, read by the controller (its
states), the presenter and the status line (the word, its mark, its hint and style), the
comparison table and the help screen (what each word means).

Each state has a mark of its own, so that the status line tells them apart without colour
(a 16-colour or monochrome terminal): ``○ ready`` and ``‖ paused`` differ by their mark,
their word and the keys they name, not by a colour.  Pure data: no Textual, no rich.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.i18n import N_


@dataclass(frozen=True)
class StateWord:
    """A state as the app says it."""

    name: str
    """The controller's name for it (``RunController.state``) or the engine's status."""
    word: str
    """What the status line and the comparison table show."""
    mark: str
    """One character before the word: the state without colour."""
    meaning: str
    """What it means, for the help screen."""
    hint: str = ""
    """The keys that act from this state, said after the word on the status line."""
    style: str = "bold"
    """rich style on the status line: bold, reverse and underline read without colour too."""


STATE_WORDS: tuple[StateWord, ...] = (
    StateWord(
        "loading",
        N_("loading…"),
        "◌",
        N_("torch, the data or new settings are being loaded; keys pressed meanwhile wait"),
    ),
    StateWord(
        "failed",
        N_("cannot start"),
        "⊘",
        N_("the first settings could not load (the reason follows): nothing to run; q quits"),
        style="bold red",
    ),
    StateWord(
        "saving",
        N_("saving…"),
        "↓",
        N_("the run is being written to its JSON and CSV files; a run goes on after"),
    ),
    StateWord(
        "ready", N_("ready"), "○", N_("at iteration 0, nothing run yet"), N_("r runs, s steps")
    ),
    StateWord(
        "running",
        N_("running"),
        "▶",
        N_("the descent is going on, at the speed shown ([ and ] change it)"),
        N_("r pauses"),
        "bold reverse",
    ),
    StateWord(
        "stepping",
        N_("stepping…"),
        "⧗",
        N_(
            "s: one step is being computed in the background (a slow step: its time is shown); "
            "keys pressed meanwhile wait for it, q quits at once"
        ),
        style="bold reverse",
    ),
    StateWord(
        "pausing",
        N_("pausing…"),
        "¦",
        N_(
            "r was pressed while a step is computed: the run pauses once it ends (a step cannot "
            "be cut short; its time is shown)"
        ),
        style="bold underline",
    ),
    StateWord(
        "paused",
        N_("paused"),
        "‖",
        N_("stepped or run, then stopped before its end: the run goes on from this iteration"),
        N_("r resumes, x resets"),
        "bold underline",
    ),
    StateWord(
        "converged",
        N_("converged"),
        "✓",
        N_("the loss reached the threshold (at or under it): the run stopped there"),
        N_("x resets"),
        "bold green",
    ),
    StateWord(
        "capped",
        N_("capped"),
        "■",
        N_("max iter iterations ran without reaching the threshold"),
        N_("x resets"),
        "bold yellow",
    ),
    StateWord(
        "diverged",
        N_("diverged"),
        "✗",
        N_("the loss or a parameter is no longer finite (ε too large: past ε_max = 2/L)"),
        N_("x resets"),
        "bold red",
    ),
    StateWord(
        "finished",
        N_("finished"),
        "□",
        N_("comparing: every run has stopped (the table says how each ended)"),
        N_("x resets"),
    ),
)

BY_NAME: dict[str, StateWord] = {state.name: state for state in STATE_WORDS}
STATES: tuple[str, ...] = tuple(state.name for state in STATE_WORDS)
"""The controller's states and the engine's statuses, in the help's order."""
