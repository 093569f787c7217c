"""Nothing the tests look at depends on thread timing or on a CPU's float rounding."""

from __future__ import annotations

from tui_support import asyncio_test, screen_text, settle, wait_for

from engine.config import Config
from tui.app import AmalApp

# ε 1e8 diverges at iteration 4, long before ε 0.01 stops at 50: last in the table, first to stop.
COMPARE = Config(tensorboard=False, max_iter=50, compare=(0.01, 1e8))
ENDINGS = ("ε 0.01: capped at 50", "ε 1e+08: diverged at 4")


@asyncio_test
async def test_a_comparison_announces_its_runs_together_in_the_table_order():
    # Each run's notification used to come when a chunk saw it stop: the order on screen
    # depended on how a thread's chunks fell.  Stepped by hand here: no timing at all.
    app = AmalApp(COMPARE)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        for _ in range(4):
            await pilot.press("s")
        await settle(pilot)
        assert [d.status.value for d in app.descents] == ["running", "diverged"]
        assert not any(ending in screen_text(app) for ending in ENDINGS)
        await pilot.press("r")
        await settle(pilot)
        await wait_for(pilot, lambda: ENDINGS[0] in screen_text(app), what="the notifications")
        text = screen_text(app)
        where = [text.find(ending) for ending in ENDINGS]
        assert -1 not in where, text
        assert where == sorted(where), text
