"""The stored record of a recurring schedule (:class:`Schedule`) and of one fired slot
(:class:`SlotMarker`): pure values, no I/O.

A schedule fires a job of ``job_type`` with ``request`` at each slot of its ``rule`` (the
rule's canonical text, ``"cron:*/5 * * * *"``, ``"every:PT20M"``, ``"rrule:FREQ=…"``: read
by the rule engine, held here as text). ``next_slot`` is the next slot to fire, computed by
the engine and stored, so that the stores can index the schedules due. Firing a slot
inserts its :class:`SlotMarker`, keyed by the schedule and the slot's instant: a second
insert of the same slot is refused, so each slot starts one job however many processes
fire it.

Every value is checked here, so that every store can key and hold it: the request is JSON
of at most :data:`MAX_SCHEDULE_REQUEST_BYTES` (one Table Storage property: a schedule that
needs more should carry a reference to its data).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    model_validator,
)

from ..clock import utcnow
from ..errors import InvalidInput, PayloadTooLarge
from ..models.fields import JobId, first_problem, plain_text, record_id
from ..models.job import (
    MAX_ATTEMPTS,
    JobType,
    Owner,
    Priority,
    Tag,
    UtcDatetime,
    is_job_id,
    new_job_id,
    owner_shard,
)
from ..models.nesting import check_payload, payload_json
from ..models.presence import check_host
from .rules import MAX_RULE_LENGTH

__all__ = [
    "DEFAULT_CATCH_UP_LIMIT",
    "MAX_CATCH_UP_LIMIT",
    "MAX_NAME_LENGTH",
    "MAX_RULE_LENGTH",
    "MAX_SCHEDULE_REQUEST_BYTES",
    "MAX_TIME_ZONE_LENGTH",
    "CatchUp",
    "Overlap",
    "Schedule",
    "SlotMarker",
    "check_schedule_request",
    "is_schedule_id",
    "new_schedule_id",
]

#: Largest request (compact UTF-8 JSON) a schedule may carry: as UTF-16, as Table Storage
#: keeps text, it fits one property (64 KiB) on every backend.
MAX_SCHEDULE_REQUEST_BYTES: Final = 32 * 1024
MAX_NAME_LENGTH: Final = 200
MAX_TIME_ZONE_LENGTH: Final = 64
#: Most missed slots ``CatchUp.ALL`` runs after an outage.
MAX_CATCH_UP_LIMIT: Final = 1000
DEFAULT_CATCH_UP_LIMIT: Final = 100
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: The form of an IANA time zone name: ``UTC``, ``Europe/Paris``, ``Etc/GMT+5``.
_TIME_ZONE: Final = re.compile(r"^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*$")


class CatchUp(StrEnum):
    """What firing does with the slots missed while nothing fired (an outage, a pause)."""

    #: Skip them: fire the next slot to come.
    SKIP = "skip"
    #: Run the latest missed slot once, then go on.
    ONCE = "once"
    #: Run every missed slot, at most ``catch_up_limit`` of them (the latest).
    ALL = "all"


class Overlap(StrEnum):
    """What firing does when the job of the last slot is still active."""

    #: Start the new job anyway.
    ALLOW = "allow"
    #: Skip the slot while the last job is active.
    SKIP = "skip"
    #: Cancel the last job, then start the new one.
    CANCEL = "cancel"


def new_schedule_id(owner: str, *, now: datetime | None = None) -> str:
    """A new schedule id, of the form of a job id (:func:`~queued_jobs.models.new_job_id`):
    29 hex digits, time-ordered, ending with the owner's shard digit."""
    return new_job_id(owner, now=now)


def is_schedule_id(value: object) -> bool:
    """Whether ``value`` has the form of a schedule id: anything else names no schedule."""
    return is_job_id(value)


def _time_zone(value: str) -> str:
    if not 1 <= len(value) <= MAX_TIME_ZONE_LENGTH or not _TIME_ZONE.match(value):
        raise ValueError(
            f"time zone {value!r:.80} is not an IANA time zone name (such as 'UTC' or "
            f"'Europe/Paris'): 1 to {MAX_TIME_ZONE_LENGTH} letters, digits, '_', '+', '-' "
            "and '/' between parts"
        )
    return value


def _run_time(value: timedelta | None) -> timedelta | None:
    if value is not None and value <= timedelta(0):
        raise ValueError("max_run_time must be longer than zero")
    return value


def _host(value: str) -> str:
    return check_host(value)


def _since_epoch(value: datetime) -> datetime:
    if value < _EPOCH:
        raise ValueError(f"{value.isoformat()} is before 1970: slots are kept from 1970 on")
    return value


def check_schedule_request(request: object) -> bytes:
    """Refuse a request no schedule can carry; returns it as compact JSON.

    ``PayloadTooLarge`` over :data:`MAX_SCHEDULE_REQUEST_BYTES`, ``PayloadTooDeep`` if it
    nests too deep, ``InvalidInput`` if it holds what JSON cannot read back.
    """
    data = payload_json(request, "schedule request")
    if len(data) > MAX_SCHEDULE_REQUEST_BYTES:
        raise PayloadTooLarge("schedule request", len(data), MAX_SCHEDULE_REQUEST_BYTES)
    check_payload(request, "schedule request", encoded=data)
    return data


def _request(value: JsonValue) -> JsonValue:
    if value is not None:
        check_schedule_request(value)
    return value


ScheduleId = Annotated[str, record_id("schedule", "new_schedule_id(owner)")]
ScheduleName = Annotated[str, plain_text("schedule name", MAX_NAME_LENGTH)]
RuleText = Annotated[str, plain_text("rule", MAX_RULE_LENGTH, lines=True)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
HostName = Annotated[str, AfterValidator(_host)]
#: A UTC instant from 1970 on (markers are keyed from the Unix epoch).
Instant = Annotated[UtcDatetime, AfterValidator(_since_epoch)]


def _invalid(exc: ValidationError, what: str) -> InvalidInput:
    """``exc`` as one clear ``InvalidInput``: its first problem and how many more."""
    return InvalidInput(first_problem(exc, what))


class Schedule(BaseModel):
    """A recurring schedule as stored. Immutable: make one with :meth:`new`, change it
    with :meth:`with_changes`, then hand it to the store
    (:class:`~queued_jobs.schedules.store.ScheduleStore`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: ScheduleId
    #: A human name, unique among its owner's schedules (exactly: case and spaces count).
    name: ScheduleName
    owner: Owner
    job_type: JobType
    request: Annotated[JsonValue, AfterValidator(_request)] = None
    #: The rule's canonical text, as the rule engine writes it (a recurrence rule's may
    #: have several lines).
    rule: RuleText
    #: The IANA time zone the rule's times are in (its form is checked here; the rule
    #: engine resolves it).
    time_zone: TimeZone = "UTC"
    catch_up: CatchUp = CatchUp.ONCE
    #: Most missed slots ``CatchUp.ALL`` runs.
    catch_up_limit: int = Field(default=DEFAULT_CATCH_UP_LIMIT, ge=1, le=MAX_CATCH_UP_LIMIT)
    overlap: Overlap = Overlap.ALLOW
    # The options of each job it fires.
    priority: Priority = Priority.NORMAL
    max_attempts: int = Field(default=3, ge=1, le=MAX_ATTEMPTS)
    max_run_time: Annotated[timedelta | None, AfterValidator(_run_time)] = None
    tags: tuple[Tag, ...] = Field(default=(), max_length=32)
    #: A paused schedule fires nothing and is not due, whatever its ``next_slot``.
    paused: bool = False
    #: The next slot to fire (UTC), computed by the rule engine; ``None``: no slot left.
    next_slot: UtcDatetime | None = None
    #: The last slot fired, and the job it started.
    last_slot: UtcDatetime | None = None
    last_job_id: JobId | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    #: The store's version of this record (an ETag on Azure); ``None`` until stored.
    version: str | None = None

    @model_validator(mode="after")
    def _id_belongs_to_owner(self) -> Self:
        if int(self.id[-1], 16) != owner_shard(self.owner):
            raise ValueError(
                "schedule id does not belong to this owner; make ids with new_schedule_id(owner)"
            )
        return self

    @classmethod
    def new(
        cls,
        *,
        owner: str,
        name: str,
        job_type: str,
        rule: str,
        request: JsonValue = None,
        now: datetime | None = None,
        **options: Any,
    ) -> Schedule:
        """A new, not yet stored schedule with a fresh id. ``InvalidInput`` (its subclass
        ``PayloadTooLarge`` for a request over the limit) names what is wrong."""
        moment = now or utcnow()
        if request is not None:
            check_schedule_request(request)
        try:
            schedule_id = new_schedule_id(owner, now=moment)
            return cls(
                id=schedule_id,
                owner=owner,
                name=name,
                job_type=job_type,
                rule=rule,
                request=request,
                created_at=moment,
                updated_at=moment,
                **options,
            )
        except ValidationError as exc:
            raise _invalid(exc, "invalid schedule") from None

    def with_changes(self, *, now: datetime | None = None, **changes: Any) -> Schedule:
        """A validated copy with ``changes`` and ``updated_at`` set to ``now``; keeps its
        version, so the store's update is guarded by it. ``InvalidInput`` names what is
        wrong, ``PayloadTooLarge`` a request over the limit (``model_copy(update=...)``
        would check nothing)."""
        if changes.get("request") is not None:
            check_schedule_request(changes["request"])
        fields = {**self.__dict__, **changes, "updated_at": now or utcnow()}
        try:
            return type(self).model_validate(fields)
        except ValidationError as exc:
            raise _invalid(exc, f"invalid change to schedule {self.id}") from None

    @property
    def due_at(self) -> datetime | None:
        """When the schedule is due (its ``next_slot``), ``None`` if paused or done: what
        the stores index it by."""
        return None if self.paused else self.next_slot

    def is_due(self, now: datetime) -> bool:
        """Whether the schedule is due at ``now``: not paused, its next slot come."""
        return self.due_at is not None and self.due_at <= now


class SlotMarker(BaseModel):
    """One fired slot: stored once per (schedule, slot), so that a slot starts one job."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schedule_id: ScheduleId
    #: The slot's instant (UTC, from 1970 on).
    slot: Instant
    #: The job fired for it.
    job_id: JobId
    fired_at: Instant
    #: The host that fired it (its identity, as presences and leases name it).
    fired_by: HostName

    @classmethod
    def of(
        cls,
        schedule_id: str,
        slot: datetime,
        *,
        job_id: str,
        fired_by: str,
        fired_at: datetime | None = None,
    ) -> SlotMarker:
        """The marker of ``slot``; ``InvalidInput`` names what is wrong."""
        try:
            return cls(
                schedule_id=schedule_id,
                slot=slot,
                job_id=job_id,
                fired_at=fired_at or utcnow(),
                fired_by=fired_by,
            )
        except ValidationError as exc:
            raise _invalid(exc, "invalid slot marker") from None
