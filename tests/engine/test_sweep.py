"""The learning-rate sweep: batched Functions, each run equal to a single run, the theory's curve, the bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.config import Config
from engine.core.descent import Descent, Status
from engine.core.functions import Context
from engine.core.problem import notebook_problem
from engine.core.sweep import (
    BatchedLinear,
    BatchedMSE,
    Sweep,
    SweepContext,
    parameter_views,
    side_by_side,
    stacked_parameters,
    sweep_rates,
)
from engine.core.theory import diverges, predicted_losses, stability_bound


def _parameters(
    layout: str, K: int, d: int, m: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """W (K, d, m) and b (K, 1, m) leaves: side by side in one block as the sweep stores them
    ("stored", the Functions' fast path), a strided view, or each a tensor of its own."""
    if layout == "stored":
        block = torch.randn(K * m, d + 1, dtype=torch.float64, generator=generator)
        W, b = parameter_views(block, K, d, m)
        assert side_by_side(W, b) is not None
    else:
        W = torch.randn(K, d, m, dtype=torch.float64, generator=generator)
        if layout == "strided":  # a (K, d, m) view of a (d, K, m) tensor
            W = torch.randn(d, K, m, dtype=torch.float64, generator=generator).transpose(0, 1)
        b = torch.randn(K, 1, m, dtype=torch.float64, generator=generator)
        assert side_by_side(W, b) is None
    return W.requires_grad_(), b.requires_grad_()


@pytest.mark.parametrize("layout", ["contiguous", "strided", "stored"])
def test_the_batched_functions_pass_gradcheck(layout: str) -> None:
    g = torch.Generator().manual_seed(0)
    K, n, d, m = 4, 6, 3, 2
    X = torch.randn(n, d, dtype=torch.float64, generator=g, requires_grad=True)
    W, b = _parameters(layout, K, d, m, g)
    yhat = torch.randn(K, n, m, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randn(n, m, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(BatchedLinear.apply, (X, W, b))
    assert torch.autograd.gradcheck(BatchedMSE.apply, (yhat, y))


def test_the_side_by_side_block_is_each_runs_w_and_b() -> None:
    W0, b0 = torch.arange(6.0).view(3, 2), torch.tensor([[10.0, 20.0]])
    block, W, b = stacked_parameters(W0, b0, 4)
    assert block.shape == (8, 4) and W.shape == (4, 3, 2) and b.shape == (4, 1, 2)
    for k in range(4):
        assert torch.equal(W[k], W0) and torch.equal(b[k], b0)
    # Row k·m + j: column j of W[k], then b[k][0, j].
    assert block[3].tolist() == [1.0, 3.0, 5.0, 20.0]
    assert torch.equal(side_by_side(W, b), block)
    assert side_by_side(W.contiguous(), b) is None
    assert side_by_side(W, b.clone()) is None


@pytest.mark.parametrize("layout", ["contiguous", "strided", "stored"])
def test_a_kept_context_follows_its_inputs_as_they_change(layout: str) -> None:
    """The Functions keep buffers and views on a SweepContext between calls: whatever changes in
    place between two calls (X, Y, W, b, as the sweep's update changes W and b) must be seen,
    and each call must give what a fresh context gives."""
    g = torch.Generator().manual_seed(2)
    K, n, d, m = 3, 5, 4, 2
    X = torch.randn(n, d, dtype=torch.float64, generator=g)
    Y = torch.randn(n, m, dtype=torch.float64, generator=g)
    W, b = (t.detach() for t in _parameters(layout, K, d, m, g))
    kept_linear, kept_mse = SweepContext((False, True, True)), SweepContext((True, False))

    def step(linear: Context, mse: Context) -> list[torch.Tensor]:
        loss = BatchedMSE.forward(mse, BatchedLinear.forward(linear, X, W, b), Y)
        grad_yhat, _ = BatchedMSE.backward(mse, 1.0)
        _, grad_W, grad_b = BatchedLinear.backward(linear, grad_yhat)
        return [loss.clone(), grad_W.clone(), grad_b.clone()]

    for change in range(5):
        kept = step(kept_linear, kept_mse)
        fresh = step(Context((False, True, True)), Context((True, False)))
        for a, e in zip(kept, fresh, strict=True):
            torch.testing.assert_close(a, e)
        # Then one of the inputs changes in place before the next call.
        [W, b, X, Y, W][change].add_(0.25)


@pytest.mark.parametrize("layout", ["strided", "stored"])
def test_the_batched_functions_compute_the_notebooks_formulas_run_by_run(layout: str) -> None:
    from engine.core.functions import MSE, Linear

    g = torch.Generator().manual_seed(1)
    K, n, d, m = 5, 7, 4, 3
    X = torch.randn(n, d, dtype=torch.float64, generator=g)
    Y = torch.randn(n, m, dtype=torch.float64, generator=g)
    W, b = _parameters(layout, K, d, m, g)
    losses = BatchedMSE.apply(BatchedLinear.apply(X, W, b), Y)
    losses.sum().backward()
    for k in range(K):
        Wk = W[k].detach().clone().requires_grad_()
        bk = b[k].detach().clone().requires_grad_()
        loss = MSE.apply(Linear.apply(X, Wk, bk), Y)
        loss.backward()
        torch.testing.assert_close(losses[k], loss)
        torch.testing.assert_close(W.grad[k], Wk.grad)
        torch.testing.assert_close(b.grad[k], bk.grad)


def test_bad_shapes_are_named() -> None:
    X = torch.zeros(5, 3)
    with pytest.raises(ValueError, match=r"expected X \(n, d\) and W \(K, d, m\)"):
        BatchedLinear.apply(X, torch.zeros(2, 4, 1), torch.zeros(2, 1, 1))
    with pytest.raises(ValueError, match="b has shape"):
        BatchedLinear.apply(X, torch.zeros(2, 3, 1), torch.zeros(2, 1))
    with pytest.raises(ValueError, match="BatchedMSE"):
        BatchedMSE.apply(torch.zeros(2, 5, 1), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="at least one learning rate"):
        Sweep(Config(), ())


def test_rates_are_log_spaced_ends_included() -> None:
    rates = sweep_rates(1e-4, 1.0, 5)
    assert rates[0] == pytest.approx(1e-4) and rates[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log10(rates)), 1.0)
    assert sweep_rates(0.5, 2.0, 1) == (0.5,)


def _assert_same_runs(config: Config, rates: tuple[float, ...], chunk: int | None) -> None:
    problem = notebook_problem(config)
    sweep = Sweep(config, rates, problem)
    while not sweep.run(chunk):
        pass
    finals = sweep.final_losses()
    seen = set()
    for k, rate in enumerate(rates):
        single = Descent(config.for_learning_rate(rate), problem)
        single.run()
        run = sweep.result(k)
        # A run stops moving as a single run stops: its W, b and the loss there are those of
        # its last iteration (a diverged run's from before the update it did not make).
        for got, expected in ((run.W, single.W), (run.b, single.b)):
            expected = expected.double().numpy()
            assert np.isfinite(expected).all(), rate
            scale = np.abs(expected).max()
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * scale, err_msg=rate)
        final = single.final_loss()
        assert math.isfinite(finals[k]) == math.isfinite(final), rate
        if math.isfinite(final):
            assert finals[k] == pytest.approx(final, rel=1e-5), rate
        seen.add(run.status)
        assert (run.status, run.iterations) == (single.status, single.iteration), rate
        expected = single.losses
        finite = np.isfinite(expected)
        assert np.array_equal(finite, np.isfinite(run.losses)), rate
        # Past the bound the error grows ×(ελ − 1) a step, and with it the last bits that
        # rounding decides (on another CPU a loss of 1e20 differed by 1.0e-5): 1e-5 while
        # the loss is under 1,000 times its start, 1e-3 over the blow-up.
        calm = finite & (expected < 1e3 * expected[0])
        np.testing.assert_allclose(run.losses[calm], expected[calm], rtol=1e-5)
        np.testing.assert_allclose(run.losses[finite], expected[finite], rtol=1e-3)
    return seen


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_each_run_of_a_sweep_equals_a_single_run_at_its_rate(optimizer: str) -> None:
    config = Config(optimizer=optimizer, max_iter=1500, tensorboard=False)
    seen = _assert_same_runs(config, sweep_rates(1e-3, 3.0, 12), chunk=700)
    if optimizer != "adam":  # the range crosses the bound: both ends of the story are there
        assert {Status.CONVERGED, Status.DIVERGED} <= seen


def test_a_sweep_with_mini_batches_draws_them_as_a_single_run_does() -> None:
    config = Config(batch_size=8, max_iter=400, tensorboard=False)
    seen = _assert_same_runs(config, (0.003, 0.03, 0.3), chunk=None)
    assert Status.CAPPED in seen or Status.CONVERGED in seen


def test_the_default_sweep_reproduces_the_notebooks_run() -> None:
    """ε = 0.01 among the rates: the notebook's 1475 iterations (0.0001 capped at 2,000)."""
    config = Config(max_iter=2000, tensorboard=False)
    sweep = Sweep(config, (0.0001, 0.01, 0.5))
    sweep.run()
    run = sweep.result(1)
    assert (run.status, run.iterations) == (Status.CONVERGED, 1475)
    assert sweep.result(0).status is Status.CAPPED and sweep.result(0).iterations == 2000


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_the_sweep_brackets_the_optimizers_bound(optimizer: str) -> None:
    config = Config(optimizer=optimizer, tensorboard=False)
    problem = notebook_problem(config)
    sweep = Sweep(config, sweep_rates(1e-2, 3.0, 64), problem)
    sweep.run()
    runs = sweep.results()
    bound = stability_bound(problem.theory.lr_max, optimizer, None, 50, config.momentum)
    largest_converged = max(r.learning_rate for r in runs if r.status is Status.CONVERGED)
    smallest_diverged = min(r.learning_rate for r in runs if r.status is Status.DIVERGED)
    assert largest_converged < bound.value < smallest_diverged
    # No run is both: every run under the bound converged, every one above diverged.
    assert all((r.status is Status.DIVERGED) == (r.learning_rate > bound.value) for r in runs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_theorys_curve_matches_the_measured_losses(dtype: str) -> None:
    """The default problem, 64 rates from 1e-4 to 3, 1,000 iterations: to 1e-4 where both are finite.

    In float32 one run is left out: ε = 1.56, just past 2/L, whose loss has grown to 3e28 in
    1,000 iterations without overflowing; float32's rounding errors grow with it along the
    unstable direction (measured 2.2e-4 off).  In float64 every finite run is in.
    """
    config = Config(max_iter=1000, dtype=dtype, tensorboard=False)
    problem = notebook_problem(config)
    rates = np.asarray(sweep_rates(1e-4, 3.0, 64))
    sweep = Sweep(config, rates, problem)
    sweep.run()
    runs = sweep.results()
    # The loss recorded at a run's last iteration is the one before its update: iterations − 1 updates.
    predicted = predicted_losses(
        problem.X, problem.Y, problem.W0, problem.b0, rates, [r.iterations - 1 for r in runs]
    )
    measured = np.array([r.losses[-1] for r in runs])
    both = np.isfinite(predicted) & np.isfinite(measured)
    if dtype == "float32":
        both &= rates < problem.theory.lr_max
    assert both.sum() >= 55
    np.testing.assert_allclose(measured[both], predicted[both], rtol=1e-4)
    # Where a run diverged, it was past 2/L, and the theory's loss grows without bound there.
    diverged = np.array([r.status is Status.DIVERGED for r in runs])
    assert diverged.any() and np.all(rates[diverged] > problem.theory.lr_max)


def test_the_prediction_against_a_float64_run_at_every_iteration() -> None:
    config = Config(max_iter=300, threshold=0.0, dtype="float64", tensorboard=False)
    problem = notebook_problem(config)
    for rate in (0.003, 0.3, 1.5):
        descent = Descent(config.for_learning_rate(rate), problem)
        descent.run()
        predicted = predicted_losses(
            problem.X, problem.Y, problem.W0, problem.b0, [rate] * 300, range(300)
        )
        np.testing.assert_allclose(descent.losses, predicted, rtol=1e-9)


@pytest.mark.parametrize(
    ("optimizer", "momentum"),
    [("sgd", 0.9), ("momentum", 0.5), ("momentum", 0.9), ("nesterov", 0.5), ("nesterov", 0.9)],
)
def test_a_run_just_under_the_bound_converges_and_one_just_over_diverges(
    optimizer: str, momentum: float
) -> None:
    config = Config(optimizer=optimizer, momentum=momentum, tensorboard=False, dtype="float64")
    problem = notebook_problem(config)
    bound = stability_bound(problem.theory.lr_max, optimizer, None, 50, momentum).value
    under = Descent(config.for_learning_rate(0.97 * bound), problem)
    over = Descent(config.for_learning_rate(1.03 * bound), problem)
    assert under.run() is Status.CONVERGED
    assert over.run() is Status.DIVERGED
    assert diverges(0.97 * bound, problem.theory.lr_max, optimizer, None, 50, momentum) is False
    assert diverges(1.03 * bound, problem.theory.lr_max, optimizer, None, 50, momentum) is True


def test_no_bound_is_claimed_where_the_theory_says_nothing() -> None:
    assert stability_bound(1.0, "adam", None, 50, 0.9) is None
    assert stability_bound(1.0, "sgd", 10, 50) is None  # mini-batches
    assert stability_bound(1.0, "sgd", 10) is None  # n unknown: a batch size is mini-batches
    assert stability_bound(1.0, "sgd", 50, 50).value == 1.0  # a batch of all n is the whole batch
    assert stability_bound(1.0, "momentum", None, 50) is None  # μ unknown
    assert stability_bound(None, "sgd", None, 50) is None
    assert stability_bound(1.0, "momentum", None, 50, 0.0).value == 1.0
    assert math.isclose(stability_bound(1.0, "nesterov", None, 50, 0.5).value, 1.5 / 2.0)
