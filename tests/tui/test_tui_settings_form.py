"""The settings panel as a form, driven with keys: tab and shift+tab keep every typed value,
Enter applies them all at once (or none), Escape restores them all.

The form's logic without a terminal is in ``test_settings_form.py``.
"""

from __future__ import annotations

from textual.widgets import Input
from tui_support import CONFIG, ENDLESS, asyncio_test, running, screen_text, settle

from engine.config import Config
from tui.app import AmalApp, build_session
from tui.hyperparameters import FieldHint, HyperparameterPanel

COMPARING = CONFIG.replace(init_seed=42, compare=(0.0001, 0.01, 0.5))


class CountingApp(AmalApp):
    """The app, counting the Experiments it builds (one per Enter, however many fields)."""

    def __init__(self, config: Config) -> None:
        self.builds: list[Config] = []

        def factory(config: Config, warn, **options):
            self.builds.append(config)
            return build_session(config, warn, **options)

        super().__init__(config, session_factory=factory)


def panel(app: AmalApp) -> HyperparameterPanel:
    return app.query_one("#hyperparameters", HyperparameterPanel)


def value(app: AmalApp, field_id: str) -> str:
    return app.query_one(f"#{field_id}", Input).value


async def tab_to(pilot, field_id: str, key: str = "tab") -> None:
    """Tab (or shift+tab) until ``field_id`` has the cursor, as a user moves in the form."""
    for _ in range(20):
        if pilot.app.focused is not None and pilot.app.focused.id == field_id:
            return
        await pilot.press(key)
    raise AssertionError(f"{key} never reached {field_id}")


async def retype(pilot, text: str) -> None:
    await pilot.press("ctrl+a", "ctrl+k", *text)  # select_on_focus selects all anyway
    await pilot.pause()


@asyncio_test
async def test_tab_keeps_a_typed_value_and_applies_nothing():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        session = app.session
        await tab_to(pilot, "lr")
        await retype(pilot, "0.5")
        await pilot.press("tab")  # on to the seed: the learning rate typed stays
        await retype(pilot, "7")
        await tab_to(pilot, "threshold")
        await pilot.pause()
        assert value(app, "lr") == "0.5" and value(app, "seed") == "7"
        assert panel(app).edited() == ["lr", "seed"]
        assert "2 edited" in panel(app).border_subtitle
        assert app.config == CONFIG and app.session is session  # nothing applied yet
        assert session.descent.iteration == 1


@asyncio_test
async def test_shift_tab_goes_back_keeping_both_values():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await tab_to(pilot, "threshold")
        await retype(pilot, "1.5")
        await tab_to(pilot, "lr", "shift+tab")
        assert value(app, "threshold") == "1.5"
        await retype(pilot, "0.5")
        await tab_to(pilot, "threshold")
        assert value(app, "lr") == "0.5" and value(app, "threshold") == "1.5"
        assert app.config == CONFIG


@asyncio_test
async def test_enter_applies_every_edited_field_at_once():
    app = CountingApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s", "s")
        await settle(pilot)
        await tab_to(pilot, "lr")
        await retype(pilot, "0.5")
        await tab_to(pilot, "threshold")
        await retype(pilot, "1.5")
        await pilot.press("tab")
        await retype(pilot, "100")
        await pilot.press("enter")
        await settle(pilot)
        wanted = CONFIG.replace(learning_rate=0.5, threshold=1.5, max_iter=100)
        assert app.config == wanted and app.session.config == wanted
        assert app.builds == [CONFIG, wanted]  # one new run, not one per field
        assert app.session.descent.iteration == 0 and app.focused is None
        # The fields show the settings in use, none of them left to apply.
        assert (value(app, "lr"), value(app, "threshold"), value(app, "max-iter")) == (
            "0.5",
            "1.5",
            "100",
        )
        assert panel(app).edited() == []


@asyncio_test
async def test_escape_restores_every_field():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await tab_to(pilot, "lr")
        await retype(pilot, "0.5")
        await pilot.press("tab")
        await retype(pilot, "x")  # invalid: its reason shows
        await tab_to(pilot, "optimizer")
        await retype(pilot, "adam")
        assert panel(app).error_text("seed") is not None
        await pilot.press("escape")
        await settle(pilot)
        assert app.focused is None and app.config == CONFIG
        assert (value(app, "lr"), value(app, "seed"), value(app, "optimizer")) == (
            "0.01",
            "42",
            "sgd",
        )
        assert panel(app).edited() == [] and panel(app).error_text("seed") is None
        assert not app.query_one("#beta1-row").display  # adam's fields go with it
        assert app.session.descent.iteration == 1
        await pilot.press("s")  # the run's keys work again
        await settle(pilot)
        assert app.session.descent.iteration == 2


@asyncio_test
async def test_an_invalid_field_keeps_its_text_shows_why_and_nothing_is_applied():
    app = CountingApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s", "s")
        await settle(pilot)
        session = app.session
        await tab_to(pilot, "lr")
        await retype(pilot, "0.5")  # valid
        await pilot.press("tab")
        await retype(pilot, "x")  # not a seed
        await tab_to(pilot, "max-iter")
        await retype(pilot, "100")  # valid
        await pilot.press("enter")
        await settle(pilot)
        # None applied, not even the valid ones: the run goes on as it was.
        assert app.config == CONFIG and app.session is session
        assert session.descent.iteration == 2 and app.builds == [CONFIG]
        reason = "✗ seed: expected an integer, got 'x'"
        assert panel(app).error_text("seed") == reason
        assert reason in screen_text(app)  # on one line, naming the field
        assert (value(app, "lr"), value(app, "seed"), value(app, "max-iter")) == (
            "0.5",
            "x",
            "100",
        )
        assert app.focused.id == "seed"  # the cursor goes to what must be fixed
        await retype(pilot, "7")
        assert panel(app).error_text("seed") is None
        await pilot.press("enter")
        await settle(pilot)
        assert app.config == CONFIG.replace(learning_rate=0.5, seed=7, max_iter=100)


@asyncio_test
async def test_an_optimizer_typed_shows_its_own_fields_before_it_is_applied():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await tab_to(pilot, "optimizer")
        await retype(pilot, "adam")
        await pilot.press("tab")
        assert app.focused.id == "beta1"
        await retype(pilot, "0.8")
        await pilot.press("enter")
        await settle(pilot)
        assert app.config.optimizer == "adam" and app.config.beta1 == 0.8


@asyncio_test
async def test_settings_applied_during_a_run_stop_it_and_start_over_at_iteration_0():
    """As the app has always done: a new run with the new settings, waiting for r."""
    app = AmalApp(ENDLESS)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await tab_to(pilot, "lr")
        await retype(pilot, "0.02")
        await tab_to(pilot, "seed")
        await retype(pilot, "7")
        # Pilot waits for the app to idle after each key: start the run after typing.
        await app.run_action("toggle_run")
        await running(pilot)
        assert value(app, "lr") == "0.02"  # the run's progress leaves the drafts alone
        await pilot.press("enter")
        await settle(pilot)
        await pilot.pause(0.1)
        assert (app.session.config.learning_rate, app.session.config.seed) == (0.02, 7)
        assert app.session.descent.iteration == 0 and not app.running


@asyncio_test
async def test_comparing_the_learning_rate_field_is_the_list_of_rates_compared():
    app = CountingApp(COMPARING)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        problem = app.experiment.problem
        assert value(app, "lr") == "0.0001, 0.01, 0.5"
        assert "learning rates" in screen_text(app)
        hint = panel(app).hint_text("lr")
        assert hint.startswith("c: ") and "one run" in hint and hint in screen_text(app)

        await tab_to(pilot, "lr")
        await retype(pilot, "0.001, 0")
        assert "learning rates: '0' is not a learning rate" in panel(app).error_text("lr")
        await pilot.press("enter")
        await settle(pilot)
        assert app.config == COMPARING and len(app.builds) == 1  # not applied

        await retype(pilot, "0.001, 0.1")
        await pilot.press("enter")
        await settle(pilot)
        assert app.config.compare == (0.001, 0.1)
        assert [d.config.learning_rate for d in app.descents] == [0.001, 0.1]
        assert app.experiment.problem is problem  # the same data, not read again
        assert value(app, "lr") == "0.001, 0.1"

        await tab_to(pilot, "lr")
        await retype(pilot, "")  # empty: back to one run
        await pilot.press("enter")
        await settle(pilot)
        assert app.config.compare == () and len(app.descents) == 1
        assert value(app, "lr") == "0.01" and panel(app).hint_text("lr") == "ε_max 1.532"


# -- at the lab's 80×24, nothing of the form is cut -----------------------------------------


def _cut_hints(app: AmalApp) -> list[str]:
    return [
        f"{hint.id}: {hint.render()!r}"
        for hint in app.query(FieldHint)
        if hint.display and hint.parent.display and len(hint.render()) > hint.content_region.width
    ]


@asyncio_test
async def test_at_80x24_every_hint_fits_and_the_optimizers_choices_show_when_typed():
    app = AmalApp(CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert _cut_hints(app) == []
        assert "…" not in screen_text(app).split("╰")[0]  # the panel's rows
        await tab_to(pilot, "optimizer")
        await pilot.pause()
        # Under the field, in two rows of the compact layout's narrow column.
        assert "sgd · momentum" in screen_text(app) and "nesterov · adam" in screen_text(app)
        await pilot.press("tab")
        await pilot.pause()
        assert "nesterov · adam" not in screen_text(app)


@asyncio_test
async def test_at_80x24_the_rates_compared_and_what_c_does_fit():
    app = AmalApp(COMPARING)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert _cut_hints(app) == []
        field = app.query_one("#lr", Input)
        assert field.content_region.width > len("0.0001, 0.01, 0.5")
        text = screen_text(app)
        assert "learning rates" in text and "0.0001, 0.01, 0.5" in text
        # What c does, in the longest wording the compact layout's column holds, whole.
        said = panel(app).hint_text("lr")
        assert said.startswith("c: ") and "empty: " in said and said in text
