"""Unique keys kept per owner or across owners, on every store: reserving, refusing,
releasing, taking over a finished holder's key, deleting and purging, and records stored
before scopes existed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from queued_jobs._unique import release_unique_key, reserve_unique_key
from queued_jobs.errors import DuplicateJob
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.repositories.base import JobRepository
from tests.support.unreadable_rows import Damage

from .conftest import RepositoryHarness

pytestmark = pytest.mark.asyncio

SECRET = {"token": "alice-secret-token"}
SCOPES = ["owner", "global"]


def make_job(h: RepositoryHarness, owner: str, **options: Any) -> QueuedJob:
    """A new job at the harness clock's time; the clock moves 1 ms so ids keep their order."""
    job = QueuedJob.new(owner=owner, job_type="tests.echo", now=h.clock.now(), **options)
    h.clock.advance(timedelta(milliseconds=1))
    return job


async def holder(
    h: RepositoryHarness, repo: JobRepository, owner: str, scope: str, key: str = "export"
) -> QueuedJob:
    """A stored job of ``owner`` holding ``key`` in ``scope``, reserved as the client does."""
    job = make_job(h, owner, request=SECRET, unique_key=key, unique_scope=scope)
    await reserve_unique_key(repo, job)
    return await repo.insert(job)


async def assert_free(repo: JobRepository, job: QueuedJob, newcomer: QueuedJob) -> None:
    """``job``'s reservation is free: the store hands it to ``newcomer`` without a takeover
    (a reservation still held by a job that is gone would be refused for minutes)."""
    assert job.unique_reservation is not None
    await repo.reserve_unique_key(job.unique_reservation, newcomer.id)


def finished(h: RepositoryHarness, job: QueuedJob) -> QueuedJob:
    now = h.clock.now()
    return job.model_copy(
        update={"status": JobStatus.SUCCEEDED, "completed_at": now, "updated_at": now}
    )


async def test_two_owners_hold_one_key_apart_and_one_owner_holds_it_once(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    alices = await holder(repositories, repo, "alice", "owner")
    bobs = await holder(repositories, repo, "bob", "owner")

    with pytest.raises(DuplicateJob) as refused:
        await holder(repositories, repo, "alice", "owner")

    assert alices.id != bobs.id
    assert refused.value.existing_job_id == alices.id
    assert refused.value.existing_job is not None
    assert refused.value.existing_job.id == alices.id


async def test_a_global_key_held_by_another_owner_is_refused_with_nothing_of_that_job(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    alices = await holder(repositories, repo, "alice", "global")

    with pytest.raises(DuplicateJob) as refused:
        await holder(repositories, repo, "bob", "global")

    assert (refused.value.existing_job_id, refused.value.existing_job) == (None, None)
    assert alices.id not in str(refused.value)
    assert SECRET["token"] not in repr(vars(refused.value))
    assert (refused.value.__cause__, refused.value.__context__) == (None, None)
    assert len((await repo.list_jobs()).items) == 1


@pytest.mark.parametrize("scope", SCOPES)
async def test_a_finished_holders_key_is_taken_over_in_either_scope(
    repositories: RepositoryHarness, scope: str
) -> None:
    repo = await repositories.open()
    first = await holder(repositories, repo, "alice", scope)
    await repo.update(finished(repositories, first))  # ended without releasing its key
    newcomer_owner = "alice" if scope == "owner" else "bob"

    second = await holder(repositories, repo, newcomer_owner, scope)

    assert second.unique_reservation == first.unique_reservation
    with pytest.raises(DuplicateJob) as refused:
        await holder(repositories, repo, newcomer_owner, scope)
    assert refused.value.existing_job_id == second.id


@pytest.mark.parametrize("scope", SCOPES)
async def test_releasing_a_job_frees_its_key_as_it_was_scoped(
    repositories: RepositoryHarness, scope: str
) -> None:
    repo = await repositories.open()
    job = await holder(repositories, repo, "alice", scope)

    await release_unique_key(repo, await repo.get(job.id))

    await assert_free(repo, job, make_job(repositories, "alice"))


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("verb", ["delete", "purge"])
async def test_deleting_or_purging_a_job_frees_its_key_as_it_was_scoped(
    repositories: RepositoryHarness, scope: str, verb: str
) -> None:
    repo = await repositories.open()
    job = await repo.update(finished(repositories, await holder(repositories, repo, "a", scope)))

    if verb == "delete":
        await repo.delete(job.id)
    else:
        repositories.clock.advance(timedelta(seconds=1))
        assert await repo.purge(completed_before=repositories.clock.now()) == 1

    await assert_free(repo, job, make_job(repositories, "a"))


@pytest.mark.parametrize("verb", ["release", "delete"])
async def test_a_record_stored_before_scopes_still_frees_the_key_it_reserved(
    repositories: RepositoryHarness, verb: str
) -> None:
    repo = await repositories.open()
    old = make_job(repositories, "alice", unique_key="monthly")
    await repo.reserve_unique_key("monthly", old.id)  # how every key was reserved then
    await repositories.plant(old, Damage.NO_UNIQUE_SCOPE)

    loaded = await repo.get(old.id)
    if verb == "release":
        await release_unique_key(repo, loaded)
    else:
        await repo.delete(old.id)

    assert (loaded.unique_scope, loaded.unique_reservation) == ("global", "monthly")
    await repo.reserve_unique_key("monthly", make_job(repositories, "bob").id)


async def test_a_record_stored_before_scopes_holds_its_key_across_owners_until_it_ends(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    old = make_job(repositories, "alice", unique_key="monthly")
    await repo.reserve_unique_key("monthly", old.id)
    await repositories.plant(old, Damage.NO_UNIQUE_SCOPE)

    with pytest.raises(DuplicateJob) as refused:
        await holder(repositories, repo, "bob", "global", key="monthly")
    kept_apart = await holder(repositories, repo, "alice", "owner", key="monthly")

    assert refused.value.existing_job is None
    assert kept_apart.unique_scope == "owner"
