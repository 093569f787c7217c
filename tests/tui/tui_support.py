"""Helpers for the app's tests: run a coroutine test, wait on a condition, read the screen."""

from __future__ import annotations

import asyncio
import functools
import html
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from textual.pilot import Pilot

from engine.config import Config
from tui.app import build_session
from tui.messages import RunView

# Tests never write TensorBoard logs unless they say so, and never show a timestamped folder.
CONFIG = Config(tensorboard=False)
# Runs that never stop by themselves.
ENDLESS = Config(tensorboard=False, threshold=-1.0, max_iter=10_000_000)


def asyncio_test(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an ``async def`` test without a pytest plugin."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


async def wait_for(
    pilot: Pilot, condition: Callable[[], bool], timeout: float = 10.0, what: str = ""
) -> float:
    """Poll ``condition`` between Textual's message processing; return the seconds it took."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await pilot.pause(0.005)
    return time.perf_counter() - started


async def settle(pilot: Pilot, timeout: float = 20.0) -> None:
    """Wait until the engine is loaded, no run goes on and the screen shows the last state."""
    await wait_for(pilot, lambda: pilot.app.settled, timeout, "the app to settle")
    await pilot.pause()


async def running(pilot: Pilot) -> None:
    await wait_for(
        pilot,
        lambda: pilot.app.running and pilot.app.session.descent.iteration > 0,
        what="a run to start",
    )


_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>')


def screen_text(app: Any) -> str:
    """The characters on screen, a line per row (runs of blanks are dropped)."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in _TEXT.findall(app.export_screenshot()):
        rows.setdefault(float(y), []).append((float(x), html.unescape(text).replace("\xa0", " ")))
    return "\n".join(
        "".join(text for _, text in sorted(cells)) for _, cells in sorted(rows.items())
    )


class GatedFactory:
    """A session factory that waits for ``release()``: the app stays "loading…" until then."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.gate = threading.Event()
        self.fail = fail
        self.calls = 0

    def release(self) -> None:
        self.gate.set()

    def __call__(self, config: Config, warn: Callable[[str], None], **options: Any) -> Any:
        self.calls += 1
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the test never released the engine")
        if self.fail is not None:
            raise self.fail
        return build_session(config, warn, **options)


async def type_into(pilot: Pilot, field_id: str, text: str) -> None:
    """Focus a field and replace its text, without pressing Enter.

    Focused directly, not by tab (each key Pilot presses costs ~0.1 s); tab's order
    has its own test.
    """
    pilot.app.query_one(f"#{field_id}").focus()
    await pilot.pause()
    await pilot.press("ctrl+a", "ctrl+k", *text)
    await pilot.pause()


# -- recorded states: what snapshot tests show ----------------------------------------------
#
# A float32 descent's last digits depend on the CPU's kernels (AVX-512, AVX2, NEON, MKL's
# code paths) and a snapshot taken from a live run fails on the next machine.  The snapshot
# tests run the real engine, check that its state agrees with a recorded one to a tolerance
# no rounding comes near, then show the recorded state: the screen is decided by the
# recording, never by the CPU.

RECORDED = Path(__file__).parents[1] / "screens"
SNAPSHOT_ARRAYS = ("W", "b", "grad_W", "grad_b", "delta_W", "delta_b")


def _array(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    value = np.asarray(value)
    # float32 values are exact as float64, and JSON writes a float64 exactly.
    return {"dtype": str(value.dtype), "shape": list(value.shape), "values": value.ravel().tolist()}


def _unarray(data: dict[str, Any] | None) -> np.ndarray | None:
    if data is None:
        return None
    out = np.array(data["values"], dtype=data["dtype"]).reshape(data["shape"])
    out.flags.writeable = False
    return out


def views_to_json(views: Sequence[RunView]) -> list[dict[str, Any]]:
    out = []
    for view in views:
        snapshot = view.snapshot
        out.append(
            {
                "learning_rate": view.learning_rate,
                "losses": _array(view.losses),
                "test_losses": _array(view.test_losses),
                "log_folder": view.log_folder,
                "snapshot": {
                    "iteration": snapshot.iteration,
                    "loss": snapshot.loss,
                    "previous_loss": snapshot.previous_loss,
                    "status": snapshot.status.value,
                    **{name: _array(getattr(snapshot, name)) for name in SNAPSHOT_ARRAYS},
                },
            }
        )
    return out


def views_from_json(data: list[dict[str, Any]]) -> tuple[RunView, ...]:
    from engine.core.descent import Status, StepSnapshot

    views = []
    for view in data:
        snapshot = view["snapshot"]
        views.append(
            RunView(
                learning_rate=view["learning_rate"],
                losses=_unarray(view["losses"]),
                test_losses=_unarray(view["test_losses"]),
                log_folder=view["log_folder"],
                snapshot=StepSnapshot(
                    iteration=snapshot["iteration"],
                    loss=snapshot["loss"],
                    previous_loss=snapshot["previous_loss"],
                    status=Status(snapshot["status"]),
                    **{name: _unarray(snapshot[name]) for name in SNAPSHOT_ARRAYS},
                ),
            )
        )
    return tuple(views)


def _close(what: str, live: Any, recorded: Any, rtol: float) -> None:
    if recorded is None or live is None:
        assert live is None and recorded is None, f"{what}: {live!r} recorded as {recorded!r}"
        return
    live, recorded = np.asarray(live, dtype=np.float64), np.asarray(recorded, dtype=np.float64)
    assert live.shape == recorded.shape, f"{what}: shape {live.shape}, recorded {recorded.shape}"
    # Relative to the array's scale: a gradient entry near 0 differs by its neighbours' rounding.
    scale = float(np.max(np.abs(recorded), initial=0.0))
    np.testing.assert_allclose(live, recorded, rtol=rtol, atol=rtol * scale, err_msg=what)


def assert_views_agree(live: Sequence[RunView], recorded: Sequence[RunView], rtol: float) -> None:
    """The live engine's state is the recorded one, to ``rtol`` (well above float32 rounding)."""
    assert len(live) == len(recorded), f"{len(live)} runs, recorded {len(recorded)}"
    for i, (now, then) in enumerate(zip(live, recorded, strict=True)):
        where = f"run {i} (ε {then.learning_rate:g})"
        assert now.learning_rate == then.learning_rate, where
        a, b = now.snapshot, then.snapshot
        assert (a.iteration, a.status) == (b.iteration, b.status), where
        _close(f"{where}: loss", a.loss, b.loss, rtol)
        _close(f"{where}: previous loss", a.previous_loss, b.previous_loss, rtol)
        for name in SNAPSHOT_ARRAYS:
            _close(f"{where}: {name}", getattr(a, name), getattr(b, name), rtol)
        _close(f"{where}: losses", now.losses, then.losses, rtol)
        _close(f"{where}: test losses", now.test_losses, then.test_losses, rtol)


class RecordedFactory:
    """A session factory whose Experiment shows a recorded state once ``when`` holds.

    The engine is the real one and runs for real; ``check()`` (in the test, once the
    app has settled) compares its state with the recording.  With ``update`` the live
    state is recorded instead (``pytest --snapshot-update``, or ``AMAL_UPDATE_SNAPSHOTS=1``).
    """

    # Descents of a few thousand float32 steps differ between CPUs by ~1e-6 relative.
    RTOL = 1e-4

    def __init__(self, name: str, when: Callable[[Any], bool], update: bool = False) -> None:
        self.path = RECORDED / f"{name}.json"
        self.when = when
        self.update = update
        self.live: tuple[RunView, ...] | None = None
        self.recorded: tuple[RunView, ...] | None = None
        if not update:
            assert self.path.exists(), (
                f"{self.path} is missing: run pytest --snapshot-update to record it"
            )
            self.recorded = views_from_json(json.loads(self.path.read_text()))

    def __call__(self, config: Config, warn: Callable[[str], None], **options: Any) -> Any:
        experiment = build_session(config, warn, **options)
        live_views = experiment.views

        def views() -> tuple[RunView, ...]:
            live = live_views()
            if not self.when(experiment):
                return live
            self.live = live
            return live if self.recorded is None else self.recorded

        experiment.views = views  # what the app shows; the engine itself is untouched
        return experiment

    def check(self) -> None:
        """Compare (or record) the live state the app last read; call once the app settled."""
        assert self.live is not None, "the recorded state was never shown"
        if self.update:
            self.path.write_text(json.dumps(views_to_json(self.live), indent=1) + "\n")
            return
        assert_views_agree(self.live, self.recorded, self.RTOL)


def count_panel_draws(app) -> dict[str, int]:
    """From now on, count each panel's redraws (its ``show``): chart, parameters, status."""
    from tui.loss_chart import LossChart
    from tui.parameters import ParameterPanel
    from tui.status_line import StatusLine

    draws = {"chart": 0, "parameters": 0, "status": 0}
    for name, kind in (
        ("chart", LossChart),
        ("parameters", ParameterPanel),
        ("status", StatusLine),
    ):
        widget = app.query_one(kind)
        show = widget.show

        def counted(*args, _show=show, _name=name, **kwargs):
            draws[_name] += 1
            return _show(*args, **kwargs)

        widget.show = counted
    return draws
