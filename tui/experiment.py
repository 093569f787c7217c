"""What the app steps: one Session, or one per learning rate of a comparison, on one problem.

An :class:`Experiment` is built in a thread worker (:func:`build_experiment`
imports torch, may read a large file and computes the theory, which takes
seconds on large data); afterwards only one thread at a time calls its
methods: the run worker while a run goes on, the UI thread otherwise.

This module imports the engine only inside :func:`build_experiment`, so the app
can import it before torch loads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from engine.chunks import ChunkSizer
from engine.config import Config, shown_path

from .messages import RunView


class FunctionsRefused(Exception):
    """A student's Functions (``--functions``) cannot be loaded or fail the check.

    ``str()`` is one line; ``report`` is the check's whole report for the report screen.
    """

    def __init__(self, message: str, report: str) -> None:
        super().__init__(message)
        self.report = report


class Experiment:
    """The sessions of one configuration, their problem, its theory and the Functions used."""

    def __init__(
        self,
        config: Config,
        sessions: list[Any],
        problem: Any,
        functions: dict[str, type],
        theory: Any = None,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.problem = problem
        self.functions = functions
        self.theory = theory
        """``problem.theory`` (optimal_loss, lr_max, W_star...), None if it could not be computed."""
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
            )
            for session in self.sessions
        )


def _student_functions(
    config: Config, warn: Callable[[str], None], process: Any = None
) -> dict[str, type]:
    """The student's classes, loaded here once they pass the check (or fail it, with ``--force``).

    The check runs the file in a child process; only its verdict lets the file run here.
    """
    from engine.check import load_and_check, refusal

    mse, linear, report = load_and_check(
        config.functions,
        config.mse_name,
        config.linear_name,
        force=config.force,
        process=process,
    )
    if mse is None or linear is None:
        raise FunctionsRefused(
            f"the Functions of {shown_path(config.functions)} {refusal(report)}", report.text()
        )
    if not report.passed:
        warn(
            f"running with Functions that fail the check (--force): {shown_path(config.functions)}"
        )
    return {"mse": mse, "linear": linear}


def build_experiment(
    config: Config,
    warn: Callable[[str], None],
    reuse: Experiment | None = None,
    progress: Callable[[float], None] | None = None,
) -> Experiment:
    """Import the engine (torch) and build what ``config`` describes; slow the first time.

    ``reuse``: the experiment on screen.  Its problem is used again when ``config``
    describes the same data and initial W, b (no file read again), and its
    Functions when they are the same.  ``progress(fraction)`` is called while a
    large file is read.  Raises ``engine.data.DataError`` for a data file that
    cannot be used, :class:`FunctionsRefused` for a student's Functions that
    cannot run.
    """
    process = None
    if config.functions is not None and not (reuse is not None and reuse.uses_functions_of(config)):
        from engine.sandbox import StudentProcess

        # The check runs the file in a child process: started first, its torch loads while ours does.
        process = StudentProcess(str(config.functions)).start()
    try:
        from engine.compare import compare_descents
        from engine.descent import Descent
        from engine.headless import run_warnings
        from engine.problem import make_problem
        from engine.session import Session

        if config.functions is None:
            functions: dict[str, type] = {}
        elif process is None:
            functions = reuse.functions
        else:
            functions = _student_functions(config, warn, process)
    finally:
        if process is not None:
            process.close()

    if reuse is not None and config.same_problem(reuse.config):
        problem = reuse.problem
    else:
        problem = make_problem(config, progress)
    try:
        theory = problem.theory  # cached on the problem: computed once per data set
    except Exception as error:  # noqa: BLE001 - the run does not need it; say why it is missing
        warn(f"the theory could not be computed: {type(error).__name__}: {error}")
        theory = None

    if config.compare:
        descents = compare_descents(config, problem, **functions)
    else:
        descents = [Descent(config, problem, **functions)]
    if theory is not None:
        # Once each: a comparison's runs share their batch size.
        for warning in dict.fromkeys(w for descent in descents for w in run_warnings(descent)):
            warn(warning)
    sessions = [Session(descent.config, descent, warn=warn) for descent in descents]
    return Experiment(config, sessions, problem, functions, theory)
