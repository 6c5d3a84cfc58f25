"""The schedule store (``JobRepository.schedules``): every adapter keeps schedules under
versions, lists them newest first and the due ones soonest first, keeps a name unique per
owner, and lets each slot of a schedule fire once, however many clients race for it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from queued_jobs.errors import (
    ConcurrencyConflict,
    DuplicateSchedule,
    InvalidInput,
    PayloadTooDeep,
    PayloadTooLarge,
    ScheduleNotFound,
    SlotAlreadyFired,
)
from queued_jobs.models import new_job_id, owner_shard
from queued_jobs.schedules.model import (
    MAX_RULE_LENGTH,
    MAX_SCHEDULE_REQUEST_BYTES,
    CatchUp,
    Overlap,
    Schedule,
    SlotMarker,
)
from queued_jobs.schedules.store import ScheduleStore
from tests.support.unreadable_rows import nested

from .conftest import RepositoryHarness

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
#: Owners whose names hold what table keys cannot, or what is not ASCII: stored as given.
ODD_OWNERS = [
    "tenant/42",
    "back\\slash",
    "hash#and?query",
    "pipe|and%percent",
    "wörker-東京-🚀",
    "'quoted' \"owner\"",
    "/" * 256,  # longer than a table key once escaped
    "🚀" * 256,
]
#: Owners refused: control characters, lone surrogates.
BAD_OWNERS = ["nul\x00", "line\nbreak", "tab\there", "del\x7f", "c1\x85", "lone\udcff"]


async def store_of(h: RepositoryHarness) -> ScheduleStore:
    """The schedules of a new client on the test's store."""
    return (await h.open()).schedules


def schedule(
    h: RepositoryHarness, name: str = "nightly", *, owner: str = "ada", **options: Any
) -> Schedule:
    """A schedule made now (by the test's clock), then the clock moved on a millisecond so
    that the next one sorts after it."""
    options.setdefault("rule", "cron:*/5 * * * *")
    made = Schedule.new(
        owner=owner, name=name, job_type="billing.run", now=h.clock.now(), **options
    )
    h.clock.advance(timedelta(milliseconds=1))
    return made


def marker(
    schedule_id: str, slot: datetime, *, fired_at: datetime | None = None, by: str = "box:1"
) -> SlotMarker:
    return SlotMarker.of(
        schedule_id,
        slot,
        job_id=new_job_id("ada"),
        fired_by=by,
        fired_at=fired_at or slot + SECOND,
    )


def same(a: Schedule, b: Schedule) -> bool:
    """Equal but for their versions."""
    return a.model_copy(update={"version": None}) == b.model_copy(update={"version": None})


# --- insert, get, update, delete -------------------------------------------------------


async def test_an_inserted_schedule_reads_back_as_it_was_stored_from_another_client(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    writer, reader = await store_of(h), await store_of(h)
    slot = h.clock.now() + MINUTE
    made = schedule(
        h,
        request={"invoice": "monthly", "amounts": [1, 2.5, None], "ünïcode": "東京"},
        rule="rrule:DTSTART:20300101T090000\nRRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1",
        time_zone="America/Argentina/Buenos_Aires",
        catch_up=CatchUp.ALL,
        catch_up_limit=7,
        overlap=Overlap.CANCEL,
        max_attempts=9,
        max_run_time=timedelta(minutes=30),
        tags=("billing", "monthly"),
        next_slot=slot,
    )

    stored = await writer.insert_schedule(made)

    assert stored.version is not None
    assert same(stored, made)
    got = await reader.get_schedule(made.id)
    assert got == stored
    assert got.next_slot == slot
    assert got.catch_up is CatchUp.ALL
    assert got.overlap is Overlap.CANCEL


async def test_an_update_replaces_the_schedule_and_gives_it_a_new_version(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.insert_schedule(schedule(h, next_slot=h.clock.now()))
    fired = new_job_id("ada")
    changed = stored.with_changes(
        now=h.clock.now(),
        next_slot=stored.next_slot + 5 * MINUTE if stored.next_slot else None,
        last_slot=stored.next_slot,
        last_job_id=fired,
        request={"v": 2},
    )

    updated = await store.update_schedule(changed)

    assert updated.version not in (None, stored.version)
    assert same(updated, changed)
    assert await store.get_schedule(stored.id) == updated
    again = await store.update_schedule(updated.with_changes(paused=True))
    assert (await store.get_schedule(stored.id)).paused
    assert again.version != updated.version


async def test_an_update_with_a_stale_or_foreign_version_is_refused(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    first, second = await store_of(h), await store_of(h)
    stored = await first.insert_schedule(schedule(h))
    await second.update_schedule(stored.with_changes(rule="every:PT20M"))

    with pytest.raises(ConcurrencyConflict) as conflict:
        await first.update_schedule(stored.with_changes(rule="every:PT1H"))
    assert conflict.value.job_id == stored.id
    assert "schedule" in str(conflict.value)
    for version in (None, "", "7~x", 'r:W/"x"~~0~0', "999999999999999999999"):
        with pytest.raises(ConcurrencyConflict):
            await first.update_schedule(stored.model_copy(update={"version": version}))
    assert (await first.get_schedule(stored.id)).rule == "every:PT20M"


async def test_an_update_of_a_deleted_schedule_raises_schedule_not_found(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.insert_schedule(schedule(h, next_slot=h.clock.now()))
    [due] = await store.list_due_schedules(now=h.clock.now())
    [listed] = (await store.list_schedules(owner="ada")).items
    await store.delete_schedule(stored.id)

    for read in (stored, due, listed):  # read from each copy the store keeps
        with pytest.raises(ScheduleNotFound):
            await store.update_schedule(read.with_changes(paused=True))
    with pytest.raises(ScheduleNotFound):
        await store.get_schedule(stored.id)


async def test_a_missing_schedule_or_what_is_no_id_is_not_found(
    repositories: RepositoryHarness,
) -> None:
    store = await store_of(repositories)
    for schedule_id in (new_job_id("ada"), "nope", "../../etc", "a/b#c?d", "x" * 2000):
        with pytest.raises(ScheduleNotFound) as missing:
            await store.get_schedule(schedule_id)
        assert missing.value.schedule_id == schedule_id
        await store.delete_schedule(schedule_id)  # nothing to delete: no error


async def test_a_schedule_whose_id_is_taken_is_refused(repositories: RepositoryHarness) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.insert_schedule(schedule(h, "first"))

    with pytest.raises(DuplicateSchedule) as duplicate:
        await store.insert_schedule(stored.model_copy(update={"name": "second"}))
    assert duplicate.value.schedule_id == stored.id
    assert duplicate.value.existing_schedule_id is None
    with pytest.raises(DuplicateSchedule):
        await store.insert_schedule(stored)  # the same schedule twice: its id is taken
    assert [s.name for s in (await store.list_schedules()).items] == ["first"]


async def test_a_name_is_unique_among_its_owners_schedules(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    held = await store.insert_schedule(schedule(h, "monthly billing"))
    await store.insert_schedule(schedule(h, "monthly billing", owner="grace"))
    await store.insert_schedule(schedule(h, "Monthly billing"))  # names compare exactly

    with pytest.raises(DuplicateSchedule) as duplicate:
        await store.insert_schedule(schedule(h, "monthly billing", next_slot=h.clock.now()))
    assert duplicate.value.existing_schedule_id == held.id
    assert duplicate.value.name == "monthly billing"
    assert "choose another name" in str(duplicate.value)
    assert await store.list_due_schedules(now=h.clock.now()) == []  # nothing of it stored


async def test_a_rename_moves_the_name_and_a_taken_name_is_refused(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    a = await store.insert_schedule(schedule(h, "a"))
    b = await store.insert_schedule(schedule(h, "b"))

    with pytest.raises(DuplicateSchedule) as duplicate:
        await store.update_schedule(b.with_changes(name="a"))
    assert duplicate.value.existing_schedule_id == a.id
    assert (await store.get_schedule(b.id)).name == "b"

    renamed = await store.update_schedule(a.with_changes(name="a2"))
    await store.insert_schedule(schedule(h, "a"))  # the old name is free again
    with pytest.raises(DuplicateSchedule):
        await store.insert_schedule(schedule(h, "a2"))
    await store.update_schedule(renamed.with_changes(name="a3"))
    await store.update_schedule(b.with_changes(name="a2"))


async def test_a_change_of_owner_is_refused(repositories: RepositoryHarness) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.insert_schedule(schedule(h, owner="ada"))
    # Another owner of the same shard: the model lets the id belong to it.
    other = next(f"ada{n}" for n in range(1000) if owner_shard(f"ada{n}") == owner_shard("ada"))

    with pytest.raises(InvalidInput, match="owner never changes"):
        await store.update_schedule(stored.with_changes(owner=other))
    assert (await store.get_schedule(stored.id)).owner == "ada"
    assert (await store.list_schedules(owner=other)).items == []


async def test_a_delete_removes_the_schedule_its_name_and_its_markers_and_is_idempotent(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    now = h.clock.now()
    doomed = await store.insert_schedule(schedule(h, "doomed", next_slot=now))
    kept = await store.insert_schedule(schedule(h, "kept", next_slot=now))
    for n in range(3):
        await store.insert_slot_marker(marker(doomed.id, now - n * MINUTE))
    await store.insert_slot_marker(marker(kept.id, now))

    await store.delete_schedule(doomed.id)
    await store.delete_schedule(doomed.id)

    with pytest.raises(ScheduleNotFound):
        await store.get_schedule(doomed.id)
    assert [s.id for s in await store.list_due_schedules(now=now)] == [kept.id]
    assert [s.id for s in (await store.list_schedules(owner="ada")).items] == [kept.id]
    assert await store.list_slot_markers(doomed.id) == []
    assert await store.get_slot_marker(doomed.id, now) is None
    assert len(await store.list_slot_markers(kept.id)) == 1
    await store.insert_schedule(schedule(h, "doomed"))  # its name is free again


# --- listings --------------------------------------------------------------------------


async def test_schedules_are_listed_newest_first_in_pages_of_every_owner_or_of_one(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    made = []
    for n in range(7):
        owner = "ada" if n % 2 == 0 else "grace"
        made.append(await store.insert_schedule(schedule(h, f"s{n}", owner=owner)))
    newest_first = [s.id for s in reversed(made)]

    async def every(owner: str | None, limit: int) -> list[str]:
        found, token, pages = [], None, 0
        while True:
            page = await store.list_schedules(owner=owner, limit=limit, continuation=token)
            assert len(page.items) <= limit
            found += [s.id for s in page.items]
            pages += 1
            token = page.continuation
            if token is None:
                return found
            assert pages < 10

    assert await every(None, 3) == newest_first
    assert await every(None, 7) == newest_first
    assert await every("ada", 2) == [s.id for s in reversed(made) if s.owner == "ada"]
    assert await every("grace", 1000) == [s.id for s in reversed(made) if s.owner == "grace"]
    assert (await store.list_schedules(owner="nobody")).items == []
    first = await store.list_schedules(limit=3)
    assert first.items == [await store.get_schedule(i) for i in newest_first[:3]]
    assert first.continuation is not None


async def test_a_listing_refuses_a_bad_limit_token_or_owner(
    repositories: RepositoryHarness,
) -> None:
    store = await store_of(repositories)
    for limit in (0, -1, 1001):
        with pytest.raises(InvalidInput):
            await store.list_schedules(limit=limit)
        with pytest.raises(InvalidInput):
            await store.list_due_schedules(now=repositories.clock.now(), limit=limit)
        with pytest.raises(InvalidInput):
            await store.list_slot_markers(new_job_id("ada"), limit=limit)
    for token in ("", "abc", "r|x", "'; DROP TABLE schedules; --"):
        with pytest.raises(InvalidInput):
            await store.list_schedules(continuation=token)
    for owner in BAD_OWNERS:
        with pytest.raises(InvalidInput):
            await store.list_schedules(owner=owner)
    with pytest.raises(InvalidInput):
        await store.list_due_schedules(now=datetime(2030, 1, 1))  # naive


async def test_the_due_listing_holds_exactly_the_due_unpaused_schedules_soonest_first(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    now = h.clock.now()
    late = await store.insert_schedule(schedule(h, "late", next_slot=now - 10 * MINUTE))
    on_time = await store.insert_schedule(schedule(h, "on time", next_slot=now))
    earliest = await store.insert_schedule(schedule(h, "earliest", next_slot=now - 30 * MINUTE))
    tied = await store.insert_schedule(schedule(h, "tied", next_slot=now - 10 * MINUTE))
    await store.insert_schedule(schedule(h, "future", next_slot=now + timedelta(microseconds=1)))
    await store.insert_schedule(schedule(h, "paused", next_slot=now - MINUTE, paused=True))
    await store.insert_schedule(schedule(h, "done"))  # no slot left

    due = await store.list_due_schedules(now=now)

    tie = sorted([late.id, tied.id])
    assert [s.id for s in due] == [earliest.id, *tie, on_time.id]
    assert same(due[0], earliest)
    assert [s.id for s in await store.list_due_schedules(now=now, limit=2)] == [
        earliest.id,
        tie[0],
    ]
    assert await store.list_due_schedules(now=now - timedelta(hours=1)) == []


async def test_firing_moves_a_schedule_out_of_the_due_listing_and_pausing_keeps_it_out(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store, other = await store_of(h), await store_of(h)
    now = h.clock.now()
    await store.insert_schedule(schedule(h, "a", next_slot=now - MINUTE))
    await store.insert_schedule(schedule(h, "b", next_slot=now - 2 * MINUTE))

    [b, a] = await store.list_due_schedules(now=now)
    fired = await store.update_schedule(  # updated as the due listing read it
        b.with_changes(next_slot=now + 5 * MINUTE, last_slot=b.next_slot)
    )
    with pytest.raises(ConcurrencyConflict):  # another process fired it meanwhile
        await other.update_schedule(b.with_changes(next_slot=now + 9 * MINUTE))

    assert [s.id for s in await store.list_due_schedules(now=now)] == [a.id]
    assert [s.id for s in await store.list_due_schedules(now=now + 5 * MINUTE)] == [a.id, b.id]
    paused = await store.update_schedule(a.with_changes(paused=True))
    assert await store.list_due_schedules(now=now) == []
    [listed_b, listed_a] = (await store.list_schedules(owner="ada")).items  # newest first
    assert listed_a.id == a.id
    assert listed_b.id == fired.id
    resumed = await store.update_schedule(listed_a.with_changes(paused=False))  # as listed
    assert [s.id for s in await store.list_due_schedules(now=now)] == [a.id]
    assert (await store.get_schedule(a.id)).version == resumed.version
    with pytest.raises(ConcurrencyConflict):
        await store.update_schedule(paused.with_changes(paused=False))
    await store.update_schedule(resumed.with_changes(next_slot=None))  # no slot left
    [left] = await store.list_due_schedules(now=now + timedelta(days=1))
    assert same(left, fired)


async def test_the_due_listing_reads_only_the_due_ones_whatever_is_stored(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    now = h.clock.now()
    for n in range(30):  # not due: later, paused, or done
        kind = n % 3
        await store.insert_schedule(
            schedule(
                h,
                f"idle {n}",
                next_slot=None if kind == 2 else now + (n + 1) * MINUTE,
                paused=kind == 1,
            )
        )
    due = [
        await store.insert_schedule(schedule(h, f"due {n}", next_slot=now - n * SECOND))
        for n in range(5)
    ]

    found = await store.list_due_schedules(now=now, limit=1000)

    assert [s.id for s in found] == [s.id for s in reversed(due)]


# --- slot markers ----------------------------------------------------------------------


async def test_a_slot_fires_once_and_the_refusal_names_the_first_job(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    first, second = await store_of(h), await store_of(h)
    stored = await first.insert_schedule(schedule(h))
    slot = h.clock.now()
    winner = marker(stored.id, slot, by="worker/1:42")

    await first.insert_slot_marker(winner)
    with pytest.raises(SlotAlreadyFired) as fired:
        await second.insert_slot_marker(marker(stored.id, slot, by="box:2"))

    assert fired.value.existing == winner
    assert fired.value.job_id == winner.job_id
    assert winner.job_id in str(fired.value)
    assert await second.get_slot_marker(stored.id, slot) == winner
    assert await second.get_slot_marker(stored.id, slot + timedelta(microseconds=1)) is None
    await second.insert_slot_marker(marker(stored.id, slot + timedelta(microseconds=1)))


async def test_of_20_clients_inserting_the_same_slot_exactly_one_wins(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    stores = [await store_of(h) for _ in range(4)]
    stored = await stores[0].insert_schedule(schedule(h))
    slot = h.clock.now()
    markers = [marker(stored.id, slot, by=f"box:{n}") for n in range(20)]

    outcomes = await asyncio.gather(
        *(stores[n % 4].insert_slot_marker(m) for n, m in enumerate(markers)),
        return_exceptions=True,
    )

    won = [m for m, outcome in zip(markers, outcomes, strict=True) if outcome is None]
    assert len(won) == 1
    refusals = [o for o in outcomes if o is not None]
    assert all(isinstance(o, SlotAlreadyFired) for o in refusals), refusals
    assert {o.job_id for o in refusals if isinstance(o, SlotAlreadyFired)} == {won[0].job_id}
    assert await stores[3].get_slot_marker(stored.id, slot) == won[0]


async def test_markers_are_listed_newest_slot_first_up_to_the_limit(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    a, b = [await store.insert_schedule(schedule(h, n)) for n in "ab"]
    now = h.clock.now()
    slots = [now - timedelta(minutes=m) for m in (5, 0, 20, 10, 15)]
    for slot in slots:
        await store.insert_slot_marker(marker(a.id, slot))
    await store.insert_slot_marker(marker(b.id, now + MINUTE))

    listed = await store.list_slot_markers(a.id)

    assert [m.slot for m in listed] == sorted(slots, reverse=True)
    assert [m.slot for m in await store.list_slot_markers(a.id, limit=2)] == [now, slots[0]]
    assert [m.schedule_id for m in listed] == [a.id] * 5
    assert await store.list_slot_markers(new_job_id("ada")) == []
    assert await store.list_slot_markers("no/such#id") == []


async def test_purging_deletes_the_markers_fired_before_the_cutoff_up_to_its_limit(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    a, b = [await store.insert_schedule(schedule(h, n)) for n in "ab"]
    now = h.clock.now().replace(microsecond=0)
    for m in range(6):  # fired 1 s after their slots, one a minute
        await store.insert_slot_marker(marker(a.id, now - m * MINUTE))
        await store.insert_slot_marker(marker(b.id, now - m * MINUTE))
    cutoff = now - 2 * MINUTE + SECOND  # the firing of slot now-2min: 3 each before it
    # Fired early, before the cutoff, of a slot after it: kept, it still guards its slot.
    early = marker(a.id, now + MINUTE, fired_at=cutoff - MINUTE)
    await store.insert_slot_marker(early)

    assert await store.purge_slot_markers(fired_before=cutoff, limit=4) == 4
    assert await store.purge_slot_markers(fired_before=cutoff, limit=4) == 2
    assert await store.purge_slot_markers(fired_before=cutoff) == 0

    kept = [now - m * MINUTE for m in range(3)]
    assert [m.slot for m in await store.list_slot_markers(a.id)] == [now + MINUTE, *kept]
    assert [m.slot for m in await store.list_slot_markers(b.id)] == kept
    assert await store.purge_slot_markers(fired_before=now + timedelta(hours=1)) == 7
    assert await store.list_slot_markers(a.id) == []
    with pytest.raises(InvalidInput):
        await store.purge_slot_markers(fired_before=now, limit=0)
    with pytest.raises(InvalidInput):
        await store.purge_slot_markers(fired_before=datetime(2030, 1, 1))


async def test_a_marker_no_store_could_read_back_is_refused(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    good = marker(new_job_id("ada"), h.clock.now())
    for bad in ({"job_id": "nope"}, {"fired_by": "line\nbreak"}, {"fired_by": ""}):
        with pytest.raises(InvalidInput):
            await store.insert_slot_marker(good.model_copy(update=bad))
    for host in ("", "tab\t", "x" * 257):
        with pytest.raises(InvalidInput):
            marker(good.schedule_id, h.clock.now(), by=host)
    with pytest.raises(InvalidInput, match="1970"):
        marker(good.schedule_id, datetime(1969, 12, 31, 23, 59, tzinfo=h.clock.now().tzinfo))


# --- hostile values --------------------------------------------------------------------


async def test_owners_and_names_that_keys_cannot_hold_are_stored_and_listed_as_given(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    now = h.clock.now()
    stored = {}
    for n, owner in enumerate(ODD_OWNERS):
        name = f"{owner[:150]} / #{n}? \\ | % 🚀"
        stored[owner] = await store.insert_schedule(
            schedule(h, name, owner=owner, next_slot=now - n * SECOND)
        )

    for owner, made in stored.items():
        [listed] = (await store.list_schedules(owner=owner)).items
        assert same(listed, await store.get_schedule(made.id))
        assert listed.owner == owner
        updated = await store.update_schedule(listed.with_changes(paused=True))
        assert updated.paused
        with pytest.raises(DuplicateSchedule):
            await store.insert_schedule(schedule(h, made.name, owner=owner))
    assert await store.list_due_schedules(now=now) == []
    # Two owners alike in their first 400 characters stay apart.
    await store.insert_schedule(schedule(h, "x", owner="/" * 255 + "a"))
    assert len((await store.list_schedules(owner="/" * 256)).items) == 1


async def test_a_request_over_32_kib_is_refused_with_a_clear_error_and_one_at_it_stored(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    with pytest.raises(PayloadTooLarge) as too_large:
        schedule(h, request="x" * MAX_SCHEDULE_REQUEST_BYTES)
    assert too_large.value.limit == MAX_SCHEDULE_REQUEST_BYTES
    assert "pass a reference" in str(too_large.value)
    with pytest.raises(PayloadTooDeep):
        schedule(h, request=nested(100))

    # Its quotes make it 32 KiB of JSON: 64 KiB as UTF-16 (how Table Storage counts), what
    # one property holds.
    at_limit = "x" * (MAX_SCHEDULE_REQUEST_BYTES - 2)
    wide = "東" * ((MAX_SCHEDULE_REQUEST_BYTES - 2) // 3)  # 3 bytes each as UTF-8
    for request in (at_limit, wide, {"list": list(range(5000))}):
        stored = await store.insert_schedule(schedule(h, f"r{len(str(request))}", request=request))
        assert (await store.get_schedule(stored.id)).request == request

    grown = stored.model_copy(update={"request": "x" * (MAX_SCHEDULE_REQUEST_BYTES + 1)})
    with pytest.raises(PayloadTooLarge):  # past the model: the store's gate refuses it
        await store.update_schedule(grown)
    with pytest.raises(PayloadTooLarge):
        await store.insert_schedule(grown.model_copy(update={"id": new_job_id("ada")}))
    assert (await store.get_schedule(stored.id)).request == {"list": list(range(5000))}


async def test_a_record_that_would_not_read_back_is_not_stored(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.insert_schedule(schedule(h))
    for bad in (
        {"catch_up_limit": 5000},
        {"name": ""},
        {"time_zone": "No Such/Zone!"},
        {"last_job_id": "nope"},
        {"rule": "r" * (MAX_RULE_LENGTH + 1)},
    ):
        with pytest.raises(InvalidInput, match="would not read back"):
            await store.update_schedule(stored.model_copy(update=bad))
        with pytest.raises(InvalidInput):
            await store.insert_schedule(stored.model_copy(update={**bad, "id": new_job_id("ada")}))
    assert await store.get_schedule(stored.id) == stored
