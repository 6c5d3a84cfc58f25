"""The priority bands a worker drains, and the pace at which it polls each one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ..queues.base import JobQueue
from .settings import WorkerSettings

__all__ = ["Band", "Bands"]


@dataclass(slots=True)
class Band:
    """One priority band's queue and its polling pace (event-loop time): asked again at
    once after it gave messages; after an empty answer its pause doubles from ``poll_min``
    up to ``poll_max`` and it is not asked until then."""

    queue: JobQueue
    pause: float
    due: float = field(default=0.0)

    def answered(self, found: bool, now: float, settings: WorkerSettings) -> None:
        if found:
            self.pause, self.due = settings.poll_min.total_seconds(), now
        else:
            self.due = now + self.pause
            self.pause = min(self.pause * 2, settings.poll_max.total_seconds())


class Bands:
    """The bands, most urgent first, and the order each fetch asks them in: most urgent
    first, except every ``fairness``-th fetch, which starts from the least urgent band."""

    def __init__(self, queues: Sequence[JobQueue], settings: WorkerSettings) -> None:
        poll_min = settings.poll_min.total_seconds()
        self._bands = [Band(queue, poll_min) for queue in queues]
        self._fairness = settings.fairness
        self._fetches = 0

    def __iter__(self) -> Iterator[Band]:
        return iter(self._bands)

    def for_fetch(self) -> list[Band]:
        """The order of the next fetch."""
        self._fetches += 1
        if self._fetches % self._fairness == 0:
            return list(reversed(self._bands))
        return self._bands

    def all_due(self) -> None:
        """Ask every band at the next fetch (a hint said messages may have arrived)."""
        for band in self._bands:
            band.due = 0.0

    def next_due(self) -> float:
        return min(band.due for band in self._bands)
