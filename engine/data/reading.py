"""A table file read in large chunks into preallocated arrays: :func:`load_table`.

A table file (CSV, TSV, whitespace-separated ``.data``/``.txt``) is read in large
byte chunks, each parsed by NumPy's C reader (``np.loadtxt`` on the chunk) and
written straight into preallocated arrays X (n, d) and Y (n, m): no full copy of
the table is ever made.  A chunk that the C reader refuses (a ragged row, a
non-numeric cell, a missing or infinite value) is cut in halves until the bad
rows are cornered; only those few lines are read again in Python, to name the
exact row and column in a one-line :class:`DataError` (or to drop the row).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from engine.config import target_columns
from engine.data.cleaning import _Reader
from engine.data.dataset import DataError, Dataset, _dtype, _rows, _size
from engine.data.memory import _check_memory
from engine.data.preparing import _finish, _fraction, _truncate
from engine.data.sniffing import MAX_LINE_BYTES, _describe_table, _read_head, _Table
from engine.i18n import _

CHUNK_BYTES = 16 << 20
"""Bytes read and parsed at a time: large enough for the C reader to run at full speed."""
PROGRESS_INTERVAL = 0.2
"""Seconds between two calls of ``progress``: a few per second at most."""


def load_table(
    path: str | os.PathLike,
    *,
    target: Any = None,
    standardize: bool = True,
    test_fraction: float = 0.0,
    dropna: bool = False,
    seed: int = 42,
    dtype: Any = np.float32,
    progress: Callable[[float], None] | None = None,
    max_bytes: int | None = None,
) -> Dataset:
    """Read a CSV (``,`` or ``;``), TSV or whitespace-separated table of numbers.

    ``target``: None (the last column) or names / 0-based indexes, comma-separated
    (see :func:`engine.config.target_columns`).  The header is detected: a first row with a text
    cell.  ``test_fraction`` of the rows, drawn by a permutation from ``seed``, form
    the test part; the training rows keep the file's order.  ``standardize`` scales
    each column by the training rows' mean and std.  ``progress(fraction)`` is
    called a few times per second at most while reading; an exception raised by it
    stops the reading.  ``max_bytes`` is the memory budget (default: the memory
    available now); a file whose table would not fit is refused before it is read.
    Every problem raises a :class:`DataError` whose message is one line.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    tokens = _target_tokens(path, target)
    test_fraction = _fraction(path, test_fraction)
    try:
        dtype = _dtype(dtype)
    except ValueError as error:
        raise DataError(path, str(error)) from None

    with _open(path) as handle:
        try:
            size, table, notes, rows = _sniff(path, handle, tokens)
            # The arrays, plus a few chunks in flight while parsing.
            working = min(size, CHUNK_BYTES) * 4
            _check_memory(path, rows * table.columns * dtype.itemsize + working, max_bytes)
            reader = _Reader(table, dtype, rows, dropna, standardize, max_bytes)
            _read_rows(handle, size, table, reader, progress)
        except IsADirectoryError:
            raise DataError(path, _("is a folder, not a file")) from None
        except OSError as error:
            raise DataError(
                path, _("cannot be read: {value}").format(value=error.strerror or error)
            ) from None
        except MemoryError:
            raise DataError(path, _("too large for memory (ran out while reading it)")) from None

    n, dropped = reader.rows, reader.dropped
    after = (
        _(" after dropping {dropped} with missing values").format(dropped=_rows(dropped))
        if dropped
        else ""
    )
    if n == 0:
        if dropped:
            raise DataError(
                path,
                _("no data row left after dropping {dropped} with missing values").format(
                    dropped=_rows(dropped)
                ),
            )
        raise DataError(path, _("a header but no data rows") if table.header else _("empty file"))
    if n == 1:
        raise DataError(path, _("only 1 data row{after}; need at least 2").format(after=after))
    X = _truncate(reader.X, n)
    Y = _truncate(reader.Y, n)
    names = table.header or [str(j) for j in range(table.columns)]
    if dropped:
        notes.append(_("{dropped} with missing values dropped").format(dropped=_rows(dropped)))
    return _finish(
        path,
        X,
        Y,
        [names[j] for j in table.x_columns],
        [names[j] for j in table.y_columns],
        test_fraction=test_fraction,
        seed=seed,
        standardize=standardize,
        shift=reader.shift,
        dropped_rows=dropped,
        notes=notes,
    )


@dataclass(frozen=True)
class TableColumns:
    """What the first lines of a table file say: its columns, and which ones a target takes."""

    path: str
    names: tuple[str, ...]
    """Every column's name: the header's, or "0", "1"… without a header."""
    header: bool
    """Whether the first row was a header."""
    targets: tuple[int, ...]
    """The 0-based indexes of the target columns (the last one when no target is given)."""
    notes: tuple[str, ...] = ()

    @property
    def features(self) -> tuple[int, ...]:
        return tuple(j for j in range(len(self.names)) if j not in self.targets)


def table_columns(path: str | os.PathLike, target: Any = None) -> TableColumns:
    """The columns of a table file and the target's, from its first lines only (a megabyte
    at most for an ordinary file): cheap enough to call as a path is typed.

    The checks are :func:`load_table`'s own: the same :class:`DataError` for a missing
    file, a binary one, a single column, or a target the header does not have (its
    ``setting`` is ``"target"`` then).  Rows further down are not read, so a bad cell
    there is found only by :func:`load_table`.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    tokens = _target_tokens(path, target)
    try:
        mode = os.stat(os.path.expanduser(path)).st_mode
    except OSError:
        mode = None  # _open names the problem
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        # A pipe or a device: opening it may wait for a writer, or read without end.
        raise DataError(path, _("not a regular file"))
    with _open(path) as handle:
        try:
            _columns, table, notes, _rest = _sniff(path, handle, tokens)
        except IsADirectoryError:
            raise DataError(path, _("is a folder, not a file")) from None
        except OSError as error:
            raise DataError(
                path, _("cannot be read: {value}").format(value=error.strerror or error)
            ) from None
    names = table.header or [str(j) for j in range(table.columns)]
    return TableColumns(
        path, tuple(names), table.header is not None, tuple(table.y_columns), tuple(notes)
    )


def _sniff(
    path: str, handle: BinaryIO, tokens: tuple[str, ...] | None
) -> tuple[int, _Table, list[str], int]:
    """The file's size, its table's shape, the notes on it and an estimate of its rows."""
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        raise DataError(path, _("empty file"))
    head, start = _read_head(path, handle, size)
    table, notes, rows = _describe_table(path, head, start, size, tokens)
    return size, table, notes, rows


def _target_tokens(path: str, target: Any) -> tuple[str, ...] | None:
    try:
        return target_columns(target)
    except ValueError as error:
        raise DataError(path, str(error), setting="target") from None


def _open(path: str) -> BinaryIO:
    """The file, opened for reading bytes; a DataError naming it when it cannot be."""
    try:
        return open(os.path.expanduser(path), "rb")
    except FileNotFoundError:
        raise DataError(path, _("no such file")) from None
    except IsADirectoryError:
        raise DataError(path, _("is a folder, not a file")) from None
    except PermissionError:
        raise DataError(path, _("cannot be read: permission denied")) from None
    except OSError as error:
        raise DataError(
            path, _("cannot be read: {value}").format(value=error.strerror or error)
        ) from None


def _read_rows(handle, size: int, table: _Table, reader: _Reader, progress) -> None:
    """Chunks cut after their last line break, from the first data row to the end."""
    handle.seek(table.data_offset)
    line = table.first_data_line
    done = table.data_offset
    shown_at = time.monotonic()
    if progress is not None:
        progress(0.0)
    rest = b""
    while True:
        chunk = handle.read(CHUNK_BYTES)
        at_end = not chunk
        data = rest + chunk if rest else chunk
        if not at_end:
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) > MAX_LINE_BYTES:
                    raise DataError(
                        table.path,
                        _("a line longer than {MAX_LINE_BYTES}: not a table").format(
                            MAX_LINE_BYTES=_size(MAX_LINE_BYTES)
                        ),
                        row=line,
                    )
                rest = data
                continue
            data, rest = data[:cut], data[cut:]
        if data:
            reader.parse(data, line)
            line += data.count(b"\n")
            done += len(data)
        if at_end:
            break
        if progress is not None and time.monotonic() - shown_at >= PROGRESS_INTERVAL:
            progress(min(done / size, 0.999))
            shown_at = time.monotonic()
    if progress is not None:
        progress(1.0)
