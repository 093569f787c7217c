"""A test process killed takes the programs it started with it (tests/conftest.py, bench/ptyrun.py).

A parent like a test (this folder's conftest loaded, run_in_pty imported) starts a program
with subprocess and another in a pseudo-terminal under a leader that stays; it is then
killed with SIGKILL, as a stopped run or a timeout kills a test: both programs must be gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# Far more than the kernel needs (the children get SIGKILL as their parent goes).
GONE_WITHIN = 10

PARENT = """
import importlib.util, subprocess, sys
spec = importlib.util.spec_from_file_location("tests_conftest", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))  # what every test runs under
from ptyrun import run_in_pty

popen_pid, pty_pid = sys.argv[2:4]
child = subprocess.Popen(["sleep", "600"])
with open(popen_pid, "w") as out:
    out.write(str(child.pid))
run_in_pty(
    ["sh", "-c", f"echo $$ > {pty_pid}.tmp && mv {pty_pid}.tmp {pty_pid} && exec sleep 600"],
    timeout=600,
    leader_ignores_hang_up=True,
)
"""


def _alive(pid: int) -> bool:
    """Running, not a zombie that nobody reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_programs_a_killed_test_started_die_with_it(tmp_path):
    popen_file, pty_file = tmp_path / "popen.pid", tmp_path / "pty.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(TESTS / "conftest.py"), str(popen_file), str(pty_file)],
        cwd=tmp_path,
    )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not (popen_file.exists() and pty_file.exists()):
            assert parent.poll() is None, "the parent ended before starting both programs"
            assert time.monotonic() < deadline, "the programs never started"
            time.sleep(0.05)
        pids = [int(popen_file.read_text()), int(pty_file.read_text())]
        assert all(_alive(pid) for pid in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + GONE_WITHIN
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [pid for pid in pids if _alive(pid)]
        assert not left, f"still running {GONE_WITHIN} s after their test was killed: {left}"
    finally:
        parent.kill()
        parent.wait()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
