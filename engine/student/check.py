"""Checking a student's MSE and Linear against the reference, with a hint for each known mistake.

Each Function is stepped by hand as the engine and the notebook do it
(``forward(ctx, ...)`` then ``backward(ctx, grad_output)`` with a
:class:`~engine.core.functions.Context`), on seeded random float64 inputs of several
shapes: n = 1, m = 1, d = m, and n, d, m all different so that a wrong factor
says which one it is.  Shapes are compared directly: autograd would silently
reshape some wrong ones.  Values are compared with the reference forward and
with central differences of the reference loss.  ``grad_output`` is 1 and
another value, since a backward that ignores it is right at 1; for MSE it is
given both as a tensor (as autograd passes it) and as a number (as the notebook
and the engine do).  A mistake the checker recognises gets a hint; an exception
in the student's code is reported with their file and line.

A student's file is never run here: :func:`check_file` runs it in a child
process (:mod:`engine.student.sandbox`, :mod:`engine.student.child`) with a time limit per call,
sends it the inputs, and judges here what comes back as plain data, so nothing
the file does (patching this module, exiting, printing) changes the verdict.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Protocol

import torch
from torch.autograd import Function

from engine.i18n import _
from engine.student.cases import (
    LINEAR_INPUTS,
    LINEAR_SHAPES,
    MSE_INPUTS,
    MSE_SHAPES,
    _as_float64,
    _Case,
    _close,
    _GradOutput,
    _linear_case,
    _mse_case,
    _type_name,
    vector_bias,
)
from engine.student.child import Calls
from engine.student.diagnosis import (
    _diagnose_gradient,
    _diagnose_linear_forward,
    _diagnose_mse_forward,
    _exception_hints,
    _formula,
)
from engine.student.loading import (
    StudentCodeError,
    code_filename,
    load_functions,
    source_line,
)
from engine.student.report import (
    Check,
    CheckReport,
    FunctionReport,
    Hint,
    StudentException,
    SubjectReport,
    _max,
    _unique,
)
from engine.student.sandbox import (
    Described,
    Loaded,
    LoadFailed,
    Raised,
    Returned,
    Sequence,
    Stopped,
    StudentProcess,
    decode_loaded,
    decode_reply,
    unpack,
)

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

    def __init__(
        self,
        classes: list[type | None],
        missing: list[str | None] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.calls = Calls(classes, missing, notes)

    def describe(self) -> Loaded:
        header, _ = unpack(self.calls.describe())
        return decode_loaded(header)

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
            _(
                "forward{value} should be a @staticmethod taking ctx and {defaults} inputs ({defaults2})"
            ).format(
                value=described.signature or "(...)",
                defaults=len(defaults),
                defaults2=", ".join(defaults),
            )
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
        self.found: dict[int, list[tuple[torch.Tensor | None, torch.Tensor]]] = {}
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
        for number, case in enumerate(cases):
            self.run_case(case)
            if number == 0 and self.argument_order(case):
                break  # every shape would say the same
            if any(c.exception is not None for c in self.checks):
                break  # the same exception would come back on every shape

    def argument_order(self, case: _Case) -> bool:
        """A forward that fails but is right with its inputs in another order: say which.

        Tried on the first shape, whose inputs all have different shapes, so that only
        one order can be right.  Returns whether that is what is wrong.
        """
        forwards = [c for c in self.checks if c.subject == "forward"]
        if not forwards or forwards[0].passed or len(case.inputs) < 2:
            return False
        for order in itertools.permutations(range(len(case.inputs))):
            if order == tuple(range(len(case.inputs))):
                continue
            args = [case.inputs[i].clone() for i in order]
            returned, error = self.call("forward", args, len(args))
            found = None if returned is None else _as_float64(returned.value)
            if found is None or not _close(found, case.expected):
                continue
            defaults = MSE_INPUTS if self.function == "MSE" else LINEAR_INPUTS
            theirs = ", ".join(defaults[i] for i in order)
            ours = ", ".join(defaults)
            text = _(
                "your arguments are in the order ({theirs}); the notebook's is ({ours}), as {class_name}.apply({ours}) and amal-tui call forward: write forward(ctx, {ours}) and return the gradients in that order"
            ).format(theirs=theirs, ours=ours, class_name=self.described.class_name)
            # The shapes' reminder would send them looking elsewhere: the order is the mistake.
            kept = [h for h in forwards[0].hints if h.code not in ("shapes", "forward_shape")]
            forwards[0].hints = [Hint("argument_order", text), *kept]
            return True
        return False

    def run_case(self, case: _Case) -> None:
        names, label = self.names, _case_label(self.names, case.inputs)
        returned = self.forward(case, label)
        if returned is None:
            return
        verdict = self.diagnose_forward(returned.value, case, names)
        for i in _changed(case.inputs, returned.inputs):
            verdict.passed = False
            verdict.hints.append(
                Hint(
                    "in_place",
                    _("forward changes {names} in place: compute new tensors").format(
                        names=names[i]
                    ),
                )
            )
        self.checks.append(
            Check(
                "forward", label, None, expected_shape=tuple(case.expected.shape), **vars(verdict)
            )
        )
        raised: dict[bool, list[Check]] = {True: [], False: []}  # grad_output a tensor?
        # Each input's gradient as returned, and as expected, for each grad_output of this case.
        self.found: dict[int, list[tuple[torch.Tensor | None, torch.Tensor]]] = {}
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
        self.grad_output_ignored(case, label)

    def grad_output_ignored(self, case: _Case, label: str) -> None:
        """A gradient that is the same whatever grad_output is (torch.ones_like(b), a constant):
        at grad_output all ones it can look like a wrong factor; together they say what it is."""
        for i, name in enumerate(self.names):
            found = self.found.get(i, [])
            if len(found) < 2 or any(f is None for f, _ in found):
                continue
            first, expected = found[0]
            if not all(_close(f, first) for f, _ in found[1:]):
                continue
            if all(_close(e, expected) for _, e in found[1:]):
                continue  # grad_output makes no difference here: nothing to tell
            mine = [c for c in self.checks if c.subject == name and c.case == label]
            if all(c.passed for c in mine):
                continue
            constant = ""
            if first.numel() and bool((first == first.reshape(-1)[0]).all()):
                constant = _(" (all {value:g})").format(value=float(first.reshape(-1)[0]))
            formula = _formula(self.function, i, self.names, case.dims)
            hint = Hint(
                "grad_output_ignored",
                _(
                    "grad_output ignored: {name}'s gradient is the same whatever grad_output is{constant}; multiply by grad_output (chain rule): {formula}"
                ).format(name=name, constant=constant, formula=formula),
            )
            for check in mine:
                if not check.passed:
                    check.hints = [h for h in check.hints if h.code == "b_shape"] + [hint]

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
                Hint("in_place", _("backward changes grad_output in place: compute new tensors"))
            )
        for i in _changed(case.inputs, returned.inputs):
            problems.append(
                Hint(
                    "in_place",
                    _("backward changes {names} in place: compute new tensors").format(
                        names=names[i]
                    ),
                )
            )
        result = returned.value
        gradients = list(result.items) if isinstance(result, Sequence) else None
        if gradients is None or result.length != len(names):
            got = (
                _("one {result}").format(result=_type_name(result))
                if gradients is None
                else _("{length} values").format(length=result.length)
            )
            problems.append(
                Hint(
                    "count",
                    _(
                        "backward returns {got}; forward takes {names} inputs ({names2}): return one gradient per input, in that order"
                    ).format(got=got, names=len(names), names2=", ".join(names)),
                )
            )
            gradients = None
        self.checks.append(
            Check("backward", label, grad_output.label, not problems, hints=problems)
        )
        for i, gradient in enumerate(gradients or ()):
            found = _as_float64(gradient)
            if found is not None and found.numel() == grad_output.expected[i].numel():
                found = found.reshape(grad_output.expected[i].shape)
            self.found.setdefault(i, []).append((found, grad_output.expected[i]))
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
            text = _(
                "backward fails when grad_output is a number: the notebook and amal-tui call {class_name}.backward(ctx, 1.0), autograd passes a 0-dim tensor; write it for both"
            ).format(class_name=self.described.class_name)
        else:
            text = _(
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
        # A diagnosis found on another shape or grad_output than the first failure's is
        # told too (once per kind): the JSON holds every check, the text must not hide one.
        for check in checks:
            for hint in check.hints:
                if hint.code not in codes:
                    codes.append(hint.code)
                    if hint.text:
                        hints.append(hint.text)
        if self.function == "MSE" and all("sign" in g.hint_codes for g in gradients):
            hints.append(
                _(
                    "both gradients have the wrong sign, which is also what returning them swapped, ({names}, {names2}) instead of ({names2}, {names}), looks like"
                ).format(names=names[1], names2=names[0])
            )
        notes = [
            _(
                "{method} is not a @staticmethod: autograd and the notebook's {class_name}().{method}(ctx, ...) need one"
            ).format(method=method, class_name=self.described.class_name)
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

VECTOR_BIAS = "(m,)"


def _run_check(
    function: str,
    index: int,
    described: Described,
    defaults: tuple[str, ...],
    student: _Student,
    cases: list[_Case],
) -> FunctionReport:
    check = _FunctionCheck(function, index, described, defaults, student)
    check.run(cases)
    return check.report(len(cases))


def _failures(report: FunctionReport) -> tuple[int, int]:
    """How wrong a report is: its failed subjects, then its hints (a shape hint is one more)."""
    subjects = (report.forward, report.backward, *report.gradients)
    return sum(not s.passed for s in subjects), len(report.hint_codes)


def _vector_bias_note(names: list[str], passed: bool) -> str:
    b = names[2] if len(names) == 3 else "b"
    if not passed:
        return _(
            "checked with {b} of shape (m,), as the course's skeleton draws it ({b} = torch.randn(m)): its gradient for {b} has that shape"
        ).format(b=b)
    return _(
        "correct for {b} of shape (m,), as the course's skeleton draws it ({b} = torch.randn(m)), not for the notebook's (1, m), where its gradient must be (1, m): grad_output.sum(0).reshape({b}.shape) is right for both (save {b} in ctx)"
    ).format(b=b)


def _check(student: _Student, loaded: Loaded, path: str | None, seed: int) -> CheckReport:
    """Every check of both Functions; the verdict is made here, from what the calls returned."""
    described = loaded.classes
    generator = torch.Generator().manual_seed(seed)
    mse_cases = [_mse_case(n, m, generator) for n, m in MSE_SHAPES]
    linear_cases = [_linear_case(n, d, m, generator) for n, d, m in LINEAR_SHAPES]
    reports: list[FunctionReport] = []
    error = error_source = None
    finished = True
    missing: list[tuple[str, str]] = []
    for index, (function, defaults, cases) in enumerate(
        (("MSE", MSE_INPUTS, mse_cases), ("Linear", LINEAR_INPUTS, linear_cases))
    ):
        if described[index] is None:
            # Each class on its own: the other one is still checked.
            missing.append(
                (
                    function,
                    loaded.missing[index] or _("no class {function}").format(function=function),
                )
            )
            continue
        try:
            report = _run_check(function, index, described[index], defaults, student, cases)
            if function == "Linear" and not report.passed:
                # The course's skeleton draws b = torch.randn(m): a Linear written for that
                # convention is correct, and told how to be right for the notebook's too.
                vector = [vector_bias(case) for case in cases]
                other = _run_check(function, index, described[index], defaults, student, vector)
                if other.passed or _failures(other) < _failures(report):
                    other.bias = VECTOR_BIAS
                    other.notes.insert(0, _vector_bias_note(other.inputs, other.passed))
                    report = other
        except _Interrupted as interrupted:
            error = _("interrupted: {exception}").format(exception=interrupted.exception)
            error_source = interrupted.exception.source
            finished = False
            break
        except Stopped as stopped:
            error, finished = str(stopped), False
            break
        reports.append(report)
    passed = error is None and len(reports) == 2 and all(r.passed for r in reports)
    return CheckReport(
        passed,
        reports,
        error,
        error_source,
        path,
        finished=finished,
        missing=missing,
        notes=list(loaded.notes),
    )


def check_functions(
    mse: type | None,
    linear: type | None,
    *,
    path: str | None = None,
    seed: int = 0,
    missing: list[str | None] | None = None,
    notes: list[str] | None = None,
) -> CheckReport:
    """Check an MSE and a Linear already loaded in this process: trusted code only.

    ``missing``: why a class given as None is not there; ``notes``: what loading
    the file said (:class:`~engine.student.loading.LoadedClasses`).  A student's
    file goes through :func:`check_file`, which never runs it here.
    """
    student = _InProcess([mse, linear], missing, notes)
    return _check(student, student.describe(), None if path is None else os.fspath(path), seed)


def check_file(
    path: str | os.PathLike,
    mse_name: str = "MSE",
    linear_name: str = "Linear",
    *,
    timeout: float | None = None,
    process: StudentProcess | None = None,
    forked: bool | None = None,
) -> CheckReport:
    """Check the Functions of a student's file, run in a child process; never raises for it.

    ``timeout``: seconds each call into the student's code may take (the import,
    each forward and backward; default :data:`engine.student.sandbox.CALL_TIMEOUT`).
    ``process``: one already started for this file (its start overlaps torch's
    import here).  ``forked``: the child forked from the zygote (the default where
    the platform can) or started as a new Python (False).  What the file printed
    is in the report's ``output``.
    """
    shown = os.fspath(path)
    if process is None:
        process = StudentProcess(shown, timeout, forked).start()
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
        return _("cannot be loaded")
    if report.missing:
        return _("cannot be loaded: {value}").format(value=report.missing[0][1])
    if not report.finished:
        return _("did not finish the check (--force cannot run them)")
    return _("fail the check (--force runs them anyway)")


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
    if _linear_bias(report) == VECTOR_BIAS:
        linear = bias_as_vector(linear)
    return mse, linear, report


def _linear_bias(report: CheckReport) -> str | None:
    return next((f.bias for f in report.functions if f.name == "Linear"), None)


def bias_as_vector(linear: type) -> type:
    """A Linear written for b of shape (m,), called by the descent with the notebook's b (1, m).

    forward gets a (m,) view of b (the descent's updates of b show through it), and
    b's gradient comes back to the descent with b's own shape.
    """
    forward, backward = linear.forward, linear.backward

    class VectorBias(Function):
        @staticmethod
        def forward(ctx, X, W, b):
            return forward(ctx, X, W, b.reshape(-1))

        @staticmethod
        def backward(ctx, grad_output):
            grad_X, grad_W, grad_b = backward(ctx, grad_output)
            return grad_X, grad_W, grad_b.reshape(1, -1)

    VectorBias.__name__ = VectorBias.__qualname__ = getattr(linear, "__name__", "Linear")
    VectorBias.vector_bias = True
    return VectorBias
