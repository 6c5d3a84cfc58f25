"""In-memory :class:`JobRepository` for unit tests and inline runs. One process only.

Like SQLite, a job is a row: the columns listings filter on and the record as JSON, read
back (and validated) by every read, so that a test on memory meets what the durable
stores would do with the same records.

The change feed is one partition (``"all"``), a list in the order of the writes: each
change's position is a counter, and a read sees every change written before it, so the
last position there is is settled (as on SQLite).
"""

from __future__ import annotations

import bisect
import itertools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import (
    ConcurrencyConflict,
    CorruptJobRecord,
    DuplicateJob,
    JobAlreadyExists,
    JobNotFound,
)
from ..models import (
    TERMINAL_STATUSES,
    Attempt,
    JobChange,
    JobStatus,
    Presence,
    QueuedJob,
    change_of,
)
from ..sequences.model import Sequence as SequenceRecord
from ..waiting import JobWaiters
from ._changes import (
    ALL,
    ONE_PARTITION,
    check_change_limit,
    check_partition,
    parse_sequence,
    sequence_position,
    watched_digest,
)
from ._due import due_at, due_micros, due_token, parse_due_token
from ._limits import check_attempt, check_job
from ._memory_index import JobIndex
from ._memory_limits import MemoryLimitStore
from ._memory_schedules import MemoryScheduleStore
from ._memory_sequences import MemorySequenceStore
from ._presence import (
    DEFAULT_PRESENCE_LIMIT,
    check_presence,
    check_presence_limit,
    check_seen,
    most_recent,
)
from ._records import job_from_json
from ._sequences import sequence_change
from .base import (
    CHANGE_PAGE_SIZE,
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_PAGE_SIZE,
    UNIQUE_KEY_GRACE,
    ChangeBatch,
    Checkpoint,
    JobQuery,
    Page,
    check_checkpoint,
    check_lease,
    check_lease_name,
    check_new_jobs,
    check_page_size,
)

__all__ = ["MemoryJobRepository"]


@dataclass(frozen=True, slots=True)
class _Row:
    """A stored job: the columns listings filter and sort on, and its document."""

    owner: str
    job_type: str
    status: JobStatus
    created_at: datetime
    completed_at: datetime | None
    #: The unique-key reservation the job holds (:attr:`QueuedJob.unique_reservation`).
    reservation: str | None
    version: str
    doc: str
    #: The job's due moment in microseconds (``due_at``); ``None``: not due, or stored
    #: without the due index.
    due: int | None = None
    #: The digest of what a watcher sees of it (``_changes.watched_digest``); ``None``:
    #: unknown (a planted row), so its next write records a change.
    watched: str | None = None
    tags: tuple[str, ...] = ()

    def matches(self, query: JobQuery) -> bool:
        return (
            (not query.statuses or self.status in query.statuses)
            and (query.owner is None or self.owner == query.owner)
            and (query.job_type is None or self.job_type == query.job_type)
            and (query.created_from is None or self.created_at >= query.created_from)
            and (query.created_before is None or self.created_at < query.created_before)
            and (query.tag is None or query.tag in self.tags)
        )


@dataclass(frozen=True, slots=True)
class _Change:
    """A recorded change: its number in the feed, when it was recorded (by the clock)."""

    number: int
    recorded_at: datetime
    change: JobChange


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
        self._rows: dict[str, _Row] = {}
        self._index = JobIndex()
        self._waiters = JobWaiters()
        self._attempts: dict[str, dict[int, Attempt]] = {}
        self._unique: dict[str, _Reservation] = {}
        self._leases: dict[str, tuple[str, datetime]] = {}
        self._versions = itertools.count(1)
        self._message_key = secrets.token_bytes(32)
        self._changes: list[_Change] = []
        self._checkpoints: dict[str, Checkpoint] = {}
        self._presences: dict[str, Presence] = {}
        self._change_numbers = itertools.count(1)
        self._schedules = MemoryScheduleStore()
        self._sequences = MemorySequenceStore(self._record_sequence)
        self._limits = MemoryLimitStore()

    @property
    def schedules(self) -> MemoryScheduleStore:
        """Schedules and slot markers (``_memory_schedules.py``)."""
        return self._schedules

    @property
    def sequences(self) -> MemorySequenceStore:
        """Sequences (``_memory_sequences.py``)."""
        return self._sequences

    @property
    def limits(self) -> MemoryLimitStore:
        """Limits' gates and settings (``_memory_limits.py``)."""
        return self._limits

    def _record_sequence(self, sequence: SequenceRecord) -> None:
        """Record the change that a write of ``sequence`` makes, in the feed."""
        number = next(self._change_numbers)
        change = sequence_change(sequence, position=sequence_position(number))
        self._changes.append(_Change(number, self._clock.now(), change))

    def _put(self, job_id: str, row: _Row) -> None:
        """Store ``row`` as job ``job_id``'s, indexed (what tests plant rows with)."""
        self._drop(job_id)
        self._rows[job_id] = row
        self._index.add(job_id, row.owner, row.status, row.job_type, row.tags)

    def _drop(self, job_id: str) -> _Row | None:
        row = self._rows.pop(job_id, None)
        if row is not None:
            self._index.remove(job_id, row.owner, row.status, row.job_type, row.tags)
        return row

    def _stamp(self, job: QueuedJob) -> QueuedJob:
        """Store ``job`` with a new version, recording a change if a watcher sees one."""
        version = str(next(self._versions))
        due = due_at(job)
        digest = watched_digest(job)
        stored = self._rows.get(job.id)
        if stored is None or stored.watched != digest:
            number = next(self._change_numbers)
            change = change_of(job, partition=ALL, position=sequence_position(number))
            self._changes.append(_Change(number, self._clock.now(), change))
        self._put(
            job.id,
            _Row(
                job.owner,
                job.job_type,
                job.status,
                job.created_at,
                job.completed_at,
                job.unique_reservation,
                version,
                job.model_dump_json(exclude={"version"}),
                None if due is None else due_micros(due),
                digest,
                job.tags,
            ),
        )
        return job.model_copy(update={"version": version})

    def _read(self, job_id: str, row: _Row) -> QueuedJob:
        return job_from_json(job_id, row.doc, row.version)

    async def create(self) -> None:
        return None

    async def insert(self, job: QueuedJob) -> QueuedJob:
        [stored] = await self.insert_many([job])
        return stored

    async def insert_many(self, jobs: Sequence[QueuedJob]) -> list[QueuedJob]:
        check_new_jobs(jobs, self._max_payload_bytes)
        for job in jobs:
            if job.id in self._rows:
                raise JobAlreadyExists(job.id)
        return [self._stamp(job) for job in jobs]

    async def get(self, job_id: str) -> QueuedJob:
        try:
            row = self._rows[job_id]
        except KeyError:
            raise JobNotFound(job_id) from None
        return self._read(job_id, row)

    async def update(self, job: QueuedJob, *, attempt: Attempt | None = None) -> QueuedJob:
        check_job(job, self._max_payload_bytes)
        if attempt is not None:
            check_attempt(attempt)
        current = self._rows.get(job.id)
        if current is None:
            raise JobNotFound(job.id)
        if job.version is None or current.version != job.version:
            raise ConcurrencyConflict(job.id)
        if attempt is not None:
            await self.append_attempt(attempt)
        stamped = self._stamp(job)
        self._waiters.wake([job.id])
        return stamped

    async def await_change(self, job_id: str, seconds: float) -> None:
        await self._waiters.pause(job_id, seconds)

    async def append_attempt(self, attempt: Attempt) -> None:
        check_attempt(attempt)
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
            or (held.job_id not in self._rows and now - held.reserved_at >= UNIQUE_KEY_GRACE)
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

    def _page(self, ids: list[str], limit: int, continuation: str | None) -> Page[QueuedJob]:
        check_page_size(limit)
        ids.sort(reverse=True)
        if continuation is not None:
            ids = [i for i in ids if i < continuation]
        items: list[QueuedJob] = []
        skipped: list[str] = []
        for job_id in ids[:limit]:
            try:
                items.append(self._read(job_id, self._rows[job_id]))
            except CorruptJobRecord:
                skipped.append(job_id)
        more = len(ids) > limit
        return Page(items, ids[limit - 1] if more else None, skipped)

    async def message_key(self) -> bytes:
        return self._message_key

    async def list_by_owner(
        self, owner: str, *, limit: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[QueuedJob]:
        return await self.list_jobs(JobQuery(owner=owner), limit=limit, continuation=continuation)

    async def list_jobs(
        self,
        query: JobQuery | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        query = query or JobQuery()
        named = self._index.candidates(query)
        ids = [i for i in (self._rows if named is None else named) if self._rows[i].matches(query)]
        return self._page(ids, limit, continuation)

    async def list_due(
        self,
        statuses: frozenset[JobStatus],
        *,
        due_by: datetime,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        check_page_size(limit)
        after = (-1, "") if continuation is None else parse_due_token(continuation)
        bound = due_micros(due_by)
        due = sorted(
            (row.due, job_id)
            for job_id, row in self._rows.items()
            if row.due is not None
            and row.status in statuses
            and after < (row.due, job_id)
            and row.due <= bound
        )
        items: list[QueuedJob] = []
        skipped: list[str] = []
        for _, job_id in due[:limit]:
            try:
                items.append(self._read(job_id, self._rows[job_id]))
            except CorruptJobRecord:
                skipped.append(job_id)
        more = len(due) > limit
        return Page(items, due_token(*due[limit - 1]) if more else None, skipped)

    async def list_unindexed(
        self,
        statuses: frozenset[JobStatus],
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        named = self._index.candidates(JobQuery(statuses=statuses)) or ()  # none: no status
        ids = [i for i in named if self._rows[i].due is None]
        return self._page(ids, limit, continuation)

    async def take_lease(self, name: str, holder: str, *, now: datetime, until: datetime) -> bool:
        check_lease(name, holder)
        held = self._leases.get(name)
        if held is not None and held[0] != holder and held[1] > now:
            return False
        self._leases[name] = (holder, until)
        return True

    async def lease_holder(self, name: str, *, now: datetime) -> str | None:
        check_lease_name(name)
        held = self._leases.get(name)
        return held[0] if held is not None and held[1] > now else None

    async def delete(self, job_id: str) -> None:
        await self._delete(job_id)
        self._forget_changes({job_id})

    async def _delete(self, job_id: str) -> None:
        """Remove the job, its attempts and its reservation (not its changes)."""
        row = self._drop(job_id)
        self._attempts.pop(job_id, None)
        self._waiters.wake([job_id])
        if row is not None and row.reservation is not None:
            await self.release_unique_key(row.reservation, job_id)

    def _forget_changes(self, job_ids: set[str]) -> None:
        self._changes = [c for c in self._changes if c.change.job_id not in job_ids]

    async def purge(self, *, completed_before: datetime) -> int:
        doomed = [
            job_id
            for job_id, row in self._rows.items()
            if row.status in TERMINAL_STATUSES
            and row.completed_at is not None
            and row.completed_at < completed_before
        ]
        for job_id in doomed:
            await self._delete(job_id)
        self._forget_changes(set(doomed))
        return len(doomed)

    # --- the change feed ---------------------------------------------------------------

    def change_partitions(self, owner: str | None = None) -> tuple[str, ...]:
        return ONE_PARTITION

    async def change_head(self, partition: str) -> str | None:
        check_partition(partition, ONE_PARTITION)
        return self._changes[-1].change.position if self._changes else None

    async def read_changes(
        self, partition: str, *, after: str | None = None, limit: int = CHANGE_PAGE_SIZE
    ) -> ChangeBatch:
        check_partition(partition, ONE_PARTITION)
        check_change_limit(limit)
        start = 0
        if after is not None:
            start = bisect.bisect_right(self._changes, parse_sequence(after), key=_number)
        batch = [c.change for c in self._changes[start : start + limit]]
        # Every change written so far is here: the last one read (or ``after``) is settled.
        return ChangeBatch(batch, batch[-1].position if batch else after)

    async def purge_changes(self, *, older_than: timedelta) -> int:
        cutoff = self._clock.now() - older_than
        kept = [c for c in self._changes if c.recorded_at >= cutoff]
        purged = len(self._changes) - len(kept)
        self._changes = kept
        return purged

    async def count_jobs(self, query: JobQuery | None = None, *, at_most: int) -> int:
        chosen = query or JobQuery()
        named = self._index.candidates(chosen)
        found = 0
        for job_id in self._rows if named is None else named:
            if self._rows[job_id].matches(chosen):
                found += 1
                if found > at_most:
                    break
        return found

    # --- checkpoints -------------------------------------------------------------------

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        check_checkpoint(name)
        return self._checkpoints.get(name)

    async def save_checkpoint(self, name: str, value: str, *, version: str | None) -> str:
        check_checkpoint(name, value)
        held = self._checkpoints.get(name)
        if (held.version if held else None) != version:
            raise ConcurrencyConflict(f"checkpoint {name}")
        saved = Checkpoint(value, str(next(self._versions)))
        self._checkpoints[name] = saved
        return saved.version

    # --- hosts' presences -------------------------------------------------------------

    async def save_presence(self, presence: Presence) -> None:
        check_presence(presence)
        self._presences[presence.host] = presence

    async def list_presences(
        self, *, seen_since: datetime, limit: int = DEFAULT_PRESENCE_LIMIT
    ) -> list[Presence]:
        check_presence_limit(limit)
        check_seen(seen_since, "seen_since")
        return most_recent(self._presences.values(), seen_since=seen_since, limit=limit)

    async def purge_presences(self, *, seen_before: datetime) -> int:
        check_seen(seen_before, "seen_before")
        doomed = [host for host, p in self._presences.items() if p.seen_at < seen_before]
        for host in doomed:
            del self._presences[host]
        return len(doomed)

    async def close(self) -> None:
        self._waiters.wake()


def _number(change: _Change) -> int:
    return change.number
