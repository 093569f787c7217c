"""The main screen's layout at 80×24 (a lab's terminal), 100×30 and 120×40, measured with Pilot.

At every size the loss chart's plot is at least 44 columns by 12 rows, every setting shows
its whole label and value, W (or the comparison table) shows without blank rows, and the
app's messages go to the status line, never over the chart.
"""

from __future__ import annotations

import pytest
from textual.geometry import Region
from tui_support import CONFIG, asyncio_test, screen_text, settle

from tui.app import AmalApp
from tui.hyperparameters import HyperparameterField, HyperparameterPanel
from tui.loss_chart import LossChart
from tui.parameters import ParameterPanel, compact_parameter_text, signed_bar
from tui.status_line import Note, StatusLine

SIZES = [(80, 24), (100, 30), (120, 40)]
COMPARE = CONFIG.replace(compare=(0.0001, 0.01, 0.5))
# The floor for the plot (inside the chart's frame, beside its y labels).
PLOT_COLUMNS, PLOT_ROWS = 44, 12


def plot_size(chart: LossChart) -> tuple[int, int]:
    """(columns, rows) of the plot as drawn: inside the frame's ┌ ┐ and └ corners."""
    rows = [strip.text for strip in chart._rows()]
    top = next(i for i, row in enumerate(rows) if "┌" in row)
    bottom = next(i for i, row in enumerate(rows) if "└" in row)
    return rows[top].index("┐") - rows[top].index("┌") - 1, bottom - top - 1


def visible(widget, container) -> bool:
    """Whether all of ``widget`` is on screen inside ``container``'s scrolled view."""
    inside = container.content_region
    return inside.contains_region(widget.region) and widget.region.size == widget.size


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("config", [CONFIG, COMPARE], ids=["single", "compare"])
def test_the_plot_is_44_by_12_at_least_and_every_setting_shows_whole(size, config):
    @asyncio_test
    async def check() -> None:
        app = AmalApp(config)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            columns, rows = plot_size(app.query_one(LossChart))
            assert columns >= PLOT_COLUMNS and rows >= PLOT_ROWS, (columns, rows)
            panel = app.query_one(HyperparameterPanel)
            text = screen_text(app)
            for field in panel.query(HyperparameterField):
                row = panel.query_one(f"#{field.id}-row")
                if not row.display:
                    continue  # an optimizer's own setting, not this one's
                label = panel.query_one(f"#{field.id}-label")
                assert visible(field, panel) and visible(label, panel), field.id
                # The whole value (or what stands for it) and the whole label, not cut.
                value = field.value or field.placeholder
                assert field.content_region.width >= len(value), (field.id, value)
                assert label.content_region.width >= len(str(label.content)), field.id
                assert str(label.content) in text and value in text, (field.id, text)
            if config.compare:
                comparison = app.query_one("#comparison")
                table = comparison.query_one("#comparison-table")
                assert comparison.display and visible(table, comparison)
                lines = [strip.text for strip in table.render_lines(Region(0, 0, *table.size))]
                # A row per learning rate, its marker first, its loss last: none cut.
                for marker, rate in (("+", "0.0001"), ("x", "0.01"), ("o", "0.5")):
                    (row,) = [line for line in lines if line.startswith(f"{marker} {rate} ")]
                    assert row.split()[-1].startswith("13.68"), row
            else:
                parameters = app.query_one(ParameterPanel)
                values = parameters.query_one("#parameter-values")
                # W and b whole, and no blank rows left under them in their panel.
                assert visible(values, parameters)
                blank = parameters.content_region.height - values.region.height
                assert blank <= 1 or size != (80, 24), blank

    check()


@asyncio_test
async def test_at_80_by_24_the_chart_takes_the_left_column_and_w_is_compact():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        chart, panel = app.query_one(LossChart), app.query_one(HyperparameterPanel)
        assert chart.region.x == 0 and panel.region.x >= chart.region.right
        text = screen_text(app)
        assert "Wᵀ (3×13)" in text and "◆ W[" in text
        assert "Loss · linear · toy: n=50, d=13, m=3" in text  # the chart's title, whole
        assert "ε_max 1.532" in text  # under the learning rate: no room beside it
        # Wider: the full panel, every value written.
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        await pilot.pause()
        text = screen_text(app)
        assert "W (13×3)" in text and "Wᵀ" not in text
        assert app.query_one(LossChart).region.y > panel.region.y  # under the settings again
        # And back: the layout follows every resize.
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        assert "Wᵀ (3×13)" in screen_text(app)


def test_the_compact_w_tells_signs_and_sizes_without_colour():
    # A positive value rises from the bottom of its cell; a negative one hangs from its top
    # (the complementary block, reversed): the same height, told apart with no colour.
    rising, style = signed_bar(0.5, 1.0)
    assert rising == "▅" and "reverse" not in style  # the bottom 5/8 of the cell filled
    hanging, style = signed_bar(-0.5, 1.0)
    assert hanging == "▃" and "reverse" in style  # reversed: the top 5/8 filled
    assert signed_bar(-1.0, 1.0) == (" ", signed_bar(-1.0, 1.0)[1])  # a whole cell, reversed
    assert signed_bar(0.0, 1.0)[0] == " "


def test_the_compact_w_writes_its_scales_and_the_entry_that_moved_most():
    import numpy as np

    class Snapshot:
        W = np.array([[1.0, -2.0], [0.5, 0.25], [-0.125, 4.0]])  # d=3 inputs, m=2 outputs
        b = np.array([[0.5, -1.0]])
        delta_W = np.array([[0.0, 0.0], [0.0, 0.3], [0.0, 0.0]])

    text = compact_parameter_text(Snapshot(), (("‖θ−θ*‖", 1.5),)).plain
    lines = text.splitlines()
    assert lines[0] == "‖θ−θ*‖ 1.5"
    assert lines[1].startswith("  Wᵀ (2×3)")
    assert lines[2].startswith("0 ") and lines[3].startswith("1 ")  # a row per output
    assert len(lines[2]) == len("0 ") + 3 + 2  # a bar per input, then b's
    assert "█ |W| 4  |b| 1" in text
    assert "◆ W[1,1] +0.2500" in text


@asyncio_test
async def test_a_message_goes_to_the_status_line_in_one_line_never_over_the_chart():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        chart = app.query_one(LossChart)
        before = [strip.text for strip in chart._rows()]
        long = "cannot use these settings: " + "a very long reason " * 10 + "END"
        app.notify(long, severity="error", timeout=30)
        await pilot.pause()
        await pilot.pause()
        status = app.query_one(StatusLine)
        # No toast anywhere: the chart's cells are the chart's own.
        assert not app.screen.query("Toast")
        assert [strip.text for strip in chart._rows()] == before
        rows = screen_text(app).splitlines()
        chart_rows = rows[chart.region.y : chart.region.bottom]
        assert not any("very long reason" in row for row in chart_rows)
        # On the status line's second row, marked in a glyph and a word, cut with … to fit.
        assert Region.intersection(status.region, chart.region).area == 0
        second = rows[status.region.y + 1]
        assert second.strip().startswith("✗ error: cannot use these settings")
        assert second.rstrip().endswith("…") and "END" not in second
        # In full in the help.
        await pilot.press("question_mark")
        await pilot.pause()
        assert any(note.endswith("END") for note in app.screen.notes)


@asyncio_test
async def test_messages_said_together_show_together_in_order_and_expire():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.notify("first", timeout=0.3)
        app.notify("again", timeout=0.3)
        app.notify("second", severity="warning", timeout=0.3)
        await pilot.pause()
        line = app.query_one(StatusLine).text.plain.splitlines()[1]
        # A severity marked once for the messages of that severity in a row.
        assert line.startswith("› first · again · ⚠ warning: second  ·  ")
        await pilot.pause(0.6)
        assert "first" not in app.query_one(StatusLine).text.plain
        app.notify("later")
        await pilot.pause()
        assert app.query_one(StatusLine).text.plain.splitlines()[1].startswith("› later")


def test_a_message_is_one_line_its_severity_in_a_glyph_and_a_word():
    assert Note("a student's\nerror", "error").line() == "✗ error: a student's error"
    assert Note("ε 1e+08: diverged at 4", "warning").line() == "⚠ warning: ε 1e+08: diverged at 4"
    assert Note("4 rows; target: y", title="data").line() == "› data: 4 rows; target: y"
    assert Note("saved in x.json", title="saved").line() == "› saved in x.json"  # not twice
