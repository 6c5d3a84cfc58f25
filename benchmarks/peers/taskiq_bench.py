"""taskiq on Redis (taskiq-redis): enqueue and drain (see peer_common). Run with its venv's python.

Broker: taskiq-redis's ``ListQueueBroker`` (LPUSH / BRPOP on one list, no acks, no result
backend), the simplest of its brokers (its stream broker adds acknowledgements). The job is an
``async def``, run on the worker's event loop rather than in its thread pool.
Worker: ``taskiq worker taskiq_bench:broker --workers 1 --log-level WARNING``: one worker
process (beside taskiq's supervising parent) running up to 100 tasks at once (the default
``--max-async-tasks``; 10 and 1000, ``--max-prefetch 100`` and ``--no-parse`` measured within
noise of it). The venv has taskiq's ``uv`` extra, so the worker runs on uvloop, which it
picks by itself when installed (about 5% faster here).
Done: taskiq has no API to count queued messages, so the driver reads the broker's list length
(``LLEN broker.queue_name``) until it is 0, then sends SIGTERM: taskiq's graceful shutdown
finishes the tasks the worker holds before it exits.
"""

from __future__ import annotations

import asyncio
import signal
import time

import peer_common
import redis
from peer_common import Peer, Worker
from taskiq_redis import ListQueueBroker

broker = ListQueueBroker(url=peer_common.redis_url())


@broker.task(task_name="noop")
async def noop(index: int) -> None:
    peer_common.mark(index)


async def _enqueue(jobs: int) -> float:
    await broker.startup()
    try:
        started = time.perf_counter()
        for index in range(jobs):
            await noop.kiq(index)
        return time.perf_counter() - started
    finally:
        await broker.shutdown()


def enqueue(jobs: int) -> float:
    return asyncio.run(_enqueue(jobs))


def wait_done(worker: Worker) -> None:
    client = redis.Redis.from_url(peer_common.redis_url())
    worker.wait_until(lambda: client.llen(broker.queue_name) == 0, "taskiq's list to empty")
    worker.stop(signal.SIGTERM)
    if worker.process.returncode != 0:
        raise worker.fail("the taskiq worker did not shut down cleanly")


PEER = Peer(
    enqueue_settings="await noop.kiq(i) on ListQueueBroker, one call per job",
    enqueue=enqueue,
    worker_command=[
        peer_common.venv_bin("taskiq"),
        *("worker", "taskiq_bench:broker", "--workers", "1", "--log-level", "WARNING"),
    ],
    wait_done=wait_done,
    note="uvloop event loop, from the taskiq[uv] extra",
)

if __name__ == "__main__":
    peer_common.main("taskiq_bench")
