"""Job statuses and the one table of legal transitions between them."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ..errors import InvalidTransition

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "AttemptOutcome",
    "JobStatus",
    "can_transition",
    "check_transition",
]


class JobStatus(StrEnum):
    """Where a job is in its life."""

    SCHEDULED = (
        "scheduled"  # waiting for a run-at beyond the queue's 7-day delay; the sweep releases it
    )
    QUEUED = "queued"  # stored with a message on its queue (possibly delayed), waiting for a worker
    RUNNING = "running"  # claimed by a worker under a lease
    SUCCEEDED = "succeeded"  # finished; ``result`` holds what it returned
    FAILED = "failed"  # gave up: permanent error, attempts exhausted, poison or enqueue failure
    CANCELLED = "cancelled"  # stopped on request before or during a run

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


class AttemptOutcome(StrEnum):
    """How one attempt at running a job ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # raised an error; a retry may follow
    TIMED_OUT = "timed_out"  # ran past the job's max run time
    CANCELLED = "cancelled"  # stopped on request
    ABANDONED = "abandoned"  # its lease expired (worker died); another worker took the job over
    RELEASED = "released"  # handed back unfinished on graceful shutdown


TERMINAL_STATUSES: Final = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE_STATUSES: Final = frozenset(JobStatus) - TERMINAL_STATUSES

_S = JobStatus
#: The legal transitions. A status missing from a value set cannot be reached from the key.
#: Staying in the same non-terminal status is allowed (re-send, progress, lease takeover).
#: Only an operator's retry revives a terminal job, and never a successful one.
TRANSITIONS: Final = MappingProxyType(
    {
        _S.SCHEDULED: frozenset({_S.SCHEDULED, _S.QUEUED, _S.CANCELLED, _S.FAILED}),
        _S.QUEUED: frozenset({_S.QUEUED, _S.RUNNING, _S.CANCELLED, _S.FAILED, _S.SCHEDULED}),
        _S.RUNNING: frozenset(
            {_S.RUNNING, _S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.QUEUED, _S.SCHEDULED}
        ),
        _S.SUCCEEDED: frozenset[JobStatus](),
        _S.FAILED: frozenset({_S.QUEUED}),
        _S.CANCELLED: frozenset({_S.QUEUED}),
    }
)


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    """Whether the transition table allows ``current`` → ``target``."""
    return target in TRANSITIONS[current]


def check_transition(job_id: str, current: JobStatus, target: JobStatus) -> None:
    """Raise :class:`InvalidTransition` unless ``current`` → ``target`` is allowed."""
    if not can_transition(current, target):
        raise InvalidTransition(job_id, current.value, target.value)
