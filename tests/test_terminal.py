"""The real program in a pseudo-terminal, as SSH users meet it: colours, TERM, signals, restore.

What the app writes is fed to a terminal emulator (pyte) and read back as a
screen.  Set AMAL_UPDATE_SNAPSHOTS=1 to rewrite the stored screen.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pyte
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from ptyrun import run_in_pty  # noqa: E402

AMAL = str(Path(sys.executable).with_name("amal-tui"))
# Not under __snapshots__: that folder belongs to syrupy, which fails the run on files it does not know.
SNAPSHOTS = Path(__file__).parent / "screens"
SIZE = (100, 30)
# Keys are typed once the engine has loaded (iteration 0 on screen), then at these delays.
READY = r"iteration 0"
TIMEOUT = 30
SGR = re.compile(rb"\x1b\[([0-9;:]*)m")
RESTORED = (b"\x1b[?1049l", b"\x1b[?25h")  # back to the main screen, cursor shown

pytestmark = pytest.mark.skipif(not os.path.exists(AMAL), reason="amal-tui is not installed")


def screen(output: bytes, size=SIZE) -> str:
    emulator = pyte.Screen(*size)
    pyte.ByteStream(emulator).feed(output)
    return "\n".join(line.rstrip() for line in emulator.display)


def colours(output: bytes) -> set[str]:
    """Every colour an SGR sequence asks for: "31", "38;5;208", "38;2;r;g;b", ..."""
    found = set()
    for match in SGR.finditer(output):
        params = match.group(1).decode().split(";")
        i = 0
        while i < len(params):
            p = params[i]
            if p in ("38", "48") and i + 1 < len(params):
                width = 5 if params[i + 1] == "2" else 3
                found.add(";".join(params[i : i + width]))
                i += width
                continue
            if p.isdigit() and (30 <= int(p) <= 49 or 90 <= int(p) <= 107):
                found.add(p)
            i += 1
    return found


SIXTEEN = {
    str(c) for c in [*range(30, 38), 39, *range(40, 48), 49, *range(90, 98), *range(100, 108)]
}
GREYS = {"30", "37", "39", "40", "47", "49", "90", "97", "100", "107"}


def one_step(env: dict[str, str]) -> tuple[str, bytes]:
    run = run_in_pty(
        [AMAL, "--no-tensorboard"],
        size=SIZE,
        keys=[(0.3, "s"), (1.3, "q")],
        text=READY,
        after_text=True,
        timeout=TIMEOUT,
        env=env,
        record=True,
    )
    assert run.exit_code == 0
    before_quit = run.output(until=run.key_times["q"])
    return screen(before_quit), run.output()


@pytest.fixture(scope="module")
def truecolour_screen():
    return one_step({"COLORTERM": "truecolor", "TEXTUAL_COLOR_SYSTEM": "truecolor"})


def test_the_screen_after_one_step(truecolour_screen):
    text, output = truecolour_screen
    assert any(c.startswith("38;2;") for c in colours(output))
    for words in (
        "iteration 1",
        "loss 13.6831",
        "+1.592",
        "◆ changed most",
        "ε_max 1.532",
        "paused",
    ):
        assert words in text, words
    stored = SNAPSHOTS / "after_one_step_100x30.txt"
    if os.environ.get("AMAL_UPDATE_SNAPSHOTS"):
        stored.write_text(text + "\n")
    assert stored.exists(), f"{stored} is missing: run with AMAL_UPDATE_SNAPSHOTS=1 to write it"
    assert text + "\n" == stored.read_text()


@pytest.mark.parametrize(
    "name,env,allowed",
    [
        ("16 colours", {"TEXTUAL_COLOR_SYSTEM": "standard"}, SIXTEEN),
        ("NO_COLOR", {"NO_COLOR": "1"}, GREYS),
        ("256 colours", {"TEXTUAL_COLOR_SYSTEM": "256"}, None),
    ],
)
def test_every_colour_system_shows_the_same_screen(truecolour_screen, name, env, allowed):
    """Nothing is shown by colour alone: the characters are the same whatever the colours."""
    text, output = one_step(env)
    assert text == truecolour_screen[0]
    used = colours(output)
    if allowed is not None:
        assert used <= allowed, f"{name}: {sorted(used - allowed)}"
    else:
        assert not any(c.startswith(("38;2;", "48;2;")) for c in used)


@pytest.mark.parametrize("term", ["xterm", "xterm-256color", "screen-256color", "tmux-256color"])
def test_it_works_under_each_term_and_restores_the_terminal(term):
    run = run_in_pty(
        [AMAL, "--no-tensorboard"],
        keys=[(0.3, "s"), (1.3, "q")],
        text=READY,
        after_text=True,
        timeout=TIMEOUT,
        env={"TERM": term},
        record=True,
    )
    assert run.exit_code == 0
    assert "iteration 1" in screen(run.output(until=run.key_times["q"]))
    tail = run.output()[-400:]
    assert all(code in tail for code in RESTORED)


def _scalars(folder: Path) -> list:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (run,) = folder.iterdir()
    accumulator = EventAccumulator(str(run), size_guidance={"scalars": 0})
    accumulator.Reload()
    return accumulator.Scalars("Loss/train")


@pytest.mark.parametrize(
    "how,code",
    [
        ("q", 0),
        ("ctrl+c", 0),
        (signal.SIGTERM, 128 + signal.SIGTERM),
        (signal.SIGHUP, 128 + signal.SIGHUP),
    ],
)
def test_quitting_during_a_run_restores_the_terminal_and_flushes_the_log(tmp_path, how, code):
    command = [AMAL, "--logdir", str(tmp_path), "--threshold", "-1", "--max-iter", "100000000"]
    keys = [(0.2, "r")]
    signals = []
    if isinstance(how, str):
        keys.append((1.5, how))
    else:
        signals.append((1.5, how))
    run = run_in_pty(
        command,
        keys=keys,
        signals=signals,
        text=READY,
        after_text=True,
        timeout=TIMEOUT,
        record=True,
    )
    assert run.exit_code == code
    assert all(sequence in run.output()[-400:] for sequence in RESTORED)
    scalars = _scalars(tmp_path)
    # Every iteration run was logged, up to the last, and the file ends on a whole record.
    assert len(scalars) > 1000
    assert [s.step for s in scalars] == list(range(len(scalars)))


@pytest.mark.parametrize("extra,reported", [([], True), (["--no-mouse"], False)])
def test_no_mouse_turns_mouse_reporting_off(extra, reported):
    run = run_in_pty(
        [AMAL, "--no-tensorboard", *extra],
        keys=[(0.3, "q")],
        text=READY,
        after_text=True,
        timeout=TIMEOUT,
        record=True,
    )
    assert run.exit_code == 0
    # 1000: button presses, 1003: every motion, 1006: their encoding.
    assert all((code in run.output()) is reported for code in (b"\x1b[?1000h", b"\x1b[?1003h"))


def test_fps_lowers_the_bytes_written_while_running():
    # ε = 0.0001: W, b and the loss change at every redraw, the most there is to write.
    command = [AMAL, "--no-tensorboard", "--threshold", "-1", "--max-iter", "100000000"]
    command += ["--lr", "0.0001"]

    def bytes_per_second(extra):
        run = run_in_pty(
            command + extra,
            keys=[(0.2, "r"), (4.5, "q")],
            text=READY,
            after_text=True,
            timeout=TIMEOUT,
            record=True,
        )
        started = run.key_times["r"] + 1.0
        return sum(len(data) for at, data in run.chunks if started <= at <= started + 3) / 3

    default, slow = bytes_per_second([]), bytes_per_second(["--fps", "2"])
    assert default <= 40 * 1024  # at 100×30
    assert slow < 0.7 * default


def test_functions_that_fail_the_check_show_the_report_then_exit_1_with_a_line():
    student = Path(__file__).parent / "students" / "linear_b_mean.py"
    run = run_in_pty(
        [AMAL, "--no-tensorboard", "--functions", str(student)],
        keys=[(0.5, "q")],  # q closes the report
        text=r"Closing this quits",
        after_text=True,
        timeout=TIMEOUT,
        record=True,
    )
    assert run.exit_code == 1
    after = run.output()[run.output().rfind(RESTORED[0]) :]
    assert f"amal-tui: the Functions of {student} fail the check".encode() in after
    assert b"Traceback" not in run.output()
