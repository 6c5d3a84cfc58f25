"""``/sequences``: start, read, list and cancel multi-step sequences, and (operators)
purge the ended ones, ``POST /sequences:purge``.

Access as on ``/jobs``: every route needs a principal; an end user starts, sees and
cancels their own sequences only (another's is ``404``, like an id nobody has); a reader
sees every sequence; an operator acts on every one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ...errors import InvalidInput, PermissionDenied
from ...models import check_owner
from ...models.job import UtcDatetime
from ...sequences.client import SequenceClient
from ...sequences.model import (
    MAX_ITERATIONS,
    MAX_NAME_LENGTH,
    MAX_STEPS,
    Sequence,
    SequenceStatus,
    Step,
    is_sequence_id,
)
from ...sequences.store import MAX_PURGE_LIMIT
from .._access import (
    check_may_change_sequence,
    check_may_see_sequence,
    check_operator,
    listing_owner,
)
from .._runtime import runtime_of
from ..schemas import PurgeResult
from ._common import Caller, errors

__all__ = ["router"]

router = APIRouter(tags=["sequences"])
_NOT_FOUND = {404: "No such sequence (or it is another owner's)."}
#: Stands for a job id in a route's URL (no URL holds it otherwise: it is no job's id).
_PLACEHOLDER = "0" * 29


class SequenceCreate(BaseModel):
    """A sequence to start."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
    steps: Annotated[list[JsonValue], Field(min_length=1, max_length=MAX_STEPS)] = Field(
        description="The steps, in order (docs/sequences.md gives their fields)."
    )
    max_iterations: Annotated[int | None, Field(ge=1, le=MAX_ITERATIONS)] = None
    owner: Annotated[
        str | None,
        Field(max_length=256, description="Operators only: whose sequence it is."),
    ] = None


class SequencePurge(BaseModel):
    """Which ended sequences to delete."""

    model_config = ConfigDict(extra="forbid")

    ended_before: UtcDatetime = Field(description="Delete those that ended before this.")
    limit: Annotated[
        int | None,
        Field(ge=1, le=MAX_PURGE_LIMIT, description="At most this many (default: all)."),
    ] = None


class RunJobView(BaseModel):
    job_id: str
    job_type: str
    #: The job's final status once known (``None``: not ended, or not heard yet).
    status: str | None
    links: dict[str, str]


class RunView(BaseModel):
    number: int
    step: int
    iteration: int
    outcome: str | None
    started_at: datetime
    ended_at: datetime | None
    jobs: list[RunJobView]


class SequenceView(BaseModel):
    """A sequence: where it is, its steps, and every run kept, with its jobs."""

    id: str
    name: str
    owner: str
    status: SequenceStatus
    step: int | None
    reason: str | None
    max_iterations: int
    iterations: list[int]
    cancel_pending: bool
    runs_dropped: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    steps: list[Step]
    runs: list[RunView]
    links: dict[str, str]


class SequencePage(BaseModel):
    items: list[SequenceView]
    next_cursor: str | None
    next: str | None
    skipped: list[str]


def _view(request: Request, sequence: Sequence) -> SequenceView:
    job_url = str(request.url_for("get_job", job_id=_PLACEHOLDER))
    runs = [
        RunView(
            number=run.number,
            step=run.step,
            iteration=run.iteration,
            outcome=None if run.outcome is None else run.outcome.value,
            started_at=run.started_at,
            ended_at=run.ended_at,
            jobs=[
                RunJobView(
                    job_id=job.job_id,
                    job_type=entry.job_type,
                    status=None if job.status is None else job.status.value,
                    links={"status": job_url.replace(_PLACEHOLDER, job.job_id)},
                )
                for entry, job in zip(sequence.steps[run.step].jobs, run.jobs, strict=True)
            ],
        )
        for run in sequence.runs
    ]
    fields: dict[str, Any] = {
        name: getattr(sequence, name)
        for name in (
            "id",
            "name",
            "owner",
            "status",
            "step",
            "reason",
            "max_iterations",
            "cancel_pending",
            "runs_dropped",
            "created_at",
            "updated_at",
            "completed_at",
        )
    }
    links = {
        "self": str(request.url_for("get_sequence", sequence_id=sequence.id)),
        "cancel": str(request.url_for("cancel_sequence", sequence_id=sequence.id)),
        "events": str(request.url_for("events").include_query_params(sequence=sequence.id)),
    }
    return SequenceView(
        **fields,
        iterations=list(sequence.iterations),
        steps=list(sequence.steps),
        runs=runs,
        links=links,
    )


@router.post(
    "/sequences",
    status_code=202,
    response_model=SequenceView,
    name="create_sequence",
    operation_id="create_sequence",
    responses=errors(403, 413),
)
async def create_sequence(
    body: SequenceCreate, request: Request, response: Response, caller: Caller
) -> SequenceView:
    """Start a sequence: ``202 Accepted`` with ``Location`` (its URL). The owner is the
    caller; an operator may name another. A definition that cannot run (an unknown job
    type, a request its type refuses, an action or a ``goto`` that cannot be) is ``422``
    saying which step and why; one over the bounds is ``413``."""
    owner = caller.id if body.owner is None else check_owner(body.owner)
    if owner != caller.id and not caller.acts_on_all:
        raise PermissionDenied("starting a sequence for another owner needs the operator role")
    client = await runtime_of(request).client()
    started = await SequenceClient(client).start(
        body.steps, owner=owner, name=body.name, max_iterations=body.max_iterations
    )
    view = _view(request, started)
    response.headers["Location"] = view.links["self"]
    return view


@router.get(
    "/sequences/{sequence_id}",
    response_model=SequenceView,
    name="get_sequence",
    operation_id="get_sequence",
    responses=errors(404, described=_NOT_FOUND),
)
async def get_sequence(sequence_id: str, request: Request, caller: Caller) -> SequenceView:
    """A sequence: its status, its steps, and every run kept with its jobs' outcomes."""
    client = await runtime_of(request).client()
    found = await SequenceClient(client).get(sequence_id)
    return _view(request, check_may_see_sequence(caller, found))


@router.get(
    "/sequences",
    response_model=SequencePage,
    name="list_sequences",
    operation_id="list_sequences",
    responses=errors(),
)
async def list_sequences(
    request: Request,
    caller: Caller,
    owner: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> SequencePage:
    """Sequences, newest first: the caller's own, or (operators and readers) every
    owner's or ``owner``'s."""
    chosen = listing_owner(caller, owner)
    if owner is not None and chosen != owner:
        return SequencePage(items=[], next_cursor=None, next=None, skipped=[])
    if cursor is not None and not is_sequence_id(cursor):
        raise InvalidInput(f"{cursor[:64]!r} is not a cursor this listing gave")
    client = await runtime_of(request).client()
    page = await SequenceClient(client).list(owner=chosen, limit=limit, continuation=cursor)
    following = None
    if page.continuation is not None:
        following = str(request.url.include_query_params(cursor=page.continuation))
    return SequencePage(
        items=[_view(request, s) for s in page.items],
        next_cursor=page.continuation,
        next=following,
        skipped=list(page.skipped),
    )


@router.post(
    "/sequences/{sequence_id}/cancel",
    response_model=SequenceView,
    name="cancel_sequence",
    operation_id="cancel_sequence",
    responses=errors(403, 404, described=_NOT_FOUND),
)
async def cancel_sequence(sequence_id: str, request: Request, caller: Caller) -> SequenceView:
    """Cancel a running sequence and its jobs not yet ended; an ended one is returned as
    it is."""
    sequences = SequenceClient(await runtime_of(request).client())
    check_may_change_sequence(caller, await sequences.get(sequence_id))
    return _view(request, await sequences.cancel(sequence_id, reason=f"cancelled by {caller.id}"))


@router.post(
    "/sequences:purge",
    response_model=PurgeResult,
    name="purge_sequences",
    operation_id="purge_sequences",
    responses=errors(403),
)
async def purge_sequences(body: SequencePurge, request: Request, caller: Caller) -> PurgeResult:
    """Delete the sequences that ended before ``ended_before`` (those that ended first
    first; at most ``limit``); their jobs stay. Operators only."""
    check_operator(caller, "purging sequences")
    sequences = SequenceClient(await runtime_of(request).client())
    deleted = await sequences.purge(ended_before=body.ended_before, limit=body.limit)
    return PurgeResult(deleted=deleted)
