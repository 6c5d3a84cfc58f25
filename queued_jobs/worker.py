"""The standalone worker: a host for the pipeline on a VM, a container or a laptop.

- **Concurrency**: up to ``concurrency`` jobs at once; it only receives as many messages as
  it has free slots (no read-ahead that would hold messages other workers could run), and
  only once no more than ``fetch_threshold`` jobs are running (default: half the
  concurrency, like the Functions host's ``newBatchThreshold``), so that each receive
  brings a batch rather than one message at a time.
- **Prefetch** (off by default): with ``prefetch`` > 0 the worker may hold that many
  received messages beyond its running jobs, so receives come in larger batches (up to
  32). Held messages stay invisible to other workers, are renewed before they start if
  they waited long, and are handed back at once on shutdown. Worth it for many short jobs;
  leave it at 0 when jobs run for long.
- **Priority bands**: queues are given most urgent first; each fetch takes from the first
  band with messages, except every ``fairness``-th fetch, which starts from the least
  urgent band, so lower bands keep moving while higher ones are busy.
- **Adaptive polling, per band** (as the Functions host polls each queue trigger): a band
  that gave messages is asked again at once; after an empty answer its pause doubles from
  ``poll_min`` up to ``poll_max`` and it is skipped until then. An idle worker makes about
  one request per band per ``poll_max``; a busy one does not keep asking empty bands.
  Stores that can tell of new messages (SQLite's doorbell, memory) wake an idle worker at
  once, so there the poll is only a safety net.
- **Leases**: a running job's message and record are renewed by the pipeline's heartbeat.
- **Suspects run alone**: a job taken over from a worker that died may be what killed it;
  it runs with no other job beside it (the running ones end first, nothing new starts
  meanwhile; waiting messages are renewed), so that if it kills this worker too, it alone
  is charged for it (see :mod:`queued_jobs.execution.isolation`).
- **Takeovers ahead of the backlog**: every ``takeover_interval`` in which it started a
  message, the worker looks for jobs of its queues running under an expired lease and
  takes them over at once, rather than waiting for their message to come back behind every
  message sent meanwhile. An idle worker does not look: with its queues empty, such a
  message reaches it as soon as the lease ends.
- **Graceful stop** (``stop()``, SIGTERM, SIGINT): stop fetching (a receive in flight is
  not waited for: what it brings late is handed back); running jobs get
  ``shutdown_grace`` to finish; those still running are then halted and handed back
  (their ``on_halt`` hook runs, their message becomes visible at once) if their code
  stops within the pipeline's ``stop_timeout``, else left to their lease. Every wait is
  bounded, so the worker returns in time whatever storage or job code does.
- **Slow storage**: a receive that storage keeps waiting (its client retries) is logged
  every ``slow_storage_warning``; a receive that fails, with any error, is logged and its
  band rests; nothing that happens to one receive or one message ends the worker.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import deque
from collections.abc import Awaitable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ._takeovers import Takeovers
from .errors import LeaseLost, QueuedJobsError
from .execution.isolation import Isolation
from .execution.pipeline import Disposition, Handled, Pipeline
from .execution.sweep import Sweeper
from .queues.base import MAX_BATCH, MAX_DELAY, Arrivals, JobQueue, QueueMessage

__all__ = ["Worker", "WorkerSettings"]

log = logging.getLogger("queued_jobs.worker")
#: The least time given to hand messages back, or to store a halted job's release.
_AT_LEAST = 1.0
#: How long a task we gave up on (and cancelled) may take to go.
_AFTER_CANCEL = 0.2


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
    #: Messages the worker may hold, received but not yet started, beyond its running jobs.
    prefetch: int = 0
    #: Receive again once at most this many messages are running or held (``None``: half
    #: of ``concurrency + prefetch``). Lower means fewer, larger receives;
    #: ``concurrency + prefetch - 1`` refills each free slot at once.
    fetch_threshold: int | None = None
    #: How often a busy worker looks for jobs of its queues whose lease expired, to take
    #: them over ahead of its backlog (``None``: never; their messages still come back).
    takeover_interval: timedelta | None = timedelta(seconds=30)
    #: A storage request the worker waits on (a receive, a hand-back) that has not been
    #: answered after this long is logged as slow, and again every time this long passes.
    slow_storage_warning: timedelta = timedelta(seconds=5)

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.fairness < 1 or self.max_deliveries < 1:
            raise ValueError("concurrency, fairness and max_deliveries must be at least 1")
        if self.prefetch < 0:
            raise ValueError("prefetch must be 0 or more")
        if self.fetch_threshold is not None and not 0 <= self.fetch_threshold < self.capacity:
            raise ValueError(
                "fetch_threshold must be between 0 and concurrency + prefetch - 1 "
                f"({self.capacity - 1})"
            )

    @property
    def capacity(self) -> int:
        """How many messages the worker holds at most (running or waiting to start)."""
        return self.concurrency + self.prefetch

    @property
    def refill_at(self) -> int:
        """How many messages held at most let the worker receive more."""
        if self.fetch_threshold is not None:
            return self.fetch_threshold
        return self.capacity // 2


@dataclass(slots=True)
class _Band:
    """One priority band's queue and its polling pace (event-loop time)."""

    queue: JobQueue
    pause: float
    due: float = field(default=0.0)

    def answered(self, found: bool, now: float, settings: WorkerSettings) -> None:
        if found:
            self.pause, self.due = settings.poll_min.total_seconds(), now
        else:
            self.due = now + self.pause
            self.pause = min(self.pause * 2, settings.poll_max.total_seconds())


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
        self._hurry = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        #: Received messages waiting for a free slot, with when they were received.
        self._held: deque[tuple[JobQueue, QueueMessage, float]] = deque()
        self._fetches = 0
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
        poll_min = self.settings.poll_min.total_seconds()
        self._bands = [_Band(queue, poll_min) for queue in self.queues]

    @property
    def identity(self) -> str:
        return self.pipeline.host

    async def close(self) -> None:
        """Close the pipeline's repository and broker (a worker made by ``JobApp.worker``
        owns them)."""
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
            if arrivals is not None:
                arrivals.close()
            await self._stop_background(background)
            await self._shut_down()
        log.info("worker %s: stopped", self.identity)

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
        rest = min(band.due for band in self._bands) - now
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
        for band in self._bands:
            band.due = 0.0

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
        pipeline's ``stop_timeout`` and a second later."""
        loop = asyncio.get_running_loop()
        stopped = loop.time()
        grace_ends = stopped + self.settings.shutdown_grace.total_seconds()
        handing_back = asyncio.create_task(self._hand_back_held())
        await self._wind_down(grace_ends)
        until = max(grace_ends, stopped + _AT_LEAST, loop.time())
        await self._waited(handing_back, "handing back held messages", until - loop.time())
        if not handing_back.done():
            handing_back.cancel()  # each message says it was not handed back
            await asyncio.wait({handing_back}, timeout=_AFTER_CANCEL)

    async def _hand_back_held(self) -> None:
        """Make messages that never started visible again at once, for other workers."""
        held = [(queue, message) for queue, message, _ in self._held]
        self._held.clear()
        if self._interrupted is not None:
            queue, receive = self._interrupted
            self._interrupted = None
            try:
                held += [(queue, message) for message in await receive]
            except asyncio.CancelledError:
                log.warning(
                    "worker %s: stopped waiting for a receive from %s: any message it took "
                    "comes back after its lease (%ss)",
                    self.identity,
                    queue.name,
                    self.pipeline.settings.lease.total_seconds(),
                )
                raise
            except Exception as exc:
                log.warning("worker %s: receive from %s failed: %s", self.identity, queue.name, exc)
        await asyncio.gather(*(self._hand_back(queue, message) for queue, message in held))

    async def _hand_back(self, queue: JobQueue, message: QueueMessage) -> None:
        try:
            await queue.renew(message, visibility_timeout=timedelta(0))
        except asyncio.CancelledError:
            log.warning(
                "worker %s: message %s not handed back (storage did not answer in time): it "
                "comes back when its lease ends, at %s",
                self.identity,
                message.id,
                message.visible_at.isoformat(timespec="seconds"),
            )
            raise
        except Exception as exc:  # it comes back when its visibility ends anyway
            log.warning("worker %s: message %s not handed back: %s", self.identity, message.id, exc)

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
        stop_timeout = self.pipeline.settings.stop_timeout.total_seconds()
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

    async def _waited(self, task: asyncio.Future[Any], what: str, limit: float) -> None:
        """Wait for ``task`` up to ``limit`` seconds, saying every ``slow_storage_warning``
        that it is still waiting."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        every = self.settings.slow_storage_warning.total_seconds()
        while not task.done():
            left = started + limit - loop.time()
            if left <= 0:
                return
            await asyncio.wait({task}, timeout=min(every, left))
            if not task.done() and loop.time() - started >= every:
                log.warning(
                    "worker %s: %s has been waiting for %.0fs (storage unreachable?)",
                    self.identity,
                    what,
                    loop.time() - started,
                )

    def _band_order(self) -> list[_Band]:
        self._fetches += 1
        if self._fetches % self.settings.fairness == 0:
            return list(reversed(self._bands))
        return self._bands

    async def _fetch(self, count: int) -> list[tuple[JobQueue, QueueMessage]]:
        """Messages from the first due band that has some (none: every due band was empty,
        or the worker is stopping)."""
        loop = asyncio.get_running_loop()
        for band in self._band_order():
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

    async def _settle(self, queue: JobQueue, message: QueueMessage, handled: Handled) -> None:
        if handled.disposition is Disposition.ACK:
            await queue.ack(message)
        elif handled.disposition is Disposition.DEAD_LETTER:
            await queue.dead_letter(message)
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
        """Start the worker's background tasks: the sweep (if it sweeps) and the look for
        expired leases (if it takes over)."""
        tasks = []
        if self.sweeper is not None and self.settings.sweep_interval is not None:
            tasks.append(self._supervised(self._sweep_forever(self.sweeper), "the sweep"))
        if self._takeovers is not None:
            tasks.append(
                self._supervised(self._takeovers.forever(self._stopping), "the takeover look")
            )
        return tasks

    async def _stop_background(self, tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _supervised(self, work: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        """Run ``work`` beside the receive loop. It is never to end while the worker runs:
        if it does, by an error or not, that is logged and the worker stops, loudly."""
        task = asyncio.create_task(work, name=f"{self.identity}: {what}")

        def ended(task: asyncio.Task[None]) -> None:
            if task.cancelled() or self._stopping.is_set():
                return
            error = task.exception()
            log.critical(
                "worker %s: %s ended unexpectedly; stopping the worker",
                self.identity,
                what,
                exc_info=error,
            )
            self.stop()

        task.add_done_callback(ended)
        return task

    async def _sweep_forever(self, sweeper: Sweeper) -> None:
        """Sweep every ``sweep_interval``. A sweep that fails is logged and tried again
        after the interval: one error never ends the sweeping for the worker's life."""
        assert self.settings.sweep_interval is not None
        pause = self.settings.sweep_interval.total_seconds()
        while True:
            try:
                await sweeper.sweep()
            except Exception:
                log.exception(
                    "worker %s: the sweep failed; it runs again in %ss", self.identity, pause
                )
            await asyncio.sleep(pause)


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
