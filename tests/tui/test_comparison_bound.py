"""The comparison's footnote names the stability bound of the optimizer in use (the engine's one rule)."""

from __future__ import annotations

import pytest
from tui_support import CONFIG, asyncio_test, settle

from tui.app import AmalApp

RATES = (0.01, 2.0)  # 2/L = 1.532 on the notebook's problem; 2(1+μ)/L = 2.912 with μ = 0.9


def notes(app: AmalApp) -> str:
    return str(app.query_one("#comparison-notes").content)


@pytest.mark.parametrize(
    ("optimizer", "said", "not_said"),
    [
        ("sgd", "⚠ ε > ε_max = 2/L = 1.532: diverges", "μ"),
        ("momentum", "ε_max = 2(1+μ)/L = 2.912", "diverges"),
        ("nesterov", "⚠ ε > ε_max = 2(1+μ)/((1+2μ)L) = 1.04: diverges", "= 2/L ="),
        ("adam", "no bound is known for adam (plain SGD's 2/L = 1.532)", "ε_max"),
    ],
)
def test_the_footnote_states_the_bound_of_the_optimizer_in_use(optimizer, said, not_said):
    @asyncio_test
    async def check():
        app = AmalApp(CONFIG.replace(optimizer=optimizer, compare=RATES, max_iter=5))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            text = notes(app)
            assert said in text and not_said not in text, text

    check()


@asyncio_test
async def test_the_compact_footnote_states_the_momentum_bound_too():
    app = AmalApp(CONFIG.replace(optimizer="momentum", compare=RATES, max_iter=5))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "ε_max=2(1+μ)/L=2.912" in notes(app)


@asyncio_test
async def test_a_mini_batch_comparison_claims_no_bound():
    app = AmalApp(CONFIG.replace(batch_size=10, compare=RATES, max_iter=5))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = notes(app)
        assert "no bound for mini-batches of 10" in text and "ε_max" not in text
