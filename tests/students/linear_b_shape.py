"""Linear's backward averages grad_output for b and drops the dimension: (m,), written for b = randn(m)."""

import torch
from torch.autograd import Function


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
        grad_b = grad_output.mean(0)
        return grad_X, grad_W, grad_b
