"""The status listener that advances sequences as their jobs end
(:data:`~queued_jobs.execution.pipeline.StatusListener`): ``JobApp.pipeline()`` adds one
on the pipeline's own connections, so that every host advances sequences."""

from __future__ import annotations

from ..models import QueuedJob
from ..telemetry.logs import library_logger
from .engine import SequenceEngine, sequence_of

__all__ = ["SequenceListener"]

log = library_logger("queued_jobs.sequences")


class SequenceListener:
    """Called with each job the pipeline stored; a step job that reached a final status
    advances its sequence. Never raises: a failure is logged and left to the sweep."""

    def __init__(self, engine: SequenceEngine) -> None:
        self.engine = engine

    def hears(self, job: QueuedJob) -> bool:
        """Only a step job's end: the pipeline calls this listener for no other change."""
        return job.is_terminal and sequence_of(job) is not None

    async def __call__(self, job: QueuedJob) -> None:
        if not self.hears(job):
            return
        try:
            await self.engine.job_ended(job)
        except Exception:
            log.exception(
                "job %s: could not advance its sequence %s; the sweep will",
                job.id,
                sequence_of(job),
            )
