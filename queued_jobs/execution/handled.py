"""What handling one message comes to (:class:`Handled`): what the host does with the
message, and the job as the pipeline left it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from ..errors import CorruptJobRecord, InvalidInput
from ..models import QueuedJob
from ..telemetry.logs import library_logger

__all__ = ["Disposition", "Handled", "unworkable"]

log = library_logger("queued_jobs.execution")
_ZERO = timedelta(0)


class Disposition(StrEnum):
    """What the host should do with the message it handed over."""

    ACK = "ack"  # handled (or nothing left to do): delete it
    RETRY_LATER = "retry_later"  # leave it: it should come back after ``delay``
    DEAD_LETTER = "dead_letter"  # unreadable: keep it in the dead-letter queue
    LEAVE = "leave"  # don't touch it: its lease runs out, then it comes back by itself


@dataclass(frozen=True, slots=True)
class Handled:
    disposition: Disposition
    job: QueuedJob | None = None
    delay: timedelta = _ZERO
    reason: str = ""


def unworkable(job_id: str, exc: CorruptJobRecord | InvalidInput) -> Handled:
    """A job whose record cannot be read, or not written back: nothing can run or fail it,
    so its message is kept in the dead-letter queue for an operator."""
    if isinstance(exc, CorruptJobRecord):
        reason = str(exc)
    else:
        reason = f"job {job_id} cannot be claimed: {exc}"
    log.error("%s; its message goes to the dead-letter queue", reason)
    return Handled(Disposition.DEAD_LETTER, reason=reason)
