"""A table's cells to numbers: missing values dropped or refused, values too large refused, columns centred."""

from __future__ import annotations

import io
import math
import warnings

import numpy as np

from engine.data.dataset import _DECIMAL_COMMA, MISSING, DataError, _short
from engine.data.memory import _check_memory
from engine.data.sniffing import _decode, _split_line, _Table
from engine.i18n import _

SLOW_BYTES = 4096


class _Reader:
    """Parses chunks of rows into the growing X and Y arrays."""

    def __init__(
        self,
        table: _Table,
        dtype: np.dtype,
        rows: int,
        dropna: bool,
        center: bool,
        max_bytes: int | None,
    ) -> None:
        self.table = table
        self.dtype = dtype
        self.dropna = dropna
        self.center = center
        self.max_bytes = max_bytes
        self.limit = float(np.finfo(dtype).max)
        self.X = np.empty((rows, len(table.x_columns)), dtype=dtype)
        self.Y = np.empty((rows, len(table.y_columns)), dtype=dtype)
        self.rows = 0
        self.dropped = 0
        self.column_shift: np.ndarray | None = None
        self.x_select = _as_slice(table.x_columns)
        self.y_select = _as_slice(table.y_columns)

    @property
    def shift(self) -> np.ndarray | None:
        """What was subtracted from each feature, then each target, before storing."""
        if self.column_shift is None:
            return None
        return self.column_shift[self.table.x_columns + self.table.y_columns]

    # -- parsing --------------------------------------------------------------------------

    def parse(self, data: bytes, first_line: int) -> None:
        """Rows of ``data`` (whole lines), the first being line ``first_line`` of the file.

        A chunk the C reader refuses is cut in two halves, each tried again, so a
        few bad rows in a big chunk cost a few lines read in Python, not the chunk.
        """
        values = self._fast(data)
        if values is not None:
            self._store(values)
            return
        middle = data.find(b"\n", len(data) // 2, len(data) - 1)
        if middle < 0:
            middle = data.rfind(b"\n", 0, len(data) // 2)
        if len(data) <= SLOW_BYTES or middle < 0:
            self._store(self._slow(data, first_line))
            return
        left, right = data[: middle + 1], data[middle + 1 :]
        self.parse(left, first_line)
        self.parse(right, first_line + left.count(b"\n"))

    def _fast(self, data: bytes) -> np.ndarray | None:
        """The C reader's table, or None when it refuses the chunk or a value is not acceptable."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data" for blank lines
                values = np.loadtxt(
                    io.BytesIO(data),
                    delimiter=self.table.delimiter,
                    dtype=np.float64,
                    comments=None,
                    quotechar='"',
                    ndmin=2,
                )
        except ValueError:
            return None
        if values.shape[0] == 0:
            return values.reshape(0, self.table.columns)
        if values.shape[1] != self.table.columns:
            return None
        # NaN fails both comparisons; ±inf and what float32 cannot hold fail one.
        if not (values.min() >= -self.limit and values.max() <= self.limit):
            return None
        return values

    def _slow(self, data: bytes, first_line: int) -> np.ndarray:
        """Line by line, to name the row and column of the first problem."""
        table, path = self.table, self.table.path
        rows = []
        for offset, raw in enumerate(data.split(b"\n")):
            row = first_line + offset
            line = _decode(raw).rstrip("\r")
            if not line.strip():
                continue
            cells = _split_line(line, table.delimiter)
            if len(cells) != table.columns:
                raise DataError(
                    path,
                    f"{len(cells)} values, expected {table.columns} {table.expected_from}",
                    row=row,
                )
            values = []
            missing = False
            for j, cell in enumerate(cells):
                if cell.lower() in MISSING:
                    if not self.dropna:
                        shown = f" {cell!r}" if cell else _(" (an empty cell)")
                        raise DataError(
                            path,
                            _(
                                "missing value{shown}; use --dropna to drop rows with missing values"
                            ).format(shown=shown),
                            row=row,
                            column=table.column(j),
                        )
                    missing = True
                    values.append(math.nan)
                    continue
                try:
                    value = float(cell)
                except ValueError:
                    raise DataError(
                        path, _not_a_number(cell), row=row, column=table.column(j)
                    ) from None
                if math.isinf(value) and "inf" in cell.lower():
                    raise DataError(
                        path,
                        _("infinite value {cell!r}").format(cell=cell),
                        row=row,
                        column=table.column(j),
                    )
                if not abs(value) <= self.limit:
                    hint = (
                        _("; use float64")
                        if self.dtype == np.float32 and math.isfinite(value)
                        else ""
                    )
                    raise DataError(
                        path,
                        _("{cell!r} is too large for {name}{hint}").format(
                            cell=_short(cell), name=self.dtype.name, hint=hint
                        ),
                        row=row,
                        column=table.column(j),
                    )
                values.append(value)
            if missing:
                self.dropped += 1
                continue
            rows.append(values)
        return np.array(rows, dtype=np.float64).reshape(len(rows), table.columns)

    # -- storing --------------------------------------------------------------------------

    def _store(self, values: np.ndarray) -> None:
        count = values.shape[0]
        if count == 0:
            return
        if self.center:
            if self.column_shift is None:
                # Subtracting about the mean before the float32 cast keeps the digits that
                # matter for columns far from 0 (years, timestamps); the standardisation
                # subtracts the rest, so the result is the same.  A mean that overflows
                # (values near float64's largest) shifts nothing: the standardisation
                # then names the column.
                with np.errstate(over="ignore", invalid="ignore"):
                    shift = values.mean(axis=0)
                self.column_shift = np.where(np.isfinite(shift), shift, 0.0)
            values -= self.column_shift
        end = self.rows + count
        if end > self.X.shape[0]:
            self._grow(end)
        with np.errstate(over="ignore"):
            self.X[self.rows : end] = values[:, self.x_select]
            self.Y[self.rows : end] = values[:, self.y_select]
        self.rows = end

    def _grow(self, rows: int) -> None:
        capacity = max(rows, int(self.X.shape[0] * 1.25) + 1024)
        _check_memory(
            self.table.path,
            capacity * self.table.columns * self.dtype.itemsize,
            self.max_bytes,
        )
        self.X.resize((capacity, self.X.shape[1]), refcheck=False)
        self.Y.resize((capacity, self.Y.shape[1]), refcheck=False)


def _as_slice(columns: list[int]) -> slice | list[int]:
    if columns == list(range(columns[0], columns[-1] + 1)):
        return slice(columns[0], columns[-1] + 1)
    return columns


def _not_a_number(cell: str) -> str:
    if "\0" in cell or "\ufffd" in cell:
        return _("binary content, not a number")
    shown = _short(cell)
    if _DECIMAL_COMMA.match(cell):
        return _("not a number: {shown!r} (a decimal comma? write 1.5, not 1,5)").format(
            shown=shown
        )
    return _("not a number: {shown!r}").format(shown=shown)
