"""Validation shared by the hyperparameter fields and the prompts: the engine's parsers decide."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Static

from engine.config import ConfigError, shown_path
from engine.i18n import N_, _


class ParseValidator(Validator):
    """Valid when ``parse(text)`` returns; the ConfigError's reason otherwise."""

    def __init__(self, parse: Callable[[str], Any]) -> None:
        super().__init__()
        self.parse = parse

    def validate(self, value: str) -> ValidationResult:
        try:
            self.parse(value)
        except ConfigError as error:
            return self.failure(error.reason)
        return self.success()


def mark(field: Input, error: Static, reason: str | None) -> None:
    """Show ``reason`` under ``field`` and mark it invalid, or clear both (None)."""
    if reason is None:
        error.display = False
        field.remove_class("-invalid")
    else:
        # Text, not markup: a reason may quote what was typed (a path with a "[").
        error.update(Text(f"✗ {reason}"))
        error.display = True
        field.add_class("-invalid")


def parse_save_path(text: str) -> str:
    """Where ``e`` saves: a file path (``.json`` is added when missing), never a folder."""
    path = os.path.expanduser(str(text).strip())
    if not path:
        raise ConfigError(N_("path"), _("expected a file name, got nothing"))
    if "\0" in path:
        raise ConfigError(N_("path"), _("must not contain a NUL character"))
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise ConfigError(
            N_("path"), _("{path} is a folder: add a file name").format(path=shown_path(path))
        )
    return path
