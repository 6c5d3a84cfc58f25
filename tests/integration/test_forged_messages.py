"""Through the worker on SQLite and on Azurite: a copy of a job's message with another
snapshot (same id, version and signature) runs the job as its record says, and leaves the
record as it was."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from queued_jobs.client import JobClient
from queued_jobs.models import JobStatus
from tests.integration.conftest import Backend
from tests.integration.jobs import events

pytestmark = pytest.mark.asyncio


async def test_a_forged_snapshot_changes_neither_what_runs_nor_the_record(
    backend: Backend,
    run_worker: Callable[..., Awaitable[None]],
    client_of: Callable[[Any], Awaitable[Any]],
) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.work", {}, owner="alice", max_attempts=2)
    queue = client.broker.queue(job.queue)
    [message] = await queue.receive()
    await queue.ack(message)  # only the attacker's copy is left
    body = json.loads(message.body)
    body["job"].update(request={"permanent": True}, max_attempts=99, tags=["vip"])
    await queue.send(json.dumps(body))

    async def finished() -> bool:
        return (await client.get_job(job.id)).is_terminal

    await run_worker(app, finished)

    done = await client.get_job(job.id)
    assert (done.status, done.result) == (JobStatus.SUCCEEDED, {"attempt": 1})
    assert (done.request, done.max_attempts, done.tags) == (job.request, 2, ())
    assert events(backend.events, "done", job.id) == [1]
