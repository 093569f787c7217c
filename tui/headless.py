"""``amal-tui --headless`` as a process: signals, a failing stdout and the exit status.

engine.headless runs the descent, prints it and saves it; what belongs to the
process is here.  Ctrl+C, SIGTERM (kill) and SIGHUP (a dropped link) ask the run
to stop at its next chunk: it then prints its summary, saves (with --save), says
on stderr where it stopped, and exits 128 + the signal (130, 143, 129).  A second
Ctrl+C stops at once (out of a student's file stuck in a loop), even mid-save; a
second SIGTERM or SIGHUP changes nothing (SIGKILL is there for that).  A stdout that fails (``| head``, closed, a full disk)
stops a run that nobody keeps; a run to be saved goes on to its end and is saved.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tui.streams import standard_streams

if TYPE_CHECKING:
    from engine.config import Config
    from engine.headless import StopRequest

EXIT_ERROR = 1
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell shows for a program killed by it
STOPPING_SIGNALS = {
    signal.SIGINT: "SIGINT (Ctrl+C)",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP (hang-up)",
}


@contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[list[int]]:
    """While inside, each of STOPPING_SIGNALS asks ``stop`` to stop; yields the signals received.

    A signal ignored when amal-tui started stays ignored (``nohup`` ignores SIGHUP).
    A second Ctrl+C raises KeyboardInterrupt, as if there were no handler.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handle(signum: int, frame: object) -> None:
        if received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(signum)
        stop.set(STOPPING_SIGNALS[signum])

    previous = {}
    for signum in STOPPING_SIGNALS:
        if signal.getsignal(signum) == signal.SIG_IGN:
            continue
        previous[signum] = signal.signal(signum, handle)
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_headless(config: Config, json_output: bool = False, save: str | None = None) -> int:
    """Run ``config`` headless on sys.stdout / sys.stderr; return the exit status."""
    from engine import headless

    stop = headless.StopRequest()

    def output_failed(error: OSError) -> None:
        if save is None:
            stop.set()  # nobody reads it and nothing is kept: stop quietly

    out, err = standard_streams(output_failed)
    try:
        with stop_on_signals(stop) as received:
            code = headless.run_headless(
                config, json_output=json_output, save=save, out=out, err=err, stop=stop
            )
    except KeyboardInterrupt:
        err.write("amal-tui: Ctrl+C twice: stopped at once; what was not saved yet is not\n")
        return headless.EXIT_INTERRUPTED
    if received and code == headless.EXIT_INTERRUPTED:
        return 128 + received[0]
    if out.error is None:
        return code
    if out.reader_went_away:
        if save is None:
            return EXIT_BROKEN_PIPE  # as quiet as any program in a pipe
        err.write("amal-tui: the reader of the output went away: the run went on, for --save\n")
        return EXIT_ERROR if code == EXIT_ERROR else EXIT_BROKEN_PIPE
    what = (
        "the run went on, for --save"
        if save
        else "the run stopped there (with --save it goes on and is saved)"
    )
    err.write(f"amal-tui: error: cannot write to stdout: {out.describe_error()}: {what}\n")
    return EXIT_ERROR
