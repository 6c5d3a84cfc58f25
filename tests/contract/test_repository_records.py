"""The JobRepository contract, continued: what is written always reads back, and a row
that cannot be read (left by a foreign writer, an older version, a damaged store) is named,
skipped by listings and still removable. Every adapter passes these unchanged."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.errors import (
    CorruptJobRecord,
    InvalidJobRecord,
    JobNotFound,
    PayloadTooDeep,
)
from queued_jobs.models import MAX_INT_DIGITS, MAX_NESTING, AttemptOutcome, JobStatus
from queued_jobs.repositories.base import JobQuery
from tests.support.unreadable_rows import Damage, nested

from .conftest import RepositoryHarness, damaged_rows
from .test_repository_contract import all_pages, attempt, changed, make_job, same

pytestmark = pytest.mark.asyncio


# --- the write gate --------------------------------------------------------------------


@pytest.mark.parametrize("levels", [MAX_NESTING + 1, 230])
async def test_payloads_nested_deeper_than_the_cap_are_refused_on_every_write(
    repositories: RepositoryHarness, levels: int
) -> None:
    repo = await repositories.open()
    too_deep = make_job(repositories, request=nested(levels))

    with pytest.raises(PayloadTooDeep, match=f"request is nested more than {MAX_NESTING}"):
        await repo.insert(too_deep)
    with pytest.raises(PayloadTooDeep):
        await repo.insert_many([make_job(repositories), too_deep])
    with pytest.raises(JobNotFound):
        await repo.get(too_deep.id)
    assert (await repo.list_jobs()).items == []

    stored = await repo.insert(make_job(repositories))
    with pytest.raises(PayloadTooDeep, match="result"):
        await repo.update(changed(stored, result={"r": nested(levels)}))
    with pytest.raises(PayloadTooDeep, match="custom_data"):
        await repo.update(changed(stored, custom_data={"c": nested(levels)}))
    assert await repo.get(stored.id) == stored


async def test_payloads_nested_up_to_the_cap_round_trip(repositories: RepositoryHarness) -> None:
    repo = await repositories.open()
    deepest = nested(MAX_NESTING, leaf="[[{{ brackets in strings do not count")
    job = make_job(repositories, request=deepest, custom_data={"c": nested(MAX_NESTING - 1)})

    stored = await repo.insert(job)
    done = await repo.update(changed(stored, result=deepest))

    assert await repo.get(job.id) == done
    assert [same(j) for j in (await repo.list_by_owner("alice")).items] == [same(done)]


#: Numbers pydantic-core's serializer writes and its parser refuses (or JSON cannot hold).
UNREADABLE_NUMBERS: dict[str, tuple[Any, str]] = {
    "int-of-4301-digits": (10**MAX_INT_DIGITS, "integer of 4,301 digits"),
    "negative-int-of-5001-digits": (-(10**5000), "integer of 5,001 digits"),
    "infinity": (math.inf, "not finite"),
    "minus-infinity": (-math.inf, "not finite"),
    "nan": (math.nan, "not finite"),
}


@pytest.mark.parametrize(("number", "found"), UNREADABLE_NUMBERS.values(), ids=UNREADABLE_NUMBERS)
async def test_payloads_with_numbers_that_would_not_read_back_are_refused_on_every_write(
    repositories: RepositoryHarness, number: Any, found: str
) -> None:
    repo = await repositories.open()
    bad = make_job(repositories, request={"x": [1, number]})

    with pytest.raises(InvalidJobRecord, match=f"job {bad.id} .*request holds .*{found}"):
        await repo.insert(bad)
    with pytest.raises(InvalidJobRecord, match=found):
        await repo.insert_many([make_job(repositories), bad])
    with pytest.raises(InvalidJobRecord, match=found):
        await repo.insert(make_job(repositories, custom_data={"c": number}))
    assert (await repo.list_jobs()).items == []

    stored = await repo.insert(make_job(repositories))
    with pytest.raises(InvalidJobRecord, match=f"result holds .*{found}"):
        await repo.update(changed(stored, result=number))
    with pytest.raises(InvalidJobRecord, match=f"custom_data holds .*{found}"):
        await repo.update(changed(stored, custom_data={"c": {"d": number}}))
    assert await repo.get(stored.id) == stored
    assert (await repo.list_jobs()).skipped == []


async def test_the_longest_integers_and_number_like_strings_round_trip(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    longest = [10**MAX_INT_DIGITS - 1, -(10**MAX_INT_DIGITS - 1), 1e308, -5e-324]
    words = {"NaN": "Infinity", "digits": "9" * 10_000, "e": '\\"' + "7" * 5000}
    job = make_job(repositories, request=longest, custom_data=words)

    stored = await repo.insert(job)
    done = await repo.update(changed(stored, result={"n": longest, "w": words}))

    assert await repo.get(job.id) == done
    assert [same(j) for j in (await repo.list_by_owner("alice")).items] == [same(done)]


UNDECODABLE = b"\xff".decode("utf-8", "surrogateescape")  # what undecodable bytes become


@pytest.mark.parametrize(
    "text",
    [
        {"tags": ("ok", UNDECODABLE)},
        {"correlation_id": f"c{UNDECODABLE}"},
        {"unique_key": UNDECODABLE},
        {"lease_owner": UNDECODABLE},
    ],
    ids=["tag", "correlation-id", "unique-key", "lease-owner"],
)
async def test_text_that_is_not_unicode_is_refused_before_it_reaches_the_store(
    repositories: RepositoryHarness, text: dict[str, Any]
) -> None:
    repo = await repositories.open()
    stored = await repo.insert(make_job(repositories))
    field = next(iter(text))

    with pytest.raises(InvalidJobRecord, match=f"{field}.*not valid Unicode text"):
        await repo.insert(changed(make_job(repositories), **text))
    with pytest.raises(InvalidJobRecord, match="not valid Unicode text"):
        await repo.update(changed(stored, **text))

    assert await repo.get(stored.id) == stored
    assert [j.id for j in (await repo.list_jobs()).items] == [stored.id]


async def test_a_copy_that_would_not_read_back_is_refused_and_the_stored_job_kept(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    stored = await repo.insert(make_job(repositories, status=JobStatus.FAILED))

    # model_copy skips validation: this is what `retry --attempts 1000` used to store.
    with pytest.raises(InvalidJobRecord, match=f"job {stored.id} .*max_attempts"):
        await repo.update(changed(stored, max_attempts=1003))
    with pytest.raises(InvalidJobRecord, match="updated_at"):
        await repo.update(changed(stored, updated_at=stored.updated_at.replace(tzinfo=None)))
    with pytest.raises(InvalidJobRecord, match="max_attempts"):
        await repo.insert(changed(make_job(repositories), max_attempts=0))
    bad_attempt = attempt(stored, 1, AttemptOutcome.FAILED).model_copy(update={"host": ""})
    with pytest.raises(InvalidJobRecord, match="attempt 1"):
        await repo.update(changed(stored, attempts=1), attempt=bad_attempt)

    assert await repo.get(stored.id) == stored
    assert await repo.list_attempts(stored.id) == []


# --- rows that cannot be read ----------------------------------------------------------


@pytest.mark.parametrize(("repositories", "damage"), damaged_rows(), indirect=["repositories"])
async def test_get_of_an_unreadable_row_raises_corrupt_job_record_naming_the_job(
    repositories: RepositoryHarness, damage: Damage
) -> None:
    repo = await repositories.open()
    job = make_job(repositories)
    await repositories.plant(job, damage)

    with pytest.raises(CorruptJobRecord, match=f"job {job.id}") as raised:
        await repo.get(job.id)

    assert raised.value.job_id == job.id
    assert raised.value.reason
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("repositories", "damage"), damaged_rows(), indirect=["repositories"])
async def test_listings_skip_unreadable_rows_name_them_and_page_past_them(
    repositories: RepositoryHarness, damage: Damage
) -> None:
    repo = await repositories.open()
    older = await repo.insert(make_job(repositories))
    unreadable = make_job(repositories)
    await repositories.plant(unreadable, damage)
    newer = await repo.insert(make_job(repositories))

    for listing in (repo.list_jobs(), repo.list_by_owner("alice")):
        page = await listing
        assert [j.id for j in page.items] == [newer.id, older.id]
        assert list(page.skipped) == [unreadable.id]
        assert page.continuation is None

    # One row a page: the unreadable one is a page of its own, with nothing but its id.
    pages = []
    continuation = None
    while True:
        page = await repo.list_jobs(JobQuery(), limit=1, continuation=continuation)
        pages.append(([j.id for j in page.items], list(page.skipped)))
        if (continuation := page.continuation) is None:
            break
    assert pages == [([newer.id], []), ([], [unreadable.id]), ([older.id], [])]
    assert [j.id for j in await all_pages(repo.list_by_owner, owner="alice", limit=1)] == [
        newer.id,
        older.id,
    ]


@pytest.mark.parametrize(("repositories", "damage"), damaged_rows(), indirect=["repositories"])
async def test_delete_and_purge_remove_unreadable_rows(
    repositories: RepositoryHarness, damage: Damage
) -> None:
    repo = await repositories.open()
    start = repositories.clock.now()
    finished = make_job(repositories, status=JobStatus.FAILED, completed_at=start)
    doomed = make_job(repositories)
    await repositories.plant(finished, damage)
    await repositories.plant(doomed, damage)
    repositories.clock.advance(timedelta(days=40))

    await repo.delete(doomed.id)
    purged = await repo.purge(completed_before=repositories.clock.now() - timedelta(days=30))

    assert purged == 1
    for job in (finished, doomed):
        with pytest.raises(JobNotFound):
            await repo.get(job.id)
    for page in (await repo.list_jobs(), await repo.list_by_owner("alice")):
        assert (list(page.items), list(page.skipped)) == ([], [])
