"""The theory at its edges: what `make mutate` found no test for in engine/core/theory.py.

Each test failed on a small change to the theory (a flipped comparison, a dropped argument,
a changed constant) that the rest of the suite let through.  Figures are compared with
NumPy's own least squares within tolerances, or, where the test is about a boundary, built
from powers of two so that every product in it is exact.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import engine.core.theory as theory
from engine.core.theory import (
    contraction,
    diverges,
    gap_anchor,
    gap_resolution,
    predicted_gaps,
    predicted_losses,
    theory_for_run,
    theory_of,
    threshold_note,
)


def _numpy_solution(X: torch.Tensor, Y: torch.Tensor) -> np.ndarray:
    """The minimum-norm least-squares (W; b) from NumPy (SVD-based, like gelsd)."""
    X_tilde = np.hstack([X.double().numpy(), np.ones((X.shape[0], 1))])
    return np.linalg.lstsq(X_tilde, Y.double().numpy(), rcond=None)[0]


def _rank_deficient(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two features given twice: the optimum is a whole line, the theory gives its shortest point."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g, dtype=torch.float64)
    X = torch.cat([X, X], dim=1)
    Y = torch.randn(n, 1, generator=g, dtype=torch.float64)
    return X, Y


# -- the note under a threshold above the optimum ---------------------------------------------


def test_no_note_when_the_threshold_is_close_to_the_optimum():
    assert threshold_note(0.70, 0.6971) is None  # the notebook's
    # The rule is "more than 5 % (and 1e-12) above": exactly at it, still no note.
    assert threshold_note(1e-12, 0.0) is None
    assert threshold_note(1e-13, 0.0) is None


def test_the_note_says_how_far_above_the_optimum_the_threshold_is():
    assert threshold_note(1.0, 0.5) == (
        "converged because the loss reached the threshold 1, still 2× the optimum 0.5: "
        "a lower threshold gets closer to it"
    )
    assert threshold_note(0.75, 0.25) == (
        "converged because the loss reached the threshold 0.75, still 3× the optimum 0.25: "
        "a lower threshold gets closer to it"
    )


def test_the_note_on_an_optimum_of_zero_has_no_ratio():
    assert threshold_note(0.5, 0.0) == (
        "converged because the loss reached the threshold 0.5, still above the optimum 0: "
        "a lower threshold gets closer to it"
    )


def test_the_note_on_an_infinite_threshold():
    assert threshold_note(math.inf, 0.5) == (
        "converged at once: any loss is at or under the threshold inf (the optimum is 0.5): "
        "a finite threshold gets closer to it"
    )


# -- the theory of data: which path, which solution, what is flat ---------------------------


def test_the_direct_path_up_to_its_limit_and_the_blocks_past_it(monkeypatch):
    """Direct while n (d + 1) <= DIRECT_MAX_ENTRIES; ``between_blocks`` is called only on blocks."""
    X, Y = _rank_deficient(30)[0][:, :3], torch.ones(30, 1, dtype=torch.float64)
    entries = 30 * (3 + 1)
    calls: list[int] = []
    monkeypatch.setattr(theory, "DIRECT_MAX_ENTRIES", entries)
    theory_of(X, Y, between_blocks=lambda: calls.append(1))
    assert calls == []
    monkeypatch.setattr(theory, "DIRECT_MAX_ENTRIES", entries - 1)
    theory_of(X, Y, between_blocks=lambda: calls.append(1))
    assert calls


@pytest.mark.parametrize("block_rows, blocks", [(7, 5), (10, 3), (64, 1)])
def test_between_blocks_is_called_before_every_block_of_both_passes(
    monkeypatch, block_rows, blocks
):
    """Once per block for the normal equations, once per block for the residual."""
    X, Y = _rank_deficient(30)
    monkeypatch.setattr(theory, "DIRECT_MAX_ENTRIES", 10)
    monkeypatch.setattr(theory, "BLOCK_ROWS", block_rows)
    calls: list[int] = []
    theory_of(X, Y, between_blocks=lambda: calls.append(1))
    assert len(calls) == 2 * blocks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_repeated_feature_gives_the_shortest_optimum_directly(seed):
    """gelsd's answer on a rank-deficient X̃ is the minimum-norm one; another driver's depends
    on rounding (it was off by 0.07 to 0.3 for most of these seeds)."""
    X, Y = _rank_deficient(seed=seed)
    result = theory_of(X, Y)
    expected = _numpy_solution(X, Y)
    np.testing.assert_allclose(np.vstack([result.W_star, result.b_star]), expected, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_repeated_feature_gives_the_shortest_optimum_by_blocks(monkeypatch, seed):
    X, Y = _rank_deficient(seed=seed)
    monkeypatch.setattr(theory, "DIRECT_MAX_ENTRIES", 10)
    monkeypatch.setattr(theory, "BLOCK_ROWS", 8)
    result = theory_of(X, Y)
    expected = _numpy_solution(X, Y)
    np.testing.assert_allclose(np.vstack([result.W_star, result.b_star]), expected, atol=1e-9)


def _diagonal_data(spread: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One centred feature of variance ``spread``, 8 rows: X̃ᵀX̃ = diag(8 spread, 8) exactly,
    so the Hessian's eigenvalues are 2 spread and 2, and no rounding enters them."""
    a = math.sqrt(2 * spread)  # four rows of ±a and four of 0: Σx = 0, Σx² = 8 spread
    X = torch.tensor([[a], [-a], [a], [-a], [0.0], [0.0], [0.0], [0.0]], dtype=torch.float64)
    return X, torch.zeros(8, 1, dtype=torch.float64)


def test_an_eigenvalue_exactly_at_the_rounding_level_is_flat():
    """Flat when λ_min <= λ_max (d + 1) ε: here λ_min = 2 = 2^52 · 2 · 2^-52 exactly."""
    X, Y = _diagonal_data(2.0**51)
    result = theory_of(X, Y)
    assert list(result.hessian_eigenvalues) == [2.0, 2.0**52]
    assert result.condition_number == math.inf


def test_an_eigenvalue_just_over_the_rounding_level_is_not_flat():
    """λ_min / λ_max = 2.5 ε, over (d + 1) ε = 2 ε: a finite condition number."""
    spread = 1 / (2.5 * np.finfo(np.float64).eps)
    X, Y = _diagonal_data(spread)
    result = theory_of(X, Y)
    assert result.condition_number == pytest.approx(spread, rel=1e-12)


def test_a_repeated_feature_makes_the_condition_number_infinite():
    X, Y = _rank_deficient()
    assert theory_of(X, Y).condition_number == math.inf


def test_two_over_l_under_a_largest_eigenvalue_under_one():
    """Small inputs and four outputs: L < 1, still 2/L (not the 'flat data' infinity)."""
    g = torch.Generator().manual_seed(1)
    X = 0.01 * torch.randn(50, 2, generator=g, dtype=torch.float64)
    Y = torch.randn(50, 4, generator=g, dtype=torch.float64)
    result = theory_of(X, Y)
    largest = result.hessian_eigenvalues[-1]
    assert largest < 1
    assert result.lr_max == pytest.approx(2.0 / largest, rel=1e-12)


def test_the_theory_of_data_warns_of_nothing():
    X, Y = _rank_deficient()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        theory_of(X, Y)


# -- the bound for a run ---------------------------------------------------------------------


def test_a_learning_rate_exactly_at_the_bound_does_not_diverge():
    """At ε = 2/L the steepest direction's error flips sign without growing."""
    assert diverges(0.5, 0.5, "sgd", None) is False
    assert diverges(math.nextafter(0.5, 1.0), 0.5, "sgd", None) is True


def test_a_batch_of_all_rows_is_the_full_batch_for_the_runs_figures():
    t = theory.Theory(0.1, 0.5, 10.0, np.zeros((1, 1)), np.zeros((1, 1)))
    out = theory_for_run(t, "sgd", batch_size=50, n=50, momentum=None)
    assert out["lr_max"] == 0.5 and out["bound"] == "2/L"
    assert theory_for_run(t, "sgd", batch_size=10, n=50, momentum=None)["lr_max"] is None


# -- the predicted losses and gaps -----------------------------------------------------------


def _predicted(learning_rates, updates):
    """A problem whose second output column starts exactly at its optimum (Y, W0, b0 zero there)."""
    g = torch.Generator().manual_seed(5)
    X = torch.randn(30, 2, generator=g, dtype=torch.float64)
    Y = torch.cat([torch.randn(30, 1, generator=g, dtype=torch.float64), torch.zeros(30, 1)], dim=1)
    W0, b0 = torch.zeros(2, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64)
    return theory_of(X, Y), predicted_losses(X, Y, W0, b0, learning_rates, updates)


def test_a_diverging_prediction_is_infinite_and_warns_of_nothing():
    """Past 2/L the factor overflows; along the column already at its optimum it meets a zero
    weight (0 · inf): the prediction is still inf, never nan, and no warning is printed."""
    t, _ = _predicted([0.1], [1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, out = _predicted([3.0 * t.lr_max, 0.5 * t.lr_max], [10**6, 10])
    assert out[0] == math.inf
    assert math.isfinite(out[1]) and out[1] > t.optimal_loss


@pytest.mark.parametrize("updates", [[1, 2, 3], [1]])
def test_as_many_update_counts_as_learning_rates(updates):
    with pytest.raises(ValueError):
        _predicted([0.01, 0.02], updates)


def test_a_zero_gap_stays_zero_where_the_prediction_overflows():
    """0 · inf would be nan (an 'invalid' warning): a gap of zero is zero at every iteration."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gaps = predicted_gaps(2.0, 0, 0.0, np.array([0, 10**6]))
    assert gaps[0] == 0.0


def test_the_predicted_gaps_of_unsigned_iteration_numbers():
    """Iterations before the anchor, given as unsigned integers, still count backwards."""
    gaps = predicted_gaps(0.5, 2, 1.0, np.array([0, 2, 3], dtype=np.uint32))
    np.testing.assert_allclose(gaps, [16.0, 1.0, 0.25], rtol=1e-12)


def test_an_eigenvalue_exactly_at_the_rounding_level_adds_nothing_to_the_rate():
    """Left out when λ <= λ_max · count · ε: here 2 = 2^52 · 2 · 2^-52 exactly, so ρ comes
    from 2^52 alone: |1 − 2^-53 · 2^52| = 0.5 (with λ = 2 it would be 1 − 2^-52)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert contraction(2.0**-53, np.array([2.0, 2.0**52])) == 0.5


def test_the_rate_is_computed_in_float64_from_float32_eigenvalues():
    """1 − 0.1 · 1 in float64 is 0.9; in float32 it would be 0.8999999761581421."""
    assert contraction(0.1, np.array([1.0, 3.0], dtype=np.float32)) == 1.0 - 0.1 * 1.0


def test_the_resolution_scales_with_the_optimum():
    eps32 = float(np.finfo(np.float32).eps)
    assert gap_resolution(4.0, "float32") == 256 * eps32 * 4.0
    assert gap_resolution(0.5, "float32") == 256 * eps32 * 0.5
    assert gap_resolution(0.0, "float64") == 256 * float(np.finfo(np.float64).eps) * 1e-300


def test_the_anchor_is_the_last_gap_strictly_above_the_resolution():
    assert gap_anchor([3.0, 2.0, 1.0], 0.5) == 2
    assert gap_anchor([3.0, 2.0, 1.0], 2.0) == 0  # 2.0 is not above 2.0
    # A float32 gap a hair above a float64 resolution is above it (not rounded to it).
    gap = np.float32(0.1)
    resolution = float(np.nextafter(float(gap), 0.0))
    assert gap_anchor(np.array([1.0, gap], dtype=np.float32), resolution) == 1
