"""The inside of a descent's last step: what went into and came out of each Function.

A descent's loop keeps nothing of its steps but the last gradients (recording
them all would slow every iteration).  Instead, each chunk of iterations
starts from a :class:`~engine.core.descent.Checkpoint` (a copy of W, b and the
optimizer's state), and :func:`record_last_step` replays the chunk on copies:
its first steps through the descent's own loop, its last one here, with the
same tensors X and Y, the same Function classes (a student's included), the
same kind of ``ctx`` and the same BLAS thread count, keeping every value on
the way.  The same operations on the same numbers give the same numbers: the
record says whether its loss and its W after the update equal the run's bit
for bit (``exact``), and the tests check its gradients against the run's.

Nothing here runs unless asked: the screen that shows it asks once it is open.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from engine.core.descent import Descent, copy_optimizer, step_contexts
from engine.core.history import LossHistory
from engine.i18n import N_, _

RESIDUAL = "Ŷ − Y"

# How each optimizer updates W (and b the same way), in the lesson's notation.
RULES: dict[str, tuple[str, ...]] = {
    "sgd": ("W ← W − ε·∇W", "b ← b − ε·∇b"),
    "momentum": (
        N_("v ← μ·v + ∇   (v = ∇ at the first step)"),
        "W ← W − ε·v_W,  b ← b − ε·v_b",
    ),
    "nesterov": (
        N_("v ← μ·v + ∇   (v = ∇ at the first step)"),
        N_("W ← W − ε·(∇W + μ·v_W),  b the same"),
    ),
    "adam": (
        "m ← β1·m + (1 − β1)·∇,  v ← β2·v + (1 − β2)·∇²",
        "W ← W − ε·m̂ / (√v̂ + 1e-8),  m̂ = m/(1 − β1ᵗ),  v̂ = v/(1 − β2ᵗ)",
    ),
}


@dataclass(frozen=True)
class Value:
    """One value of the step under the lesson's name: a tensor, a number, None (not
    computed) or whatever else a student's Function returned."""

    name: str
    value: Any

    @property
    def tensor(self) -> torch.Tensor | None:
        return self.value if isinstance(self.value, torch.Tensor) else None

    @property
    def shape(self) -> tuple[int, ...] | None:
        tensor = self.tensor
        return None if tensor is None else tuple(tensor.shape)

    def head(self, rows: int = 2, columns: int = 4) -> list[list[float]]:
        """The first ``rows`` × ``columns`` entries as floats (a 0-dim or 1-dim tensor is one row)."""
        tensor = self.tensor
        if tensor is None:
            return []
        t = tensor.detach()
        if t.dim() == 0:
            return [[float(t)]]
        t = t.reshape(1, -1) if t.dim() == 1 else t.reshape(t.shape[0], -1)
        return t[:rows, :columns].to("cpu", torch.float64).tolist()


@dataclass(frozen=True)
class Call:
    """One call of a Function's ``forward`` or ``backward``, as the step made it."""

    function: str  # the lesson's name: "Linear" or "MSE"
    class_name: str  # the class's own name (a student's may differ)
    method: str  # "forward" or "backward"
    inputs: tuple[Value, ...]
    outputs: tuple[Value, ...]
    saved: tuple[Value, ...] = ()  # a forward's ctx.saved_tensors, named
    attributes: tuple[tuple[str, str], ...] = ()  # other ctx attributes a forward set
    needs_input_grad: tuple[bool, ...] | None = None  # what a backward's ctx asked
    rows: int | None = None  # a mini-batch's rows (None: the whole batch)

    def output(self, name: str) -> Value | None:
        return next((v for v in self.outputs if v.name == name), None)

    def input(self, name: str) -> Value | None:
        return next((v for v in self.inputs if v.name == name), None)


@dataclass(frozen=True)
class Update:
    """The optimizer's update: W and b before and after, what was added, the state it keeps."""

    optimizer: str
    rule: tuple[str, ...]
    W_before: Value
    b_before: Value
    W_after: Value
    b_after: Value
    step_W: Value  # what was added to W: −ε·∇W for plain SGD
    step_b: Value
    state: tuple[Value, ...] = ()  # momentum's v, Adam's m and v
    settings: tuple[tuple[str, float], ...] = ()  # ε, μ, β1, β2, t


@dataclass(frozen=True)
class InsideStep:
    """The last step of a descent, Function call by Function call."""

    iteration: int  # 1 for the first step
    loss: float
    calls: tuple[Call, ...]
    update: Update | None  # None: the loss was not finite, the run stopped before backward
    learning_rate: float
    optimizer: str
    dtype: str
    shape: tuple[int, int, int]  # (n, d, m)
    batch_rows: int | None = None
    exact: bool = False  # its loss and W after the update equal the run's, bit for bit
    notes: tuple[str, ...] = field(default_factory=tuple)

    def calls_of(self, function: str, method: str) -> list[Call]:
        return [c for c in self.calls if c.function == function and c.method == method]

    def last(self, function: str, method: str) -> Call | None:
        calls = self.calls_of(function, method)
        return calls[-1] if calls else None

    @property
    def grad_W(self) -> torch.Tensor | None:
        """∇W as Linear.backward returned it, and the update used it."""
        return self._gradient("∇W")

    @property
    def grad_b(self) -> torch.Tensor | None:
        return self._gradient("∇b")

    def _gradient(self, name: str) -> torch.Tensor | None:
        call = self.last("Linear", "backward")
        value = None if call is None else call.output(name)
        return None if value is None else value.tensor


class ReplayMismatch(RuntimeError):
    """The replay did not follow the run (it stopped elsewhere): nothing it recorded is shown."""


def record_last_step(descent: Descent) -> InsideStep | None:
    """The descent's last step, replayed on copies; None before its first step.

    Call it while nothing steps the descent (the app holds its session lock):
    the descent itself is not changed.  A student's Function that raises raises here.
    """
    checkpoint = descent.checkpoint
    if checkpoint is None:
        return None
    shadow = _shadow(descent, checkpoint)
    ctx_linear, ctx_mse = step_contexts()
    threshold = descent._threshold
    before = checkpoint.steps - 1
    with descent._threads():
        if before:
            if shadow._optimizer is None:
                alpha = -descent.config.learning_rate
                shadow._loop(before, ctx_linear, ctx_mse, alpha, threshold)
            else:
                shadow._general_loop(before, ctx_linear, ctx_mse, threshold)
            if len(shadow._history) != before:
                raise ReplayMismatch(
                    _("the replay stopped after {done} of {before} iterations").format(
                        done=len(shadow._history), before=before
                    )
                )
        step = _record(shadow, ctx_linear, ctx_mse, checkpoint.iteration + checkpoint.steps)
    return _checked(step, descent)


def _shadow(descent: Descent, checkpoint) -> Descent:
    """A copy of the descent at the checkpoint: its own W, b, optimizer, batches and history;
    the same problem (X, Y), config and Functions."""
    shadow = copy.copy(descent)
    with torch.inference_mode():
        shadow._W, shadow._b = checkpoint.W.clone(), checkpoint.b.clone()
        shadow._optimizer = copy_optimizer(checkpoint.optimizer)
    shadow._batches = None if checkpoint.batches is None else checkpoint.batches.copy()
    shadow._history = LossHistory()
    shadow._test_history = None if descent._test_history is None else LossHistory()
    return shadow


def _checked(step: InsideStep, descent: Descent) -> InsideStep:
    """Whether the replay gave the run's own numbers: its loss, and W and b when this step is
    still the descent's last."""
    losses = descent.losses
    same_loss = len(losses) >= step.iteration and _same_float(losses[step.iteration - 1], step.loss)
    same_parameters = True
    if step.update is not None and descent.iteration == step.iteration:
        same_parameters = torch.equal(step.update.W_after.tensor, descent._W) and torch.equal(
            step.update.b_after.tensor, descent._b
        )
    return replace(step, exact=bool(same_loss and same_parameters))


def _same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


# -- one step, every value kept ------------------------------------------------------------


def _kept(value: Any, data: tuple[torch.Tensor, ...]) -> Any:
    """A copy of a tensor the step made (a later in-place change must not show), but the
    problem's own X and Y (never changed, maybe large)."""
    if isinstance(value, torch.Tensor) and not any(value is t for t in data):
        return value.detach().clone()
    return value


def _saved(ctx: Any, known: list[tuple[str, torch.Tensor]], data) -> tuple[Value, ...]:
    """What a forward saved in ``ctx``, each named after the value it is (or equals)."""
    values = []
    for tensor in getattr(ctx, "saved_tensors", ()) or ():
        values.append(Value(_saved_name(tensor, known), _kept(tensor, data)))
    return tuple(values)


def _saved_name(tensor: Any, known: list[tuple[str, torch.Tensor]]) -> str:
    """The input or output a saved tensor is ("X"), or a copy of ("X (a copy)"), or the
    residual "Ŷ − Y" it equals (computed once more only to name it)."""
    if not isinstance(tensor, torch.Tensor):
        return _("a value")
    for name, value in known:
        if tensor is value:
            return name
    for name, value in known:
        if (
            tensor.shape == value.shape
            and tensor.dtype == value.dtype
            and torch.equal(tensor, value)
        ):
            return name if name == RESIDUAL else _("{name} (a copy)").format(name=name)
    return _("a tensor")


def _attributes(ctx: Any) -> tuple[tuple[str, str], ...]:
    """The attributes a forward set on ctx besides its saved tensors (a student's ``ctx.n``)."""
    ours = {"_saved_tensors", "needs_input_grad"}
    shown = []
    for name, value in sorted(vars(ctx).items()):
        if name in ours:
            continue
        text = (
            repr(value) if not isinstance(value, torch.Tensor) else f"tensor {tuple(value.shape)}"
        )
        shown.append((name, text if len(text) <= 40 else text[:39] + "…"))
    return tuple(shown)


def _record(shadow: Descent, ctx_linear, ctx_mse, iteration: int) -> InsideStep:
    """The step the descent's loops make (``_loop`` or ``_general_loop``), written out with the
    same calls in the same order, keeping every value on the way."""
    problem, config = shadow.problem, shadow.config
    X, Y, W, b = problem.X, problem.Y, shadow._W, shadow._b
    linear, mse = shadow.linear, shadow.mse
    data = (X, Y)
    calls: list[Call] = []
    notes: list[str] = []
    batch_rows = None
    with torch.inference_mode():
        W_before, b_before = W.clone(), b.clone()

        def forwards(X_used: torch.Tensor, Y_used: torch.Tensor, rows: int | None) -> float:
            yhat = linear.forward(ctx_linear, X_used, W, b)
            known = [("X", X_used), ("W", W), ("b", b)]
            linear_saved = _saved(ctx_linear, known, data)
            # W and b are changed in place by the update: the values they had now.
            linear_saved = tuple(
                Value(v.name, W_before if v.value is W else b_before if v.value is b else v.value)
                for v in linear_saved
            )
            calls.append(
                Call(
                    "Linear",
                    _name(linear),
                    "forward",
                    (Value("X", X_used), Value("W", W_before), Value("b", b_before)),
                    (Value("Ŷ", _kept(yhat, data)),),
                    linear_saved,
                    _attributes(ctx_linear),
                    rows=rows,
                )
            )
            loss_tensor = mse.forward(ctx_mse, yhat, Y_used)
            loss = loss_tensor.item()
            known = [("Ŷ", yhat), ("Y", Y_used)]
            if isinstance(yhat, torch.Tensor) and yhat.shape == Y_used.shape:
                known.append((RESIDUAL, yhat - Y_used))
            calls.append(
                Call(
                    "MSE",
                    _name(mse),
                    "forward",
                    (Value("Ŷ", _kept(yhat, data)), Value("Y", Y_used)),
                    (Value("loss", _kept(loss_tensor, data)),),
                    _saved(ctx_mse, known, data),
                    _attributes(ctx_mse),
                    rows=rows,
                )
            )
            return loss

        loss = forwards(X, Y, None)
        if not math.isfinite(loss):
            notes.append(
                N_("the loss is not finite: the run stopped here (diverged), before backward")
            )
            return InsideStep(
                iteration,
                loss,
                tuple(calls),
                None,
                config.learning_rate,
                config.optimizer,
                config.dtype,
                problem.shape,
                notes=tuple(notes),
            )
        if shadow._batches is not None:
            batch = shadow._batches.next()
            X_batch, Y_batch = X.index_select(0, batch), Y.index_select(0, batch)
            batch_rows = int(batch.numel())
            forwards(X_batch, Y_batch, batch_rows)

        mse_result = mse.backward(ctx_mse, 1.0)
        grad_yhat, grad_y = mse_result
        calls.append(
            Call(
                "MSE",
                _name(mse),
                "backward",
                (Value("grad_output", 1.0),),
                (Value("∇Ŷ", _kept(grad_yhat, data)), Value("∇Y", _kept(grad_y, data))),
                needs_input_grad=ctx_mse.needs_input_grad,
                rows=batch_rows,
            )
        )
        linear_result = linear.backward(ctx_linear, grad_yhat)
        grad_X, grad_W, grad_b = linear_result
        calls.append(
            Call(
                "Linear",
                _name(linear),
                "backward",
                (Value("grad_output", _kept(grad_yhat, data)),),
                (
                    Value("∇X", _kept(grad_X, data)),
                    Value("∇W", _kept(grad_W, data)),
                    Value("∇b", _kept(grad_b, data)),
                ),
                needs_input_grad=ctx_linear.needs_input_grad,
                rows=batch_rows,
            )
        )
        update = _update(shadow, W, b, W_before, b_before, grad_W, grad_b)
    return InsideStep(
        iteration,
        loss,
        tuple(calls),
        update,
        config.learning_rate,
        config.optimizer,
        config.dtype,
        problem.shape,
        batch_rows,
        notes=tuple(notes),
    )


def _update(shadow: Descent, W, b, W_before, b_before, grad_W, grad_b) -> Update:
    """The update exactly as the descent's loop makes it, then what it added and kept."""
    config, optimizer = shadow.config, shadow._optimizer
    settings: list[tuple[str, float]] = [("ε", config.learning_rate)]
    state: list[Value] = []
    if optimizer is None:
        # _loop's own update: W.add_(∇W, alpha=−ε).
        alpha = -config.learning_rate
        W.add_(grad_W, alpha=alpha)
        b.add_(grad_b, alpha=alpha)
        step_W, step_b = grad_W * alpha, grad_b * alpha
    else:
        optimizer.step([W, b], [grad_W, grad_b])
        step_W, step_b = optimizer.last_step
        if hasattr(optimizer, "velocity"):
            settings.append(("μ", optimizer.momentum))
            state = [Value("v_W", optimizer.velocity[0]), Value("v_b", optimizer.velocity[1])]
        elif hasattr(optimizer, "m"):
            settings += [("β1", optimizer.beta1), ("β2", optimizer.beta2), ("t", optimizer.t)]
            state = [
                Value("m_W", optimizer.m[0]),
                Value("v_W", optimizer.v[0]),
                Value("m_b", optimizer.m[1]),
                Value("v_b", optimizer.v[1]),
            ]
    return Update(
        config.optimizer,
        RULES.get(config.optimizer, ()),
        Value("W", W_before),
        Value("b", b_before),
        Value("W", W.clone()),
        Value("b", b.clone()),
        Value("ΔW", step_W.clone()),
        Value("Δb", step_b.clone()),
        tuple(Value(v.name, v.value.clone()) for v in state),
        tuple(settings),
    )


def _name(function: type) -> str:
    return getattr(function, "__name__", type(function).__name__)
