"""The API's bodies: what clients send and what they get back (the OpenAPI document is
made from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ..dead_letters import SideQueue
from ..models import MAX_ATTEMPTS, AttemptOutcome, JobStatus, Priority, UniqueScope
from ..models.job import UtcDatetime
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
    "ProgressView",
    "PurgeRequest",
    "PurgeResult",
    "RuntimeStatus",
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
    tags: list[str]
    custom_data: dict[str, JsonValue]
    links: JobLinks
    durable: DurableLinks


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
