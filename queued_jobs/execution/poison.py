"""Messages given up on: a poison message fails its job, if this store sent it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from ..errors import ConcurrencyConflict, CorruptJobRecord, InvalidInput, JobNotFound
from ..models import JobError, JobStatus
from ..telemetry import job_fields
from ..telemetry.logs import library_logger
from ..telemetry.names import METRIC_FAILED
from .handled import Disposition, Handled, unworkable
from .messages import UnreadableMessage, decode_message
from .running import NO_LEASE

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["fail_poisoned"]

log = library_logger("queued_jobs.execution")
_TRIES: Final = 5
_EARLY: Final = timedelta(seconds=1)


async def fail_poisoned(pipeline: Pipeline, body: str, reason: str) -> Handled:
    """A message that failed delivery too often: its job fails with ``reason``.

    Only a message this store sent (signed with its key) can fail a job: a body that
    merely names one (anyone may write one into a poison queue) is dead-lettered and
    the job left to its record's course (the sweep and takeovers still watch it)."""
    try:
        message = decode_message(body, await pipeline.repository.message_key())
    except UnreadableMessage as exc:
        return Handled(Disposition.DEAD_LETTER, reason=str(exc))
    if not message.signed:
        log.error("job %s: a poison message not sent by this store; job left as is", message.job_id)
        return Handled(
            Disposition.DEAD_LETTER,
            reason=f"names job {message.job_id} but was not sent by this store: the job "
            "is left as it is",
        )
    with job_fields(message.job_id):
        return await _fail(pipeline, message.job_id, reason)


async def _fail(pipeline: Pipeline, job_id: str, reason: str) -> Handled:
    error = JobError(type="queued_jobs.PoisonMessage", message=reason)
    for _ in range(_TRIES):
        try:
            job = await pipeline.repository.get(job_id)
        except JobNotFound:
            return Handled(Disposition.ACK, reason="job gone")
        except CorruptJobRecord as exc:
            return unworkable(job_id, exc)
        if job.is_terminal:
            return Handled(Disposition.ACK, job, reason="already finished")
        now = pipeline.clock.now()
        failed = job.transition(
            JobStatus.FAILED, now=now, completed_at=now, error=error, **NO_LEASE
        )
        try:
            stored = await pipeline.finish(failed)
        except ConcurrencyConflict:
            continue
        except InvalidInput as exc:
            return unworkable(job_id, exc)
        pipeline.telemetry.metrics.count(METRIC_FAILED, job.job_type, job.queue)
        return Handled(Disposition.ACK, stored, reason=reason)
    return Handled(Disposition.RETRY_LATER, delay=_EARLY, reason="kept changing")
