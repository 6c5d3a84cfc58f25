"""The worker's receive loop: fetch from the bands, start jobs in free slots, settle their
messages, and stop within bounds (see the package docstring for what it does and why)."""

from __future__ import annotations

import asyncio
import signal
from collections import deque
from collections.abc import Awaitable, Coroutine, Sequence
from typing import Any

from ..errors import LeaseLost, QueuedJobsError
from ..execution.isolation import Isolation
from ..execution.pipeline import Disposition, Handled, Pipeline
from ..execution.presence import PresenceRecorder, detail_text
from ..execution.sweep import Sweeper
from ..fairness.share import is_overflow
from ..feed.consumer import FeedConsumer
from ..models import DetailValue, PresenceKind
from ..queue_names import dead_letters_of
from ..queues.base import MAX_BATCH, MAX_DELAY, Arrivals, JobQueue, QueueMessage
from ..telemetry.logs import library_logger
from ..telemetry.names import METRIC_DEAD_LETTERED
from .background import Periodic, repeat_forever, start_supervised, stop_all, sweep_forever
from .bands import Bands
from .settings import WorkerSettings
from .takeovers import Takeovers
from .waits import hand_back, waited

__all__ = ["Worker", "run_until_signalled"]

log = library_logger("queued_jobs.worker")
#: The least time given to hand messages back, or to store a halted job's release.
_AT_LEAST = 1.0
#: How long a task we gave up on (and cancelled) may take to go.
_AFTER_CANCEL = 0.2
#: How long a stopping worker waits for a receive in flight, to hand back what it brings:
#: a store that does not answer by then would only keep an idle worker from exiting.
_RECEIVE_PATIENCE = 5.0


class Worker:
    """Runs jobs from ``queues`` (most urgent band first) until stopped."""

    def __init__(
        self,
        pipeline: Pipeline,
        queues: Sequence[JobQueue],
        *,
        settings: WorkerSettings | None = None,
        sweeper: Sweeper | None = None,
        consumers: Sequence[FeedConsumer] = (),
        periodic: Sequence[Periodic] = (),
    ) -> None:
        if not queues:
            raise ValueError("a worker needs at least one queue")
        self.pipeline = pipeline
        self.queues = list(queues)
        self.settings = settings or WorkerSettings()
        self.sweeper = sweeper
        self.consumers = list(consumers)
        self.periodic = list(periodic)
        self._stopping = asyncio.Event()
        self._halt = asyncio.Event()
        self._hurry = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        #: Received messages waiting for a free slot, with when they were received.
        self._held: deque[tuple[JobQueue, QueueMessage, float]] = deque()
        self._isolation = Isolation(
            pipeline.settings.heartbeat_interval,
            patience=pipeline.settings.lease,
            closing=self._stopping,
        )
        interval = self.settings.takeover_interval
        self._takeovers: Takeovers | None = None
        if interval is not None:
            self._takeovers = Takeovers(
                pipeline,
                [queue.name for queue in self.queues],
                interval=interval,
                limit=self.settings.concurrency,
                isolation=self._isolation,
                halt=self._halt,
                start=self._start_task,
            )
        #: A receive the stop interrupted: what it brings is handed back on the way out.
        self._interrupted: tuple[JobQueue, asyncio.Task[list[QueueMessage]]] | None = None
        self._bands = Bands(self.queues, self.settings)
        #: Messages whose handling ended (each job run, retried, failed, handed back...).
        self._finished = 0
        self._presence: PresenceRecorder | None = None
        if self.settings.presence_interval is not None:
            self._presence = PresenceRecorder(
                pipeline.repository,
                host=self.identity,
                kind=PresenceKind.WORKER,
                every=self.settings.presence_interval,
                clock=pipeline.clock,
            )

    @property
    def identity(self) -> str:
        return self.pipeline.host

    async def close(self) -> None:
        """Close the pipeline's repository and broker (a worker made by ``JobApp.worker``
        owns them)."""
        await self.pipeline.settle()
        await self.pipeline.repository.close()
        await self.pipeline.broker.close()

    def stop(self) -> None:
        """Stop fetching and wind down (safe to call from a signal handler). Called again
        (a second SIGTERM, Ctrl-C twice), it halts running jobs at once instead of waiting
        for the rest of the grace."""
        if self._stopping.is_set():
            self._hurry.set()
        self._stopping.set()

    async def run(self) -> None:
        """Work until :meth:`stop`; returns once every job finished or was handed back."""
        log.info("worker %s: started on %s", self.identity, [q.name for q in self.queues])
        background = self._start_background()
        # The depths of its queues, read only when a metrics reader collects.
        unwatch = self.pipeline.telemetry.metrics.watch_depth(self._depths)
        refill_at = self.settings.refill_at
        loop = asyncio.get_running_loop()
        arrivals = self.pipeline.broker.arrivals()
        try:
            while not self._stopping.is_set():
                try:
                    await self._step(loop, arrivals, refill_at)
                except Exception:  # a bug of ours or a store's: never the end of the worker
                    pause = self.settings.poll_max.total_seconds()
                    log.exception(
                        "worker %s: unexpected error while fetching; going on in %ss",
                        self.identity,
                        pause,
                    )
                    await self._wait(asyncio.sleep(pause))
        finally:
            unwatch()
            if arrivals is not None:
                arrivals.close()
            await stop_all(background)
            await self._shut_down()
            if self._presence is not None:  # one more write, as bounded as the rest
                await self._presence.save(self._details, stopped=True, patience=_AT_LEAST)
        log.info("worker %s: stopped", self.identity)

    async def _depths(self) -> dict[str, int]:
        """How many messages each of the worker's queues holds."""
        found = await asyncio.gather(*(queue.depth() for queue in self.queues))
        return {queue.name: depth for queue, depth in zip(self.queues, found, strict=True)}

    def _details(self) -> dict[str, DetailValue]:
        """What the worker's presence tells of it."""
        return {
            "queues": detail_text(",".join(queue.name for queue in self.queues)),
            "concurrency": self.settings.concurrency,
            "running": len(self._running),
            "held": len(self._held),
            "finished": self._finished,
        }

    async def _step(
        self, loop: asyncio.AbstractEventLoop, arrivals: Arrivals | None, refill_at: int
    ) -> None:
        """Start what can start, then receive more or wait for a slot, a message or a stop."""
        self._start_held(loop.time())
        if self._isolation.engaged:  # a suspect runs alone: fetch nothing meanwhile
            await self._while_isolated()
            return
        holding = len(self._running) + len(self._held)
        if holding > refill_at:
            await self._wait(self._a_job_ends())
            return
        received = await self._fetch(min(self.settings.capacity - holding, MAX_BATCH))
        now = loop.time()
        self._held.extend((queue, message, now) for queue, message in received)
        if received:
            return
        if self._held and len(self._running) < self.settings.concurrency:
            return  # a slot freed during the fetch: start a held message now
        rest = self._bands.next_due() - now
        resting = self._rest(arrivals, max(rest, 0.0))
        if self._held:  # held messages start as soon as a slot frees
            await self._wait(resting, self._a_job_ends())
        else:
            await self._wait(resting)

    async def _wait(self, *awaitables: Awaitable[Any]) -> None:
        """Wait for the first of ``awaitables`` or for a stop request."""
        tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
        tasks.append(asyncio.create_task(self._stopping.wait()))
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if not task.done():
                task.cancel()

    def _a_job_ends(self) -> Awaitable[Any]:
        """Until one running job ends. Waits on a copy: the set shrinks as jobs end, maybe
        to nothing before the wait starts."""
        return asyncio.wait(set(self._running), return_when=asyncio.FIRST_COMPLETED)

    async def _rest(self, arrivals: Arrivals | None, seconds: float) -> None:
        """Idle until the next band is due, or until the store hints at a new message
        (then every band is due at once)."""
        if arrivals is None:
            await asyncio.sleep(seconds)
            return
        try:
            async with asyncio.timeout(seconds):
                await arrivals.wait()
        except TimeoutError:
            return
        self._bands.all_due()

    def _start_held(self, now: float) -> None:
        """Start held messages while slots are free (oldest first), unless a suspect runs
        or waits to run alone."""
        waited_long = self.pipeline.settings.heartbeat_interval.total_seconds()
        while (
            self._held
            and len(self._running) < self.settings.concurrency
            and not self._isolation.engaged
        ):
            queue, message, received_at = self._held.popleft()
            renew_first = now - received_at > waited_long
            task = asyncio.create_task(
                self._process(queue, message, renew_first=renew_first), name=message.id
            )
            if self._takeovers is not None:
                self._takeovers.saw_work()
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _while_isolated(self) -> None:
        """While a suspect runs alone: wait for a job to end (or a stop), renewing held
        messages every heartbeat so that they stay this worker's."""
        heartbeat = self.pipeline.settings.heartbeat_interval.total_seconds()
        if self._running:
            await self._wait(self._a_job_ends(), asyncio.sleep(heartbeat))
        else:
            await self._wait(asyncio.sleep(heartbeat))
        loop = asyncio.get_running_loop()
        for entry in list(self._held):
            queue, message, received_at = entry
            if loop.time() - received_at < heartbeat:
                continue
            try:
                renewed = await queue.renew(
                    message, visibility_timeout=self.pipeline.settings.lease
                )
            except QueuedJobsError as exc:  # lost (it came back to someone): not ours to start
                log.warning("worker %s: held message %s lost: %s", self.identity, message.id, exc)
                renewed = None
            if entry in self._held:
                index = self._held.index(entry)
                if renewed is None:
                    del self._held[index]
                else:
                    self._held[index] = (queue, renewed, loop.time())

    def _start_task(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _shut_down(self) -> None:
        """Hand back held messages and wind down running jobs, all within bounds: whatever
        storage or job code does, this returns ``shutdown_grace`` after the stop (at least
        a second to hand messages back), or, when jobs had to be halted at its end, the
        pipeline's ``stop_timeout`` (or what a job type needs to stop, if longer) and a
        second later."""
        loop = asyncio.get_running_loop()
        stopped = loop.time()
        grace_ends = stopped + self.settings.shutdown_grace.total_seconds()
        handing_back = asyncio.create_task(self._hand_back_held())
        await self._wind_down(grace_ends)
        until = max(grace_ends, stopped + _AT_LEAST, loop.time())
        await waited(
            handing_back,
            "handing back messages that did not start",
            until - loop.time(),
            every=self.settings.slow_storage_warning.total_seconds(),
            identity=self.identity,
        )
        if not handing_back.done():
            handing_back.cancel()  # each message says it was not handed back
            await asyncio.wait({handing_back}, timeout=_AFTER_CANCEL)

    async def _hand_back_held(self) -> None:
        """Make messages that never started visible again at once, for other workers, and
        those a receive the stop interrupted brings, if it answers soon."""
        held = [(queue, message) for queue, message, _ in self._held]
        self._held.clear()
        await asyncio.gather(self._hand_back_all(held), self._hand_back_interrupted())

    async def _hand_back_all(self, messages: list[tuple[JobQueue, QueueMessage]]) -> None:
        await asyncio.gather(
            *(hand_back(queue, message, identity=self.identity) for queue, message in messages)
        )

    async def _hand_back_interrupted(self) -> None:
        """Wait for the receive the stop interrupted, at most :data:`_RECEIVE_PATIENCE` (it
        may wait on a store that does not answer), and hand back what it brought."""
        if self._interrupted is None:
            return
        queue, receive = self._interrupted
        self._interrupted = None
        try:
            await asyncio.wait({receive}, timeout=_RECEIVE_PATIENCE)
        finally:
            if not receive.done():
                receive.cancel()
                log.warning(
                    "worker %s: stopped waiting for a receive from %s: any message it took "
                    "comes back after its lease (%ss)",
                    self.identity,
                    queue.name,
                    self.pipeline.settings.lease.total_seconds(),
                )
        if receive.cancelled():
            return
        if (error := receive.exception()) is not None:
            log.warning("worker %s: receive from %s failed: %s", self.identity, queue.name, error)
            return
        await self._hand_back_all([(queue, message) for message in receive.result()])

    async def _wind_down(self, grace_ends: float) -> None:
        if not self._running:
            return
        loop = asyncio.get_running_loop()
        grace = max(grace_ends - loop.time(), 0.0)
        log.info(
            "worker %s: waiting up to %.1fs for %d jobs", self.identity, grace, len(self._running)
        )
        pending = await self._unfinished(grace_ends)
        if not pending:
            return
        stop_timeout = self.pipeline.longest_stop().total_seconds()
        log.warning(
            "worker %s: halting %d unfinished jobs; they get %ss to stop and be handed back",
            self.identity,
            len(pending),
            stop_timeout,
        )
        self._halt.set()
        _, pending = await asyncio.wait(pending, timeout=stop_timeout + _AT_LEAST)
        if not pending:
            return
        log.error(
            "worker %s: gave up on %d jobs not handed back in time (messages %s): their leases "
            "run out, then other workers take them over",
            self.identity,
            len(pending),
            ", ".join(sorted(task.get_name() for task in pending)),
        )
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=_AFTER_CANCEL)

    async def _unfinished(self, grace_ends: float) -> set[asyncio.Task[None]]:
        """The running jobs that did not finish by ``grace_ends`` (or by a second stop)."""
        loop = asyncio.get_running_loop()
        pending = set(self._running)
        hurry = asyncio.create_task(self._hurry.wait())
        try:
            while pending and (left := grace_ends - loop.time()) > 0:
                done, _ = await asyncio.wait(
                    pending | {hurry}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                pending -= done
                if hurry in done:
                    log.warning("worker %s: asked again to stop: not waiting", self.identity)
                    break
        finally:
            hurry.cancel()
        return pending

    async def _fetch(self, count: int) -> list[tuple[JobQueue, QueueMessage]]:
        """Messages from the first due band that has some (none: every due band was empty,
        or the worker is stopping)."""
        loop = asyncio.get_running_loop()
        for band in self._bands.for_fetch():
            if band.due > loop.time():
                continue
            if self._stopping.is_set():
                return []
            messages = await self._receive(band.queue, count)
            band.answered(bool(messages), loop.time(), self.settings)
            if messages:
                return [(band.queue, m) for m in messages]
        return []

    async def _receive(self, queue: JobQueue, count: int) -> list[QueueMessage]:
        """One receive, raced against a stop; it says so while storage keeps it waiting (the
        storage client retries a store it cannot reach for a minute or more)."""
        lease = self.pipeline.settings.lease
        receive = asyncio.create_task(queue.receive(max_messages=count, visibility_timeout=lease))
        loop = asyncio.get_running_loop()
        started = loop.time()
        every = self.settings.slow_storage_warning.total_seconds()
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            while not receive.done():
                await asyncio.wait(
                    {receive, stopping}, timeout=every, return_when=asyncio.FIRST_COMPLETED
                )
                if receive.done():
                    break
                if stopping.done():
                    self._interrupted = (queue, receive)  # handed back on the way out
                    return []
                log.warning(
                    "worker %s: receiving from %s has been retrying for %.0fs (storage "
                    "unreachable?)",
                    self.identity,
                    queue.name,
                    loop.time() - started,
                )
        finally:
            stopping.cancel()
            if not receive.done() and self._interrupted is None:  # this task was cancelled
                receive.cancel()
        try:
            return receive.result()
        except Exception:  # whatever it is, the band rests (its pause grows) and we go on
            log.exception("worker %s: could not receive from %s", self.identity, queue.name)
            return []

    async def _process(
        self, queue: JobQueue, message: QueueMessage, *, renew_first: bool = False
    ) -> None:
        current = message

        async def renew() -> None:
            nonlocal current
            current = await queue.renew(current, visibility_timeout=self.pipeline.settings.lease)

        try:
            if renew_first:  # it waited a while after its receive: make its lease whole
                await renew()
            if message.dequeue_count > self.settings.max_deliveries:
                reason = f"delivered {message.dequeue_count} times without finishing"
                handled = await self.pipeline.fail_poisoned(message.body, reason)
            else:
                handled = await self.pipeline.handle(
                    message.body, renew_message=renew, halt=self._halt, isolation=self._isolation
                )
            await self._settle(queue, current, handled)
        except LeaseLost:
            log.warning("worker %s: lost the lease of message %s", self.identity, message.id)
        except Exception:
            log.exception("worker %s: message %s left for redelivery", self.identity, message.id)
        finally:
            self._finished += 1

    async def _settle(self, queue: JobQueue, message: QueueMessage, handled: Handled) -> None:
        if handled.disposition is Disposition.ACK:
            await queue.ack(message)
        elif handled.disposition is Disposition.DEAD_LETTER:
            if is_overflow(queue.name):  # kept with the normal band's, where tools look
                await queue.move(message, dead_letters_of(queue.name))
            else:
                await queue.dead_letter(message)
            job_type = None if handled.job is None else handled.job.job_type
            self.pipeline.telemetry.metrics.count(METRIC_DEAD_LETTERED, job_type, queue.name)
        elif handled.disposition is Disposition.LEAVE:
            log.warning(
                "worker %s: message %s left to its lease (%s): it comes back at %s",
                self.identity,
                message.id,
                handled.reason,
                message.visible_at.isoformat(timespec="seconds"),
            )
        else:
            await queue.renew(message, visibility_timeout=min(handled.delay, MAX_DELAY))

    def _start_background(self) -> list[asyncio.Task[None]]:
        """Start the tasks beside the receive loop: the presence (if it saves one), the
        sweep (if it sweeps), the look for expired leases (if it takes over) and the app's
        feed consumers."""
        works: list[tuple[Coroutine[Any, Any, None], str]] = []
        if self._presence is not None:
            works.append((self._presence.forever(self._details), "the presence"))
        if self.sweeper is not None and self.settings.sweep_interval is not None:
            sweeping = sweep_forever(
                self.sweeper, self.settings.sweep_interval, identity=self.identity
            )
            works.append((sweeping, "the sweep"))
        if self._takeovers is not None:
            works.append((self._takeovers.forever(self._stopping), "the takeover look"))
        for consumer in self.consumers:
            works.append((consumer.run_forever(), f"the feed consumer {consumer.name}"))
        for periodic in self.periodic:
            works.append((repeat_forever(periodic, identity=self.identity), periodic.what))
        return [
            start_supervised(
                work, what, identity=self.identity, stopping=self._stopping, stop=self.stop
            )
            for work, what in works
        ]


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
