"""Unique keys are their owner's unless the caller makes one global, and a refusal never
hands one owner another owner's job (client, batch, retry, cancel, tracker, sync twins)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from queued_jobs import JobTracker, SyncJobClient, SyncJobTracker
from queued_jobs.client import JobClient, JobSpec
from queued_jobs.clock import ManualClock
from queued_jobs.errors import DuplicateJob, InvalidInput
from queued_jobs.execution.pipeline import Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry

SECRET = {"account": "alice-private-account", "token": "alice-secret-token"}


@pytest.fixture
def registry() -> JobRegistry:
    registry = JobRegistry()

    @registry.job(name="reports.export")
    def export(request: dict[str, str]) -> str:
        if request.get("fail"):
            raise ValueError("refused on purpose")
        return "done"

    return registry


@pytest.fixture
def client(registry: JobRegistry) -> JobClient:
    clock = ManualClock()
    repository = MemoryJobRepository(clock=clock)
    return JobClient(repository, MemoryQueueBroker(clock=clock), registry, clock=clock)


async def run_all(client: JobClient) -> None:
    """Run every queued message to its end (retries left to later)."""
    pipeline = Pipeline(
        client.repository,
        client.broker,
        client.registry,
        host="test:1",
        clock=client.clock,
        settings=ExecutionSettings(),
    )
    for message in await client.broker.queue("jobs").receive(max_messages=32):
        await pipeline.handle(message.body)


async def queue(client: JobClient, owner: str, **options: Any) -> QueuedJob:
    return await client.queue_job(
        "reports.export", {"owner": owner}, owner=owner, unique_key="export", **options
    )


def assert_reveals_nothing_of(error: DuplicateJob, job: QueuedJob) -> None:
    assert error.existing_job is None
    assert error.existing_job_id is None
    text = str(error)
    assert job.id not in text
    assert "alice" not in text
    assert "another owner's" in text


# --- per owner (the default) -------------------------------------------------------------


async def test_two_owners_with_the_same_unique_key_both_get_their_jobs(
    client: JobClient,
) -> None:
    alices = await queue(client, "alice")
    bobs = await queue(client, "bob")

    assert alices.id != bobs.id
    assert (alices.status, bobs.status) == (JobStatus.QUEUED, JobStatus.QUEUED)
    assert alices.unique_scope == "owner"
    assert bobs.unique_reservation != alices.unique_reservation


async def test_the_same_owner_twice_is_refused_with_its_own_job(client: JobClient) -> None:
    first = await queue(client, "alice")

    with pytest.raises(DuplicateJob) as refused:
        await queue(client, "alice")

    assert refused.value.existing_job_id == first.id
    assert refused.value.existing_job is not None
    assert refused.value.existing_job.id == first.id
    assert refused.value.unique_key == "export"
    assert f"held by job {first.id}" in str(refused.value)


async def test_an_owner_cannot_block_another_owners_key_by_holding_it_first(
    client: JobClient,
) -> None:
    await client.queue_job("reports.export", {}, owner="mallory", unique_key="alice-export")

    alices = await client.queue_job(
        "reports.export", SECRET, owner="alice", unique_key="alice-export"
    )

    assert alices.status is JobStatus.QUEUED


async def test_a_global_key_may_not_be_made_to_look_like_an_owners_key(
    client: JobClient,
) -> None:
    alices = await queue(client, "alice")
    assert alices.unique_reservation is not None

    with pytest.raises(
        InvalidInput, match=re.escape("global unique key may not begin with 'owner|'")
    ):
        await client.queue_job(
            "reports.export",
            {},
            owner="mallory",
            unique_key=alices.unique_reservation,
            unique_scope="global",
        )

    assert [j.owner for j in (await client.repository.list_jobs()).items] == ["alice"]


async def test_an_unknown_scope_is_refused_before_anything_is_stored(client: JobClient) -> None:
    with pytest.raises(InvalidInput, match="unique_scope"):
        await client.queue_job(
            "reports.export", {}, owner="alice", unique_key="export", unique_scope="everyone"
        )

    assert (await client.repository.list_jobs()).items == []


# --- global keys -------------------------------------------------------------------------


async def test_a_global_key_held_by_another_owner_refuses_without_that_job_or_its_id(
    client: JobClient,
) -> None:
    alices = await client.queue_job(
        "reports.export", SECRET, owner="alice", unique_key="nightly", unique_scope="global"
    )

    with pytest.raises(DuplicateJob) as refused:
        await client.queue_job(
            "reports.export", {}, owner="bob", unique_key="nightly", unique_scope="global"
        )

    assert_reveals_nothing_of(refused.value, alices)
    assert SECRET["token"] not in repr(vars(refused.value))
    assert (refused.value.__cause__, refused.value.__context__) == (None, None)


async def test_a_global_key_held_by_the_same_owner_carries_its_job(client: JobClient) -> None:
    first = await queue(client, "alice", unique_scope="global")

    with pytest.raises(DuplicateJob) as refused:
        await queue(client, "alice", unique_scope="global")

    assert refused.value.existing_job is not None
    assert refused.value.existing_job.id == first.id


async def test_a_global_key_and_an_owners_key_of_the_same_name_are_apart(
    client: JobClient,
) -> None:
    await queue(client, "alice", unique_scope="global")

    kept = await queue(client, "alice")

    assert kept.unique_scope == "owner"


async def test_a_finished_holders_key_is_free_again_in_either_scope(client: JobClient) -> None:
    await queue(client, "alice")
    await queue(client, "bob", unique_scope="global")
    await run_all(client)

    again = [await queue(client, "alice"), await queue(client, "carol", unique_scope="global")]

    assert [j.status for j in again] == [JobStatus.QUEUED, JobStatus.QUEUED]


async def test_cancelling_a_job_frees_its_key_in_either_scope(client: JobClient) -> None:
    owned = await queue(client, "alice")
    shared = await queue(client, "bob", unique_scope="global")

    await client.cancel(owned.id)
    await client.cancel(shared.id)

    assert (await queue(client, "alice")).status is JobStatus.QUEUED
    assert (await queue(client, "carol", unique_scope="global")).status is JobStatus.QUEUED


# --- batches and retries -----------------------------------------------------------------


async def test_a_batch_keeps_each_owners_keys_apart_and_refuses_a_duplicate_of_one_owner(
    client: JobClient,
) -> None:
    stored = await client.queue_jobs(
        [
            JobSpec("reports.export", {}, owner="alice", unique_key="export"),
            JobSpec("reports.export", {}, owner="bob", unique_key="export"),
        ]
    )
    assert [j.owner for j in stored] == ["alice", "bob"]

    with pytest.raises(DuplicateJob) as refused:
        await client.queue_jobs(
            [
                JobSpec("reports.export", {}, owner="carol", unique_key="export"),
                JobSpec("reports.export", {}, owner="alice", unique_key="export"),
            ]
        )

    assert refused.value.existing_job_id == stored[0].id
    assert len((await client.repository.list_jobs()).items) == 2
    assert (await queue(client, "carol")).status is JobStatus.QUEUED  # freed again


async def test_a_batch_with_a_global_key_held_by_another_owner_is_refused_blind(
    client: JobClient,
) -> None:
    alices = await client.queue_job(
        "reports.export", SECRET, owner="alice", unique_key="nightly", unique_scope="global"
    )

    with pytest.raises(DuplicateJob) as refused:
        await client.queue_jobs(
            [
                JobSpec(
                    "reports.export", {}, owner="bob", unique_key="nightly", unique_scope="global"
                )
            ]
        )

    assert_reveals_nothing_of(refused.value, alices)


async def test_a_failed_unique_job_retried_takes_its_own_key_again(client: JobClient) -> None:
    failed = await client.queue_job(
        "reports.export", {"fail": "yes"}, owner="alice", unique_key="export", max_attempts=1
    )
    await run_all(client)
    assert (await client.get_job(failed.id)).status is JobStatus.FAILED
    await queue(client, "bob")  # another owner's job with the key changes nothing

    retried = await client.retry(failed.id)

    assert retried.status is JobStatus.QUEUED
    with pytest.raises(DuplicateJob) as refused:
        await queue(client, "alice")
    assert refused.value.existing_job_id == failed.id


# --- tracked work ------------------------------------------------------------------------


@pytest.fixture
def tracker() -> JobTracker:
    return JobTracker(MemoryJobRepository(clock=ManualClock()), host="box:1")


async def test_tracked_work_of_two_owners_with_one_key_runs_side_by_side(
    tracker: JobTracker,
) -> None:
    async with (
        tracker.start_unique("alice", "monthly") as alices,
        tracker.start_unique("bob", "monthly") as bobs,
    ):
        with pytest.raises(DuplicateJob) as refused:
            async with tracker.start_unique("alice", "monthly"):
                pytest.fail("a duplicate must not run")

    assert refused.value.existing_job_id == alices.job.id
    assert {alices.job.status, bobs.job.status} == {JobStatus.SUCCEEDED}


async def test_tracked_work_with_a_global_key_of_another_owner_is_refused_blind(
    tracker: JobTracker,
) -> None:
    async with tracker.start_unique("alice", "monthly", unique_scope="global", data=SECRET) as a:
        with pytest.raises(DuplicateJob) as refused:
            async with tracker.start_unique("bob", "monthly", unique_scope="global"):
                pytest.fail("a duplicate must not run")
        assert_reveals_nothing_of(refused.value, a.job)

    async with tracker.start_unique("bob", "monthly", unique_scope="global") as later:
        pass
    assert later.job.status is JobStatus.SUCCEEDED


# --- sync twins --------------------------------------------------------------------------


@pytest.fixture
def sync_client(registry: JobRegistry) -> Iterator[SyncJobClient]:
    def build() -> JobClient:
        return JobClient(MemoryJobRepository(), MemoryQueueBroker(), registry)

    with SyncJobClient(build) as client:
        yield client


def test_the_sync_client_takes_the_scope_too(sync_client: SyncJobClient) -> None:
    sync_client.queue_job("reports.export", {}, owner="alice", unique_key="k")
    sync_client.queue_job("reports.export", {}, owner="bob", unique_key="k")
    held = sync_client.queue_job(
        "reports.export", SECRET, owner="alice", unique_key="g", unique_scope="global"
    )

    with pytest.raises(DuplicateJob) as refused:
        sync_client.queue_job(
            "reports.export", {}, owner="bob", unique_key="g", unique_scope="global"
        )

    assert_reveals_nothing_of(refused.value, held)


def test_the_sync_tracker_takes_the_scope_too() -> None:
    with SyncJobTracker(lambda: JobTracker(MemoryJobRepository())) as tracker:
        with tracker.start_unique("alice", "k"), tracker.start_unique("bob", "k"):
            pass
        with (
            tracker.start_unique("alice", "g", unique_scope="global") as held,
            pytest.raises(DuplicateJob) as refused,
            tracker.start_unique("bob", "g", unique_scope="global"),
        ):
            pytest.fail("a duplicate must not run")

    assert_reveals_nothing_of(refused.value, held.job)


# --- the record and its reservation ------------------------------------------------------


def test_a_record_stored_before_scopes_loads_with_its_key_reserved_across_owners() -> None:
    job = QueuedJob.new(owner="alice", job_type="reports.export", unique_key="monthly")
    doc = job.model_dump(mode="json")
    del doc["unique_scope"]

    loaded = QueuedJob.model_validate(doc)

    assert (loaded.unique_scope, loaded.unique_reservation) == ("global", "monthly")


def test_owner_reservations_never_meet_name_no_owner_and_have_a_bounded_length() -> None:
    def reserved(owner: str, key: str, scope: str = "owner") -> str:
        job = QueuedJob.new(owner=owner, job_type="t", unique_key=key, unique_scope=scope)
        assert job.unique_reservation is not None
        return job.unique_reservation

    pairs = [("a|b", "c"), ("a", "b|c"), ("a", "b"), ("b", "a"), ("ünï", "k"), ("x" * 256, "k")]
    owned = [reserved(owner, key) for owner, key in pairs]

    assert len(set(owned)) == len(pairs)
    assert all("ünï" not in r and "x" * 20 not in r for r in owned)
    fixed = len("owner|") + 32 + len("|")  # whatever the owner
    assert [len(r) - fixed for r in owned] == [len(key) for _, key in pairs]
    assert reserved("a", "b", "global") == "b"
    assert reserved("a", owned[2], "owner") not in owned
