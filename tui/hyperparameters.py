"""The settings panel: a form whose fields keep what is typed until Enter applies them all.

The notebook's settings come first (learning rate, seeds, threshold, max
iterations); the optimizer, the mini-batches and the data follow, reachable
with tab: the panel scrolls when they do not all fit.  Tab and shift+tab move
between the fields and keep every edit; Enter applies every edited field at once
(none when one of them is not valid: its reason shows under it, naming it);
Escape restores every field.  The drafts and their checks are
:class:`~tui.settings_form.SettingsForm`'s, tested without Textual.

The fields of an optimizer's own settings (momentum, β1, β2) show only with the
optimizer typed.  Beside the learning rate, ε_max = 2/L once the theory is known,
and a warning in words under it when plain gradient descent is bound to diverge.
While learning rates are compared, the field holds their list, and the line under
it says what c does.
"""

from __future__ import annotations

import math
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import DescendantFocus
from textual.message import Message
from textual.widgets import Input, Label, Static

from engine.config import Config
from engine.i18n import N_, _

from .keys import translate_bindings
from .presenter import COMPARE_KEY_HINT
from .settings_form import (  # noqa: F401 - FIELDS, field_text: imported from here by scripts
    FIELDS,
    FieldSpec,
    SettingsForm,
    field_text,
    specs_for,
)
from .validation import mark

# The border's reminder of the form's keys (it fits the panel at 80 columns).
KEYS_HINT = N_("tab · enter apply · esc restore")


# The same in the compact layout's narrow column (26 columns).
COMPACT_KEYS_HINT = N_("enter apply · esc")


def keys_hint(edited: int, compact: bool = False) -> str:
    """The border's reminder, saying how many fields wait for Enter."""
    if compact:
        return (
            _("{edited} edited · enter").format(edited=edited) if edited else _(COMPACT_KEYS_HINT)
        )
    return _("{edited} edited · enter apply all").format(edited=edited) if edited else _(KEYS_HINT)


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

    return bool(
        bound_says(
            learning_rate, lr_max, config.optimizer, config.batch_size, momentum=config.momentum
        )
    )


def lr_max_text(lr_max: float) -> str:
    return f"{lr_max:.4g}" if math.isfinite(lr_max) else "∞"


class FieldHint(Static):
    """A reminder beside a field: the longest of its wordings that fits the room there."""

    def __init__(self, *wordings: str, id: str | None = None, classes: str = "field-hint") -> None:
        super().__init__(id=id, classes=classes)
        self.wordings = tuple(_(wording) if wording else wording for wording in wordings)

    def say(self, *wordings: str) -> None:
        """Longest first, e.g. ``("ε_max 1.532", "εmax 1.532", "ε<1.532")``."""
        if wordings != self.wordings:
            self.wordings = wordings
            self.refresh()

    def fits(self) -> bool:
        """Whether its longest wording fits (once laid out)."""
        return not self.wordings or len(self.wordings[0]) <= self.content_region.width

    def render(self) -> str:
        width = self.content_region.width
        for text in self.wordings:
            if len(text) <= width:
                return text
        return self.wordings[-1] if self.wordings else ""


class HyperparameterField(Input):
    """One setting's text; Escape restores the whole form."""

    # Shown in the footer while a field is edited (the run's letter keys are text there).
    BINDINGS = [
        Binding("enter", "submit", N_("Apply all and reset")),
        Binding("escape", "cancel", N_("Restore all"), key_display=N_("esc")),
    ]

    class Cancelled(Message):
        """Escape was pressed: every field back to the settings in use."""

        def __init__(self, field: HyperparameterField) -> None:
            super().__init__()
            self.field = field

    def __init__(self, spec: FieldSpec, value: str) -> None:
        super().__init__(
            value,
            placeholder=_(spec.placeholder) if spec.placeholder else "",
            id=spec.id,
            compact=True,
            select_on_focus=True,
        )
        translate_bindings(self._bindings)  # its footer labels in --lang's language
        # A blinking cursor writes to the terminal twice a second, forever: costly over SSH.
        self.cursor_blink = False
        self.spec = spec
        self.set_class(spec.wide, "-wide")

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled(self))


# The shortest wording of the compare hint, for the compact layout's narrow column.
COMPACT_COMPARE_HINT = N_("c: rates · empty: 1 run")

# A field's width in cells (app.tcss, HyperparameterField).
FIELD_WIDTH = 9
# The choices in the compact layout's narrow column.
COMPACT_OPTIMIZER_CHOICES = "sgd · momentum\nnesterov · adam"

# Shown under the optimizer while it is typed in, when the hint beside it has no room.
OPTIMIZER_CHOICES = "sgd · momentum · nesterov · adam"


class HyperparameterPanel(VerticalScroll, can_focus=False):
    """One row per setting, with the reason under a field whose text is not valid."""

    class Applied(Message):
        """Enter with every edited field valid: the app makes a new Config with all of
        ``changes`` (Config field → value; none: the same settings) and starts over."""

        def __init__(self, changes: dict[str, Any]) -> None:
            super().__init__()
            self.changes = changes

    def __init__(self, config: Config, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.form = SettingsForm(config)
        self.lr_max: float | None = None
        self.border_title = _("Hyperparameters")
        self.border_subtitle = KEYS_HINT
        self._compact = False

    @property
    def compact(self) -> bool:
        """Whether it sits in the compact layout's narrow column (a shorter reminder)."""
        return self._compact

    @compact.setter
    def compact(self, compact: bool) -> None:
        self._compact = compact
        if self.is_mounted:
            self._show_edited()
            self._show_lr()

    @property
    def config(self) -> Config:
        """The settings in use (the fields may hold edits not yet applied)."""
        return self.form.config

    def compose(self) -> ComposeResult:
        for spec in self.form.specs.values():
            # A wide value (a list of rates, a path) goes under its label in the compact layout.
            stacked = "field-row -stacked" if self._stacked(spec) else "field-row"
            with Horizontal(classes=stacked, id=f"{spec.id}-row"):
                yield Label(_(spec.label), classes="field-label", id=f"{spec.id}-label")
                yield HyperparameterField(spec, self.form.drafts[spec.id])
                if spec.id == "lr" or not spec.wide:
                    yield FieldHint(*spec.hint, id=f"{spec.id}-hint")
            # Right under its field: why its text cannot be applied.
            yield Static("", id=f"{spec.id}-error", classes="field-error")
            if spec.id == "lr":
                yield Static("", id="lr-warning", classes="field-warning")
                hints = (*COMPARE_KEY_HINT, COMPACT_COMPARE_HINT)
                yield FieldHint(*hints, id="lr-note", classes="field-note")
                # The compact layout has no room beside the field: ε_max goes under it.
                yield FieldHint(id="lr-bound", classes="field-note")
            if spec.id == "optimizer":
                yield Static(OPTIMIZER_CHOICES, id="optimizer-choices", classes="field-note")

    def on_mount(self) -> None:
        self._show_form()

    def show_config(self, config: Config) -> None:
        """New settings are in use: the fields not being edited show them."""
        self.form.show(config)
        self._show_form()

    def show_theory(self, lr_max: float | None) -> None:
        """ε_max = 2/L of the problem on screen (None: not known yet)."""
        self.lr_max = lr_max
        self._show_lr()

    def warning_text(self) -> str | None:
        """The divergence warning under the learning rate, or None."""
        warning = self.query_one("#lr-warning", Static)
        return str(warning.content) if warning.display else None

    def error_text(self, field_id: str) -> str | None:
        """The reason shown under a field, or None."""
        error = self.query_one(f"#{field_id}-error", Static)
        return str(error.content) if error.display else None

    def hint_text(self, field_id: str) -> str:
        """What the hint beside (or, for the learning rates compared, under) a field says."""
        hint_id = f"{field_id}-hint"
        if field_id == "lr" and self.config.compare:
            hint_id = "lr-note"
        elif field_id == "lr" and self._compact:
            hint_id = "lr-bound"
        hint = self.query_one(f"#{hint_id}", FieldHint)
        return str(hint.render()) if hint.display else ""

    def edited(self) -> list[str]:
        """The ids of the fields whose text is not yet applied."""
        return self.form.edited_ids()

    def restore(self) -> None:
        """Every field back to the settings in use."""
        self.form.restore()
        self._show_form()

    # -- drawing the form -------------------------------------------------------------

    def _field(self, field_id: str) -> HyperparameterField:
        return self.query_one(f"#{field_id}", HyperparameterField)

    def _show_form(self) -> None:
        for field_id, spec in self.form.specs.items():
            field = self._field(field_id)
            if field.spec != spec:  # the learning rate, into or out of a comparison
                field.spec = spec
                field.placeholder = _(spec.placeholder) if spec.placeholder else ""
                field.set_class(spec.wide, "-wide")
                self.query_one(f"#{field_id}-label", Label).update(_(spec.label))
            if field.value != self.form.drafts[field_id]:
                field.value = self.form.drafts[field_id]
            self.query_one(f"#{field_id}-row").set_class(self._stacked(spec), "-stacked")
            self._show_field(field)
        self._show_lr()
        self._show_edited()

    def _show_edited(self) -> None:
        self.border_subtitle = keys_hint(len(self.form.edited_ids()), self._compact)

    def _show_field(self, field: HyperparameterField) -> None:
        field_id = field.spec.id
        shown = self.form.shown(field_id)
        self.query_one(f"#{field_id}-row").display = shown
        field.set_class(self.form.edited(field_id), "-edited")
        # The engine's reason, naming the field ("seed: expected an integer, got 'x'").
        reason = self.form.error(field_id) if shown else None
        mark(field, self.query_one(f"#{field_id}-error", Static), reason)

    def _show_optimizers(self) -> None:
        # The optimizer typed decides which of μ, β1 and β2 show, before it is applied.
        for spec in self.form.specs.values():
            if spec.optimizers:
                self._show_field(self._field(spec.id))
        self._show_optimizer_choices()

    def _stacked(self, spec: FieldSpec) -> bool:
        """Whether a field's value goes under its label in the compact layout (CSS): the
        rates compared always, a data source only when the one in use is longer than a field."""
        if not spec.wide:
            return False
        return spec.id != "data" or len(self.form.drafts[spec.id]) > FIELD_WIDTH

    def _show_optimizer_choices(self) -> None:
        hint = self.query_one("#optimizer-hint", FieldHint)
        choices = self.query_one("#optimizer-choices", Static)
        choices.display = self._field("optimizer").has_focus and not hint.fits()
        # Two rows in the compact layout's narrow column, cut where a reader would.
        choices.update(COMPACT_OPTIMIZER_CHOICES if self._compact else OPTIMIZER_CHOICES)

    def _show_lr(self) -> None:
        """The hint beside the learning rate and, when it diverges, the warning under it."""
        config = self.config
        comparing = bool(config.compare)
        hint = self.query_one("#lr-hint", FieldHint)
        bound = self.query_one("#lr-bound", FieldHint)
        hint.display = not comparing and not self._compact
        bound.display = not comparing and self._compact and self.lr_max is not None
        self.query_one("#lr-note", FieldHint).display = comparing
        wordings: tuple[str, ...] = ("",)
        if not comparing and self.lr_max is not None:
            from engine.core.theory import stability_bound  # loaded with lr_max

            lr_max = lr_max_text(self.lr_max)
            run_bound = stability_bound(
                self.lr_max, config.optimizer, config.batch_size, momentum=config.momentum
            )
            if run_bound is not None:  # this run's optimizer's bound (2(1+μ)/L with momentum)
                value = lr_max_text(run_bound.value)
                wordings = (f"ε_max {value}", f"εmax {value}", f"ε<{value}")
            else:  # no bound is known for this run: plain SGD's 2/L, said as such
                wordings = (
                    _("2/L {lr_max}: plain SGD's bound").format(lr_max=lr_max),
                    f"2/L {lr_max} (SGD)",
                    f"2/L {lr_max}",
                )
        hint.say(*wordings)
        bound.say(*wordings)
        learning_rate = self.form.typed_learning_rate()
        warning = self.query_one("#lr-warning", Static)
        if learning_rate is not None and diverges(config, learning_rate, self.lr_max):
            from engine.core.theory import stability_bound

            run_bound = stability_bound(
                self.lr_max, config.optimizer, config.batch_size, momentum=config.momentum
            )
            shown = lr_max_text(run_bound.value if run_bound is not None else self.lr_max)
            warning.update(
                _("⚠ ε {learning_rate:g} > ε_max {shown}: diverges").format(
                    learning_rate=learning_rate, shown=shown
                )
            )
            warning.display = True
        else:
            warning.display = False

    # -- what the student does --------------------------------------------------------

    @on(Input.Changed)
    def _edited(self, event: Input.Changed) -> None:
        event.stop()
        field = event.input
        assert isinstance(field, HyperparameterField)
        self.form.edit(field.spec.id, event.value)
        # Checked as it is typed: the reason shows at once, and stays when tab moves on.
        self._show_field(field)
        if field.spec.id == "optimizer":
            self._show_optimizers()
        elif field.spec.id == "lr":
            self._show_lr()
        self._show_edited()

    @on(Input.Submitted)
    def _apply(self, event: Input.Submitted) -> None:
        event.stop()
        submission = self.form.submit()
        if not submission.ok:
            # Nothing applied: every reason is on screen, and the first bad field takes the cursor.
            for field_id in self.form.specs:
                self._show_field(self._field(field_id))
            self.app.bell()
            first = self._field(next(iter(submission.errors)))
            if not first.has_focus:
                first.focus()
            return
        # The fields follow the settings once applied (the controller shows them).
        self.form.restore()
        self.post_message(self.Applied(submission.changes))

    @on(HyperparameterField.Cancelled)
    def _cancel(self, event: HyperparameterField.Cancelled) -> None:
        event.stop()
        self.restore()
        self.screen.set_focus(None)

    @on(Input.Blurred)
    def _leave(self, event: Input.Blurred) -> None:
        # Leaving a field keeps its text (a form): only Enter applies, only Escape restores.
        event.stop()
        # A text longer than its field (a list of rates, a path) shows from its start again.
        event.input.cursor_position = 0
        if event.input.id == "optimizer":
            self._show_optimizer_choices()
        self.call_after_refresh(self._home_unless_editing)

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if event.widget.id == "optimizer":
            self._show_optimizer_choices()

    def _home_unless_editing(self) -> None:
        # Done editing (not on to another field): back to the top, where the learning rate
        # and its ε_max warning are, on a terminal too small to show every field.
        if not any(field.has_focus for field in self.query(HyperparameterField)):
            self.scroll_home(animate=False)
