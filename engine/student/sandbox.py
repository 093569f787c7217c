"""The check's side of the student's process: start it, send it calls, read its replies strictly.

The check (:mod:`engine.student.check`) judges; the student's code runs in ONE child
Python process per check (:mod:`engine.student.child`, started ``python -I`` in the
same working directory), which loads the file, then calls forward and backward
on the tensors the check chooses and sends back what they returned.  Each
request has a time limit; the child's whole process group is killed when the
check ends, when a call runs past its limit, and when the check's process exits.

Nothing the child sends is unpickled or run: a message is a JSON header and raw
float64 bytes, validated strictly here.  A child that misbehaves can send wrong
values, which are judged as such, but it cannot change how they are judged.
Its fds 1 and 2 go to a pipe drained here (the student's prints corrupt
nothing and never reach the terminal raw); requests and replies use two pipes
of their own.

This module imports torch only to build the tensors of a reply: a process can
be started before torch is imported, and both imports then overlap.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from engine.i18n import LANGUAGE_VARIABLE, _, current_language
from engine.student import zygote

# How long one call into the student's code (the import, a forward, a backward) may take.
CALL_TIMEOUT = 10.0
# Python and torch starting in the child; generous, for a loaded machine.
START_TIMEOUT = zygote.START_TIMEOUT
# How much memory a student's file may take beyond what the child holds when it is ready
# (Python, torch): the check's tensors are tiny, a training script at import is small.
MEMORY_LIMIT = 2 << 30

MAGIC = b"AT"
_LENGTH = struct.Struct(">I")
MAX_HEADER = 1 << 20
# Tensors with more elements come back as their shape alone: the check's are tiny.
MAX_ELEMENTS = 100_000
MAX_TENSORS = 64
MAX_DIMS = 8
MAX_ITEMS = 8  # the items of a returned tuple or list that are sent (its length always is)
# What the student's prints may leave to show; the rest is counted, not kept.
MAX_OUTPUT = 64 * 1024
_TEXT_LENGTH = 300

PARAMETER_KINDS = (
    "POSITIONAL_ONLY",
    "POSITIONAL_OR_KEYWORD",
    "VAR_POSITIONAL",
    "KEYWORD_ONLY",
    "VAR_KEYWORD",
)

# engine/student/sandbox.py: three folders up is the project root.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# -I: no PYTHON* variables, no user site, neither the script's folder nor the working
# directory on sys.path; then this project's own engine, whatever is installed.
_CHILD_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from engine.student.child import serve; serve(*map(int, sys.argv[2:]))"
)


def _child_environment() -> dict[str, str]:
    """The child's environment: ours, with the language its messages (a file that cannot be
    loaded, what it raised) are written in, since the report quotes them."""
    return {**os.environ, LANGUAGE_VARIABLE: current_language()}


class Unreadable(Exception):
    """A message that breaks the format; nothing of it is used."""


class Stopped(Exception):
    """The check cannot go on: the child exited, timed out, sent garbage or was interrupted.

    ``str()`` is the one-line message for the student.
    """


# -- the format: shared with the child -------------------------------------------------------


def pack(header: dict[str, Any], arrays: list[bytes]) -> bytes:
    """One message: magic, the header's length, the JSON header, the arrays' bytes.

    ``header["tensors"]`` lists the arrays' shapes, in order; each array holds
    float64 numbers, little-endian.
    """
    body = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    return MAGIC + _LENGTH.pack(len(body)) + body + b"".join(arrays)


def _reject_constant(name: str) -> Any:
    raise Unreadable(f"{name} in the header")


def parse_header(body: bytes) -> tuple[dict[str, Any], list[tuple[int, ...]]]:
    """The header and the shapes of the arrays that follow it, checked."""
    try:
        header = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Unreadable(f"the header is not JSON ({type(error).__name__})") from None
    if not isinstance(header, dict):
        raise Unreadable("the header is not an object")
    shapes = header.get("tensors", [])
    if not isinstance(shapes, list) or len(shapes) > MAX_TENSORS:
        raise Unreadable("bad list of tensors")
    checked = [_shape(shape, MAX_ELEMENTS) for shape in shapes]
    return header, checked


def _shape(value: Any, largest: int) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > MAX_DIMS:
        raise Unreadable("bad shape")
    if not all(type(size) is int and 0 <= size for size in value):
        raise Unreadable("bad shape")
    if math.prod(value) > largest:
        raise Unreadable("a tensor too large")
    return tuple(value)


def payload_size(shapes: list[tuple[int, ...]]) -> int:
    return sum(8 * math.prod(shape) for shape in shapes)


def split(payload: bytes, shapes: list[tuple[int, ...]]) -> list[Any]:
    """The arrays of a message as float64 tensors (torch imported here)."""
    import numpy as np
    import torch

    tensors, start = [], 0
    for shape in shapes:
        size = 8 * math.prod(shape)
        array = np.frombuffer(payload, dtype="<f8", count=size // 8, offset=start)
        tensors.append(torch.from_numpy(array.astype(np.float64).reshape(shape)))
        start += size
    return tensors


def unpack(message: bytes) -> tuple[dict[str, Any], list[Any]]:
    """A whole message, as :func:`pack` made it (for a check without a child)."""
    if message[:2] != MAGIC or len(message) < 6:
        raise Unreadable("no magic")
    (length,) = _LENGTH.unpack(message[2:6])
    header, shapes = parse_header(message[6 : 6 + length])
    payload = message[6 + length :]
    if len(payload) != payload_size(shapes):
        raise Unreadable("the arrays' length")
    return header, split(payload, shapes)


# -- what the child's values become here --------------------------------------------------------


@dataclass(frozen=True)
class Foreign:
    """A value of the student's that is not a tensor: its type's name, and whether a number."""

    type_name: str
    number: bool = False


@dataclass(frozen=True)
class Sequence:
    """A tuple or list the student returned: its length, and its first items."""

    type_name: str
    length: int
    items: tuple[Any, ...]


@dataclass
class Returned:
    """A call that returned: its value, and the inputs (and grad_output) as they are after it."""

    value: Any
    inputs: list[Any]
    grad_output: Any = None


@dataclass
class Raised:
    """A call (or the import) that raised, located in the student's file when it can be."""

    kind: str
    message: str
    path: str | None
    line: int | None
    function: str | None
    source: str | None


@dataclass
class LoadFailed:
    """The file could not be loaded: the one-line message, and the student's line if known."""

    message: str
    line: int | None


@dataclass
class Loaded:
    """The student's two classes as the child found them: each described, or why it is missing."""

    classes: list[Described | None]
    missing: list[str | None]
    notes: list[str]


MAX_NOTES = 64


def decode_loaded(header: dict[str, Any]) -> Loaded:
    """The reply to a load, checked: two classes (or null), why each null one is, the notes."""
    classes = _field(header, "classes")
    if not isinstance(classes, list) or len(classes) != 2:
        raise Unreadable("bad classes")
    missing = header.get("missing", [None, None])
    if not isinstance(missing, list) or len(missing) != 2:
        raise Unreadable("bad missing classes")
    notes = header.get("notes", [])
    if not isinstance(notes, list) or len(notes) > MAX_NOTES:
        raise Unreadable("bad notes")
    described = [None if c is None else decode_described(c) for c in classes]
    why = [None if w is None else text(w, 600) for w in missing]
    if any((d is None) != (w is not None) for d, w in zip(described, why, strict=True)):
        raise Unreadable("a class neither described nor missing")
    if described == [None, None]:
        raise Unreadable("no class")
    return Loaded(described, why, [text(note, 600) for note in notes])


@dataclass
class Described:
    """One of the student's classes, as the child sees it."""

    class_name: str
    signature: str | None  # "(ctx, X, W, b)", None when it cannot be read
    parameters: list[tuple[str, str, bool]] | None  # (name, kind, has a default)
    static: tuple[bool, bool]  # forward, backward are @staticmethods


def text(value: Any, limit: int = _TEXT_LENGTH) -> str:
    """A string from the child as a one-line message may show it: control characters escaped."""
    if not isinstance(value, str):
        raise Unreadable("a text that is not a string")
    value = " ".join(value[: limit * 4].split())
    shown = "".join(
        c if not unicodedata.category(c).startswith("C") else repr(c)[1:-1] for c in value
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _optional_text(value: Any) -> str | None:
    return None if value is None else text(value)


def _line(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise Unreadable("bad line number")
    return value


def _field(header: dict[str, Any], key: str) -> Any:
    if key not in header:
        raise Unreadable(f"no {key}")
    return header[key]


def decode_value(value: Any, tensors: list[Any], top: bool = True) -> Any:
    """A value the child described: a float64 tensor, None, a Foreign or a Sequence."""
    if not isinstance(value, dict):
        raise Unreadable("a value that is not an object")
    kind = _field(value, "kind")
    if kind == "none":
        return None
    if kind == "tensor":
        index = _field(value, "index")
        if type(index) is not int or not 0 <= index < len(tensors):
            raise Unreadable("bad tensor index")
        return tensors[index]
    if kind == "large_tensor":
        import torch

        # Its shape, NaN everywhere (no memory): never close to anything.
        shape = _shape(_field(value, "shape"), 1 << 48)
        return torch.full((), math.nan, dtype=torch.float64).expand(shape)
    if kind in ("number", "other"):
        return Foreign(text(_field(value, "type"), 80), number=kind == "number")
    if kind == "sequence" and top:
        length, items = _field(value, "length"), _field(value, "items")
        if type(length) is not int or length < 0 or not isinstance(items, list):
            raise Unreadable("bad sequence")
        if len(items) != min(length, MAX_ITEMS):
            raise Unreadable("bad sequence")
        decoded = tuple(decode_value(item, tensors, top=False) for item in items)
        return Sequence(text(_field(value, "type"), 80), length, decoded)
    raise Unreadable("unknown kind of value")


def decode_reply(header: dict[str, Any], tensors: list[Any], inputs: int, backward: bool):
    """A :class:`Returned` or a :class:`Raised`, from a call's reply, checked."""
    reply = _field(header, "reply")
    if reply == "raised":
        return decode_raised(_field(header, "exception"))
    if reply != "returned":
        raise Unreadable("not the reply of a call")
    after = _field(header, "inputs")
    if not isinstance(after, list) or len(after) != inputs:
        raise Unreadable("bad inputs")
    returned = Returned(
        decode_value(_field(header, "value"), tensors),
        [decode_value(v, tensors, top=False) for v in after],
    )
    if backward:
        returned.grad_output = decode_value(_field(header, "grad_output"), tensors, top=False)
    return returned


def decode_raised(exception: Any) -> Raised:
    if not isinstance(exception, dict):
        raise Unreadable("bad exception")
    return Raised(
        kind=text(_field(exception, "kind"), 80),
        message=text(_field(exception, "message")),
        path=_optional_text(exception.get("path")),
        line=_line(exception.get("line")),
        function=_optional_text(exception.get("function")),
        source=_optional_text(exception.get("source")),
    )


def decode_described(value: Any) -> Described:
    if not isinstance(value, dict):
        raise Unreadable("bad class")
    parameters = value.get("parameters")
    if parameters is not None:
        if not isinstance(parameters, list) or len(parameters) > 64:
            raise Unreadable("bad parameters")
        checked = []
        for parameter in parameters:
            if not (isinstance(parameter, list) and len(parameter) == 3):
                raise Unreadable("bad parameter")
            name, kind, default = parameter
            if not (isinstance(name, str) and name.isidentifier() and len(name) <= 80):
                raise Unreadable("bad parameter name")
            if kind not in PARAMETER_KINDS or type(default) is not bool:
                raise Unreadable("bad parameter")
            checked.append((name, kind, default))
        parameters = checked
    static = _field(value, "static")
    if not (isinstance(static, list) and len(static) == 2 and all(type(s) is bool for s in static)):
        raise Unreadable("bad static")
    signature = value.get("signature")
    return Described(
        class_name=text(_field(value, "class_name"), 80),
        signature=None if signature is None else text(signature, 200),
        parameters=parameters,
        static=(static[0], static[1]),
    )


# -- the child process ---------------------------------------------------------------------------

# Started and not closed yet (a strong reference: a process forgotten is still killed at exit).
_LIVE: set[StudentProcess] = set()


@atexit.register
def _kill_all() -> None:
    """No student's process outlives the check's (an app closed during a check)."""
    for process in list(_LIVE):
        process.close()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class StudentProcess:
    """One child process running one student's file, for one check.

    ``start()`` gets it going (torch loads meanwhile, here and there), ``load()``
    runs the file, ``call()`` calls forward or backward; each raises
    :class:`Stopped` when the child exits, runs past ``timeout`` seconds or sends
    an unreadable reply, and the child is then already killed.  ``close()`` kills
    its whole process group; ``output()`` is what it printed.

    ``forked`` (default: where the platform can, :func:`engine.student.zygote.forking`):
    the child is forked from this process's zygote (torch imported once for all
    the checks) rather than started as a new Python; it is the same child either way.
    """

    def __init__(self, path: str, timeout: float | None = None, forked: bool | None = None) -> None:
        self.path = path
        self.timeout = CALL_TIMEOUT if timeout is None else timeout
        self.forked = zygote.forking() if forked is None else forked
        self.popen: subprocess.Popen | None = None  # a started child
        self.pid: int | None = None  # the child's, started or forked
        self._zygote: zygote.Zygote | None = None  # a forked child's, once asked to fork
        self._child_fds: list[int] = []  # the child's ends of the pipes, until it has them
        self._requests = self._replies = self._output_fd = -1
        self._buffer = bytearray()
        self._output = bytearray()
        self._output_dropped = 0
        self._reader: threading.Thread | None = None
        self._started_at = 0.0
        self._ready = False
        self._start_error: str | None = None

    # -- life -------------------------------------------------------------------------------

    def start(self) -> StudentProcess:
        """Launch the child; a failure to launch it is kept for :meth:`load` to report.

        A forked child is asked of the zygote in :meth:`load`, once the zygote has
        imported torch: this returns at once either way.
        """
        opened: list[int] = []
        try:
            request_read, self._requests = os.pipe()
            opened += [request_read, self._requests]
            self._replies, reply_write = os.pipe()
            opened += [self._replies, reply_write]
            if self.forked:
                self._output_fd, output_write = os.pipe()
                opened += [self._output_fd, output_write]
                self._child_fds = [request_read, reply_write, output_write]
                self._zygote = zygote.shared()
            else:
                self._spawn(request_read, reply_write)
                os.close(request_read)
                os.close(reply_write)
        except OSError as error:  # no more processes or files, no Python at sys.executable
            for fd in opened:
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._requests = self._replies = self._output_fd = -1
            self._child_fds = []
            self._start_error = _("cannot start a Python process for the check ({value})").format(
                value=error.strerror or error
            )
            return self
        _LIVE.add(self)
        self._started_at = time.monotonic()
        self._reader = threading.Thread(target=self._drain, name="student output", daemon=True)
        self._reader.start()
        return self

    def _spawn(self, request_read: int, reply_write: int) -> None:
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-u",  # unbuffered: a print is in the pipe before the child is killed
                "-c",
                _CHILD_CODE,
                _ROOT,
                str(request_read),
                str(reply_write),
                str(os.getpid()),
            ],
            pass_fds=(request_read, reply_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group: killed as a whole, and out of the terminal's Ctrl+C.
            start_new_session=True,
            env=_child_environment(),
        )
        self.pid = self.popen.pid
        self._output_fd = self.popen.stdout.fileno()

    def _fork(self) -> None:
        """Ask the zygote for the child (waiting for its start): it gets the pipes' other ends."""
        fds, self._child_fds = self._child_fds, []
        deadline = self._started_at + START_TIMEOUT
        try:
            try:
                self.pid = self._zygote.fork(fds, deadline, _child_environment())
            except zygote.ZygoteError:
                if not self._zygote.served:
                    raise
                # It had served and ended since (killed, out of memory): a new one, once.
                self._zygote = zygote.shared()
                self.pid = self._zygote.fork(fds, deadline, _child_environment())
        except (zygote.ZygoteError, OSError) as error:
            self.close()
            message = str(error)
            if isinstance(error, OSError):
                message = _("cannot start a Python process for the check ({error})").format(
                    error=error.strerror or error
                )
            raise Stopped(message) from None
        except KeyboardInterrupt:
            self.close()
            raise Stopped(_("interrupted as the check's process started")) from None
        except BaseException:
            self.close()
            raise
        finally:
            for fd in fds:  # the child's now (or nobody's): the output pipe ends with the child
                os.close(fd)

    def _drain(self) -> None:
        fd = self._output_fd
        if fd < 0:
            return
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            room = MAX_OUTPUT - len(self._output)
            self._output += chunk[:room]
            self._output_dropped += max(0, len(chunk) - room)

    def close(self) -> None:
        """Kill the child and everything it started in its group; safe to call twice."""
        _LIVE.discard(self)
        pid, self.pid = self.pid, None
        popen, self.popen = self.popen, None
        forked_by, self._zygote = self._zygote, None
        if pid is not None and not (forked_by is not None and forked_by.closed):
            # The child is not reaped before this: its pid (the group's id) stays its own.
            # (A closed zygote has killed and reaped its children: the pid may be another's.)
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if popen is not None:
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL not obeyed
                pass
        if pid is not None and forked_by is not None:
            try:
                forked_by.reap(pid)
            except zygote.ZygoteError:  # it failed: it killed its children as it ended
                pass
        for fd in self._child_fds:  # never forked
            os.close(fd)
        self._child_fds = []
        for name in ("_requests", "_replies"):
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self._reader is not None:
            # A grandchild that left the group may hold the pipe: do not wait for it.
            self._reader.join(timeout=1)
            if self._reader.is_alive():
                # Still reading: closing the descriptor under it could make it read another.
                return
        if popen is not None and popen.stdout is not None:
            try:
                popen.stdout.close()
            except OSError:
                pass
        elif self._output_fd >= 0:
            try:
                os.close(self._output_fd)
            except OSError:
                pass
        self._output_fd = -1

    def output(self) -> str:
        """What the child printed (stdout and stderr), control characters escaped but lines."""
        data = bytes(self._output).decode("utf-8", errors="replace")
        shown = "".join(
            c if c in "\n\t" or not unicodedata.category(c).startswith("C") else repr(c)[1:-1]
            for c in data
        )
        if self._output_dropped:
            shown += _("\n… {output_dropped} more bytes of output left out\n").format(
                output_dropped=self._output_dropped
            )
        return shown

    # -- requests ---------------------------------------------------------------------------

    def load(self, mse_name: str, linear_name: str) -> Loaded | LoadFailed:
        """Run the student's file; its two classes, or where loading it failed."""
        self._wait_ready()
        header, _ = self._request(
            {"op": "load", "path": self.path, "names": [mse_name, linear_name]},
            [],
            "import",
        )
        reply = header.get("reply")
        try:
            if reply == "load_error":
                return LoadFailed(text(_field(header, "message"), 600), _line(header.get("line")))
            if reply != "loaded":
                raise Unreadable("not the reply of a load")
            return decode_loaded(header)
        except Unreadable:
            self._unreadable("import")

    def call(
        self, index: int, method: str, args: list[Any], inputs: int, what: str
    ) -> Returned | Raised:
        """``forward(ctx, *args)`` or ``backward(ctx, *args)`` of class ``index`` (0 MSE, 1 Linear).

        ``what`` names the call in messages ("MSE.forward").  The arguments are
        float64 tensors and numbers; a backward follows the forward whose ctx it
        uses, and ``inputs`` is how many inputs that forward was given.
        """
        values, arrays, shapes = [], [], []
        for arg in args:
            if isinstance(arg, (int, float)):
                values.append({"kind": "number", "value": float(arg)})
                continue

            tensor = arg.detach().cpu()
            values.append({"kind": "tensor", "index": len(arrays)})
            # tobytes: C order whatever the strides (ascontiguousarray makes 0-dim arrays 1-dim).
            arrays.append(tensor.numpy().astype("<f8").tobytes())
            shapes.append(list(tensor.shape))
        header, tensors = self._request(
            {"op": method, "function": index, "args": values, "tensors": shapes}, arrays, what
        )
        try:
            return decode_reply(header, tensors, inputs, backward=method == "backward")
        except Unreadable:
            self._unreadable(what)

    # -- the pipes --------------------------------------------------------------------------

    def _wait_ready(self) -> None:
        if self._ready:
            return
        if self._start_error is not None:
            raise Stopped(self._start_error)
        if self._child_fds:
            self._fork()
        if self.pid is None:
            raise Stopped("the check's Python process was not started")
        deadline = self._started_at + START_TIMEOUT
        header, _ = self._reply(deadline, "the start", lambda: self._start_timed_out())
        if header.get("reply") != "ready":
            self._unreadable("the start")
        self._ready = True

    def _start_timed_out(self) -> Stopped:
        return Stopped(
            _("the checker's Python process did not start within {START_TIMEOUT:g} s").format(
                START_TIMEOUT=START_TIMEOUT
            )
        )

    def _request(self, header: dict[str, Any], arrays: list[bytes], what: str):
        message = pack(header, arrays)
        try:
            view = memoryview(message)
            while view:
                written = os.write(self._requests, view)
                view = view[written:]
        except OSError:
            # It closed its end: it exited, or is about to.
            raise self._ended(what) from None
        deadline = time.monotonic() + self.timeout
        return self._reply(deadline, what, lambda: self._timed_out(what))

    def _timed_out(self, what: str) -> Stopped:
        if what == "import":
            return Stopped(
                _(
                    "importing the file did not end within {timeout:g} s (an infinite loop at import?)"
                ).format(timeout=self.timeout)
            )
        return Stopped(
            _("{what} did not return within {timeout:g} s (an infinite loop?)").format(
                what=what, timeout=self.timeout
            )
        )

    def _reply(self, deadline: float, what: str, timed_out) -> tuple[dict, list]:
        try:
            return self._read_message(deadline, what, timed_out)
        except KeyboardInterrupt:
            return self._interrupted(what)

    def _interrupted(self, what: str) -> tuple[dict, list]:
        """Ctrl+C here: the child gets it too, and says where the student's code was."""
        stopped = Stopped(
            _("interrupted as the check's process started")
            if what == "the start"
            else _("interrupted while {what} ran").format(what=what)
        )
        if self.pid is None or what in ("the start",):
            self.close()
            raise stopped
        try:
            os.killpg(self.pid, signal.SIGINT)
            header, tensors = self._read_message(time.monotonic() + 2, what, lambda: stopped)
        except (Stopped, KeyboardInterrupt, OSError):
            self.close()
            raise stopped from None
        if what == "import" and header.get("reply") == "load_error":
            return header, tensors  # "f.py, line 3: KeyboardInterrupt"
        exception = header.get("exception")
        if header.get("reply") == "raised" and isinstance(exception, dict):
            if exception.get("kind") == "KeyboardInterrupt":
                return header, tensors
        self.close()
        raise stopped

    def _read_message(self, deadline: float, what: str, timed_out) -> tuple[dict, list]:
        try:
            start = self._read(6, deadline, what, timed_out)
            if start[:2] != MAGIC:
                raise Unreadable("no magic")
            (length,) = _LENGTH.unpack(start[2:])
            if length > MAX_HEADER:
                raise Unreadable("a header too long")
            header, shapes = parse_header(self._read(length, deadline, what, timed_out))
            payload = self._read(payload_size(shapes), deadline, what, timed_out)
            return header, split(payload, shapes)
        except Unreadable:
            self._unreadable(what)

    def _unreadable(self, what: str):
        self.close()
        raise Stopped(
            _("the file's process sent an unreadable reply during {what}").format(what=what)
        )

    def _read(self, size: int, deadline: float, what: str, timed_out) -> bytes:
        while len(self._buffer) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise timed_out()
            # poll, not select: the pipe's descriptor may be above select's limit of 1024.
            poller = select.poll()
            poller.register(self._replies, select.POLLIN)
            if not poller.poll(max(1, math.ceil(left * 1000))):
                continue
            chunk = os.read(self._replies, max(65536, size - len(self._buffer)))
            if not chunk:
                raise self._ended(what)
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _ended(self, what: str) -> Stopped:
        """The child closed its pipe: how it exited, if it did (then it is killed anyway)."""
        status = self._exit_status(time.monotonic() + 2)
        self.close()
        if status is None:
            return Stopped(_("the file's process closed its pipe during {what}").format(what=what))
        code, killed = status
        how = (
            _("killed by {code}").format(code=_signal_name(code))
            if killed
            else _("code {code}").format(code=code)
        )
        if what == "the start":
            return Stopped(
                _("the checker's Python process ended as it started ({how})").format(how=how)
            )
        during = _("during import") if what == "import" else _("during {what}").format(what=what)
        return Stopped(_("the file exited {during} ({how})").format(during=during, how=how))

    def _exit_status(self, deadline: float) -> tuple[int, bool] | None:
        if self.pid is None:
            return None
        if self._zygote is None:
            return _exit_status(self.pid, deadline)
        while True:  # the zygote's child: the zygote knows
            try:
                status = self._zygote.exit_status(self.pid)
            except zygote.ZygoteError:
                return None
            if status is not None or time.monotonic() >= deadline:
                return status
            time.sleep(0.01)


def _exit_status(pid: int, deadline: float) -> tuple[int, bool] | None:
    """(exit code or signal, killed?) once ``pid`` exits, without reaping it; None at deadline."""
    while True:
        try:
            result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        except ChildProcessError:
            return None
        if result is not None and result.si_pid == pid:
            return result.si_status, result.si_code != os.CLD_EXITED
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)
