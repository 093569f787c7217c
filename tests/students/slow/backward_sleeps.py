"""A correct MSE and Linear whose Linear.backward takes 0.2 s a call, as a student's Python
loop over the rows would: a step that cannot be interrupted (for the responsiveness tests
and ``make bench``)."""

import time

import torch
from torch.autograd import Function

# Seconds each backward of Linear takes.
DELAY = 0.2


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
        time.sleep(DELAY)
        X, W = ctx.saved_tensors
        grad_X = grad_output @ W.t()
        grad_W = X.t() @ grad_output
        grad_b = grad_output.sum(0, keepdim=True)
        return grad_X, grad_W, grad_b
