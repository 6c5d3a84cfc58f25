"""The raw Azure SDK baseline: what a tracked job costs with nothing but the ``.aio`` clients.

A job here makes exactly the storage requests our Azure backend needs for one:

* enqueue: insert the job entity, then send one queue message carrying its ETag;
* drain: receive 32 messages per request and, per message, claim the entity (merge
  conditional on that ETag), complete it (merge conditional on the claim's ETag) and
  delete the message: 3 requests per job + 1/32 receive, about 5.03 in all.

It is the ceiling the Azure backend is compared against. Its drain is timed as ours is
(:mod:`benchmarks.timing`: wall time from the start of the drain to the last completion
written) and its requests and body bytes counted as ours are
(:class:`benchmarks.requests.RequestKinds`). ``python -m benchmarks.raw_sdk`` starts its
own Azurite and prints the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

from benchmarks.requests import RequestKinds
from benchmarks.results import Measurement
from benchmarks.timing import DrainClock

__all__ = ["SYSTEM", "SYSTEM_DEFAULTS", "drain", "enqueue", "run_raw_sdk"]

SYSTEM = "raw Azure SDK (Azurite)"
SYSTEM_DEFAULTS = "raw Azure SDK, default clients (Azurite)"
ENQUEUE_CONCURRENCY = 16
BATCH = 32
VISIBILITY_TIMEOUT = 60
#: A small request payload, as a job's serialized arguments would be (~100 bytes in all).
REQUEST = json.dumps({"args": [1, "two"], "kwargs": {"size": 3, "label": "bench"}})

Hooks = Mapping[str, Any]


def _clients(
    connection_string: str, table: str, queue: str, hooks: Hooks | None, env_settings: bool
) -> tuple[TableClient, QueueClient]:
    extra: dict[str, Any] = dict(hooks or {})
    extra["use_env_settings"] = env_settings
    return (
        TableClient.from_connection_string(connection_string, table, **extra),
        QueueClient.from_connection_string(connection_string, queue, **extra),
    )


async def enqueue(
    connection_string: str,
    table: str,
    queue: str,
    jobs: int,
    concurrency: int,
    *,
    hooks: Hooks | None = None,
    env_settings: bool = False,
) -> tuple[float, list[str]]:
    """Insert ``jobs`` job entities and send one message each; return (jobs/s, job ids)."""
    ids = [uuid.uuid4().hex for _ in range(jobs)]
    todo = iter(ids)  # shared by the workers: each ``next`` hands out one job
    table_client, queue_client = _clients(connection_string, table, queue, hooks, env_settings)

    async def worker() -> None:
        for job_id in todo:
            shard = f"j{job_id[0]}"  # uuid4 hex digits are uniform: 16 shards j0..jf
            entity = {
                "PartitionKey": shard,
                "RowKey": job_id,
                "status": "queued",
                "owner": "bench",
                "type": "bench.noop",
                "request": REQUEST,
            }
            meta = await table_client.create_entity(entity)
            snapshot = {"id": job_id, "pk": shard, "etag": meta["etag"], "type": "bench.noop"}
            await queue_client.send_message(json.dumps(snapshot))

    async with table_client, queue_client:
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return jobs / elapsed, ids


async def drain(
    connection_string: str,
    table: str,
    queue: str,
    jobs: int,
    concurrency: int,
    *,
    hooks: Hooks | None = None,
    env_settings: bool = False,
) -> float:
    """Run ``jobs`` queued jobs with ``concurrency`` in flight; return jobs/s (wall time
    from the start of the drain to the last completion written)."""
    clock = DrainClock(jobs)
    table_client, queue_client = _clients(connection_string, table, queue, hooks, env_settings)
    # The receiver blocks once a batch is waiting, so at most BATCH messages sit unhandled.
    inbox: asyncio.Queue[QueueMessage | None] = asyncio.Queue(maxsize=BATCH)

    async def receiver() -> None:
        received = 0
        while received < jobs:
            pager = queue_client.receive_messages(
                max_messages=BATCH, messages_per_page=BATCH, visibility_timeout=VISIBILITY_TIMEOUT
            )
            page = await anext(pager.by_page())  # the first page only: one request
            batch = [message async for message in page]
            if not batch:
                await asyncio.sleep(0.01)  # not visible yet: retry shortly
            for message in batch:
                await inbox.put(message)
            received += len(batch)
        for _ in range(concurrency):
            await inbox.put(None)

    async def handler() -> None:
        while (message := await inbox.get()) is not None:
            job = json.loads(message.content)
            claimed = await table_client.update_entity(
                {"PartitionKey": job["pk"], "RowKey": job["id"], "status": "running"},
                mode=UpdateMode.MERGE,
                etag=job["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            await table_client.update_entity(
                {
                    "PartitionKey": job["pk"],
                    "RowKey": job["id"],
                    "status": "succeeded",
                    "result": '{"ok": true}',
                },
                mode=UpdateMode.MERGE,
                etag=claimed["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            clock.completed()
            # Azurite can 404 a delete right after a receive: the message is gone anyway.
            with contextlib.suppress(ResourceNotFoundError):
                await queue_client.delete_message(message)

    async with table_client, queue_client:
        clock.begin()
        await asyncio.gather(receiver(), *(handler() for _ in range(concurrency)))
    return clock.rate()


async def _one_run(
    connection_string: str, jobs: int, concurrency: int, env_settings: bool
) -> tuple[float, float, float, float]:
    """One fresh table+queue: (enqueue jobs/s, drain jobs/s, requests per job, body bytes
    per job)."""
    name = f"rawsdk{uuid.uuid4().hex[:12]}"  # valid as both a table and a queue name
    table_client, queue_client = _clients(connection_string, name, name, None, env_settings)
    async with table_client, queue_client:
        await table_client.create_table()
        await queue_client.create_queue()
        try:
            counter = RequestKinds(connection_string)
            enqueued, _ = await enqueue(
                connection_string,
                name,
                name,
                jobs,
                ENQUEUE_CONCURRENCY,
                hooks=counter.hooks(),
                env_settings=env_settings,
            )
            drained = await drain(
                connection_string,
                name,
                name,
                jobs,
                concurrency,
                hooks=counter.hooks(),
                env_settings=env_settings,
            )
            return enqueued, drained, counter.total / jobs, counter.total_bytes / jobs
        finally:
            await table_client.delete_table()
            await queue_client.delete_queue()


def run_raw_sdk(
    connection_string: str,
    *,
    jobs: int = 1000,
    runs: int = 3,
    concurrencies: tuple[int, ...] = (1, 16),
    env_settings: bool = False,
) -> list[Measurement]:
    """Enqueue then drain ``jobs`` jobs, ``runs`` times per drain concurrency.

    ``env_settings=False`` (the ceiling) builds the clients as queued-jobs does when no
    proxy is configured; ``True`` keeps the SDK's default per-request proxy and netrc
    lookups (what a loop written with default clients gets)."""
    system = SYSTEM_DEFAULTS if env_settings else SYSTEM

    def measurement(scenario: str, unit: str, concurrency: int) -> Measurement:
        return Measurement(
            scenario, system, unit, params={"jobs": jobs, "concurrency": concurrency}
        )

    enqueue_m = measurement("enqueue", "jobs/s", ENQUEUE_CONCURRENCY)
    results = [enqueue_m]
    for concurrency in concurrencies:
        drain_m = measurement("drain", "jobs/s", concurrency)
        requests_m = measurement("requests per job", "requests/job", concurrency)
        bytes_m = measurement("bytes per job", "bytes/job", concurrency)
        for _ in range(runs):
            enqueued, drained, requests, sizes = asyncio.run(
                _one_run(connection_string, jobs, concurrency, env_settings)
            )
            enqueue_m.runs.append(enqueued)
            drain_m.runs.append(drained)
            requests_m.runs.append(requests)
            bytes_m.runs.append(sizes)
        results += [drain_m, requests_m, bytes_m]
    return results


def main() -> None:
    from tests.support.azurite import AzuriteProcess

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    start = time.perf_counter()
    with AzuriteProcess() as azurite:
        results = run_raw_sdk(
            azurite.connection_string,
            jobs=args.jobs,
            runs=args.runs,
            concurrencies=tuple(args.concurrency),
        )
    for m in results:
        runs = ", ".join(f"{value:.2f}" for value in m.runs)
        print(
            f"{m.scenario:<17} c={m.params['concurrency']:<3} "
            f"median {m.median or 0:8.2f} {m.unit:<13} [{runs}]"
        )
    print(f"wall time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
