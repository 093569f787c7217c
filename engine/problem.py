"""The data and starting parameters of a descent."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

# The notebook's toy problem: 50 points in 13 dimensions, 3 outputs.
TOY_N, TOY_D, TOY_M = 50, 13, 3


@dataclass(frozen=True)
class Problem:
    """Inputs X (n, d), targets Y (n, m) and the initial W (d, m), b (1, m)."""

    X: torch.Tensor
    Y: torch.Tensor
    W0: torch.Tensor
    b0: torch.Tensor
    name: str = "toy"

    @property
    def shape(self) -> tuple[int, int, int]:
        """(n, d, m)."""
        return self.X.shape[0], self.X.shape[1], self.Y.shape[1]

    @cached_property
    def theory(self):
        """The least-squares optimum and the largest stable learning rate (computed once)."""
        from .theory import theory

        return theory(self)


def toy_problem(
    seed: int = 42,
    init_seed: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Problem:
    """The notebook's data: ``torch.manual_seed(seed)`` then X, Y, W, b drawn in that order.

    With ``init_seed``, W and b are drawn right after seeding with it instead,
    as the notebook's second and third runs did.  A local generator keeps the
    global one untouched; the numbers equal those of ``torch.manual_seed``.
    Data is drawn in float32 on the CPU, as in the notebook, then converted, so
    a float64 or GPU run starts from the same numbers.
    """
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(TOY_N, TOY_D, generator=generator)
    Y = torch.randn(TOY_N, TOY_M, generator=generator)
    if init_seed is not None:
        generator = torch.Generator().manual_seed(init_seed)
    W = torch.randn(TOY_D, TOY_M, generator=generator)
    b = torch.randn(1, TOY_M, generator=generator)
    to = dict(dtype=dtype, device=device)
    return Problem(X.to(**to), Y.to(**to), W.to(**to), b.to(**to), name="toy")
