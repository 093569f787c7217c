"""Comparisons, the theory, optimizers and mini-batches, saved runs."""

import json
import math
import os

import numpy as np
import pytest
import torch

from engine import Descent, Status, make_config
from engine.core.functions import MSE, Linear
from engine.core.problem import toy_problem
from engine.experiment import compare_descents
from engine.record.saving import SaveError, load_config, save_run
from tui.cli import main

# -- the theory -----------------------------------------------------------------------


def independent_theory(seed):
    """The same three figures from NumPy, without the engine."""
    problem = toy_problem(seed)
    X, Y = problem.X.double().numpy(), problem.Y.double().numpy()
    n, m = Y.shape
    X_tilde = np.hstack([X, np.ones((n, 1))])
    solution = np.linalg.lstsq(X_tilde, Y, rcond=None)[0]
    optimal = np.mean((X_tilde @ solution - Y) ** 2)
    eigenvalues = np.linalg.eigvalsh(2.0 / (n * m) * X_tilde.T @ X_tilde)
    return optimal, 2.0 / eigenvalues[-1], eigenvalues[-1] / eigenvalues[0], solution


@pytest.mark.parametrize("seed", [42, 0, 1, 1234])
def test_theory_equals_an_independent_computation(seed):
    theory = toy_problem(seed).theory
    optimal, lr_max, condition, solution = independent_theory(seed)
    assert theory.optimal_loss == pytest.approx(optimal, rel=1e-6)
    assert theory.lr_max == pytest.approx(lr_max, rel=1e-6)
    assert theory.condition_number == pytest.approx(condition, rel=1e-6)
    np.testing.assert_allclose(np.vstack([theory.W_star, theory.b_star]), solution, atol=1e-9)


def test_default_problem_figures():
    theory = toy_problem(42).theory
    assert round(theory.optimal_loss, 4) == 0.6971  # just under the notebook's threshold 0.70
    assert round(theory.lr_max, 3) == 1.532
    assert set(theory.to_dict()) == {"optimal_loss", "lr_max", "condition_number"}


def test_the_descent_approaches_the_optimum_and_never_goes_under_it():
    descent = Descent(make_config(dtype="float64", threshold=-1, max_iter=3000, learning_rate=1.0))
    descent.run()
    theory = descent.problem.theory
    assert descent.losses.min() >= theory.optimal_loss - 1e-12
    assert descent.final_loss() == pytest.approx(theory.optimal_loss, rel=1e-9)
    assert theory.distance(descent.W.numpy(), descent.b.numpy()) < 1e-6


@pytest.mark.parametrize("lr,status", [(1.5, Status.CONVERGED), (1.6, Status.DIVERGED)])
def test_lr_max_separates_convergence_from_divergence(lr, status):
    descent = Descent(make_config(learning_rate=lr, init_seed=42))
    assert descent.run() is status


# -- optimizers, against torch.optim -----------------------------------------------------


def torch_optim_losses(optimizer, iterations=200, **kwargs):
    problem = toy_problem(42, dtype=torch.float64)
    W = problem.W0.clone().requires_grad_()
    b = problem.b0.clone().requires_grad_()
    optim = optimizer([W, b], **kwargs)
    losses = []
    for _ in range(iterations):
        optim.zero_grad()
        loss = MSE.apply(Linear.apply(problem.X, W, b), problem.Y)
        losses.append(loss.item())
        loss.backward()
        optim.step()
    return np.array(losses)


@pytest.mark.parametrize(
    "name,optimizer,kwargs,settings",
    [
        ("sgd", torch.optim.SGD, {"lr": 0.05}, {}),
        ("momentum", torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}, {"momentum": 0.9}),
        ("momentum", torch.optim.SGD, {"lr": 0.02, "momentum": 0.5}, {"momentum": 0.5}),
        (
            "nesterov",
            torch.optim.SGD,
            {"lr": 0.01, "momentum": 0.9, "nesterov": True},
            {"momentum": 0.9},
        ),
        ("adam", torch.optim.Adam, {"lr": 0.05}, {}),
        (
            "adam",
            torch.optim.Adam,
            {"lr": 0.01, "betas": (0.8, 0.99)},
            {"beta1": 0.8, "beta2": 0.99},
        ),
    ],
)
def test_optimizer_losses_equal_torch_optim(name, optimizer, kwargs, settings):
    expected = torch_optim_losses(optimizer, **kwargs)
    config = make_config(
        optimizer=name,
        learning_rate=kwargs["lr"],
        dtype="float64",
        threshold=-1,
        max_iter=200,
        **settings,
    )
    descent = Descent(config)
    descent.run()
    np.testing.assert_allclose(descent.losses, expected, rtol=1e-5)


def test_optimizer_state_is_reset():
    descent = Descent(make_config(optimizer="adam", learning_rate=0.05))
    descent.run(50)
    first = descent.losses.copy()
    descent.reset()
    descent.run(50)
    np.testing.assert_array_equal(descent.losses, first)


def test_snapshot_shows_the_optimizers_actual_step():
    descent = Descent(make_config(optimizer="momentum", learning_rate=0.01))
    descent.run(5)
    W_before = descent.W.numpy()
    descent.step()
    np.testing.assert_allclose(descent.snapshot().delta_W, descent.W.numpy() - W_before, atol=1e-7)


# -- mini-batches -------------------------------------------------------------------------


def test_mini_batches_are_reproducible_from_the_seed():
    def losses(seed, init_seed=42):
        descent = Descent(make_config(batch_size=8, seed=seed, init_seed=init_seed, max_iter=300))
        descent.run()
        return descent.losses.copy()

    np.testing.assert_array_equal(losses(42), losses(42))
    # Another seed: other data (and another shuffle), so another run.
    assert not np.array_equal(losses(42), losses(7))


def test_the_shuffle_depends_on_the_seed_alone():
    from engine.core.descent import MiniBatches

    def orders(seed):
        batches = MiniBatches(50, 8, seed, torch.device("cpu"))
        return torch.cat([batches.next() for _ in range(21)]).tolist()

    assert orders(1) == orders(1) and orders(1) != orders(2)
    first_epoch = orders(1)[:50]
    assert sorted(first_epoch) == list(range(50))  # each point once per epoch (7 batches: 6×8 + 2)


def test_mini_batch_loss_is_the_full_batch_loss():
    descent = Descent(make_config(batch_size=5, max_iter=20, threshold=-1))
    descent.run(19)
    W, b = descent.W, descent.b
    descent.step()
    assert descent.losses[-1] == pytest.approx(descent.loss_at(W, b), rel=1e-6)


def test_stochastic_gradient_descent_with_batch_size_1_runs():
    descent = Descent(make_config(batch_size=1, learning_rate=0.01, max_iter=2000))
    assert descent.run() in (Status.CONVERGED, Status.CAPPED)
    assert descent.losses[-1] < descent.losses[0]


def test_batch_size_at_least_n_is_the_full_batch():
    full, large = Descent(), Descent(make_config(batch_size=500))
    full.run(), large.run()
    np.testing.assert_array_equal(full.losses, large.losses)


# -- comparisons ----------------------------------------------------------------------------


def test_compare_runs_from_the_same_start():
    descents = compare_descents(make_config(compare="0.0001,0.01,0.5", init_seed=42, max_iter=1001))
    for descent in descents[1:]:
        assert descent.problem is descents[0].problem
    statuses = [descent.run() for descent in descents]
    assert statuses == [Status.CAPPED, Status.CAPPED, Status.CONVERGED]
    assert [d.iteration for d in descents] == [1001, 1001, 30]
    assert descents[0].losses[1000] == pytest.approx(15.277046203613281, rel=1e-5)


THEORY_KEYS = {"optimal_loss", "lr_max", "condition_number", "bound", "lr_max_sgd"}


@pytest.mark.parametrize(
    ("args", "bound", "factor"),
    [
        (["--optimizer", "momentum", "--momentum", "0.5"], "2(1+μ)/L", 1.5),
        (["--optimizer", "nesterov", "--momentum", "0.5"], "2(1+μ)/((1+2μ)L)", 0.75),
        (["--optimizer", "adam"], None, None),
        (["--batch-size", "10"], None, None),
    ],
)
def test_the_jsons_lr_max_is_the_bound_of_the_optimizer_in_use(capsys, args, bound, factor):
    main(["--headless", "--json", "--no-tensorboard", "--max-iter", "3", *args])
    theory = json.loads(capsys.readouterr().out)["theory"]
    assert theory["bound"] == bound
    if factor is None:
        assert theory["lr_max"] is None
    else:
        assert theory["lr_max"] == pytest.approx(factor * theory["lr_max_sgd"], rel=1e-12)


def test_compare_json_keeps_the_order_given(capsys):
    code = main(
        [
            "--headless",
            "--json",
            "--no-tensorboard",
            "--compare",
            "0.5,0.0001,0.01",
            "--init-seed",
            "42",
            "--max-iter",
            "1001",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    runs = result["runs"]
    assert [r["config"]["learning_rate"] for r in runs] == [0.5, 0.0001, 0.01]
    assert [(r["status"], r["iterations"]) for r in runs] == [
        ("converged", 30),
        ("capped", 1001),
        ("capped", 1001),
    ]
    assert runs[1]["losses"][0] == pytest.approx(17.9472599029541, rel=1e-5)
    assert runs[1]["losses"][1000] == pytest.approx(15.277046203613281, rel=1e-5)
    assert set(result["theory"]) == THEORY_KEYS
    assert result["theory"]["bound"] == "2/L"
    assert result["theory"]["lr_max"] == result["theory"]["lr_max_sgd"]


def test_compare_without_a_cap_converges_at_1513(capsys):
    main(["--headless", "--json", "--no-tensorboard", "--compare", "0.01", "--init-seed", "42"])
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert (run["status"], run["iterations"]) == ("converged", 1513)


def test_compare_text_prints_the_table(capsys):
    code = main(["--headless", "--no-tensorboard", "--compare", "0.01,1.6", "--init-seed", "42"])
    out, err = capsys.readouterr()
    assert code == 3  # one of them diverged
    lines = out.splitlines()
    assert lines[0].split() == ["learning", "rate", "status", "iterations", "loss"]
    assert lines[1].split()[:3] == ["0.01", "converged", "1513"]
    # The loss of the last iteration, the one that stopped the run: under the threshold.
    assert 0.6999 < float(lines[1].split()[3]) <= 0.7
    assert lines[2].split()[:2] == ["1.6", "diverged"]
    assert not math.isfinite(float(lines[2].split()[3]))
    assert "2/L = 1.53242" in out
    assert "learning rate 1.6 > 2/L" in err


def test_headless_warns_before_a_learning_rate_past_lr_max(capsys):
    main(["--headless", "--no-tensorboard", "--lr", "1.6", "--json"])
    assert "learning rate 1.6 > 2/L = 1.53242" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text,words",
    [
        ("0.1,abc", "'abc' is not a learning rate"),
        ("0.1,-1", "'-1' is not a learning rate"),
        (",".join(["0.1"] * 9), "at most 8"),
    ],
)
def test_bad_compare_lists(capsys, text, words):
    with pytest.raises(SystemExit) as exit_:
        main(["--headless", "--compare", text])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--compare" in err and words in err


# -- saved runs ---------------------------------------------------------------------------


def test_saved_run_reloads_identically(tmp_path, capsys):
    path = tmp_path / "run.json"
    args = [
        "--optimizer",
        "adam",
        "--lr",
        "0.05",
        "--batch-size",
        "7",
        "--seed",
        "3",
        "--max-iter",
        "400",
        "--no-tensorboard",
    ]
    assert main(["--headless", "--json", "--save", str(path), *args]) == 0
    first = json.loads(capsys.readouterr().out)
    saved = json.loads(path.read_text())
    assert saved["format"] == "amal-tui run" and saved["losses"] == first["losses"]
    assert saved["W"] == first["W"] and set(saved["theory"]) == THEORY_KEYS
    csv = (tmp_path / "run.losses.csv").read_text().splitlines()
    assert csv[0] == "iteration,loss" and len(csv) == first["iterations"] + 1
    assert float(csv[1].split(",")[1]) == first["losses"][0]
    assert main(["--headless", "--json", "--config", str(path)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (
        again["losses"] == first["losses"] and again["W"] == first["W"] and again["b"] == first["b"]
    )
    assert again["config"] == first["config"]


def test_an_infinite_threshold_is_saved_and_reloaded(tmp_path, capsys):
    """--threshold=-inf (never stop on the loss) must survive JSON, which has no infinities."""
    path = tmp_path / "run.json"
    args = ["--threshold=-inf", "--max-iter", "20", "--no-tensorboard"]
    assert main(["--headless", "--json", "--save", str(path), *args]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["config"]["threshold"] == "-inf" and first["iterations"] == 20
    assert load_config(path).threshold == -math.inf
    assert main(["--headless", "--json", "--config", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["losses"] == first["losses"]


def test_options_override_a_loaded_config(tmp_path, capsys):
    path = tmp_path / "run.json"
    main(
        ["--headless", "--save", str(path), "--lr", "0.5", "--init-seed", "42", "--no-tensorboard"]
    )
    capsys.readouterr()
    main(["--headless", "--json", "--config", str(path), "--max-iter", "10"])
    run = json.loads(capsys.readouterr().out)
    assert run["config"]["learning_rate"] == 0.5 and run["config"]["max_iter"] == 10
    assert run["config"]["tensorboard"] is False


def test_saved_comparison(tmp_path, capsys):
    path = tmp_path / "cmp.json"
    main(
        [
            "--headless",
            "--save",
            str(path),
            "--compare",
            "0.01,0.5",
            "--init-seed",
            "42",
            "--no-tensorboard",
        ]
    )
    saved = json.loads(path.read_text())
    assert saved["format"] == "amal-tui compare" and len(saved["runs"]) == 2
    header, *rows = (tmp_path / "cmp.losses.csv").read_text().splitlines()
    assert header == "iteration,loss_lr0.01,loss_lr0.5"
    assert len(rows) == 1513 and rows[40].endswith(",")  # the 0.5 run stopped at 30
    assert load_config(path).compare == (0.01, 0.5)


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path):
    descent = Descent(make_config(max_iter=5))
    descent.run()
    save_run(tmp_path / "a.json", descent.config, [descent])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.losses.csv"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_into_a_missing_folder_names_it(tmp_path):
    descent = Descent(make_config(max_iter=5))
    with pytest.raises(SaveError, match="does not exist"):
        save_run(tmp_path / "no" / "a.json", descent.config, [descent])


@pytest.mark.parametrize(
    "content,words",
    [
        (None, "no such file"),
        ("not json", "not valid JSON"),
        ("[1, 2]", 'no "config" object'),
        ('{"config": {"learning_rate": "x"}}', "config field learning rate"),
        ('{"config": {"colour": 1}}', "is not a setting"),
        ('{"config": {"seed": [1]}}', "config field seed: expected an integer"),
        ('{"config": {"learning_rate": {}}}', "config field learning rate: expected a number"),
        pytest.param(
            '{"config": {"learning_rate": 1' + "0" * 400 + "}}",
            "is too large",
            id="a 400-digit number",
        ),
        ('{"config": {"max_iter": 1e400}}', "config field max iterations"),
    ],
)
def test_bad_config_files_are_one_line_errors(tmp_path, capsys, content, words):
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as exit_:
        main(["--headless", "--config", str(path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert words in err and str(path) in err


def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path):
    with pytest.raises(SaveError) as error:
        load_config(tmp_path / "run\n.json")
    assert "\n" not in str(error.value) and "no such file" in str(error.value)


# -- the divergence bound: one rule, and the runs it holds for --------------------------------


def test_the_bound_2_over_L_holds_for_plain_full_batch_descent_only():
    from engine.core.theory import bound_applies, diverges

    assert diverges(1.6, 1.532, "sgd", None) is True
    assert diverges(1.5, 1.532, "sgd", None) is False
    for optimizer in ("momentum", "nesterov", "adam"):
        assert not bound_applies(optimizer, None)
        assert diverges(1.6, 1.532, optimizer, None) is None
    # Mini-batches: the bound says nothing; a batch of all the points is the whole batch.
    assert diverges(1.6, 1.532, "sgd", 10, n=50) is None
    assert diverges(1.6, 1.532, "sgd", 50, n=50) is True
    assert diverges(1.6, 1.532, "sgd", 50) is None  # n unknown: counted as mini-batches
    assert diverges(1.6, None, "sgd", None) is None  # the theory is not known yet


def test_only_plain_descent_past_2_over_L_is_warned_of_before_it_runs():
    from engine.experiment import run_warnings

    for optimizer, warned in (("sgd", True), ("adam", False), ("momentum", False)):
        descent = Descent(make_config(optimizer=optimizer, learning_rate=1.6))
        assert any("will diverge" in w for w in run_warnings(descent)) is warned, optimizer


def test_the_block_by_block_theory_equals_the_direct_one(monkeypatch):
    """Large data take the normal equations a block of rows at a time: forced here on small data."""
    import engine.core.theory as theory

    g = torch.Generator().manual_seed(0)
    X = torch.randn(3000, 7, generator=g, dtype=torch.float64)
    Y = torch.randn(3000, 2, generator=g, dtype=torch.float64)
    direct = theory.theory_of(X, Y)
    monkeypatch.setattr(theory, "DIRECT_MAX_ENTRIES", 10)
    monkeypatch.setattr(theory, "BLOCK_ROWS", 512)  # 6 blocks, the last one short
    blocks = theory.theory_of(X, Y)
    assert blocks.optimal_loss == pytest.approx(direct.optimal_loss, rel=1e-10)
    assert blocks.lr_max == pytest.approx(direct.lr_max, rel=1e-10)
    np.testing.assert_allclose(blocks.W_star, direct.W_star, atol=1e-10)
    np.testing.assert_allclose(blocks.b_star, direct.b_star, atol=1e-10)
