"""Pilot's idle wait, bounded for these tests.

Textual's Pilot (``press``, ``pause()``, ``resize_terminal``) waits for the app to be idle,
judged by the process's CPU time, or for one second.  An app that runs a descent is never
idle: each key pressed during a run waited the whole second while the run used a core (a
third of these tests' CPU).  Keys are handled before the wait (Pilot waits for the screen's
messages first) and a test waits for what it needs with ``tui_support.wait_for``; the idle
wait only lets things settle, which a fifth of a second does.  Off if Textual renames it:
the tests are the same, only slower.
"""

from __future__ import annotations

import textual._wait
import textual.app
import textual.pilot

IDLE_WAIT_MAX = 0.2
_wait_for_idle = textual._wait.wait_for_idle


async def _bounded_wait_for_idle(
    min_sleep: float = textual._wait.SLEEP_GRANULARITY, max_sleep: float = 1
) -> None:
    await _wait_for_idle(min_sleep, min(max_sleep, IDLE_WAIT_MAX))


for _module in (textual.pilot, textual.app):
    if getattr(_module, "wait_for_idle", None) is _wait_for_idle:
        _module.wait_for_idle = _bounded_wait_for_idle
