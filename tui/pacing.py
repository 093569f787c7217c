"""The speed of a run in the app: as fast as the engine goes, or a few iterations a second
to watch the descent happen ([ and ] change it, as in media players)."""

from __future__ import annotations

import math

from engine.config import ConfigError
from engine.i18n import _

# Iterations per second, slowest first; None: as fast as the engine goes.
SPEEDS: tuple[float | None, ...] = (1, 3, 10, 30, 100, 300, 1000, None)
# A late worker (a slow chunk, a busy machine) catches up this much at most: no burst.
# At least the status line's period while a run is watched (tui.redraw.PERIODS_WATCHED):
# the worker then takes the iterations due between two status lines together.
MAX_CATCH_UP_SECONDS = 0.6
# The longest the worker sleeps between two looks at the speed ([ and ] act within it; a
# pause wakes it at once).  A watched run waits longer: see worker_wait.
MAX_WAIT = 0.1


def parse_speed(text: str, field: str = "--speed") -> float | None:
    """Iterations per second: a positive number, or "max"."""
    value = str(text).strip().lower()
    if value in ("max", "inf", "none", ""):
        return None
    try:
        speed = float(value)
    except ValueError:
        raise ConfigError(
            field, _('expected iterations per second or "max", got {text!r}').format(text=text)
        ) from None
    if not (math.isfinite(speed) and speed > 0):
        raise ConfigError(
            field, _('must be a positive number or "max", got {text!r}').format(text=text)
        )
    return speed


def speed_text(speed: float | None) -> str:
    return "max" if speed is None else f"{speed:g}/s"


def next_speed(speed: float | None, direction: int) -> float | None:
    """The next level up (+1) or down (-1) from ``speed``, which may lie between levels.

    Past the last level either way (a --speed of 0.5 or 5000), the speed stays as it is
    rather than jump the wrong way.
    """
    order = [math.inf if s is None else s for s in SPEEDS]
    current = math.inf if speed is None else speed
    if direction > 0:
        candidates = [s for s in order if s > current]
        chosen = candidates[0] if candidates else current
    else:
        candidates = [s for s in order if s < current]
        chosen = candidates[-1] if candidates else current
    return None if chosen == math.inf else chosen


class Pacer:
    """How many iterations are due now at ``rate`` per second, the first one at once."""

    def __init__(self) -> None:
        self.rate: float | None = None
        self.start = 0.0
        self.done = 0

    def due(self, rate: float, now: float) -> int:
        if rate != self.rate:  # a new speed starts from now
            self.rate, self.start, self.done = rate, now, 0
        owed = int((now - self.start) * rate) + 1 - self.done
        if owed > max(1, rate * MAX_CATCH_UP_SECONDS):
            # Behind (the engine is slower than the speed asked): run what is due, and
            # forget the rest rather than rush to catch up.
            owed = max(1, int(rate * MAX_CATCH_UP_SECONDS))
            self.start = now - (self.done + owed - 1) / rate
        owed = max(owed, 0)
        self.done += owed
        return owed

    def wait(self, now: float) -> float:
        """Seconds until the next iteration is due (at most MAX_WAIT)."""
        if self.rate is None:
            return 0.0
        next_at = self.start + self.done / self.rate
        return min(max(next_at - now, 0.0), MAX_WAIT)


def worker_wait(
    pacer_wait: float, now: float, posted: float, period: float, held: bool, watched: bool
) -> float:
    """How long the run worker sleeps: until the next iteration is due (``pacer_wait``),
    or until the status line may show one that is ``held`` back (posted at ``posted``,
    shown once a ``period``).

    A ``watched`` run (a few iterations a second) takes the iterations due before the
    status line may show the next one together, then: one wake-up on warm caches rather
    than one per iteration (waking costs more than a toy step).  [ and ] act within the
    period.
    """
    if held:
        return min(pacer_wait, max(posted + period - now, 0.0))
    if watched:
        return min(max(pacer_wait, posted + period - now), max(period, MAX_WAIT))
    return pacer_wait
