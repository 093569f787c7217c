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
    lines = [f"  {'learning rate':>13}  {'status':<10} {'iterations':>10}  {'final loss':>12}"]
    for descent in descents:
        final = descent.final_loss()
        lines.append(
            f"  {descent.config.learning_rate:>13g}  {descent.status.value:<10} "
            f"{descent.iteration:>10}  {final:>12.6g}"
        )
    return "\n".join(lines)
