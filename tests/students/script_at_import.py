"""TP1 as submitted: the descent script runs at import and crashes on a name never defined."""

import torch
from torch.autograd import Function


class Context:
    """Un objet très simplifié pour simuler le contexte PyTorch"""

    def __init__(self):
        self._saved_tensors = ()

    def save_for_backward(self, *args):
        self._saved_tensors = args

    @property
    def saved_tensors(self):
        return self._saved_tensors


class MSE(Function):
    @staticmethod
    def forward(ctx, yhat, y):
        ctx.save_for_backward(yhat, y)
        return torch.sum((yhat - y) ** 2) / y.numel()

    @staticmethod
    def backward(ctx, grad_output):
        yhat, y = ctx.saved_tensors
        grad_yhat = 2 * (yhat - y) * grad_output / y.numel()
        return grad_yhat, -grad_yhat


class Linear(Function):
    @staticmethod
    def forward(ctx, X, W, b):
        ctx.save_for_backward(X, W)
        return X @ W + b

    @staticmethod
    def backward(ctx, grad_output):
        X, W = ctx.saved_tensors
        grad_X = grad_output @ W.t()
        grad_W = X.t() @ grad_output
        grad_b = grad_output.sum(0, keepdim=True)
        return grad_X, grad_W, grad_b


mse = MSE.apply
linear = Linear.apply
x = torch.randn(50, 13)
y = torch.randn(50, 3)
w = torch.randn(13, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
for n in range(100):
    loss = mse(linear(x, w, b), y)
    writer.add_scalar("Loss/train", loss, n)
    loss.backward()
