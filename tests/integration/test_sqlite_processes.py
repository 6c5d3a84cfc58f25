"""Several OS processes sharing one SQLite file: leases and conditional updates hold.

The child processes move in step (a barrier before every call), so each call really
races the same call in the other process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from collections.abc import Callable
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from queued_jobs.errors import ConcurrencyConflict
from queued_jobs.models import QueuedJob
from queued_jobs.queues.sqlite import SqliteQueueBroker
from queued_jobs.repositories.sqlite import SqliteJobRepository

PROCESSES = 2
SPAWN = multiprocessing.get_context("spawn")
MESSAGES = 120
BATCH = 2
JOBS = 40


async def drain_queue(path: str, step: Barrier) -> list[str]:
    """Receive a batch per step, with enough steps to drain the queue alone; the ids."""
    broker = SqliteQueueBroker(path)
    queue = broker.queue("work")
    await queue.create()
    received: list[str] = []
    for _ in range(MESSAGES // BATCH + 1):
        step.wait()
        batch = await queue.receive(max_messages=BATCH, visibility_timeout=timedelta(hours=1))
        received.extend(m.id for m in batch)
    await broker.close()
    return received


async def race_updates(
    path: str, name: str, docs: list[str], step: Barrier
) -> tuple[str, list[str]]:
    """Update each job from the version every process read; the ids of the updates that won."""
    repository = SqliteJobRepository(path)
    await repository.create()
    won: list[str] = []
    for job in (QueuedJob.model_validate_json(doc) for doc in docs):
        step.wait()
        try:
            await repository.update(job.model_copy(update={"lease_owner": name}))
        except ConcurrencyConflict:
            continue
        won.append(job.id)
    await repository.close()
    return name, won


def _child(target: Callable[..., Any], args: tuple[Any, ...], results: Queue[Any]) -> None:
    try:
        results.put((None, asyncio.run(target(*args))))
    except BaseException:
        results.put((traceback.format_exc(), None))
        raise


def run_children(target: Callable[..., Any], *args_per_child: tuple[Any, ...]) -> list[Any]:
    """Run ``target(*args, step)`` in one spawned process per argument tuple; their results,
    in the order the processes finished."""
    step = SPAWN.Barrier(len(args_per_child))
    results: Queue[Any] = SPAWN.Queue()
    children = [
        SPAWN.Process(target=_child, args=(target, (*args, step), results))
        for args in args_per_child
    ]
    for child in children:
        child.start()
    try:
        reports = [results.get(timeout=30) for _ in children]
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
    errors = [error for error, _ in reports if error is not None]
    assert not errors, "\n".join(errors)
    return [result for _, result in reports]


async def test_processes_draining_one_queue_receive_every_message_exactly_once(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "queues.db")
    broker = SqliteQueueBroker(path)
    queue = broker.queue("work")
    await queue.create()
    sent = {await queue.send(f"m{i}") for i in range(MESSAGES)}
    await broker.close()

    per_process = run_children(drain_queue, *[(path,)] * PROCESSES)

    received = [message_id for ids in per_process for message_id in ids]
    assert len(received) == len(set(received)) == len(sent)
    assert set(received) == sent
    assert all(per_process), "every process should have received some messages"


async def test_processes_racing_to_update_one_job_version_let_exactly_one_win(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "jobs.db")
    repository = SqliteJobRepository(path)
    await repository.create()
    stored = [await repository.insert(QueuedJob.new(owner="o", job_type="t")) for _ in range(JOBS)]
    docs = [job.model_dump_json() for job in stored]
    names = [f"worker-{n}" for n in range(PROCESSES)]

    wins = dict(run_children(race_updates, *[(path, name, docs) for name in names]))

    for job in stored:
        winners = [name for name, won in wins.items() if job.id in won]
        assert len(winners) == 1, (job.id, winners)
        assert (await repository.get(job.id)).lease_owner == winners[0]
    await repository.close()
