"""The speed of a run in the app: the levels of [ and ], and the iterations due at a speed."""

import pytest

from engine.config import ConfigError
from tui.pacing import MAX_CATCH_UP_SECONDS, SPEEDS, Pacer, next_speed, parse_speed, speed_text


def test_the_levels_go_up_and_down_and_stop_at_the_ends():
    assert next_speed(None, -1) == 1000 and next_speed(1000, 1) is None
    assert next_speed(None, 1) is None and next_speed(1, -1) == 1
    # From a speed given with --speed, between two levels: the next one either way.
    assert next_speed(5, 1) == 10 and next_speed(5, -1) == 3
    # Past the levels: [ never speeds up a slower --speed.
    assert next_speed(0.5, -1) == 0.5 and next_speed(0.5, 1) == 1
    assert next_speed(5000, 1) is None and next_speed(5000, -1) == 1000
    speed, seen = None, []
    for _ in SPEEDS:
        speed = next_speed(speed, -1)
        seen.append(speed)
    assert seen == [1000, 300, 100, 30, 10, 3, 1, 1]


def test_parse_speed():
    assert parse_speed("max") is None and parse_speed("10") == 10 and parse_speed("0.5") == 0.5
    for bad in ("0", "-1", "nan", "fast", "inf1"):
        with pytest.raises(ConfigError, match="--speed"):
            parse_speed(bad)
    assert speed_text(None) == "max" and speed_text(10.0) == "10/s"


def test_the_pacer_gives_the_iterations_due_the_first_at_once():
    pacer = Pacer()
    assert pacer.due(10, now=0.0) == 1
    assert pacer.due(10, now=0.05) == 0 and pacer.wait(now=0.05) == pytest.approx(0.05)
    total = 1 + sum(pacer.due(10, now=0.05 * i) for i in range(1, 200))  # 10 s
    assert total == 100


def test_a_late_worker_does_not_rush_to_catch_up():
    pacer = Pacer()
    pacer.due(1000, now=0.0)
    burst = pacer.due(1000, now=2.0)  # 2 s late: 2000 due
    assert burst == int(1000 * MAX_CATCH_UP_SECONDS)
    assert pacer.due(1000, now=2.01) == pytest.approx(10, abs=1)


def test_a_new_speed_starts_from_now():
    pacer = Pacer()
    pacer.due(1, now=0.0)
    assert pacer.due(100, now=50.0) == 1  # not 50 s of 100/s


# -- what the app redraws while a run is watched, and when nothing moves ------------------


def test_a_watched_run_redraws_at_the_rate_it_changes_and_an_idle_app_has_no_timer():
    import time

    from tui_support import ENDLESS, asyncio_test, count_panel_draws, settle

    from tui.app import PERIODS_WATCHED, AmalApp

    @asyncio_test
    async def watch() -> None:
        app = AmalApp(ENDLESS, speed=10)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            draws = count_panel_draws(app)
            started = time.monotonic()
            await pilot.press("r")
            await pilot.pause(2.0)
            counts, elapsed = dict(draws), time.monotonic() - started
            await pilot.press("r")
            await settle(pilot)
            await pilot.pause(0.3)
            # Nothing moves: no redraw is pending, no timer ticks.
            assert app.redraws.timer is None
        # 10 iterations a second, drawn at most at the watched rates: draws a period apart
        # in `elapsed` are at most elapsed / period + 1 (both ends), +1 for the r key's own
        # (a 6th status draw in 2.35 s failed a bound of 5.7 on a loaded machine).
        for name, period in zip(("status", "parameters", "chart"), PERIODS_WATCHED, strict=True):
            assert 1 <= counts[name] <= elapsed / period + 2, (name, counts[name], elapsed)

    watch()
