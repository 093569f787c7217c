"""Why a result is wrong: a hint for each mistake the checker recognises (a factor, a transpose, a swap)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from engine.i18n import _
from engine.student.cases import (
    TOLERANCE,
    _as_float64,
    _Case,
    _close,
    _errors,
    _factor,
    _GradOutput,
    _is_number,
    _largest,
    _same,
    _type_name,
)
from engine.student.report import Hint, StudentException

# -- diagnosis ----------------------------------------------------------------------------


@dataclass
class _Verdict:
    passed: bool
    found_shape: tuple[int, ...] | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    hints: list[Hint] = field(default_factory=list)


def _wrong(found_shape: tuple[int, ...] | None, code: str, text: str) -> _Verdict:
    return _Verdict(False, found_shape, hints=[Hint(code, text)])


def _formula(function: str, index: int, names: list[str], dims: dict | None = None) -> str:
    """The expected gradient of input ``index``, written with the student's names."""
    if function == "MSE":
        yhat, y = names
        sign = "" if index == 0 else "-"
        return f"{sign}2 * ({yhat} - {y}) * grad_output / {y}.numel()"
    X, W, _ = names
    return (f"grad_output @ {W}.t()", f"{X}.t() @ grad_output", _b_formula(dims))[index]


def _b_formula(dims: dict | None) -> str:
    """b's gradient: (1, m) as the notebook's b, or (m,) as the course skeleton's."""
    if dims is not None and dims.get("b_rank") == 1:
        return "grad_output.sum(0)"
    return "grad_output.sum(0, keepdim=True)"


def _diagnose_gradient(
    function: str, index: int, names: list[str], dims: dict, found: Any, grad_output: _GradOutput
) -> _Verdict:
    """Compare one returned gradient with the expected one; say what is wrong if it can."""
    name = names[index]
    expected = grad_output.expected
    reference = expected[index]
    shape = tuple(reference.shape)
    if found is None:
        return _wrong(
            None,
            "none",
            _(
                "backward returns None for {name}: return a gradient for every input (here {function})"
            ).format(name=name, function=_formula(function, index, names, dims)),
        )
    gradient = _as_float64(found)
    if gradient is None:
        kind = _type_name(found)
        return _wrong(
            None,
            "not_tensor",
            _("backward returns a {kind} for {name}, not a tensor").format(kind=kind, name=name),
        )
    found_shape = tuple(gradient.shape)
    if found_shape == shape:
        verdict = _Verdict(_close(gradient, reference), found_shape, *_errors(gradient, reference))
        if not verdict.passed:
            verdict.hints = _diagnose_values(function, index, names, dims, gradient, grad_output)
        return verdict

    # A wrong shape: transposed, another input's gradient, or the right values reshaped.
    if gradient.dim() == 2 and found_shape == shape[::-1] and _close(gradient.t(), reference):
        return _Verdict(
            False, found_shape, hints=[_transposed(function, index, names, found_shape)]
        )
    for j, other in enumerate(expected):
        if j != index and _close(gradient, other):
            return _Verdict(False, found_shape, hints=[_order(names, index, j)])
    if function == "Linear" and index == 2 and found_shape == (dims["n"], dims["m"]):
        if _close(gradient.sum(0, keepdim=True), reference):
            return _wrong(
                found_shape,
                "b_not_summed",
                _(
                    "{name}'s gradient has the shape of grad_output, {found_shape}: sum it over the rows, {dims}, to get {name}'s shape {shape}"
                ).format(name=name, found_shape=found_shape, dims=_b_formula(dims), shape=shape),
            )
    if gradient.numel() != reference.numel():
        return _wrong(
            found_shape,
            "shape",
            _(
                "{name}'s gradient has shape {found_shape}, but {name} has shape {shape}: expected {function}"
            ).format(
                name=name,
                found_shape=found_shape,
                shape=shape,
                function=_formula(function, index, names, dims),
            ),
        )
    values = gradient.reshape(shape)
    verdict = _Verdict(False, found_shape, *_errors(values, reference))
    if (
        function == "Linear"
        and index == 2
        and shape == (shape[-1],)
        and found_shape == (1, shape[0])
    ):
        verdict.hints.append(
            Hint(
                "b_shape",
                _(
                    "{name}'s gradient has shape {found_shape} instead of {shape}: keepdim=True keeps the summed dimension; use grad_output.sum(0)"
                ).format(name=name, found_shape=found_shape, shape=shape),
            )
        )
    elif function == "Linear" and index == 2 and len(shape) == 2 and found_shape == (shape[1],):
        verdict.hints.append(
            Hint(
                "b_shape",
                _(
                    "{name}'s gradient has shape {found_shape} instead of {shape}: sum(0) drops the summed dimension; use grad_output.sum(0, keepdim=True) or .view(1, -1)"
                ).format(name=name, found_shape=found_shape, shape=shape),
            )
        )
    else:
        verdict.hints.append(
            Hint(
                "shape",
                _("{name}'s gradient has shape {found_shape} instead of {shape}").format(
                    name=name, found_shape=found_shape, shape=shape
                ),
            )
        )
    if not _close(values, reference):
        verdict.hints += _diagnose_values(function, index, names, dims, values, grad_output)
    return verdict


def _transposed(function: str, index: int, names: list[str], found_shape: tuple) -> Hint:
    return Hint(
        "transposed",
        _(
            "{names}'s gradient is transposed (found shape {found_shape}): expected {function}"
        ).format(
            names=names[index], found_shape=found_shape, function=_formula(function, index, names)
        ),
    )


def _order(names: list[str], index: int, other: int) -> Hint:
    return Hint(
        "order",
        _(
            "the gradient returned for {names} is the one for {names2}: backward returns the gradients in the wrong order; return them in forward's order ({names3})"
        ).format(names=names[index], names2=names[other], names3=", ".join(names)),
    )


def _diagnose_values(
    function: str,
    index: int,
    names: list[str],
    dims: dict,
    values: torch.Tensor,
    grad_output: _GradOutput,
) -> list[Hint]:
    """Hints for a gradient of the right shape (or reshaped to it) but wrong values."""
    name = names[index]
    expected = grad_output.expected
    reference = expected[index]
    if values.dim() == 2 and values.shape[0] == values.shape[1] and _close(values.t(), reference):
        return [_transposed(function, index, names, tuple(values.shape))]
    for j, other in enumerate(expected):
        # MSE's two gradients are opposite: taking one for the other is the sign error below.
        if j != index and not _close(other, -reference) and _close(values, other):
            return [_order(names, index, j)]
    if grad_output.at_one is not None and _close(values, grad_output.at_one[index]):
        one = "1" if function == "MSE" else _("all ones")
        return [
            Hint(
                "grad_output_ignored",
                _(
                    "grad_output ignored: {name}'s gradient is right for grad_output = {one} only; multiply by grad_output (chain rule): {function}"
                ).format(name=name, one=one, function=_formula(function, index, names, dims)),
            )
        ]
    if _largest(values) <= TOLERANCE * max(1.0, _largest(reference)):
        return [Hint("zero", _("{name}'s gradient is zero").format(name=name))]
    c = _factor(values, reference)
    return [] if c is None else _factor_hints(function, index, names, dims, c)


def _factor_hints(function: str, index: int, names: list[str], dims: dict, c: float) -> list[Hint]:
    """What a gradient ``c`` times the expected one says about the mistake."""
    name = names[index]
    n, m = dims["n"], dims["m"]
    size = n * m
    hints = []
    if c < 0:
        hints.append(
            Hint(
                "sign",
                _(
                    "wrong sign: {name}'s gradient is the opposite of the expected {function}"
                ).format(name=name, function=_formula(function, index, names, dims)),
            )
        )
    numel = f"N = n×m = {n}×{m} = {size}"
    known: list[tuple[float, str, str]] = []
    if function == "MSE":
        known = [
            (
                size,
                "numel",
                _("{size} times too large: forgot to divide by the numel, {numel}").format(
                    size=size, numel=numel
                ),
            ),
            (
                0.5,
                "factor_2",
                _(
                    "half the expected gradient: missing factor 2 (the derivative of ({names} - {names2})² is 2 ({names} - {names2}))"
                ).format(names=names[0], names2=names[1]),
            ),
            (
                size / 2,
                "numel",
                _(
                    "{value:g} times too large: forgot to divide by the numel, {numel}, and the factor 2"
                ).format(value=size / 2, numel=numel),
            ),
            (
                m,
                "numel",
                _("{m} times too large: divided by n = {n} instead of the numel, {numel}").format(
                    m=m, n=n, numel=numel
                ),
            ),
            (
                n,
                "numel",
                _("{n} times too large: divided by m = {m} instead of the numel, {numel}").format(
                    n=n, m=m, numel=numel
                ),
            ),
            (2.0, "factor_2", _("twice the expected gradient: one factor 2 too many")),
        ]
    elif function == "Linear" and index == 2:
        known = [
            (
                1 / n,
                "mean_b",
                _(
                    "{n} times too small (n = {n}): a mean instead of a sum over the rows; {name}'s gradient is {dims}"
                ).format(n=n, name=name, dims=_b_formula(dims)),
            )
        ]
    scale = abs(c)
    for value, code, text in known:
        if value != 1 and _same(scale, value):
            hints.append(Hint(code, text))
            break
    else:
        if not _same(scale, 1):
            hints.append(
                Hint(
                    "factor",
                    _("{name}'s gradient is {c:.4g} times the expected one").format(name=name, c=c),
                )
            )
    return hints


def _diagnose_mse_forward(value: Any, case: _Case, names: list[str]) -> _Verdict:
    yhat_name, y_name = names
    yhat, y = case.inputs
    expected = case.expected
    n, m = case.dims["n"], case.dims["m"]
    size = n * m
    loss = f"(({yhat_name} - {y_name}) ** 2).sum() / {y_name}.numel()"
    found = _as_float64(value)
    if found is None:
        kind = _type_name(value)
        text = _("forward returns a {kind}, not a tensor").format(kind=kind)
        if _is_number(value):
            text += _(": keep the loss a 0-dim tensor (no .item())")
        return _wrong(None, "not_tensor", text)
    shape = tuple(found.shape)
    if shape != ():
        if found.numel() == 1 and _close(found.reshape(()), expected):
            return _wrong(
                shape,
                "forward_shape",
                _("forward returns shape {shape} instead of a 0-dim scalar").format(shape=shape),
            )
        squares = (yhat - y) ** 2
        for reduced, how in (
            (squares.mean(0), _("a mean over dim 0 (the rows) only")),
            (squares.sum(0), _("a sum over dim 0 (the rows) only")),
            (squares.mean(1), _("a mean over dim 1 (the columns) only")),
            (squares.sum(1), _("a sum over dim 1 (the columns) only")),
            (squares, _("no reduction at all")),
        ):
            if found.numel() == reduced.numel() and _close(found.reshape(reduced.shape), reduced):
                return _wrong(
                    shape,
                    "forward_dim",
                    _(
                        "forward reduces over the wrong dimension: shape {shape}, {how}; the loss is one number, the mean over all n×m elements: {loss}"
                    ).format(shape=shape, how=how, loss=loss),
                )
        return _wrong(
            shape,
            "forward_shape",
            _("forward returns shape {shape}, not a 0-dim tensor").format(shape=shape),
        )
    verdict = _Verdict(_close(found, expected), shape, *_errors(found, expected))
    if verdict.passed:
        return verdict
    ratio = float(found) / float(expected)
    if _same(ratio, size):
        hint = Hint(
            "numel",
            _("forward is {size} times too large: a sum instead of a mean; {loss}").format(
                size=size, loss=loss
            ),
        )
    elif _same(ratio, m) or _same(ratio, n):
        by, rows = (n, _("rows")) if _same(ratio, m) else (m, _("columns"))
        hint = Hint(
            "forward_dim",
            _(
                "forward reduces over the wrong dimension: {ratio:.4g} times too large, it divides by the {by} {rows} instead of the n×m = {size} elements (e.g. a mean over the {rows} then a sum); {loss}"
            ).format(ratio=ratio, by=by, rows=rows, size=size, loss=loss),
        )
    elif _close(found * found, expected):
        hint = Hint(
            "forward_sqrt",
            _("forward takes a square root: that is the RMSE, not the MSE; {loss}").format(
                loss=loss
            ),
        )
    elif (norm := _norm_of(found, yhat - y, n, m)) is not None:
        hint = Hint(
            "forward_norm",
            _(
                "forward is the norm of {yhat_name} - {y_name}{norm}, not its square: torch.norm is the square root of the sum of squares; {loss} (or torch.norm({yhat_name} - {y_name}) ** 2 / {y_name}.numel())"
            ).format(yhat_name=yhat_name, y_name=y_name, norm=norm, loss=loss),
        )
    elif ratio < 0:
        hint = Hint("sign", _("forward is negative: a mean of squares is ≥ 0"))
    else:
        hint = Hint(
            "factor", _("forward is {ratio:.4g} times the expected loss").format(ratio=ratio)
        )
    verdict.hints.append(hint)
    return verdict


def _norm_of(found: torch.Tensor, diff: torch.Tensor, n: int, m: int) -> str | None:
    """How ``found`` is the (not squared) norm of ``diff``: " divided by N", ..., or None."""
    norm = diff.pow(2).sum().sqrt()
    for divisor, how in (
        (n * m, _(" divided by N")),
        (n, _(" divided by n")),
        (m, _(" divided by m")),
        (1, ""),
    ):
        if _close(found, norm / divisor):
            return how
    return None


def _diagnose_linear_forward(value: Any, case: _Case, names: list[str]) -> _Verdict:
    X, W, b = case.inputs
    formula = f"{names[0]} @ {names[1]} + {names[2]}"
    expected = case.expected
    found = _as_float64(value)
    if found is None:
        return _wrong(
            None,
            "not_tensor",
            _("forward returns a {value}, not a tensor").format(value=_type_name(value)),
        )
    shape = tuple(found.shape)
    expected_shape = tuple(expected.shape)
    if shape != expected_shape:
        if found.dim() == 2 and shape == expected_shape[::-1] and _close(found.t(), expected):
            return _wrong(
                shape,
                "transposed",
                _("forward's output is transposed: {formula}").format(formula=formula),
            )
        return _wrong(
            shape,
            "forward_shape",
            _("forward returns shape {shape}; {formula} is (n, m)").format(
                shape=shape, formula=formula
            ),
        )
    verdict = _Verdict(_close(found, expected), shape, *_errors(found, expected))
    if verdict.passed:
        return verdict
    if _close(found, X @ W):
        verdict.hints.append(
            Hint(
                "forward_bias",
                _("forward forgets {names}: {formula}").format(names=names[2], formula=formula),
            )
        )
    elif _close(found, X @ W - b):
        verdict.hints.append(
            Hint(
                "sign",
                _("forward subtracts {names}: {formula}").format(names=names[2], formula=formula),
            )
        )
    elif W.shape[0] == W.shape[1] and _close(found, X @ W.t() + b):
        verdict.hints.append(
            Hint(
                "transposed",
                _("forward uses {names} transposed: {formula}").format(
                    names=names[1], formula=formula
                ),
            )
        )
    elif (c := _factor(found, expected)) is not None:
        verdict.hints.append(
            Hint("factor", _("forward is {c:.4g} times {formula}").format(c=c, formula=formula))
        )
    return verdict


def _exception_hints(function: str, error: StudentException) -> list[Hint]:
    """The exception is the message (code "exception", no text); a shape error gets a reminder."""
    hints = [Hint("exception", "")]
    words = error.message.lower()
    if function == "Linear" and ("shape" in words or "size" in words):
        hints.append(
            Hint(
                "shapes",
                _(
                    "with X (n, d), W (d, m), b (1, m) and grad_output (n, m): "
                    "grad_X = grad_output @ W.t() is (n, d), grad_W = X.t() @ grad_output is (d, m), "
                    "grad_b = grad_output.sum(0, keepdim=True) is (1, m)"
                ),
            )
        )
    return hints
