"""The theory of large data can be stopped between two blocks of rows (issue 21: a load that
q or newer settings replace stops within a second, the theory included)."""

from __future__ import annotations

import pytest
import torch

from engine.config import Config
from engine.core import theory
from engine.core.problem import notebook_problem
from tui.experiment import build_experiment


class Stop(Exception):
    pass


@pytest.fixture
def small_blocks(monkeypatch):
    # The block-by-block path on small data: 50 rows in blocks of 8 (7 blocks, the last short).
    monkeypatch.setattr(theory, "DIRECT_MAX_ENTRIES", 10)
    monkeypatch.setattr(theory, "BLOCK_ROWS", 8)


def test_the_cancellation_point_is_called_between_blocks_and_changes_nothing(small_blocks):
    problem = notebook_problem(Config())
    calls = []
    with_points = theory.theory_of(problem.X, problem.Y, lambda: calls.append(1))
    without = theory.theory_of(problem.X, problem.Y)
    # The Gram matrix's 7 blocks, then the residual's 7.
    assert len(calls) == 14
    assert with_points.lr_max == without.lr_max
    assert with_points.optimal_loss == without.optimal_loss


def test_raising_there_stops_the_theory_and_leaves_it_to_compute_again(small_blocks):
    problem = notebook_problem(Config())
    calls = []

    def stop_at_the_third():
        calls.append(1)
        if len(calls) == 3:
            raise Stop

    with pytest.raises(Stop):
        problem.compute_theory(stop_at_the_third)
    assert len(calls) == 3  # nothing computed after the stop
    assert "theory" not in problem.__dict__  # not cached half-done
    assert problem.theory is problem.compute_theory()


def test_a_load_stopped_during_the_theory_is_stopped_not_a_warning(small_blocks):
    """What progress raises during the theory ends the load: the app must not read it as a
    theory that failed (a warning, then the run going on with the data it was told to drop)."""
    warnings = []
    progress_calls = []

    def progress(fraction):
        progress_calls.append(fraction)
        if len(progress_calls) > 2:  # past the data's own points, inside the theory's blocks
            raise Stop

    with pytest.raises(Stop):
        build_experiment(Config(), warnings.append, progress=progress)
    assert warnings == []


def test_a_theory_that_fails_is_still_a_warning(small_blocks, monkeypatch):
    def broken(*args, **kwargs):
        raise torch.linalg.LinAlgError("singular")

    monkeypatch.setattr("engine.core.problem.theory_of", broken)
    warnings = []
    experiment = build_experiment(Config(), warnings.append, progress=lambda fraction: None)
    assert experiment.theory is None
    assert len(warnings) == 1 and "theory" in warnings[0]
