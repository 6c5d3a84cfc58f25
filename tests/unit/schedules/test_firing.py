"""Firing schedules (``ScheduleFirer``) on memory and SQLite: each slot starts one job
however many firers race, a crash between the marker and the job is finished by the next
pass, and the catch-up and overlap policies do what they say."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from queued_jobs.app import JobApp, MemoryStorage, SqliteStorage, Storage
from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.models import JobStatus, QueuedJob, new_job_id
from queued_jobs.schedules.firing import DEFAULT_GRACE, RECOVER_AFTER, ScheduleFirer
from queued_jobs.schedules.model import CatchUp, Overlap, Schedule, SlotMarker

START = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


class Tick(BaseModel):
    n: int = 0


@dataclass
class Fixture:
    app: JobApp
    clock: ManualClock
    clients: list[JobClient] = field(default_factory=list)

    async def client(self) -> JobClient:
        client = self.app.client()
        await client.create_storage()
        self.clients.append(client)
        return client

    async def firer(self, **options: Any) -> ScheduleFirer:
        return ScheduleFirer(await self.client(), **options)

    async def schedule(self, rule: str = "every:PT1H@2030-01-01T08:00", **options: Any) -> Schedule:
        client = self.clients[0] if self.clients else await self.client()
        fields: dict[str, Any] = {"next_slot": START, "job_type": "tick", "request": {"n": 1}}
        made = Schedule.new(
            owner="ada", name=f"s{len(self.clients)}-{options}", rule=rule,
            now=self.clock.now(), **(fields | options),
        )  # fmt: skip
        return await client.repository.schedules.insert_schedule(made)

    async def jobs(self) -> list[QueuedJob]:
        client = self.clients[0]
        return list(reversed((await client.list_jobs(limit=1000)).items))

    async def stored(self, schedule: Schedule) -> Schedule:
        return await self.clients[0].repository.schedules.get_schedule(schedule.id)


@pytest.fixture(params=["memory", "sqlite"])
async def fx(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Fixture]:
    clock = ManualClock(START - MINUTE)
    storage: Storage = (
        MemoryStorage() if request.param == "memory" else SqliteStorage(str(tmp_path / "j.db"))
    )
    app = JobApp(storage, clock=clock)

    @app.job(name="tick")
    async def tick(request: Tick) -> int:
        return request.n

    fixture = Fixture(app, clock)
    yield fixture
    for client in fixture.clients:
        await client.close()


def slot_of(job: QueuedJob) -> str:
    origin = job.custom_data["schedule"]
    assert isinstance(origin, dict)
    slot = origin["slot"]
    assert isinstance(slot, str)
    return slot


async def test_a_due_slot_starts_one_job_that_names_its_schedule_and_slot(fx: Fixture) -> None:
    firer = await fx.firer()
    schedule = await fx.schedule(tags=("nightly",), priority="high")
    assert (await firer.fire_due()).fired == 0  # not due before its time
    fx.clock.advance(MINUTE)
    report = await firer.fire_due()
    assert report.fired == 1
    [job] = await fx.jobs()
    assert (job.owner, job.job_type, job.request) == ("ada", "tick", {"n": 1})
    assert job.correlation_id == f"schedule:{schedule.id}"
    assert job.tags == ("nightly",)
    assert job.priority == "high"
    assert slot_of(job) == START.isoformat()
    marker = await fx.clients[0].repository.schedules.get_slot_marker(schedule.id, START)
    assert marker is not None
    assert marker.job_id == job.id
    moved = await fx.stored(schedule)
    assert (moved.next_slot, moved.last_slot, moved.last_job_id) == (START + HOUR, START, job.id)
    assert (await firer.fire_due()).fired == 0  # nothing more until the next slot


async def test_firers_racing_over_many_slots_start_one_job_per_slot(fx: Fixture) -> None:
    firers = [await fx.firer() for _ in range(4)]
    schedule = await fx.schedule(rule="every:PT1M@2030-01-01T08:00", catch_up=CatchUp.ALL)
    for _ in range(12):
        fx.clock.advance(MINUTE)
        reports = await asyncio.gather(*(f.fire_due() for f in firers))
        assert sum(r.fired for r in reports) <= 1
    jobs = await fx.jobs()
    slots = [slot_of(job) for job in jobs]
    assert sorted(slots) == [(START + n * MINUTE).isoformat() for n in range(12)]
    markers = await fx.clients[0].repository.schedules.list_slot_markers(schedule.id)
    assert {m.job_id for m in markers} == {job.id for job in jobs}


async def test_a_marker_whose_job_was_never_stored_gets_its_job_from_the_next_pass(
    fx: Fixture,
) -> None:
    firer = await fx.firer()
    schedule = await fx.schedule()
    fx.clock.advance(MINUTE)
    # A firer that died after its marker, before storing the job:
    job_id = new_job_id("ada", now=fx.clock.now())
    marker = SlotMarker.of(
        schedule.id, START, job_id=job_id, fired_by="dead:1", fired_at=fx.clock.now()
    )
    await fx.clients[0].repository.schedules.insert_slot_marker(marker)
    report = await firer.fire_due()  # it might be alive and about to store it
    assert (report.already_fired, report.fired) == (1, 0)
    assert await fx.jobs() == []
    report = await firer.fire_due()  # left to it: not even its marker is tried again
    assert (report.due, report.already_fired, report.fired) == (1, 0, 0)
    fx.clock.advance(RECOVER_AFTER)
    report = await firer.fire_due()
    assert (report.already_fired, report.fired) == (1, 1)
    [job] = await fx.jobs()
    assert job.id == job_id
    assert job.status is JobStatus.QUEUED
    assert (await fx.stored(schedule)).next_slot == START + HOUR


async def test_a_slot_whose_job_another_firer_stored_is_left_to_it(fx: Fixture) -> None:
    firer = await fx.firer()
    schedule = await fx.schedule()
    fx.clock.advance(MINUTE)
    job_id = new_job_id("ada", now=fx.clock.now())
    marker = SlotMarker.of(
        schedule.id, START, job_id=job_id, fired_by="other:1", fired_at=fx.clock.now()
    )
    await fx.clients[0].repository.schedules.insert_slot_marker(marker)
    await fx.clients[0].queue_job("tick", {"n": 7}, owner="ada", job_id=job_id)
    fx.clock.advance(RECOVER_AFTER)  # the other firer died before moving the schedule on
    report = await firer.fire_due()
    assert (report.already_fired, report.fired) == (1, 0)
    assert [j.request for j in await fx.jobs()] == [{"n": 7}]
    assert (await fx.stored(schedule)).last_job_id == job_id


@pytest.mark.parametrize(
    ("catch_up", "expected"),
    [
        (CatchUp.SKIP, []),
        (CatchUp.ONCE, [9]),
        (CatchUp.ALL, [7, 8, 9]),
    ],
)
async def test_slots_missed_in_an_outage_fire_as_the_catch_up_policy_says(
    fx: Fixture, catch_up: CatchUp, expected: list[int]
) -> None:
    firer = await fx.firer()
    schedule = await fx.schedule(catch_up=catch_up, catch_up_limit=3)
    fx.clock.advance(10 * HOUR)  # slots 08:00 .. 17:00 missed; 18:00 is still to come
    report = await firer.fire_due()
    assert report.fired == len(expected)
    assert report.passed_over == 10 - len(expected)
    slots = sorted(slot_of(job) for job in await fx.jobs())
    assert slots == [(START + n * HOUR).isoformat() for n in expected]
    assert (await fx.stored(schedule)).next_slot == START + 10 * HOUR


async def test_a_slot_fired_within_the_grace_counts_as_on_time(fx: Fixture) -> None:
    firer = await fx.firer()
    await fx.schedule(catch_up=CatchUp.SKIP)
    fx.clock.advance(MINUTE + DEFAULT_GRACE - timedelta(seconds=1))
    assert (await firer.fire_due()).fired == 1


async def test_a_slot_within_the_horizon_fires_early_and_its_job_waits_for_its_time(
    fx: Fixture,
) -> None:
    firer = await fx.firer(horizon=MINUTE)
    schedule = await fx.schedule()
    fx.clock.advance(timedelta(seconds=30))
    assert (await firer.fire_due()).fired == 1
    [job] = await fx.jobs()
    assert job.run_at == START
    assert (await fx.stored(schedule)).next_slot == START + HOUR


async def test_overlap_skip_passes_a_slot_over_while_the_last_job_is_active(
    fx: Fixture,
) -> None:
    firer = await fx.firer()
    schedule = await fx.schedule(overlap=Overlap.SKIP)
    fx.clock.advance(MINUTE)
    await firer.fire_due()
    fx.clock.advance(HOUR)  # the 08:00 job never ran: it is still queued
    report = await firer.fire_due()
    assert (report.fired, report.passed_over) == (0, 1)
    assert len(await fx.jobs()) == 1
    assert (await fx.stored(schedule)).next_slot == START + 2 * HOUR


async def test_overlap_cancel_cancels_the_last_job_and_starts_the_new_one(fx: Fixture) -> None:
    firer = await fx.firer()
    await fx.schedule(overlap=Overlap.CANCEL)
    fx.clock.advance(MINUTE)
    await firer.fire_due()
    fx.clock.advance(HOUR)
    report = await firer.fire_due()
    assert (report.fired, report.cancelled) == (1, 1)
    first, second = await fx.jobs()
    assert (first.status, second.status) == (JobStatus.CANCELLED, JobStatus.QUEUED)


async def test_overlap_allow_starts_each_slot_whatever_the_last_job_does(fx: Fixture) -> None:
    firer = await fx.firer()
    await fx.schedule(overlap=Overlap.ALLOW)
    for _ in range(3):
        fx.clock.advance(HOUR)
        await firer.fire_due()
    assert [j.status for j in await fx.jobs()] == [JobStatus.QUEUED] * 3


async def test_a_slot_whose_job_type_is_gone_ends_as_a_failed_job_with_the_reason(
    fx: Fixture,
) -> None:
    firer = await fx.firer()
    schedule = await fx.schedule(job_type="retired-report")
    fx.clock.advance(MINUTE)
    report = await firer.fire_due()
    assert report.failed == 1
    [job] = await fx.jobs()
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert "no job type 'retired-report' is registered" in job.error.message
    assert schedule.name in job.error.message
    assert (await fx.stored(schedule)).next_slot == START + HOUR


async def test_a_request_the_job_type_no_longer_accepts_ends_as_a_failed_job(
    fx: Fixture,
) -> None:
    firer = await fx.firer()
    await fx.schedule(request={"n": "not a number"})
    fx.clock.advance(MINUTE)
    assert (await firer.fire_due()).failed == 1
    [job] = await fx.jobs()
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert "invalid request" in job.error.message


async def test_a_schedule_this_host_cannot_read_is_left_as_it_is_and_logged_once(
    fx: Fixture, caplog: pytest.LogCaptureFixture
) -> None:
    firer = await fx.firer()
    schedule = await fx.schedule(rule="cron:not a cron")
    fx.clock.advance(MINUTE)
    with caplog.at_level(logging.ERROR, "queued_jobs.schedules"):
        first = await firer.fire_due()
        second = await firer.fire_due()
    assert first.errors == second.errors == [schedule.id]
    assert sum("cannot be fired by this host" in r.message for r in caplog.records) == 1
    assert await fx.jobs() == []
    assert (await fx.stored(schedule)).next_slot == START


async def test_a_paused_schedule_fires_nothing(fx: Fixture) -> None:
    firer = await fx.firer()
    await fx.schedule(paused=True)
    fx.clock.advance(HOUR)
    assert (await firer.fire_due()).due == 0
    assert await fx.jobs() == []


async def test_a_rule_that_has_ended_leaves_the_schedule_with_no_next_slot(
    fx: Fixture,
) -> None:
    firer = await fx.firer()
    rule = "rrule:DTSTART:20300101T080000\nRRULE:FREQ=DAILY;COUNT=1"
    schedule = await fx.schedule(rule=rule)
    fx.clock.advance(MINUTE)
    assert (await firer.fire_due()).fired == 1
    assert (await fx.stored(schedule)).next_slot is None


class RenamedMidPass(ScheduleFirer):
    """A firer whose schedule is renamed by someone else while it stores a slot's job."""

    renamed = False

    async def _store_jobs(self, schedule: Schedule, claimed: Any, report: Any) -> None:
        await super()._store_jobs(schedule, claimed, report)
        if not self.renamed:  # once: the next try's write finds the schedule as it reads it
            self.renamed = True
            stored = await self.store.get_schedule(schedule.id)
            await self.store.update_schedule(stored.with_changes(name="renamed meanwhile"))


async def test_a_change_racing_a_pass_is_kept_and_the_slot_still_starts_one_job(
    fx: Fixture,
) -> None:
    client = await fx.client()
    firer = RenamedMidPass(client)
    schedule = await fx.schedule()
    fx.clock.advance(MINUTE)
    report = await firer.fire_due()
    assert report.fired == 1
    assert len(await fx.jobs()) == 1
    moved = await fx.stored(schedule)
    assert (moved.name, moved.next_slot) == ("renamed meanwhile", START + HOUR)


async def test_a_recovered_slot_and_new_ones_of_one_pass_each_get_their_job(fx: Fixture) -> None:
    firer = await fx.firer()
    schedule = await fx.schedule(rule="every:PT1M@2030-01-01T08:00", catch_up=CatchUp.ALL)
    lost = new_job_id("ada", now=fx.clock.now())
    marker = SlotMarker.of(
        schedule.id, START, job_id=lost, fired_by="dead:1", fired_at=fx.clock.now()
    )
    await fx.clients[0].repository.schedules.insert_slot_marker(marker)
    fx.clock.advance(2 * MINUTE + RECOVER_AFTER)  # 08:00 (its firer died) and 08:01 are due
    report = await firer.fire_due()
    assert (report.already_fired, report.fired) == (1, 2)
    jobs = {job.id: slot_of(job) for job in await fx.jobs()}
    assert jobs[lost] == START.isoformat()
    assert sorted(jobs.values()) == [START.isoformat(), (START + MINUTE).isoformat()]
