"""What the change feed records of a job: :class:`JobChange`.

A change is recorded with every write that moves what a watcher sees of a job (its
:func:`watched` state): its insert, a status change, progress, a cancellation request, a
new attempt. Heartbeats and lease renewals record none.

The feed also carries the changes of sequences (``kind="sequence"``), written with each
write of a sequence record: ``job_id`` is then the sequence's id, ``job_type`` is
``"sequence"``, ``status`` the sequence's status, ``progress`` where it is (the step and
its iteration) and ``error`` why it ended. Changes stored before ``kind`` read as jobs'.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .job import JobType, Owner, Progress, QueuedJob, UtcDatetime
from .output import OUTPUT_TAIL_LIMIT
from .status import JobStatus
from .trace import CarriedTrace
from .waiting import JobWaiting

__all__ = [
    "ERROR_TEXT_LIMIT",
    "ChangeKind",
    "JobChange",
    "WatchedState",
    "change_of",
    "watched",
]

#: A change carries at most this many characters of the job's error (type and message).
ERROR_TEXT_LIMIT = 500

WatchedState = tuple[object, ...]
#: What a change is of: a job, or a sequence (``queued_jobs.sequences``).
ChangeKind = Literal["job", "sequence"]


def watched(job: QueuedJob) -> WatchedState:
    """What a watcher sees of ``job``: a write that changes it records a change."""
    progress = job.progress
    state: WatchedState = (
        job.status.value,
        None if progress is None else progress.percent,
        None if progress is None else progress.message,
        job.cancel_requested,
        job.attempts,
    )
    # Each added only when set, so that the digests of records stored before it hold.
    if job.output is not None:
        state = (*state, job.output.length)
    if job.waiting is not None:
        waiting = job.waiting
        state = (*state, "waiting", waiting.limit, waiting.key, waiting.kind.value, waiting.checks)
    return state


class JobChange(BaseModel):
    """One recorded change of a job, in the feed of its partition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The feed partition it is in (:meth:`JobRepository.change_partitions`).
    partition: str
    #: Its place in the partition: unique, and ordered as the partition's changes are
    #: (compare as strings). Opaque otherwise.
    position: str
    job_id: str
    owner: Owner
    job_type: JobType
    status: JobStatus
    progress: Progress | None = None
    attempts: int = Field(ge=0)
    cancel_requested: bool = False
    #: The job's ``updated_at`` as this write left it.
    changed_at: UtcDatetime
    #: The job's tags (a webhook per job hears the jobs tagged for it).
    tags: tuple[str, ...] = ()
    #: ``"<type>: <message>"`` of the job's error, cut to :data:`ERROR_TEXT_LIMIT`.
    error: Annotated[str | None, Field(max_length=ERROR_TEXT_LIMIT)] = None
    #: A job's change, or a sequence's (then ``job_id`` is the sequence's id).
    kind: ChangeKind = "job"
    #: The output the write added (``JobOutput.new_text``): it ends at ``output_length``
    #: characters of the job's output. ``None`` when the write added none.
    output: Annotated[str | None, Field(max_length=OUTPUT_TAIL_LIMIT)] = None
    output_length: int | None = Field(default=None, ge=0)
    #: The limit it waits on, while it waits (a queued job only).
    waiting: JobWaiting | None = None
    #: The job's trace context (what it was queued under): what follows from the change
    #: (a webhook's delivery) is traced in the job's trace.
    trace_context: CarriedTrace = None


def change_of(job: QueuedJob, *, partition: str, position: str) -> JobChange:
    """The change that writing ``job`` records at ``position`` of ``partition``."""
    error = None
    if job.error is not None:
        error = f"{job.error.type}: {job.error.message}"
        if len(error) > ERROR_TEXT_LIMIT:
            error = error[: ERROR_TEXT_LIMIT - 1] + "…"
    return JobChange(
        partition=partition,
        position=position,
        job_id=job.id,
        owner=job.owner,
        job_type=job.job_type,
        status=job.status,
        progress=job.progress,
        attempts=job.attempts,
        cancel_requested=job.cancel_requested,
        changed_at=job.updated_at,
        tags=job.tags,
        error=error,
        waiting=job.waiting if job.status is JobStatus.QUEUED else None,
        trace_context=job.trace_context,
        **_output_of(job),
    )


def _output_of(job: QueuedJob) -> dict[str, object]:
    output = job.output
    if output is None or not output.new:
        return {}
    return {"output": output.new_text, "output_length": output.length}
