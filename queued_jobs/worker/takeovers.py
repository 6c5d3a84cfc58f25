"""The standalone worker's takeover loop: jobs whose lease expired, taken over ahead of the
backlog (see :mod:`queued_jobs.execution.takeover` for the listing and its cost)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Coroutine
from datetime import timedelta
from typing import Any

from ..errors import QueuedJobsError
from ..execution.isolation import Isolation
from ..execution.pipeline import Pipeline
from ..execution.takeover import expired_leases
from ..models import QueuedJob
from ..telemetry.logs import library_logger

__all__ = ["Takeovers"]

log = library_logger("queued_jobs.worker")
Start = Callable[[Coroutine[Any, Any, None]], None]


class Takeovers:
    """Every ``interval`` in which the worker started a message (:meth:`saw_work`), list
    the jobs of ``queues`` running under an expired lease and take up to ``limit`` of them
    over at once, each as a suspect (it runs alone under ``isolation``). An idle worker
    does not look: its queues are empty, so a dead worker's message reaches it as soon as
    the lease ends."""

    def __init__(
        self,
        pipeline: Pipeline,
        queues: Collection[str],
        *,
        interval: timedelta,
        limit: int,
        isolation: Isolation,
        halt: asyncio.Event,
        start: Start,
    ) -> None:
        self._pipeline = pipeline
        self._queues = frozenset(queues)
        self._interval = interval.total_seconds()
        self._limit = limit
        self._isolation = isolation
        self._halt = halt
        self._start = start
        self._busy = False
        #: Ids of the jobs being taken over from a scan.
        self._taking_over: set[str] = set()

    def saw_work(self) -> None:
        """The worker started a message: the next scan is worth its requests."""
        self._busy = True

    async def forever(self, stopping: asyncio.Event) -> None:
        """Scan every ``interval`` until ``stopping``; a scan that fails is logged, and the
        next one tries again (the messages and the sweep still recover the jobs)."""
        while not stopping.is_set():
            await asyncio.sleep(self._interval)
            if stopping.is_set():
                return
            try:
                await self.look()
            except Exception:
                log.exception("worker %s: the look for expired leases failed", self._pipeline.host)

    async def look(self) -> list[str] | None:
        """One scan, if the worker started a message since the last one and has room for
        more takeovers: the ids of the jobs it starts taking over (``None``: no scan)."""
        room = self._limit - len(self._taking_over)
        if not self._busy or room <= 0:
            return None
        self._busy = False
        jobs = await self._expired(room)
        for job in jobs:
            self._take(job)
        return [job.id for job in jobs]

    async def _expired(self, room: int) -> list[QueuedJob]:
        identity = self._pipeline.host
        try:
            jobs = await expired_leases(
                self._pipeline.repository,
                now=self._pipeline.clock.now(),
                queues=self._queues,
                limit=room,
                skip=self._taking_over,
            )
        except QueuedJobsError as exc:
            log.warning("worker %s: could not look for expired leases: %s", identity, exc)
            return []
        return [job for job in jobs if job.lease_owner != identity]

    def _take(self, job: QueuedJob) -> None:
        log.info(
            "worker %s: taking over job %s (the lease of %s expired at %s)",
            self._pipeline.host,
            job.id,
            job.lease_owner,
            job.lease_expires_at,
        )
        self._taking_over.add(job.id)
        self._start(self._take_over(job))

    async def _take_over(self, job: QueuedJob) -> None:
        identity = self._pipeline.host
        try:
            handled = await self._pipeline.handle_job(
                job.id, job, halt=self._halt, isolation=self._isolation
            )
            log.info("worker %s: job %s taken over: %s", identity, job.id, handled.reason)
        except Exception:  # its message comes back anyway
            log.exception("worker %s: could not take over job %s", identity, job.id)
        finally:
            self._taking_over.discard(job.id)
