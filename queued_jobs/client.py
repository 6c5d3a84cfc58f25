"""Starting and steering jobs: :class:`JobClient`.

``queue_job`` stores the job's record, then sends its message. If the send fails the
record says so (failed, ``EnqueueFailed``) and the caller gets the error: no job is left
waiting for a message that will never come.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar, overload

from pydantic import JsonValue, TypeAdapter, ValidationError

from ._building import JobSpec, JobTarget, build_job
from ._listing import job_query
from ._unique import release_unique_key, reserve_unique_key
from .clock import SYSTEM_CLOCK, Clock
from .errors import (
    ConcurrencyConflict,
    EnqueueFailed,
    InvalidInput,
    InvalidTransition,
    JobAlreadyExists,
    JobNotFound,
    QueuedJobsError,
)
from .execution.already_running import WAITING
from .execution.attempts import COUNTED_OUTCOMES
from .execution.messages import encode_message
from .execution.pipeline import Disposition, Pipeline
from .execution.settings import ExecutionSettings
from .fairness.admission import Admission
from .fairness.share import is_overflow
from .limits.client import LimitClient
from .limits.keeper import LimitKeeper
from .models import (
    MAX_ATTEMPTS,
    Attempt,
    JobError,
    JobStatus,
    OutputRead,
    Priority,
    QueuedJob,
    TraceContext,
    UniqueScope,
    check_output_position,
    is_job_id,
    read_output,
)
from .queue_names import QueueNames
from .queues.base import QueueBroker
from .repositories._records import problems
from .repositories.base import DEFAULT_PAGE_SIZE, JobRepository, Page
from .runner import JobRegistry
from .telemetry.logs import library_logger
from .telemetry.names import METRIC_CANCELLED
from .waiting import DEFAULT_BACKOFF, Backoff, Pacer

__all__ = ["JobClient", "JobSpec"]

log = library_logger("queued_jobs.client")
_TRIES = 5
R = TypeVar("R")


class JobClient:
    """Starts, reads, cancels and retries jobs.

    With ``inline=True`` a queued job runs at once in this process (retries included,
    without their delays) and ``queue_job`` returns it finished: for tests and local runs.
    """

    def __init__(
        self,
        repository: JobRepository,
        broker: QueueBroker,
        registry: JobRegistry,
        *,
        queues: QueueNames | None = None,
        clock: Clock = SYSTEM_CLOCK,
        settings: ExecutionSettings | None = None,
        inline: bool = False,
    ) -> None:
        self.repository = repository
        self.broker = broker
        self.registry = registry
        self.queues = queues or QueueNames()
        self.clock = clock
        self.settings = settings or ExecutionSettings()
        #: Where sends are traced and counted (``queued_jobs.telemetry``).
        self.telemetry = self.settings.tracing
        self._inline = (
            Pipeline(
                repository,
                broker,
                registry,
                host=f"{socket.gethostname()}:{os.getpid()}:inline",
                clock=clock,
                # jobs run here at once: they wait in no queue, so no share applies
                settings=replace(self.settings, owner_share=None),
            )
            if inline
            else None
        )
        share = self.settings.owner_share
        #: The owner share's places (``queued_jobs.fairness``), if the settings give one.
        self.admission = (
            Admission(
                LimitKeeper(repository.limits, _no_wake, clock=clock, lease=self.settings.lease),
                share,
                overflow=self.queues.overflow,
            )
            if share is not None and not inline
            else None
        )

    @property
    def limits(self) -> LimitClient:
        """The app's concurrency and rate limits: their gates, and an operator's settings
        (:class:`~queued_jobs.limits.client.LimitClient`), on this client's store."""
        return LimitClient(self, keeper=None if self._inline is None else self._inline.limits)

    async def create_storage(self) -> None:
        """Create the table/schema and every queue the application uses, if missing."""
        await self.repository.create()
        await self.queues.create(self.broker)

    async def close(self) -> None:
        await self.repository.close()
        await self.broker.close()

    async def __aenter__(self) -> JobClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- starting jobs -----------------------------------------------------------------

    def _build(self, spec: JobSpec, trace_context: TraceContext | None = None) -> QueuedJob:
        return build_job(
            spec, self.registry, self.queues, now=self.clock.now(), trace_context=trace_context
        )

    async def queue_job(
        self,
        job: JobTarget,
        request: Any = None,
        *,
        owner: str,
        priority: Priority = Priority.NORMAL,
        delay: timedelta | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
        max_run_time: timedelta | None = None,
        unique_key: str | None = None,
        unique_scope: UniqueScope = UniqueScope.OWNER,
        correlation_id: str | None = None,
        tags: Sequence[str] = (),
        custom_data: dict[str, JsonValue] | None = None,
        job_id: str | None = None,
    ) -> QueuedJob:
        """Store a job and queue it; returns its record (finished, in inline mode).

        ``job`` is a registered job type's name, runner class or function; ``request`` is
        validated against its request type now, not when it runs. A delay or run-at time
        beyond 7 days stores the job ``scheduled``: the sweep queues it when it is due.

        ``unique_key`` refuses the job while another unfinished job holds the key: by default
        (``unique_scope=UniqueScope.OWNER``) only a job of the same owner, with
        ``UniqueScope.GLOBAL`` a job of any owner. Raises ``DuplicateJob`` then (with
        ``existing_job`` if the holder is the same owner's), ``InvalidInput`` for a bad
        request or options, ``EnqueueFailed`` if the message could not be sent.

        ``job_id``: the job's id, made ahead with :func:`~queued_jobs.models.new_job_id`
        for ``owner``, so that a producer that retries after an error stores the job once:
        a second store of the id raises ``JobAlreadyExists``.
        """
        spec = JobSpec(
            job,
            request,
            owner=owner,
            priority=priority,
            delay=delay,
            run_at=run_at,
            max_attempts=max_attempts,
            max_run_time=max_run_time,
            unique_key=unique_key,
            unique_scope=unique_scope,
            correlation_id=correlation_id,
            tags=tags,
            custom_data=custom_data or {},
            job_id=job_id,
        )
        with self.telemetry.sending(self.queues.for_priority(priority)) as sending:
            new = self._build(spec, sending.trace_context)
            await reserve_unique_key(self.repository, new)
            try:
                new = await self._admit_one(new)
                stored = await self.repository.insert(new)
            except BaseException as exc:
                await release_unique_key(self.repository, new)
                if not isinstance(exc, JobAlreadyExists):  # else the place is the stored job's
                    await self._leave([new])
                raise
            if self._inline is None:
                await self._send(stored)
            sending.sent([stored])
        if self._inline is not None:
            return await self._run_inline(stored)
        return stored

    async def queue_jobs(self, specs: Sequence[JobSpec]) -> list[QueuedJob]:
        """Store and queue many jobs: one batch write per store partition, sends in parallel.

        Each job is validated before anything is stored. Unique keys are reserved one by
        one first; a duplicate raises before anything is stored (keys reserved for this
        batch are freed again).
        """
        queues = {self.queues.for_priority(spec.priority) for spec in specs}
        queue = queues.pop() if len(queues) == 1 else None
        with self.telemetry.sending(queue, len(specs)) as sending:
            jobs = [self._build(spec, sending.trace_context) for spec in specs]
            reserved: list[QueuedJob] = []
            admitted: list[QueuedJob] = []
            try:
                for job in jobs:
                    if job.unique_key is not None:
                        await reserve_unique_key(self.repository, job)
                        reserved.append(job)
                admitted = jobs if self.admission is None else await self.admission.admit(jobs)
                stored = await self.repository.insert_many(admitted)
            except BaseException as exc:
                for job in reserved:
                    await release_unique_key(self.repository, job)
                if not isinstance(exc, JobAlreadyExists):  # else the places are the stored
                    await self._leave(admitted)
                raise
            if self._inline is None:
                await asyncio.gather(*(self._send(job) for job in stored))
            sending.sent(stored)
        if self._inline is not None:
            return [await self._run_inline(job) for job in stored]
        return stored

    async def _admit_one(self, job: QueuedJob) -> QueuedJob:
        return job if self.admission is None else await self.admission.admit_one(job)

    async def _leave(self, jobs: Sequence[QueuedJob]) -> None:
        """Give back the places in the ready queues of jobs that will not be claimed."""
        if self.admission is not None:
            for job in jobs:
                await self.admission.leave(job)

    async def _send(self, job: QueuedJob) -> None:
        if job.status is JobStatus.SCHEDULED:
            return
        now = self.clock.now()
        delay = max(job.run_at - now, timedelta(0)) if job.run_at else None
        try:
            await self.broker.queue(job.queue).send(
                encode_message(job, await self.repository.message_key()), delay=delay
            )
        except QueuedJobsError as exc:
            await self._mark_enqueue_failed(job, exc)
            raise EnqueueFailed(job.id, str(exc)) from exc

    async def _mark_enqueue_failed(self, job: QueuedJob, exc: Exception) -> None:
        now = self.clock.now()
        failed = job.transition(
            JobStatus.FAILED,
            now=now,
            completed_at=now,
            error=JobError(type="queued_jobs.EnqueueFailed", message=str(exc)),
        )
        try:
            await self.repository.update(failed)
            await release_unique_key(self.repository, job)
            await self._leave([job])
        except QueuedJobsError:
            log.exception("job %s: could not record that its message was not sent", job.id)

    async def _run_inline(self, job: QueuedJob) -> QueuedJob:
        assert self._inline is not None
        while True:
            handled = await self._inline.handle_job(job.id, send_retries=False, due_now=True)
            if (
                handled.disposition is not Disposition.RETRY_LATER
                or handled.job is None
                or handled.job.status is not JobStatus.QUEUED
            ):
                return await self.repository.get(job.id)
            if handled.reason == WAITING:  # for another job of its type: not a retry's delay
                await asyncio.sleep(handled.delay.total_seconds())

    # --- reading and steering ----------------------------------------------------------

    # Every verb below raises ``JobNotFound`` at once, without reading the store, for a
    # ``job_id`` that is not of the form of a job id: it names no job.

    async def get_job(self, job_id: str) -> QueuedJob:
        _check_job_id(job_id)
        return await self.repository.get(job_id)

    async def list_attempts(self, job_id: str) -> list[Attempt]:
        """A job's attempts, oldest first (each with its outcome, host and error)."""
        _check_job_id(job_id)
        return await self.repository.list_attempts(job_id)

    async def list_jobs(
        self,
        *,
        owner: str | None = None,
        statuses: Iterable[JobStatus | str] = (),
        job_type: str | None = None,
        created_from: datetime | None = None,
        created_before: datetime | None = None,
        tag: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        """One page of jobs, newest first: ``owner``'s (what an end user may see), or every
        owner's when ``owner`` is ``None`` (an operator's view). Filters left out match
        everything; ``created_from`` is inclusive, ``created_before`` exclusive (both with a
        time zone); ``tag``: the jobs tagged with it. Pass the page's ``continuation`` back
        for the next page; ``None`` means there is none.

        Every combination of filters is served by an index on every store (see
        ``docs/design.md``), so a page is full unless it is the last, but for a tag with
        statuses on Azure, where a page reads at most ten pages of the tag's jobs and may
        come back short (even empty) with a continuation.
        ``page.skipped`` names rows that could not be read (``get_job`` says why). Raises
        ``InvalidInput`` for an unknown status, a time without a time zone, an owner or a
        tag no job can have or a ``limit`` outside 1 to 1,000.
        """
        query = job_query(owner, statuses, job_type, created_from, created_before, tag)
        return await self.repository.list_jobs(query, limit=limit, continuation=continuation)

    @overload
    def result_of(self, job: QueuedJob) -> Any: ...

    @overload
    def result_of(self, job: QueuedJob, result_type: type[R]) -> R: ...

    def result_of(self, job: QueuedJob, result_type: type[R] | None = None) -> Any:
        """A succeeded job's result as its runner returned it (its pydantic model, say),
        read back from the JSON stored: as ``result_type`` if given, else as the result
        type its job type declares in the registry.

        Raises ``InvalidInput`` if the job has not succeeded (it has no result), if its job
        type is not registered here and no ``result_type`` is given, or if the stored
        result does not read as that type (the type changed since the job ran).
        """
        if job.status is not JobStatus.SUCCEEDED:
            raise InvalidInput(f"job {job.id} has no result: it is {job.status.value}")
        adapter: TypeAdapter[Any]
        if result_type is not None:
            adapter, name = (
                TypeAdapter(result_type),
                getattr(result_type, "__name__", repr(result_type)),
            )
        else:
            adapter, name = self.registry.get(job.job_type).result, "its job type's result"
        try:
            return adapter.validate_python(job.result)
        except ValidationError as exc:
            found = problems(exc).replace(": Value error, ", ": ")
            raise InvalidInput(
                f"the result of job {job.id} does not read as {name}: {found}"
            ) from exc

    async def wait(
        self,
        job_id: str,
        *,
        poll: timedelta | Backoff | None = None,
        on_change: Callable[[QueuedJob], object] | None = None,
    ) -> QueuedJob:
        """Read the job until it is finished (bound it with ``asyncio.timeout``).

        Reads back off (:data:`~queued_jobs.waiting.DEFAULT_BACKOFF`: 150 ms after the first,
        times 1.5 while the job stays as it was, at most 3 s; again from 150 ms when its status
        changes; held while its progress moves): waiting on a 60-second job costs about 27
        reads. ``poll`` reads every ``poll`` instead, or paces them with another
        :class:`~queued_jobs.waiting.Backoff`. ``on_change`` is called with the first read
        and with each read whose status or progress differs from the one before.

        Where the store hears of writes (SQLite, from any process on the machine; memory), a
        pause ends as soon as the job is written, so its end is seen at once.
        """
        _check_job_id(job_id)
        backoff = _backoff_of(poll)
        pacer = Pacer(backoff)
        pause = self.repository.await_change if backoff.pause is None else backoff.pause
        while True:
            job = await self.repository.get(job_id)
            if pacer.saw(job) and on_change is not None:
                on_change(job)
            if job.is_terminal:
                return job
            await pause(job_id, pacer.seconds)

    async def read_output(self, job_id: str, *, after: int = 0) -> OutputRead:
        """What the job printed after its first ``after`` characters, as far as its record
        holds it (the last :data:`~queued_jobs.models.OUTPUT_TAIL_LIMIT`; ``skipped`` says
        how many it no longer holds), with its status: one read. Pass ``length`` as the
        next ``after`` to read what follows. ``InvalidInput`` for an ``after`` below 0 or
        above :data:`~queued_jobs.models.MAX_OUTPUT_POSITION`."""
        _check_job_id(job_id)
        check_output_position(after)
        job = await self.repository.get(job_id)
        return read_output(job.id, job.status, job.output, after)

    async def follow_output(
        self, job_id: str, *, after: int = 0, poll: timedelta | Backoff | None = None
    ) -> AsyncGenerator[OutputRead, None]:
        """Read the job's output until it is finished: each read that brings text (or
        says some was not kept), then the read that finds it finished (``complete``, with
        what it printed last). Bound it with ``asyncio.timeout``.

        Reads are paced as :meth:`wait`'s are, the pace held while the output grows; where
        the store hears of writes (SQLite, memory) a pause ends when the job is written.
        Each read is one storage request; the job's own writes cost nothing more."""
        _check_job_id(job_id)
        check_output_position(after)
        backoff = _backoff_of(poll)
        pacer = Pacer(backoff, moving=_output_length)
        pause = self.repository.await_change if backoff.pause is None else backoff.pause
        while True:
            job = await self.repository.get(job_id)
            pacer.saw(job)
            read = read_output(job.id, job.status, job.output, after)
            if read.text or read.skipped or read.complete:
                yield read
            if read.complete:
                return
            after = max(after, read.length)
            await pause(job_id, pacer.seconds)

    async def cancel(self, job_id: str) -> QueuedJob:
        """Cancel a job: a waiting one at once, a running one as soon as its attempt sees the
        request (at its next lease renewal). A finished job is returned as it is."""
        _check_job_id(job_id)
        for _ in range(_TRIES):
            job = await self.repository.get(job_id)
            if job.is_terminal or job.cancel_requested:
                return job
            now = self.clock.now()
            if job.status is JobStatus.RUNNING:
                change = job.changed(cancel_requested=True, updated_at=now)
            else:
                change = job.transition(JobStatus.CANCELLED, now=now, completed_at=now)
            try:
                stored = await self.repository.update(change)
            except ConcurrencyConflict:
                continue
            if stored.is_terminal:
                self.telemetry.metrics.count(METRIC_CANCELLED, job.job_type, job.queue)
                await release_unique_key(self.repository, stored)
                if job.status is JobStatus.QUEUED:
                    await self._leave([job])
            return stored
        raise ConcurrencyConflict(job_id)

    async def retry(self, job_id: str, *, attempts: int = 1) -> QueuedJob:
        """Queue a failed or cancelled job again with ``attempts`` more attempts.

        Raises ``InvalidInput`` if that would take the job past :data:`MAX_ATTEMPTS`
        attempts in all (those it used count), ``InvalidTransition`` unless it failed or
        was cancelled.
        """
        _check_job_id(job_id)
        if attempts < 1:
            raise InvalidInput(f"a retry needs at least 1 more attempt, not {attempts}")
        for _ in range(_TRIES):
            job = await self.repository.get(job_id)
            if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
                raise InvalidTransition(job.id, job.status.value, JobStatus.QUEUED.value)
            history = await self.repository.list_attempts(job.id)
            failures = sum(1 for a in history if a.outcome in COUNTED_OUTCOMES)
            _check_more_attempts(job.id, failures, attempts)
            now = self.clock.now()
            queued = job.transition(
                JobStatus.QUEUED,
                now=now,
                max_attempts=failures + attempts,
                completed_at=None,
                run_at=None,
                cancel_requested=False,
                queue=self.queues.for_priority(job.priority)
                if is_overflow(job.queue)
                else job.queue,
            )
            await reserve_unique_key(self.repository, queued)
            queued = await self._admit_one(queued)  # a retried job takes its place anew
            try:
                stored = await self.repository.update(queued)
            except ConcurrencyConflict:
                await self._leave([queued])
                continue
            with self.telemetry.retrying_by_hand(stored) as sending:
                await self._send(stored)
                sending.sent([stored])
            return stored
        raise ConcurrencyConflict(job_id)


async def _no_wake(queue: str, job_id: str) -> None:
    """Nobody is parked at the owner share's gates: nothing to wake."""


def _backoff_of(poll: timedelta | Backoff | None) -> Backoff:
    if poll is None:
        return DEFAULT_BACKOFF
    return poll if isinstance(poll, Backoff) else Backoff.fixed(poll)


def _output_length(job: QueuedJob) -> int:
    return 0 if job.output is None else job.output.length


def _check_job_id(job_id: str) -> None:
    """Raise ``JobNotFound`` for anything that is not a job id (:func:`new_job_id`'s form):
    no store is asked about it, so every store answers alike."""
    if not is_job_id(job_id):
        raise JobNotFound(job_id)


def _check_more_attempts(job_id: str, used: int, more: int) -> None:
    """Refuse a retry that would give a job more than :data:`MAX_ATTEMPTS` in all."""
    if used + more <= MAX_ATTEMPTS:
        return
    room = MAX_ATTEMPTS - used
    can = f"at most {room} more" if room > 0 else "no more"
    raise InvalidInput(
        f"job {job_id} has used {used} of at most {MAX_ATTEMPTS} attempts, so it can be given "
        f"{can}, not {more}"
    )
