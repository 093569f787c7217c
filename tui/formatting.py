"""How numbers are written on screen: fixed widths, enough significant digits, never a crash."""

from __future__ import annotations

import math

from engine.i18n import _

PARAMETER_WIDTH = 10


def loss_text(value: float | None) -> str:
    """A loss with 6 significant digits, as the status line shows it."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.6g}"


def delta_text(value: float | None) -> str:
    """A signed change (Δloss), 3 significant digits."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"{value:+.3g}"


def parameter_text(value: float) -> str:
    """A parameter with its sign and at least 4 significant digits, at most 10 characters.

    Plain decimals between 0.001 and 1000 (easier to read), scientific notation
    elsewhere.  Every float32 value fits with 4 digits; only float64 values
    beyond 1e±100 drop to 3.
    """
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    if value == 0:
        return "+0.0000"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e3:
        integer_digits = math.floor(math.log10(magnitude)) + 1
        decimals = max(0, 4 - integer_digits)
        text = f"{value:+.{decimals}f}"
        # Rounding can carry into a new digit (999.96 -> 1000.0): still >= 4 digits, but
        # it must fit the width.
        if len(text) <= PARAMETER_WIDTH:
            return text
    return _scientific(value, PARAMETER_WIDTH)


def _scientific(value: float, width: int) -> str:
    """``+1.234e-5``: 4 significant digits, a short exponent; 3 digits only if 4 do not fit."""
    for digits in (3, 2, 1):
        mantissa, exponent = f"{value:+.{digits}e}".split("e")
        text = f"{mantissa}e{int(exponent)}"
        if len(text) <= width:
            return text
    return text


def norm_text(value: float | None) -> str:
    """A gradient norm, 4 significant digits."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def count_text(value: float) -> str:
    """An axis label for an iteration count, at most 6 characters: 950, 12.5k, 3.2M."""
    value = round(value)
    if abs(value) < 10_000:
        return str(value)
    for divisor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= divisor:
            text = f"{value / divisor:.3g}"
            return f"{text}{suffix}"
    return str(value)  # pragma: no cover - unreachable


def axis_text(value: float) -> str:
    """A y-axis label, at most 9 characters."""
    if value == 0:
        return "0"
    return f"{value:.3g}"


def rate_text(steps_per_second: float) -> str:
    text = f"{steps_per_second:,.0f}"
    return (
        _("{text} step/s").format(text=text)
        if text == "1"
        else _("{text} steps/s").format(text=text)
    )
