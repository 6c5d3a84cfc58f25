"""The worker meets bodies other producers put on its queues, on Azurite: it keeps each one
whole in the band's dead-letter queue and keeps running the jobs around them."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from azure.storage.queue.aio import QueueClient

from queued_jobs.client import JobClient
from queued_jobs.models import JobStatus
from tests.integration.conftest import Backend

pytestmark = pytest.mark.asyncio

RunWorker = Callable[..., Awaitable[None]]
ClientOf = Callable[[Any], Awaitable[Any]]

FOREIGN = [
    "héllo ☃",
    '{"v":1,"id":"ジョブ"}',
    "ü" + "x" * 60_000,  # over the 48 KiB a body may have, within Azure's 64 KiB
    "[" * 40_000,  # within the size limit, far past any recursion limit
    "[" * 60_000,
]


async def run_around(
    backend: Backend,
    run_worker: RunWorker,
    client_of: ClientOf,
    send_foreign: Callable[[str], Awaitable[int]],
) -> JobClient:
    """Queue a job, let ``send_foreign(band)`` put foreign messages on the band (it returns
    how many), queue another job, and run a worker until both jobs ended and every foreign
    message is in the band's dead-letter queue; both jobs must have succeeded."""
    app = backend.app()
    client: JobClient = await client_of(app)
    band = client.queues.base
    first = await client.queue_job("tests.work", {}, owner="alice")
    foreign = await send_foreign(band)
    second = await client.queue_job("tests.work", {}, owner="bob")
    dead_letters = client.broker.queue(band).dead_letter_queue()

    async def settled() -> bool:
        jobs = [await client.get_job(job.id) for job in (first, second)]
        return all(j.is_terminal for j in jobs) and await dead_letters.depth() == foreign

    await run_worker(app, settled)

    assert [(await client.get_job(j.id)).status for j in (first, second)] == [
        JobStatus.SUCCEEDED
    ] * 2
    return client


@pytest.mark.azurite
@pytest.mark.parametrize("backend", ["azure"], indirect=True)  # plain-text producers
async def test_foreign_bodies_are_dead_lettered_whole_and_the_jobs_beside_them_run(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    async def send(band: str) -> int:
        async with QueueClient.from_connection_string(backend.env["QJ_TEST_AZURE"], band) as raw:
            for body in FOREIGN:
                await raw.send_message(body)
        return len(FOREIGN)

    client = await run_around(backend, run_worker, client_of, send)
    band = client.queues.base
    dead_letters = client.broker.queue(band).dead_letter_queue()
    assert await client.broker.queue(band).depth() == 0
    async with QueueClient.from_connection_string(
        backend.env["QJ_TEST_AZURE"], dead_letters.name
    ) as raw:
        kept = [m.content async for m in raw.receive_messages(max_messages=32)]
    assert sorted(kept) == sorted(FOREIGN)
    assert await client.broker.queue(band).poison_queue().depth() == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_rows_with_bodies_that_are_not_text_are_dead_lettered_as_they_are(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    # Another program writes rows straight into the messages table: SQLite takes any type.
    foreign: list[object] = [b"\xff\xfe not UTF-8", 42, 2.5, b""]

    async def send(band: str) -> int:
        with sqlite3.connect(backend.env["QJ_TEST_SQLITE"]) as connection:
            for index, body in enumerate(foreign):  # (the TEXT column makes numbers text)
                connection.execute(
                    "INSERT INTO messages (id, queue, body, inserted_at, visible_at) "
                    "VALUES (?, ?, ?, 0, 0)",
                    (f"foreign-{index}", band, body),
                )
        return len(foreign)

    client = await run_around(backend, run_worker, client_of, send)
    dead_letters = client.broker.queue(client.queues.base).dead_letter_queue()
    with sqlite3.connect(backend.env["QJ_TEST_SQLITE"]) as connection:
        kept = connection.execute(
            "SELECT body FROM messages WHERE queue = ?", (dead_letters.name,)
        ).fetchall()
    # The rows themselves, unchanged: blobs stay blobs.
    assert sorted(map(repr, (body for (body,) in kept))) == sorted(
        map(repr, [b"\xff\xfe not UTF-8", "42", "2.5", b""])
    )
