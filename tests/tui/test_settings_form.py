"""The settings form without a terminal: drafts kept per field, applied together or not at all.

The App's side (tab, shift+tab, Enter, Escape in the real panel) is in
``test_tui_settings_form.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import MAX_COMPARE, Config, ConfigError
from tui.controller import RunController
from tui.settings_form import FIELDS, SettingsForm, field_text

CONFIG = Config(tensorboard=False)
COMPARING = CONFIG.replace(compare=(0.0001, 0.01, 0.5))


def test_every_field_starts_with_the_setting_in_use_and_nothing_edited():
    form = SettingsForm(CONFIG)
    assert form.drafts["lr"] == "0.01" and form.drafts["threshold"] == "0.7"
    assert form.drafts["init-seed"] == "" and form.drafts["batch-size"] == ""
    assert form.edited_ids() == []
    assert form.submit().ok and form.submit().changes == {}


def test_each_field_keeps_its_draft_while_others_are_edited():
    form = SettingsForm(CONFIG)
    form.edit("lr", "0.5")
    form.edit("threshold", "1.5")
    form.edit("seed", "42")  # typed back to the setting in use: not an edit
    assert form.drafts["lr"] == "0.5" and form.drafts["threshold"] == "1.5"
    assert form.edited_ids() == ["lr", "threshold"]


def test_enter_gives_every_edited_field_at_once_parsed_by_the_engine():
    form = SettingsForm(CONFIG)
    form.edit("lr", "1e-3")
    form.edit("max-iter", "100")
    form.edit("init-seed", "7")
    form.edit("batch-size", "full")  # "full" is no batch size: the same as the empty text
    submission = form.submit()
    assert submission.ok
    assert submission.changes == {
        "learning_rate": 0.001,
        "init_seed": 7,
        "max_iter": 100,
        "batch_size": None,
    }
    assert CONFIG.replace(**submission.changes).max_iter == 100


def test_one_invalid_field_applies_none_and_each_reason_names_its_field():
    form = SettingsForm(CONFIG)
    form.edit("lr", "0.5")
    form.edit("seed", "x")
    form.edit("max-iter", "0")
    submission = form.submit()
    assert not submission.ok
    assert submission.changes == {}  # all or nothing, like a form
    assert submission.errors == {
        "seed": "seed: expected an integer, got 'x'",
        "max-iter": "max iter: must be a positive integer, got 0",
    }
    assert form.error("seed") == submission.errors["seed"] and form.error("lr") is None
    assert form.drafts["seed"] == "x" and form.drafts["lr"] == "0.5"  # the texts stay


def test_escape_restores_every_field():
    form = SettingsForm(CONFIG)
    form.edit("lr", "0.5")
    form.edit("seed", "x")
    form.restore()
    assert form.drafts == SettingsForm(CONFIG).drafts
    assert form.edited_ids() == [] and form.error("seed") is None


def test_new_settings_in_use_replace_the_fields_not_being_edited():
    form = SettingsForm(CONFIG)
    form.edit("threshold", "1.5")
    form.show(CONFIG.replace(learning_rate=0.1, threshold=0.9))  # e.g. + pressed meanwhile
    assert form.drafts["lr"] == "0.1"
    assert form.drafts["threshold"] == "1.5" and form.edited_ids() == ["threshold"]
    form.show(CONFIG.replace(threshold=1.5))  # the edit applied: nothing left to apply
    assert form.edited_ids() == []


def test_an_optimizers_own_fields_count_with_the_optimizer_typed():
    form = SettingsForm(CONFIG)
    assert not form.shown("momentum") and not form.shown("beta1")
    form.edit("momentum", "x")  # hidden (sgd): neither checked nor applied
    assert form.submit().ok and form.submit().changes == {}
    form.edit("optimizer", "Adam")
    assert form.shown("beta1") and not form.shown("momentum")
    form.edit("beta1", "0.8")
    assert form.submit().changes == {"optimizer": "adam", "beta1": 0.8}
    form.edit("optimizer", "nesterov")
    assert "momentum" in form.submit().errors


def test_an_empty_data_field_is_refused_naming_it():
    form = SettingsForm(CONFIG)
    form.edit("data", "  ")
    assert form.submit().errors == {
        "data": "data: expected toy, synthetic or a file path, got nothing"
    }


def test_the_learning_rate_field_holds_the_rates_compared():
    form = SettingsForm(COMPARING)
    assert form.drafts["lr"] == "0.0001, 0.01, 0.5"
    assert form.specs["lr"].label == "learning rates"
    assert form.typed_learning_rate() is None  # no single ε to warn about
    form.edit("lr", "0.001, 0.1")
    assert form.submit().changes == {"compare": (0.001, 0.1)}
    form.edit("lr", "")  # empty: back to one run, as c's prompt
    assert form.submit().changes == {"compare": ()}


@pytest.mark.parametrize(
    "text, reason",
    [
        ("0.1, 0", "'0' is not a learning rate: must be a positive finite number"),
        ("0.1, inf", "'inf' is not a learning rate: must be a positive finite number"),
        ("0.1, nan", "'nan' is not a learning rate"),
        ("0.1,, 0.5", "a learning rate is missing"),
        (", ".join(["0.1"] * (MAX_COMPARE + 1)), f"at most {MAX_COMPARE} learning rates, got 9"),
    ],
)
def test_the_rates_compared_are_checked_by_the_engines_rules(text, reason):
    form = SettingsForm(COMPARING)
    form.edit("lr", text)
    error = form.submit().errors["lr"]
    assert error.startswith("learning rates: ") and reason in error


def test_going_into_or_out_of_a_comparison_resets_the_learning_rate_field():
    form = SettingsForm(CONFIG)
    form.edit("lr", "0.5")
    form.edit("seed", "7")
    form.show(COMPARING)  # the field changed meaning: its draft would be misread
    assert form.drafts["lr"] == "0.0001, 0.01, 0.5" and form.edited_ids() == ["seed"]
    form.show(CONFIG)
    assert form.drafts["lr"] == "0.01"


def test_field_text_writes_what_parses_back():
    config = CONFIG.replace(learning_rate=1e-7, threshold=float("inf"), compare=(1e-5, 0.25))
    for spec in FIELDS:
        text = field_text(config, spec.setting)
        assert spec.parse(text, spec.label) == getattr(config, spec.setting), spec.id
    assert field_text(config, "compare") == "1e-05, 0.25"


# -- any text typed: the form agrees with the engine's parsers, field by field ------------------

TEXTS = st.text(alphabet="0123456789.-e, xfulsgdamN", max_size=8)
IDS = [spec.id for spec in FIELDS if spec.id != "data"]  # data: a file path, tested above


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(IDS), TEXTS, max_size=5))
def test_any_typing_applies_all_or_none_as_the_engine_parses_each_field(typed):
    form = SettingsForm(CONFIG)
    for field_id, text in typed.items():
        form.edit(field_id, text)
    submission = form.submit()
    expected_changes: dict[str, Any] = {}
    expected_errors: dict[str, str] = {}
    for field_id in form.edited_ids():
        spec = form.specs[field_id]
        try:
            expected_changes[spec.setting] = spec.parse(typed[field_id], spec.label)
        except ConfigError as error:
            expected_errors[field_id] = str(error)
    assert submission.errors == expected_errors
    assert submission.changes == ({} if expected_errors else expected_changes)
    if submission.ok:
        config = CONFIG.replace(**submission.changes)  # what the controller builds: valid
        for setting, value in submission.changes.items():
            assert getattr(config, setting) == value


# -- the controller applies them together -------------------------------------------------------


class Recorder:
    """A port that records what the controller asks of it (see test_controller for a full one)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            return name  # a "worker"

        return call

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for called, args in self.calls if called == name]


def test_the_controller_builds_one_new_run_with_every_setting_applied():
    port = Recorder()
    controller = RunController(CONFIG, port)
    changes = {"learning_rate": 0.5, "threshold": 1.5, "max_iter": 100}
    asyncio.run(controller.apply_settings(changes))
    wanted = CONFIG.replace(learning_rate=0.5, threshold=1.5, max_iter=100)
    assert port.named("start_load") == [(wanted, None)]  # one load, with all three
    assert port.named("show_config") == [(wanted,)]
