"""The run loop shared by the headless runner and the TUI: a descent stepped in chunks, logged."""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.config import Config, shown_path
from engine.core.chunks import ChunkSizer
from engine.core.descent import Descent, Status
from engine.record import tensorboard
from engine.record.tensorboard import LossLogger


class Session:
    """A :class:`Descent` and its TensorBoard log.

    ``advance`` runs a chunk of iterations and then writes the chunk's losses,
    so logging costs one batched write per chunk, not one per iteration.
    ``run_for`` picks the chunk size that fills a time budget, so a caller can
    check for a pause or an interrupt a few times per second.
    """

    def __init__(
        self,
        config: Config,
        descent: Descent | None = None,
        warn: Callable[[str], None] = tensorboard.warn,
    ) -> None:
        self.config = config
        self.descent = descent or Descent(config)
        self.warn = warn
        self.logger: LossLogger | None = None
        self._logged = 0
        self._chunks = ChunkSizer()
        self._new_log()

    def _new_log(self) -> None:
        if self.config.tensorboard:
            self.logger = LossLogger(self.config.logdir, self.config.run_name(), warn=self.warn)
        self._logged = 0

    @property
    def log_folder(self) -> str | None:
        """Where this run is being logged, as a message shows it (control characters
        escaped); None when logging is off or failed."""
        if self.logger is None or not self.logger.active:
            return None
        return shown_path(self.logger.folder or f"{self.config.logdir}/{self.config.run_name()}_…")

    def advance(self, steps: int | None = None) -> Status:
        """Up to ``steps`` iterations (default: to the end), then log them."""
        status = self.descent.run(steps)
        self._log()
        return status

    def step(self) -> Status:
        return self.advance(1)

    def run_for(self, seconds: float) -> Status:
        """Iterations for about ``seconds``, in one chunk sized from the last one's speed."""
        started = time.perf_counter()
        before = self.descent.iteration
        status = self.advance(self._chunks.size)
        self._chunks.update(self.descent.iteration - before, time.perf_counter() - started, seconds)
        return status

    def _log(self) -> None:
        if self.logger is None:
            return
        losses = self.descent.losses
        if len(losses) > self._logged:
            self.logger.write(losses[self._logged :], self._logged)
            self._logged = len(losses)
        if self.descent.status.finished:
            self.logger.flush()

    def reset(self) -> None:
        """Back to iteration 0; the next iterations go to a new TensorBoard run folder."""
        self.close()
        self.descent.reset()
        self._new_log()

    def close(self) -> None:
        """Write what is left of the log and close it; safe to call twice."""
        if self.logger is not None:
            self._log()
            self.logger.close()
