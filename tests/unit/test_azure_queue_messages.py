"""Turning what Azure returns into queue messages: any content, one message at a time."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from azure.storage.queue import QueueMessage as AzureMessage

from queued_jobs.queues.azure_queue import AzureJobQueue, AzureQueueBroker, decoded_body


@pytest.mark.parametrize(
    ("content", "body"),
    [
        (base64.b64encode("ünïcode ✓".encode()).decode(), "ünïcode ✓"),
        ("héllo ☃", "héllo ☃"),
        ('{"v":1,"id":"ジョブ"}', '{"v":1,"id":"ジョブ"}'),
        ("abcd", "abcd"),  # base64 of bytes that are not UTF-8
        ("not base64!", "not base64!"),
        ("\x00\ud800", "\x00\ud800"),
        ("", ""),
        (None, ""),
        (b"bytes", ""),
    ],
)
def test_any_content_decodes_to_a_body_without_raising(content: object, body: str) -> None:
    assert decoded_body(content) == body


@pytest.fixture
async def queue() -> AsyncIterator[AzureJobQueue]:
    broker = AzureQueueBroker.from_connection("UseDevelopmentStorage=true")  # never reached
    yield broker.queue("jobs")
    await broker.close()


def received(**fields: object) -> AzureMessage:
    now = datetime.now(UTC)
    message = AzureMessage(content=fields.pop("content", "héllo ☃"))
    message.id = "m-1"
    message.pop_receipt = "r"
    message.dequeue_count = 1
    message.inserted_on = now
    message.next_visible_on = now
    for name, value in fields.items():
        setattr(message, name, value)
    return message


@pytest.mark.asyncio
async def test_a_received_message_keeps_its_wire_form(queue: AzureJobQueue) -> None:
    message = queue._public(received())

    assert message is not None
    assert (message.body, message.wire, message.dequeue_count) == ("héllo ☃", "héllo ☃", 1)


@pytest.mark.asyncio
async def test_a_message_returned_without_its_lease_is_skipped_not_raised(
    queue: AzureJobQueue,
) -> None:
    assert queue._public(received(pop_receipt=None)) is None
    assert queue._public(received(next_visible_on=None)) is None
