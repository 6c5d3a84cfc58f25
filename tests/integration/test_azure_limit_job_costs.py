"""What a limited job costs in storage requests on Azure (Azurite), beside a job without one run
the same way: a place taken and given back by a host alone at its gate, a start of a rate,
a job parked and the wake-up that starts it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from queued_jobs.app import AzureStorage, JobApp
from queued_jobs.context import JobContext
from queued_jobs.execution.pipeline import Disposition, Pipeline
from queued_jobs.fairness import OwnerShare
from queued_jobs.limits import ConcurrencyLimit, RateLimit
from queued_jobs.models import JobStatus
from tests.integration.jobs import build_app
from tests.support.azurite import Azurite
from tests.support.counting import RequestCounter

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]

ONE = ConcurrencyLimit("costs-one", 1)
RATE = RateLimit("costs-rate", 100, per=timedelta(seconds=1))


@pytest.fixture
async def counted(
    azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[JobApp, RequestCounter, Any, dict[str, asyncio.Event]]]:
    monkeypatch.setenv("QJ_TEST_EVENTS", str(tmp_path / "events.log"))  # tests.work's
    counter = RequestCounter()
    suffix = uuid.uuid4().hex[:10]
    storage = AzureStorage(
        azurite.connection_string,
        table=f"limcost{suffix}",
        container=f"limcost{suffix}",
        client_options={"raw_request_hook": counter},
    )
    app = build_app(storage)
    holds: dict[str, asyncio.Event] = {}

    async def held(request: Any, context: JobContext) -> None:
        await holds.setdefault(context.job.id, asyncio.Event()).wait()

    async def quick(request: Any) -> None:
        return None

    app.job(held, name="costs.held", limits=[ONE])
    app.job(quick, name="costs.one", limits=[ONE])
    app.job(quick, name="costs.rate", limits=[RATE])
    app.job(quick, name="costs.plain")
    async with app.client() as client:
        await client.create_storage()
        yield app, counter, client, holds


async def cost(pipeline: Pipeline, counter: RequestCounter, client: Any, job_type: str) -> int:
    """Requests to claim, run and complete one job (its queue message handled apart)."""
    job = await client.queue_job(job_type, None, owner="o")
    counter.reset()
    handled = await pipeline.handle_job(job.id, job)
    assert handled.disposition is Disposition.ACK, handled.reason
    assert handled.job is not None
    assert handled.job.status is JobStatus.SUCCEEDED, handled.job.error
    return counter.total


async def test_a_place_costs_two_writes_to_a_host_alone_at_its_gate(
    counted: tuple[JobApp, RequestCounter, Any, dict[str, asyncio.Event]],
) -> None:
    app, counter, client, _ = counted
    pipeline = app.pipeline()
    try:
        await client.repository.message_key()
        await pipeline.repository.message_key()
        plain = await cost(pipeline, counter, client, "costs.plain")
        first = await cost(pipeline, counter, client, "costs.one")  # reads the gate, settings
        later = [await cost(pipeline, counter, client, "costs.one") for _ in range(3)]
        rate_first = await cost(pipeline, counter, client, "costs.rate")
        rate = await cost(pipeline, counter, client, "costs.rate")
    finally:
        await pipeline.repository.close()
        await pipeline.broker.close()
    print(f"requests: plain {plain}, limited first {first} then {later}, rate {rate_first} {rate}")

    assert later == [plain + 2] * 3  # take the place, give it back
    assert first == plain + 4  # and, once, read the gate and the limit's settings
    assert rate == plain + 1  # a start
    assert rate_first == plain + 3


async def test_a_parked_job_costs_its_park_and_its_wake_up(
    counted: tuple[JobApp, RequestCounter, Any, dict[str, asyncio.Event]],
) -> None:
    app, counter, client, holds = counted
    pipeline = app.pipeline()
    try:
        holder = await client.queue_job("costs.held", None, owner="o")
        running = asyncio.create_task(pipeline.handle_job(holder.id, holder))
        async with asyncio.timeout(30):
            while (await client.get_job(holder.id)).status is not JobStatus.RUNNING:  # noqa: ASYNC110 - a store read
                await asyncio.sleep(0.02)
        waiter = await client.queue_job("costs.one", None, owner="o")
        counter.reset()
        parked = await pipeline.handle_job(waiter.id, waiter)
        park = counter.total
        assert parked.reason.startswith("parked"), parked

        counter.reset()
        holds.setdefault(holder.id, asyncio.Event()).set()
        await running
        ended_and_woke = counter.total
    finally:
        await pipeline.repository.close()
        await pipeline.broker.close()
    print(f"requests: park {park}, holder's end with a wake-up {ended_and_woke}")

    assert park == 2  # the gate with the waiter's row (one transaction), the job's record
    # the holder's end (2 as any job, see above) and its place back: the gate, the waiter
    # found (one query), the wake-up message
    assert ended_and_woke <= 2 + 1 + 1 + 1


async def test_the_owner_share_costs_a_read_and_a_write_at_enqueue_and_at_the_claim(
    counted: tuple[JobApp, RequestCounter, Any, dict[str, asyncio.Event]],
) -> None:
    app, counter, plain_client, _ = counted
    plain_pipeline = app.pipeline()
    app.settings = replace(app.settings, owner_share=OwnerShare(2))
    pipeline = app.pipeline()
    try:
        async with app.client() as client:
            for warmed in (client, plain_client, pipeline, plain_pipeline):
                await warmed.repository.message_key()

            async def enqueue(owner: str, client: Any = client) -> tuple[int, str, str]:
                counter.reset()
                job = await client.queue_job("costs.plain", None, owner=owner)
                return counter.total, job.queue, job.id

            async def run(job_id: str, pipeline: Pipeline = pipeline) -> int:
                counter.reset()
                handled = await pipeline.handle_job(job_id)
                await pipeline.settle()  # the place given back, beside the run
                assert handled.disposition is Disposition.ACK, handled.reason
                return counter.total

            plain, _, plain_id = await enqueue("p", plain_client)
            _, _, plain_again = await enqueue("p", plain_client)
            first = await enqueue("a")  # reads the share's settings once
            admitted = await enqueue("a")
            spilled = await enqueue("a")
            await run(plain_id, plain_pipeline)
            plain_run = await run(plain_again, plain_pipeline)
            shared_run = [await run(first[2]), await run(admitted[2]), await run(spilled[2])]
    finally:
        for opened in (pipeline, plain_pipeline):
            await opened.repository.close()
            await opened.broker.close()
    print(
        f"requests: enqueue plain {plain}, shared {first} then {admitted}, spilled {spilled}; "
        f"run plain {plain_run}, shared {shared_run}"
    )

    assert admitted[:2] == (plain + 2, "jobs")  # the owner's gate read and written
    assert first[:2] == (plain + 3, "jobs")  # and the share's settings, once in 5 s
    assert spilled[:2] == (plain + 1, "jobs-over")  # the gate read: no place, no write
    # the gate read and written as an admitted job is claimed; nothing for a spilled one
    assert shared_run == [plain_run + 2, plain_run + 2, plain_run]
