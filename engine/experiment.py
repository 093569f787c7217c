"""The engine's façade: a run built from a :class:`~engine.config.Config`, for every front end.

The command line (``tui/headless.py``) and the Textual app (``tui/experiment.py``)
both ask this module, so that a policy is written once: which problem a config
describes (and what the loader learned about its data), whether a student's
Functions may run (the ``--force`` policy), which descents a run or a comparison
steps, and what to tell the user before they run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from engine.config import Config, shown_path
from engine.core.descent import Descent
from engine.core.problem import TORCH_DTYPES, DataNotes, Problem, notebook_problem, toy_problem
from engine.core.theory import Bound, stability_bound
from engine.data.dataset import Dataset
from engine.data.loading import load
from engine.i18n import _
from engine.student.refusal import FunctionsRefused


def make_problem(config: Config, progress: Callable[[float], None] | None = None) -> Problem:
    """The problem a config describes: the notebook's, synthetic data or a file.

    Raises ``engine.data.dataset.DataError`` (one line naming the file and the
    problem) for a file that cannot be used.  ``progress`` gets fractions in [0, 1]
    while a large file is read.  What the loader learned (rows dropped, constant
    columns, a guessed header, the columns used) stays on the problem as ``data``.
    """
    dtype = TORCH_DTYPES[config.dtype]
    plain_notebook = config.data == "toy" and not config.test_fraction and not config.standardize
    if plain_notebook:
        return notebook_problem(config)
    dataset = load(
        config.data,
        n=config.n,
        d=config.d,
        m=config.m,
        noise=config.noise,
        target=config.target,
        standardize=config.standardize,
        test_fraction=config.test_fraction,
        dropna=config.dropna,
        seed=config.seed,
        dtype=np.dtype(config.dtype),
        progress=progress,
    )
    if config.data == "toy":
        # The notebook's W, b, drawn after its X, Y (or from the init seed).
        notebook = toy_problem(config.seed, config.init_seed, dtype, config.device)
        W0, b0 = notebook.W0, notebook.b0
    else:
        generator = torch.Generator().manual_seed(
            config.seed if config.init_seed is None else config.init_seed
        )
        W0 = torch.randn(dataset.d, dataset.m, generator=generator).to(
            dtype=dtype, device=config.device
        )
        b0 = torch.randn(1, dataset.m, generator=generator).to(dtype=dtype, device=config.device)

    def tensor(array: np.ndarray | None) -> torch.Tensor | None:
        # from_numpy shares the loader's memory: no copy of the data on the CPU.
        return None if array is None else torch.from_numpy(array).to(config.device)

    return Problem(
        tensor(dataset.X),
        tensor(dataset.Y),
        W0,
        b0,
        name=dataset.source,
        X_test=tensor(dataset.X_test),
        Y_test=tensor(dataset.Y_test),
        W_true=dataset.W_true,
        b_true=dataset.b_true,
        description=dataset.describe(),
        data=data_notes(dataset),
    )


def data_notes(dataset: Dataset) -> DataNotes:
    """What the loader learned about ``dataset``, as the user is told it."""
    return DataNotes(
        source=dataset.source,
        rows=dataset.n,
        test_rows=dataset.n_test,
        features=tuple(dataset.feature_names),
        targets=tuple(dataset.target_names),
        standardized=dataset.standardized,
        dropped_rows=dataset.dropped_rows,
        notes=dataset.notes,
    )


def student_functions(
    config: Config, process: Any = None
) -> tuple[dict[str, type], Any, str | None]:
    """``(functions, report, warning)``: the classes a run uses, the check's report, and what
    to tell the user before running.  The ``--force`` policy, for every front end.

    No ``--functions``: the engine's own, no report.  The file is checked in a
    child process first (``process``: one already started); it runs here only when
    it passes, or when it fails and ``config.force`` asks to run it anyway (then
    ``warning`` says so).  Otherwise raises :class:`FunctionsRefused`.
    """
    if config.functions is None:
        return {}, None, None
    from engine.student.check import load_and_check, refusal

    mse, linear, report = load_and_check(
        config.functions,
        config.mse_name,
        config.linear_name,
        force=config.force,
        process=process,
    )
    if mse is None or linear is None:
        raise FunctionsRefused(
            _("the Functions of {functions} {report}").format(
                functions=shown_path(config.functions), report=refusal(report)
            ),
            report.text(),
            report,
        )
    warning = None
    if not report.passed:
        warning = _("running with Functions that fail the check (--force): {functions}").format(
            functions=shown_path(config.functions)
        )
    if getattr(linear, "vector_bias", False):
        # Written for the course's b = torch.randn(m): run in that convention, and say so.
        convention = _(
            "the Linear of {functions} takes b of shape (m,): the descent gives it b as (m,) and its gradient back as the notebook's (1, m)"
        ).format(functions=shown_path(config.functions))
        warning = convention if warning is None else f"{warning}; {convention}"
    return {"mse": mse, "linear": linear}, report, warning


def compare_descents(
    config: Config, problem: Problem | None = None, **functions: type
) -> list[Descent]:
    """One descent per learning rate of ``config.compare``, all from the same data and W, b.

    ``functions``: ``mse=`` and ``linear=`` to use a student's Functions.
    """
    problem = problem or make_problem(config)
    return [Descent(config.for_learning_rate(lr), problem, **functions) for lr in config.compare]


def make_descents(config: Config, problem: Problem, functions: dict[str, type]) -> list[Descent]:
    """The descents ``config`` asks for: one per learning rate when comparing, else one."""
    if config.compare:
        return compare_descents(config, problem, **functions)
    return [Descent(config, problem, **functions)]


def run_warnings(descent: Descent) -> list[str]:
    """What to tell the user before a descent runs: a sure divergence, a batch size too large."""
    config, problem = descent.config, descent.problem
    warnings = []
    n = problem.X.shape[0]
    bound = run_bound(descent)
    if bound is not None and config.learning_rate > bound.value:
        warnings.append(
            _(
                "learning rate {learning_rate:g} > {name} = {value:.6g}: {config} will diverge on this problem"
            ).format(
                learning_rate=config.learning_rate,
                name=bound.name,
                value=bound.value,
                config=_method(config),
            )
        )
    if config.batch_size is not None and config.batch_size >= n:
        warnings.append(
            _(
                "batch size {batch_size} >= the {n} training points: every mini-batch is the whole batch"
            ).format(batch_size=config.batch_size, n=n)
        )
    return warnings


def _method(config: Config) -> str:
    if config.optimizer == "sgd":
        return _("gradient descent")
    return _("gradient descent with {optimizer} μ = {momentum:g}").format(
        optimizer=config.optimizer, momentum=config.momentum
    )


def run_bound(descent: Descent) -> Bound | None:
    """The stability bound of ``descent``'s optimizer on its data (None where none is known)."""
    config, problem = descent.config, descent.problem
    return stability_bound(
        problem.theory.lr_max,
        config.optimizer,
        config.batch_size,
        problem.X.shape[0],
        config.momentum,
    )


def all_run_warnings(descents: list[Descent]) -> list[str]:
    """The warnings of several descents, each said once (a comparison's share a batch size)."""
    return list(dict.fromkeys(w for descent in descents for w in run_warnings(descent)))


def descent_diverges(descent: Descent) -> bool | None:
    """The theory's verdict on ``descent`` before it runs (None: no bound is known for it)."""
    bound = run_bound(descent)
    return None if bound is None else descent.config.learning_rate > bound.value


def inside_last_step(descent: Descent) -> tuple[Any, list[Any] | None]:
    """``(step, differences)``: the descent's last step Function call by Function call
    (``engine.core.inside.InsideStep``, None before the first step), and for a student's
    Functions where each of their values differs from the reference
    (``engine.student.step_check.Difference``; None for the engine's own Functions).

    Replays the last chunk on copies: call it while nothing else steps the descent.
    """
    from engine.core.functions import MSE, Linear
    from engine.core.inside import record_last_step

    step = record_last_step(descent)
    if step is None or (descent.mse is MSE and descent.linear is Linear):
        return step, None
    from engine.student.step_check import check_step

    return step, check_step(step)
