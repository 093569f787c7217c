"""Imported by the files here: writes the pid of the process that runs them, for the tests.

The tests name the file in AMAL_TUI_TEST_PIDS; they check that no such process is left.
"""

import os


def record(pid: int) -> None:
    path = os.environ.get("AMAL_TUI_TEST_PIDS")
    if path:
        with open(path, "a") as pids:
            pids.write(f"{pid}\n")


record(os.getpid())
