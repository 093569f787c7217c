"""The checks' zygote: torch imported once, a fresh process forked for each student's file.

Every other test of the checker goes through the zygote too (it is the default
where the platform can fork); these are about what forking could have broken:
the time and memory limits, one file reaching another, the check's process
importing a student's file, torch's thread pools, and the zygote's own life.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.student import zygote
from engine.student.batch import check_files
from engine.student.check import check_file

STUDENTS = Path(__file__).parents[1] / "students"
FORGING = STUDENTS / "forging"
CORRECT = (STUDENTS / "correct.py").read_text()

pytestmark = pytest.mark.skipif(not zygote.forking(), reason="checks fork only on Linux")


def _pids(path: Path) -> list[int]:
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie has ended: only its parent's wait is left)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone(pids: list[int], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_alive(pid) for pid in pids)


def _recording(tmp_path: Path, name: str, text: str) -> Path:
    """``text`` as a student's file that first writes its process's pid to ./pids."""
    path = tmp_path / name
    path.write_text(
        f"import os\nwith open({str(tmp_path / 'pids')!r}, 'a') as f:\n"
        "    f.write(f'{os.getpid()}\\n')\n" + text
    )
    return path


# -- the limits ---------------------------------------------------------------------------


def test_a_forked_file_that_never_ends_its_import_is_stopped_and_killed(tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    monkeypatch.setenv("AMAL_TUI_TEST_PIDS", str(pids))
    report = check_file(FORGING / "loop_at_import.py", timeout=1.5, forked=True)
    assert (
        report.error == "importing the file did not end within 1.5 s (an infinite loop at import?)"
    )
    assert not report.passed and not report.loaded
    (child,) = _pids(pids)
    assert child != os.getpid()
    assert _gone([child])


@pytest.mark.parametrize("forked", [True, False])
def test_a_file_that_takes_too_much_memory_gets_an_error_not_the_machine(tmp_path, forked):
    """3 GiB asked at import (never touched: without the limit it costs nothing, and passes
    silently): the import fails there, said with its line, and the classes are still checked."""
    path = tmp_path / "greedy.py"
    path.write_text(
        CORRECT.replace(
            "import torch\n", "import torch\n\nHOARD = torch.empty(3 << 30, dtype=torch.uint8)\n", 1
        )
    )
    report = check_file(path, forked=forked)
    assert report.passed and report.loaded
    (failed,) = [note for note in report.notes if note.startswith("importing the whole file")]
    assert "line 5: RuntimeError:" in failed and "allocate memory" in failed, failed


def test_memory_taken_in_forward_is_an_exception_of_the_students(tmp_path):
    path = tmp_path / "greedy.py"
    path.write_text(
        CORRECT.replace(
            "ctx.save_for_backward(yhat, y)",
            "ctx.save_for_backward(yhat, y)\n        torch.empty(3 << 30, dtype=torch.uint8)",
        )
    )
    report = check_file(path)
    (mse,) = [f for f in report.functions if f.name == "MSE"]
    assert not mse.passed and report.loaded
    assert "memory" in str(mse.exception).lower(), report.text()
    assert [f.passed for f in report.functions if f.name == "Linear"] == [True]


# -- one file cannot reach another ----------------------------------------------------------

# A file that changes torch for whatever runs after it in its process: matmul gives zeros,
# the default dtype is float16, torch has a new attribute.
POLLUTER = CORRECT + textwrap.dedent(
    """
    torch.Tensor.__matmul__ = lambda self, other: torch.zeros(self.shape[0], other.shape[-1])
    torch.mm = torch.matmul = lambda a, b: torch.zeros(a.shape[0], b.shape[-1])
    torch.set_default_dtype(torch.float16)
    torch.polluted = True
    """
)
# Correct only where torch is torch: its Linear uses @, and it fails if torch was touched.
VICTIM = CORRECT.replace(
    "class MSE(Function):",
    "assert not hasattr(torch, 'polluted') and torch.get_default_dtype() == torch.float32\n\n\n"
    "class MSE(Function):",
)


def test_two_files_checked_in_one_run_cannot_see_each_others_state(tmp_path):
    """One process at a time, the polluting file first: the next file's verdict is its own."""
    first = _recording(tmp_path, "a_polluter.py", POLLUTER)
    second = _recording(tmp_path, "b_victim.py", VICTIM)
    alone = check_file(second)
    assert alone.passed, alone.text()
    reports = check_files([first, second], workers=1)
    assert reports[1].to_dict() == alone.to_dict()
    assert not reports[0].passed  # its own Linear multiplies to zeros
    pids = _pids(tmp_path / "pids")
    assert len(pids) == 3 and len(set(pids)) == 3 and os.getpid() not in pids


def test_a_class_check_never_imports_a_students_file_in_its_own_process(tmp_path):
    paths = [_recording(tmp_path, f"s{i}.py", CORRECT) for i in range(3)]
    reports = check_files(paths)
    assert all(report.passed for report in reports)
    pids = _pids(tmp_path / "pids")
    assert sorted(set(pids)) == sorted(pids) and len(pids) == 3 and os.getpid() not in pids
    files = {str(path) for path in paths}
    assert not any(getattr(m, "__file__", None) in files for m in list(sys.modules.values()))


def test_a_forked_check_runs_in_the_checks_working_directory_and_environment(tmp_path, monkeypatch):
    """The zygote started elsewhere, earlier: the child still gets the check's own."""
    check_file(STUDENTS / "correct.py")  # the zygote runs
    folder = tmp_path / "here"
    folder.mkdir()
    (folder / "student.py").write_text(
        "import os\nassert os.environ['AMAL_TUI_TEST_MARK'] == 'now'\n" + CORRECT
    )
    monkeypatch.chdir(folder)
    monkeypatch.setenv("AMAL_TUI_TEST_MARK", "now")
    report = check_file("student.py")
    assert report.passed, report.text()


# -- torch's threads and fork -------------------------------------------------------------

# A forward that multiplies large matrices: torch's thread pool would start for it.
LARGE = CORRECT.replace(
    "ctx.save_for_backward(X, W)",
    "ctx.save_for_backward(X, W)\n"
    "        big = torch.ones(600, 600, dtype=torch.float64)\n"
    "        assert float((big @ big)[0, 0]) == 600.0\n"
    "        with open(os.environ['AMAL_TUI_TEST_PIDS'], 'a') as f:\n"
    "            f.write(f'{torch.get_num_threads()}\\n')",
).replace("import torch\n", "import os\n\nimport torch\n", 1)


def test_a_forked_child_computes_on_one_thread_without_deadlock(tmp_path, monkeypatch):
    """A pool started in the zygote before a fork deadlocks the child's first parallel op."""
    assert "big @ big" in LARGE and "import os" in LARGE
    threads = tmp_path / "threads"
    monkeypatch.setenv("AMAL_TUI_TEST_PIDS", str(threads))
    path = tmp_path / "large.py"
    path.write_text(LARGE)
    report = check_file(path, timeout=20)
    assert report.passed, report.text()
    assert set(_pids(threads)) == {1}


def test_the_zygote_runs_one_thread_no_torch_pool(tmp_path):
    """What makes forking it safe: no thread (torch's pool included) besides its own."""
    check_files([STUDENTS / "correct.py", STUDENTS / "mse_sum.py"])
    pid = zygote.shared().popen.pid
    assert os.listdir(f"/proc/{pid}/task") == [str(pid)]


# -- the zygote's life ----------------------------------------------------------------------


def test_a_zygote_killed_between_two_checks_is_started_again(tmp_path):
    check_file(STUDENTS / "correct.py")
    first = zygote.shared()
    os.kill(first.popen.pid, signal.SIGKILL)
    first.popen.wait()
    report = check_file(STUDENTS / "correct.py")
    assert report.passed, report.text()
    second = zygote.shared()
    assert second is not first and first.failure is not None


JUDGE = """
import sys
sys.path.insert(0, sys.argv[1])
from engine.student import zygote
from engine.student.sandbox import StudentProcess
process = StudentProcess(sys.argv[2], timeout=120).start()
print(zygote.shared().popen.pid, flush=True)
process.load("MSE", "Linear")
"""


def test_the_zygote_and_its_children_end_with_the_checks_process_even_killed(tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    env = dict(os.environ, AMAL_TUI_TEST_PIDS=str(pids))
    root = str(Path(__file__).parents[2])
    judge = subprocess.Popen(
        [sys.executable, "-c", JUDGE, root, str(FORGING / "loop_at_import.py")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        zygote_pid = int(judge.stdout.readline())
        deadline = time.monotonic() + 120
        while not _pids(pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        (child,) = _pids(pids)
        assert _alive(zygote_pid) and _alive(child)
        judge.kill()
        judge.wait()
    finally:
        judge.kill()
        judge.stdout.close()
    assert _gone([zygote_pid, child])


def test_a_started_child_gives_the_forked_ones_report():
    """Where the platform cannot fork, each check starts a Python: the same report."""
    for name in ("correct.py", "mse_forgot_numel.py"):
        forked = check_file(STUDENTS / name, forked=True)
        started = check_file(STUDENTS / name, forked=False)
        assert started.to_dict() == forked.to_dict()
