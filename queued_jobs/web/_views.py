"""Job records as the API shows them (:class:`~.schemas.JobView`), with their links."""

from __future__ import annotations

from typing import Final

from fastapi import Request

from ..models import Attempt, JobError, JobStatus, QueuedJob
from .auth import Principal
from .schemas import (
    AttemptView,
    DurableLinks,
    ErrorView,
    JobLinks,
    JobView,
    ProgressView,
    RuntimeStatus,
)

__all__ = ["RUNTIME_STATUS", "attempt_view", "job_url", "job_view"]

RUNTIME_STATUS: Final[dict[JobStatus, RuntimeStatus]] = {
    JobStatus.SCHEDULED: "Pending",
    JobStatus.QUEUED: "Pending",
    JobStatus.RUNNING: "Running",
    JobStatus.SUCCEEDED: "Completed",
    JobStatus.FAILED: "Failed",
    JobStatus.CANCELLED: "Terminated",
}


def job_url(request: Request, name: str, job_id: str) -> str:
    return str(request.url_for(name, job_id=job_id))


def _error(error: JobError | None, principal: Principal) -> ErrorView | None:
    if error is None:
        return None
    traceback = error.traceback if principal.sees_all else None
    return ErrorView(type=error.type, message=error.message, traceback=traceback)


def job_view(request: Request, job: QueuedJob, principal: Principal) -> JobView:
    status_url = job_url(request, "get_job", job.id)
    progress = job.progress
    return JobView(
        id=job.id,
        owner=job.owner,
        type=job.job_type,
        status=job.status,
        runtimeStatus=RUNTIME_STATUS[job.status],
        queue=job.queue,
        priority=job.priority,
        progress=None
        if progress is None
        else ProgressView(percent=progress.percent, message=progress.message),
        request=job.request,
        result=job.result,
        error=_error(job.error, principal),
        created_at=job.created_at,
        updated_at=job.updated_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
        run_at=job.run_at,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        cancel_requested=job.cancel_requested,
        unique_key=job.unique_key,
        correlation_id=job.correlation_id,
        tags=list(job.tags),
        custom_data=job.custom_data,
        links=JobLinks(
            self=status_url,
            attempts=job_url(request, "list_attempts", job.id),
            cancel=job_url(request, "cancel_job", job.id),
            retry=job_url(request, "retry_job", job.id),
            events=str(request.url_for("events").include_query_params(job=job.id)),
        ),
        durable=DurableLinks(
            id=job.id,
            statusQueryGetUri=status_url,
            terminatePostUri=job_url(request, "cancel_job", job.id),
            purgeHistoryDeleteUri=status_url,
        ),
    )


def attempt_view(attempt: Attempt, principal: Principal) -> AttemptView:
    return AttemptView(
        number=attempt.number,
        started_at=attempt.started_at,
        ended_at=attempt.ended_at,
        outcome=attempt.outcome,
        error=_error(attempt.error, principal),
        host=attempt.host,
    )
