"""The app's keys: what each one is bound to (the controller decides what it does and when)."""

from __future__ import annotations

from textual.binding import Binding

KEYS = [
    Binding("s,right", "step", "Step"),
    Binding("r,space", "toggle_run", "Run/pause"),
    Binding("x", "reset", "Reset"),
    Binding("c", "compare", "Compare"),
    Binding("e", "save", "Save"),
    # Help and Quit before the keys a narrow terminal's footer may cut off (72 columns).
    Binding("question_mark", "help", "Help", key_display="?"),
    Binding("q", "quit", "Quit"),
    Binding("l", "toggle_log_scale", "Log y"),
    Binding("plus,equals_sign", "scale_learning_rate(10)", "ε×10", key_display="+"),
    Binding("minus", "scale_learning_rate(0.1)", "ε÷10", key_display="-"),
    # Not in the footer (no room at 80 columns): the status line shows the speed and keys.
    Binding("left_square_bracket", "change_speed(-1)", "Slower", key_display="[", show=False),
    Binding("right_square_bracket", "change_speed(1)", "Faster", key_display="]", show=False),
    # Ctrl+C quits, as everywhere in a terminal (Textual's own would only say how to quit).
    # An action of its own: q is hidden while a field takes it as text, Ctrl+C never is.
    Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
]
