"""A page of every listing filter the API, the CLI and the dashboard offer, on a large
store: its time, and on Azure its storage requests and body bytes.

The store is filled straight through the repository (``insert_many``): ``owners`` owners,
``types`` job types, four in five jobs finished, created over 30 days, oldest first, each
with one of ten tags in turn. Each
filter's first page of 50 is read ``repeats`` times in a row by one process; the figure is
the median of those reads (min-max: theirs).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.repositories.base import JobQuery, JobRepository

from .requests import RequestKinds
from .results import Measurement

__all__ = ["FILTERS", "fill", "listing_costs", "stored_jobs"]

_PAGE = 50
_START = datetime(2026, 1, 1, tzinfo=UTC)
_SPAN = timedelta(days=30)
#: Statuses of the stored jobs and their shares (four in five finished).
_MIX = (
    (JobStatus.SUCCEEDED, 70),
    (JobStatus.FAILED, 7),
    (JobStatus.CANCELLED, 3),
    (JobStatus.QUEUED, 12),
    (JobStatus.RUNNING, 5),
    (JobStatus.SCHEDULED, 3),
)
_ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
_FAILED = frozenset({JobStatus.FAILED})
_DAY = {"created_from": _START + timedelta(days=12), "created_before": _START + timedelta(days=13)}

#: Every filter, by name: the operator's and the end user's views.
FILTERS: Mapping[str, JobQuery] = {
    "none": JobQuery(),
    "owner": JobQuery(owner="user7"),
    "owner + status": JobQuery(owner="user7", statuses=_FAILED),
    "owner + 2 statuses": JobQuery(owner="user7", statuses=_ACTIVE),
    "owner + type": JobQuery(owner="user7", job_type="jobs.t3"),
    "owner + type + status": JobQuery(owner="user7", job_type="jobs.t3", statuses=_FAILED),
    "owner + day": JobQuery(owner="user7", **_DAY),
    "status": JobQuery(statuses=_FAILED),
    "2 statuses": JobQuery(statuses=_ACTIVE),
    "type": JobQuery(job_type="jobs.t3"),
    "type + status": JobQuery(job_type="jobs.t3", statuses=_FAILED),
    "day": JobQuery(**_DAY),
    "day + status + type": JobQuery(job_type="jobs.t3", statuses=_FAILED, **_DAY),
    "tag": JobQuery(tag="batch3"),
    "tag + status": JobQuery(tag="batch3", statuses=_FAILED),
    "owner + tag": JobQuery(owner="user7", tag="batch3"),
}


def stored_jobs(
    count: int,
    owners: int,
    types: int,
    seed: int = 7,
    *,
    start: datetime = _START,
    span: timedelta = _SPAN,
) -> list[QueuedJob]:
    """The jobs a listing store is filled with: the same owners, types, statuses and
    creation times (``span`` from ``start``) for the same arguments (ids differ)."""
    chance = random.Random(seed)
    statuses = [status for status, share in _MIX for _ in range(share)]
    jobs = []
    for i in range(count):
        now = start + span * i / count
        status = chance.choice(statuses)
        job = QueuedJob.new(
            owner=f"user{chance.randrange(owners)}",
            job_type=f"jobs.t{chance.randrange(types)}",
            request={"n": i},
            now=now,
            status=status,
            tags=(f"batch{i % 10}",),
        )
        if status.is_terminal:
            job = job.model_copy(update={"completed_at": now})
        jobs.append(job)
    return jobs


async def fill(repo: JobRepository, jobs: list[QueuedJob]) -> None:
    for start in range(0, len(jobs), 1000):
        await repo.insert_many(jobs[start : start + 1000])


async def _read_pages(
    repo: JobRepository, repeats: int, counter: RequestKinds | None
) -> dict[str, dict[str, Any]]:
    found = {}
    for name, query in FILTERS.items():
        times, requests, sizes, listed = [], [], [], 0
        for _ in range(repeats):
            if counter is not None:
                counter.reset()
            began = time.perf_counter()
            page = await repo.list_jobs(query, limit=_PAGE)
            times.append((time.perf_counter() - began) * 1000)
            listed = len(page.items)
            if counter is not None:
                requests.append(counter.total)
                sizes.append(counter.total_bytes)
        found[name] = {"ms": times, "listed": listed, "requests": requests, "bytes": sizes}
    return found


def listing_costs(
    kind: str,
    *,
    work: Path,
    jobs: int,
    connection: str | None = None,
    repeats: int = 5,
    owners: int = 50,
    types: int = 5,
) -> list[Measurement]:
    """The page of every filter on a fresh store of ``kind`` (``"sqlite"``/``"azure"``)
    holding ``jobs`` jobs."""
    counter = RequestKinds(connection) if connection is not None else None

    async def run() -> dict[str, dict[str, Any]]:
        repo: JobRepository
        if kind == "sqlite":
            from queued_jobs.repositories.sqlite import SqliteJobRepository

            repo = SqliteJobRepository(work / f"listings-{jobs}.db")
        else:
            from queued_jobs.repositories.azure_table import AzureTableJobRepository

            assert connection is not None
            assert counter is not None
            repo = AzureTableJobRepository.from_connection(
                connection,
                table=f"listings{time.time_ns() % 10**9}",
                container=f"listings-{time.time_ns() % 10**9}",
                client_options=counter.hooks(),
            )
        try:
            await repo.create()
            await fill(repo, stored_jobs(jobs, owners, types))
            await _read_pages(repo, 1, counter)  # warm: connections, caches
            return await _read_pages(repo, repeats, counter)
        finally:
            await repo.close()

    found = asyncio.run(run())
    system = f"queued-jobs ({'SQLite' if kind == 'sqlite' else 'Azurite'})"
    results = []
    for name, figures in found.items():
        params: dict[str, Any] = {"filter": name, "jobs": jobs, "page": _PAGE}
        params["listed"] = figures["listed"]
        if figures["requests"]:
            params["requests"] = statistics.median(figures["requests"])
            params["bytes"] = int(statistics.median(figures["bytes"]))
        results.append(Measurement("listing page", system, "ms", figures["ms"], params=params))
    return results
