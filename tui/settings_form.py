"""The settings as a form, in plain Python (no Textual): a draft per field, applied together.

What a student types in a field is kept as that field's draft while tab and shift+tab
move between the fields; Enter checks every edited field with the engine's own
parsers (``engine.config``: the CLI's rules, in one place) and applies them all at
once, or none when one of them is not valid; Escape restores every field to the
settings in use.  :class:`~tui.hyperparameters.HyperparameterPanel` shows a
:class:`SettingsForm`; the tests drive it without a terminal.

While learning rates are compared, the learning-rate field holds the list of
them ("0.0001, 0.01, 0.5") and edits the comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.config import (
    Config,
    ConfigError,
    parse_batch_size,
    parse_beta,
    parse_compare,
    parse_data,
    parse_learning_rate,
    parse_max_iter,
    parse_momentum,
    parse_optimizer,
    parse_optional_seed,
    parse_seed,
    parse_threshold,
)
from engine.i18n import N_


@dataclass(frozen=True)
class FieldSpec:
    id: str
    """The widget id of the field."""
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
    """Takes the whole row (a file path, a list), without a hint beside it."""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("lr", "learning_rate", N_("learning rate"), parse_learning_rate),
    FieldSpec("seed", "seed", N_("seed"), parse_seed),
    FieldSpec("init-seed", "init_seed", N_("init seed"), parse_optional_seed, N_("= seed")),
    FieldSpec("threshold", "threshold", N_("threshold"), parse_threshold),
    FieldSpec("max-iter", "max_iter", N_("max iter"), parse_max_iter),
    FieldSpec("optimizer", "optimizer", N_("optimizer"), parse_optimizer,
              hint=("sgd momentum nesterov adam", "")),
    FieldSpec("momentum", "momentum", N_("momentum"), parse_momentum, hint=(N_("μ in [0, 1)"),),
              optimizers=("momentum", "nesterov")),
    FieldSpec("beta1", "beta1", "β1", parse_beta, hint=(N_("in [0, 1)"),), optimizers=("adam",)),
    FieldSpec("beta2", "beta2", "β2", parse_beta, hint=(N_("in [0, 1)"),), optimizers=("adam",)),
    FieldSpec("batch-size", "batch_size", N_("batch size"), parse_batch_size, "full",
              (N_("empty: all the points"), N_("empty: all"), N_("empty=all"))),
    FieldSpec("data", "data", N_("data"), parse_data, wide=True),
)  # fmt: skip

COMPARED_RATES = FieldSpec("lr", "compare", N_("learning rates"), parse_compare, wide=True)
"""The learning-rate field while comparing: the list of the rates compared."""


def field_text(config: Config, setting: str) -> str:
    """How a setting is written in its field."""
    value = getattr(config, setting)
    if value is None:
        return ""
    if isinstance(value, tuple):  # the learning rates compared
        return ", ".join(f"{rate:.12g}" for rate in value)
    if isinstance(value, float):
        return f"{value:.12g}"
    return str(value)


def specs_for(config: Config) -> tuple[FieldSpec, ...]:
    """The fields of the form for ``config``: the learning rate is a list while comparing."""
    if not config.compare:
        return FIELDS
    return tuple(COMPARED_RATES if spec.id == "lr" else spec for spec in FIELDS)


@dataclass(frozen=True)
class Submission:
    """What Enter gives: the settings to apply together, or why not (by field id)."""

    changes: dict[str, Any] = field(default_factory=dict)
    """Config field → parsed value, for every edited field; empty when one is invalid."""
    errors: dict[str, str] = field(default_factory=dict)
    """Field id → one line naming the field and its problem, for each invalid field."""

    @property
    def ok(self) -> bool:
        return not self.errors


class SettingsForm:
    """The text of each field: the settings in use (``applied``) and what is typed (drafts)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.specs = {spec.id: spec for spec in specs_for(config)}
        self.applied = {id: field_text(config, spec.setting) for id, spec in self.specs.items()}
        self.drafts = dict(self.applied)

    # -- what the fields say -----------------------------------------------------------

    def edited(self, id: str) -> bool:
        """Whether the field's text differs from the setting in use."""
        return self.drafts[id] != self.applied[id]

    def edited_ids(self) -> list[str]:
        """The edited fields that count (shown for the optimizer typed), in the form's order."""
        return [id for id in self.specs if self.edited(id) and self.shown(id)]

    def parse(self, id: str) -> Any:
        """The field's draft as the engine reads it; raises ConfigError."""
        spec = self.specs[id]
        return spec.parse(self.drafts[id], spec.label)

    def error(self, id: str) -> str | None:
        """Why the field's draft is not a valid setting (naming the field), or None.

        A field not edited holds the setting in use, valid by construction.
        """
        if not self.edited(id):
            return None
        try:
            self.parse(id)
        except ConfigError as error:
            return str(error)
        return None

    def optimizer(self) -> str:
        """The optimizer typed, once it is a valid one; the one in use until then."""
        try:
            return self.parse("optimizer")
        except ConfigError:
            return self.config.optimizer

    def shown(self, id: str) -> bool:
        """An optimizer's own settings (μ, β1, β2) show only with that optimizer."""
        optimizers = self.specs[id].optimizers
        return not optimizers or self.optimizer() in optimizers

    def typed_learning_rate(self) -> float | None:
        """The learning rate typed (or in use), for the divergence warning; None while
        comparing or while the text is not a learning rate."""
        if self.config.compare:
            return None
        try:
            return self.parse("lr")
        except ConfigError:
            return None

    # -- what the student does ---------------------------------------------------------

    def edit(self, id: str, text: str) -> None:
        self.drafts[id] = text

    def submit(self) -> Submission:
        """Enter: every edited field that counts, parsed, or every reason why not."""
        changes: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for id in self.edited_ids():
            try:
                changes[self.specs[id].setting] = self.parse(id)
            except ConfigError as error:
                errors[id] = str(error)
        # Like a form: all or nothing, so the run never starts from half of what was typed.
        return Submission({} if errors else changes, errors)

    def restore(self) -> None:
        """Escape: every field back to the setting in use."""
        self.drafts = dict(self.applied)

    def show(self, config: Config) -> None:
        """New settings are in use (applied, or changed by a key such as +).

        A field whose draft was the old setting follows the new one; an edit not yet
        applied is kept, unless the field changed meaning (comparing or not).
        """
        specs = {spec.id: spec for spec in specs_for(config)}
        applied = {id: field_text(config, spec.setting) for id, spec in specs.items()}
        for id, spec in specs.items():
            if not self.edited(id) or spec != self.specs[id]:
                self.drafts[id] = applied[id]
        self.config, self.specs, self.applied = config, specs, applied
