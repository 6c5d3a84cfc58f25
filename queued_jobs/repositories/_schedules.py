"""What every store does alike with schedules and slot markers
(:class:`~queued_jobs.schedules.store.ScheduleStore`): the gate before a write, the checks
of a listing's arguments, and reading a stored document back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from ..errors import CorruptScheduleRecord, InvalidInput
from ..models import check_owner
from ..schedules.model import Schedule, SlotMarker, check_schedule_request, is_schedule_id
from ..schedules.store import MAX_PURGE_LIMIT
from ._records import problems
from .base import check_page_size

__all__ = [
    "check_continuation",
    "check_limit",
    "check_marker",
    "check_moment",
    "check_purge_limit",
    "check_schedule",
    "listing_owner",
    "marker_from_json",
    "schedule_doc",
    "schedule_from_json",
]

_SCHEDULE: Final = Schedule.__pydantic_validator__
_MARKER: Final = SlotMarker.__pydantic_validator__


def check_schedule(schedule: object) -> Schedule:
    """``schedule`` if a store may write it: ``PayloadTooLarge``/``PayloadTooDeep`` for its
    request, ``InvalidInput`` if the record would not read back."""
    if not isinstance(schedule, Schedule):
        raise InvalidInput(f"a schedule is a Schedule, not {type(schedule).__name__}")
    if schedule.request is not None:
        check_schedule_request(schedule.request)
    fields: dict[str, Any] = {**schedule.__dict__, "request": None, "version": None}
    try:
        _SCHEDULE.validate_python(fields)
    except ValidationError as exc:
        raise InvalidInput(
            f"schedule {schedule.id!r:.80} was not stored: its record would not read back: "
            f"{problems(exc)}"
        ) from None
    return schedule


def check_marker(marker: object) -> SlotMarker:
    """``marker`` if a store may write it; ``InvalidInput`` if it would not read back."""
    if not isinstance(marker, SlotMarker):
        raise InvalidInput(f"a slot marker is a SlotMarker, not {type(marker).__name__}")
    try:
        _MARKER.validate_python(marker.__dict__)
    except ValidationError as exc:
        raise InvalidInput(f"the slot marker was not stored: {problems(exc)}") from None
    return marker


def check_limit(limit: object) -> int:
    """A listing's page size: 1 to 1,000."""
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise InvalidInput(f"a page size is an integer, not {type(limit).__name__}")
    check_page_size(limit)
    return limit


def check_purge_limit(limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PURGE_LIMIT:
        raise InvalidInput(f"a purge's limit is 1 to {MAX_PURGE_LIMIT:,}, not {limit!r:.40}")
    return limit


def check_moment(moment: object, what: str) -> datetime:
    """``moment`` if it is a timezone-aware datetime."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InvalidInput(f"{what} is a timezone-aware datetime")
    return moment


def listing_owner(owner: str | None) -> str | None:
    """The owner a listing asks for, refused (``InvalidInput``) if no schedule can have it."""
    return None if owner is None else check_owner(owner)


def check_continuation(token: str | None) -> str | None:
    """The schedule id a listing's continuation token names (it is one)."""
    if token is not None and not is_schedule_id(token):
        raise InvalidInput(f"{token!r:.80} is not a continuation token of a schedule listing")
    return token


def check_listing(
    owner: str | None, limit: object, continuation: str | None
) -> tuple[str | None, str | None]:
    """A schedule listing's owner (checked) and the id it continues after; refuses a bad
    limit or continuation."""
    checked = listing_owner(owner)
    check_limit(limit)
    return checked, check_continuation(continuation)


def schedule_doc(schedule: Schedule) -> str:
    """The record as stored: compact JSON without its version (the store's own)."""
    return schedule.model_dump_json(exclude={"version"})


def schedule_from_json(schedule_id: str, doc: object, version: str) -> Schedule:
    """The schedule stored as ``doc``; ``CorruptScheduleRecord`` naming ``schedule_id``."""
    if not isinstance(doc, str | bytes) or not doc:
        raise CorruptScheduleRecord(schedule_id, "its document is missing")
    try:
        schedule = Schedule.model_validate_json(doc)
    except ValidationError as exc:
        raise CorruptScheduleRecord(schedule_id, problems(exc)) from None
    if schedule.id != schedule_id:
        raise CorruptScheduleRecord(schedule_id, f"its document is the record of {schedule.id}")
    return schedule.model_copy(update={"version": version})


def marker_from_json(schedule_id: str, doc: object) -> SlotMarker:
    """The slot marker stored as ``doc``; ``CorruptScheduleRecord`` naming its schedule."""
    if not isinstance(doc, str | bytes) or not doc:
        raise CorruptScheduleRecord(schedule_id, "a slot marker's document is missing")
    try:
        return SlotMarker.model_validate_json(doc)
    except ValidationError as exc:
        reason = f"a slot marker cannot be read: {problems(exc)}"
        raise CorruptScheduleRecord(schedule_id, reason) from None
