"""The crash report: an unexpected error's traceback in a file, for the CLI and the app alike."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback


def write_crash_report(error: BaseException) -> str:
    """Write the traceback to a file and return its path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = os.environ.get("AMAL_TUI_CRASH_DIR") or tempfile.gettempdir()
    path = os.path.join(folder, f"amal-tui-crash-{stamp}-{os.getpid()}.txt")
    with open(path, "w") as report:
        report.write(f"amal-tui crashed at {time.ctime()}\nargv: {sys.argv}\n\n")
        report.write("".join(traceback.format_exception(error)))
    return path
