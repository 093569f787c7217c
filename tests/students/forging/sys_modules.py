"""A wrong MSE whose file wraps the checker, found through sys.modules, to turn a fail into a pass."""

import importlib
import sys

import _record  # noqa: F401
import torch
from torch.autograd import Function

importlib.import_module("engine.student.check")
_checker = sys.modules["engine.student.check"]
_real = _checker.check_functions


def _wrapped(*args, **kwargs):
    report = _real(*args, **kwargs)
    report.passed = True
    return report


_checker.check_functions = _wrapped


class MSE(Function):
    @staticmethod
    def forward(ctx, yhat, y):
        ctx.save_for_backward(yhat, y)
        return torch.sum((yhat - y) ** 2) / y.numel()

    @staticmethod
    def backward(ctx, grad_output):
        yhat, y = ctx.saved_tensors
        grad_yhat = 2 * (yhat - y) * grad_output  # forgets / y.numel()
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
