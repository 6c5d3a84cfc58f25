"""The JobQueue contract: every adapter passes these tests unchanged.

Leases and delays are whole seconds (as on Azure); time passes through ``queues.advance``,
which moves a manual clock, or, against Azurite, really waits.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from queued_jobs.errors import InvalidDelay, InvalidInput, LeaseLost, MessageTooLarge
from queued_jobs.queues.base import MAX_BODY_BYTES, QueueMessage

from .conftest import QueueHarness

pytestmark = pytest.mark.asyncio

SECOND = timedelta(seconds=1)


async def drain(queue: object, *, lease: timedelta = 30 * SECOND) -> list[QueueMessage]:
    received: list[QueueMessage] = []
    while batch := await queue.receive(visibility_timeout=lease):  # type: ignore[attr-defined]
        received.extend(batch)
    return received


async def test_a_sent_message_is_received_once_with_its_body_and_a_dequeue_count(
    queues: QueueHarness,
) -> None:
    queue = await queues.open()
    body = '{"job_id": "x", "note": "ünïcode ✓"}'

    message_id = await queue.send(body)
    received = await queue.receive(visibility_timeout=30 * SECOND)

    assert [(m.id, m.body, m.dequeue_count) for m in received] == [(message_id, body, 1)]
    assert received[0].receipt
    assert received[0].visible_at > received[0].inserted_at
    assert await queue.receive() == []  # leased: invisible to everyone else


async def test_a_batch_receive_returns_at_most_the_requested_count_in_send_order(
    queues: QueueHarness,
) -> None:
    queue = await queues.open()
    for i in range(40):
        await queue.send(f"m{i}")

    first = await queue.receive(max_messages=32)
    rest = await queue.receive(max_messages=32)

    assert len(first) == 32
    assert sorted(m.body for m in first + rest) == sorted(f"m{i}" for i in range(40))
    assert await queue.depth() == 40


async def test_two_receivers_never_hold_the_same_message_at_once(queues: QueueHarness) -> None:
    first, second = await queues.open(), await queues.open()
    for i in range(60):
        await first.send(f"m{i}")

    got_first, got_second = await asyncio.gather(drain(first), drain(second))

    ids_first = {m.id for m in got_first}
    ids_second = {m.id for m in got_second}
    assert not ids_first & ids_second
    assert len(ids_first | ids_second) == 60
    assert len(got_first) + len(got_second) == 60


async def test_an_expired_lease_makes_the_message_visible_again_to_another_receiver(
    queues: QueueHarness,
) -> None:
    first, second = await queues.open(), await queues.open()
    await first.send("work")
    [leased] = await first.receive(visibility_timeout=SECOND)

    await queues.advance(2.2)
    [again] = await second.receive(visibility_timeout=30 * SECOND)

    assert (again.id, again.body, again.dequeue_count) == (leased.id, "work", 2)
    assert again.receipt != leased.receipt
    with pytest.raises(LeaseLost):
        await first.renew(leased, visibility_timeout=30 * SECOND)
    await first.ack(leased)  # stale receipt: must not delete the other receiver's message
    assert await first.depth() == 1
    await second.ack(again)
    assert await first.depth() == 0


async def test_renewing_a_lease_keeps_the_message_hidden_and_zero_releases_it(
    queues: QueueHarness,
) -> None:
    queue = await queues.open()
    await queue.send("long job")
    [leased] = await queue.receive(visibility_timeout=SECOND)

    renewed = await queue.renew(leased, visibility_timeout=30 * SECOND)
    await queues.advance(2.2)
    assert await queue.receive() == []

    released = await queue.renew(renewed, visibility_timeout=timedelta(0))
    [back] = await queue.receive()
    assert back.id == released.id == leased.id
    assert back.dequeue_count == 2


async def test_ack_deletes_and_acking_twice_is_harmless(queues: QueueHarness) -> None:
    queue = await queues.open()
    await queue.send("one")
    [message] = await queue.receive()

    await queue.ack(message)
    await queue.ack(message)

    assert await queue.depth() == 0
    await queues.advance(1.2)
    assert await queue.receive(visibility_timeout=SECOND) == []


async def test_a_delayed_message_stays_invisible_until_its_delay_passes(
    queues: QueueHarness,
) -> None:
    queue = await queues.open()
    await queue.send("later", delay=2 * SECOND)
    await queue.send("now")

    [now] = await queue.receive()
    assert now.body == "now"
    assert await queue.receive() == []
    await queues.advance(2.5)
    [later] = await queue.receive()
    assert later.body == "later"


async def test_a_message_past_its_time_to_live_is_never_delivered(queues: QueueHarness) -> None:
    queue = await queues.open()
    await queue.send("short-lived", ttl=SECOND)
    await queue.send("forever")

    await queues.advance(2.2)

    assert [m.body for m in await drain(queue)] == ["forever"]


async def test_dead_lettering_moves_the_message_to_the_dead_letter_queue_not_the_poison_queue(
    queues: QueueHarness,
) -> None:
    queue = await queues.open()
    await queue.send("not json {")
    [message] = await queue.receive()

    await queue.dead_letter(message)

    assert await queue.depth() == 0
    dead_letters = queue.dead_letter_queue()
    assert dead_letters.name == queues.name + "-deadletter"
    [dead] = await dead_letters.receive()
    assert (dead.body, dead.wire, dead.dequeue_count) == ("not json {", message.wire, 1)
    assert await queue.poison_queue().depth() == 0


async def test_a_body_at_the_size_limit_is_dead_lettered_whole(queues: QueueHarness) -> None:
    queue = await queues.open()
    body = "é☃" * (MAX_BODY_BYTES // 5) + "x" * (MAX_BODY_BYTES % 5)  # the limit, in bytes
    await queue.send(body)
    [message] = await queue.receive()

    await queue.dead_letter(message)

    [dead] = await queue.dead_letter_queue().receive()
    assert dead.body == body


async def test_create_makes_both_side_queues_and_a_side_queue_is_a_queue_of_its_own(
    queues: QueueHarness,
) -> None:
    queue = await queues.open()

    assert await queue.poison_queue().depth() == 0
    assert await queue.dead_letter_queue().depth() == 0
    await queue.dead_letter_queue().send("kept")
    assert [m.body for m in await queue.dead_letter_queue().peek()] == ["kept"]
    assert await queue.depth() == 0


async def test_peek_shows_the_visible_messages_oldest_first_and_changes_nothing(
    queues: QueueHarness,
) -> None:
    queue = await queues.open()
    for body in ("one", "two ✓", "three"):
        await queue.send(body)
    [leased] = await queue.receive(max_messages=1)

    peeked = await queue.peek()

    assert [(m.body, m.dequeue_count) for m in peeked] == [("two ✓", 0), ("three", 0)]
    assert leased.id not in {m.id for m in peeked}
    assert [m.body for m in await queue.peek(max_messages=1)] == ["two ✓"]
    assert sorted(m.body for m in await queue.receive()) == ["three", "two ✓"]
    assert await queue.peek() == []


async def test_find_leases_a_message_by_id_anywhere_in_the_queue(queues: QueueHarness) -> None:
    queue = await queues.open()
    ids = [await queue.send(f"m{i}") for i in range(40)]

    found = await queue.find(ids[37], visibility_timeout=30 * SECOND)

    assert found is not None
    assert (found.id, found.body, found.dequeue_count) == (ids[37], "m37", 1)
    # The messages looked at on the way are visible again at once, not hidden by the search.
    assert len(await queue.peek()) == 32
    assert ids[37] not in {m.id for m in await queue.peek()}
    assert await queue.find("no-such-message") is None
    await queue.ack(found)
    assert await queue.depth() == 39


async def test_move_puts_the_message_on_another_queue_visible_at_once(
    queues: QueueHarness,
) -> None:
    queue = await queues.open()
    other = await queues.open(queues.name + "x")
    await queue.send("moving ✓")
    [message] = await queue.receive()

    await queue.move(message, other.name)

    assert await queue.depth() == 0
    [moved] = await other.receive()
    assert (moved.body, moved.wire, moved.dequeue_count) == ("moving ✓", message.wire, 1)
    assert moved.id != message.id  # a new message there (on Azure, a copy)
    with pytest.raises(LeaseLost):
        await queue.move(message, other.name)


async def test_send_wire_stores_a_wire_form_unchanged(queues: QueueHarness) -> None:
    queue = await queues.open()
    other = await queues.open(queues.name + "x")
    await queue.send('{"note": "ünïcode ✓"}')
    [message] = await queue.receive()

    await other.send_wire(message.wire)

    [copy] = await other.receive()
    assert (copy.body, copy.wire) == (message.body, message.wire)


async def test_clear_deletes_every_message_of_one_queue(queues: QueueHarness) -> None:
    queue = await queues.open()
    other = await queues.open(queues.name + "x")
    for i in range(3):
        await queue.send(f"m{i}")
    await other.send("stays")
    await queue.receive(max_messages=1)  # a leased message goes too

    await queue.clear()

    assert await queue.depth() == 0
    assert [m.body for m in await other.receive()] == ["stays"]


async def test_bad_input_is_refused_before_anything_is_sent(queues: QueueHarness) -> None:
    queue = await queues.open()

    with pytest.raises(MessageTooLarge):
        await queue.send("x" * (MAX_BODY_BYTES + 1))
    with pytest.raises(InvalidDelay):
        await queue.send("x", delay=timedelta(days=7, seconds=1))
    with pytest.raises(InvalidDelay):
        await queue.send("x", delay=10 * SECOND, ttl=5 * SECOND)
    with pytest.raises(InvalidDelay):
        await queue.send("x", delay=SECOND / 2, ttl=SECOND)  # both are one second on Azure
    with pytest.raises(InvalidInput):
        await queue.receive(max_messages=33)
    with pytest.raises(InvalidDelay):
        await queue.receive(visibility_timeout=timedelta(0))
    with pytest.raises(InvalidInput):
        await queues.open("Bad_Name")
    assert await queue.depth() == 0
    await queue.send("x" * MAX_BODY_BYTES)  # exactly at the limit fits
    assert [len(m.body) for m in await queue.receive()] == [MAX_BODY_BYTES]


async def test_a_lost_lease_can_neither_be_renewed_nor_dead_lettered(queues: QueueHarness) -> None:
    queue = await queues.open()
    await queue.send("job")
    [message] = await queue.receive()
    await queue.ack(message)

    with pytest.raises(LeaseLost):
        await queue.renew(message, visibility_timeout=30 * SECOND)
    with pytest.raises(LeaseLost):
        await queue.dead_letter(message)
    assert await queue.dead_letter_queue().depth() == 0
