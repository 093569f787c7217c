"""The notebook's hand-written MSE and Linear, as ``torch.autograd.Function``s.

Both can be used through ``.apply`` (autograd builds the graph and calls
``backward`` for you) or stepped by hand with a :class:`Context`, as the
notebook does: ``yhat = Linear.forward(ctx, X, W, b)`` then
``Linear.backward(ctx, grad)``.  Shape errors raise ``ValueError`` naming the
shapes (an ``assert`` would vanish under ``python -O``).
"""

from __future__ import annotations

import torch
from torch.autograd import Function


class Context:
    """A stand-in for autograd's ``ctx`` when forward/backward are called by hand.

    ``needs_input_grad`` says which inputs want a gradient; backward skips the
    others (the descent never needs the gradient with respect to X or Y).
    """

    def __init__(self, needs_input_grad: tuple[bool, ...] | None = None) -> None:
        self._saved_tensors: tuple[torch.Tensor, ...] = ()
        self.needs_input_grad = needs_input_grad

    def save_for_backward(self, *tensors: torch.Tensor) -> None:
        self._saved_tensors = tensors

    @property
    def saved_tensors(self) -> tuple[torch.Tensor, ...]:
        return self._saved_tensors


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


_SCALES: dict[tuple, torch.Tensor] = {}


def _scale(value: float, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a cached 0-dim tensor.

    Multiplying by a Python float makes torch wrap it in a new tensor at every
    call, which costs as much as the multiplication itself on the notebook's
    small problem; a cached 0-dim tensor does not.
    """
    key = (value, like.dtype, like.device)
    scale = _SCALES.get(key)
    if scale is None:
        # Created outside inference mode so autograd may use it too.
        with torch.inference_mode(False):
            scale = torch.tensor(value, dtype=like.dtype, device=like.device)
        if len(_SCALES) > 256:
            _SCALES.clear()
        _SCALES[key] = scale
    return scale


def _needs(ctx, count: int) -> tuple[bool, ...]:
    needs = getattr(ctx, "needs_input_grad", None)
    return (True,) * count if needs is None else needs


class MSE(Function):
    """Mean squared error: sum((y - yhat)^2) / numel."""

    @staticmethod
    def forward(ctx, yhat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if yhat.shape != y.shape:
            raise ValueError(
                f"MSE: yhat has shape {_shape(yhat)} but y has shape {_shape(y)}; they must match"
            )
        diff = yhat - y
        flat = diff.reshape(-1)
        # Backward only needs the residual: saving it spares recomputing yhat - y.
        ctx.save_for_backward(diff)
        return torch.dot(flat, flat) * _scale(1.0 / diff.numel(), diff)

    @staticmethod
    def backward(ctx, grad_output):
        (diff,) = ctx.saved_tensors
        need_yhat, need_y = _needs(ctx, 2)
        # d/dyhat of sum((yhat - y)^2)/N is 2 (yhat - y) / N, scaled by the upstream gradient.
        if isinstance(grad_output, torch.Tensor):
            grad_yhat = diff * (grad_output * (2.0 / diff.numel()))
        else:  # a number, as when the notebook calls backward(ctx, 1) by hand
            grad_yhat = diff * _scale(2.0 * grad_output / diff.numel(), diff)
        grad_y = -grad_yhat if need_y else None
        return (grad_yhat if need_yhat else None), grad_y


class Linear(Function):
    """Affine map X @ W + b, with X (n, d), W (d, m) and b (1, m)."""

    @staticmethod
    def forward(ctx, X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x_shape, w_shape, b_shape = X.shape, W.shape, b.shape
        if len(x_shape) != 2 or len(w_shape) != 2 or x_shape[1] != w_shape[0]:
            raise ValueError(
                f"Linear: X has shape {_shape(X)} and W has shape {_shape(W)}; "
                "expected X (n, d) and W (d, m)"
            )
        if len(b_shape) != 2 or b_shape[0] != 1 or b_shape[1] != w_shape[1]:
            raise ValueError(
                f"Linear: b has shape {_shape(b)}; expected (1, {W.shape[1]}) to match W {_shape(W)}"
            )
        ctx.save_for_backward(X, W)
        return torch.addmm(b, X, W)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        X, W = ctx.saved_tensors
        if grad_output.shape != (X.shape[0], W.shape[1]):
            raise ValueError(
                f"Linear: grad_output has shape {_shape(grad_output)}; "
                f"expected {(X.shape[0], W.shape[1])}, the shape of the output"
            )
        need_X, need_W, need_b = _needs(ctx, 3)
        grad_X = torch.mm(grad_output, W.t()) if need_X else None
        grad_W = torch.mm(X.t(), grad_output) if need_W else None
        grad_b = grad_output.sum(0, keepdim=True) if need_b else None
        return grad_X, grad_W, grad_b
