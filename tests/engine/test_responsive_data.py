"""Synthetic data are drawn block by block, with a cancellation point between blocks (issue 21):
the same numbers as one draw, and a ``progress`` that raises stops the drawing there."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data import synthetic as synthetic_module
from engine.data.loading import load


class Stop(Exception):
    pass


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_blocks_draw_the_numbers_of_one_draw(monkeypatch, dtype):
    whole = load("synthetic", n=1001, d=7, m=3, noise=0.5, dtype=dtype)
    monkeypatch.setattr(synthetic_module, "BLOCK_ELEMENTS", 100)  # 14 rows a block, 72 blocks
    fractions: list[float] = []
    blocks = load("synthetic", n=1001, d=7, m=3, noise=0.5, dtype=dtype, progress=fractions.append)
    np.testing.assert_array_equal(blocks.X, whole.X)
    np.testing.assert_array_equal(blocks.Y, whole.Y)
    assert len(fractions) > 70 and fractions == sorted(fractions) and fractions[-1] < 1


def test_a_progress_that_raises_stops_the_drawing(monkeypatch):
    monkeypatch.setattr(synthetic_module, "BLOCK_ELEMENTS", 100)
    calls = 0

    def progress(fraction: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise Stop

    with pytest.raises(Stop):
        load("synthetic", n=100_000, d=10, m=1, progress=progress)
    assert calls == 3
