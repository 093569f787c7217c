"""The headless runner: a whole descent in the terminal, printed as the notebook prints it."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _interrupt_flag() -> Iterator[threading.Event]:
    """Ctrl+C sets a flag checked between chunks, so an interrupted run stays consistent."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, lambda *_: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


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

    def run(self, session: Session, interrupt: threading.Event, on_chunk=None, label="") -> None:
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
        json_path, csv_path = save_run(save, config, descents)
    except SaveError as error:
        print(f"amal-tui: error: {error}", file=err)
        return False
    print(f"amal-tui: saved the run in {json_path} and {csv_path}", file=err)
    return True


class _LoadingProgress:
    """``reading data.csv  42%`` on stderr while a large file loads, when stderr is a terminal."""

    def __init__(self, stream: TextIO, source: str) -> None:
        self.stream, self.source = stream, source
        self.enabled = stream.isatty()
        self.visible = False

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        if fraction >= 1.0:
            if self.visible:
                self.stream.write("\r\033[K")
            self.visible = False
        else:
            self.stream.write(f"\r\033[K  reading {self.source}  {fraction:4.0%}")
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
) -> int:
    """Run to the end (or Ctrl+C); print the log or one JSON object; return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    functions, exit_code = student_functions(config, json_output, out, err)
    if exit_code is not None:
        return exit_code
    try:
        problem = make_problem(config, _LoadingProgress(err, config.data))
    except DataError as error:
        err.write(f"amal-tui: error: {error}\n")
        return EXIT_USAGE
    try:
        if config.compare:
            return _run_compare(config, json_output, save, out, err, functions, problem)
        return _run_one(config, json_output, save, out, err, functions, problem)
    except StudentRunError as error:
        err.write(f"amal-tui: error: your Functions raised during the run: {error}\n")
        return EXIT_ERROR


def _run_one(config, json_output, save, out, err, functions, problem) -> int:
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

    with _interrupt_flag() as interrupt:
        runner.run(session, interrupt, None if json_output else print_log)
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
    saved = _save(config, [descent], save, err)
    if runner.interrupted:
        return EXIT_INTERRUPTED
    if not saved:
        return EXIT_ERROR
    return EXIT_DIVERGED if status is Status.DIVERGED else EXIT_OK


def _run_compare(config: Config, json_output: bool, save, out, err, functions, problem) -> int:
    runner = _Runner(config, err)
    descents = compare_descents(config, problem, **functions)
    warned: set[str] = set()
    with _interrupt_flag() as interrupt:
        for descent in descents:
            if runner.interrupted:
                break
            for warning in run_warnings(descent):
                if warning not in warned:  # a batch size too large: once, not per run
                    warned.add(warning)
                    runner.warn(warning)
            session = Session(descent.config, descent, warn=runner.warn)
            runner.run(session, interrupt, label=f"ε = {descent.config.learning_rate:g}  ")
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
    saved = _save(config, descents, save, err)
    if runner.interrupted:
        return EXIT_INTERRUPTED
    if not saved:
        return EXIT_ERROR
    if any(descent.status is Status.DIVERGED for descent in descents):
        return EXIT_DIVERGED
    return EXIT_OK
