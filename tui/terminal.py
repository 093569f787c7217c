"""The terminal the app draws on, and leaving it within a bound when it goes away or a signal comes.

On a lab server a dropped SSH link hangs up the app's pty: reads return EOF, writes
fail with EIO, and the kernel sends SIGHUP and SIGCONT.  Textual 8's Linux driver
is not made for that: its output thread dies on the first failed write, its queue
(30 writes) fills, and the next write blocks the event loop for good, signal
handlers included; SIGCONT, meant for a return from Ctrl+Z, starts application
mode a second time with a second output thread.  The app stayed behind as an
orphan that only ``kill -9`` ended.

:class:`TerminalDriver` keeps Textual's driver but owns the output: a writer that
survives failed writes and never blocks once the terminal is gone or the app is
leaving, and a thread asleep in ``poll`` that wakes when the terminal hangs up
(the app may get no SIGHUP: its session leader may ignore it).  :class:`ExitGuard`
bounds the whole shutdown: once it starts, the process exits by a deadline
whatever hangs, and a second signal exits at once.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import Callable
from queue import Empty, Full, Queue
from typing import Any

from textual.drivers.linux_driver import LinuxDriver

# As Textual's own writer: enough to absorb a frame, small enough to pace the app to the link.
MAX_QUEUED_WRITES = 30
# How long a write waits for room in the queue before it looks again at whether to give up.
PUT_WAIT = 0.1
# How long leaving waits for the last writes to reach the terminal.
CLOSE_WAIT = 0.5
# How long a hard exit waits to restore the terminal and flush stdout/stderr.
TIDY_WAIT = 0.3
# What a terminal left in the app's modes needs: keyboard protocol, mouse, paste and focus
# reports off, line wrap on, the main screen back, the cursor shown.
RESTORE_SEQUENCES = (
    "\x1b[<u\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?1004l"
    "\x1b[?7h\x1b[?1049l\x1b[?25h"
)


class _Output(threading.Thread):
    """Writes the frames to the terminal in the background, and survives a terminal that is gone."""

    def __init__(self, file: Any, lost: Callable[[], None]) -> None:
        super().__init__(daemon=True, name="amal-output")
        self._queue: Queue[str | None] = Queue(MAX_QUEUED_WRITES)
        self._file = file
        self._lost = lost
        self.gone = threading.Event()
        """A write failed: the terminal is gone, nothing more is written."""
        self.leaving = threading.Event()
        """The app is leaving: a write that finds the queue full is dropped, not waited for."""

    def write(self, text: str) -> None:
        # A full queue is the link's pace (back-pressure), unless nobody will read it any more.
        while not self.gone.is_set():
            try:
                self._queue.put(text, timeout=PUT_WAIT)
                return
            except Full:
                if self.leaving.is_set():
                    return

    def run(self) -> None:
        while True:
            text = self._queue.get()
            if text is None:
                return
            if self.gone.is_set():
                continue  # keep emptying the queue: a writer must never wait for us
            try:
                self._file.write(text)
                if self._queue.qsize() == 0:
                    self._file.flush()
            except (OSError, ValueError):  # EIO once hung up; ValueError: the file was closed
                self.gone.set()
                self._lost()

    def stop(self, timeout: float) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then end."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._queue.put(None, timeout=PUT_WAIT)
                break
            except Full:
                if self.gone.is_set() or time.monotonic() >= deadline:
                    self._drop_queued()
        self.join(max(deadline - time.monotonic(), 0.0))

    def _drop_queued(self) -> None:
        self.gone.set()
        try:
            while True:
                self._queue.get_nowait()
        except Empty:
            pass


def watch_hang_up(fds: list[int], lost: Callable[[], None]) -> threading.Thread | None:
    """Call ``lost()`` once, from a thread, when the terminal on any of ``fds`` hangs up.

    The thread sleeps in ``poll`` without a timeout: no CPU, no wake-up while the
    terminal is there.
    """
    poller = select.poll()
    watched = 0
    for fd in dict.fromkeys(fds):
        try:
            if os.isatty(fd):
                poller.register(fd, select.POLLHUP)
                watched += 1
        except (OSError, ValueError):
            continue
    if not watched:
        return None

    def watch() -> None:
        while True:
            try:
                events = poller.poll()
            except OSError:
                return
            if any(mask & (select.POLLHUP | select.POLLERR) for _, mask in events):
                lost()
                return
            if any(mask & select.POLLNVAL for _, mask in events):
                return  # the descriptor was closed: the app is over

    thread = threading.Thread(target=watch, daemon=True, name="amal-hang-up")
    thread.start()
    return thread


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, with an output that cannot block the app when the terminal goes.

    It tells the app (``app.terminal_lost()``, thread-safe) once the terminal is
    gone: a write failed, a read failed, or the terminal hung up.
    """

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._output: _Output | None = None
        self._suspended = False
        self._watcher: threading.Thread | None = None
        self._lost_once = threading.Lock()
        self.gone = threading.Event()
        """The terminal is gone: nothing is written to it any more."""
        use = getattr(app, "use_terminal", None)
        if use is not None:
            use(self)

    def _terminal_lost(self) -> None:
        """From any thread: the terminal is gone (said to the app once)."""
        if not self._lost_once.acquire(blocking=False):
            return
        self.gone.set()
        if self._output is not None:
            self._output.gone.set()
        lost = getattr(self._app, "terminal_lost", None)
        if lost is not None:
            lost()

    def leaving(self) -> None:
        """The app is leaving: writes no longer wait for a slow terminal."""
        if self._output is not None:
            self._output.leaving.set()

    # -- output ----------------------------------------------------------------------------

    def write(self, data: str) -> None:
        if self._output is not None:
            self._output.write(data)

    def start_application_mode(self) -> None:
        if self.gone.is_set():
            return
        if self._output is None or not self._output.is_alive():
            self._output = _Output(sys.__stderr__, self._terminal_lost)
            self._output.start()
        super().start_application_mode()
        if self._watcher is None:
            fds = [self.fileno]
            try:
                fds.append(sys.__stderr__.fileno())
            except (AttributeError, OSError, ValueError):
                pass
            self._watcher = watch_hang_up(fds, self._terminal_lost)

    def close(self) -> None:
        if self._output is not None:
            self._output.stop(CLOSE_WAIT)
        # Textual's own output thread never got a write (``write`` is ours): it stops at once.
        super().close()

    # -- input -----------------------------------------------------------------------------

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        except OSError:
            # EIO once the terminal is hung up: the app leaves (Textual would call it a crash).
            self._terminal_lost()

    # -- Ctrl+Z --------------------------------------------------------------------------

    def suspend_application_mode(self) -> None:
        self._suspended = True
        super().suspend_application_mode()

    def resume_application_mode(self) -> None:
        # SIGCONT also comes with a hang-up's SIGHUP, or from anyone's `kill -CONT`: only a
        # return from Ctrl+Z starts application mode again (a second time would mean a
        # second input and output thread on one terminal).
        if not self._suspended or self.gone.is_set():
            return
        self._suspended = False
        super().resume_application_mode()

    # -- what a hard exit can still restore --------------------------------------------------

    def restore_now(self) -> None:
        """Put the terminal back as it was (before a hard exit); may block on a stalled terminal."""
        if self.gone.is_set():
            return
        import termios

        attributes = getattr(self, "attrs_before", None)
        try:
            if attributes is not None:
                termios.tcsetattr(self.fileno, termios.TCSANOW, attributes)
        except termios.error:
            pass
        os.write(sys.__stderr__.fileno(), RESTORE_SEQUENCES.encode())


class ExitGuard:
    """Once the app starts leaving, the process is gone by a deadline, whatever hangs.

    ``begin`` starts a watchdog thread that exits (``os._exit``) with the exit
    status asked for when the deadline passes, after a save in progress
    (``busy()``) has had up to ``busy_limit`` seconds more.  ``again`` is for a
    second signal: exit at once.  ``restore`` puts the terminal back first.
    """

    def __init__(
        self,
        restore: Callable[[], None],
        busy: Callable[[], bool] = lambda: False,
        *,
        deadline: float,
        busy_limit: float,
    ) -> None:
        self._restore = restore
        self._busy = busy
        self._deadline = deadline
        self._busy_limit = busy_limit
        self._lock = threading.Lock()
        self.armed = False
        """Whether this guard may end the process (the real app; not an app run by a test)."""
        self.code: int | None = None
        """The exit status of the shutdown under way, None before it starts."""

    @property
    def started(self) -> bool:
        return self.code is not None

    def begin(self, code: int, deadline: float | None = None) -> bool:
        """Start the countdown (the first call only); True if this call started it.

        ``deadline``: a shorter one than the guard's, when nothing can be lost by
        ending sooner (the engine still loading: nothing run, nothing to save)."""
        with self._lock:
            if self.code is not None:
                return False
            self.code = code
        if not self.armed:
            return True
        started = time.monotonic()
        wait = self._deadline if deadline is None else min(deadline, self._deadline)
        thread = threading.Thread(
            target=self._watch, args=(started, wait), daemon=True, name="amal-exit-guard"
        )
        thread.start()
        return True

    def _watch(self, started: float, wait: float) -> None:
        time.sleep(wait)
        while self._busy() and time.monotonic() - started < wait + self._busy_limit:
            time.sleep(0.05)
        self.exit_now(self.code if self.code is not None else 1)

    def exit_now(self, code: int) -> None:
        """Restore what can be restored, flush what can be flushed, and exit with ``code``.

        Does nothing unless ``armed`` (an app run by a test must not end the tests' process).
        """
        if not self.armed:
            return

        def tidy() -> None:
            try:
                self._restore()
            except Exception:  # noqa: BLE001, S110 - the process exits next: nothing more to do
                pass
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001, S110 - a gone terminal: nothing to flush to
                    pass

        # In a thread: a terminal that stopped reading must not hold the exit.
        thread = threading.Thread(target=tidy, daemon=True, name="amal-tidy")
        thread.start()
        thread.join(TIDY_WAIT)
        os._exit(code)
