"""The sweep sends a message for a job left behind once per ``resend_after``, not once per
pass: several workers sweep every minute, and each pass must not add a duplicate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.clock import ManualClock
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.execution.sweep import PRESENCE_RETENTION, Sweeper
from queued_jobs.models import JobStatus, Presence, PresenceKind, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository

pytestmark = pytest.mark.asyncio

MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("status", "sent_at"),
    [
        (JobStatus.QUEUED, [10, 20, 30]),  # untouched for resend_after
        (JobStatus.RUNNING, [11, 21]),  # its lease expired resend_after ago
    ],
)
async def test_a_job_left_behind_gets_one_message_per_resend_interval_not_per_sweep(
    status: JobStatus, sent_at: list[int]
) -> None:
    clock = ManualClock()
    repository = MemoryJobRepository(clock=clock)
    broker = MemoryQueueBroker(clock=clock)
    await broker.queue("jobs").create()
    settings = ExecutionSettings(lease=MINUTE, resend_after=10 * MINUTE)
    sweeper = Sweeper(repository, broker, clock=clock, settings=settings)
    job = QueuedJob.new(owner="ada", job_type="nap", now=clock.now())
    if status is JobStatus.RUNNING:  # its worker died: the lease ran out, nobody renews it
        job = job.transition(
            status,
            now=clock.now(),
            attempts=1,
            started_at=clock.now(),
            lease_owner="dead:1",
            lease_expires_at=clock.now() + MINUTE,
        )
    await repository.insert(job)

    sent = []
    for _ in range(30):  # half an hour of sweeps, one a minute
        clock.advance(MINUTE)
        report = await sweeper.sweep()
        sent.append(report.resent + report.recovered)

    assert [minute for minute, count in enumerate(sent, 1) if count] == sent_at
    assert set(sent) == {0, 1}
    assert await broker.queue("jobs").depth() == len(sent_at)


class CountingRepository(MemoryJobRepository):
    """Counts the listings a sweep makes: the full listing and the due index."""

    full_listings = 0
    due_listings = 0

    async def list_unindexed(self, *args: Any, **kwargs: Any) -> Any:
        self.full_listings += 1
        return await super().list_unindexed(*args, **kwargs)

    async def list_due(self, *args: Any, **kwargs: Any) -> Any:
        self.due_listings += 1
        return await super().list_due(*args, **kwargs)


async def test_only_one_sweeper_passes_while_it_holds_the_lease_and_another_once_it_runs_out() -> (
    None
):
    clock = ManualClock()
    repository = CountingRepository(clock=clock)
    broker = MemoryQueueBroker(clock=clock)
    first, second = (
        Sweeper(repository, broker, clock=clock, lease_for=MINUTE, holder=name)
        for name in ("first", "second")
    )
    assert not (await first.sweep()).held_elsewhere
    assert (await second.sweep()).held_elsewhere
    listings = repository.due_listings + repository.full_listings
    assert not (await first.sweep()).held_elsewhere  # its own lease: renewed
    clock.advance(2 * MINUTE)  # the first sweeper died: its lease runs out
    assert not (await second.sweep()).held_elsewhere
    assert (await first.sweep()).held_elsewhere
    assert repository.due_listings + repository.full_listings == listings + 2


async def test_passes_read_the_due_index_and_one_full_pass_an_hour_runs_across_sweepers() -> None:
    clock = ManualClock()
    repository = CountingRepository(clock=clock)
    broker = MemoryQueueBroker(clock=clock)
    client_jobs = [QueuedJob.new(owner=f"u{i}", job_type="t", now=clock.now()) for i in range(50)]
    await repository.insert_many(client_jobs)
    sweepers = [
        Sweeper(repository, broker, clock=clock, lease_for=MINUTE / 2, holder=f"s{i}")
        for i in range(3)
    ]

    reports = []
    for _ in range(90):  # an hour and a half of passes, one a minute, by turns
        clock.advance(MINUTE)
        reports.append(await sweepers[len(reports) % 3].sweep())

    assert [i for i, r in enumerate(reports) if r.full] == [0, 60]
    assert repository.full_listings == 2  # one listing of the jobs not indexed, per full pass
    assert repository.due_listings == 90  # every pass, the two full ones too
    assert sum(r.resent for r in reports) == 50 * 9  # once per resend_after, as before


async def test_a_record_stored_without_the_due_index_is_found_by_the_full_pass() -> None:
    from tests.support.unreadable_rows import Damage, plant_in_memory

    clock = ManualClock()
    repository = MemoryJobRepository(clock=clock)
    broker = MemoryQueueBroker(clock=clock)
    legacy = QueuedJob.new(owner="ada", job_type="t", now=clock.now())
    plant_in_memory(repository, legacy, Damage.NO_UNIQUE_SCOPE)  # as an older version wrote it
    clock.advance(timedelta(hours=1))
    index_only = Sweeper(repository, broker, clock=clock, full_pass_every=None)
    assert (await index_only.sweep()).resent == 0
    clock.advance(2 * MINUTE)  # its lease ran out

    report = await Sweeper(repository, broker, clock=clock, holder="other").sweep()
    clock.advance(2 * MINUTE)

    assert (report.full, report.resent) == (True, 1)
    [message] = await broker.queue("jobs").receive()
    assert legacy.id in message.body
    clock.advance(timedelta(hours=1))
    assert (await index_only.sweep()).resent == 1  # its touch put it in the index


async def test_the_full_pass_purges_the_changes_past_the_retention() -> None:
    clock = ManualClock()
    repository = MemoryJobRepository(clock=clock)
    settings = ExecutionSettings(change_retention=timedelta(hours=3))
    sweeper = Sweeper(repository, MemoryQueueBroker(clock=clock), clock=clock, settings=settings)
    old = await repository.insert(QueuedJob.new(owner="ada", job_type="t", now=clock.now()))
    clock.advance(timedelta(hours=2))
    new = await repository.insert(QueuedJob.new(owner="bob", job_type="t", now=clock.now()))
    assert (await sweeper.sweep()).changes_purged == 0  # a full pass: none old enough yet

    clock.advance(timedelta(hours=1, minutes=30))  # the old change is 3.5 hours old
    index_only = await Sweeper(
        repository,
        MemoryQueueBroker(clock=clock),
        clock=clock,
        settings=settings,
        full_pass_every=None,
        holder="x",
    ).sweep()
    assert index_only.changes_purged == 0  # only the full pass purges
    clock.advance(MINUTE)
    report = await sweeper.sweep()

    assert (report.full, report.changes_purged) == (True, 1)
    [partition] = repository.change_partitions()
    assert [c.job_id for c in (await repository.read_changes(partition)).changes] == [new.id]
    assert (await repository.get(old.id)).id == old.id


async def test_the_full_pass_purges_the_presences_of_hosts_not_seen_for_a_day() -> None:
    clock = ManualClock()
    repository = MemoryJobRepository(clock=clock)

    async def seen(host: str) -> None:
        now = clock.now()
        await repository.save_presence(Presence(host, PresenceKind.WORKER, now, now, "1"))

    await seen("gone:1")
    clock.advance(timedelta(hours=2))
    await seen("alive:2")
    clock.advance(PRESENCE_RETENTION - timedelta(hours=1))  # gone:1 a day and an hour ago
    report = await Sweeper(repository, MemoryQueueBroker(clock=clock), clock=clock).sweep()

    assert (report.full, report.presences_purged) == (True, 1)
    left = await repository.list_presences(seen_since=clock.now() - 2 * PRESENCE_RETENTION)
    assert [p.host for p in left] == ["alive:2"]


async def test_a_change_retention_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="change_retention"):
        ExecutionSettings(change_retention=timedelta(0))
