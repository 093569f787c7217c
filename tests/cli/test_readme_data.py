"""The README's Data section: every command it shows runs, from the project's folder, and
says what its comment says (converged at n = N, diverged, capped); every data option of the
command line is in its table."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tui.cli import main

ROOT = Path(__file__).parents[2]


def data_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Data\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def commands() -> list[tuple[list[str], str]]:
    """Each command of the section's first sh block, with its comment."""
    block = re.search(r"```sh\n(.*?)```", data_section(), re.S)
    assert block, "the Data section has no sh block"
    out = []
    for line in block[1].splitlines():
        command, _, comment = line.partition("#")
        words = shlex.split(command)
        assert words and words[0] == "amal-tui", line
        out.append((words[1:], comment.strip()))
    return out


def test_the_section_shows_the_app_and_headless_runs_on_the_shipped_data_set():
    shown = commands()
    assert len(shown) >= 5
    assert any("--headless" not in args for args, _ in shown)  # the app, on the real data
    assert sum("data/diabetes.csv" in args for args, _ in shown) >= 3
    assert (ROOT / "data" / "diabetes.csv").is_file()
    licence = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert "BSD 3-Clause" in licence and "Redistribution and use in source" in licence


@pytest.mark.parametrize(
    "args, comment", commands(), ids=lambda x: " ".join(x) if isinstance(x, list) else ""
)
def test_each_command_runs_and_does_what_its_comment_says(args, comment, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # the section's paths are the project's
    headless = "--headless" in args
    # The app's commands run headless (no terminal here) and briefly: the same data, checked.
    extra = [] if headless else ["--headless", "--max-iter", "5"]
    code = main([*args, *extra, "--json", "--no-tensorboard"])
    out, err = capsys.readouterr()
    summary = json.loads(out)
    expected = re.match(r"(converged|diverged|capped)(?: at (?:n = )?(\d+))?", comment)
    if expected is None:
        assert code == 0 and summary["status"] in ("converged", "capped"), (comment, err)
        return
    status, iterations = expected.groups()
    assert summary["status"] == status
    assert code == (3 if status == "diverged" else 0)
    if iterations is not None:
        assert summary["iterations"] == int(iterations)
    bound = re.search(r"2/L = ([0-9.e+-]+)", comment)
    if bound:
        assert summary["theory"]["lr_max"] == pytest.approx(float(bound[1]), rel=0.05)
    kept = re.search(r"(\d+) of its (\d+) rows kept apart", comment)
    if kept:
        data = summary["data"]
        assert (data["test_rows"], data["rows"] + data["test_rows"]) == tuple(
            map(int, kept.groups())
        )


def test_every_data_option_is_documented():
    section = data_section()
    for option in (
        "--data",
        "--target",
        "--standardize",
        "--no-standardize",
        "--dropna",
        "--test-fraction",
        "--n N",
        "--d D",
        "--m M",
        "--noise",
    ):
        assert f"`{option}" in section, option
    assert "`d` opens the data screen" in section
