"""The data screen (d): the data of a run chosen in the app, and W, b labelled by the file's columns.

The form's decisions are tested without a terminal first (``DataForm``), then the screen is
driven with keys as a student would: open it, pick the file, choose the targets, apply;
every invalid field keeps it open with its reason beside it; Escape changes nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from textual.widgets import RadioSet
from tui_support import CONFIG, asyncio_test, screen_text, settle, wait_for

from engine.config import Config
from tui import presenter
from tui.app import AmalApp, build_session
from tui.data_screen import SOURCES, DataForm, DataScreen, complete_path, target_text
from tui.parameters import axis_labels, parameter_text_block, short_label

DIABETES = Path(__file__).parents[2] / "data" / "diabetes.csv"
COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "progression"]


def diabetes_here() -> str:
    """The data set in the test's own folder (its cwd), under its plain name."""
    shutil.copy(DIABETES, "diabetes.csv")
    return "diabetes.csv"


# -- the form, without a terminal --------------------------------------------------------------


def test_a_file_config_shows_its_columns_and_its_target():
    form = DataForm(CONFIG.replace(data=str(DIABETES), target="bmi,progression"))
    assert form.draft.source == "file"
    assert list(form.table.names) == COLUMNS
    assert form.draft.targets == (2, 10)
    assert form.draft.standardize is True  # standardize None: on for a file


def test_the_last_column_is_the_default_target_and_stays_unsaid():
    path = diabetes_here()
    form = DataForm(CONFIG)
    form.choose_source("file")
    form.read(path)
    assert form.draft.targets == (10,)
    submission = form.submit()
    assert submission.ok
    assert submission.changes == {
        "data": path,
        "target": None,
        "dropna": False,
        "test_fraction": 0.0,
        "standardize": None,  # the file's default: as on the command line
    }


def test_targets_chosen_become_the_target_setting():
    form = DataForm(CONFIG.replace(data=diabetes_here()))
    form.edit(targets=(10, 2), dropna=True, test_fraction="0.25", standardize=False)
    changes = form.submit().changes
    assert changes["target"] == "bmi,progression"
    assert changes["dropna"] is True and changes["test_fraction"] == 0.25
    assert changes["standardize"] is False
    assert CONFIG.replace(**changes).target == "bmi,progression"


def test_synthetic_sizes_are_read_by_the_engine_rules():
    form = DataForm(CONFIG)
    form.choose_source("synthetic")
    form.edit(n="1000", d="3", m="2", noise="0.5")
    changes = form.submit().changes
    assert changes == {
        "data": "synthetic",
        "n": 1000,
        "d": 3,
        "m": 2,
        "noise": 0.5,
        "test_fraction": 0.0,
        "standardize": None,
    }


def test_each_invalid_field_gives_one_line_naming_it():
    form = DataForm(CONFIG)
    form.choose_source("synthetic")
    cases = {
        ("n", "0"): ("n", "n: must be a positive integer, got 0"),
        ("n", "1"): ("n", "n must be at least 2, got 1"),
        ("d", "x"): ("d", "d: expected an integer, got 'x'"),
        ("noise", "-1"): ("noise", "noise: must be a finite number >= 0, got '-1'"),
        ("noise", "1e39"): ("noise", "noise 1e+39 is too large for float32"),
        ("test_fraction", "1"): ("test-fraction", "test fraction: must be in [0, 1), got '1'"),
    }
    for (setting, text), (field_id, reason) in cases.items():
        form = DataForm(CONFIG)
        form.choose_source("synthetic")
        form.edit(**{setting: text})
        submission = form.submit()
        assert not submission.ok and submission.changes == {}
        assert list(submission.errors) == [field_id]
        assert submission.errors[field_id].startswith(reason), submission.errors
        assert "\n" not in submission.errors[field_id]


def test_a_file_that_cannot_be_read_or_a_target_it_cannot_take_is_refused():
    form = DataForm(CONFIG)
    form.choose_source("file")
    form.read("nosuch.csv")
    assert form.submit().errors == {"path": "file: no such file"}
    form.read("")
    assert form.submit().errors == {"path": "file: expected a file path, got nothing"}
    form.read(diabetes_here())
    form.edit(targets=())
    assert form.submit().errors == {"target": "target: choose at least one column (space marks it)"}
    form.edit(targets=tuple(range(11)))
    assert form.submit().errors == {
        "target": "target: no feature column left: the target takes all 11 columns"
    }


def test_a_file_whose_columns_changed_after_they_were_shown_asks_for_the_target_again():
    path = diabetes_here()
    form = DataForm(CONFIG.replace(data=path, target="bmi"))
    Path(path).write_text("a,b,c\n1,2,3\n4,5,6\n")
    assert form.submit().errors == {
        "target": "target: the file's columns changed since they were shown; choose again"
    }
    assert list(form.table.names) == ["a", "b", "c"]  # read again: the new columns to choose from


def test_a_target_name_the_parser_would_misread_is_written_as_an_index():
    Path("odd.csv").write_text('x,"a,b",x,y\n1,2,3,4\n5,6,7,9\n')
    form = DataForm(CONFIG.replace(data="odd.csv"))
    assert target_text(form.table, (1, 3)) == '"a,b",y'  # a comma: quoted
    assert target_text(form.table, (0, 3)) == "0,y"  # a name given twice: its index
    from engine.data.reading import table_columns

    assert table_columns("odd.csv", target_text(form.table, (0, 1))).targets == (0, 1)


def test_standardise_follows_the_source_unless_the_config_set_it():
    form = DataForm(CONFIG)
    assert form.draft.standardize is False
    form.choose_source("file")
    assert form.draft.standardize is True
    form = DataForm(CONFIG.replace(standardize=False))
    form.choose_source("file")
    assert form.draft.standardize is False


def test_a_path_is_completed_from_its_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "diabetes.csv").write_text("a,b\n1,2\n")
    (tmp_path / "data" / "diabetes.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    assert complete_path("da") == "data/"
    assert complete_path("data/") == "data/diabetes.csv"  # a table before another file
    assert complete_path("data/diabetes.j") == "data/diabetes.json"
    assert complete_path("data/diabetes.csv") is None
    assert complete_path("zz") is None and complete_path("") is None
    assert complete_path("nosuch/folder/x") is None
    assert complete_path("\0") is None


# -- the labels of W and b -----------------------------------------------------------------------


def test_names_are_cut_to_fit_and_escaped():
    assert short_label("progression", 6) == "progr…"
    assert short_label("bmi", 6) == "bmi"
    assert short_label("a\x1b[2Jb", 10) == "a\\x1b[2Jb"
    rows, header = axis_labels((["age", "cholesterol"], ["progression"]))
    assert rows == ["age", "chole…"]
    assert header == "       progressi…"
    assert axis_labels(None) == (None, None)


class Snapshot:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.delta_W = self.delta_b = None
        self.grad_W_norm = self.grad_b_norm = 1.0


def test_w_rows_carry_the_feature_names_and_the_columns_the_target_names():
    snapshot = Snapshot(np.array([[0.5], [-0.25]]), np.array([[0.125]]))
    text = parameter_text_block(snapshot, names=(["age", "bmi"], ["progression"])).plain
    lines = text.splitlines()
    assert lines[1].strip() == "progressi…" and lines[-3].strip() == "progressi…"
    assert lines[2].startswith("age ") and lines[3].startswith("bmi ")
    plain = parameter_text_block(snapshot).plain  # no names: indexes, no header
    assert plain.splitlines()[1].startswith("0 ") and "progress" not in plain


def test_only_a_file_gives_names():
    class Notes:
        def __init__(self, source):
            self.source, self.features, self.targets = source, ("x0",), ("y0",)

    class Problem:
        def __init__(self, data):
            self.data = data

    assert presenter.parameter_names(Problem(None)) is None  # the notebook's problem
    assert presenter.parameter_names(Problem(Notes("synthetic"))) is None
    assert presenter.parameter_names(Problem(Notes("toy"))) is None
    assert presenter.parameter_names(Problem(Notes("a.csv"))) == (("x0",), ("y0",))


# -- the screen, driven with keys ------------------------------------------------------------


class CountingApp(AmalApp):
    """The app, counting the Experiments it builds."""

    def __init__(self, config: Config) -> None:
        self.builds: list[Config] = []

        def factory(config: Config, warn, **options):
            self.builds.append(config)
            return build_session(config, warn, **options)

        super().__init__(config, session_factory=factory)


def screen(app: AmalApp) -> DataScreen:
    assert isinstance(app.screen, DataScreen), app.screen
    return app.screen


async def open_screen(pilot) -> DataScreen:
    await settle(pilot)
    await pilot.press("d")
    await pilot.pause()
    return screen(pilot.app)


async def choose_source(pilot, index: int) -> None:
    """The source's radio buttons: toy, synthetic, file; → moves, space chooses."""
    data = screen(pilot.app)
    data.query_one("#data-source", RadioSet).focus()
    await pilot.pause()
    # The highlight starts on the source chosen; → goes round.
    moves = (index - SOURCES.index(data.form.draft.source)) % len(SOURCES)
    await pilot.press(*(["right"] * moves), "space")
    await pilot.pause()


async def retype(pilot, field_id: str, text: str) -> None:
    screen(pilot.app).field(field_id).focus()
    await pilot.pause()
    await pilot.press("ctrl+a", "ctrl+k", *text)
    await pilot.pause()


@asyncio_test
async def test_pick_a_file_choose_its_targets_and_apply():
    path = diabetes_here()
    app = CountingApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        data = await open_screen(pilot)
        assert "in use: toy: n=50, d=13, m=3" in screen_text(app)
        await choose_source(pilot, 2)
        assert data.form.draft.source == "file"
        await pilot.press("tab")  # from the source to the file's path
        assert app.focused is data.field("path")
        await pilot.press(*"diab")
        await pilot.pause()
        await pilot.press("right")  # accepts the completion
        await pilot.pause()
        assert data.field("path").value == path
        targets = data.field("target")
        assert [str(option.prompt) for option in targets.options] == COLUMNS
        assert targets.selected == [10]  # the last column, as on the command line
        targets.focus()
        await pilot.press("down", "down", "down", "space")  # bmi too
        await pilot.pause()
        await pilot.click("#data-apply")
        await settle(pilot)
        assert not isinstance(app.screen, DataScreen)
        assert (app.config.data, app.config.target) == (path, "bmi,progression")
        assert tuple(app.descents[0].W.shape) == (9, 2)
        text = screen_text(app)
        assert "diabetes.csv: n=442, d=9, m=2" in text  # the chart's title
        rows = [line.split("│")[-2].strip() for line in text.splitlines() if "│age " in line]
        assert rows and rows[0].startswith("age ")
        assert "bmi  progressi…" in text  # the columns of W and b: the targets
        assert not any("│bmi " in line for line in text.splitlines())  # a target, not a row


@asyncio_test
async def test_synthetic_sizes_from_the_screen():
    app = CountingApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_screen(pilot)
        await choose_source(pilot, 1)
        await retype(pilot, "n", "300")
        await retype(pilot, "d", "4")
        await retype(pilot, "m", "2")
        await pilot.press("enter")
        await settle(pilot)
        assert (app.config.data, app.config.n, app.config.d, app.config.m) == (
            "synthetic",
            300,
            4,
            2,
        )
        assert tuple(app.descents[0].W.shape) == (4, 2)
        assert "‖θ−θ_true‖" in screen_text(app)


@asyncio_test
async def test_each_invalid_field_keeps_the_screen_open_with_its_reason_beside_it():
    diabetes_here()
    app = CountingApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        data = await open_screen(pilot)
        builds = len(app.builds)
        await choose_source(pilot, 1)
        cases = [
            ("n", "0", "n", "✗ n: must be a positive integer, got 0"),
            ("n", "1", "n", "✗ n must be at least 2, got 1"),
            ("d", "many", "d", "✗ d: expected an integer, got 'many'"),
            ("noise", "-1", "noise", "✗ noise: must be a finite number >= 0, got '-1'"),
            ("test-fraction", "1", "test-fraction", "✗ test fraction: must be in [0, 1)"),
        ]
        for field_id, text, error_id, reason in cases:
            await retype(pilot, field_id, text)
            await pilot.press("enter")
            await pilot.pause()
            assert screen(app) is data
            assert (data.error_text(error_id) or "").startswith(reason), data.error_text(error_id)
            assert reason[2:] in screen_text(app)  # on screen, in one line
            await retype(pilot, field_id, {"n": "200", "d": "5", "noise": "0.1"}.get(field_id, "0"))
            assert data.error_text(error_id) is None  # typing clears it
        await choose_source(pilot, 2)
        await retype(pilot, "path", "nosuch.csv")
        assert data.error_text("path") is None  # a path half typed: not yet
        await pilot.press("enter")
        await pilot.pause()
        assert screen(app) is data and data.error_text("path") == "✗ file: no such file"
        Path("binary.csv").write_bytes(b"\0\1\2")
        await retype(pilot, "path", "binary.csv")  # a file that is there: said as it is typed
        assert data.error_text("path") == "✗ file: binary content (NUL bytes), not a text table"
        await retype(pilot, "path", "diabetes.csv")
        assert data.error_text("path") is None
        targets = data.field("target")
        targets.focus()
        await pilot.press("end", "space")  # the last column unmarked: no target
        await pilot.click("#data-apply")
        await pilot.pause()
        assert screen(app) is data
        assert data.error_text("target") == "✗ target: choose at least one column (space marks it)"
        targets.select_all()
        await pilot.click("#data-apply")
        await pilot.pause()
        assert data.error_text(
            "target",
        ) == ("✗ target: no feature column left: the target takes all 11 columns")
        Path("diabetes.csv").write_text("a,b\n1,2\n3,4\n")  # a target no longer in the header
        targets.deselect_all()
        targets.select(10)
        before = data.error_text("target")
        await pilot.click("#data-apply")
        # The click's message can need more than one pause on a loaded machine (it once
        # found no error yet): wait for the apply's answer, then check it.
        await wait_for(pilot, lambda: data.error_text("target") != before, 10, "the answer")
        assert screen(app) is data
        assert data.error_text("target") == (
            "✗ target: the file's columns changed since they were shown; choose again"
        )
        assert [str(option.prompt) for option in targets.options] == ["a", "b"]
        assert app.config == CONFIG and len(app.builds) == builds  # nothing was applied


@asyncio_test
async def test_escape_changes_nothing_and_the_screen_shows_the_settings_in_use_again():
    app = CountingApp(CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        data = await open_screen(pilot)
        await pilot.press("s")  # the screen takes the run's keys: nothing moves
        builds = len(app.builds)
        await choose_source(pilot, 1)
        await retype(pilot, "n", "500")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DataScreen)
        assert app.config == CONFIG and len(app.builds) == builds
        assert app.session.descent.iteration == 0
        data = await open_screen(pilot)
        assert data.form.draft.source == "toy" and data.form.draft.n == "200"
        assert data.field("n").value == "200"
        assert not data.query_one("#data-n-row").display  # synthetic's fields: hidden for toy


@asyncio_test
async def test_the_screen_fits_80x24_and_says_what_the_loader_did():
    Path("gaps.csv").write_text("a,b,c,y\n1,2,7,1\n2,?,7,2\n3,1,7,3\n4,5,7,5\n")
    app = AmalApp(CONFIG.replace(data="gaps.csv", dropna=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        described = presenter.data_description(app.experiment.problem)  # the chart's title
        assert described == "gaps.csv: n=3, d=3, m=1, standardised, 1 row dropped"
        await open_screen(pilot)
        text = screen_text(app)
        assert "1 row with missing values dropped" in text
        assert "constant" in text  # column c: centred only, and said so
        for word in ("toy", "synthetic", "file", "gaps.csv", "standardise", "test fraction"):
            assert word in text, word
        assert "Apply" in text and "Cancel" in text
        # On or off in characters, not colour alone (NO_COLOR, 16 colours).
        assert "▐▌ toy" in text and "▐●▌ file" in text  # (blanks are dropped here)
        assert "▐X▌ standardise" in text and "▐X▌ drop rows" in text
        assert "target (space marks a column): y" in text
