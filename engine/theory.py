"""What the notebook leaves out, computed from the data in float64.

The loss does not go to zero: it goes to the least-squares optimum of the
affine model.  And gradient descent with a step ε on a quadratic converges only
when ε < 2/L, L the largest eigenvalue of the loss's Hessian: past it, the
iterates oscillate with a growing amplitude and the loss blows up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .problem import Problem


@dataclass(frozen=True)
class Theory:
    optimal_loss: float
    """The smallest MSE an affine model X W + b can reach on this data."""
    lr_max: float
    """2 / L: full-batch gradient descent diverges for any larger learning rate."""
    condition_number: float
    """L / λ_min of the Hessian: how elongated the valley is (inf when it is flat somewhere)."""
    W_star: np.ndarray
    b_star: np.ndarray

    def to_dict(self) -> dict[str, float | None]:
        """The three figures, JSON-ready (a non-finite one becomes null)."""
        return {
            name: (value if math.isfinite(value) else None)
            for name, value in (
                ("optimal_loss", self.optimal_loss),
                ("lr_max", self.lr_max),
                ("condition_number", self.condition_number),
            )
        }

    def distance(self, W: np.ndarray, b: np.ndarray) -> float:
        """‖(W, b) − (W*, b*)‖, the Frobenius distance to the optimum."""
        return float(math.sqrt(np.sum((W - self.W_star) ** 2) + np.sum((b - self.b_star) ** 2)))


def theory(problem: Problem) -> Theory:
    X = problem.X.detach().to("cpu", torch.float64)
    Y = problem.Y.detach().to("cpu", torch.float64)
    n, m = X.shape[0], Y.shape[1]
    X_tilde = torch.cat([X, torch.ones(n, 1, dtype=torch.float64)], dim=1)
    # gelsd handles a rank-deficient X̃ (more features than points, a constant column).
    solution = torch.linalg.lstsq(X_tilde, Y, driver="gelsd").solution
    residual = X_tilde @ solution - Y
    optimal_loss = float((residual**2).sum() / residual.numel())
    # MSE = ‖X̃ Θ − Y‖² / (n m): its Hessian is 2/(n m) X̃ᵀX̃ for each output column.
    eigenvalues = torch.linalg.eigvalsh(X_tilde.T @ X_tilde * (2.0 / (n * m)))
    largest, smallest = float(eigenvalues[-1]), float(eigenvalues[0])
    # Eigenvalues under the round-off level of the largest are zero: the valley is flat there.
    flat = smallest <= largest * X_tilde.shape[1] * np.finfo(np.float64).eps
    return Theory(
        optimal_loss=optimal_loss,
        lr_max=2.0 / largest if largest > 0 else math.inf,
        condition_number=math.inf if flat else largest / smallest,
        W_star=solution[:-1].numpy(),
        b_star=solution[-1:].numpy(),
    )
