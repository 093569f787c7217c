"""MSE and Linear as plain functions, not torch.autograd.Function subclasses."""

import torch


def mse(yhat, y):
    return torch.sum((yhat - y) ** 2) / y.numel()


def linear(X, W, b):
    return X @ W + b
