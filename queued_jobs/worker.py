"""The standalone worker: a host for the pipeline on a VM, a container or a laptop.

- **Concurrency**: up to ``concurrency`` jobs at once; it only receives as many messages as
  it has free slots (no read-ahead that would hold messages other workers could run).
- **Priority bands**: queues are given most urgent first; each fetch takes from the first
  band with messages, except every ``fairness``-th fetch, which starts from the least
  urgent band, so lower bands keep moving while higher ones are busy.
- **Adaptive polling**: after a fetch that found work, the next comes at once; after an
  empty one the pause doubles from ``poll_min`` up to ``poll_max`` (few requests when idle).
- **Leases**: a running job's message and record are renewed by the pipeline's heartbeat.
- **Graceful stop** (``stop()``, SIGTERM, SIGINT): stop fetching; running jobs get
  ``shutdown_grace`` to finish; those still running are then halted and handed back
  (their ``on_halt`` hook runs, their message becomes visible at once).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .errors import LeaseLost, QueuedJobsError
from .execution.pipeline import Disposition, Handled, Pipeline
from .execution.sweep import Sweeper
from .queues.base import MAX_BATCH, MAX_DELAY, JobQueue, QueueMessage

__all__ = ["Worker", "WorkerSettings"]

log = logging.getLogger("queued_jobs.worker")


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    concurrency: int = 8
    poll_min: timedelta = timedelta(milliseconds=20)
    poll_max: timedelta = timedelta(seconds=2)
    shutdown_grace: timedelta = timedelta(seconds=30)
    #: Every this many fetches, the least urgent band is asked first.
    fairness: int = 4
    #: How often this worker runs the sweep (``None``: never).
    sweep_interval: timedelta | None = timedelta(minutes=1)
    #: A message received more often than this is poison: its job fails with the reason.
    max_deliveries: int = 10

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.fairness < 1 or self.max_deliveries < 1:
            raise ValueError("concurrency, fairness and max_deliveries must be at least 1")


class Worker:
    """Runs jobs from ``queues`` (most urgent band first) until stopped."""

    def __init__(
        self,
        pipeline: Pipeline,
        queues: Sequence[JobQueue],
        *,
        settings: WorkerSettings | None = None,
        sweeper: Sweeper | None = None,
    ) -> None:
        if not queues:
            raise ValueError("a worker needs at least one queue")
        self.pipeline = pipeline
        self.queues = list(queues)
        self.settings = settings or WorkerSettings()
        self.sweeper = sweeper
        self._stopping = asyncio.Event()
        self._halt = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._fetches = 0

    @property
    def identity(self) -> str:
        return self.pipeline.host

    async def close(self) -> None:
        """Close the pipeline's repository and broker (a worker made by ``JobApp.worker``
        owns them)."""
        await self.pipeline.repository.close()
        await self.pipeline.broker.close()

    def stop(self) -> None:
        """Stop fetching and wind down (safe to call from a signal handler)."""
        self._stopping.set()

    async def run(self) -> None:
        """Work until :meth:`stop`; returns once every job finished or was handed back."""
        log.info("worker %s: started on %s", self.identity, [q.name for q in self.queues])
        sweeping = asyncio.create_task(self._sweep_forever())
        pause = self.settings.poll_min.total_seconds()
        try:
            while not self._stopping.is_set():
                free = self.settings.concurrency - len(self._running)
                if free <= 0:
                    await self._wait(asyncio.wait(self._running, return_when="FIRST_COMPLETED"))
                    continue
                received = await self._fetch(min(free, MAX_BATCH))
                for queue, message in received:
                    task = asyncio.create_task(self._process(queue, message))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
                if received:
                    pause = self.settings.poll_min.total_seconds()
                else:
                    await self._wait(asyncio.sleep(pause))
                    pause = min(pause * 2, self.settings.poll_max.total_seconds())
        finally:
            sweeping.cancel()
            await self._wind_down()
        log.info("worker %s: stopped", self.identity)

    async def _wait(self, awaitable: Awaitable[Any]) -> None:
        """Wait for ``awaitable`` or for a stop request, whichever comes first."""
        waiting = asyncio.ensure_future(awaitable)
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiting, stopping):
            if not task.done():
                task.cancel()

    async def _wind_down(self) -> None:
        if not self._running:
            return
        grace = self.settings.shutdown_grace.total_seconds()
        log.info(
            "worker %s: waiting up to %ss for %d jobs", self.identity, grace, len(self._running)
        )
        _, pending = await asyncio.wait(set(self._running), timeout=grace)
        if pending:
            log.warning("worker %s: handing back %d unfinished jobs", self.identity, len(pending))
            self._halt.set()
            await asyncio.wait(pending)

    def _band_order(self) -> list[JobQueue]:
        self._fetches += 1
        if self._fetches % self.settings.fairness == 0:
            return list(reversed(self.queues))
        return self.queues

    async def _fetch(self, count: int) -> list[tuple[JobQueue, QueueMessage]]:
        lease = self.pipeline.settings.lease
        for queue in self._band_order():
            try:
                messages = await queue.receive(max_messages=count, visibility_timeout=lease)
            except QueuedJobsError:
                log.exception("worker %s: could not receive from %s", self.identity, queue.name)
                continue
            if messages:
                return [(queue, m) for m in messages]
        return []

    async def _process(self, queue: JobQueue, message: QueueMessage) -> None:
        current = message

        async def renew() -> None:
            nonlocal current
            current = await queue.renew(current, visibility_timeout=self.pipeline.settings.lease)

        try:
            if message.dequeue_count > self.settings.max_deliveries:
                reason = f"delivered {message.dequeue_count} times without finishing"
                handled = await self.pipeline.fail_poisoned(message.body, reason)
            else:
                handled = await self.pipeline.handle(
                    message.body, renew_message=renew, halt=self._halt
                )
            await self._settle(queue, current, handled)
        except LeaseLost:
            log.warning("worker %s: lost the lease of message %s", self.identity, message.id)
        except Exception:
            log.exception("worker %s: message %s left for redelivery", self.identity, message.id)

    async def _settle(self, queue: JobQueue, message: QueueMessage, handled: Handled) -> None:
        if handled.disposition is Disposition.ACK:
            await queue.ack(message)
        elif handled.disposition is Disposition.DEAD_LETTER:
            await queue.dead_letter(message)
        else:
            await queue.renew(message, visibility_timeout=min(handled.delay, MAX_DELAY))

    async def _sweep_forever(self) -> None:
        if self.sweeper is None or self.settings.sweep_interval is None:
            return
        while True:
            await self.sweeper.sweep()
            await asyncio.sleep(self.settings.sweep_interval.total_seconds())


async def run_until_signalled(worker: Worker) -> None:
    """Run ``worker``, stopping it gracefully on SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    try:
        await worker.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
