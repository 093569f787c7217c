"""The stepping engine reproduces the notebook's printed runs, and its state stays consistent."""

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import torch

from engine import Descent, Status, make_config
from engine.core.history import LossHistory
from engine.core.problem import toy_problem

# The notebook's printed losses (relative tolerance 1e-5).
DEFAULT_LOSSES = {
    0: 13.683131217956543,
    100: 3.8613688945770264,
    1000: 0.7131637930870056,
    1400: 0.7008704543113708,
}
SLOW_LOSSES = {0: 17.9472599029541, 1000: 15.277046203613281}


def test_default_run_reproduces_the_notebook():
    descent = Descent()
    assert descent.run() is Status.CONVERGED
    assert descent.iteration == 1475
    for k, loss in DEFAULT_LOSSES.items():
        assert descent.losses[k] == pytest.approx(loss, rel=1e-5)
    # Converged: the last recorded loss is the first at or under the threshold.
    assert descent.losses[-1] <= 0.70 < descent.losses[-2]


def test_slow_run_is_capped_at_1001_as_the_notebook():
    descent = Descent(make_config(learning_rate=0.0001, init_seed=42, max_iter=1001))
    assert descent.run() is Status.CAPPED
    assert descent.iteration == 1001
    for k, loss in SLOW_LOSSES.items():
        assert descent.losses[k] == pytest.approx(loss, rel=1e-5)


def test_fast_run_converges_at_30():
    descent = Descent(make_config(learning_rate=0.5, init_seed=42))
    assert descent.run() is Status.CONVERGED
    assert descent.iteration == 30
    assert descent.losses[0] == pytest.approx(17.9472599029541, rel=1e-5)
    # The notebook's printed final b after this run.
    np.testing.assert_allclose(descent.b.numpy(), [[-0.2921, -0.0548, -0.1327]], atol=1e-4)


def test_final_W_of_the_slow_run_matches_the_printed_rows():
    descent = Descent(make_config(learning_rate=0.0001, init_seed=42, max_iter=1001))
    descent.run()
    printed = [
        [1.8660, 1.4066, 0.9033],
        [-1.9364, 0.5684, -1.1570],
        [-0.0041, -1.5348, -0.7088],
        [1.5068, -0.3248, -1.3145],
        [-0.7381, -0.5458, -0.6952],
    ]
    np.testing.assert_allclose(descent.W.numpy()[:5], printed, atol=1e-4)


def test_problem_equals_the_global_seed_idiom_and_leaves_it_alone():
    torch.manual_seed(7)
    state = torch.get_rng_state()
    problem = toy_problem(seed=42)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(42)
    for tensor in (problem.X, problem.Y, problem.W0, problem.b0):
        assert torch.equal(tensor, torch.randn(*tensor.shape))


def test_init_seed_draws_W_and_b_after_reseeding():
    problem = toy_problem(seed=42, init_seed=42)
    torch.manual_seed(42)
    assert torch.equal(problem.W0, torch.randn(13, 3))
    assert torch.equal(problem.b0, torch.randn(1, 3))
    assert torch.equal(problem.X, toy_problem(seed=42).X)


def test_step_is_one_iteration_and_records_the_loss_before_the_update():
    descent = Descent()
    assert descent.status is Status.READY and descent.iteration == 0
    W0 = descent.W
    assert descent.step() is Status.RUNNING
    assert descent.iteration == 1
    assert descent.losses[0] == pytest.approx(DEFAULT_LOSSES[0], rel=1e-5)
    assert descent.loss_at(W0, descent.problem.b0) == descent.losses[0]
    torch.testing.assert_close(descent.W, W0 - 0.01 * descent.grad_W)


def test_chunked_run_equals_one_run():
    whole, chunked = Descent(), Descent()
    whole.run()
    while not chunked.status.finished:
        chunked.run(37)
    np.testing.assert_array_equal(whole.losses, chunked.losses)
    assert torch.equal(whole.W, chunked.W) and torch.equal(whole.b, chunked.b)


def test_reset_returns_to_the_same_start():
    descent = Descent()
    first = descent.run(10)
    losses = descent.losses.copy()
    descent.reset()
    assert descent.iteration == 0 and descent.status is Status.READY
    assert torch.equal(descent.W, descent.problem.W0)
    assert descent.grad_W is None
    assert descent.run(10) is first
    np.testing.assert_array_equal(descent.losses, losses)


def test_a_finished_run_does_not_step_further():
    descent = Descent(make_config(learning_rate=0.5, init_seed=42))
    descent.run()
    W = descent.W
    assert descent.step() is Status.CONVERGED
    assert descent.iteration == 30 and torch.equal(descent.W, W)


def test_divergence_is_detected_at_the_first_non_finite_loss():
    descent = Descent(make_config(learning_rate=1.6, init_seed=42))
    assert descent.run() is Status.DIVERGED
    losses = descent.losses
    assert not np.isfinite(losses[-1])
    assert np.isfinite(losses[:-1]).all()
    assert descent.iteration == len(losses)


def test_parameters_overflowing_on_the_last_update_count_as_divergence():
    # Huge steps: W overflows to inf in float32 long before the loss can be computed again.
    descent = Descent(make_config(learning_rate=1e30, max_iter=2))
    assert descent.run() is Status.DIVERGED


def test_max_iter_caps_even_in_chunks():
    descent = Descent(make_config(max_iter=250, threshold=-1))
    assert descent.run(100) is Status.RUNNING
    assert descent.run(1000) is Status.CAPPED
    assert descent.iteration == 250


def test_threshold_is_compared_in_the_run_precision():
    """The notebook compares a float32 loss with 0.70 in float32."""
    descent = Descent(make_config(threshold=float(np.float32(0.70))))
    assert descent.run() is Status.CONVERGED and descent.iteration == 1475


def test_float64_run_starts_from_the_same_numbers():
    descent = Descent(make_config(dtype="float64"))
    assert descent.problem.X.dtype == torch.float64
    assert descent.run() is Status.CONVERGED
    assert abs(descent.iteration - 1475) <= 1
    assert descent.losses[0] == pytest.approx(DEFAULT_LOSSES[0], rel=1e-5)


def test_snapshot_is_plain_numpy_and_consistent():
    descent = Descent()
    descent.run(2)
    W_before = descent.snapshot().W
    descent.run(1)
    snap = descent.snapshot()
    assert snap.iteration == 3 and snap.status is Status.RUNNING
    assert snap.loss == descent.losses[-1] and snap.previous_loss == descent.losses[-2]
    assert isinstance(snap.W, np.ndarray) and snap.W.shape == (13, 3) and snap.b.shape == (1, 3)
    # What the last step added to W, measured on W itself.
    np.testing.assert_allclose(snap.delta_W, snap.W - W_before, atol=1e-6)
    assert snap.grad_W_norm == pytest.approx(np.linalg.norm(snap.grad_W))


def test_summary_replaces_non_finite_numbers_with_null():
    descent = Descent(make_config(learning_rate=1.6, init_seed=42))
    descent.run()
    summary = descent.summary()
    assert summary["status"] == "diverged"
    assert summary["losses"][-1] is None and summary["final_loss"] is None
    assert len(summary["losses"]) == summary["iterations"]


def test_exposed_tensors_are_copies_usable_with_autograd():
    descent = Descent()
    descent.run(2)
    before = descent.W
    W = descent.W.requires_grad_()
    (W * 2).sum().backward()
    assert torch.equal(W.grad, torch.full_like(before, 2.0))
    descent.W.add_(1.0)  # a copy: the engine's W is untouched
    assert torch.equal(descent.W, before)


def test_loss_history_is_compact():
    tracemalloc.start()
    history = LossHistory()
    for i in range(1_000_000):
        history.append(i * 0.5)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(history) == 1_000_000 and history.view()[-1] == 499_999.5
    assert history.nbytes() <= 16 * 2**20
    assert peak <= 32 * 2**20  # the doubling copy included
    with pytest.raises(ValueError):
        history.view()[0] = 1.0  # read-only


def test_engine_imports_no_ui_library():
    code = (
        "import sys, engine, engine.experiment, engine.session, engine.core.descent\n"
        "engine.Descent().run(5)\n"
        "print(sorted(m for m in ('textual', 'rich', 'plotext', 'textual_plotext') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_engine_config_imports_no_torch():
    code = "import sys, engine.config, tui.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_backward_that_raises_records_no_loss_without_its_update():
    from engine.core.functions import Linear as Reference

    class Flaky(Reference):
        calls = 0

        @staticmethod
        def backward(ctx, grad_output):
            Flaky.calls += 1
            if Flaky.calls == 3:
                raise RuntimeError("boom")
            return Reference.backward(ctx, grad_output)

    descent = Descent(linear=Flaky)
    descent.run(2)
    W = descent.W
    with pytest.raises(RuntimeError):
        descent.run(5)
    assert descent.iteration == 2 and torch.equal(descent.W, W)
    descent.run(1)
    assert descent.iteration == 3


def test_same_problem_tells_data_settings_from_descent_settings():
    base = make_config()
    assert base.same_problem(base.replace(learning_rate=0.5, optimizer="adam", max_iter=10))
    assert not base.same_problem(base.replace(seed=1))
    assert not base.same_problem(base.replace(data="synthetic"))


def test_chunks_grow_toward_the_time_budget_at_most_four_times_at_a_time():
    from engine.core.chunks import MAX_CHUNK, ChunkSizer

    chunks = ChunkSizer(64)
    chunks.update(64, 64e-6, seconds=0.1)  # 1 µs a step: 100,000 would fill 0.1 s
    assert chunks.size == 256
    chunks.update(10, 1e-6, seconds=0.1)  # stopped inside the chunk: no news of the speed
    assert chunks.size == 256
    chunks.update(512, 0.512, seconds=0.1, runs=2)  # 1 ms a step, 2 runs: 50 each
    assert chunks.size == 50
    for _ in range(20):
        chunks.update(chunks.size, 0.0, seconds=0.1)
    assert chunks.size == MAX_CHUNK
