"""How quickly the app answers when a step is slow: large data, a slow student file, a long load.

``make bench`` (section 7) and a person comparing two versions of the app run the same
measure, in a pseudo-terminal, from the keys typed to what the screen shows.  What the app
writes is fed to a terminal emulator (pyte, a dev dependency): Textual rewrites only the
cells that changed, so "iteration 12" is on screen long before its digits are written
next to the word again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyte
from ptyrun import PtyRun, run_in_pty

ITERATION = re.compile(r"iteration\s+(\d+)")
PAUSED = re.compile(r"‖ paused")
# "pausing…" (the step under way ends first) or "paused": the key's answer on screen.
PAUSE_SAID = re.compile(r"¦ pausing…|‖ paused")
SIZE = (100, 30)


@dataclass
class Latencies:
    """Seconds from a key to what it should show; None when it never showed."""

    first_progress_s: float | None = None
    """From r to the first iteration past 0 on screen."""
    pause_said_s: float | None = None
    """From the second r to "pausing…" (a step under way ends first) or "paused" on screen."""
    pause_s: float | None = None
    """From the second r to "paused" on screen (at most a step more than ``pause_said_s``)."""
    quit_s: float | None = None
    """From q to the process gone."""
    exit_code: int | None = None
    ready: bool = False
    """Whether the app was ready (loaded) before the timeout: no key was typed otherwise."""


def screens(run: PtyRun, start: float) -> Iterator[tuple[float, str]]:
    """``(time, screen text)`` after each write from ``start`` seconds on."""
    screen = pyte.Screen(*SIZE)
    stream = pyte.ByteStream(screen)
    for at, data in run.chunks:
        stream.feed(data)
        if at >= start:
            yield at, "\n".join(screen.display)


def first_after(
    run: PtyRun, start: float, pattern: re.Pattern, test=lambda match: True
) -> float | None:
    """When the screen first showed ``pattern`` (a match that passes ``test``) after ``start``."""
    for at, text in screens(run, start):
        if any(test(match) for match in pattern.finditer(text)):
            return at
    return None


def measure_run(
    command: list[str],
    ready: str,
    *,
    run_s: float = 5.0,
    pause_s: float = 5.0,
    timeout: float = 300.0,
) -> Latencies:
    """Once ``ready`` shows: r, then r again after ``run_s`` seconds, then q ``pause_s`` later
    (time for a slow step to end)."""
    keys = [(0.5, "r"), (0.5 + run_s, "r"), (0.5 + run_s + pause_s, "q")]
    run = run_in_pty(
        command, size=SIZE, keys=keys, text=ready, after_text=True, record=True, timeout=timeout
    )
    result = Latencies(exit_code=run.exit_code, ready=run.text_s is not None)
    typed = [at for at, _ in run.key_log]
    if len(typed) >= 1:
        moved = first_after(run, typed[0], ITERATION, lambda match: int(match.group(1)) > 0)
        result.first_progress_s = _since(typed[0], moved)
    if len(typed) >= 2:
        result.pause_said_s = _since(typed[1], first_after(run, typed[1], PAUSE_SAID))
        result.pause_s = _since(typed[1], first_after(run, typed[1], PAUSED))
    if len(typed) >= 3 and run.exited_s is not None:
        result.quit_s = run.exited_s - typed[2]
    return result


def measure_quit_while_loading(
    command: list[str], loading: str, after: float, timeout: float = 60.0
) -> Latencies:
    """``after`` seconds once ``loading`` shows, q: how long until the process is gone."""
    run = run_in_pty(
        command, size=SIZE, keys=[(after, "q")], text=loading, after_text=True, timeout=timeout
    )
    result = Latencies(exit_code=run.exit_code)
    if run.key_log and run.exited_s is not None:
        result.quit_s = run.exited_s - run.key_log[0][0]
    return result


def _since(start: float, at: float | None) -> float | None:
    return None if at is None else at - start
