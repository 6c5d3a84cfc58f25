"""The schedule client on memory and SQLite (and Azurite for a few): what a schedule is
made with, what it refuses (storing nothing), how a change, a pause and a resume move its
next slot, and what triggering one by hand starts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from queued_jobs import (
    AzureStorage,
    JobApp,
    ManualClock,
    MemoryStorage,
    ScheduleClient,
    SqliteStorage,
    Storage,
    SyncJobClient,
)
from queued_jobs.errors import (
    DuplicateSchedule,
    InvalidInput,
    InvalidRule,
    RuleNeverFires,
    ScheduleNotFound,
    UnknownJobType,
    UnknownTimeZone,
)
from queued_jobs.models import JobStatus, Priority
from queued_jobs.queue_names import QueueNames
from queued_jobs.schedules import CatchUp, Overlap
from queued_jobs.schedules.firing import ScheduleFirer

#: Thursday 1 January 2026, 10:00 UTC (11:00 in Paris).
START = datetime(2026, 1, 1, 10, tzinfo=UTC)
WEEKDAYS_AT_NINE = "cron:0 9 * * mon-fri"


class Report(BaseModel):
    kind: str
    copies: int = 1


def build(storage: Storage, clock: ManualClock, queue: str = "jobs") -> JobApp:
    app = JobApp(storage, clock=clock, queues=QueueNames(queue))

    @app.job(name="reports.build", max_attempts=5)
    async def build_report(request: Report) -> str:
        return request.kind

    @app.job(name="reports.plain")
    async def plain(request: int) -> int:
        return request

    return app


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def _storage(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Storage:
    if kind == "memory":
        return MemoryStorage()
    if kind == "sqlite":
        return SqliteStorage(tmp_path / "jobs.db")
    suffix = uuid.uuid4().hex[:10]
    connection = request.getfixturevalue("azurite").connection_string
    return AzureStorage(connection, table=f"sched{suffix}", container=f"sched{suffix}")


@pytest.fixture(params=["memory", "sqlite"])
async def schedules(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[ScheduleClient]:
    app = build(_storage(request.param, tmp_path, request), clock)
    async with app.client() as client:
        await client.create_storage()
        yield ScheduleClient(client)


@pytest.fixture(params=["sqlite", pytest.param("azure", marks=pytest.mark.azurite)])
async def shared_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[tuple[ScheduleClient, ScheduleClient]]:
    """Two clients on their own connections to one store, as two processes would be."""
    suffix = uuid.uuid4().hex[:10]
    app = build(_storage(request.param, tmp_path, request), clock, queue=f"jobs{suffix}")
    async with app.client() as first, app.client() as second:
        await first.create_storage()
        yield ScheduleClient(first), ScheduleClient(second)
    if request.param == "azure":
        await asyncio.sleep(0.1)  # let the closed HTTP sessions finish closing


async def _nightly(schedules: ScheduleClient, **options: Any) -> Any:
    arguments: dict[str, Any] = {
        "owner": "alice",
        "name": "weekday report",
        "rule": WEEKDAYS_AT_NINE,
        "time_zone": "Europe/Paris",
        **options,
    }
    return await schedules.create_schedule("reports.build", {"kind": "sales"}, **arguments)


async def test_a_new_schedule_is_stored_with_its_first_slot_after_now_in_its_zone(
    schedules: ScheduleClient,
) -> None:
    made = await _nightly(schedules, tags=["finance"], overlap=Overlap.SKIP)
    assert made.rule == "cron:0 9 * * MON-FRI"  # canonical
    assert made.request == {"kind": "sales", "copies": 1}  # its JSON form, defaults filled in
    assert made.next_slot == datetime(2026, 1, 2, 8, tzinfo=UTC)  # Friday 09:00 in Paris
    assert (made.owner, made.max_attempts, made.tags) == ("alice", 5, ("finance",))
    assert made.version is not None
    assert await schedules.get_schedule(made.id) == made


async def test_bad_input_is_refused_with_a_clear_error_and_nothing_is_stored(
    schedules: ScheduleClient,
) -> None:
    refusals: list[tuple[type[Exception], dict[str, Any], str]] = [
        (UnknownJobType, {"job": "reports.unknown"}, "no job type 'reports.unknown'"),
        (InvalidInput, {"request": {"kind": 3}}, "invalid request for job type"),
        (InvalidInput, {"request": {"kind": "x", "copies": "many"}}, "copies"),
        (InvalidRule, {"rule": "cron:61 * * * *"}, "61"),
        (InvalidRule, {"rule": "weekly"}, "does not start with a kind"),
        (InvalidRule, {"rule": "cron:" + "1," * 1500 + "2 * * * *"}, "at most 2,000"),
        (RuleNeverFires, {"rule": "cron:0 0 30 2 *"}, "never fires"),
        (RuleNeverFires, {"rule": "rrule:FREQ=DAILY;UNTIL=20251231"}, "no slot after"),
        (UnknownTimeZone, {"time_zone": "Mars/Olympus_Mons"}, "Mars/Olympus_Mons"),
        (UnknownTimeZone, {"time_zone": "../../etc/passwd"}, "unknown time zone"),
        (InvalidInput, {"name": ""}, "name"),
        (InvalidInput, {"name": "x" * 201}, "at most 200"),
        (InvalidInput, {"name": "line\nbreak"}, "control characters"),
        (InvalidInput, {"owner": ""}, "owner"),
        (InvalidInput, {"catch_up_limit": 0}, "catch_up_limit"),
        (InvalidInput, {"max_attempts": 10_000}, "max_attempts"),
        (InvalidInput, {"max_attempts": 0}, "max_attempts"),
    ]
    for error, change, said in refusals:
        arguments: dict[str, Any] = {
            "job": "reports.build",
            "request": {"kind": "sales"},
            "owner": "alice",
            "name": "report",
            "rule": WEEKDAYS_AT_NINE,
            **change,
        }
        job, request = arguments.pop("job"), arguments.pop("request")
        with pytest.raises(error) as refused:
            await schedules.create_schedule(job, request, **arguments)
        assert said in str(refused.value), (change, str(refused.value))
    assert (await schedules.list_schedules()).items == []


async def test_an_owner_s_second_schedule_of_a_name_is_refused_naming_the_first(
    schedules: ScheduleClient,
) -> None:
    first = await _nightly(schedules)
    with pytest.raises(DuplicateSchedule) as refused:
        await _nightly(schedules)
    assert refused.value.existing_schedule_id == first.id
    other = await _nightly(schedules, owner="bob")  # another owner may use the name
    assert other.owner == "bob"


async def test_a_new_rule_or_zone_moves_the_next_slot_from_now_and_other_changes_do_not(
    schedules: ScheduleClient, clock: ManualClock
) -> None:
    made = await _nightly(schedules)
    clock.advance(timedelta(hours=1))
    renamed = await schedules.update_schedule(made.id, name="sales", priority=Priority.HIGH)
    assert (renamed.name, renamed.priority, renamed.next_slot) == (
        "sales",
        Priority.HIGH,
        made.next_slot,
    )
    assert renamed.version != made.version
    hourly = await schedules.update_schedule(made.id, rule="every:PT1H")
    assert (hourly.rule, hourly.next_slot) == ("every:PT1H", datetime(2026, 1, 1, 12, tzinfo=UTC))
    tokyo = await schedules.update_schedule(made.id, rule=WEEKDAYS_AT_NINE, time_zone="Asia/Tokyo")
    assert tokyo.next_slot == datetime(2026, 1, 2, 0, tzinfo=UTC)  # Friday 09:00 in Tokyo
    other_request = await schedules.update_schedule(made.id, request={"kind": "stock"})
    assert other_request.request == {"kind": "stock", "copies": 1}


async def test_a_change_that_does_not_validate_is_refused_and_the_schedule_is_kept(
    schedules: ScheduleClient,
) -> None:
    made = await _nightly(schedules)
    refusals: list[tuple[type[Exception], dict[str, Any]]] = [
        (InvalidInput, {"owner": "mallory"}),
        (InvalidInput, {"paused": True}),
        (InvalidInput, {"next_slot": START}),
        (InvalidInput, {"request": {"kind": ["no"]}}),
        (InvalidInput, {"job_type": "reports.plain"}),  # the stored request is no int
        (UnknownJobType, {"job_type": "reports.gone"}),
        (InvalidRule, {"rule": "cron:* * *"}),
        (RuleNeverFires, {"rule": "rrule:DTSTART:20200101\nRRULE:FREQ=DAILY;COUNT=2"}),
        (UnknownTimeZone, {"time_zone": "Europe/Atlantis"}),
        (InvalidInput, {"tags": ["x" * 65]}),
    ]
    for error, change in refusals:
        with pytest.raises(error):
            await schedules.update_schedule(made.id, **change)
    assert await schedules.get_schedule(made.id) == made
    moved = await schedules.update_schedule(made.id, job_type="reports.plain", request=7)
    assert (moved.job_type, moved.request) == ("reports.plain", 7)


async def test_a_resumed_schedule_skips_the_slots_missed_while_it_was_paused(
    schedules: ScheduleClient, clock: ManualClock
) -> None:
    made = await _nightly(schedules)
    paused = await schedules.pause(made.id)
    assert paused.paused
    assert paused.due_at is None
    assert await schedules.pause(made.id) == paused  # paused already: left as it is
    clock.advance(timedelta(days=6))  # Wednesday 7 January, 10:00 UTC: five slots passed
    resumed = await schedules.resume(made.id)
    assert not resumed.paused
    assert resumed.next_slot == datetime(2026, 1, 8, 8, tzinfo=UTC)  # Thursday's, not Friday's
    assert await schedules.resume(made.id) == resumed  # running already: left as it is


async def test_triggering_a_schedule_starts_one_job_now_and_leaves_its_slots_alone(
    schedules: ScheduleClient,
) -> None:
    made = await _nightly(schedules, priority=Priority.LOW, tags=["t"])
    paused = await schedules.pause(made.id)
    job = await schedules.trigger_now(made.id)
    assert job.status is JobStatus.QUEUED
    assert (job.job_type, job.owner, job.request) == ("reports.build", "alice", made.request)
    assert (job.priority, job.tags, job.max_attempts) == (Priority.LOW, ("t",), 5)
    assert job.correlation_id == f"schedule:{made.id}"
    assert job.custom_data == {"schedule": {"id": made.id, "name": "weekday report", "slot": None}}
    assert await schedules.client.get_job(job.id) == job
    assert await schedules.get_schedule(made.id) == paused  # no slot, no last job
    assert await schedules.list_slots(made.id) == []


async def test_a_deleted_schedule_is_gone_and_deleting_it_again_says_so(
    schedules: ScheduleClient,
) -> None:
    made = await _nightly(schedules)
    await schedules.delete_schedule(made.id)
    for verb in ("get_schedule", "delete_schedule", "pause", "resume", "trigger_now", "list_slots"):
        with pytest.raises(ScheduleNotFound):
            await getattr(schedules, verb)(made.id)
    for not_an_id in ("", "x" * 10_000, "' or ''='", made.id.upper()):
        with pytest.raises(ScheduleNotFound):
            await schedules.get_schedule(not_an_id)


async def test_a_preview_lists_the_next_slots_in_local_and_utc_time(
    schedules: ScheduleClient,
) -> None:
    made = await _nightly(schedules)
    stored = await schedules.preview(made.id, 3)
    assert [slot.local.isoformat() for slot in stored] == [
        "2026-01-02T09:00:00+01:00",
        "2026-01-05T09:00:00+01:00",
        "2026-01-06T09:00:00+01:00",
    ]
    assert [slot.utc.hour for slot in stored] == [8, 8, 8]
    assert {slot.time_zone for slot in stored} == {"Europe/Paris"}
    not_stored = await schedules.preview("cron:30 2 * * *", 2, time_zone="Europe/Berlin",
                                         after=datetime(2026, 3, 28, tzinfo=UTC))  # fmt: skip
    assert [slot.local.isoformat() for slot in not_stored] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",  # in the gap: the first instant after it
    ]
    assert (
        len(await schedules.preview("rrule:DTSTART:20260101T100000\nRRULE:FREQ=DAILY;COUNT=2", 10))
        == 1
    )
    for count in (0, 1001):
        with pytest.raises(InvalidInput):
            await schedules.preview(made.id, count)
    with pytest.raises(ScheduleNotFound):
        await schedules.preview("0" * 29)


async def test_the_slots_a_schedule_fired_are_listed_newest_first_with_their_jobs(
    schedules: ScheduleClient, clock: ManualClock
) -> None:
    made = await _nightly(schedules)
    firer = ScheduleFirer(schedules.client, horizon=timedelta(minutes=1), holder="host:1")
    for day in (2, 5):  # Friday's and Monday's 09:00 in Paris, fired half a minute early
        clock.advance(datetime(2026, 1, day, 7, 59, 30, tzinfo=UTC) - clock.now())
        assert (await firer.fire_due()).fired == 1
    slots = await schedules.list_slots(made.id)
    assert [(m.slot.day, m.fired_by) for m in slots] == [(5, "host:1"), (2, "host:1")]
    jobs = {job.id: job for job in (await schedules.client.list_jobs()).items}
    assert {m.job_id for m in slots} == set(jobs)
    assert len(await schedules.list_slots(made.id, limit=1)) == 1
    # what is still to fire: Monday's slot fired early is not previewed again
    [upcoming] = await schedules.preview(made.id, 1)
    assert upcoming.local.isoformat() == "2026-01-06T09:00:00+01:00"


async def test_an_owner_s_schedules_are_listed_newest_first_page_by_page(
    schedules: ScheduleClient, clock: ManualClock
) -> None:
    made = []
    for number in range(5):
        made.append(await _nightly(schedules, name=f"report {number}"))
        clock.advance(timedelta(seconds=1))
    await _nightly(schedules, owner="bob")
    first = await schedules.list_schedules(owner="alice", limit=3)
    assert [s.name for s in first.items] == ["report 4", "report 3", "report 2"]
    rest = await schedules.list_schedules(owner="alice", limit=3, continuation=first.continuation)
    assert [s.name for s in rest.items] == ["report 1", "report 0"]
    assert rest.continuation is None
    assert len((await schedules.list_schedules()).items) == 6
    with pytest.raises(InvalidInput):
        await schedules.list_schedules(limit=0)


async def test_changes_racing_from_two_processes_are_all_kept(
    shared_store: tuple[ScheduleClient, ScheduleClient],
) -> None:
    first, second = shared_store
    made = await _nightly(first)
    await asyncio.gather(
        first.update_schedule(made.id, tags=["a"]),
        second.update_schedule(made.id, name="renamed"),
        first.update_schedule(made.id, catch_up=CatchUp.ALL),
        second.update_schedule(made.id, overlap=Overlap.CANCEL),
    )
    stored = await second.get_schedule(made.id)
    assert (stored.tags, stored.name, stored.catch_up, stored.overlap) == (
        ("a",),
        "renamed",
        CatchUp.ALL,
        Overlap.CANCEL,
    )
    await second.pause(made.id)
    assert (await first.resume(made.id)).paused is False
    job = await second.trigger_now(made.id)
    assert (await first.client.get_job(job.id)).correlation_id == f"schedule:{made.id}"
    await first.delete_schedule(made.id)
    with pytest.raises(ScheduleNotFound):
        await second.get_schedule(made.id)


def test_the_sync_twin_has_the_same_verbs(tmp_path: Path, clock: ManualClock) -> None:
    app = build(SqliteStorage(tmp_path / "jobs.db"), clock)
    with SyncJobClient(lambda: app.client()) as client:
        client.create_storage()
        schedules = client.schedules
        made = schedules.create_schedule(
            "reports.build", {"kind": "sales"}, owner="alice", name="r", rule="every:P1D"
        )
        assert schedules.get_schedule(made.id).next_slot == datetime(2026, 1, 2, tzinfo=UTC)
        assert schedules.pause(made.id).paused
        assert [s.id for s in schedules.list_schedules(owner="alice").items] == [made.id]
        assert len(schedules.preview("every:PT20M", 3)) == 3
        assert schedules.trigger_now(made.id).owner == "alice"
        schedules.delete_schedule(made.id)
        with pytest.raises(ScheduleNotFound):
            schedules.get_schedule(made.id)
