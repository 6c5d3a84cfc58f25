"""The job record (:class:`QueuedJob`) and the records that hang off it."""

from __future__ import annotations

import hashlib
import re
import secrets
import traceback as _traceback
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from .._names import queue_name_problem
from ..clock import utcnow
from ..errors import InvalidInput
from ._time import UtcDatetime
from .output import JobOutput
from .status import AttemptOutcome, JobStatus, check_transition
from .trace import CarriedTrace
from .unique import UniqueScope, unique_reservation
from .waiting import JobWaiting

__all__ = [
    "MAX_ATTEMPTS",
    "OWNER_SHARDS",
    "Attempt",
    "JobError",
    "Priority",
    "Progress",
    "QueuedJob",
    "UtcDatetime",
    "check_owner",
    "check_tag",
    "is_job_id",
    "new_job_id",
    "owner_shard",
]

#: Owners are spread over this many shards; a job id ends with its owner's shard digit.
OWNER_SHARDS = 16
#: Most attempts a job may be given (``max_attempts``), retries by hand included.
MAX_ATTEMPTS = 1000
_TRACEBACK_LIMIT = 16_000
_MESSAGE_LIMIT = 4_000
_TYPE_LIMIT = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_JOB_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
_JOB_ID = re.compile(r"^[0-9a-f]{29}$")


def _not_unicode(what: str, text: str) -> str | None:
    """Why ``text`` is not Unicode text that can be stored (a lone surrogate: what Python
    makes of bytes it could not decode, from a shell or a file), if it is not."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"{what} is not valid Unicode text: it holds a lone surrogate, "
            f"{text[exc.start]!r} at position {exc.start} (what bytes that are not UTF-8 "
            "are decoded to)"
        )
    return None


def owner_shard(owner: str) -> int:
    """The shard (0-15) an owner's jobs live in; stable across processes and versions.
    Raises ``InvalidInput`` for an owner that is not Unicode text (it has no shard)."""
    problem = _not_unicode("owner", owner)
    if problem:
        raise InvalidInput(problem)
    return hashlib.blake2b(owner.encode("utf-8"), digest_size=1).digest()[0] % OWNER_SHARDS


def is_job_id(value: object) -> bool:
    """Whether ``value`` has the form of a job id (:func:`new_job_id`): anything else names
    no job."""
    return isinstance(value, str) and _JOB_ID.fullmatch(value) is not None


def new_job_id(owner: str, *, now: datetime | None = None) -> str:
    """A new job id: 29 lowercase hex digits.

    12 digits of milliseconds since the epoch (ids sort by creation time), 16 random
    digits, and the owner's shard digit, so that a store can find a job from its id
    alone and still keep an owner's jobs together.
    """
    moment = now or utcnow()
    millis = int(moment.timestamp() * 1000)
    return f"{millis:012x}{secrets.token_hex(8)}{owner_shard(owner):x}"


def _text(what: str, max_len: int) -> AfterValidator:
    def check(value: str) -> str:
        if not value:
            raise ValueError(f"{what} must not be empty")
        if len(value) > max_len:
            raise ValueError(f"{what} is {len(value)} characters; at most {max_len} allowed")
        if _CONTROL.search(value):
            raise ValueError(f"{what} must not contain control characters")
        if not value.isascii() and (problem := _not_unicode(what, value)):
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _unicode(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (pairs are joined): an error's
    text is recorded whatever it holds."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _queue_name(value: str) -> str:
    problem = queue_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _job_type(value: str) -> str:
    if not _JOB_TYPE.match(value):
        raise ValueError(
            f"job type {value!r} is not valid: use letters, digits, '_', '.', ':' and '-', "
            "starting with a letter or '_'"
        )
    return value


Owner = Annotated[str, _text("owner", 256)]
UniqueKey = Annotated[str, _text("unique key", 512)]
ShortText = Annotated[str, _text("value", 256)]
Tag = Annotated[str, _text("tag", 64)]
QueueName = Annotated[str, AfterValidator(_queue_name)]
JobType = Annotated[str, Field(max_length=256), AfterValidator(_job_type)]


def _is_none(value: object) -> bool:
    """Left out of a record's JSON when unset: a record without it stays as it was."""
    return value is None


class Priority(StrEnum):
    """A priority band; each band has its own queue."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


def _keep_head(limit: int) -> AfterValidator:
    def keep(text: str) -> str:
        text = _unicode(text)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    return AfterValidator(keep)


def _keep_tail(text: str | None) -> str | None:
    if text is None:
        return None
    text = _unicode(text)
    if len(text) <= _TRACEBACK_LIMIT:
        return text
    return "…\n" + text[-(_TRACEBACK_LIMIT - 2) :]


class JobError(BaseModel):
    """Why an attempt or a job failed. Long texts are cut so that errors always fit the
    store: the message keeps its start, the traceback its end (where the error is)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Annotated[str, _keep_head(_TYPE_LIMIT)]
    message: Annotated[str, _keep_head(_MESSAGE_LIMIT)]
    traceback: Annotated[str | None, AfterValidator(_keep_tail)] = None

    @classmethod
    def from_exception(cls, exc: BaseException) -> JobError:
        """Capture an exception: its qualified type, its message chain and its traceback."""
        messages: list[str] = []
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            messages.append(f"{type(current).__name__}: {current}" if messages else str(current))
            context = None if current.__suppress_context__ else current.__context__
            current = current.__cause__ or context
        text = "".join(_traceback.format_exception(exc))
        exc_type = type(exc)
        return cls(
            type=f"{exc_type.__module__}.{exc_type.__qualname__}",
            message=" <- ".join(messages),
            traceback=text,
        )


class Progress(BaseModel):
    """How far a running job says it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    percent: float = Field(ge=0, le=100)
    message: str | None = Field(default=None, max_length=1024)


class QueuedJob(BaseModel):
    """The stored record of one job. Immutable: change it with :meth:`transition` or
    ``model_copy(update=...)``, then hand the copy to the repository."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=_JOB_ID.pattern)]
    owner: Owner
    job_type: JobType
    queue: QueueName = "jobs"
    priority: Priority = Priority.NORMAL
    request: JsonValue = None
    result: JsonValue = None
    error: JobError | None = None
    status: JobStatus = JobStatus.QUEUED
    progress: Progress | None = None
    #: The end of what the job printed (a program's output), kept while it runs.
    output: JobOutput | None = None
    #: Why it has not started: the limit that holds it back (``queued_jobs.limits``).
    #: Cleared by the claim that starts it.
    waiting: JobWaiting | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    started_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None
    #: When the current (or last) attempt was claimed; heartbeats and sweeps leave it alone.
    #: ``None`` in records stored before it existed.
    attempt_started_at: UtcDatetime | None = None
    attempts: int = Field(default=0, ge=0)
    max_attempts: int = Field(default=3, ge=1, le=MAX_ATTEMPTS)
    max_run_time: timedelta | None = None
    run_at: UtcDatetime | None = None
    lease_owner: ShortText | None = None
    lease_expires_at: UtcDatetime | None = None
    #: The current attempt runs with no other job beside it on its worker: it was taken
    #: over from a worker that died, so if its own worker dies too, the job is to blame.
    running_alone: bool = False
    unique_key: UniqueKey | None = None
    #: Whose jobs the unique key keeps apart. The client's default is the owner's; a record
    #: stored before scopes existed has none, and its key was reserved across owners.
    unique_scope: UniqueScope = UniqueScope.GLOBAL
    correlation_id: ShortText | None = None
    tags: tuple[Tag, ...] = Field(default=(), max_length=32)
    custom_data: dict[str, JsonValue] = Field(default_factory=dict)
    cancel_requested: bool = False
    #: The trace context of the span that queued the job (``queued_jobs.telemetry``): each
    #: attempt is traced as its child. ``None`` when nothing traced the enqueue.
    trace_context: Annotated[CarriedTrace, Field(exclude_if=_is_none)] = None
    #: The store's version of this record (an ETag on Azure); ``None`` until stored.
    version: str | None = None

    @model_validator(mode="after")
    def _id_belongs_to_owner(self) -> Self:
        if int(self.id[-1], 16) != owner_shard(self.owner):
            raise ValueError(
                "job id does not belong to this owner; make ids with new_job_id(owner)"
            )
        return self

    @classmethod
    def new(
        cls,
        *,
        owner: str,
        job_type: str,
        request: JsonValue = None,
        now: datetime | None = None,
        job_id: str | None = None,
        **options: Any,
    ) -> QueuedJob:
        """A new, not yet stored job (status ``queued``) with a fresh id, or with
        ``job_id`` (made ahead with :func:`new_job_id` for this owner)."""
        moment = now or utcnow()
        return cls(
            id=new_job_id(owner, now=moment) if job_id is None else job_id,
            owner=owner,
            job_type=job_type,
            request=request,
            created_at=moment,
            updated_at=moment,
            **options,
        )

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def lease_expired(self, now: datetime | None = None) -> bool:
        """Whether the job is ``running`` under a lease that ran out: its worker stopped
        renewing it (it died) and the job waits for another worker to take it over."""
        return (
            self.status is JobStatus.RUNNING
            and self.lease_expires_at is not None
            and self.lease_expires_at <= (now or utcnow())
        )

    @property
    def waiting_for_takeover(self) -> bool:
        """:meth:`lease_expired` now (by the system clock)."""
        return self.lease_expired()

    @property
    def unique_reservation(self) -> str | None:
        """The string the job's unique key is reserved under (``None`` without a key)."""
        if self.unique_key is None:
            return None
        return unique_reservation(self.owner, self.unique_key, self.unique_scope)

    @property
    def duration(self) -> timedelta | None:
        """Time from the first start to completion (``None`` until both are known)."""
        if self.started_at is None or self.completed_at is None:
            return None
        return self.completed_at - self.started_at

    def transition(self, status: JobStatus, *, now: datetime, **changes: Any) -> QueuedJob:
        """A copy in ``status`` with ``changes`` applied; refuses illegal transitions. The
        copy's output says it adds none unless ``changes`` give it (:meth:`changed`)."""
        check_transition(self.id, self.status, status)
        return self.changed(**changes, status=status, updated_at=now)

    def changed(self, **changes: Any) -> QueuedJob:
        """A copy with ``changes`` applied, whose write adds no output unless ``changes``
        give the output: the change it records carries no text an earlier write added."""
        output = self.output
        if "output" not in changes and output is not None and output.new:
            changes["output"] = output.model_copy(update={"new": 0})
        return self.model_copy(update=changes)


class Attempt(BaseModel):
    """One try at running a job; a job's attempts are kept, never overwritten."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: Annotated[str, Field(pattern=_JOB_ID.pattern)]
    number: int = Field(ge=1)
    started_at: UtcDatetime
    ended_at: UtcDatetime | None = None
    outcome: AttemptOutcome
    error: JobError | None = None
    host: ShortText
    #: It ran with no other job beside it on its worker (a job taken over after an
    #: abandoned attempt), so an abandon of it is charged to the job.
    alone: bool = False


_OWNER: TypeAdapter[str] = TypeAdapter(Owner)
_TAG: TypeAdapter[str] = TypeAdapter(Tag)


def _checked(adapter: TypeAdapter[str], value: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        message = exc.errors(include_url=False)[0]["msg"]
        raise InvalidInput(message.removeprefix("Value error, ")) from None


def check_owner(owner: str) -> str:
    """Refuse an owner no job can have (``InvalidInput``): empty, too long, control
    characters, not Unicode text. For reads by owner, before the owner reaches a store."""
    return _checked(_OWNER, owner)


def check_tag(tag: str) -> str:
    """Refuse a tag no job can have (``InvalidInput``), as :func:`check_owner` does an
    owner: 1 to 64 characters of Unicode text without control characters."""
    return _checked(_TAG, tag)
