"""The data and starting parameters of a descent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from engine.config import DTYPES, Config
from engine.core.theory import Theory, theory_of
from engine.i18n import _

TORCH_DTYPES = {name: getattr(torch, name) for name in DTYPES}
"""The torch dtype of each of the config's dtype names."""

# The notebook's toy problem: 50 points in 13 dimensions, 3 outputs.
TOY_N, TOY_D, TOY_M = 50, 13, 3


@dataclass(frozen=True)
class DataNotes:
    """What loading the data learned, for the user: the columns used, what was left out."""

    source: str
    rows: int
    """Training rows."""
    test_rows: int
    features: tuple[str, ...]
    targets: tuple[str, ...]
    standardized: bool
    dropped_rows: int = 0
    """Rows left out because a value was missing (``--dropna``)."""
    notes: tuple[str, ...] = ()
    """The loader's remarks: a constant column, a guessed header, rows dropped."""

    def lines(self) -> list[str]:
        """What to tell the user, a line each: the columns used, then the loader's notes."""
        test = _(" (+{test_rows} test)").format(test_rows=self.test_rows) if self.test_rows else ""
        scaled = _("standardised") if self.standardized else _("not standardised")
        lines = [
            _("{rows} rows{test}; features: {features}; target: {targets}; {scaled}").format(
                rows=self.rows,
                test=test,
                features=_columns(self.features),
                targets=_columns(self.targets),
                scaled=scaled,
            )
        ]
        return lines + list(self.notes)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "source": self.source,
            "rows": self.rows,
            "test_rows": self.test_rows,
            "features": list(self.features),
            "targets": list(self.targets),
            "standardized": self.standardized,
            "dropped_rows": self.dropped_rows,
            "notes": list(self.notes),
        }


def _columns(names: tuple[str, ...], most: int = 8) -> str:
    """Column names for one line: the first few, then how many more."""
    shown = ", ".join(names[:most])
    return (
        shown
        if len(names) <= most
        else _("{shown} and {count} more").format(shown=shown, count=len(names) - most)
    )


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
    data: DataNotes | None = None
    """What the loader learned about the data; None for the notebook's own problem."""

    @property
    def shape(self) -> tuple[int, int, int]:
        """(n, d, m)."""
        return self.X.shape[0], self.X.shape[1], self.Y.shape[1]

    @cached_property
    def theory(self) -> Theory:
        """The least-squares optimum and the largest stable learning rate (computed once)."""
        return theory_of(self.X, self.Y)

    def compute_theory(self, between_blocks: Callable[[], None] | None = None) -> Theory:
        """``theory``, computed now if not yet, with a cancellation point between the blocks of
        large data (see :func:`theory_of`): an exception raised there leaves it not computed."""
        if "theory" not in self.__dict__:
            self.__dict__["theory"] = theory_of(self.X, self.Y, between_blocks)
        return self.theory

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


def notebook_problem(config: Config) -> Problem:
    """The notebook's problem as ``config`` draws it (seed, init seed, dtype, device).

    A config that describes other data (a file, synthetic data, a test split,
    standardisation) needs :func:`engine.experiment.make_problem`, which reads them.
    """
    if config.data != "toy" or config.test_fraction or config.standardize:
        raise ValueError(
            f"this config describes other data than the notebook's ({config.data}): "
            "build its problem with engine.experiment.make_problem(config)"
        )
    return toy_problem(config.seed, config.init_seed, TORCH_DTYPES[config.dtype], config.device)
