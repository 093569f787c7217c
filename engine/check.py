"""Checking a student's MSE and Linear against the reference, with a hint for each known mistake.

Each Function is stepped by hand as the engine and the notebook do it
(``forward(ctx, ...)`` then ``backward(ctx, grad_output)`` with a
:class:`~engine.functions.Context`), on seeded random float64 inputs of several
shapes: n = 1, m = 1, d = m, and n, d, m all different so that a wrong factor
says which one it is.  Shapes are compared directly: autograd would silently
reshape some wrong ones.  Values are compared with the reference forward and
with central differences of the reference loss.  ``grad_output`` is 1 and
another value, since a backward that ignores it is right at 1; for MSE it is
given both as a tensor (as autograd passes it) and as a number (as the notebook
and the engine do).  A mistake the checker recognises gets a hint; an exception
in the student's code is reported with their file and line.

A student's file is never run here: :func:`check_file` runs it in a child
process (:mod:`engine.sandbox`, :mod:`engine.child`) with a time limit per call,
sends it the inputs, and judges here what comes back as plain data, so nothing
the file does (patching this module, exiting, printing) changes the verdict.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from .child import Calls
from .config import shown_path
from .sandbox import (
    Described,
    Foreign,
    LoadFailed,
    Raised,
    Returned,
    Sequence,
    Stopped,
    StudentProcess,
    decode_described,
    decode_reply,
    unpack,
)
from .student import StudentCodeError, code_filename, load_functions, one_line, source_line

# Largest absolute error accepted, relative to max(1, the largest expected value): float64
# central differences of these quadratic losses are exact to about 1e-10, float32 to about 1e-7.
TOLERANCE = 1e-6
# The losses are quadratic: the step of the central differences only trades rounding errors.
STEP = 1e-5

# (n, m) for MSE and (n, d, m) for Linear.  The first shape has n, m and n×m (and 2, 1/2,
# GRAD_OUTPUT) all different, so that a wrong factor found there names its cause; the
# report's hints come from the first shape where a check fails.
MSE_SHAPES = [(5, 3), (4, 4), (1, 4), (6, 1)]
LINEAR_SHAPES = [(5, 3, 2), (4, 3, 3), (1, 4, 2), (6, 3, 1), (3, 1, 2)]
GRAD_OUTPUT = 2.5

MSE_INPUTS = ("yhat", "y")
LINEAR_INPUTS = ("X", "W", "b")


# -- the report ---------------------------------------------------------------------------


@dataclass
class StudentException:
    """An exception raised by the student's code, located in their file."""

    during: str  # "forward" or "backward"
    kind: str  # the exception's type, e.g. "RuntimeError"
    message: str  # "RuntimeError: mat1 and mat2 shapes cannot be multiplied ..."
    path: str | None = None  # the student's file
    line: int | None = None
    function: str | None = None
    source: str | None = None  # the text of that line

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.during}: {self.message}"
        where = f"{shown_path(os.path.basename(self.path or '?'))}, line {self.line}"
        if self.function:
            where += f", in {self.function}"
        return f"{where}: {self.message}"


@dataclass
class Hint:
    code: str  # stable, for tests and --json: "numel", "factor_2", "sign", ...
    text: str  # for the student; empty when the exception is the message


@dataclass
class Check:
    """One comparison: a forward value, or one input's gradient, for one shape and grad_output."""

    subject: str  # "forward", "backward" (what concerns all of its results), or an input's name
    case: str  # the inputs' shapes, e.g. "X (5, 3), W (3, 2), b (1, 2)"
    grad_output: str | None
    passed: bool
    expected_shape: tuple[int, ...] | None = None
    found_shape: tuple[int, ...] | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    hints: list[Hint] = field(default_factory=list)
    exception: StudentException | None = None


@dataclass
class SubjectReport:
    """All the checks of one subject: the forward, the backward's results, or one gradient."""

    name: str
    passed: bool
    checks: int
    max_abs_error: float | None
    max_rel_error: float | None
    # Where the first failed check was made, and what it found: the hints are its own.
    expected_shape: tuple[int, ...] | None
    found_shape: tuple[int, ...] | None
    case: str | None
    grad_output: str | None
    hints: list[str]
    hint_codes: list[str]
    exception: StudentException | None


@dataclass
class FunctionReport:
    name: str  # "MSE" or "Linear": which function this is
    class_name: str  # the student's name for it
    inputs: list[str]  # from the student's forward signature, ctx left out
    passed: bool
    forward: SubjectReport
    backward: SubjectReport
    gradients: list[SubjectReport]  # one per input, in forward's order
    hints: list[str]  # every hint, once
    hint_codes: list[str]
    notes: list[str]  # remarks that do not fail the check
    exception: StudentException | None  # the first one the student's code raised
    checks: list[Check]
    shapes: int  # how many shapes of inputs were tried

    @property
    def max_abs_error(self) -> float | None:
        return _max(g.max_abs_error for g in self.gradients)

    @property
    def max_rel_error(self) -> float | None:
        return _max(g.max_rel_error for g in self.gradients)

    def gradient(self, name: str) -> SubjectReport:
        """The report on the gradient of the input called ``name``."""
        for report in self.gradients:
            if report.name == name:
                return report
        raise KeyError(name)


@dataclass
class CheckReport:
    passed: bool
    functions: list[FunctionReport]
    error: str | None = None  # the file could not be loaded, or the check was interrupted
    error_source: str | None = None  # the student's line the error points at
    path: str | None = None
    loaded: bool = True  # the file was loaded and its two classes found
    finished: bool = True  # no call timed out, no exit, no Ctrl+C, no unreadable reply
    output: str = ""  # what the file printed, control characters escaped

    def printed(self) -> str:
        """What the file printed, indented under a title (a "✓ check passed" it prints
        cannot pass for the verdict); empty when it printed nothing."""
        if not self.output:
            return ""
        lines = "".join(f"    {line}\n" for line in self.output.splitlines())
        return f"amal-tui: what the file printed during the check:\n{lines}"

    @property
    def forceable(self) -> bool:
        """Whether --force may run these Functions: loaded, and every call returned."""
        return self.loaded and self.finished

    def text(self) -> str:
        """The report for the student: plain text, a block per function, ✓ or ✗ per check."""
        lines: list[str] = []
        if self.error:
            lines.append(f"✗ {self.error}")
            if self.error_source:
                # The student's line, read from their file: escaped, as every line the report shows.
                lines.append(f"      {one_line(self.error_source)}")
        for report in self.functions:
            lines += _function_text(report)
        wrong = [r.name for r in self.functions if not r.passed]
        if self.passed:
            lines.append("✓ check passed")
        elif wrong:
            lines.append(f"✗ check failed: fix {' and '.join(wrong)} and run the check again")
        else:
            lines.append("✗ check failed")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples become lists, non-finite numbers null."""
        return _json(
            {
                "passed": self.passed,
                "path": self.path,
                "error": self.error,
                "error_source": self.error_source,
                "functions": [_function_dict(r) for r in self.functions],
            }
        )


def _function_dict(report: FunctionReport) -> dict[str, Any]:
    return {
        "name": report.name,
        "class_name": report.class_name,
        "inputs": report.inputs,
        "passed": report.passed,
        "max_abs_error": report.max_abs_error,
        "max_rel_error": report.max_rel_error,
        "hints": report.hints,
        "hint_codes": report.hint_codes,
        "notes": report.notes,
        "exception": _exception_dict(report.exception),
        "forward": _subject_dict(report.forward),
        "backward": _subject_dict(report.backward),
        "gradients": [_subject_dict(s) for s in report.gradients],
        "shapes": report.shapes,
        "checks": [
            dict(
                vars(c),
                hints=[h.text for h in c.hints if h.text],
                hint_codes=[h.code for h in c.hints],
                exception=_exception_dict(c.exception),
            )
            for c in report.checks
        ],
    }


def _subject_dict(subject: SubjectReport) -> dict[str, Any]:
    return dict(vars(subject), exception=_exception_dict(subject.exception))


def _exception_dict(exception: StudentException | None) -> dict[str, Any] | None:
    return None if exception is None else dict(vars(exception), text=str(exception))


def _json(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return value


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _function_text(report: FunctionReport) -> list[str]:
    title = report.name
    if report.class_name != report.name:
        title += f" (class {report.class_name})"
    if report.passed:
        grad_outputs = (
            f"grad_output 1 and {GRAD_OUTPUT}, as tensors and as numbers"
            if report.name == "MSE"
            else "grad_output all ones and random"
        )
        lines = [
            f"✓ {title}: forward and the gradients for {', '.join(report.inputs)} match the "
            f"reference on {report.shapes} shapes, {grad_outputs}"
        ]
    else:
        lines = [f"✗ {title}: forward(ctx, {', '.join(report.inputs)})"]
        lines += _subject_text("forward", report.forward)
        if not report.backward.passed:
            lines += _subject_text("backward", report.backward)
        for gradient in report.gradients:
            lines += _subject_text(f"gradient for {gradient.name}", gradient)
        shown = {h for s in (report.forward, report.backward, *report.gradients) for h in s.hints}
        lines += [f"    hint: {hint}" for hint in report.hints if hint not in shown]
    lines += [f"    note: {note}" for note in report.notes]
    return lines


def _subject_text(label: str, subject: SubjectReport) -> list[str]:
    if subject.checks == 0:  # never reached: an exception reported above stopped the check
        return []
    if subject.passed:
        if subject.max_abs_error is None:
            return [f"    ✓ {label}"]
        return [f"    ✓ {label} (max abs error {_number(subject.max_abs_error)})"]
    parts = []
    if subject.exception is None:
        if subject.found_shape != subject.expected_shape:
            found = "none" if subject.found_shape is None else str(subject.found_shape)
            parts.append(f"shape {found}, expected {subject.expected_shape}")
        if subject.max_abs_error is not None:
            parts.append(
                f"max abs error {_number(subject.max_abs_error)}, "
                f"max rel error {_number(subject.max_rel_error)}"
            )
    lines = [f"    ✗ {label}" + (": " + "; ".join(parts) if parts else "")]
    where = subject.case or ""
    if subject.grad_output is not None:
        where += f", grad_output = {subject.grad_output}"
    if where:
        lines.append(f"        with {where}")
    if subject.exception is not None:
        lines.append(f"        {subject.exception}")
        if subject.exception.source:
            lines.append(f"            {one_line(subject.exception.source)}")
    lines += [f"        hint: {hint}" for hint in subject.hints]
    return lines


def _max(values) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _unique(items) -> list:
    return list(dict.fromkeys(items))


# -- comparing tensors --------------------------------------------------------------------


def _largest(t: torch.Tensor) -> float:
    return float(t.abs().max()) if t.numel() else 0.0


def _errors(found: torch.Tensor, expected: torch.Tensor) -> tuple[float, float]:
    """Max absolute error, and the same relative to the largest expected value."""
    error = _largest(found - expected)
    scale = _largest(expected)
    if scale > 0:
        return error, error / scale
    return error, (0.0 if error == 0 else math.inf)


def _close(found: torch.Tensor, expected: torch.Tensor) -> bool:
    if found.shape != expected.shape:
        return False
    error = _largest(found - expected)
    return math.isfinite(error) and error <= TOLERANCE * max(1.0, _largest(expected))


def _factor(found: torch.Tensor, expected: torch.Tensor) -> float | None:
    """c where found ≈ c · expected for a constant c, or None."""
    norm = float((expected * expected).sum())
    if found.shape != expected.shape or norm == 0:
        return None
    c = float((found * expected).sum()) / norm
    if not math.isfinite(c) or c == 0:
        return None
    return c if _close(found, c * expected) else None


def _same(c: float, value: float) -> bool:
    return abs(c - value) <= 1e-6 * abs(value)


def _type_name(value: Any) -> str:
    """The type of a value the student's code returned, as the child named it."""
    if isinstance(value, (Foreign, Sequence)):
        return value.type_name
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, Foreign) and value.number


def _as_float64(value: Any) -> torch.Tensor | None:
    if not isinstance(value, torch.Tensor):
        return None
    try:
        return value.detach().to("cpu", torch.float64)
    except (RuntimeError, TypeError):
        return None


# -- the cases: inputs, expected values and gradients -------------------------------------


def _numerical_gradients(loss, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Central differences of the scalar ``loss(*inputs)``, in float64."""
    inputs = [t.clone() for t in inputs]
    gradients = []
    for t in inputs:
        flat = t.view(-1)
        gradient = torch.empty_like(flat)
        for k in range(flat.numel()):
            value = float(flat[k])
            flat[k] = value + STEP
            above = loss(*inputs)
            flat[k] = value - STEP
            below = loss(*inputs)
            flat[k] = value
            gradient[k] = (above - below) / (2 * STEP)
        gradients.append(gradient.view_as(t))
    return gradients


def _mse_value(yhat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    diff = yhat - y
    return (diff * diff).sum() / diff.numel()


def _linear_value(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return X @ W + b


@dataclass
class _GradOutput:
    label: str
    value: Any  # a tensor, or for MSE a number
    expected: list[torch.Tensor]  # the gradient of each input
    at_one: list[torch.Tensor] | None  # the same at grad_output = 1 (all ones), unless it is


@dataclass
class _Case:
    dims: dict[str, int]  # n and m (and d)
    inputs: list[torch.Tensor]
    expected: torch.Tensor  # the forward's value
    grad_outputs: list[_GradOutput]


def _mse_case(n: int, m: int, generator: torch.Generator) -> _Case:
    yhat, y = (torch.randn(n, m, generator=generator, dtype=torch.float64) for _ in range(2))
    at_one = _numerical_gradients(lambda a, b: float(_mse_value(a, b)), [yhat, y])
    scaled = [GRAD_OUTPUT * g for g in at_one]

    def tensor(value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=torch.float64)

    grad_outputs = [
        _GradOutput("tensor(1.)", tensor(1.0), at_one, None),
        _GradOutput(f"tensor({GRAD_OUTPUT})", tensor(GRAD_OUTPUT), scaled, at_one),
        _GradOutput("1.0 (a number)", 1.0, at_one, None),
        _GradOutput(f"{GRAD_OUTPUT} (a number)", GRAD_OUTPUT, scaled, at_one),
    ]
    return _Case({"n": n, "m": m}, [yhat, y], _mse_value(yhat, y), grad_outputs)


def _linear_case(n: int, d: int, m: int, generator: torch.Generator) -> _Case:
    X = torch.randn(n, d, generator=generator, dtype=torch.float64)
    W = torch.randn(d, m, generator=generator, dtype=torch.float64)
    b = torch.randn(1, m, generator=generator, dtype=torch.float64)
    ones = torch.ones(n, m, dtype=torch.float64)
    random = torch.randn(n, m, generator=generator, dtype=torch.float64)

    def gradients(grad_output: torch.Tensor) -> list[torch.Tensor]:
        def loss(X, W, b):
            return float((grad_output * _linear_value(X, W, b)).sum())

        return _numerical_gradients(loss, [X, W, b])

    at_one = gradients(ones)
    grad_outputs = [
        _GradOutput(f"ones {(n, m)}", ones, at_one, None),
        _GradOutput(f"random {(n, m)}", random, gradients(random), at_one),
    ]
    return _Case({"n": n, "d": d, "m": m}, [X, W, b], _linear_value(X, W, b), grad_outputs)


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


def _formula(function: str, index: int, names: list[str]) -> str:
    """The expected gradient of input ``index``, written with the student's names."""
    if function == "MSE":
        yhat, y = names
        sign = "" if index == 0 else "-"
        return f"{sign}2 * ({yhat} - {y}) * grad_output / {y}.numel()"
    X, W, _ = names
    return (f"grad_output @ {W}.t()", f"{X}.t() @ grad_output", "grad_output.sum(0, keepdim=True)")[
        index
    ]


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
            f"backward returns None for {name}: return a gradient for every input "
            f"(here {_formula(function, index, names)})",
        )
    gradient = _as_float64(found)
    if gradient is None:
        kind = _type_name(found)
        return _wrong(None, "not_tensor", f"backward returns a {kind} for {name}, not a tensor")
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
                f"{name}'s gradient has the shape of grad_output, {found_shape}: sum it over the "
                f"rows, grad_output.sum(0, keepdim=True), to get {name}'s shape {shape}",
            )
    if gradient.numel() != reference.numel():
        return _wrong(
            found_shape,
            "shape",
            f"{name}'s gradient has shape {found_shape}, but {name} has shape {shape}: "
            f"expected {_formula(function, index, names)}",
        )
    values = gradient.reshape(shape)
    verdict = _Verdict(False, found_shape, *_errors(values, reference))
    if function == "Linear" and index == 2 and found_shape == (shape[1],):
        verdict.hints.append(
            Hint(
                "b_shape",
                f"{name}'s gradient has shape {found_shape} instead of {shape}: sum(0) drops the "
                "summed dimension; use grad_output.sum(0, keepdim=True) or .view(1, -1)",
            )
        )
    else:
        verdict.hints.append(
            Hint("shape", f"{name}'s gradient has shape {found_shape} instead of {shape}")
        )
    if not _close(values, reference):
        verdict.hints += _diagnose_values(function, index, names, dims, values, grad_output)
    return verdict


def _transposed(function: str, index: int, names: list[str], found_shape: tuple) -> Hint:
    return Hint(
        "transposed",
        f"{names[index]}'s gradient is transposed (found shape {found_shape}): "
        f"expected {_formula(function, index, names)}",
    )


def _order(names: list[str], index: int, other: int) -> Hint:
    return Hint(
        "order",
        f"the gradient returned for {names[index]} is the one for {names[other]}: backward returns "
        f"the gradients in the wrong order; return them in forward's order ({', '.join(names)})",
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
        one = "1" if function == "MSE" else "all ones"
        return [
            Hint(
                "grad_output_ignored",
                f"grad_output ignored: {name}'s gradient is right for grad_output = {one} only; "
                f"multiply by grad_output (chain rule): {_formula(function, index, names)}",
            )
        ]
    if _largest(values) <= TOLERANCE * max(1.0, _largest(reference)):
        return [Hint("zero", f"{name}'s gradient is zero")]
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
                f"wrong sign: {name}'s gradient is the opposite of the expected "
                f"{_formula(function, index, names)}",
            )
        )
    numel = f"N = n×m = {n}×{m} = {size}"
    known: list[tuple[float, str, str]] = []
    if function == "MSE":
        known = [
            (size, "numel", f"{size} times too large: forgot to divide by the numel, {numel}"),
            (
                0.5,
                "factor_2",
                "half the expected gradient: missing factor 2 "
                f"(the derivative of ({names[0]} - {names[1]})² is 2 ({names[0]} - {names[1]}))",
            ),
            (
                size / 2,
                "numel",
                f"{size / 2:g} times too large: forgot to divide by the numel, {numel}, "
                "and the factor 2",
            ),
            (m, "numel", f"{m} times too large: divided by n = {n} instead of the numel, {numel}"),
            (n, "numel", f"{n} times too large: divided by m = {m} instead of the numel, {numel}"),
            (2.0, "factor_2", "twice the expected gradient: one factor 2 too many"),
        ]
    elif function == "Linear" and index == 2:
        known = [
            (
                1 / n,
                "mean_b",
                f"{n} times too small (n = {n}): a mean instead of a sum over the rows; "
                f"{name}'s gradient is grad_output.sum(0, keepdim=True)",
            )
        ]
    scale = abs(c)
    for value, code, text in known:
        if value != 1 and _same(scale, value):
            hints.append(Hint(code, text))
            break
    else:
        if not _same(scale, 1):
            hints.append(Hint("factor", f"{name}'s gradient is {c:.4g} times the expected one"))
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
        text = f"forward returns a {kind}, not a tensor"
        if _is_number(value):
            text += ": keep the loss a 0-dim tensor (no .item())"
        return _wrong(None, "not_tensor", text)
    shape = tuple(found.shape)
    if shape != ():
        if found.numel() == 1 and _close(found.reshape(()), expected):
            return _wrong(
                shape, "forward_shape", f"forward returns shape {shape} instead of a 0-dim scalar"
            )
        squares = (yhat - y) ** 2
        for reduced, how in (
            (squares.mean(0), "a mean over dim 0 (the rows) only"),
            (squares.sum(0), "a sum over dim 0 (the rows) only"),
            (squares.mean(1), "a mean over dim 1 (the columns) only"),
            (squares.sum(1), "a sum over dim 1 (the columns) only"),
            (squares, "no reduction at all"),
        ):
            if found.numel() == reduced.numel() and _close(found.reshape(reduced.shape), reduced):
                return _wrong(
                    shape,
                    "forward_dim",
                    f"forward reduces over the wrong dimension: shape {shape}, {how}; the loss is "
                    f"one number, the mean over all n×m elements: {loss}",
                )
        return _wrong(shape, "forward_shape", f"forward returns shape {shape}, not a 0-dim tensor")
    verdict = _Verdict(_close(found, expected), shape, *_errors(found, expected))
    if verdict.passed:
        return verdict
    ratio = float(found) / float(expected)
    if _same(ratio, size):
        hint = Hint("numel", f"forward is {size} times too large: a sum instead of a mean; {loss}")
    elif _same(ratio, m) or _same(ratio, n):
        by, rows = (n, "rows") if _same(ratio, m) else (m, "columns")
        hint = Hint(
            "forward_dim",
            f"forward reduces over the wrong dimension: {ratio:.4g} times too large, it divides "
            f"by the {by} {rows} instead of the n×m = {size} elements (e.g. a mean over the "
            f"{rows} then a sum); {loss}",
        )
    elif _close(found * found, expected):
        hint = Hint("forward_sqrt", "forward takes a square root: that is the RMSE, not the MSE")
    elif ratio < 0:
        hint = Hint("sign", "forward is negative: a mean of squares is ≥ 0")
    else:
        hint = Hint("factor", f"forward is {ratio:.4g} times the expected loss")
    verdict.hints.append(hint)
    return verdict


def _diagnose_linear_forward(value: Any, case: _Case, names: list[str]) -> _Verdict:
    X, W, b = case.inputs
    formula = f"{names[0]} @ {names[1]} + {names[2]}"
    expected = case.expected
    found = _as_float64(value)
    if found is None:
        return _wrong(None, "not_tensor", f"forward returns a {_type_name(value)}, not a tensor")
    shape = tuple(found.shape)
    expected_shape = tuple(expected.shape)
    if shape != expected_shape:
        if found.dim() == 2 and shape == expected_shape[::-1] and _close(found.t(), expected):
            return _wrong(shape, "transposed", f"forward's output is transposed: {formula}")
        return _wrong(shape, "forward_shape", f"forward returns shape {shape}; {formula} is (n, m)")
    verdict = _Verdict(_close(found, expected), shape, *_errors(found, expected))
    if verdict.passed:
        return verdict
    if _close(found, X @ W):
        verdict.hints.append(Hint("forward_bias", f"forward forgets {names[2]}: {formula}"))
    elif _close(found, X @ W - b):
        verdict.hints.append(Hint("sign", f"forward subtracts {names[2]}: {formula}"))
    elif W.shape[0] == W.shape[1] and _close(found, X @ W.t() + b):
        verdict.hints.append(Hint("transposed", f"forward uses {names[1]} transposed: {formula}"))
    elif (c := _factor(found, expected)) is not None:
        verdict.hints.append(Hint("factor", f"forward is {c:.4g} times {formula}"))
    return verdict


def _exception_hints(function: str, error: StudentException) -> list[Hint]:
    """The exception is the message (code "exception", no text); a shape error gets a reminder."""
    hints = [Hint("exception", "")]
    words = error.message.lower()
    if function == "Linear" and ("shape" in words or "size" in words):
        hints.append(
            Hint(
                "shapes",
                "with X (n, d), W (d, m), b (1, m) and grad_output (n, m): "
                "grad_X = grad_output @ W.t() is (n, d), grad_W = X.t() @ grad_output is (d, m), "
                "grad_b = grad_output.sum(0, keepdim=True) is (1, m)",
            )
        )
    return hints


# -- calling the student's code -------------------------------------------------------------


class _Interrupted(Exception):
    """Ctrl-C while the student's code ran (an endless loop?): the check stops there."""

    def __init__(self, exception: StudentException) -> None:
        super().__init__(str(exception))
        self.exception = exception


class _Student(Protocol):
    """Where the student's classes run: a child process, or this one for trusted classes."""

    def call(
        self, index: int, method: str, args: list[Any], inputs: int, what: str
    ) -> Returned | Raised: ...


class _InProcess:
    """Classes already loaded here (the engine's own, a test's), with the child's encoding."""

    def __init__(self, classes: list[type]) -> None:
        self.calls = Calls(classes)

    def describe(self) -> list[Described]:
        header, _ = unpack(self.calls.describe())
        return [decode_described(c) for c in header["classes"]]

    def call(
        self, index: int, method: str, args: list[Any], inputs: int, what: str
    ) -> Returned | Raised:
        header, tensors = unpack(self.calls.call(index, method, list(args)))
        return decode_reply(header, tensors, inputs, backward=method == "backward")


def _input_names(described: Described, defaults: tuple[str, ...]) -> tuple[list[str], str | None]:
    """The names of forward's inputs, ctx left out, and what is wrong with its signature."""
    parameters = described.parameters
    if parameters is None or any(kind == "VAR_POSITIONAL" for _, kind, _ in parameters):
        return list(defaults), None
    positional = [
        (name, default)
        for name, kind, default in parameters
        if kind in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")
    ]
    required = [name for name, default in positional if not default]
    count = len(defaults) + 1
    if len(positional) < count or len(required) > count:
        return list(defaults), (
            f"forward{described.signature or '(...)'} should be a @staticmethod taking ctx and "
            f"{len(defaults)} inputs ({', '.join(defaults)})"
        )
    return [name for name, _ in positional[1:count]], None


def _equal(before: torch.Tensor, after: Any) -> bool:
    return (
        isinstance(after, torch.Tensor)
        and after.shape == before.shape
        and bool(torch.equal(before, after))
    )


def _changed(before: list[torch.Tensor], after: list[Any]) -> list[int]:
    return [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if not _equal(a, b)]


def _case_label(names: list[str], inputs: list[torch.Tensor]) -> str:
    shapes = [tuple(t.shape) for t in inputs]
    if len(set(shapes)) == 1:
        return f"{', '.join(names)} of shape {shapes[0]}"
    return ", ".join(f"{name} {shape}" for name, shape in zip(names, shapes, strict=True))


class _FunctionCheck:
    """The checks of one of the student's Functions, case after case."""

    def __init__(
        self,
        function: str,
        index: int,
        described: Described,
        defaults: tuple[str, ...],
        student: _Student,
    ) -> None:
        self.function, self.index, self.described, self.student = (
            function,
            index,
            described,
            student,
        )
        self.names, self.signature_problem = _input_names(described, defaults)
        self.checks: list[Check] = []
        if function == "MSE":
            self.diagnose_forward = _diagnose_mse_forward
        else:
            self.diagnose_forward = _diagnose_linear_forward

    def call(
        self, method: str, args: list[Any], inputs: int
    ) -> tuple[Returned | None, StudentException | None]:
        """One call into the student's code: what it returned, or the exception it raised."""
        what = f"{self.described.class_name}.{method}"
        reply = self.student.call(self.index, method, args, inputs, what)
        if isinstance(reply, Returned):
            return reply, None
        exception = StudentException(
            during=method,
            kind=reply.kind,
            message=reply.message,
            path=reply.path,
            line=reply.line,
            function=reply.function,
            source=reply.source,
        )
        if reply.kind == "KeyboardInterrupt":
            raise _Interrupted(exception)
        return None, exception

    def forward(self, case: _Case, label: str) -> Returned | None:
        """Run forward on copies of the case's inputs (the student may change them in place)."""
        inputs = [t.clone() for t in case.inputs]
        returned, error = self.call("forward", inputs, len(inputs))
        if error is not None:
            hints = _exception_hints(self.function, error)
            self.checks.append(Check("forward", label, None, False, exception=error, hints=hints))
        return returned

    def run(self, cases: list[_Case]) -> None:
        if self.signature_problem:
            hint = Hint("signature", self.signature_problem)
            self.checks.append(Check("forward", "", None, False, hints=[hint]))
            return
        for case in cases:
            self.run_case(case)
            if any(c.exception is not None for c in self.checks):
                break  # the same exception would come back on every shape

    def run_case(self, case: _Case) -> None:
        names, label = self.names, _case_label(self.names, case.inputs)
        returned = self.forward(case, label)
        if returned is None:
            return
        verdict = self.diagnose_forward(returned.value, case, names)
        for i in _changed(case.inputs, returned.inputs):
            verdict.passed = False
            verdict.hints.append(
                Hint("in_place", f"forward changes {names[i]} in place: compute new tensors")
            )
        self.checks.append(
            Check(
                "forward", label, None, expected_shape=tuple(case.expected.shape), **vars(verdict)
            )
        )
        raised: dict[bool, list[Check]] = {True: [], False: []}  # grad_output a tensor?
        for grad_output in case.grad_outputs:
            # A fresh forward each time: a backward may change what the ctx holds.
            if self.forward(case, label) is None:
                return
            given = grad_output.value
            if isinstance(given, torch.Tensor):
                given = given.clone()
            returned, error = self.call("backward", [given], len(case.inputs))
            if error is not None:
                hints = _exception_hints(self.function, error)
                check = Check(
                    "backward", label, grad_output.label, False, exception=error, hints=hints
                )
                self.checks.append(check)
                raised[isinstance(given, torch.Tensor)].append(check)
                continue
            self.check_results(case, label, grad_output, returned)
        self.grad_output_kinds(raised, case)

    def check_results(
        self, case: _Case, label: str, grad_output: _GradOutput, returned: Returned
    ) -> None:
        """What backward returned for one grad_output: how many results, then each gradient."""
        names = self.names
        problems = []
        if isinstance(grad_output.value, torch.Tensor) and not _equal(
            grad_output.value, returned.grad_output
        ):
            problems.append(
                Hint("in_place", "backward changes grad_output in place: compute new tensors")
            )
        for i in _changed(case.inputs, returned.inputs):
            problems.append(
                Hint("in_place", f"backward changes {names[i]} in place: compute new tensors")
            )
        result = returned.value
        gradients = list(result.items) if isinstance(result, Sequence) else None
        if gradients is None or result.length != len(names):
            got = f"one {_type_name(result)}" if gradients is None else f"{result.length} values"
            problems.append(
                Hint(
                    "count",
                    f"backward returns {got}; forward takes {len(names)} inputs "
                    f"({', '.join(names)}): return one gradient per input, in that order",
                )
            )
            gradients = None
        self.checks.append(
            Check("backward", label, grad_output.label, not problems, hints=problems)
        )
        for i, gradient in enumerate(gradients or ()):
            verdict = _diagnose_gradient(self.function, i, names, case.dims, gradient, grad_output)
            expected_shape = tuple(grad_output.expected[i].shape)
            self.checks.append(
                Check(
                    names[i],
                    label,
                    grad_output.label,
                    expected_shape=expected_shape,
                    **vars(verdict),
                )
            )

    def grad_output_kinds(self, raised: dict[bool, list[Check]], case: _Case) -> None:
        """A backward that fails for one kind of grad_output only (tensor or number) is told so."""
        kinds = {isinstance(g.value, torch.Tensor) for g in case.grad_outputs}
        if len(kinds) < 2 or bool(raised[True]) == bool(raised[False]):
            return
        if raised[False]:
            text = (
                "backward fails when grad_output is a number: the notebook and amal-tui call "
                f"{self.described.class_name}.backward(ctx, 1.0), autograd passes a 0-dim "
                "tensor; write it for both"
            )
        else:
            text = (
                "backward fails when grad_output is a 0-dim tensor, as autograd passes it; "
                "write it for both tensors and numbers"
            )
        for check in raised[True] + raised[False]:
            check.hints.append(Hint("grad_output_type", text))

    def report(self, shapes: int) -> FunctionReport:
        checks, names = self.checks, self.names
        forward = _subject(checks, "forward")
        backward = _subject(checks, "backward")
        gradients = [_subject(checks, name) for name in names]
        for subject in (forward, *gradients):
            if subject.checks == 0:  # never reached: an exception came first
                subject.passed = False
        every = [forward, backward, *gradients]
        hints = _unique(h for s in every for h in s.hints)
        codes = _unique(c for s in every for c in s.hint_codes)
        if self.function == "MSE" and all("sign" in g.hint_codes for g in gradients):
            hints.append(
                "both gradients have the wrong sign, which is also what returning them swapped, "
                f"({names[1]}, {names[0]}) instead of ({names[0]}, {names[1]}), looks like"
            )
        notes = [
            f"{method} is not a @staticmethod: autograd and the notebook's "
            f"{self.described.class_name}().{method}(ctx, ...) need one"
            for method, static in zip(("forward", "backward"), self.described.static, strict=True)
            if not static
        ]
        return FunctionReport(
            name=self.function,
            class_name=self.described.class_name,
            inputs=list(names),
            passed=all(s.passed for s in every),
            forward=forward,
            backward=backward,
            gradients=gradients,
            hints=hints,
            hint_codes=codes,
            notes=notes,
            exception=next((c.exception for c in checks if c.exception is not None), None),
            checks=checks,
            shapes=shapes,
        )


def _subject(checks: list[Check], name: str) -> SubjectReport:
    """Summary of one subject's checks; shape, place and hints from its first failure."""
    mine = [c for c in checks if c.subject == name]
    failed = [c for c in mine if not c.passed]
    exception = next((c.exception for c in mine if c.exception is not None), None)
    # An exception says most: its check goes first.
    first = next((c for c in failed if c.exception is not None), failed[0] if failed else None)
    return SubjectReport(
        name=name,
        passed=not failed,
        checks=len(mine),
        max_abs_error=_max(c.max_abs_error for c in mine),
        max_rel_error=_max(c.max_rel_error for c in mine),
        expected_shape=first.expected_shape if first else None,
        found_shape=first.found_shape if first else None,
        case=first.case if first else None,
        grad_output=first.grad_output if first else None,
        hints=_unique(h.text for h in first.hints if h.text) if first else [],
        hint_codes=_unique(h.code for h in first.hints) if first else [],
        exception=exception,
    )


# -- entry points -------------------------------------------------------------------------


def _check(
    student: _Student, described: list[Described], path: str | None, seed: int
) -> CheckReport:
    """Every check of both Functions; the verdict is made here, from what the calls returned."""
    generator = torch.Generator().manual_seed(seed)
    mse_cases = [_mse_case(n, m, generator) for n, m in MSE_SHAPES]
    linear_cases = [_linear_case(n, d, m, generator) for n, d, m in LINEAR_SHAPES]
    reports: list[FunctionReport] = []
    error = error_source = None
    finished = True
    for index, (function, defaults, cases) in enumerate(
        (("MSE", MSE_INPUTS, mse_cases), ("Linear", LINEAR_INPUTS, linear_cases))
    ):
        check = _FunctionCheck(function, index, described[index], defaults, student)
        try:
            check.run(cases)
        except _Interrupted as interrupted:
            error = f"interrupted: {interrupted.exception}"
            error_source = interrupted.exception.source
            finished = False
            break
        except Stopped as stopped:
            error, finished = str(stopped), False
            break
        reports.append(check.report(len(cases)))
    passed = error is None and len(reports) == 2 and all(r.passed for r in reports)
    return CheckReport(passed, reports, error, error_source, path, finished=finished)


def check_functions(
    mse: type, linear: type, *, path: str | None = None, seed: int = 0
) -> CheckReport:
    """Check an MSE and a Linear already loaded in this process: trusted code only.

    A student's file goes through :func:`check_file`, which never runs it here.
    """
    student = _InProcess([mse, linear])
    return _check(student, student.describe(), None if path is None else os.fspath(path), seed)


def check_file(
    path: str | os.PathLike,
    mse_name: str = "MSE",
    linear_name: str = "Linear",
    *,
    timeout: float | None = None,
    process: StudentProcess | None = None,
) -> CheckReport:
    """Check the Functions of a student's file, run in a child process; never raises for it.

    ``timeout``: seconds each call into the student's code may take (the import,
    each forward and backward; default :data:`engine.sandbox.CALL_TIMEOUT`).
    ``process``: one already started for this file (its start overlaps torch's
    import here).  What the file printed is in the report's ``output``.
    """
    shown = os.fspath(path)
    if process is None:
        process = StudentProcess(shown, timeout).start()
    try:
        report = _check_in(process, shown, mse_name, linear_name)
    finally:
        process.close()
    report.output = process.output()
    return report


def _check_in(process: StudentProcess, shown: str, mse_name: str, linear_name: str):
    try:
        loaded = process.load(mse_name, linear_name)
    except Stopped as stopped:
        return CheckReport(False, [], str(stopped), None, shown, loaded=False, finished=False)
    if isinstance(loaded, LoadFailed):
        source = None
        if loaded.line is not None:
            source = source_line(code_filename(shown), loaded.line)
        return CheckReport(False, [], loaded.message, source, shown, loaded=False)
    return _check(process, loaded, shown, seed=0)


def refusal(report: CheckReport) -> str:
    """Why Functions with this failed report do not run: "cannot be loaded", ..."""
    if not report.loaded:
        return "cannot be loaded"
    if not report.finished:
        return "did not finish the check (--force cannot run them)"
    return "fail the check (--force runs them anyway)"


def load_and_check(
    path: str | os.PathLike,
    mse_name: str = "MSE",
    linear_name: str = "Linear",
    *,
    force: bool = False,
    timeout: float | None = None,
    process: StudentProcess | None = None,
) -> tuple[type | None, type | None, CheckReport]:
    """Check a student's file in a child process, then load its classes here to run them.

    The classes are loaded in this process only once the check has passed, or
    with ``force`` once it has failed after loading and returning from every
    call; otherwise they are None and :func:`refusal` says why.  ``process``:
    as for :func:`check_file`.
    """
    shown = os.fspath(path)
    report = check_file(shown, mse_name, linear_name, timeout=timeout, process=process)
    if not (report.passed or (force and report.forceable)):
        return None, None, report
    try:
        mse, linear = load_functions(shown, mse_name, linear_name)
    except StudentCodeError as error:
        source = source_line(code_filename(shown), error.line) if error.line else None
        failed = CheckReport(False, [], str(error), source, shown, loaded=False)
        failed.output = report.output
        return None, None, failed
    return mse, linear, report
