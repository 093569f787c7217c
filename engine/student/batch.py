"""Checking a class: many students' files, each in its own child process, several at a time.

A teacher runs ``amal-tui --check DIR`` (or several files, or a glob): every ``.py``
is checked as ``--check FILE.py`` checks it (:func:`engine.student.check.check_file`,
one child process per file: one student's file never runs beside another's), up
to ``workers`` at a time, and :func:`class_table` sums them up, one row per file.
The children are forked from one zygote (:mod:`engine.student.zygote`): torch is
imported twice for the whole class (here and there), not once per file.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from engine.config import shown_path
from engine.i18n import _, ngettext
from engine.student.loading import one_line
from engine.student.report import CheckReport

# The first hint of a row, shortened: the table stays one line per file.
_HINT_LENGTH = 110


def student_files(arguments: list[str]) -> tuple[list[str], list[str]]:
    """``(files, problems)``: the ``.py`` files the arguments name, in order, each once.

    A folder gives its ``.py`` files (not those of its subfolders), sorted; a
    pattern with ``*``, ``?`` or ``[`` that is not a file gives its matches; a
    file is taken as it is (its check says if it is not Python).  ``problems``:
    one line per argument that names nothing.
    """
    files: list[str] = []
    problems: list[str] = []
    for argument in arguments:
        if os.path.isdir(argument):
            found = sorted(
                os.path.join(argument, name)
                for name in os.listdir(argument)
                if name.endswith(".py") and os.path.isfile(os.path.join(argument, name))
            )
            if not found:
                problems.append(
                    _("{argument}: no .py file in this folder").format(
                        argument=shown_path(argument)
                    )
                )
        elif not os.path.exists(argument) and any(c in argument for c in "*?["):
            found = sorted(p for p in glob.glob(argument) if p.endswith(".py"))
            if not found:
                problems.append(
                    _("{argument}: no .py file matches").format(argument=shown_path(argument))
                )
        else:
            found = [argument]
        for path in found:
            if path not in files:
                files.append(path)
    return files, problems


def check_files(
    paths: list[str],
    mse_name: str = "MSE",
    linear_name: str = "Linear",
    *,
    workers: int | None = None,
    timeout: float | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    forked: bool | None = None,
) -> list[CheckReport]:
    """The report of each file, in the order of ``paths``; ``workers`` children at a time
    (default: the cores).  ``progress(done, total, path)`` after each file.  ``forked``:
    as for :func:`~engine.student.check.check_file` (each file still has its own process)."""
    from engine.student.check import check_file

    workers = max(1, min(workers or os.cpu_count() or 1, len(paths) or 1))
    reports: list[CheckReport | None] = [None] * len(paths)
    done = 0

    def one(index: int) -> int:
        reports[index] = check_file(
            paths[index], mse_name, linear_name, timeout=timeout, forked=forked
        )
        return index

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
        for index in pool.map(one, range(len(paths))):
            done += 1
            if progress is not None:
                progress(done, len(paths), paths[index])
    return [report for report in reports if report is not None]


def _verdict(report: CheckReport, function: str) -> str:
    """One cell: ✓, ✗, "missing", or "-" when it was not checked (the file failed first)."""
    for found in report.functions:
        if found.name == function:
            return "✓" if found.passed else "✗"
    if any(name == function for name, _ in report.missing):
        return _("missing")
    return "-"


def first_hint(report: CheckReport) -> str:
    """The one line that says most about a failed report; empty when it passed."""
    if report.passed:
        return ""
    if report.error:
        return one_line(report.error)
    for function in report.functions:
        if not function.passed:
            if function.exception is not None:  # what it raised says more than a reminder
                return f"{function.name}: {one_line(str(function.exception))}"
            if function.hints:
                return f"{function.name}: {one_line(function.hints[0])}"
            return _("{name}: fails the check").format(name=function.name)
    for name, why in report.missing:
        return f"{name}: {one_line(why)}"
    return _("fails the check")


def row(report: CheckReport) -> dict[str, str]:
    """A file's row of the table, as data: file, MSE and Linear verdicts, first hint."""
    return {
        "file": shown_path(report.path or "?"),
        "MSE": _verdict(report, "MSE"),
        "Linear": _verdict(report, "Linear"),
        "hint": first_hint(report),
    }


def class_table(reports: list[CheckReport]) -> str:
    """The table of a class's check, then a summary line."""
    rows = [row(report) for report in reports]
    width = max([len(_("file")), *(len(r["file"]) for r in rows)])
    file, first = _("file"), _("first hint")  # outside the f-string: Babel reads none in one
    lines = [f"{file:<{width}}  {'MSE':<7}  {'Linear':<7}  {first}"]
    for r in rows:
        hint = r["hint"]
        if len(hint) > _HINT_LENGTH:
            hint = hint[: _HINT_LENGTH - 1] + "…"
        lines.append(f"{r['file']:<{width}}  {r['MSE']:<7}  {r['Linear']:<7}  {hint}".rstrip())
    passed = sum(report.passed for report in reports)
    failed = len(reports) - passed
    lines.append(
        ngettext(
            "{count} file checked: {passed} pass, {failed} fail",
            "{count} files checked: {passed} pass, {failed} fail",
            len(reports),
        ).format(count=len(reports), passed=passed, failed=failed)
    )
    return "\n".join(lines)
