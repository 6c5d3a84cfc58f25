"""The Azure queue adapter on the wire: base64 bodies, foreign bodies, requests per call."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import pytest
from azure.core.pipeline import PipelineRequest
from azure.core.rest import HttpRequest
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from queued_jobs.queues.azure_queue import AzureJobQueue, AzureQueueBroker
from tests.support.azurite import Azurite

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]

BODY = '{"job_id": "j-1", "note": "ünïcode ✓ / + = "}'


class RequestCounter:
    """Records every HTTP request the storage pipeline sends, as ``METHOD url``.

    Installed as the storage SDK's ``raw_request_hook``: its clients ignore azure-core's
    ``per_call_policies``, and the hook runs for every request actually sent (retries too).
    """

    def __init__(self) -> None:
        self.requests: list[str] = []

    def __call__(self, request: PipelineRequest[HttpRequest]) -> None:
        self.requests.append(f"{request.http_request.method} {request.http_request.url}")


@pytest.fixture
def counter() -> RequestCounter:
    return RequestCounter()


@pytest.fixture
async def broker(azurite: Azurite, counter: RequestCounter) -> AsyncIterator[AzureQueueBroker]:
    service = QueueServiceClient.from_connection_string(
        azurite.connection_string, raw_request_hook=counter
    )
    broker = AzureQueueBroker(service)
    yield broker
    await broker.close()


@pytest.fixture
async def queue(broker: AzureQueueBroker) -> AzureJobQueue:
    queue = broker.queue(f"enc{uuid.uuid4().hex[:12]}")
    await queue.create()
    return queue


def foreign_client(azurite: Azurite, queue: AzureJobQueue, **policies: object) -> QueueClient:
    """A client of another application on the same queue, with its own encoding policies."""
    return QueueClient.from_connection_string(
        azurite.connection_string,
        queue.name,
        **policies,  # type: ignore[arg-type]
    )


async def test_a_sent_body_is_base64_of_its_utf8_bytes_on_the_wire(
    azurite: Azurite, queue: AzureJobQueue
) -> None:
    await queue.send(BODY)

    async with foreign_client(azurite, queue) as raw:
        [wire] = await raw.peek_messages()

    assert wire.content != BODY
    assert base64.b64decode(wire.content, validate=True).decode("utf-8") == BODY


async def test_a_sent_body_is_read_by_a_client_that_decodes_base64_like_the_functions_host(
    azurite: Azurite, queue: AzureJobQueue
) -> None:
    await queue.send(BODY)

    async with foreign_client(
        azurite, queue, message_decode_policy=TextBase64DecodePolicy()
    ) as reader:
        [message] = await reader.peek_messages()

    assert message.content == BODY


@pytest.mark.parametrize(
    "plain",
    [
        "plain text, not base64",
        '{"job_id": "j-2"}',
        "abcd",  # valid base64, but of bytes that are not UTF-8
        "héllo ☃",  # not ASCII, so not base64
        '{"v":1,"id":"ジョブ"}',
    ],
)
async def test_a_plain_text_body_from_another_sender_is_received_as_it_is(
    azurite: Azurite, queue: AzureJobQueue, plain: str
) -> None:
    async with foreign_client(azurite, queue) as sender:
        await sender.send_message(plain)

    [message] = await queue.receive()

    assert (message.body, message.wire) == (plain, plain)


async def test_a_plain_non_ascii_body_in_a_batch_leaves_the_others_readable(
    azurite: Azurite, queue: AzureJobQueue
) -> None:
    await queue.send(BODY)
    async with foreign_client(azurite, queue) as sender:
        await sender.send_message("héllo ☃")
    await queue.send("last")

    received = await queue.receive()

    assert [m.body for m in received] == [BODY, "héllo ☃", "last"]
    assert await queue.receive() == []


async def test_a_foreign_body_over_the_size_limit_is_dead_lettered_byte_for_byte(
    azurite: Azurite, queue: AzureJobQueue
) -> None:
    huge = "ü" + "x" * 60_000  # fits Azure's 64 KiB as plain text; over the 48 KiB of a body
    async with foreign_client(azurite, queue) as sender:
        await sender.send_message(huge)
    [message] = await queue.receive()

    await queue.dead_letter(message)

    assert await queue.depth() == 0
    async with foreign_client(azurite, queue.dead_letter_queue()) as raw:
        [kept] = await raw.peek_messages()
    assert kept.content == huge


async def test_dead_lettering_copies_the_base64_wire_form_unchanged(
    azurite: Azurite, queue: AzureJobQueue
) -> None:
    await queue.send(BODY)
    async with foreign_client(azurite, queue) as raw:
        [sent] = await raw.peek_messages()
    [message] = await queue.receive()

    await queue.dead_letter(message)

    async with foreign_client(azurite, queue.dead_letter_queue()) as raw:
        [kept] = await raw.peek_messages()
    assert kept.content == sent.content == message.wire


async def test_dead_letter_and_create_cost_three_requests_and_a_side_queue_one(
    broker: AzureQueueBroker, counter: RequestCounter
) -> None:
    queue = broker.queue(f"enc{uuid.uuid4().hex[:12]}")
    counter.requests.clear()
    await queue.create()
    assert len(counter.requests) == 3, counter.requests  # the queue, -poison, -deadletter
    counter.requests.clear()
    await queue.dead_letter_queue().create()
    assert len(counter.requests) == 1, counter.requests  # no -deadletter-poison

    await queue.send(BODY)
    [message] = await queue.receive()
    counter.requests.clear()
    await queue.dead_letter(message)
    assert len(counter.requests) == 3, counter.requests  # renew, copy, delete


async def test_a_body_sent_with_the_sdk_base64_policy_is_received_decoded(
    azurite: Azurite, queue: AzureJobQueue
) -> None:
    async with foreign_client(
        azurite, queue, message_encode_policy=TextBase64EncodePolicy()
    ) as sender:
        await sender.send_message(BODY)

    [message] = await queue.receive()

    assert message.body == BODY


async def test_a_batch_receive_is_one_request_and_send_and_ack_are_one_each(
    queue: AzureJobQueue, counter: RequestCounter
) -> None:
    counter.requests.clear()
    await queue.send(BODY)
    assert len(counter.requests) == 1, counter.requests
    for i in range(39):
        await queue.send(f"m{i}")

    counter.requests.clear()
    received = await queue.receive(max_messages=32)
    assert len(received) == 32
    assert len(counter.requests) == 1, counter.requests

    counter.requests.clear()
    await queue.ack(received[0])
    assert len(counter.requests) == 1, counter.requests
