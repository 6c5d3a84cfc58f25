"""huey on Redis: enqueue and drain (see peer_common). Run with the huey venv's python.

Worker: ``huey_consumer huey_bench.huey -k thread -w 2 -n -C -q``, huey's documented
consumer with thread workers ("when in doubt, thread is the safest choice"; greenlets would
need gevent, processes are for CPU-bound work), periodic tasks and the worker health check
off, logging quiet. Two threads drained no-op jobs fastest here (1, 2, 4 and 8 were tried).
Done: ``huey.pending_count() == 0``, then SIGINT, huey's graceful shutdown, which lets the
running tasks finish before the consumer exits.
"""

from __future__ import annotations

import signal

import peer_common
from huey import RedisHuey
from peer_common import Peer, Worker

huey = RedisHuey("bench", url=peer_common.redis_url())


@huey.task()
def noop(index: int) -> None:
    peer_common.mark(index)


def enqueue(jobs: int) -> float:
    return peer_common.timed_calls(noop, jobs)


def wait_done(worker: Worker) -> None:
    worker.wait_until(lambda: huey.pending_count() == 0, "huey's queue to empty")
    worker.stop(signal.SIGINT)
    if worker.process.returncode != 0:
        raise worker.fail("huey_consumer did not shut down cleanly")


PEER = Peer(
    enqueue_settings="noop(i) on RedisHuey, one call per job",
    enqueue=enqueue,
    worker_command=[
        peer_common.venv_bin("huey_consumer"),
        *("huey_bench.huey", "-k", "thread", "-w", "2", "-n", "-C", "-q"),
    ],
    wait_done=wait_done,
)

if __name__ == "__main__":
    peer_common.main("huey_bench")
