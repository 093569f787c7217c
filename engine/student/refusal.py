"""The answer a front end gets when a student's Functions may not run (no torch: the app
imports it before the engine loads)."""

from __future__ import annotations

from typing import Any


class FunctionsRefused(Exception):
    """A student's Functions (``--functions``) cannot be loaded or fail the check.

    ``str()`` is one line; ``report`` is the check's whole report as text, ``check``
    the :class:`~engine.student.check.CheckReport` itself when there is one.
    """

    def __init__(self, message: str, report: str, check: Any = None) -> None:
        super().__init__(message)
        self.report = report
        self.check = check
