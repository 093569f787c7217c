"""What the app steps: one Session, or one per learning rate of a comparison, on one problem.

An :class:`Experiment` is built in a thread worker (:func:`build_experiment`
imports torch, may read a large file and computes the theory, which takes
seconds on large data); afterwards only one thread at a time calls its
methods: the run worker while a run goes on, the UI thread otherwise.

This module imports the engine only inside :func:`build_experiment`, so the app
can import it before torch loads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from engine.config import Config, shown_path
from engine.core.chunks import ChunkSizer
from engine.i18n import _

from .messages import RunView

# A problem with this many numbers in X or more may take a noticeable time a step
# (about 10 ms at 4M float32 on a laptop core): its first step runs in a worker.
SLOW_PROBLEM_ELEMENTS = 1 << 22


class Experiment:
    """The sessions of one configuration, their problem, its theory and the Functions used."""

    def __init__(
        self,
        config: Config,
        sessions: list[Any],
        problem: Any,
        functions: dict[str, type],
        theory: Any = None,
        diverges: tuple[bool | None, ...] = (),
        check: Any = None,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.problem = problem
        self.functions = functions
        self.theory = theory
        """``problem.theory`` (optimal_loss, lr_max, W_star...), None if it could not be computed."""
        self.diverges = diverges or (None,) * len(sessions)
        """The theory's verdict on each session before it runs (None: the bound does not apply)."""
        self.check = check
        """The check's report on a student's Functions (``--functions``); None for the engine's."""
        self._chunks = ChunkSizer()

    @property
    def comparing(self) -> bool:
        return bool(self.config.compare)

    @property
    def session(self) -> Any:
        """The first session: the only one outside a comparison."""
        return self.sessions[0]

    @property
    def descents(self) -> list[Any]:
        return [session.descent for session in self.sessions]

    @property
    def finished(self) -> bool:
        return all(session.descent.status.finished for session in self.sessions)

    @property
    def iteration(self) -> int:
        """The furthest iteration of its descents (they advance side by side)."""
        return max(session.descent.iteration for session in self.sessions)

    @property
    def chunk_size(self) -> int:
        """How many iterations (of each descent) ``run_for`` runs next."""
        chunks = self._chunks if self.comparing else self.session._chunks
        return chunks.size

    @property
    def slow(self) -> bool:
        """Whether a step may take long before one was timed: a student's Functions (their
        code may loop in Python) or a large problem (a step reads all of X)."""
        return bool(self.functions) or self.problem.X.numel() >= SLOW_PROBLEM_ELEMENTS

    def uses_functions_of(self, config: Config) -> bool:
        """Whether ``config`` asks for the same Functions (no new load and check needed)."""
        return (config.functions, config.mse_name, config.linear_name, config.force) == (
            self.config.functions,
            self.config.mse_name,
            self.config.linear_name,
            self.config.force,
        )

    # -- stepping (one thread at a time) ----------------------------------------------------

    def step(self) -> None:
        """One iteration of every descent that has not stopped."""
        self.advance(1)

    def advance(self, steps: int) -> bool:
        """``steps`` iterations of every descent that has not stopped; True once all have."""
        if steps > 0:
            for session in self.sessions:
                if not session.descent.status.finished:
                    session.advance(steps)
        return self.finished

    def run_for(self, seconds: float) -> bool:
        """Iterations for about ``seconds``; True once every descent has stopped.

        A comparison advances each unfinished descent by the same number of
        iterations, so the curves grow side by side.
        """
        if not self.comparing:
            return self.session.run_for(seconds).finished
        live = [session for session in self.sessions if not session.descent.status.finished]
        if not live:
            return True
        started = time.perf_counter()
        before = sum(session.descent.iteration for session in live)
        for session in live:
            session.advance(self._chunks.size)
        done = sum(session.descent.iteration for session in live) - before
        self._chunks.update(done, time.perf_counter() - started, seconds, runs=len(live))
        return self.finished

    def reset(self) -> None:
        for session in self.sessions:
            session.reset()

    def close(self) -> None:
        """Flush and close every TensorBoard log; safe to call twice."""
        for session in self.sessions:
            session.close()

    # -- reading ------------------------------------------------------------------------

    def views(self) -> tuple[RunView, ...]:
        """What the screen shows of each descent, as plain numpy (safe to hand over)."""
        return tuple(
            RunView(
                learning_rate=session.descent.config.learning_rate,
                snapshot=session.descent.snapshot(),
                losses=session.descent.losses,
                test_losses=session.descent.test_losses,
                log_folder=session.log_folder,
                diverges=verdict,
            )
            for session, verdict in zip(self.sessions, self.diverges, strict=True)
        )


def data_note(problem: Any) -> str | None:
    """What the loader learned about the problem's data, for a notification: the columns used,
    whether standardised, then its notes (rows dropped, a constant column, a guessed header)."""
    data = problem.data
    if data is None:
        return None
    return f"{shown_path(data.source)}: " + "\n".join(data.lines())


def functions_stamp(path: str) -> tuple[int, int, int] | None:
    """What tells a new version of a student's file (modified time, size, inode: an editor may
    save by renaming a new file over it) without reading it; None while there is no such file."""
    try:
        stat = os.stat(path)
    except (OSError, ValueError):  # gone, unreadable folder, a name the system refuses
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def build_experiment(
    config: Config,
    warn: Callable[[str], None],
    reuse: Experiment | None = None,
    progress: Callable[[float], None] | None = None,
    recheck: bool = False,
) -> Experiment:
    """Import the engine (torch) and build what ``config`` describes; slow the first time.

    ``reuse``: the experiment on screen.  Its problem is used again when ``config``
    describes the same data and initial W, b (no file read again), and its
    Functions when they are the same, unless ``recheck`` asks to check and load the
    student's file again (it changed).  ``progress(fraction)`` is called while a
    large file is read.  Raises ``engine.data.dataset.DataError`` for a data file that
    cannot be used, :class:`engine.student.refusal.FunctionsRefused` for a student's Functions that
    cannot run.
    """
    process = None
    reused = reuse is not None and not recheck and reuse.uses_functions_of(config)
    if config.functions is not None and not reused:
        from engine.student.sandbox import StudentProcess

        # The check runs the file in a child process: started first, its torch loads while ours does.
        process = StudentProcess(str(config.functions)).start()
    try:
        from engine import experiment
        from engine.session import Session

        check = None
        if config.functions is None:
            functions: dict[str, type] = {}
        elif process is None:
            functions, check = reuse.functions, reuse.check
        else:
            functions, check, warning = experiment.student_functions(config, process)
            if warning is not None:
                warn(warning)
    finally:
        if process is not None:
            process.close()

    if reuse is not None and config.same_problem(reuse.config):
        problem = reuse.problem
    else:
        problem = experiment.make_problem(config, progress)
        if progress is not None:
            progress(1.0)  # a cancellation point: the theory may take seconds on large data
    stopped: list[BaseException] = []

    def between_blocks() -> None:
        # A cancellation point on large data (q, newer settings): what progress raises there
        # stops the load, never read as a theory that failed.
        try:
            progress(1.0)
        except BaseException as reason:
            stopped.append(reason)
            raise

    try:
        # Cached on the problem: computed once per data set.
        theory = problem.compute_theory(between_blocks if progress is not None else None)
    except Exception as error:  # noqa: BLE001 - the run does not need it; say why it is missing
        if stopped:
            raise stopped[0] from None
        warn(
            _("the theory could not be computed: {kind}: {error}").format(
                kind=type(error).__name__, error=error
            )
        )
        theory = None

    descents = experiment.make_descents(config, problem, functions)
    verdicts: tuple[bool | None, ...] = (None,) * len(descents)
    if theory is not None:
        # Once each: a comparison's runs share their batch size.
        for warning in experiment.all_run_warnings(descents):
            warn(warning)
        verdicts = tuple(experiment.descent_diverges(descent) for descent in descents)
    sessions = [Session(descent.config, descent, warn=warn) for descent in descents]
    return Experiment(config, sessions, problem, functions, theory, verdicts, check)
