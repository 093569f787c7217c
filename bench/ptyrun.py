"""Run a terminal program in a pseudo-terminal and measure what a remote user pays.

Standard library only (Linux, macOS).  Used by ``make bench`` for the app's
figures: time to first paint, bytes per second written to the terminal, and the
time until some text appears on screen.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time
from dataclasses import dataclass, field

KEYS = {"space": b" ", "enter": b"\r", "tab": b"\t", "esc": b"\x1b", "ctrl+c": b"\x03"}
ANSI = re.compile(
    rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\"
    rb"|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)


@dataclass
class PtyRun:
    first_paint_s: float | None = None
    text_s: float | None = None
    window_bytes_per_s: float | None = None
    bytes_total: int = 0
    exit_code: int | None = None
    key_times: dict[str, float] = field(default_factory=dict)
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    """Everything written, with the time it came (only when ``record``)."""

    def output(self, until: float | None = None) -> bytes:
        """What was written (until ``until`` seconds after the start)."""
        return b"".join(data for at, data in self.chunks if until is None or at <= until)


def run_in_pty(
    command: list[str],
    size: tuple[int, int] = (100, 30),
    keys: list[tuple[float, str]] = (),
    text: str | None = None,
    window: tuple[float, float] | None = None,
    timeout: float = 30.0,
    paint_bytes: int = 2000,
    env: dict[str, str] | None = None,
    stop_after_text: float | None = None,
    record: bool = False,
    signals: list[tuple[float, int]] = (),
    after_text: bool = False,
) -> PtyRun:
    """Run ``command`` at ``size`` (columns, rows), typing ``keys`` at their times.

    ``text``: a regex waited for in the output (escape codes removed); with
    ``stop_after_text``, the run ends that many seconds after it appears; with
    ``after_text``, the times of ``keys`` and ``signals`` count from then.
    """
    columns, rows = size
    pid, fd = pty.fork()
    if pid == 0:  # the child: the program, in the terminal
        os.environ.update(env or {})
        os.environ.setdefault("TERM", "xterm-256color")
        os.environ["COLUMNS"], os.environ["LINES"] = str(columns), str(rows)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    result = PtyRun()
    pending = sorted(keys)
    pending_signals = sorted(signals)
    pattern = re.compile(text.encode()) if text else None
    tail = b""
    window_bytes = 0
    started = time.monotonic()
    deadline = started + timeout
    status = None
    while True:
        now = time.monotonic()
        elapsed = now - started
        if after_text:
            # Keys wait for the text; then their times count from it.
            elapsed = -1.0 if result.text_s is None else elapsed - result.text_s
        while pending and pending[0][0] <= elapsed:
            _, key = pending.pop(0)
            try:
                os.write(fd, KEYS.get(key, key.encode()))
                result.key_times.setdefault(key, now - started)
            except OSError:
                pending.clear()
        while pending_signals and pending_signals[0][0] <= elapsed:
            try:
                os.kill(pid, pending_signals.pop(0)[1])
            except ProcessLookupError:
                pending_signals.clear()
        if now > deadline:
            break
        ready, _, _ = select.select([fd], [], [], 0.01)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                break
            elapsed = time.monotonic() - started
            result.bytes_total += len(data)
            if record:
                result.chunks.append((elapsed, data))
            if result.first_paint_s is None and result.bytes_total >= paint_bytes:
                result.first_paint_s = elapsed
            if window is not None and window[0] <= elapsed <= window[1]:
                window_bytes += len(data)
            if pattern is not None and result.text_s is None:
                tail = (tail + ANSI.sub(b"", data))[-8192:]
                if pattern.search(tail):
                    result.text_s = elapsed
                    if stop_after_text is not None:
                        deadline = min(deadline, time.monotonic() + stop_after_text)
        done, child_status = os.waitpid(pid, os.WNOHANG)
        if done:
            status = child_status
            break
    if status is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            time.sleep(0.3)
            done, child_status = os.waitpid(pid, os.WNOHANG)
            if done:
                status = child_status
                break
    os.close(fd)
    if status is not None:
        result.exit_code = os.waitstatus_to_exitcode(status)
    if window is not None:
        result.window_bytes_per_s = window_bytes / (window[1] - window[0])
    return result
