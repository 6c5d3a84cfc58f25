"""The standalone worker's knobs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from .._enums import members
from ..execution.presence import PRESENCE_EVERY
from ..models import Priority

__all__ = ["DEFAULT_SCHEDULE_INTERVAL", "WorkerSettings"]

#: How often a worker fires the schedules due, unless told otherwise.
DEFAULT_SCHEDULE_INTERVAL = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    concurrency: int = 8
    poll_min: timedelta = timedelta(milliseconds=20)
    poll_max: timedelta = timedelta(seconds=2)
    shutdown_grace: timedelta = timedelta(seconds=30)
    #: Every this many fetches, the least urgent band is asked first.
    fairness: int = 4
    #: How often this worker runs the sweep (``None``: never).
    sweep_interval: timedelta | None = timedelta(minutes=1)
    #: How often this worker wakes jobs parked at limits' gates whose holders died
    #: (``None``: never; nothing runs for an app whose job types pass no limit).
    limit_sweep_interval: timedelta | None = timedelta(seconds=5)
    #: How often this worker fires the schedules due (``None``: never); slots up to this
    #: far ahead fire early, their jobs held until their time, so each runs on time.
    schedule_interval: timedelta | None = DEFAULT_SCHEDULE_INTERVAL
    #: A message received more often than this is poison: its job fails with the reason.
    max_deliveries: int = 10
    #: Messages the worker may hold, received but not yet started, beyond its running jobs.
    prefetch: int = 0
    #: Receive again once at most this many messages are running or held (``None``: half
    #: of ``concurrency + prefetch``). Lower means fewer, larger receives;
    #: ``concurrency + prefetch - 1`` refills each free slot at once.
    fetch_threshold: int | None = None
    #: How often a busy worker looks for jobs of its queues whose lease expired, to take
    #: them over ahead of its backlog (``None``: never; their messages still come back).
    takeover_interval: timedelta | None = timedelta(seconds=30)
    #: A storage request the worker waits on (a receive, a hand-back) that has not been
    #: answered after this long is logged as slow, and again every time this long passes.
    slow_storage_warning: timedelta = timedelta(seconds=5)
    #: The priority bands this worker drains (names or :class:`Priority` members; empty:
    #: every band). Jobs of the other bands wait for a worker that drains them.
    bands: Iterable[Priority | str] = frozenset()
    #: How often the worker saves its presence (what ``GET /workers`` shows; one write
    #: each time, ``None``: never). It also saves it at its start and, marked stopped, at
    #: a graceful stop.
    presence_interval: timedelta | None = PRESENCE_EVERY

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", _bands(self.bands))
        if self.concurrency < 1 or self.fairness < 1 or self.max_deliveries < 1:
            raise ValueError("concurrency, fairness and max_deliveries must be at least 1")
        if self.prefetch < 0:
            raise ValueError("prefetch must be 0 or more")
        if self.presence_interval is not None and self.presence_interval <= timedelta(0):
            raise ValueError("presence_interval must be more than 0 (or None: never)")
        if self.limit_sweep_interval is not None and self.limit_sweep_interval <= timedelta(0):
            raise ValueError("limit_sweep_interval must be more than 0 (or None: never)")
        if self.schedule_interval is not None and self.schedule_interval <= timedelta(0):
            raise ValueError("schedule_interval must be more than 0 (or None: never)")
        if self.fetch_threshold is not None and not 0 <= self.fetch_threshold < self.capacity:
            raise ValueError(
                "fetch_threshold must be between 0 and concurrency + prefetch - 1 "
                f"({self.capacity - 1})"
            )

    @property
    def capacity(self) -> int:
        """How many messages the worker holds at most (running or waiting to start)."""
        return self.concurrency + self.prefetch

    @property
    def refill_at(self) -> int:
        """How many messages held at most let the worker receive more."""
        if self.fetch_threshold is not None:
            return self.fetch_threshold
        return self.capacity // 2


def _bands(given: Iterable[Priority | str]) -> frozenset[Priority]:
    return members(Priority, given, "priority band", shown=40)
