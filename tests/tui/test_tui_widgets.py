"""The panels' own logic: number formats, the chart's safety with any loss, the parameter marks."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.app import App, ComposeResult
from tui_support import asyncio_test, screen_text

from tui.formatting import PARAMETER_WIDTH, count_text, delta_text, loss_text, parameter_text
from tui.loss_chart import LossChart, chart_values, finite_count, sample_indices
from tui.parameters import BARS, CHANGED_MARK, bar, most_changed, parameter_text_block

# -- numbers -------------------------------------------------------------------------------


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_parameter_fits_its_column_with_its_sign_and_4_significant_digits(value):
    text = parameter_text(value)
    assert len(text) <= PARAMETER_WIDTH
    assert text[0] in "+-"
    if value != 0 and 1e-99 < abs(value) < 1e99:
        assert math.isclose(float(text), value, rel_tol=5e-4)
        mantissa = text.lstrip("+-").split("e")[0].replace(".", "").lstrip("0")
        assert len(mantissa) >= 4


def test_non_finite_parameters_are_written_out():
    assert parameter_text(math.inf) == "+inf"
    assert parameter_text(-math.inf) == "-inf"
    assert parameter_text(math.nan) == "nan"


def test_the_loss_has_6_significant_digits():
    assert loss_text(13.683112144470215) == "13.6831"
    assert loss_text(0.6999983787536621) == "0.699998"
    assert loss_text(None) == "—"
    assert loss_text(math.inf) == "inf"
    assert delta_text(-1.0400390625e-05) == "-1.04e-05"
    assert delta_text(None) == "—"


@given(st.integers(min_value=0, max_value=10**12))
def test_axis_counts_are_short(value):
    assert len(count_text(value)) <= 6


# -- the chart's data ----------------------------------------------------------------------


@given(st.integers(0, 10**7), st.integers(1, 500))
def test_sampling_keeps_the_ends_and_never_more_points_than_asked(count, points):
    indices = sample_indices(count, points)
    assert len(indices) <= max(points, 2)
    if count:
        assert indices[0] == 0 and indices[-1] == count - 1
        assert np.all(np.diff(indices) > 0)


def test_sampling_a_long_run_costs_what_the_width_costs():
    # Not timed (a loaded machine makes any time limit flaky): a count no memory could hold
    # an array of proves that nothing of the run's length is allocated or visited.
    count = 10**15
    indices = sample_indices(count, 200)
    assert len(indices) <= 200 and indices[0] == 0 and indices[-1] == count - 1


def test_only_the_last_loss_can_be_non_finite_and_it_is_left_out():
    assert finite_count(np.array([])) == 0
    assert finite_count(np.array([3.0, 2.0])) == 2
    assert finite_count(np.array([3.0, 1e38, math.inf])) == 2
    assert finite_count(np.array([math.nan])) == 0


@given(
    st.lists(
        st.one_of(st.just(0.0), st.floats(min_value=0, max_value=1.7e308, allow_infinity=False)),
        min_size=1,
        max_size=50,
    ),
    st.booleans(),
)
def test_values_reaching_the_chart_are_finite_and_moderate(losses, log_scale):
    values = chart_values(np.array(losses), log_scale)
    assert np.all(np.isfinite(values))
    assert np.all(np.abs(values) <= 1e30)


class ChartApp(App):
    def __init__(self, losses, threshold, log_scale):
        super().__init__()
        self.data = (np.asarray(losses, dtype=np.float64), threshold, log_scale)

    def compose(self) -> ComposeResult:
        yield LossChart(id="chart")

    def on_mount(self) -> None:
        losses, threshold, log_scale = self.data
        chart = self.query_one(LossChart)
        chart.log_scale = log_scale
        chart.show(losses, threshold)


CHART_CASES = {
    "one point": ([13.68], 0.7),
    "a loss of 0": ([1.0, 0.5, 0.0], 0.7),
    "all zero": ([0.0, 0.0, 0.0], 0.0),
    "flat": ([2.0] * 100, 0.7),
    "diverged": ([1.0, 1e10, 1e30, 1e300, math.inf], 0.7),
    "nan first": ([math.nan], 0.7),
    "nan last": ([3.0, 2.0, math.nan], 0.7),
    "negative threshold": ([3.0, 2.0], -1.0),
    "infinite threshold": ([3.0, 2.0], -math.inf),
    "no threshold": ([3.0, 2.0], None),
    "long run": (np.geomspace(10, 0.7, 1_000_000), 0.7),
}


@pytest.mark.parametrize("log_scale", [False, True], ids=["linear", "log"])
@pytest.mark.parametrize("case", list(CHART_CASES))
@asyncio_test
async def test_the_chart_draws_any_run_without_crashing(case, log_scale):
    losses, threshold = CHART_CASES[case]
    app = ChartApp(losses, threshold, log_scale)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        if finite_count(np.asarray(losses)):
            assert "┤" in text and "●" in text  # an axis and the current point
        chart = app.query_one(LossChart)
        assert ("log scale" if log_scale else "linear") in chart.border_title
        # The legend names the threshold's line only where the chart can draw it.
        drawable = threshold is not None and math.isfinite(threshold)
        drawable = drawable and (threshold > 0 or not log_scale)
        assert ("─ threshold" in chart.border_subtitle) == drawable, chart.border_subtitle


@asyncio_test
async def test_the_chart_marks_the_threshold_and_ends_at_the_last_iteration():
    app = ChartApp(np.linspace(13.7, 0.69, 1475), 0.7, False)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        lines = text.splitlines()
        assert "├──" in lines[-3] and lines[-3].endswith("●┤")  # threshold line, last point
        assert lines[-1].endswith("1475")  # the x axis ends at the last iteration


# -- the parameters ------------------------------------------------------------------------


def test_bars_grow_with_the_magnitude():
    assert bar(0.0, 1.0) == " "
    assert bar(1.0, 1.0) == BARS[-1]
    assert bar(0.01, 1.0) == BARS[0]
    assert [bar(m, 1.0) for m in (0.1, 0.4, 0.7, 1.0)] == sorted(
        bar(m, 1.0) for m in (0.1, 0.4, 0.7, 1.0)
    )
    assert bar(math.inf, 1.0) == "█"


def test_the_entries_that_changed_most_are_found():
    delta = np.array([[0.1, -0.5, 0.0, 0.2], [0.0, 0.3, 0.05, 0.01]])
    assert most_changed(delta, 1) == {(0, 1)}
    assert most_changed(delta, 2) == {(0, 1), (1, 1)}
    assert most_changed(np.zeros((2, 2)), 3) == set()
    assert most_changed(None, 3) == set()
    # Never all of a small matrix (a quarter at most), nothing for a single entry.
    assert most_changed(np.array([[0.3], [0.1], [0.2]]), 3) == {(0, 0)}
    assert most_changed(np.array([[0.3]]), 1) == set()


def test_sign_and_size_are_in_the_characters_not_only_the_colours():
    snapshot = SimpleNamespace(
        W=np.array([[1.0, -0.5], [0.25, 0.0]]),
        b=np.array([[-2.0, 2e-5]]),
        grad_W_norm=1.5,
        grad_b_norm=None,
        delta_W=np.array([[0.0, 0.1], [0.0, 0.0]]),
        delta_b=None,
    )
    plain = parameter_text_block(snapshot).plain
    lines = plain.splitlines()
    assert lines[0].startswith("W (2×2)") and "‖∇W‖ 1.5" in lines[0]
    assert "+1.000█" in lines[1] and f"-0.5000{BARS[4]}{CHANGED_MARK}" in lines[1]
    assert "+0.2500" in lines[2] and "+0.0000 " in lines[2]
    assert lines[3].startswith("b (1×2)") and "‖∇b‖ —" in lines[3]
    assert "-2.000█" in lines[4] and f"+2.000e-5{BARS[0]}" in lines[4]


def test_a_reports_wrapped_lines_stay_under_their_indentation():
    from tui.prompts import hanging_lines

    text = "✗ Linear\n        hint: " + "word " * 12 + "end"
    lines = hanging_lines(text, 30)
    assert lines[0] == "✗ Linear" and lines[1].startswith("        hint: word")
    assert len(lines) > 3 and all(line.startswith(" " * 12) for line in lines[2:])
    assert all(len(line) <= 30 for line in lines)
