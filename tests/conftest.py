import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

# bench/ptyrun.py (standard library only) runs the app in a pty for tests/terminal and bench.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from ptyrun import die_with  # noqa: E402

# -- no orphans: whatever a test starts dies with the test's process ------------------------
#
# A test run stopped (Ctrl+C, a timeout, kill -9 of pytest or of one of xdist's workers)
# would otherwise leave its programs running, some for hours (an endless headless run).
# Every subprocess.Popen (run, check_output...) made from a test's own thread asks Linux to
# SIGKILL the child when this process dies; run_in_pty does the same for its programs.
# Only from the main thread: the request is tied to the thread that forks, and a thread of
# the app (its engine loading, a check) may end before the child it started should.
_popen_init = subprocess.Popen.__init__


def _popen_dying_with_the_tests(self, *args, preexec_fn=None, **kwargs):
    if threading.current_thread() is threading.main_thread():
        parent, then = os.getpid(), preexec_fn

        def preexec_fn():
            die_with(parent)
            if then is not None:
                then()

    _popen_init(self, *args, preexec_fn=preexec_fn, **kwargs)


subprocess.Popen.__init__ = _popen_dying_with_the_tests


def pytest_configure(config):
    """An xdist worker dies with the pytest that started it (and, above, its children with it)."""
    if hasattr(config, "workerinput"):
        die_with(os.getppid())


@pytest.fixture(autouse=True)
def _work_in_a_temporary_folder(tmp_path, monkeypatch):
    """Runs write TensorBoard logs under ./runs by default: keep them out of the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _in_english(monkeypatch):
    """Every test starts in English (LANG=fr_FR on the machine would otherwise make the app
    and the command line French: tests/*/test_french*.py ask for French themselves), and
    leaves the language as it found it."""
    from engine import i18n

    if i18n.language_from_environment() is not None:
        for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
            monkeypatch.setenv(variable, "C.UTF-8")
    i18n.set_language("en")
    yield
    i18n.set_language("en")
