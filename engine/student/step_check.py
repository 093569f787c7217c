"""A student's Functions inside one step of the descent: where each value differs from the reference.

:func:`engine.core.inside.record_last_step` keeps what the student's ``forward``
and ``backward`` returned in the descent's last step.  Here each call is judged
on its own inputs (the ones it got in that step): its result is compared with
the engine's reference :class:`~engine.core.functions.MSE` and
:class:`~engine.core.functions.Linear` on the same tensors, in the run's dtype (an
overflow to inf in float32 is the reference's too), compared in float64, and a
value that differs says where (its largest difference, both values) and, when
the checker recognises the mistake, why (the check's own diagnosis,
:mod:`engine.student.diagnosis`).  Last, the ∇W and ∇b the update used are
compared with the true gradient of the loss at that W, b.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.core.functions import MSE, Context, Linear
from engine.core.inside import Call, InsideStep
from engine.i18n import _
from engine.student.cases import (
    LINEAR_INPUTS,
    MSE_INPUTS,
    TOLERANCE,
    _as_float64,
    _Case,
    _errors,
    _GradOutput,
    _largest,
)
from engine.student.diagnosis import (
    _diagnose_gradient,
    _diagnose_linear_forward,
    _diagnose_mse_forward,
)

# Float32 rounding of a sum over n rows reaches a few eps·√n: a looser tolerance than the
# check's (float64) so that a right formula in the run's float32 is not called wrong.
EPS_FACTOR = 64


@dataclass(frozen=True)
class Difference:
    """One value of the step compared with the reference: where it differs most, and why."""

    function: str  # "MSE", "Linear", or "update" for the gradient the update used
    method: str  # "forward", "backward"
    name: str  # the lesson's name: "∇Ŷ", "∇W", "loss"…
    passed: bool
    shape: tuple[int, ...] | None
    expected_shape: tuple[int, ...]
    place: tuple[int, ...] | None = None  # the entry that differs most
    found: float | None = None  # the student's value there (the one the run used)
    expected: float | None = None  # the reference's value there (in the run's dtype)
    differing: int = 0  # how many entries differ
    entries: int = 0
    max_abs_error: float | None = None
    hints: tuple[str, ...] = ()

    def where(self) -> str:
        """``[3, 1]`` (an entry), or ``the value`` for a 0-dim loss."""
        if self.place is None or not self.place:
            return _("the value")
        return "[" + ", ".join(str(i) for i in self.place) + "]"


@dataclass(frozen=True)
class Limit:
    """How far a value may be from the reference: ``relative`` to max(1, the largest reference
    value), and the run's ``dtype`` (a value that overflows there is inf for both)."""

    relative: float
    dtype: torch.dtype


def tolerance(dtype: str, rows: int) -> Limit:
    """The largest difference accepted for a run in ``dtype`` summing over ``rows`` rows."""
    torch_dtype = getattr(torch, dtype)
    eps = torch.finfo(torch_dtype).eps
    return Limit(max(TOLERANCE, EPS_FACTOR * eps * math.sqrt(max(rows, 1))), torch_dtype)


def check_step(step: InsideStep) -> list[Difference]:
    """Each result of the student's Functions in ``step`` against the reference's, in order."""
    limit = tolerance(step.dtype, step.batch_rows or step.shape[0])
    found: list[Difference] = []
    forwards: dict[str, Call] = {}
    for call in step.calls:
        if call.method == "forward":
            forwards[call.function] = call
            found += _forward(call, limit)
        elif call.function in forwards:
            found += _backward(call, forwards[call.function], limit)
    if step.update is not None and "Linear" in forwards:
        found += _used_gradient(step, forwards["Linear"], limit)
    return found


def _float64(value: Any) -> torch.Tensor | None:
    return _as_float64(value)


def _inputs(call: Call, limit: Limit) -> list[torch.Tensor | None]:
    """A call's inputs in the run's dtype: the reference computes as the run does (a float32
    run's overflow to inf is the reference's too), then is compared in float64."""
    return [_in_dtype(v.value, limit) for v in call.inputs]


def _in_dtype(value: Any, limit: Limit) -> torch.Tensor | None:
    found = _float64(value)
    return None if found is None else found.to(limit.dtype)


def _doubles(tensors: list[torch.Tensor | None]) -> list[Any]:
    return [None if t is None else t.double() for t in tensors]


def _dims(call: Call) -> dict[str, int]:
    first = _float64(call.inputs[0].value)
    if call.function == "Linear":
        X, W = (_float64(v.value) for v in call.inputs[:2])
        return {"n": X.shape[0], "d": X.shape[1], "m": W.shape[1]}
    n, m = (first.shape[0], first.shape[1]) if first is not None and first.dim() == 2 else (1, 1)
    return {"n": n, "m": m}


def _forward(call: Call, limit: Limit) -> list[Difference]:
    inputs = _inputs(call, limit)
    if any(t is None for t in inputs):
        return []
    with torch.inference_mode():
        if call.function == "Linear":
            expected = Linear.forward(Context(), *inputs)
            diagnose, names = _diagnose_linear_forward, list(LINEAR_INPUTS)
        else:
            if inputs[0].shape != inputs[1].shape:
                return []
            expected = MSE.forward(Context(), *inputs)
            diagnose, names = _diagnose_mse_forward, list(MSE_INPUTS)
    value = call.outputs[0]
    expected = expected.double()
    case = _Case(_dims(call), _doubles(inputs), expected, [])
    return [
        _compare(
            call.function,
            "forward",
            value.name,
            value.value,
            expected,
            limit,
            lambda: diagnose(value.value, case, names),
        )
    ]


def _backward(call: Call, forward: Call, limit: Limit) -> list[Difference]:
    """The gradients a backward returned, against the reference's backward on the inputs of the
    forward whose ctx it used, with the grad_output it got."""
    inputs = _inputs(forward, limit)
    grad_output = call.inputs[0].value
    if any(t is None for t in inputs):
        return []
    given = _in_dtype(grad_output, limit) if isinstance(grad_output, torch.Tensor) else grad_output
    with torch.inference_mode():
        ctx = Context()
        if call.function == "Linear":
            Linear.forward(ctx, *inputs)
            if given is None or given.shape != (inputs[0].shape[0], inputs[1].shape[1]):
                return []
            expected = list(Linear.backward(ctx, given))
            names = list(LINEAR_INPUTS)
        else:
            if inputs[0].shape != inputs[1].shape:
                return []
            MSE.forward(ctx, *inputs)
            expected = list(MSE.backward(ctx, given))
            names = list(MSE_INPUTS)
    expected = _doubles(expected)
    if isinstance(given, torch.Tensor):
        given = given.double()
    label = "1.0" if not isinstance(given, torch.Tensor) else "the step's"
    reference = _GradOutput(label, given, expected, None)
    dims = _dims(forward)
    differences = []
    for index, value in enumerate(call.outputs):
        if value.value is None:
            continue  # not computed (ctx.needs_input_grad said so): nothing to compare
        differences.append(
            _compare(
                call.function,
                "backward",
                value.name,
                value.value,
                expected[index],
                limit,
                lambda i=index, v=value: _diagnose_gradient(
                    call.function, i, names, dims, v.value, reference
                ),
            )
        )
    return differences


def _used_gradient(step: InsideStep, linear_forward: Call, limit: Limit) -> list[Difference]:
    """∇W and ∇b as the update used them, against the true gradient of the loss at W, b
    (the reference's backward through both Functions, on the step's rows)."""
    mse_forward = step.last("MSE", "forward")
    X, W, b = _inputs(linear_forward, limit)
    Y = None if mse_forward is None else _in_dtype(mse_forward.inputs[1].value, limit)
    if Y is None or X is None:
        return []
    with torch.inference_mode():
        ctx_linear, ctx_mse = Context(), Context()
        yhat = Linear.forward(ctx_linear, X, W, b)
        MSE.forward(ctx_mse, yhat, Y)
        grad_yhat, _grad_y = MSE.backward(ctx_mse, 1.0)
        _grad_X, grad_W, grad_b = Linear.backward(ctx_linear, grad_yhat)
    return [
        _compare("update", "used", "∇W", step.grad_W, grad_W.double(), limit, None),
        _compare("update", "used", "∇b", step.grad_b, grad_b.double(), limit, None),
    ]


def _compare(function, method, name, value, expected, limit, diagnose) -> Difference:
    """``value`` (the student's) against ``expected`` (the reference's, as float64): the largest difference and
    how many entries differ; ``diagnose()`` gives the check's verdict and hints."""
    expected_shape = tuple(expected.shape)
    found = _float64(value)
    shape = None if found is None else tuple(found.shape)
    if found is None or found.numel() != expected.numel():
        hints = () if diagnose is None else tuple(h.text for h in diagnose().hints if h.text)
        return Difference(function, method, name, False, shape, expected_shape, hints=hints)
    found_values = found.reshape(expected.shape)
    error = (found_values - expected).abs()
    allowed = limit.relative * max(1.0, _largest(expected))
    # Equal is right: an inf where the reference (in the run's dtype) overflowed too.
    same = (error <= allowed) | (found_values == expected)
    wrong = ~(same | (torch.isnan(found_values) & torch.isnan(expected)))
    differing = int(wrong.sum())
    passed = differing == 0 and shape == expected_shape
    if passed:
        return Difference(
            function,
            method,
            name,
            True,
            shape,
            expected_shape,
            entries=expected.numel(),
            max_abs_error=_errors(found_values, expected)[0],
        )
    flat = torch.where(torch.isnan(error), torch.full_like(error, math.inf), error).reshape(-1)
    at = int(flat.argmax()) if flat.numel() else 0
    # numpy's: torch.unravel_index imports torch.fx, seconds the first time.
    place = tuple(int(i) for i in np.unravel_index(at, tuple(expected.shape)))
    hints: tuple[str, ...] = ()
    if diagnose is not None:
        hints = tuple(h.text for h in diagnose().hints if h.text)
    return Difference(
        function,
        method,
        name,
        False,
        shape,
        expected_shape,
        place=place,
        found=float(found_values.reshape(-1)[at]) if flat.numel() else None,
        expected=float(expected.reshape(-1)[at]) if flat.numel() else None,
        differing=differing,
        entries=expected.numel(),
        max_abs_error=_errors(found_values, expected)[0],
        hints=hints,
    )
