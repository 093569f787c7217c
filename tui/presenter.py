"""What the app shows, as pure functions of the engine's state: no widget, no Textual.

The controller (``tui/controller.py``) knows the run's state; the App hands what
these return to its widgets.  Each function takes snapshots (``RunView``), a
``Config`` or an Experiment's parts and returns text, rows or a ``StatusInfo``:
tests call them with recorded states, without a terminal.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.config import Config, shown_path
from engine.i18n import N_, _, ngettext

from .messages import RunView
from .pacing import speed_text
from .parameters import TO_OPTIMUM, TO_TRUTH
from .states import BY_NAME
from .status_line import StatusInfo

# The word of each state: :mod:`tui.states` (one table, which the help screen explains).
SAVING = N_("saving…")  # translated where shown: _(SAVING)


def state_word(state: str, engine_error: str | None = None) -> str:
    """The status line's word for the controller's ``state`` ("failed": why it cannot start)."""
    if state == "failed":
        return f"{_(BY_NAME['failed'].word)}: {engine_error}"
    known = BY_NAME.get(state)
    return state if known is None else _(known.word)


def _state_fields(state: str, engine_error: str | None) -> dict[str, Any]:
    """The status line's word, mark, hint and style for ``state`` (from the one table)."""
    known = BY_NAME.get(state)
    if known is None:
        return dict(state=state)
    return dict(
        state=state_word(state, engine_error),
        mark=known.mark,
        hint=_(known.hint) if known.hint else "",
        style=known.style,
    )


def status_info(
    state: str,
    views: Sequence[RunView],
    *,
    comparing: bool = False,
    engine_error: str | None = None,
    speed: float | None = None,
    steps_per_second: float | None = None,
    tensorboard: str = "",
    load_progress: str | None = None,
    saved: str | None = None,
    computing: str = "",
) -> StatusInfo:
    """The status line for the runs ``views`` (none yet while the engine loads)."""
    words = _state_fields(state, engine_error)
    if not views:
        return StatusInfo(**words, tensorboard=tensorboard, data=load_progress or "")
    common: dict[str, Any] = dict(
        computing=computing,
        speed=speed_text(speed),
        **words,
        saved="" if saved is None else _("saved {saved}").format(saved=shown_path(saved)),
        steps_per_second=steps_per_second,
        tensorboard=tensorboard,
        data=load_progress or "",
    )
    if comparing:
        iteration = max(run.snapshot.iteration for run in views)
        best = best_run(views)
        return StatusInfo(
            iteration=iteration,
            loss=None if best is None else best.snapshot.loss,
            best_rate=None if best is None else best.learning_rate,
            **common,
        )
    run = views[0]
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


def best_run(views: Sequence[RunView]) -> RunView | None:
    """The run of a comparison whose loss is the lowest (a diverged one never is)."""
    finite = [
        run for run in views if run.snapshot.loss is not None and math.isfinite(run.snapshot.loss)
    ]
    return min(finite, key=lambda run: run.snapshot.loss) if finite else None


def tensorboard_text(
    config: Config, views: Sequence[RunView], *, loaded: bool = True, comparing: bool = False
) -> str:
    """Where the TensorBoard logs go, and the command that shows them."""
    if not config.tensorboard:
        return _("TensorBoard: off (--no-tensorboard)")
    if not loaded:
        return _("TensorBoard: logs under {logdir}/").format(logdir=shown_path(config.logdir))
    folders = [run.log_folder for run in views if run.log_folder is not None]
    if not folders:
        return _("TensorBoard: off (logging failed)")
    if comparing:
        return _(
            "TensorBoard: {folders} runs under {logdir}/  (tensorboard --logdir {logdir})"
        ).format(folders=len(folders), logdir=shown_path(config.logdir))
    return _("TensorBoard: {folders}  (tensorboard --logdir {logdir})").format(
        folders=shown_path(folders[0]), logdir=shown_path(config.logdir)
    )


def end_note(snapshot: Any, theory: Any, threshold: float) -> str:
    """Why a run that converged is still far from the optimum, if it is (``": …"`` or "")."""
    if snapshot.status.value != "converged" or theory is None:
        return ""
    from engine.core.theory import threshold_note

    note = threshold_note(threshold, theory.optimal_loss)
    return f": {note}" if note else ""


def end_notice(run: RunView, *, comparing: bool, theory: Any, threshold: float) -> tuple[str, str]:
    """What a notification says when a run stops by itself, and its severity."""
    snapshot = run.snapshot
    severity = "information" if snapshot.status.value == "converged" else "warning"
    where = f"ε {run.learning_rate:g}: " if comparing else ""
    note = end_note(snapshot, theory, threshold)
    return _("{where}{status} at {iteration}{note}").format(
        where=where, status=_(snapshot.status.value), iteration=snapshot.iteration, note=note
    ), severity


def finished_note(comparing: bool, status: str) -> str:
    """What a key that moves a finished run says instead."""
    if comparing:
        return _("every run has stopped: x resets them")
    return _("the run has {status}: x resets it").format(status=_(status))


def distances(snapshot: Any, theory: Any, problem: Any) -> tuple[tuple[str, float | None], ...]:
    """How far (W, b) is from the least-squares optimum, and from the truth of synthetic data."""
    from engine.core.theory import distance  # loaded with the engine, before any snapshot

    out: list[tuple[str, float | None]] = []
    if theory is not None:
        out.append((TO_OPTIMUM, theory.distance(snapshot.W, snapshot.b)))
    if getattr(problem, "W_true", None) is not None:
        out.append((TO_TRUTH, distance(snapshot.W, snapshot.b, problem.W_true, problem.b_true)))
    return tuple(out)


def data_description(problem: Any) -> str:
    """``toy: n=50, d=13, m=3``: the data of the run on screen."""
    return problem.describe()


@dataclass(frozen=True)
class GapTheory:
    """What the chart's gap view needs of the theory: each run's ρ (None: no rate), why none
    is predicted, and the prediction itself, all from ``engine.core.theory``."""

    rates: tuple[float | None, ...]
    no_rate: str | None
    resolution: float

    def anchor(self, gaps: Any) -> int | None:
        from engine.core.theory import gap_anchor

        return gap_anchor(gaps, self.resolution)

    def predicted(self, rate: float, iteration: int, gap: float, iterations: Any) -> Any:
        from engine.core.theory import predicted_gaps

        return predicted_gaps(rate, iteration, gap, iterations)


def gap_theory(views: Sequence[RunView], config: Config, theory: Any, problem: Any) -> GapTheory:
    """The gap view's theory for the runs on screen (the engine decides when a rate applies)."""
    from engine.core.theory import contraction, gap_resolution, why_no_rate

    n = problem.X.shape[0]
    no_rate = why_no_rate(config.optimizer, config.batch_size, n, known=theory is not None)
    if theory is None:
        return GapTheory((None,) * len(views), no_rate, 0.0)
    resolution = gap_resolution(theory.optimal_loss, config.dtype)
    if no_rate is not None:
        return GapTheory((None,) * len(views), no_rate, resolution)
    rates = tuple(contraction(run.learning_rate, theory.hessian_eigenvalues) for run in views)
    return GapTheory(rates, None, resolution)


def data_in_use(problem: Any) -> list[str]:
    """What the data screen says of the data in use: what the loader learned (the rows, the
    columns used, standardised or not), then its notes (rows dropped, a constant column)."""
    if problem is None:
        return []
    data = getattr(problem, "data", None)
    if data is None:
        lines = [problem.describe()]
    else:
        first, *notes = data.lines()
        lines = [f"{os.path.basename(data.source) or data.source}: {first}", *notes]
    # A line may quote a file's name or a column's: escaped, never sent raw.
    return [line if line.isprintable() else repr(line)[1:-1] for line in lines]


def parameter_names(problem: Any) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The names that label W's rows and the columns of W and b: a data file's columns (its
    header's, or "0", "1"… without one), as the loader read them; None for the toy and
    synthetic data, whose rows keep their indexes."""
    from engine.data.loading import SOURCES

    data = getattr(problem, "data", None)
    if data is None or data.source in SOURCES:
        return None
    return data.features, data.targets


def comparison_curves(views: Sequence[RunView]) -> list[tuple[str, Any]]:
    """The chart's curves while comparing: each learning rate's losses, named by it."""
    return [(f"{run.learning_rate:g}", run.losses) for run in views]


def computing_text(step: int, seconds: float) -> str:
    """A slow step being computed, with its elapsed time (said while it takes long)."""
    return _("computing step {step}… {seconds:.1f} s").format(step=step, seconds=seconds)


def load_progress_text(source: str, fraction: float) -> str:
    """How far the loading worker has read a data file (or drawn the synthetic data)."""
    if source == "synthetic":
        if fraction < 1:
            return _("making synthetic data {fraction:.0%}").format(fraction=fraction)
        return _("made synthetic data")
    name = shown_path(os.path.basename(source) or source)
    return (
        _("reading {name} {fraction:.0%}").format(name=name, fraction=fraction)
        if fraction < 1
        else _("loaded {name}").format(name=name)
    )


def loading_text(config: Config) -> str | None:
    """What the status line says while ``config``'s data are read (nothing for the toy data)."""
    return (
        None if config.data == "toy" else _("loading {data}…").format(data=shown_path(config.data))
    )


def one_line(error: BaseException) -> str:
    """A worker's error (loading, running, saving) as one line; running out of memory says so."""
    from engine.data.dataset import DataError
    from engine.data.memory import out_of_memory
    from engine.student.refusal import FunctionsRefused

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


def run_error_text(error: BaseException, functions: str | None) -> str:
    """Why a run (or a step) stopped on an error: a student's Functions are named as theirs."""
    from engine.data.memory import out_of_memory

    memory = out_of_memory(error)
    if memory is not None:
        return _("the run stopped: {memory}").format(memory=memory)
    if functions is not None:
        from engine.student.loading import describe_run_error

        return _("your Functions raised: {error}").format(
            error=describe_run_error(error, functions)
        )
    return _("the run stopped: {error}").format(error=one_line(error))


def save_error_text(error: BaseException | None) -> str:
    """Why a save failed; a SaveError says itself what was and was not replaced."""
    from engine.record.saving import SaveError

    if isinstance(error, SaveError):
        return str(error)
    return _("not saved: {value}").format(value=one_line(error or Exception()))


def saved_text(json_path: Any, csv_path: Any) -> str:
    return _("saved in {json_path} and {csv_path}").format(
        json_path=shown_path(json_path), csv_path=shown_path(csv_path)
    )


def compare_prompt(rates: Sequence[float]) -> tuple[str, str, str, str]:
    """The compare prompt: title, explanation, the learning rates it proposes, its keys."""
    return (
        _("Compare learning rates"),
        _(
            "Each learning rate runs from the same data and the same initial W and b. "
            "Separate them with commas (at most 8); leave it empty to go back to one run."
        ),
        ",".join(f"{rate:g}" for rate in rates),
        _("enter: compare · empty + enter: one run · esc: cancel"),
    )


# What c does, under the learning rates while they are compared (the longest that fits).
COMPARE_KEY_HINT = (
    N_("c: choose the learning rates compared · empty: back to one run"),
    N_("c: choose the rates compared · empty: back to one run"),
    N_("c: other rates · empty: back to one run"),
    N_("c: other rates · empty: one run"),
)


def save_prompt(
    path: str, comparing: bool, cwd: str, save_dir: str = "amal-runs"
) -> tuple[str, str, str, str]:
    """The save prompt: title, explanation, the path it proposes, its keys."""
    return (
        _("Save the comparison") if comparing else _("Save the run"),
        (
            _(
                "The comparison (settings, theory, losses, final W and b) as JSON, and its "
                "losses as NAME.losses.csv beside it, in {folder}/ (made at the first "
                "save; --save-dir changes it). A relative path starts in {cwd}."
            )
            if comparing
            else _(
                "The run (settings, theory, losses, final W and b) as JSON, and its "
                "losses as NAME.losses.csv beside it, in {folder}/ (made at the first "
                "save; --save-dir changes it). A relative path starts in {cwd}."
            )
        ).format(folder=shown_path(save_dir), cwd=shown_path(cwd)),
        path,
        _("enter: save · esc: cancel"),
    )


def refused_report(config: Config | None, error: Any) -> tuple[str, str, str]:
    """The report of a student's Functions that failed the check: title, text, note."""
    name = shown_path(os.path.basename(config.functions or "")) if config else ""
    return (
        _("the check of {name}").format(name=name),
        error.report,
        _("{error}: the run does not start. Closing this quits.").format(error=error),
    )


def check_verdict(report: Any) -> str:
    """The check's verdict on a student's Functions in a few words, from its own report
    (a ``CheckReport``): ``✓ checked``, ``✗ MSE: gradients for yhat, y wrong``, or its error."""
    if report is None:
        return ""
    if report.passed:
        return _("✓ checked")
    if report.error:  # not loaded, or the check was stopped: its own line, less the file's name
        error, path = report.error, report.path
        if path:
            name = os.path.basename(path)
            for prefix in (f"{path}: ", f"{name}: ", f"{name}, "):
                error = error.removeprefix(prefix)
        return f"✗ {error}"
    parts = []
    for function in report.functions:
        if function.passed:
            continue
        wrong = [s.name for s in (function.forward, function.backward) if not s.passed]
        raised = function.exception
        gradients = [g.name for g in function.gradients if not g.passed]
        if gradients:
            wrong.append(
                ngettext("gradient for {names}", "gradients for {names}", len(gradients)).format(
                    names=", ".join(gradients)
                )
            )
        what = ", ".join(wrong) or _("its check")
        if raised is not None:
            parts.append(
                _("{name}: {during} raises {kind}").format(
                    name=function.name, during=raised.during, kind=raised.kind
                )
            )
        else:
            parts.append(_("{name}: {what} wrong").format(name=function.name, what=what))
    return "✗ " + ("; ".join(parts) or _("check failed"))


def too_small_text(width: int, height: int, min_width: int, min_height: int) -> str:
    return _(
        "terminal too small (need at least {min_width}×{min_height}, this one is {width}×{height})\nq quits"
    ).format(min_width=min_width, min_height=min_height, width=width, height=height)
