"""The notebook's toy problem and a synthetic one with a known truth, as data sets."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.data.dataset import DataError, Dataset, _dtype
from engine.data.memory import _check_memory
from engine.data.preparing import _check_scale, _finish, _fraction, _standardize, _test_rows
from engine.i18n import _


def toy(
    seed: int = 42,
    dtype: Any = np.float32,
    *,
    test_fraction: float = 0.0,
    standardize: bool = False,
) -> Dataset:
    """The notebook's X (50, 13) and Y (50, 3), drawn as :func:`engine.core.problem.toy_problem` draws them."""
    from engine.core.problem import toy_problem

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
    reason = _("{name} must be a positive integer, got {value!r}").format(name=name, value=value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, str)):
        raise DataError(source, reason, setting=name)
    try:
        number = float(value) if isinstance(value, str) else value
        integer = int(number)
    except (ValueError, OverflowError):
        raise DataError(source, reason, setting=name) from None
    if integer != number or integer < 1:
        raise DataError(source, reason, setting=name)
    return integer


def check_synthetic(
    n: Any,
    d: Any,
    m: Any,
    noise: Any,
    dtype: Any = np.float32,
    *,
    test_fraction: Any = 0.0,
    max_bytes: int | None = None,
) -> tuple[int, int, int, float, np.dtype, float]:
    """``(n, d, m, noise, dtype, test_fraction)`` as :func:`synthetic` uses them, or the
    :class:`DataError` it would raise, naming the setting (``error.setting``): n under 2, a
    noise past the dtype's range, a test fraction that leaves no training row, data too
    large for memory.  Nothing is drawn: cheap enough for a form to call as it is typed.
    """
    source = "synthetic"
    n = _positive_int(source, "n", n)
    d = _positive_int(source, "d", d)
    m = _positive_int(source, "m", m)
    given = noise
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise DataError(
            source, _("noise must be a number, got {given!r}").format(given=given), setting="noise"
        ) from None
    if not math.isfinite(noise) or noise < 0:
        raise DataError(
            source,
            _("noise must be a finite number >= 0, got {given!r}").format(given=given),
            setting="noise",
        )
    try:
        dtype = _dtype(dtype)
    except ValueError as error:
        raise DataError(source, str(error), setting="dtype") from None
    if noise > float(np.finfo(dtype).max):
        raise DataError(
            source,
            _("noise {noise:g} is too large for {name}: --noise must be at most {max:.4g}").format(
                noise=noise, name=dtype.name, max=np.finfo(dtype).max
            ),
            setting="noise",
        )
    test_fraction = _fraction(source, test_fraction)
    if n < 2:
        raise DataError(source, _("n must be at least 2, got {n}").format(n=n), setting="n")
    _test_rows(source, n, test_fraction)
    try:
        _check_memory(source, n * (d + 2 * m) * dtype.itemsize, max_bytes)
    except DataError as error:
        raise DataError(source, error.reason, setting="n") from None
    return n, d, m, noise, dtype, test_fraction


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
    progress: Callable[[float], None] | None = None,
) -> Dataset:
    """Y = X W_true + b_true + noise·ε, with X, W_true, b_true and ε standard normal.

    All drawn from ``np.random.default_rng(seed)``: W_true (d, m), b_true (1, m),
    then X (n, d) directly in ``dtype`` (no float64 copy), then ε.  The test part
    is the last rows: the rows are independent, so any split is a random one.
    W_true and b_true are returned in ``dtype``, as used to compute Y; with
    ``standardize`` they are converted to the standardised units.

    ``progress(fraction)`` is called between blocks of about ``BLOCK_ELEMENTS`` numbers
    drawn (a few times a second on large data): an exception it raises stops the drawing
    there, which is how a caller cancels a large problem being made.
    """
    source = "synthetic"
    n, d, m, noise, dtype, test_fraction = check_synthetic(
        n, d, m, noise, dtype, test_fraction=test_fraction, max_bytes=max_bytes
    )
    n_test = _test_rows(source, n, test_fraction)

    rng = np.random.default_rng(seed)
    W_true = rng.standard_normal((d, m)).astype(dtype)
    b_true = rng.standard_normal((1, m)).astype(dtype)
    try:
        total = n * (d + (m if noise > 0 else 0))
        X = _draw(rng, (n, d), dtype, progress, 0, total)
        Y = X @ W_true
        Y += b_true
        if noise > 0:
            epsilon = _draw(rng, (n, m), dtype, progress, n * d, total)
            with np.errstate(over="ignore"):  # _check_scale names what overflowed
                Y += dtype.type(noise) * epsilon
            del epsilon
    except MemoryError:
        # The memory check was right when it ran; another process took memory since.
        raise DataError(source, _("too large for memory (ran out while drawing it)")) from None
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
    hint = _("; lower the noise (--noise)")
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


# About this many numbers are drawn between two calls of ``progress`` (~10 ms each).
BLOCK_ELEMENTS = 1 << 20


def _draw(
    rng: np.random.Generator,
    shape: tuple[int, int],
    dtype: np.dtype,
    progress: Callable[[float], None] | None,
    done: int,
    total: int,
) -> np.ndarray:
    """``rng.standard_normal(shape, dtype)``, drawn in blocks of rows with ``progress`` called
    between them.  The same numbers as one draw: a generator's stream does not depend on
    how it is cut (tests/engine/test_data.py checks it)."""
    rows, columns = shape
    out = np.empty(shape, dtype=dtype)
    if progress is None:
        rng.standard_normal(out=out, dtype=dtype)
        return out
    block = max(1, BLOCK_ELEMENTS // max(columns, 1))
    for start in range(0, rows, block):
        progress((done + start * columns) / total)
        rng.standard_normal(out=out[start : start + block], dtype=dtype)
    return out


def _names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{j}" for j in range(count)]
