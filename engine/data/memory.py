"""Whether data fit in memory, checked before they are read; a failed allocation in one line."""

from __future__ import annotations

import os
import re

from engine.data.dataset import DataError, _size
from engine.i18n import _

FALLBACK_MEMORY = 4 << 30
"""The memory budget when the available memory cannot be read."""


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
            _(" under this process's limit (ulimit -v)")
            if left is not None and left <= budget
            else ""
        )
        raise DataError(
            source,
            _("too large for memory (about {needed} needed, {budget} available{why})").format(
                needed=_size(needed), budget=_size(budget), why=why
            ),
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
        asked = (
            _(" ({value:.2g} GB asked)").format(value=int(size[1]) / 1000000000.0)
            if size[1]
            else _(" ({size} asked)").format(size=size[2])
        )
    return _(
        "out of memory{asked}: the data are too large for the memory free now or for this process's limit (ulimit -v); use smaller data"
    ).format(asked=asked)
