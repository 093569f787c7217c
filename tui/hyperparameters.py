"""The hyperparameter fields: validated as you type, applied with Enter, abandoned with Escape.

The notebook's settings come first (learning rate, seeds, threshold, max
iterations); the optimizer, the mini-batches and the data follow, reachable
with tab: the panel scrolls when they do not all fit.  The fields of an
optimizer's own settings (momentum, β1, β2) show only with that optimizer.
Beside the learning rate, ε_max = 2/L once the theory is known, and a warning
in words under it when plain gradient descent is bound to diverge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static

from engine.config import (
    Config,
    ConfigError,
    parse_batch_size,
    parse_beta,
    parse_data,
    parse_learning_rate,
    parse_max_iter,
    parse_momentum,
    parse_optimizer,
    parse_optional_seed,
    parse_seed,
    parse_threshold,
)

from .validation import ParseValidator, mark


@dataclass(frozen=True)
class FieldSpec:
    id: str
    """The widget id of the Input."""
    setting: str
    """The Config field it edits."""
    label: str
    parse: Callable[[Any, str], Any]
    placeholder: str = ""
    hint: tuple[str, ...] = ()
    """A reminder beside the field, in shorter and shorter wordings (see FieldHint)."""
    optimizers: tuple[str, ...] = ()
    """Shown only with these optimizers (empty: always)."""
    wide: bool = False
    """Takes the whole row (a file path), without a hint."""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("lr", "learning_rate", "learning rate", parse_learning_rate),
    FieldSpec("seed", "seed", "seed", parse_seed),
    FieldSpec("init-seed", "init_seed", "init seed", parse_optional_seed, "= seed"),
    FieldSpec("threshold", "threshold", "threshold", parse_threshold),
    FieldSpec("max-iter", "max_iter", "max iter", parse_max_iter),
    FieldSpec("optimizer", "optimizer", "optimizer", parse_optimizer,
              hint=("sgd momentum nesterov adam",)),
    FieldSpec("momentum", "momentum", "momentum", parse_momentum, hint=("μ in [0, 1)",),
              optimizers=("momentum", "nesterov")),
    FieldSpec("beta1", "beta1", "β1", parse_beta, hint=("in [0, 1)",), optimizers=("adam",)),
    FieldSpec("beta2", "beta2", "β2", parse_beta, hint=("in [0, 1)",), optimizers=("adam",)),
    FieldSpec("batch-size", "batch_size", "batch size", parse_batch_size, "full",
              ("empty: all the points", "empty: all", "empty=all")),
    FieldSpec("data", "data", "data", parse_data, wide=True),
)  # fmt: skip


def field_text(config: Config, setting: str) -> str:
    """How a setting is written in its field."""
    value = getattr(config, setting)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.12g}"
    return str(value)


def diverges(config: Config, learning_rate: float, lr_max: float | None) -> bool:
    """Whether the engine's theory says this run diverges, for a learning rate still being typed.

    Outside a comparison only (the comparison table marks its own rows); the
    panel does not know n, so a batch size counts as mini-batches, where the
    bound says nothing.
    """
    if lr_max is None or config.compare:
        return False
    # Imported here: lr_max is known only once the engine (torch) is loaded.
    from engine.core.theory import diverges as bound_says

    return bool(bound_says(learning_rate, lr_max, config.optimizer, config.batch_size))


def lr_max_text(lr_max: float) -> str:
    return f"{lr_max:.4g}" if math.isfinite(lr_max) else "∞"


class FieldHint(Static):
    """A reminder beside a field: the longest of its wordings that fits the room there."""

    def __init__(self, *wordings: str, id: str | None = None) -> None:
        super().__init__(id=id, classes="field-hint")
        self.wordings = wordings

    def say(self, *wordings: str) -> None:
        """Longest first, e.g. ``("ε_max 1.532", "εmax 1.532", "ε<1.532")``."""
        if wordings != self.wordings:
            self.wordings = wordings
            self.refresh()

    def render(self) -> str:
        width = self.content_region.width
        for text in self.wordings:
            if len(text) <= width:
                return text
        return self.wordings[-1] if self.wordings else ""


class HyperparameterField(Input):
    """An Input that Escape leaves without applying."""

    # Shown in the footer while a field is edited (the run's letter keys are text there).
    BINDINGS = [
        Binding("enter", "submit", "Apply and reset"),
        Binding("escape", "cancel", "Cancel", key_display="esc"),
    ]

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
            # The engine's own parser, so the TUI and the CLI agree.
            validators=[ParseValidator(lambda text: spec.parse(text, spec.label))],
            compact=True,
            select_on_focus=True,
            classes="-wide" if spec.wide else "",
        )
        # A blinking cursor writes to the terminal twice a second, forever: costly over SSH.
        self.cursor_blink = False
        self.spec = spec

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled(self))


class HyperparameterPanel(VerticalScroll, can_focus=False):
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
        self.lr_max: float | None = None
        self.border_title = "Hyperparameters"
        self.border_subtitle = "tab · enter apply · esc cancel"

    def compose(self) -> ComposeResult:
        for spec in FIELDS:
            with Horizontal(classes="field-row", id=f"{spec.id}-row"):
                yield Label(spec.label, classes="field-label")
                yield HyperparameterField(spec, field_text(self.config, spec.setting))
                if not spec.wide:
                    yield FieldHint(*spec.hint, id=f"{spec.id}-hint")
            if spec.id == "lr":
                yield Static("", id="lr-warning", classes="field-warning")
            yield Static("", id=f"{spec.id}-error", classes="field-error")

    def on_mount(self) -> None:
        self._show_optimizer_fields()

    def show_config(self, config: Config) -> None:
        """Write the applied settings into the fields and clear every mark."""
        self.config = config
        for spec in FIELDS:
            field = self.query_one(f"#{spec.id}", HyperparameterField)
            # A field being typed in keeps its text: leaving it restores it (see _leave).
            if not field.has_focus:
                self.restore(field)
        self._show_optimizer_fields()
        self._show_lr_max()

    def show_theory(self, lr_max: float | None) -> None:
        """ε_max = 2/L of the problem on screen (None: not known yet)."""
        self.lr_max = lr_max
        self._show_lr_max()

    def _show_optimizer_fields(self) -> None:
        for spec in FIELDS:
            if spec.optimizers:
                shown = self.config.optimizer in spec.optimizers
                self.query_one(f"#{spec.id}-row").display = shown
                if not shown:
                    self.query_one(f"#{spec.id}-error").display = False

    def _show_lr_max(self, learning_rate: float | None = None) -> None:
        """The hint beside the learning rate and, when it diverges, the warning under it."""
        config = self.config
        hint = self.query_one("#lr-hint", FieldHint)
        if config.compare:
            hint.say("comparing: c", "compare")
        elif self.lr_max is None:
            hint.say("")
        else:
            lr_max = lr_max_text(self.lr_max)
            hint.say(f"ε_max {lr_max}", f"εmax {lr_max}", f"ε<{lr_max}")
        if learning_rate is None:
            learning_rate = config.learning_rate
        warning = self.query_one("#lr-warning", Static)
        if diverges(config, learning_rate, self.lr_max):
            warning.update(f"⚠ ε {learning_rate:g} > ε_max {lr_max_text(self.lr_max)}: diverges")
            warning.display = True
        else:
            warning.display = False

    def warning_text(self) -> str | None:
        """The divergence warning under the learning rate, or None."""
        warning = self.query_one("#lr-warning", Static)
        return str(warning.content) if warning.display else None

    def restore(self, field: HyperparameterField) -> None:
        field.value = field_text(self.config, field.spec.setting)
        self._mark(field, None)
        if field.id == "lr":
            self._show_lr_max()

    def error_text(self, field_id: str) -> str | None:
        """The reason shown under a field, or None."""
        error = self.query_one(f"#{field_id}-error", Static)
        return str(error.content) if error.display else None

    def _mark(self, field: HyperparameterField, reason: str | None) -> None:
        mark(field, self.query_one(f"#{field.id}-error", Static), reason)

    @on(Input.Changed)
    def _validate(self, event: Input.Changed) -> None:
        event.stop()
        field = event.input
        assert isinstance(field, HyperparameterField)
        result = event.validation_result
        if result is None or result.is_valid or not field.has_focus:
            # Text set by the app (not typed) is always a valid setting.
            self._mark(field, None)
            if field.id == "lr" and field.has_focus:
                # Warn while typing, before the value is applied and run.
                try:
                    typed = parse_learning_rate(event.value)
                except ConfigError:
                    typed = None
                self._show_lr_max(typed)
        else:
            self._mark(field, "; ".join(result.failure_descriptions))
            if field.id == "lr":
                self._show_lr_max()

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
        self.call_after_refresh(self._home_unless_editing)

    def _home_unless_editing(self) -> None:
        # Done editing (not on to another field): back to the top, where the learning rate
        # and its ε_max warning are, on a terminal too small to show every field.
        if not any(field.has_focus for field in self.query(HyperparameterField)):
            self.scroll_home(animate=False)
