"""What a sweep hands out after its runs: its edges, the final losses, each run's summary and
the theory's last losses (no test reached them under `make mutate`)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import Config
from engine.core.descent import Descent, Status
from engine.core.sweep import Edges, Sweep, SweepRun, edges, predicted_last_losses
from engine.core.theory import predicted_losses

RATES = (0.05, 0.2, 1.0, 1.6)  # the notebook's 2/L is about 1.53: the last one diverges


def _run(rate: float, status: Status) -> SweepRun:
    return SweepRun(rate, status, np.zeros(1), np.zeros((1, 1)), np.zeros((1, 1)))


def test_the_edges_are_the_largest_converged_and_the_smallest_diverged_rates():
    runs = [
        _run(0.1, Status.CONVERGED),
        _run(0.4, Status.CONVERGED),
        _run(0.3, Status.CAPPED),
        _run(2.0, Status.DIVERGED),
        _run(1.7, Status.DIVERGED),
    ]
    assert edges(runs) == Edges(0.4, 1.7)
    assert edges([_run(0.3, Status.CAPPED)]) == Edges(None, None)


def test_the_edges_bracket_only_what_lies_strictly_between_them():
    both = Edges(1.0, 2.0)
    assert both.brackets(1.5)
    assert not both.brackets(1.0) and not both.brackets(2.0) and not both.brackets(2.5)
    assert not Edges(None, 2.0).brackets(1.5) and not Edges(1.0, None).brackets(1.5)


@pytest.fixture(scope="module")
def sweep() -> Sweep:
    config = Config(max_iter=40, threshold=-1.0, dtype="float64")
    sweep = Sweep(config, RATES)
    sweep.run()
    return sweep


def test_the_final_losses_are_those_of_single_runs(sweep):
    finals = sweep.final_losses()
    for k, rate in enumerate(RATES):
        single = Descent(sweep.config.for_learning_rate(rate))
        single.run()
        assert finals[k] == pytest.approx(single.final_loss(), rel=1e-9, nan_ok=True)


def test_a_runs_summary_is_that_of_the_single_run(sweep):
    for k, rate in enumerate(RATES):
        single = Descent(sweep.config.for_learning_rate(rate))
        single.run()
        mine, theirs = sweep.summary(k), single.summary()
        assert mine.keys() == theirs.keys()
        for key in ("status", "iterations", "config", "theory"):
            assert mine[key] == theirs[key], key
        for key in ("losses", "W", "b"):
            assert np.array(mine[key], dtype=float) == pytest.approx(
                np.array(theirs[key], dtype=float), rel=1e-9, nan_ok=True
            ), key
        if theirs["final_loss"] is None:
            assert mine["final_loss"] is None
        else:
            assert mine["final_loss"] == pytest.approx(theirs["final_loss"], rel=1e-9)
    assert "losses" not in sweep.summary(0, include_losses=False)
    assert sweep.summary(0, final_loss=0.25)["final_loss"] == 0.25


def test_the_theorys_last_losses_are_after_one_update_fewer_than_iterations(sweep):
    runs = sweep.results()
    problem = sweep.problem
    expected = predicted_losses(
        problem.X, problem.Y, problem.W0, problem.b0, RATES, [r.iterations - 1 for r in runs]
    )
    np.testing.assert_allclose(predicted_last_losses(sweep, runs), expected, rtol=1e-12)
    momentum = Sweep(Config(optimizer="momentum", max_iter=2), RATES[:1])
    assert predicted_last_losses(momentum, momentum.results()) is None
