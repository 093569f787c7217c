"""Run a terminal program in a pseudo-terminal and measure what a remote user pays.

Standard library only (Linux, macOS).  Used by ``make bench`` for the app's
figures: time to first paint, bytes per second written to the terminal, and the
time until some text appears on screen.
"""

from __future__ import annotations

import ctypes
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
    """When each key was first typed, seconds after the start."""
    key_log: list[tuple[float, str]] = field(default_factory=list)
    """Every key typed, with its time (a key typed twice is there twice)."""
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    """Everything written, with the time it came (only when ``record``)."""
    hang_up_s: float | None = None
    """When the terminal was closed (``hang_up``), seconds after the start."""
    exited_s: float | None = None
    """When the program was seen gone, seconds after the start."""
    pid: int | None = None
    cpu_s: float | None = None
    """CPU seconds (user + system) the program used in ``cpu_window`` (Linux)."""

    @property
    def gone_after_hang_up_s(self) -> float | None:
        """Seconds from the closed terminal to the program's exit."""
        if self.hang_up_s is None or self.exited_s is None:
            return None
        return self.exited_s - self.hang_up_s

    def output(self, until: float | None = None) -> bytes:
        """What was written (until ``until`` seconds after the start)."""
        return b"".join(data for at, data in self.chunks if until is None or at <= until)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _prctl():
    """libc's prctl, looked up once in the parent (not between fork and exec); None off Linux."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()


def die_with(parent: int) -> None:
    """In a child, before exec: Linux kills it (SIGKILL) when ``parent`` dies.

    A test run killed (pytest stopped, a timeout, kill -9) would otherwise leave the
    programs it started running, some for hours (an endless ``--max-iter 100000000``).
    Off Linux it does nothing.  The request is tied to the thread that forked: call it
    only for children of a thread that lives as long as they should.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request above
        os._exit(1)


def kill_group(pid: int) -> None:
    """SIGKILL ``pid``'s process group (a program in a pty leads its own), and reap ``pid``."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its threads so far (Linux's /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# What says which terminal a program runs in, and its colours.
TERMINAL_VARIABLES = ("TERM", "COLORTERM", "NO_COLOR", "TEXTUAL_COLOR_SYSTEM", "FORCE_COLOR")


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
    hang_up: float | str | None = None,
    leader_ignores_hang_up: bool = False,
    cpu_window: tuple[float, float] | None = None,
    cwd: str | None = None,
) -> PtyRun:
    """Run ``command`` at ``size`` (columns, rows), typing ``keys`` at their times.

    ``text``: a regex waited for in the output (escape codes removed); with
    ``stop_after_text``, the run ends that many seconds after it appears; with
    ``after_text``, the times of ``keys`` and ``signals`` count from then.

    ``hang_up``: at that time (or once that regex appears after ``text``) the terminal is closed, as a dropped SSH link closes it
    (the kernel hangs up the pty: reads see EOF, writes fail, the session leader gets
    SIGHUP); the run then waits for the program to exit.  With
    ``leader_ignores_hang_up`` the program runs under a session leader that ignores
    SIGHUP and stays, so that only the terminal itself says it is gone.
    ``cpu_window``: (start, end) times between which the program's CPU time is measured.
    """
    columns, rows = size
    parent = os.getpid()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the program, in the terminal
        die_with(parent)
        # A new terminal, the same whoever runs this: its kind and colours are xterm-256color's
        # unless ``env`` says otherwise, never those of the caller's terminal (from TERM=xterm
        # or under NO_COLOR, the colour tests saw another app than on CI).
        for name in TERMINAL_VARIABLES:
            os.environ.pop(name, None)
        os.environ["TERM"] = "xterm-256color"
        os.environ.update(env or {})
        if cwd is not None:
            os.chdir(cwd)
        os.environ["COLUMNS"], os.environ["LINES"] = str(columns), str(rows)
        if leader_ignores_hang_up:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            leader = os.getpid()
            program = os.fork()
            if not program:
                die_with(leader)  # the request is not inherited across fork
            if program:
                _, status = os.waitpid(program, 0)
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        result = PtyRun()
        pending = sorted(keys)
        pending_signals = sorted(signals)
        pattern = re.compile(text.encode()) if text else None
        tail = b""  # the last raw bytes: an escape code may be cut between two reads
        window_bytes = 0
        started = time.monotonic()
        deadline = started + timeout
        status = None
        result.pid = pid
        cpu_start = None
        hang_up_pattern = re.compile(hang_up.encode()) if isinstance(hang_up, str) else None
        hang_up_tail = b""
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
                    result.key_log.append((now - started, key))
                except OSError:
                    pending.clear()
            while pending_signals and pending_signals[0][0] <= elapsed:
                try:
                    os.kill(pid, pending_signals.pop(0)[1])
                except ProcessLookupError:
                    pending_signals.clear()
            if cpu_window is not None and elapsed >= 0:
                if cpu_start is None and elapsed >= cpu_window[0]:
                    cpu_start = process_cpu_seconds(pid)
                elif cpu_start is not None and result.cpu_s is None and elapsed >= cpu_window[1]:
                    result.cpu_s = process_cpu_seconds(pid) - cpu_start
            if hang_up_pattern is not None and result.text_s is not None and fd >= 0:
                hang_up_now = bool(hang_up_pattern.search(ANSI.sub(b"", hang_up_tail)))
            else:
                hang_up_now = isinstance(hang_up, (int, float)) and elapsed >= hang_up
            if hang_up_now and result.hang_up_s is None and fd >= 0:
                os.close(fd)
                result.hang_up_s = now - started
                fd = -1
            if now > deadline:
                break
            if fd < 0:
                time.sleep(0.005)
                ready = []
            else:
                ready, _, _ = select.select([fd], [], [], 0.01)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    # The program closed the terminal (it is exiting): wait for its status.
                    os.close(fd)
                    fd = -1
                    continue
                elapsed = time.monotonic() - started
                result.bytes_total += len(data)
                if record:
                    result.chunks.append((elapsed, data))
                if result.first_paint_s is None and result.bytes_total >= paint_bytes:
                    result.first_paint_s = elapsed
                if window is not None and window[0] <= elapsed <= window[1]:
                    window_bytes += len(data)
                if hang_up_pattern is not None and result.text_s is not None:
                    hang_up_tail = (hang_up_tail + data)[-16384:]
                if pattern is not None and result.text_s is None:
                    tail = (tail + data)[-16384:]
                    # Escape codes removed from the joined bytes, not from each read: a code
                    # cut between two reads would otherwise split the text it sits in.
                    if pattern.search(ANSI.sub(b"", tail)):
                        result.text_s = elapsed
                        if stop_after_text is not None:
                            deadline = min(deadline, time.monotonic() + stop_after_text)
            done, child_status = os.waitpid(pid, os.WNOHANG)
            if done:
                status = child_status
                result.exited_s = time.monotonic() - started
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
        if fd >= 0:
            os.close(fd)
        if status is not None:
            result.exit_code = os.waitstatus_to_exitcode(status)
        if window is not None:
            result.window_bytes_per_s = window_bytes / (window[1] - window[0])
        return result
    except BaseException:
        # Stopped from outside (Ctrl+C, a test's timeout): the program goes with it.
        kill_group(pid)
        raise
