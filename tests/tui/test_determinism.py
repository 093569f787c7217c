"""Nothing the tests look at depends on thread timing or on a CPU's float rounding."""

from __future__ import annotations

import dataclasses

import numpy as np
from tui_support import (
    RECORDED,
    asyncio_test,
    screen_text,
    settle,
    wait_for,
)

from engine.config import Config
from engine.core.descent import Descent
from engine.experiment import make_problem
from tui.app import AmalApp
from tui.formatting import norm_text
from tui.hyperparameters import lr_max_text
from tui.parameters import parameter_text_block
from tui.states import BY_NAME
from tui.status_line import StatusInfo, status_text

# ε 1e8 diverges at iteration 4, long before ε 0.01 stops at 50: last in the table, first to stop.
COMPARE = Config(tensorboard=False, max_iter=50, compare=(0.01, 1e8))
ENDINGS = ("ε 0.01: capped at 50", "ε 1e+08: diverged at 4")


@asyncio_test
async def test_a_comparison_announces_its_runs_together_in_the_table_order():
    # Each run's notification used to come when a chunk saw it stop: the order on screen
    # depended on how a thread's chunks fell.  Stepped by hand here: no timing at all.
    app = AmalApp(COMPARE)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        for _ in range(4):
            await pilot.press("s")
        await settle(pilot)
        assert [d.status.value for d in app.descents] == ["running", "diverged"]
        assert not any(ending in screen_text(app) for ending in ENDINGS)
        await pilot.press("r")
        await settle(pilot)
        await wait_for(pilot, lambda: ENDINGS[0] in screen_text(app), what="the notifications")
        text = screen_text(app)
        where = [text.find(ending) for ending in ENDINGS]
        assert -1 not in where, text
        assert where == sorted(where), text


# -- the pty screen after one step (tests/screens/after_one_step_100x30.txt) ---------------
#
# That screen is the real app in a pseudo-terminal: no recorded state can be fed to it.
# Instead this proves that its digits are not the CPU's to decide: the same step, with
# every float moved several times further than another CPU's kernels move it, shows the
# same characters.
# - The gradients, hence the step ε∇ (sums over the data): another summation order
#   moves an entry by up to ~n·eps of the array's scale; 1e-5 of it is ~10 times more.
# - W and b, one step from their exact initial values: W₀ − ε∇W is off by its own
#   rounding plus ε times the gradient's error, ~2 float32 ulps; 8 ulps here.
# - The loss, a mean of n·m squares: 0 or 1 ulp apart between MKL's and ATen's code paths
#   (measured after 1000 steps); 8 ulps here (13.683133 is 18 ulps from 13.68315).
# - The theory (float64 least squares and eigenvalues): 1e-9 of each value.

SUM_NOISE = 1e-5
PARAMETER_ULPS = 8
LOSS_ULPS = 8
THEORY_NOISE = 1e-9
SUMS = ("grad_W", "grad_b", "delta_W", "delta_b")


def _by_scale(values, rng, noise):
    values = np.asarray(values, dtype=np.float64)
    scale = float(np.max(np.abs(values), initial=0.0))
    return values + noise * scale * rng.uniform(-1.0, 1.0, values.shape)


def _by_ulps(values, rng, ulps):
    values = np.asarray(values, dtype=np.float64)
    ulp = np.spacing(np.abs(values).astype(np.float32)).astype(np.float64)
    return values + ulps * ulp * rng.uniform(-1.0, 1.0, values.shape)


def _one_step_texts(snapshot, theory, rng=None) -> str:
    if rng is not None:
        snapshot = dataclasses.replace(
            snapshot,
            loss=float(_by_ulps(snapshot.loss, rng, LOSS_ULPS)),
            W=_by_ulps(snapshot.W, rng, PARAMETER_ULPS),
            b=_by_ulps(snapshot.b, rng, PARAMETER_ULPS),
            **{name: _by_scale(getattr(snapshot, name), rng, SUM_NOISE) for name in SUMS},
        )
    lr_max, optimum = theory.lr_max, theory.optimal_loss
    if rng is not None:
        lr_max = float(_by_scale(lr_max, rng, THEORY_NOISE))
        optimum = float(_by_scale(optimum, rng, THEORY_NOISE))
    paused = BY_NAME["paused"]  # as the presenter says it
    info = StatusInfo(
        iteration=snapshot.iteration,
        loss=snapshot.loss,
        state=paused.word,
        mark=paused.mark,
        hint=paused.hint,
        style=paused.style,
    )
    return "\n".join(
        [
            parameter_text_block(snapshot).plain,
            status_text(info).plain,
            norm_text(theory.distance(snapshot.W, snapshot.b)),
            lr_max_text(lr_max),
            f"{optimum:.4g}",
        ]
    )


def test_the_screen_after_one_step_is_not_decided_by_rounding():
    descent = Descent(Config(tensorboard=False), make_problem(Config(tensorboard=False)))
    descent.step()
    snapshot, theory = descent.snapshot(), descent.problem.theory
    exact = _one_step_texts(snapshot, theory)
    stored = (RECORDED / "after_one_step_100x30.txt").read_text()
    # The panel and the status line are those of the stored screen, line for line.
    for line in exact.splitlines()[:-3]:
        assert line.strip() in stored, line
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert _one_step_texts(snapshot, theory, rng) == exact
