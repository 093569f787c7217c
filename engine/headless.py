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

from .config import Config
from .descent import Status
from .session import Session

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

    def update(self, iteration: int, loss: float | None) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self.shown_at < 0.2 or now - self.started < 0.5:
            return
        rate = iteration / (now - self.started)
        loss_text = "" if loss is None else f"  loss {loss:.6g}"
        self.stream.write(
            f"\r\033[K  iteration {iteration}/{self.max_iter}{loss_text}  {rate:,.0f} steps/s"
        )
        self.stream.flush()
        self.shown_at = now
        self.visible = True

    def clear(self) -> None:
        if self.visible:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.visible = False


def _print_log_lines(out: TextIO, losses, start: int, end: int) -> None:
    first = -(-start // LOG_EVERY) * LOG_EVERY
    for k in range(first, end, LOG_EVERY):
        out.write(f"Iterations|\t TRAIN {k}: loss {float(losses[k])}\n")


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


def run_headless(
    config: Config,
    json_output: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run to the end (or Ctrl+C); print the log or one JSON object; return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    session = Session(config, warn=lambda message: print(f"amal-tui: warning: {message}", file=err))
    descent = session.descent
    progress = _Progress(err, config.max_iter)
    if not json_output:
        out.write(f"\n{RULE} BATCH GRADIENT DESCENT {RULE}\n\n")
    printed = 0
    interrupted = False
    with _interrupt_flag() as interrupt:
        try:
            while not descent.status.finished:
                if interrupt.is_set():
                    interrupted = True
                    break
                session.run_for(CHUNK_SECONDS)
                losses = descent.losses
                if not json_output:
                    _print_log_lines(out, losses, printed, len(losses))
                    printed = len(losses)
                progress.update(len(losses), float(losses[-1]) if len(losses) else None)
        finally:
            progress.clear()
            session.close()
    status = descent.status
    if json_output:
        summary = descent.summary()
        if interrupted:
            summary["interrupted"] = True
        out.write(json.dumps(summary, allow_nan=False) + "\n")
    else:
        out.write(_ending(status, descent.iteration, interrupted) + "\n")
        out.write(f"\n{RULE}---- FINAL ESTIMATES {RULE}--\n\n")
        out.write(f"FINAL W equals\n{descent.W}\n\nFINAL b equals\n{descent.b}\n")
        out.write(f"\n{'-' * 93}\n")
    if session.log_folder is not None:
        err.write(
            f"amal-tui: TensorBoard log in {session.log_folder} (tensorboard --logdir {config.logdir})\n"
        )
    out.flush()
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_DIVERGED if status is Status.DIVERGED else EXIT_OK
