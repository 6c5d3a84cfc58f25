"""The sequence engine in memory: what it refuses before storing anything, what a job
that merely names a sequence can do to it (nothing), and a listener that never raises."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import BaseModel

from queued_jobs import JobApp, MemoryStorage
from queued_jobs.client import JobClient
from queued_jobs.errors import InvalidSequence, StorageUnavailable
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.sequences.engine import SequenceEngine
from queued_jobs.sequences.listener import SequenceListener


class Strict(BaseModel):
    n: int


@pytest.fixture
async def client() -> Any:
    app = JobApp(MemoryStorage())

    @app.job(name="strict")
    async def strict(request: Strict) -> int:
        return request.n

    async with app.client() as made:
        yield made


async def test_a_start_that_cannot_run_is_refused_and_nothing_is_stored(
    client: JobClient,
) -> None:
    engine = SequenceEngine(client)
    for steps, said in [
        ([{"jobs": [{"job_type": "nope", "request": {"n": 1}}]}], "nope"),
        ([{"jobs": [{"job_type": "strict", "request": {"n": "x"}}]}], "step 0: invalid request"),
        ([{"jobs": [{"job_type": "strict", "request": {"n": 1}}], "on_mixed": "goto:1"}],
         "goes to step 1"),
        ([{"jobs": [{"job_type": "strict", "request": {"n": 1}}]}] * 101, "at most 100"),
        ([{"jobs": [{"job_type": "strict", "request": [[[[1]]]] * 10_000}]}], "32,768"),
    ]:  # fmt: skip
        with pytest.raises(InvalidSequence, match=said):
            await engine.start(owner="ada", name="n", steps=steps)
    assert (await client.repository.sequences.list_sequences()).items == []
    assert (await client.list_jobs()).items == []


async def test_a_job_that_only_names_a_sequence_changes_nothing(client: JobClient) -> None:
    engine = SequenceEngine(client)
    started = await engine.start(
        owner="ada", name="n", steps=[{"jobs": [{"job_type": "strict", "request": {"n": 1}}]}]
    )
    forged = await client.queue_job(
        "strict", {"n": 2}, owner="mallory", custom_data={"sequence": {"id": started.id}}
    )
    now = client.clock.now()
    ended = forged.transition(JobStatus.RUNNING, now=now).transition(
        JobStatus.SUCCEEDED, now=now, completed_at=now
    )

    assert await engine.job_ended(ended) == await engine.store.get_sequence(started.id)
    assert (await engine.store.get_sequence(started.id)).version == started.version
    for custom in ({"sequence": "x"}, {"sequence": {"id": 7}}, {"sequence": {"id": "../x"}}):
        odd = ended.model_copy(update={"custom_data": custom})
        assert await engine.job_ended(odd) is None


class Broken(SequenceEngine):
    async def job_ended(self, job: QueuedJob) -> None:
        raise StorageUnavailable("the store is down")


async def test_the_listener_logs_what_fails_and_never_raises(
    client: JobClient, caplog: pytest.LogCaptureFixture
) -> None:
    job = await client.queue_job(
        "strict", {"n": 1}, owner="ada", custom_data={"sequence": {"id": "0" * 29}}
    )
    now = client.clock.now()
    ended = job.transition(JobStatus.FAILED, now=now, completed_at=now)

    with caplog.at_level(logging.ERROR, "queued_jobs.sequences"):
        await SequenceListener(Broken(client))(ended)
        await SequenceListener(Broken(client))(job)  # not ended: not even tried

    assert caplog.text.count("the sweep will") == 1
    await SequenceListener(SequenceEngine(client))(ended)  # no such sequence: quiet
