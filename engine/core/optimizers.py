"""Parameter updates written by hand on the gradients the custom Functions return.

Same semantics as ``torch.optim.SGD`` (plain, momentum, Nesterov; no dampening,
no weight decay) and ``torch.optim.Adam``; the tests compare them with
torch.optim step by step.  Each update works in place and remembers the step
it applied, so the app can show what moved.
"""

from __future__ import annotations

import math

import torch

from engine.config import OPTIMIZERS

ADAM_EPS = 1e-8


class Optimizer:
    """Updates ``params`` in place from ``grads``; ``last_step`` is what was added."""

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate
        self.last_step: list[torch.Tensor] | None = None

    def step(self, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    def step(self, params, grads):
        steps = [grad * -self.learning_rate for grad in grads]
        for param, step in zip(params, steps, strict=True):
            param.add_(step)
        self.last_step = steps


class Momentum(Optimizer):
    """Heavy ball: v ← μ v + g (v = g at the first step); Nesterov: step along g + μ v."""

    def __init__(self, learning_rate: float, momentum: float, nesterov: bool = False) -> None:
        super().__init__(learning_rate)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity: list[torch.Tensor] | None = None

    def step(self, params, grads):
        if self.velocity is None:
            self.velocity = [grad.clone() for grad in grads]
        else:
            for velocity, grad in zip(self.velocity, grads, strict=True):
                velocity.mul_(self.momentum).add_(grad)
        if self.nesterov:
            directions = [
                grad.add(velocity, alpha=self.momentum)
                for grad, velocity in zip(grads, self.velocity, strict=True)
            ]
        else:
            directions = self.velocity
        steps = [direction * -self.learning_rate for direction in directions]
        for param, step in zip(params, steps, strict=True):
            param.add_(step)
        self.last_step = steps


class Adam(Optimizer):
    """m, v: moving averages of g and g²; the step is lr · m̂ / (√v̂ + ε), bias-corrected."""

    def __init__(self, learning_rate: float, beta1: float, beta2: float, eps: float = ADAM_EPS):
        super().__init__(learning_rate)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m: list[torch.Tensor] | None = None
        self.v: list[torch.Tensor] | None = None

    def step(self, params, grads):
        if self.m is None:
            self.m = [torch.zeros_like(grad) for grad in grads]
            self.v = [torch.zeros_like(grad) for grad in grads]
        self.t += 1
        correction1 = 1 - self.beta1**self.t
        correction2_sqrt = math.sqrt(1 - self.beta2**self.t)
        steps = []
        for param, grad, m, v in zip(params, grads, self.m, self.v, strict=True):
            m.lerp_(grad, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            denominator = (v.sqrt() / correction2_sqrt).add_(self.eps)
            step = m / denominator * (-self.learning_rate / correction1)
            param.add_(step)
            steps.append(step)
        self.last_step = steps


def make_optimizer(
    name: str, learning_rate: float, momentum: float, beta1: float, beta2: float
) -> Optimizer:
    if name == "sgd":
        return SGD(learning_rate)
    if name in ("momentum", "nesterov"):
        return Momentum(learning_rate, momentum, nesterov=name == "nesterov")
    if name == "adam":
        return Adam(learning_rate, beta1, beta2)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
