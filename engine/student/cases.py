"""The inputs a check tries, the reference values and gradients, and how values are compared."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from engine.student.sandbox import Foreign, Sequence

# Largest absolute error accepted, relative to max(1, the largest expected value): float64
# central differences of these quadratic losses are exact to about 1e-10, float32 to about 1e-7.
TOLERANCE = 1e-6
# The losses are quadratic: the step of the central differences only trades rounding errors.
STEP = 1e-5

# (n, m) for MSE and (n, d, m) for Linear.  The first shape has n, m and n×m (and 2, 1/2,
# GRAD_OUTPUT) all different, so that a wrong factor found there names its cause; the
# report's hints come from the first shape where a check fails.
MSE_SHAPES = [(5, 3), (4, 4), (1, 4), (6, 1)]
LINEAR_SHAPES = [(5, 3, 2), (4, 3, 3), (1, 4, 2), (6, 3, 1), (3, 1, 2)]
GRAD_OUTPUT = 2.5

MSE_INPUTS = ("yhat", "y")
LINEAR_INPUTS = ("X", "W", "b")


# -- comparing tensors --------------------------------------------------------------------


def _largest(t: torch.Tensor) -> float:
    return float(t.abs().max()) if t.numel() else 0.0


def _errors(found: torch.Tensor, expected: torch.Tensor) -> tuple[float, float]:
    """Max absolute error, and the same relative to the largest expected value."""
    error = _largest(found - expected)
    scale = _largest(expected)
    if scale > 0:
        return error, error / scale
    return error, (0.0 if error == 0 else math.inf)


def _close(found: torch.Tensor, expected: torch.Tensor) -> bool:
    if found.shape != expected.shape:
        return False
    error = _largest(found - expected)
    return math.isfinite(error) and error <= TOLERANCE * max(1.0, _largest(expected))


def _factor(found: torch.Tensor, expected: torch.Tensor) -> float | None:
    """c where found ≈ c · expected for a constant c, or None."""
    norm = float((expected * expected).sum())
    if found.shape != expected.shape or norm == 0:
        return None
    c = float((found * expected).sum()) / norm
    if not math.isfinite(c) or c == 0:
        return None
    return c if _close(found, c * expected) else None


def _same(c: float, value: float) -> bool:
    return abs(c - value) <= 1e-6 * abs(value)


def _type_name(value: Any) -> str:
    """The type of a value the student's code returned, as the child named it."""
    if isinstance(value, (Foreign, Sequence)):
        return value.type_name
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, Foreign) and value.number


def _as_float64(value: Any) -> torch.Tensor | None:
    if not isinstance(value, torch.Tensor):
        return None
    try:
        return value.detach().to("cpu", torch.float64)
    except (RuntimeError, TypeError):
        return None


# -- the cases: inputs, expected values and gradients -------------------------------------


def _numerical_gradients(loss, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Central differences of the scalar ``loss(*inputs)``, in float64."""
    inputs = [t.clone() for t in inputs]
    gradients = []
    for t in inputs:
        flat = t.view(-1)
        gradient = torch.empty_like(flat)
        for k in range(flat.numel()):
            value = float(flat[k])
            flat[k] = value + STEP
            above = loss(*inputs)
            flat[k] = value - STEP
            below = loss(*inputs)
            flat[k] = value
            gradient[k] = (above - below) / (2 * STEP)
        gradients.append(gradient.view_as(t))
    return gradients


def _mse_value(yhat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    diff = yhat - y
    return (diff * diff).sum() / diff.numel()


def _linear_value(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return X @ W + b


@dataclass
class _GradOutput:
    label: str
    value: Any  # a tensor, or for MSE a number
    expected: list[torch.Tensor]  # the gradient of each input
    at_one: list[torch.Tensor] | None  # the same at grad_output = 1 (all ones), unless it is


@dataclass
class _Case:
    dims: dict[str, int]  # n and m (and d)
    inputs: list[torch.Tensor]
    expected: torch.Tensor  # the forward's value
    grad_outputs: list[_GradOutput]


def _mse_case(n: int, m: int, generator: torch.Generator) -> _Case:
    yhat, y = (torch.randn(n, m, generator=generator, dtype=torch.float64) for _ in range(2))
    at_one = _numerical_gradients(lambda a, b: float(_mse_value(a, b)), [yhat, y])
    scaled = [GRAD_OUTPUT * g for g in at_one]

    def tensor(value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=torch.float64)

    grad_outputs = [
        _GradOutput("tensor(1.)", tensor(1.0), at_one, None),
        _GradOutput(f"tensor({GRAD_OUTPUT})", tensor(GRAD_OUTPUT), scaled, at_one),
        _GradOutput("1.0 (a number)", 1.0, at_one, None),
        _GradOutput(f"{GRAD_OUTPUT} (a number)", GRAD_OUTPUT, scaled, at_one),
    ]
    return _Case({"n": n, "m": m}, [yhat, y], _mse_value(yhat, y), grad_outputs)


def _linear_case(n: int, d: int, m: int, generator: torch.Generator) -> _Case:
    X = torch.randn(n, d, generator=generator, dtype=torch.float64)
    W = torch.randn(d, m, generator=generator, dtype=torch.float64)
    b = torch.randn(1, m, generator=generator, dtype=torch.float64)
    ones = torch.ones(n, m, dtype=torch.float64)
    random = torch.randn(n, m, generator=generator, dtype=torch.float64)

    def gradients(grad_output: torch.Tensor) -> list[torch.Tensor]:
        def loss(X, W, b):
            return float((grad_output * _linear_value(X, W, b)).sum())

        return _numerical_gradients(loss, [X, W, b])

    at_one = gradients(ones)
    grad_outputs = [
        _GradOutput(f"ones {(n, m)}", ones, at_one, None),
        _GradOutput(f"random {(n, m)}", random, gradients(random), at_one),
    ]
    return _Case({"n": n, "d": d, "m": m}, [X, W, b], _linear_value(X, W, b), grad_outputs)


def vector_bias(case: _Case) -> _Case:
    """The same Linear case with b of shape (m,), as the course's skeleton draws it
    (``b = torch.randn(m)``) instead of the notebook's (1, m): b's gradient is (m,) too."""

    def flat(gradients: list[torch.Tensor] | None) -> list[torch.Tensor] | None:
        if gradients is None:
            return None
        return [*gradients[:2], gradients[2].reshape(-1)]

    X, W, b = case.inputs
    grad_outputs = [
        _GradOutput(g.label, g.value, flat(g.expected), flat(g.at_one)) for g in case.grad_outputs
    ]
    dims = dict(case.dims, b_rank=1)
    return _Case(dims, [X, W, b.reshape(-1)], case.expected, grad_outputs)
