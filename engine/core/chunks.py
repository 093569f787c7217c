"""How many iterations to run between two looks at the clock (torch-free, for the app too)."""

from __future__ import annotations

MAX_CHUNK = 1 << 20


class ChunkSizer:
    """Sizes chunks of iterations so that one takes about ``seconds``.

    A caller runs ``size`` iterations of each of its ``runs`` descents, then calls
    :meth:`update`; between chunks it can look for a pause or an interrupt.  The first
    chunk is one iteration: what a step costs is not known before it is measured (a
    large data set, a student's slow Functions), and a first chunk of many slow steps
    would leave a screen unchanged for seconds.  It then grows 4× a chunk at most.
    """

    def __init__(self, size: int = 1) -> None:
        self.size = size

    def update(self, done: int, elapsed: float, seconds: float, runs: int = 1) -> None:
        """After a chunk: ``done`` iterations in all took ``elapsed`` seconds."""
        if done != self.size * runs:
            return  # a descent stopped inside the chunk: its time says nothing of the speed
        per_step = elapsed / max(done, 1)
        target = int(seconds / per_step / runs) if per_step > 0 else self.size * 2
        # Grow at most 4x at a time, so a slow chunk cannot overshoot the budget badly.
        self.size = max(1, min(target, self.size * 4, MAX_CHUNK))
