"""The benchmark's cost figures measure what the code does, on Azurite and SQLite: the
sweep stays on and is counted apart, bodies are counted both ways, drains are timed from
the worker's start, and an idle Functions app's timers are called as the host calls them."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from azure.storage.queue.aio import QueueClient

from benchmarks.app import NOOP, make_app
from benchmarks.functions_idle import HOST_JSON, functions_idle, max_polling_interval
from benchmarks.listings import FILTERS, listing_costs, stored_jobs
from benchmarks.ours import Backend, _prepare, _report, _worker, sweep_cost
from benchmarks.requests import RequestKinds, counted_as
from queued_jobs.models import Priority
from tests.support.azurite import Azurite
from tests.support.waiting import PATIENCE


def _azure(azurite: Azurite, tmp_path: Path) -> Backend:
    return Backend("azure", work=tmp_path, connection=azurite.connection_string)


@pytest.mark.azurite
def test_an_idle_benchmark_worker_sweeps_and_counts_the_sweep_apart(
    azurite: Azurite, tmp_path: Path
) -> None:
    spec = _azure(azurite, tmp_path).fresh()
    asyncio.run(_prepare(spec, 0, batch=True))

    worker = _worker(spec, "--count-requests", "--sweeps", "1")
    report = _report(worker, timeout=PATIENCE)

    [sweep] = report["sweeps"]
    assert sweep["requests"] >= 1
    assert sweep["bytes"] > 0
    assert report["sources"]["sweep"] == sweep["requests"]
    assert report["phases"]["sweep"] == sweep["requests"]
    assert report["bytes"]["sweep"] == sweep["bytes"]


@pytest.mark.azurite
async def test_request_and_response_bodies_are_both_counted(azurite: Azurite) -> None:
    kinds = RequestKinds(azurite.connection_string)
    body = "x" * 3000
    queue = QueueClient.from_connection_string(
        azurite.connection_string, f"bytes{uuid.uuid4().hex[:10]}", **kinds.hooks()
    )
    async with queue:
        await queue.create_queue()
        kinds.reset()
        await queue.send_message(body)
        sent = kinds.bytes_sent
        with counted_as("reader"):
            [message] = [m async for m in queue.receive_messages(max_messages=1)]

    assert message.content == body
    assert sent >= len(body)
    assert kinds.bytes_received >= len(body)
    assert kinds.sources == {"loop": 1, "reader": 1}
    assert kinds.bytes_by_source["reader"] >= len(body)
    assert kinds.total_bytes == kinds.bytes_sent + kinds.bytes_received


@pytest.mark.azurite
def test_the_sweep_is_measured_as_it_runs_with_the_jobs_it_finds(
    azurite: Azurite, tmp_path: Path
) -> None:
    backend = _azure(azurite, tmp_path)

    empty = sweep_cost(backend, 0, sweeps=2)
    full = sweep_cost(backend, 250, sweeps=2)

    assert len(empty) == len(full) == 2
    assert all(requests >= 1 and size > 0 for requests, size, _ in [*empty, *full])
    # A store's first pass of the hour lists by status: the queued jobs' rows come back
    # in it, so it reads more. Later passes read only the due index, whatever is queued.
    assert full[0][1] > empty[0][1]
    assert full[1][0] == empty[1][0]
    assert abs(full[1][1] - empty[1][1]) <= empty[1][1] // 10  # timestamps vary in length


@pytest.mark.azurite
def test_an_idle_functions_app_costs_its_polling_and_every_timer_it_schedules(
    azurite: Azurite, tmp_path: Path
) -> None:
    spec = _azure(azurite, tmp_path).fresh()

    idle = functions_idle(spec, calls=2)

    interval = max_polling_interval(json.loads(HOST_JSON.read_text()))
    triggers = 2 * len(Priority)  # each band's queue and its poison queue
    assert idle["queue_triggers"] == triggers
    assert idle["polling"] == triggers / interval.total_seconds()
    sweep = idle["timers"]["queued_jobs_sweep"]
    assert sweep["period_s"] == timedelta(minutes=1).total_seconds()
    assert sweep["requests"] >= 1
    assert all(requests >= 1 and size > 0 for requests, size in sweep["costs"])
    timers = sum(t["requests"] / t["period_s"] for t in idle["timers"].values())
    assert idle["total"] == pytest.approx(idle["polling"] + timers)


def test_a_drain_is_timed_from_the_workers_start_not_from_the_first_job_start(
    tmp_path: Path,
) -> None:
    spec = Backend("sqlite", work=tmp_path).fresh()
    asyncio.run(_prepare(spec, 0, batch=True))
    jobs, delay = 5, timedelta(seconds=0.3)
    worker = _worker(spec, "--jobs", str(jobs))  # started, and waiting for work

    async def queue_late() -> None:
        async with make_app(spec).client() as client:
            for index in range(jobs):
                await client.queue_job(NOOP, index, owner="bench", delay=delay)

    asyncio.run(queue_late())
    report = _report(worker, timeout=PATIENCE)

    # The jobs could not start before ``delay``: a drain timed from the worker's start
    # includes that wait, one timed from the first job's start would not.
    assert report["done"] == jobs
    assert report["seconds"] >= delay.total_seconds()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("azure", marks=pytest.mark.azurite)])
def test_the_listing_benchmark_reads_the_first_page_of_every_filter(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    connection = request.getfixturevalue("azurite").connection_string if kind == "azure" else None
    stored = stored_jobs(600, owners=50, types=5)

    results = listing_costs(kind, work=tmp_path, jobs=600, connection=connection, repeats=2)

    by_filter = {m.params["filter"]: m for m in results}
    assert list(by_filter) == list(FILTERS)
    for name, query in FILTERS.items():
        figure = by_filter[name]
        assert figure.params["listed"] == min(50, sum(query.matches(j) for j in stored)), name
        assert len(figure.runs) == 2
        assert all(ms > 0 for ms in figure.runs)
    if kind == "azure":
        requests = {name: m.params["requests"] for name, m in by_filter.items()}
        assert requests["owner"] == requests["owner + type"] == 1
        assert requests["none"] == 16
        # pointers: a range per shard and status, then a point read of each job listed
        listed = {name: m.params["listed"] for name, m in by_filter.items()}
        assert requests["status"] == 16 + listed["status"]
        assert requests["2 statuses"] == 32 + listed["2 statuses"]
        assert requests["type"] == 16 + listed["type"]
        assert requests["owner + status"] == 1 + listed["owner + status"]
        assert requests["tag"] == 16 + listed["tag"]
        assert requests["owner + tag"] == 1 + listed["owner + tag"]
        # a tag's jobs by status: each of the tag's 60 jobs read (fewer than ten pages)
        tagged = sum("batch3" in job.tags for job in stored)
        assert requests["tag + status"] == 16 + tagged
        assert all(m.params["bytes"] > 0 for m in results)
