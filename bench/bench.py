"""`make bench`: amal-tui's speed against its goals, every figure measured side by side in one run.

Each contender runs in turn, several rounds interleaved, and the median time of
each is kept, so a noisy neighbour slows all of them alike; the figures are
ratios of those medians.  Memory figures read /proc (Linux).  Usage: python bench/bench.py [--quick] [--no-tui]
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import notebook_loop  # noqa: E402

from engine import Descent, make_config  # noqa: E402
from engine.core.problem import toy_problem  # noqa: E402
from engine.session import Session  # noqa: E402

RESULTS: list[tuple[str, str, str, str]] = []


def verdict(ratio: float, goal: float | None, at_least: bool = True) -> str:
    if goal is None:
        return "(reported)"
    met = ratio >= goal if at_least else ratio <= goal
    return "PASS" if met else "MISS"


def row(
    label: str, ratio: float, goal: float | None, at_least: bool = True, unit: str = "×"
) -> None:
    goal_text = "" if goal is None else f"{'≥' if at_least else '≤'} {goal:g}{unit}"
    RESULTS.append((label, f"{ratio:.2f}{unit}", goal_text, verdict(ratio, goal, at_least)))
    print(f"  {label:<58} {ratio:>8.2f}{unit}  {goal_text:>8}  {verdict(ratio, goal, at_least)}")


def median_times(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Seconds per iteration of each contender: the median over interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for run in contenders.values():
        run()  # warm-up
    for _ in range(rounds):
        for name, run in contenders.items():
            samples[name].append(run())
    return {name: statistics.median(values) for name, values in samples.items()}


# -- 1. steps per second on the notebook's problem --------------------------------------


def default_problem_contenders(iterations: int, logdir: str) -> dict[str, Callable[[], float]]:
    problem = toy_problem(42)
    X, Y, W0, b0 = problem.X, problem.Y, problem.W0, problem.b0
    endless = make_config(threshold=-1, max_iter=iterations, tensorboard=False)

    def engine() -> float:
        descent = Descent(endless, problem)
        start = time.perf_counter()
        descent.run()
        return (time.perf_counter() - start) / iterations

    def engine_logged() -> float:
        session = Session(
            endless.replace(tensorboard=True, logdir=logdir), Descent(endless, problem)
        )
        start = time.perf_counter()
        while not session.descent.status.finished:
            session.run_for(0.05)
        session.close()
        return (time.perf_counter() - start) / iterations

    def idiom() -> float:
        model = torch.nn.Linear(13, 3)
        with torch.no_grad():
            model.weight.copy_(W0.t())
            model.bias.copy_(b0.view(-1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        criterion = torch.nn.MSELoss()
        start = time.perf_counter()
        for _ in range(iterations):
            optimizer.zero_grad()
            loss = criterion(model(X), Y)
            loss.backward()
            optimizer.step()
            loss.item()  # the stop test needs the value
        return (time.perf_counter() - start) / iterations

    def idiom_one_thread() -> float:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return idiom()
        finally:
            torch.set_num_threads(threads)

    def notebook() -> float:
        start = time.perf_counter()
        notebook_loop.grad_descent(X, Y, W0.clone(), b0.clone(), iterations)
        return (time.perf_counter() - start) / iterations

    Xn, Yn = X.numpy(), Y.numpy()

    def numpy_loop() -> float:
        W, b = W0.numpy().copy(), b0.numpy().copy()
        scale = np.float32(2.0 / Yn.size)
        start = time.perf_counter()
        for _ in range(iterations):
            diff = Xn @ W + b - Yn
            float(np.vdot(diff, diff)) / Yn.size
            grad = diff * scale
            W -= np.float32(0.01) * (Xn.T @ grad)
            b -= np.float32(0.01) * grad.sum(0, keepdims=True)
        return (time.perf_counter() - start) / iterations

    return {
        "engine": engine,
        "engine + TensorBoard": engine_logged,
        "nn.Linear + nn.MSELoss + optim.SGD": idiom,
        "the same on one thread": idiom_one_thread,
        "notebook loop": notebook,
        "NumPy loop": numpy_loop,
    }


def bench_default_problem(quick: bool) -> None:
    iterations = 3000 if quick else 20000
    with tempfile.TemporaryDirectory() as logdir:
        times = median_times(default_problem_contenders(iterations, logdir), 3 if quick else 5)
    print("\n1. Steps per second on the notebook's problem (50×13 → 3, float32, CPU)")
    for name, seconds in times.items():
        print(f"  {name:<40} {1 / seconds:>12,.0f} steps/s  {seconds * 1e6:8.2f} µs/step")
    engine = times["engine"]
    row(
        "engine vs nn.Linear + nn.MSELoss + optim.SGD",
        times["nn.Linear + nn.MSELoss + optim.SGD"] / engine,
        4,
    )
    row(
        "engine vs the same idiom on one thread, as the engine runs",
        times["the same on one thread"] / engine,
        None,
    )
    row("engine vs the notebook's own loop", times["notebook loop"] / engine, 1)
    row("engine vs a hand-written NumPy loop", times["NumPy loop"] / engine, None)
    row(
        "engine + TensorBoard logging vs engine alone (time)",
        times["engine + TensorBoard"] / engine,
        1.25,
        at_least=False,
    )


# -- 2. cost against the size of the data ------------------------------------------------

MEMORY_PROBE = """
import sys, torch, engine
from engine.core.problem import Problem
n, d, m = int(sys.argv[1]), 100, 3
def status(field):  # kB, from /proc/self/status (Linux)
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
config = engine.make_config(threshold=-1, max_iter=10, learning_rate=1e-3, tensorboard=False)
engine.Descent(config).run()  # everything imported and warmed up on the toy problem
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # resets the peak (VmHWM) to the current resident size
generator = torch.Generator().manual_seed(0)
X = torch.randn(n, d, generator=generator)
Y = torch.randn(n, m, generator=generator)
engine.Descent(config, Problem(X, Y, torch.zeros(d, m), torch.zeros(1, m), "synthetic")).run()
print(before, status("VmHWM"), X.nbytes + Y.nbytes)
"""


def synthetic(n: int, d: int = 100, m: int = 3, device: str = "cpu"):
    from engine.core.problem import Problem

    generator = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=generator).to(device)
    Y = torch.randn(n, m, generator=generator).to(device)
    zeros = {"device": device}
    return Problem(X, Y, torch.zeros(d, m, **zeros), torch.zeros(1, m, **zeros), "synthetic")


def size_contenders(n: int, iterations: int, device: str = "cpu") -> dict[str, Callable[[], float]]:
    problem = synthetic(n, device=device)
    config = make_config(
        threshold=-1, max_iter=10**9, learning_rate=1e-4, tensorboard=False, device=device
    )
    descent = Descent(config, problem)
    X, Y, W = problem.X, problem.Y, problem.W0.clone()
    gpu = device != "cpu"
    sync = torch.cuda.synchronize if gpu else (lambda: None)

    def engine() -> float:
        sync()
        start = time.perf_counter()
        descent.run(iterations)
        sync()
        return (time.perf_counter() - start) / iterations

    def bare() -> float:
        with torch.inference_mode():
            sync()
            start = time.perf_counter()
            for _ in range(iterations):
                gradient = X.T @ (X @ W - Y)
                if gpu:
                    gradient[0, 0].item()  # one synchronisation per iteration, as the engine
            sync()
            return (time.perf_counter() - start) / iterations

    return {"engine": engine, "bare": bare}


def bench_sizes(quick: bool) -> None:
    print("\n2. Time per iteration against a bare X.T @ (X @ W - Y) (d = 100, m = 3, float32)")
    sizes = [10**3, 10**4, 10**5] if quick else [10**3, 10**4, 10**5, 10**6]
    for n in sizes:
        iterations = max(10, min(2000, int(3e7 / (n * 100))))
        times = median_times(size_contenders(n, iterations), 3 if quick else 5)
        print(
            f"  n = {n:>9,}: engine {times['engine'] * 1e6:10.1f} µs, bare {times['bare'] * 1e6:10.1f} µs"
        )
        row(
            f"n = {n:,}: engine time / bare gradient time",
            times["engine"] / times["bare"],
            1.3,
            at_least=False,
        )
    n = sizes[-1]
    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(n)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    before, after, data_bytes = (int(v) for v in probe.stdout.split())
    print(
        f"  n = {n:,}: data {data_bytes / 2**20:.0f} MiB; the data and a 10-iteration run "
        f"raised the peak memory by {(after - before) / 2**20:.0f} MiB"
    )
    # The data, plus temporaries of the size of Y (n × m): a copy of X would make it ≥ 2.
    row(
        f"n = {n:,}: peak memory of data + run / size of the data",
        (after - before) / data_bytes,
        1.3,
        at_least=False,
    )


# -- 4. the GPU, when there is one ------------------------------------------------------


def bench_gpu(quick: bool) -> None:
    if not torch.cuda.is_available():
        print("\n4. GPU: none here (torch.cuda.is_available() is False): no GPU rows")
        return
    print(f"\n4. GPU: {torch.cuda.get_device_name()}")
    for n in [10**4, 10**6] if quick else [10**4, 10**5, 10**6, 10**7]:
        times = median_times(size_contenders(n, 200, "cuda"), 3)
        print(
            f"  n = {n:>10,}: engine {times['engine'] * 1e6:9.1f} µs, bare {times['bare'] * 1e6:9.1f} µs"
        )
        row(
            f"GPU n = {n:,}: engine time / bare gradient time",
            times["engine"] / times["bare"],
            1.3,
            at_least=False,
        )


# -- 3. the app, in a pseudo-terminal -----------------------------------------------------


def amal_tui() -> str:
    return str(Path(sys.executable).with_name("amal-tui"))


def bench_tui(quick: bool) -> None:
    from ptyrun import run_in_pty

    from engine.config import Config
    from tui.headless import run as run_headless

    print("\n3. The app in a pseudo-terminal at 100×30 (what an SSH user pays)")
    rounds = 2 if quick else 3
    torch_imports, paints = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        torch_imports.append(time.perf_counter() - start)
        run = run_in_pty([amal_tui(), "--no-tensorboard"], keys=[(2.5, "q")], timeout=8)
        paints.append(run.first_paint_s or math.inf)
    torch_s, paint_s = statistics.median(torch_imports), statistics.median(paints)
    print(f"  first paint {paint_s:.3f} s; python -c 'import torch' {torch_s:.3f} s")
    row("time to first paint / time to import torch", paint_s / torch_s, 0.5, at_least=False)

    iterations = 100_000 if quick else 300_000
    endless = ["--no-tensorboard", "--threshold", "-1", "--max-iter", str(iterations)]
    tui_rates, headless_rates = [], []
    for _ in range(rounds):
        run = run_in_pty(
            [amal_tui(), *endless],
            keys=[(3.0, "r")],
            text=r"capped",
            stop_after_text=0.3,
            timeout=60,
        )
        if run.text_s is not None:
            tui_rates.append(iterations / (run.text_s - run.key_times["r"]))
        config = Config(tensorboard=False, threshold=-1, max_iter=iterations)
        start = time.perf_counter()
        run_headless(config, json_output=True, out=io.StringIO(), err=io.StringIO())
        headless_rates.append(iterations / (time.perf_counter() - start))
    tui_rate = statistics.median(tui_rates) if tui_rates else 0.0
    headless_rate = statistics.median(headless_rates)
    print(
        f"  steps/s: in the app {tui_rate:,.0f} (from the r key to 'capped' on screen), "
        f"headless {headless_rate:,.0f}"
    )
    row("steps/s in the app / headless", tui_rate / headless_rate, 0.7)

    # ε = 0.0001: the loss and every entry of W, b still change at each redraw (the worst case
    # for the link; a run that has settled at the optimum writes about half as much).
    forever = ["--no-tensorboard", "--threshold", "-1", "--max-iter", "100000000", "--lr", "1e-4"]
    running = run_in_pty(
        [amal_tui(), *forever], keys=[(4.0, "r")], window=(5.0, 10.0), timeout=10.5
    )
    idle = run_in_pty([amal_tui(), *forever], window=(4.0, 9.0), timeout=9.5)
    running_kib, idle_kib = running.window_bytes_per_s / 1024, idle.window_bytes_per_s / 1024
    print(
        f"  written to the terminal: {running_kib:.1f} KiB/s while running, {idle_kib:.2f} KiB/s idle"
    )
    row("KiB/s written while running (goal ≤ 40)", running_kib, 40, at_least=False, unit="")
    row("KiB/s written while idle (goal ≈ 0)", idle_kib, 0.1, at_least=False, unit="")


def cpu_share(command: list[str], keys: list[tuple[float, str]], text: str | None) -> float:
    """The CPU seconds ``command`` uses per wall second, over CPU_WINDOW, in a 100×30 pty."""
    from ptyrun import run_in_pty

    start, end = CPU_WINDOW
    run = run_in_pty(
        command,
        keys=[*keys, (end + 0.3, "q")],
        text=text,
        after_text=text is not None,
        cpu_window=CPU_WINDOW,
        timeout=end + 40,
    )
    if run.cpu_s is None:
        raise RuntimeError(f"{command[0]}: no CPU figure (did it start?)")
    return run.cpu_s / (end - start)


# Seconds after the first screen between which CPU time is counted (keys come before).
CPU_WINDOW = (3.0, 13.0)


def bench_cpu() -> None:
    """What watching costs a shared server: the app's CPU, beside top's, in the same run."""
    print("\n5. CPU of one core while watching, at 100×30, over 10 s (beside top -d 0.25)")
    slow = ["--no-tensorboard", "--speed", "10", "--threshold", "-1", "--max-iter", "100000000"]
    # ε = 0.0001: the loss and every entry of W, b change at each iteration (the most to draw).
    slow += ["--lr", "1e-4"]
    animating = cpu_share([amal_tui(), *slow], [(0.3, "r")], r"iteration 0")
    paused = cpu_share([amal_tui(), *slow], [(0.3, "s")], r"iteration 0")
    top = cpu_share(["top", "-d", "0.25"], [], None)
    print(
        f"  amal-tui animating at 10 iterations/s {animating:.1%}, paused {paused:.1%}; "
        f"top redrawing 4 times a second {top:.1%}"
    )
    row("CPU share animating at --speed 10 (%)", animating * 100, 3, at_least=False, unit="")
    row("CPU share paused (%)", paused * 100, 0.5, at_least=False, unit="")
    row("CPU share animating / top -d 0.25", animating / max(top, 1e-9), None)


# -- 6. a learning-rate sweep as one batched run -----------------------------------------

SWEEP_PROBE = """
import resource, sys, time
from engine import make_config
from engine.core.sweep import Sweep, sweep_rates
config = make_config(tensorboard=False)
start = time.perf_counter()
sweep = Sweep(config, sweep_rates(1e-3, 3, 1024))
sweep.run()
runs = sweep.results()
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      sum(r.status.value == 'converged' for r in runs), sum(r.status.value == 'diverged' for r in runs),
      max(r.iterations for r in runs))
"""


def _operations_per_iteration(make: Callable[[], Descent | object], steps: int) -> float:
    """Torch operations called from Python (not those they call) per iteration of ``steps``
    iterations of ``make()``'s ``run``: what torch.profiler counts at the top level, without
    its seconds of start-up."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    make().run(steps)  # warm-up
    runner = make()
    with Count():
        runner.run(steps)
    return Count.calls / steps


def bench_sweep(quick: bool) -> None:
    from engine.core.problem import notebook_problem
    from engine.core.sweep import Sweep, sweep_rates

    config = make_config(threshold=0.0, max_iter=1000, tensorboard=False)
    problem = notebook_problem(config)
    rates = sweep_rates(1e-4, 3, 64)

    def one_run() -> float:
        descent = Descent(config, problem)
        start = time.perf_counter()
        descent.run()
        return time.perf_counter() - start

    def sweep_64() -> float:
        sweep = Sweep(config, rates, problem)
        start = time.perf_counter()
        sweep.run()
        return time.perf_counter() - start

    times = median_times({"one run": one_run, "sweep of 64": sweep_64}, 3 if quick else 7)
    print(
        "\n6. A learning-rate sweep as one batched run (the notebook's problem, 1,000 iterations)"
    )
    for name, seconds in times.items():
        print(f"  {name:<40} {seconds * 1e3:10.1f} ms")
    # On this problem an operation's dispatch costs about what its arithmetic costs: the count
    # of torch operations an iteration is what the sweep's time follows.
    steps = config.max_iter  # the runs timed above, events included (a run that stops)
    counts = {
        "one run": _operations_per_iteration(lambda: Descent(config, problem), steps),
        "sweep of 64": _operations_per_iteration(lambda: Sweep(config, rates, problem), steps),
    }
    print(
        "  torch operations an iteration: "
        + ", ".join(f"{name} {count:.1f}" for name, count in counts.items())
    )
    row(
        "64-rate sweep vs one run (time; stretch 1.5×)",
        times["sweep of 64"] / times["one run"],
        3,
        at_least=False,
    )
    if quick:
        return
    result = subprocess.run(
        [sys.executable, "-c", SWEEP_PROBE], capture_output=True, text=True, check=True
    )
    seconds, peak_mib, converged, diverged, longest = result.stdout.split()
    print(
        f"  1,024 rates from 1e-3 to 3, default problem and threshold: {float(seconds):.1f} s, "
        f"peak memory {float(peak_mib):.0f} MiB ({converged} converged, {diverged} diverged, "
        f"longest run {longest} iterations)"
    )


CLASS_PROBE = """
import resource, sys, time
start = time.perf_counter()
from engine.student.batch import check_files
from engine.student.zygote import close_shared
reports = check_files(sys.argv[2:], forked=sys.argv[1] == "forked")
close_shared()  # its children's CPU counted: reaped by it, it reaped here
seconds = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF)
children = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
print(seconds, cpu, sum(r.passed for r in reports))
"""


def bench_class_check(quick: bool) -> None:
    """A teacher's ``--check DIR``: a fresh amal-tui checks 30 files (tests/students/, copied)."""
    import shutil

    students = sorted((Path(__file__).resolve().parents[1] / "tests" / "students").glob("*.py"))
    count = 10 if quick else 30
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(count):
            source = students[index % len(students)]
            paths.append(str(Path(folder) / f"{index:02d}_{source.name}"))
            shutil.copy(source, paths[-1])

        def probe(how: str) -> tuple[float, float]:
            result = subprocess.run(
                [sys.executable, "-c", CLASS_PROBE, how, *paths],
                capture_output=True,
                text=True,
                check=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            seconds, cpu, _ = result.stdout.split()
            return float(seconds), float(cpu)

        # Interleaved, the cheap one around the dear one: a neighbour's load hits both.
        forked = [probe("forked"), probe("forked")]
        started = [probe("started")]
        forked.append(probe("forked"))
    forked_wall = statistics.median(f[0] for f in forked)
    forked_cpu = statistics.median(f[1] for f in forked)
    started_wall, started_cpu = started[0]
    print(f"\n7. A class checked at once ({count} files, each in its own process; 2 cores goal)")
    print(
        f"  forked from the zygote:   {forked_wall:6.1f} s, CPU {forked_cpu:6.1f} s "
        f"({forked_cpu / count:.2f} s a file)"
    )
    print(
        f"  a Python started a file:  {started_wall:6.1f} s, CPU {started_cpu:6.1f} s "
        f"({started_cpu / count:.2f} s a file)"
    )
    row("class check CPU per file: started vs forked", started_cpu / forked_cpu, 3)
    # The goal: 30 files in under a minute on 2 cores (judged on 30 files, ≤ 2 cores).
    row(
        f"{count} files checked, forked (wall, this machine's load included)",
        forked_wall,
        60 if count == 30 and (os.cpu_count() or 1) <= 2 else None,
        at_least=False,
        unit=" s",
    )
    print(
        f"  30 files' CPU over 2 cores (a 2-core machine of one's own): "
        f"{forked_cpu * 30 / count / 2:.1f} s forked, {started_cpu * 30 / count / 2:.1f} s started"
    )


# -- 8. the app when a step is slow -------------------------------------------------------

SLOW_STUDENT = (
    Path(__file__).resolve().parent.parent / "tests" / "students" / "slow" / "backward_sleeps.py"
)


def bench_responsive(quick: bool) -> None:
    """Seconds from a key to the screen's answer when a step is slow (issue 21)."""
    from responsive import measure_quit_while_loading, measure_run

    print("\n8. The app when a step is slow, in a 100×30 pty (first progress after r, pause, quit)")
    quiet = ["--no-tensorboard", "--threshold", "0"]
    cases = {
        "synthetic n=2,000,000 d=100 m=3": [
            *"--data synthetic --n 2000000 --d 100 --m 3".split(),
            *quiet,
        ],
        "a student's backward sleeping 0.2 s": ["--functions", str(SLOW_STUDENT), *quiet],
    }
    for name, options in cases.items():
        latencies = measure_run([amal_tui(), *options], r"○ ready", run_s=3.0 if quick else 5.0)
        if not latencies.ready:
            print(f"  {name}: not loaded within the timeout (a very busy machine?)")
            continue
        print(
            f"  {name}: first iteration on screen {_seconds(latencies.first_progress_s)} after r; "
            f"r again: pausing said {_seconds(latencies.pause_said_s)}, paused "
            f"{_seconds(latencies.pause_s)} (after the step under way); "
            f"gone {_seconds(latencies.quit_s)} after q"
        )
        for label, value, goal in (
            ("first progress after r (s)", latencies.first_progress_s, 1.5),
            ("pause said after r (s)", latencies.pause_said_s, 1.0),
            ("quit (s)", latencies.quit_s, 2.0),
        ):
            row(f"{name[:28]}: {label}", _or_inf(value), goal, at_least=False, unit="")
    # q a few tenths of a second into the start, while the loading thread imports torch
    # (an import cannot be interrupted: the app leaves without waiting for it).
    for after in (0.05, 0.3, 0.8):
        latencies = measure_quit_while_loading([amal_tui(), *quiet], r"loading", after)
        print(
            f"  q {after:.2f} s after 'loading…' (torch imported): gone {_seconds(latencies.quit_s)}"
        )
        row(
            f"quit while torch loads, +{after:.2f} s (s)",
            _or_inf(latencies.quit_s),
            2.0,
            at_least=False,
            unit="",
        )
    making = ["--data", "synthetic", "--n", "3000000", "--d", "100", *quiet]
    latencies = measure_quit_while_loading([amal_tui(), *making], r"making synthetic data", 0.3)
    print(
        f"  q while synthetic n=3,000,000 d=100 is made: gone {_seconds(latencies.quit_s)} after q"
    )
    row(
        "quit while making data (s, goal ≤ 1)",
        _or_inf(latencies.quit_s),
        1.0,
        at_least=False,
        unit="",
    )


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="fewer iterations and rounds (for a smoke test)"
    )
    parser.add_argument("--no-tui", action="store_true", help="skip the app's figures")
    parser.add_argument(
        "--cpu-only", action="store_true", help="only the CPU while watching (section 5)"
    )
    parser.add_argument("--sweep-only", action="store_true", help="only the sweep (section 6)")
    parser.add_argument(
        "--check-only", action="store_true", help="only a class's check (section 7)"
    )
    parser.add_argument(
        "--responsive-only", action="store_true", help="only the app on slow steps (section 8)"
    )
    args = parser.parse_args()
    if args.cpu_only:
        bench_cpu()
        return
    if args.sweep_only:
        bench_sweep(args.quick)
        return
    if args.check_only:
        bench_class_check(args.quick)
        return
    if args.responsive_only:
        bench_responsive(args.quick)
        return
    print(
        f"amal-tui benchmarks — {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, Python {platform.python_version()}"
    )
    bench_default_problem(args.quick)
    bench_sizes(args.quick)
    bench_gpu(args.quick)
    bench_sweep(args.quick)
    bench_class_check(args.quick)
    if args.no_tui:
        print("\n3. The app: skipped (--no-tui)")
    else:
        bench_tui(args.quick)
        bench_cpu()
        bench_responsive(args.quick)
    missed = [r for r in RESULTS if r[3] == "MISS"]
    print(
        f"\n{len(RESULTS) - len(missed)} goals met"
        + (f", {len(missed)} missed" if missed else "")
        + "."
    )


if __name__ == "__main__":
    main()
