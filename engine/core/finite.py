"""Numbers for JSON: a non-finite float (a diverged loss, an infinite bound) becomes null."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(value: float) -> float | None:
    """``value``, or None when it is NaN or infinite (strict JSON has neither)."""
    return value if math.isfinite(value) else None


def json_ready(value: Any) -> Any:
    """``value`` with every non-finite float in it, at any depth, replaced by None."""
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value
