"""The sequence store (``JobRepository.sequences``): every adapter keeps sequences under
versions, lists them newest first (all, or one owner's), indexes the active ones for the
sweep, refuses what would not read back, and records each write in the change feed."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from queued_jobs.errors import (
    ConcurrencyConflict,
    CorruptSequenceRecord,
    DuplicateSequence,
    InvalidInput,
    PayloadTooLarge,
    SequenceNotFound,
)
from queued_jobs.models import JobStatus, new_job_id
from queued_jobs.sequences.model import (
    MAX_SEQUENCE_BYTES,
    Outcome,
    Run,
    RunJob,
    Sequence,
    SequenceStatus,
)
from queued_jobs.sequences.store import SequenceStore

from .conftest import RepositoryHarness

ODD_OWNERS = ["tenant/42", "hash#and?query", "pipe|and%percent", "wörker-東京-🚀", "/" * 256]


async def store_of(h: RepositoryHarness) -> SequenceStore:
    return (await h.open()).sequences


def sequence(h: RepositoryHarness, name: str = "billing", *, owner: str = "ada") -> Sequence:
    """A two-step sequence made now (by the test's clock), then the clock moved on a
    millisecond so that the next one sorts after it."""
    made = Sequence.new(
        owner=owner,
        name=name,
        steps=[
            {"jobs": [{"job_type": "billing.collect", "request": {"month": "2026-01"}}]},
            {
                "jobs": [{"job_type": "billing.mail"}, {"job_type": "billing.archive"}],
                "exit": "wait_any",
                "pass_results": True,
                "on_failure": "goto:0",
            },
        ],
        max_iterations=3,
        now=h.clock.now(),
    )
    h.clock.advance(timedelta(milliseconds=1))
    return made


def started(made: Sequence, h: RepositoryHarness, **changes: Any) -> Sequence:
    """``made`` with its first step's run recorded."""
    run = Run(
        number=0,
        step=0,
        iteration=1,
        jobs=(RunJob(job_id=new_job_id(made.owner)),),
        started_at=h.clock.now(),
    )
    return made.with_changes(now=h.clock.now(), runs=(run,), iterations=(1, 0), **changes)


def same(a: Sequence, b: Sequence) -> bool:
    return a.model_copy(update={"version": None}) == b.model_copy(update={"version": None})


async def test_an_inserted_sequence_reads_back_from_another_client(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    writer, reader = await store_of(h), await store_of(h)
    made = started(sequence(h), h)

    stored = await writer.insert_sequence(made)

    assert stored.version is not None
    assert same(stored, made)
    assert await reader.get_sequence(made.id) == stored


async def test_an_update_replaces_the_sequence_and_gives_it_a_new_version(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.insert_sequence(started(sequence(h), h))
    [run] = stored.runs
    ended = run.model_copy(
        update={
            "jobs": (RunJob(job_id=run.jobs[0].job_id, status=JobStatus.SUCCEEDED),),
            "outcome": Outcome.SUCCESS,
        }
    )
    changed = stored.with_changes(now=h.clock.now(), runs=(ended,), step=1)

    updated = await store.update_sequence(changed)

    assert updated.version not in (None, stored.version)
    assert same(updated, changed)
    assert await store.get_sequence(stored.id) == updated


async def test_an_update_with_a_stale_or_foreign_version_is_refused(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    first, second = await store_of(h), await store_of(h)
    stored = await first.insert_sequence(sequence(h))
    await second.update_sequence(stored.with_changes(name="renamed"))

    with pytest.raises(ConcurrencyConflict) as conflict:
        await first.update_sequence(stored.with_changes(name="again"))
    assert conflict.value.job_id == stored.id
    assert "sequence" in str(conflict.value)
    for version in (None, "", "7~x", 'q:W/"x"~a~0', "999999999999999999999"):
        with pytest.raises(ConcurrencyConflict):
            await first.update_sequence(stored.model_copy(update={"version": version}))
    assert (await first.get_sequence(stored.id)).name == "renamed"


async def test_two_updates_from_one_read_store_exactly_one(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    first, second = await store_of(h), await store_of(h)
    stored = await first.insert_sequence(sequence(h))
    results = []
    for store, name in ((first, "one"), (second, "two")):
        try:
            results.append(await store.update_sequence(stored.with_changes(name=name)))
        except ConcurrencyConflict:
            results.append(None)

    assert len([r for r in results if r is not None]) == 1


async def test_an_update_of_a_deleted_sequence_raises_sequence_not_found(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.insert_sequence(sequence(h))
    [active] = (await store.list_active_sequences()).items
    [listed] = (await store.list_sequences(owner="ada")).items
    await store.delete_sequence(stored.id)

    for read in (stored, active, listed):  # read from each copy the store keeps
        with pytest.raises(SequenceNotFound):
            await store.update_sequence(read.with_changes(name="gone"))
    with pytest.raises(SequenceNotFound):
        await store.get_sequence(stored.id)
    assert (await store.list_active_sequences()).items == []


async def test_a_missing_sequence_or_what_is_no_id_is_not_found(
    repositories: RepositoryHarness,
) -> None:
    store = await store_of(repositories)
    for sequence_id in (new_job_id("ada"), "nope", "../../etc", "a/b#c?d", "x" * 2000):
        with pytest.raises(SequenceNotFound) as missing:
            await store.get_sequence(sequence_id)
        assert missing.value.sequence_id == sequence_id
        await store.delete_sequence(sequence_id)  # nothing to delete: no error


async def test_a_taken_id_and_a_change_of_owner_are_refused(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.insert_sequence(sequence(h))

    with pytest.raises(DuplicateSequence):
        await store.insert_sequence(stored.with_changes(name="second"))
    # "ada" and "bob" share no shard digit, so the id must stay; the owner is swapped in.
    other = stored.model_copy(update={"owner": "someone else"})
    with pytest.raises((InvalidInput, ConcurrencyConflict)):
        await store.update_sequence(other)
    assert (await store.get_sequence(stored.id)).owner == "ada"


async def test_an_oversized_record_is_refused_and_nothing_is_written(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.insert_sequence(sequence(h))
    big = {"blob": "x" * 30_000}
    steps = [{"jobs": [{"job_type": "a.b", "request": big}]}] * 8

    with pytest.raises(PayloadTooLarge) as refused:
        await store.update_sequence(
            Sequence.model_validate(
                {**stored.model_dump(), "steps": steps, "iterations": [0] * 8, "runs": []}
            )
        )
    assert str(MAX_SEQUENCE_BYTES) in str(refused.value).replace(",", "")
    assert await store.get_sequence(stored.id) == stored


async def test_a_record_near_the_bound_reads_back_whole(repositories: RepositoryHarness) -> None:
    h = repositories
    store = await store_of(h)
    text = "ü東🚀" * 3_500  # characters of every width, cut across properties on Azure
    steps = [{"jobs": [{"job_type": "a.b", "request": {"text": text}}]}] * 5
    made = Sequence.model_validate(
        {**sequence(h).model_dump(), "steps": steps, "iterations": [0] * 5}
    )

    stored = await store.insert_sequence(made)

    assert (await store.get_sequence(made.id)).steps[4].jobs[0].request == {"text": text}
    assert same(stored, made)


async def test_listings_are_newest_first_by_owner_or_all_and_page_on(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    made = [await store.insert_sequence(sequence(h, owner=o)) for o in ["ada", *ODD_OWNERS]]
    mine = await store.insert_sequence(sequence(h, "second"))

    assert [s.id for s in (await store.list_sequences(owner="ada")).items] == [
        mine.id,
        made[0].id,
    ]
    for odd, stored in zip(ODD_OWNERS, made[1:], strict=True):
        assert [s.id for s in (await store.list_sequences(owner=odd)).items] == [stored.id]
    seen: list[str] = []
    page = await store.list_sequences(limit=2)
    while True:
        seen += [s.id for s in page.items]
        if page.continuation is None:
            break
        page = await store.list_sequences(limit=2, continuation=page.continuation)
    assert seen == sorted([s.id for s in [*made, mine]], reverse=True)
    for bad in ({"limit": 0}, {"continuation": "nope"}, {"owner": "line\nbreak"}):
        with pytest.raises(InvalidInput):
            await store.list_sequences(**bad)


async def test_only_active_sequences_are_listed_for_the_sweep(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    running = await store.insert_sequence(sequence(h, owner="bob"))
    ended = await store.insert_sequence(sequence(h))
    cancelling = await store.insert_sequence(sequence(h, owner="tenant/42"))
    await store.update_sequence(
        ended.with_changes(status=SequenceStatus.SUCCEEDED, step=None, completed_at=h.clock.now())
    )
    cancelled = await store.update_sequence(
        cancelling.with_changes(status=SequenceStatus.CANCELLED, step=None, cancel_pending=True)
    )

    active = await store.list_active_sequences()
    assert [s.id for s in active.items] == [cancelling.id, running.id]
    await store.update_sequence(cancelled.with_changes(cancel_pending=False))
    first = await store.list_active_sequences(limit=1)
    assert [s.id for s in first.items] == [running.id]
    assert first.continuation is None


async def test_every_write_of_a_sequence_records_a_change_in_the_feed(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repository = await h.open()
    made = sequence(h, owner="tenant/42")
    [partition] = repository.change_partitions("tenant/42")
    stored = await repository.sequences.insert_sequence(made)
    await repository.sequences.update_sequence(
        stored.with_changes(
            status=SequenceStatus.FAILED, step=None, reason="step 1 failed: no mail sent"
        )
    )

    batch = await repository.read_changes(partition)
    changes = [c for c in batch.changes if c.job_id == made.id]
    assert [c.kind for c in changes] == ["sequence", "sequence"]
    assert [c.status for c in changes] == [JobStatus.RUNNING, JobStatus.FAILED]
    assert changes[0].owner == "tenant/42"
    assert changes[1].error == "step 1 failed: no mail sent"


async def damage(h: RepositoryHarness, repository: Any, sequence_id: str) -> None:
    """Write what is no sequence over the stored one, as a foreign writer could."""
    if h.kind == "memory":
        store = repository.sequences
        row = store._rows[sequence_id]
        store._rows[sequence_id] = type(row)(row.owner, row.active, row.version, '{"id": 1')
    elif h.kind == "sqlite":
        with sqlite3.connect(repository._db.path) as raw:
            raw.execute("UPDATE sequences SET doc = '[]' WHERE id = ?", (sequence_id,))
    else:
        from queued_jobs._azure import table_sequence_rows as rows

        await repository._table.upsert_entity(
            {
                "PartitionKey": f"j{sequence_id[-1]}",
                "RowKey": rows.record_key(sequence_id),
                "Owner": "ada",
                "Parts": 99,
            }
        )


async def test_an_unreadable_sequence_is_named_not_fatal_and_can_be_deleted(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repository = await h.open()
    store = repository.sequences
    good = await store.insert_sequence(sequence(h))
    bad = await store.insert_sequence(sequence(h))
    await damage(h, repository, bad.id)

    with pytest.raises(CorruptSequenceRecord) as unreadable:
        await store.get_sequence(bad.id)
    assert unreadable.value.sequence_id == bad.id
    for page in (
        await store.list_sequences(),
        await store.list_sequences(owner="ada"),
        await store.list_active_sequences(),
    ):
        assert [s.id for s in page.items] == [good.id]
        assert list(page.skipped) == [bad.id]
    await store.delete_sequence(bad.id)
    assert (await store.list_active_sequences()).skipped == []
    with pytest.raises(SequenceNotFound):
        await store.get_sequence(bad.id)


def ended(made: Sequence, h: RepositoryHarness, **changes: Any) -> Sequence:
    """``made`` ended now (by the test's clock), then the clock moved on a second."""
    now = h.clock.now()
    fields = {"status": SequenceStatus.SUCCEEDED, "step": None, "completed_at": now, **changes}
    h.clock.advance(timedelta(seconds=1))
    return made.with_changes(now=now, **fields)


async def test_a_purge_deletes_what_ended_before_its_cutoff_oldest_first_and_keeps_the_rest(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    running = await store.insert_sequence(sequence(h, owner="bob"))
    first = await store.update_sequence(ended(await store.insert_sequence(sequence(h)), h))
    odd = ODD_OWNERS[2]
    second = await store.insert_sequence(ended(sequence(h, owner=odd), h))  # stored ended
    told = await store.insert_sequence(sequence(h, owner="carol"))
    cancelling = await store.update_sequence(
        ended(told, h, status=SequenceStatus.CANCELLED, cancel_pending=True)
    )
    cutoff = h.clock.now()
    late = await store.update_sequence(ended(await store.insert_sequence(sequence(h)), h))

    assert await store.purge_sequences(ended_before=cutoff, limit=1) == 1
    with pytest.raises(SequenceNotFound):
        await store.get_sequence(first.id)
    assert (await store.get_sequence(second.id)).id == second.id
    assert await store.purge_sequences(ended_before=cutoff) == 1
    assert await store.purge_sequences(ended_before=cutoff) == 0

    assert [s.id for s in (await store.list_sequences()).items] == [
        late.id,
        cancelling.id,
        running.id,
    ]
    assert (await store.list_sequences(owner=odd)).items == []
    assert [s.id for s in (await store.list_sequences(owner="ada")).items] == [late.id]
    assert [s.id for s in (await store.list_active_sequences()).items] == [
        cancelling.id,
        running.id,
    ]
    told_all = await store.update_sequence(cancelling.with_changes(cancel_pending=False))
    assert await store.purge_sequences(ended_before=h.clock.now()) == 2  # it, and the late one
    assert [s.id for s in (await store.list_sequences()).items] == [running.id]
    assert told_all.completed_at is not None
    assert told_all.completed_at < cutoff


async def test_a_sequence_deleted_once_ended_leaves_nothing_for_a_purge_to_count(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    gone = await store.update_sequence(ended(await store.insert_sequence(sequence(h)), h))
    kept = await store.update_sequence(ended(await store.insert_sequence(sequence(h)), h))
    await store.update_sequence(kept.with_changes(reason="a late completion was recorded"))
    await store.delete_sequence(gone.id)

    assert await store.purge_sequences(ended_before=h.clock.now()) == 1
    assert (await store.list_sequences()).items == []


async def test_a_purge_with_a_naive_moment_or_a_bad_limit_is_refused_and_deletes_nothing(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    store = await store_of(h)
    stored = await store.update_sequence(ended(await store.insert_sequence(sequence(h)), h))
    later = h.clock.now()
    for bad in (
        {"ended_before": later.replace(tzinfo=None)},
        {"ended_before": "2026-01-01"},
        {"ended_before": datetime.max.replace(tzinfo=timezone(timedelta(hours=-5)))},
        {"ended_before": later, "limit": 0},
        {"ended_before": later, "limit": 10_001},
        {"ended_before": later, "limit": True},
    ):
        with pytest.raises(InvalidInput):
            await store.purge_sequences(**bad)
    assert await store.purge_sequences(ended_before=stored.created_at) == 0
    assert (await store.get_sequence(stored.id)).id == stored.id
