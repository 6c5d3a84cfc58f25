"""What a command job costs in storage requests on Azure (Azurite), beside a function job
run the same way: nothing for a quiet program, one record write for output that arrives
within a second, and an upload and a link for output kept in the file store."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from queued_jobs.app import AzureStorage, JobApp
from queued_jobs.commands import Command, Output
from queued_jobs.execution.pipeline import Disposition
from tests.integration.jobs import build_app
from tests.support.azurite import Azurite
from tests.support.counting import RequestCounter

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]

QUIET = "import sys; sys.exit(0)"
CHATTY = "print('one'); print('two'); print('three')"


@pytest.fixture
async def counted_app(
    azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[JobApp, RequestCounter, Any]]:
    monkeypatch.setenv("QJ_TEST_EVENTS", str(tmp_path / "events.log"))  # tests.work's
    counter = RequestCounter()
    suffix = uuid.uuid4().hex[:10]
    storage = AzureStorage(
        azurite.connection_string,
        table=f"cmdcost{suffix}",
        container=f"cmdcost{suffix}",
        client_options={"raw_request_hook": counter},
    )
    app = build_app(storage)
    store = app.files(f"cmdout{suffix}")
    for name, script, output in [
        ("costs.quiet", QUIET, Output()),
        ("costs.chatty", CHATTY, Output()),
        ("costs.stored", CHATTY, Output(store=store)),
    ]:
        app.add(Command(job_type=name, program=sys.executable, args=["-c", script], output=output))
    async with app.client() as client:
        await client.create_storage()
        await store.create()
        yield app, counter, client
    await store.close()


async def run_cost(app: JobApp, counter: RequestCounter, client: Any, job_type: str) -> int:
    """Requests to claim, run and complete one job (its queue message handled apart)."""
    job = await client.queue_job(job_type, None if job_type != "tests.work" else {}, owner="o")
    pipeline = app.pipeline()
    try:
        counter.reset()
        handled = await pipeline.handle_job(job.id, job)
        assert handled.disposition is Disposition.ACK, handled.reason
        assert handled.job is not None
        assert handled.job.status.value == "succeeded", handled.job.error
        return counter.total
    finally:
        await pipeline.repository.close()
        await pipeline.broker.close()


async def test_a_command_job_costs_what_a_function_job_costs_plus_what_its_output_needs(
    counted_app: tuple[JobApp, RequestCounter, Any],
) -> None:
    app, counter, client = counted_app
    function = await run_cost(app, counter, client, "tests.work")
    quiet = await run_cost(app, counter, client, "costs.quiet")
    chatty = await run_cost(app, counter, client, "costs.chatty")
    stored = await run_cost(app, counter, client, "costs.stored")
    print(f"requests: function {function}, quiet {quiet}, chatty {chatty}, stored {stored}")

    assert quiet == function
    assert chatty == function + 1  # the first line is written at once, the rest at the end
    # one upload, and the link's check that the file is there (signed with the account key)
    assert stored == chatty + 2
