"""Listing jobs and reading typed results through the client, on memory and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from queued_jobs import SyncJobClient
from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.errors import InvalidInput, PermanentError
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.queues.sqlite import SqliteQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.repositories.sqlite import SqliteJobRepository
from queued_jobs.runner import JobRegistry


class Receipt(BaseModel):
    total: int
    currency: str = "EUR"


class Other(BaseModel):
    name: str


def make_registry() -> JobRegistry:
    registry = JobRegistry()

    @registry.job(name="shop.bill")
    def bill(amount: int) -> Receipt:
        return Receipt(total=amount)

    @registry.job(name="shop.refuse", max_attempts=1)
    def refuse(reason: str) -> None:
        raise PermanentError(reason)

    return registry


@pytest.fixture(params=["memory", "sqlite"])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobClient]:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    registry = make_registry()
    if request.param == "memory":
        built = JobClient(
            MemoryJobRepository(clock=clock),
            MemoryQueueBroker(clock=clock),
            registry,
            clock=clock,
            inline=True,
        )
    else:
        path = tmp_path / "jobs.db"
        built = JobClient(
            SqliteJobRepository(path, clock=clock),
            SqliteQueueBroker(path, clock=clock),
            registry,
            clock=clock,
            inline=True,
        )
    await built.create_storage()
    async with built:
        yield built


async def _jobs(client: JobClient) -> list[QueuedJob]:
    """ann: bill 1, refuse, bill 3; bob: bill 2; one second apart."""
    clock = client.clock
    assert isinstance(clock, ManualClock)
    made = []
    for job_type, request, owner in [
        ("shop.bill", 1, "ann"),
        ("shop.bill", 2, "bob"),
        ("shop.refuse", "no", "ann"),
        ("shop.bill", 3, "ann"),
    ]:
        made.append(await client.queue_job(job_type, request, owner=owner))
        clock.advance(1)
    return made


async def test_an_owners_listing_holds_only_their_jobs_newest_first(client: JobClient) -> None:
    ann1, _, refused, ann3 = await _jobs(client)
    page = await client.list_jobs(owner="ann")
    assert [job.id for job in page.items] == [ann3.id, refused.id, ann1.id]
    assert page.continuation is None


async def test_the_operators_listing_filters_by_status_type_and_creation_time(
    client: JobClient,
) -> None:
    ann1, bob, refused, ann3 = await _jobs(client)
    failed = await client.list_jobs(statuses=["failed"])
    assert [job.id for job in failed.items] == [refused.id]
    bills = await client.list_jobs(job_type="shop.bill", statuses=[JobStatus.SUCCEEDED])
    assert [job.id for job in bills.items] == [ann3.id, bob.id, ann1.id]
    middle = await client.list_jobs(created_from=bob.created_at, created_before=ann3.created_at)
    assert [job.id for job in middle.items] == [refused.id, bob.id]


async def test_a_tag_lists_the_jobs_tagged_with_it_with_the_other_filters(
    client: JobClient,
) -> None:
    clock = client.clock
    assert isinstance(clock, ManualClock)
    made = []
    for n, (owner, tags) in enumerate(
        [("ann", ["q4"]), ("bob", ["q4", "vip"]), ("ann", []), ("ann", ["vip", "q4"])]
    ):
        made.append(await client.queue_job("shop.bill", n, owner=owner, tags=tags))
        clock.advance(1)
    q4, bobs, _, both = made[0], made[1], made[2], made[3]

    tagged = await client.list_jobs(tag="q4")
    anns = await client.list_jobs(tag="q4", owner="ann", statuses=["succeeded"])
    vip = await client.list_jobs(tag="vip", job_type="shop.bill", created_from=bobs.created_at)

    assert [job.id for job in tagged.items] == [both.id, bobs.id, q4.id]
    assert [job.id for job in anns.items] == [both.id, q4.id]
    assert [job.id for job in vip.items] == [both.id, bobs.id]
    assert (await client.list_jobs(tag="q")).items == []


async def test_an_owners_filtered_listing_pages_through_every_match_without_losing_one(
    client: JobClient,
) -> None:
    ann1, _, refused, ann3 = await _jobs(client)
    seen: list[str] = []
    continuation: str | None = None
    while True:
        page = await client.list_jobs(
            owner="ann", statuses=["succeeded"], limit=1, continuation=continuation
        )
        assert len(page.items) <= 1
        seen.extend(job.id for job in page.items)
        continuation = page.continuation
        if continuation is None:
            break
    assert seen == [ann3.id, ann1.id]
    assert refused.id not in seen


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"statuses": ["finished"]}, "unknown job status 'finished'"),
        ({"statuses": "failed"}, None),
        ({"created_from": datetime(2030, 1, 1)}, "created_from needs a time zone"),
        ({"limit": 0}, "page size must be between 1 and 1000"),
        ({"owner": "", "statuses": ["failed"]}, None),
        ({"owner": "ann\x1b[2J", "limit": 5}, None),
        ({"tag": ""}, "tag must not be empty"),
        ({"tag": "t" * 65}, "tag is 65 characters; at most 64 allowed"),
        ({"tag": "red\x00"}, "tag must not contain control characters"),
    ],
)
async def test_listing_filters_that_cannot_match_are_refused_in_a_sentence(
    client: JobClient, arguments: dict[str, object], said: str | None
) -> None:
    if arguments == {"statuses": "failed"}:  # one status given as a string is that status
        await _jobs(client)
        page = await client.list_jobs(statuses="failed")
        assert [job.status for job in page.items] == [JobStatus.FAILED]
        return
    with pytest.raises(InvalidInput) as raised:
        await client.list_jobs(**arguments)  # type: ignore[arg-type]
    if said is not None:
        assert said in str(raised.value)


async def test_a_result_reads_back_as_the_runners_result_type(client: JobClient) -> None:
    job = await client.queue_job("shop.bill", 7, owner="ann")
    assert job.result == {"total": 7, "currency": "EUR"}
    receipt = client.result_of(job)
    assert receipt == Receipt(total=7)
    typed: Receipt = client.result_of(job, Receipt)
    assert typed.total == 7


async def test_a_result_that_does_not_read_as_the_type_asked_for_is_refused(
    client: JobClient,
) -> None:
    job = await client.queue_job("shop.bill", 7, owner="ann")
    with pytest.raises(InvalidInput, match="does not read as Other"):
        client.result_of(job, Other)


async def test_a_job_that_did_not_succeed_has_no_result(client: JobClient) -> None:
    job = await client.queue_job("shop.refuse", "out of stock", owner="ann")
    with pytest.raises(InvalidInput, match=f"job {job.id} has no result: it is failed"):
        client.result_of(job)


def test_the_sync_client_lists_jobs_and_reads_typed_results(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    registry = make_registry()
    with SyncJobClient(
        lambda: JobClient(SqliteJobRepository(path), SqliteQueueBroker(path), registry, inline=True)
    ) as client:
        client.create_storage()
        job = client.queue_job("shop.bill", 5, owner="ann")
        page = client.list_jobs(owner="ann", statuses=["succeeded"])
        assert [listed.id for listed in page.items] == [job.id]
        assert client.result_of(job, Receipt) == Receipt(total=5)
        assert client.list_attempts(job.id)[0].number == 1


async def test_an_owners_rare_failures_come_in_one_full_page_however_long_their_history(
    client: JobClient,
) -> None:
    clock = client.clock
    assert isinstance(clock, ManualClock)
    failures = []
    for n in range(60):
        if n % 20 == 5:
            failures.append(await client.queue_job("shop.refuse", f"no {n}", owner="ann"))
        else:
            await client.queue_job("shop.bill", n, owner="ann")
        clock.advance(1)

    page = await client.list_jobs(owner="ann", statuses=["failed"], limit=3)

    assert [job.id for job in page.items] == [job.id for job in reversed(failures)]
    assert (
        page.continuation is None
        or not (
            await client.list_jobs(
                owner="ann", statuses=["failed"], limit=3, continuation=page.continuation
            )
        ).items
    )
