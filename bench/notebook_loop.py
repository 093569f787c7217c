"""The notebook's own code, for comparison: its Context, MSE, Linear and its descent loop.

Copied from the notebook (cells 2 and 4) with the printing and the TensorBoard
writer taken out of the loop, so only the arithmetic is timed.
"""

import torch
from torch.autograd import Function


class Context:
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
        diff = torch.sum(torch.pow(y - yhat, 2)) / y.nelement()
        assert diff.shape == ()
        assert y.shape == yhat.shape
        return diff

    @staticmethod
    def backward(ctx, grad_output):
        yhat, y = ctx.saved_tensors
        Ly = 2 * (y - yhat) * grad_output / y.nelement()
        Lyhat = -Ly
        assert y.shape == yhat.shape
        assert Ly.shape == y.shape
        assert Lyhat.shape == yhat.shape
        return Lyhat, Ly


class Linear(Function):
    @staticmethod
    def forward(ctx, X, W, b):
        ctx.save_for_backward(X, W, b)
        assert X.shape[1] == W.shape[0]
        assert (X @ W).shape[1] == b.shape[1]
        return X @ W + b

    @staticmethod
    def backward(ctx, grad_output):
        X, W, b = ctx.saved_tensors
        Lx = grad_output @ W.t()
        Lw = X.t() @ grad_output
        Lb = grad_output.sum(0).view(1, -1)
        assert X.shape[1] == W.shape[0]
        assert Lw.shape == W.shape
        assert Lx.shape == X.shape
        assert Lb.shape == b.shape
        return Lx, Lw, Lb


def grad_descent(X, Y, W, b, iterations, epsilon=0.01):
    """The notebook's gradDescent loop, for a fixed number of iterations."""
    mse, lin = MSE(), Linear()
    for _ in range(iterations):
        ctxLin = Context()
        ctxMSE = Context()
        fwd = lin.forward(ctxLin, X, W, b)
        loss = mse.forward(ctxMSE, fwd, Y)
        bool(loss > 0.70)  # the loop test of `while loss > 0.70`
        gradFwd, gradY = mse.backward(ctxMSE, 1)
        gradX, gradW, gradb = lin.backward(ctxLin, gradFwd)
        W = W - epsilon * gradW
        b = b - epsilon * gradb
    return W, b
