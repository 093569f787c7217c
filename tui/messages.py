"""The messages the engine's workers send to the app: small dataclasses, kept together.

They carry engine objects (a Session, a StepSnapshot) typed loosely, so that
importing this module never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    import numpy as np


@dataclass
class EngineLoaded(Message):
    """The engine (torch) is imported and a Session is built for ``config``."""

    session: Any
    """An ``engine.session.Session``."""


@dataclass
class EngineWarning(Message):
    """Something the user should know that did not stop the run (TensorBoard logging failed)."""

    text: str


@dataclass
class RunProgress(Message):
    """The state after a chunk of iterations run in the background.

    A fast run sends one per chunk (20-30 per second); consecutive ones that the
    app has not read yet are merged, so only the newest is shown.
    """

    epoch: int
    """Which run this belongs to; a message of an earlier run (before a reset) is dropped."""
    snapshot: Any
    """An ``engine.descent.StepSnapshot``."""
    losses: np.ndarray
    """The loss of every iteration so far (read-only; never changes once written)."""
    test_losses: np.ndarray | None
    """The loss on the test rows at every iteration (``--test-fraction``), or None."""
    log_folder: str | None
    at: float
    """``time.perf_counter()`` when the snapshot was taken, for steps/s."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunProgress)
