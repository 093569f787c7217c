"""The amal-tui app: watch gradient descent step the notebook's Functions.

This module is the Textual side only: it composes the widgets, binds the keys
(``keys.py``), runs the workers and timers, and hands every decision to the
:class:`~tui.controller.RunController` (what a key does in each state) and every
text to :mod:`tui.presenter`; :mod:`tui.leaving` is how it ends, :mod:`tui.redraw`
when each panel is drawn.

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
import inspect
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Container
from textual.css.query import NoMatches
from textual.events import Resize
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from engine.config import Config, ConfigError, parse_compare, shown_path
from engine.i18n import N_, _
from engine.record.saving import DEFAULT_SAVE_DIR

from . import presenter
from .comparison import ComparisonPanel, run_bound
from .controller import LoadCancelled, RunController, allowed
from .data_screen import DataScreen
from .exits import EXIT_ERROR
from .exits import EXIT_ERROR as EXIT_REFUSED  # Functions refused: as --check says it
from .experiment import Experiment, build_experiment
from .help_screen import HelpScreen
from .hyperparameters import HyperparameterPanel
from .keys import KEYS, translate_bindings
from .leaving import Leaving, end_process
from .loss_chart import LossChart
from .messages import DataProgress, EngineLoaded, EngineWarning, RunProgress
from .pacing import Pacer, chunk_steps, worker_wait
from .parameters import ParameterPanel
from .prompts import PromptScreen, ReportScreen
from .redraw import (  # noqa: F401 - PERIODS_*: the redraw rates, imported from here by tests
    CHART,
    PARAMETERS,
    PERIODS_IDLE,
    PERIODS_RUNNING,
    PERIODS_WATCHED,
    TEXT,
    TIMER_SLACK,
    WATCHED_SPEED,
    RedrawSchedule,
)
from .status_line import Note, StatusLine
from .step_screen import LOADING, RECORDING, StepScreen, record_text
from .sweep_screen import DEFAULT_SWEEP, SweepScreen, sweep_range
from .validation import parse_save_path

# Below this the panels cannot show W (13 rows) and a readable chart.
MIN_WIDTH, MIN_HEIGHT = 72, 22
# Below either, the compact layout: the chart takes the left column's full height, the
# settings and a compact W (or the comparison) share a narrow right column.
COMPACT_WIDTH, COMPACT_HEIGHT = 100, 30
# How long a message stays on the status line unless its sender says (Textual's default).
NOTE_SECONDS = 5.0
# How many messages the help screen lists in full.
NOTES_KEPT = 20
# A run checks for a pause between chunks of about this many seconds.
CHUNK_SECONDS = 0.03
# How often a student's file (--functions) is looked at for a new version: one stat, no read.
FUNCTIONS_WATCH_SECONDS = 1.5
# How often the elapsed time of a slow step is redrawn while it is computed.
COMPUTING_TICK = 0.2

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


async def _wait_for(worker: Worker, timeout: float | None) -> None:
    """Until ``worker`` has stopped (``timeout`` seconds at most); never raises."""
    import asyncio

    try:
        if timeout is None:
            await worker.wait()
        else:
            await asyncio.wait_for(asyncio.shield(worker.wait()), timeout)
    except Exception:  # noqa: BLE001 - failed (reported when it ends), or cancelled at exit
        pass


class LoadAbandoned(LoadCancelled):
    """The app left, or newer settings replaced the data, while data were being read or made."""


def _widget(selector: str, kind: type) -> property:
    """One of the App's widgets, by its id."""
    return property(lambda app: app.query_one(selector, kind))


def _key(method: str) -> Callable[..., Any]:
    """A key's action that is the controller's ``method`` (with the binding's argument, if any)."""

    async def action(app: AmalApp, *arguments: Any) -> None:
        result = getattr(app.controller, method)(*arguments)
        if inspect.isawaitable(result):
            await result

    action.__name__ = action.__qualname__ = f"action_{method}"
    return action


def _delegated(name: str, doc: str = "") -> property:
    """A read-only attribute of the App that is the controller's (tests and scripts read them)."""
    return property(lambda app: getattr(app.controller, name), doc=doc)


class AmalApp(Leaving, App[int]):
    """The app for one validated Config (the CLI's, or a test's): widgets, keys, workers.

    What a key does is the controller's (``tui/controller.py``); what the panels say
    is the presenter's (``tui/presenter.py``); leaving is ``tui/leaving.py``'s.
    """

    # Absolute: a subclass defined elsewhere (a test's) finds it too.
    CSS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "app.tcss")
    TITLE = "amal-tui"
    # Every key is in the footer and the help screen; the palette would only take footer room.
    ENABLE_COMMAND_PALETTE = False
    # Keys act on the run until tab moves into the fields.
    AUTO_FOCUS = None
    HORIZONTAL_BREAKPOINTS = [(0, "-too-narrow"), (MIN_WIDTH, "-wide-enough")]
    VERTICAL_BREAKPOINTS = [(0, "-too-short"), (MIN_HEIGHT, "-tall-enough")]

    BINDINGS = KEYS

    def __init__(
        self,
        config: Config,
        session_factory: SessionFactory | None = None,
        *,
        fps: float | None = None,
        speed: float | None = None,
        save_dir: str = DEFAULT_SAVE_DIR,
        sweep: tuple = (),
    ) -> None:
        super().__init__()
        self._sweep_at_start = bool(sweep)
        """``--sweep FROM:TO:K`` in the app: its view opens once loaded, on that range."""
        self.sweep_text = f"{sweep[0]:.12g}:{sweep[1]:.12g}:{sweep[2]}" if sweep else DEFAULT_SWEEP
        """The range the sweep view (w) starts on: the last one swept."""
        translate_bindings(self._bindings)  # the footer in --lang's language
        self.redraws = RedrawSchedule(fps)  # fps and speed: a ValueError unless positive
        self.controller = RunController(config, self, speed=speed, save_dir=save_dir)
        self.fps = fps
        self._comparing_shown = False
        self.notes: list[Note] = []
        """The last messages said (``notify``), oldest first: the help screen lists them."""
        self._factory = session_factory or build_experiment
        self._init_leaving()

    config = _delegated("config", "The settings of the run on screen (or of the first, loading).")
    experiment = _delegated("experiment", "What the engine runs, once loaded (None before).")
    engine_error = _delegated("engine_error")
    session = _delegated("session", "The Session of a single run (a comparison's first).")
    running = _delegated("running", "Whether a run is going on (and not asked to pause).")
    comparing = _delegated("comparing")
    speed = _delegated("speed", "Iterations per second while running; None: as fast as it goes.")

    descents = _delegated("descents", "Every descent: one, or one per learning rate compared.")
    steps_per_second = _delegated("steps_per_second")

    @property
    def settled(self) -> bool:
        """No run, load or save going on and everything on screen up to date (for tests)."""
        return self.controller.idle and not self.redraws.any_dirty

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # A grid (app.tcss): the same four panels, placed in DOM order (``_lay_out``).
        with Container(id="panels"):
            yield HyperparameterPanel(self.config, id="hyperparameters")
            yield ParameterPanel(id="parameters")
            yield ComparisonPanel(id="comparison")
            yield LossChart(id="chart")
        yield StatusLine(id="status")
        yield Static("", id="too-small")
        # Compact: every key fits in 80 columns.
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._watch_signals()
        self.on_resize()
        self.show_mode(bool(self.config.compare))
        self._status_line.show(self.controller.status_info())
        # After the first frame: the import of torch holds the GIL and would delay it.
        self.call_after_refresh(self.controller.start_load, self.config)
        if self.config.functions is not None:
            self.set_interval(FUNCTIONS_WATCH_SECONDS, self.controller.watch_functions)
        self._computing_timer = self.set_interval(COMPUTING_TICK, self._tick_computing, pause=True)

    def on_resize(self, event: Resize | None = None) -> None:
        size = self.size if event is None else event.size
        text = presenter.too_small_text(size.width, size.height, MIN_WIDTH, MIN_HEIGHT)
        try:
            self.query_one("#too-small", Static).update(text)
            self._lay_out(size.width, size.height)
        except NoMatches:
            return  # the app is closing, or a screen covers the main one

    def _lay_out(self, width: int, height: int) -> None:
        """The wide layout, or the compact one (80×24, a lab's default terminal).

        Wide: the settings over the chart on the left, W and b in full down the right.
        Compact: the chart down the left, full height; the settings over a compact W (or
        the comparison) in a narrow column on the right.  A comparison at a wide size is
        laid out as the compact one, its right column as wide as the wide one's: its
        table needs far fewer rows than W, and the chart keeps every row.  The grid places
        its children in DOM order: the chart moves first when it goes down the left.
        """
        compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        chart_left = compact or self._comparing_shown
        panels = self.query_one("#panels", Container)
        panels.set_class(compact, "-compact")
        panels.set_class(chart_left, "-chart-left")
        if (panels.children[0] is self._chart) != chart_left:
            if chart_left:
                panels.move_child(self._chart, before=0)
            else:
                panels.move_child(self._chart, after=len(panels.children) - 1)
        self._parameters.compact = compact
        self._comparison.compact = compact
        self._hyperparameters.compact = compact

    def show_mode(self, comparing: bool) -> None:
        """The comparison table takes the parameters panel's place while comparing."""
        self._parameters.display = not comparing
        self._comparison.display = comparing
        self._comparing_shown = comparing
        try:
            self._lay_out(*self.size)
        except NoMatches:
            pass  # the app is closing

    _status_line = _widget("#status", StatusLine)
    _chart = _widget("#chart", LossChart)
    _parameters = _widget("#parameters", ParameterPanel)
    _comparison = _widget("#comparison", ComparisonPanel)
    _hyperparameters = _widget("#hyperparameters", HyperparameterPanel)

    # -- the controller's port: workers, screens, notifications --------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A message on the status line's second row, never a toast over the chart.

        Plain text (``markup`` is ignored): the messages quote paths, data and a student's
        errors, whose ``[`` must show as it is.  One line, cut with … at the screen's width;
        the help screen (?) lists the last ``NOTES_KEPT`` in full.
        """
        note = Note(str(message), severity, title)
        self.notes = [*self.notes[-(NOTES_KEPT - 1) :], note]
        try:
            self._status_line.say(note, NOTE_SECONDS if timeout is None else timeout)
        except NoMatches:
            pass  # the app is closing: the message stays in the list

    def clear_notifications(self) -> None:
        super().clear_notifications()
        try:
            self._status_line.clear_notes()
        except NoMatches:
            pass

    def show_config(self, config: Config) -> None:
        self._hyperparameters.show_config(config)

    def show_theory(self, lr_max: float | None) -> None:
        self._hyperparameters.show_theory(lr_max)

    def changed(self, everything: bool = False, at_once: bool = True, force: bool = False) -> None:
        self.redraws.changed(everything)
        if at_once:
            self._redraw(force)
        else:
            self._schedule_redraw()

    def show_refusal(self, config: Config | None, error: Any, text: str) -> None:
        report = ReportScreen(*presenter.refused_report(config, error))
        self.push_screen(report, callback=lambda _: self._quit_refused(text))

    def ask_compare(self, rates: Sequence[float]) -> None:
        prompt = presenter.compare_prompt(rates)
        parse = lambda text: parse_compare(text, N_("learning rates"))  # noqa: E731
        screen = PromptScreen(*prompt[:3], parse, prompt[3], id="compare-prompt")
        self.push_screen(screen, self.controller.compare_chosen)

    def ask_save_path(self, path: str) -> None:
        prompt = presenter.save_prompt(path, self.comparing, os.getcwd(), self.controller.save_dir)
        screen = PromptScreen(*prompt[:3], parse_save_path, prompt[3], id="save-prompt")
        self.push_screen(screen, self.controller.save_chosen)

    def ask_data(self, config: Config, problem: Any) -> None:
        if not isinstance(self.screen, DataScreen):
            screen = DataScreen(config, presenter.data_in_use(problem))
            self.push_screen(screen, self.controller.data_chosen)

    def sweep_range(self) -> str | None:
        try:
            sweep_range(self.sweep_text)
        except ConfigError as error:  # one line, naming the field
            self.notify(str(error), severity="error", timeout=10)
            return None
        return self.sweep_text

    def show_sweep(self, experiment: Any, sweep: str) -> None:
        screen = SweepScreen(experiment, sweep, self.controller.config.learning_rate)

        async def closed(learning_rate: float | None) -> None:
            self.sweep_text = screen.text  # the next w starts on the range swept last
            await self.controller.sweep_chosen(learning_rate)

        self.push_screen(screen, closed)

    async def _sweep_once_loaded(self) -> None:
        if self._sweep_at_start and self.controller.experiment is not None:
            self._sweep_at_start = False
            await self.controller.sweep()

    wait = staticmethod(_wait_for)

    # Not exclusive: a new load starts while the last one's thread may still be returning,
    # and cancelling that one would look like a failure.
    @work(thread=True, exit_on_error=False, group="engine", name="load engine")
    def _load_engine(self, config: Config, reuse: Experiment | None, recheck: bool = False) -> None:
        def progress(fraction: float) -> None:
            if self.controller.load_superseded(config):
                raise LoadAbandoned("the app is leaving, or new data replace these")
            self.post_message(DataProgress(config.data, fraction))

        warn = lambda text: self.post_message(EngineWarning(text))  # noqa: E731 - any thread
        # recheck only when asked: a factory of a script's or a test's may not know it.
        options = {"recheck": True} if recheck else {}
        experiment = self._factory(config, warn, reuse=reuse, progress=progress, **options)
        _freeze_startup_objects()
        self.post_message(EngineLoaded(experiment, config))

    start_load = _load_engine  # the controller's port: returns the Worker

    def start_run(
        self, experiment: Experiment, epoch: int, stop: threading.Event, steps: int | None = None
    ) -> Worker:
        """The controller's port: step ``experiment`` in the run worker (``steps``: that many
        iterations, for s on a slow step; None: until the end or ``stop``)."""
        self._computing_timer.resume()  # the elapsed time of a slow step, while it lasts
        return self._run(experiment, epoch, stop, steps)

    def _tick_computing(self) -> None:
        if self.controller.run_worker is None:
            self._computing_timer.pause()
        self.changed()  # the status line only, and only if what it says changed

    @work(thread=True, exclusive=True, exit_on_error=False, group="run", name="run")
    def _run(
        self, experiment: Experiment, epoch: int, stop: threading.Event, steps: int | None = None
    ) -> None:
        worker = get_current_worker()
        pacer = Pacer()
        clock = self.controller.clock
        # The state is sent to the UI no more often than the status line can show it: a
        # run watched at 10 it/s sends 2 a second, not 10 (each costs the UI thread a
        # message and the worker a snapshot); the last one is never held back.
        posted, held = -math.inf, False
        while not worker.is_cancelled:
            # read once a chunk: [ and ] act within a wait; s (``steps``) is not paced
            speed = None if steps is not None else self.controller.speed
            with self.controller.session_lock:
                if stop.is_set():
                    break
                due = None if speed is None else pacer.due(speed, time.perf_counter())
                finished = self._chunk(experiment, clock, pacer, due, steps)
                if steps is not None:
                    finished = True  # the one step of s: shown by the worker's end
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
                now = time.perf_counter()
                watched = speed <= WATCHED_SPEED
                stop.wait(
                    worker_wait(pacer.wait(now), now, posted, self._periods()[0], held, watched)
                )

    def _chunk(
        self, experiment: Experiment, clock: Any, pacer: Pacer, due: int | None, steps: int | None
    ) -> bool:
        """One chunk of the run worker: ``steps``, the ``due`` of a paced run (no more than
        lasts ~0.1 s: the pacer gets the rest back), or ~CHUNK_SECONDS at full speed; timed
        on ``clock``, which the status line reads while it lasts.  True once finished."""
        before = experiment.iteration
        if steps is not None:
            count = steps
        elif due is not None:
            count = chunk_steps(due, clock.last_step_seconds)
            pacer.give_back(due - count)
        else:
            count = experiment.chunk_size
        clock.begin(before, count, time.perf_counter())
        try:
            if steps is None and due is None:
                return experiment.run_for(CHUNK_SECONDS)
            return experiment.advance(count)
        finally:
            clock.end(experiment.iteration - before, time.perf_counter())

    @work(thread=True, exit_on_error=False, group="save", name="save")
    def _save(self, experiment: Experiment, path: str) -> tuple[Any, Any]:
        from engine.record.saving import make_save_folder, save_run

        save_dir = self.controller.save_dir
        if os.path.normpath(os.path.dirname(path) or ".") == os.path.normpath(save_dir):
            make_save_folder(save_dir)  # the save folder is made at its first save
        with self.controller.session_lock:
            return save_run(path, experiment.config, experiment.descents)

    start_save = _save  # the controller's port: returns the Worker

    # -- messages from the workers -------------------------------------------------------

    async def on_engine_loaded(self, message: EngineLoaded) -> None:
        await self.controller.loaded(message.experiment, message.config)
        await self._sweep_once_loaded()

    def on_engine_warning(self, message: EngineWarning) -> None:
        self.notify(message.text, severity="warning", timeout=10)

    def on_data_progress(self, message: DataProgress) -> None:
        self.controller.data_progress(message.source, message.fraction)

    def on_run_progress(self, message: RunProgress) -> None:
        self.controller.run_progress(message.epoch, message.runs, message.at)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # event.state, not worker.state: the message of an earlier state (RUNNING) may be
        # read after the worker has finished.
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.controller.worker_ended(event.worker, event.state.name.lower())

    # -- keys ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        covered = isinstance(self.screen, ModalScreen)  # a prompt, a report or the help
        return allowed(action, covered=covered, in_field=isinstance(self.focused, Input))

    # The keys that act on the run are the controller's (it decides what they do when).
    action_step = _key("step")
    action_toggle_run = _key("toggle_run")
    action_reset = _key("reset")
    action_change_speed = _key("change_speed")
    action_scale_learning_rate = _key("scale_learning_rate")
    action_compare = _key("compare")
    action_save = _key("save")
    action_choose_data = _key("choose_data")
    action_reload_functions = _key("reload_functions")
    action_sweep = _key("sweep")

    def action_toggle_log_scale(self) -> None:
        self._chart.log_scale = not self._chart.log_scale

    def action_toggle_gap_view(self) -> None:
        self._chart.gap_view = not self._chart.gap_view

    def action_toggle_log_iterations(self) -> None:
        self._chart.log_iterations = not self._chart.log_iterations

    def action_cycle_zoom(self) -> None:
        self._chart.cycle_zoom()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            notes = [note.line() for note in self.notes]
            self.push_screen(HelpScreen(self.controller.save_dir, notes))

    async def action_inside_step(self) -> None:
        """i: the last step inside the Functions; a run pauses first (its last step stays the
        last), and the engine replays the step in a worker."""
        if isinstance(self.screen, StepScreen):
            return
        experiment = self.controller.experiment
        screen = StepScreen(LOADING if experiment is None else RECORDING)
        await self.push_screen(screen)
        if experiment is None:
            return
        if self.controller.run_worker is not None:
            await self.controller.stop_run()
            self.controller.show_experiment()
        self._record_inside(experiment, screen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="inside", name="inside")
    def _record_inside(self, experiment: Experiment, screen: StepScreen) -> None:
        with self.controller.session_lock:
            text = record_text(experiment)
        self.call_from_thread(screen.show, text)

    @on(HyperparameterPanel.Applied)
    async def _field_applied(self, event: HyperparameterPanel.Applied) -> None:
        self.set_focus(None)
        await self.controller.apply_settings(event.changes)

    # -- redrawing: each panel at its own rate, only what changed ------------------------

    def _periods(self) -> tuple[float, float, float]:
        return self.redraws.periods(self.running, self.controller.speed)

    def _schedule_redraw(self) -> None:
        """A redraw when the first dirty panel may be drawn again (no timer when none is dirty)."""
        delay = self.redraws.reschedule(self._periods(), time.monotonic(), self.running)
        if delay is not None:
            self.redraws.timer = self.set_timer(delay, self._redraw_later)

    def _redraw_later(self) -> None:
        self.redraws.fired()
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
        controller = self.controller
        views, experiment = controller.views, controller.experiment
        if views:
            controller.announce()
        shown = bool(views) and experiment is not None  # else only the status line
        periods, panels = self._periods(), 3 if shown else 1
        drawing = self.redraws.choose(periods, force, now, self.running, panels)
        if TEXT in drawing:
            self._status_line.show(controller.status_info())
        if not shown:
            return
        theory = experiment.theory
        optimum = None if theory is None else theory.optimal_loss
        if PARAMETERS in drawing:
            if controller.comparing:
                lr_max = None if theory is None else theory.lr_max
                bound = run_bound(experiment.config, experiment.problem, theory)
                self._comparison.show(views, lr_max, optimum, controller.running, bound=bound)
            else:
                snapshot = views[0].snapshot
                distances = presenter.distances(snapshot, theory, experiment.problem)
                names = presenter.parameter_names(experiment.problem)
                self._parameters.show(snapshot, distances, names)
        if CHART in drawing:
            threshold = self.config.threshold
            data = presenter.data_description(experiment.problem)
            gap = presenter.gap_theory(views, experiment.config, theory, experiment.problem)
            if controller.comparing:
                curves = presenter.comparison_curves(views)
                self._chart.show_comparison(curves, threshold, optimum, data=data, gap=gap)
            else:
                run = views[0]
                self._chart.show(
                    run.losses, threshold, run.test_losses, optimum, data=data, gap=gap
                )


class CrashedWithoutTraceback(RuntimeError):
    """The app stopped on an error that Textual did not hand over (see ``_handle_exception``)."""


def run_app(
    config: Any,
    fps: float | None = None,
    mouse: bool = True,
    speed: float | None = None,
    save_dir: str = DEFAULT_SAVE_DIR,
    *,
    sweep: tuple = (),
    app: AmalApp | None = None,
    headless: bool = False,
) -> int:
    """Run the app in this terminal; return the exit status.

    On an unexpected exception Textual restores the terminal and prints the
    traceback; this writes it to a crash report file too, prints its path in one
    line on stderr and returns 1.  ``app`` and ``headless`` are for tests.
    """
    if app is None:
        from .app import AmalApp

        app = AmalApp(config, fps=fps, speed=speed, save_dir=save_dir, sweep=sweep)
    app.run(mouse=mouse, headless=headless)
    # On a real terminal, whatever ended the app, the process is gone by the guard's
    # deadline (a worker thread still busy would otherwise hold the interpreter's exit).
    app.guard.begin(app.return_code or 0)
    return end_process(app.guard, _exit_status(app))


def _exit_status(app: AmalApp) -> int:
    """What the app's end says (the refusal, or the crash report's path) and its exit status."""
    if app.refused is not None and app.crash is None:
        print(f"amal-tui: {app.refused}", file=sys.stderr)
        return EXIT_REFUSED
    if app.crash is None and app.return_code != EXIT_ERROR:
        return app.return_code or 0
    from tui.crash import write_crash_report

    error = app.crash or CrashedWithoutTraceback(_("the app stopped on an unexpected error"))
    try:
        where = _("; the traceback is in {path}").format(path=write_crash_report(error))
    except OSError as failure:
        where = _("; no crash report ({value})").format(value=failure.strerror or failure)
    message = shown_path(str(error))  # one line, escaped: it may quote a path
    print(
        _("amal-tui: unexpected error: {kind}: {message}{where}").format(
            kind=type(error).__name__, message=message, where=where
        ),
        file=sys.stderr,
    )
    return EXIT_ERROR
