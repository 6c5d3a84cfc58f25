"""How every drain is timed, ours and the raw SDK loop's alike: wall time in the process
doing the work, from the start of the drain to the last job's completion as that process
sees it (its completion written)."""

from __future__ import annotations

import time

__all__ = ["DrainClock"]


class DrainClock:
    """``begin()`` as the drain starts, ``completed()`` as each job's completion is written;
    ``seconds`` is the wall time from the beginning to the ``jobs``-th completion."""

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError("a timed drain needs at least one job")
        self.jobs = jobs
        self.done = 0
        self._began: float | None = None
        self._ended: float | None = None

    def begin(self) -> None:
        self._began = time.perf_counter()

    def completed(self) -> None:
        """One more job completed; the ``jobs``-th stops the clock (later ones, from a
        duplicate delivery say, do not move it)."""
        self.done += 1
        if self.done == self.jobs and self._began is not None:
            self._ended = time.perf_counter()

    @property
    def finished(self) -> bool:
        return self._ended is not None

    @property
    def seconds(self) -> float | None:
        """The drain's wall time (``None`` until it finished)."""
        if self._began is None or self._ended is None:
            return None
        return self._ended - self._began

    def rate(self) -> float:
        """Jobs per second; raises if the drain did not finish."""
        if self.seconds is None:
            raise RuntimeError(f"the drain did not finish: {self.done} of {self.jobs} jobs")
        return self.jobs / self.seconds
