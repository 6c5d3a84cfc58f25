"""``/jobs/{id}/output``: what a job printed, readable while it runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ...models import MAX_OUTPUT_POSITION, read_output
from .._access import check_may_see
from .._runtime import runtime_of
from ..schemas import OutputView
from ._common import Caller, errors

__all__ = ["router"]

router = APIRouter(tags=["jobs"])


@router.get(
    "/jobs/{job_id}/output",
    response_model=OutputView,
    name="get_job_output",
    operation_id="get_job_output",
    responses=errors(404),
)
async def get_job_output(
    job_id: str,
    request: Request,
    response: Response,
    caller: Caller,
    after: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_OUTPUT_POSITION,
            description="The characters of the output already read: only what followed "
            "them comes back (pass the last answer's `length`).",
        ),
    ] = 0,
) -> OutputView:
    """What the job printed after its first ``after`` characters, as far as its record
    holds it (the last 8,000 characters: ``skipped`` counts those it no longer holds),
    as plain text. ``complete`` once the job has finished; until then ``Retry-After``
    says when to look again (or follow the ``output`` of its ``job`` events)."""
    runtime = runtime_of(request)
    client = await runtime.client()
    job = check_may_see(caller, await client.get_job(job_id))  # the one storage read
    read = read_output(job.id, job.status, job.output, after)
    if not read.complete:
        response.headers["Retry-After"] = runtime.settings.retry_after_header
    return OutputView(
        job_id=read.job_id,
        status=read.status,
        text=read.text,
        length=read.length,
        skipped=read.skipped,
        complete=read.complete,
    )
