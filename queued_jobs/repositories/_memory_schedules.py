"""Schedules and slot markers in memory: the ``schedules`` of ``MemoryJobRepository``.

As the durable stores do, a schedule is kept as its JSON document (read back and validated
by every read), under a version counter; its name is a reservation of its owner's
(``(owner, name)`` → id) and its due moment a sorted index of ``(next_slot, id)``. Markers
are kept per schedule by slot; an insert checks and writes with no pause between, so one
of any number of tasks inserting the same slot wins.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from datetime import datetime

from ..errors import (
    ConcurrencyConflict,
    CorruptScheduleRecord,
    DuplicateSchedule,
    InvalidInput,
    ScheduleNotFound,
    SlotAlreadyFired,
)
from ..schedules.model import Schedule, SlotMarker
from ..schedules.store import DEFAULT_PURGE_LIMIT
from ._schedules import (
    check_limit,
    check_listing,
    check_marker,
    check_moment,
    check_purge_limit,
    check_schedule,
    marker_from_json,
    schedule_doc,
    schedule_from_json,
)
from .base import DEFAULT_PAGE_SIZE, Page

__all__ = ["MemoryScheduleStore"]


@dataclass(frozen=True, slots=True)
class _Row:
    owner: str
    name: str
    #: ``(next_slot, id)`` while due-able (not paused, a next slot), else ``None``.
    due: tuple[datetime, str] | None
    version: str
    doc: str


class MemoryScheduleStore:
    """The :class:`~queued_jobs.schedules.store.ScheduleStore` of one memory repository."""

    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}
        self._names: dict[tuple[str, str], str] = {}
        self._due: list[tuple[datetime, str]] = []
        self._markers: dict[str, dict[datetime, str]] = {}
        self._versions = itertools.count(1)

    def _store(self, schedule: Schedule, old: _Row | None) -> Schedule:
        if old is not None:
            del self._names[(old.owner, old.name)]
            if old.due is not None:
                self._due.remove(old.due)
        version = str(next(self._versions))
        due = None if schedule.due_at is None else (schedule.due_at, schedule.id)
        row = _Row(schedule.owner, schedule.name, due, version, schedule_doc(schedule))
        self._rows[schedule.id] = row
        self._names[(row.owner, row.name)] = schedule.id
        if due is not None:
            bisect.insort(self._due, due)
        return schedule.model_copy(update={"version": version})

    def _name_holder(self, schedule: Schedule) -> str | None:
        holder = self._names.get((schedule.owner, schedule.name))
        return None if holder == schedule.id else holder

    async def insert_schedule(self, schedule: Schedule) -> Schedule:
        check_schedule(schedule)
        if schedule.id in self._rows:
            raise DuplicateSchedule(schedule.id)
        if holder := self._name_holder(schedule):
            raise DuplicateSchedule(schedule.id, name=schedule.name, existing_schedule_id=holder)
        return self._store(schedule, None)

    async def get_schedule(self, schedule_id: str) -> Schedule:
        row = self._rows.get(schedule_id) if isinstance(schedule_id, str) else None
        if row is None:
            raise ScheduleNotFound(schedule_id)
        return schedule_from_json(schedule_id, row.doc, row.version)

    async def update_schedule(self, schedule: Schedule) -> Schedule:
        check_schedule(schedule)
        row = self._rows.get(schedule.id)
        if row is None:
            raise ScheduleNotFound(schedule.id)
        if row.owner != schedule.owner:
            raise InvalidInput(f"schedule {schedule.id}: a schedule's owner never changes")
        if schedule.version is None or schedule.version != row.version:
            raise ConcurrencyConflict(schedule.id, kind="schedule")
        if holder := self._name_holder(schedule):
            raise DuplicateSchedule(schedule.id, name=schedule.name, existing_schedule_id=holder)
        return self._store(schedule, row)

    async def delete_schedule(self, schedule_id: str) -> None:
        row = self._rows.pop(schedule_id, None) if isinstance(schedule_id, str) else None
        if row is not None:
            del self._names[(row.owner, row.name)]
            if row.due is not None:
                self._due.remove(row.due)
        self._markers.pop(schedule_id, None)

    async def list_schedules(
        self,
        *,
        owner: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Schedule]:
        owner, after = check_listing(owner, limit, continuation)
        ids = sorted(
            (
                i
                for i, row in self._rows.items()
                if (owner is None or row.owner == owner) and (after is None or i < after)
            ),
            reverse=True,
        )
        items: list[Schedule] = []
        skipped: list[str] = []
        for schedule_id in ids[:limit]:
            row = self._rows[schedule_id]
            try:
                items.append(schedule_from_json(schedule_id, row.doc, row.version))
            except CorruptScheduleRecord:
                skipped.append(schedule_id)
        return Page(items, ids[limit - 1] if len(ids) > limit else None, skipped)

    async def list_due_schedules(
        self, *, now: datetime, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[Schedule]:
        check_moment(now, "now")
        check_limit(limit)
        found: list[Schedule] = []
        for due_at, schedule_id in self._due:
            if due_at > now or len(found) >= limit:
                break
            row = self._rows[schedule_id]
            try:
                found.append(schedule_from_json(schedule_id, row.doc, row.version))
            except CorruptScheduleRecord:
                continue
        return found

    async def insert_slot_marker(self, marker: SlotMarker) -> None:
        check_marker(marker)
        markers = self._markers.setdefault(marker.schedule_id, {})
        existing = markers.get(marker.slot)
        if existing is not None:
            raise SlotAlreadyFired(marker_from_json(marker.schedule_id, existing))
        markers[marker.slot] = marker.model_dump_json()

    async def get_slot_marker(self, schedule_id: str, slot: datetime) -> SlotMarker | None:
        check_moment(slot, "a slot")
        doc = self._markers.get(schedule_id, {}).get(slot)
        return None if doc is None else marker_from_json(schedule_id, doc)

    async def list_slot_markers(
        self, schedule_id: str, *, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[SlotMarker]:
        check_limit(limit)
        markers = self._markers.get(schedule_id, {})
        newest = sorted(markers, reverse=True)[:limit]
        return [marker_from_json(schedule_id, markers[slot]) for slot in newest]

    async def purge_slot_markers(
        self, *, fired_before: datetime, limit: int = DEFAULT_PURGE_LIMIT
    ) -> int:
        check_moment(fired_before, "fired_before")
        check_purge_limit(limit)
        purged = 0
        for schedule_id, markers in list(self._markers.items()):
            for slot, doc in list(markers.items()):
                if purged >= limit:
                    return purged
                if (
                    slot < fired_before
                    and marker_from_json(schedule_id, doc).fired_at < fired_before
                ):
                    del markers[slot]
                    purged += 1
            if not markers:
                del self._markers[schedule_id]
        return purged
