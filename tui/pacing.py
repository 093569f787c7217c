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

    def give_back(self, steps: int) -> None:
        """``steps`` of the iterations :meth:`due` returned were not run: due again next time."""
        self.done -= max(steps, 0)

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


# A chunk (one step, on slow data or a student's slow Functions) running longer than this
# is said on the status line: "computing step 67… 0.4 s".
SLOW_CHUNK_NOTE = 0.15


class StepClock:
    """What the run worker is computing now, for the UI thread to say while it takes long.

    The worker calls :meth:`begin` before a chunk and :meth:`end` after it; the UI thread
    reads :meth:`computing`.  One tuple is replaced at a time: no lock needed.
    """

    def __init__(self) -> None:
        self._chunk: tuple[int, int, float] | None = None
        self.last_step_seconds: float | None = None
        """How long one step took in the last chunk (None before any)."""

    def begin(self, iteration: int, steps: int, now: float) -> None:
        """A chunk of ``steps`` steps starts after ``iteration``."""
        self._chunk = (iteration, steps, now)

    def end(self, steps_done: int, now: float) -> None:
        chunk, self._chunk = self._chunk, None
        if chunk is not None and steps_done > 0:
            self.last_step_seconds = (now - chunk[2]) / steps_done

    def computing(self, now: float) -> tuple[int, float] | None:
        """``(step, seconds)``: the step being computed (the first of its chunk) and for how
        long, once its chunk has taken ``SLOW_CHUNK_NOTE``; None otherwise."""
        chunk = self._chunk
        if chunk is None or now - chunk[2] < SLOW_CHUNK_NOTE:
            return None
        return chunk[0] + 1, now - chunk[2]


# A paced run's chunk lasts about this long at most (a pause waits for its chunk to end).
MAX_PACED_CHUNK = 0.1


def chunk_steps(due: int, step_seconds: float | None) -> int:
    """How many of the ``due`` iterations a paced run takes in one chunk: what lasts about
    ``MAX_PACED_CHUNK`` at the measured ``step_seconds`` (one while not yet measured), so
    that a run behind its speed on slow steps never takes hundreds at once."""
    if step_seconds is None:
        return min(due, 1)
    return min(due, max(1, int(MAX_PACED_CHUNK / max(step_seconds, 1e-9))))
