"""The Azure queue adapter's errors and lease edges, on Azurite."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from azure.storage.queue.aio import QueueClient

from queued_jobs.errors import ConfigurationError, LeaseLost
from queued_jobs.queues.azure_queue import AzureJobQueue, AzureQueueBroker
from queued_jobs.queues.base import QueueMessage
from tests.support.azurite import Azurite
from tests.support.waiting import PATIENCE

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]

SECOND = timedelta(seconds=1)


def unique_name() -> str:
    return f"err{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def broker(azurite: Azurite) -> AsyncIterator[AzureQueueBroker]:
    broker = AzureQueueBroker.from_connection(azurite.connection_string)
    yield broker
    await broker.close()


async def test_using_a_queue_that_was_never_created_says_which_and_what_to_do(
    broker: AzureQueueBroker,
) -> None:
    queue = broker.queue(unique_name())

    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: queue.send("x"),
        queue.receive,
        queue.depth,
    ]
    for call in calls:
        with pytest.raises(ConfigurationError, match=rf"{queue.name}.*call create\(\)"):
            await call()


async def test_creating_twice_is_harmless_and_makes_the_poison_queue(
    broker: AzureQueueBroker,
) -> None:
    queue = broker.queue(unique_name())

    await queue.create()
    await queue.create()

    assert await queue.depth() == 0
    assert await queue.poison_queue().depth() == 0


async def test_a_queue_name_gives_the_same_queue_on_the_shared_client(
    broker: AzureQueueBroker,
) -> None:
    name = unique_name()
    queue = broker.queue(name)

    assert broker.queue(name) is queue
    assert queue.poison_queue() is broker.queue(f"{name}-poison")


async def received_once_visible(queue: AzureJobQueue) -> list[QueueMessage]:
    """Receive until a message comes back (its lease ended), within a generous bound."""
    deadline = asyncio.get_running_loop().time() + PATIENCE
    while not (batch := await queue.receive()):
        assert asyncio.get_running_loop().time() < deadline, "no message came back"
        await asyncio.sleep(0.1)
    return batch


async def test_dead_lettering_without_the_lease_copies_nothing(broker: AzureQueueBroker) -> None:
    queue = broker.queue(unique_name())
    await queue.create()
    await queue.send("work")
    [stale] = await queue.receive(visibility_timeout=SECOND)
    [current] = await received_once_visible(queue)

    with pytest.raises(LeaseLost):
        await queue.dead_letter(stale)

    assert await queue.dead_letter_queue().depth() == 0
    await queue.dead_letter(current)
    assert [m.body for m in await queue.dead_letter_queue().receive()] == ["work"]
    assert await queue.depth() == 0


async def test_received_times_are_utc_and_the_lease_ends_when_asked(
    broker: AzureQueueBroker,
) -> None:
    queue = broker.queue(unique_name())
    await queue.create()
    await queue.send("work")

    [leased] = await queue.receive(visibility_timeout=SECOND)

    assert await queue.receive() == []
    assert leased.visible_at - leased.inserted_at <= 2 * SECOND
    assert leased.inserted_at.utcoffset() == leased.visible_at.utcoffset() == timedelta(0)


async def test_dead_lettering_creates_a_missing_dead_letter_queue_rather_than_fail(
    azurite: Azurite, broker: AzureQueueBroker
) -> None:
    queue = broker.queue(unique_name())
    await queue.create()
    dead_letters = queue.dead_letter_queue().name
    async with QueueClient.from_connection_string(azurite.connection_string, dead_letters) as raw:
        await raw.delete_queue()  # as on an account set up before dead-letter queues
    await queue.send("work")
    [message] = await queue.receive()

    await queue.dead_letter(message)

    assert [m.body for m in await queue.dead_letter_queue().receive()] == ["work"]
    assert await queue.depth() == 0
