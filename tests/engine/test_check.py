"""The student-mode checker: each known mistake gets its diagnosis, correct code passes.

tests/students/ holds one file per mistake, written as a student writes the
notebook's cell; the other cases are written into a temporary folder here.

``check_file`` runs a file in a child process (a Python and torch start each
time); the diagnoses are made in this process either way, so most tests judge
the test files' classes loaded here (:func:`check_here`), and
``test_a_child_reports_as_this_process_does`` shows, file by file, that the
child's check gives the same report.  tests/students/forging/ holds files that
try to change their verdict.
"""

import copy
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.student.cases as engine_cases
from engine.core import functions
from engine.student.check import check_file, check_functions
from engine.student.loading import (
    StudentCodeError,
    code_filename,
    load_classes,
    load_functions,
    load_module,
    source_line,
)
from engine.student.report import CheckReport
from engine.student.sandbox import (
    Raised,
    Returned,
    Unreadable,
    decode_described,
    decode_raised,
    decode_reply,
    decode_value,
    pack,
    unpack,
)

STUDENTS = Path(__file__).parents[1] / "students"
CORRECT = (STUDENTS / "correct.py").read_text()


def _student(tmp_path: Path, old: str, new: str, name: str = "student.py") -> Path:
    """A copy of the correct file with one mistake put in."""
    assert CORRECT.count(old) == 1, old
    path = tmp_path / name
    path.write_text(CORRECT.replace(old, new))
    return path


def _write(tmp_path: Path, text: str, name: str = "student.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def check_here(path, mse_name="MSE", linear_name="Linear") -> CheckReport:
    """check_file's report for a trusted test file, its classes loaded in this process."""
    shown = str(path)
    try:
        loaded = load_classes(shown, mse_name, linear_name)
    except StudentCodeError as error:
        source = source_line(code_filename(shown), error.line) if error.line else None
        return CheckReport(False, [], str(error), source, shown, loaded=False)
    mse, linear = loaded.classes
    return check_functions(mse, linear, path=shown, missing=loaded.missing, notes=loaded.notes)


@functools.cache
def _child_report(name: str) -> CheckReport:
    return check_file(STUDENTS / name)


def child_report(name: str) -> CheckReport:
    """check_file's report on tests/students/NAME, checked once for all the tests that read it
    (each check forks a process); a copy for each test."""
    return copy.deepcopy(_child_report(name))


def _function(report, name):
    (found,) = [f for f in report.functions if f.name == name]
    return found


# -- correct code passes ------------------------------------------------------------------


def test_the_builtin_functions_pass():
    report = check_functions(functions.MSE, functions.Linear)
    assert report.passed, report.text()
    assert [f.name for f in report.functions] == ["MSE", "Linear"]
    assert _function(report, "MSE").inputs == ["yhat", "y"]
    assert _function(report, "Linear").inputs == ["X", "W", "b"]
    # The numerical gradients are exact up to rounding: the losses are quadratic.
    assert all(f.max_abs_error < 1e-8 for f in report.functions)


@pytest.mark.parametrize("name", ["correct.py", "notebook.py"])
def test_a_correct_file_passes(name):
    report = child_report(name)
    assert report.passed, report.text()
    assert report.error is None
    assert report.text().splitlines()[-1] == "✓ check passed"


def test_other_class_names_with_mse_and_linear_options():
    path = STUDENTS / "renamed.py"
    report = check_file(path, mse_name="MyMSE", linear_name="MyLinear")
    assert report.passed, report.text()
    assert [f.class_name for f in report.functions] == ["MyMSE", "MyLinear"]
    assert "MSE (class MyMSE)" in report.text()
    default = child_report("renamed.py")
    assert not default.passed
    assert "found: MyMSE, MyLinear" in default.error
    assert "--mse NAME" in default.error and "--linear NAME" in default.error


def test_a_report_that_passes_is_short():
    text = check_here(STUDENTS / "correct.py").text()
    assert len(text.splitlines()) == 3
    assert "hint" not in text


# -- each mistake, its diagnosis ----------------------------------------------------------

MISTAKES = [
    # file, function, subject (input name or forward/backward), hint code, words in the hint
    ("mse_forgot_numel.py", "MSE", "yhat", "numel", ["15 times too large", "numel", "5×3"]),
    ("mse_missing_factor_2.py", "MSE", "yhat", "factor_2", ["missing factor 2"]),
    ("mse_wrong_sign.py", "MSE", "yhat", "sign", ["wrong sign"]),
    ("mse_grad_output_ignored.py", "MSE", "y", "grad_output_ignored", ["grad_output ignored"]),
    ("mse_grad_output_tensor_only.py", "MSE", "backward", "grad_output_type", ["a number"]),
    ("mse_forward_wrong_dim.py", "MSE", "forward", "forward_dim", ["wrong dimension"]),
    ("mse_forward_not_scalar.py", "MSE", "forward", "forward_dim", ["wrong dimension", "(3,)"]),
    ("linear_b_mean.py", "Linear", "b", "mean_b", ["mean instead of a sum"]),
    ("linear_b_shape.py", "Linear", "b", "mean_b", ["mean instead of a sum", "grad_output.sum(0)"]),
    ("linear_transposed_grad_W.py", "Linear", "W", "transposed", ["transposed", "X.t() @"]),
    ("linear_wrong_order.py", "Linear", "X", "order", ["wrong order", "(X, W, b)"]),
    ("linear_grad_output_ignored.py", "Linear", "W", "grad_output_ignored", ["chain rule"]),
    ("backward_exception.py", "Linear", "backward", "exception", []),
    ("mse_norm.py", "MSE", "forward", "forward_norm", ["norm of yhat - y divided by N", "square"]),
    ("mse_rmse.py", "MSE", "forward", "forward_sqrt", ["RMSE"]),
    ("mse_sum.py", "MSE", "forward", "numel", ["15 times too large", "a sum instead of a mean"]),
    ("linear_b_ones.py", "Linear", "b", "grad_output_ignored", ["grad_output ignored", "(all 1)"]),
    ("linear_argument_order.py", "Linear", "forward", "argument_order", ["(W, X, b)", "(X, W, b)"]),
]


@pytest.mark.parametrize("name,function,subject,code,words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_diagnosed(name, function, subject, code, words):
    report = check_here(STUDENTS / name)
    assert not report.passed
    wrong = _function(report, function)
    other = _function(report, "Linear" if function == "MSE" else "MSE")
    assert not wrong.passed and other.passed, report.text()
    if subject == "forward":
        part = wrong.forward
    elif subject == "backward":
        part = wrong.backward
    else:
        part = wrong.gradient(subject)
    assert not part.passed
    assert code in part.hint_codes, report.text()
    hints = " ".join(part.hints)
    assert all(word in hints for word in words), hints
    # The text names the function, the input and the hint.
    text = report.text()
    assert f"✗ {function}" in text
    if subject not in ("forward", "backward"):
        assert f"✗ gradient for {subject}" in text
    for hint in part.hints:
        assert f"hint: {hint}" in text
    assert text.splitlines()[-1] == f"✗ check failed: fix {function} and run the check again"


def test_a_gradient_that_ignores_grad_output_is_not_called_a_wrong_factor():
    """torch.ones_like(b) is n times too small at grad_output all ones: not a mean, though."""
    b = _function(check_here(STUDENTS / "linear_b_ones.py"), "Linear").gradient("b")
    assert b.hint_codes == ["grad_output_ignored"]
    assert b.grad_output == "ones (5, 2)"
    assert not any("too small" in hint for hint in b.hints)
    # A real mean is still one: the same at grad_output random.
    mean = _function(check_here(STUDENTS / "linear_b_mean.py"), "Linear").gradient("b")
    assert mean.hint_codes == ["mean_b"]


def test_arguments_in_another_order_are_named_not_a_shape_error():
    linear = _function(check_here(STUDENTS / "linear_argument_order.py"), "Linear")
    assert linear.forward.hint_codes[:2] == ["argument_order", "exception"]
    assert "shapes" not in linear.hint_codes
    assert linear.forward.hints[0].startswith(
        "your arguments are in the order (W, X, b); the notebook's is (X, W, b)"
    )


def test_a_class_spelled_in_another_case_is_used_saying_so():
    report = check_here(STUDENTS / "linear_lowercase.py")
    assert report.passed, report.text()
    assert _function(report, "Linear").class_name == "linear"
    assert report.notes == [
        "no class Linear in linear_lowercase.py: class linear is used for it "
        "(names are case-sensitive: --linear linear says it)"
    ]
    assert "Linear (class linear)" in report.text()


def test_one_class_missing_does_not_stop_the_check_of_the_other():
    report = check_here(STUDENTS / "linear_missing.py")
    assert not report.passed and report.loaded and not report.forceable
    assert [f.name for f in report.functions] == ["MSE"] and report.functions[0].passed
    assert report.missing == [
        ("Linear", "no class Linear in linear_missing.py (found: MSE); use --linear NAME")
    ]
    lines = report.text().splitlines()
    assert lines[0].startswith("✓ MSE")
    assert lines[1:] == [
        "✗ Linear: not checked: no class Linear in linear_missing.py (found: MSE); "
        "use --linear NAME",
        "✗ check failed: fix Linear and run the check again",
    ]
    assert report.to_dict()["missing"] == [{"name": "Linear", "reason": report.missing[0][1]}]


@pytest.mark.parametrize("name", sorted(p.name for p in STUDENTS.glob("*.py")))
def test_every_diagnosis_in_the_json_is_in_the_text_too(name):
    report = check_here(STUDENTS / name)
    text = report.text()
    for function in report.functions:
        for check in function.checks:
            for hint in check.hints:
                if hint.text:
                    told = [h for h in function.hints if h in text]
                    assert hint.code in function.hint_codes, (hint, text)
                    assert any(
                        other.text in told
                        for c in function.checks
                        for other in c.hints
                        if other.code == hint.code
                    ), (hint.code, text)


def test_forgot_numel_names_the_number_of_elements():
    wrong = _function(check_here(STUDENTS / "mse_forgot_numel.py"), "MSE")
    assert wrong.gradient("yhat").hints == [
        "15 times too large: forgot to divide by the numel, N = n×m = 5×3 = 15"
    ]
    assert wrong.forward.passed


def test_wrong_sign_in_mse_mentions_swapped_gradients():
    wrong = _function(check_here(STUDENTS / "mse_wrong_sign.py"), "MSE")
    assert all(not g.passed and "sign" in g.hint_codes for g in wrong.gradients)
    assert any("swapped" in hint for hint in wrong.hints)


def test_grad_output_ignored_passes_at_one_and_fails_otherwise():
    wrong = _function(check_here(STUDENTS / "mse_grad_output_ignored.py"), "MSE")
    checks = [c for c in wrong.checks if c.subject == "yhat"]
    assert all(c.passed for c in checks if c.grad_output in ("tensor(1.)", "1.0 (a number)"))
    assert not any(c.passed for c in checks if "2.5" in c.grad_output)
    assert wrong.gradient("yhat").grad_output == "tensor(2.5)"


def test_b_shape_is_checked_directly_not_through_autograd():
    """In the notebook's convention a gradient for b of shape (m,) is named, its values right."""
    from engine.student.cases import _linear_case
    from engine.student.diagnosis import _diagnose_gradient

    case = _linear_case(5, 3, 2, torch.Generator().manual_seed(0))
    grad_output = case.grad_outputs[1]
    found = grad_output.value.sum(0)
    verdict = _diagnose_gradient("Linear", 2, ["X", "W", "b"], case.dims, found, grad_output)
    assert not verdict.passed and verdict.found_shape == (2,)
    assert verdict.max_abs_error < 1e-8  # the values are right
    assert [h.code for h in verdict.hints] == ["b_shape"]
    assert "(2,) instead of (1, 2)" in verdict.hints[0].text


def test_a_linear_written_for_b_of_shape_m_is_correct_and_told_the_other_convention():
    """The course's skeleton draws b = torch.randn(m): grad_output.sum(0) is right for it."""
    report = check_here(STUDENTS / "linear_vector_bias.py")
    linear = _function(report, "Linear")
    assert report.passed and linear.passed and linear.bias == "(m,)"
    assert linear.notes[0].startswith("correct for b of shape (m,)")
    assert "grad_output.sum(0).reshape(b.shape) is right for both" in linear.notes[0]
    text = report.text()
    assert "b of shape (m,)" in text.splitlines()[1]
    assert f"note: {linear.notes[0]}" in text
    assert report.to_dict()["functions"][1]["bias_shape"] == "(m,)"
    # The notebook's convention is tried first, and kept when it passes.
    assert _function(check_here(STUDENTS / "correct.py"), "Linear").bias == "(1, m)"


def test_a_linear_wrong_in_both_conventions_is_judged_in_the_closer_one():
    linear = _function(check_here(STUDENTS / "linear_b_shape.py"), "Linear")
    assert linear.bias == "(m,)" and not linear.passed
    assert linear.gradient("b").hint_codes == ["mean_b"]
    assert linear.notes[0].startswith("checked with b of shape (m,)")


def test_functions_for_b_of_shape_m_run_the_notebooks_descent():
    """--functions: the descent gives such a Linear b as (m,), and converges as the notebook's."""
    from engine.core.descent import Descent
    from engine.student.check import load_and_check

    mse, linear, report = load_and_check(STUDENTS / "linear_vector_bias.py")
    assert report.passed and getattr(linear, "vector_bias", False)
    descent, reference = Descent(mse=mse, linear=linear), Descent()
    descent.run()
    reference.run()
    assert descent.iteration == reference.iteration == 1475
    assert descent.losses[-1] == pytest.approx(reference.losses[-1], abs=1e-5)
    assert descent.b.shape == (1, 3)


def test_transposed_grad_w_is_caught_when_w_is_square():
    """With d = m the shapes agree: only the values tell the transposition."""
    wrong = _function(check_here(STUDENTS / "linear_transposed_grad_W.py"), "Linear")
    square = [
        c for c in wrong.checks if c.subject == "W" and c.case.startswith("X (4, 3), W (3, 3)")
    ]
    assert square and all(not c.passed for c in square)
    assert all(c.found_shape == c.expected_shape == (3, 3) for c in square)
    assert all([h.code for h in c.hints] == ["transposed"] for c in square)


def test_an_exception_in_backward_names_the_file_and_line():
    report = child_report("backward_exception.py")
    exception = _function(report, "Linear").exception
    assert exception.path.endswith("backward_exception.py")
    assert exception.line == 30 and exception.function == "backward"
    assert exception.source == "grad_W = X @ grad_output"
    assert str(exception).startswith("backward_exception.py, line 30, in backward: RuntimeError")
    assert "backward_exception.py, line 30" in report.text()
    assert "grad_W = X @ grad_output" in report.text()


def test_a_backward_failing_on_numbers_says_so():
    wrong = _function(check_here(STUDENTS / "mse_grad_output_tensor_only.py"), "MSE")
    assert wrong.exception.kind == "AttributeError"
    assert wrong.backward.grad_output == "1.0 (a number)"
    assert wrong.gradient("yhat").passed  # with tensors it is right
    assert any("backward(ctx, 1.0)" in h for h in wrong.backward.hints)


# -- more mistakes, written on the fly ----------------------------------------------------


@pytest.mark.parametrize(
    "old,new,function,subject,code",
    [
        (
            "grad_yhat = 2 * (yhat - y) * grad_output / y.numel()",
            "grad_yhat = 2 * (yhat - y) * grad_output / y.shape[0]",
            "MSE",
            "yhat",
            "numel",
        ),
        (
            "grad_yhat = 2 * (yhat - y) * grad_output / y.numel()",
            "grad_yhat = (yhat - y) * grad_output",
            "MSE",
            "yhat",
            "numel",
        ),
        (
            "return torch.sum((yhat - y) ** 2) / y.numel()",
            "return torch.sum((yhat - y) ** 2)",
            "MSE",
            "forward",
            "numel",
        ),
        (
            "return torch.sum((yhat - y) ** 2) / y.numel()",
            "return torch.mean((yhat - y) ** 2, 1).sum()",
            "MSE",
            "forward",
            "forward_dim",
        ),
        (
            "return torch.sum((yhat - y) ** 2) / y.numel()",
            "return torch.sqrt(torch.sum((yhat - y) ** 2) / y.numel())",
            "MSE",
            "forward",
            "forward_sqrt",
        ),
        (
            "return torch.sum((yhat - y) ** 2) / y.numel()",
            "return torch.sum((yhat - y) ** 2).item() / y.numel()",
            "MSE",
            "forward",
            "not_tensor",
        ),
        ("return X @ W + b", "return X @ W", "Linear", "forward", "forward_bias"),
        ("grad_X = grad_output @ W.t()", "grad_X = -(grad_output @ W.t())", "Linear", "X", "sign"),
        (
            "grad_b = grad_output.sum(0, keepdim=True)",
            "grad_b = grad_output",
            "Linear",
            "b",
            "b_not_summed",
        ),
        ("return grad_X, grad_W, grad_b", "return grad_X, grad_W, None", "Linear", "b", "none"),
        ("return grad_X, grad_W, grad_b", "return grad_W, grad_b", "Linear", "backward", "count"),
        ("return grad_yhat, -grad_yhat", "return grad_yhat", "MSE", "backward", "count"),
        (
            "yhat, y = ctx.saved_tensors",
            "yhat, y = ctx.saved_tensors\n        yhat -= y\n        y.zero_()",
            "MSE",
            "backward",
            "in_place",
        ),
        ("return X @ W + b", "X += 1\n        return X @ W + b", "Linear", "forward", "in_place"),
    ],
)
def test_other_mistakes_are_diagnosed(tmp_path, old, new, function, subject, code):
    report = check_here(_student(tmp_path, old, new))
    wrong = _function(report, function)
    assert not report.passed and not wrong.passed
    part = {"forward": wrong.forward, "backward": wrong.backward}.get(subject)
    part = part or wrong.gradient(subject)
    assert code in part.hint_codes, report.text()


def test_input_names_come_from_the_student_signature(tmp_path):
    text = CORRECT.replace("def forward(ctx, X, W, b):", "def forward(ctx, inputs, weights, bias):")
    text = text.replace(
        "ctx.save_for_backward(X, W)\n        return X @ W + b",
        "ctx.save_for_backward(inputs, weights)\n        return inputs @ weights + bias",
    )
    text = text.replace(
        "grad_b = grad_output.sum(0, keepdim=True)", "grad_b = grad_output.mean(0, keepdim=True)"
    )
    report = check_here(_write(tmp_path, text))
    linear = _function(report, "Linear")
    assert linear.inputs == ["inputs", "weights", "bias"]
    assert not linear.gradient("bias").passed
    assert "✗ gradient for bias" in report.text()
    assert "bias's gradient is grad_output.sum(0, keepdim=True)" in report.text()


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([-3.0, -1.0, 0.25, 0.7, 3.0, 10.0]))
def test_any_constant_factor_is_reported(factor):
    """Any gradient off by a constant fails, with the factor or its cause in the hint."""

    class Scaled(functions.Linear):
        @staticmethod
        def backward(ctx, grad_output):
            grad_X, grad_W, grad_b = functions.Linear.backward(ctx, grad_output)
            return grad_X, grad_W * factor, grad_b

    report = check_functions(functions.MSE, Scaled)
    W = _function(report, "Linear").gradient("W")
    assert not W.passed
    assert W.hint_codes == (
        ["sign"] if factor == -1 else ["sign", "factor"] if factor < 0 else ["factor"]
    )
    if factor != -1:
        assert f"{factor:.4g} times" in " ".join(W.hints)


def test_a_backward_honouring_needs_input_grad_passes(tmp_path):
    path = _student(
        tmp_path,
        "grad_X = grad_output @ W.t()",
        "grad_X = grad_output @ W.t() if ctx.needs_input_grad[0] else None",
    )
    assert check_here(path).passed


def test_forward_without_staticmethod_is_noted(tmp_path):
    path = _student(
        tmp_path,
        "    @staticmethod\n    def forward(ctx, X, W, b):",
        "    def forward(ctx, X, W, b):",
    )
    report = check_here(path)
    assert report.passed, report.text()
    assert any("not a @staticmethod" in n for n in _function(report, "Linear").notes)
    assert "note: forward is not a @staticmethod" in report.text()


def test_a_forward_with_the_wrong_signature(tmp_path):
    path = _student(tmp_path, "def forward(ctx, yhat, y):", "def forward(self, ctx, yhat, y):")
    wrong = _function(check_here(path), "MSE")
    assert not wrong.passed
    assert "signature" in wrong.forward.hint_codes


def test_an_exception_in_forward_names_the_file_and_line(tmp_path):
    path = _student(tmp_path, "return X @ W + b", "return X @ W.t() + b")
    report = check_here(path)
    linear = _function(report, "Linear")
    assert not linear.passed
    assert linear.exception.during == "forward"
    assert str(linear.exception).startswith("student.py, line 24, in forward: RuntimeError")
    assert "shapes" in linear.forward.hint_codes
    assert "return X @ W.t() + b" in report.text()


def test_sys_exit_in_backward_is_an_exception_not_an_exit(tmp_path):
    path = _student(tmp_path, "yhat, y = ctx.saved_tensors", "raise SystemExit(3)")
    wrong = _function(check_file(path), "MSE")
    assert wrong.exception.kind == "SystemExit"
    assert wrong.exception.line == 15


def test_ctrl_c_in_the_student_code_stops_the_check_with_a_report(tmp_path):
    path = _student(tmp_path, "yhat, y = ctx.saved_tensors", "raise KeyboardInterrupt")
    report = check_file(path)
    assert not report.passed
    assert report.error.startswith("interrupted: student.py, line 15, in backward")
    assert report.error_source == "raise KeyboardInterrupt"


def test_the_student_prints_are_kept_in_the_report_not_printed(tmp_path, capsys):
    path = _student(tmp_path, "return X @ W + b", "print('debug')\n        return X @ W + b")
    report = check_file(path)
    assert report.passed and "debug" in report.output
    assert report.printed().splitlines()[1] == "    debug"
    assert capsys.readouterr() == ("", "")  # the engine prints nothing: the front ends do


# -- loading the file ---------------------------------------------------------------------


def test_a_syntax_error_names_the_file_and_line():
    with pytest.raises(StudentCodeError) as error:
        load_functions(STUDENTS / "syntax_error.py")
    assert error.value.line == 22
    assert str(error.value) == "syntax_error.py, line 22: SyntaxError: expected ':'"
    report = child_report("syntax_error.py")
    assert not report.passed and report.functions == []
    assert report.error == str(error.value)
    assert report.error_source == "def forward(ctx, X, W, b)"


def test_an_exception_at_import_names_the_file_and_line():
    report = child_report("import_error.py")
    assert report.error == "import_error.py, line 20: NameError: name 'Functon' is not defined"
    assert "class Linear(Functon):" in report.text()


# -- a file whose import fails outside its Functions ---------------------------------------


@pytest.mark.parametrize(
    "name,first",
    [
        (
            "course_import.py",
            "importing the whole file failed (line 4: ModuleNotFoundError: "
            "No module named 'datamaestro')",
        ),
        (
            "script_at_import.py",
            "importing the whole file failed (line 57: NameError: name 'writer' is not defined)",
        ),
        (
            "unfinished_at_import.py",
            "importing the whole file failed (line 57: NotImplementedError: TODO)",
        ),
    ],
)
def test_a_file_whose_script_or_import_fails_still_gets_its_classes_checked(name, first):
    # In this process (test_a_child_reports_as_this_process_does runs each in a child).
    report = check_here(STUDENTS / name)
    assert report.passed, report.text()
    assert [f.passed for f in report.functions] == [True, True]
    assert report.notes[0].startswith(first), report.notes
    text = report.text()
    for note in report.notes:
        assert f"note: {note}" in text
    assert text.splitlines()[-1] == "✓ check passed"


def test_the_notes_say_what_was_left_out_with_its_line():
    notes = check_here(STUDENTS / "course_import.py").notes
    assert notes[1] == (
        "line 4: `from datamaestro import prepare_dataset` failed: "
        "ModuleNotFoundError: No module named 'datamaestro'"
    )
    assert notes[2] == "the file's top-level script was not run (lines 51-52)"
    script = check_here(STUDENTS / "script_at_import.py").notes
    assert script[-1] == "the file's top-level script was not run (lines 49-58)"


def test_a_class_that_cannot_be_built_is_still_a_failure_of_the_import(tmp_path):
    path = _write(tmp_path, "from datamaestro import Function\n\n" + CORRECT.split("\n", 4)[4])
    report = check_file(path)
    assert not report.passed and not report.loaded and report.functions == []
    assert report.error == "student.py, line 1: ModuleNotFoundError: No module named 'datamaestro'"
    assert not report.forceable


def test_a_class_missing_from_a_file_whose_script_fails_is_named_the_other_checked(tmp_path):
    text = (STUDENTS / "course_import.py").read_text().replace("class Linear(", "class Lin(")
    report = check_here(_write(tmp_path, text))
    assert [f.name for f in report.functions] == ["MSE"] and report.functions[0].passed
    assert report.missing[0][1].startswith("no class Linear in student.py (found: MSE, Lin)")
    assert "datamaestro" in report.notes[1]


def test_the_script_of_a_file_whose_import_failed_is_not_run_again(tmp_path):
    marker = tmp_path / "ran"
    text = (
        CORRECT.replace("import torch\n", "import torch\nimport datamaestro\n")
        + f"\nEPS = 1e-6\nopen({str(marker)!r}, 'w').close()\n"
    )
    report = check_here(_write(tmp_path, text))
    assert report.passed and not marker.exists()
    assert report.notes[-1] == "the file's top-level script was not run (line 36)"


def test_a_file_loaded_without_its_script_runs_its_functions_here(tmp_path):
    """--functions loads it the same way, in this process, once the check passed."""
    mse, linear = load_functions(STUDENTS / "course_import.py")
    assert mse.__name__ == "MSE" and linear.__name__ == "Linear"


def test_no_function_classes():
    report = check_here(STUDENTS / "no_functions.py")
    assert not report.passed
    assert "no class MSE nor Linear in no_functions.py" in report.error
    assert "no subclass of torch.autograd.Function" in report.error


@pytest.mark.parametrize(
    "text,words",
    [
        ("import sys\nsys.exit(2)\n", ["line 2", "SystemExit"]),
        ("x = 1\nraise KeyboardInterrupt\n", ["line 2", "KeyboardInterrupt"]),
        ("import no_such_module_here\n", ["line 1", "ModuleNotFoundError"]),
        ("def f():\n    return 1 / 0\n\nf()\n", ["line 2", "ZeroDivisionError"]),
        ("MSE = 3\nclass Linear:\n    pass\n", ["MSE in student.py is an int, not a subclass"]),
        ("\tx = 1\n", ["line 1", "IndentationError"]),
    ],
)
def test_load_errors_become_one_line_messages(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(StudentCodeError) as error:
        load_functions(path)
    message = str(error.value)
    assert "\n" not in message
    assert all(word in message for word in words), message
    assert not check_file(path).passed


def test_a_missing_file_a_folder_and_a_binary_file(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "binary.py").write_bytes(b"\x00\x01\x02torch")
    (tmp_path / "latin1.py").write_bytes("# é\nx = 1\n".encode("latin-1"))
    messages = {}
    for name in ("missing.py", "folder", "binary.py", "latin1.py"):
        with pytest.raises(StudentCodeError) as error:
            load_functions(tmp_path / name)
        messages[name] = str(error.value)
    assert "no such file" in messages["missing.py"]
    assert "is a folder" in messages["folder"]
    assert "binary" in messages["binary.py"]
    assert messages["latin1.py"].startswith("latin1.py, line 1: not UTF-8")


def test_the_student_can_import_their_own_modules(tmp_path):
    _write(tmp_path, "def factor():\n    return 2\n", "helpers.py")
    path = _student(
        tmp_path,
        "import torch\n",
        "import torch\nfrom helpers import factor\n",
    )
    path.write_text(path.read_text().replace("grad_yhat = 2 *", "grad_yhat = factor() *"))
    assert check_file(path).passed
    assert str(tmp_path) not in sys.path


def test_a_syntax_error_in_an_imported_module_names_both_files(tmp_path):
    _write(tmp_path, "def factor(:\n", "broken_helper.py")
    path = _student(tmp_path, "import torch\n", "import torch\nimport broken_helper\n")
    with pytest.raises(StudentCodeError) as error:
        load_module(path)
    assert error.value.line == 4
    assert "broken_helper.py, line 1" in str(error.value)
    # The classes do not need it: they are checked, the failed import named.
    report = check_here(path)
    assert report.passed
    assert report.notes[1].startswith("line 4: `import broken_helper` failed: SyntaxError")


def test_each_load_is_a_fresh_module(tmp_path):
    path = _write(tmp_path, CORRECT)
    first, _ = load_functions(path)
    path.write_text(
        CORRECT.replace(
            "class MSE(Function)", "class MSE(Function):\n    version = 2\n\nclass Old(Function)"
        )
    )
    second, _ = load_functions(path)
    assert first is not second and first.__module__ != second.__module__
    assert getattr(second, "version", None) == 2


# -- the report ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in STUDENTS.glob("*.py")))
def test_a_child_reports_as_this_process_does(name):
    """The student's file run in a child gives the report its classes give here, in text and JSON."""
    report = child_report(name)
    assert report.to_dict() == check_here(STUDENTS / name).to_dict()
    text = report.text()
    assert "\x1b" not in text
    data = report.to_dict()
    encoded = json.dumps(data, allow_nan=False)  # no NaN nor inf
    assert json.loads(encoded)["passed"] is report.passed
    for function in data["functions"]:
        assert {"name", "class_name", "passed", "hints", "forward", "gradients", "checks"} <= set(
            function
        )


def test_json_names_inputs_errors_and_shapes(tmp_path):
    path = _student(
        tmp_path, "grad_b = grad_output.sum(0, keepdim=True)", "grad_b = grad_output.sum(0).t()"
    )
    data = check_here(path).to_dict()
    linear = data["functions"][1]
    assert linear["bias_shape"] == "(m,)" and linear["passed"]
    data = check_here(STUDENTS / "linear_b_shape.py").to_dict()
    linear = data["functions"][1]
    b = linear["gradients"][2]
    assert (b["name"], b["passed"], b["found_shape"], b["expected_shape"]) == (
        "b",
        False,
        [2],
        [2],
    )
    assert b["hint_codes"] == ["mean_b"] and linear["bias_shape"] == "(m,)"
    assert linear["gradients"][1]["max_abs_error"] < 1e-8
    exception = check_here(STUDENTS / "backward_exception.py").to_dict()["functions"][1][
        "exception"
    ]
    assert exception["line"] == 30 and exception["text"].startswith(
        "backward_exception.py, line 30"
    )


def test_infinite_values_become_null_in_json(tmp_path):
    path = _student(
        tmp_path,
        "grad_b = grad_output.sum(0, keepdim=True)",
        "grad_b = grad_output.sum(0, keepdim=True) / 0",
    )
    report = check_here(path)
    assert not report.passed
    assert "null" in json.dumps(report.to_dict(), allow_nan=False)


def test_the_check_is_deterministic_and_fast():
    start = time.perf_counter()
    first = check_here(STUDENTS / "mse_forgot_numel.py").to_dict()
    elapsed = time.perf_counter() - start
    second = check_here(STUDENTS / "mse_forgot_numel.py").to_dict()
    assert first == second
    assert elapsed < 1.0


def test_a_sample_failing_report_reads_well():
    lines = check_here(STUDENTS / "linear_b_mean.py").text().splitlines()
    assert lines[0].startswith("✓ MSE: forward and the gradients for yhat, y match the reference")
    assert lines[1:3] == ["✗ Linear: forward(ctx, X, W, b)", "    ✓ forward (max abs error 0)"]
    assert lines[3].startswith("    ✓ gradient for X (max abs error ")
    assert lines[4].startswith("    ✓ gradient for W (max abs error ")
    assert lines[5:] == [
        "    ✗ gradient for b: max abs error 5, max rel error 0.833",
        "        with X (5, 3), W (3, 2), b (1, 2), grad_output = ones (5, 2)",
        "        hint: 5 times too small (n = 5): a mean instead of a sum over the rows; "
        "b's gradient is grad_output.sum(0, keepdim=True)",
        "✗ check failed: fix Linear and run the check again",
    ]


def test_the_checker_stays_out_of_the_terminal_libraries():
    code = (
        "import sys, engine.student.check, engine.student.loading\n"
        "print(sorted(m for m in ('textual', 'rich', 'plotext', 'textual_plotext') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_edited_helper_module_is_seen_on_the_next_load(tmp_path):
    helper = _write(tmp_path, "FACTOR = 1\n", "helper_module.py")
    path = _student(tmp_path, "import torch\n", "import torch\nfrom helper_module import FACTOR\n")
    path.write_text(path.read_text().replace("grad_yhat = 2 *", "grad_yhat = FACTOR *"))
    assert not check_file(path).passed
    helper.write_text("FACTOR = 2\n")
    assert check_file(path).passed
    assert "helper_module" not in sys.modules


# -- the student's code runs in a child process -------------------------------------------

FORGING = STUDENTS / "forging"


def _pids(path: Path) -> list[int]:
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie has ended: only its parent's wait is left)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def assert_none_left(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if _alive(pid)]


_real_close = engine_cases._close


def test_check_file_never_runs_the_file_in_this_process(tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    monkeypatch.setenv("AMAL_TUI_TEST_PIDS", str(pids))
    report = check_file(FORGING / "patch_close.py")
    (pid,) = _pids(pids)
    assert pid != os.getpid()
    assert "engine.student.check" in sys.modules and engine_cases._close is _real_close
    assert not report.passed and "numel" in _function(report, "MSE").gradient("yhat").hint_codes
    assert_none_left([pid])


def test_a_call_past_its_time_limit_stops_the_check_and_kills_the_process(tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    monkeypatch.setenv("AMAL_TUI_TEST_PIDS", str(pids))
    report = check_file(FORGING / "loop_in_forward.py", timeout=1.5)
    assert not report.passed and not report.finished and report.loaded
    assert report.error == "MSE.forward did not return within 1.5 s (an infinite loop?)"
    assert report.text().splitlines() == [f"✗ {report.error}", "✗ check failed"]
    child, grandchild = _pids(pids)
    assert_none_left([child, grandchild])


def test_a_process_that_exits_during_a_call_fails_the_check_and_cannot_be_forced(
    tmp_path, monkeypatch
):
    """The command line's tests (test_student_cli.py) go through every file of forging/."""
    pids = tmp_path / "pids"
    monkeypatch.setenv("AMAL_TUI_TEST_PIDS", str(pids))
    report = check_file(FORGING / "exit_in_backward.py")
    assert not report.passed and report.loaded and not report.forceable
    assert report.error == "the file exited during MSE.backward (code 3)"
    assert report.text().splitlines() == [f"✗ {report.error}", "✗ check failed"]
    assert_none_left(_pids(pids))


def test_the_prints_are_escaped_and_shown_under_a_title():
    report = check_file(FORGING / "prints.py")
    assert not report.passed
    printed = report.printed()
    assert printed.startswith("amal-tui: what the file printed during the check:\n")
    assert "\x1b" not in printed and "\\x1b[2J" in printed and "stderr too" in printed
    assert all(line.startswith("    ") for line in printed.splitlines()[1:])


def _framed(body: bytes, rest: bytes) -> bytes:
    return b"AT" + len(body).to_bytes(4, "big") + body + rest


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200)
    | st.builds(_framed, st.binary(max_size=100), st.binary(max_size=64))
    | st.builds(
        _framed,
        st.dictionaries(st.sampled_from(["tensors", "reply"]), st.lists(st.lists(st.integers())))
        .map(json.dumps)
        .map(str.encode),
        st.binary(max_size=64),
    )
)
def test_any_bytes_are_a_message_or_unreadable(data):
    try:
        unpack(data)
    except Unreadable:
        pass


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["kind", "index", "type", "length", "items", "shape", "value"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"reply": st.sampled_from(["returned", "raised", "loaded", 3])},
        optional={"value": JSON, "inputs": JSON, "grad_output": JSON, "exception": JSON},
    ),
    st.booleans(),
)
def test_any_reply_is_values_or_unreadable(header, backward):
    tensors = [torch.zeros(2, 3, dtype=torch.float64)]
    try:
        reply = decode_reply(header, tensors, 2, backward)
    except Unreadable:
        return
    assert isinstance(reply, (Returned, Raised))


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_any_class_description_is_read_or_unreadable(value):
    try:
        decode_described(value)
    except Unreadable:
        pass


def test_a_reply_cannot_name_a_huge_tensor_or_escape_the_terminal():
    big = {"kind": "large_tensor", "shape": [1 << 20, 1 << 20]}
    value = decode_value(big, [])
    assert value.shape == (1 << 20, 1 << 20) and value.untyped_storage().nbytes() == 8
    with pytest.raises(Unreadable):
        decode_value({"kind": "large_tensor", "shape": [1 << 40, 1 << 40]}, [])
    raised = decode_raised({"kind": "E\x1b[2J", "message": "a\nb\x07", "line": 3})
    assert (raised.kind, raised.message) == ("E\\x1b[2J", "a b\\x07")
    with pytest.raises(Unreadable):
        unpack(pack({"tensors": [[2, 2]]}, [b"\0" * 8]))  # 4 numbers announced, 1 sent


def test_a_python_that_cannot_start_is_a_failed_check_not_a_crash(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/no/such/python")
    report = check_file(STUDENTS / "correct.py")
    assert not report.passed and not report.loaded
    assert report.error == "cannot start a Python process for the check (No such file or directory)"


# -- what the report shows of a student's file is escaped -----------------------------------

ESCAPE = "\x1b[2J\x1b]0;pwned\x07"


def test_a_report_escapes_the_students_file_name_and_lines(tmp_path):
    """The file name, the line an exception points at and its message reach a terminal:
    a student's escape sequences are shown, never acted on.  (The sandbox escapes what the
    child sends, in both kinds of check, before the report sees it: this keeps it so.)"""
    source = (STUDENTS / "backward_exception.py").read_text()
    line = "        grad_W = X @ grad_output"
    assert line in source
    source = source.replace(line, f'        grad_W = X @ grad_output  # "{ESCAPE}"')
    path = tmp_path / f"s{ESCAPE}.py"
    path.write_text(source)
    for report in (check_file(path), check_functions(*load_functions(path), path=str(path))):
        text = report.text()  # from the child's values, and from an in-process check
        assert "\x1b" not in text and "\x07" not in text, text
        assert "line 30, in backward" in text and "\\x1b[2J" in text


def test_a_load_failure_escapes_the_students_line(tmp_path):
    path = tmp_path / f"s{ESCAPE}.py"
    path.write_text(f'x = 1\nraise ValueError("{ESCAPE}")\n')
    report = check_file(path)
    text = report.text()
    assert not report.loaded
    assert "\x1b" not in text and "\x07" not in text, text
    assert "raise ValueError" in text and "line 2" in text
    with pytest.raises(StudentCodeError) as raised:
        load_functions(path)
    assert "\x1b" not in str(raised.value) and "line 2" in str(raised.value)
