"""When the app redraws each panel: only what changed, each at its own rate, no timer when idle.

Every redraw takes the GIL from the engine and bytes from an SSH link.  The App
marks a panel changed (``changed``), draws the panels ``take`` lets it draw now,
and sets one timer (``reschedule``) for the first one that must wait.  Plain
Python: the App passes in the clock's reading and the timers it makes.
"""

from __future__ import annotations

import math
from typing import Any

# The shortest time between two redraws of each panel: (status line, parameters, chart).
# The status line and the chart share one period and are drawn in the same frame from the
# same state: the chart's last point is the iteration the status line shows.
# - while a run goes fast: 4 times a second (the chart: ~16 KiB/s at 100x30);
# - while a run is watched at a few iterations a second: up to EVERY_ITERATION_SPEED every
#   iteration, faster twice a second (every 5th iteration at 10 it/s), W and b once a
#   second: a redraw costs the same CPU however little moved, and a shared server pays it
#   for every student watching;
# - when idle: a key's effect shows at once (W and b at most 10 times a second while a
#   key is held down).
# Nothing is redrawn, and no timer ticks, when nothing changed.
PERIODS_RUNNING = (0.25, 0.2, 0.25)
PERIODS_WATCHED = (0.5, 1.0, 0.5)
PERIODS_IDLE = (0.0, 0.1, 0.0)
# Up to this speed (iterations per second) a watched run shows each iteration.
EVERY_ITERATION_SPEED = 4
MIN_TIMER_DELAY = 0.001
# While a run goes on, one group a frame (status line and chart, or W and b), at least this
# far apart (seconds): a frame repaints the rectangle around what it draws, not the screen.
PANEL_GAP = 0.04
# How early a redraw timer may fire and still count as on time (seconds).
TIMER_SLACK = 0.01
# Up to this speed (iterations per second) a run is watched: PERIODS_WATCHED.
WATCHED_SPEED = 30

# The panels, in the order of the periods.
TEXT, PARAMETERS, CHART = 0, 1, 2


class RedrawSchedule:
    """Which panels changed since they were drawn, when each was drawn, and the pending timer."""

    def __init__(self, fps: float | None = None) -> None:
        if fps is not None and not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        self.dirty = [False, False, False]
        self.drawn_at = [-math.inf, -math.inf, -math.inf]
        self.timer: Any = None
        """The timer of the next redraw (anything with ``stop()``), None when none is due."""
        self.timer_due = math.inf
        # When the last panel was drawn while a run goes on (one panel a frame, see PANEL_GAP).
        self.panel_at = -math.inf
        # --fps N: no panel redraws more often than N times per second.
        self.fps_floor = 0.0 if fps is None else 1.0 / fps

    def periods(self, running: bool, speed: float | None) -> tuple[float, float, float]:
        """The shortest times between two redraws of (status line, parameters, chart) now."""
        if not running:
            periods = PERIODS_IDLE
        elif speed is not None and speed <= WATCHED_SPEED:
            periods = PERIODS_WATCHED
            if speed <= EVERY_ITERATION_SPEED:
                every = min(1 / speed, periods[TEXT])
                periods = (every, periods[PARAMETERS], every)
        else:
            periods = PERIODS_RUNNING
        return tuple(max(period, self.fps_floor) for period in periods)

    @property
    def any_dirty(self) -> bool:
        return any(self.dirty)

    def changed(self, everything: bool = False) -> None:
        """The status line (``everything``: every panel) no longer shows the latest state."""
        self.dirty[TEXT] = True
        if everything:
            self.dirty[PARAMETERS] = self.dirty[CHART] = True

    def choose(
        self,
        periods: tuple[float, float, float],
        force: bool,
        now: float,
        running: bool = False,
        panels: int = 3,
    ) -> list[int]:
        """The panels to draw now (each marked drawn): those that changed and whose period
        has passed (every one that changed if ``force``); only the first ``panels`` count.

        The status line and the chart go together: whichever is due brings the other
        along if it changed, so both show the same iteration.  While a run goes on, one
        of (status line and chart) or (parameters) a frame, the most overdue first:
        Textual repaints the rectangle around everything that changed in a frame.
        """

        def late(panel: int) -> float:
            return now - self.drawn_at[panel] - periods[panel]

        due = {
            panel for panel in range(panels) if self.dirty[panel] and (force or late(panel) >= 0)
        }
        if panels > CHART and due & {TEXT, CHART}:
            due |= {panel for panel in (TEXT, CHART) if self.dirty[panel]}
        if running and not force:
            if not due or now - self.panel_at < PANEL_GAP:
                return []
            groups = [group for group in (due - {PARAMETERS}, due & {PARAMETERS}) if group]
            # Equally late: the status line and chart first.
            due = max(groups, key=lambda group: (max(map(late, group)), -min(group)))
            self.panel_at = now
        drawing = sorted(due)
        for panel in drawing:
            self.dirty[panel] = False
            self.drawn_at[panel] = now
        return drawing

    def fired(self) -> None:
        """The timer went off."""
        self.timer, self.timer_due = None, math.inf

    def reschedule(
        self, periods: tuple[float, float, float], now: float, running: bool = False
    ) -> float | None:
        """The delay of a new timer for the first dirty panel, or None to keep the one set.

        The timer set is stopped when it is no longer needed (nothing dirty: drawn
        meanwhile by a forced redraw) or when a panel is due before it.
        """
        if not self.any_dirty:
            if self.timer is not None:
                self.timer.stop()
                self.fired()
            return None
        panels = zip(self.drawn_at, periods, self.dirty, strict=True)
        due = min((at + period for at, period, dirty in panels if dirty), default=math.inf)
        if running:
            due = max(due, self.panel_at + PANEL_GAP)
        if due >= self.timer_due:
            return None
        if self.timer is not None:
            self.timer.stop()
        self.timer_due = due
        # Never 0: a Textual timer of 0 s that starts late divides by its interval, and dies.
        return max(due - now, MIN_TIMER_DELAY)
