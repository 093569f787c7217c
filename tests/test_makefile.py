"""`make run` installs what running needs, `make test` adds the dev tools, neither reinstalls
needlessly: the Makefile's stamps, read with `make -n` (nothing is installed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).parents[1]
DEV_TOOLS = ("pytest", "pytest-xdist", "pytest-textual-snapshot", "ruff", "import-linter")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0] for requirement in requirements}


def test_running_needs_no_test_or_lint_tool():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    running = _names(project["dependencies"])
    assert not running & set(DEV_TOOLS)
    assert {"torch", "numpy", "textual"} <= running
    assert set(DEV_TOOLS) <= _names(project["optional-dependencies"]["dev"])


@pytest.fixture
def project(tmp_path):
    """The Makefile and pyproject.toml in a folder with a .venv whose python exists."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    os.utime(tmp_path / "pyproject.toml", (1_000_000, 1_000_000))
    return tmp_path


def _plan(folder: Path, *targets: str) -> str:
    """What make would run, without running it."""
    done = subprocess.run(
        ["make", "-n", "-C", str(folder), *targets], capture_output=True, text=True, check=True
    )
    return done.stdout


def _installs(plan: str) -> list[str]:
    return [line for line in plan.splitlines() if "pip install" in line]


def test_run_installs_without_the_dev_extra(project):
    installs = _installs(_plan(project, "run"))
    assert installs[0].endswith('"torch==2.13.0"')  # torch first, pinned
    assert installs[1].endswith("-e .")


def test_run_then_test_adds_the_dev_tools(project):
    (project / ".venv" / ".installed-run-torch__2.13.0").touch()
    assert _installs(_plan(project, "run")) == []
    installs = _installs(_plan(project, "test"))
    assert installs and installs[-1].endswith('-e ".[dev]"')
    assert _installs(_plan(project, "lint")) == installs


def test_test_then_run_installs_nothing_more(project):
    plan = _plan(project, "install")
    assert "touch .venv/.installed-dev-torch__2.13.0 .venv/.installed-run-torch__2.13.0" in plan
    for stamp in ("dev", "run"):
        (project / ".venv" / f".installed-{stamp}-torch__2.13.0").touch()
    assert _installs(_plan(project, "run")) == []
    assert _installs(_plan(project, "test")) == []


def test_another_torch_reinstalls(project):
    for stamp in ("dev", "run"):
        (project / ".venv" / f".installed-{stamp}-torch__2.13.0").touch()
    installs = _installs(_plan(project, "run", "TORCH=torch==2.5.1"))
    assert installs and installs[0].endswith('"torch==2.5.1"')
