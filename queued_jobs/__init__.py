"""queued-jobs: background jobs on Azure Functions queue triggers, tracked end to end."""

from ._azure.connection import StorageConnection
from .app import AzureStorage, JobApp, MemoryStorage, SqliteStorage, Storage
from .client import JobClient, JobSpec
from .clock import Clock, ManualClock
from .context import JobContext, StopReason
from .dead_letters import DeadLetter, DeadLetters, SideQueue
from .errors import (
    AuthenticationUnavailable,
    ConcurrencyConflict,
    ConfigurationError,
    CorruptJobRecord,
    CorruptScheduleRecord,
    CorruptSequenceRecord,
    DuplicateJob,
    DuplicateSchedule,
    DuplicateSequence,
    EnqueueFailed,
    InvalidInput,
    InvalidJobRecord,
    InvalidSequence,
    InvalidTransition,
    JobAlreadyExists,
    JobAlreadyRunning,
    JobCancelled,
    JobNotFound,
    JobTimedOut,
    LimitNotFound,
    NotAuthenticated,
    PayloadTooDeep,
    PayloadTooLarge,
    PermanentError,
    PermissionDenied,
    QueuedJobsError,
    QueueMessageNotFound,
    ScheduleNotFound,
    SequenceNotFound,
    SlotAlreadyFired,
    StorageError,
    StorageUnavailable,
    UnknownJobType,
)
from .execution.settings import ExecutionSettings
from .fairness import OwnerShare
from .feed import FeedConsumer
from .limits.client import LimitClient
from .limits.sync_client import SyncLimitClient
from .limits.views import GateView, HolderView, LimitView
from .models import (
    Attempt,
    AttemptOutcome,
    JobChange,
    JobError,
    JobOutput,
    JobStatus,
    OutputRead,
    Priority,
    Progress,
    QueuedJob,
    UniqueScope,
)
from .queue_names import QueueNames
from .queues import JobQueue, QueueBroker, QueueMessage
from .repositories import JobQuery, JobRepository, Page
from .retry import RetryPolicy
from .runner import AlreadyRunning, JobDefinition, JobRegistry, JobRunner
from .schedules.client import ScheduleClient, SlotPreview
from .schedules.sync_client import SyncScheduleClient
from .sequences import ExitRule, Outcome, Sequence, SequenceStatus, Step, StepJob
from .sequences.client import SequenceClient
from .sequences.sweep import SequenceSweeper, SequenceSweepReport
from .sequences.sync_client import SyncSequenceClient
from .sync_client import SyncJobClient
from .tracker import JobTracker, SyncJobTracker
from .waiting import Backoff
from .worker import Worker, WorkerSettings

__version__ = "0.1.0.dev0"

__all__ = [
    "AlreadyRunning",
    "Attempt",
    "AttemptOutcome",
    "AuthenticationUnavailable",
    "AzureStorage",
    "Backoff",
    "Clock",
    "ConcurrencyConflict",
    "ConfigurationError",
    "CorruptJobRecord",
    "CorruptScheduleRecord",
    "CorruptSequenceRecord",
    "DeadLetter",
    "DeadLetters",
    "DuplicateJob",
    "DuplicateSchedule",
    "DuplicateSequence",
    "EnqueueFailed",
    "ExecutionSettings",
    "ExitRule",
    "FeedConsumer",
    "GateView",
    "HolderView",
    "InvalidInput",
    "InvalidJobRecord",
    "InvalidSequence",
    "InvalidTransition",
    "JobAlreadyExists",
    "JobAlreadyRunning",
    "JobApp",
    "JobCancelled",
    "JobChange",
    "JobClient",
    "JobContext",
    "JobDefinition",
    "JobError",
    "JobNotFound",
    "JobOutput",
    "JobQuery",
    "JobQueue",
    "JobRegistry",
    "JobRepository",
    "JobRunner",
    "JobSpec",
    "JobStatus",
    "JobTimedOut",
    "JobTracker",
    "LimitClient",
    "LimitNotFound",
    "LimitView",
    "ManualClock",
    "MemoryStorage",
    "NotAuthenticated",
    "Outcome",
    "OutputRead",
    "OwnerShare",
    "Page",
    "PayloadTooDeep",
    "PayloadTooLarge",
    "PermanentError",
    "PermissionDenied",
    "Priority",
    "Progress",
    "QueueBroker",
    "QueueMessage",
    "QueueMessageNotFound",
    "QueueNames",
    "QueuedJob",
    "QueuedJobsError",
    "RetryPolicy",
    "ScheduleClient",
    "ScheduleNotFound",
    "Sequence",
    "SequenceClient",
    "SequenceNotFound",
    "SequenceStatus",
    "SequenceSweepReport",
    "SequenceSweeper",
    "SideQueue",
    "SlotAlreadyFired",
    "SlotPreview",
    "SqliteStorage",
    "Step",
    "StepJob",
    "StopReason",
    "Storage",
    "StorageConnection",
    "StorageError",
    "StorageUnavailable",
    "SyncJobClient",
    "SyncJobTracker",
    "SyncLimitClient",
    "SyncScheduleClient",
    "SyncSequenceClient",
    "UniqueScope",
    "UnknownJobType",
    "Worker",
    "WorkerSettings",
    "__version__",
]
