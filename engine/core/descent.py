"""Batch gradient descent, one iteration at a time, through the custom Functions.

An iteration is one pass of the notebook's loop: Linear forward, MSE forward,
MSE backward, Linear backward, then the update of W and b.  The loss recorded
for iteration k is the one computed before its update, as the notebook prints
it.  A run stops after the first iteration whose loss is at or under the
threshold (converged), after ``max_iter`` iterations (capped), or when the
loss or a parameter stops being finite (diverged).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import torch

from engine.config import Config
from engine.core.finite import finite_or_none
from engine.core.functions import MSE, Context, Linear
from engine.core.history import LossHistory
from engine.core.optimizers import Optimizer, make_optimizer
from engine.core.problem import TORCH_DTYPES, Problem, notebook_problem
from engine.core.theory import theory_for_run

# Below this many multiply-adds per matrix product, a second BLAS thread costs
# more to wake than it saves (measured by `make bench`), so a run on a small
# CPU problem uses one thread.
SINGLE_THREAD_MAX_WORK = 1 << 16


class Status(str, Enum):
    READY = "ready"
    RUNNING = "running"
    CONVERGED = "converged"
    CAPPED = "capped"
    DIVERGED = "diverged"

    @property
    def finished(self) -> bool:
        return self in (Status.CONVERGED, Status.CAPPED, Status.DIVERGED)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StepSnapshot:
    """What a display needs after a step or a chunk of steps; plain numpy, safe to share."""

    iteration: int
    loss: float | None
    previous_loss: float | None
    status: Status
    W: np.ndarray
    b: np.ndarray
    grad_W: np.ndarray | None
    grad_b: np.ndarray | None
    delta_W: np.ndarray | None
    delta_b: np.ndarray | None

    @property
    def grad_W_norm(self) -> float | None:
        return None if self.grad_W is None else float(np.linalg.norm(self.grad_W))

    @property
    def grad_b_norm(self) -> float | None:
        return None if self.grad_b is None else float(np.linalg.norm(self.grad_b))


def copy_optimizer(optimizer: Optimizer | None) -> Optimizer | None:
    """An optimizer with its own copy of its state (momentum's v, Adam's m and v): its
    tensors cloned, the rest shared (numbers).  A tenth of ``copy.deepcopy``'s time."""
    if optimizer is None:
        return None
    other = copy.copy(optimizer)
    for name, value in vars(optimizer).items():
        if isinstance(value, list):
            setattr(other, name, [t.clone() for t in value])
    return other


def step_contexts() -> tuple[Context, Context]:
    """The ``ctx`` of Linear and of MSE for a descent's steps."""
    # Neither X nor Y is learnt: their gradients are never computed.
    return Context((False, True, True)), Context((True, False))


def _numpy(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().to("cpu", torch.float64).numpy().copy()


class MiniBatches:
    """Index batches of a shuffled order, reshuffled each epoch from ``seed``.

    The last batch of an epoch is smaller when ``batch_size`` does not divide n,
    as with ``DataLoader(shuffle=True, drop_last=False)``.
    """

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device) -> None:
        self.n, self.batch_size, self.device = n, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.order: torch.Tensor | None = None
        self.position = n

    def next(self) -> torch.Tensor:
        if self.position >= self.n:
            self.order = torch.randperm(self.n, generator=self.generator).to(self.device)
            self.position = 0
        batch = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def copy(self) -> MiniBatches:
        """The same batches to come, drawn from a generator of its own."""
        other = MiniBatches(self.n, self.batch_size, 0, self.device)
        other.generator.set_state(self.generator.get_state())
        # Never changed in place (a new permutation each epoch): shared.
        other.order, other.position = self.order, self.position
        return other


@dataclass(frozen=True)
class Checkpoint:
    """The state before a chunk of iterations (``run``), and how many it performed.

    What ``engine.core.inside`` replays the chunk's last step from, on copies: a new
    one is made for each chunk and never changed, so a reader needs no lock.
    """

    iteration: int
    W: torch.Tensor
    b: torch.Tensor
    optimizer: Optimizer | None
    batches: MiniBatches | None
    steps: int = 0


class Descent:
    """A descent on one problem with one configuration; ``step``, ``run``, ``reset``.

    ``mse`` and ``linear`` are the Functions that compute each step; by default
    the built-in ones, a student's own otherwise.  Without ``problem``, the
    notebook's (drawn from ``config``); other data come from
    :func:`engine.experiment.make_problem`.
    """

    def __init__(
        self,
        config: Config | None = None,
        problem: Problem | None = None,
        mse: type = MSE,
        linear: type = Linear,
    ) -> None:
        self.config = config or Config()
        self.dtype = TORCH_DTYPES[self.config.dtype]
        self.problem = problem or notebook_problem(self.config)
        self.mse = mse
        self.linear = linear
        # The notebook compares the float32 loss with 0.70 in float32: do the same.
        self._threshold = torch.tensor(self.config.threshold, dtype=self.dtype).item()
        self.reset()

    # -- state ------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to iteration 0, with the same data and initial W, b."""
        self._W = self.problem.W0.clone()
        self._b = self.problem.b0.clone()
        self._grad_W: torch.Tensor | None = None
        self._grad_b: torch.Tensor | None = None
        self._history = LossHistory()
        self._test_history = None if self.problem.X_test is None else LossHistory()
        self._status = Status.READY
        self._checkpoint: Checkpoint | None = None
        config, n = self.config, self.problem.shape[0]
        # Plain full-batch gradient descent, the notebook's, has a loop of its own (the fast path).
        self._optimizer: Optimizer | None = None
        self._batches: MiniBatches | None = None
        mini_batches = config.batch_size is not None and config.batch_size < n
        # Anything else (another optimizer, mini-batches, a test loss) takes the general loop.
        if config.optimizer != "sgd" or mini_batches or self._test_history is not None:
            self._optimizer = make_optimizer(
                config.optimizer, config.learning_rate, config.momentum, config.beta1, config.beta2
            )
            if mini_batches:
                self._batches = MiniBatches(
                    n, config.batch_size, config.seed, self.problem.X.device
                )

    @property
    def iteration(self) -> int:
        """Iterations performed so far (each one recorded a loss)."""
        return len(self._history)

    @property
    def losses(self) -> np.ndarray:
        """The loss of every iteration, read-only."""
        return self._history.view()

    @property
    def test_losses(self) -> np.ndarray | None:
        """The loss on the test rows at every iteration, when the data have a test part."""
        return None if self._test_history is None else self._test_history.view()

    @property
    def status(self) -> Status:
        return self._status

    @property
    def W(self) -> torch.Tensor:
        return self._W.clone()

    @property
    def b(self) -> torch.Tensor:
        return self._b.clone()

    @property
    def grad_W(self) -> torch.Tensor | None:
        """The gradient of the last update, or None before the first."""
        return None if self._grad_W is None else self._grad_W.clone()

    @property
    def grad_b(self) -> torch.Tensor | None:
        return None if self._grad_b is None else self._grad_b.clone()

    # -- stepping ---------------------------------------------------------------------

    def step(self) -> Status:
        """One iteration (nothing once the run has stopped)."""
        return self.run(1)

    def run(self, max_steps: int | None = None) -> Status:
        """Up to ``max_steps`` iterations (default: until a stop condition)."""
        if self._status.finished:
            return self._status
        history = self._history
        remaining = self.config.max_iter - len(history)
        steps = remaining if max_steps is None else max(0, min(max_steps, remaining))
        if steps == 0:
            return self._settle()

        ctx_linear, ctx_mse = step_contexts()
        alpha = -self.config.learning_rate
        threshold = self._threshold

        start = self._start_checkpoint()
        try:
            with self._threads():
                if self._optimizer is None:
                    status, grad_W, grad_b = self._loop(
                        steps, ctx_linear, ctx_mse, alpha, threshold
                    )
                else:
                    status, grad_W, grad_b = self._general_loop(
                        steps, ctx_linear, ctx_mse, threshold
                    )
        finally:
            done = len(history) - start.iteration
            if done:
                # One assignment: a reader sees the last chunk whole, or the one before.
                self._checkpoint = Checkpoint(
                    start.iteration, start.W, start.b, start.optimizer, start.batches, done
                )
        if grad_W is not None:
            self._grad_W, self._grad_b = grad_W, grad_b
        self._status = status
        return self._settle()

    @contextmanager
    def _threads(self) -> Iterator[None]:
        """One BLAS thread for a small CPU problem (see ``SINGLE_THREAD_MAX_WORK``), as a replay
        of a step needs it too: the same thread count gives the same sums."""
        n, d, m = self.problem.shape
        threads = torch.get_num_threads()
        if self.problem.X.device.type == "cpu" and n * d * m <= SINGLE_THREAD_MAX_WORK:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)

    def _start_checkpoint(self) -> Checkpoint:
        """The state before a chunk: two small copies (W, b, and the optimizer's state) a chunk,
        nothing an iteration, so that the inside of the last step can be replayed on request."""
        with torch.inference_mode():
            return Checkpoint(
                len(self._history),
                self._W.clone(),
                self._b.clone(),
                copy_optimizer(self._optimizer),
                None if self._batches is None else self._batches.copy(),
            )

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The state before the last chunk of iterations, and how many it performed (None
        before the first step): ``engine.core.inside.record_last_step`` replays from it."""
        return self._checkpoint

    def _loop(self, steps, ctx_linear, ctx_mse, alpha, threshold):
        """The hot loop: ``steps`` iterations at most; returns the status and last gradients."""
        X, Y, W, b = self.problem.X, self.problem.Y, self._W, self._b
        linear_forward, linear_backward = self.linear.forward, self.linear.backward
        mse_forward, mse_backward = self.mse.forward, self.mse.backward
        append = self._history.append
        isfinite = math.isfinite
        status = Status.RUNNING
        grad_W = grad_b = None
        with torch.inference_mode():
            for _ in range(steps):
                loss = mse_forward(ctx_mse, linear_forward(ctx_linear, X, W, b), Y).item()
                if not isfinite(loss):
                    append(loss)
                    status = Status.DIVERGED
                    break
                grad_yhat, _ = mse_backward(ctx_mse, 1.0)
                _, grad_W, grad_b = linear_backward(ctx_linear, grad_yhat)
                # Recorded once the gradients exist: a backward that raises (a student's)
                # leaves no loss without its update.
                append(loss)
                W.add_(grad_W, alpha=alpha)
                b.add_(grad_b, alpha=alpha)
                if loss <= threshold:
                    status = Status.CONVERGED
                    break
        return status, grad_W, grad_b

    def _general_loop(self, steps, ctx_linear, ctx_mse, threshold):
        """Any optimizer, mini-batches: the recorded loss and the stop test use the full batch."""
        X, Y, W, b = self.problem.X, self.problem.Y, self._W, self._b
        linear_forward, linear_backward = self.linear.forward, self.linear.backward
        mse_forward, mse_backward = self.mse.forward, self.mse.backward
        optimizer, batches = self._optimizer, self._batches
        X_test, Y_test = self.problem.X_test, self.problem.Y_test
        append_test = None if self._test_history is None else self._test_history.append
        ctx_test = Context((False, False, False))
        parameters = [W, b]
        append = self._history.append
        isfinite = math.isfinite
        status = Status.RUNNING
        grad_W = grad_b = None
        with torch.inference_mode():
            for _ in range(steps):
                loss = mse_forward(ctx_mse, linear_forward(ctx_linear, X, W, b), Y).item()
                test_loss = None
                if append_test is not None:
                    # At the same parameters as the training loss: before the update.
                    test_yhat = linear_forward(ctx_test, X_test, W, b)
                    test_loss = mse_forward(ctx_test, test_yhat, Y_test).item()
                if not isfinite(loss):
                    append(loss)
                    if append_test is not None:
                        append_test(test_loss)
                    status = Status.DIVERGED
                    break
                if batches is not None:
                    batch = batches.next()
                    X_batch, Y_batch = X.index_select(0, batch), Y.index_select(0, batch)
                    mse_forward(ctx_mse, linear_forward(ctx_linear, X_batch, W, b), Y_batch)
                grad_yhat, _ = mse_backward(ctx_mse, 1.0)
                _, grad_W, grad_b = linear_backward(ctx_linear, grad_yhat)
                append(loss)
                if append_test is not None:
                    append_test(test_loss)
                optimizer.step(parameters, [grad_W, grad_b])
                if loss <= threshold:
                    status = Status.CONVERGED
                    break
        return status, grad_W, grad_b

    def _last_step(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """What the last update added to W and b."""
        if self._optimizer is not None:
            steps = self._optimizer.last_step
            return (None, None) if steps is None else (_numpy(steps[0]), _numpy(steps[1]))
        if self._grad_W is None:
            return None, None
        alpha = -self.config.learning_rate
        return alpha * _numpy(self._grad_W), alpha * _numpy(self._grad_b)

    def _settle(self) -> Status:
        """Apply the cap and the end-of-run finiteness check to the status."""
        if self._status is Status.RUNNING and len(self._history) >= self.config.max_iter:
            self._status = Status.CAPPED
        if self._status in (Status.CONVERGED, Status.CAPPED) and not self.parameters_finite():
            # The last update overflowed: the next loss would not be finite.
            self._status = Status.DIVERGED
        return self._status

    def parameters_finite(self) -> bool:
        return bool(torch.isfinite(self._W).all() and torch.isfinite(self._b).all())

    # -- reading ----------------------------------------------------------------------

    def loss_at(self, W: torch.Tensor, b: torch.Tensor) -> float:
        """The loss at the given parameters, through the Functions' forward."""
        with torch.inference_mode():
            yhat = self.linear.forward(Context(), self.problem.X, W, b)
            return self.mse.forward(Context(), yhat, self.problem.Y).item()

    def final_loss(self) -> float:
        """The loss at the current parameters (after the last update)."""
        return self.loss_at(self._W, self._b)

    def snapshot(self) -> StepSnapshot:
        losses = self._history.view()
        delta_W, delta_b = self._last_step()
        return StepSnapshot(
            iteration=len(losses),
            loss=float(losses[-1]) if len(losses) else None,
            previous_loss=float(losses[-2]) if len(losses) > 1 else None,
            status=self._status,
            W=_numpy(self._W),
            b=_numpy(self._b),
            grad_W=_numpy(self._grad_W),
            grad_b=_numpy(self._grad_b),
            delta_W=delta_W,
            delta_b=delta_b,
        )

    def summary(self, include_losses: bool = True) -> dict[str, Any]:
        """The run as JSON-ready data; non-finite numbers become null."""
        out: dict[str, Any] = {
            "status": self._status.value,
            "iterations": self.iteration,
            "final_loss": finite_or_none(self.final_loss()),
        }
        if include_losses:
            out["losses"] = [finite_or_none(v) for v in self._history.view().tolist()]
            if self._test_history is not None:
                out["test_losses"] = [finite_or_none(v) for v in self._test_history.view().tolist()]
        out["W"] = _tolist(self._W)
        out["b"] = _tolist(self._b)
        out["config"] = self.config.saved_dict()
        out["theory"] = self.theory_dict()
        return out

    def theory_dict(self) -> dict[str, Any]:
        """The theory's figures for this run: ``lr_max`` is its optimizer's stability bound."""
        config = self.config
        return theory_for_run(
            self.problem.theory,
            config.optimizer,
            config.batch_size,
            self.problem.shape[0],
            config.momentum,
        )


def _tolist(t: torch.Tensor) -> list:
    return [[finite_or_none(v) for v in row] for row in t.detach().cpu().double().tolist()]
