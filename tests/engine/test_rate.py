"""The rate of plain gradient descent: ρ = max|1 − ελᵢ|, the gap to the optimum shrinking by ρ²
per iteration, checked against a Hessian built by hand, one from autograd, and actual runs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from engine.config import Config
from engine.core.theory import (
    bound_applies,
    contraction,
    gap_anchor,
    gap_resolution,
    predicted_gaps,
    rate_applies,
    theory_of,
    why_no_rate,
)
from engine.experiment import make_descents, make_problem

TOY = Config(tensorboard=False, init_seed=42, dtype="float64", threshold=0.0)


@pytest.fixture(scope="module")
def toy():
    return make_problem(TOY)


def _mse_of_parameters(X: torch.Tensor, Y: torch.Tensor):
    """The notebook's MSE, sum((X W + b − Y)²) / (n m), as a function of (W, b) flattened."""
    d, m = X.shape[1], Y.shape[1]

    def loss(theta: torch.Tensor) -> torch.Tensor:
        W, b = theta[: d * m].reshape(d, m), theta[d * m :].reshape(1, m)
        return ((X @ W + b - Y) ** 2).sum() / Y.numel()

    return loss


def _autograd_hessian_eigenvalues(X: torch.Tensor, Y: torch.Tensor) -> np.ndarray:
    X, Y = X.to(torch.float64), Y.to(torch.float64)
    size = (X.shape[1] + 1) * Y.shape[1]
    hessian = torch.autograd.functional.hessian(
        _mse_of_parameters(X, Y), torch.zeros(size, dtype=torch.float64)
    )
    return np.linalg.eigvalsh(hessian.numpy())


def _rate_by_hand(learning_rate: float, eigenvalues: np.ndarray) -> float:
    curved = eigenvalues[eigenvalues > 1e-9 * eigenvalues.max()]
    return max(abs(1 - learning_rate * lam) for lam in curved)


def test_the_eigenvalues_are_those_of_the_hessian_in_W_and_b(toy):
    # The Hessian in (W, b) has each eigenvalue of 2/(n m) X̃ᵀX̃ once per output column.
    by_autograd = _autograd_hessian_eigenvalues(toy.X, toy.Y)
    m = toy.Y.shape[1]
    repeated = np.sort(np.repeat(toy.theory.hessian_eigenvalues, m))
    np.testing.assert_allclose(by_autograd, repeated, rtol=1e-10, atol=1e-12)
    # And L, the largest, is the one 2/L comes from.
    assert toy.theory.lr_max == pytest.approx(2 / by_autograd.max(), rel=1e-12)


def test_the_hessian_by_hand_gives_the_same_rate(toy):
    X = toy.X.to(torch.float64).numpy()
    n, m = X.shape[0], toy.Y.shape[1]
    X_tilde = np.hstack([X, np.ones((n, 1))])
    by_hand = np.linalg.eigvalsh(2.0 / (n * m) * X_tilde.T @ X_tilde)
    for learning_rate in (1e-4, 0.01, 0.5, 1.0, 1.5, 1.6):
        expected = _rate_by_hand(learning_rate, by_hand)
        assert contraction(learning_rate, toy.theory.hessian_eigenvalues) == pytest.approx(
            expected, rel=1e-12
        )


@pytest.mark.parametrize(
    "learning_rate, iterations",
    [(0.01, 9000), (0.5, 200), (1.5, 400)],
    ids=["slow modes", "fast", "past 1/L: the largest eigenvalue sets ρ"],
)
def test_a_run_goes_at_the_predicted_rate_late_in_the_run(toy, learning_rate, iterations):
    config = TOY.replace(learning_rate=learning_rate, max_iter=iterations)
    (descent,) = make_descents(config, toy, {})
    descent.run()
    gaps = np.asarray(descent.losses) - toy.theory.optimal_loss
    # Late in the run (the gap under 1e-8, 10⁻⁹ of where it starts: the faster modes have
    # died out), yet above float64 rounding (over 1e-11: 4e-14 is 256 ulps of the optimum
    # 0.697).  Measured there: 0.4% (ε = 0.01), 0.3% (ε = 0.5), 0.0% (ε = 1.5) off 2 log ρ.
    late = np.flatnonzero((gaps < 1e-8) & (gaps > 1e-11))
    assert len(late) > 20
    slope = np.polyfit(late, np.log(gaps[late]), 1)[0]
    rate = contraction(learning_rate, toy.theory.hessian_eigenvalues)
    # The gap is quadratic in the error of (W, b): it goes by ρ² an iteration, not ρ.
    assert slope == pytest.approx(2 * math.log(rate), rel=0.01)


def test_a_flat_direction_does_not_slow_the_gap():
    # A constant feature is a copy of b's column of ones: X̃ᵀX̃ has an eigenvalue 0, whose
    # direction the descent never corrects, yet the gap still shrinks at the rate of the others.
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(40, 3, generator=generator, dtype=torch.float64)
    X = torch.cat([X, torch.ones(40, 1, dtype=torch.float64)], dim=1)
    Y = X[:, :2] @ torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64) + 0.1 * torch.randn(
        40, 2, generator=generator, dtype=torch.float64
    )
    theory = theory_of(X, Y)
    assert theory.hessian_eigenvalues[0] < 1e-12
    learning_rate = 0.3
    rate = contraction(learning_rate, theory.hessian_eigenvalues)
    assert rate < 1
    # Gradient descent by hand, in float64.
    X_tilde = torch.cat([X, torch.ones(40, 1, dtype=torch.float64)], dim=1)
    theta = torch.zeros(5, 2, dtype=torch.float64)
    gaps = []
    for _ in range(400):
        residual = X_tilde @ theta - Y
        gaps.append(float((residual**2).sum() / Y.numel()) - theory.optimal_loss)
        theta -= learning_rate * 2 / Y.numel() * X_tilde.T @ residual
    gaps = np.array(gaps)
    late = np.flatnonzero((gaps < 1e-6) & (gaps > 1e-11))
    assert len(late) > 20
    slope = np.polyfit(late, np.log(gaps[late]), 1)[0]
    assert slope == pytest.approx(2 * math.log(rate), rel=0.01)


def test_the_predicted_gaps_go_by_rho_squared_from_their_anchor():
    iterations = np.array([10, 11, 12, 20])
    gaps = predicted_gaps(0.9, 11, 2.0, iterations)
    np.testing.assert_allclose(gaps, 2.0 * 0.81 ** (iterations - 11.0), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extreme = predicted_gaps(0.5, 0, 1.0, np.array([-1e6, 1e6]))
    assert extreme[0] == math.inf and extreme[1] == 0.0


def test_the_anchor_is_the_last_gap_above_rounding():
    resolution = gap_resolution(0.7, "float32")
    assert 1e-6 < resolution < 1e-4
    assert gap_resolution(0.7, "float64") < 1e-12
    gaps = np.array([1.0, 1e-3, 1e-7, -3e-8, 2e-8])
    assert gap_anchor(gaps, resolution) == 1
    assert gap_anchor(np.array([-1e-8, 1e-9]), resolution) is None


@pytest.mark.parametrize(
    "optimizer, batch_size, n, reason",
    [
        ("sgd", None, 50, None),
        ("sgd", 50, 50, None),
        ("sgd", 64, 50, None),
        ("sgd", 10, 50, "no rate for mini-batches of 10"),
        ("sgd", 10, None, "no rate for mini-batches of 10"),
        ("momentum", None, 50, "no rate for momentum (plain SGD)"),
        ("nesterov", None, 50, "no rate for nesterov (plain SGD)"),
        ("adam", None, 50, "no rate for adam (plain SGD)"),
    ],
)
def test_the_rate_applies_where_the_bound_does(optimizer, batch_size, n, reason):
    assert rate_applies(optimizer, batch_size, n) == bound_applies(optimizer, batch_size, n)
    assert rate_applies(optimizer, batch_size, n) == (reason is None)
    assert why_no_rate(optimizer, batch_size, n) == reason


def test_no_theory_no_rate():
    assert why_no_rate("sgd", None, 50, known=False) == "no rate: no theory of the data"
