"""The chart's drawing in terminal cells: braille dots, marker curves, lines and axes."""

import numpy as np

from tui.chart_canvas import BRAILLE, Curve, Figure, HLine, draw


def text(rows) -> list[str]:
    return ["".join(run for run, _ in row) for row in rows]


def figure(*layers, y_ticks=((0.0, "0"), (1.0, "1")), x_ticks=((1, "1"), (10, "10"))):
    return Figure(
        x_limits=(1, 10), y_limits=(0.0, 1.0), x_ticks=x_ticks, y_ticks=y_ticks, layers=layers
    )


def test_the_frame_labels_and_ticks_fill_the_size_asked():
    lines = text(draw(figure(), width=20, height=8))
    assert len(lines) == 8
    assert all(len(line) == 20 for line in lines[:-1])
    assert lines[0] == " ┌" + "─" * 17 + "┐"
    # The y labels at the top and the bottom rows of the plot, with ┤ at their rows.
    assert lines[1].startswith("1┤") and lines[5].startswith("0┤")
    assert all(line.startswith(" │") for line in lines[2:5])
    # The x ticks at both ends of the bottom frame, their labels under them.
    assert lines[6] == " └┬" + "─" * 15 + "┬┘"
    assert lines[7].startswith("  1") and lines[7].endswith("10")
    assert lines[7].index("10") + 1 == lines[6].rindex("┬")


def test_a_falling_braille_line_goes_from_the_top_left_to_the_bottom_right():
    curve = Curve(np.array([1.0, 10.0]), np.array([1.0, 0.0]), BRAILLE, "blue")
    rows = draw(figure(curve), width=20, height=8)
    plot = [line[2:-1] for line in text(rows)[1:6]]
    # The top-left dot (bit 0x01) and the bottom-right one (0x80) are set.
    assert ord(plot[0][0]) - 0x2800 & 0x01
    assert ord(plot[-1][-1]) - 0x2800 & 0x80
    # A line, not two dots: every column of the plot has a dot.
    assert all(any(line[c] != " " for line in plot) for c in range(17))
    # Falling: the row of the dots never goes up from one column to the next.
    first_row = [min(r for r, line in enumerate(plot) if line[c] != " ") for c in range(17)]
    assert first_row == sorted(first_row)
    # The curve's cells carry its colour, the frame the default one.
    braille = {chr(c) for c in range(0x2801, 0x2900)}
    colours = {colour for row in rows[1:6] for run, colour in row if set(run) & braille}
    assert colours == {"blue"}


def test_braille_dots_of_one_cell_add_up():
    # Two points in the same cell, top-left and bottom-right of it: ⢁ = 0x01 + 0x80.
    curve = Curve(np.array([1.0, 1.5]), np.array([1.0, 0.9]), BRAILLE, None, lines=False)
    f = Figure((1, 1.5), (0.9, 1.0), (), (), [curve])
    rows = text(draw(f, width=3, height=4))
    assert rows[1][1] == chr(0x2800 + 0x01 + 0x80)


def test_a_horizontal_line_joins_the_frame_and_curves_stay_on_top():
    line = HLine(0.0, "red")
    marks = Curve(np.array([1.0, 10.0]), np.array([0.0, 0.0]), "x", "cyan", lines=False)
    rows = draw(figure(line, marks), width=20, height=8)
    bottom = text(rows)[5]
    assert bottom.startswith("0├x") and bottom.endswith("x┤")
    assert set(bottom[3:-2]) == {"─"}
    colours = [colour for run, colour in rows[5] if run in ("x", "─" * 15)]
    assert colours == ["cyan", "red", "cyan"]


def test_marker_curves_are_joined_by_their_marker_and_out_of_range_lines_are_left_out():
    curve = Curve(np.array([1.0, 10.0]), np.array([1.0, 1.0]), "+", None)
    rows = text(draw(figure(curve, HLine(5.0, "red")), width=20, height=8))
    assert rows[1] == "1┤" + "+" * 17 + "│"
    assert "─" not in "".join(rows[1:6])


def test_x_labels_never_overlap():
    ticks = [(1, "1"), (5, "100000"), (6, "200000"), (10, "10")]
    lines = text(draw(figure(x_ticks=ticks), width=20, height=8))
    line = lines[-1]
    assert "100000" in line and "200000" not in line  # no room for it: left out, not moved
    assert line.index("100000") + 3 == lines[-2].index("┬", 3)  # centred under its tick
    assert line.endswith("10")
    # The last label is always there, even where the one before it stood.
    crowded = [(1, "1"), (9, "100000"), (10, "10")]
    assert text(draw(figure(x_ticks=crowded), width=20, height=8))[-1].split() == ["1", "10"]


def test_markers_lines_and_labels_sit_in_the_cell_of_the_braille_dot_of_their_value():
    # A falling curve: the ● of its last point, a line at the same value and that value's
    # tick label all go to the row that holds the curve's last (lowest) dot.
    x = np.linspace(1.0, 10.0, 40)
    y = np.exp(-x / 3)
    last = float(y[-1])
    curve = Curve(x, y, BRAILLE, "blue")
    current = Curve(x[-1:], y[-1:], "●", "green", lines=False)
    ticks = ((last, "L"), (1.0, "1"))
    for height in range(8, 30):
        alone = text(draw(Figure((1, 10), (0.0, 1.0), (), ticks, [curve]), 30, height))[1:-2]
        last_dot_row = max(r for r, line in enumerate(alone) if "⠀" < line[-2] <= "⣿")
        f = Figure((1, 10), (0.0, 1.0), (), ticks, [HLine(last, "red"), curve, current])
        lines = text(draw(f, width=30, height=height))[1:-2]
        marker_row = next(r for r, line in enumerate(lines) if "●" in line)
        assert marker_row == last_dot_row, height
        assert lines[marker_row].startswith("L├"), (height, lines[marker_row])
