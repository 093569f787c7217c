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
    "Context": "core.functions",
    "MSE": "core.functions",
    "Linear": "core.functions",
    "Descent": "core.descent",
    "Status": "core.descent",
    "StepSnapshot": "core.descent",
    "Problem": "core.problem",
    "toy_problem": "core.problem",
    # Not "theory": that name would hide the module engine.core.theory's role.
    "theory_of": "core.theory",
    "Dataset": "data.dataset",
    "DataError": "data.dataset",
    "load": "data.loading",
    "load_table": "data.reading",
    "synthetic": "data.synthetic",
    "check_file": "student.check",
    "check_functions": "student.check",
    "load_functions": "student.loading",
    "make_problem": "experiment",
    "compare_descents": "experiment",
    "Session": "session",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return __all__
