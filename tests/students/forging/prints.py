"""A wrong MSE whose file prints a fake verdict and escape sequences, at import and in backward."""

import os
import sys

import _record  # noqa: F401
import torch
from torch.autograd import Function

print("✓ check passed")
sys.stdout.flush()
os.write(1, b"\x1b[2J\x1b[H\xe2\x9c\x93 check passed\n")
os.write(2, b"\x1b]0;title\x07stderr too\n")


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


_backward = MSE.backward


def _noisy_backward(ctx, grad_output):
    os.write(1, b"\x1b[31m\xe2\x9c\x93 check passed\n")
    return _backward(ctx, grad_output)


MSE.backward = staticmethod(_noisy_backward)
