"""``--sweep FROM:TO:K`` headless: the table, the edges around the bound, JSON runs like --compare's."""

from __future__ import annotations

import json

import pytest

from tui.cli import main


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--headless", "--no-tensorboard", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_sweep_prints_a_row_per_rate_and_where_the_bound_lies(capsys) -> None:
    code, out, _ = _run(capsys, "--sweep", "1e-2:3:16")
    assert code == 0  # runs past the bound diverge: finding them is the point
    rows = [line for line in out.splitlines() if line.split()[1:2] in (["converged"], ["diverged"])]
    assert len(rows) == 16
    assert "the bound 2/L = 1.532 lies between them" in out
    # The notebook's run is the first row: ε = 0.01 converges at n = 1475.
    assert rows[0].split()[:3] == ["0.01", "converged", "1475"]


def test_the_json_runs_are_the_comparisons_runs(capsys) -> None:
    code, out, _ = _run(capsys, "--sweep", "0.01:2:3", "--json")
    sweep = json.loads(out)
    assert code == 0
    rates = ",".join(repr(rate) for rate in sweep["sweep"]["learning_rates"])
    code, out, _ = _run(capsys, "--compare", rates, "--json")
    compare = json.loads(out)
    assert [set(r) for r in sweep["runs"]] == [set(r) for r in compare["runs"]]
    for ours, theirs in zip(sweep["runs"], compare["runs"], strict=True):
        assert (ours["status"], ours["iterations"]) == (theirs["status"], theirs["iterations"])
        assert ours["config"] == theirs["config"]
    assert sweep["sweep"]["count"] == 3 and len(sweep["sweep"]["predicted_losses"]) == 3
    assert sweep["sweep"]["largest_converged"] == pytest.approx(0.01 * 200**0.5)
    assert sweep["sweep"]["smallest_diverged"] == pytest.approx(2.0)


def test_a_momentum_sweep_brackets_its_own_bound_and_predicts_nothing(capsys) -> None:
    code, out, _ = _run(capsys, "--sweep", "0.5:5:24", "--optimizer", "momentum", "--json")
    result = json.loads(out)
    assert result["theory"]["bound"] == "2(1+μ)/L"
    bound = result["theory"]["lr_max"]
    assert result["sweep"]["largest_converged"] < bound < result["sweep"]["smallest_diverged"]
    # The exact curve is plain descent's: no prediction is claimed for momentum.
    assert result["sweep"]["predicted_losses"] is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--sweep", "1e-4:3"], "expected FROM:TO:K"),
        (["--sweep", "1e-4:3:0"], "K must be between 1 and 4096"),
        (["--sweep", "x:3:4"], "--sweep: FROM: expected a number"),
        (["--sweep", "1e-4:3:4", "--compare", "0.1,0.2"], "either --sweep or --compare"),
        (
            ["--sweep", "1e-4:3:4", "--functions", "tests/students/correct.py"],
            "batches the reference",
        ),
        (["--sweep", "1e-4:3:4", "--lr", "0.1"], "--lr is for one run"),
        (["--sweep", "1e-4:3:4", "--save", "/tmp/amal-sweep.json"], "use --json > FILE"),
    ],
)
def test_bad_sweeps_are_one_line_errors(capsys, args, words) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--headless", "--no-tensorboard", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert words in err


def test_a_sweep_without_headless_opens_the_app_on_it(monkeypatch) -> None:
    # The app's run carries no sweep (a saved run would lose its learning rate): the range
    # goes to the app's sweep field, whose view opens once the engine is loaded.
    from tui import cli

    opened = []
    monkeypatch.setattr(cli, "not_a_terminal", lambda: None)
    monkeypatch.setattr(
        cli, "run_app", lambda config, **options: opened.append((config, options)) or 0
    )
    assert main(["--sweep", "1e-4:3:4", "--no-tensorboard"]) == 0
    ((config, options),) = opened
    assert config.sweep == ()
    assert options["sweep"] == (1e-4, 3.0, 4)
