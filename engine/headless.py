"""The headless runner: a whole descent in the terminal, printed as the notebook prints it."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

from .compare import compare_descents, comparison_table
from .config import Config, shown_path
from .data import DataError
from .descent import Descent, Status
from .problem import make_problem
from .saving import SaveError, save_run
from .session import Session
from .student import describe_run_error
from .tensorboard import warn_stderr
from .theory import threshold_note

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
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
        loss_text = "" if loss is None else f"  loss {loss:.6g}"
        self.stream.write(f"\r\033[K  {label}iteration {iteration}/{self.max_iter}{loss_text}")
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
        yield f"Iterations|\t TRAIN {k}: loss {float(losses[k])}\n"


def _ending(status: Status, iterations: int, interrupted: bool) -> str:
    if interrupted:
        return f"\t\t.......Interrupted at n = {iterations}"
    if status is Status.CONVERGED:
        return f"\t\t.......Convergence reached at n = {iterations}"
    if status is Status.DIVERGED:
        return (
            f"\t\t.......Diverged at n = {iterations}: the loss or a parameter is no longer finite"
        )
    return "\t\t.......Broke the loop without converging."


def theory_line(descent: Descent) -> str:
    theory = descent.problem.theory
    line = (
        f"Theory: the loss cannot go under the least-squares optimum {theory.optimal_loss:.6g}; "
        f"full-batch descent diverges for ε > 2/L = {theory.lr_max:.6g} "
        f"(condition number {theory.condition_number:.4g})."
    )
    note = threshold_note(descent.config.threshold, theory.optimal_loss)
    if descent.status is Status.CONVERGED and note:
        line += f"\nNote: {note}."
    return line


def run_warnings(descent: Descent) -> list[str]:
    """What to tell the user before a descent runs: a sure divergence, a batch size too large."""
    config, problem = descent.config, descent.problem
    warnings = []
    lr_max = problem.theory.lr_max
    if config.optimizer == "sgd" and config.learning_rate > lr_max:
        warnings.append(
            f"learning rate {config.learning_rate:g} > 2/L = {lr_max:.6g}: "
            "gradient descent will diverge on this problem"
        )
    n = problem.X.shape[0]
    if config.batch_size is not None and config.batch_size >= n:
        warnings.append(
            f"batch size {config.batch_size} >= the {n} training points: "
            "every mini-batch is the whole batch"
        )
    return warnings


class _Runner:
    """Runs sessions to the end in chunks, with Ctrl+C and the progress line."""

    def __init__(self, config: Config, err: TextIO) -> None:
        self.config = config
        self.err = err
        self.interrupted = False

    def warn(self, message: str) -> None:
        warn_stderr(message, self.err)

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
        print(f"amal-tui: error: {error}", file=err)
        return False
    print(
        f"amal-tui: saved the run in {shown_path(json_path)} and {shown_path(csv_path)}", file=err
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
            self.stream.write(f"\r\033[K  reading {shown_path(self.source)}  {fraction:4.0%}")
            self.visible = True
        self.stream.flush()


class StudentRunError(Exception):
    """A student's Functions raised during the run; ``str()`` names their file and line."""


def student_functions(config: Config, json_output: bool, out: TextIO, err: TextIO):
    """``(functions, exit_code)``: the student's classes to run with, or the code to exit with.

    The file is loaded and checked first; a failed check stops here unless ``config.force``.
    """
    if config.functions is None:
        return {}, None
    from .check import load_and_check, refusal

    # Checked in a child process first: the file runs here only after the verdict (or --force).
    mse, linear, report = load_and_check(
        config.functions, config.mse_name, config.linear_name, force=config.force
    )
    if report.output:
        err.write(report.printed())
    if mse is not None and report.passed:
        err.write(f"amal-tui: ✓ {shown_path(config.functions)}: MSE and Linear pass the check\n")
        return {"mse": mse, "linear": linear}, None
    err.write(report.text() + "\n")
    if mse is not None:  # forced
        err.write("amal-tui: warning: running with Functions that fail the check (--force)\n")
        return {"mse": mse, "linear": linear}, None
    if json_output:
        out.write(json.dumps({"check": report.to_dict()}, allow_nan=False) + "\n")
    reason = refusal(report)
    err.write(
        f"amal-tui: the Functions of {shown_path(config.functions)} {reason}: the run does not start\n"
    )
    return None, EXIT_ERROR


def run_headless(
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
        problem = make_problem(config, _LoadingProgress(err, config.data, stop))
    except DataError as error:
        err.write(f"amal-tui: error: {error}\n")
        return EXIT_USAGE
    except _StoppedWhileLoading:
        problem = None
    if problem is None or stop.is_set():
        if stop.reason:
            err.write(f"amal-tui: {stop.reason}: stopped before the run started; nothing to save\n")
        return EXIT_INTERRUPTED
    try:
        if config.compare:
            return _run_compare(config, json_output, save, out, err, functions, problem, stop)
        return _run_one(config, json_output, save, out, err, functions, problem, stop)
    except StudentRunError as error:
        err.write(f"amal-tui: error: your Functions raised during the run: {error}\n")
        return EXIT_ERROR


def _stopped_line(reason: str, descents) -> str:
    """Where a stopped run was: one line for stderr, whatever became of stdout."""

    def where(descent: Descent) -> str:
        losses = descent.losses
        loss = f", loss {float(losses[-1]):.6g}" if len(losses) else ""
        return f"n = {descent.iteration}{loss}"

    if len(descents) == 1:
        return f"amal-tui: {reason}: stopped at {where(descents[0])}\n"
    places = []
    for descent in descents:
        rate = f"ε = {descent.config.learning_rate:g}"
        if descent.status is Status.READY:
            places.append(f"{rate} not started")
        elif descent.status is Status.RUNNING:
            places.append(f"{rate} stopped at {where(descent)}")
        else:
            places.append(f"{rate} {descent.status} at {where(descent)}")
    return f"amal-tui: {reason}: stopped; " + ", ".join(places) + "\n"


def _run_one(config, json_output, save, out, err, functions, problem, stop) -> int:
    runner = _Runner(config, err)
    session = Session(config, Descent(config, problem, **functions), warn=runner.warn)
    descent = session.descent
    for warning in run_warnings(descent):
        runner.warn(warning)
    if not json_output:
        out.write(f"\n{RULE} BATCH GRADIENT DESCENT {RULE}\n\n")
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
        if runner.interrupted:
            summary["interrupted"] = True
        out.write(json.dumps(summary, allow_nan=False) + "\n")
    else:
        out.write(_ending(status, descent.iteration, runner.interrupted) + "\n")
        out.write(f"\n{RULE}---- FINAL ESTIMATES {RULE}--\n\n")
        out.write(f"FINAL W equals\n{descent.W}\n\nFINAL b equals\n{descent.b}\n")
        test_losses = descent.test_losses
        if test_losses is not None and len(test_losses):
            out.write(
                f"\nTEST loss, on the {descent.problem.X_test.shape[0]} rows kept apart: "
                f"{test_losses[0]:.6g} at the start, {test_losses[-1]:.6g} at the end\n"
            )
        out.write(f"\n{'-' * 93}\n{theory_line(descent)}\n")
    out.flush()
    if session.log_folder is not None:
        err.write(f"amal-tui: TensorBoard log in {session.log_folder}\n")
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
    descents = compare_descents(config, problem, **functions)
    warned: set[str] = set()
    for descent in descents:
        if runner.interrupted:
            break
        for warning in run_warnings(descent):
            if warning not in warned:  # a batch size too large: once, not per run
                warned.add(warning)
                runner.warn(warning)
        session = Session(descent.config, descent, warn=runner.warn)
        runner.run(session, stop, label=f"ε = {descent.config.learning_rate:g}  ")
    if json_output:
        result = {
            "runs": [descent.summary() for descent in descents],
            "theory": descents[0].problem.theory.to_dict(),
        }
        if runner.interrupted:
            result["interrupted"] = True
        out.write(json.dumps(result, allow_nan=False) + "\n")
    else:
        out.write(comparison_table(descents) + "\n")
        if runner.interrupted:
            out.write("  (interrupted)\n")
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
