"""What each schedule verb costs in storage requests on Azure, and where its rows live
(docs/design.md's tables)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs._azure import table_schedule_rows as rows
from queued_jobs.clock import ManualClock
from queued_jobs.errors import DuplicateSchedule, SlotAlreadyFired
from queued_jobs.models import new_job_id
from queued_jobs.repositories.azure_table import AzureTableJobRepository
from queued_jobs.schedules.model import Schedule, SlotMarker
from tests.integration.test_azure_table_costs import cost, counted
from tests.support.azurite import Azurite
from tests.support.counting import RequestCounter

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]
__all__ = ["counted"]  # the fixture, shared with the other cost tests

MINUTE = timedelta(minutes=1)
NOW = ManualClock().now()


def schedule(name: str, *, owner: str = "ada", **options: Any) -> Schedule:
    return Schedule.new(owner=owner, name=name, job_type="t", rule="every:PT1M", now=NOW, **options)


def marker(schedule_id: str, minutes: int) -> SlotMarker:
    slot = NOW - minutes * MINUTE
    return SlotMarker.of(schedule_id, slot, job_id=new_job_id("ada"), fired_by="h:1", fired_at=slot)


async def test_a_schedules_writes_cost_one_transaction_each_and_reads_one_request(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.schedules
    made = schedule("a", next_slot=NOW, request={"n": "x" * 30_000})

    stored = await store.insert_schedule(made)  # record, owner copy, due copy, name
    assert counter.by_method == {"POST": 1}
    assert await cost(counter, store.get_schedule(made.id)) == 1
    [due] = await store.list_due_schedules(now=NOW)
    moved = due.with_changes(next_slot=NOW + MINUTE, name="b")  # the due copy and name move
    assert await cost(counter, store.update_schedule(moved)) == 1
    [listed] = (await store.list_schedules(owner="ada")).items
    assert await cost(counter, store.update_schedule(listed.with_changes(paused=True))) == 1
    current = await store.get_schedule(stored.id)
    assert await cost(counter, store.update_schedule(current.with_changes(paused=False))) == 1
    counter.reset()
    with pytest.raises(DuplicateSchedule):
        await store.insert_schedule(stored)
    assert counter.total == 2  # the transaction, then a read of what holds the id


async def test_listings_cost_one_query_per_page(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.schedules
    for n in range(12):
        owner = "ada" if n % 2 else f"u{n}"
        await store.insert_schedule(schedule(f"s{n}", owner=owner, next_slot=NOW - n * MINUTE))

    assert await cost(counter, store.list_schedules(limit=5)) == 1
    assert await cost(counter, store.list_schedules(owner="ada", limit=5)) == 1
    counter.reset()
    due = await store.list_due_schedules(now=NOW, limit=10)
    assert counter.total == 1
    assert len(due) == 10


async def test_a_slot_costs_one_insert_and_two_to_refuse(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.schedules
    stored = await store.insert_schedule(schedule("a"))
    first = marker(stored.id, 0)

    assert await cost(counter, store.insert_slot_marker(first)) == 1
    counter.reset()
    with pytest.raises(SlotAlreadyFired):
        await store.insert_slot_marker(marker(stored.id, 0))
    assert counter.total == 2
    assert await cost(counter, store.get_slot_marker(stored.id, first.slot)) == 1
    assert await cost(counter, store.list_slot_markers(stored.id)) == 1


async def test_a_delete_and_a_purge_cost_in_proportion_to_the_markers(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.schedules
    a = await store.insert_schedule(schedule("a", next_slot=NOW))
    b = await store.insert_schedule(schedule("b"))
    for minutes in range(150):
        await store.insert_slot_marker(marker(a.id, minutes))
    for minutes in range(3):
        await store.insert_slot_marker(marker(b.id, minutes))

    # The record's ids (1), each schedule's old markers (2), a transaction per 100 (2 + 1).
    counter.reset()
    assert await store.purge_slot_markers(fired_before=NOW - 9.5 * MINUTE) == 140
    assert counter.total == 1 + 2 + 2
    # Read, one transaction for its rows, the markers' keys, a transaction per 100.
    assert await cost(counter, store.delete_schedule(a.id)) == 1 + 1 + 1 + 1
    assert await cost(counter, store.delete_schedule(b.id)) == 1 + 1 + 1 + 1
    assert await cost(counter, store.delete_schedule(b.id)) == 1 + 1  # gone: read, keys


async def test_every_row_of_a_schedule_is_in_its_partition_and_markers_in_theirs(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, _ = counted
    store = repo.schedules
    owner = "tenant/1#?\\"
    stored = await store.insert_schedule(schedule("a", owner=owner, next_slot=NOW))
    await store.insert_slot_marker(marker(stored.id, 0))
    table = repo._table

    found: dict[str, list[str]] = {}
    async for entity in table.query_entities(
        "PartitionKey ne ''", select=["PartitionKey", "RowKey"]
    ):
        found.setdefault(entity["PartitionKey"], []).append(entity["RowKey"])

    assert set(found) == {"schedule", f"slots|{stored.id}"}
    kinds = sorted(key.split("|", 1)[0] for key in found["schedule"])
    assert kinds == ["d", "n", "o", "r"]
    assert all(not set("/\\#?") & set(key) for keys in found.values() for key in keys)
    assert found[f"slots|{stored.id}"] == [rows.marker_key(NOW)]


async def test_an_update_moves_on_when_a_foreign_writer_removed_the_due_copy(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.schedules
    stored = await store.insert_schedule(schedule("a", next_slot=NOW))
    [due_key] = [k for k in rows.stored_keys(rows.rows_of(stored).record) if k.startswith("d|")]
    await repo._table.delete_entity(rows.SCHEDULES_PARTITION, due_key)

    counter.reset()
    moved = await store.update_schedule(stored.with_changes(next_slot=NOW + MINUTE))

    assert counter.total == 2  # the transaction, again without the missing delete
    assert [s.id for s in await store.list_due_schedules(now=NOW + MINUTE)] == [moved.id]


async def test_a_fired_slot_costs_a_marker_a_job_and_its_message_and_a_pass_a_query(
    azurite: Azurite,
) -> None:
    from queued_jobs.app import AzureStorage, JobApp
    from queued_jobs.schedules.firing import ScheduleFirer

    counter = RequestCounter()
    suffix = uuid.uuid4().hex[:10]
    clock = ManualClock(NOW)
    storage = AzureStorage(
        azurite.connection_string,
        table=f"fire{suffix}",
        container=f"fire{suffix}",
        client_options={"raw_request_hook": counter},
    )
    app = JobApp(storage, clock=clock)
    app.job(name="t")(_noop)
    async with app.client() as client:
        await client.create_storage()
        await client.repository.message_key()  # read once per process, then kept
        firer = ScheduleFirer(client)
        one = schedule("one", next_slot=NOW + MINUTE)
        four = schedule("four", next_slot=NOW + MINUTE, owner="bea")
        await client.repository.schedules.insert_schedule(one)
        await client.repository.schedules.insert_schedule(four.with_changes(catch_up="all"))

        assert await cost(counter, firer.fire_due()) == 1  # nothing due: the due query
        clock.advance(MINUTE)
        counter.reset()
        await firer.fire_due()
        # the due query, and for each schedule its marker, its job and message, its update
        assert counter.total == 1 + 2 * (3 + 1)
        clock.advance(4 * MINUTE)
        counter.reset()
        report = await firer.fire_due()
        assert report.fired == 8
        # four slots each: four markers, one transaction for the four jobs, four messages
        assert counter.total == 1 + 2 * (4 + 1 + 4 + 1)


async def _noop(request: None) -> None:
    return None
