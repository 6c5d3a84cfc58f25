"""A job record made from what a caller asks for (:class:`JobSpec`), checked before anything
is stored: its type, its request against the type's request model, its options."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import JsonValue, ValidationError

from .errors import InvalidInput
from .models import (
    JobStatus,
    Priority,
    QueuedJob,
    TraceContext,
    UniqueScope,
    check_payload,
    is_job_id,
)
from .queue_names import QueueNames
from .queues.base import MAX_DELAY
from .repositories._records import problems
from .runner import JobRegistry, JobRunner

__all__ = ["JobSpec", "JobTarget", "build_job"]

#: A job type given by its registered name, its runner class or its function.
JobTarget = str | type[JobRunner[Any, Any]] | Callable[..., Any]


@dataclass(frozen=True)
class JobSpec:
    """One job to start, for :meth:`JobClient.queue_jobs`; the fields are
    :meth:`JobClient.queue_job`'s arguments (``owner`` defaults to ``"system"``, whose
    unique keys are its own like any owner's)."""

    job: JobTarget
    request: Any = None
    owner: str = "system"
    priority: Priority = Priority.NORMAL
    delay: timedelta | None = None
    run_at: datetime | None = None
    max_attempts: int | None = None
    max_run_time: timedelta | None = None
    unique_key: str | None = None
    correlation_id: str | None = None
    tags: Sequence[str] = ()
    custom_data: dict[str, JsonValue] = field(default_factory=dict)
    unique_scope: UniqueScope = UniqueScope.OWNER
    job_id: str | None = None


def build_job(
    spec: JobSpec,
    registry: JobRegistry,
    queues: QueueNames,
    *,
    now: datetime,
    trace_context: TraceContext | None = None,
) -> QueuedJob:
    """The new record ``spec`` asks for, queued at ``now`` in the context ``trace_context``
    (``InvalidInput`` naming what is wrong: an unknown type raises ``UnknownJobType``)."""
    job_type = registry.name_of(spec.job)
    definition = registry.get(job_type)
    try:
        request = definition.validate_request(spec.request)
    except ValidationError as exc:
        raise InvalidInput(f"invalid request for job type {job_type!r}: {exc}") from exc
    check_payload(spec.custom_data, "custom_data")
    if spec.delay is not None and spec.run_at is not None:
        raise InvalidInput("give a delay or a run-at time, not both")
    run_at = spec.run_at if spec.delay is None else now + spec.delay
    scheduled = run_at is not None and run_at - now > MAX_DELAY
    options: dict[str, Any] = {
        "queue": queues.for_priority(spec.priority),
        "priority": spec.priority,
        "run_at": run_at,
        "max_run_time": spec.max_run_time or definition.max_run_time,
        "unique_key": spec.unique_key,
        "unique_scope": spec.unique_scope,
        "correlation_id": spec.correlation_id,
        "tags": tuple(spec.tags),
        "custom_data": dict(spec.custom_data),
        "status": JobStatus.SCHEDULED if scheduled else JobStatus.QUEUED,
        "trace_context": trace_context,
    }
    attempts = spec.max_attempts or definition.max_attempts
    if attempts is not None:
        options["max_attempts"] = attempts
    if spec.job_id is not None and not is_job_id(spec.job_id):
        raise InvalidInput(f"job id {spec.job_id!r:.80} is not one: make it with new_job_id(owner)")
    try:
        return QueuedJob.new(
            owner=spec.owner,
            job_type=job_type,
            request=request,
            now=now,
            job_id=spec.job_id,
            **options,
        )
    except ValidationError as exc:
        found = problems(exc).replace(": Value error, ", ": ")
        raise InvalidInput(f"invalid job options: {found}") from exc
