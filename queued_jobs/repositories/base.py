"""The :class:`JobRepository` protocol: where job records live.

Adapters (``memory``, ``sqlite``, ``azure_table``) implement these verbs and nothing else;
they know nothing of job rules (which transition is legal, when to retry). The contract
suite in ``tests/contract`` runs the same tests against each of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, Generic, Protocol, TypeVar

from ..errors import InvalidInput
from ..models import Attempt, JobChange, JobStatus, Presence, QueuedJob
from ._limits import check_job
from ._presence import DEFAULT_PRESENCE_LIMIT, MAX_PRESENCE_LIMIT

if TYPE_CHECKING:
    from ..limits.store import LimitStore
    from ..schedules.store import ScheduleStore
    from ..sequences.store import SequenceStore

__all__ = [
    "CHANGE_PAGE_SIZE",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_PRESENCE_LIMIT",
    "MAX_CHECKPOINT_LENGTH",
    "MAX_PAGE_SIZE",
    "MAX_PRESENCE_LIMIT",
    "UNIQUE_KEY_GRACE",
    "ChangeBatch",
    "Checkpoint",
    "JobQuery",
    "JobRepository",
    "Page",
    "check_checkpoint",
    "check_lease",
    "check_lease_name",
    "check_new_jobs",
    "check_page_size",
]

#: Largest request or result (compact JSON, UTF-8) a repository accepts unless told otherwise.
DEFAULT_MAX_PAYLOAD_BYTES: Final = 1024 * 1024
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000
#: Longest checkpoint value a store keeps (characters).
MAX_CHECKPOINT_LENGTH: Final = 30_000
#: Most changes :meth:`JobRepository.read_changes` returns at once.
CHANGE_PAGE_SIZE: Final = 1000
#: A unique-key reservation whose holder job was never stored is taken over after this long
#: (the holder's process died between reserving the key and storing the job).
UNIQUE_KEY_GRACE: Final = timedelta(minutes=5)
_LEASE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_HOLDER_LIMIT: Final = 256

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing. Pass ``continuation`` back to get the next page.

    ``skipped`` names the rows of this page that could not be read back (their job ids,
    known from the row's key even when its document is unreadable): they are left out of
    ``items``, and ``get`` of one raises ``CorruptJobRecord`` saying why (a listing of
    schedules: their schedule ids, and ``CorruptScheduleRecord``).
    """

    items: Sequence[T]
    continuation: str | None = None
    skipped: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A saved place (:meth:`JobRepository.load_checkpoint`) and its version."""

    value: str
    version: str


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """What one :meth:`JobRepository.read_changes` found."""

    #: The changes after the position asked for, in position order.
    changes: Sequence[JobChange]
    #: Every change of the partition at or before this position is in this batch or
    #: before it: none can appear there later. Read again from here (``after=settled``),
    #: remembering the changes seen past it, to miss none and see none twice. ``None``:
    #: nothing is settled yet (read from the start again). A batch cut at the limit is
    #: followed by reading from its last position; the next poll then starts from the
    #: first batch's ``settled`` (the least of them). Memory and SQLite settle every
    #: change they return; Azure only those older than its ``change_lateness``.
    settled: str | None


@dataclass(frozen=True, slots=True)
class JobQuery:
    """Filters for :meth:`JobRepository.list_jobs`. Empty means everything.

    Every combination is served by an index on every backend (``docs/design.md`` says
    what each costs): a page reads about the rows it returns, not the table. With a tag,
    the tag's index serves the listing and the other filters are checked on its jobs (in
    proportion to the tag's jobs, never the table's)."""

    statuses: frozenset[JobStatus] = field(default_factory=frozenset)
    #: One owner's jobs only.
    owner: str | None = None
    job_type: str | None = None
    #: Jobs created at or after this time.
    created_from: datetime | None = None
    #: Jobs created before this time.
    created_before: datetime | None = None
    #: Jobs carrying this tag among theirs.
    tag: str | None = None

    def matches(self, job: QueuedJob) -> bool:
        """Whether ``job`` passes the filters (for adapters that filter in Python)."""
        return (
            (not self.statuses or job.status in self.statuses)
            and (self.owner is None or job.owner == self.owner)
            and (self.job_type is None or job.job_type == self.job_type)
            and (self.created_from is None or job.created_at >= self.created_from)
            and (self.created_before is None or job.created_at < self.created_before)
            and (self.tag is None or self.tag in job.tags)
        )


def check_page_size(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page size must be between 1 and {MAX_PAGE_SIZE}, not {limit}")


def check_lease_name(name: str) -> None:
    """Refuse a lease name that a store could not key."""
    if not isinstance(name, str) or not _LEASE_NAME.match(name):
        raise InvalidInput(
            f"lease name {name!r:.80} is not valid: up to 63 lowercase letters, digits and "
            "hyphens, starting with a letter"
        )


def check_lease(name: str, holder: str) -> None:
    """Refuse a lease name or holder that a store could not key or hold."""
    check_lease_name(name)
    if not isinstance(holder, str) or not 1 <= len(holder) <= _HOLDER_LIMIT:
        raise InvalidInput(f"a lease holder is 1 to {_HOLDER_LIMIT} characters")
    if not holder.isprintable():
        raise InvalidInput("a lease holder is printable text")


def check_checkpoint(name: str, value: str | None = None) -> None:
    """Refuse a checkpoint name (the form of a lease name) or value a store could not
    hold."""
    if not isinstance(name, str) or not _LEASE_NAME.match(name):
        raise InvalidInput(
            f"checkpoint name {name!r:.80} is not valid: up to 63 lowercase letters, digits "
            "and hyphens, starting with a letter"
        )
    if value is not None and (
        not isinstance(value, str) or len(value) > MAX_CHECKPOINT_LENGTH or not value.isascii()
    ):
        raise InvalidInput(
            f"a checkpoint is ASCII text of at most {MAX_CHECKPOINT_LENGTH:,} characters"
        )


def check_new_jobs(jobs: Sequence[QueuedJob], max_payload_bytes: int) -> None:
    """Refuse a batch for :meth:`JobRepository.insert_many` before anything is written.

    Raises ``InvalidInput`` if an id appears twice, ``PayloadTooLarge`` or
    ``PayloadTooDeep`` if a job's payloads are over the limits, ``InvalidJobRecord`` if a
    job would not read back.
    """
    seen: set[str] = set()
    for job in jobs:
        if job.id in seen:
            raise InvalidInput(f"job {job.id} appears more than once in the batch")
        seen.add(job.id)
    for job in jobs:
        check_job(job, max_payload_bytes)


class JobRepository(Protocol):
    """Stores job records, their attempts and unique-key reservations.

    Every method is a coroutine. Listings are newest first (by job id, which orders jobs
    by creation time to the millisecond) and paged with an opaque continuation token.

    Every write goes through the same gate (``PayloadTooLarge``, ``PayloadTooDeep``,
    ``InvalidJobRecord``): what is stored always reads back. A stored row that cannot be
    read anyway (written by something else, damaged) raises ``CorruptJobRecord`` from
    ``get`` and ``list_attempts``; listings skip it and name it in ``Page.skipped``;
    ``delete`` and ``purge`` remove it like any other.
    """

    async def create(self) -> None:
        """Create the tables/containers/schema if missing; does nothing if they exist."""
        ...

    async def insert(self, job: QueuedJob) -> QueuedJob:
        """Store a new job; returns it with ``version`` set.

        Raises ``JobAlreadyExists`` if the id is taken, ``PayloadTooLarge`` or
        ``PayloadTooDeep`` if the request, result or custom data is over the limits, and
        ``InvalidJobRecord`` if the record would not read back.
        """
        ...

    async def insert_many(self, jobs: Sequence[QueuedJob]) -> list[QueuedJob]:
        """Store many new jobs; returns them with versions, in the given order.

        Every job is checked before anything is written; a refused batch stores nothing:
        ``InvalidInput`` if an id appears twice in it, ``PayloadTooLarge`` if a job's
        request, result or custom data is over the limits. ``JobAlreadyExists`` names a job
        of the batch whose id is already stored. An empty batch returns ``[]``. Unique keys
        are not reserved here: the caller reserves them (:meth:`reserve_unique_key`).

        Memory and SQLite store all the jobs or none (SQLite: one transaction). Azure writes
        the jobs of each partition (the owner's shard) in entity-group transactions of at
        most 100 rows (eight a job and one per tag: 12 untagged jobs; fewer if the rows
        are large: a transaction body is kept under 1 MiB), in the given order, submitted
        concurrently, after uploading the large payloads. Each transaction is atomic, but
        the batch is not: when one fails (``JobAlreadyExists``, say), the jobs of the other
        transactions may be stored. The error (with several failures, one of them) is
        raised once every transaction has finished.
        """
        ...

    async def get(self, job_id: str) -> QueuedJob:
        """The stored job; raises ``JobNotFound``, or ``CorruptJobRecord`` if its row
        cannot be read."""
        ...

    async def update(self, job: QueuedJob, *, attempt: Attempt | None = None) -> QueuedJob:
        """Replace the stored job if its version is still ``job.version``.

        Returns the job with its new version. With ``attempt``, that attempt is recorded
        in the same atomic write. Raises ``ConcurrencyConflict`` if the job changed since it
        was read, ``JobNotFound`` if it is gone, and what :meth:`insert` raises for a record
        the gate refuses.

        A job's tags are set when it is stored and never change: no verb of this library
        gives an update other tags, and SQLite and Azure index a job by the tags
        :meth:`insert` stored (an update that changed them would leave the tag listings
        as they were).
        """
        ...

    async def append_attempt(self, attempt: Attempt) -> None:
        """Record an attempt. Idempotent: recording the same number again replaces it."""
        ...

    async def list_attempts(self, job_id: str) -> list[Attempt]:
        """A job's attempts, oldest first."""
        ...

    async def reserve_unique_key(
        self, key: str, job_id: str, *, replacing: str | None = None
    ) -> None:
        """Reserve ``key`` for ``job_id``, atomically.

        ``key`` is the job's :attr:`~queued_jobs.models.QueuedJob.unique_reservation` (its
        unique key, composed with its owner unless the key is global), an opaque string
        here. Reserving a key the same job already holds does nothing. With ``replacing``, a
        reservation held by that job passes to ``job_id``. A reservation whose holder job
        was never stored is taken over after :data:`UNIQUE_KEY_GRACE`. Otherwise raises
        ``DuplicateJob`` naming the holder.
        """
        ...

    async def release_unique_key(self, key: str, job_id: str) -> bool:
        """Free ``key`` if ``job_id`` holds it; returns whether it did."""
        ...

    async def message_key(self) -> bytes:
        """The store's secret for signing the job snapshots queue messages carry.

        32 random bytes, made by the first process that asks and the same for every
        process using the store; read once, then kept by the repository, so every later
        call costs nothing. Whoever can read it can already read and change the records.
        """
        ...

    async def list_by_owner(
        self, owner: str, *, limit: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[QueuedJob]:
        """One owner's jobs, newest first."""
        ...

    async def list_jobs(
        self,
        query: JobQuery | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        """Jobs matching ``query``, newest first: of every owner (operators' view), or of
        ``query.owner`` alone.

        A page holds ``limit`` jobs unless it is the last (``continuation`` is ``None``),
        but for one case: a tag with statuses on Azure, whose pointers do not say the
        status. That listing reads the tag's jobs until ``limit`` match, at most ten pages
        of them per call; a page cut there is short (even empty) and continues after the
        last job read."""
        ...

    async def count_jobs(self, query: JobQuery | None = None, *, at_most: int) -> int:
        """How many jobs match ``query``, counting no further than ``at_most + 1`` (a
        result over ``at_most`` means "more"). Reads the index entries of the listing
        (on Azure their keys alone, a request per 1,000 per shard), never the jobs; but on
        Azure a tag with statuses reads the status of each of the tag's jobs (a point read
        each, in proportion to the tag's jobs) until more than ``at_most`` match."""
        ...

    async def list_due(
        self,
        statuses: frozenset[JobStatus],
        *,
        due_by: datetime,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        """Jobs in ``statuses`` whose due moment (``due_at``: when the sweep or the takeover
        look needs them) is at or before ``due_by``, soonest first, then by id.

        Served by an index written with each job, so a page costs the same however many
        jobs the store holds (on Azure one query per shard). Records stored by a version
        without that index are not in it until their next write: the sweep's occasional
        full pass finds them. ``InvalidInput`` for a foreign continuation token.
        """
        ...

    async def list_unindexed(
        self,
        statuses: frozenset[JobStatus],
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        """Jobs in ``statuses`` that the due index does not hold, newest first: running jobs
        without a lease, and records written by a version without the index (or whose due
        row a foreign writer removed). What the sweep's full pass reads: on Azure the
        status pointers and due rows of each shard, by key (a request per 1,000 rows), and
        then only the jobs not indexed. ``InvalidInput`` for a foreign continuation token.
        """
        ...

    async def take_lease(self, name: str, holder: str, *, now: datetime, until: datetime) -> bool:
        """Take (or renew) the store-wide lease ``name`` for ``holder`` until ``until``.

        Succeeds, atomically, if nobody holds it, if its holder's time ran out by ``now``,
        or if ``holder`` holds it already; returns whether it did. Several processes asking
        at once: one of them gets it. What the lease guards is up to the caller.
        """
        ...

    async def lease_holder(self, name: str, *, now: datetime) -> str | None:
        """Who holds the store-wide lease ``name`` at ``now``: its holder, or ``None`` if
        nobody does (never taken, given back with ``until=now``, or its time ran out by
        ``now``: whoever asks may then take it). One read; ``InvalidInput`` for a name
        :func:`check_lease_name` refuses."""
        ...

    async def delete(self, job_id: str) -> None:
        """Remove a job, its attempts, its payloads and the unique-key reservation it holds
        (its ``unique_reservation``, as its record says it was scoped), and its changes
        (Azure finds them by the times of the job's life, as its record and its row say).

        Deleting a missing job does nothing.
        """
        ...

    async def purge(self, *, completed_before: datetime) -> int:
        """Delete terminal jobs that completed before the cutoff; returns how many."""
        ...

    async def await_change(self, job_id: str, seconds: float) -> None:
        """Wait up to ``seconds``, less if this store sees job ``job_id`` written meanwhile
        (from any process: SQLite on one machine; memory in its process). A store that
        cannot tell (Azure Table) waits the whole time. Never raises for a job that does
        not exist, and costs no storage request."""
        ...

    # --- the change feed ---------------------------------------------------------------
    #
    # Every write that changes what a watcher sees of a job (``models.watched``: its insert,
    # status, progress, cancellation request, attempt count) records a ``JobChange`` in the
    # same atomic write as the job: on Azure a row in the same entity-group transaction (no
    # request of its own). Changes are kept until ``purge_changes`` removes them and are
    # deleted with their job.

    def change_partitions(self, owner: str | None = None) -> tuple[str, ...]:
        """The feed partitions that hold ``owner``'s changes (``None``: every owner's).
        A partition may hold other owners' changes too: filter on ``JobChange.owner``."""
        ...

    async def change_head(self, partition: str) -> str | None:
        """Where a reader starts that wants only changes from now on: every change
        recorded later is after this position (``None``: the partition has none yet).
        Changes shortly before now may be after it too (Azure: within
        ``change_lateness``). ``InvalidInput`` for a partition this store does not have."""
        ...

    async def read_changes(
        self, partition: str, *, after: str | None = None, limit: int = CHANGE_PAGE_SIZE
    ) -> ChangeBatch:
        """The partition's changes after position ``after`` (``None``: from the oldest
        kept), in position order, at most ``limit``. ``InvalidInput`` for a partition this
        store does not have or a position it did not make."""
        ...

    async def purge_changes(self, *, older_than: timedelta) -> int:
        """Delete the changes recorded more than ``older_than`` ago; returns how many.
        Memory and SQLite tell the time of a change by the repository's clock; Azure by
        the wall clock that stamped it (its position)."""
        ...

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        """The checkpoint saved under ``name`` (a feed consumer's place), or ``None``.
        ``InvalidInput`` for a name :func:`check_checkpoint` refuses."""
        ...

    async def save_checkpoint(self, name: str, value: str, *, version: str | None) -> str:
        """Save ``value`` under ``name`` if the stored checkpoint is still at ``version``
        (``None``: if there is none yet); returns the new version. ``ConcurrencyConflict``
        if it moved meanwhile; ``InvalidInput`` for what :func:`check_checkpoint` refuses.
        """
        ...

    # --- hosts' presences ---------------------------------------------------------------
    #
    # One row per host (worker, Functions instance, API server), saved by the host every
    # so often (``execution.presence``); what ``GET /workers`` shows. On Azure the rows
    # live in a partition of their own (``presence``), one per host.

    async def save_presence(self, presence: Presence) -> None:
        """Store ``presence`` as its host's row, replacing any saved before
        (unconditionally: each host writes its own row alone). One write;
        ``InvalidInput`` for what is not a :class:`~queued_jobs.models.Presence`."""
        ...

    async def list_presences(
        self, *, seen_since: datetime, limit: int = DEFAULT_PRESENCE_LIMIT
    ) -> list[Presence]:
        """The hosts seen at or after ``seen_since``, most recently seen first (then by
        host), at most ``limit`` (1 to :data:`MAX_PRESENCE_LIMIT`, else ``InvalidInput``).
        A row that cannot be read is left out. One query (on Azure, of the presence
        partition: a request per 1,000 hosts seen since)."""
        ...

    async def purge_presences(self, *, seen_before: datetime) -> int:
        """Delete the presences last seen before ``seen_before``; returns how many. What
        the sweep's full pass does with those not seen for a day."""
        ...

    # --- schedules ---------------------------------------------------------------------

    @property
    def schedules(self) -> ScheduleStore:
        """The store's schedules and fired slots (``schedules/store.py``), on the same
        file or table; closed with the repository."""
        ...

    # --- sequences ---------------------------------------------------------------------

    @property
    def sequences(self) -> SequenceStore:
        """The store's sequences (``sequences/store.py``), on the same file or table;
        closed with the repository."""
        ...

    # --- limits ------------------------------------------------------------------------

    @property
    def limits(self) -> LimitStore:
        """The store's limits: gates, parked jobs and settings (``limits/store.py``), on
        the same file or table; closed with the repository."""
        ...

    async def close(self) -> None:
        """Release connections. The repository is unusable afterwards."""
        ...
