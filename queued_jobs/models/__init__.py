"""Job records and statuses: pure values, no I/O."""

from .job import (
    OWNER_SHARDS,
    Attempt,
    JobError,
    Priority,
    Progress,
    QueuedJob,
    new_job_id,
    owner_shard,
)
from .status import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    AttemptOutcome,
    JobStatus,
    can_transition,
    check_transition,
)

__all__ = [
    "ACTIVE_STATUSES",
    "OWNER_SHARDS",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "Attempt",
    "AttemptOutcome",
    "JobError",
    "JobStatus",
    "Priority",
    "Progress",
    "QueuedJob",
    "can_transition",
    "check_transition",
    "new_job_id",
    "owner_shard",
]
