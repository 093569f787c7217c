"""The messages the engine's workers send to the app: small dataclasses, kept together.

They carry engine objects (an Experiment, a StepSnapshot) typed loosely, so that
importing this module never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    import numpy as np

    from engine.config import Config


@dataclass(frozen=True)
class RunView:
    """One descent as the screen shows it: what a worker may hand to the UI thread."""

    learning_rate: float
    snapshot: Any
    """An ``engine.core.descent.StepSnapshot``."""
    losses: np.ndarray
    """The loss of every iteration so far (read-only; never changes once written)."""
    test_losses: np.ndarray | None
    """The loss on the test rows at every iteration (``--test-fraction``), or None."""
    log_folder: str | None
    diverges: bool | None = None
    """The engine theory's verdict before the run: True when ε > 2/L says it diverges,
    None when that bound does not apply to it (momentum, Adam, mini-batches) or is unknown."""


@dataclass
class EngineLoaded(Message):
    """The engine (torch) is imported and an Experiment is built for ``config``."""

    experiment: Any
    """A ``tui.experiment.Experiment``."""
    config: Config


@dataclass
class EngineWarning(Message):
    """Something the user should know that did not stop the run (TensorBoard logging failed)."""

    text: str


@dataclass
class DataProgress(Message):
    """How much of a large data file the loading worker has read."""

    source: str
    fraction: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DataProgress)


@dataclass
class RunProgress(Message):
    """The state after a chunk of iterations run in the background.

    A fast run sends one per chunk (20-30 per second); consecutive ones that the
    app has not read yet are merged, so only the newest is shown.
    """

    epoch: int
    """Which run this belongs to; a message of an earlier run (before a reset) is dropped."""
    runs: tuple[RunView, ...]
    """One view per descent: one, or one per learning rate of a comparison."""
    at: float
    """``time.perf_counter()`` when the snapshots were taken, for steps/s."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunProgress)
