"""The settings panel shows the stability bound of the optimizer in use, from the engine's one rule."""

from __future__ import annotations

import pytest
from tui_support import CONFIG, asyncio_test, screen_text, settle

from tui.app import AmalApp


@pytest.mark.parametrize(
    ("optimizer", "bound"),
    [("sgd", "ε_max 1.532"), ("momentum", "ε_max 2.912"), ("nesterov", "ε_max 1.04")],
)
def test_the_panel_shows_the_bound_of_the_optimizer_in_use(optimizer, bound):
    @asyncio_test
    async def check():
        app = AmalApp(CONFIG.replace(optimizer=optimizer))
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert bound in screen_text(app)

    check()


@asyncio_test
async def test_adam_gets_no_bound_only_plain_sgds_said_as_such():
    app = AmalApp(CONFIG.replace(optimizer="adam"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "ε_max" not in text and "2/L 1.532" in text


@asyncio_test
async def test_a_momentum_rate_past_its_own_bound_is_warned_and_one_under_it_is_not():
    app = AmalApp(CONFIG.replace(optimizer="momentum", learning_rate=2.0))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "diverges" not in screen_text(app)  # 2 > 2/L but < 2(1+μ)/L = 2.912
    app = AmalApp(CONFIG.replace(optimizer="momentum", learning_rate=3.0))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "⚠ ε 3 > ε_max 2.912: diverges" in screen_text(app)
