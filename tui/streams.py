"""stdout and stderr that cannot end a run: closed, full, a reader gone, or not UTF-8.

A headless run with ``--save`` must save whatever happens to its output, so the
run writes through a :class:`GuardedStream`: the first failed write is recorded
(and reported once the run is over), the later ones are dropped.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import sys
from collections.abc import Callable, Iterable
from typing import TextIO

# Plain-ASCII stand-ins for the few non-ASCII characters amal-tui prints, for a terminal
# (or PYTHONIOENCODING) that cannot encode them; anything else becomes a \\u escape.
ASCII_STAND_INS = {
    "ε": "eps",
    "✓": "ok",
    "✗": "x",
    "Δ": "d",
    "≥": ">=",
    "≤": "<=",
    "→": "->",
    "…": "...",
    "·": "-",
    "×": "x",
    "—": "--",
    "–": "-",
    "β": "beta",
    "μ": "mu",
    "σ": "sigma",
    "◆": "*",
}
ERRORS = "amal-tui-stand-ins"


def _stand_ins(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(ASCII_STAND_INS.get(c) or c.encode("unicode_escape").decode() for c in text), (
        error.end
    )


codecs.register_error(ERRORS, _stand_ins)


def encode_what_it_can(stream: TextIO | None) -> None:
    """A stream whose encoding cannot write every character writes stand-ins, never fails."""
    if not isinstance(stream, io.TextIOWrapper):
        return
    try:
        name = codecs.lookup(stream.encoding).name
    except LookupError:
        return
    if name.startswith("utf-") or stream.errors in ("backslashreplace", "replace", ERRORS):
        return
    try:
        stream.reconfigure(errors=ERRORS)
    except (ValueError, OSError):
        pass  # a closed stream: GuardedStream handles it


def plug_closed_descriptor(fd: int) -> None:
    """Point a closed standard descriptor at /dev/null.

    Otherwise the next file opened (a save's temporary file, a TensorBoard log) gets
    that number, and whatever writes to "stdout" (a C library's message) lands in it.
    """
    try:
        os.fstat(fd)
        return
    except OSError:
        pass
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


class GuardedStream:
    """A text stream for a run's output whose failures are recorded, never raised.

    ``error`` is the first failure (None while all is well); ``on_failure`` is
    called once, with it.  After a failure the descriptor is pointed at /dev/null,
    so that Python's own flush at exit does not fail again with a traceback.
    """

    def __init__(
        self,
        stream: TextIO | None,
        name: str,
        on_failure: Callable[[OSError], None] | None = None,
    ) -> None:
        self.stream = stream
        self.name = name
        self.on_failure = on_failure
        self.error: OSError | None = None
        if stream is None:
            self._fail(OSError(errno.EBADF, f"{name} is closed"))

    @property
    def reader_went_away(self) -> bool:
        """The failure is a pipe whose reader closed it (``| head``)."""
        return isinstance(self.error, BrokenPipeError)

    def _fail(self, error: OSError) -> None:
        if self.error is not None:
            return
        self.error = error
        if self.stream is not None:
            try:
                plug = os.open(os.devnull, os.O_WRONLY)
                os.dup2(plug, self.stream.fileno())
                os.close(plug)
            except (OSError, ValueError, io.UnsupportedOperation):
                pass
        if self.on_failure is not None:
            self.on_failure(error)

    def _guard(self, action: Callable[[], object]) -> None:
        if self.error is not None:
            return
        try:
            action()
        except OSError as error:
            self._fail(error)
        except ValueError as error:  # "I/O operation on closed file"
            self._fail(OSError(errno.EBADF, f"{self.name} is closed ({error})"))

    def write(self, text: str) -> int:
        self._guard(lambda: self.stream.write(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._guard(lambda: self.stream.flush())

    def isatty(self) -> bool:
        if self.error is not None:
            return False
        try:
            return self.stream.isatty()
        except (OSError, ValueError):
            return False

    def describe_error(self) -> str:
        """The failure in words: "Broken pipe", "No space left on device", "stdout is closed"."""
        error = self.error
        if error is None:
            return ""
        return error.strerror or str(error)


def encode_standard_streams() -> None:
    """sys.stdout and sys.stderr write stand-ins for what their encoding cannot write."""
    for stream in (sys.stdout, sys.stderr):
        encode_what_it_can(stream)


def standard_streams(
    on_output_failure: Callable[[OSError], None] | None = None,
) -> tuple[GuardedStream, GuardedStream]:
    """``(out, err)``: sys.stdout and sys.stderr, guarded, encoding what they can."""
    for fd in (1, 2):
        plug_closed_descriptor(fd)
    encode_standard_streams()
    return GuardedStream(sys.stdout, "stdout", on_output_failure), GuardedStream(
        sys.stderr, "stderr"
    )
