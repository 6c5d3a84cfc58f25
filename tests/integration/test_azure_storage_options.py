"""``AzureStorage(client_options=...)`` reaches every Azure SDK client the storage builds."""

from __future__ import annotations

import uuid

import pytest

from queued_jobs import AzureStorage, JobApp
from tests.support.azurite import Azurite
from tests.support.counting import RequestCounter

pytestmark = pytest.mark.azurite


async def test_client_options_reach_the_table_queue_and_blob_clients(azurite: Azurite) -> None:
    counter = RequestCounter()
    name = f"opts{uuid.uuid4().hex[:10]}"
    app = JobApp(
        AzureStorage(
            azurite.connection_string, table=name, client_options={"raw_request_hook": counter}
        )
    )
    app.job(name="noop")(lambda request: None)
    files = app.files(name)
    async with app.client() as client:
        await client.create_storage()
        await client.repository.message_key()  # read once per process, then kept
        counter.reset()
        await client.queue_job("noop", None, owner="ada")
        queued = counter.total
        await files.create()
        counter.reset()
        await files.write("a.txt", b"a")
        written = counter.total
    await files.close()

    assert queued == 2  # the job's insert and its message
    assert written == 1
