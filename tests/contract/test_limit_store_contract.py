"""The limit store (``JobRepository.limits``): every adapter keeps gates under versions
with their parked jobs beside them (changed in the same write), lists them by limit and
by whether jobs wait, keeps limits' settings, and names what it cannot read."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.errors import ConcurrencyConflict, InvalidInput, StorageError
from queued_jobs.limits.model import MAX_CAPACITY, MAX_RATE, Gate, Holding, LimitSettings, Waiter
from queued_jobs.limits.store import MAX_WAITERS_REMOVED, LimitStore
from queued_jobs.models import new_job_id

from .conftest import RepositoryHarness

ODD_KEYS = {
    "empty": "",
    "slash": "tenant/42",
    "hash-and-query": "hash#and?query",
    "backslash": "back\\slash",
    "pipe-and-percent": "pipe|and%percent",
    "unicode": "wörker-東京-🚀",
    "longest": "k" * 256,
    "longest-unicode": "🚀" * 256,
    "quote": 'it\'s "quoted"',
    "spaces": "  ",
}
FOREIGN_VERSIONS = ["", "7~x", 'W/"x"', 'W/"x"\r\nIf-Match: *', "999999999999999999999", "²"]


async def store_of(h: RepositoryHarness) -> LimitStore:
    return (await h.open()).limits


def gate(h: RepositoryHarness, key: str = "42", limit: str = "exports", **fields: Any) -> Gate:
    return Gate(limit=limit, key=key, updated_at=h.clock.now(), **fields)


def waiter(h: RepositoryHarness, job_id: str | None = None, queue: str = "jobs") -> Waiter:
    return Waiter(job_id=job_id or new_job_id("ada"), queue=queue, since=h.clock.now())


def held(h: RepositoryHarness, count: int) -> dict[str, Holding]:
    now = h.clock.now()
    until = now + timedelta(minutes=5)
    return {new_job_id(f"o{n}"): Holding(since=now, until=until) for n in range(count)}


async def parked(store: LimitStore, g: Gate) -> list[str]:
    return [w.job_id for w in await store.first_waiters(g.limit, g.key, count=1000)]


async def test_a_gate_never_stored_loads_as_none_and_has_nobody_parked(
    repositories: RepositoryHarness,
) -> None:
    store = await store_of(repositories)

    assert await store.load_gate("exports", "42") is None
    assert await store.first_waiters("exports", "42", count=10) == []
    assert await store.count_waiters("exports", "42", at_most=10) == 0


async def test_a_new_gate_is_stored_and_then_updated_at_its_version(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    writer, reader = await store_of(h), await store_of(h)
    made = gate(h, holders=held(h, 2))

    stored = await writer.save_gate(made)
    assert stored.version is not None
    assert stored.model_copy(update={"version": None}) == made
    assert await reader.load_gate("exports", "42") == stored
    h.clock.advance(timedelta(seconds=1))
    changed = stored.model_copy(update={"holders": {}, "updated_at": h.clock.now()})
    updated = await reader.save_gate(changed)

    assert updated.version not in (None, stored.version)
    assert await writer.load_gate("exports", "42") == updated
    assert (await writer.load_gate("exports", "42") or made).holders == {}


async def test_a_save_at_a_stale_version_is_refused_and_writes_neither_gate_nor_waiters(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    first, second = await store_of(h), await store_of(h)
    kept = waiter(h)
    stored = await first.save_gate(gate(h), add_waiter=kept)
    moved = await second.save_gate(stored.model_copy(update={"has_waiters": True}))

    with pytest.raises(ConcurrencyConflict) as conflict:
        await first.save_gate(
            stored.model_copy(update={"starts": (h.clock.now(),)}),
            add_waiter=waiter(h),
            remove_waiters=[kept.job_id],
        )
    assert conflict.value.kind == "gate"
    assert conflict.value.job_id == "exports/42"
    for version in FOREIGN_VERSIONS:
        with pytest.raises(ConcurrencyConflict):
            await first.save_gate(stored.model_copy(update={"version": version}))
    assert await first.load_gate("exports", "42") == moved
    assert await parked(first, stored) == [kept.job_id]


async def test_storing_a_gate_that_is_stored_already_is_a_conflict_and_parks_nobody(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.save_gate(gate(h))

    with pytest.raises(ConcurrencyConflict):
        await store.save_gate(gate(h, has_waiters=True), add_waiter=waiter(h))
    assert await store.load_gate("exports", "42") == stored
    assert await store.count_waiters("exports", "42", at_most=5) == 0


async def test_a_version_read_before_a_delete_does_not_hold_for_the_gate_stored_again(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    first = await store.save_gate(gate(h))
    second = await store.save_gate(first.model_copy(update={"starts": (h.clock.now(),)}))
    assert await store.delete_gate(second)

    with pytest.raises(ConcurrencyConflict):
        await store.save_gate(second)  # the gate is gone
    again = await store.save_gate(gate(h))
    for read in (first, second):
        with pytest.raises(ConcurrencyConflict):
            await store.save_gate(read.model_copy(update={"holders": held(h, 1)}))
    assert await store.load_gate("exports", "42") == again


async def test_a_job_parked_twice_keeps_one_row_with_what_it_was_parked_with_last(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    job_id = new_job_id("ada")
    stored = await store.save_gate(gate(h, has_waiters=True), add_waiter=waiter(h, job_id))

    again = await store.save_gate(stored, add_waiter=waiter(h, job_id, queue="jobs-high"))

    assert await store.first_waiters("exports", "42", count=5) == [waiter(h, job_id, "jobs-high")]
    assert await store.count_waiters("exports", "42", at_most=5) == 1
    assert (await store.load_gate("exports", "42")) == again


async def test_removals_go_in_the_same_write_and_skip_the_jobs_not_parked(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    a, b, c, d = sorted(new_job_id("ada") for _ in range(4))
    saved = await store.save_gate(gate(h, has_waiters=True))
    for job_id in (a, b, c):
        saved = await store.save_gate(saved, add_waiter=waiter(h, job_id))

    never = new_job_id("bob")
    saved = await store.save_gate(
        saved, add_waiter=waiter(h, d), remove_waiters=[a, never, b, a, new_job_id("eve")]
    )

    assert await parked(store, saved) == [c, d]
    assert await store.load_gate("exports", "42") == saved
    emptied = await store.save_gate(
        saved.model_copy(update={"has_waiters": False}), remove_waiters=[c, d, never]
    )
    assert await parked(store, saved) == []
    assert await store.load_gate("exports", "42") == emptied


async def test_a_job_both_removed_and_added_stays_parked(repositories: RepositoryHarness) -> None:
    h = repositories
    store = await store_of(h)
    kept = waiter(h)
    stored = await store.save_gate(gate(h, has_waiters=True), add_waiter=kept)

    await store.save_gate(stored, add_waiter=kept, remove_waiters=[kept.job_id])

    assert await parked(store, stored) == [kept.job_id]


async def test_removals_past_the_bound_or_of_what_is_no_job_id_are_refused_unwritten(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    kept = waiter(h)
    stored = await store.save_gate(gate(h, has_waiters=True), add_waiter=kept)
    most = [new_job_id("ada") for _ in range(MAX_WAITERS_REMOVED)]

    for bad in ([*most, new_job_id("ada")], ["nope"], [kept.job_id, "w-x/../y"], kept.job_id):
        with pytest.raises(InvalidInput):
            await store.save_gate(stored, add_waiter=waiter(h), remove_waiters=bad)
    assert await store.load_gate("exports", "42") == stored
    assert await parked(store, stored) == [kept.job_id]
    # As many as allowed, with a job added, is one write.
    removed = [kept.job_id, *most[1:]]
    saved = await store.save_gate(stored, add_waiter=waiter(h), remove_waiters=removed)
    assert await store.count_waiters("exports", "42", at_most=5) == 1
    assert await store.load_gate("exports", "42") == saved


async def test_first_waiters_are_the_oldest_job_ids_first_as_many_as_asked(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    ids = [new_job_id("ada", now=h.clock.now() + timedelta(seconds=n)) for n in range(6)]
    saved = await store.save_gate(gate(h, has_waiters=True))
    for job_id in (ids[3], ids[0], ids[5], ids[1], ids[4], ids[2]):
        saved = await store.save_gate(saved, add_waiter=waiter(h, job_id))

    first = await store.first_waiters("exports", "42", count=4)
    assert [w.job_id for w in first] == ids[:4]
    assert [w.job_id for w in await store.first_waiters("exports", "42", count=1)] == ids[:1]
    assert [w.job_id for w in await store.first_waiters("exports", "42", count=1000)] == ids
    assert await store.first_waiters("exports", "41", count=5) == []
    for count in (0, 1001, True, 2.0):
        with pytest.raises(InvalidInput):
            await store.first_waiters("exports", "42", count=count)  # type: ignore[arg-type]


async def test_counting_waiters_stops_one_past_at_most(repositories: RepositoryHarness) -> None:
    h = repositories
    store = await store_of(h)
    saved = await store.save_gate(gate(h, has_waiters=True))
    for _ in range(5):
        saved = await store.save_gate(saved, add_waiter=waiter(h))

    counts = [await store.count_waiters("exports", "42", at_most=n) for n in (10, 5, 4, 2, 0)]
    assert counts == [5, 5, 5, 3, 1]
    for at_most in (-1, True, "3"):
        with pytest.raises(InvalidInput):
            await store.count_waiters("exports", "42", at_most=at_most)  # type: ignore[arg-type]


async def test_a_gate_is_deleted_only_at_its_version_and_with_nobody_parked(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    job = waiter(h)
    stored = await store.save_gate(gate(h, has_waiters=True), add_waiter=job)

    assert not await store.delete_gate(stored)
    emptied = await store.save_gate(
        stored.model_copy(update={"has_waiters": False}), remove_waiters=[job.job_id]
    )
    assert not await store.delete_gate(stored)  # a stale version
    for version in [None, *FOREIGN_VERSIONS]:
        assert not await store.delete_gate(emptied.model_copy(update={"version": version}))
    assert await store.load_gate("exports", "42") == emptied

    assert await store.delete_gate(emptied)
    assert await store.load_gate("exports", "42") is None
    assert not await store.delete_gate(emptied)
    assert (await store.list_gates()).items == []


async def every_page(store: LimitStore, **options: Any) -> tuple[list[Gate], int]:
    """Every gate a listing pages through, and how many pages it took."""
    page = await store.list_gates(**options)
    found, pages = list(page.items), 1
    while page.continuation is not None:
        assert pages < 50, "the listing never ends"
        page = await store.list_gates(**options, continuation=page.continuation)
        found += page.items
        pages += 1
    return found, pages


def ids_of(gates: list[Gate]) -> list[tuple[str, str]]:
    return [(g.limit, g.key) for g in gates]


async def test_gates_are_listed_all_or_by_limit_or_with_jobs_parked_page_by_page(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    exports = [await store.save_gate(gate(h, str(n))) for n in range(5)]
    payments = await store.save_gate(gate(h, "", "payments"))
    waiting = [
        await store.save_gate(gate(h, key, limit, has_waiters=True), add_waiter=waiter(h))
        for limit, key in (("mail", "x"), ("exports", "9"), ("mail.bulk", ""))
    ]
    everything = [*exports, payments, *waiting]

    found, pages = await every_page(store, page_size=2)
    assert sorted(ids_of(found)) == sorted(ids_of(everything))
    assert len(found) == len(everything)
    assert pages == 5
    assert sorted(ids_of(found)) == sorted(ids_of((await store.list_gates()).items))
    by_limit, _ = await every_page(store, limit="exports", page_size=3)
    assert sorted(ids_of(by_limit)) == sorted(ids_of([*exports, waiting[1]]))
    assert ids_of((await store.list_gates(limit="payments")).items) == [("payments", "")]
    assert (await store.list_gates(limit="mail.bulk.other")).items == []
    with_jobs, _ = await every_page(store, waiting_only=True, page_size=1)
    assert sorted(ids_of(with_jobs)) == sorted(ids_of(waiting))
    mail = await store.list_gates(limit="mail", waiting_only=True)
    assert mail.items == [waiting[0]]
    assert mail.continuation is None


async def test_a_listing_refuses_a_foreign_token_a_bad_page_size_or_limit_name(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    for n in range(3):
        await store.save_gate(gate(h, str(n)))
    page = await store.list_gates(page_size=1)
    assert page.continuation is not None

    for bad in (
        {"continuation": "nope"},
        {"continuation": new_job_id("ada")},
        {"continuation": page.continuation.upper()},
        {"continuation": "Exports\n42"},
        {"page_size": 0},
        {"page_size": 1001},
        {"limit": "Exports"},
        {"limit": ""},
    ):
        with pytest.raises(InvalidInput):
            await store.list_gates(**bad)


@pytest.mark.parametrize("key", ["ascii-key", "wörker-東京-🚀" * 18], ids=["ascii", "unicode"])
async def test_a_gate_at_its_largest_round_trips(repositories: RepositoryHarness, key: str) -> None:
    h = repositories
    store = await store_of(h)
    now = h.clock.now()
    starts = tuple(now - timedelta(microseconds=n * 999_999) for n in range(MAX_RATE))[::-1]
    made = gate(h, key, holders=held(h, MAX_CAPACITY), starts=starts, next_turn=now)

    stored = await store.save_gate(made)
    loaded = await store.load_gate("exports", key)
    assert loaded == stored
    assert len(stored.holders) == MAX_CAPACITY
    assert len(stored.starts) == MAX_RATE
    updated = await store.save_gate(stored.model_copy(update={"has_waiters": True}))
    assert (await store.list_gates(waiting_only=True)).items == [updated]


@pytest.mark.parametrize("name", list(ODD_KEYS))
async def test_odd_keys_name_gates_of_their_own(repositories: RepositoryHarness, name: str) -> None:
    h = repositories
    store = await store_of(h)
    key = ODD_KEYS[name]
    near = key + "x"  # a key beside it, so that no range reads past its own gate
    job = waiter(h)
    stored = await store.save_gate(gate(h, key, has_waiters=True), add_waiter=job)
    other = await store.save_gate(gate(h, near[-256:]), add_waiter=waiter(h))

    assert await store.load_gate("exports", key) == stored
    assert await store.first_waiters("exports", key, count=10) == [job]
    assert await store.count_waiters("exports", key, at_most=10) == 1
    assert sorted(ids_of((await store.list_gates(limit="exports")).items)) == sorted(
        [("exports", key), ("exports", other.key)]
    )
    assert ids_of((await store.list_gates(waiting_only=True)).items) == [("exports", key)]
    emptied = await store.save_gate(stored, remove_waiters=[job.job_id])
    assert await store.delete_gate(emptied)
    assert await store.load_gate("exports", key) is None
    assert await store.load_gate("exports", other.key) == other


BAD_NAMES = ["", "Exports", "1st", "a" * 64, "with space", "a/b", "ü", 7, None]
BAD_KEYS = ["k" * 257, "line\nbreak", "nul\x00", "tab\t", "\ud800", 42, None]


async def test_what_cannot_name_a_gate_or_be_stored_is_refused(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    ids = [(name, "k") for name in BAD_NAMES] + [("exports", key) for key in BAD_KEYS]

    for limit, key in ids:
        with pytest.raises(InvalidInput):
            await store.load_gate(limit, key)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await store.first_waiters(limit, key, count=1)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await store.count_waiters(limit, key, at_most=1)  # type: ignore[arg-type]
    for limit in BAD_NAMES:
        for verb in (store.load_limit_settings, store.delete_limit_settings):
            with pytest.raises(InvalidInput):
                await verb(limit)  # type: ignore[arg-type]
    not_a_gate: Any = {"limit": "exports", "key": "42"}
    for save in (
        store.save_gate(not_a_gate),
        store.save_gate(gate(h), add_waiter=not_a_gate),
        store.save_limit_settings(not_a_gate),
    ):
        with pytest.raises(InvalidInput):
            await save
    with pytest.raises(InvalidInput):
        await store.delete_gate(not_a_gate)
    assert (await store.list_gates()).items == []


def settings(h: RepositoryHarness, limit: str = "exports", **fields: Any) -> LimitSettings:
    return LimitSettings(limit=limit, updated_at=h.clock.now(), **fields)


async def test_settings_are_saved_at_their_version_loaded_listed_and_deleted(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    first, second = await store_of(h), await store_of(h)
    assert await first.load_limit_settings("exports") is None

    stored = await first.save_limit_settings(settings(h, capacity=3, updated_by="ops"))
    assert stored.version is not None
    assert await second.load_limit_settings("exports") == stored
    with pytest.raises(ConcurrencyConflict):
        await second.save_limit_settings(settings(h, capacity=4))
    changed = await second.save_limit_settings(stored.model_copy(update={"capacity": 0}))
    assert changed.version not in (None, stored.version)
    for version in [stored.version, *FOREIGN_VERSIONS]:
        with pytest.raises(ConcurrencyConflict):
            await first.save_limit_settings(changed.model_copy(update={"version": version}))
    other = await first.save_limit_settings(settings(h, "api.calls", rate=100))
    assert await first.list_limit_settings() == [other, changed]

    await first.delete_limit_settings("exports")
    await first.delete_limit_settings("exports")  # nothing left to delete: no error
    assert await second.load_limit_settings("exports") is None
    with pytest.raises(ConcurrencyConflict):
        await second.save_limit_settings(changed)  # read before the delete
    again = await second.save_limit_settings(settings(h, rate=5))
    assert await first.list_limit_settings() == [other, again]


async def test_two_saves_from_one_read_store_exactly_one(repositories: RepositoryHarness) -> None:
    h = repositories
    first, second = await store_of(h), await store_of(h)
    stored = await first.save_gate(gate(h))
    one, two = waiter(h), waiter(h)

    results = await asyncio.gather(
        first.save_gate(stored.model_copy(update={"has_waiters": True}), add_waiter=one),
        second.save_gate(stored.model_copy(update={"holders": held(h, 1)}), add_waiter=two),
        return_exceptions=True,
    )

    saved = [r for r in results if isinstance(r, Gate)]
    assert len(saved) == 1
    assert [type(r) for r in results if not isinstance(r, Gate)] == [ConcurrencyConflict]
    assert await first.load_gate("exports", "42") == saved[0]
    winner = one if saved[0].has_waiters else two
    assert await parked(first, stored) == [winner.job_id]


async def test_two_first_saves_of_one_gate_store_exactly_one(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    first, second = await store_of(h), await store_of(h)

    results = await asyncio.gather(
        first.save_gate(gate(h, has_waiters=True), add_waiter=waiter(h)),
        second.save_gate(gate(h, holders=held(h, 2))),
        return_exceptions=True,
    )

    saved = [r for r in results if isinstance(r, Gate)]
    assert len(saved) == 1
    assert [type(r) for r in results if not isinstance(r, Gate)] == [ConcurrencyConflict]
    assert await first.load_gate("exports", "42") == saved[0]
    assert await first.count_waiters("exports", "42", at_most=3) == int(saved[0].has_waiters)


async def damage_gate(h: RepositoryHarness, repository: Any, limit: str, key: str) -> None:
    """Write what is no gate over the stored one, as a foreign writer could (its limit,
    key and whether jobs wait still readable)."""
    if h.kind == "memory":
        repository.limits._gates[(limit, key)].doc = '{"limit": 1'
    elif h.kind == "sqlite":
        with sqlite3.connect(repository._db.path) as raw:
            sql = "UPDATE gates SET doc = '[]' WHERE limit_name = ? AND key = ?"
            raw.execute(sql, (limit, key))
    else:
        from queued_jobs._azure import table_gate_rows as rows

        await repository._table.upsert_entity(
            {
                "PartitionKey": rows.gate_partition(limit, key),
                "RowKey": rows.GATE_ROW,
                "Limit": limit,
                "Key": key,
                "HasWaiters": True,
                "Parts": 2,
                "D0": '{"limit": ',
            }
        )


async def test_a_damaged_gate_raises_on_load_and_is_named_by_the_listings_that_skip_it(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repository = await h.open()
    store = repository.limits
    good = await store.save_gate(gate(h, "1", has_waiters=True), add_waiter=waiter(h))
    await store.save_gate(gate(h, "tenant/2", has_waiters=True), add_waiter=waiter(h))
    await store.save_gate(gate(h, "", "payments"))
    await damage_gate(h, repository, "exports", "tenant/2")
    await damage_gate(h, repository, "payments", "")

    with pytest.raises(StorageError):
        await store.load_gate("exports", "tenant/2")
    everything = await store.list_gates()
    assert everything.items == [good]
    assert sorted(everything.skipped) == ["exports/tenant/2", "payments"]
    for page in (
        await store.list_gates(limit="exports"),
        await store.list_gates(limit="exports", waiting_only=True),
    ):
        assert page.items == [good]
        assert list(page.skipped) == ["exports/tenant/2"]
    found, _ = await every_page(store, page_size=1)
    assert found == [good]


async def test_a_damaged_parked_job_raises_naming_it_and_can_be_removed(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    if h.kind == "memory":
        pytest.skip("memory keeps parked jobs as values: there is no document to damage")
    repository: Any = await h.open()
    store = repository.limits
    bad, good = sorted((waiter(h), waiter(h)), key=lambda w: w.job_id)
    saved = await store.save_gate(gate(h, has_waiters=True), add_waiter=bad)
    saved = await store.save_gate(saved, add_waiter=good)
    if h.kind == "sqlite":
        with sqlite3.connect(repository._db.path) as raw:
            sql = "UPDATE gate_waiters SET doc = '{' WHERE job_id = ?"
            raw.execute(sql, (bad.job_id,))
    else:
        from queued_jobs._azure import table_gate_rows as rows

        partition = rows.gate_partition("exports", "42")
        row = {"PartitionKey": partition, "RowKey": rows.waiter_key(bad.job_id), "Doc": "{"}
        await repository._table.upsert_entity(row)

    with pytest.raises(StorageError) as unreadable:
        await store.first_waiters("exports", "42", count=5)
    assert bad.job_id in str(unreadable.value)
    assert await store.count_waiters("exports", "42", at_most=5) == 2
    await store.save_gate(saved, remove_waiters=[bad.job_id])
    assert await store.first_waiters("exports", "42", count=5) == [good]


async def test_damaged_settings_raise_on_load_and_are_left_out_of_the_list_and_logged(
    repositories: RepositoryHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = repositories
    repository: Any = await h.open()
    store = repository.limits
    kept = await store.save_limit_settings(settings(h, "api.calls", rate=10))
    damaged = await store.save_limit_settings(settings(h, capacity=2))
    if h.kind == "memory":
        store._settings["exports"] = (damaged.version, '{"limit": "exports"')
    elif h.kind == "sqlite":
        with sqlite3.connect(repository._db.path) as raw:
            raw.execute("UPDATE limit_settings SET doc = '[]' WHERE limit_name = 'exports'")
    else:
        from queued_jobs._azure import table_gate_rows as rows

        row = {"PartitionKey": rows.SETTINGS_PARTITION, "RowKey": "exports", "Doc": "[]"}
        await repository._table.upsert_entity(row)

    with pytest.raises(StorageError):
        await store.load_limit_settings("exports")
    with caplog.at_level(logging.WARNING, logger="queued_jobs.limits"):
        assert await store.list_limit_settings() == [kept]
    assert "'exports' are left out" in caplog.text
    await store.delete_limit_settings("exports")
    assert await store.load_limit_settings("exports") is None
