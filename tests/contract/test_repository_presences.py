"""Hosts' presences (``save_presence``, ``list_presences``, ``purge_presences``): every
adapter keeps one row per host, lists the hosts seen since a moment, most recent first,
and refuses what it could not key or hold."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from queued_jobs.errors import InvalidInput
from queued_jobs.models import (
    MAX_DETAIL_TEXT,
    MAX_DETAILS,
    MAX_HOST_LENGTH,
    Presence,
    PresenceKind,
    QueuedJob,
)
from queued_jobs.repositories.base import MAX_PRESENCE_LIMIT, JobQuery

from .conftest import RepositoryHarness

pytestmark = pytest.mark.asyncio

SECOND = timedelta(seconds=1)
#: Hosts whose names hold what table keys cannot, or what is not ASCII: stored as given.
ODD_HOSTS = [
    "worker/1:42",
    "back\\slash:1",
    "hash#and?query:2",
    "pipe|and%percent:3",
    "wörker-東京-🚀:4",
    "spaced out host:5",
    "'quoted'\"host\":6",
    "h" * MAX_HOST_LENGTH,
    "🚀" * MAX_HOST_LENGTH,  # 512 UTF-16 code units: as long as a table key may be
    # Longer than a table key once escaped, alike in their first 400 characters:
    "/" * MAX_HOST_LENGTH,
    "/" * (MAX_HOST_LENGTH - 1) + "x",
    "🚀#" * (MAX_HOST_LENGTH // 2),
]
#: Hosts refused: empty, too long, or holding characters that are not printable.
BAD_HOSTS = [
    "",
    "h" * (MAX_HOST_LENGTH + 1),
    "nul\x00:1",
    "line\nbreak:1",
    "tab\t:1",
    "del\x7f:1",
    "c1\x85:1",
    "lone\udcff:1",
]


def presence(
    h: RepositoryHarness,
    host: str = "box:1",
    *,
    seen_at: datetime | None = None,
    kind: PresenceKind = PresenceKind.WORKER,
    **details: Any,
) -> Presence:
    now = h.clock.now()
    return Presence(
        host=host,
        kind=kind,
        started_at=now - timedelta(minutes=5),
        seen_at=seen_at or now,
        version="1.2.3",
        details=details,
    )


async def test_a_saved_presence_is_listed_as_it_was_saved(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    writer, reader = await h.open(), await h.open()
    saved = presence(h, queues="jobs,jobs-high", concurrency=8, running=2, load=0.25, stopped=False)

    await writer.save_presence(saved)

    assert await reader.list_presences(seen_since=saved.seen_at) == [saved]
    [listed] = await reader.list_presences(seen_since=saved.seen_at - SECOND)
    assert listed.details == {
        "queues": "jobs,jobs-high",
        "concurrency": 8,
        "running": 2,
        "load": 0.25,
        "stopped": False,
    }
    assert type(listed.details["concurrency"]) is int
    assert type(listed.details["stopped"]) is bool
    assert listed.kind is PresenceKind.WORKER


async def test_saving_a_host_again_replaces_its_row(repositories: RepositoryHarness) -> None:
    h = repositories
    repo = await h.open()
    first = presence(h, running=3)
    await repo.save_presence(first)
    h.clock.advance(30 * SECOND)
    again = presence(h, running=0, stopped=True)

    await repo.save_presence(again)

    assert await repo.list_presences(seen_since=first.seen_at - SECOND) == [again]


async def test_a_listing_holds_the_hosts_seen_at_or_after_the_moment_only(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    start = h.clock.now()
    for n, host in enumerate(["old:1", "edge:2", "new:3"]):
        await repo.save_presence(presence(h, host, seen_at=start + n * 10 * SECOND))

    edge = start + 10 * SECOND
    assert [p.host for p in await repo.list_presences(seen_since=edge)] == ["new:3", "edge:2"]
    just_after = edge + timedelta(microseconds=1)
    assert [p.host for p in await repo.list_presences(seen_since=just_after)] == ["new:3"]
    assert await repo.list_presences(seen_since=start + 21 * SECOND) == []


async def test_a_listing_is_most_recent_first_then_by_host_and_stops_at_its_limit(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    start = h.clock.now()
    seen = {"a:1": 1, "b:2": 4, "c:3": 2, "d:4": 4, "e:5": 3}
    for host, seconds in seen.items():
        await repo.save_presence(presence(h, host, seen_at=start + seconds * SECOND))

    every = await repo.list_presences(seen_since=start)
    first_three = await repo.list_presences(seen_since=start, limit=3)

    assert [p.host for p in every] == ["b:2", "d:4", "e:5", "c:3", "a:1"]
    assert [p.host for p in first_three] == ["b:2", "d:4", "e:5"]
    assert len(await repo.list_presences(seen_since=start, limit=1)) == 1


@pytest.mark.parametrize("limit", [0, -1, MAX_PRESENCE_LIMIT + 1])
async def test_a_listing_limit_out_of_bounds_is_refused(
    repositories: RepositoryHarness, limit: int
) -> None:
    repo = await repositories.open()
    with pytest.raises(InvalidInput, match="limit"):
        await repo.list_presences(seen_since=repositories.clock.now(), limit=limit)


async def test_a_naive_moment_is_refused(repositories: RepositoryHarness) -> None:
    repo = await repositories.open()
    naive = datetime(2030, 1, 1)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        await repo.list_presences(seen_since=naive)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        await repo.purge_presences(seen_before=naive)


async def test_hosts_named_with_what_keys_cannot_hold_are_stored_as_named(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    writer, reader = await h.open(), await h.open()
    start = h.clock.now()
    for n, host in enumerate(ODD_HOSTS):
        await writer.save_presence(presence(h, host, seen_at=start + n * SECOND))

    listed = await reader.list_presences(seen_since=start)

    assert [p.host for p in listed] == list(reversed(ODD_HOSTS))


@pytest.mark.parametrize("host", BAD_HOSTS, ids=repr)
async def test_a_host_name_a_store_could_not_hold_is_refused_before_anything_is_written(
    repositories: RepositoryHarness, host: str
) -> None:
    h = repositories
    repo = await h.open()
    with pytest.raises(InvalidInput, match="host identity"):
        presence(h, host)
    with pytest.raises(InvalidInput, match="a presence is a Presence"):
        await repo.save_presence({"host": host})  # type: ignore[arg-type]
    assert await repo.list_presences(seen_since=h.clock.now() - timedelta(days=1)) == []


@pytest.mark.parametrize(
    ("details", "problem"),
    [
        ({f"d{n}": n for n in range(MAX_DETAILS + 1)}, "at most"),
        ({"Queues": "x"}, "detail name"),
        ({"": 1}, "detail name"),
        ({"q" * 65: 1}, "detail name"),
        ({"nested": {"a": 1}}, "text, a number or a boolean"),
        ({"list": [1]}, "text, a number or a boolean"),
        ({"nothing": None}, "text, a number or a boolean"),
        ({"nan": float("nan")}, "finite"),
        ({"huge": 2**60}, "2\\*\\*53"),
        ({"long": "x" * (MAX_DETAIL_TEXT + 1)}, "at most"),
        ({"line": "a\nb"}, "printable"),
    ],
)
async def test_details_a_row_could_not_hold_are_refused(
    repositories: RepositoryHarness, details: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        presence(repositories, **details)


async def test_the_largest_presence_allowed_is_stored_whole(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    details = {f"detail_{n:02d}": "é" * MAX_DETAIL_TEXT for n in range(MAX_DETAILS)}
    largest = presence(h, "東" * MAX_HOST_LENGTH, **details)

    await repo.save_presence(largest)

    assert await repo.list_presences(seen_since=largest.seen_at) == [largest]


async def test_purging_deletes_the_hosts_not_seen_since_the_moment(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    start = h.clock.now()
    for n, host in enumerate(["gone:1", "also-gone:2", "kept:3"]):
        await repo.save_presence(presence(h, host, seen_at=start + n * 10 * SECOND))

    assert await repo.purge_presences(seen_before=start + 20 * SECOND) == 2
    assert [p.host for p in await repo.list_presences(seen_since=start)] == ["kept:3"]
    assert await repo.purge_presences(seen_before=start + 20 * SECOND) == 0


async def test_presences_are_no_jobs_and_jobs_purges_leave_them(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    saved = presence(h, "box:1")
    await repo.save_presence(saved)
    job = await repo.insert(QueuedJob.new(owner="presence", job_type="t", now=h.clock.now()))

    assert [j.id for j in (await repo.list_jobs()).items] == [job.id]
    assert await repo.count_jobs(JobQuery(), at_most=10) == 1
    await repo.purge(completed_before=h.clock.now() + timedelta(days=400))
    await repo.purge_changes(older_than=timedelta(0))
    assert await repo.list_presences(seen_since=saved.seen_at) == [saved]
