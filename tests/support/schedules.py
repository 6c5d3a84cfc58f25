"""Firing a stored schedule's next slot from a test, as a host's firing pass does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from queued_jobs.app import JobApp, Storage
from queued_jobs.clock import Clock, ManualClock
from queued_jobs.schedules.firing import ScheduleFirer


async def fire_next_slot(
    build: Callable[..., JobApp], storage: Storage, schedule_id: str, *, holder: str
) -> tuple[datetime, str]:
    """Fire the schedule's next slot with a real :class:`ScheduleFirer` whose clock stands at
    that slot (the app ``build(storage, clock=...)`` makes): the slot and its job's id."""
    async with build(storage).client() as reader:
        slot = (await reader.repository.schedules.get_schedule(schedule_id)).next_slot
    assert slot is not None, "the schedule has no slot to come"
    clock: Clock = ManualClock(slot)
    async with build(storage, clock=clock).client() as client:
        report = await ScheduleFirer(client, holder=holder).fire_due()
        assert report.fired >= 1, report
        marker = await client.repository.schedules.get_slot_marker(schedule_id, slot)
    assert marker is not None
    return slot, marker.job_id
