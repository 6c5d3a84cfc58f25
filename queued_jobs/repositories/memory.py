"""In-memory :class:`JobRepository` for unit tests and inline runs. One process only."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConcurrencyConflict, DuplicateJob, JobAlreadyExists, JobNotFound
from ..models import TERMINAL_STATUSES, Attempt, QueuedJob
from ._limits import check_payloads
from .base import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_PAGE_SIZE,
    UNIQUE_KEY_GRACE,
    JobQuery,
    Page,
    check_new_jobs,
    check_page_size,
)

__all__ = ["MemoryJobRepository"]


@dataclass(frozen=True, slots=True)
class _Reservation:
    job_id: str
    reserved_at: datetime


class MemoryJobRepository:
    """Keeps jobs in dictionaries. Same behaviour as the durable adapters, no durability."""

    def __init__(
        self, *, clock: Clock = SYSTEM_CLOCK, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    ) -> None:
        self._clock = clock
        self._max_payload_bytes = max_payload_bytes
        self._jobs: dict[str, QueuedJob] = {}
        self._attempts: dict[str, dict[int, Attempt]] = {}
        self._unique: dict[str, _Reservation] = {}
        self._versions = itertools.count(1)

    def _stamp(self, job: QueuedJob) -> QueuedJob:
        stored = job.model_copy(update={"version": str(next(self._versions))})
        self._jobs[job.id] = stored
        return stored

    async def create(self) -> None:
        return None

    async def insert(self, job: QueuedJob) -> QueuedJob:
        [stored] = await self.insert_many([job])
        return stored

    async def insert_many(self, jobs: Sequence[QueuedJob]) -> list[QueuedJob]:
        check_new_jobs(jobs, self._max_payload_bytes)
        for job in jobs:
            if job.id in self._jobs:
                raise JobAlreadyExists(job.id)
        return [self._stamp(job) for job in jobs]

    async def get(self, job_id: str) -> QueuedJob:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobNotFound(job_id) from None

    async def update(self, job: QueuedJob, *, attempt: Attempt | None = None) -> QueuedJob:
        check_payloads(job, self._max_payload_bytes)
        current = await self.get(job.id)
        if job.version is None or current.version != job.version:
            raise ConcurrencyConflict(job.id)
        if attempt is not None:
            await self.append_attempt(attempt)
        return self._stamp(job)

    async def append_attempt(self, attempt: Attempt) -> None:
        self._attempts.setdefault(attempt.job_id, {})[attempt.number] = attempt

    async def list_attempts(self, job_id: str) -> list[Attempt]:
        attempts = self._attempts.get(job_id, {})
        return [attempts[n] for n in sorted(attempts)]

    async def reserve_unique_key(
        self, key: str, job_id: str, *, replacing: str | None = None
    ) -> None:
        now = self._clock.now()
        held = self._unique.get(key)
        if (
            held is None
            or held.job_id in (job_id, replacing)
            or (held.job_id not in self._jobs and now - held.reserved_at >= UNIQUE_KEY_GRACE)
        ):
            self._unique[key] = _Reservation(job_id, now)
            return
        raise DuplicateJob(key, held.job_id)

    async def release_unique_key(self, key: str, job_id: str) -> bool:
        held = self._unique.get(key)
        if held is None or held.job_id != job_id:
            return False
        del self._unique[key]
        return True

    def _page(self, jobs: list[QueuedJob], limit: int, continuation: str | None) -> Page[QueuedJob]:
        check_page_size(limit)
        jobs.sort(key=lambda j: j.id, reverse=True)
        if continuation is not None:
            jobs = [j for j in jobs if j.id < continuation]
        items = jobs[:limit]
        more = len(jobs) > limit
        return Page(items, items[-1].id if more else None)

    async def list_by_owner(
        self, owner: str, *, limit: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[QueuedJob]:
        return self._page([j for j in self._jobs.values() if j.owner == owner], limit, continuation)

    async def list_jobs(
        self,
        query: JobQuery | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        query = query or JobQuery()
        return self._page([j for j in self._jobs.values() if query.matches(j)], limit, continuation)

    async def delete(self, job_id: str) -> None:
        job = self._jobs.pop(job_id, None)
        self._attempts.pop(job_id, None)
        if job is not None and job.unique_key is not None:
            await self.release_unique_key(job.unique_key, job_id)

    async def purge(self, *, completed_before: datetime) -> int:
        doomed = [
            j.id
            for j in self._jobs.values()
            if j.status in TERMINAL_STATUSES
            and j.completed_at is not None
            and j.completed_at < completed_before
        ]
        for job_id in doomed:
            await self.delete(job_id)
        return len(doomed)

    async def close(self) -> None:
        return None
