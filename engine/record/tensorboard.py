"""The loss of every iteration, as the TensorBoard scalar ``Loss/train``.

``torch.utils.tensorboard.SummaryWriter.add_scalar`` costs about 27 µs per call
here, twice an iteration of the toy problem, because TensorBoard computes its
record checksums (CRC32C) in pure Python.  This writer produces the same event
files, records in TensorBoard's documented TFRecord format, with the checksum
computed in C (``google-crc32c``): about 1 µs per loss, written a chunk at a
time.  Any reader of TensorBoard files reads them, TensorBoard included; the
tests check that with TensorBoard's own reader.

A folder that cannot be written, or a disk that fills up, gives one warning and
turns logging off: the run itself goes on.
"""

from __future__ import annotations

import os
import socket
import struct
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.config import shown_path

TAG = "Loss/train"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _crc32c():
    """CRC32C in C from google-crc32c, else TensorBoard's own (pure Python, slow); ImportError if neither."""
    try:
        import google_crc32c

        return google_crc32c.value
    except ImportError:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import crc32c

        return crc32c


class EventFile:
    """One ``events.out.tfevents.*`` file: TFRecords of serialized ``Event`` protos."""

    def __init__(self, folder: Path) -> None:
        self._crc = _crc32c()
        folder.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.0"
        self.path = folder / name
        self._file = open(self.path, "wb")
        # Event{wall_time = 1 (double), file_version = 3 (string)}
        version = b"brain.Event:2"
        self._file.write(
            self._record(
                b"\x09" + struct.pack("<d", time.time()) + b"\x1a" + _varint(len(version)) + version
            )
        )

    def _masked_crc(self, data: bytes) -> bytes:
        crc = self._crc(data)
        return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)

    def _record(self, data: bytes) -> bytes:
        header = struct.pack("<Q", len(data))
        return header + self._masked_crc(header) + data + self._masked_crc(data)

    def write_scalars(
        self, tag: str, values: np.ndarray, first_step: int, wall_start: float, wall_end: float
    ) -> None:
        """One scalar event per value, at steps first_step, first_step + 1, ..."""
        tag_bytes = tag.encode()
        # Summary{value = 1: Value{tag = 1, simple_value = 2 (float)}}
        value_prefix = b"\x0a" + _varint(len(tag_bytes)) + tag_bytes + b"\x15"
        summary = b"\x0a" + _varint(len(value_prefix) + 4) + value_prefix
        # Event{wall_time = 1, step = 2 (varint), summary = 5}
        summary_prefix = b"\x2a" + _varint(len(summary) + 4) + summary
        with np.errstate(over="ignore", invalid="ignore"):
            floats = np.asarray(values, dtype="<f4").tobytes()
        count = len(values)
        spread = (wall_end - wall_start) / count if count else 0.0
        pack_double, record = struct.Struct("<d").pack, self._record
        chunks = []
        for i in range(count):
            chunks.append(
                record(
                    b"\x09"
                    + pack_double(wall_start + spread * (i + 1))
                    + b"\x10"
                    + _varint(first_step + i)
                    + summary_prefix
                    + floats[4 * i : 4 * i + 4]
                )
            )
        self._file.write(b"".join(chunks))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def warn(message: str) -> None:
    """The default way a library reports a problem it can carry on after: a Python warning.

    A front end passes its own ``warn`` (the headless runner writes a line on stderr,
    the app a notification); the engine itself prints nothing.
    """
    warnings.warn(message, RuntimeWarning, stacklevel=3)


class LossLogger:
    """Writes a run's losses under ``logdir/run_name``; every failure becomes one warning."""

    def __init__(self, logdir: str, run_name: str, warn: Callable[[str], None] = warn) -> None:
        self.logdir = logdir
        self.run_name = run_name
        self.warn = warn
        self.folder: Path | None = None
        self.error: str | None = None
        self._file: EventFile | None = None
        self._last_wall = time.time()

    @property
    def active(self) -> bool:
        return self.error is None

    def _open(self) -> EventFile | None:
        if self._file is None and self.error is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            try:
                # exists() itself raises for a name too long (ENAMETOOLONG) or a loop of links.
                folder = Path(self.logdir) / f"{self.run_name}_{stamp}"
                suffix = 1
                while folder.exists():
                    suffix += 1
                    folder = Path(self.logdir) / f"{self.run_name}_{stamp}-{suffix}"
                self._file = EventFile(folder)
                self.folder = folder
            except OSError as error:
                self._fail(
                    f"cannot write TensorBoard logs in {shown_path(self.logdir)}: {_reason(error)}"
                )
            except ImportError:
                self._fail(
                    "cannot write TensorBoard logs: neither google-crc32c nor tensorboard is "
                    "installed (pip install google-crc32c)"
                )
        return self._file

    def _fail(self, message: str) -> None:
        self.error = message
        self.warn(f"{message}; TensorBoard logging is off, the run goes on")
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def write(self, losses: np.ndarray, first_step: int) -> None:
        """Log ``losses`` as iterations first_step, first_step + 1, ..."""
        if not len(losses):
            return
        events = self._open()
        if events is None:
            return
        now = time.time()
        try:
            events.write_scalars(TAG, losses, first_step, self._last_wall, now)
        except OSError as error:
            self._fail(
                f"writing TensorBoard logs in {shown_path(self.folder)} failed: {_reason(error)}"
            )
        self._last_wall = now

    def flush(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as error:
                self._fail(
                    f"writing TensorBoard logs in {shown_path(self.folder)} failed: {_reason(error)}"
                )

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            if self._file is not None:
                try:
                    self._file.close()
                except OSError as error:
                    self._fail(
                        f"closing TensorBoard logs in {shown_path(self.folder)} failed: "
                        f"{_reason(error)}"
                    )
            self._file = None


def _reason(error: OSError) -> str:
    return error.strerror or str(error)
