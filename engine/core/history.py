"""A growable float64 array: the loss of every iteration, 8 bytes each."""

from __future__ import annotations

import numpy as np


class LossHistory:
    """Append-only; ``view()`` is a read-only numpy view of the values so far."""

    def __init__(self, capacity: int = 1024) -> None:
        self._values = np.empty(max(capacity, 1), dtype=np.float64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, value: float) -> None:
        if self._size == len(self._values):
            self._grow()
        self._values[self._size] = value
        self._size += 1

    def _grow(self) -> None:
        larger = np.empty(2 * len(self._values), dtype=np.float64)
        larger[: self._size] = self._values[: self._size]
        self._values = larger

    def view(self) -> np.ndarray:
        out = self._values[: self._size]  # a new view: read-only, the buffer stays writable
        out.flags.writeable = False
        return out

    def nbytes(self) -> int:
        return self._values.nbytes
