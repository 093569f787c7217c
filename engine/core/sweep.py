"""A learning-rate sweep: K descents from one start, stepped together as one batched computation.

The notebook's lesson is that the learning rate decides everything.  A sweep
runs K learning rates at once: W becomes a stack K×d×m and b K×1×m, and every
iteration goes through batched forms of the notebook's Functions, whose
forward and backward are the same formulas with a leading run axis (the tests
gradcheck them in float64 and compare each run with a single :class:`Descent`).

Each run stops on its own, exactly as a single run does: after the first
iteration whose loss is at or under the threshold (converged), when its loss
is not finite (diverged), or at ``max_iter`` (capped).  A stopped run leaves
the batch (its parameters kept as of its last iteration) while the others go
on.  On the notebook's problem an operation's arithmetic costs about what
torch's dispatch of it costs, so an iteration is as few operations as the
formulas allow: two products (forward and backward, W and b together), the
residual, its squares and their means, the scaled gradient, one look at the
losses, one update, with no allocation (see :class:`SweepContext`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
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


class SweepContext(Context):
    """A hand-stepped ``ctx`` that a loop passes to the same Function at every iteration.

    The batched Functions keep on it, between calls with the same inputs, what does not
    change from one call to the next: their outputs' memory and the views of it.  A step
    of the sweep then allocates nothing: on the notebook's problem an allocation costs
    about as much as an operation's arithmetic.  What a call returns is overwritten by
    the next call with the same context, as what it saved is.
    """

    def __init__(self, needs_input_grad: tuple[bool, ...] | None = None) -> None:
        super().__init__(needs_input_grad)
        self.kept: dict[str, tuple] = {}


_fresh = itertools.count()


def _version(t: torch.Tensor) -> int:
    """``t``'s version counter (bumped by each in-place change); an inference tensor has none:
    a number never seen before, so that nothing made from it is kept."""
    return -1 - next(_fresh) if t.is_inference() else t._version


def _plan(ctx, name: str, key: tuple, inputs: tuple, make: Callable[[], tuple]) -> tuple:
    """``make()``, kept on a :class:`SweepContext` while ``key`` is the same; made afresh on
    another ``ctx`` (autograd's own, new at each call).

    ``key`` holds the ``id`` of ``inputs`` (kept with the plan, so that no other object can
    take their ids) and the versions of those a plan copies from.
    """
    kept = getattr(ctx, "kept", None)
    if kept is None:
        return make()
    entry = kept.get(name)
    if entry is None or entry[0] != key:
        entry = (key, inputs, make())
        kept[name] = entry
    return entry[2]


def _sized(strides: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The strides of the dimensions longer than 1 (a dimension of 1 has no meaningful stride)."""
    return tuple(s for s, n in zip(strides, shape, strict=True) if n > 1)


def side_by_side(W: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    """The (K·m, d+1) matrix [W[k]ᵀ b[k]ᵀ] stacked over k, as a view, when W (K, d, m) and
    b (K, 1, m) are stored that way (as :class:`Sweep` stores them); None otherwise.

    Row k·m + j holds column j of W[k] then b[k][0, j]: one run's parameters for one output.
    """
    K, d, m = W.shape
    row = d + 1
    if (
        b.shape != (K, 1, m)
        or b.dtype != W.dtype
        or b.device != W.device
        or W.untyped_storage().data_ptr() != b.untyped_storage().data_ptr()
        or b.storage_offset() != W.storage_offset() + d
    ):
        return None
    # W[k][i, j] at k·m·(d+1) + j·(d+1) + i, b[k][0, j] at the same place plus d.
    strides = (m * row, 1, row)
    if _sized(W.stride(), W.shape) != _sized(strides, W.shape) or _sized(
        b.stride(), b.shape
    ) != _sized(strides, b.shape):
        return None
    return W.as_strided((K * m, row), (row, 1), W.storage_offset())


def stacked_parameters(
    W0: torch.Tensor, b0: torch.Tensor, K: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """K copies of W0 (d, m) and b0 (1, m) side by side: the block (K·m, d+1) and its views
    W (K, d, m) and b (K, 1, m) (see :func:`side_by_side`)."""
    d, m = W0.shape
    one = torch.cat([W0.t(), b0.t()], dim=1)  # (m, d+1): [W0ᵀ b0ᵀ]
    block = one.repeat(K, 1).contiguous()
    return block, *parameter_views(block, K, d, m)


def parameter_views(
    block: torch.Tensor, K: int, d: int, m: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """W (K, d, m) and b (K, 1, m) as views of a (K·m, d+1) block."""
    rows = block.view(K, m, d + 1)
    return rows[:, :, :d].transpose(1, 2), rows[:, :, d:].transpose(1, 2)


def _empty(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    return torch.empty(shape, dtype=like.dtype, device=like.device)


def _number(value: float, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a 0-dim tensor: torch wraps a Python number in a new tensor at each operation."""
    return torch.tensor(value, dtype=like.dtype, device=like.device)


def _mse_plan(yhat: torch.Tensor, y: torch.Tensor) -> tuple:
    K, n, m = yhat.shape
    # Worked on transposed, (K, m, n): BatchedLinear lays its output out that way, so each
    # run's n·m residuals are contiguous and its sum of squares one row of a product.
    diff_t = _empty((K, m, n), yhat)
    return (
        yhat.transpose(1, 2),
        y.t().contiguous(),
        diff_t,
        diff_t.view(K, m * n),
        _empty((K, m * n), yhat),
        torch.ones(m * n, dtype=yhat.dtype, device=yhat.device),
        _empty((K,), yhat),
        _number(1.0 / (n * m), yhat),
    )


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
        key = (id(yhat), id(y), _version(y))
        plan = _plan(ctx, "forward", key, (yhat, y), lambda: _mse_plan(yhat, y))
        yhat_t, y_t, diff_t, rows, squares, ones, sums, mean = plan
        torch.sub(yhat_t, y_t, out=diff_t)
        # Each run's squares summed by one product with a column of ones, K sums at once, then
        # divided as MSE divides its sum (so that a sum overflows where a single run's does).
        torch.square(rows, out=squares)
        torch.mv(squares, ones, out=sums)
        # Backward needs only the residual: saving it spares recomputing yhat − y.
        ctx.save_for_backward(diff_t)
        return torch.mul(sums, mean)

    @staticmethod
    def backward(ctx, grad_output):
        (diff_t,) = ctx.saved_tensors
        K, m, n = diff_t.shape
        # d/dyhat of sum((yhat − y)²)/N is 2 (yhat − y)/N, run by run, times its upstream gradient.
        if isinstance(grad_output, torch.Tensor):
            grad_t = diff_t * (grad_output * (2.0 / (n * m))).view(-1, 1, 1)
            grad_yhat = grad_t.transpose(1, 2)
        else:  # a number, the same for every run, as the hand-stepped loop passes 1

            def make() -> tuple:
                grad_t = _empty((K, m, n), diff_t)
                return _number(2.0 * grad_output / (n * m), diff_t), grad_t, grad_t.transpose(1, 2)

            scale, grad_t, grad_yhat = _plan(
                ctx, "backward", (id(diff_t), grad_output), (diff_t,), make
            )
            torch.mul(diff_t, scale, out=grad_t)
        needs = getattr(ctx, "needs_input_grad", None) or (True, True)
        # y is shared by the K runs: its gradient sums theirs.
        grad_y = -grad_yhat.sum(0) if needs[1] else None
        return grad_yhat, grad_y


def _linear_plan(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> tuple:
    K, d, m = W.shape
    n = X.shape[0]
    # [X 1] and its transpose: X W + b is [X 1] [W; b].
    ones = torch.cat([X, torch.ones(n, 1, dtype=X.dtype, device=X.device)], dim=1)
    wide = _empty((K * m, n), X)
    # The block is kept only as a view: a copy would miss the updates of W and b.
    return side_by_side(W, b), ones, ones.t().contiguous(), wide, wide.view(K, m, n).transpose(1, 2)


class BatchedLinear(Function):
    """The notebook's Linear for K parameter sets: X (n, d), W (K, d, m), b (K, 1, m) → (K, n, m).

    Run k computes X W[k] + b[k]; backward returns Xᵀ g[k] for W[k] and the sum of
    g[k]'s rows for b[k], as :class:`engine.core.functions.Linear` does.  Each is one
    product for the K runs, by the bias trick: X W + b = [X 1] [W; b], and
    [X 1]ᵀ g = [Xᵀ g; 1ᵀ g] is ∇W over ∇b.
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
        key = (id(X), _version(X), id(W), id(b))
        plan = _plan(ctx, "forward", key, (X, W, b), lambda: _linear_plan(X, W, b))
        block, ones, ones_t, wide, yhat = plan
        if block is None:  # W and b stored apart: [W[k]ᵀ b[k]ᵀ] copied, at each call
            K, d, m = W.shape
            block = torch.cat([W.transpose(1, 2).reshape(K * m, d), b.reshape(K * m, 1)], dim=1)
        ctx.save_for_backward(ones, block)
        # Ŷᵀ for all runs at once, (K·m, n): [W[k]ᵀ b[k]ᵀ] [X 1]ᵀ stacked over k.
        torch.mm(block, ones_t, out=wide)
        return yhat

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        ones, block = ctx.saved_tensors

        def make() -> tuple:
            n, row = ones.shape
            K, _, m = grad_output.shape
            # Each run's gradient rows, (K·m, n): a view when it comes from BatchedMSE.
            rows = grad_output.transpose(1, 2)
            grad_t = rows.view(K * m, n) if rows.is_contiguous() else None
            grads = _empty((K * m, row), ones)
            return grad_t, grads, *parameter_views(grads, K, row - 1, m)

        grad_t, grads, grad_W, grad_b = _plan(
            ctx, "backward", (id(grad_output), id(ones)), (grad_output, ones), make
        )
        if grad_t is None:  # a copy, at each call
            K, n, m = grad_output.shape
            grad_t = grad_output.transpose(1, 2).reshape(K * m, n)
        # [∇W[k]ᵀ ∇b[k]ᵀ] for every run in one product, laid out as the block: [X 1]ᵀ g.
        torch.mm(grad_t, ones, out=grads)
        needs = getattr(ctx, "needs_input_grad", None) or (True, True, True)
        # X is shared by the K runs: its gradient sums theirs, Σₖ g[k] W[k]ᵀ.
        grad_X = grad_t.t() @ block[:, :-1] if needs[0] else None
        return grad_X, grad_W if needs[1] else None, grad_b if needs[2] else None


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
        d, m = problem.W0.shape
        # Every run's parameters as of its last iteration, side by side (see side_by_side):
        # W (K, d, m) and b (K, 1, m) are views of this (K·m, d+1) block.
        self._block, self._W, self._b = stacked_parameters(problem.W0, problem.b0, K)
        # The runs still going, and their parameters: the whole block until a run stops,
        # then a block of their own rows only (a stopped run costs nothing any more).
        self._live = np.arange(K)
        self._working = self._block
        # Each row's learning rate (a run's m rows share it), a column that broadcasts over
        # the block as a number does over W; negated for plain SGD's update.
        rates = torch.tensor(self.learning_rates, dtype=self.dtype, device=device)
        self._rates = rates.repeat_interleave(m).view(K * m, 1)
        self._steps = -self._rates
        # Each run's losses, in the run's dtype: chunks of numpy arrays, joined when read.
        self._losses: list[list[np.ndarray]] = [[] for _ in range(K)]
        self._counts = np.zeros(K, dtype=np.int64)
        self._iteration = 0
        # The optimizers of a single run, with a learning rate per row of the block.
        config = self.config
        self._updates = make_optimizer(
            config.optimizer, 0.0, config.momentum, config.beta1, config.beta2
        )
        self._updates.learning_rate = self._rates
        n = problem.X.shape[0]
        batch_size = self.config.batch_size
        self._batches = (
            MiniBatches(n, batch_size, self.config.seed, device)
            if batch_size is not None and batch_size < n
            else None
        )
        # Kept between chunks: the Functions keep their buffers on them (see SweepContext).
        self._contexts = tuple(
            SweepContext(needs) for needs in ((False, True, True), (True, False)) * 2
        )

    @property
    def iteration(self) -> int:
        """Iterations performed by the longest run so far."""
        return self._iteration

    @property
    def finished(self) -> bool:
        return self._iteration >= self.config.max_iter or len(self._live) == 0

    def run(self, max_steps: int | None = None) -> bool:
        """Up to ``max_steps`` iterations of every run still going; True once all have stopped."""
        remaining = self.config.max_iter - self._iteration
        steps = remaining if max_steps is None else max(0, min(max_steps, remaining))
        if steps == 0 or len(self._live) == 0:
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
                while steps > 0 and len(self._live):
                    steps -= self._segment(min(steps, SLICE))
        finally:
            torch.set_num_threads(threads)
        return self.finished

    def _segment(self, steps: int) -> int:
        """Up to ``steps`` iterations of the live runs, ending early after the first iteration at
        which one of them stops; returns the iterations done.

        A run stops as a single run does: after the first iteration whose loss is at or under
        the threshold (converged, its update made), or at a loss that is not finite (diverged,
        before its update).  One look at the losses an iteration (their least and greatest,
        one operation) says whether any run stopped; only then does the sweep look at which.
        """
        X, Y = self.problem.X, self.problem.Y
        block, live = self._working, self._live
        d, m = self.problem.W0.shape
        W, b = parameter_views(block, len(live), d, m)
        ctx_linear, ctx_mse, ctx_batch_linear, ctx_batch_mse = self._contexts
        threshold, batches, updates = self._threshold, self._batches, self._updates
        steps_by_row = self._steps if self.config.optimizer == "sgd" else None
        linear_forward, linear_backward = BatchedLinear.forward, BatchedLinear.backward
        mse_forward, mse_backward = BatchedMSE.forward, BatchedMSE.backward
        aminmax, inf = torch.aminmax, math.inf
        recorded: list[torch.Tensor] = []
        grad_views: tuple | None = None
        grads = None
        stopping = None
        for _ in range(steps):
            loss = mse_forward(ctx_mse, linear_forward(ctx_linear, X, W, b), Y)
            recorded.append(loss)
            low, high = aminmax(loss)
            if not (low.item() > threshold and high.item() < inf):  # NaN included
                stopping = np.asarray(loss.tolist())
            if batches is None:
                grad_yhat, _ = mse_backward(ctx_mse, 1.0)
                _, grad_W, grad_b = linear_backward(ctx_linear, grad_yhat)
            else:
                # The recorded loss and the stop test use the full batch, the update a batch.
                batch = batches.next()
                yhat = linear_forward(ctx_batch_linear, X.index_select(0, batch), W, b)
                mse_forward(ctx_batch_mse, yhat, Y.index_select(0, batch))
                grad_yhat, _ = mse_backward(ctx_batch_mse, 1.0)
                _, grad_W, grad_b = linear_backward(ctx_batch_linear, grad_yhat)
            if grad_views is None or grad_views[0] is not grad_W or grad_views[1] is not grad_b:
                # The gradients come back side by side, as the block: one update for W and b.
                grad_views, grads = (grad_W, grad_b), side_by_side(grad_W, grad_b)
            if stopping is not None:
                # A run whose loss is not finite stops before its update: its rows are put back.
                diverged = _rows(np.flatnonzero(~np.isfinite(stopping)), m, block.device)
                before = block.index_select(0, diverged)
            if steps_by_row is not None:
                block.addcmul_(grads, steps_by_row)
            else:
                updates.step([block], [grads])
            if stopping is not None:
                block.index_copy_(0, diverged, before)
                break
        done = len(recorded)
        self._iteration += done
        self._read_out(torch.stack(recorded).cpu().numpy(), live)
        if block is not self._block:
            self._block.index_copy_(0, _rows(live, m, block.device), block)
        if stopping is not None:
            self._keep(np.isfinite(stopping) & (stopping > threshold))
        return done

    def _keep(self, going: np.ndarray) -> None:
        """Only the live runs where ``going`` is true stay in the working block."""
        m = self.problem.W0.shape[1]
        rows = _rows(np.flatnonzero(going), m, self._working.device)
        self._live = self._live[going]
        self._working = self._working.index_select(0, rows)
        self._steps = self._steps.index_select(0, rows)
        self._rates = self._rates.index_select(0, rows)
        updates = self._updates
        updates.learning_rate = self._rates
        # An optimizer's state (momentum's v, Adam's m and v) is laid out as the block.
        for name, value in vars(updates).items():
            if isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
                setattr(updates, name, [t.index_select(0, rows) for t in value])

    def _read_out(self, recorded: np.ndarray, live: np.ndarray) -> None:
        losses = self._losses
        # A run's losses are a column: iterating the transpose's rows gives them as views.
        for k, column in zip(live.tolist(), recorded.T, strict=True):
            losses[k].append(column)
        self._counts[live] += len(recorded)

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


def _rows(runs: np.ndarray, m: int, device: torch.device) -> torch.Tensor:
    """The rows of the block that hold ``runs``' parameters (m rows a run)."""
    runs = torch.as_tensor(runs, dtype=torch.long, device=device)
    return (runs.view(-1, 1) * m + torch.arange(m, device=device)).view(-1)


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
