"""A data set as the loaders give it: DataError, the Dataset with its notes, and the words they share."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.config import DTYPES as CONFIG_DTYPES
from engine.config import shown_path
from engine.i18n import _, ngettext

MISSING = frozenset({"", "?", "na", "n/a", "nan", "+nan", "-nan", "null", "none"})
"""Cells that mean "no value" (case-insensitive); ``?`` is the UCI repository's convention."""
DTYPES = tuple(np.dtype(name) for name in CONFIG_DTYPES)
"""The numpy dtypes of the config's dtype names."""
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


class DataError(ValueError):
    """A bad data source; ``str()`` is one line naming the file, then the row and column if known.

    ``row`` is 1-based, the line number a text editor shows; ``column`` is the
    column's name (a str) when the file has a header, else its 0-based index.
    ``setting`` is the Config field the problem is about, when it is one (``"target"``,
    ``"n"``, ``"test_fraction"``): a form shows the reason beside that field.
    """

    def __init__(
        self,
        source: str,
        reason: str,
        row: int | None = None,
        column: str | int | None = None,
        *,
        setting: str | None = None,
    ) -> None:
        where = shown_path(source)
        if row is not None:
            where += _(", row {row}").format(row=row)
        if column is not None:
            where += (
                _(", column {column!r}").format(column=_short(column))
                if isinstance(column, str)
                else _(", column {column}").format(column=column)
            )
        super().__init__(f"{where}: {reason}")
        self.source = str(source)
        self.reason = reason
        self.row = row
        self.column = column
        self.setting = setting


@dataclass(frozen=True, eq=False)
class Dataset:
    """The training part (X, Y) and the test part of a data set, ready for ``torch.from_numpy``.

    Arrays are C-contiguous, of the dtype asked for.  When the data were
    standardised, ``x_mean``/``x_std`` and ``y_mean``/``y_std`` (float64, from the
    training rows only) undo it; a constant column has ``std`` 1 (it was centred only).
    """

    X: np.ndarray
    Y: np.ndarray
    X_test: np.ndarray | None
    Y_test: np.ndarray | None
    feature_names: list[str]
    target_names: list[str]
    source: str
    W_true: np.ndarray | None = None
    b_true: np.ndarray | None = None
    x_mean: np.ndarray | None = None
    x_std: np.ndarray | None = None
    y_mean: np.ndarray | None = None
    y_std: np.ndarray | None = None
    dropped_rows: int = 0
    """Rows left out because a value was missing (``dropna``)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Things worth telling the user that are not errors (a constant column, a guessed header)."""

    @property
    def n(self) -> int:
        """Training rows."""
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def m(self) -> int:
        return self.Y.shape[1]

    @property
    def n_test(self) -> int:
        return 0 if self.X_test is None else self.X_test.shape[0]

    @property
    def standardized(self) -> bool:
        return self.x_mean is not None

    def describe(self) -> str:
        """One line for a panel: "diabetes.csv: n=354 (+88 test), d=10, m=1, standardised",
        and ", 2 rows dropped" when rows with missing values were left out."""
        test = _(" (+{n_test} test)").format(n_test=self.n_test) if self.n_test else ""
        scaled = _(", standardised") if self.standardized else ""
        dropped = (
            _(", {dropped_rows} dropped").format(dropped_rows=_rows(self.dropped_rows))
            if self.dropped_rows
            else ""
        )
        name = shown_path(os.path.basename(self.source))
        return f"{name}: n={self.n}{test}, d={self.d}, m={self.m}{scaled}{dropped}"

    def original_parameters(self, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """W (d, m) and b (1, m) learnt on standardised data, as they act on the original units."""
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64).reshape(1, -1)
        if not self.standardized:
            return W, b
        W_original = W / self.x_std[:, None] * self.y_std[None, :]
        b_original = self.y_mean + self.y_std * (b - (self.x_mean / self.x_std) @ W)
        return W_original, b_original.reshape(1, -1)


def _dtype(dtype: Any) -> np.dtype:
    try:
        value = np.dtype(dtype)
    except TypeError:
        value = None
    if value not in DTYPES:
        raise ValueError(f"dtype: must be float32 or float64, got {dtype!r}")
    return value


def _rows(count: int) -> str:
    return ngettext("{count} row", "{count} rows", count).format(count=count)


def _size(n_bytes: float) -> str:
    n_bytes = min(n_bytes, 1e30)  # a size from a huge n or d: an int past float's range
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{int(n_bytes)} bytes"


def _short(text: str) -> str:
    """A cell or a column name as a message shows it: cut after 40 characters."""
    return text if len(text) <= 40 else text[:37] + "..."
