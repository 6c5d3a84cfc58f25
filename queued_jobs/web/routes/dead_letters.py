"""``/dead-letters``: the bands' ``-deadletter`` and ``-poison`` queues (see
:mod:`queued_jobs.dead_letters`): readers and operators see them, operators send a message
back to its band or delete it.

A body is whatever a producer put on a queue (any characters, any size): it is shown as
text, cut to its first 4 KiB, and a job id is read from it only if it is a job message.
A listing costs one peek and one depth per queue (at most six of each), whatever the
queues hold.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, Request, Response

from ...dead_letters import DeadLetter, DeadLetters, SideQueue
from ...errors import QueuedJobsError, StorageUnavailable
from ...execution.messages import UnreadableMessage, decode_message
from ...models import Priority
from ...queues.base import MAX_BATCH
from .._access import check_operator, check_sees_all
from .._runtime import runtime_of
from ..schemas import DeadLetterCount, DeadLetterList, DeadLetterView
from ._common import Caller, errors

__all__ = ["BODY_LIMIT", "router"]

router = APIRouter(tags=["dead-letters"])
#: The most bytes of a body an answer shows (``truncated`` says it was cut).
BODY_LIMIT: Final = 4 * 1024
_BANDS: Final = (Priority.HIGH, Priority.NORMAL, Priority.LOW)
_SIDES: Final = (SideQueue.DEAD_LETTER, SideQueue.POISON)
_QUEUE_PATIENCE: Final = 5.0
#: The most a listing may take (``503`` past it).
_PATIENCE: Final = 30.0
_MESSAGE_ID = Annotated[str, Path(min_length=1, max_length=128)]
_NOT_THERE: Final = {404: "No message with that id on that queue."}


def _shown(body: str) -> tuple[str, bool, int]:
    """The body as an answer can carry it (a lone surrogate as U+FFFD; at most
    :data:`BODY_LIMIT` bytes of UTF-8, cut between characters), whether it was cut, and its
    size in bytes. Only the head is converted, whatever the body's size."""
    size = len(body.encode("utf-8", "surrogatepass"))
    head = body[:BODY_LIMIT]  # every character is at least a byte: enough for the limit
    if not head.isascii():
        head = head.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return head.encode("utf-8")[:BODY_LIMIT].decode("utf-8", "ignore"), size > BODY_LIMIT, size


def _job_id(body: str) -> str | None:
    try:
        return decode_message(body).job_id
    except UnreadableMessage:
        return None


def letter_view(letter: DeadLetter) -> DeadLetterView:
    body, truncated, size = _shown(letter.body)
    return DeadLetterView(
        id=letter.id,
        band=letter.band,
        side=letter.side,
        queue=letter.queue,
        body=body,
        truncated=truncated,
        size=size,
        inserted_at=letter.inserted_at,
        dequeue_count=letter.dequeue_count,
        job_id=_job_id(letter.body),
    )


async def _count(dead: DeadLetters, band: Priority, side: SideQueue) -> DeadLetterCount:
    try:
        async with asyncio.timeout(_QUEUE_PATIENCE):
            messages: int | None = await dead.count(band, side)
    except (QueuedJobsError, TimeoutError):
        messages = None
    return DeadLetterCount(
        band=band, side=side, queue=dead.queue(band, side).name, messages=messages
    )


async def _listing(
    dead: DeadLetters, queues: list[tuple[Priority, SideQueue]], limit: int
) -> DeadLetterList:
    each = min(limit, MAX_BATCH)
    peeked, counts = await asyncio.gather(
        asyncio.gather(*(dead.list(band, side, limit=each) for band, side in queues)),
        asyncio.gather(*(_count(dead, band, side) for band, side in queues)),
    )
    letters = [letter for found in peeked for letter in found][:limit]
    return DeadLetterList(items=[letter_view(letter) for letter in letters], counts=list(counts))


async def _dead_letters(request: Request) -> DeadLetters:
    client = await runtime_of(request).client()
    return DeadLetters(client.broker, client.queues)


@router.get(
    "/dead-letters",
    response_model=DeadLetterList,
    name="list_dead_letters",
    operation_id="list_dead_letters",
    responses=errors(403),
)
async def list_dead_letters(
    request: Request,
    caller: Caller,
    band: Priority | None = None,
    side: SideQueue | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeadLetterList:
    """The oldest messages of the side queues of ``band`` (default: every band) and
    ``side`` (``deadletter``, what either host gave up on; ``poison``, what the Functions
    host moved after ``maxDequeueCount`` deliveries; default both): at most 32 per queue
    (a peek shows no more) and ``limit`` in all, without taking them; and about how many
    each queue holds. Readers and operators."""
    check_sees_all(caller, "seeing the dead-letter queues")
    dead = await _dead_letters(request)
    bands = _BANDS if band is None else (band,)
    sides = _SIDES if side is None else (side,)
    queues = [(b, s) for b in bands for s in sides]
    try:
        async with asyncio.timeout(_PATIENCE):
            return await _listing(dead, queues, limit)
    except TimeoutError:
        raise StorageUnavailable(
            f"the queues took more than {_PATIENCE:.0f} s to answer; try later"
        ) from None


@router.post(
    "/dead-letters/{band}/{side}/{message_id}:requeue",
    response_model=DeadLetterView,
    name="requeue_dead_letter",
    operation_id="requeue_dead_letter",
    responses=errors(403, 404, described=_NOT_THERE),
)
async def requeue_dead_letter(
    band: Priority, side: SideQueue, message_id: _MESSAGE_ID, request: Request, caller: Caller
) -> DeadLetterView:
    """Move the message back to its band's queue, byte for byte, to be delivered again;
    the message as it was. Operators only."""
    check_operator(caller, "requeueing a dead letter")
    dead = await _dead_letters(request)
    return letter_view(await dead.requeue(band, message_id, side))


@router.delete(
    "/dead-letters/{band}/{side}/{message_id}",
    status_code=204,
    name="delete_dead_letter",
    operation_id="delete_dead_letter",
    responses=errors(403, 404, described=_NOT_THERE),
)
async def delete_dead_letter(
    band: Priority, side: SideQueue, message_id: _MESSAGE_ID, request: Request, caller: Caller
) -> Response:
    """Delete the message for good. Operators only."""
    check_operator(caller, "deleting a dead letter")
    dead = await _dead_letters(request)
    await dead.purge(band, message_id, side)
    return Response(status_code=204)
