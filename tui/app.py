"""The amal-tui app: watch gradient descent step the notebook's Functions.

The first screen is painted before torch is imported: the engine (torch, the
problem, the Session) is built in a thread worker after mount, and the status
line says "loading…" until it is ready; keys pressed meanwhile wait for it.

A run is a second thread worker that steps the Session in chunks of about
``CHUNK_SECONDS`` and posts a :class:`RunProgress` after each; consecutive
unread ones merge.  The worker never touches a widget.  The app redraws on a
timer, each panel at its own rate (text often, the chart a few times per
second), and only what changed: every redraw takes the GIL from the engine
and bytes from an SSH link.  Only one thread mutates the Session at a time:
the UI thread steps, resets or rebuilds it only after the run worker stopped.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerFailed, WorkerState, get_current_worker

from engine.config import Config, ConfigError, parse_learning_rate

from .help_screen import HelpScreen
from .hyperparameters import HyperparameterPanel
from .loss_chart import LossChart
from .messages import EngineLoaded, EngineWarning, RunProgress
from .parameters import ParameterPanel
from .status_line import LOADING, StatusInfo, StatusLine

# Below this the panels cannot show W (13 rows) and a readable chart.
MIN_WIDTH, MIN_HEIGHT = 72, 22
# A run checks for a pause between chunks of about this many seconds.
CHUNK_SECONDS = 0.03
# The shortest time between two redraws: the status line; the parameters and the chart
# while a run goes on (the chart at 4 Hz: ~16 KiB/s at 100x30), and when idle (a key's
# effect shows at once, but holding a key down does not redraw at the key-repeat rate).
TEXT_PERIOD = 0.1
PARAMETERS_PERIOD, PARAMETERS_PERIOD_IDLE = 0.2, 0.1
CHART_PERIOD, CHART_PERIOD_IDLE = 0.25, 1 / 8
# steps/s is measured over about this many seconds.
RATE_WINDOW = 1.0

SessionFactory = Callable[[Config, Callable[[str], None]], Any]


_frozen = False


def _freeze_startup_objects() -> None:
    """Keep the objects of torch and Textual out of the garbage collector's full passes.

    A full collection scans every object: with torch loaded it holds the GIL
    for ~100 ms, long enough to stall a run's chunk past the 0.1 s a pause
    may take.  Objects alive after start-up live as long as the app does.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


class FunctionsRefused(Exception):
    """A student's Functions (``--functions``) cannot be loaded or fail the check."""


def build_session(config: Config, warn: Callable[[str], None]) -> Any:
    """Import the engine (torch) and build a Session; slow the first time (~1 s).

    With ``--functions FILE``, the descent steps the student's MSE and Linear once
    they pass the engine's check (or with ``--force``), as ``--headless`` does.
    """
    from engine.descent import Descent
    from engine.session import Session

    functions: dict[str, type] = {}
    if config.functions is not None:
        from engine.check import load_and_check

        mse, linear, report = load_and_check(config.functions, config.mse_name, config.linear_name)
        if mse is None or linear is None or not (report.passed or config.force):
            why = "cannot be loaded" if mse is None else "fail the check (--force runs them)"
            raise FunctionsRefused(
                f"the Functions of {config.functions} {why}: amal-tui --check "
                f"{config.functions} says why\n{report.text()}"
            )
        if not report.passed:
            warn(f"running with Functions that fail the check (--force): {config.functions}")
        functions = {"mse": mse, "linear": linear}
    return Session(config, Descent(config, **functions), warn=warn)


class AmalApp(App[int]):
    """The app for one validated Config (the CLI's, or a test's)."""

    CSS_PATH = "app.tcss"
    TITLE = "amal-tui"
    # Every key is in the footer and the help screen; the palette would only take footer room.
    ENABLE_COMMAND_PALETTE = False
    # Keys act on the run until tab moves into the fields.
    AUTO_FOCUS = None
    HORIZONTAL_BREAKPOINTS = [(0, "-too-narrow"), (MIN_WIDTH, "-wide-enough")]
    VERTICAL_BREAKPOINTS = [(0, "-too-short"), (MIN_HEIGHT, "-tall-enough")]

    BINDINGS = [
        Binding("s,right", "step", "Step"),
        Binding("r,space", "toggle_run", "Run/pause"),
        Binding("x", "reset", "Reset"),
        Binding("l", "toggle_log_scale", "Log y"),
        Binding("plus,equals_sign", "scale_learning_rate(10)", "lr×10", key_display="+"),
        Binding("minus", "scale_learning_rate(0.1)", "lr÷10", key_display="-"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, config: Config, session_factory: SessionFactory | None = None) -> None:
        super().__init__()
        self.config = config
        self.session: Any = None
        """The engine's Session once loaded (None while torch loads)."""
        self.engine_error: str | None = None
        self._session_factory = session_factory or build_session
        self._pending: list[str] = []
        self._run_worker: Worker | None = None
        self._stop = threading.Event()
        # Held by the run worker during a chunk: the last line of defence at exit.
        self._session_lock = threading.Lock()
        self._epoch = 0
        self._ran = False
        self._announced = False
        self._rate: deque[tuple[float, int]] = deque()
        # What is on screen, and what has changed since it was drawn.
        self._snapshot: Any = None
        self._losses: np.ndarray = np.empty(0)
        self._test_losses: np.ndarray | None = None
        self._log_folder: str | None = None
        self._dirty_text = self._dirty_parameters = self._dirty_chart = False
        self._parameters_at = self._chart_at = -math.inf

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="panels"):
            with Vertical(id="left"):
                yield HyperparameterPanel(self.config, id="hyperparameters")
                yield LossChart(id="chart")
            yield ParameterPanel(id="parameters")
        yield StatusLine(id="status")
        yield Static("", id="too-small")
        yield Footer()

    def on_mount(self) -> None:
        self._show_size(self.size.width, self.size.height)
        self._status_line.show(self._status_info())
        self.set_interval(TEXT_PERIOD, self._redraw)
        # After the first frame: the import of torch holds the GIL and would delay it.
        self.call_after_refresh(self._load_engine, self.config)
        if self.config.compare:
            self.notify(
                f"--compare runs with --headless; the app runs one learning rate, "
                f"{self.config.learning_rate:g}",
                severity="warning",
                timeout=10,
            )

    def on_resize(self, event: Resize) -> None:
        self._show_size(event.size.width, event.size.height)

    def _show_size(self, width: int, height: int) -> None:
        self.query_one("#too-small", Static).update(
            f"terminal too small (need at least {MIN_WIDTH}×{MIN_HEIGHT}, "
            f"this one is {width}×{height})\nq quits"
        )

    @property
    def _status_line(self) -> StatusLine:
        return self.query_one("#status", StatusLine)

    @property
    def _chart(self) -> LossChart:
        return self.query_one("#chart", LossChart)

    @property
    def _parameters(self) -> ParameterPanel:
        return self.query_one("#parameters", ParameterPanel)

    @property
    def _hyperparameters(self) -> HyperparameterPanel:
        return self.query_one("#hyperparameters", HyperparameterPanel)

    # -- the engine ---------------------------------------------------------------------

    def _warn(self, text: str) -> None:
        """The Session's warnings, from whichever thread: as a message, never blocking."""
        self.post_message(EngineWarning(text))

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine", name="load engine")
    def _load_engine(self, config: Config) -> None:
        session = self._session_factory(config, self._warn)
        _freeze_startup_objects()
        self.post_message(EngineLoaded(session))

    async def on_engine_loaded(self, message: EngineLoaded) -> None:
        session = message.session
        if session.config != self.config:
            # A field was applied while torch loaded.
            session.close()
            session = self._session_factory(self.config, self._warn)
        self.session = session
        self._new_run()
        pending, self._pending = self._pending, []
        for action in pending:
            await self.run_action(action)

    def on_engine_warning(self, message: EngineWarning) -> None:
        self.notify(message.text, severity="warning", timeout=10)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "engine" and event.state is WorkerState.ERROR:
            error = worker.error
            text = str(error) if isinstance(error, FunctionsRefused) else None
            self.engine_error = (text or f"{type(error).__name__}: {error}").splitlines()[0]
            self.notify(
                text or f"the engine could not load: {self.engine_error}",
                title="amal-tui",
                severity="error",
                timeout=30,
            )
            self._dirty_text = True
            self._redraw()
        elif worker.group == "run" and worker is self._run_worker and worker.is_finished:
            # The run stopped by itself (converged, capped, diverged), was paused, or failed.
            self._run_worker = None
            if event.state is WorkerState.ERROR:
                self._report_run_error(worker.error)
            self._show_session(force=True)

    def _report_run_error(self, error: BaseException) -> None:
        if self.config.functions is not None:
            from engine.student import describe_run_error

            text = f"your Functions raised: {describe_run_error(error, self.config.functions)}"
        else:
            text = f"the run stopped: {type(error).__name__}: {error}"
        self.notify(text, severity="error", timeout=30)

    def _engine_ready(self, action: str) -> bool:
        """Whether the engine can act now; if not, the action waits for it."""
        if self.session is not None:
            return True
        if self.engine_error is None:
            self._pending.append(action)
        else:
            self.notify("the engine did not load: nothing to run", severity="error")
        return False

    # -- running ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a run is going on (and not asked to pause)."""
        return self._run_worker is not None and not self._stop.is_set()

    @work(thread=True, exclusive=True, exit_on_error=False, group="run", name="run")
    def _run(self, session: Any, epoch: int, stop: threading.Event) -> str:
        worker = get_current_worker()
        status = session.descent.status
        while not worker.is_cancelled:
            with self._session_lock:
                if stop.is_set():
                    break
                status = session.run_for(CHUNK_SECONDS)
                descent = session.descent
                progress = RunProgress(
                    epoch=epoch,
                    snapshot=descent.snapshot(),
                    losses=descent.losses,
                    test_losses=descent.test_losses,
                    log_folder=session.log_folder,
                    at=time.perf_counter(),
                )
            self.post_message(progress)
            if status.finished:
                break
        return str(status)

    async def _stop_run(self) -> None:
        """Pause the run, if any, and wait until its worker has stopped (one chunk at most)."""
        worker = self._run_worker
        if worker is None:
            return
        self._stop.set()
        try:
            await worker.wait()
        except WorkerFailed:
            pass  # reported by on_worker_state_changed
        except Exception:  # noqa: BLE001 - cancelled at exit: it has stopped all the same
            pass
        self._run_worker = None

    def on_run_progress(self, message: RunProgress) -> None:
        if message.epoch != self._epoch:
            return  # from before a step, a reset or a new configuration
        self._snapshot = message.snapshot
        self._losses = message.losses
        self._test_losses = message.test_losses
        self._log_folder = message.log_folder
        self._rate.append((message.at, message.snapshot.iteration))
        while len(self._rate) > 2 and message.at - self._rate[1][0] >= RATE_WINDOW:
            self._rate.popleft()
        self._dirty_text = self._dirty_parameters = self._dirty_chart = True

    def steps_per_second(self) -> float | None:
        if not self.running or len(self._rate) < 2:
            return None
        (t0, i0), (t1, i1) = self._rate[0], self._rate[-1]
        return (i1 - i0) / (t1 - t0) if t1 > t0 else None

    # -- showing ------------------------------------------------------------------------

    def _new_run(self) -> None:
        """After a reset or a new Session: iteration 0, drawn at once."""
        self._epoch += 1
        self._ran = False
        self._announced = False
        self._rate.clear()
        self._show_session(force=True)

    def _show_session(self, force: bool = False) -> None:
        """Show the Session's current state (only when no run worker is using it)."""
        session = self.session
        descent = session.descent
        self._snapshot = descent.snapshot()
        self._losses = descent.losses
        self._test_losses = descent.test_losses
        self._log_folder = session.log_folder
        self._dirty_text = self._dirty_parameters = self._dirty_chart = True
        self._redraw(force=force)

    def _redraw(self, force: bool = False) -> None:
        """Draw what changed, each panel no more often than its period unless ``force``."""
        now = time.monotonic()
        running = self.running
        snapshot = self._snapshot
        if snapshot is not None and snapshot.status.finished and not self._announced:
            self._announced = True
            severity = "information" if snapshot.status.value == "converged" else "warning"
            self.notify(f"{snapshot.status.value} at {snapshot.iteration}", severity=severity)
        if self._dirty_text:
            self._dirty_text = False
            self._status_line.show(self._status_info())
        period = PARAMETERS_PERIOD if running else PARAMETERS_PERIOD_IDLE
        if self._dirty_parameters and (force or now - self._parameters_at >= period):
            self._dirty_parameters = False
            self._parameters_at = now
            if snapshot is not None:
                self._parameters.show(snapshot)
        period = CHART_PERIOD if running else CHART_PERIOD_IDLE
        if self._dirty_chart and (force or now - self._chart_at >= period):
            self._dirty_chart = False
            self._chart_at = now
            self._chart.show(self._losses, self.config.threshold, self._test_losses)

    @property
    def settled(self) -> bool:
        """No run going on and everything on screen up to date (for tests and scripts)."""
        return (
            self.session is not None
            and self._run_worker is None
            and not (self._dirty_text or self._dirty_parameters or self._dirty_chart)
        )

    def _state_word(self) -> str:
        snapshot = self._snapshot
        if self.running:
            return "running"
        if snapshot.status.finished:
            return snapshot.status.value
        return "paused" if self._ran and snapshot.iteration > 0 else "ready"

    def _tensorboard_text(self) -> str:
        config = self.config
        if not config.tensorboard:
            return "TensorBoard: off (--no-tensorboard)"
        if self.session is None:
            return f"TensorBoard: logs under {config.logdir}/"
        if self._log_folder is None:
            return "TensorBoard: off (logging failed)"
        return f"TensorBoard: {self._log_folder}  (tensorboard --logdir {config.logdir})"

    def _status_info(self) -> StatusInfo:
        if self.session is None or self._snapshot is None:
            state = LOADING if self.engine_error is None else f"engine failed: {self.engine_error}"
            return StatusInfo(state=state, tensorboard=self._tensorboard_text())
        snapshot = self._snapshot
        test = self._test_losses
        tested = 0 if test is None else min(len(test), snapshot.iteration)
        return StatusInfo(
            iteration=snapshot.iteration,
            loss=snapshot.loss,
            previous_loss=snapshot.previous_loss,
            state=self._state_word(),
            steps_per_second=self.steps_per_second(),
            tensorboard=self._tensorboard_text(),
            test_loss=float(test[tested - 1]) if tested else None,
        )

    # -- actions ------------------------------------------------------------------------

    def _finished_note(self) -> bool:
        status = self.session.descent.status
        if status.finished:
            self.notify(f"the run has {status.value}: x resets it")
        return status.finished

    async def action_step(self) -> None:
        if not self._engine_ready("step"):
            return
        await self._stop_run()
        if self._finished_note():
            return
        self._epoch += 1
        try:
            self.session.step()
        except Exception as error:  # noqa: BLE001 - a student's Functions can raise anything
            self._report_run_error(error)
        self._show_session()

    async def action_toggle_run(self) -> None:
        if not self._engine_ready("toggle_run"):
            return
        if self.running:
            self._stop.set()  # the worker stops after its chunk; on_worker_state_changed shows it
            self._dirty_text = True
            self._redraw()
            return
        await self._stop_run()
        if self._finished_note():
            return
        self._epoch += 1
        self._ran = True
        self._rate.clear()
        self._stop = threading.Event()
        self._run_worker = self._run(self.session, self._epoch, self._stop)
        self._dirty_text = True
        self._redraw()

    async def action_reset(self) -> None:
        if not self._engine_ready("reset"):
            return
        await self._stop_run()
        self.session.reset()
        self._new_run()

    def action_toggle_log_scale(self) -> None:
        chart = self._chart
        chart.log_scale = not chart.log_scale

    async def action_scale_learning_rate(self, factor: float) -> None:
        learning_rate = float(f"{self.config.learning_rate * factor:.12g}")
        try:
            parse_learning_rate(learning_rate)
        except ConfigError as error:
            self.notify(f"learning rate {error.reason}", severity="warning")
            return
        await self._apply(self.config.replace(learning_rate=learning_rate))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        await self._stop_run()
        self._close_session()
        self.exit(0)

    def on_unmount(self) -> None:
        # Whatever ended the app: stop the run and flush the log.
        self._stop.set()
        self._close_session()

    def _close_session(self) -> None:
        if self.session is not None:
            with self._session_lock:
                self.session.close()

    # -- configuration ------------------------------------------------------------------

    @on(HyperparameterPanel.Applied)
    async def _field_applied(self, event: HyperparameterPanel.Applied) -> None:
        try:
            config = self.config.replace(**{event.setting: event.value})
        except ConfigError as error:  # pragma: no cover - the field validated it already
            self.notify(str(error), severity="error")
            return
        self.set_focus(None)
        await self._apply(config)

    async def _apply(self, config: Config) -> None:
        """Use ``config`` from now on: a new Session at iteration 0 (and a new TensorBoard run)."""
        await self._stop_run()
        if self.session is not None:
            try:
                session = self._session_factory(config, self._warn)
            except Exception as error:  # noqa: BLE001 - shown to the user; the old run stays
                self.notify(f"cannot use these settings: {error}", severity="error", timeout=15)
                self._hyperparameters.show_config(self.config)
                return
            self.session.close()
            self.session = session
        # While loading, on_engine_loaded builds the Session for this config.
        self.config = config
        self._hyperparameters.show_config(config)
        if self.session is not None:
            self._new_run()
