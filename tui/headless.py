"""``amal-tui --headless`` as a process: signals, a failing stdout and the exit status.

A whole descent (or a comparison) printed as the notebook prints it, or one
JSON object; saved with ``--save``.  The engine (:mod:`engine.experiment`) builds
the run; the terminal's side is here: progress lines, signals, exit statuses.
Ctrl+C, SIGTERM (kill) and SIGHUP (a dropped link) ask the run
to stop at its next chunk: it then prints its summary, saves (with --save), says
on stderr where it stopped, and exits 128 + the signal (130, 143, 129).  A second
Ctrl+C stops at once (out of a student's file stuck in a loop), even mid-save; a
second SIGTERM or SIGHUP changes nothing (SIGKILL is there for that).  A stdout that fails (``| head``, closed, a full disk)
stops a run that nobody keeps; a run to be saved goes on to its end and is saved.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from engine import experiment
from engine.config import Config, shown_path
from engine.core.descent import Descent, Status
from engine.core.finite import finite_or_none
from engine.core.theory import threshold_note
from engine.data.dataset import DataError
from engine.i18n import N_, _
from engine.record.saving import SaveError, save_run
from engine.session import Session
from engine.student.loading import describe_run_error
from engine.student.refusal import FunctionsRefused
from tui.exits import (
    EXIT_BROKEN_PIPE,
    EXIT_DIVERGED,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)
from tui.streams import standard_streams

STOPPING_SIGNALS = {
    signal.SIGINT: N_("SIGINT (Ctrl+C)"),
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: N_("SIGHUP (hang-up)"),
}


@contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[list[int]]:
    """While inside, each of STOPPING_SIGNALS asks ``stop`` to stop; yields the signals received.

    A signal ignored when amal-tui started stays ignored (``nohup`` ignores SIGHUP).
    A second Ctrl+C raises KeyboardInterrupt, as if there were no handler.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handle(signum: int, frame: object) -> None:
        if received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(signum)
        stop.set(STOPPING_SIGNALS[signum])

    previous = {}
    for signum in STOPPING_SIGNALS:
        if signal.getsignal(signum) == signal.SIG_IGN:
            continue
        previous[signum] = signal.signal(signum, handle)
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


LOG_EVERY = 100
CHUNK_SECONDS = 0.05
RULE = "-" * 33


class StopRequest:
    """Asks a headless run to stop at its next chunk; set by a front end (a signal handler).

    The run then saves what it has (with ``save``) and says why it stopped on
    stderr: ``reason`` ("SIGTERM", "interrupted"); a request without a reason stops
    quietly (the front end explains, e.g. the output's reader went away).
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def set(self, reason: str | None = None) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


class _StoppedWhileLoading(Exception):
    """A stop asked for while the data loads: nothing has run, nothing to save."""


class _Progress:
    """A one-line progress indicator on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO, max_iter: int) -> None:
        self.stream = stream
        self.max_iter = max_iter
        self.enabled = stream.isatty()
        self.started = time.perf_counter()
        self.shown_at = self.started
        self.visible = False

    def update(self, iteration: int, loss: float | None, label: str = "") -> None:
        now = time.perf_counter()
        if not self.enabled or now - self.shown_at < 0.2 or now - self.started < 0.5:
            return
        loss_text = "" if loss is None else _("  loss {loss:.6g}").format(loss=loss)
        self.stream.write(
            _("\r\x1b[K  {label}iteration {iteration}/{max_iter}{loss_text}").format(
                label=label, iteration=iteration, max_iter=self.max_iter, loss_text=loss_text
            )
        )
        self.stream.flush()
        self.shown_at = now
        self.visible = True

    def clear(self) -> None:
        if self.visible:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.visible = False


def _log_lines(losses, start: int, end: int) -> Iterator[str]:
    first = -(-start // LOG_EVERY) * LOG_EVERY
    for k in range(first, end, LOG_EVERY):
        yield _("Iterations|\t TRAIN {k}: loss {losses}\n").format(k=k, losses=float(losses[k]))


def _ending(status: Status, iterations: int, interrupted: bool) -> str:
    if interrupted:
        return _("\t\t.......Interrupted at n = {iterations}").format(iterations=iterations)
    if status is Status.CONVERGED:
        return _("\t\t.......Convergence reached at n = {iterations}").format(iterations=iterations)
    if status is Status.DIVERGED:
        return _(
            "\t\t.......Diverged at n = {iterations}: the loss or a parameter is no longer finite"
        ).format(iterations=iterations)
    return _("\t\t.......Broke the loop without converging.")


def theory_line(descent: Descent) -> str:
    theory = descent.problem.theory
    bound = experiment.run_bound(descent)
    config = descent.config
    if bound is not None and config.optimizer == "sgd":
        said = _("full-batch descent diverges for ε > 2/L = {lr_max:.6g}").format(
            lr_max=theory.lr_max
        )
    elif bound is not None:
        said = _(
            "full-batch {optimizer} (μ = {momentum:g}) diverges for ε > {name} = {value:.6g} (plain descent's 2/L = {lr_max:.6g})"
        ).format(
            optimizer=config.optimizer,
            momentum=config.momentum,
            name=bound.name,
            value=bound.value,
            lr_max=theory.lr_max,
        )
    else:  # no bound is known for this run
        runs = [config.optimizer] if config.optimizer != "sgd" else []
        if config.batch_size is not None:
            runs.append(_("mini-batches of {batch_size}").format(batch_size=config.batch_size))
        said = _(
            "plain full-batch descent diverges for ε > 2/L = {lr_max:.6g}, a bound that does not hold for {runs}"
        ).format(lr_max=theory.lr_max, runs=_(" on ").join(runs))
    line = _(
        "Theory: the loss cannot go under the least-squares optimum {optimal_loss:.6g}; {said} (condition number {condition_number:.4g})."
    ).format(optimal_loss=theory.optimal_loss, said=said, condition_number=theory.condition_number)
    note = threshold_note(descent.config.threshold, theory.optimal_loss)
    if descent.status is Status.CONVERGED and note:
        line += _("\nNote: {note}.").format(note=note)
    return line


class _Runner:
    """Runs sessions to the end in chunks, with Ctrl+C and the progress line."""

    def __init__(self, config: Config, err: TextIO) -> None:
        self.config = config
        self.err = err
        self.interrupted = False

    def warn(self, message: str) -> None:
        print(_("amal-tui: warning: {message}").format(message=message), file=self.err)

    def run(self, session: Session, interrupt: StopRequest, on_chunk=None, label="") -> None:
        progress = _Progress(self.err, self.config.max_iter)
        descent = session.descent
        try:
            while not descent.status.finished:
                if interrupt.is_set():
                    self.interrupted = True
                    return
                try:
                    session.run_for(CHUNK_SECONDS)
                except Exception as error:
                    if self.config.functions is None:
                        raise
                    raise StudentRunError(
                        describe_run_error(error, self.config.functions)
                    ) from error
                if on_chunk is not None:
                    on_chunk()
                losses = descent.losses
                progress.update(len(losses), float(losses[-1]) if len(losses) else None, label)
        finally:
            progress.clear()
            session.close()


def _save(config: Config, descents, save: str | None, err: TextIO) -> bool:
    if save is None:
        return True
    try:
        # Never replace the data set or the Functions the run was made from.
        kept = [path for path in (config.data, config.functions) if path]
        json_path, csv_path = save_run(save, config, descents, keep=kept)
    except SaveError as error:
        print(_("amal-tui: error: {error}").format(error=error), file=err)
        return False
    print(
        _("amal-tui: saved the run in {json_path} and {csv_path}").format(
            json_path=shown_path(json_path), csv_path=shown_path(csv_path)
        ),
        file=err,
    )
    return True


class _LoadingProgress:
    """``reading data.csv  42%`` on stderr while a large file loads, when stderr is a terminal."""

    def __init__(self, stream: TextIO, source: str, stop: StopRequest) -> None:
        self.stream, self.source, self.stop = stream, source, stop
        self.enabled = stream.isatty()
        self.visible = False

    def __call__(self, fraction: float) -> None:
        # A large file takes a while: a stop asked for meanwhile ends the loading.
        if self.stop.is_set():
            raise _StoppedWhileLoading
        if not self.enabled:
            return
        if fraction >= 1.0:
            if self.visible:
                self.stream.write("\r\033[K")
            self.visible = False
        else:
            self.stream.write(
                _("\r\x1b[K  reading {source}  {fraction:4.0%}").format(
                    source=shown_path(self.source), fraction=fraction
                )
            )
            self.visible = True
        self.stream.flush()


class StudentRunError(Exception):
    """A student's Functions raised during the run; ``str()`` names their file and line."""


def student_functions(config: Config, json_output: bool, out: TextIO, err: TextIO):
    """``(functions, exit_code)``: the student's classes to run with, or the code to exit with.

    The policy (check first, refuse unless ``--force``) is the engine's; this says it.
    """
    if config.functions is None:
        return {}, None
    try:
        functions, report, warning = experiment.student_functions(config)
    except FunctionsRefused as refused:
        report = refused.check
        if report is not None and report.output:
            err.write(report.printed())
        err.write(refused.report + "\n")
        if json_output and report is not None:
            out.write(json.dumps({"check": report.to_dict()}, allow_nan=False) + "\n")
        err.write(_("amal-tui: {refused}: the run does not start\n").format(refused=refused))
        return None, EXIT_ERROR
    if report.output:
        err.write(report.printed())
    if warning is None:
        err.write(
            _("amal-tui: ✓ {functions}: MSE and Linear pass the check\n").format(
                functions=shown_path(config.functions)
            )
        )
    else:
        err.write(report.text() + "\n")
        err.write(_("amal-tui: warning: {warning}\n").format(warning=warning))
    return functions, None


def run(
    config: Config,
    json_output: bool = False,
    save: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stop: StopRequest | None = None,
) -> int:
    """Run to the end (or to a ``stop`` request); print the log or one JSON object; save it
    with ``save``; return the exit code (EXIT_INTERRUPTED when stopped)."""
    out = out or sys.stdout
    err = err or sys.stderr
    stop = stop or StopRequest()
    functions, exit_code = student_functions(config, json_output, out, err)
    if exit_code is not None:
        return exit_code
    try:
        problem = experiment.make_problem(config, _LoadingProgress(err, config.data, stop))
    except DataError as error:
        err.write(_("amal-tui: error: {error}\n").format(error=error))
        return EXIT_USAGE
    except _StoppedWhileLoading:
        problem = None
    if problem is None or stop.is_set():
        if stop.reason:
            err.write(
                _("amal-tui: {reason}: stopped before the run started; nothing to save\n").format(
                    reason=_(stop.reason)
                )
            )
        return EXIT_INTERRUPTED
    try:
        if config.sweep:
            return _run_sweep(config, json_output, out, err, problem, stop)
        if config.compare:
            return _run_compare(config, json_output, save, out, err, functions, problem, stop)
        return _run_one(config, json_output, save, out, err, functions, problem, stop)
    except StudentRunError as error:
        err.write(
            _("amal-tui: error: your Functions raised during the run: {error}\n").format(
                error=error
            )
        )
        return EXIT_ERROR


def data_lines(problem) -> list[str]:
    """What the loader learned, for the text output: the columns used, then its notes
    (rows dropped, a constant column, a guessed header); nothing for the notebook's data."""
    data = problem.data
    if data is None:
        return []
    first, *notes = data.lines()
    lines = [_("Data: {source}: {first}\n").format(source=shown_path(data.source), first=first)]
    return lines + [_("Data note: {note}\n").format(note=note) for note in notes]


def data_object(problem) -> dict | None:
    """The same for ``--json``: None for the notebook's own data."""
    return None if problem.data is None else problem.data.to_dict()


def comparison_table(descents: list[Descent]) -> str:
    """One row per learning rate; ``loss`` is the last iteration's, as the notebook prints it
    and the app shows it (``final_loss`` in JSON is the loss after that iteration's update)."""
    (rate, status, iterations, loss), (wr, ws, wi, wl) = _columns()
    lines = [f"  {rate:>{wr}}  {status:<{ws}} {iterations:>{wi}}  {loss:>{wl}}"]
    for descent in descents:
        losses = descent.losses
        last = f"{losses[-1]:.6g}" if len(losses) else "—"
        lines.append(
            f"  {descent.config.learning_rate:>{wr}g}  {_(descent.status.value):<{ws}} "
            f"{descent.iteration:>{wi}}  {last:>{wl}}"
        )
    return "\n".join(lines)


def _columns() -> tuple[tuple[str, str, str, str], tuple[int, int, int, int]]:
    """The tables' headers in the current language, and each column's width (at least the
    English one's, so that the English tables stay as they were)."""
    headers = (_("learning rate"), _("status"), _("iterations"), _("loss"))
    return headers, tuple(max(w, len(h)) for w, h in zip((13, 10, 10, 12), headers, strict=True))


def _stopped_line(reason: str, descents) -> str:
    """Where a stopped run was: one line for stderr, whatever became of stdout."""
    reason = _(reason)

    def where(descent: Descent) -> str:
        losses = descent.losses
        loss = _(", loss {losses:.6g}").format(losses=float(losses[-1])) if len(losses) else ""
        return _("n = {iteration}{loss}").format(iteration=descent.iteration, loss=loss)

    if len(descents) == 1:
        return _("amal-tui: {reason}: stopped at {descents}\n").format(
            reason=reason, descents=where(descents[0])
        )
    places = []
    for descent in descents:
        rate = _("ε = {learning_rate:g}").format(learning_rate=descent.config.learning_rate)
        if descent.status is Status.READY:
            places.append(_("{rate} not started").format(rate=rate))
        elif descent.status is Status.RUNNING:
            places.append(
                _("{rate} stopped at {descent}").format(rate=rate, descent=where(descent))
            )
        else:
            places.append(
                _("{rate} {status} at {descent}").format(
                    rate=rate, status=_(descent.status.value), descent=where(descent)
                )
            )
    return _("amal-tui: {reason}: stopped; ").format(reason=reason) + ", ".join(places) + "\n"


def _run_one(config, json_output, save, out, err, functions, problem, stop) -> int:
    runner = _Runner(config, err)
    session = Session(config, Descent(config, problem, **functions), warn=runner.warn)
    descent = session.descent
    for warning in experiment.run_warnings(descent):
        runner.warn(warning)
    if not json_output:
        out.writelines(data_lines(problem))
        out.write(_("\n{RULE} BATCH GRADIENT DESCENT {RULE}\n\n").format(RULE=RULE))
    printed = 0

    def print_log() -> None:
        nonlocal printed
        losses = descent.losses
        out.writelines(_log_lines(losses, printed, len(losses)))
        printed = len(losses)

    runner.run(session, stop, None if json_output else print_log)
    status = descent.status
    if json_output:
        summary = descent.summary()
        summary["data"] = data_object(problem)
        if runner.interrupted:
            summary["interrupted"] = True
        out.write(json.dumps(summary, allow_nan=False) + "\n")
    else:
        out.write(_ending(status, descent.iteration, runner.interrupted) + "\n")
        out.write(_("\n{RULE}---- FINAL ESTIMATES {RULE}--\n\n").format(RULE=RULE))
        out.write(
            _("FINAL W equals\n{W}\n\nFINAL b equals\n{b}\n").format(W=descent.W, b=descent.b)
        )
        test_losses = descent.test_losses
        if test_losses is not None and len(test_losses):
            out.write(
                _(
                    "\nTEST loss, on the {value} rows kept apart: {test_losses:.6g} at the start, {test_losses2:.6g} at the end\n"
                ).format(
                    value=descent.problem.X_test.shape[0],
                    test_losses=test_losses[0],
                    test_losses2=test_losses[-1],
                )
            )
        out.write(f"\n{'-' * 93}\n{theory_line(descent)}\n")
    out.flush()
    if session.log_folder is not None:
        err.write(
            _("amal-tui: TensorBoard log in {log_folder}\n").format(log_folder=session.log_folder)
        )
    if runner.interrupted and stop.reason:
        err.write(_stopped_line(stop.reason, [descent]))
    saved = _save(config, [descent], save, err)
    if runner.interrupted:
        return EXIT_INTERRUPTED
    if not saved:
        return EXIT_ERROR
    return EXIT_DIVERGED if status is Status.DIVERGED else EXIT_OK


def _run_compare(
    config: Config, json_output: bool, save, out, err, functions, problem, stop: StopRequest
) -> int:
    runner = _Runner(config, err)
    descents = experiment.compare_descents(config, problem, **functions)
    warned: set[str] = set()
    for descent in descents:
        if runner.interrupted:
            break
        for warning in experiment.run_warnings(descent):
            if warning not in warned:  # a batch size too large: once, not per run
                warned.add(warning)
                runner.warn(warning)
        session = Session(descent.config, descent, warn=runner.warn)
        runner.run(
            session,
            stop,
            label=_("ε = {learning_rate:g}  ").format(learning_rate=descent.config.learning_rate),
        )
    if json_output:
        result = {
            "runs": [descent.summary() for descent in descents],
            "theory": descents[0].theory_dict(),
            "data": data_object(problem),
        }
        if runner.interrupted:
            result["interrupted"] = True
        out.write(json.dumps(result, allow_nan=False) + "\n")
    else:
        out.writelines(data_lines(problem))
        out.write(comparison_table(descents) + "\n")
        if runner.interrupted:
            out.write(_("  (interrupted)\n"))
        out.write(theory_line(descents[0]) + "\n")
    out.flush()
    if runner.interrupted and stop.reason:
        err.write(_stopped_line(stop.reason, descents))
    saved = _save(config, descents, save, err)
    if runner.interrupted:
        return EXIT_INTERRUPTED
    if not saved:
        return EXIT_ERROR
    if any(descent.status is Status.DIVERGED for descent in descents):
        return EXIT_DIVERGED
    return EXIT_OK


def _run_sweep(config: Config, json_output: bool, out, err, problem, stop: StopRequest) -> int:
    """``--sweep FROM:TO:K``: K rates as one batched run; a row per rate, the edges, the theory."""
    from engine.core.sweep import Sweep, edges, predicted_last_losses, sweep_rates

    start, stop_rate, count = config.sweep
    sweep = Sweep(config, sweep_rates(start, stop_rate, count), problem)
    progress = _Progress(err, config.max_iter)
    interrupted = False
    size = 16
    while not sweep.finished:
        if stop.is_set():
            interrupted = True
            break
        began = time.perf_counter()
        sweep.run(size)
        # Chunks of about CHUNK_SECONDS, so that Ctrl+C is heard at once whatever K costs.
        if time.perf_counter() - began < CHUNK_SECONDS / 2:
            size = min(size * 2, 1 << 16)
        progress.update(sweep.iteration, None, label=_("{count} rates  ").format(count=count))
    progress.clear()
    runs = sweep.results()
    predicted = predicted_last_losses(sweep, runs)
    found = edges(runs)
    descent = Descent(config.for_learning_rate(start), problem)
    bound = experiment.run_bound(descent)
    if json_output:
        finals = sweep.final_losses()
        result = {
            "runs": [sweep.summary(k, final_loss=float(finals[k])) for k in range(len(runs))],
            "theory": descent.theory_dict(),
            "data": data_object(problem),
            "sweep": {
                "from": start,
                "to": stop_rate,
                "count": count,
                "learning_rates": list(sweep.learning_rates),
                "largest_converged": found.largest_converged,
                "smallest_diverged": found.smallest_diverged,
                "predicted_losses": None
                if predicted is None
                else [finite_or_none(float(v)) for v in predicted],
            },
        }
        if interrupted:
            result["interrupted"] = True
        out.write(json.dumps(result, allow_nan=False) + "\n")
    else:
        out.writelines(data_lines(problem))
        out.write(
            _(
                "Sweep: {count} learning rates from {start:g} to {stop_rate:g} (log-spaced), from one start, as one batched run of at most {max_iter} iterations\n"
            ).format(count=count, start=start, stop_rate=stop_rate, max_iter=config.max_iter)
        )
        out.write(sweep_table(runs, predicted) + "\n")
        if interrupted:
            out.write(_("  (interrupted)\n"))
        out.write(edges_line(found, bound) + "\n")
        out.write(theory_line(descent) + "\n")
    out.flush()
    if interrupted:
        if stop.reason:
            err.write(
                _("amal-tui: {reason}: stopped at iteration {iteration}\n").format(
                    reason=_(stop.reason), iteration=sweep.iteration
                )
            )
        return EXIT_INTERRUPTED
    return EXIT_OK


def sweep_table(runs, predicted) -> str:
    """A row per rate: its end, and the theory's loss at its last iteration where exact."""
    word = _("theory")  # outside the f-string: Babel does not extract inside one
    theory = "" if predicted is None else f"  {word:>12}"
    (rate, status, iterations, loss), (wr, ws, wi, wl) = _columns()
    lines = [f"  {rate:>{wr}}  {status:<{ws}} {iterations:>{wi}}  {loss:>{wl}}{theory}"]
    for k, run in enumerate(runs):
        last = f"{run.losses[-1]:.6g}" if run.iterations else "—"
        row = f"  {run.learning_rate:>{wr}.4g}  {_(run.status.value):<{ws}} {run.iterations:>{wi}}  {last:>{wl}}"
        if predicted is not None:
            row += f"  {predicted[k]:>12.6g}"
        lines.append(row)
    return "\n".join(lines)


def edges_line(found, bound) -> str:
    """Where convergence turned into divergence, and whether the run's bound lies there."""
    low = _("none") if found.largest_converged is None else f"{found.largest_converged:.4g}"
    high = _("none") if found.smallest_diverged is None else f"{found.smallest_diverged:.4g}"
    line = _("Largest ε that converged: {low}; smallest that diverged: {high}").format(
        low=low, high=high
    )
    if bound is None:
        return line + _(" (no stability bound is known for this run).")
    where = _("lies between them") if found.brackets(bound.value) else _("is not between them")
    return _("{line}; the bound {name} = {value:.4g} {where}.").format(
        line=line, name=bound.name, value=bound.value, where=where
    )


def run_headless(config: Config, json_output: bool = False, save: str | None = None) -> int:
    """Run ``config`` headless on sys.stdout / sys.stderr; return the exit status."""
    stop = StopRequest()

    def output_failed(error: OSError) -> None:
        if save is None:
            stop.set()  # nobody reads it and nothing is kept: stop quietly

    out, err = standard_streams(output_failed)
    try:
        with stop_on_signals(stop) as received:
            code = run(config, json_output=json_output, save=save, out=out, err=err, stop=stop)
    except KeyboardInterrupt:
        err.write(_("amal-tui: Ctrl+C twice: stopped at once; what was not saved yet is not\n"))
        return EXIT_INTERRUPTED
    if received and code == EXIT_INTERRUPTED:
        return 128 + received[0]
    if out.error is None:
        return code
    if out.reader_went_away:
        if save is None:
            return EXIT_BROKEN_PIPE  # as quiet as any program in a pipe
        err.write(_("amal-tui: the reader of the output went away: the run went on, for --save\n"))
        return EXIT_ERROR if code == EXIT_ERROR else EXIT_BROKEN_PIPE
    what = (
        _("the run went on, for --save")
        if save
        else _("the run stopped there (with --save it goes on and is saved)")
    )
    err.write(
        _("amal-tui: error: cannot write to stdout: {describe_error}: {what}\n").format(
            describe_error=out.describe_error(), what=what
        )
    )
    return EXIT_ERROR
