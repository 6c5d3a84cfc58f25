"""Operators' bulk actions on a filter: ``POST /jobs:retry``, ``/jobs:cancel``,
``/jobs:delete``, and ``/jobs:purge`` (finished jobs older than a moment)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import APIRouter, Request

from ...client import JobClient
from ...errors import QueuedJobsError
from ...models import QueuedJob
from .._access import check_operator
from .._runtime import runtime_of
from ..schemas import BulkAction, BulkResult, PurgeRequest, PurgeResult
from ._common import Caller, errors
from .jobs import check_cursor, delete_finished

__all__ = ["router"]

router = APIRouter(tags=["bulk"])
Act = Callable[[JobClient, QueuedJob], Awaitable[object]]


async def _retry(client: JobClient, job: QueuedJob) -> object:
    return await client.retry(job.id)


async def _cancel(client: JobClient, job: QueuedJob) -> object:
    return await client.cancel(job.id)


_ACTIONS: Final[dict[str, tuple[str, Act]]] = {
    "retry": ("retrying jobs in bulk", _retry),
    "cancel": ("cancelling jobs in bulk", _cancel),
    "delete": ("deleting jobs in bulk", delete_finished),
}


async def _bulk(verb: str, body: BulkAction, request: Request, caller: Caller) -> BulkResult:
    what, act = _ACTIONS[verb]
    check_operator(caller, what)
    client = await runtime_of(request).client()
    page = await client.list_jobs(
        owner=body.owner,
        statuses=body.status,
        job_type=body.type,
        created_from=body.created_from,
        created_before=body.created_before,
        tag=body.tag,
        limit=body.limit,
        continuation=check_cursor(body.cursor),
    )
    done: list[str] = []
    refused: dict[str, str] = {}
    for job in page.items:
        try:
            await act(client, job)
        except QueuedJobsError as exc:
            refused[job.id] = str(exc)
        else:
            done.append(job.id)
    return BulkResult(
        matched=len(page.items), done=done, refused=refused, next_cursor=page.continuation
    )


@router.post("/jobs:retry", response_model=BulkResult, name="retry_jobs", responses=errors(403))
async def retry_jobs(body: BulkAction, request: Request, caller: Caller) -> BulkResult:
    """Queue again every failed or cancelled job of the filter (a page of ``limit`` jobs
    per call; pass ``next_cursor`` back for the next). Operators only."""
    return await _bulk("retry", body, request, caller)


@router.post("/jobs:cancel", response_model=BulkResult, name="cancel_jobs", responses=errors(403))
async def cancel_jobs(body: BulkAction, request: Request, caller: Caller) -> BulkResult:
    """Cancel every job of the filter (a page per call). Operators only."""
    return await _bulk("cancel", body, request, caller)


@router.post("/jobs:delete", response_model=BulkResult, name="delete_jobs", responses=errors(403))
async def delete_jobs(body: BulkAction, request: Request, caller: Caller) -> BulkResult:
    """Delete every finished job of the filter (a page per call). Operators only."""
    return await _bulk("delete", body, request, caller)


@router.post("/jobs:purge", response_model=PurgeResult, name="purge_jobs", responses=errors(403))
async def purge_jobs(body: PurgeRequest, request: Request, caller: Caller) -> PurgeResult:
    """Delete every finished job that completed before ``completed_before``. Operators
    only."""
    check_operator(caller, "purging jobs")
    client = await runtime_of(request).client()
    return PurgeResult(
        deleted=await client.repository.purge(completed_before=body.completed_before)
    )
