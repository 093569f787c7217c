"""When each panel is redrawn (tui/redraw.py), with a clock and timers of the test's own."""

from __future__ import annotations

import math

import pytest

from tui.redraw import (
    CHART,
    MIN_TIMER_DELAY,
    PARAMETERS,
    PERIODS_IDLE,
    PERIODS_RUNNING,
    PERIODS_WATCHED,
    TEXT,
    WATCHED_SPEED,
    RedrawSchedule,
)


class Timer:
    stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_the_periods_follow_what_the_run_does_and_fps_bounds_them():
    schedule = RedrawSchedule()
    assert schedule.periods(running=False, speed=None) == PERIODS_IDLE
    assert schedule.periods(running=True, speed=None) == PERIODS_RUNNING
    assert schedule.periods(running=True, speed=WATCHED_SPEED) == PERIODS_WATCHED
    assert schedule.periods(running=True, speed=WATCHED_SPEED + 1) == PERIODS_RUNNING
    assert RedrawSchedule(fps=2).periods(running=False, speed=None) == (0.5, 0.5, 0.5)
    for fps in (0, -1, math.nan, math.inf):
        with pytest.raises(ValueError):
            RedrawSchedule(fps=fps)


def test_only_what_changed_is_drawn_and_each_panel_waits_its_period():
    schedule = RedrawSchedule()
    schedule.changed()
    assert schedule.dirty == [True, False, False]
    assert schedule.take(TEXT, 0.1, False, now=10.0)
    assert not schedule.take(PARAMETERS, 0.1, False, now=10.0)  # it did not change
    schedule.changed(everything=True)
    assert not schedule.take(TEXT, 0.1, False, now=10.05)  # drawn 0.05 s ago
    assert schedule.take(TEXT, 0.1, True, now=10.05)  # unless forced
    assert schedule.take(CHART, 0.25, False, now=10.05)  # never drawn yet
    assert schedule.dirty == [False, True, False]


def test_one_timer_for_the_first_panel_due_and_none_when_nothing_changed():
    schedule = RedrawSchedule()
    assert schedule.reschedule((0.1, 0.2, 0.25), now=0.0) is None
    schedule.drawn_at = [10.0, 10.0, 10.0]
    schedule.changed(everything=True)
    assert schedule.reschedule((0.1, 0.2, 0.25), now=10.0) == pytest.approx(0.1)
    schedule.timer = first = Timer()
    assert schedule.reschedule((0.1, 0.2, 0.25), now=10.01) is None  # the timer set will do
    assert schedule.reschedule((0.05, 0.2, 0.25), now=10.01) == pytest.approx(0.04)
    assert first.stopped  # replaced by an earlier one
    schedule.timer = second = Timer()
    schedule.dirty = [False, False, False]  # drawn meanwhile
    assert schedule.reschedule((0.1, 0.2, 0.25), now=10.02) is None
    assert second.stopped and schedule.timer is None and schedule.timer_due == math.inf


def test_a_timer_is_never_set_for_0_seconds():
    schedule = RedrawSchedule()
    schedule.changed()
    assert schedule.reschedule(PERIODS_IDLE, now=100.0) == MIN_TIMER_DELAY
    schedule.fired()
    assert schedule.timer is None and schedule.timer_due == math.inf
