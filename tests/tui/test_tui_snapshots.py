"""What the screen looks like, at the smallest supported size and a large one.

Deterministic on every machine: TensorBoard is off (no timestamped folder), the
screens are taken when no run goes on (no steps/s), and the engine's numbers on
screen come from a recorded state (``tests/screens/*.json``) that the live run
must agree with to 1e-4, not from the live run's last float32 digits, which the
CPU's kernels decide.  Update with ``pytest --snapshot-update`` (it records the
states too) after looking at the report.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from tui_support import CONFIG, RECORDED, RecordedFactory, settle, wait_for

from engine.config import Config
from engine.student.refusal import FunctionsRefused
from tui.app import AmalApp, build_session
from tui.prompts import ReportScreen

STUDENTS = Path(__file__).parents[1] / "students"

SIZES = [(80, 24), (120, 40)]
# The main screen's layouts: compact (80×24, a lab's terminal), and wide.
LAYOUT_SIZES = [(80, 24), (100, 30), (120, 40)]


@pytest.fixture
def update(request) -> bool:
    """Record the states anew along with the snapshots."""
    return bool(
        request.config.getoption("--snapshot-update") or os.environ.get("AMAL_UPDATE_SNAPSHOTS")
    )


def _recorded(factory: RecordedFactory, before):
    async def run_before(pilot) -> None:
        await before(pilot)
        await settle(pilot)
        # A scrollbar is shown on the refresh after the layout that needs it: one snapshot in
        # four at 80×24 was taken between the two (W's scale a column wider, no scrollbar).
        await pilot.pause(0.2)
        await pilot.wait_for_scheduled_animations()
        await settle(pilot)
        factory.check()

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_first_screen(snap_compare, size, update):
    factory = RecordedFactory("first", when=lambda experiment: True, update=update)
    app = AmalApp(CONFIG, session_factory=factory)
    assert snap_compare(app, terminal_size=size, run_before=_recorded(factory, settle))


async def _run_to_convergence(pilot) -> None:
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)
    assert pilot.app.session.descent.iteration == 1475


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_converged_screen(snap_compare, size, update):
    factory = RecordedFactory("converged", when=lambda e: e.finished, update=update)
    app = AmalApp(CONFIG, session_factory=factory)
    assert snap_compare(app, terminal_size=size, run_before=_recorded(factory, _run_to_convergence))


async def _one_step(pilot) -> None:
    await settle(pilot)
    await pilot.press("s")
    await settle(pilot)
    assert pilot.app.session.descent.iteration == 1


@pytest.mark.parametrize("size", LAYOUT_SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_one_step_screen(snap_compare, size, update):
    # The layout at each size: at 80×24 the chart down the left, the settings and a compact
    # W on the right; from 100×30 the settings over the chart, W and b in full on the right.
    factory = RecordedFactory(
        "one_step", when=lambda e: e.descents[0].iteration == 1, update=update
    )
    app = AmalApp(CONFIG, session_factory=factory)
    assert snap_compare(app, terminal_size=size, run_before=_recorded(factory, _one_step))


async def _compare_to_the_end(pilot) -> None:
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)
    assert [d.iteration for d in pilot.app.descents] == [1001, 1001, 30]


@pytest.mark.parametrize("size", LAYOUT_SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_compare_screen(snap_compare, size, update):
    config = Config(tensorboard=False, init_seed=42, max_iter=1001, compare=(0.0001, 0.01, 0.5))
    factory = RecordedFactory("compared", when=lambda e: e.finished, update=update)
    app = AmalApp(config, session_factory=factory)
    assert snap_compare(app, terminal_size=size, run_before=_recorded(factory, _compare_to_the_end))


# A gradient that passes the check is within float64 rounding of the reference: its
# "max abs error" (1.6e-10 on one CPU, 3.3e-10 on another) is noise the CPU decides.
_PASSED_ERROR = re.compile(r"(✓ [^(\n]*\(max abs error )([^)]+)\)")
PASSED_NOISE = 1e-8


def _passed_errors(report: str) -> list[float]:
    return [float(match.group(2)) for match in _PASSED_ERROR.finditer(report)]


def _without_passed_errors(report: str) -> str:
    return _PASSED_ERROR.sub(r"\1…)", report)


class RecordedReport:
    """The real check runs; its report must match the recorded one but for the noise of ✓ lines."""

    def __init__(self, name: str, update: bool) -> None:
        self.path = RECORDED / f"{name}.txt"
        self.update = update
        self.live: str | None = None

    def __call__(self, config, warn, **options):
        try:
            return build_session(config, warn, **options)
        except FunctionsRefused as refused:
            self.live = refused.report
            if self.update:
                self.path.write_text(refused.report)
                raise
            recorded = self.path.read_text()
            raise FunctionsRefused(str(refused), recorded, refused.check) from None

    def check(self) -> None:
        assert self.live is not None, "the check did not refuse the Functions"
        recorded = self.path.read_text()
        assert _without_passed_errors(self.live) == _without_passed_errors(recorded)
        assert all(0 <= error < PASSED_NOISE for error in _passed_errors(self.live))


def test_the_recorded_report_hides_only_the_noise_of_passed_checks():
    report = (
        "    ✓ forward (max abs error 0)\n"
        "    ✓ gradient for X (max abs error 3.3e-10)\n"
        "    ✗ gradient for b: max abs error 5, max rel error 0.833\n"
    )
    assert _passed_errors(report) == [0.0, 3.3e-10]
    assert _without_passed_errors(report) == (
        "    ✓ forward (max abs error …)\n"
        "    ✓ gradient for X (max abs error …)\n"
        "    ✗ gradient for b: max abs error 5, max rel error 0.833\n"
    )


def test_report_screen(snap_compare, update):
    # A relative path (the tests run in a temporary folder): the same on every machine.
    shutil.copy(STUDENTS / "linear_b_mean.py", "linear_b_mean.py")
    config = Config(tensorboard=False, functions="linear_b_mean.py")
    factory = RecordedReport("report_linear_b_mean", update)

    async def report_shown(pilot) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReportScreen), what="the report")
        await pilot.pause()
        factory.check()

    app = AmalApp(config, session_factory=factory)
    assert snap_compare(app, terminal_size=(100, 30), run_before=report_shown)
