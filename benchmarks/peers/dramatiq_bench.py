"""Dramatiq on Redis: enqueue and drain (see peer_common). Run with the dramatiq venv's python.

Broker: ``RedisBroker`` with Dramatiq's default middleware (no Results middleware, so nothing
is stored per job).
Worker: ``dramatiq_queue_prefetch=100 dramatiq dramatiq_bench --processes 1 --threads 2``: one
worker process (forked by Dramatiq's supervising parent) with two worker threads. The prefetch
is Dramatiq's documented ``dramatiq_queue_prefetch`` setting: by default it is 2 x threads, and
its Redis consumer sleeps (backing off) whenever that many messages are still unacknowledged,
which held no-op jobs to about 270/s per thread here. With 100 prefetched, 1, 2, 4 and 8 threads
all drained at about the same speed; 2 was a little ahead.
Done: ``broker.join("default")`` (queued, delayed and unacknowledged messages all gone), then
SIGTERM, Dramatiq's graceful shutdown.
"""

from __future__ import annotations

import signal

import dramatiq
import peer_common
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import QueueJoinTimeout
from peer_common import Peer, Worker

broker = RedisBroker(url=peer_common.redis_url())
dramatiq.set_broker(broker)


@dramatiq.actor
def noop(index: int) -> None:
    peer_common.mark(index)


def enqueue(jobs: int) -> float:
    return peer_common.timed_calls(noop.send, jobs)


def _joined() -> bool:
    try:
        broker.join(noop.queue_name, interval=50, timeout=500)
    except QueueJoinTimeout:
        return False
    return True


def wait_done(worker: Worker) -> None:
    worker.wait_until(_joined, "Dramatiq's queue to be joined")
    worker.stop(signal.SIGTERM)
    if worker.process.returncode != 0:
        raise worker.fail("the Dramatiq worker did not shut down cleanly")


PEER = Peer(
    enqueue_settings="noop.send(i) on RedisBroker, one call per job",
    enqueue=enqueue,
    worker_command=[
        peer_common.venv_bin("dramatiq"),
        *("dramatiq_bench", "--processes", "1", "--threads", "2"),
    ],
    wait_done=wait_done,
    worker_env={"dramatiq_queue_prefetch": "100"},
)

if __name__ == "__main__":
    peer_common.main("dramatiq_bench")
