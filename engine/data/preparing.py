"""The test split and the standardisation, in place, and the last checks of a data set's scale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.config import parse_test_fraction
from engine.data.dataset import DataError, Dataset, _rows
from engine.i18n import _

STATS_ROWS = 1 << 16
"""Rows converted to float64 at a time to compute and apply the standardisation."""


def _test_rows(source: str, n: int, test_fraction: float) -> int:
    if test_fraction == 0:
        return 0
    n_test = max(1, round(test_fraction * n))
    if n - n_test < 1:
        raise DataError(
            source,
            _(
                "a test fraction of {test_fraction:g} leaves no training row out of {n} (need at least 1 training and 1 test row)"
            ).format(test_fraction=test_fraction, n=_rows(n)),
            setting="test_fraction",
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
    std = np.sqrt(m2 / max(count, 1))
    # A spread so small that its square underflows (values near 1e-160 and below) has a
    # std of 0: it cannot be scaled either, so it counts as constant (centred only).
    return mean, std, (high == low) | (std == 0)


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
                _(
                    "values too large to standardise: their squares overflow float64"
                    " (divide the column by a power of ten)"
                ),
                column=labels[bad[0]],
            )
        scale = np.where(constant, 1.0, std)
        for j in np.flatnonzero(constant):
            notes.append(
                _("column {labels!r} is constant in the training rows: centred, not scaled").format(
                    labels=labels[j]
                )
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
            _(
                "values up to {peak:.3g} are too large: their squares, summed over the {value}, overflow {name} and the loss cannot be computed{hint}"
            ).format(peak=peak, value=_rows(A.shape[0]), name=A.dtype.name, hint=hint),
            column=labels[j],
        )


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
    hint = _("; divide the column by a power of ten") + (
        "" if standardize else _(" or standardise the data (leave out --no-standardize)")
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


def _fraction(source: str, value: Any) -> float:
    try:
        return parse_test_fraction(value)
    except ValueError as error:
        raise DataError(source, str(error), setting="test_fraction") from None
