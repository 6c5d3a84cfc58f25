"""RQ on Redis: enqueue and drain (see peer_common). Run with the rq venv's python.

Jobs are enqueued with RQ's defaults, its result kept for 500 s: ``result_ttl=0`` (keep none,
as the other peers do for a job returning None) measured slower, as RQ then deletes each job.
Worker: ``rq worker --burst --worker-class rq.worker.SimpleWorker --logging_level WARNING
--disable-job-desc-logging default``: RQ's default ``Worker`` forks a work horse per job;
``SimpleWorker`` runs each job in the worker process itself, RQ's documented way to skip that
fork, and burst mode makes it exit once the queue is empty.
Done: the burst worker has exited and RQ reports the queue and its started-job registry empty.
"""

from __future__ import annotations

import peer_common
from peer_common import Peer, Worker
from redis import Redis
from rq import Queue
from rq.registry import StartedJobRegistry

connection = Redis.from_url(peer_common.redis_url())
queue = Queue("default", connection=connection)


def noop(index: int) -> None:
    peer_common.mark(index)


def enqueue(jobs: int) -> float:
    return peer_common.timed_calls(lambda index: queue.enqueue(noop, index), jobs)


def wait_done(worker: Worker) -> None:
    if worker.wait_exit() != 0:
        raise worker.fail("the RQ worker failed")
    started = StartedJobRegistry(queue=queue)
    if queue.count or started.count:
        raise worker.fail(f"RQ still has {queue.count} queued, {started.count} started jobs")


PEER = Peer(
    enqueue_settings="queue.enqueue(noop, i), one call per job",
    enqueue=enqueue,
    worker_command=[
        peer_common.venv_bin("rq"),
        *("worker", "--burst", "--worker-class", "rq.worker.SimpleWorker"),
        *("--logging_level", "WARNING", "--disable-job-desc-logging"),
        *("--url", peer_common.redis_url(), "default"),
    ],
    wait_done=wait_done,
)

if __name__ == "__main__":
    peer_common.main("rq_bench")
