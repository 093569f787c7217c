"""What a mutation test of the engine core (`make mutate`) found untested.

Each test here failed on a small change to the engine (a flipped operator, a dropped
statement, a changed constant) that the rest of the suite let through.  The engine's results
are compared with an independent computation (NumPy, torch.optim, torch's autograd) within
tolerances, never on rounding-decided digits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import engine.core.functions as functions
import engine.core.theory as theory
from engine import Descent, Status, make_config
from engine.core.descent import MiniBatches, copy_optimizer
from engine.core.functions import MSE, Context, Linear
from engine.core.optimizers import Adam, Momentum, make_optimizer
from engine.core.problem import Problem, toy_problem

# -- the theory: the block-by-block path and the distance ---------------------------------------


def _data(n: int, d: int, m: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64) + 0.5  # off-centre: b matters
    W = torch.randn(d, m, generator=g, dtype=torch.float64)
    Y = X @ W + 2.0 + torch.randn(n, m, generator=g, dtype=torch.float64)
    return X, Y


def _numpy_theory(X: torch.Tensor, Y: torch.Tensor):
    """The optimum, its loss and the Hessian's eigenvalues from NumPy alone."""
    X, Y = X.double().numpy(), Y.double().numpy()
    n, m = Y.shape
    X_tilde = np.hstack([X, np.ones((n, 1))])
    solution = np.linalg.lstsq(X_tilde, Y, rcond=None)[0]
    loss = np.mean((X_tilde @ solution - Y) ** 2)
    eigenvalues = np.linalg.eigvalsh(2.0 / (n * m) * X_tilde.T @ X_tilde)
    return solution, loss, eigenvalues


@pytest.mark.parametrize("block_rows", [64, 100, 1000])
def test_the_block_by_block_theory_equals_numpys_least_squares(monkeypatch, block_rows):
    """Large data (n (d + 1) over the direct limit) go a block of rows at a time; forced here."""
    X, Y = _data(301, 5, 2)
    monkeypatch.setattr(theory, "DIRECT_MAX_ENTRIES", 10)
    monkeypatch.setattr(theory, "BLOCK_ROWS", block_rows)  # 5, 4 and 1 blocks, the last short
    blocks = theory.theory_of(X, Y)
    solution, loss, eigenvalues = _numpy_theory(X, Y)
    np.testing.assert_allclose(np.vstack([blocks.W_star, blocks.b_star]), solution, atol=1e-9)
    assert blocks.W_star.shape == (5, 2) and blocks.b_star.shape == (1, 2)
    assert blocks.optimal_loss == pytest.approx(loss, rel=1e-9)
    np.testing.assert_allclose(blocks.hessian_eigenvalues, eigenvalues, rtol=1e-9)
    assert blocks.lr_max == pytest.approx(2.0 / eigenvalues[-1], rel=1e-9)
    assert blocks.condition_number == pytest.approx(eigenvalues[-1] / eigenvalues[0], rel=1e-7)


def test_the_block_by_block_theory_of_float32_data_equals_the_direct_one(monkeypatch):
    X, Y = _data(200, 3, 3, seed=1)
    X, Y = X.float(), Y.float()
    direct = theory.theory_of(X, Y)
    monkeypatch.setattr(theory, "DIRECT_MAX_ENTRIES", 10)
    monkeypatch.setattr(theory, "BLOCK_ROWS", 48)
    blocks = theory.theory_of(X, Y)
    assert blocks.optimal_loss == pytest.approx(direct.optimal_loss, rel=1e-9)
    np.testing.assert_allclose(blocks.hessian_eigenvalues, direct.hessian_eigenvalues, rtol=1e-9)
    np.testing.assert_allclose(blocks.W_star, direct.W_star, atol=1e-9)
    np.testing.assert_allclose(blocks.b_star, direct.b_star, atol=1e-9)


def test_the_normal_equations_are_those_of_x_with_a_column_of_ones(monkeypatch):
    X, Y = _data(37, 4, 2)
    monkeypatch.setattr(theory, "BLOCK_ROWS", 8)
    gram, moment = theory._normal_equations(X, Y)
    X_tilde = np.hstack([X.numpy(), np.ones((37, 1))])
    np.testing.assert_allclose(gram.numpy(), X_tilde.T @ X_tilde, rtol=1e-12)
    np.testing.assert_allclose(moment.numpy(), X_tilde.T @ Y.numpy(), rtol=1e-12)


def test_the_distance_to_the_optimum_away_from_it():
    W_star = np.array([[1.0, 2.0], [3.0, 4.0]])
    b_star = np.array([[0.5, -0.5]])
    W = W_star + np.array([[3.0, 0.0], [0.0, 0.0]])
    b = b_star + np.array([[0.0, -4.0]])
    assert theory.distance(W, b, W_star, b_star) == pytest.approx(5.0)
    t = theory.Theory(1.0, 1.0, 1.0, W_star, b_star)
    assert t.distance(W, b) == pytest.approx(5.0)
    assert t.distance(W_star, b_star) == 0.0


# -- mini-batches: every row once per epoch ----------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3, 7, 8, 49])
def test_each_epoch_visits_every_row_once(batch_size):
    n = 50
    batches = MiniBatches(n, batch_size, seed=3, device=torch.device("cpu"))
    per_epoch = math.ceil(n / batch_size)
    for _ in range(3):
        epoch = [batches.next() for _ in range(per_epoch)]
        assert [len(b) for b in epoch[:-1]] == [batch_size] * (per_epoch - 1)
        assert len(epoch[-1]) == n - batch_size * (per_epoch - 1)
        assert sorted(torch.cat(epoch).tolist()) == list(range(n))


def _reference_mini_batch_losses(problem, batch_size, seed, lr, iterations):
    """Mini-batch SGD with torch's autograd and torch.optim.SGD, batches drawn as a
    DataLoader(shuffle=True) with a generator seeded by ``seed`` would: a new permutation of
    all n rows each epoch; the recorded loss is the full batch's, before the update."""
    X, Y = problem.X, problem.Y
    n = X.shape[0]
    W = problem.W0.clone().requires_grad_()
    b = problem.b0.clone().requires_grad_()
    optim = torch.optim.SGD([W, b], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    batches: list[torch.Tensor] = []
    losses = []
    for _ in range(iterations):
        if not batches:
            order = torch.randperm(n, generator=generator)
            batches = list(order.split(batch_size))
        batch = batches.pop(0)
        with torch.no_grad():
            losses.append(torch.mean((X @ W + b - Y) ** 2).item())
        optim.zero_grad()
        torch.mean((X[batch] @ W + b - Y[batch]) ** 2).backward()
        optim.step()
    return np.array(losses)


@pytest.mark.parametrize("batch_size", [4, 7, 13])
def test_a_mini_batch_run_draws_its_batches_from_all_rows(batch_size):
    config = make_config(
        batch_size=batch_size, seed=5, learning_rate=0.05, dtype="float64", threshold=-1
    )
    descent = Descent(config)
    descent.run(40)  # several epochs of 50 rows
    expected = _reference_mini_batch_losses(descent.problem, batch_size, 5, 0.05, 40)
    np.testing.assert_allclose(descent.losses, expected, rtol=1e-9)


# -- the threshold: "at or under" ---------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {},  # plain gradient descent: the fast loop
        {"optimizer": "momentum", "momentum": 0.5},  # the general loop
        {"optimizer": "adam", "learning_rate": 0.05},
        {"batch_size": 500},  # a batch of all the rows: the fast loop
    ],
)
def test_a_loss_exactly_at_the_threshold_converges(settings):
    config = make_config(threshold=-1, max_iter=30, **settings)
    first = Descent(config)
    first.run()
    k = 20
    # The losses fall: the 21st is the first at or under its own value.
    assert first.losses[:k].min() > first.losses[k] > first.losses[k + 1]
    at = Descent(make_config(config, threshold=float(first.losses[k])))
    assert at.run() is Status.CONVERGED
    assert at.iteration == k + 1
    np.testing.assert_array_equal(at.losses, first.losses[: k + 1])


# -- divergence ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"optimizer": "momentum", "learning_rate": 4.0, "momentum": 0.9},
        {"optimizer": "nesterov", "learning_rate": 2.0, "momentum": 0.9},
        {"optimizer": "adam", "learning_rate": 1e37},
        {"optimizer": "sgd", "learning_rate": 1.6, "batch_size": 10},
    ],
)
def test_a_diverging_optimizer_run_keeps_its_last_non_finite_loss(settings):
    descent = Descent(make_config(max_iter=5000, threshold=-1, **settings))
    assert descent.run() is Status.DIVERGED
    losses = descent.losses
    assert not np.isfinite(losses[-1])
    assert np.isfinite(losses[:-1]).all() and len(losses) > 1
    assert descent.iteration == len(losses) < 5000
    assert descent.step() is Status.DIVERGED and descent.iteration == len(losses)


def test_a_diverging_run_with_test_rows_keeps_both_last_losses():
    problem = toy_problem(42)
    split = Problem(
        problem.X[:40], problem.Y[:40], problem.W0, problem.b0,
        X_test=problem.X[40:], Y_test=problem.Y[40:],
    )  # fmt: skip
    descent = Descent(make_config(learning_rate=1.8, threshold=-1, max_iter=5000), split)
    assert descent.run() is Status.DIVERGED
    assert len(descent.test_losses) == len(descent.losses) == descent.iteration
    assert not np.isfinite(descent.losses[-1])
    assert np.isfinite(descent.test_losses[:-1]).all()


def test_a_parameter_that_alone_is_not_finite_makes_the_parameters_not_finite():
    descent = Descent()
    assert descent.parameters_finite()
    descent._b[0, 1] = math.inf
    assert not descent.parameters_finite()
    descent.reset()
    descent._W[3, 2] = math.nan
    assert not descent.parameters_finite()


# -- snapshots and what a step moved ------------------------------------------------------------


def _autograd_gradients(problem):
    W = problem.W0.clone().double().requires_grad_()
    b = problem.b0.clone().double().requires_grad_()
    torch.mean((problem.X.double() @ W + b - problem.Y.double()) ** 2).backward()
    return W.grad.numpy(), b.grad.numpy()


def test_the_snapshot_after_one_step():
    descent = Descent(make_config(learning_rate=0.1, dtype="float64"))
    before = descent.snapshot()
    assert before.iteration == 0 and before.loss is None and before.grad_W is None
    assert before.delta_W is None and before.delta_b is None and before.status is Status.READY
    descent.step()
    snap = descent.snapshot()
    grad_W, grad_b = _autograd_gradients(descent.problem)
    assert snap.iteration == 1 and snap.status is Status.RUNNING
    assert snap.loss == descent.losses[0] and snap.previous_loss is None
    np.testing.assert_allclose(snap.grad_W, grad_W, rtol=1e-9)
    np.testing.assert_allclose(snap.grad_b, grad_b, rtol=1e-9)
    np.testing.assert_allclose(snap.delta_W, -0.1 * grad_W, rtol=1e-9)
    np.testing.assert_allclose(snap.delta_b, -0.1 * grad_b, rtol=1e-9)
    np.testing.assert_allclose(snap.W, descent.problem.W0.numpy() - 0.1 * grad_W, rtol=1e-9)
    np.testing.assert_allclose(snap.b, descent.problem.b0.numpy() - 0.1 * grad_b, rtol=1e-9)
    assert snap.grad_b_norm == pytest.approx(np.linalg.norm(grad_b), rel=1e-9)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_delta_b_is_what_the_step_added_to_b(optimizer):
    descent = Descent(make_config(optimizer=optimizer, learning_rate=0.05, dtype="float64"))
    descent.run(3)
    W, b = descent.W.numpy(), descent.b.numpy()
    descent.step()
    snap = descent.snapshot()
    np.testing.assert_allclose(snap.delta_b, descent.b.numpy() - b, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(snap.delta_W, descent.W.numpy() - W, rtol=1e-9, atol=1e-15)
    assert snap.delta_b.shape == (1, 3)


# -- optimizers, built directly, against torch.optim ---------------------------------------------


def _steps_against_torch(ours, theirs_class, grads_list, **theirs_kwargs):
    """Runs our optimizer and torch's on the same gradients; returns both parameter paths."""
    start = [
        torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64),
        torch.zeros(1, 2).double(),
    ]
    mine = [p.clone() for p in start]
    theirs = [p.clone().requires_grad_() for p in start]
    optim = theirs_class(theirs, **theirs_kwargs)
    for grads in grads_list:
        before = [p.clone() for p in mine]
        ours.step(mine, [g.clone() for g in grads])
        for p, step, old in zip(mine, ours.last_step, before, strict=True):
            torch.testing.assert_close(step, p - old)  # last_step is what was added
        for p, g in zip(theirs, grads, strict=True):
            p.grad = g.clone()
        optim.step()
        for p, q in zip(mine, theirs, strict=True):
            torch.testing.assert_close(p, q.detach(), rtol=1e-12, atol=1e-12)
            assert torch.isfinite(p).all()


def _gradients(count: int, zero_at: tuple[int, ...] = ()) -> list[list[torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    out = []
    for k in range(count):
        grads = [torch.randn(2, 2, generator=g).double(), torch.randn(1, 2, generator=g).double()]
        out.append([torch.zeros_like(t) for t in grads] if k in zero_at else grads)
    return out


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("momentum", [0.5, 0.9])
def test_momentum_built_directly_equals_torch_optim_sgd(nesterov, momentum):
    ours = Momentum(0.1, momentum, nesterov=nesterov)
    _steps_against_torch(
        ours, torch.optim.SGD, _gradients(6), lr=0.1, momentum=momentum, nesterov=nesterov
    )


def test_adam_on_a_zero_gradient_equals_torch_optim_adam():
    """A zero gradient at the first step: m = v = 0, and ε alone keeps 0 / 0 from a NaN."""
    ours = Adam(0.01, 0.9, 0.999)
    _steps_against_torch(
        ours, torch.optim.Adam, _gradients(5, zero_at=(0, 3)), lr=0.01, betas=(0.9, 0.999)
    )


def test_adam_with_its_own_betas_equals_torch_optim_adam():
    ours = Adam(0.05, 0.8, 0.99)
    _steps_against_torch(ours, torch.optim.Adam, _gradients(6), lr=0.05, betas=(0.8, 0.99))


# -- the Functions, called by hand -------------------------------------------------------------


def test_mse_forward_by_hand_with_gradients_on_then_backward():
    """What a notebook user may do: ``MSE.forward(ctx, yhat, y)`` outside ``apply``, then
    ``.backward()`` on the result, even after a run made the cached scale in inference mode."""
    functions._SCALES.clear()
    g = torch.Generator().manual_seed(0)
    yhat_data = torch.randn(4, 3, generator=g)
    y = torch.randn(4, 3, generator=g)
    with torch.inference_mode():
        MSE.forward(Context(), yhat_data, y)  # the scale 1/12 is cached here
    yhat = yhat_data.clone().requires_grad_()
    loss = MSE.forward(Context(), yhat, y)
    loss.backward()
    torch.testing.assert_close(loss.detach(), torch.mean((yhat_data - y) ** 2))
    torch.testing.assert_close(yhat.grad, 2 * (yhat_data - y) / 12)


def test_linear_forward_by_hand_with_gradients_on_then_backward():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(5, 3, generator=g, dtype=torch.float64)
    W = torch.randn(3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, 2, generator=g, dtype=torch.float64, requires_grad=True)
    Linear.forward(Context(), X, W, b).sum().backward()
    torch.testing.assert_close(W.grad, X.sum(0).unsqueeze(1).expand(3, 2))
    torch.testing.assert_close(b.grad, torch.full((1, 2), 5.0, dtype=torch.float64))


def test_the_scale_cache_stays_bounded():
    functions._SCALES.clear()
    y = torch.zeros(1)
    for size in range(1, 1001):
        ones = torch.ones(size)
        assert MSE.forward(Context(), ones, y.expand(size)).item() == pytest.approx(1.0)
    assert 0 < len(functions._SCALES) <= 257


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_a_missing_gradient_is_an_error_not_a_parameter_left_alone(name):
    optimizer = make_optimizer(name, 0.1, 0.9, 0.9, 0.999)
    W, b = torch.ones(2, 2), torch.ones(1, 2)
    optimizer.step([W, b], [torch.ones(2, 2), torch.ones(1, 2)])
    with pytest.raises(ValueError):
        optimizer.step([W, b], [torch.ones(2, 2)])
    fresh = make_optimizer(name, 0.1, 0.9, 0.9, 0.999)
    with pytest.raises(ValueError):
        fresh.step([W, b], [torch.ones(2, 2)])


def test_an_unknown_optimizer_is_named_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown optimizer 'rmsprop'; expected one of sgd, "):
        make_optimizer("rmsprop", 0.1, 0.9, 0.9, 0.999)


def test_an_optimizer_runs_snapshot_before_its_first_step_and_a_mini_batch_sgd_step():
    descent = Descent(make_config(optimizer="adam", dtype="float64"))
    snap = descent.snapshot()
    assert snap.delta_W is None and snap.delta_b is None
    batches = Descent(make_config(batch_size=10, learning_rate=0.05, dtype="float64"))
    b = batches.b.numpy()
    batches.step()
    np.testing.assert_allclose(batches.snapshot().delta_b, batches.b.numpy() - b, rtol=1e-9)


def test_momentum_is_heavy_ball_unless_told_nesterov():
    assert Momentum(0.1, 0.9).nesterov is False


# -- the descent: what a second `make mutate` run found ------------------------------------------


def _split(n_train: int = 40) -> Problem:
    problem = toy_problem(42)
    return Problem(
        problem.X[:n_train], problem.Y[:n_train], problem.W0, problem.b0,
        X_test=problem.X[n_train:], Y_test=problem.Y[n_train:],
    )  # fmt: skip


def test_the_test_losses_of_a_run_are_those_of_its_parameters():
    """Each test loss is the test rows' MSE at the parameters the training loss was taken at."""
    split = _split()
    descent = Descent(make_config(learning_rate=0.1, max_iter=4, threshold=-1), split)
    expected = []
    for _ in range(4):
        yhat = split.X_test @ descent.W + descent.b
        expected.append(float(torch.mean((yhat - split.Y_test) ** 2)))
        descent.step()
    np.testing.assert_allclose(descent.test_losses, expected, rtol=1e-5)


@pytest.mark.parametrize(
    "settings, test_rows",
    [
        ({"optimizer": "momentum", "learning_rate": 4.0, "momentum": 0.9}, True),  # general loop
        ({"learning_rate": 1.8}, False),  # plain gradient descent: the fast loop
    ],
)
def test_the_last_losses_of_a_diverging_run_are_the_ones_computed(settings, test_rows):
    """Stepped one at a time, the non-finite loss recorded (and the test loss beside it) is the
    loss at the parameters it was taken at (inf stays inf), and the gradients of the last
    finite step are kept."""
    split = _split() if test_rows else toy_problem(42)
    descent = Descent(make_config(threshold=-1, max_iter=5000, **settings), split)
    while True:
        W, b = descent.W, descent.b
        if descent.step() is Status.DIVERGED:
            break
    pairs = [(descent.losses[-1], descent.loss_at(W, b))]
    if test_rows:
        with torch.inference_mode():
            yhat = Linear.forward(Context(), split.X_test, W, b)
            pairs.append(
                (descent.test_losses[-1], MSE.forward(Context(), yhat, split.Y_test).item())
            )
    for last, again in pairs:
        assert (math.isnan(last) and math.isnan(again)) or last == again
    snap = descent.snapshot()  # the step that found the loss non-finite computed no gradient
    assert snap.grad_W is not None and snap.grad_W.shape == (13, 3)


def test_a_snapshot_is_in_float64_whatever_the_runs_precision():
    descent = Descent(make_config(learning_rate=0.1))  # float32, the notebook's
    descent.run(2)
    snap = descent.snapshot()
    for array in (snap.W, snap.b, snap.grad_W, snap.grad_b, snap.delta_W, snap.delta_b):
        assert array.dtype == np.float64


def test_the_snapshot_after_two_steps_has_the_loss_before():
    descent = Descent(make_config(learning_rate=0.1))
    descent.run(2)
    snap = descent.snapshot()
    assert snap.loss == descent.losses[1] and snap.previous_loss == descent.losses[0]


def test_the_summary_of_a_run_with_test_rows():
    split = _split()
    descent = Descent(make_config(learning_rate=0.1, max_iter=3, threshold=-1), split)
    descent.run()
    out = descent.summary()
    assert out["test_losses"] == pytest.approx(descent.test_losses.tolist(), rel=1e-12)
    assert np.array(out["W"]) == pytest.approx(descent.W.double().numpy(), rel=1e-12)
    assert np.array(out["b"]) == pytest.approx(descent.b.double().numpy(), rel=1e-12)
    assert "test_losses" not in descent.summary(include_losses=False)


@pytest.mark.parametrize("short, bound", [(0, True), (1, False), (30, False)])
def test_the_runs_bound_knows_a_batch_of_every_row(short, bound):
    """A batch of all n rows is the full batch (2/L holds); n - 1 rows is a mini-batch, even
    when it has more rows than the data have features."""
    n = toy_problem(42).shape[0]
    descent = Descent(make_config(batch_size=n - short))
    lr_max = descent.theory_dict()["lr_max"]
    if bound:
        assert lr_max == pytest.approx(descent.problem.theory.lr_max, rel=1e-12)
    else:
        assert lr_max is None


@pytest.mark.parametrize("drawn", [0, 1, 3])
def test_a_copy_of_the_mini_batches_draws_the_same_batches_to_come(drawn):
    """What the inside-a-step view replays from: the copy goes on as the original does, across
    the end of an epoch, and drawing from it leaves the original alone."""
    batches = MiniBatches(10, 4, seed=7, device=torch.device("cpu"))
    for _ in range(drawn):
        batches.next()
    other = batches.copy()
    copied = [other.next() for _ in range(5)]
    for batch in copied:
        torch.testing.assert_close(batch, batches.next())


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam"])
def test_a_copied_optimizer_goes_on_as_the_original_and_alone(name):
    """The checkpoint's copy (what a step is replayed from): its state equals the original's,
    and stepping it leaves the original's state alone."""
    grads = _gradients(4)
    original = make_optimizer(name, 0.1, 0.9, 0.9, 0.999)
    params = [torch.ones(2, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64)]
    for g in grads[:2]:
        original.step(params, g)
    copy = copy_optimizer(original)
    mine = [p.clone() for p in params]
    copy.step(mine, grads[2])
    original.step(params, grads[2])
    for p, q in zip(mine, params, strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    copy.step(mine, grads[3])  # stepping the copy must not move the original's state
    original.step(params, grads[3])
    for p, q in zip(mine, params, strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


@pytest.mark.parametrize("max_steps", [0, -3])
def test_running_no_steps_performs_no_iteration(max_steps):
    descent = Descent(make_config(learning_rate=0.1))
    descent.step()
    assert descent.run(max_steps) is Status.RUNNING
    assert descent.iteration == 1


# -- the Functions: their messages and the gradients not asked for --------------------------------


def test_linear_names_both_shapes_and_what_it_expected():
    X, W, b = torch.zeros(4, 2), torch.zeros(3, 1), torch.zeros(1, 1)
    with pytest.raises(ValueError) as error:
        Linear.forward(Context(), X, W, b)
    assert str(error.value) == (
        "Linear: X has shape (4, 2) and W has shape (3, 1); expected X (n, d) and W (d, m)"
    )


def test_linear_backward_names_the_shape_of_its_output():
    ctx = Context()
    Linear.forward(ctx, torch.zeros(4, 2), torch.zeros(2, 3), torch.zeros(1, 3))
    with pytest.raises(ValueError) as error:
        Linear.backward(ctx, torch.zeros(4, 2))
    assert str(error.value) == (
        "Linear: grad_output has shape (4, 2); expected (4, 3), the shape of the output"
    )


@pytest.mark.parametrize(
    "needs", [(True, False, False), (False, True, False), (False, False, True)]
)
def test_linear_backward_computes_only_the_gradients_asked_for(needs):
    ctx = Context(needs)
    X, W, b = torch.ones(4, 2), torch.ones(2, 3), torch.ones(1, 3)
    Linear.forward(ctx, X, W, b)
    grads = Linear.backward(ctx, torch.ones(4, 3))
    assert [g is not None for g in grads] == list(needs)


class _BareContext:
    """A ctx with no ``needs_input_grad`` at all (a student's own stand-in): every gradient."""

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


def test_a_context_without_needs_input_grad_gets_every_gradient():
    ctx = _BareContext()
    MSE.forward(ctx, torch.ones(2, 2), torch.zeros(2, 2))
    grad_yhat, grad_y = MSE.backward(ctx, 1.0)
    torch.testing.assert_close(grad_yhat, torch.full((2, 2), 0.5))
    torch.testing.assert_close(grad_y, torch.full((2, 2), -0.5))


def test_mse_backward_by_hand_scales_by_the_number_given():
    """backward(ctx, 3) as the notebook would call it with another upstream gradient."""
    ctx = Context()
    MSE.forward(ctx, torch.ones(2, 2), torch.zeros(2, 2))
    grad_yhat, _ = MSE.backward(ctx, 3.0)
    torch.testing.assert_close(grad_yhat, torch.full((2, 2), 1.5))


def test_mse_backward_computes_only_the_gradients_asked_for():
    ctx = Context((False, True))
    MSE.forward(ctx, torch.ones(2, 2), torch.zeros(2, 2))
    grad_yhat, grad_y = MSE.backward(ctx, 1.0)
    assert grad_yhat is None
    torch.testing.assert_close(grad_y, torch.full((2, 2), -0.5))


def test_a_new_context_has_saved_nothing_yet():
    assert Context().saved_tensors == ()


def test_a_scale_is_made_once_and_then_reused():
    """The point of the cache: the same 0-dim tensor again, not a new one each step."""
    like = torch.zeros(2, dtype=torch.float64)
    first = functions._scale(0.125, like)
    assert functions._scale(0.125, like) is first
    assert float(first) == 0.125 and first.dtype == torch.float64
