"""The run's state machine: what each key does in each state, in plain Python (no Textual).

A :class:`RunController` owns the run on screen: its settings and Experiment, the
loading, run and save workers' handles, the epoch that tells a run's messages
from an older run's, the keys that wait for a load or a save, and the state the
status line names (:data:`STATES`).  It starts nothing and draws nothing itself:
it asks a :class:`Port`, which the App implements with Textual's workers, screens
and notifications, and tests with a few lists.

A port rather than returned commands: a key's effect interleaves its decisions
with waits (a run's worker must stop before the UI thread steps, resets, saves or
replaces the Experiment), and the port keeps them in one readable method per key,
in the order the App ran them before the split.

Only one thread mutates the Experiment at a time: the UI thread steps, resets,
saves or replaces it only after the run worker stopped.  ``session_lock`` is held
by whichever worker uses it (a run's chunk, a save): the last line of defence at exit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from engine.config import Config, ConfigError, parse_learning_rate, shown_path
from engine.i18n import N_, _
from engine.record.saving import DEFAULT_SAVE_DIR

from . import presenter, states
from .experiment import data_note, functions_stamp
from .messages import RunView
from .pacing import StepClock, next_speed

# steps/s is measured over about this many seconds.
RATE_WINDOW = 1.0
# The notebook's three learning rates: what c proposes first.
DEFAULT_COMPARE = (0.0001, 0.01, 0.5)

# Why w does not sweep a student's Functions (the sweep batches the engine's).
SWEEP_NEEDS_REFERENCE = N_(
    "a sweep batches the engine's Functions; yours run one at a time: "
    "c compares up to 8 learning rates"
)

# Every state ``RunController.state`` returns, with its word and meaning: tui/states.py
# (the table the status line and the help screen read).
STATES = states.STATES

# What a key may do while a prompt, the help or a report covers the screen.
ACTIONS_UNDER_A_SCREEN = frozenset({"quit", "interrupt"})

# The keys that act on the run, and that wait for a load or a save: the controller's methods.
RUN_KEYS = ("step", "toggle_run", "reset", "save", "reload_functions", "sweep")
# A step timed at this many seconds or more runs in the run worker when s is pressed (the
# screen and q stay live meanwhile); a faster one runs at once on the UI thread.
SLOW_STEP = 0.05
# How long s waits for a step run in the worker before the key returns: a step that ends
# by then shows as if run at once; a longer one says "computing step N… 0.4 s" meanwhile.
STEP_WAIT = 0.3
# The same wait for a step not timed yet (a student's Functions, large data), most often a
# fast one: it shows at once even on a loaded machine, and a slow one is said after this.
UNTIMED_STEP_WAIT = 1.0


class LoadCancelled(Exception):
    """A load stopped on purpose: the app leaves, or newer settings replace its data."""


def allowed(action: str, *, covered: bool = False, in_field: bool = False) -> bool:
    """Whether a key's ``action`` acts now: ``covered`` by a prompt, a report or the help,
    or typed ``in_field`` (a text field has the focus)."""
    # The run's keys do not act behind a screen that covers it.
    if covered and action not in ACTIONS_UNDER_A_SCREEN:
        return False
    # A field being edited takes + and - as text; Textual hides the other letter keys
    # from the footer there, not these two (their key names are not characters), nor q
    # in a prompt.
    return not (action in ("scale_learning_rate", "quit") and in_field)


class Port(Protocol):
    """What the controller asks of the App (workers, screens, notifications, redraws)."""

    def start_load(self, config: Config, reuse: Any, recheck: bool = False) -> Any:
        """Build ``config``'s Experiment in a worker; ``loaded`` or ``load_stopped`` follow.
        ``recheck``: check and load the student's file again, not ``reuse``'s Functions."""

    def start_run(
        self, experiment: Any, epoch: int, stop: threading.Event, steps: int | None = None
    ) -> Any:
        """Step ``experiment`` in a worker until ``stop`` (``steps``: that many iterations,
        for s on a slow step); ``run_progress``, ``run_ended`` follow.  The Worker's
        ``is_finished`` says when it has ended."""

    def start_save(self, experiment: Any, path: str) -> Any:
        """Save in a worker (under ``session_lock``); ``save_ended`` follows."""

    async def wait(self, worker: Any, timeout: float | None) -> None:
        """Until ``worker`` has stopped (``timeout`` seconds at most); never raises."""

    def notify(
        self,
        text: str,
        *,
        title: str = "",
        severity: str = "information",
        timeout: float | None = None,
    ) -> None: ...

    def call_later(self, callback: Callable[[], Any]) -> None:
        """Call ``callback`` (maybe a coroutine function) once the current message is handled."""

    def clear_notifications(self) -> None: ...

    def show_config(self, config: Config) -> None:
        """The settings panel shows ``config``."""

    def show_theory(self, lr_max: float | None) -> None:
        """The settings panel shows ε_max = 2/L (None: not known yet)."""

    def show_mode(self, comparing: bool) -> None:
        """The comparison table or the parameters panel."""

    def changed(self, everything: bool = False, at_once: bool = True, force: bool = False) -> None:
        """The status line (``everything``: every panel) changed: redraw now or when due."""

    def show_refusal(self, config: Config | None, error: Any, text: str) -> None:
        """A student's Functions failed the check: show the report, then quit."""

    def ask_compare(self, rates: Sequence[float]) -> None:
        """Prompt for learning rates; the answer goes to ``compare_chosen``."""

    def ask_save_path(self, path: str) -> None:
        """Prompt for a path; the answer goes to ``save_chosen``."""

    def ask_data(self, config: Config, problem: Any) -> None:
        """The data screen for ``config`` (``problem``: the data on screen, None while the
        first loads); the settings chosen go to ``data_chosen``."""

    def leaving(self) -> bool:
        """Whether the app is quitting (no run starts any more)."""

    def sweep_range(self) -> str | None:
        """The range the sweep view starts on (FROM:TO:K), or None after saying, naming the
        field, why it is not one."""

    def show_sweep(self, experiment: Any, sweep: str) -> None:
        """The sweep view over ``sweep`` from ``experiment``'s start; the ε chosen (None:
        Escape) goes to ``sweep_chosen``."""


class RunController:
    """The run on screen and what each key does to it, for one validated Config at first."""

    def __init__(
        self,
        config: Config,
        port: Port,
        *,
        speed: float | None = None,
        save_dir: str = DEFAULT_SAVE_DIR,
    ) -> None:
        if speed is not None and not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive number, got {speed!r}")
        self.port = port
        self.config = config
        """The settings of the run on screen (or of the first one, while it loads)."""
        self.experiment: Any = None
        """What the engine runs (a ``tui.experiment.Experiment``), None until loaded."""
        self.engine_error: str | None = None
        """Why the first Experiment could not be built."""
        self.speed = speed
        """Iterations per second while running; None: as fast as the engine goes."""
        self.pending: list[str] = []
        """Keys (``RUN_KEYS``) pressed while loading or saving, run once it is done."""
        self.wanted: Config | None = None
        """Settings applied while others load: built next."""
        self.loading: Config | None = None
        self.load_worker: Any = None
        self.load_progress: str | None = None
        self.save_worker: Any = None
        self.last_compare: tuple[float, ...] = config.compare or DEFAULT_COMPARE
        self.last_save_path: str | None = None
        self.save_dir = save_dir
        """Where e proposes to save (``--save-dir``; made at the first save)."""
        self.saved: str | None = None
        """The JSON file of the last save, for the status line."""
        self.run_worker: Any = None
        self.stepping = False
        """The run worker runs one step (s on a slow step), not a run."""
        self.clock = StepClock()
        """What the run worker is computing, and how long a step took (the worker writes it)."""
        self.stop = threading.Event()
        self.session_lock = threading.Lock()
        self.epoch = 0
        """Which run the run worker's messages belong to; a step, a reset or new settings bump it."""
        self.announced: set[int] = set()
        self.rate: deque[tuple[float, int]] = deque()
        self.views: tuple[RunView, ...] = ()
        """What is on screen: one view per descent."""
        self.reloading = False
        """The load going on checks the student's file again (o): a refusal keeps the run."""
        self.resume_after_reload = False
        self.resume_after_sweep = False
        """The run was going when w opened the sweep: Escape lets it go on."""
        self.load_stamp: tuple[int, int, int] | None = None
        """The student's file when the load going on started (its check reads it after that)."""
        self.checked_stamp: tuple[int, int, int] | None = None
        """The student's file when it was last checked: the watch compares the disk with it."""
        self.failed_verdict: str | None = None
        """The verdict of the last re-check when it failed: the run kept the Functions it had."""
        self.file_offer: str | None = None
        """What the watch last said of the file: "changed", "gone", or None (as checked)."""

    # -- what the run is doing ----------------------------------------------------------

    @property
    def session(self) -> Any:
        """The engine's Session of a single run (the first one of a comparison); None while loading."""
        return None if self.experiment is None else self.experiment.session

    @property
    def descents(self) -> list[Any]:
        """Every descent: one, or one per learning rate of a comparison."""
        return [] if self.experiment is None else list(self.experiment.descents)

    @property
    def comparing(self) -> bool:
        return self.experiment is not None and self.experiment.comparing

    @property
    def running(self) -> bool:
        """Whether a run is going on (and not asked to pause)."""
        return self.run_worker is not None and not self.stop.is_set()

    @property
    def busy(self) -> bool:
        """Loading settings, saving, or a step (s) computed in the run worker: the keys that
        act on the run wait."""
        return self.loading is not None or self.save_worker is not None or self.stepping

    @property
    def pausing(self) -> bool:
        """A run asked to pause whose worker is still in its chunk (a slow step)."""
        return self.run_worker is not None and self.stop.is_set() and not self.stepping

    @property
    def idle(self) -> bool:
        """Loaded, and no run, load, save or waiting key (the App adds: everything drawn)."""
        return (
            self.experiment is not None
            and self.run_worker is None
            and not self.busy
            and not self.pending
        )

    def all_finished(self) -> bool:
        return all(run.snapshot.status.finished for run in self.views)

    @property
    def state(self) -> str:
        """One of :data:`STATES`: what the status line says the run is doing."""
        if self.experiment is None or not self.views:
            return "loading" if self.engine_error is None else "failed"
        if self.loading is not None:
            return "loading"
        if self.save_worker is not None:
            return "saving"
        if self.stepping:
            return "stepping"
        if self.pausing:
            return "pausing"
        if self.running:
            return "running"
        if self.all_finished():
            return "finished" if self.comparing else self.views[0].snapshot.status.value
        # Stepped or run, then stopped before the end: the run is paused, not ready.
        iteration = max(run.snapshot.iteration for run in self.views)
        return "paused" if iteration > 0 else "ready"

    def steps_per_second(self) -> float | None:
        """Iterations per second (of each run, while comparing: they go side by side)."""
        if not self.running or self.stepping or len(self.rate) < 2:
            return None
        (t0, i0), (t1, i1) = self.rate[0], self.rate[-1]
        return (i1 - i0) / (t1 - t0) if t1 > t0 else None

    def status_info(self) -> Any:
        """The status line now (a ``StatusInfo``)."""
        loaded = self.experiment is not None
        info = presenter.status_info(
            self.state,
            self.views if loaded else (),
            comparing=self.comparing,
            engine_error=self.engine_error,
            speed=self.speed,
            steps_per_second=self.steps_per_second(),
            tensorboard=presenter.tensorboard_text(
                self.config, self.views, loaded=loaded, comparing=self.comparing
            ),
            load_progress=self.load_progress,
            saved=self.saved,
            computing=self.computing_text(),
        )
        return dataclasses.replace(info, **self.functions_status())

    def computing_text(self, now: float | None = None) -> str:
        """ "computing step 67… 0.4 s" while the run worker's chunk has taken long ("" else)."""
        if self.run_worker is None:
            return ""
        computing = self.clock.computing(time.perf_counter() if now is None else now)
        return "" if computing is None else presenter.computing_text(*computing)

    def load_superseded(self, config: Config) -> bool:
        """Whether the load of ``config`` may stop now (any thread): the app leaves, or
        settings applied meanwhile replace its data (they load next)."""
        wanted = self.wanted
        return self.port.leaving() or (
            wanted is not None and wanted is not config and not wanted.same_problem(config)
        )

    def functions_status(self) -> dict[str, str]:
        """The status line's student file, the check's verdict and what happened since."""
        path = self.config.functions
        if path is None:
            return {}
        check = getattr(self.experiment, "check", None)
        notes = []
        if self.reloading or (self.experiment is None and self.engine_error is None):
            verdict = _("checking…")
        elif self.failed_verdict is not None:
            verdict = self.failed_verdict
            if self.experiment is not None:
                notes.append(_("running the version before"))
        else:
            verdict = presenter.check_verdict(check)
            if check is not None and not check.passed:
                notes.append(_("run with --force"))
        if self.file_offer == "changed":
            notes.append(_("changed on disk: o reloads"))
        elif self.file_offer == "gone":
            notes.append(_("gone from disk"))
        return dict(
            functions=shown_path(os.path.basename(path)),
            verdict=verdict,
            functions_note="; ".join(notes),
        )

    # -- loading ------------------------------------------------------------------------

    def start_load(self, config: Config, reuse: Any = None, recheck: bool = False) -> None:
        """Build the Experiment of ``config`` in the loading worker (one load at a time);
        ``recheck``: the student's file is checked and loaded again."""
        if config.functions is not None and (recheck or self.experiment is None):
            # Before the check reads it: a change made meanwhile is offered once loaded.
            self.load_stamp = functions_stamp(config.functions)
        reuse = reuse or self.experiment
        self.loading = config
        if reuse is None or not config.same_problem(reuse.config):
            self.load_progress = presenter.loading_text(config)
            if reuse is not None:
                self.port.show_theory(None)  # the new data's comes with them
        self.port.changed()
        if recheck:
            self.load_worker = self.port.start_load(config, reuse, recheck=True)
        else:
            self.load_worker = self.port.start_load(config, reuse)

    def data_progress(self, source: str, fraction: float) -> None:
        if self.loading is None:
            return
        self.load_progress = presenter.load_progress_text(source, fraction)
        self.port.changed(at_once=False)

    async def loaded(self, new: Any, loaded: Config) -> None:
        """The loading worker built ``new`` for ``loaded``: show it, unless newer settings wait."""
        self.loading = None
        wanted = self.wanted or loaded
        if wanted != loaded:
            # A setting was applied while this one loaded: build that one instead (with the
            # Functions just reloaded, if this load was a reload).
            new.close()
            self.start_load(wanted, reuse=new if self.reloading else self.experiment or new)
            return
        self.wanted = None
        self.load_progress = None
        await self.stop_run()
        old = self.experiment
        reloaded, self.reloading = self.reloading, False
        checked = getattr(new, "check", None)
        if checked is not getattr(old, "check", None):  # the file was checked for this one
            self.checked_stamp, self.failed_verdict, self.file_offer = self.load_stamp, None, None
        if old is not None:
            self.close_experiment(old)
        self.experiment = new
        self.clock = StepClock()  # what a step of the new Experiment costs is not known yet
        self.config = loaded
        self.engine_error = None
        self.port.show_config(loaded)
        self.port.show_theory(None if new.theory is None else new.theory.lr_max)
        self.port.show_mode(new.comparing)
        self.new_run()
        if reloaded:
            self.port.notify(
                _(
                    "{functions_name} reloaded: {checked}; the run starts over at iteration 0"
                ).format(
                    functions_name=self.functions_name(), checked=presenter.check_verdict(checked)
                ),
                timeout=10,
            )
        if old is None or old.problem is not new.problem:
            note = data_note(new.problem)
            if note is not None:  # what the loader learned: columns used, rows dropped...
                self.port.notify(note, title=_("data"), timeout=15)
        await self.drain_pending()

    def worker_ended(self, worker: Any, outcome: str) -> None:
        """A worker (loading, run or save) ended: ``outcome`` is success, error or cancelled.

        Only the current one counts: a load replaced by a newer one, a run stopped for a
        step, are forgotten.  ``worker.error`` and ``worker.result`` say the rest.
        """
        error = worker.error if outcome == "error" else None
        if worker is self.load_worker:
            if outcome != "success" and self.loading:
                self.load_failed(error)
        elif worker is self.run_worker:
            self.run_ended(error)
        elif worker is self.save_worker:
            self.save_ended(outcome == "success", worker.result if outcome == "success" else error)

    def load_failed(self, error: BaseException | None) -> None:
        from engine.student.refusal import FunctionsRefused

        failed, self.loading = self.loading, None
        wanted, self.wanted = self.wanted, None
        self.load_progress = None
        reloaded, self.reloading = self.reloading, False
        if isinstance(error, LoadCancelled) and wanted is not None and wanted != failed:
            self.reloading = reloaded
            self.start_load(wanted)  # replaced by newer settings: no need to say why
            return
        text = presenter.one_line(error) if error is not None else _("cancelled")
        refused = isinstance(error, FunctionsRefused)
        if reloaded and self.experiment is not None:
            self.reload_failed(error, text)
            if wanted is not None and failed is not None and wanted != failed:
                self.start_load(wanted)  # applied meanwhile: with the Functions on screen
                return
            self.pending.clear()
            if self.resume_after_reload:
                self.pending.append("toggle_run")  # the run goes on as it was
                self.port.call_later(self.drain_pending)
            self.port.changed()
            return
        if refused:
            self.failed_verdict = presenter.check_verdict(error.check) or f"✗ {text}"
            # Nothing else can run: the Functions come from the command line.  Once read,
            # the report closes the app with exit status 1, as the headless check does.
            self.port.show_refusal(failed, error, text)
        if wanted is not None and failed is not None and wanted != failed:
            # A newer setting was asked for meanwhile: it may well load.
            self.port.notify(
                _("cannot use these settings: {text}").format(text=text),
                severity="error",
                timeout=15,
            )
            self.start_load(wanted)
            return
        self.pending.clear()
        if self.experiment is None:
            self.engine_error = text
            self.port.notify(
                text if refused else _("the engine could not load: {text}").format(text=text),
                title="amal-tui",
                severity="error",
                timeout=30,
            )
        else:
            # The run on screen stays as it was.
            self.port.notify(
                _("cannot use these settings: {text}").format(text=text),
                severity="error",
                timeout=15,
            )
            self.port.show_config(self.config)
            theory = self.experiment.theory
            self.port.show_theory(None if theory is None else theory.lr_max)
        self.port.changed()

    def reload_failed(self, error: BaseException | None, text: str) -> None:
        """The student's file, checked again, cannot run: say why in one line; the run on
        screen keeps the Functions it had (a student fixing their file loses nothing)."""
        from engine.student.refusal import FunctionsRefused

        name = self.functions_name()
        if isinstance(error, FunctionsRefused):
            # This version was checked: the watch offers no reload until it changes again.
            self.checked_stamp, self.file_offer = self.load_stamp, None
            self.failed_verdict = presenter.check_verdict(error.check) or f"✗ {text}"
            self.port.notify(
                _("{name} fails the check: {failed_verdict} (the run keeps its Functions)").format(
                    name=name, failed_verdict=self.failed_verdict
                ),
                severity="error",
                timeout=20,
            )
        else:
            self.port.notify(
                _("could not reload {name}: {text}").format(name=name, text=text),
                severity="error",
                timeout=20,
            )

    def functions_name(self) -> str:
        """The student's file, as the status line and the messages name it."""
        return shown_path(os.path.basename(self.config.functions or ""))

    def watch_functions(self) -> None:
        """The App's timer, every second or two: offer to reload the student's file once it
        changed on disk (one ``stat``, nothing read; said once per change, not at each tick)."""
        path = self.config.functions
        if path is None or self.experiment is None or self.loading is not None:
            return
        stamp = functions_stamp(path)
        offer = None if stamp == self.checked_stamp else "gone" if stamp is None else "changed"
        if offer == self.file_offer:
            return
        self.file_offer = offer
        name = self.functions_name()
        if offer == "changed":
            self.port.notify(
                _("{name} changed on disk: press o to reload and re-check").format(name=name),
                timeout=10,
            )
        elif offer == "gone":
            self.port.notify(
                _("{name} is no longer on disk: the run keeps its Functions").format(name=name),
                severity="warning",
            )
        self.port.changed()

    def ready(self, action: str) -> bool:
        """Whether the engine can act now; if not, the key ``action`` waits for it."""
        if self.experiment is not None and not self.busy:
            return True
        if self.busy or self.engine_error is None:
            self.pending.append(action)
        else:
            self.port.notify(_("the engine did not load: nothing to run"), severity="error")
        return False

    async def drain_pending(self) -> None:
        """Run the keys that waited for a load or a save, in order."""
        while self.pending and not self.busy:
            action = self.pending.pop(0)
            result = getattr(self, action)()
            if inspect.isawaitable(result):
                await result

    # -- running ------------------------------------------------------------------------

    async def stop_run(self, timeout: float | None = None) -> None:
        """Pause the run, if any, and wait until its worker has stopped (one chunk at most)."""
        worker = self.run_worker
        if worker is None:
            return
        self.stop.set()
        await self.port.wait(worker, timeout)
        self.run_worker = None
        self.stepping = False  # its end is not read any more: the caller shows what follows

    def run_progress(self, epoch: int, runs: tuple[RunView, ...], at: float) -> None:
        """A chunk of the run worker's: shown when it belongs to the run on screen."""
        if epoch != self.epoch:
            return  # from before a step, a reset or a new configuration
        self.views = runs
        # The pace of the runs (they advance side by side), comparable with the speed asked for.
        self.rate.append((at, max(run.snapshot.iteration for run in runs)))
        while len(self.rate) > 2 and at - self.rate[1][0] >= RATE_WINDOW:
            self.rate.popleft()
        self.port.changed(everything=True, at_once=False)

    def run_ended(self, error: BaseException | None) -> None:
        """The run stopped by itself (converged, capped, diverged), was paused, or failed."""
        self.run_worker = None
        stepped, self.stepping = self.stepping, False
        if error is not None:
            self.report_run_error(error)
        self.show_experiment(force=True)
        if stepped and self.pending:
            self.port.call_later(self.drain_pending)  # the keys that waited for the step

    def report_run_error(self, error: BaseException) -> None:
        self.port.notify(
            presenter.run_error_text(error, self.config.functions), severity="error", timeout=30
        )

    def new_run(self) -> None:
        """After a reset or a new Experiment: iteration 0, drawn at once."""
        self.epoch += 1
        self.announced = set()
        self.rate.clear()
        self.show_experiment(force=True)

    def show_experiment(self, force: bool = False) -> None:
        """Show the Experiment's current state (only when no worker is using it)."""
        self.views = self.experiment.views()
        self.port.changed(everything=True, force=force)

    def announce(self) -> None:
        """A notification when a run stops by itself (once per run).

        A comparison's come together once every run has stopped, in the table's order:
        a run that stops early already says so in the table and the chart, and the
        order of the notifications never depends on which chunk a thread ended first.
        """
        comparing = self.comparing
        if comparing and not self.all_finished():
            return
        theory = None if self.experiment is None else self.experiment.theory
        for i, run in enumerate(self.views):
            if run.snapshot.status.finished and i not in self.announced:
                self.announced.add(i)
                text, severity = presenter.end_notice(
                    run, comparing=comparing, theory=theory, threshold=self.config.threshold
                )
                self.port.notify(text, severity=severity)

    def finished_note(self) -> bool:
        """Whether every run has ended (and say so): a key that moves them does nothing."""
        experiment = self.experiment
        if not experiment.finished:
            return False
        status = experiment.session.descent.status.value
        self.port.notify(presenter.finished_note(experiment.comparing, status))
        return True

    # -- the keys -----------------------------------------------------------------------

    async def step(self) -> None:
        """s: one iteration (of each run), after pausing a run.

        A step timed slow (or not timed yet, on large data or a student's Functions) runs
        in the run worker, so that the screen, its elapsed time and q stay live; the key
        waits ``STEP_WAIT`` for it, so that a step that ends by then shows at once.
        """
        if not self.ready("step"):
            return
        await self.stop_run()
        if self.finished_note():
            return
        self.epoch += 1
        if self.slow_step():
            await self.step_in_worker()
            return
        started = time.perf_counter()
        try:
            self.experiment.step()
        except Exception as error:  # noqa: BLE001 - a student's Functions can raise anything
            self.report_run_error(error)
        else:
            self.clock.last_step_seconds = time.perf_counter() - started
        self.show_experiment()

    def slow_step(self) -> bool:
        """Whether a step may take long enough to run in the worker."""
        seconds = self.clock.last_step_seconds
        if seconds is not None:
            return seconds >= SLOW_STEP
        return bool(getattr(self.experiment, "slow", False))

    async def step_in_worker(self) -> None:
        if self.port.leaving():
            return
        self.stop = threading.Event()
        self.stepping = True
        worker = self.run_worker = self.port.start_run(
            self.experiment, self.epoch, self.stop, steps=1
        )
        self.port.changed()
        timed = self.clock.last_step_seconds is not None
        deadline = time.perf_counter() + (STEP_WAIT if timed else UNTIMED_STEP_WAIT)
        while not getattr(worker, "is_finished", True) and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        if getattr(worker, "is_finished", True) and self.run_worker is worker:
            # Ended already: shown now (its end message, read later, is then ignored).
            self.run_ended(getattr(worker, "error", None))

    async def toggle_run(self) -> None:
        """r: run until the end, or pause a run."""
        if not self.ready("toggle_run"):
            return
        if self.running:
            self.stop.set()  # the worker stops after its chunk; run_ended shows it
            self.port.changed()
            return
        await self.stop_run()
        if self.finished_note() or self.port.leaving():
            return
        self.epoch += 1
        self.rate.clear()
        self.stop = threading.Event()
        self.run_worker = self.port.start_run(self.experiment, self.epoch, self.stop)
        self.port.changed()

    async def reset(self) -> None:
        """x: back to iteration 0 (the same initial W and b)."""
        if not self.ready("reset"):
            return
        await self.stop_run()
        self.experiment.reset()
        self.new_run()

    async def reload_functions(self) -> None:
        """o: check the student's file again, in a child process.  If it passes the run starts
        over with its new Functions; if not, the run on screen keeps the Functions it has."""
        if (self.wanted or self.config).functions is None:
            self.port.notify(
                _("no Functions file to reload: amal-tui --functions FILE.py runs yours"),
                severity="warning",
            )
            return
        if self.reloading or "reload_functions" in self.pending:
            return  # pressed twice: one check is enough (a later version is offered after it)
        if not self.ready("reload_functions"):
            return
        self.resume_after_reload = self.running
        await self.stop_run()
        self.port.clear_notifications()  # the offer to reload, the last verdict: stale
        self.reloading, self.file_offer = True, None
        self.start_load(self.config, recheck=True)

    async def sweep(self) -> None:
        """w: a learning-rate sweep from this run's start over the last range swept (the run
        pauses meanwhile: the sweep takes the CPU)."""
        if not self.ready("sweep"):
            return
        if self.config.functions is not None:
            self.port.notify(_(SWEEP_NEEDS_REFERENCE), severity="warning")
            return
        sweep = self.port.sweep_range()
        if sweep is None:
            return
        self.resume_after_sweep = self.running
        await self.stop_run()
        self.port.show_sweep(self.experiment, sweep)

    async def sweep_chosen(self, learning_rate: float | None) -> None:
        """The sweep view closed: Enter's ε becomes the run's (one run, from iteration 0, as
        the settings form does); Escape changes nothing (a run paused for it goes on)."""
        resume, self.resume_after_sweep = self.resume_after_sweep, False
        if learning_rate is None:
            if resume and not self.running:
                await self.toggle_run()
            return
        config = self.wanted or self.config
        await self.apply(config.replace(learning_rate=learning_rate, compare=()))

    def change_speed(self, direction: int) -> None:
        """[ and ]: the next speed down or up (iterations per second, or max)."""
        self.speed = next_speed(self.speed, direction)
        self.rate.clear()  # the steps/s of the old speed would linger for a second
        self.port.changed()

    async def scale_learning_rate(self, factor: float) -> None:
        """+ and -: ε × 10 or ÷ 10 (not while comparing: c changes those)."""
        config = self.wanted or self.config
        if config.compare:
            self.port.notify(_("comparing learning rates: c changes them"), severity="warning")
            return
        learning_rate = float(f"{config.learning_rate * factor:.12g}")
        try:
            parse_learning_rate(learning_rate)
        except ConfigError as error:
            self.port.notify(
                _("learning rate {reason}").format(reason=error.reason), severity="warning"
            )
            return
        await self.apply(config.replace(learning_rate=learning_rate))

    def compare(self) -> None:
        """c: ask for learning rates to compare (it needs no engine)."""
        self.port.ask_compare(self.last_compare)

    async def compare_chosen(self, rates: tuple[float, ...] | None) -> None:
        if rates is None:
            return  # Escape: nothing changes
        config = self.wanted or self.config
        if rates:
            self.last_compare = rates
        elif not config.compare:
            return
        await self.apply(config.replace(compare=rates))

    def choose_data(self) -> None:
        """d: the data screen, for the settings in use or waiting to load (it needs no engine)."""
        problem = None if self.experiment is None else self.experiment.problem
        self.port.ask_data(self.wanted or self.config, problem)

    async def data_chosen(self, changes: Mapping[str, Any] | None) -> None:
        """The data screen closed: Enter's settings start the run over, as the form's do."""
        if changes is None:
            return  # Escape: nothing changes
        await self.apply_settings(changes)

    def save(self) -> None:
        """e: ask where to save (once loaded; nothing to save before)."""
        if self.experiment is None:
            self.ready("save")
            return
        name = time.strftime("amal-run-%Y%m%d-%H%M%S.json")
        self.port.ask_save_path(self.last_save_path or os.path.join(self.save_dir, name))

    async def save_chosen(self, path: str | None) -> None:
        if path is None:
            return
        if self.busy or self.experiment is None:
            self.port.notify(
                _("busy loading or saving: press e again in a moment"), severity="warning"
            )
            return
        # Saved as it stands at the moment Enter was pressed: the run pauses for the save
        # (the worker is the only one to touch the descents meanwhile), then goes on.
        was_running = self.running
        await self.stop_run()
        self.last_save_path = path
        self.save_worker = self.port.start_save(self.experiment, path)
        if was_running:
            self.pending.append("toggle_run")
        self.port.changed()

    def save_ended(self, saved: bool, result: Any) -> None:
        """The save worker ended: ``saved``, ``result`` is the files written; else the error."""
        self.save_worker = None
        if saved:
            json_path, csv_path = result
            self.last_save_path = None
            self.saved = str(json_path)
            self.port.notify(
                presenter.saved_text(json_path, csv_path), title=_("saved"), timeout=10
            )
        else:
            self.port.notify(presenter.save_error_text(result), severity="error", timeout=20)
        self.port.changed()
        self.port.call_later(self.drain_pending)

    async def apply_settings(self, changes: Mapping[str, Any]) -> None:
        """The settings panel was applied: every edited field at once (one new run, not one
        per field); none edited starts the same settings over."""
        try:
            config = (self.wanted or self.config).replace(**changes)
        except ConfigError as error:  # pragma: no cover - the form validated them already
            self.port.notify(str(error), severity="error")
            return
        await self.apply(config)

    async def apply_setting(self, setting: str, value: Any) -> None:
        """One setting applied (a script's, a test's)."""
        await self.apply_settings({setting: value})

    async def apply(self, config: Config) -> None:
        """Use ``config`` from now on: a new Experiment at iteration 0, built by the loading
        worker (the data again only if they change); until it is ready the run on screen stays."""
        await self.stop_run()
        # What was said of the last settings (a divergence ahead, a run's end) is stale:
        # without this, holding + stacks one warning per key press over the screen.
        self.port.clear_notifications()
        self.wanted = config
        self.port.show_config(config)
        if self.loading is None:
            self.start_load(config)

    # -- leaving ------------------------------------------------------------------------

    def close_experiment(self, experiment: Any = None, timeout: float | None = None) -> None:
        """Flush and close its logs, once no worker uses it (``timeout``: give up after that)."""
        experiment = experiment or self.experiment
        if experiment is None:
            return
        if not self.session_lock.acquire(timeout=-1 if timeout is None else timeout):
            return  # a chunk that does not end (a student's Function stuck): the exit goes on
        try:
            experiment.close()
        finally:
            self.session_lock.release()
