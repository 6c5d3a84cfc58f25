"""The :class:`ScheduleStore` protocol: where schedules and their fired slots live.

A sibling of :class:`~queued_jobs.repositories.base.JobRepository`: each repository
adapter offers one as its ``schedules`` property, on the same store (memory, the SQLite
file, the Azure table), so that the firing loop needs nothing but the repository. Like
the repository, it knows nothing of rules: it keeps records, indexes the due ones, and
refuses a slot fired twice. ``docs/design.md`` draws each backend's layout and what each
verb costs.

Every write goes through the same gate: a record that would not read back (a
``model_copy(update=...)`` that skipped validation) is refused with ``InvalidInput``, a
request over :data:`~queued_jobs.schedules.model.MAX_SCHEDULE_REQUEST_BYTES` with
``PayloadTooLarge``, before anything is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol

from ..repositories.base import DEFAULT_PAGE_SIZE, Page
from .model import Schedule, SlotMarker

__all__ = ["DEFAULT_PURGE_LIMIT", "MAX_PURGE_LIMIT", "ScheduleStore"]

#: Markers one :meth:`ScheduleStore.purge_slot_markers` call deletes unless told otherwise,
#: and at most.
DEFAULT_PURGE_LIMIT: Final = 1000
MAX_PURGE_LIMIT: Final = 10_000


class ScheduleStore(Protocol):
    """Stores schedules, indexes the due ones, and keeps one marker per fired slot.

    Every method is a coroutine. A schedule's ``owner`` never changes; its ``name`` is
    unique among its owner's schedules (compared exactly). Versions are opaque strings
    set by the store (an ETag on Azure); every update is conditional on the one read.
    """

    async def insert_schedule(self, schedule: Schedule) -> Schedule:
        """Store a new schedule; returns it with ``version`` set (the one given is ignored).

        Raises ``DuplicateSchedule`` if its id is taken (``existing_schedule_id`` is
        ``None``) or its owner has a schedule of that name (naming it), and what the gate
        raises.
        """
        ...

    async def get_schedule(self, schedule_id: str) -> Schedule:
        """The stored schedule; raises ``ScheduleNotFound`` (also for what is no schedule
        id), or ``CorruptScheduleRecord`` if its row cannot be read."""
        ...

    async def update_schedule(self, schedule: Schedule) -> Schedule:
        """Replace the stored schedule if its version is still ``schedule.version``;
        returns it with its new version.

        Raises ``ConcurrencyConflict`` if it changed since it was read (or the version is
        not one this store made), ``ScheduleNotFound`` if it is gone, ``DuplicateSchedule``
        for a new name its owner has already, ``InvalidInput`` for a change of owner, and
        what the gate raises. Moving ``next_slot`` or ``paused`` moves it in the due index
        in the same atomic write.
        """
        ...

    async def delete_schedule(self, schedule_id: str) -> None:
        """Remove a schedule, its name and its slot markers. Deleting a missing schedule
        (or one whose delete stopped midway) deletes whatever markers of it are left:
        idempotent. The schedule goes first, so it fires nothing once this begins."""
        ...

    async def list_schedules(
        self,
        *,
        owner: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Schedule]:
        """Schedules newest first (by id): every owner's, or ``owner``'s alone. Pass a
        page's ``continuation`` back for the next; ``Page.skipped`` names the unreadable
        rows left out. ``InvalidInput`` for a bad owner, limit (1 to 1,000) or token."""
        ...

    async def list_due_schedules(
        self, *, now: datetime, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[Schedule]:
        """The schedules not paused whose ``next_slot`` is at or before ``now``, soonest
        first (then by id), at most ``limit`` (1 to 1,000). Served by an index: reads only
        the schedules due, however many are stored. Fire them and update their
        ``next_slot`` to get the next ones. Unreadable rows are left out."""
        ...

    async def insert_slot_marker(self, marker: SlotMarker) -> None:
        """Record that ``marker.slot`` of its schedule fired ``marker.job_id``: atomically,
        once. Raises ``SlotAlreadyFired`` carrying the marker stored first (its
        ``job_id``) if that slot has one already, from any process."""
        ...

    async def get_slot_marker(self, schedule_id: str, slot: datetime) -> SlotMarker | None:
        """The marker of ``slot`` of the schedule (to the microsecond), or ``None``."""
        ...

    async def list_slot_markers(
        self, schedule_id: str, *, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[SlotMarker]:
        """The schedule's markers, newest slot first, at most ``limit`` (1 to 1,000)."""
        ...

    async def purge_slot_markers(
        self, *, fired_before: datetime, limit: int = DEFAULT_PURGE_LIMIT
    ) -> int:
        """Delete up to ``limit`` (1 to :data:`MAX_PURGE_LIMIT`) markers fired before
        ``fired_before`` of slots before it too, of every stored schedule; returns how
        many. Call again while it returns ``limit``.

        For retention: choose a cutoff before any slot that may still fire (a catch-up's
        reach), since a marker gone no longer stops its slot firing again. A marker of a
        slot after the cutoff (fired early by a host whose clock runs ahead) is kept: it
        still guards its slot. Azurite compares ``fired_at`` to the millisecond."""
        ...
