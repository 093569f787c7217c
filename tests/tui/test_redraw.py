"""When each panel is redrawn (tui/redraw.py), with a clock and timers of the test's own."""

from __future__ import annotations

import math

import pytest

from tui.redraw import (
    CHART,
    MIN_TIMER_DELAY,
    PANEL_GAP,
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
    # Watched slowly, the status line shows every iteration; at 10 it/s twice a second.
    assert schedule.periods(running=True, speed=3)[TEXT] == pytest.approx(1 / 3)
    assert schedule.periods(running=True, speed=1)[TEXT] == PERIODS_WATCHED[TEXT]
    assert schedule.periods(running=True, speed=10) == PERIODS_WATCHED
    assert RedrawSchedule(fps=2).periods(running=False, speed=None) == (0.5, 0.5, 0.5)
    for fps in (0, -1, math.nan, math.inf):
        with pytest.raises(ValueError):
            RedrawSchedule(fps=fps)


def test_only_what_changed_is_drawn_and_each_panel_waits_its_period():
    schedule = RedrawSchedule()
    periods = (0.1, 0.1, 0.25)
    schedule.changed()
    assert schedule.dirty == [True, False, False]
    assert schedule.choose(periods, False, now=10.0) == [TEXT]  # only what changed
    schedule.changed(everything=True)
    # The parameters are due; the status line (drawn 0.05 s ago) is not, but the chart is
    # and brings it along: both show the same iteration.
    assert schedule.choose(periods, False, now=10.05) == [TEXT, PARAMETERS, CHART]
    schedule.changed(everything=True)
    assert schedule.choose(periods, False, now=10.1) == []  # none due yet
    assert schedule.choose(periods, True, now=10.11) == [TEXT, PARAMETERS, CHART]  # forced
    assert schedule.dirty == [False, False, False]
    schedule.changed(everything=True)
    assert schedule.choose(periods, False, now=20.0, panels=1) == [TEXT]  # no run shown yet
    assert schedule.dirty == [False, True, True]


def test_the_status_line_and_the_chart_are_drawn_together():
    schedule = RedrawSchedule()
    periods = (0.5, 1.0, 0.5)
    schedule.drawn_at = [10.0, 10.0, 9.0]
    schedule.changed(everything=True)
    # The chart is late, the status line not yet due: both are drawn, from the same state.
    assert schedule.choose(periods, False, now=10.2, running=True) == [TEXT, CHART]
    schedule.changed()  # only the status line changed: the chart has nothing new to show
    assert schedule.choose(periods, False, now=10.8, running=True) == [TEXT]


def test_while_running_one_group_a_frame_the_most_overdue_first():
    schedule = RedrawSchedule()
    periods = (0.1, 0.2, 0.25)
    schedule.drawn_at = [9.0, 9.95, 9.5]
    schedule.changed(everything=True)
    assert schedule.choose(periods, False, now=10.0, running=True) == [TEXT, CHART]  # 0.9 s late
    assert schedule.choose(periods, False, now=10.02, running=True) == []  # PANEL_GAP
    assert schedule.choose(periods, False, now=10.05, running=True) == []  # W not due yet
    assert schedule.choose(periods, False, now=10.2, running=True) == [PARAMETERS]
    schedule.changed(everything=True)
    assert schedule.choose(periods, True, now=10.21, running=True) == [TEXT, PARAMETERS, CHART]
    schedule = RedrawSchedule()
    schedule.changed(everything=True)  # equally late: the status line and the chart first
    assert schedule.choose((0.0, 0.0, 0.0), False, now=1.0, running=True) == [TEXT, CHART]
    assert schedule.choose((0.0, 0.0, 0.0), False, now=1.1, running=True) == [PARAMETERS]


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


def test_while_running_the_next_frame_waits_panel_gap():
    schedule = RedrawSchedule()
    schedule.changed()
    schedule.panel_at = 10.0
    assert schedule.reschedule((0.0, 0.2, 0.25), now=10.0, running=True) == pytest.approx(PANEL_GAP)
    schedule = RedrawSchedule()
    schedule.changed()
    schedule.panel_at = 10.0
    assert schedule.reschedule((0.0, 0.2, 0.25), now=10.0) == MIN_TIMER_DELAY  # idle: at once


def test_a_timer_is_never_set_for_0_seconds():
    schedule = RedrawSchedule()
    schedule.changed()
    assert schedule.reschedule(PERIODS_IDLE, now=100.0) == MIN_TIMER_DELAY
    schedule.fired()
    assert schedule.timer is None and schedule.timer_due == math.inf
