"""``/jobs``: start, read, list, cancel, retry and delete jobs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from ...client import JobClient
from ...errors import InvalidInput, InvalidTransition, PermissionDenied
from ...models import JobStatus, QueuedJob, UniqueScope, check_owner, is_job_id
from .._access import check_may_change, check_may_see, listing_owner
from .._errors import FieldsInvalid, field_errors
from .._history import job_history
from .._runtime import runtime_of
from .._views import attempt_view, job_view
from ..schemas import AttemptView, HistoryItem, JobCreate, JobPage, JobView
from ._common import Caller, errors

__all__ = ["check_cursor", "delete_finished", "request_fields", "router"]

router = APIRouter(tags=["jobs"])


def check_cursor(cursor: str | None) -> str | None:
    """A listing cursor (a job id), or ``InvalidInput``: nothing else reaches a store."""
    if cursor is not None and not is_job_id(cursor):
        raise InvalidInput(f"{cursor[:64]!r} is not a cursor this listing gave")
    return cursor


def request_fields(job_type: str, exc: ValidationError) -> FieldsInvalid:
    """A request that does not validate as ``job_type``'s, field by field (``body.request``)."""
    fields = []
    for found in field_errors(exc.errors()):
        where = found["field"]
        fields.append({**found, "field": f"body.request.{where}" if where else "body.request"})
    return FieldsInvalid(f"the request does not validate as {job_type!r}'s request", fields)


def _links_to_the_job() -> dict[str, object]:
    """OpenAPI links from a started job to the routes that take its id."""
    job_id = {"job_id": "$response.body#/id"}
    return {
        name: {"operationId": name, "parameters": job_id}
        for name in (
            "get_job",
            "list_attempts",
            "get_job_history",
            "get_job_output",
            "cancel_job",
            "retry_job",
            "delete_job",
        )
    }


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobView,
    name="create_job",
    operation_id="create_job",
    responses={
        202: {"description": "The job, started.", "links": _links_to_the_job()},
        **errors(403, 404, 409, 413),
    },
)
async def create_job(
    body: JobCreate, request: Request, response: Response, caller: Caller
) -> JobView:
    """Start a job: ``202 Accepted`` with ``Location`` (its status URL) and ``Retry-After``.

    The owner is the caller; an operator may name another (``owner``). The request is
    validated against the job type's request type (``422`` lists the fields); an unknown
    type is ``404``; a unique key another unfinished job holds is ``409`` with
    ``existing_job_id`` (when that job is the caller's to see).
    """
    runtime = runtime_of(request)
    owner = caller.id if body.owner is None else check_owner(body.owner)
    if owner != caller.id and not caller.acts_on_all:
        raise PermissionDenied("starting a job for another owner needs the operator role")
    if body.unique_scope is UniqueScope.GLOBAL and not caller.acts_on_all:
        raise PermissionDenied("a unique key across owners needs the operator role")
    client = await runtime.client()
    definition = client.registry.get(body.type)
    try:
        definition.validate_request(body.request)
    except ValidationError as exc:
        raise request_fields(body.type, exc) from None
    job = await client.queue_job(
        body.type,
        body.request,
        owner=owner,
        priority=body.priority,
        delay=None if body.delay_seconds is None else timedelta(seconds=body.delay_seconds),
        run_at=body.run_at,
        max_attempts=body.max_attempts,
        max_run_time=None
        if body.max_run_time_seconds is None
        else timedelta(seconds=body.max_run_time_seconds),
        unique_key=body.unique_key,
        unique_scope=body.unique_scope,
        correlation_id=body.correlation_id,
        tags=body.tags,
        custom_data=body.custom_data,
    )
    view = job_view(request, job, caller)
    response.headers["Location"] = view.links.self
    response.headers["Retry-After"] = runtime.settings.retry_after_header
    return view


@router.get(
    "/jobs/{job_id}",
    response_model=JobView,
    name="get_job",
    operation_id="get_job",
    responses=errors(404),
)
async def get_job(job_id: str, request: Request, response: Response, caller: Caller) -> JobView:
    """A job: status, progress, timestamps, result or error, attempt count. While it is not
    finished, ``Retry-After`` says when to look again."""
    runtime = runtime_of(request)
    client = await runtime.client()
    job = check_may_see(caller, await client.get_job(job_id))
    if not job.is_terminal:
        response.headers["Retry-After"] = runtime.settings.retry_after_header
    return job_view(request, job, caller)


@router.get(
    "/jobs/{job_id}/attempts",
    response_model=list[AttemptView],
    name="list_attempts",
    operation_id="list_attempts",
    responses=errors(404),
)
async def list_attempts(job_id: str, request: Request, caller: Caller) -> list[AttemptView]:
    """A job's attempts, oldest first, each with its outcome, host and error."""
    client = await runtime_of(request).client()
    check_may_see(caller, await client.get_job(job_id))
    return [attempt_view(a, caller) for a in await client.list_attempts(job_id)]


@router.get(
    "/jobs/{job_id}/history",
    response_model=list[HistoryItem],
    name="get_job_history",
    operation_id="get_job_history",
    responses=errors(404),
)
async def get_job_history(job_id: str, request: Request, caller: Caller) -> list[HistoryItem]:
    """Every status change of a job, oldest first, each with its time (and, for an
    attempt's entries, the attempt's number and host), read off the job's record and its
    attempts; docs/web.md says where they keep no time of their own."""
    client = await runtime_of(request).client()
    job = check_may_see(caller, await client.get_job(job_id))
    return job_history(job, await client.list_attempts(job_id), now=client.clock.now())


@router.get("/jobs", response_model=JobPage, name="list_jobs", responses=errors())
async def list_jobs(
    request: Request,
    caller: Caller,
    owner: Annotated[str | None, Query(max_length=256)] = None,
    type: Annotated[str | None, Query(max_length=256)] = None,
    status: Annotated[list[JobStatus] | None, Query(max_length=6)] = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> JobPage:
    """Jobs, newest first: the caller's own, or (operators and readers) every owner's or
    ``owner``'s. Filters left out match everything; ``created_from`` is inclusive,
    ``created_before`` exclusive; ``tag`` keeps the jobs tagged with it. Follow ``next``
    (or pass ``next_cursor`` as ``cursor``) for the next page: with a tag and a status,
    a page may be short before the last."""
    chosen = listing_owner(caller, owner)
    if owner is not None and chosen != owner:  # someone else's jobs: none, for this caller
        return JobPage(items=[], next_cursor=None, next=None, skipped=[])
    client = await runtime_of(request).client()
    page = await client.list_jobs(
        owner=chosen,
        statuses=status or (),
        job_type=type,
        created_from=created_from,
        created_before=created_before,
        tag=tag,
        limit=limit,
        continuation=check_cursor(cursor),
    )
    following = None
    if page.continuation is not None:
        following = str(request.url.include_query_params(cursor=page.continuation))
    return JobPage(
        items=[job_view(request, job, caller) for job in page.items],
        next_cursor=page.continuation,
        next=following,
        skipped=list(page.skipped),
    )


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobView,
    name="cancel_job",
    operation_id="cancel_job",
    responses=errors(403, 404),
)
async def cancel_job(job_id: str, request: Request, caller: Caller) -> JobView:
    """Cancel a job: a waiting one at once, a running one as soon as its attempt sees the
    request. A finished job is returned as it is."""
    client = await runtime_of(request).client()
    check_may_change(caller, await client.get_job(job_id))
    return job_view(request, await client.cancel(job_id), caller)


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    response_model=JobView,
    name="retry_job",
    operation_id="retry_job",
    responses=errors(403, 404, 409),
)
async def retry_job(
    job_id: str,
    request: Request,
    response: Response,
    caller: Caller,
    attempts: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> JobView:
    """Queue a failed or cancelled job again with ``attempts`` more attempts (``409`` for a
    job in another status)."""
    client = await runtime_of(request).client()
    check_may_change(caller, await client.get_job(job_id))
    view = job_view(request, await client.retry(job_id, attempts=attempts), caller)
    response.headers["Location"] = view.links.self
    return view


@router.delete(
    "/jobs/{job_id}",
    status_code=204,
    name="delete_job",
    operation_id="delete_job",
    responses=errors(403, 404, 409),
)
async def delete_job(job_id: str, request: Request, caller: Caller) -> Response:
    """Delete a finished job with its attempts and payloads (``409`` for one still queued
    or running: cancel it first)."""
    client = await runtime_of(request).client()
    await delete_finished(client, check_may_change(caller, await client.get_job(job_id)))
    return Response(status_code=204)


async def delete_finished(client: JobClient, job: QueuedJob) -> None:
    """Delete ``job`` if it finished; ``InvalidTransition`` while it is queued or running
    (cancel it first)."""
    if not job.is_terminal:
        raise InvalidTransition(job.id, job.status.value, "deleted")
    await client.repository.delete(job.id)
