"""How a caller waiting for a job paces its reads: :class:`Backoff`.

Every read of a waiting caller is a billed storage request (on Azure Table, one per read).
Reading at a fixed fast pace costs the most while nothing happens, so a waiter backs off:
it reads soon after it starts (a short job is seen ending at once), then less and less
often while the job stays as it was, up to ``cap``. The pace restarts at ``first`` when the
job's status changes (a queued job starts: it may soon end), and holds, without growing,
while its progress moves (a bar stays live at the rate the job reports).

The pause between two reads is :attr:`Backoff.pause`, given the job's id; by default the
store's own (:meth:`JobRepository.await_change`), which ends early where the store can tell
that the job was written (SQLite and memory do; Azure Table waits the time out). Tests end
it at once and move a manual clock instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from .models import JobStatus, Progress, QueuedJob

__all__ = ["DEFAULT_BACKOFF", "LONGEST", "Backoff", "JobWaiters", "Pacer", "Pause"]

#: Waits up to ``seconds`` for job ``job_id`` to change (it may return sooner).
Pause = Callable[[str, float], Awaitable[None]]


#: The longest pause a backoff may have between two reads.
LONGEST: Final = timedelta(days=1)
_MOST_GROWTH: Final = 100.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """The pace of a waiting caller's reads: ``first`` after the first read, ``factor``
    times more after every read that finds the job as it was, at most ``cap``."""

    first: timedelta = timedelta(milliseconds=150)
    factor: float = 1.5
    cap: timedelta = timedelta(seconds=3)
    #: ``None``: the store's :meth:`~queued_jobs.repositories.JobRepository.await_change`.
    pause: Pause | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.first <= self.cap <= LONGEST:
            raise ValueError(
                f"a backoff needs 0 < first <= cap <= {LONGEST}; "
                f"got first={self.first}, cap={self.cap}"
            )
        if not 1 <= self.factor <= _MOST_GROWTH:
            raise ValueError(
                f"a backoff's factor must be from 1 to {_MOST_GROWTH:g}, not {self.factor}"
            )

    @classmethod
    def fixed(cls, interval: timedelta) -> Backoff:
        """Read every ``interval``, never backing off."""
        return cls(first=interval, factor=1, cap=interval)


#: How :meth:`JobClient.wait` and ``queued-jobs status --wait`` pace their reads.
DEFAULT_BACKOFF: Final = Backoff()


def _progress(job: QueuedJob) -> Progress | None:
    return job.progress


class Pacer:
    """One wait's pace: tell it each read (:meth:`saw`), then pause for :attr:`seconds`.
    The pace holds while ``moving`` (by default the job's progress) changes."""

    def __init__(
        self, backoff: Backoff, *, moving: Callable[[QueuedJob], object] = _progress
    ) -> None:
        self._backoff = backoff
        self._moving = moving
        self.seconds = backoff.first.total_seconds()
        self._seen: tuple[JobStatus, object] | None = None

    def saw(self, job: QueuedJob) -> bool:
        """Note a read of ``job`` and set the next pause; whether the job differs (status
        or what moves) from the read before (the first read always does)."""
        backoff = self._backoff
        seen, self._seen = self._seen, (job.status, self._moving(job))
        if seen is None or seen[0] is not job.status:
            self.seconds = backoff.first.total_seconds()
        elif seen[1] == self._seen[1]:
            self.seconds = min(self.seconds * backoff.factor, backoff.cap.total_seconds())
        return seen != self._seen


class JobWaiters:
    """Callers pausing until a job is written, by job id, in one process: what a store
    that hears of writes (:meth:`JobRepository.await_change`) keeps."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}

    async def pause(self, job_id: str, seconds: float) -> None:
        """Wait up to ``seconds``, less if :meth:`wake` names ``job_id`` meanwhile."""
        waiter = asyncio.get_running_loop().create_future()
        waiting = self._waiting.setdefault(job_id, set())
        waiting.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, seconds)
        finally:
            waiting.discard(waiter)
            if not waiting:
                self._waiting.pop(job_id, None)

    def wake(self, job_ids: Iterable[str] | None = None) -> None:
        """End the pauses of the callers waiting for ``job_ids`` (``None``: of all)."""
        for job_id in list(self._waiting) if job_ids is None else job_ids:
            for waiter in self._waiting.get(job_id, ()):
                if not waiter.done():
                    waiter.set_result(None)
