"""A correct Linear, an MSE whose forward never returns; its import starts a process of its own."""

import subprocess

import _record
from torch.autograd import Function

# Left running, this process would outlive the check: it must not.
_record.record(subprocess.Popen(["sleep", "600"]).pid)


class MSE(Function):
    @staticmethod
    def forward(ctx, yhat, y):
        while True:
            pass

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
