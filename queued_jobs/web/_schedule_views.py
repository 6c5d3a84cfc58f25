"""Schedules as the API shows them (:class:`~.schemas.ScheduleView`), with their links,
and the slots they will fire and have fired."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from fastapi import Request

from ..errors import UnknownTimeZone
from ..schedules import Schedule, SlotMarker, parse_zone
from ..schedules.client import SlotPreview
from .schemas import ScheduleLinks, ScheduleView, SlotPreviewView, SlotView

__all__ = ["local_instant", "preview_views", "schedule_view", "slot_views"]

_PLACEHOLDER: Final = "0" * 29
_ROUTES: Final = (
    "get_schedule",
    "preview_schedule",
    "list_schedule_slots",
    "pause_schedule",
    "resume_schedule",
    "trigger_schedule",
)


class _Urls:
    """The URLs of a schedule's routes for one request, each route looked up once."""

    def __init__(self, request: Request) -> None:
        self._templates = {
            name: str(request.url_for(name, schedule_id=_PLACEHOLDER)) for name in _ROUTES
        }
        self._job = str(request.url_for("get_job", job_id=_PLACEHOLDER))

    def url(self, name: str, schedule_id: str) -> str:
        return self._templates[name].replace(_PLACEHOLDER, schedule_id)

    def job(self, job_id: str) -> str:
        return self._job.replace(_PLACEHOLDER, job_id)


def _urls(request: Request) -> _Urls:
    urls = getattr(request.state, "schedule_urls", None)
    if not isinstance(urls, _Urls):
        urls = request.state.schedule_urls = _Urls(request)
    return urls


def local_instant(moment: datetime | None, zone_name: str) -> datetime | None:
    """``moment`` in the zone (in UTC if this machine does not know the zone)."""
    if moment is None:
        return None
    try:
        return moment.astimezone(parse_zone(zone_name))
    except UnknownTimeZone:
        return moment.astimezone(UTC)


def schedule_view(request: Request, schedule: Schedule) -> ScheduleView:
    urls = _urls(request)
    run_time = schedule.max_run_time
    return ScheduleView(
        id=schedule.id,
        name=schedule.name,
        owner=schedule.owner,
        type=schedule.job_type,
        request=schedule.request,
        rule=schedule.rule,
        time_zone=schedule.time_zone,
        catch_up=schedule.catch_up,
        catch_up_limit=schedule.catch_up_limit,
        overlap=schedule.overlap,
        priority=schedule.priority,
        max_attempts=schedule.max_attempts,
        max_run_time_seconds=None if run_time is None else run_time.total_seconds(),
        tags=list(schedule.tags),
        paused=schedule.paused,
        next_slot=schedule.next_slot,
        next_slot_local=local_instant(schedule.next_slot, schedule.time_zone),
        last_slot=schedule.last_slot,
        last_job_id=schedule.last_job_id,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
        links=ScheduleLinks(
            self=urls.url("get_schedule", schedule.id),
            preview=urls.url("preview_schedule", schedule.id),
            slots=urls.url("list_schedule_slots", schedule.id),
            pause=urls.url("pause_schedule", schedule.id),
            resume=urls.url("resume_schedule", schedule.id),
            trigger=urls.url("trigger_schedule", schedule.id),
            last_job=None if schedule.last_job_id is None else urls.job(schedule.last_job_id),
        ),
    )


def preview_views(slots: Sequence[SlotPreview]) -> list[SlotPreviewView]:
    return [SlotPreviewView(utc=slot.utc, local=slot.local) for slot in slots]


def slot_views(request: Request, markers: Sequence[SlotMarker]) -> list[SlotView]:
    urls = _urls(request)
    return [
        SlotView(
            slot=marker.slot,
            job_id=marker.job_id,
            fired_at=marker.fired_at,
            fired_by=marker.fired_by,
            job=urls.job(marker.job_id),
        )
        for marker in markers
    ]
