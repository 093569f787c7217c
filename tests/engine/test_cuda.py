"""--device cuda, where a GPU is present (skipped otherwise)."""

import json

import numpy as np
import pytest
import torch

from engine import Descent, Status, make_config
from tui.cli import main

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")


def test_the_default_run_on_the_gpu_matches_the_notebook():
    descent = Descent(make_config(device="cuda"))
    assert descent.problem.X.is_cuda
    assert descent.run() is Status.CONVERGED
    assert abs(descent.iteration - 1475) <= 1
    assert descent.losses[0] == pytest.approx(13.683131217956543, rel=1e-5)


def test_gpu_and_cpu_agree_in_float64():
    cpu = Descent(make_config(dtype="float64", max_iter=500))
    gpu = Descent(make_config(dtype="float64", max_iter=500, device="cuda"))
    cpu.run(), gpu.run()
    np.testing.assert_allclose(gpu.losses, cpu.losses, rtol=1e-10)
    np.testing.assert_allclose(gpu.W.cpu().numpy(), cpu.W.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_optimizers_and_mini_batches_on_the_gpu(optimizer):
    descent = Descent(make_config(device="cuda", optimizer=optimizer, batch_size=10, max_iter=300))
    descent.run()
    assert np.isfinite(descent.losses).all() and descent.losses[-1] < descent.losses[0]


def test_headless_json_on_the_gpu(capsys):
    assert main(["--headless", "--json", "--no-tensorboard", "--device", "cuda"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "converged" and summary["config"]["device"] == "cuda"
