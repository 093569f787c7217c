"""One process that imports torch once, then forks a fresh child for each student's file.

Starting a Python and importing torch costs seconds of CPU; forking a process that
has already done it costs milliseconds.  A :class:`Zygote` is that process
(:func:`engine.student.child.serve_forks`): started like a check's child (``python
-I`` from :data:`sys.executable`, its own session), it imports torch and the child's
code, runs nothing else (no torch operation: a thread pool started before a fork
deadlocks the forked child) and, on request, forks.  Each forked child is what a
started child is (:func:`engine.student.child.serve` on its own pipes, its own
session, fds 1 and 2 on a pipe the check drains, the check's working directory and
environment, no other file descriptor) and runs ONE file: two files never share a
process, and nothing a file does reaches the zygote or the next file.

The zygote never runs a student's code, and the check (this process) never does
either: it only asks the zygote, over a socket of its own, to fork, to say how a
child exited (without reaping it: its pid cannot be reused while the check may
still kill its group) and to reap it.  When the check's process ends, even killed,
its end of the socket closes and the zygote kills its children and exits.

:func:`shared` keeps one zygote per process, started on first use, for every check
(one file or a class); :func:`forking` says whether this platform can fork at all
(otherwise the checks start a Python per file, as before).
"""

from __future__ import annotations

import atexit
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from engine.i18n import N_, _

# engine/student/zygote.py: three folders up is the project root.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# As a check's child is started (sandbox._CHILD_CODE): this project's engine first.
_ZYGOTE_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from engine.student.child import serve_forks; serve_forks(int(sys.argv[2]))"
)
# A reply of the zygote's (a pid, an exit status) is a few bytes of JSON.
_MESSAGE = 1 << 16
# Python and torch starting in the zygote; generous, for a loaded machine (a child's start
# is the zygote's, then a fork: engine.student.sandbox uses the same limit).
START_TIMEOUT = 120.0
# How long a request that is not the start may take: the zygote answers at once.
_REQUEST_TIMEOUT = 30.0


def forking() -> bool:
    """Whether checks can fork from a zygote here (Linux); otherwise each starts a Python."""
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and hasattr(os, "waitid")
        and hasattr(socket, "send_fds")
        and hasattr(socket, "SOCK_SEQPACKET")
    )


class ZygoteError(Exception):
    """The zygote cannot serve: ``str()`` is the one-line message of the check that needed it."""


class Zygote:
    """The process that forks the checks' children; thread-safe, one request at a time."""

    def __init__(self) -> None:
        self.executable = sys.executable
        self.popen: subprocess.Popen | None = None
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._ready = False
        self._started_at = 0.0
        self.closed = False
        self.served = False  # it has forked a child (it had started, then)
        self.failure: str | None = None  # why it cannot serve any more

    def start(self) -> Zygote:
        """Launch it (without waiting for torch's import); OSError when it cannot be."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.popen = subprocess.Popen(
                [self.executable, "-I", "-u", "-c", _ZYGOTE_CODE, _ROOT, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                # Its children's output goes to pipes of their own; its own is nobody's.
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # Its own session: out of the terminal's Ctrl+C (its children have theirs).
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._socket = ours
        self._started_at = time.monotonic()
        return self

    # -- requests ---------------------------------------------------------------------------

    def fork(self, fds: list[int], deadline: float, env: dict[str, str] | None = None) -> int:
        """A new child on these pipes (requests, replies, output); its pid.

        The child gets ``env`` (the judge's environment when None) and the judge's folder.
        Waits for the zygote's start until ``deadline`` (``time.monotonic()``).
        """
        env = dict(os.environ) if env is None else env
        request = {"op": "fork", "cwd": os.getcwd(), "env": env}
        reply = self._request(request, fds, deadline)
        pid = reply.get("pid")
        if type(pid) is not int or pid <= 0:
            error = reply.get("error")
            raise ZygoteError(
                _("cannot start a process for the check ({error})").format(error=error)
                if isinstance(error, str)
                else _("the checker's process sent an unreadable reply during the start")
            )
        self.served = True
        return pid

    def exit_status(self, pid: int) -> tuple[int, bool] | None:
        """(exit code or signal, killed?) of a child that exited, None while it runs."""
        status = self._request({"op": "status", "pid": pid}, [], None).get("status")
        if status is None:
            return None
        if not (isinstance(status, list) and len(status) == 2):
            raise self._fail(_("the checker's process sent an unreadable reply"))
        code, killed = status
        if type(code) is not int or type(killed) is not bool:
            raise self._fail(_("the checker's process sent an unreadable reply"))
        return code, killed

    def reap(self, pid: int) -> None:
        """Kill the child's group (it is not reaped before: its pid is still its own) and reap it."""
        self._request({"op": "reap", "pid": pid}, [], None)

    def _request(self, request: dict[str, Any], fds: list[int], deadline: float | None):
        with self._lock:
            if self.failure is not None:
                raise ZygoteError(self.failure)
            try:
                if not self._ready:
                    self._wait_ready(deadline)
                if deadline is None:
                    deadline = time.monotonic() + _REQUEST_TIMEOUT
                body = json.dumps(request).encode()
                socket.send_fds(self._socket, [body], fds)
                reply = self._receive(deadline, N_("a request"))
            except ZygoteError:
                raise
            except OSError as error:  # its socket closed: it ended
                raise self._fail(self._ended(N_("a request"))) from error
            except BaseException as error:
                # A request half made (Ctrl+C, a broken socket): the next reply would be this
                # one's.  No other check can use it.
                self._fail(
                    _("the checker's process stopped answering ({error})").format(
                        error=type(error).__name__
                    )
                )
                raise
            if not isinstance(reply, dict):
                raise self._fail(_("the checker's process sent an unreadable reply"))
            return reply

    def _wait_ready(self, deadline: float | None) -> None:
        start_deadline = self._started_at + START_TIMEOUT
        if deadline is None or deadline > start_deadline:
            deadline = start_deadline
        if self._receive(deadline, N_("the start")) != {"reply": "ready"}:
            raise self._fail(_("the checker's process sent an unreadable reply during the start"))
        self._ready = True

    def _receive(self, deadline: float, what: str) -> Any:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(
                    _("the checker's Python process did not start within {seconds:g} s").format(
                        seconds=START_TIMEOUT
                    )
                    if what == "the start"
                    else _("the checker's process stopped answering")
                )
            poller = select.poll()
            poller.register(self._socket, select.POLLIN)
            if poller.poll(max(1, math.ceil(left * 1000))):
                break
        try:
            data = self._socket.recv(_MESSAGE)
        except OSError:
            data = b""
        if not data:
            raise self._fail(self._ended(what))
        try:
            return json.loads(data)
        except ValueError:
            raise self._fail(
                _("the checker's process sent an unreadable reply during {what}").format(
                    what=_(what)
                )
            ) from None

    def _ended(self, what: str) -> str:
        code = None
        if self.popen is not None:
            try:
                code = self.popen.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if code is None:
            return _("the checker's process closed its socket during {what}").format(what=_(what))
        how = (
            _("killed by {signal}").format(signal=signal.Signals(-code).name)
            if code < 0
            else _("code {code}").format(code=code)
        )
        if what == "the start":
            return _("the checker's Python process ended as it started ({how})").format(how=how)
        return _("the checker's process ended ({how})").format(how=how)

    def _fail(self, message: str) -> ZygoteError:
        """It cannot serve any more: killed (with its children), and every later request fails."""
        if self.failure is None:
            self.failure = message
        self._kill()
        return ZygoteError(message)

    # -- life -------------------------------------------------------------------------------

    def close(self) -> None:
        """Kill it; its children, in sessions of their own, die with it (their parent-death
        signal).  Safe to call twice."""
        if self.failure is None:
            self.failure = _("the checker's process was closed")
        self._kill()

    def _kill(self) -> None:
        self.closed = True
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
        popen, self.popen = self.popen, None
        if popen is not None:
            try:
                # Its socket closed, it kills and reaps its children and exits; at once, unless
                # it is stuck (or never started its loop).
                popen.wait(timeout=1)
            except subprocess.TimeoutExpired:
                popen.kill()
                try:
                    popen.wait(timeout=10)
                except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL not obeyed
                    pass


# One per Python executable: a check asked of another Python (a test's) gets its own.
_SHARED: dict[str, Zygote] = {}
_SHARED_LOCK = threading.Lock()


def shared() -> Zygote:
    """This process's zygote for :data:`sys.executable`, started now if there is none yet
    (or the last one failed).  Raises OSError when it cannot be launched."""
    with _SHARED_LOCK:
        zygote = _SHARED.get(sys.executable)
        if zygote is not None and zygote.failure is None:
            return zygote
        if zygote is not None:
            zygote.close()
            del _SHARED[sys.executable]
        zygote = Zygote().start()
        _SHARED[zygote.executable] = zygote
        return zygote


@atexit.register
def close_shared() -> None:
    """No zygote outlives the process that started it (its socket closing would end it too)."""
    with _SHARED_LOCK:
        zygotes = list(_SHARED.values())
        _SHARED.clear()
    for zygote in zygotes:
        zygote.close()
