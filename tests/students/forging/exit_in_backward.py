"""An MSE whose backward ends the process with status 3."""

import os

import _record  # noqa: F401
import torch
from torch.autograd import Function


class MSE(Function):
    @staticmethod
    def forward(ctx, yhat, y):
        ctx.save_for_backward(yhat, y)
        return torch.sum((yhat - y) ** 2) / y.numel()

    @staticmethod
    def backward(ctx, grad_output):
        os._exit(3)


class Linear(Function):
    @staticmethod
    def forward(ctx, X, W, b):
        ctx.save_for_backward(X, W)
        return X @ W + b

    @staticmethod
    def backward(ctx, grad_output):
        X, W = ctx.saved_tensors
        return grad_output @ W.t(), X.t() @ grad_output, grad_output.sum(0, keepdim=True)
