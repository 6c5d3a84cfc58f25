"""``GET /events``: a Server-Sent Events stream of job status and progress changes, and
of sequences' changes (``sequence`` events)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from ...errors import StorageUnavailable
from ...models import JobChange, JobStatus, check_owner
from ...sequences.client import SequenceClient
from .._access import check_may_see, check_may_see_sequence, listing_owner
from .._runtime import runtime_of
from .._views import RUNTIME_STATUS, JobUrls, job_urls
from ..events.describe import change_fields
from ..events.stream import change_events
from ._common import Caller, errors

__all__ = ["BUFFERED_SCOPE_KEY", "router"]

#: Set in the ASGI scope by hosts that send a response only once it is complete.
BUFFERED_SCOPE_KEY = "queued_jobs.buffered"

router = APIRouter(tags=["events"])
_PLACEHOLDER = "0" * 29


@router.get(
    "/events",
    name="events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "`text/event-stream`: `job` and `sequence` events (JSON data, "
            "`id` to resume from), `reset` events, heartbeat comments.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **errors(403, 404),
    },
)
async def events(
    request: Request,
    caller: Caller,
    job: Annotated[str | None, Query(max_length=64, description="One job's events.")] = None,
    sequence: Annotated[
        str | None, Query(max_length=64, description="One sequence's events.")
    ] = None,
    owner: Annotated[str | None, Query(max_length=256)] = None,
    type: Annotated[str | None, Query(max_length=256)] = None,
    status: Annotated[list[JobStatus] | None, Query(max_length=6)] = None,
    last_event_id: Annotated[str | None, Header(max_length=16_384)] = None,
    resume_from: Annotated[
        str | None,
        Query(max_length=16_384, description="`Last-Event-ID`, for clients that cannot set it."),
    ] = None,
) -> EventSourceResponse:
    """Status and progress changes of the caller's own jobs, or (operators and readers)
    of every job or those of ``owner``; ``job``, ``type`` and ``status`` narrow it down.

    Each ``job`` event's ``id`` resumes the stream right after it: reconnect with
    ``Last-Event-ID`` (browsers do by themselves) and no event is lost or repeated.
    """
    runtime = runtime_of(request)
    client = await runtime.client()
    hub = await runtime.hub()
    if hub.streams >= runtime.settings.max_streams:
        raise StorageUnavailable("this server serves as many event streams as it may; try later")
    # The owner asked for, else the caller's own jobs (or, for those who see all, every
    # owner's). Someone else's, for an end user: the stream stays silent, since only the
    # caller's own changes ever pass ``accept``.
    scoped = check_owner(owner) if owner is not None else listing_owner(caller, None)
    if job is not None:
        scoped = check_may_see(caller, await client.get_job(job)).owner
    if sequence is not None:
        found = await SequenceClient(client).get(sequence)
        scoped = check_may_see_sequence(caller, found).owner
    statuses = frozenset(status or ())

    def accept(change: JobChange) -> bool:
        return (
            (caller.sees_all or change.owner == caller.id)
            and (scoped is None or change.owner == scoped)
            and (job is None or change.job_id == job)
            and (sequence is None or (change.job_id == sequence and change.kind == "sequence"))
            and (type is None or change.job_type == type)
            and (not statuses or change.status in statuses)
        )

    urls = job_urls(request)
    partitions = client.repository.change_partitions(scoped)
    # Joined before the response starts: a change made once the client has the response's
    # headers is in the stream.
    subscription = await hub.join(partitions, accept)
    content = change_events(
        subscription,
        client.repository,
        partitions,
        _describer(urls, str(request.url_for("get_sequence", sequence_id=_PLACEHOLDER))),
        last_event_id=last_event_id or resume_from,
        resume_window=runtime.settings.resume_window,
        key=await client.repository.message_key(),
        max_replay=runtime.settings.max_replay,
        window=runtime.settings.buffered_window.total_seconds()
        if request.scope.get(BUFFERED_SCOPE_KEY)
        else None,
    )
    return EventSourceResponse(
        content,
        ping=runtime.settings.heartbeat.total_seconds(),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(subscription.close),
    )


def _describer(urls: JobUrls, sequences: str) -> Callable[[JobChange], dict[str, object]]:
    """Words each change; ``sequences`` is the URL of a sequence, its id a placeholder."""

    def describe(change: JobChange) -> dict[str, object]:
        if change.kind == "sequence":
            status = sequences.replace(_PLACEHOLDER, change.job_id)
        else:
            status = urls.url("get_job", change.job_id)
        return {
            "event_id": f"{change.partition}:{change.position}",
            **change_fields(change),
            "runtimeStatus": RUNTIME_STATUS[change.status],
            "links": {"status": status},
        }

    return describe
