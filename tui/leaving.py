"""Leaving the app: q, Ctrl+C, a signal, a terminal gone, a crash; and ``run_app``.

:class:`Leaving` is a mixin of the App (it needs the App's event loop, its
``exit`` and Textual's driver and exception hooks): whatever ends the app, the run
stops at its next chunk, a save in progress finishes, the log is flushed, and
the process is gone within ``EXIT_DEADLINE`` seconds whatever hangs
(``SAVE_LIMIT`` more while a save is being written).  Each wait of the way has
its own bound, so that the deadline is a last resort.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from textual.worker import WorkerState

from .exits import EXIT_ERROR as EXIT_REFUSED  # Functions refused: as --check says it
from .exits import EXIT_TERMINAL_LOST  # the terminal went away, as a hang-up's SIGHUP
from .terminal import ExitGuard, TerminalDriver

if TYPE_CHECKING:
    from .controller import RunController

EXIT_DEADLINE = 1.5
LOADING_DEADLINE = 0.3
"""q while the engine first loads (torch imported, data read or made): nothing has run,
nothing can be lost, and the loading thread cannot be interrupted (an import holds it): the app
gets this long to leave by itself before the guard ends the process."""
SAVE_LIMIT = 10.0
RUN_STOP_WAIT = 0.5
LOCK_WAIT = 0.5
STUCK_LOCK_WAIT = 0.05


def end_process(guard: ExitGuard, code: int) -> int:
    """The app has ended and said what it had to: on a real terminal (``guard.armed``) the
    process ends now, its exit functions run (a student's child process killed, files
    flushed) but not the interpreter's teardown of torch, which takes seconds on a loaded
    machine and would hold q's exit past its deadline.  Elsewhere (tests) returns ``code``."""
    if not guard.armed:
        return code
    import atexit
    import os
    import sys

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001, S110 - a gone terminal: nothing to flush to
            pass
    os._exit(code)


class Leaving:
    """The App's ways out (a mixin: it is an ``App``, with a ``controller``)."""

    controller: RunController
    crash: BaseException | None
    refused: str | None

    def _init_leaving(self) -> None:
        self.crash = None
        """The unexpected exception that stopped the app, if one did (see ``run_app``)."""
        self.refused = None
        """Why the app quit without running (the student's Functions failed the check)."""
        self._previous_handlers: dict[int, Any] = {}
        self._terminal: TerminalDriver | None = None
        self._event_loop: Any = None
        self._quitting = False
        self._signals = 0
        self.guard = ExitGuard(
            self._restore_terminal,
            lambda: self.controller.save_worker is not None,
            deadline=EXIT_DEADLINE,
            busy_limit=SAVE_LIMIT,
        )
        """Bounds the shutdown (armed on a real terminal, not in tests)."""

    def leaving(self) -> bool:
        """Whether the app is quitting (the controller starts no run any more)."""
        return self._quitting or self.guard.started

    async def _quit_refused(self, why: str) -> None:
        self.refused = why
        await self.action_quit(EXIT_REFUSED)

    async def action_interrupt(self) -> None:
        """Ctrl+C: quit, from anywhere."""
        await self.action_quit()

    async def action_quit(self, return_code: int = 0) -> None:
        if self._quitting:
            return
        self._quitting = True
        # The first load only: while new settings load, the run on screen still has its log
        # to flush (close_experiment below), and that gets the whole deadline.
        controller = self.controller
        loading = (
            controller.loading is not None
            and controller.experiment is None
            and controller.save_worker is None
        )
        self.guard.begin(return_code, deadline=LOADING_DEADLINE if loading else None)
        if self._terminal is not None:
            self._terminal.leaving()
        run = self.controller.run_worker
        await self.controller.stop_run(timeout=RUN_STOP_WAIT)
        await self._finish_save()
        # A step still computed (a student's slow Python, a step on large data) holds the
        # lock until it ends: no use waiting for it, the exit guard ends the process.
        stuck = run is not None and not getattr(run, "is_finished", True)
        self.controller.close_experiment(timeout=STUCK_LOCK_WAIT if stuck else LOCK_WAIT)
        self.exit(return_code=return_code)  # type: ignore[attr-defined]

    # -- leaving from outside: signals, a terminal gone ---------------------------------

    def get_driver_class(self) -> Any:
        from textual.drivers.linux_driver import LinuxDriver

        driver = super().get_driver_class()  # type: ignore[misc]
        return TerminalDriver if driver is LinuxDriver else driver

    def use_terminal(self, driver: TerminalDriver) -> None:
        """Called by the TerminalDriver this app runs on: a real terminal, not a test's."""
        self._terminal = driver
        self.guard.armed = True

    def terminal_lost(self) -> None:
        """The terminal went away (a dropped SSH link): leave as a hang-up does. Thread-safe."""
        self._leave(EXIT_TERMINAL_LOST, signalled=False)

    def _watch_signals(self) -> None:
        """SIGTERM (kill) and SIGHUP (an SSH link that drops) quit as q does: nothing lost.

        Their default action kills the process at once: the terminal is left in
        the app's modes and the last TensorBoard writes are never flushed.  Python
        handlers, not the event loop's: they run even while the loop is stuck, and
        a second signal exits at once.
        """
        import asyncio
        import signal

        self._event_loop = asyncio.get_running_loop()
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
            except (OSError, RuntimeError, ValueError):
                return  # not on this platform: the default action stays

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._leave(128 + signum, signalled=True)

    def _leave(self, code: int, *, signalled: bool) -> None:
        """Quit as q does, from a signal handler or any thread; a second signal exits at once.

        A hang-up is seen twice (the terminal's end, and the kernel's SIGHUP): only a
        signal after a signal counts as the second.
        """
        if signalled:
            self._signals += 1
            if self._signals > 1:
                self.guard.exit_now(code)
                return
        if self.guard.started:
            return
        self.guard.begin(code)
        if self._terminal is not None:
            self._terminal.leaving()
        self.controller.stop.set()  # the run stops at its next chunk, whatever the loop does
        try:
            self._event_loop.call_soon_threadsafe(self._quit_soon, code)
        except (AttributeError, RuntimeError):  # no loop yet, or closed: the app is over
            self.guard.exit_now(code)

    def _quit_soon(self, code: int) -> None:
        self.call_next(self.action_quit, code)  # type: ignore[attr-defined]

    def _unwatch_signals(self) -> None:
        import signal

        if self.guard.armed:
            # Keep them: past this point a signal exits at once with its status.
            return
        for signum, handler in self._previous_handlers.items():
            try:
                signal.signal(signum, handler)
            except (OSError, RuntimeError, ValueError):
                pass
        self._previous_handlers.clear()

    def _restore_terminal(self) -> None:
        if self._terminal is not None:
            self._terminal.restore_now()

    async def _finish_save(self) -> None:
        """Nothing lost: a save in progress ends before the app does (SAVE_LIMIT at most)."""
        import asyncio

        worker = self.controller.save_worker
        if worker is None:
            return
        deadline = time.monotonic() + SAVE_LIMIT
        # Asked for a moment ago, its thread may not have started: waiting on a worker that
        # has not started raises, and the app's exit would cancel it (the save lost).
        while worker.state is WorkerState.PENDING and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        try:
            await asyncio.wait_for(asyncio.shield(worker.wait()), deadline - time.monotonic())
        except Exception:  # noqa: BLE001 - its failure is reported when the save ends
            pass

    def on_unmount(self) -> None:
        # Whatever ended the app: stop the run and flush the log (after a save, under the lock).
        self._unwatch_signals()
        self.controller.stop.set()
        self.controller.close_experiment(timeout=LOCK_WAIT)

    # Textual has no public hook for an unexpected exception in a handler: it restores the
    # terminal, prints the traceback and sets ``return_code`` to 1 (public).  This private
    # method is the one place that sees the exception itself, kept for the crash report;
    # if a Textual release renames it, ``run_app`` still reports the crash from return_code.
    def _handle_exception(self, error: Exception) -> None:
        if self.crash is None:
            self.crash = error
        super()._handle_exception(error)  # type: ignore[misc]
