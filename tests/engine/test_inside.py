"""The inside of the last step (engine/core/inside.py, engine/student/step_check.py): the values
it shows are the ones the descent used, bit for bit, for the engine's Functions and a student's."""

from pathlib import Path

import pytest
import torch

from engine import Descent, make_config
from engine.core.functions import MSE, Context
from engine.core.inside import record_last_step
from engine.experiment import inside_last_step
from engine.student.loading import load_functions

STUDENTS = Path(__file__).resolve().parent.parent / "students"


def _twin_before(config, steps, **functions):
    """W and b of a second descent stopped one step earlier: the W, b the last step started from."""
    twin = Descent(config, **functions)
    twin.run(steps - 1) if steps > 1 else None
    return twin.W, twin.b


def _assert_same_step(descent, step, config, chunks, **functions):
    steps = sum(chunks)
    assert step.iteration == steps == descent.iteration
    assert step.exact
    # ∇W and ∇b as Linear.backward returned them and the update used them: the run's own.
    assert torch.equal(step.grad_W, descent.grad_W)
    assert torch.equal(step.grad_b, descent.grad_b)
    assert step.loss == descent.losses[-1]
    W_before, b_before = _twin_before(config, steps, **functions)
    update = step.update
    assert torch.equal(update.W_before.tensor, W_before)
    assert torch.equal(update.b_before.tensor, b_before)
    assert torch.equal(update.W_after.tensor, descent.W)
    assert torch.equal(update.b_after.tensor, descent.b)
    # What the update added is W_after − W_before (float64: to rounding of one addition).
    moved = update.W_after.tensor - update.W_before.tensor
    assert torch.allclose(update.step_W.tensor, moved, rtol=0, atol=1e-12)
    moved_b = update.b_after.tensor - update.b_before.tensor
    assert torch.allclose(update.step_b.tensor, moved_b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("chunks", [(1,), (5,), (3, 4), (40, 1)])
def test_sgd_last_step_is_the_runs_bit_for_bit(chunks):
    config = make_config(dtype="float64")
    descent = Descent(config)
    for steps in chunks:
        descent.run(steps)
    step = record_last_step(descent)
    _assert_same_step(descent, step, config, chunks)
    assert step.update.rule[0] == "W ← W − ε·∇W"


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam"])
def test_optimizers_last_step_and_state_are_the_runs(optimizer):
    config = make_config(dtype="float64", optimizer=optimizer, momentum=0.9)
    descent = Descent(config)
    descent.run(6)
    descent.run(3)
    step = record_last_step(descent)
    _assert_same_step(descent, step, config, (6, 3))
    state = {v.name: v.tensor for v in step.update.state}
    run = descent._optimizer
    if optimizer == "adam":
        assert torch.equal(state["m_W"], run.m[0]) and torch.equal(state["v_W"], run.v[0])
        assert dict(step.update.settings)["t"] == run.t == 9
    else:
        assert torch.equal(state["v_W"], run.velocity[0])
        assert torch.equal(state["v_b"], run.velocity[1])
    assert torch.equal(step.update.step_W.tensor, run.last_step[0])


def test_float32_run_gradients_are_the_runs_bit_for_bit():
    descent = Descent()  # the notebook's float32
    descent.run(7)
    step = record_last_step(descent)
    assert step.exact and step.dtype == "float32"
    assert torch.equal(step.grad_W, descent.grad_W)
    assert torch.equal(step.grad_b, descent.grad_b)
    assert torch.equal(step.update.W_after.tensor, descent.W)


def test_mini_batches_last_step_uses_the_runs_batch():
    config = make_config(dtype="float64", batch_size=8, seed=3)
    descent = Descent(config)
    descent.run(9)  # past the first epoch of 50 / 8 batches
    step = record_last_step(descent)
    _assert_same_step(descent, step, config, (9,))
    assert step.batch_rows == 8
    batch_calls = [c for c in step.calls if c.rows == 8]
    assert [(c.function, c.method) for c in batch_calls] == [
        ("Linear", "forward"),
        ("MSE", "forward"),
        ("MSE", "backward"),
        ("Linear", "backward"),
    ]


def test_recording_changes_nothing_in_the_run():
    config = make_config(dtype="float64", optimizer="momentum", momentum=0.5, batch_size=16)
    recorded, plain = Descent(config), Descent(config)
    for descent in (recorded, plain):
        descent.run(5)
    record_last_step(recorded)
    record_last_step(recorded)
    for descent in (recorded, plain):
        descent.run(20)
    assert torch.equal(recorded.W, plain.W) and torch.equal(recorded.b, plain.b)
    assert (recorded.losses == plain.losses).all()


def test_calls_show_shapes_saved_tensors_and_grad_outputs():
    descent = Descent(make_config(dtype="float64"))
    descent.run(2)
    step = record_last_step(descent)
    n, d, m = descent.problem.shape
    order = [(c.function, c.method) for c in step.calls]
    assert order == [
        ("Linear", "forward"),
        ("MSE", "forward"),
        ("MSE", "backward"),
        ("Linear", "backward"),
    ]
    linear_forward, mse_forward, mse_backward, linear_backward = step.calls
    assert linear_forward.output("Ŷ").shape == (n, m)
    assert [v.name for v in linear_forward.saved] == ["X", "W"]
    assert linear_forward.saved[0].value is descent.problem.X
    # The engine's MSE saves the residual Ŷ − Y, not Ŷ and Y.
    assert [(v.name, v.shape) for v in mse_forward.saved] == [("Ŷ − Y", (n, m))]
    assert mse_backward.input("grad_output").value == 1.0
    assert mse_backward.output("∇Y").value is None  # Y is not learnt: not computed
    # The grad_output arriving at Linear.backward is MSE.backward's ∇Ŷ.
    assert torch.equal(
        linear_backward.input("grad_output").tensor, mse_backward.output("∇Ŷ").tensor
    )
    assert linear_backward.output("∇X").value is None
    assert linear_backward.output("∇W").shape == (d, m)
    assert linear_backward.output("∇b").shape == (1, m)
    # Ŷ is the forward's output, the loss MSE's: the values of that step.
    yhat = linear_forward.output("Ŷ").tensor
    assert float(mse_forward.output("loss").tensor) == step.loss
    expected = MSE.forward(Context(), yhat, descent.problem.Y)
    assert float(expected) == step.loss


def test_before_any_step_there_is_nothing_to_show():
    descent = Descent()
    assert record_last_step(descent) is None
    descent.run(3)
    descent.reset()
    assert record_last_step(descent) is None


def test_a_diverged_run_shows_the_forward_that_stopped_it():
    descent = Descent(make_config(learning_rate=10.0, dtype="float64"))
    descent.run()
    assert descent.status.value == "diverged"
    step = record_last_step(descent)
    assert step.update is None and step.exact
    assert [(c.function, c.method) for c in step.calls] == [
        ("Linear", "forward"),
        ("MSE", "forward"),
    ]
    assert "diverged" in step.notes[0]


def _student(name, config):
    mse, linear = load_functions(str(STUDENTS / name))
    return Descent(config, mse=mse, linear=linear), {"mse": mse, "linear": linear}


def test_a_correct_students_step_is_theirs_and_passes():
    config = make_config(dtype="float64")
    descent, functions = _student("correct.py", config)
    descent.run(4)
    step, differences = inside_last_step(descent)
    _assert_same_step(descent, step, config, (4,), **functions)
    assert differences and all(d.passed for d in differences)
    # Their own classes ran: a student's MSE computes its gradient for y too.
    assert step.last("MSE", "backward").output("∇Y").tensor is not None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_missing_factor_2_is_found_where_it_differs(dtype):
    config = make_config(dtype=dtype)
    descent, functions = _student("mse_missing_factor_2.py", config)
    descent.run(3)
    step, differences = inside_last_step(descent)
    assert step.exact
    assert torch.equal(step.grad_W, descent.grad_W)
    by_name = {(d.function, d.method, d.name): d for d in differences}
    wrong = by_name[("MSE", "backward", "∇Ŷ")]
    assert not wrong.passed
    assert wrong.differing == wrong.entries == descent.problem.shape[0] * descent.problem.shape[2]
    # Both values at the place it names: the student's as the run used it, the reference's.
    theirs = step.last("MSE", "backward").output("∇Ŷ").tensor
    assert wrong.found == float(theirs[wrong.place])
    forward = step.last("MSE", "forward")
    yhat, y = (v.tensor for v in forward.inputs)  # the reference computes in the run's dtype
    ctx = Context()
    MSE.forward(ctx, yhat, y)
    reference, _ = MSE.backward(ctx, 1.0)
    assert wrong.expected == float(reference[wrong.place])
    assert any("factor 2" in hint for hint in wrong.hints)
    # Their forward and their Linear are right; the gradient the update used is not.
    assert by_name[("MSE", "forward", "loss")].passed
    assert by_name[("Linear", "backward", "∇W")].passed
    assert not by_name[("update", "used", "∇W")].passed


def test_a_correct_students_diverged_step_is_not_called_wrong():
    # float32 overflows where the float64 reference does not: both are inf in the run's dtype.
    descent, _ = _student("correct.py", make_config(learning_rate=10.0))
    descent.run()
    assert descent.status.value == "diverged"
    step, differences = inside_last_step(descent)
    assert step.update is None
    assert differences and all(d.passed for d in differences)


def test_a_run_with_a_test_split_replays_exactly():
    from engine.experiment import make_problem

    config = make_config(dtype="float64", data="synthetic", test_fraction=0.2, optimizer="nesterov")
    problem = make_problem(config)
    descent, twin = Descent(config, problem), Descent(config, problem)
    descent.run(4)
    descent.run(5)
    twin.run(8)
    step = record_last_step(descent)
    assert step.exact and step.iteration == 9
    assert torch.equal(step.grad_W, descent.grad_W)
    assert torch.equal(step.update.W_before.tensor, twin.W)
