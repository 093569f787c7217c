"""The hyperparameter fields: validated as you type, applied with Enter, abandoned with Escape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Static

from engine.config import (
    Config,
    ConfigError,
    parse_learning_rate,
    parse_max_iter,
    parse_optional_seed,
    parse_seed,
    parse_threshold,
)


@dataclass(frozen=True)
class FieldSpec:
    id: str
    """The widget id of the Input."""
    setting: str
    """The Config field it edits."""
    label: str
    parse: Callable[[Any, str], Any]
    placeholder: str = ""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("lr", "learning_rate", "learning rate", parse_learning_rate),
    FieldSpec("seed", "seed", "seed", parse_seed),
    FieldSpec("init-seed", "init_seed", "init seed", parse_optional_seed, "none (= seed)"),
    FieldSpec("threshold", "threshold", "threshold", parse_threshold),
    FieldSpec("max-iter", "max_iter", "max iter", parse_max_iter),
)


def field_text(config: Config, setting: str) -> str:
    """How a setting is written in its field."""
    value = getattr(config, setting)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.12g}"
    return str(value)


class ConfigValidator(Validator):
    """Validates a field's text with the engine's own parser, so the TUI and the CLI agree."""

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self.spec = spec

    def validate(self, value: str) -> ValidationResult:
        try:
            self.spec.parse(value, self.spec.label)
        except ConfigError as error:
            return self.failure(error.reason)
        return self.success()


class HyperparameterField(Input):
    """An Input that Escape leaves without applying."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    class Cancelled(Message):
        """Escape was pressed: leave the field, keep the setting."""

        def __init__(self, field: HyperparameterField) -> None:
            super().__init__()
            self.field = field

    def __init__(self, spec: FieldSpec, value: str) -> None:
        super().__init__(
            value,
            placeholder=spec.placeholder,
            id=spec.id,
            validators=[ConfigValidator(spec)],
            compact=True,
            select_on_focus=True,
        )
        # A blinking cursor writes to the terminal twice a second, forever: costly over SSH.
        self.cursor_blink = False
        self.spec = spec

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled(self))


class HyperparameterPanel(Vertical):
    """One row per setting, with the reason under a field whose text is not valid."""

    class Applied(Message):
        """Enter on a valid field: the app makes a new Config with this change and resets."""

        def __init__(self, setting: str, value: Any) -> None:
            super().__init__()
            self.setting = setting
            self.value = value

    def __init__(self, config: Config, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.config = config
        self.border_title = "Hyperparameters"
        self.border_subtitle = "enter apply · esc cancel"

    def compose(self) -> ComposeResult:
        for spec in FIELDS:
            with Horizontal(classes="field-row"):
                yield Label(spec.label, classes="field-label")
                yield HyperparameterField(spec, field_text(self.config, spec.setting))
            yield Static("", id=f"{spec.id}-error", classes="field-error")

    def show_config(self, config: Config) -> None:
        """Write the applied settings into the fields and clear every mark."""
        self.config = config
        for spec in FIELDS:
            self.restore(self.query_one(f"#{spec.id}", HyperparameterField))

    def restore(self, field: HyperparameterField) -> None:
        field.value = field_text(self.config, field.spec.setting)
        self._mark(field, None)

    def error_text(self, field_id: str) -> str | None:
        """The reason shown under a field, or None."""
        error = self.query_one(f"#{field_id}-error", Static)
        return str(error.content) if error.display else None

    def _mark(self, field: HyperparameterField, reason: str | None) -> None:
        error = self.query_one(f"#{field.id}-error", Static)
        if reason is None:
            error.display = False
            field.remove_class("-invalid")
        else:
            error.update(f"✗ {reason}")
            error.display = True
            field.add_class("-invalid")

    @on(Input.Changed)
    def _validate(self, event: Input.Changed) -> None:
        event.stop()
        field = event.input
        assert isinstance(field, HyperparameterField)
        result = event.validation_result
        if result is None or result.is_valid or not field.has_focus:
            # Text set by the app (not typed) is always a valid setting.
            self._mark(field, None)
        else:
            self._mark(field, "; ".join(result.failure_descriptions))

    @on(Input.Submitted)
    def _apply(self, event: Input.Submitted) -> None:
        event.stop()
        field = event.input
        assert isinstance(field, HyperparameterField)
        try:
            value = field.spec.parse(event.value, field.spec.label)
        except ConfigError as error:
            self._mark(field, error.reason)
            self.app.bell()
            return
        self.post_message(self.Applied(field.spec.setting, value))

    @on(HyperparameterField.Cancelled)
    def _cancel(self, event: HyperparameterField.Cancelled) -> None:
        event.stop()
        self.restore(event.field)
        self.screen.set_focus(None)

    @on(Input.Blurred)
    def _leave(self, event: Input.Blurred) -> None:
        # Leaving a field any other way than Enter abandons its edit: what the
        # fields show is always what the run uses.
        event.stop()
        field = event.input
        assert isinstance(field, HyperparameterField)
        self.restore(field)
