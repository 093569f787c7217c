"""The inside-a-step screen (``i``): the last step as it went through the Functions.

Linear's forward, MSE's forward, MSE's backward, Linear's backward, then the
update, each with its inputs and outputs (shapes and a few values), what its
``ctx`` saved, the ``grad_output`` it got, and for a student's Functions where
a value differs from the reference.  The values are the engine's
(``engine.core.inside``: the last step replayed on the same tensors); the text
is made in the worker that records them (:func:`inside_text`), the screen only
shows it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import Static

from engine.i18n import N_, _

from .formatting import loss_text, parameter_text
from .keys import translate_bindings
from .prompts import OneShotScreen

# The screen's text is at most this wide: #inside is 76 columns, less its border, its padding
# and the scrollbar.
TEXT_WIDTH = 70
LABEL_WIDTH = 18
# A few values of each tensor: its first rows, their first columns.
ROWS, COLUMNS = 2, 4

NO_STEP = N_(
    "No step yet: press s first (one iteration), then i to see how it went through "
    "Linear and MSE, forward and backward, and the update."
)
LOADING = N_("The engine is still loading: press s once it is ready, then i.")
RECORDING = N_("recording the last step…")

# The lesson's formulas, written once for the screen.
FORMULAS = {
    ("Linear", "forward"): "Ŷ = X·W + b",
    ("MSE", "forward"): "loss = Σ(Ŷ − Y)² / N,  N = n×m",
    ("MSE", "backward"): "∇Ŷ = 2(Ŷ − Y)·grad_output / N,  ∇Y = −∇Ŷ",
    ("Linear", "backward"): N_("∇X = grad_output·Wᵀ, ∇W = Xᵀ·grad_output, ∇b = Σ rows"),
}
NUMBERS = "①②③④⑤⑥⑦"


def shape_text(shape: Sequence[int] | None) -> str:
    if shape is None:
        return ""
    if len(shape) == 0:
        return _("(a number)")
    return "(" + "×".join(str(size) for size in shape) + ")"


def _row(values: Sequence[float], more: bool) -> str:
    return (
        "[ " + " ".join(f"{parameter_text(v):>9}" for v in values) + (" …" if more else "") + " ]"
    )


def _tensor_lines(text: Text, label: str, value: Any, indent: str = "  ") -> None:
    """``label (n×m)  [ a b c d … ]`` and a second row, or what the value is instead."""
    name = f"{indent}{label}"
    tensor = value.tensor
    if tensor is None:
        if value.value is None:
            text.append(name + "  " + _("not computed") + "\n", style="dim")
        elif isinstance(value.value, (int, float)):
            text.append(f"{name} = {value.value:g}\n")
        else:
            kind = _("a {type}, not a tensor").format(type=type(value.value).__name__)
            text.append(f"{name}  {kind}\n", style="red")
        return
    shape = tuple(tensor.shape)
    if len(shape) == 0:
        text.append(f"{name} = {loss_text(float(tensor))}\n")
        return
    head = value.head(ROWS, COLUMNS)
    columns = shape[-1] if len(shape) > 1 else shape[0]
    rows = shape[0] if len(shape) > 1 else 1
    title = f"{name} {shape_text(shape)}"
    for i, values in enumerate(head):
        first = title if i == 0 else ""
        text.append(f"{first:<{LABEL_WIDTH}}{_row(values, columns > COLUMNS)}\n")
    if rows > len(head):
        more = _("… {count} more rows").format(count=rows - len(head))
        text.append(f"{'':<{LABEL_WIDTH}}  {more}\n", style="dim")


def _difference_lines(text: Text, difference: Any) -> None:
    if difference.passed:
        text.append("    ✓ " + _("as the reference") + "\n", style="green")
        return
    if difference.place is None:
        found = shape_text(difference.shape) or _("not a tensor")
        said = _("shape {found}, the reference's {expected}").format(
            found=found, expected=shape_text(difference.expected_shape)
        )
        text.append(f"    ✗ {said}\n", style="bold red")
    else:
        said = _(
            "differs at {differing} of {entries} entries, most at {where}:\n"
            "      yours {found}, the reference {expected}"
        ).format(
            differing=difference.differing,
            entries=difference.entries,
            where=difference.where(),
            found=parameter_text(difference.found),
            expected=parameter_text(difference.expected),
        )
        text.append(f"    ✗ {said}\n", style="bold red")
    for hint in difference.hints:
        wrapped = textwrap.fill(
            hint, TEXT_WIDTH, initial_indent="      ", subsequent_indent="      "
        )
        text.append(wrapped + "\n", style="red")


def _saved_text(call: Any) -> str:
    if not call.saved:
        return _("nothing")
    return ", ".join(f"{v.name} {shape_text(v.shape)}".strip() for v in call.saved)


def _call_title(call: Any, number: int) -> str:
    if call.method == "forward":
        args = "X, W, b" if call.function == "Linear" else "Ŷ, Y"
    else:
        given = call.inputs[0]
        shown = f"{given.value:g}" if given.tensor is None and given.value is not None else "∇Ŷ"
        if given.tensor is not None:
            shown = f"∇Ŷ {shape_text(given.shape)}"
        args = f"grad_output = {shown}"
    mark = NUMBERS[number] if number < len(NUMBERS) else f"{number + 1}."
    return f"{mark} {call.class_name}.{call.method}(ctx, {args})"


def _needs_text(call: Any, name: str) -> str | None:
    needs = call.needs_input_grad
    if needs is None:
        return None
    inputs = ("X", "W", "b") if call.function == "Linear" else ("Ŷ", "Y")
    index = inputs.index(name[1:]) if name[1:] in inputs else None
    if index is None or index >= len(needs) or needs[index]:
        return None
    return _("not computed: needs_input_grad[{index}] is False, {name} is not learnt").format(
        index=index, name=name[1:]
    )


def inside_text(
    step: Any, differences: Sequence[Any] | None = None, run_label: str | None = None
) -> Text:
    """The screen's text for ``step`` (an ``engine.core.inside.InsideStep``)."""
    text = Text()
    n, d, m = step.shape
    rows = (
        _("the whole batch")
        if step.batch_rows is None
        else _("a mini-batch of {rows}").format(rows=step.batch_rows)
    )
    text.append(_("Iteration {iteration}").format(iteration=step.iteration), style="bold")
    text.append(f" · ε = {step.learning_rate:g} · {step.optimizer}, {rows} · {step.dtype}\n")
    sizes = _("n = {n} points, d = {d} features, m = {m} outputs").format(n=n, d=d, m=m)
    text.append(f"{sizes}\n", style="dim")
    if run_label:
        text.append(f"{run_label}\n", style="dim")
    if step.exact:
        exact = _("replayed on the run's tensors: its loss and W, bit for bit")
        text.append(f"✓ {exact}\n", style="dim")
    else:
        differ = _("the replay's loss or W differ from the run's: these values are not its own")
        text.append(f"⚠ {differ}\n", style="bold yellow")
    found = {(d.function, d.method, d.name): d for d in differences or ()}
    for number, call in enumerate(step.calls):
        text.append("\n")
        text.append(_call_title(call, number) + "\n", style="bold")
        formula = FORMULAS.get((call.function, call.method))
        if formula:
            text.append(
                "  " + _("lesson: {formula}").format(formula=_(formula)) + "\n", style="dim"
            )
        if call.rows is not None:
            rows_text = _("on the mini-batch's {rows} rows").format(rows=call.rows)
            text.append(f"  {rows_text}\n", style="dim")
        if call.method == "forward":
            for value in call.inputs:
                if call.function == "MSE" and value.name == "Ŷ" and value.tensor is not None:
                    # Linear's output, shown just above.
                    above = _("Linear's output, above")
                    text.append(f"  Ŷ {shape_text(value.shape)}  {above}\n")
                else:
                    _tensor_lines(text, value.name, value)
        for value in call.outputs:
            needs = _needs_text(call, value.name) if value.value is None else None
            if needs is not None:
                text.append(f"  → {value.name}  {needs}\n", style="dim")
            else:
                _tensor_lines(text, f"→ {value.name}", value)
            difference = found.get((call.function, call.method, value.name))
            if difference is not None:
                _difference_lines(text, difference)
        if call.method == "forward":
            text.append("  " + _("ctx saved: {saved}").format(saved=_saved_text(call)) + "\n")
            for name, shown in call.attributes:
                text.append(f"  ctx.{name} = {shown}\n")
    for note in step.notes:
        text.append(f"\n⚠ {_(note)}\n", style="bold yellow")
    update = step.update
    if update is not None:
        text.append("\n")
        settings = ", ".join(f"{name} = {value:g}" for name, value in update.settings)
        mark = NUMBERS[len(step.calls)] if len(step.calls) < len(NUMBERS) else "·"
        title = _("update: {optimizer}, {settings}").format(
            optimizer=update.optimizer, settings=settings
        )
        text.append(f"{mark} {title}\n", style="bold")
        for line in update.rule:
            text.append(f"  {_(line)}\n")
        for value in update.state:
            _tensor_lines(text, value.name, value)
        for label, value in (
            (_("ΔW added"), update.step_W),
            (_("W after"), update.W_after),
            (_("Δb added"), update.step_b),
            (_("b after"), update.b_after),
        ):
            _tensor_lines(text, label, value)
        for name in ("∇W", "∇b"):
            difference = found.get(("update", "used", name))
            if difference is not None and not difference.passed:
                used = _("the {name} the update used, against the true gradient:").format(name=name)
                text.append(f"  {used}\n")
                _difference_lines(text, difference)
    return text


class StepScreen(OneShotScreen):
    """Closes with Escape, i or q; ↑ ↓ scroll."""

    BINDINGS = [Binding("escape,i,q", "dismiss", N_("Close"))]

    def __init__(self, text: Text | str = RECORDING) -> None:
        super().__init__()
        translate_bindings(self._bindings)
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="inside") as box:
            box.border_title = _("inside a step")
            box.border_subtitle = _("↑↓ scroll · esc or i: close")
            yield Static(_as_text(self.text), id="inside-text")

    def on_mount(self) -> None:
        self.query_one("#inside", VerticalScroll).focus()

    def show(self, text: Text | str) -> None:
        """The recorded step's text (from the worker, through ``call_from_thread``)."""
        self.text = text
        try:
            self.query_one("#inside-text", Static).update(_as_text(text))
        except NoMatches:
            pass  # closed meanwhile


def _as_text(text: Text | str) -> Text:
    # A plain text is one of this module's N_() texts (NO_STEP, LOADING, RECORDING).
    return text if isinstance(text, Text) else Text(_(text))


def record_text(experiment: Any) -> Text:
    """The text of the last step of ``experiment``'s (first) descent; in a worker, under the
    session lock: the engine replays the step (``engine.experiment.inside_last_step``)."""
    from engine.experiment import inside_last_step

    descent = experiment.session.descent
    try:
        step, differences = inside_last_step(descent)
    except Exception as error:  # noqa: BLE001 - a student's Functions can raise anything
        return Text(
            _("The last step could not be replayed: {error}").format(
                error=f"{type(error).__name__}: {error}"
            )
        )
    if step is None:
        return Text(_(NO_STEP))
    label = None
    if experiment.comparing:
        label = _("comparing: the first run, ε = {rate:g} (c changes them)").format(
            rate=descent.config.learning_rate
        )
    return inside_text(step, differences, label)
