"""Small screens over the app: a one-field prompt (learning rates to compare, where to save)
and the report of a student's Functions that fail the check."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Static

from engine.config import ConfigError
from engine.i18n import N_, _

from .keys import translate_bindings
from .validation import ParseValidator, mark


class OneShotScreen(ModalScreen[Any]):
    """A modal screen that closes once, however many close keys arrive before it is gone.

    Keys can queue up faster than a screen leaves (a key held down, a paste, a slow
    link): a second ``dismiss`` would pop the screen under it and call back twice.
    Every way out goes through Textual's own ``action_dismiss``, which lets the
    screen finish what it had scheduled before it is removed.
    """

    _leaving = False

    async def action_dismiss(self, result: Any = None) -> None:
        if self._leaving or self.app.screen is not self:
            return
        self._leaving = True
        await super().action_dismiss(result)


class PromptScreen(OneShotScreen):
    """One field: Enter gives ``parse(text)`` when valid (the reason shows otherwise), Escape None."""

    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(
        self,
        title: str,
        explanation: str,
        value: str,
        parse: Callable[[str], Any],
        keys: str = N_("enter: ok · esc: cancel"),
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        translate_bindings(self._bindings)
        self.title_text = title
        self.explanation = explanation
        self.initial = value
        self.parse = parse
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt") as box:
            box.border_title = self.title_text
            box.border_subtitle = _(self.keys)
            yield Static(Text(self.explanation), classes="prompt-explanation")
            field = Input(
                self.initial,
                validators=[ParseValidator(self.parse)],
                # Selected: typing replaces the suggestion, as in the settings fields.
                select_on_focus=True,
                id="prompt-input",
            )
            field.cursor_blink = False  # no writes to the terminal while it waits
            yield field
            yield Static("", id="prompt-error", classes="field-error")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def error_text(self) -> str | None:
        error = self.query_one("#prompt-error", Static)
        return str(error.content) if error.display else None

    def _show_error(self, reason: str | None) -> None:
        mark(
            self.query_one("#prompt-input", Input), self.query_one("#prompt-error", Static), reason
        )

    @on(Input.Changed)
    def _validate(self, event: Input.Changed) -> None:
        event.stop()
        result = event.validation_result
        if result is None or result.is_valid:
            self._show_error(None)
        else:
            self._show_error("; ".join(result.failure_descriptions))

    @on(Input.Submitted)
    async def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            value = self.parse(event.value)
        except ConfigError as error:
            self._show_error(error.reason)
            self.app.bell()
            return
        await self.action_dismiss(value)

    async def action_cancel(self) -> None:
        await self.action_dismiss(None)


def hanging_lines(text: str, width: int) -> list[str]:
    """``text`` wrapped at ``width``, each continuation indented under its line's text."""
    width = max(width, 20)
    out: list[str] = []
    for line in text.splitlines():
        indent = " " * (len(line) - len(line.lstrip()))
        out.extend(
            textwrap.wrap(line, width, subsequent_indent=indent + "    ", break_on_hyphens=False)
            or [""]
        )
    return out


class HangingText(Widget):
    """A report's text: a wrapped line stays under its own indentation (hints, errors)."""

    def __init__(self, text: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = text

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(hanging_lines(self.text, width))

    def render(self) -> Text:
        return Text("\n".join(hanging_lines(self.text, self.content_region.width)))


class ReportScreen(OneShotScreen):
    """A long text (the check of a student's Functions), scrollable; Escape or q closes it."""

    BINDINGS = [Binding("escape,q", "dismiss", N_("Close"))]

    def __init__(self, title: str, text: str, note: str = "") -> None:
        super().__init__()
        translate_bindings(self._bindings)
        self.title_text = title
        self.text = text
        self.note = note

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="report") as box:
            box.border_title = Text(self.title_text)  # a file name: no markup in it
            box.border_subtitle = _("↑↓ scroll · esc or q: close")
            if self.note:
                yield Static(Text(self.note, style="bold"), id="report-note")
            yield HangingText(self.text, id="report-text")

    def on_mount(self) -> None:
        self.query_one("#report", VerticalScroll).focus()
