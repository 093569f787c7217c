"""A learning-rate sweep: K descents from one start, stepped together as one batched computation.

The notebook's lesson is that the learning rate decides everything.  A sweep
runs K learning rates at once: W becomes a stack K×d×m and b K×1×m, and every
iteration goes through batched forms of the notebook's Functions, whose
forward and backward are the same formulas with a leading run axis (the tests
gradcheck them in float64 and compare each run with a single :class:`Descent`).

Each run stops on its own, exactly as a single run does: after the first
iteration whose loss is at or under the threshold (converged), when its loss
is not finite (diverged), or at ``max_iter`` (capped).  A stopped run is
frozen (its learning rate is masked to 0) while the others go on; nothing is
copied out of the batch until a chunk ends, so a chunk is a handful of
kernels per iteration whatever K is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.autograd import Function

from engine.config import Config
from engine.core.descent import SINGLE_THREAD_MAX_WORK, MiniBatches, Status
from engine.core.finite import finite_or_none
from engine.core.functions import Context
from engine.core.optimizers import make_optimizer
from engine.core.problem import TORCH_DTYPES, Problem, notebook_problem
from engine.core.theory import predicted_losses, rate_applies, theory_for_run

# Iterations per slice of a long chunk: bounds the losses held on the device at once.
SLICE = 4096


def sweep_rates(start: float, stop: float, count: int) -> tuple[float, ...]:
    """``count`` learning rates log-spaced from ``start`` to ``stop``, both included."""
    if count == 1:
        return (float(start),)
    return tuple(float(v) for v in np.geomspace(start, stop, count))


class BatchedMSE(Function):
    """The notebook's MSE for K predictions at once: yhat (K, n, m), y (n, m) → losses (K,).

    Loss k is sum((yhat[k] − y)²) / (n m), as :class:`engine.core.functions.MSE`'s.
    """

    @staticmethod
    def forward(ctx, yhat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if yhat.dim() != 3 or yhat.shape[1:] != y.shape:
            raise ValueError(
                f"BatchedMSE: yhat has shape {tuple(yhat.shape)} and y {tuple(y.shape)}; "
                "expected yhat (K, n, m) and y (n, m)"
            )
        diff = yhat - y
        ctx.save_for_backward(diff)
        K, n, m = diff.shape
        # Summed as the (n, K·m) matrix BatchedLinear's product lays it out in memory: a sum
        # down its columns, then over each run's m; summing dims (1, 2) of that strided view
        # directly was the sweep's costliest kernel.
        squares = diff.transpose(0, 1).reshape(n, K * m).square()
        return squares.sum(0).view(K, m).sum(1) / (n * m)

    @staticmethod
    def backward(ctx, grad_output):
        (diff,) = ctx.saved_tensors
        # d/dyhat of sum((yhat − y)²)/N is 2 (yhat − y)/N, run by run, times its upstream gradient.
        if isinstance(grad_output, torch.Tensor):
            grad_yhat = diff * (grad_output * (2.0 / diff[0].numel())).view(-1, 1, 1)
        else:  # a number, the same for every run, as the hand-stepped loop passes 1
            grad_yhat = diff * (2.0 * grad_output / diff[0].numel())
        needs = getattr(ctx, "needs_input_grad", (True, True))
        # y is shared by the K runs: its gradient sums theirs.
        grad_y = -grad_yhat.sum(0) if needs[1] else None
        return grad_yhat, grad_y


class BatchedLinear(Function):
    """The notebook's Linear for K parameter sets: X (n, d), W (K, d, m), b (K, 1, m) → (K, n, m).

    Run k computes X W[k] + b[k]; backward returns Xᵀ g[k] for W[k] and the sum of
    g[k]'s rows for b[k], as :class:`engine.core.functions.Linear` does.
    """

    @staticmethod
    def forward(ctx, X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if X.dim() != 2 or W.dim() != 3 or W.shape[1] != X.shape[1]:
            raise ValueError(
                f"BatchedLinear: X has shape {tuple(X.shape)} and W {tuple(W.shape)}; "
                "expected X (n, d) and W (K, d, m)"
            )
        if b.shape != (W.shape[0], 1, W.shape[2]):
            raise ValueError(
                f"BatchedLinear: b has shape {tuple(b.shape)}; expected {(W.shape[0], 1, W.shape[2])}"
            )
        ctx.save_for_backward(X, W)
        K, d, m = W.shape
        # The K products X W[k] are one product X [W[0] … W[K−1]] with a (d, K·m) matrix:
        # one GEMM instead of K small ones (a batched matmul of tiny matrices is slow).
        # With W stored (d, K, m), as the sweep stores it, the wide matrix is a view.
        wide = torch.addmm(
            b.transpose(0, 1).reshape(1, K * m), X, W.transpose(0, 1).reshape(d, K * m)
        )
        return wide.view(X.shape[0], K, m).transpose(0, 1)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        X, W = ctx.saved_tensors
        K, d, m = W.shape
        needs = getattr(ctx, "needs_input_grad", (True, True, True))
        grad_wide = grad_output.transpose(0, 1).reshape(X.shape[0], K * m)
        # X is shared by the K runs: its gradient sums theirs, Σₖ g[k] W[k]ᵀ.
        grad_X = grad_wide @ W.transpose(0, 1).reshape(d, K * m).t() if needs[0] else None
        grad_W = (X.t() @ grad_wide).view(d, K, m).transpose(0, 1) if needs[1] else None
        # Each run's column sums, down the same (n, K·m) matrix.
        grad_b = grad_wide.sum(0).view(K, 1, m) if needs[2] else None
        return grad_X, grad_W, grad_b


@dataclass(frozen=True)
class SweepRun:
    """One learning rate's run, read out of the batch."""

    learning_rate: float
    status: Status
    losses: np.ndarray
    W: np.ndarray
    b: np.ndarray

    @property
    def iterations(self) -> int:
        return len(self.losses)


class Sweep:
    """K descents of ``config`` (one per learning rate) from the same data and W, b, stepped together.

    The reference Functions only: a student's cannot be batched.  Mini-batches are
    drawn once per iteration for all runs, in the order a single run draws them.
    """

    def __init__(
        self,
        config: Config,
        learning_rates: tuple[float, ...] | list[float],
        problem: Problem | None = None,
    ) -> None:
        if len(learning_rates) == 0:
            raise ValueError("a sweep needs at least one learning rate")
        self.config = config
        self.learning_rates = tuple(float(lr) for lr in learning_rates)
        self.problem = problem or notebook_problem(config)
        self.dtype = TORCH_DTYPES[config.dtype]
        # The notebook compares the float32 loss with 0.70 in float32: so does a single run.
        self._threshold = torch.tensor(config.threshold, dtype=self.dtype).item()
        self.reset()

    def reset(self) -> None:
        K = len(self.learning_rates)
        problem = self.problem
        device = problem.W0.device
        # Stored (d, K, m) and (1, K, m), seen as (K, d, m) and (K, 1, m): see BatchedLinear.
        self._W = problem.W0.unsqueeze(1).repeat(1, K, 1).transpose(0, 1)
        self._b = problem.b0.unsqueeze(1).repeat(1, K, 1).transpose(0, 1)
        self._rates = torch.tensor(self.learning_rates, dtype=self.dtype, device=device).view(
            K, 1, 1
        )
        self._active = torch.ones(K, dtype=torch.bool, device=device)
        # Each run's losses, in the run's dtype: chunks of numpy arrays, joined when read.
        self._losses: list[list[np.ndarray]] = [[] for _ in range(K)]
        self._counts = np.zeros(K, dtype=np.int64)
        self._iteration = 0
        # The optimizers of a single run, with a learning rate per run: a (K, 1, 1) tensor
        # (0 for a run that stopped) broadcasts over the stacks as a number does over W.
        config = self.config
        self._updates = make_optimizer(
            config.optimizer, 0.0, config.momentum, config.beta1, config.beta2
        )
        n = problem.X.shape[0]
        batch_size = self.config.batch_size
        self._batches = (
            MiniBatches(n, batch_size, self.config.seed, device)
            if batch_size is not None and batch_size < n
            else None
        )

    @property
    def iteration(self) -> int:
        """Iterations performed by the longest run so far."""
        return self._iteration

    @property
    def finished(self) -> bool:
        return self._iteration >= self.config.max_iter or not bool(self._active.any())

    def run(self, max_steps: int | None = None) -> bool:
        """Up to ``max_steps`` iterations of every run still going; True once all have stopped."""
        remaining = self.config.max_iter - self._iteration
        steps = remaining if max_steps is None else max(0, min(max_steps, remaining))
        if steps == 0 or not bool(self._active.any()):
            return self.finished
        X = self.problem.X
        n, d = X.shape
        m = self.problem.Y.shape[1]
        threads = torch.get_num_threads()
        # The rule of a single run, on one run's work: the sweep's product is K times
        # larger, but its threads' wake-ups cost as much per iteration, and far more on a
        # busy machine (measured: 1,024 toy runs took 13x longer on 2 threads under load).
        if X.device.type == "cpu" and n * d * m <= SINGLE_THREAD_MAX_WORK:
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                # In slices: a slice's losses wait in the device's memory until it ends.
                while steps > 0 and bool(self._active.any()):
                    done = self._chunk(min(steps, SLICE))
                    steps -= done
        finally:
            torch.set_num_threads(threads)
        return self.finished

    def _chunk(self, steps: int) -> int:
        X, Y, W, b = self.problem.X, self.problem.Y, self._W, self._b
        K = W.shape[0]
        ctx_linear, ctx_mse = Context((False, True, True)), Context((True, False))
        threshold, rates, updates, batches = (
            self._threshold,
            self._rates,
            self._updates,
            self._batches,
        )
        active = self._active
        # Kept as lists of tensors and stacked once: indexing a buffer costs a kernel a step.
        recorded: list[torch.Tensor] = []
        was_active: list[torch.Tensor] = []
        for i in range(steps):
            loss = BatchedMSE.forward(ctx_mse, BatchedLinear.forward(ctx_linear, X, W, b), Y)
            recorded.append(loss)
            was_active.append(active)
            if batches is not None:
                batch = batches.next()
                yhat = BatchedLinear.forward(ctx_linear, X.index_select(0, batch), W, b)
                BatchedMSE.forward(ctx_mse, yhat, Y.index_select(0, batch))
            grad_yhat, _ = BatchedMSE.backward(ctx_mse, 1.0)
            _, grad_W, grad_b = BatchedLinear.backward(ctx_linear, grad_yhat)
            # A run updates when it is going and its loss is finite; a diverged one stops
            # before its update, a converged one after (as a single run does).
            # A loss is a sum of squares: `< inf` is isfinite's test in one kernel, not three.
            moving = active & (loss < math.inf)
            updates.learning_rate = rates * moving.view(K, 1, 1)
            updates.step([W, b], [grad_W, grad_b])
            active = moving & (loss > threshold)
            # Every so often, stop early once every run has stopped (one sync per 64 steps).
            if (i + 1) % 64 == 0 and not bool(active.any()):
                break
        self._active = active
        self._read_out(torch.stack(recorded).cpu().numpy(), torch.stack(was_active).cpu().numpy())
        self._iteration += len(recorded)
        return len(recorded)

    def _read_out(self, recorded: np.ndarray, was_active: np.ndarray) -> None:
        for k, chunks in enumerate(self._losses):
            losses = recorded[was_active[:, k], k]
            if len(losses):
                chunks.append(losses)
        self._counts += was_active.sum(axis=0)

    def losses(self, k: int) -> np.ndarray:
        """Run k's loss at each of its iterations (float64 copy of the recorded values)."""
        chunks = self._losses[k]
        if len(chunks) > 1:  # joined once, then kept joined
            chunks[:] = [np.concatenate(chunks)]
        return chunks[0].astype(np.float64) if chunks else np.zeros(0)

    def status(self, k: int) -> Status:
        """Run k's status, by a single run's rules (see :mod:`engine.core.descent`)."""
        count = int(self._counts[k])
        if count == 0:
            return Status.READY
        last = float(self._losses[k][-1][-1])
        if not math.isfinite(last):
            return Status.DIVERGED
        if last <= self._threshold:
            status = Status.CONVERGED
        elif count >= self.config.max_iter:
            status = Status.CAPPED
        else:
            return Status.RUNNING
        finite = bool(torch.isfinite(self._W[k]).all() and torch.isfinite(self._b[k]).all())
        return status if finite else Status.DIVERGED

    def result(self, k: int) -> SweepRun:
        return SweepRun(
            learning_rate=self.learning_rates[k],
            status=self.status(k),
            losses=self.losses(k),
            W=self._W[k].detach().cpu().double().numpy(),
            b=self._b[k].detach().cpu().double().numpy(),
        )

    def results(self) -> list[SweepRun]:
        return [self.result(k) for k in range(len(self.learning_rates))]

    def final_losses(self) -> np.ndarray:
        """The loss at each run's current parameters (after its last update)."""
        with torch.inference_mode():
            ctx = Context((False, False, False))
            yhat = BatchedLinear.forward(ctx, self.problem.X, self._W, self._b)
            return BatchedMSE.forward(ctx, yhat, self.problem.Y).double().cpu().numpy()

    def summary(
        self, k: int, include_losses: bool = True, final_loss: float | None = None
    ) -> dict[str, Any]:
        """Run k as JSON-ready data, with the keys of :meth:`Descent.summary`."""
        run = self.result(k)
        if final_loss is None:
            final_loss = float(self.final_losses()[k])
        out: dict[str, Any] = {
            "status": run.status.value,
            "iterations": run.iterations,
            "final_loss": finite_or_none(final_loss),
        }
        if include_losses:
            out["losses"] = [finite_or_none(v) for v in run.losses.tolist()]
        out["W"] = [[finite_or_none(v) for v in row] for row in run.W.tolist()]
        out["b"] = [[finite_or_none(v) for v in row] for row in run.b.tolist()]
        out["config"] = self.config.for_learning_rate(run.learning_rate).saved_dict()
        config, problem = self.config, self.problem
        out["theory"] = theory_for_run(
            problem.theory, config.optimizer, config.batch_size, problem.shape[0], config.momentum
        )
        return out


@dataclass(frozen=True)
class Edges:
    """Where convergence turns into divergence in a sweep."""

    largest_converged: float | None
    smallest_diverged: float | None

    def brackets(self, value: float) -> bool:
        """Whether ``value`` lies between the two (both known)."""
        low, high = self.largest_converged, self.smallest_diverged
        return low is not None and high is not None and low < value < high


def edges(runs: list[SweepRun]) -> Edges:
    converged = [r.learning_rate for r in runs if r.status is Status.CONVERGED]
    diverged = [r.learning_rate for r in runs if r.status is Status.DIVERGED]
    return Edges(max(converged, default=None), min(diverged, default=None))


def predicted_last_losses(sweep: Sweep, runs: list[SweepRun]) -> np.ndarray | None:
    """The theory's loss at each run's last iteration, where it is exact: plain full-batch
    descent (:func:`engine.core.theory.rate_applies`); None otherwise."""
    config, problem = sweep.config, sweep.problem
    if not rate_applies(config.optimizer, config.batch_size, problem.shape[0]):
        return None
    return predicted_losses(
        problem.X,
        problem.Y,
        problem.W0,
        problem.b0,
        [r.learning_rate for r in runs],
        # The loss recorded at iteration k is the one before its update: k − 1 updates.
        [max(r.iterations - 1, 0) for r in runs],
    )
