"""Job records and statuses: pure values, no I/O."""

from .change import ERROR_TEXT_LIMIT, JobChange, change_of, watched
from .job import (
    MAX_ATTEMPTS,
    OWNER_SHARDS,
    Attempt,
    JobError,
    Priority,
    Progress,
    QueuedJob,
    check_owner,
    check_tag,
    is_job_id,
    new_job_id,
    owner_shard,
)
from .nesting import MAX_INT_DIGITS, MAX_NESTING, check_nesting, check_payload
from .status import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    AttemptOutcome,
    JobStatus,
    can_transition,
    check_transition,
)
from .unique import OWNER_KEY_PREFIX, UniqueScope, check_unique_key, unique_reservation

__all__ = [
    "ACTIVE_STATUSES",
    "ERROR_TEXT_LIMIT",
    "MAX_ATTEMPTS",
    "MAX_INT_DIGITS",
    "MAX_NESTING",
    "OWNER_KEY_PREFIX",
    "OWNER_SHARDS",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "Attempt",
    "AttemptOutcome",
    "JobChange",
    "JobError",
    "JobStatus",
    "Priority",
    "Progress",
    "QueuedJob",
    "UniqueScope",
    "can_transition",
    "change_of",
    "check_nesting",
    "check_owner",
    "check_payload",
    "check_tag",
    "check_transition",
    "check_unique_key",
    "is_job_id",
    "new_job_id",
    "owner_shard",
    "unique_reservation",
    "watched",
]
