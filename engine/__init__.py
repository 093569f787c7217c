"""amal-tui's engine: the notebook's MSE and Linear Functions and a descent that steps them.

Pure torch and numpy, nothing about terminals: ``import engine`` in a notebook,
then ``d = engine.Descent(); d.step(); d.losses``.  Names load lazily so that
``engine.config`` can be imported (by the CLI, before the first paint) without
importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Config": "config",
    "ConfigError": "config",
    "make_config": "config",
    "Context": "functions",
    "MSE": "functions",
    "Linear": "functions",
    "Problem": "problem",
    "toy_problem": "problem",
    "make_problem": "problem",
    "Dataset": "data",
    "DataError": "data",
    "load": "data",
    "load_table": "data",
    "synthetic": "data",
    "Session": "session",
    "theory": "theory",
    "compare_descents": "compare",
    "check_file": "check",
    "check_functions": "check",
    "load_functions": "student",
    "Descent": "descent",
    "Status": "descent",
    "StepSnapshot": "descent",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return __all__
