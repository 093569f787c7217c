"""The notebook's MSE and Linear: values, gradients (gradcheck, float64), shape errors."""

import subprocess
import sys

import pytest
import torch
from torch.autograd import gradcheck

from engine.core.functions import MSE, Context, Linear

SHAPES = [(1, 1, 1), (1, 3, 1), (5, 1, 4), (10, 5, 3), (7, 4, 4), (50, 13, 3)]


def _random(*shape, seed=0):
    generator = torch.Generator().manual_seed(seed + sum(shape))
    return torch.randn(*shape, generator=generator, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("n,d,m", SHAPES)
def test_mse_gradcheck(n, d, m):
    assert gradcheck(MSE.apply, (_random(n, m), _random(n, m, seed=1)))


@pytest.mark.parametrize("n,d,m", SHAPES)
def test_linear_gradcheck(n, d, m):
    assert gradcheck(Linear.apply, (_random(n, d), _random(d, m, seed=1), _random(1, m, seed=2)))


@pytest.mark.parametrize("n,d,m", SHAPES)
def test_composition_gradcheck(n, d, m):
    """MSE(Linear(X, W, b), Y) end to end, as the descent uses them."""
    Y = _random(n, m, seed=3).detach()

    def loss(X, W, b):
        return MSE.apply(Linear.apply(X, W, b), Y)

    assert gradcheck(loss, (_random(n, d), _random(d, m, seed=1), _random(1, m, seed=2)))


@pytest.mark.parametrize("n,d,m", SHAPES)
def test_values_agree_with_torch(n, d, m):
    X, W, b, Y = _random(n, d), _random(d, m, seed=1), _random(1, m, seed=2), _random(n, m, seed=3)
    yhat = Linear.apply(X, W, b)
    torch.testing.assert_close(yhat, X @ W + b)
    torch.testing.assert_close(MSE.apply(yhat, Y), torch.nn.functional.mse_loss(X @ W + b, Y))


def test_gradients_agree_with_torch_autograd():
    X, W, b, Y = _random(6, 4), _random(4, 2, seed=1), _random(1, 2, seed=2), _random(6, 2, seed=3)
    ours = torch.autograd.grad(MSE.apply(Linear.apply(X, W, b), Y), (X, W, b, Y))
    reference = torch.autograd.grad(torch.nn.functional.mse_loss(X @ W + b, Y), (X, W, b, Y))
    for mine, theirs in zip(ours, reference, strict=True):
        torch.testing.assert_close(mine, theirs)


def test_backward_scales_with_grad_output():
    """A backward that ignored grad_output would pass a check made with grad_output = 1 only."""
    yhat, y = _random(4, 3), _random(4, 3, seed=1)
    (3.5 * MSE.apply(yhat, y)).backward()
    expected = 3.5 * 2 * (yhat - y).detach() / yhat.numel()
    torch.testing.assert_close(yhat.grad, expected)
    torch.testing.assert_close(y.grad, -expected)


def test_stepping_by_hand_as_the_notebook_does():
    X, W, b, Y = (t.detach() for t in (_random(8, 3), _random(3, 2), _random(1, 2), _random(8, 2)))
    ctx_linear, ctx_mse = Context(), Context()
    yhat = Linear.forward(ctx_linear, X, W, b)
    loss = MSE.forward(ctx_mse, yhat, Y)
    grad_yhat, grad_y = MSE.backward(ctx_mse, 1)
    grad_X, grad_W, grad_b = Linear.backward(ctx_linear, grad_yhat)
    torch.testing.assert_close(loss, ((Y - yhat) ** 2).sum() / Y.numel())
    torch.testing.assert_close(grad_y, -grad_yhat)
    torch.testing.assert_close(grad_W, X.t() @ grad_yhat)
    torch.testing.assert_close(grad_X, grad_yhat @ W.t())
    torch.testing.assert_close(grad_b, grad_yhat.sum(0).view(1, -1))
    assert grad_b.shape == b.shape


def test_context_skips_gradients_nobody_needs():
    X, W, b, Y = (t.detach() for t in (_random(8, 3), _random(3, 2), _random(1, 2), _random(8, 2)))
    ctx_linear, ctx_mse = Context((False, True, True)), Context((True, False))
    MSE.forward(ctx_mse, Linear.forward(ctx_linear, X, W, b), Y)
    grad_yhat, grad_y = MSE.backward(ctx_mse, 1.0)
    grad_X, grad_W, grad_b = Linear.backward(ctx_linear, grad_yhat)
    assert grad_y is None and grad_X is None
    assert grad_W.shape == W.shape and grad_b.shape == b.shape


@pytest.mark.parametrize(
    "shapes,words",
    [
        (((4, 3), (4, 2)), ["(4, 3)", "(4, 2)"]),
        (((4,), (4, 1)), ["(4,)", "(4, 1)"]),
    ],
)
def test_mse_shape_error_names_the_shapes(shapes, words):
    with pytest.raises(ValueError) as error:
        MSE.apply(torch.zeros(shapes[0]), torch.zeros(shapes[1]))
    assert all(word in str(error.value) for word in words)


@pytest.mark.parametrize(
    "X,W,b,words",
    [
        ((4, 3), (2, 5), (1, 5), ["(4, 3)", "(2, 5)"]),
        ((4, 3), (3, 5), (1, 4), ["(1, 4)", "(1, 5)"]),
        ((4, 3), (3, 5), (5,), ["(5,)"]),
        ((4, 3), (3, 5), (2, 5), ["(2, 5)"]),
        ((3,), (3, 5), (1, 5), ["(3,)"]),
    ],
)
def test_linear_shape_error_names_the_shapes(X, W, b, words):
    with pytest.raises(ValueError) as error:
        Linear.apply(torch.zeros(X), torch.zeros(W), torch.zeros(b))
    assert all(word in str(error.value) for word in words)


def test_linear_backward_checks_grad_output_shape():
    ctx = Context()
    Linear.forward(ctx, torch.zeros(4, 3), torch.zeros(3, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        Linear.backward(ctx, torch.zeros(4, 5))


def test_shape_errors_survive_python_O():
    """Not asserts: ``python -O`` strips those."""
    code = (
        "import torch; from engine.core.functions import Linear\n"
        "try:\n    Linear.apply(torch.zeros(4, 3), torch.zeros(2, 5), torch.zeros(1, 5))\n"
        "except ValueError as e:\n    print('raised', e)\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True)
    assert out.stdout.startswith("raised Linear"), out.stderr
