"""Several learning rates from the same start: the notebook's lesson on one screen."""

from __future__ import annotations

from .config import Config
from .descent import Descent
from .problem import Problem, make_problem


def compare_descents(
    config: Config, problem: Problem | None = None, **functions: type
) -> list[Descent]:
    """One descent per learning rate of ``config.compare``, all from the same data and W, b.

    ``functions``: ``mse=`` and ``linear=`` to use a student's Functions.
    """
    problem = problem or make_problem(config)
    return [Descent(config.for_learning_rate(lr), problem, **functions) for lr in config.compare]


def comparison_table(descents: list[Descent]) -> str:
    """One row per learning rate; ``loss`` is the last iteration's, as the notebook prints it
    and the app shows it (``final_loss`` in JSON is the loss after that iteration's update)."""
    lines = [f"  {'learning rate':>13}  {'status':<10} {'iterations':>10}  {'loss':>12}"]
    for descent in descents:
        losses = descent.losses
        last = f"{losses[-1]:.6g}" if len(losses) else "—"
        lines.append(
            f"  {descent.config.learning_rate:>13g}  {descent.status.value:<10} "
            f"{descent.iteration:>10}  {last:>12}"
        )
    return "\n".join(lines)
