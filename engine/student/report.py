"""What a check found, as data (for --json) and as text: one report per Function, one line per check."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from engine.config import shown_path
from engine.core.finite import json_ready
from engine.i18n import _
from engine.student.cases import GRAD_OUTPUT
from engine.student.loading import one_line


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
        where = _("{value}, line {line}").format(
            value=shown_path(os.path.basename(self.path or "?")), line=self.line
        )
        if self.function:
            where += _(", in {function}").format(function=self.function)
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
    bias: str = "(1, m)"  # the shape of b the verdict is for: the notebook's, or "(m,)"

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
    # (function, why) for a class not found: the other one is checked all the same.
    missing: list[tuple[str, str]] = field(default_factory=list)
    # What loading the file left out or chose: a failed import, the script not run, ...
    notes: list[str] = field(default_factory=list)

    def printed(self) -> str:
        """What the file printed, indented under a title (a "✓ check passed" it prints
        cannot pass for the verdict); empty when it printed nothing."""
        if not self.output:
            return ""
        lines = "".join(f"    {line}\n" for line in self.output.splitlines())
        return _("amal-tui: what the file printed during the check:\n{lines}").format(lines=lines)

    @property
    def forceable(self) -> bool:
        """Whether --force may run these Functions: loaded, and every call returned."""
        return self.loaded and self.finished and not self.missing

    def text(self) -> str:
        """The report for the student: plain text, a block per function, ✓ or ✗ per check."""
        lines: list[str] = [_("note: {note}").format(note=one_line(note)) for note in self.notes]
        if self.error:
            lines.append(f"✗ {self.error}")
            if self.error_source:
                # The student's line, read from their file: escaped, as every line the report shows.
                lines.append(f"      {one_line(self.error_source)}")
        for report in self.functions:
            lines += _function_text(report)
        for name, why in self.missing:
            lines.append(_("✗ {name}: not checked: {why}").format(name=name, why=one_line(why)))
        wrong = [r.name for r in self.functions if not r.passed]
        wrong += [name for name, _ in self.missing]
        if self.passed:
            lines.append(_("✓ check passed"))
        elif wrong:
            lines.append(
                _("✗ check failed: fix {wrong} and run the check again").format(
                    wrong=" and ".join(wrong)
                )
            )
        else:
            lines.append(_("✗ check failed"))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples become lists, non-finite numbers null."""
        return json_ready(
            {
                "passed": self.passed,
                "path": self.path,
                "error": self.error,
                "error_source": self.error_source,
                "notes": self.notes,
                "missing": [{"name": name, "reason": why} for name, why in self.missing],
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
        "bias_shape": report.bias,
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


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _function_text(report: FunctionReport) -> list[str]:
    title = report.name
    if report.class_name != report.name:
        title += _(" (class {class_name})").format(class_name=report.class_name)
    if report.passed:
        grad_outputs = (
            _("grad_output 1 and {GRAD_OUTPUT}, as tensors and as numbers").format(
                GRAD_OUTPUT=GRAD_OUTPUT
            )
            if report.name == "MSE"
            else _("grad_output all ones and random, {value} of shape {bias}").format(
                value=report.inputs[-1], bias=report.bias
            )
        )
        lines = [
            _(
                "✓ {title}: forward and the gradients for {inputs} match the reference on {shapes} shapes, {grad_outputs}"
            ).format(
                title=title,
                inputs=", ".join(report.inputs),
                shapes=report.shapes,
                grad_outputs=grad_outputs,
            )
        ]
    else:
        lines = [
            _("✗ {title}: forward(ctx, {inputs})").format(
                title=title, inputs=", ".join(report.inputs)
            )
        ]
        lines += _subject_text("forward", report.forward)
        if not report.backward.passed:
            lines += _subject_text("backward", report.backward)
        for gradient in report.gradients:
            lines += _subject_text(_("gradient for {name}").format(name=gradient.name), gradient)
        shown = {h for s in (report.forward, report.backward, *report.gradients) for h in s.hints}
        lines += [
            _("    hint: {hint}").format(hint=hint) for hint in report.hints if hint not in shown
        ]
    lines += [_("    note: {note}").format(note=note) for note in report.notes]
    return lines


def _subject_text(label: str, subject: SubjectReport) -> list[str]:
    if subject.checks == 0:  # never reached: an exception reported above stopped the check
        return []
    if subject.passed:
        if subject.max_abs_error is None:
            return [f"    ✓ {label}"]
        return [
            _("    ✓ {label} (max abs error {max_abs_error})").format(
                label=label, max_abs_error=_number(subject.max_abs_error)
            )
        ]
    parts = []
    if subject.exception is None:
        if subject.found_shape != subject.expected_shape:
            found = "none" if subject.found_shape is None else str(subject.found_shape)
            parts.append(
                _("shape {found}, expected {expected_shape}").format(
                    found=found, expected_shape=subject.expected_shape
                )
            )
        if subject.max_abs_error is not None:
            parts.append(
                _("max abs error {max_abs_error}, max rel error {max_rel_error}").format(
                    max_abs_error=_number(subject.max_abs_error),
                    max_rel_error=_number(subject.max_rel_error),
                )
            )
    lines = [f"    ✗ {label}" + (": " + "; ".join(parts) if parts else "")]
    where = subject.case or ""
    if subject.grad_output is not None:
        where += f", grad_output = {subject.grad_output}"
    if where:
        lines.append(_("        with {where}").format(where=where))
    if subject.exception is not None:
        lines.append(f"        {subject.exception}")
        if subject.exception.source:
            lines.append(f"            {one_line(subject.exception.source)}")
    lines += [_("        hint: {hint}").format(hint=hint) for hint in subject.hints]
    return lines


def _max(values) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _unique(items) -> list:
    return list(dict.fromkeys(items))
