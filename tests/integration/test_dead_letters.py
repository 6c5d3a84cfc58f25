"""The dead-letter API on SQLite and on Azurite: list, show, requeue and purge a band's
side queues, by id, beyond the 32 messages Azure can peek."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.client import JobClient
from queued_jobs.dead_letters import DeadLetters, SideQueue
from queued_jobs.errors import QueueMessageNotFound
from queued_jobs.models import JobStatus, Priority
from tests.integration.conftest import Backend

pytestmark = pytest.mark.asyncio

ClientOf = Callable[[Any], Awaitable[Any]]


async def dead_letter(client: JobClient, band: str, *bodies: str) -> list[str]:
    """Put ``bodies`` on ``band`` and dead-letter each, as a worker does; their ids."""
    queue = client.broker.queue(band)
    for body in bodies:
        await queue.send(body)
    ids = []
    while batch := await queue.receive():
        for message in batch:
            await queue.dead_letter(message)
            ids.append(message.id)
    return ids


async def test_dead_letters_are_listed_shown_and_purged_by_id_beyond_the_first_32(
    backend: Backend, client_of: ClientOf
) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    dead = DeadLetters(client.broker, app.queues)
    await dead_letter(client, app.queues.base, *(f"body {i} ✓" for i in range(40)))
    ids = [letter.id for letter in await dead.list(Priority.NORMAL)]
    assert len(ids) == 32
    everything = await client.broker.queue(app.queues.base).dead_letter_queue().peek()
    assert len(everything) == 32  # Azure peeks no more: the others are found by receiving

    listed = await dead.list(Priority.NORMAL, limit=3)
    assert [letter.body for letter in listed] == ["body 0 ✓", "body 1 ✓", "body 2 ✓"]
    shown = await dead.show(Priority.NORMAL, ids[5])
    assert (shown.body, shown.queue, shown.side) == (
        "body 5 ✓",
        app.queues.base + "-deadletter",
        SideQueue.DEAD_LETTER,
    )
    last = await _id_of(client, app.queues.base, "body 39 ✓")
    assert (await dead.show(Priority.NORMAL, last)).body == "body 39 ✓"
    assert await dead.purge(Priority.NORMAL, last) == 1
    with pytest.raises(QueueMessageNotFound):
        await dead.show(Priority.NORMAL, last)
    with pytest.raises(QueueMessageNotFound):
        await dead.requeue(Priority.HIGH, ids[0])  # another band's
    assert await dead.purge(Priority.NORMAL) >= 1
    assert await dead.count(Priority.NORMAL) == 0


async def test_requeue_sends_a_dead_letter_back_byte_for_byte_and_its_job_runs(
    backend: Backend, client_of: ClientOf, run_worker: Callable[..., Awaitable[None]]
) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    dead = DeadLetters(client.broker, app.queues)
    band = app.queues.for_priority(Priority.LOW)
    job = await client.queue_job("tests.work", {}, owner="alice", priority="low")
    queue = client.broker.queue(band)
    [message] = await queue.receive()
    await queue.dead_letter(message)  # as if its job record could not be read for a while

    [letter] = await dead.list(Priority.LOW)  # a dead letter has an id of its own
    requeued = await dead.requeue(Priority.LOW, letter.id)

    assert (requeued.body, requeued.wire) == (message.body, message.wire)
    assert await dead.count(Priority.LOW) == 0
    [back] = await queue.peek()
    assert (back.body, back.wire) == (message.body, message.wire)

    async def done() -> bool:
        return (await client.get_job(job.id)).is_terminal

    await run_worker(app, done)
    assert (await client.get_job(job.id)).status is JobStatus.SUCCEEDED


async def test_poison_messages_are_read_from_the_poison_queue(
    backend: Backend, client_of: ClientOf
) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    dead = DeadLetters(client.broker, app.queues)
    high = app.queues.for_priority(Priority.HIGH)
    await client.broker.queue(high).poison_queue().send("poisoned")

    [letter] = await dead.list(Priority.HIGH, SideQueue.POISON)
    assert (letter.body, letter.queue) == ("poisoned", high + "-poison")
    assert await dead.list(Priority.HIGH) == []
    await dead.requeue(Priority.HIGH, letter.id, SideQueue.POISON)
    assert [m.body for m in await client.broker.queue(high).peek()] == ["poisoned"]


async def _id_of(client: JobClient, band: str, body: str) -> str:
    """The id of a dead letter past the first 32, found as an operator would not: by
    receiving everything once (then letting it all go)."""
    queue = client.broker.queue(band).dead_letter_queue()
    seen = []
    while batch := await queue.receive():
        seen.extend(batch)
    for message in seen:
        await queue.renew(message, visibility_timeout=timedelta(0))
    [wanted] = [m.id for m in seen if m.body == body]
    return wanted
