"""The data screen (``d``): which data a run descends on, chosen in the app.

A source (the notebook's toy problem, synthetic data, or a table file), then that
source's own settings: for a file its path (completed from the folder as it is
typed, → accepts), its target columns picked from the header (only the first lines
are read, as the path is typed), dropping the rows with a missing value; for
synthetic data n, d, m and the noise; for every source standardising and the test
fraction.  Enter applies them all (the run starts over on the new data, as a
setting applied in the form does); a field that is not valid keeps the screen open
with its reason beside it, naming it; Escape closes it and changes nothing.

Every rule is the engine's: the fields are read by ``engine.config``'s parsers, a
file's header and target by :func:`engine.data.reading.table_columns`, synthetic
sizes by :func:`engine.data.synthetic.check_synthetic` (this module has none of its
own).  What :class:`DataForm` decides is plain Python, tested without a terminal.
A bad cell further down a file is found only when the data are read, after Enter:
the run on screen stays, and a notification names the row and the column.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.suggester import Suggester
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    RadioButton,
    RadioSet,
    SelectionList,
    Static,
)

from engine.config import (
    Config,
    ConfigError,
    parse_file,
    parse_noise,
    parse_size,
    parse_test_fraction,
    target_columns,
)
from engine.i18n import N_, _

from .keys import translate_bindings
from .prompts import OneShotScreen
from .validation import mark

SOURCES = ("toy", "synthetic", "file")
"""The choices of the source, in the screen's order."""
SOURCE_LABELS = {"toy": N_("toy (the notebook's)"), "synthetic": "synthetic", "file": N_("file")}
TABLE_EXTENSIONS = (".csv", ".tsv", ".data", ".txt", ".dat")
"""Files the path completion offers first (the reader takes any table of numbers)."""
MOST_ENTRIES = 5000
"""A folder's entries looked at to complete a path: a huge folder costs no more."""

# Each field of the screen: (its widget id, the Config field, the label its reason names).
NUMBER_FIELDS = (
    ("test-fraction", "test_fraction", N_("test fraction")),
    ("n", "n", "n"),
    ("d", "d", "d"),
    ("m", "m", "m"),
    ("noise", "noise", "noise"),
)
SYNTHETIC_FIELDS = ("n", "d", "m", "noise")
# A DataError's setting → the field that shows it.
FIELD_OF_SETTING = {
    "data": "path",
    "target": "target",
    "test_fraction": "test-fraction",
    "n": "n",
    "d": "n",  # d and m only enlarge the data: their size problems are n's too
    "m": "n",
    "noise": "noise",
}


def source_of(config: Config) -> str:
    """The screen's source for ``config``: toy, synthetic or file."""
    return config.data if config.data in ("toy", "synthetic") else "file"


def standardized_by_default(source: str) -> bool:
    """What ``standardize`` None means: on for a file, off for the toy and synthetic data
    (``engine.data.loading.load``)."""
    return source == "file"


@dataclass(frozen=True)
class DataDraft:
    """What the screen's fields hold, as typed."""

    source: str
    path: str
    targets: tuple[int, ...] | None
    """The 0-based target columns chosen; None: as the config says (its header is unknown)."""
    standardize: bool
    dropna: bool
    test_fraction: str
    n: str
    d: str
    m: str
    noise: str

    @classmethod
    def of(cls, config: Config) -> DataDraft:
        source = source_of(config)
        standardize = config.standardize
        if standardize is None:
            standardize = standardized_by_default(source)
        return cls(
            source=source,
            path="" if source != "file" else config.data,
            targets=None,
            standardize=standardize,
            dropna=config.dropna,
            test_fraction=f"{config.test_fraction:.12g}",
            n=str(config.n),
            d=str(config.d),
            m=str(config.m),
            noise=f"{config.noise:.12g}",
        )


@dataclass(frozen=True)
class DataSubmission:
    """What Enter gives: the settings to apply, or why not (by field id, a line each)."""

    changes: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def target_text(columns: Any, chosen: Sequence[int]) -> str:
    """``--target`` for the columns ``chosen`` of a file whose columns are ``columns`` (a
    :class:`~engine.data.reading.TableColumns`): their names, comma-separated and quoted as
    a CSV line where needed; the index of a column whose name would be read as another one
    (a name given twice, no header)."""
    names = columns.names
    tokens = []
    for j in chosen:
        name = names[j]
        unique = columns.header and names.count(name) == 1
        tokens.append(name if unique else str(j))
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(tokens)
    text = out.getvalue()
    try:
        if target_columns(text) == tuple(tokens):
            return text
    except ValueError:
        pass
    return ",".join(str(j) for j in chosen)  # a name the parser reads otherwise: its index


class DataForm:
    """The data screen's decisions, without Textual: the fields of ``config``, and what Enter
    applies.  ``columns(path, target)`` reads a file's header (the engine's
    ``table_columns``; a test may give another)."""

    def __init__(self, config: Config, columns: Any = None) -> None:
        if columns is None:
            from engine.data.reading import table_columns as columns
        self.config = config
        self.read_columns = columns
        self.draft = DataDraft.of(config)
        self.table: Any = None
        """The columns of the file typed (a ``TableColumns``), None while it cannot be read."""
        self.table_error: Any = None
        """Why the file typed cannot be read (a DataError), None if it can or none is typed."""
        self._read_for: str | None = None
        if self.draft.source == "file":
            self.read(self.draft.path, self.config.target)

    def read(self, path: str, target: Any = "config") -> None:
        """Read the header of ``path`` (once per path): the columns and the target columns.

        The targets chosen stay when the new file has the same columns; otherwise
        ``target`` (by default the config's) if it names columns of this file, else the
        last column.
        """
        from engine.data.dataset import DataError

        if target == "config":
            target = self.config.target
        if path == self._read_for:
            return
        self._read_for = path
        before = self.table
        self.table, self.table_error = None, None
        if not path.strip():
            self.draft = replace(self.draft, path=path, targets=None)
            return
        try:
            self.table = self.read_columns(path, target)
        except DataError as error:
            if error.setting != "target":
                self.table_error = error
                self.draft = replace(self.draft, path=path, targets=None)
                return
            # The config's target is another file's: this one's last column.
            try:
                self.table = self.read_columns(path, None)
            except DataError as error:
                self.table_error = error
                self.draft = replace(self.draft, path=path, targets=None)
                return
        targets = self.table.targets
        if (
            before is not None
            and before.names == self.table.names
            and self.draft.targets is not None
        ):
            targets = self.draft.targets
        self.draft = replace(self.draft, path=path, targets=tuple(targets))

    def choose_source(self, source: str) -> None:
        """Another source: standardising follows its default unless the config set it."""
        standardize = self.draft.standardize
        if self.config.standardize is None:
            standardize = standardized_by_default(source)
        self.draft = replace(self.draft, source=source, standardize=standardize)

    def edit(self, **values: Any) -> None:
        self.draft = replace(self.draft, **values)

    # -- Enter --------------------------------------------------------------------------

    def submit(self) -> DataSubmission:
        """Every field of the source chosen, read by the engine's rules; all or nothing."""
        draft = self.draft
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        fields = ["test-fraction"] + (list(SYNTHETIC_FIELDS) if draft.source == "synthetic" else [])
        parsers = {"test-fraction": parse_test_fraction, "noise": parse_noise}
        for id, setting, label in NUMBER_FIELDS:
            if id in fields:
                try:
                    values[setting] = parsers.get(id, parse_size)(getattr(draft, setting), label)
                except ConfigError as error:
                    errors[id] = str(error)
        changes: dict[str, Any] = {"test_fraction": values.get("test_fraction", 0.0)}
        if draft.source == "file":
            self._file_changes(changes, errors)
        else:
            changes["data"] = draft.source
        if draft.source == "synthetic" and not errors:
            self._check_synthetic(values, errors)
        if draft.source == "synthetic":
            changes.update({name: values.get(name) for name in SYNTHETIC_FIELDS})
        changes["standardize"] = self._standardize()
        if errors:
            return DataSubmission({}, errors)
        return DataSubmission(changes, {})

    def _standardize(self) -> bool | None:
        """The config's ``standardize``: None (the source's default) unless it differs, or the
        config already says it."""
        value = self.draft.standardize
        if self.config.standardize == value:
            return value
        return None if value == standardized_by_default(self.draft.source) else value

    def _file_changes(self, changes: dict[str, Any], errors: dict[str, str]) -> None:
        from engine.data.dataset import DataError

        draft = self.draft
        path = draft.path.strip()
        if path.lower() in ("toy", "synthetic"):
            path = os.path.join(".", path)  # a file of that name, not the source
        try:
            data = parse_file(path, "file")
        except ConfigError as error:
            errors["path"] = str(error)
            return
        shown = self.table
        self._read_for = None  # read again: the file may have changed since it was typed
        self.read(draft.path, self._target_of_draft())
        if self.table is None:
            error = self.table_error
            errors["path"] = _("file: {value}").format(
                value=error.reason if isinstance(error, DataError) else error
            )
            return
        if shown is not None and shown.names != self.table.names:
            errors["target"] = _(
                "target: the file's columns changed since they were shown; choose again"
            )
            return
        chosen = tuple(sorted(self.draft.targets or ()))
        if not chosen:
            errors["target"] = _("target: choose at least one column (space marks it)")
            return
        target = target_text(self.table, chosen)
        try:
            self.read_columns(draft.path, target)
        except DataError as error:
            errors[FIELD_OF_SETTING.get(error.setting or "data", "path")] = (
                f"{_('target') if error.setting == 'target' else _('file')}: {error.reason}"
            )
            return
        # The last column, as the config had it: left unsaid (None), as on the command line.
        if self.config.target is None and chosen == (len(self.table.names) - 1,):
            target = None
        changes.update(data=data, target=target, dropna=draft.dropna)

    def _target_of_draft(self) -> str | None:
        """The targets chosen, as a target the same file's header resolves."""
        if self.table is None or not self.draft.targets:
            return self.config.target
        return target_text(self.table, sorted(self.draft.targets))

    def _check_synthetic(self, values: dict[str, Any], errors: dict[str, str]) -> None:
        from engine.data.dataset import DataError
        from engine.data.synthetic import check_synthetic

        try:
            check_synthetic(
                values["n"],
                values["d"],
                values["m"],
                values["noise"],
                self.config.dtype,
                test_fraction=values["test_fraction"],
            )
        except DataError as error:
            id = FIELD_OF_SETTING.get(error.setting or "n", "n")
            errors[id] = error.reason


def complete_path(text: str) -> str | None:
    """``text`` completed from its folder's entries, as a shell would: the one entry it
    starts, or what all of them share, else the first one (tables and folders before other
    files; hidden ones only after a "."); a folder ends in "/".  None: nothing to add."""
    if not text or "\0" in text or "\n" in text:
        return None
    folder, prefix = os.path.split(os.path.expanduser(text))
    found: list[tuple[int, str]] = []
    try:
        with os.scandir(folder or ".") as entries:
            for count, entry in enumerate(entries):
                if count >= MOST_ENTRIES:
                    break
                name = entry.name
                if not name.startswith(prefix) or (name.startswith(".") and not prefix):
                    continue
                try:
                    is_folder = entry.is_dir()
                except OSError:
                    continue
                if is_folder:
                    found.append((0, name + "/"))
                else:
                    found.append((0 if name.lower().endswith(TABLE_EXTENSIONS) else 1, name))
    except (OSError, ValueError):
        return None
    if not found:
        return None
    best = min(rank for rank, _ in found)
    names = sorted(name for rank, name in found if rank == best)
    shared = os.path.commonprefix(names)
    chosen = names[0] if len(names) == 1 or len(shared) <= len(prefix) else shared
    rest = chosen[len(prefix) :]
    return text + rest if rest else None


class PathSuggester(Suggester):
    """Completes a file path from the folder as it is typed (→ accepts)."""

    def __init__(self) -> None:
        # The folder may change between two keys: nothing cached; a path's case matters.
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value)


class MarkedCheckbox(Checkbox):
    """A checkbox whose mark says on or off without colour: Textual draws its X in both
    states, told apart by colour only (NO_COLOR, a 16-colour terminal)."""

    def render(self) -> Any:
        self.BUTTON_INNER = "X" if self.value else " "
        return super().render()


class MarkedRadioButton(RadioButton):
    """A radio button whose ● shows only when it is the one chosen (see MarkedCheckbox)."""

    def render(self) -> Any:
        self.BUTTON_INNER = "●" if self.value else " "
        return super().render()


class DataScreen(OneShotScreen):
    """The data of the run: Enter gives the settings to apply (a dict), Escape None."""

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel")),
        # The App keeps its own keys (tab among them) off while a screen covers it: the
        # screen moves between its fields itself.
        Binding("tab", "next_field", N_("Next"), show=False),
        Binding("shift+tab", "previous_field", N_("Previous"), show=False),
    ]

    def __init__(self, config: Config, in_use: Sequence[str] = (), columns: Any = None) -> None:
        super().__init__(id="data-screen")
        translate_bindings(self._bindings)
        self.form = DataForm(config, columns)
        self.in_use = tuple(in_use)
        self._shown_names: tuple[str, ...] | None = None
        """The columns the target list shows (None: none)."""

    # -- layout -------------------------------------------------------------------------
    #
    # Every widget id starts with "data-": ids are global to the stylesheet, and the
    # settings panel has fields named after settings too.  A field's id is "data-" and its
    # key in the form's errors ("path", "target", "n"…); its reason is "data-KEY-error".

    def compose(self) -> ComposeResult:
        draft = self.form.draft
        with VerticalScroll(id="data-box") as box:
            box.border_title = _("Data")
            box.border_subtitle = _("tab next · enter apply · esc cancel")
            box.can_focus = False  # tab goes from field to field; the box scrolls to each
            yield Static(self._in_use_text(), id="data-in-use")
            with RadioSet(id="data-source", compact=True):
                for source in SOURCES:
                    yield MarkedRadioButton(
                        _(SOURCE_LABELS[source]),
                        value=source == draft.source,
                        id=f"data-source-{source}",
                    )
            with Horizontal(classes="data-row", id="data-path-row"):
                yield Label(_("file"), classes="data-label")
                yield self._input("path", draft.path, _("a CSV/TSV file; → completes"))
            yield Static("", id="data-path-error", classes="field-error")
            yield Label(
                _("target (space marks a column)"), id="data-target-label", classes="data-note"
            )
            yield SelectionList[int](id="data-target", compact=True)
            yield Static("", id="data-target-error", classes="field-error")
            with Horizontal(classes="data-row", id="data-flags-row"):
                yield MarkedCheckbox(
                    _("standardise"), draft.standardize, id="data-standardize", compact=True
                )
                yield MarkedCheckbox(
                    _("drop rows with a missing value"),
                    draft.dropna,
                    id="data-dropna",
                    compact=True,
                )
            for key, setting, label in NUMBER_FIELDS:
                with Horizontal(classes="data-row", id=f"data-{key}-row"):
                    yield Label(_(label), classes="data-label")
                    yield self._input(key, getattr(draft, setting))
                    # Beside its field: why its text cannot be applied.
                    yield Static("", id=f"data-{key}-error", classes="field-error data-reason")
            with Horizontal(id="data-buttons"):
                yield Button(_("Apply"), id="data-apply", variant="primary", compact=True)
                yield Button(_("Cancel"), id="data-cancel", compact=True)

    def _input(self, key: str, value: str, placeholder: str = "") -> Input:
        field = Input(
            value,
            placeholder=placeholder,
            id=f"data-{key}",
            compact=True,
            suggester=PathSuggester() if key == "path" else None,
            # A path is edited where it ends; a number is typed anew.
            select_on_focus=key != "path",
        )
        field.cursor_blink = False  # no writes to the terminal while it waits
        return field

    def _in_use_text(self) -> Text:
        if not self.in_use:
            return Text(_("in use: loading…"), style="dim")
        first, *rest = self.in_use
        text = Text(_("in use: "), style="dim")
        text.append(first)
        for line in rest:
            text.append(f"\n{line}", style="dim")
        return text

    def on_mount(self) -> None:
        self._show_columns()
        self._show_source()
        self.query_one("#data-source", RadioSet).focus()

    # -- what the fields show ------------------------------------------------------------

    def _show_source(self) -> None:
        """The fields of the source chosen, and no reason left from another one."""
        source = self.form.draft.source
        for id in ("path-row", "target-label", "target", "dropna"):
            self.query_one(f"#data-{id}").display = source == "file"
        for key in SYNTHETIC_FIELDS:
            self.query_one(f"#data-{key}-row").display = source == "synthetic"
        self.query_one("#data-standardize", Checkbox).value = self.form.draft.standardize
        self._show_errors({})

    def _show_columns(self) -> None:
        """The file's columns, the targets marked; or why the file cannot be read."""
        targets = self.query_one("#data-target", SelectionList)
        table, chosen = self.form.table, set(self.form.draft.targets or ())
        names = None if table is None else table.names
        if names != self._shown_names:
            self._shown_names = names
            # Not the student's choice: the form already holds these targets.
            with targets.prevent(SelectionList.SelectedChanged):
                targets.clear_options()
                if table is not None:
                    targets.add_options(
                        (Text(name), j, j in chosen) for j, name in enumerate(table.names)
                    )
        self._mark("path", self._file_reason())
        self._show_targets_chosen()

    def _show_targets_chosen(self) -> None:
        """The targets marked, in words above the list: its marks differ by colour only."""
        table, chosen = self.form.table, sorted(self.form.draft.targets or ())
        names = "" if table is None else ", ".join(table.names[j] for j in chosen)
        label = self.query_one("#data-target-label", Label)
        label.update(
            Text(_("target (space marks a column): {value}").format(value=names or _("none")))
        )

    def _file_reason(self) -> str | None:
        """Why the file typed cannot be read, shown as it is typed (None: it can, or none).

        Only for a file that exists: a path half typed is no such file, or a folder, on
        its way to one (Enter says so)."""
        error, path = self.form.table_error, self.form.draft.path
        if error is None or self.form.draft.source != "file" or not path.strip():
            return None
        try:
            exists = os.path.isfile(os.path.expanduser(path))
        except (OSError, ValueError):
            exists = False
        return _("file: {error}").format(error=getattr(error, "reason", error)) if exists else None

    def _mark(self, key: str, reason: str | None) -> None:
        error = self.query_one(f"#data-{key}-error", Static)
        mark(self.query_one(f"#data-{key}"), error, reason)  # type: ignore[arg-type] - any widget

    def _show_errors(self, errors: dict[str, str]) -> None:
        """Each field's reason (``errors``: by key), the file's own when it has none."""
        for key in ("path", "target", *(key for key, _setting, _label in NUMBER_FIELDS)):
            reason = errors.get(key)
            if key == "path" and reason is None:
                reason = self._file_reason()
            self._mark(key, reason)

    def field(self, key: str) -> Any:
        """The widget of a field ("path", "target", "n"…), for tests."""
        return self.query_one(f"#data-{key}")

    def error_text(self, key: str) -> str | None:
        """The reason shown beside a field ("path", "target", "n"…), or None (for tests)."""
        error = self.query_one(f"#data-{key}-error", Static)
        return str(error.content) if error.display else None

    # -- what the student does -----------------------------------------------------------

    @on(RadioSet.Changed, "#data-source")
    def _source_chosen(self, event: RadioSet.Changed) -> None:
        event.stop()
        source = SOURCES[event.index]
        if source == self.form.draft.source:
            return
        self.form.choose_source(source)
        self._show_source()
        if source == "file":
            self._show_columns()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        key = (event.input.id or "").removeprefix("data-")
        if key == "path":
            self.form.read(event.value)
            self._show_columns()
            return
        setting = next(setting for field, setting, _ in NUMBER_FIELDS if field == key)
        self.form.edit(**{setting: event.value})
        self._mark(key, None)

    @on(SelectionList.SelectedChanged, "#data-target")
    def _targets_chosen(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        self.form.edit(targets=tuple(sorted(event.selection_list.selected)))
        self._mark("target", None)
        self._show_targets_chosen()

    @on(Checkbox.Changed)
    def _flag(self, event: Checkbox.Changed) -> None:
        event.stop()
        setting = (event.checkbox.id or "").removeprefix("data-")  # standardize, dropna
        self.form.edit(**{setting: event.value})

    @on(Input.Submitted)
    async def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.apply()

    @on(Button.Pressed, "#data-apply")
    async def _apply_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.apply()

    @on(Button.Pressed, "#data-cancel")
    async def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.action_cancel()

    async def apply(self) -> None:
        """Enter: the settings, or every field's reason and the screen stays."""
        submission = self.form.submit()
        if not submission.ok:
            if "path" in submission.errors or "target" in submission.errors:
                self._show_columns()  # the file was read again
            self._show_errors(submission.errors)
            self.app.bell()
            return
        await self.action_dismiss(submission.changes)

    def action_next_field(self) -> None:
        self.focus_next()

    def action_previous_field(self) -> None:
        self.focus_previous()

    async def action_cancel(self) -> None:
        await self.action_dismiss(None)
