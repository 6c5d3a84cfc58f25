"""Celery on Redis: enqueue and drain (see peer_common). Run with the celery venv's python.

Worker: ``celery -A celery_bench worker --pool solo --concurrency 1 --loglevel WARNING
--without-gossip --without-mingle --without-heartbeat --prefetch-multiplier 64``: the solo
pool runs tasks in the worker process itself (no child processes, no IPC); gossip, mingle
and heartbeat (chatter between workers, none here) are off, and the prefetch multiplier is
raised, as Celery's optimizing guide advises for many short tasks (4, the default, and 1000
measured within noise of 64). No result backend (Celery's default): nothing is stored.
Done: the queue reports no message left (``queue_declare(passive=True)``), then
``inspect().active()`` and ``inspect().reserved()`` report nothing running or prefetched;
then SIGTERM, Celery's warm shutdown.
"""

from __future__ import annotations

import signal

import peer_common
from celery import Celery
from kombu.exceptions import ChannelError
from peer_common import Peer, Worker

app = Celery("celery_bench", broker=peer_common.redis_url())
app.conf.broker_connection_retry_on_startup = True
QUEUE = app.conf.task_default_queue


@app.task(name="noop")
def noop(index: int) -> None:
    peer_common.mark(index)


def enqueue(jobs: int) -> float:
    return peer_common.timed_calls(noop.delay, jobs)


def _queue_empty() -> bool:
    with app.connection_for_read() as connection:
        try:
            declared = connection.default_channel.queue_declare(queue=QUEUE, passive=True)
        except ChannelError:  # 404: Redis drops a list once its last message is taken
            return True
    return bool(declared.message_count == 0)


def _worker_idle() -> bool:
    inspect = app.control.inspect(timeout=1.0, limit=1)  # one worker: its reply is enough
    replies = [inspect.active(), inspect.reserved()]
    return all(reply and not any(reply.values()) for reply in replies)


def wait_done(worker: Worker) -> None:
    worker.wait_until(_queue_empty, "Celery's queue to empty")
    worker.wait_until(_worker_idle, "the Celery worker to report no active or reserved task")
    worker.stop(signal.SIGTERM)
    if worker.process.returncode != 0:
        raise worker.fail("the Celery worker did not shut down cleanly")


PEER = Peer(
    enqueue_settings="noop.delay(i), one call per job",
    enqueue=enqueue,
    worker_command=[
        peer_common.venv_bin("celery"),
        *("-A", "celery_bench", "worker", "--pool", "solo", "--concurrency", "1"),
        *("--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"),
        *("--prefetch-multiplier", "64"),
    ],
    wait_done=wait_done,
)

if __name__ == "__main__":
    peer_common.main("celery_bench")
