"""Job records as the API shows them (:class:`~.schemas.JobView`), with their links."""

from __future__ import annotations

from typing import Final

from fastapi import Request

from ..limits.views import waiting_text
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
    WaitingView,
)

__all__ = ["RUNTIME_STATUS", "JobUrls", "attempt_view", "job_urls", "job_view"]

RUNTIME_STATUS: Final[dict[JobStatus, RuntimeStatus]] = {
    JobStatus.SCHEDULED: "Pending",
    JobStatus.QUEUED: "Pending",
    JobStatus.RUNNING: "Running",
    JobStatus.SUCCEEDED: "Completed",
    JobStatus.FAILED: "Failed",
    JobStatus.CANCELLED: "Terminated",
}


_PLACEHOLDER: Final = "0" * 29
_ROUTES: Final = ("get_job", "list_attempts", "cancel_job", "retry_job", "get_job_output")


class JobUrls:
    """The URLs of a job's routes for one request, each route's looked up once (a page
    of 1,000 jobs would otherwise route 6,000 lookups)."""

    def __init__(self, request: Request) -> None:
        self._templates = {
            name: str(request.url_for(name, job_id=_PLACEHOLDER)) for name in _ROUTES
        }
        self._events = str(request.url_for("events").include_query_params(job=_PLACEHOLDER))

    def url(self, name: str, job_id: str) -> str:
        return self._templates[name].replace(_PLACEHOLDER, job_id)

    def events(self, job_id: str) -> str:
        return self._events.replace(_PLACEHOLDER, job_id)


def job_urls(request: Request) -> JobUrls:
    """The request's :class:`JobUrls`, made at its first use."""
    urls = getattr(request.state, "job_urls", None)
    if not isinstance(urls, JobUrls):
        urls = request.state.job_urls = JobUrls(request)
    return urls


def _error(error: JobError | None, principal: Principal) -> ErrorView | None:
    if error is None:
        return None
    traceback = error.traceback if principal.sees_all else None
    return ErrorView(type=error.type, message=error.message, traceback=traceback)


def _waiting(job: QueuedJob) -> WaitingView | None:
    """What holds a job that has not started back (a finished job's last wait is not
    shown: nothing holds it back any more)."""
    waiting = job.waiting
    if waiting is None or job.status.is_terminal:
        return None
    return WaitingView.model_validate(waiting, from_attributes=True)


def job_view(request: Request, job: QueuedJob, principal: Principal) -> JobView:
    urls = job_urls(request)
    status_url, cancel_url = urls.url("get_job", job.id), urls.url("cancel_job", job.id)
    progress = job.progress
    waiting = _waiting(job)
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
        trace_id=None if job.trace_context is None else job.trace_context.trace_id,
        tags=list(job.tags),
        custom_data=job.custom_data,
        output_length=None if job.output is None else job.output.length,
        waiting=waiting,
        waiting_text=None if job.waiting is None or waiting is None else waiting_text(job.waiting),
        links=JobLinks(
            self=status_url,
            attempts=urls.url("list_attempts", job.id),
            cancel=cancel_url,
            retry=urls.url("retry_job", job.id),
            events=urls.events(job.id),
            output=urls.url("get_job_output", job.id),
        ),
        durable=DurableLinks(
            id=job.id,
            statusQueryGetUri=status_url,
            terminatePostUri=cancel_url,
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
