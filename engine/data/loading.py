"""The data of a descent, one entry point: the notebook's toy problem, a synthetic one, or a table file.

This package imports numpy and the standard library only (torch only inside
:func:`engine.data.synthetic.toy`), so the CLI can check ``--target`` before torch loads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.data.dataset import Dataset
from engine.data.reading import load_table
from engine.data.synthetic import synthetic, toy

SOURCES = ("toy", "synthetic")


def load(
    data: str | os.PathLike = "toy",
    *,
    n: int = 200,
    d: int = 5,
    m: int = 1,
    noise: float = 0.1,
    target: Any = None,
    standardize: bool | None = None,
    test_fraction: float = 0.0,
    dropna: bool = False,
    seed: int = 42,
    dtype: Any = np.float32,
    progress: Callable[[float], None] | None = None,
    max_bytes: int | None = None,
) -> Dataset:
    """``"toy"``, ``"synthetic"`` or a file path (write ``./toy`` for a file named toy).

    ``standardize`` None means the default: on for files, off for the toy and
    synthetic problems.
    """
    name = os.fspath(data) if not isinstance(data, str) else data
    if name in SOURCES:
        scale = bool(standardize)
        if name == "toy":
            return toy(seed, dtype, test_fraction=test_fraction, standardize=scale)
        return synthetic(
            n,
            d,
            m,
            noise,
            seed,
            dtype,
            test_fraction=test_fraction,
            standardize=scale,
            max_bytes=max_bytes,
            progress=progress,
        )
    return load_table(
        name,
        target=target,
        standardize=True if standardize is None else standardize,
        test_fraction=test_fraction,
        dropna=dropna,
        seed=seed,
        dtype=dtype,
        progress=progress,
        max_bytes=max_bytes,
    )
