"""Starting and steering jobs from sync code (a Flask view, a script): :class:`SyncJobClient`.

::

    with SyncJobClient(lambda: app.client()) as client:
        job = client.queue_job("zips.build", {"folder": "2024"}, owner="alice")
        done = client.wait(job.id, timeout=timedelta(minutes=1))
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar, overload

from ._sync import SyncTwin, blocking
from .client import JobClient
from .limits.sync_client import SyncLimitClient
from .models import OutputRead, QueuedJob
from .schedules.client import ScheduleClient
from .schedules.sync_client import SyncScheduleClient
from .sequences.client import SequenceClient
from .sequences.sync_client import SyncSequenceClient
from .waiting import Backoff

__all__ = ["SyncJobClient"]

R = TypeVar("R")


class SyncJobClient(SyncTwin[JobClient]):
    """The sync twin of :class:`JobClient`: same methods, same arguments, blocking.

    ``factory`` builds the :class:`JobClient`; it is called on the twin's own event loop
    thread, so that the client's connections belong to that loop. Close the twin (or use
    ``with``) to close the client and stop the thread. Do not call it from async code
    running on its own loop (a job run inline by this client, say): that raises
    ``RuntimeError``, as it would wait forever for itself.
    """

    def __init__(self, factory: Callable[[], JobClient]) -> None:
        super().__init__(factory, name="queued-jobs-client")

    create_storage = blocking(JobClient.create_storage)
    queue_job = blocking(JobClient.queue_job)
    queue_jobs = blocking(JobClient.queue_jobs)
    get_job = blocking(JobClient.get_job)
    list_attempts = blocking(JobClient.list_attempts)
    list_jobs = blocking(JobClient.list_jobs)
    cancel = blocking(JobClient.cancel)
    retry = blocking(JobClient.retry)
    read_output = blocking(JobClient.read_output)

    @property
    def schedules(self) -> SyncScheduleClient:
        """The client's schedules (:class:`~queued_jobs.schedules.client.ScheduleClient`'s
        verbs, blocking), on this twin's loop and connections."""
        return SyncScheduleClient(self._loop, ScheduleClient(self._target))

    @property
    def limits(self) -> SyncLimitClient:
        """The app's limits (:class:`~queued_jobs.limits.client.LimitClient`'s verbs,
        blocking), on this twin's loop and connections."""
        return SyncLimitClient(self._loop, self._target.limits)

    @property
    def sequences(self) -> SyncSequenceClient:
        """The client's sequences (:class:`~queued_jobs.sequences.client.SequenceClient`'s
        verbs, blocking), on this twin's loop and connections."""
        return SyncSequenceClient(self._loop, SequenceClient(self._target))

    @overload
    def result_of(self, job: QueuedJob) -> Any: ...

    @overload
    def result_of(self, job: QueuedJob, result_type: type[R]) -> R: ...

    def result_of(self, job: QueuedJob, result_type: type[R] | None = None) -> Any:
        """:meth:`JobClient.result_of`: a succeeded job's result as its type (reads nothing)."""
        if result_type is None:
            return self._target.result_of(job)
        return self._target.result_of(job, result_type)

    def wait(
        self,
        job_id: str,
        *,
        timeout: timedelta | None = None,
        poll: timedelta | Backoff | None = None,
    ) -> QueuedJob:
        """Read the job until it is finished; ``TimeoutError`` after ``timeout``. Reads back
        off as :meth:`JobClient.wait`'s do, unless ``poll`` says otherwise."""
        return self._loop.run(_wait(self._target, job_id, timeout, poll))

    def follow_output(
        self, job_id: str, *, after: int = 0, poll: timedelta | Backoff | None = None
    ) -> Iterator[OutputRead]:
        """:meth:`JobClient.follow_output`, as an iterator: each read with new output, then
        the read that finds the job finished. Leaving the loop early stops the reads."""
        reads = self._target.follow_output(job_id, after=after, poll=poll)
        try:
            while True:
                try:
                    yield self._loop.run(_next(reads))
                except StopAsyncIteration:
                    return
        finally:
            if not self._loop.closed:
                self._loop.run(reads.aclose())


async def _next(reads: AsyncIterator[OutputRead]) -> OutputRead:
    return await anext(reads)


async def _wait(
    client: JobClient, job_id: str, limit: timedelta | None, poll: timedelta | Backoff | None
) -> QueuedJob:
    async with asyncio.timeout(None if limit is None else limit.total_seconds()):
        return await client.wait(job_id, poll=poll)
