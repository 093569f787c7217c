"""The data of a descent: the notebook's toy problem, a synthetic one with a known truth, or a table file.

A table file (CSV, TSV, whitespace-separated ``.data``/``.txt``) is read in large
byte chunks, each parsed by NumPy's C reader (``np.loadtxt`` on the chunk) and
written straight into preallocated arrays X (n, d) and Y (n, m): no full copy of
the table is ever made.  A chunk that the C reader refuses (a ragged row, a
non-numeric cell, a missing or infinite value) is cut in halves until the bad
rows are cornered; only those few lines are read again in Python, to name the
exact row and column in a one-line :class:`DataError` (or to drop the row).

This module imports numpy and the standard library only (torch only inside
:func:`toy`), so the CLI can validate ``--target`` before torch loads.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import parse_test_fraction, shown_path

CHUNK_BYTES = 16 << 20
"""Bytes read and parsed at a time: large enough for the C reader to run at full speed."""
SLOW_BYTES = 4096
"""A refused piece of a chunk under this size is read line by line in Python."""
HEAD_BYTES = 1 << 20
"""The first bytes read to find the delimiter, the header and the average row length."""
MAX_LINE_BYTES = 64 << 20
PROGRESS_INTERVAL = 0.2
"""Seconds between two calls of ``progress``: a few per second at most."""
STATS_ROWS = 1 << 16
"""Rows converted to float64 at a time to compute and apply the standardisation."""
FALLBACK_MEMORY = 4 << 30
"""The memory budget when the available memory cannot be read."""

MISSING = frozenset({"", "?", "na", "n/a", "nan", "+nan", "-nan", "null", "none"})
"""Cells that mean "no value" (case-insensitive); ``?`` is the UCI repository's convention."""

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
SOURCES = ("toy", "synthetic")

_CONTROL = bytes(set(range(32)) - set(b"\t\n\r\f\v")) + b"\x7f"
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


class DataError(ValueError):
    """A bad data source; ``str()`` is one line naming the file, then the row and column if known.

    ``row`` is 1-based, the line number a text editor shows; ``column`` is the
    column's name (a str) when the file has a header, else its 0-based index.
    """

    def __init__(
        self, source: str, reason: str, row: int | None = None, column: str | int | None = None
    ) -> None:
        where = shown_path(source)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += (
                f", column {_short(column)!r}" if isinstance(column, str) else f", column {column}"
            )
        super().__init__(f"{where}: {reason}")
        self.source = str(source)
        self.reason = reason
        self.row = row
        self.column = column


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
        """One line for a panel: "diabetes.csv: n=354 (+88 test), d=10, m=1, standardised"."""
        test = f" (+{self.n_test} test)" if self.n_test else ""
        scaled = ", standardised" if self.standardized else ""
        name = shown_path(os.path.basename(self.source))
        return f"{name}: n={self.n}{test}, d={self.d}, m={self.m}{scaled}"

    def original_parameters(self, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """W (d, m) and b (1, m) learnt on standardised data, as they act on the original units."""
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64).reshape(1, -1)
        if not self.standardized:
            return W, b
        W_original = W / self.x_std[:, None] * self.y_std[None, :]
        b_original = self.y_mean + self.y_std * (b - (self.x_mean / self.x_std) @ W)
        return W_original, b_original.reshape(1, -1)


# -- validation of the settings, usable before anything is read ---------------------------


def parse_target(text: Any) -> tuple[str, ...] | None:
    """Target columns as typed: None (the last column), or names and 0-based indexes.

    ``"price"``, ``"0,3"``, ``"price, rooms"``; a name with a comma in it can be
    quoted: ``'"a,b",c'``.  A list of names or indexes is accepted too.  Which
    column each one means is decided once the header is read.  Raises ValueError
    with a one-line reason for an empty name or a column given twice.
    """
    if text is None:
        return None
    if isinstance(text, (list, tuple)):
        items = [str(item).strip() for item in text]
        if not items:
            return None
    else:
        text = str(text)
        if not text.strip():
            return None
        if "\n" in text or "\r" in text:
            raise ValueError("target: must be one line")
        items = [item.strip() for item in next(csv.reader([text], skipinitialspace=True))]
    for item in items:
        if not item:
            raise ValueError(f"target: an empty column name in {text!r}")
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"target: column {item!r} is given twice")
        seen.add(item)
    return tuple(items)


def _dtype(dtype: Any) -> np.dtype:
    try:
        value = np.dtype(dtype)
    except TypeError:
        value = None
    if value not in DTYPES:
        raise ValueError(f"dtype: must be float32 or float64, got {dtype!r}")
    return value


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _size(n_bytes: float) -> str:
    n_bytes = min(n_bytes, 1e30)  # a size from a huge n or d: an int past float's range
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{int(n_bytes)} bytes"


def address_space_left() -> int | None:
    """Bytes this process may still map under its address-space limit (``ulimit -v``,
    RLIMIT_AS), or None without a limit.  Past it an allocation fails, however much memory
    the machine has free."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return None
    if limit == resource.RLIM_INFINITY or limit < 0:
        return None
    try:
        with open("/proc/self/statm") as statm:
            mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        mapped = 0
    return max(0, limit - mapped)


def available_memory() -> int:
    """Bytes that can be allocated now: MemAvailable, capped by a cgroup limit if there is one
    and by the process's address-space limit (``ulimit -v``)."""
    available = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = FALLBACK_MEMORY
    try:  # A container's limit can be far under the machine's free memory.
        with open("/sys/fs/cgroup/memory.max") as limit_file:
            limit = limit_file.read().strip()
        with open("/sys/fs/cgroup/memory.current") as current_file:
            current = int(current_file.read().strip())
        if limit != "max":
            available = min(available, int(limit) - current)
    except (OSError, ValueError):
        pass
    left = address_space_left()
    if left is not None:
        available = min(available, left)
    return max(0, available)


def _check_memory(source: str, needed: float, max_bytes: int | None) -> None:
    budget = available_memory() if max_bytes is None else max_bytes
    if needed > budget:
        left = address_space_left() if max_bytes is None else None
        why = (
            " under this process's limit (ulimit -v)" if left is not None and left <= budget else ""
        )
        raise DataError(
            source,
            f"too large for memory (about {_size(needed)} needed, {_size(budget)} available{why})",
        )


def out_of_memory(error: BaseException) -> str | None:
    """A one-line message when ``error`` is a failed allocation (numpy's or torch's), else None."""
    text = str(error)
    if not isinstance(error, MemoryError) and not any(
        words in text.lower()
        for words in ("can't allocate memory", "not enough memory", "out of memory")
    ):
        return None
    size = re.search(r"allocate (\d+) bytes|allocate ([\d.]+ [KMGT]i?B)", text)
    asked = ""
    if size:
        asked = f" ({int(size[1]) / 1e9:.2g} GB asked)" if size[1] else f" ({size[2]} asked)"
    return (
        f"out of memory{asked}: the data are too large for the memory free now or for this "
        "process's limit (ulimit -v); use smaller data"
    )


# -- the test split and the standardisation, in place -----------------------------------


def _test_rows(source: str, n: int, test_fraction: float) -> int:
    if test_fraction == 0:
        return 0
    n_test = max(1, round(test_fraction * n))
    if n - n_test < 1:
        raise DataError(
            source,
            f"a test fraction of {test_fraction:g} leaves no training row out of {_rows(n)}"
            " (need at least 1 training and 1 test row)",
        )
    return n_test


def _truncate(A: np.ndarray, rows: int) -> np.ndarray:
    """The first ``rows`` rows, giving the rest of the memory back when A owns it."""
    if A.shape[0] == rows:
        return A
    if A.flags.owndata and A.base is None:
        # realloc: shrinking (and growing, with mremap) moves no data.
        A.resize((rows,) + A.shape[1:], refcheck=False)
        return A
    return A[:rows]


def _split(
    X: np.ndarray, Y: np.ndarray, n_test: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Rows drawn by a permutation from ``seed`` go to the test part; the rest stay in file order.

    The test rows are copied out (that copy is the test part itself), then the
    training rows are moved up in place, block by block, and the arrays cut.
    """
    if n_test == 0:
        return X, Y, None, None
    n = X.shape[0]
    test_rows = np.sort(np.random.default_rng(seed).permutation(n)[:n_test])
    X_test, Y_test = X[test_rows], Y[test_rows]
    keep = np.ones(n, dtype=bool)
    keep[test_rows] = False
    train_rows = np.flatnonzero(keep)
    for start in range(0, train_rows.size, STATS_ROWS):
        rows = train_rows[start : start + STATS_ROWS]
        if rows[0] == start and rows[-1] == start + rows.size - 1:
            continue  # already in place
        # Every source row is at or after its destination, and those of later blocks are
        # after this block's destinations: the fancy index copies this block before writing.
        X[start : start + rows.size] = X[rows]
        Y[start : start + rows.size] = Y[rows]
    n_train = n - n_test
    return _truncate(X, n_train), _truncate(Y, n_train), X_test, Y_test


def _column_stats(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, standard deviation (ddof 0) and "is constant" of each column, in float64, block by block."""
    columns = A.shape[1]
    count = 0
    mean = np.zeros(columns)
    m2 = np.zeros(columns)
    low = np.full(columns, np.inf)
    high = np.full(columns, -np.inf)
    # Values near float64's largest overflow here: the result is not finite and the caller
    # refuses the column, so numpy's warnings would only be noise on stderr.
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, A.shape[0], STATS_ROWS):
            block = A[start : start + STATS_ROWS].astype(np.float64)
            size = block.shape[0]
            block_mean = block.mean(axis=0)
            block_m2 = ((block - block_mean) ** 2).sum(axis=0)
            delta = block_mean - mean
            total = count + size
            # Chan et al.'s merge of two (count, mean, M2): exact in any block order.
            mean += delta * (size / total)
            m2 += block_m2 + delta**2 * (count * size / total)
            count = total
            np.minimum(low, block.min(axis=0), out=low)
            np.maximum(high, block.max(axis=0), out=high)
    return mean, np.sqrt(m2 / max(count, 1)), high == low


def _apply(A: np.ndarray | None, mean: np.ndarray, scale: np.ndarray) -> None:
    if A is None:
        return
    # A test row far outside the training rows' range can overflow float32 once scaled:
    # _check_scale refuses it afterwards.
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, A.shape[0], STATS_ROWS):
            block = A[start : start + STATS_ROWS].astype(np.float64)
            block -= mean
            block /= scale
            A[start : start + STATS_ROWS] = block


def _standardize(
    source: str,
    X: np.ndarray,
    Y: np.ndarray,
    X_test: np.ndarray | None,
    Y_test: np.ndarray | None,
    names: Sequence[str],
    target_names: Sequence[str],
    shift: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Scale every column by the training rows' mean and std, in place; returns the statistics.

    ``shift`` is what was already subtracted from each column while reading
    (features then targets), added back into the reported means.
    """
    notes = []
    stats = {}
    d = X.shape[1]
    for key, train, test, labels, offset in (
        ("x", X, X_test, names, None if shift is None else shift[:d]),
        ("y", Y, Y_test, target_names, None if shift is None else shift[d:]),
    ):
        mean, std, constant = _column_stats(train)
        bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))
        if bad.size:
            raise DataError(
                source,
                "values too large to standardise: their squares overflow float64"
                " (divide the column by a power of ten)",
                column=labels[bad[0]],
            )
        scale = np.where(constant, 1.0, std)
        for j in np.flatnonzero(constant):
            notes.append(
                f"column {labels[j]!r} is constant in the training rows: centred, not scaled"
            )
        _apply(train, mean, scale)
        _apply(test, mean, scale)
        stats[f"{key}_mean"] = mean if offset is None else mean + offset
        stats[f"{key}_std"] = scale
    return stats, notes


def _check_scale(
    source: str,
    parts: Sequence[tuple[np.ndarray | None, Sequence[str]]],
    hint: str,
) -> None:
    """Refuse data whose squares, summed over the rows, overflow the dtype.

    The loss sums (X W + b − Y)² over every entry, in the run's dtype, and the theory
    sums products of the columns of [X, 1] in float64: past this the first loss is already
    inf (a "divergence" that is the data's fault) or the theory's solver fails.  ``parts``
    are (array, column names) pairs.
    """
    for A, labels in parts:
        if A is None or A.size == 0:
            continue
        limit = float(np.finfo(A.dtype).max)
        sums = np.zeros(A.shape[1])
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, A.shape[0], STATS_ROWS):
                block = A[start : start + STATS_ROWS].astype(np.float64)
                sums += np.einsum("ij,ij->j", block, block)
            total = float(sums.sum())
        if total <= limit:
            continue
        j = int(np.argmax(np.where(np.isfinite(sums), sums, np.inf)))
        peak = float(np.max(np.abs(A[:, j])))
        raise DataError(
            source,
            f"values up to {peak:.3g} are too large: their squares, summed over the"
            f" {_rows(A.shape[0])}, overflow {A.dtype.name} and the loss cannot be computed"
            f"{hint}",
            column=labels[j],
        )


# -- the toy problem and the synthetic one ----------------------------------------------


def toy(
    seed: int = 42,
    dtype: Any = np.float32,
    *,
    test_fraction: float = 0.0,
    standardize: bool = False,
) -> Dataset:
    """The notebook's X (50, 13) and Y (50, 3), drawn as :func:`engine.problem.toy_problem` draws them."""
    from .problem import toy_problem

    dtype = _dtype(dtype)
    test_fraction = _fraction("toy", test_fraction)
    problem = toy_problem(seed)
    X = problem.X.numpy().astype(dtype)
    Y = problem.Y.numpy().astype(dtype)
    return _finish(
        "toy",
        X,
        Y,
        [str(j) for j in range(X.shape[1])],
        [str(j) for j in range(Y.shape[1])],
        test_fraction=test_fraction,
        seed=seed,
        standardize=standardize,
    )


def _positive_int(source: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, str)):
        raise DataError(source, f"{name} must be a positive integer, got {value!r}")
    try:
        number = float(value) if isinstance(value, str) else value
        integer = int(number)
    except (ValueError, OverflowError):
        raise DataError(source, f"{name} must be a positive integer, got {value!r}") from None
    if integer != number or integer < 1:
        raise DataError(source, f"{name} must be a positive integer, got {value!r}")
    return integer


def _fraction(source: str, value: Any) -> float:
    try:
        return parse_test_fraction(value)
    except ValueError as error:
        raise DataError(source, str(error)) from None


def synthetic(
    n: int = 200,
    d: int = 5,
    m: int = 1,
    noise: float = 0.1,
    seed: int = 42,
    dtype: Any = np.float32,
    *,
    test_fraction: float = 0.0,
    standardize: bool = False,
    max_bytes: int | None = None,
) -> Dataset:
    """Y = X W_true + b_true + noise·ε, with X, W_true, b_true and ε standard normal.

    All drawn from ``np.random.default_rng(seed)``: W_true (d, m), b_true (1, m),
    then X (n, d) directly in ``dtype`` (no float64 copy), then ε.  The test part
    is the last rows: the rows are independent, so any split is a random one.
    W_true and b_true are returned in ``dtype``, as used to compute Y; with
    ``standardize`` they are converted to the standardised units.
    """
    source = "synthetic"
    n = _positive_int(source, "n", n)
    d = _positive_int(source, "d", d)
    m = _positive_int(source, "m", m)
    given = noise
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise DataError(source, f"noise must be a number, got {given!r}") from None
    if not math.isfinite(noise) or noise < 0:
        raise DataError(source, f"noise must be a finite number >= 0, got {given!r}")
    try:
        dtype = _dtype(dtype)
    except ValueError as error:
        raise DataError(source, str(error)) from None
    if noise > float(np.finfo(dtype).max):
        raise DataError(
            source,
            f"noise {noise:g} is too large for {dtype.name}: --noise must be at most "
            f"{np.finfo(dtype).max:.4g}",
        )
    test_fraction = _fraction(source, test_fraction)
    if n < 2:
        raise DataError(source, f"n must be at least 2, got {n}")
    n_test = _test_rows(source, n, test_fraction)
    _check_memory(source, n * (d + 2 * m) * dtype.itemsize, max_bytes)

    rng = np.random.default_rng(seed)
    W_true = rng.standard_normal((d, m)).astype(dtype)
    b_true = rng.standard_normal((1, m)).astype(dtype)
    try:
        X = rng.standard_normal((n, d), dtype=dtype)
        Y = X @ W_true
        Y += b_true
        if noise > 0:
            with np.errstate(over="ignore"):  # _check_scale names what overflowed
                Y += dtype.type(noise) * rng.standard_normal((n, m), dtype=dtype)
    except MemoryError:
        # The memory check was right when it ran; another process took memory since.
        raise DataError(source, "too large for memory (ran out while drawing it)") from None
    n_train = n - n_test
    # Views of one buffer: the first rows and the last ones are each C-contiguous.
    X_train, Y_train = X[:n_train], Y[:n_train]
    X_test, Y_test = (X[n_train:], Y[n_train:]) if n_test else (None, None)
    stats: dict[str, np.ndarray] = {}
    notes: list[str] = []
    if standardize:
        stats, notes = _standardize(
            source, X_train, Y_train, X_test, Y_test, _names("x", d), _names("y", m)
        )
        # y' = x' (σx W / σy) + (μx W + b − μy) / σy + ε / σy
        mean_x, std_x, mean_y, std_y = (
            stats["x_mean"],
            stats["x_std"],
            stats["y_mean"],
            stats["y_std"],
        )
        W64 = W_true.astype(np.float64)
        b_true = ((mean_x @ W64 + b_true - mean_y) / std_y).astype(dtype).reshape(1, m)
        W_true = (std_x[:, None] * W64 / std_y[None, :]).astype(dtype)
    hint = "; lower the noise (--noise)"
    train = [] if standardize else [(X_train, _names("x", d)), (Y_train, _names("y", m))]
    _check_scale(source, [*train, (X_test, _names("x", d)), (Y_test, _names("y", m))], hint)
    return Dataset(
        X_train,
        Y_train,
        X_test,
        Y_test,
        _names("x", d),
        _names("y", m),
        source,
        W_true=W_true,
        b_true=b_true,
        notes=tuple(notes),
        **stats,
    )


def _names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{j}" for j in range(count)]


def _finish(
    source: str,
    X: np.ndarray,
    Y: np.ndarray,
    feature_names: list[str],
    target_names: list[str],
    *,
    test_fraction: float,
    seed: int,
    standardize: bool,
    shift: np.ndarray | None = None,
    dropped_rows: int = 0,
    notes: Sequence[str] = (),
) -> Dataset:
    n_test = _test_rows(source, X.shape[0], test_fraction)
    X, Y, X_test, Y_test = _split(X, Y, n_test, seed)
    stats: dict[str, np.ndarray] = {}
    notes = list(notes)
    if standardize:
        stats, more_notes = _standardize(
            source, X, Y, X_test, Y_test, feature_names, target_names, shift
        )
        notes += more_notes
    # Standardised training rows are within a few units of 0; raw ones and the test rows
    # (scaled by the training rows' statistics) may not be.
    hint = "; divide the column by a power of ten" + (
        "" if standardize else " or standardise the data (leave out --no-standardize)"
    )
    train = [] if standardize else [(X, feature_names), (Y, target_names)]
    _check_scale(source, [*train, (X_test, feature_names), (Y_test, target_names)], hint)
    return Dataset(
        X,
        Y,
        X_test,
        Y_test,
        list(feature_names),
        list(target_names),
        source,
        dropped_rows=dropped_rows,
        notes=tuple(notes),
        **stats,
    )


# -- table files ------------------------------------------------------------------------


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _split_line(line: str, delimiter: str | None) -> list[str]:
    """The cells of one line, unquoted and stripped."""
    if delimiter is None:
        cells = line.split()
    else:
        try:
            cells = next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [])
        except csv.Error:
            # A carriage return inside the line, or a cell over the csv module's 128 kB
            # limit: cut at the delimiters; the cell then reads as a number or is named.
            cells = line.split(delimiter)
    out = []
    for cell in cells:
        cell = cell.strip()
        if len(cell) >= 2 and cell[0] == cell[-1] and cell[0] in "\"'":
            cell = cell[1:-1].strip()
        out.append(cell)
    return out


def _guess_delimiter(path: str, lines: list[str]) -> str | None:
    """By the extension, then by the sampled lines: None means any whitespace."""
    extension = os.path.splitext(path)[1].lower()
    sample = lines[:20]

    def consistent(character: str) -> bool:
        counts = {line.count(character) for line in sample}
        return len(counts) == 1 and counts.pop() > 0

    if extension == ".tsv":
        return "\t"
    # A ";" on every line means ";"-separated, with decimal commas perhaps: test it first.
    if extension == ".csv":
        return ";" if consistent(";") else ","
    if consistent(";"):
        return ";"
    if consistent(","):
        return ","
    if consistent("\t") and all(
        not re.search(r"\S\s+\S", cell.strip()) for line in sample for cell in line.split("\t")
    ):
        return "\t"
    return None


@dataclass
class _Table:
    """What the head of a file tells about the rest."""

    path: str
    delimiter: str | None
    columns: int
    header: list[str] | None
    data_offset: int
    first_data_line: int
    x_columns: list[int]
    y_columns: list[int]

    def column(self, j: int) -> str | int:
        return self.header[j] if self.header is not None else j

    @property
    def expected_from(self) -> str:
        return (
            "as in the header" if self.header is not None else f"as in row {self.first_data_line}"
        )


def _read_head(path: str, handle, size: int) -> tuple[bytes, int]:
    """The first MB (more if the first rows are longer), and where the text starts (after a BOM)."""
    head = handle.read(min(size, HEAD_BYTES))
    if head[:4] == b"PK\x03\x04":
        raise DataError(path, "looks like an Excel/zip file; export it as CSV")
    if head[:2] == b"\x1f\x8b":
        raise DataError(path, "a gzip-compressed file; decompress it first (gunzip)")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise DataError(path, "UTF-16 text; save it as UTF-8 (or ASCII) CSV")
    start = 3 if head[:3] == b"\xef\xbb\xbf" else 0
    first_kb = head[start : start + 1024]
    if b"\0" in first_kb:
        raise DataError(path, "binary content (NUL bytes), not a text table")
    if first_kb.translate(None, _CONTROL) != first_kb:
        raise DataError(path, "binary content (control characters), not a text table")
    # Read on until the first two non-blank rows are whole (or the file ends).
    while (
        len(head) < size and sum(1 for line in head[start:].split(b"\n")[:-1] if line.strip()) < 2
    ):
        if len(head) >= MAX_LINE_BYTES:
            raise DataError(path, f"no line break in the first {_size(len(head))}: not a table")
        head += handle.read(HEAD_BYTES)
    return head, start


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _resolve_target(
    path: str, tokens: tuple[str, ...] | None, header: list[str] | None, columns: int
) -> list[int]:
    if tokens is None:
        return [columns - 1]
    chosen: list[int] = []
    for token in tokens:
        index = None
        if header is not None and token in header:
            matches = [j for j, name in enumerate(header) if name == token]
            if len(matches) > 1:
                raise DataError(
                    path,
                    f"target column {token!r} is ambiguous: columns"
                    f" {', '.join(map(str, matches))} have that name; give an index",
                )
            index = matches[0]
        elif re.fullmatch(r"[+-]?\d+", token):
            index = int(token)
            if not -columns <= index < columns:
                raise DataError(
                    path,
                    f"target column {index} is out of range: the file has {columns} columns"
                    f" (0 to {columns - 1})",
                )
            index %= columns
        elif header is None:
            raise DataError(
                path,
                f"unknown target column {token!r}: the file has no header;"
                f" give a 0-based index (0 to {columns - 1})",
            )
        else:
            shown = ", ".join(_short(name) for name in header[:12]) + (
                ", …" if len(header) > 12 else ""
            )
            raise DataError(path, f"unknown target column {token!r} (columns: {shown})")
        if index in chosen:
            name = header[index] if header is not None else index
            raise DataError(path, f"the target names column {name!r} twice")
        chosen.append(index)
    if len(chosen) == columns:
        raise DataError(path, f"no feature column left: the target takes all {columns} columns")
    return chosen


def _describe_table(
    path: str, head: bytes, start: int, size: int, target: tuple[str, ...] | None
) -> tuple[_Table, list[str], int]:
    """Delimiter, header, target columns, and an estimate of the number of rows."""
    notes: list[str] = []
    raw_lines = head[start:].split(b"\n")
    if len(head) < size:
        raw_lines = raw_lines[:-1]  # the last one may be cut
    offsets, position = [], start
    for raw in raw_lines:
        offsets.append(position)
        position += len(raw) + 1
    numbered = [(i, raw) for i, raw in enumerate(raw_lines) if raw.strip()]
    if not numbered:
        raise DataError(path, "empty file")
    texts = [_decode(raw).rstrip("\r") for _, raw in numbered]
    delimiter = _guess_delimiter(path, texts)
    first = _split_line(texts[0], delimiter)
    # A text cell makes a header; a decimal comma is a number written wrong, not a name.
    has_header = any(
        not _is_number(cell) and cell.lower() not in MISSING and not _DECIMAL_COMMA.match(cell)
        for cell in first
    )
    columns = len(first)
    header = None
    first_data = 0
    if has_header:
        header = [cell if cell else str(j) for j, cell in enumerate(first)]
        first_data = 1
        if len(numbered) < 2:
            raise DataError(path, "a header but no data rows")
        if any(_is_number(cell) for cell in first):
            notes.append("row 1 has text, so it was taken as a header")
    if columns < 2:
        raise DataError(
            path,
            f"only one column{' (' + repr(header[0]) + ')' if header else ''}:"
            " need at least one feature column and one target column"
            + ("; is the delimiter right?" if delimiter is not None else ""),
        )
    line_index = numbered[first_data][0]
    data_offset = offsets[line_index]
    y_columns = _resolve_target(path, target, header, columns)
    x_columns = [j for j in range(columns) if j not in y_columns]
    table = _Table(
        path, delimiter, columns, header, data_offset, line_index + 1, x_columns, y_columns
    )
    # Rows to allocate: exact when the head holds the whole file, else from the mean row length.
    sample = [raw for i, raw in numbered[first_data:]]
    if len(head) >= size:
        rows = len(sample)
    else:
        sampled_bytes = sum(len(raw) + 1 for raw in raw_lines[line_index:])
        mean_row = sampled_bytes / max(len(sample), 1)
        rows = int((size - data_offset) / mean_row * 1.02) + 16
    return table, notes, rows


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
                        shown = f" {cell!r}" if cell else " (an empty cell)"
                        raise DataError(
                            path,
                            f"missing value{shown}; use --dropna to drop rows with missing values",
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
                        path, f"infinite value {cell!r}", row=row, column=table.column(j)
                    )
                if not abs(value) <= self.limit:
                    hint = (
                        "; use float64" if self.dtype == np.float32 and math.isfinite(value) else ""
                    )
                    raise DataError(
                        path,
                        f"{_short(cell)!r} is too large for {self.dtype.name}{hint}",
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


def _short(text: str) -> str:
    """A cell or a column name as a message shows it: cut after 40 characters."""
    return text if len(text) <= 40 else text[:37] + "..."


def _not_a_number(cell: str) -> str:
    if "\0" in cell or "\ufffd" in cell:
        return "binary content, not a number"
    shown = _short(cell)
    if _DECIMAL_COMMA.match(cell):
        return f"not a number: {shown!r} (a decimal comma? write 1.5, not 1,5)"
    return f"not a number: {shown!r}"


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
    (see :func:`parse_target`).  The header is detected: a first row with a text
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
    try:
        tokens = parse_target(target)
    except ValueError as error:
        raise DataError(path, str(error)) from None
    test_fraction = _fraction(path, test_fraction)
    try:
        dtype = _dtype(dtype)
    except ValueError as error:
        raise DataError(path, str(error)) from None

    try:
        handle = open(os.path.expanduser(path), "rb")
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except IsADirectoryError:
        raise DataError(path, "is a folder, not a file") from None
    except PermissionError:
        raise DataError(path, "cannot be read: permission denied") from None
    except OSError as error:
        raise DataError(path, f"cannot be read: {error.strerror or error}") from None
    with handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                raise DataError(path, "empty file")
            head, start = _read_head(path, handle, size)
            table, notes, rows = _describe_table(path, head, start, size, tokens)
            # The arrays, plus a few chunks in flight while parsing.
            working = min(size, CHUNK_BYTES) * 4
            _check_memory(path, rows * table.columns * dtype.itemsize + working, max_bytes)
            reader = _Reader(table, dtype, rows, dropna, standardize, max_bytes)
            _read_rows(handle, size, table, reader, progress)
        except IsADirectoryError:
            raise DataError(path, "is a folder, not a file") from None
        except OSError as error:
            raise DataError(path, f"cannot be read: {error.strerror or error}") from None
        except MemoryError:
            raise DataError(path, "too large for memory (ran out while reading it)") from None

    n, dropped = reader.rows, reader.dropped
    after = f" after dropping {_rows(dropped)} with missing values" if dropped else ""
    if n == 0:
        if dropped:
            raise DataError(
                path, f"no data row left after dropping {_rows(dropped)} with missing values"
            )
        raise DataError(path, "a header but no data rows" if table.header else "empty file")
    if n == 1:
        raise DataError(path, f"only 1 data row{after}; need at least 2")
    X = _truncate(reader.X, n)
    Y = _truncate(reader.Y, n)
    names = table.header or [str(j) for j in range(table.columns)]
    if dropped:
        notes.append(f"{_rows(dropped)} with missing values dropped")
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
                        f"a line longer than {_size(MAX_LINE_BYTES)}: not a table",
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


# -- one entry point for the CLI and the TUI --------------------------------------------


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
