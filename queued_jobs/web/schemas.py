"""The API's bodies: what clients send and what they get back (the OpenAPI document is
made from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from ..dead_letters import SideQueue
from ..models import MAX_ATTEMPTS, AttemptOutcome, JobStatus, Priority, UniqueScope
from ..models.job import UtcDatetime
from ..models.waiting import WaitKind
from ..schedules.model import (
    MAX_CATCH_UP_LIMIT,
    MAX_NAME_LENGTH,
    MAX_RULE_LENGTH,
    MAX_TIME_ZONE_LENGTH,
    CatchUp,
    Overlap,
)
from .auth.principal import Role

__all__ = [
    "AttemptView",
    "BulkAction",
    "BulkResult",
    "DeadLetterCount",
    "DeadLetterList",
    "DeadLetterView",
    "DurableLinks",
    "ErrorBody",
    "ErrorView",
    "FieldError",
    "Health",
    "HistoryItem",
    "HistoryStatus",
    "JobCreate",
    "JobLinks",
    "JobPage",
    "JobView",
    "Me",
    "OutputView",
    "ProgressView",
    "PurgeRequest",
    "PurgeResult",
    "RuntimeStatus",
    "ScheduleChange",
    "ScheduleCreate",
    "ScheduleLinks",
    "SchedulePage",
    "SchedulePreview",
    "ScheduleView",
    "SlotPreviewView",
    "SlotView",
    "WaitingView",
]

#: Durable Functions' names for the statuses, for clients written against its HTTP API.
RuntimeStatus = Literal["Pending", "Running", "Completed", "Failed", "Terminated"]
_TEN_YEARS = 10 * 366 * 24 * 3600
_Tag = Annotated[str, Field(min_length=1, max_length=64)]


class JobCreate(BaseModel):
    """A job to start."""

    model_config = ConfigDict(extra="forbid")

    type: Annotated[str, Field(min_length=1, max_length=256, description="A job type's name.")]
    request: JsonValue = Field(default=None, description="Validated against the type's request.")
    owner: Annotated[
        str | None,
        Field(
            max_length=256,
            description="Operators only: whose job it is. Everyone else's jobs are their own.",
        ),
    ] = None
    priority: Priority = Priority.NORMAL
    delay_seconds: Annotated[float | None, Field(ge=0, le=_TEN_YEARS)] = None
    run_at: UtcDatetime | None = None
    max_attempts: Annotated[int | None, Field(ge=1, le=MAX_ATTEMPTS)] = None
    max_run_time_seconds: Annotated[float | None, Field(gt=0, le=_TEN_YEARS)] = None
    unique_key: Annotated[str | None, Field(min_length=1, max_length=512)] = None
    unique_scope: Annotated[
        UniqueScope, Field(description="`global` (across owners) is for operators only.")
    ] = UniqueScope.OWNER
    correlation_id: Annotated[str | None, Field(min_length=1, max_length=256)] = None
    tags: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=32)
    ] = []
    custom_data: dict[str, JsonValue] = {}


class ProgressView(BaseModel):
    percent: float
    message: str | None = None


class WaitingView(BaseModel):
    """Why a queued job has not started: the limit that holds it back."""

    limit: str
    key: str
    kind: WaitKind
    #: In words: "2 of 2 running (at most 2 at once)", "... used; its turn at ...".
    reason: str
    since: datetime
    #: A rate's turn; for a parked job, when it is looked at again if nothing woke it.
    until: datetime
    #: How many times it found the limit full since it last ran.
    checks: int


class ErrorView(BaseModel):
    type: str
    message: str
    #: Shown to operators and readers only.
    traceback: str | None = None


class JobLinks(BaseModel):
    self: str
    attempts: str
    cancel: str
    retry: str
    events: str
    #: What the job printed (``GET /jobs/{id}/output``).
    output: str


class DurableLinks(BaseModel):
    """The links Durable Functions' HTTP status API gives, under its names."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    statusQueryGetUri: str  # noqa: N815 (Durable's names)
    terminatePostUri: str  # noqa: N815
    purgeHistoryDeleteUri: str  # noqa: N815


class JobView(BaseModel):
    id: str
    owner: str
    type: str
    status: JobStatus
    runtimeStatus: RuntimeStatus  # noqa: N815 (Durable's name)
    queue: str
    priority: Priority
    progress: ProgressView | None
    request: JsonValue
    result: JsonValue
    error: ErrorView | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    run_at: datetime | None
    attempts: int
    max_attempts: int
    cancel_requested: bool
    unique_key: str | None
    correlation_id: str | None
    #: The W3C trace id of the job's spans (its attempts are in the trace of the request
    #: that queued it): Application Insights' ``operation_Id``. ``null``: nothing traced it.
    trace_id: str | None = None
    tags: list[str]
    custom_data: dict[str, JsonValue]
    #: How many characters the job has printed (``null``: none); the text is at
    #: ``links.output``, never in a job's view.
    output_length: int | None
    #: The limit a queued job waits on (``null``: none holds it back).
    waiting: WaitingView | None = None
    #: The same in one line, for people.
    waiting_text: str | None = None
    links: JobLinks
    durable: DurableLinks


class OutputView(BaseModel):
    """What a job printed after the ``after`` characters asked for."""

    job_id: str
    status: JobStatus
    #: What was printed after ``after`` characters that the record still holds: the end
    #: of it (the record keeps the last 8,000 characters), as plain text.
    text: str
    #: How many characters the job has printed in all: the ``after`` of the next read.
    length: int
    #: How many characters printed after ``after``, before ``text``, the record no longer
    #: holds.
    skipped: int
    #: The job has finished: nothing more will be printed.
    complete: bool


class JobPage(BaseModel):
    items: list[JobView]
    #: Pass as ``cursor`` for the next page; ``null``: this is the last.
    next_cursor: str | None
    next: str | None
    #: Jobs of this page whose stored rows could not be read (``GET /jobs/{id}`` says why).
    skipped: list[str]


class AttemptView(BaseModel):
    number: int
    started_at: datetime
    ended_at: datetime | None
    outcome: AttemptOutcome
    error: ErrorView | None
    host: str


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[FieldError] | None = None
    existing_job_id: str | None = None
    #: The caller's schedule that holds the name (``duplicate_schedule``).
    existing_schedule_id: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    development_mode: bool


class BulkAction(BaseModel):
    """Which jobs a bulk action applies to: every filter left out matches everything."""

    model_config = ConfigDict(extra="forbid")

    owner: Annotated[str | None, Field(max_length=256)] = None
    type: Annotated[str | None, Field(max_length=256)] = None
    status: Annotated[list[JobStatus], Field(max_length=6)] = []
    created_from: UtcDatetime | None = None
    created_before: UtcDatetime | None = None
    #: Only jobs tagged with it.
    tag: Annotated[str | None, Field(max_length=64)] = None
    #: At most this many jobs are acted on in one call; ``next_cursor`` continues.
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    cursor: Annotated[str | None, Field(max_length=64)] = None


class BulkResult(BaseModel):
    matched: int
    done: list[str]
    #: Jobs the action did not apply to, with why.
    refused: dict[str, str]
    next_cursor: str | None


class PurgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    completed_before: UtcDatetime


class PurgeResult(BaseModel):
    deleted: int


class Me(BaseModel):
    """Who the caller is, as the API sees them."""

    #: The owner of the jobs the caller starts (and, for an end user, the only owner whose
    #: jobs they see).
    id: str
    #: A name to show, if the scheme gives one.
    name: str | None
    #: Sorted by name; everyone is a ``user``.
    roles: list[Role]
    #: The scheme that authenticated the call (``easy-auth``, ``bearer``, ``api-key``,
    #: ``development``).
    scheme: str
    #: Every owner's jobs are visible (readers and operators).
    sees_all: bool
    #: Every owner's jobs may be changed (operators).
    acts_on_all: bool
    development_mode: bool


#: What a history entry says: the job's status (``scheduled``, ``queued``, ``running``,
#: ``succeeded``, ``failed``, ``cancelled``), or how an attempt ended (``succeeded``,
#: ``failed``, ``cancelled``, and ``timed_out``; ``abandoned``: its worker died and the job
#: was taken over; ``released``: handed back on shutdown), or ``cancel_requested``.
HistoryStatus = Literal[
    "scheduled",
    "queued",
    "running",
    "succeeded",
    "failed",
    "timed_out",
    "cancelled",
    "abandoned",
    "released",
    "cancel_requested",
]


class HistoryItem(BaseModel):
    status: HistoryStatus
    at: datetime
    #: The worker an attempt ran on (``host:pid``), for an attempt's entries.
    host: str | None
    #: The attempt the entry belongs to (a ``queued`` entry after an attempt: the next).
    attempt: int | None
    #: An error's message (why an attempt failed, or its lease ran out), when a retry is
    #: due, what else the record says of the change.
    detail: str | None


class DeadLetterView(BaseModel):
    """One message of a side queue. Its body is whatever a producer sent: show it as text,
    never as markup."""

    id: str
    band: Priority
    side: SideQueue
    queue: str
    #: The body as text, cut to its first 4 KiB (``truncated``); a character that is not
    #: Unicode text is shown as U+FFFD.
    body: str
    truncated: bool
    #: The body's size in bytes (UTF-8).
    size: int
    inserted_at: datetime | None
    #: Deliveries since it arrived on its queue.
    dequeue_count: int | None
    #: The job the body names, if it is a job message.
    job_id: str | None


class DeadLetterCount(BaseModel):
    band: Priority
    side: SideQueue
    queue: str
    #: About how many messages the queue holds; ``null``: it did not answer in time.
    messages: int | None


class DeadLetterList(BaseModel):
    #: The oldest of each queue (at most 32 per queue: a peek shows no more), band by band
    #: (high, normal, low), dead letters before poison messages; at most ``limit``.
    items: list[DeadLetterView]
    counts: list[DeadLetterCount]


# --- schedules ---------------------------------------------------------------------------

#: The most slots one preview lists.
MAX_PREVIEW_COUNT = 100
_ScheduleName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
_RuleText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_RULE_LENGTH,
        description="`cron:0 9 * * MON-FRI`, `every:PT20M[@2026-01-01T08:00]`, `rrule:FREQ=...`",
    ),
]
_ZoneName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TIME_ZONE_LENGTH, description="An IANA time zone."),
]
_Tags = Annotated[list[_Tag], Field(max_length=32)]
_RunTime = Annotated[float, Field(gt=0, le=_TEN_YEARS)]


class ScheduleCreate(BaseModel):
    """A schedule to make: it starts a job of ``type`` with ``request`` at each slot of
    ``rule`` in ``time_zone``."""

    model_config = ConfigDict(extra="forbid")

    name: _ScheduleName
    type: Annotated[str, Field(min_length=1, max_length=256, description="A job type's name.")]
    request: JsonValue = Field(default=None, description="Validated against the type's request.")
    rule: _RuleText
    time_zone: _ZoneName = "UTC"
    owner: Annotated[
        str | None,
        Field(
            max_length=256,
            description="Operators only: whose schedule it is. Everyone else's are their own.",
        ),
    ] = None
    catch_up: CatchUp = CatchUp.ONCE
    catch_up_limit: Annotated[int | None, Field(ge=1, le=MAX_CATCH_UP_LIMIT)] = None
    overlap: Overlap = Overlap.ALLOW
    priority: Priority = Priority.NORMAL
    max_attempts: Annotated[int | None, Field(ge=1, le=MAX_ATTEMPTS)] = None
    max_run_time_seconds: _RunTime | None = None
    tags: _Tags = []
    paused: bool = False


class ScheduleChange(BaseModel):
    """Changes to a schedule: the fields given are changed, the rest kept. A new ``rule``
    or ``time_zone`` moves the next slot to the rule's first after now."""

    model_config = ConfigDict(extra="forbid")

    name: _ScheduleName | None = None
    type: Annotated[str | None, Field(min_length=1, max_length=256)] = None
    request: JsonValue = None
    rule: _RuleText | None = None
    time_zone: _ZoneName | None = None
    catch_up: CatchUp | None = None
    catch_up_limit: Annotated[int | None, Field(ge=1, le=MAX_CATCH_UP_LIMIT)] = None
    overlap: Overlap | None = None
    priority: Priority | None = None
    max_attempts: Annotated[int | None, Field(ge=1, le=MAX_ATTEMPTS)] = None
    #: ``null`` takes the limit away (the job type's own applies).
    max_run_time_seconds: _RunTime | None = None
    tags: _Tags | None = None

    @field_validator(
        "name",
        "type",
        "rule",
        "time_zone",
        "catch_up",
        "catch_up_limit",
        "overlap",
        "priority",
        "max_attempts",
        "tags",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("null is no value of this field: leave the field out to keep it")
        return value


class ScheduleLinks(BaseModel):
    self: str
    preview: str
    slots: str
    pause: str
    resume: str
    trigger: str
    #: The job of the last slot fired, if any.
    last_job: str | None


class ScheduleView(BaseModel):
    id: str
    name: str
    owner: str
    type: str
    request: JsonValue
    rule: str
    time_zone: str
    catch_up: CatchUp
    catch_up_limit: int
    overlap: Overlap
    priority: Priority
    max_attempts: int
    max_run_time_seconds: float | None
    tags: list[str]
    paused: bool
    #: The next slot to fire (UTC); ``null``: the rule has ended.
    next_slot: datetime | None
    #: The same instant in the schedule's time zone, with its offset.
    next_slot_local: datetime | None
    last_slot: datetime | None
    last_job_id: str | None
    created_at: datetime
    updated_at: datetime
    links: ScheduleLinks


class SchedulePage(BaseModel):
    items: list[ScheduleView]
    #: Pass as ``cursor`` for the next page; ``null``: this is the last.
    next_cursor: str | None
    next: str | None
    #: Schedules of this page whose stored rows could not be read.
    skipped: list[str]


class SlotPreviewView(BaseModel):
    utc: datetime
    #: The slot in the time zone, with its offset.
    local: datetime


class SchedulePreview(BaseModel):
    rule: str
    time_zone: str
    #: Fewer than asked for when the rule ends sooner.
    slots: list[SlotPreviewView]


class SlotView(BaseModel):
    """A slot the schedule fired, and the job it started."""

    slot: datetime
    job_id: str
    fired_at: datetime
    #: The host that fired it.
    fired_by: str
    #: The job's URL.
    job: str
