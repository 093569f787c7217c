"""The app's keys, listed once: what each one is bound to (the controller decides what it
does and when), and the help screen's rows, written beside them."""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding, BindingsMap

from engine.i18n import N_, _

# The learning-rate keys: (Textual key names, shown as, factor, footer label).  + and - step
# by decades, * and / by factors of 2: the four keys of a numeric keypad, plain characters on
# any keyboard layout (French AZERTY included), which neither tmux (its prefix is Ctrl+B) nor
# a terminal takes for itself.  ×2 and ÷2 are exact in binary floating point: / undoes *
# to the last bit, and two presses bracket ε_max = 2/L within a factor of 2.
LEARNING_RATE_KEYS: tuple[tuple[str, str, float, str], ...] = (
    ("plus,equals_sign", "+", 10, "ε×10"),
    ("minus", "-", 0.1, "ε÷10"),
    ("asterisk", "*", 2, "ε×2"),
    ("slash", "/", 0.5, "ε÷2"),
)

KEYS = [
    Binding("s,right", "step", N_("Step")),
    Binding("r,space", "toggle_run", N_("Run/pause")),
    Binding("x", "reset", N_("Reset")),
    Binding("c", "compare", N_("Compare")),
    Binding("e", "save", N_("Save")),
    # Not in the footer (it is full at 80 columns): the offer to reload names it, and the help.
    Binding("o,f5", "reload_functions", N_("Reload file"), key_display="o", show=False),
    # Help and Quit before the keys a narrow terminal's footer may cut off (72 columns).
    Binding("question_mark", "help", N_("Help"), key_display="?"),
    Binding("q", "quit", N_("Quit")),
    Binding("d", "choose_data", N_("Data")),
    Binding("l", "toggle_log_scale", N_("Log y")),
    *(
        Binding(keys, f"scale_learning_rate({factor!r})", label, key_display=shown)
        for keys, shown, factor, label in LEARNING_RATE_KEYS
    ),
    # The chart's views: in the help, not the footer (no room at 80 columns).
    Binding("g", "toggle_gap_view", N_("Gap"), show=False),
    Binding("k", "toggle_log_iterations", N_("Log x"), show=False),
    Binding("z", "cycle_zoom", N_("Zoom"), show=False),
    # A screen of its own, in the help, not the footer (no room at 80 columns).
    Binding("i", "inside_step", N_("Inside"), show=False),
    # A view of its own, with its keys in its border: in the help, not the footer.
    Binding("w", "sweep", N_("Sweep"), show=False),
    # Not in the footer (no room at 80 columns): the status line shows the speed and keys.
    Binding("left_square_bracket", "change_speed(-1)", N_("Slower"), key_display="[", show=False),
    Binding("right_square_bracket", "change_speed(1)", N_("Faster"), key_display="]", show=False),
    # Ctrl+C quits, as everywhere in a terminal (Textual's own would only say how to quit).
    # An action of its own: q is hidden while a field takes it as text, Ctrl+C never is.
    Binding("ctrl+c", "interrupt", N_("Quit"), show=False, priority=True),
]


def _learning_rate_row(first: int, second: int) -> tuple[str, str]:
    (_keys, up, factor, _label), (_keys2, down, _factor, _label2) = (
        LEARNING_RATE_KEYS[first],
        LEARNING_RATE_KEYS[second],
    )
    return f"{up}  {down}", _("learning rate × {factor:g} / ÷ {factor:g}, and reset").format(
        factor=factor
    )


def help_rows(save_dir: str = "amal-runs") -> tuple[tuple[str, str], ...]:
    """The help screen's keys and what each does (``save_dir``: where e saves)."""
    return (
        ("s  →", _("one iteration (a step)")),
        (_("r  space"), _("run / pause (paused: r goes on from the same iteration)")),
        ("[  ]", _("slower / faster: 1, 3, 10 … 1000 iterations a second, or max (the default)")),
        ("x", _("reset to iteration 0, same seeds (same W and b to start)")),
        ("c", _("compare learning rates from the same start (a list; empty: back to one run)")),
        (
            "e",
            _("save the run (or the comparison): JSON and CSV, in {save_dir}/ (--save-dir)").format(
                save_dir=save_dir
            ),
        ),
        (
            "d",
            _(
                "the data: toy, synthetic (n, d, m, noise) or a CSV file and its target columns; "
                "standardise, drop rows with a missing value, test fraction (enter: apply and reset)"
            ),
        ),
        ("l", _("loss chart: logarithmic / linear y axis (the gap view g is always logarithmic)")),
        (
            "g",
            _(
                "chart: the gap loss − loss* to the optimum, on a log scale; ·· the gap the theory "
                "predicts for plain full-batch SGD, ×ρ² an iteration with ρ = max|1 − ελᵢ| (λᵢ the "
                "Hessian's eigenvalues), drawn from the last iteration above float rounding"
            ),
        ),
        ("k", _("chart: iterations on a logarithmic / linear x axis")),
        ("z", _("chart: all iterations, the last 1000, the last 100")),
        (
            "i",
            _(
                "inside the last step: Linear and MSE, forward and backward (inputs, outputs, what "
                "ctx saved, grad_output, the gradients) and the update, with the run's values; a "
                "run pauses first"
            ),
        ),
        (
            "w",
            _(
                "sweep: K learning rates from this run's start (the view's range field, "
                "FROM:TO:K log-spaced, 1e-4:3:64 at first; tab edits it, enter sweeps it), stepped "
                "together; their last loss against ε, the theory, the stability bound │ and × the "
                "runs that diverged (i: iterations instead). ← →: choose an ε, enter: run it (it "
                "becomes the learning rate), esc: back with nothing changed"
            ),
        ),
        (
            "o  f5",
            _(
                "reload and re-check your --functions file (in a child process): if it passes, "
                "the run starts over with it; if not, the run keeps the Functions it has"
            ),
        ),
        _learning_rate_row(0, 1),
        _learning_rate_row(2, 3),
        (_("tab"), _("edit the settings (shift+tab: back); each field keeps what you type")),
        (
            _("enter"),
            _("in a field: apply every edited one and reset the run (none while one is invalid)"),
        ),
        (_("esc"), _("in a field: restore every field; in a prompt: cancel")),
        ("?", _("this help")),
        ("q", _("quit (ctrl+q, ctrl+c too); a save in progress finishes first")),
    )


def translate_bindings(bindings: BindingsMap) -> None:
    """Each binding's footer label in the current language (Textual reads ``BINDINGS`` when
    the class is made, before --lang is known: the App calls this once it exists)."""
    for key, entries in bindings.key_to_bindings.items():
        bindings.key_to_bindings[key] = [
            replace(
                binding,
                description=_(binding.description),
                key_display=_(binding.key_display) if binding.key_display else None,
            )
            if binding.description
            else binding
            for binding in entries
        ]
