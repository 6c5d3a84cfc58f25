"""The one execution pipeline every host calls: message → claim → run → complete or retry.

A host (the standalone worker, the Functions queue trigger, inline mode) hands over a
message body and gets back a :class:`Handled` saying what to do with the message: delete
it, leave it to come back after a delay, or move it to the dead-letter queue. The pipeline
never touches the message itself; it writes job records and sends retry messages.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from .._unique import release_unique_key
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import (
    ConcurrencyConflict,
    InvalidInput,
    InvalidJobRecord,
    PayloadTooDeep,
    PayloadTooLarge,
    PermanentError,
    QueuedJobsError,
    UnknownJobType,
)
from ..fairness.admission import Admission
from ..limits.keeper import JobGate, LimitKeeper
from ..models import AttemptOutcome, JobError, JobStatus, QueuedJob
from ..queue_names import QueueNames
from ..queues.base import MAX_DELAY, QueueBroker
from ..repositories.base import JobRepository
from ..runner import AlreadyRunning, JobDefinition, JobRegistry, JobRunner
from ..telemetry import AttemptSpan, job_fields
from ..telemetry.logs import library_logger
from . import already_running, claiming, poison
from .aftermath import after_attempt, log_unrunnable
from .attempts import attempt_record, counted_failures
from .handled import Disposition, Handled
from .hooks import call_hook, is_noop
from .isolation import Halted, Isolation
from .messages import UnreadableMessage, decode_message, encode_job_id, encode_message
from .run import AttemptOutcomeInfo, run_attempt
from .running import NO_LEASE, RunningJob
from .settings import ExecutionSettings

__all__ = ["Disposition", "Handled", "Pipeline", "SelectiveListener", "StatusListener"]

log = library_logger("queued_jobs.execution")
StatusListener = Callable[[QueuedJob], Awaitable[None]]


@runtime_checkable
class SelectiveListener(Protocol):
    """A status listener that says which changes it wants: the pipeline calls it only for
    a job ``hears`` accepts, so that a listener for a few jobs (the sequences' own) costs
    the others nothing, not even a task."""

    def hears(self, job: QueuedJob) -> bool: ...

    async def __call__(self, job: QueuedJob) -> None: ...


_ZERO = timedelta(0)
_EARLY = timedelta(seconds=1)
_SPREAD = "taken over from a dead worker: queued again after a random delay"


class Pipeline:
    """Claims and runs jobs for one host identity (``host:pid``)."""

    def __init__(
        self,
        repository: JobRepository,
        broker: QueueBroker,
        registry: JobRegistry,
        *,
        host: str,
        clock: Clock = SYSTEM_CLOCK,
        settings: ExecutionSettings | None = None,
        listeners: Sequence[StatusListener] = (),
        rng: random.Random | None = None,
        queues: QueueNames | None = None,
    ) -> None:
        """``queues``: the application's queue names (for the owner share's overflow
        queue, when the settings give a share)."""
        self.repository = repository
        self.broker = broker
        self.registry = registry
        self.host = host
        self.clock = clock
        self.settings = settings or ExecutionSettings()
        #: Where attempts are traced and counted (``queued_jobs.telemetry``).
        self.telemetry = self.settings.tracing
        #: Each listener with what it hears (``None``: every change), read once.
        self._listeners: list[tuple[StatusListener, Callable[[QueuedJob], bool] | None]] = []
        for listener in listeners:
            self.add_listener(listener)
        self.rng = rng or random.Random()
        #: The gates of job types with limits (``queued_jobs.limits``), on this store.
        self.limits = LimitKeeper(
            repository.limits, self._send_wake, clock=clock, lease=self.settings.lease
        )
        share = self.settings.owner_share
        #: The owner share's places (``queued_jobs.fairness``): claimed jobs give theirs back.
        self.admission = (
            Admission(self.limits, share, overflow=(queues or QueueNames()).overflow)
            if share is not None
            else None
        )
        self._leaving: set[asyncio.Task[None]] = set()

    def left_ready_queue(self, job: QueuedJob, *, claimed: bool) -> None:
        """``job`` was claimed for its first attempt (``claimed``) or ended before one:
        its place in the ready queues (the owner share) is given back, beside the run."""
        if self.admission is None or (claimed and job.attempts != 1):
            return
        task = asyncio.create_task(self.admission.leave(job))
        self._leaving.add(task)
        task.add_done_callback(self._leaving.discard)

    async def settle(self, *, within: float = 5.0) -> None:
        """Let the places being given back beside runs land (before the store closes);
        those that take longer than ``within`` seconds are left to run out."""
        if self._leaving:
            await asyncio.wait(set(self._leaving), timeout=within)

    async def _send_wake(self, queue: str, job_id: str) -> None:
        """Send a parked job the message that wakes it (a place is kept for it)."""
        key = await self.repository.message_key()
        await self.broker.queue(queue).send(encode_job_id(job_id, key))

    def add_listener(self, listener: StatusListener) -> None:
        """Tell ``listener`` of every stored change from now on (of those it hears, if it
        is a :class:`SelectiveListener`)."""
        hears = listener.hears if isinstance(listener, SelectiveListener) else None
        self._listeners.append((listener, hears))

    def running(self, job: QueuedJob) -> RunningJob:
        """The writer of the claimed ``job``'s record for one attempt, on this pipeline's
        store, clock and settings."""
        settings = self.settings
        return RunningJob(
            self.repository,
            job,
            clock=self.clock,
            lease=settings.lease,
            progress_interval=settings.progress_interval,
            settle=timedelta(seconds=settings.hook_seconds),  # a write in flight: like a hook
        )

    def longest_stop(self) -> timedelta:
        """The longest an attempt told to stop may take to end: ``stop_timeout``, or more
        for a job type that needs more (``JobDefinition.stop_grace``: a program given
        time to exit), so that a host waits that long before it exits."""
        stop_timeout = self.settings.stop_timeout
        return max(
            (self.registry.get(name).stop_time(stop_timeout) for name in self.registry),
            default=stop_timeout,
        )

    # --- entry points ------------------------------------------------------------------

    async def handle(
        self,
        body: str,
        *,
        renew_message: Callable[[], Awaitable[None]] | None = None,
        halt: asyncio.Event | None = None,
        isolation: Isolation | None = None,
        spread_suspects: bool = False,
    ) -> Handled:
        """Handle one queue message body. For ``isolation`` and ``spread_suspects`` (jobs
        taken over from a dead worker) see :meth:`handle_job`."""
        try:
            message = decode_message(body, await self.repository.message_key())
        except UnreadableMessage as exc:
            log.error("unreadable queue message (%s): %.200r", exc, body)
            return Handled(Disposition.DEAD_LETTER, reason=str(exc))
        return await self.handle_job(
            message.job_id,
            message.snapshot,
            renew_message=renew_message,
            halt=halt,
            isolation=isolation,
            spread_suspects=spread_suspects,
        )

    async def handle_job(
        self,
        job_id: str,
        snapshot: QueuedJob | None = None,
        *,
        renew_message: Callable[[], Awaitable[None]] | None = None,
        halt: asyncio.Event | None = None,
        send_retries: bool = True,
        due_now: bool = False,
        isolation: Isolation | None = None,
        spread_suspects: bool = False,
    ) -> Handled:
        """Claim and run a job. With ``send_retries=False`` a retry is left to the caller
        (``RETRY_LATER`` with the backoff delay) instead of sent as a new message; with
        ``due_now`` a job whose run-at time is still ahead runs anyway (inline mode).

        A job taken over from a worker that died (a *suspect*) runs alone under
        ``isolation`` (the standalone worker); with ``spread_suspects`` (a host that cannot
        do that) it is queued again after a random delay up to
        ``ExecutionSettings.spread_suspects`` instead (``RETRY_LATER`` with the delay: the
        host sends the message).

        A job whose stored record cannot be read (``CorruptJobRecord``), or would not be
        stored again by the write gate, cannot be claimed: its message is dead-lettered,
        the job named in an ERROR log, rather than redelivered every lease forever."""
        # log lines of the claim name the job (its attempt's then name the attempt too)
        known = snapshot if snapshot is not None and snapshot.id == job_id else None
        with job_fields(job_id, None if known is None else known.job_type):
            return await self._handle_job(
                job_id,
                snapshot,
                renew_message=renew_message,
                halt=halt,
                send_retries=send_retries,
                due_now=due_now,
                isolation=isolation,
                spread_suspects=spread_suspects,
            )

    async def _handle_job(
        self,
        job_id: str,
        snapshot: QueuedJob | None,
        *,
        renew_message: Callable[[], Awaitable[None]] | None,
        halt: asyncio.Event | None,
        send_retries: bool,
        due_now: bool,
        isolation: Isolation | None,
        spread_suspects: bool,
    ) -> Handled:
        began = time.time_ns()  # an attempt's span starts with its claim
        if isolation is None:
            claimed = await claiming.claim_or_dead_letter(
                self, job_id, snapshot, due_now=due_now, spread=spread_suspects
            )
        else:
            try:
                async with isolation.beside(renew_message, halt):
                    claimed = await claiming.claim_or_dead_letter(
                        self, job_id, snapshot, due_now=due_now, suspects=False, halt=halt
                    )
                    if isinstance(claimed, claiming.Claimed):
                        return await self._run(
                            claimed, renew_message, halt, send_retries=send_retries, began=began
                        )
                if isinstance(claimed, claiming.Suspect):
                    async with isolation.alone(renew_message, halt) as alone:
                        claimed = await claiming.claim_or_dead_letter(
                            self, job_id, None, due_now=due_now, alone=alone, halt=halt
                        )
                        if isinstance(claimed, claiming.Claimed):
                            return await self._run(
                                claimed,
                                renew_message,
                                halt,
                                send_retries=send_retries,
                                began=began,
                            )
            except Halted:
                return Handled(Disposition.RETRY_LATER, delay=_ZERO, reason="halted before it ran")
        if isinstance(claimed, claiming.Claimed):
            return await self._run(
                claimed, renew_message, halt, send_retries=send_retries, began=began
            )
        assert isinstance(claimed, Handled)  # a suspect is only found with isolation
        return claimed

    async def fail_poisoned(self, body: str, reason: str) -> Handled:
        """A message that failed delivery too often: its job fails with ``reason``
        (:func:`.poison.fail_poisoned`)."""
        return await poison.fail_poisoned(self, body, reason)

    async def finish(self, job: QueuedJob) -> QueuedJob:
        """Store ``job``'s change that no attempt writes, then let its hooks hear it."""
        stored = await self.repository.update(job)
        await self._finish_hooks(stored)
        return stored

    # --- running -----------------------------------------------------------------------

    async def _run(
        self,
        claimed: claiming.Claimed,
        renew_message: Callable[[], Awaitable[None]] | None,
        halt: asyncio.Event | None,
        *,
        send_retries: bool,
        began: int,
    ) -> Handled:
        """Run the claimed job's attempt under its span (``began``: its claim's start)."""
        with self.telemetry.attempt(claimed.job, began) as span:
            return await self._attempt(
                claimed, renew_message, halt, send_retries=send_retries, span=span
            )

    async def _attempt(
        self,
        claimed: claiming.Claimed,
        renew_message: Callable[[], Awaitable[None]] | None,
        halt: asyncio.Event | None,
        *,
        send_retries: bool,
        span: AttemptSpan,
    ) -> Handled:
        job, places = claimed.job, claimed.entered.places
        try:
            definition = self.registry.get(job.job_type)
            request = definition.load_request(job.request)
            if claimed.entered.error is not None:
                raise claimed.entered.error
        except (UnknownJobType, ValidationError, InvalidInput) as exc:
            await self.notify(job)
            return await self._fail_unrunnable(job, exc, places, span)
        type_lease = None
        if definition.already_running is not AlreadyRunning.ALLOW:
            started = await already_running.start(self, job, definition.already_running)
            if isinstance(started, already_running.NotStarted):
                return await self._not_started(
                    job, started, places, send_retries=send_retries, span=span
                )
            type_lease = started
        runner = definition.make_runner()
        info = await run_attempt(
            self,
            job,
            definition,
            runner,
            request,
            renew_message=renew_message,
            halt=halt,
            beside=_renewals(self.limits, job.id, places, type_lease),
        )
        return await self._complete(
            info,
            definition,
            runner,
            send_retries=send_retries,
            renew_message=renew_message,
            type_lease=type_lease,
            places=places,
            span=span,
        )

    async def _not_started(
        self,
        job: QueuedJob,
        not_started: already_running.NotStarted,
        places: Sequence[JobGate],
        *,
        send_retries: bool,
        span: AttemptSpan,
    ) -> Handled:
        """A claimed job that may not start beside the job of its type that runs: failed,
        cancelled, or handed back to try again later (its attempt says why), with a new
        message as a retry's (its snapshot fresh, its delivery count new) unless
        ``send_retries`` is off or the send fails."""
        await self.notify(job)  # its claim
        stored = await already_running.record_not_started(self, job, not_started)
        if stored is None:
            return Handled(Disposition.ACK, job, reason="taken over by another worker")
        span.ended(stored, not_started.error, failed=False)
        await self.limits.leave(job.id, places)
        await self._finish_hooks(stored)
        delay, waiting = not_started.delay, already_running.WAITING
        if delay is None:
            return Handled(Disposition.ACK, stored, reason=not_started.error.message)
        if send_retries and await self.send_again(stored, delay):
            return Handled(Disposition.ACK, stored, reason=waiting)
        return Handled(Disposition.RETRY_LATER, stored, delay, reason=waiting)

    async def _fail_unrunnable(
        self,
        job: QueuedJob,
        exc: Exception,
        places: Sequence[JobGate] = (),
        span: AttemptSpan | None = None,
    ) -> Handled:
        now = self.clock.now()
        error = JobError.from_exception(exc)
        started = job.attempt_started_at or job.updated_at
        attempt = attempt_record(job, started, now, AttemptOutcome.FAILED, self.host, error)
        failed = job.transition(
            JobStatus.FAILED, now=now, completed_at=now, error=error, **NO_LEASE
        )
        try:
            stored = await self.repository.update(failed, attempt=attempt)
        except ConcurrencyConflict:
            return Handled(Disposition.RETRY_LATER, delay=_EARLY, reason="job changed")
        log_unrunnable(stored, exc, (now - started).total_seconds())
        if span is not None:
            span.ended(stored, error, failed=True)
        await self.limits.leave(job.id, places)
        await self._finish_hooks(stored)
        return Handled(Disposition.ACK, stored, reason=f"cannot run: {exc}")

    async def _complete(
        self,
        info: AttemptOutcomeInfo,
        definition: JobDefinition,
        runner: JobRunner[Any, Any],
        *,
        send_retries: bool,
        renew_message: Callable[[], Awaitable[None]] | None = None,
        type_lease: already_running.TypeLease | None = None,
        places: Sequence[JobGate] = (),
        span: AttemptSpan | None = None,
    ) -> Handled:
        running, now = info.running, self.clock.now()
        if running.lost:
            return Handled(Disposition.ACK, running.job, reason="taken over by another worker")
        if info.left_to_expire:  # halted, its code runs on: no other run may start yet
            return Handled(Disposition.LEAVE, running.job, reason="not stopped: left to its lease")
        result = None
        if info.outcome is AttemptOutcome.SUCCEEDED:
            try:
                result = definition.dump_result(info.result)
            except (ValueError, TypeError, PydanticSerializationError) as exc:
                info.outcome, info.error = (
                    AttemptOutcome.FAILED,
                    PermanentError(f"the job's result cannot be stored: {exc}"),
                )
        outcome = info.outcome
        error = None if info.error is None else JobError.from_exception(info.error)
        attempt = attempt_record(running.job, running.started_at, now, outcome, self.host, error)
        final: Callable[[QueuedJob], QueuedJob]
        retry_in: timedelta | None = None
        if outcome is AttemptOutcome.SUCCEEDED:
            final = running.final_change(
                JobStatus.SUCCEEDED, now, completed_at=now, result=result, error=None
            )
        elif outcome is AttemptOutcome.CANCELLED:  # with how the code said it stopped
            said = {"error": error} if error is not None else {}
            final = running.final_change(JobStatus.CANCELLED, now, completed_at=now, **said)
        elif outcome is AttemptOutcome.RELEASED:
            final = running.final_change(JobStatus.QUEUED, now)
        else:
            failures = await counted_failures(
                self.repository,
                running.job,
                extra=attempt,
                uncharged_abandons=self.settings.uncharged_abandons,
            )
            permanent = isinstance(info.error, (PermanentError, ValidationError))
            if permanent or failures >= running.job.max_attempts:
                final = running.final_change(JobStatus.FAILED, now, completed_at=now, error=error)
            else:
                policy = definition.retry or self.settings.retry
                retry_in = policy.delay(failures, self.rng)
                status = JobStatus.SCHEDULED if retry_in > MAX_DELAY else JobStatus.QUEUED
                final = running.final_change(status, now, run_at=now + retry_in, error=error)
        try:
            stored = await running.write(final, attempt=attempt)
        except (PayloadTooLarge, PayloadTooDeep, InvalidJobRecord) as exc:  # a result refused
            info.outcome, info.error = AttemptOutcome.FAILED, exc
            error = JobError.from_exception(exc)
            attempt = attempt.model_copy(update={"outcome": info.outcome, "error": error})
            final = running.final_change(JobStatus.FAILED, now, completed_at=now, error=error)
            stored = await running.write(final, attempt=attempt)
        if stored is None:
            return Handled(Disposition.ACK, running.job, reason="taken over by another worker")
        if span is not None:
            failed = outcome in (AttemptOutcome.FAILED, AttemptOutcome.TIMED_OUT)
            span.ended(stored, error, failed=failed)
        if type_lease is not None:  # not before: the job ran until this write
            await type_lease.give_back()
        await self.limits.leave(stored.id, places)
        handled = await self._settled(stored, outcome, retry_in, send_retries=send_retries)
        if stored.is_terminal:
            await release_unique_key(self.repository, stored)
        await after_attempt(self, stored, runner, info, renew_message)
        return handled

    async def _settled(
        self,
        stored: QueuedJob,
        outcome: AttemptOutcome,
        retry_in: timedelta | None,
        *,
        send_retries: bool,
    ) -> Handled:
        """What becomes of the message of an attempt whose end is stored (a retry message
        is sent here, before any hook runs)."""
        if stored.status is JobStatus.QUEUED and outcome is AttemptOutcome.RELEASED:
            return Handled(Disposition.RETRY_LATER, stored, _ZERO, reason="released on halt")
        if (
            stored.status is JobStatus.QUEUED
            and retry_in is not None
            and not (send_retries and await self.send_again(stored, retry_in))
        ):
            return Handled(Disposition.RETRY_LATER, stored, retry_in, reason="retry")
        return Handled(Disposition.ACK, stored, reason=stored.status.value)

    async def send_again(self, stored: QueuedJob, delay: timedelta) -> bool:
        """Send a new message for the queued ``stored``, visible after ``delay``; whether
        it was sent (if not, the caller's message is reused)."""
        try:
            await self.broker.queue(stored.queue).send(
                encode_message(stored, await self.repository.message_key()), delay=delay
            )
        except QueuedJobsError as exc:
            log.warning("job %s: message not sent again (%s); reusing this one", stored.id, exc)
            return False
        return True

    # --- status changes ----------------------------------------------------------------

    async def _finish_hooks(self, stored: QueuedJob) -> None:
        if stored.is_terminal:
            await release_unique_key(self.repository, stored)
        await self.notify(stored)

    def status_hooks(self, job: QueuedJob) -> list[StatusListener]:
        """The listeners that hear ``job``, and the job type's ``on_status_updated`` if it
        has one of its own."""
        hooks: list[StatusListener] = [
            listener for listener, hears in self._listeners if hears is None or hears(job)
        ]
        if job.job_type in self.registry:
            hook = self.registry.get(job.job_type).make_runner().on_status_updated
            if not is_noop(hook):
                hooks.append(hook)
        return hooks

    async def notify(self, job: QueuedJob) -> None:
        """Tell the listeners and the job type's runner of a stored change; they can never
        undo it, and each gets ``ExecutionSettings.hook_timeout`` at most."""
        for hook in self.status_hooks(job):
            await call_hook(hook, job, seconds=self.settings.hook_seconds)


def _renewals(
    limits: LimitKeeper,
    job_id: str,
    places: Sequence[JobGate],
    type_lease: already_running.TypeLease | None,
) -> Callable[[], Awaitable[None]] | None:
    """What the heartbeat renews beside the job's lease: its type's lease, its places."""
    if not places:
        return None if type_lease is None else type_lease.renew

    async def renew() -> None:
        if type_lease is not None:
            await type_lease.renew()
        await limits.renew(job_id, places)

    return renew
