"""The amal-tui app: watch gradient descent step the notebook's Functions.

The first screen is painted before torch is imported: the engine (torch, the
problem, its theory, the Sessions) is built in a thread worker after mount, and
the status line says "loading…" until it is ready; keys pressed meanwhile wait
for it.  Applying a setting builds the new Experiment in the same worker: the
data are read again only when the setting changes them (``Config.same_problem``),
with their progress in the status line, and a file that cannot be used leaves
the run on screen as it was.

A run is a second thread worker that steps the Experiment (one Session, or one
per learning rate of a comparison) in chunks of about ``CHUNK_SECONDS`` and
posts a :class:`RunProgress` after each; consecutive unread ones merge.  The
worker never touches a widget.  The app redraws on a timer set only when a panel
changed, each panel at its own rate (text often, the chart a few times per
second, slower while a run is watched at a few iterations a second, all of
them no more than ``fps`` times per second when asked), and only what changed: every redraw
takes the GIL from the engine and bytes from an SSH link.  Only one thread
mutates the Experiment at a time: the UI thread steps, resets, saves or
replaces it only after the run worker stopped.
"""

from __future__ import annotations

import gc
import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.events import Resize
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerFailed, WorkerState, get_current_worker

from engine.config import Config, ConfigError, parse_compare, parse_learning_rate, shown_path
from engine.student.refusal import FunctionsRefused

from .comparison import ComparisonPanel
from .exits import EXIT_ERROR as EXIT_REFUSED  # Functions refused: as --check says it
from .exits import EXIT_TERMINAL_LOST  # the terminal went away, as a hang-up's SIGHUP
from .experiment import Experiment, build_experiment, data_note
from .help_screen import HelpScreen
from .hyperparameters import HyperparameterPanel
from .loss_chart import LossChart
from .messages import DataProgress, EngineLoaded, EngineWarning, RunProgress, RunView
from .pacing import Pacer, next_speed, speed_text
from .parameters import TO_OPTIMUM, TO_TRUTH, ParameterPanel
from .prompts import PromptScreen, ReportScreen
from .status_line import LOADING, StatusInfo, StatusLine
from .terminal import ExitGuard, TerminalDriver

# Below this the panels cannot show W (13 rows) and a readable chart.
MIN_WIDTH, MIN_HEIGHT = 72, 22
# A run checks for a pause between chunks of about this many seconds.
CHUNK_SECONDS = 0.03
# The shortest time between two redraws of each panel: (status line, parameters, chart)
# while a run goes fast (the chart at 4 Hz: ~16 KiB/s at 100x30); while a run is watched
# at a few iterations a second (a redraw costs the same CPU however little moved: at
# 10 it/s the status line shows every 2nd or 3rd iteration, 4 times a second as `top`
# redraws, W, b and the chart move once a second); and when idle (a key's effect shows at once, but holding a key down does not
# redraw at the key-repeat rate).  Nothing is redrawn, and no timer ticks, when nothing
# changed.
PERIODS_RUNNING = (0.1, 0.2, 0.25)
PERIODS_WATCHED = (0.25, 1.0, 1.0)
PERIODS_IDLE = (0.0, 0.1, 1 / 8)
MIN_TIMER_DELAY = 0.001
# While a run goes on, panels are drawn one a frame, at least this far apart (seconds):
# each frame then repaints one panel's rectangle, not the screen around several.
PANEL_GAP = 0.04
# How early a redraw timer may fire and still count as on time (seconds).
TIMER_SLACK = 0.01
# Up to this speed (iterations per second) a run is watched: PERIODS_WATCHED.
WATCHED_SPEED = 30
# steps/s is measured over about this many seconds.
RATE_WINDOW = 1.0
# The notebook's three learning rates: what c proposes first.
DEFAULT_COMPARE = (0.0001, 0.01, 0.5)
# Leaving (q, a signal, a terminal gone): the run stops at its next chunk, a save in
# progress finishes, the log is flushed, and the process is gone within EXIT_DEADLINE
# seconds whatever hangs (SAVE_LIMIT more while a save is being written).  Each wait of
# the way has its own bound, so that the deadline is a last resort.
EXIT_DEADLINE = 1.5
SAVE_LIMIT = 10.0
RUN_STOP_WAIT = 0.5
LOCK_WAIT = 0.5
# What a key may do while a prompt, the help or a report covers the screen.
ACTIONS_UNDER_A_SCREEN = frozenset({"quit", "interrupt"})

SessionFactory = Callable[..., Any]
"""``factory(config, warn, reuse=Experiment | None, progress=callable) -> Experiment``."""

# The factory's historical name: tests and scripts build the app's engine with it.
build_session = build_experiment

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


def parse_save_path(text: str) -> str:
    """Where ``e`` saves: a file path (``.json`` is added when missing), never a folder."""
    path = os.path.expanduser(str(text).strip())
    if not path:
        raise ConfigError("path", "expected a file name, got nothing")
    if "\0" in path:
        raise ConfigError("path", "must not contain a NUL character")
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise ConfigError("path", f"{shown_path(path)} is a folder: add a file name")
    return path


def _one_line(error: BaseException) -> str:
    """A worker's error (loading, running, saving) as one line; running out of memory says so."""
    from engine.data.dataset import DataError
    from engine.data.memory import out_of_memory

    memory = out_of_memory(error)
    if memory is not None:
        return memory
    if isinstance(error, (DataError, FunctionsRefused)):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    line = (text.splitlines() or [type(error).__name__])[0]
    # An error's message may quote a path or a student's text: escaped, never sent raw.
    return line if line.isprintable() else repr(line)[1:-1]


class LoadAbandoned(Exception):
    """The app left while data were being read."""


class AmalApp(App[int]):
    """The app for one validated Config (the CLI's, or a test's)."""

    # Absolute: a subclass defined elsewhere (a test's) finds it too.
    CSS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "app.tcss")
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
        Binding("c", "compare", "Compare"),
        Binding("e", "save", "Save"),
        # Help and Quit before the keys a narrow terminal's footer may cut off (72 columns).
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("l", "toggle_log_scale", "Log y"),
        Binding("plus,equals_sign", "scale_learning_rate(10)", "ε×10", key_display="+"),
        Binding("minus", "scale_learning_rate(0.1)", "ε÷10", key_display="-"),
        # Not in the footer (no room at 80 columns): the status line shows the speed and keys.
        Binding("left_square_bracket", "change_speed(-1)", "Slower", key_display="[", show=False),
        Binding("right_square_bracket", "change_speed(1)", "Faster", key_display="]", show=False),
        # Ctrl+C quits, as everywhere in a terminal (Textual's own would only say how to quit).
        # An action of its own: q is hidden while a field takes it as text, Ctrl+C never is.
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        config: Config,
        session_factory: SessionFactory | None = None,
        *,
        fps: float | None = None,
        speed: float | None = None,
    ) -> None:
        super().__init__()
        if fps is not None and not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        if speed is not None and not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive number, got {speed!r}")
        self.config = config
        """The settings of the run on screen (or of the first one, while it loads)."""
        self.experiment: Experiment | None = None
        """What the engine runs, once loaded (None while torch loads)."""
        self.engine_error: str | None = None
        self.crash: BaseException | None = None
        """The unexpected exception that stopped the app, if one did (see ``run_app``)."""
        self.refused: str | None = None
        """Why the app quit without running (the student's Functions failed the check)."""
        self.fps = fps
        self.speed = speed
        """Iterations per second while running; None: as fast as the engine goes."""
        self._factory = session_factory or build_experiment
        self._pending: list[str] = []
        self._wanted: Config | None = None
        self._loading: Config | None = None
        self._load_worker: Worker | None = None
        self._load_progress: str | None = None
        self._save_worker: Worker | None = None
        self._last_compare = config.compare or DEFAULT_COMPARE
        self._last_save_path: str | None = None
        self._run_worker: Worker | None = None
        self._stop = threading.Event()
        # Held by whichever worker uses the Experiment (a run's chunk, a save): the last
        # line of defence at exit.
        self._session_lock = threading.Lock()
        self._previous_handlers: dict[int, Any] = {}
        self._terminal: TerminalDriver | None = None
        self._event_loop: Any = None
        self._quitting = False
        self._signals = 0
        self.guard = ExitGuard(
            self._restore_terminal,
            lambda: self._save_worker is not None,
            deadline=EXIT_DEADLINE,
            busy_limit=SAVE_LIMIT,
        )
        """Bounds the shutdown (armed on a real terminal, not in tests)."""
        self._epoch = 0
        self._announced: set[int] = set()
        self._rate: deque[tuple[float, int]] = deque()
        # What is on screen, and what has changed since it was drawn.
        self._views: tuple[RunView, ...] = ()
        self._dirty_text = self._dirty_parameters = self._dirty_chart = False
        self._text_at = self._parameters_at = self._chart_at = -math.inf
        # When the last panel was drawn while a run goes on (one panel a frame, see PANEL_GAP).
        self._panel_at = -math.inf
        self._redraw_timer: Any = None
        self._redraw_due = math.inf
        # --fps N: no panel redraws more often than N times per second.
        self._fps_floor = 0.0 if fps is None else 1.0 / fps

    @property
    def session(self) -> Any:
        """The engine's Session of a single run (the first one of a comparison); None while loading."""
        return None if self.experiment is None else self.experiment.session

    @property
    def sessions(self) -> list[Any]:
        """Every Session: one, or one per learning rate of a comparison."""
        return [] if self.experiment is None else list(self.experiment.sessions)

    @property
    def descents(self) -> list[Any]:
        return [session.descent for session in self.sessions]

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="panels"):
            with Vertical(id="left"):
                yield HyperparameterPanel(self.config, id="hyperparameters")
                yield LossChart(id="chart")
            yield ParameterPanel(id="parameters")
            yield ComparisonPanel(id="comparison")
        yield StatusLine(id="status")
        yield Static("", id="too-small")
        # Compact: every key fits in 80 columns.
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._watch_signals()
        self._show_size(self.size.width, self.size.height)
        self._show_mode(bool(self.config.compare))
        self._status_line.show(self._status_info())
        # After the first frame: the import of torch holds the GIL and would delay it.
        self.call_after_refresh(self._start_load, self.config)

    def on_resize(self, event: Resize) -> None:
        self._show_size(event.size.width, event.size.height)

    def _show_size(self, width: int, height: int) -> None:
        self.query_one("#too-small", Static).update(
            f"terminal too small (need at least {MIN_WIDTH}×{MIN_HEIGHT}, "
            f"this one is {width}×{height})\nq quits"
        )

    def _show_mode(self, comparing: bool) -> None:
        """The comparison table takes the parameters panel's place while comparing."""
        self._parameters.display = not comparing
        self._comparison.display = comparing

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
    def _comparison(self) -> ComparisonPanel:
        return self.query_one("#comparison", ComparisonPanel)

    @property
    def _hyperparameters(self) -> HyperparameterPanel:
        return self.query_one("#hyperparameters", HyperparameterPanel)

    @property
    def comparing(self) -> bool:
        return self.experiment is not None and self.experiment.comparing

    # -- the engine ---------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Textual's notification, as plain text by default: the messages quote paths, data
        and a student's errors, whose ``[`` must show as it is, not start Textual markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def _warn(self, text: str) -> None:
        """The engine's warnings, from whichever thread: as a message, never blocking."""
        self.post_message(EngineWarning(text))

    def _start_load(self, config: Config, reuse: Experiment | None = None) -> None:
        """Build the Experiment of ``config`` in the loading worker (one load at a time)."""
        reuse = reuse or self.experiment
        self._loading = config
        if reuse is None or not config.same_problem(reuse.config):
            self._load_progress = (
                None if config.data == "toy" else f"loading {shown_path(config.data)}…"
            )
            if reuse is not None:
                self._hyperparameters.show_theory(None)  # the new data's comes with them
        self._dirty_text = True
        self._redraw()
        self._load_worker = self._load_engine(config, reuse)

    # Not exclusive: a new load starts while the last one's thread may still be returning,
    # and cancelling that one would look like a failure.
    @work(thread=True, exit_on_error=False, group="engine", name="load engine")
    def _load_engine(self, config: Config, reuse: Experiment | None) -> None:
        def progress(fraction: float) -> None:
            if self.guard.started:
                raise LoadAbandoned("the app is leaving")  # no need to read the rest
            self.post_message(DataProgress(config.data, fraction))

        experiment = self._factory(config, self._warn, reuse=reuse, progress=progress)
        _freeze_startup_objects()
        self.post_message(EngineLoaded(experiment, config))

    async def on_engine_loaded(self, message: EngineLoaded) -> None:
        loaded, new = message.config, message.experiment
        self._loading = None
        wanted = self._wanted or loaded
        if wanted != loaded:
            # A setting was applied while this one loaded: build that one instead.
            new.close()
            self._start_load(wanted, reuse=self.experiment or new)
            return
        self._wanted = None
        self._load_progress = None
        await self._stop_run()
        old = self.experiment
        if old is not None:
            self._close_experiment(old)
        self.experiment = new
        self.config = loaded
        self.engine_error = None
        self._hyperparameters.show_config(loaded)
        self._hyperparameters.show_theory(None if new.theory is None else new.theory.lr_max)
        self._show_mode(new.comparing)
        self._new_run()
        if old is None or old.problem is not new.problem:
            note = data_note(new.problem)
            if note is not None:  # what the loader learned: columns used, rows dropped...
                self.notify(note, title="data", timeout=15)
        await self._drain_pending()

    def _load_failed(self, error: BaseException | None) -> None:
        failed, self._loading = self._loading, None
        wanted, self._wanted = self._wanted, None
        self._load_progress = None
        text = _one_line(error) if error is not None else "cancelled"
        if isinstance(error, FunctionsRefused):
            # Nothing else can run: the Functions come from the command line.  Once read,
            # the report closes the app with exit status 1, as the headless check does.
            self.push_screen(
                ReportScreen(
                    f"the check of {shown_path(os.path.basename(failed.functions or '')) if failed else ''}",
                    error.report,
                    f"{error}: the run does not start. Closing this quits.",
                ),
                callback=lambda _: self._quit_refused(text),
            )
        if wanted is not None and failed is not None and wanted != failed:
            # A newer setting was asked for meanwhile: it may well load.
            self.notify(f"cannot use these settings: {text}", severity="error", timeout=15)
            self._start_load(wanted)
            return
        self._pending.clear()
        if self.experiment is None:
            self.engine_error = text
            self.notify(
                text
                if isinstance(error, FunctionsRefused)
                else f"the engine could not load: {text}",
                title="amal-tui",
                severity="error",
                timeout=30,
            )
        else:
            # The run on screen stays as it was.
            self.notify(f"cannot use these settings: {text}", severity="error", timeout=15)
            self._hyperparameters.show_config(self.config)
            theory = self.experiment.theory
            self._hyperparameters.show_theory(None if theory is None else theory.lr_max)
        self._dirty_text = True
        self._redraw()

    def on_engine_warning(self, message: EngineWarning) -> None:
        self.notify(message.text, severity="warning", timeout=10)

    def on_data_progress(self, message: DataProgress) -> None:
        if self._loading is None:
            return
        name = shown_path(os.path.basename(message.source) or message.source)
        self._load_progress = (
            f"reading {name} {message.fraction:.0%}" if message.fraction < 1 else f"loaded {name}"
        )
        self._dirty_text = True
        self._schedule_redraw()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        # event.state, not worker.state: the message of an earlier state (RUNNING) may be
        # read after the worker has finished.
        finished = event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
        if worker.group == "engine" and worker is self._load_worker:
            if event.state in (WorkerState.ERROR, WorkerState.CANCELLED) and self._loading:
                self._load_failed(worker.error)
        elif worker.group == "run" and worker is self._run_worker and finished:
            # The run stopped by itself (converged, capped, diverged), was paused, or failed.
            self._run_worker = None
            if event.state is WorkerState.ERROR:
                self._report_run_error(worker.error)
            self._show_experiment(force=True)
        elif worker.group == "save" and worker is self._save_worker and finished:
            self._save_finished(worker, event.state)

    def _report_run_error(self, error: BaseException) -> None:
        from engine.data.memory import out_of_memory

        memory = out_of_memory(error)
        if memory is not None:
            text = f"the run stopped: {memory}"
        elif self.config.functions is not None:
            from engine.student.loading import describe_run_error

            text = f"your Functions raised: {describe_run_error(error, self.config.functions)}"
        else:
            text = f"the run stopped: {_one_line(error)}"
        self.notify(text, severity="error", timeout=30)

    @property
    def busy(self) -> bool:
        """Loading settings or saving: the keys that act on the run wait."""
        return self._loading is not None or self._save_worker is not None

    def _engine_ready(self, action: str) -> bool:
        """Whether the engine can act now; if not, the action waits for it."""
        if self.experiment is not None and not self.busy:
            return True
        if self.busy or self.engine_error is None:
            self._pending.append(action)
        else:
            self.notify("the engine did not load: nothing to run", severity="error")
        return False

    async def _drain_pending(self) -> None:
        """Run the keys that waited for a load or a save, in order."""
        while self._pending and not self.busy:
            action = self._pending.pop(0)
            result = getattr(self, f"action_{action}")()
            if result is not None:
                await result

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A prompt, a report or the help covers the screen: the run's keys do not act behind it.
        if isinstance(self.screen, ModalScreen) and action not in ACTIONS_UNDER_A_SCREEN:
            return False
        # A field being edited takes + and - as text; Textual hides the other letter keys
        # from the footer there, not these two (their key names are not characters), nor q
        # in a prompt.
        if action in ("scale_learning_rate", "quit") and isinstance(self.focused, Input):
            return False
        return True

    # -- running ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a run is going on (and not asked to pause)."""
        return self._run_worker is not None and not self._stop.is_set()

    @work(thread=True, exclusive=True, exit_on_error=False, group="run", name="run")
    def _run(self, experiment: Experiment, epoch: int, stop: threading.Event) -> None:
        worker = get_current_worker()
        pacer = Pacer()
        # The state is sent to the UI no more often than the status line can show it: a
        # run watched at 10 it/s sends 4 a second, not 10 (each costs the UI thread a
        # message and the worker a snapshot); the last one is never held back.
        posted, held = -math.inf, False
        while not worker.is_cancelled:
            speed = self.speed  # read once a chunk: [ and ] act within MAX_WAIT
            with self._session_lock:
                if stop.is_set():
                    break
                due = None if speed is None else pacer.due(speed, time.perf_counter())
                if due is None:
                    finished = experiment.run_for(CHUNK_SECONDS)
                else:
                    finished = experiment.advance(due)
                held = held or due != 0
                now = time.perf_counter()
                # Nothing new to show (no iteration due yet): no redraw, no bytes on the link.
                progress = None
                if held and (finished or now - posted >= self._periods()[0]):
                    progress = RunProgress(epoch=epoch, runs=experiment.views(), at=now)
                    posted, held = now, False
            if progress is not None:
                self.post_message(progress)
            if finished:
                break
            if speed is not None:
                wait = pacer.wait(time.perf_counter())
                if held:  # an iteration not yet shown goes out when the status line may show it
                    wait = min(wait, max(posted + self._periods()[0] - time.perf_counter(), 0.0))
                stop.wait(wait)

    async def _stop_run(self, timeout: float | None = None) -> None:
        """Pause the run, if any, and wait until its worker has stopped (one chunk at most)."""
        import asyncio

        worker = self._run_worker
        if worker is None:
            return
        self._stop.set()
        try:
            if timeout is None:
                await worker.wait()
            else:
                await asyncio.wait_for(asyncio.shield(worker.wait()), timeout)
        except WorkerFailed:
            pass  # reported by on_worker_state_changed
        except Exception:  # noqa: BLE001 - cancelled at exit: it has stopped all the same
            pass
        self._run_worker = None

    def on_run_progress(self, message: RunProgress) -> None:
        if message.epoch != self._epoch:
            return  # from before a step, a reset or a new configuration
        self._views = message.runs
        # The pace of the runs (they advance side by side), comparable with the speed asked for.
        self._rate.append((message.at, max(run.snapshot.iteration for run in message.runs)))
        while len(self._rate) > 2 and message.at - self._rate[1][0] >= RATE_WINDOW:
            self._rate.popleft()
        self._dirty_text = self._dirty_parameters = self._dirty_chart = True
        self._schedule_redraw()

    def steps_per_second(self) -> float | None:
        """Iterations per second (of each run, while comparing: they go side by side)."""
        if not self.running or len(self._rate) < 2:
            return None
        (t0, i0), (t1, i1) = self._rate[0], self._rate[-1]
        return (i1 - i0) / (t1 - t0) if t1 > t0 else None

    # -- showing ------------------------------------------------------------------------

    def _new_run(self) -> None:
        """After a reset or a new Experiment: iteration 0, drawn at once."""
        self._epoch += 1
        self._announced = set()
        self._rate.clear()
        self._show_experiment(force=True)

    def _show_experiment(self, force: bool = False) -> None:
        """Show the Experiment's current state (only when no worker is using it)."""
        self._views = self.experiment.views()
        self._dirty_text = self._dirty_parameters = self._dirty_chart = True
        self._redraw(force=force)

    def _end_note(self, snapshot: Any) -> str:
        """Why a run that converged is still far from the optimum, if it is."""
        theory = self.experiment.theory if self.experiment is not None else None
        if snapshot.status.value != "converged" or theory is None:
            return ""
        from engine.core.theory import threshold_note

        note = threshold_note(self.config.threshold, theory.optimal_loss)
        return f": {note}" if note else ""

    def _announce(self) -> None:
        """A notification when a run stops by itself (once per run).

        A comparison's come together once every run has stopped, in the table's order:
        a run that stops early already says so in the table and the chart, and the
        order of the notifications never depends on which chunk a thread ended first.
        """
        comparing = self.comparing
        if comparing and not self._all_finished():
            return
        for i, run in enumerate(self._views):
            snapshot = run.snapshot
            if snapshot.status.finished and i not in self._announced:
                self._announced.add(i)
                severity = "information" if snapshot.status.value == "converged" else "warning"
                where = f"ε {run.learning_rate:g}: " if comparing else ""
                self.notify(
                    f"{where}{snapshot.status.value} at {snapshot.iteration}{self._end_note(snapshot)}",
                    severity=severity,
                )

    def _distances(self, snapshot: Any) -> tuple[tuple[str, float | None], ...]:
        """How far (W, b) is from the least-squares optimum, and from the truth of synthetic data."""
        from engine.core.theory import distance  # loaded with the engine, before any snapshot

        experiment = self.experiment
        out: list[tuple[str, float | None]] = []
        if experiment.theory is not None:
            out.append((TO_OPTIMUM, experiment.theory.distance(snapshot.W, snapshot.b)))
        problem = experiment.problem
        if getattr(problem, "W_true", None) is not None:
            out.append((TO_TRUTH, distance(snapshot.W, snapshot.b, problem.W_true, problem.b_true)))
        return tuple(out)

    def _periods(self) -> tuple[float, float, float]:
        """The shortest times between two redraws of (status line, parameters, chart) now."""
        if not self.running:
            periods = PERIODS_IDLE
        elif self.speed is not None and self.speed <= WATCHED_SPEED:
            periods = PERIODS_WATCHED
        else:
            periods = PERIODS_RUNNING
        return tuple(max(period, self._fps_floor) for period in periods)

    def _schedule_redraw(self) -> None:
        """A redraw when the first dirty panel may be drawn again (no timer when none is dirty)."""
        text, parameters, chart = self._periods()
        if not (self._dirty_text or self._dirty_parameters or self._dirty_chart):
            if self._redraw_timer is not None:  # drawn meanwhile (a forced redraw)
                self._redraw_timer.stop()
                self._redraw_timer, self._redraw_due = None, math.inf
            return
        due = min(
            [self._text_at + text] * self._dirty_text
            + [self._parameters_at + parameters] * self._dirty_parameters
            + [self._chart_at + chart] * self._dirty_chart,
            default=math.inf,
        )
        if self.running:
            due = max(due, self._panel_at + PANEL_GAP)
        if due >= self._redraw_due:
            return
        if self._redraw_timer is not None:
            self._redraw_timer.stop()
        self._redraw_due = due
        # Never 0: a Textual timer of 0 s that starts late divides by its interval, and dies.
        delay = max(due - time.monotonic(), MIN_TIMER_DELAY)
        self._redraw_timer = self.set_timer(delay, self._redraw_later)

    def _redraw_later(self) -> None:
        self._redraw_timer, self._redraw_due = None, math.inf
        self._redraw()

    def _redraw(self, force: bool = False) -> None:
        """Draw what changed, each panel no more often than its period unless ``force``."""
        try:
            self._draw_dirty(force)
        except NoMatches:
            return  # the app is closing (a load failed as it left): its widgets are gone
        self._schedule_redraw()

    def _draw_dirty(self, force: bool) -> None:
        # A timer may fire a little before the time it was set for: it counts as on time.
        now = time.monotonic() + TIMER_SLACK
        text_period, parameters_period, chart_period = self._periods()
        views = self._views
        if views:
            self._announce()
        # While a run goes on, one panel a frame, the most overdue first: Textual repaints
        # the rectangle around everything that changed in a frame, so the status line and
        # the chart drawn together would repaint the settings and W between them too.
        one = self.running and not force
        overdue = []
        if self._dirty_text and (force or now - self._text_at >= text_period):
            overdue.append((now - self._text_at - text_period, "text"))
        if views and self.experiment is not None:
            if self._dirty_parameters and (force or now - self._parameters_at >= parameters_period):
                overdue.append((now - self._parameters_at - parameters_period, "parameters"))
            if self._dirty_chart and (force or now - self._chart_at >= chart_period):
                overdue.append((now - self._chart_at - chart_period, "chart"))
        if one:
            if not overdue or now - self._panel_at < PANEL_GAP:
                return
            overdue = [max(overdue)]
            self._panel_at = now
        drawing = {panel for _, panel in overdue}
        if "text" in drawing:
            self._dirty_text = False
            self._text_at = now
            self._status_line.show(self._status_info())
        if not views or self.experiment is None:
            return
        theory = self.experiment.theory
        optimum = None if theory is None else theory.optimal_loss
        comparing = self.comparing
        if "parameters" in drawing:
            self._dirty_parameters = False
            self._parameters_at = now
            if comparing:
                lr_max = None if theory is None else theory.lr_max
                self._comparison.show(views, lr_max, optimum, self.running)
            else:
                snapshot = views[0].snapshot
                self._parameters.show(snapshot, self._distances(snapshot))
        if "chart" in drawing:
            self._dirty_chart = False
            self._chart_at = now
            threshold = self.config.threshold
            data = self._data_description()
            if comparing:
                curves = [(f"{run.learning_rate:g}", run.losses) for run in views]
                self._chart.show_comparison(curves, threshold, optimum, data=data)
            else:
                run = views[0]
                self._chart.show(run.losses, threshold, run.test_losses, optimum, data=data)

    @property
    def settled(self) -> bool:
        """No run, load or save going on and everything on screen up to date (for tests)."""
        return (
            self.experiment is not None
            and self._run_worker is None
            and not self.busy
            and not self._pending
            and not (self._dirty_text or self._dirty_parameters or self._dirty_chart)
        )

    def _all_finished(self) -> bool:
        return all(run.snapshot.status.finished for run in self._views)

    def _state_word(self) -> str:
        if self._loading is not None:
            return LOADING
        if self._save_worker is not None:
            return "saving…"
        if self.running:
            return "running"
        if self._all_finished():
            return "finished" if self.comparing else self._views[0].snapshot.status.value
        # Stepped or run, then stopped before the end: the run is paused, not ready.
        iteration = max(run.snapshot.iteration for run in self._views)
        return "paused" if iteration > 0 else "ready"

    def _tensorboard_text(self) -> str:
        config = self.config
        if not config.tensorboard:
            return "TensorBoard: off (--no-tensorboard)"
        if self.experiment is None:
            return f"TensorBoard: logs under {shown_path(config.logdir)}/"
        folders = [run.log_folder for run in self._views if run.log_folder is not None]
        if not folders:
            return "TensorBoard: off (logging failed)"
        if self.comparing:
            return (
                f"TensorBoard: {len(folders)} runs under {shown_path(config.logdir)}/  "
                f"(tensorboard --logdir {shown_path(config.logdir)})"
            )
        return f"TensorBoard: {shown_path(folders[0])}  (tensorboard --logdir {shown_path(config.logdir)})"

    def _data_description(self) -> str:
        """``toy: n=50, d=13, m=3``: the data of the run on screen."""
        return self.experiment.problem.describe()

    def _status_info(self) -> StatusInfo:
        if self.experiment is None or not self._views:
            state = LOADING if self.engine_error is None else f"cannot start: {self.engine_error}"
            return StatusInfo(
                state=state, tensorboard=self._tensorboard_text(), data=self._load_progress or ""
            )
        common = dict(
            speed=speed_text(self.speed),
            state=self._state_word(),
            steps_per_second=self.steps_per_second(),
            tensorboard=self._tensorboard_text(),
            data=self._load_progress or "",
        )
        if self.comparing:
            iteration = max(run.snapshot.iteration for run in self._views)
            finite = [
                run
                for run in self._views
                if run.snapshot.loss is not None and math.isfinite(run.snapshot.loss)
            ]
            best = min(finite, key=lambda run: run.snapshot.loss) if finite else None
            return StatusInfo(
                iteration=iteration,
                loss=None if best is None else best.snapshot.loss,
                best_rate=None if best is None else best.learning_rate,
                **common,
            )
        run = self._views[0]
        snapshot = run.snapshot
        test = run.test_losses
        tested = 0 if test is None else min(len(test), snapshot.iteration)
        return StatusInfo(
            iteration=snapshot.iteration,
            loss=snapshot.loss,
            previous_loss=snapshot.previous_loss,
            test_loss=float(test[tested - 1]) if tested else None,
            **common,
        )

    # -- actions ------------------------------------------------------------------------

    def _finished_note(self) -> bool:
        experiment = self.experiment
        if not experiment.finished:
            return False
        if experiment.comparing:
            self.notify("every run has stopped: x resets them")
        else:
            self.notify(f"the run has {experiment.session.descent.status.value}: x resets it")
        return True

    async def action_step(self) -> None:
        if not self._engine_ready("step"):
            return
        await self._stop_run()
        if self._finished_note():
            return
        self._epoch += 1
        try:
            self.experiment.step()
        except Exception as error:  # noqa: BLE001 - a student's Functions can raise anything
            self._report_run_error(error)
        self._show_experiment()

    async def action_toggle_run(self) -> None:
        if not self._engine_ready("toggle_run"):
            return
        if self.running:
            self._stop.set()  # the worker stops after its chunk; on_worker_state_changed shows it
            self._dirty_text = True
            self._redraw()
            return
        await self._stop_run()
        if self._finished_note() or self._quitting or self.guard.started:
            return
        self._epoch += 1
        self._rate.clear()
        self._stop = threading.Event()
        self._run_worker = self._run(self.experiment, self._epoch, self._stop)
        self._dirty_text = True
        self._redraw()

    async def action_reset(self) -> None:
        if not self._engine_ready("reset"):
            return
        await self._stop_run()
        self.experiment.reset()
        self._new_run()

    def action_change_speed(self, direction: int) -> None:
        """[ and ]: the next speed down or up (iterations per second, or max)."""
        self.speed = next_speed(self.speed, direction)
        self._rate.clear()  # the steps/s of the old speed would linger for a second
        self._dirty_text = True
        self._redraw()

    def action_toggle_log_scale(self) -> None:
        chart = self._chart
        chart.log_scale = not chart.log_scale

    async def action_scale_learning_rate(self, factor: float) -> None:
        config = self._wanted or self.config
        if config.compare:
            self.notify("comparing learning rates: c changes them", severity="warning")
            return
        learning_rate = float(f"{config.learning_rate * factor:.12g}")
        try:
            parse_learning_rate(learning_rate)
        except ConfigError as error:
            self.notify(f"learning rate {error.reason}", severity="warning")
            return
        await self._apply(config.replace(learning_rate=learning_rate))

    def action_compare(self) -> None:
        rates = ",".join(f"{rate:g}" for rate in self._last_compare)
        self.push_screen(
            PromptScreen(
                "Compare learning rates",
                "Each learning rate runs from the same data and the same initial W and b. "
                "Separate them with commas (at most 8); leave it empty to go back to one run.",
                rates,
                lambda text: parse_compare(text, "learning rates"),
                "enter: compare · empty + enter: one run · esc: cancel",
                id="compare-prompt",
            ),
            self._compare_chosen,
        )

    async def _compare_chosen(self, rates: tuple[float, ...] | None) -> None:
        if rates is None:
            return  # Escape: nothing changes
        config = self._wanted or self.config
        if rates:
            self._last_compare = rates
        elif not config.compare:
            return
        await self._apply(config.replace(compare=rates))

    def action_save(self) -> None:
        if self.experiment is None:
            self._engine_ready("save")  # once loaded; nothing to save before
            return
        path = self._last_save_path or time.strftime("amal-run-%Y%m%d-%H%M%S.json")
        what = "comparison" if self.comparing else "run"
        self.push_screen(
            PromptScreen(
                f"Save the {what}",
                f"The {what} (settings, theory, losses, final W and b) as JSON, and its "
                f"losses as NAME.losses.csv beside it. A relative path starts in {shown_path(os.getcwd())}.",
                path,
                parse_save_path,
                "enter: save · esc: cancel",
                id="save-prompt",
            ),
            self._save_chosen,
        )

    async def _save_chosen(self, path: str | None) -> None:
        if path is None:
            return
        if self.busy or self.experiment is None:
            self.notify("busy loading or saving: press e again in a moment", severity="warning")
            return
        # Saved as it stands at the moment Enter was pressed: the run pauses for the save
        # (the worker is the only one to touch the descents meanwhile), then goes on.
        was_running = self.running
        await self._stop_run()
        self._last_save_path = path
        self._save_worker = self._save(self.experiment, path)
        if was_running:
            self._pending.append("toggle_run")
        self._dirty_text = True
        self._redraw()

    @work(thread=True, exit_on_error=False, group="save", name="save")
    def _save(self, experiment: Experiment, path: str) -> tuple[Any, Any]:
        from engine.record.saving import save_run

        with self._session_lock:
            return save_run(path, experiment.config, experiment.descents)

    def _save_finished(self, worker: Worker, state: WorkerState) -> None:
        self._save_worker = None
        if state is WorkerState.SUCCESS:
            json_path, csv_path = worker.result
            self._last_save_path = None
            self.notify(
                f"saved in {shown_path(json_path)} and {shown_path(csv_path)}",
                title="saved",
                timeout=10,
            )
        else:
            from engine.record.saving import SaveError

            error = worker.error
            # A SaveError says itself what was and was not replaced ("saved nothing: …").
            text = (
                str(error)
                if isinstance(error, SaveError)
                else f"not saved: {_one_line(error or Exception())}"
            )
            self.notify(text, severity="error", timeout=20)
        self._dirty_text = True
        self._redraw()
        self.call_later(self._drain_pending)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

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
        self.guard.begin(return_code)
        if self._terminal is not None:
            self._terminal.leaving()
        await self._stop_run(timeout=RUN_STOP_WAIT)
        await self._finish_save()
        self._close_experiment(timeout=LOCK_WAIT)
        self.exit(return_code=return_code)

    # -- leaving from outside: signals, a terminal gone ---------------------------------

    def get_driver_class(self) -> Any:
        from textual.drivers.linux_driver import LinuxDriver

        driver = super().get_driver_class()
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
        self._stop.set()  # the run stops at its next chunk, whatever the event loop is doing
        try:
            self._event_loop.call_soon_threadsafe(self._quit_soon, code)
        except (AttributeError, RuntimeError):  # no loop yet, or closed: the app is over
            self.guard.exit_now(code)

    def _quit_soon(self, code: int) -> None:
        self.call_next(self.action_quit, code)

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

        worker = self._save_worker
        if worker is None:
            return
        deadline = time.monotonic() + SAVE_LIMIT
        # Asked for a moment ago, its thread may not have started: waiting on a worker that
        # has not started raises, and the app's exit would cancel it (the save lost).
        while worker.state is WorkerState.PENDING and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        try:
            await asyncio.wait_for(asyncio.shield(worker.wait()), deadline - time.monotonic())
        except Exception:  # noqa: BLE001 - its failure is reported by _save_finished
            pass

    def on_unmount(self) -> None:
        # Whatever ended the app: stop the run and flush the log (after a save, under the lock).
        self._unwatch_signals()
        self._stop.set()
        self._close_experiment(timeout=LOCK_WAIT)

    def _close_experiment(
        self, experiment: Experiment | None = None, timeout: float | None = None
    ) -> None:
        """Flush and close its logs, once no worker uses it (``timeout``: give up after that)."""
        experiment = experiment or self.experiment
        if experiment is None:
            return
        if not self._session_lock.acquire(timeout=-1 if timeout is None else timeout):
            return  # a chunk that does not end (a student's Function stuck): the exit goes on
        try:
            experiment.close()
        finally:
            self._session_lock.release()

    # Textual has no public hook for an unexpected exception in a handler: it restores the
    # terminal, prints the traceback and sets ``return_code`` to 1 (public).  This private
    # method is the one place that sees the exception itself, kept for the crash report;
    # if a Textual release renames it, ``run_app`` still reports the crash from return_code.
    def _handle_exception(self, error: Exception) -> None:
        if self.crash is None:
            self.crash = error
        super()._handle_exception(error)

    # -- configuration ------------------------------------------------------------------

    @on(HyperparameterPanel.Applied)
    async def _field_applied(self, event: HyperparameterPanel.Applied) -> None:
        try:
            config = (self._wanted or self.config).replace(**{event.setting: event.value})
        except ConfigError as error:  # pragma: no cover - the field validated it already
            self.notify(str(error), severity="error")
            return
        self.set_focus(None)
        await self._apply(config)

    async def _apply(self, config: Config) -> None:
        """Use ``config`` from now on: a new Experiment at iteration 0, built by the loading
        worker (the data again only if they change); until it is ready the run on screen stays."""
        await self._stop_run()
        # What was said of the last settings (a divergence ahead, a run's end) is stale:
        # without this, holding + stacks one warning per key press over the screen.
        self.clear_notifications()
        self._wanted = config
        self._hyperparameters.show_config(config)
        if self._loading is None:
            self._start_load(config)


class CrashedWithoutTraceback(RuntimeError):
    """The app stopped on an error that Textual did not hand over (see ``_handle_exception``)."""


def run_app(
    config: Config,
    fps: float | None = None,
    mouse: bool = True,
    speed: float | None = None,
    *,
    app: AmalApp | None = None,
    headless: bool = False,
) -> int:
    """Run the app in this terminal; return the exit status.

    On an unexpected exception Textual restores the terminal and prints the
    traceback; this writes it to a crash report file too, prints its path in one
    line on stderr and returns 1.  ``app`` and ``headless`` are for tests.
    """
    app = app or AmalApp(config, fps=fps, speed=speed)
    app.run(mouse=mouse, headless=headless)
    # On a real terminal, whatever ended the app, the process is gone by the guard's
    # deadline (a worker thread still busy would otherwise hold the interpreter's exit).
    app.guard.begin(app.return_code or 0)
    if app.refused is not None and app.crash is None:
        print(f"amal-tui: {app.refused}", file=sys.stderr)
        return EXIT_REFUSED
    if app.crash is None and app.return_code != 1:
        return app.return_code or 0
    from tui.crash import write_crash_report

    error = app.crash or CrashedWithoutTraceback("the app stopped on an unexpected error")
    try:
        where = f"; the traceback is in {write_crash_report(error)}"
    except OSError as failure:
        where = f"; no crash report ({failure.strerror or failure})"
    message = shown_path(str(error))  # one line, escaped: it may quote a path
    print(f"amal-tui: unexpected error: {type(error).__name__}: {message}{where}", file=sys.stderr)
    return 1
