"""Helpers for the app's tests: run a coroutine test, wait on a condition, read the screen."""

from __future__ import annotations

import asyncio
import functools
import html
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from engine.config import Config
from tui.app import build_session

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
