"""What the screen looks like, at the smallest supported size and a large one.

Deterministic: TensorBoard is off (no timestamped folder) and the screens are
taken when no run goes on (no steps/s).  Update with ``pytest --snapshot-update``
after looking at the report.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tui_support import CONFIG, settle, wait_for

from engine.config import Config
from tui.app import AmalApp
from tui.prompts import ReportScreen

STUDENTS = Path(__file__).parent / "students"

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


async def _compare_to_the_end(pilot) -> None:
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)
    assert [d.iteration for d in pilot.app.descents] == [1001, 1001, 30]


def test_compare_screen(snap_compare):
    config = Config(tensorboard=False, init_seed=42, max_iter=1001, compare=(0.0001, 0.01, 0.5))
    assert snap_compare(AmalApp(config), terminal_size=(100, 30), run_before=_compare_to_the_end)


async def _report_shown(pilot) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReportScreen), what="the report")
    await pilot.pause()


def test_report_screen(snap_compare):
    # A relative path (the tests run in a temporary folder): the same on every machine.
    shutil.copy(STUDENTS / "linear_b_mean.py", "linear_b_mean.py")
    config = Config(tensorboard=False, functions="linear_b_mean.py")
    assert snap_compare(AmalApp(config), terminal_size=(100, 30), run_before=_report_shown)
