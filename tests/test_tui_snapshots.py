"""What the screen looks like, at the smallest supported size and a large one.

Deterministic: TensorBoard is off (no timestamped folder) and the screens are
taken when no run goes on (no steps/s).  Update with ``pytest --snapshot-update``
after looking at the report.
"""

from __future__ import annotations

import pytest
from tui_support import CONFIG, settle

from tui.app import AmalApp

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_first_screen(snap_compare, size):
    assert snap_compare(AmalApp(CONFIG), terminal_size=size, run_before=settle)


async def _run_to_convergence(pilot) -> None:
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)
    assert pilot.app.session.descent.iteration == 1475


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_converged_screen(snap_compare, size):
    assert snap_compare(AmalApp(CONFIG), terminal_size=size, run_before=_run_to_convergence)
