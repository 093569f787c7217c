"""The data and starting parameters of a descent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .config import Config

DTYPES = {"float32": torch.float32, "float64": torch.float64}

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
    X_test: torch.Tensor | None = None
    Y_test: torch.Tensor | None = None
    W_true: np.ndarray | None = None
    """The ground truth of synthetic data."""
    b_true: np.ndarray | None = None
    description: str = ""
    """One line for a display: where the data come from, n, d, m."""

    @property
    def shape(self) -> tuple[int, int, int]:
        """(n, d, m)."""
        return self.X.shape[0], self.X.shape[1], self.Y.shape[1]

    @cached_property
    def theory(self):
        """The least-squares optimum and the largest stable learning rate (computed once)."""
        from .theory import theory

        return theory(self)

    def describe(self) -> str:
        n, d, m = self.shape
        return self.description or f"{self.name}: n={n}, d={d}, m={m}"


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


def make_problem(config: Config, progress: Callable[[float], None] | None = None) -> Problem:
    """The problem a config describes: the notebook's, synthetic data or a file.

    Raises ``engine.data.DataError`` (one line naming the file and the problem)
    for a file that cannot be used.  ``progress`` gets fractions in [0, 1] while
    a large file is read.
    """
    dtype = DTYPES[config.dtype]
    if config.data == "toy":
        notebook = toy_problem(config.seed, config.init_seed, dtype, config.device)
        if not config.test_fraction and not config.standardize:
            return notebook
    from .data import load

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
        dtype=np.float64 if config.dtype == "float64" else np.float32,
        progress=progress,
    )
    if config.data == "toy":
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
    )
