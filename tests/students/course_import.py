"""TP1 as submitted: the course's data package (absent here) imported at the top, correct Functions."""

import torch
from datamaestro import prepare_dataset
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


# Les données du TP
data = prepare_dataset("edu.uci.boston")
train, test = data.data()
