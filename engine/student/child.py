"""The student's side of the check: the child process that runs their file and their Functions.

:func:`serve` is the child's whole life (``engine.student.sandbox`` starts it): it
imports torch, says it is ready, then answers requests one at a time on its
pipe — load the file, call forward, call backward — until its pipe closes.
It judges nothing: it sends back what the student's code returned, as data
(:func:`engine.student.sandbox.pack`), and the check decides in its own process.

:class:`Calls` is also what a check of classes already loaded (the engine's
own, a test's) uses in-process, so both checks see the same values.
"""

from __future__ import annotations

import ctypes
import inspect
import os
import signal
from typing import Any

import numpy as np
import torch

from engine.core.functions import Context
from engine.i18n import use_language_of_parent
from engine.student.loading import (
    StudentCodeError,
    describe_exception,
    load_classes,
    source_line,
    student_frame,
)
from engine.student.sandbox import (
    MAX_ELEMENTS,
    MAX_ITEMS,
    MEMORY_LIMIT,
    pack,
    parse_header,
    payload_size,
)

_TORCH_FOLDER = os.path.dirname(torch.__file__)
_PR_SET_PDEATHSIG = 1


def _name(value: Any) -> str:
    try:
        return str(type(value).__name__)
    except Exception:  # noqa: BLE001 - a student's metaclass
        return "object"


class _Encoder:
    """The student's values as a message's values and arrays."""

    def __init__(self) -> None:
        self.arrays: list[bytes] = []
        self.shapes: list[list[int]] = []

    def value(self, value: Any, top: bool = True) -> dict[str, Any]:
        try:
            return self._value(value, top)
        except Exception:  # noqa: BLE001 - a student's object that fails on inspection
            return {"kind": "other", "type": _name(value)}

    def _value(self, value: Any, top: bool) -> dict[str, Any]:
        if value is None:
            return {"kind": "none"}
        if isinstance(value, torch.Tensor):
            try:
                found = value.detach().to("cpu", torch.float64)
            except (RuntimeError, TypeError):
                return {"kind": "other", "type": _name(value)}
            shape = [int(size) for size in found.shape]
            if found.numel() > MAX_ELEMENTS:
                return {"kind": "large_tensor", "shape": shape}
            # tobytes: C order whatever the strides (ascontiguousarray makes 0-dim arrays 1-dim).
            self.arrays.append(found.numpy().astype("<f8").tobytes())
            self.shapes.append(shape)
            return {"kind": "tensor", "index": len(self.arrays) - 1}
        if isinstance(value, (int, float)):
            return {"kind": "number", "type": _name(value)}
        if top and isinstance(value, (tuple, list)):
            items = list(value)
            return {
                "kind": "sequence",
                "type": _name(value),
                "length": len(items),
                "items": [self.value(item, top=False) for item in items[:MAX_ITEMS]],
            }
        return {"kind": "other", "type": _name(value)}

    def message(self, header: dict[str, Any]) -> bytes:
        return pack(dict(header, tensors=self.shapes), self.arrays)


def _describe(cls: type) -> dict[str, Any]:
    """What the check needs of a class: its names, forward's parameters, which are static."""
    try:
        signature = inspect.signature(cls.forward)
        parameters = [
            [p.name, p.kind.name, p.default is not inspect.Parameter.empty]
            for p in signature.parameters.values()
        ]
        shown = str(signature)
    except Exception:  # noqa: BLE001 - no signature to read: the check uses the default names
        parameters = shown = None
    static = [
        isinstance(inspect.getattr_static(cls, method, None), staticmethod)
        for method in ("forward", "backward")
    ]
    return {
        "class_name": str(getattr(cls, "__name__", "?")),
        "signature": shown,
        "parameters": parameters,
        "static": static,
    }


def _student_files(cls: type) -> set[str]:
    files = set()
    for method in ("forward", "backward"):
        code = getattr(getattr(cls, method, None), "__code__", None)
        # Not torch's own (a forward not overridden): its lines say nothing to the student.
        if code is not None and not code.co_filename.startswith(_TORCH_FOLDER):
            files.add(code.co_filename)
    return files


def _raised(error: BaseException, files: set[str]) -> dict[str, Any]:
    line = function = filename = None
    for name in files:
        found_line, found_function = student_frame(error.__traceback__, name)
        if found_line is not None:
            line, function, filename = found_line, found_function, name
    return {
        "kind": _name(error),
        "message": describe_exception(error),
        "path": filename,
        "line": line,
        "function": function,
        "source": source_line(filename, line) if filename else None,
    }


class Calls:
    """The student's two classes, called as the engine and the notebook call them."""

    def __init__(
        self,
        classes: list[type | None],
        missing: list[str | None] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.classes = classes
        self.missing = missing or [None] * len(classes)
        self.notes = notes or []
        self.files = [set() if cls is None else _student_files(cls) for cls in classes]
        self.ctx: Context | None = None
        self.inputs: list[Any] = []

    def describe(self) -> bytes:
        return _Encoder().message(
            {
                "reply": "loaded",
                "classes": [None if cls is None else _describe(cls) for cls in self.classes],
                "missing": self.missing,
                "notes": self.notes,
            }
        )

    def call(self, index: int, method: str, args: list[Any]) -> bytes:
        """The reply to one call: what it returned, or what it raised."""
        cls = self.classes[index]
        if method == "forward":
            inputs = args
            # Every input wants its gradient; a backward uses the latest forward's ctx.
            self.ctx, self.inputs = Context((True,) * len(inputs)), inputs
            ctx = self.ctx
        else:
            ctx, inputs = self.ctx, self.inputs
        try:
            # As the engine runs them: no graph is recorded.
            with torch.inference_mode():
                value = getattr(cls, method)(ctx, *args)
        except BaseException as error:  # SystemExit and KeyboardInterrupt too: theirs
            return _Encoder().message(
                {"reply": "raised", "exception": _raised(error, self.files[index])}
            )
        encoder = _Encoder()
        header = {
            "reply": "returned",
            "value": encoder.value(value),
            "inputs": [encoder.value(t, top=False) for t in inputs],
        }
        if method == "backward":
            header["grad_output"] = encoder.value(args[0], top=False)
        return encoder.message(header)


# -- the child process ----------------------------------------------------------------------


def _die_with(parent: int) -> None:
    """Ask Linux to kill this process when the check's process dies (a crash, a kill -9)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the check's atexit and killpg remain
        pass
    if os.getppid() != parent:  # it died before the request above
        os._exit(1)


def _read(fd: int, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            os._exit(0)  # the check closed its pipe: nothing more to do
        data += chunk
    return bytes(data)


def _request(fd: int) -> tuple[dict[str, Any], list[Any]]:
    start = _read(fd, 6)
    header, shapes = parse_header(_read(fd, int.from_bytes(start[2:], "big")))
    payload = _read(fd, payload_size(shapes))
    tensors, offset = [], 0
    for shape in shapes:
        size = 8 * int(np.prod(shape, dtype=np.int64))
        array = np.frombuffer(payload, dtype="<f8", count=size // 8, offset=offset)
        tensors.append(torch.from_numpy(array.astype(np.float64).reshape(shape)))
        offset += size
    return header, tensors


def _arguments(header: dict[str, Any], tensors: list[Any]) -> list[Any]:
    return [
        tensors[arg["index"]] if arg["kind"] == "tensor" else float(arg["value"])
        for arg in header["args"]
    ]


def _send(fd: int, message: bytes) -> None:
    view = memoryview(message)
    while view:
        view = view[os.write(fd, view) :]


def _limit_memory() -> None:
    """At most :data:`MEMORY_LIMIT` bytes more than the process holds now: a file that eats
    memory gets a MemoryError (or torch's "not enough memory"), the machine does not."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = size + MEMORY_LIMIT
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        # The hard limit too: the student's code cannot raise it again.
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):  # not Linux: the time limit remains
        pass


def serve(requests: int, replies: int, parent: int) -> None:
    """Answer the check's requests until it closes the pipe (or kills this process)."""
    _die_with(parent)
    # One thread: the check's tensors are tiny, and several files are checked at once.
    torch.set_num_threads(1)
    _limit_memory()
    use_language_of_parent()
    _send(replies, pack({"reply": "ready"}, []))
    calls: Calls | None = None
    while True:
        try:
            header, tensors = _request(requests)
        except KeyboardInterrupt:  # a Ctrl+C forwarded once the call was over: nothing to stop
            continue
        op = header.get("op")
        if op == "load":
            mse_name, linear_name = header["names"]
            try:
                loaded = load_classes(header["path"], mse_name, linear_name)
                calls = Calls(loaded.classes, loaded.missing, loaded.notes)
                message = calls.describe()
            except StudentCodeError as error:
                message = pack(
                    {"reply": "load_error", "message": str(error), "line": error.line}, []
                )
        elif calls is not None and op in ("forward", "backward"):
            message = calls.call(header["function"], op, _arguments(header, tensors))
        else:
            os._exit(2)  # not a request of the check's: nothing sensible to answer
        try:
            _send(replies, message)
        except KeyboardInterrupt:
            _send(replies, message)


# -- the zygote: forks one such child per file ------------------------------------------------


def serve_forks(control: int) -> None:
    """The zygote's whole life (:mod:`engine.student.zygote`): fork a child per request.

    torch is imported (this module's import) and nothing else is run: no torch
    operation, no thread, so a forked child starts as a started one would.  It
    answers requests on ``control``, a socket of the check's, until the check's
    process closes it (it exits, or is killed): then it kills its children and exits.
    """
    import json
    import socket

    channel = socket.socket(fileno=control)
    channel.sendall(json.dumps({"reply": "ready"}).encode())
    children: set[int] = set()
    while True:
        try:
            body, fds, _, _ = socket.recv_fds(channel, 1 << 24, 8)
        except InterruptedError:  # pragma: no cover - retried by Python itself
            continue
        except OSError:
            break
        if not body:
            break
        try:
            request = json.loads(body)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            break  # not the check's: stop serving
        if op == "fork":
            reply = _fork(channel, fds, request, children)
        else:
            for fd in fds:
                os.close(fd)
            if op == "status":
                reply = {"status": _exit_status(request["pid"], children)}
            elif op == "reap":
                reply = {"reaped": _reap(request["pid"], children)}
            else:
                break
        channel.sendall(json.dumps(reply).encode())
    for pid in list(children):
        _reap(pid, children)
    os._exit(0)


def _fork(channel, fds: list[int], request: dict[str, Any], children: set[int]) -> dict[str, Any]:
    """Fork one child; the zygote keeps none of its descriptors."""
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return {"error": "the check sent no pipes"}
    try:
        pid = os.fork()
    except OSError as error:  # no more processes
        for fd in fds:
            os.close(fd)
        return {"error": error.strerror or str(error)}
    if pid == 0:
        try:
            _forked_child(channel, fds, request)
        except BaseException:
            import traceback

            traceback.print_exc()  # on the check's output pipe, once the child has it
        finally:
            os._exit(1)  # never back into the zygote's loop
    children.add(pid)
    # Closed here at once: the next child, forked from this process, cannot reach these pipes.
    for fd in fds:
        os.close(fd)
    return {"pid": pid}


def _forked_child(channel, fds: list[int], request: dict[str, Any]) -> None:
    """Become what ``python -I -c serve`` started by the check would be, then serve."""
    zygote = os.getppid()
    channel.close()  # the zygote's socket is not the student's
    os.setsid()  # its own group: killed as a whole, out of the terminal's Ctrl+C
    requests, replies, output = fds
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    _close_all_but({0, 1, 2, requests, replies})
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    serve(requests, replies, zygote)


def _close_all_but(keep: set[int]) -> None:
    """Close every descriptor but ``keep``: a student's file sees its pipes and no other."""
    start = 0
    for fd in sorted(keep):
        if fd > start:  # closerange(0, 0) closes every descriptor (Linux's close_range(0, -1))
            os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))


def _exit_status(pid: Any, children: set[int]) -> list[Any] | None:
    """How a child exited, without reaping it (its pid stays its own); None while it runs."""
    if pid not in children:
        return None
    try:
        result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
    except ChildProcessError:
        return None
    if result is None or result.si_pid != pid:
        return None
    return [result.si_status, result.si_code != os.CLD_EXITED]


def _reap(pid: Any, children: set[int]) -> bool:
    """Kill the child's group and reap the child; False for a pid that is not a child's."""
    if pid not in children:
        return False
    children.discard(pid)
    # The child itself too: it may not have made its group yet (killed just after the fork).
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.waitpid(pid, 0)  # SIGKILL: at once
    except ChildProcessError:
        pass
    return True
