"""What each limit-store verb costs in storage requests on Azure, and where its rows live
(``_azure/table_limits.py``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queued_jobs._azure import table_gate_rows as rows
from queued_jobs.clock import ManualClock
from queued_jobs.errors import ConcurrencyConflict
from queued_jobs.limits.model import MAX_CAPACITY, MAX_RATE, Gate, Holding, LimitSettings, Waiter
from queued_jobs.models import JobStatus, QueuedJob, new_job_id
from queued_jobs.repositories.azure_table import AzureTableJobRepository
from tests.integration.test_azure_table_costs import cost, counted
from tests.support.counting import RequestCounter

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]
__all__ = ["counted"]  # the fixture, shared with the other cost tests

NOW = ManualClock().now()


def waiter(job_id: str | None = None) -> Waiter:
    return Waiter(job_id=job_id or new_job_id("ada"), queue="jobs", since=NOW)


def largest(key: str) -> Gate:
    """A gate with as many holders and starts as the model allows."""
    until = NOW + timedelta(minutes=5)
    holders = {new_job_id(f"o{n}"): Holding(since=NOW, until=until) for n in range(MAX_CAPACITY)}
    starts = tuple(NOW - timedelta(milliseconds=n) for n in range(MAX_RATE))[::-1]
    return Gate(limit="exports", key=key, holders=holders, starts=starts, updated_at=NOW)


async def test_each_gate_write_is_one_transaction_and_each_read_one_request(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.limits
    first, second = waiter(), waiter()

    stored = await store.save_gate(largest("東京"), add_waiter=first)  # gate row and waiter
    assert counter.by_method == {"POST": 1}
    assert await cost(counter, store.load_gate("exports", "東京")) == 1
    moved = store.save_gate(stored, add_waiter=second, remove_waiters=[first.job_id])
    assert await cost(counter, moved) == 1
    assert await cost(counter, store.first_waiters("exports", "東京", count=10)) == 1
    assert await cost(counter, store.count_waiters("exports", "東京", at_most=10)) == 1
    assert await cost(counter, store.list_gates(limit="exports")) == 1
    assert await cost(counter, store.list_gates(waiting_only=True)) == 1
    counter.reset()
    with pytest.raises(ConcurrencyConflict):
        await store.save_gate(stored)
    assert counter.total == 1


async def test_a_removal_of_a_job_not_parked_costs_a_query_and_the_write_again(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.limits
    parked = [waiter() for _ in range(3)]
    saved = await store.save_gate(Gate(limit="exports", updated_at=NOW, has_waiters=True))
    for job in parked:
        saved = await store.save_gate(saved, add_waiter=job)
    never = [new_job_id("bob") for _ in range(20)]

    removing = store.save_gate(saved, remove_waiters=[*never, parked[0].job_id])
    assert await cost(counter, removing) == 3
    left = await store.first_waiters("exports", "", count=10)
    assert [w.job_id for w in left] == sorted([parked[1].job_id, parked[2].job_id])


async def test_a_delete_costs_a_query_and_a_conditional_delete(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.limits
    job = waiter()
    stored = await store.save_gate(Gate(limit="exports", updated_at=NOW), add_waiter=job)

    assert await cost(counter, store.delete_gate(stored)) == 1  # a job is parked: no delete
    emptied = await store.save_gate(stored, remove_waiters=[job.job_id])
    assert await cost(counter, store.delete_gate(emptied)) == 2


async def test_settings_cost_one_request_per_verb(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.limits
    made = LimitSettings(limit="exports", capacity=2, updated_at=NOW)

    assert await cost(counter, store.save_limit_settings(made)) == 1
    stored = await store.load_limit_settings("exports")
    assert stored is not None
    assert await cost(counter, store.save_limit_settings(stored)) == 1
    assert await cost(counter, store.load_limit_settings("exports")) == 1
    assert await cost(counter, store.list_limit_settings()) == 1
    assert await cost(counter, store.delete_limit_settings("exports")) == 1


async def test_the_largest_gate_is_cut_into_parts_well_inside_an_entity(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, _ = counted
    for key in ("k" * 256, "🚀" * 256):
        gate = largest(key)
        await repo.limits.save_gate(gate)
        row = await repo._table.get_entity(rows.gate_partition("exports", key), rows.GATE_ROW)
        parts = [row[f"D{n}"] for n in range(row["Parts"])]
        assert row["Parts"] > 1
        assert all(len(part.encode("utf-16-le")) <= 64 * 1024 for part in parts)
        assert sum(len(part.encode("utf-16-le")) for part in parts) < 512 * 1024
        assert (row["Limit"], row["Key"], row["HasWaiters"]) == ("exports", key, False)


async def test_gate_rows_stay_out_of_the_jobs_listings_and_purges(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, _ = counted
    job = await repo.insert(QueuedJob.new(owner="ada", job_type="t", now=NOW))
    await repo.limits.save_gate(Gate(limit="exports", updated_at=NOW), add_waiter=waiter())
    await repo.limits.save_limit_settings(LimitSettings(limit="exports", updated_at=NOW))

    assert [j.id for j in (await repo.list_jobs()).items] == [job.id]
    assert await repo.count_jobs(at_most=10) == 1
    due = await repo.list_due(frozenset(JobStatus), due_by=NOW + timedelta(days=1))
    assert [j.id for j in due.items] == [job.id]
    await repo.delete(job.id)
    assert await repo.purge(completed_before=NOW + timedelta(days=1)) == 0
    assert (await repo.list_jobs()).items == []
    assert len((await repo.limits.list_gates()).items) == 1
    assert await repo.limits.count_waiters("exports", "", at_most=5) == 1
    assert len(await repo.limits.list_limit_settings()) == 1
