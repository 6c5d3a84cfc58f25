"""queued-jobs: background jobs on Azure Functions queue triggers, tracked end to end."""

from .clock import Clock, ManualClock
from .errors import (
    ConcurrencyConflict,
    ConfigurationError,
    DuplicateJob,
    InvalidInput,
    InvalidTransition,
    JobAlreadyExists,
    JobNotFound,
    PayloadTooLarge,
    QueuedJobsError,
    StorageError,
    StorageUnavailable,
)
from .models import Attempt, AttemptOutcome, JobError, JobStatus, Priority, Progress, QueuedJob
from .queues import JobQueue, QueueBroker, QueueMessage
from .repositories import JobQuery, JobRepository, Page
from .sync_client import SyncJobClient
from .tracker import JobTracker, SyncJobTracker

__version__ = "0.1.0.dev0"

__all__ = [
    "Attempt",
    "AttemptOutcome",
    "Clock",
    "ConcurrencyConflict",
    "ConfigurationError",
    "DuplicateJob",
    "InvalidInput",
    "InvalidTransition",
    "JobAlreadyExists",
    "JobError",
    "JobNotFound",
    "JobQuery",
    "JobQueue",
    "JobRepository",
    "JobStatus",
    "JobTracker",
    "ManualClock",
    "Page",
    "PayloadTooLarge",
    "Priority",
    "Progress",
    "QueueBroker",
    "QueueMessage",
    "QueuedJob",
    "QueuedJobsError",
    "StorageError",
    "StorageUnavailable",
    "SyncJobClient",
    "SyncJobTracker",
    "__version__",
]
