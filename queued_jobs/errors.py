"""Every error queued-jobs raises on purpose.

One root, one name per condition. Adapters translate storage errors into these, so
callers never import ``azure.core`` or ``sqlite3`` to handle them::

    QueuedJobsError
    ├── ConfigurationError            settings that cannot work
    ├── InvalidInput (ValueError)     bad input, refused before anything is stored
    │   ├── InvalidKey                a key the store cannot hold (characters, length)
    │   ├── PayloadTooLarge           request/result/custom data over a limit
    │   ├── PayloadTooDeep            request/result/custom data nested too deep
    │   ├── InvalidJobRecord          a record that would not read back: not written
    │   ├── MessageTooLarge           a queue message over the 64 KiB encoded limit
    │   ├── InvalidDelay              a delay/visibility/TTL outside what the queue allows
    │   ├── UnknownJobType            no runner registered under that job type
    │   ├── InvalidFileName           a stored file name the store cannot hold
    │   ├── InvalidDownloadLink       a download link that is expired or not ours
    │   ├── InvalidSequence           a sequence definition that cannot run (steps, actions)
    │   ├── InvalidRule               a schedule rule text that cannot be read
    │   │   └── RuleNeverFires        a schedule rule that has no slot at all
    │   └── UnknownTimeZone           a time zone name that is not an IANA zone
    ├── InvalidTransition             a status change the transition table forbids
    ├── JobNotFound                   no job with that id
    ├── StoredFileNotFound            no stored file with that name
    ├── StoredFileExists              a stored file that must not be replaced is there
    ├── QueueMessageNotFound          no message with that id on a queue
    ├── JobAlreadyExists              a job with that id is already stored
    ├── DuplicateJob                  a unique key held by another job
    ├── ScheduleNotFound              no schedule with that id
    ├── DuplicateSchedule             a schedule with that id, or that owner's name, is stored
    ├── SlotAlreadyFired              that slot of the schedule fired already (its marker)
    ├── SequenceNotFound              no sequence with that id
    ├── DuplicateSequence             a sequence with that id is stored already
    ├── LimitNotFound                 no limit of that name (the app declares none, none stored)
    ├── ConcurrencyConflict           the record changed since it was read (ETag/version)
    ├── LeaseLost                     a queue message lease that is no longer ours
    ├── StorageError                  the store failed in a way the caller can't fix
    │   ├── StorageUnavailable        could not reach the store (retry later)
    │   ├── CorruptJobRecord          a stored job row that cannot be read back
    │   ├── CorruptScheduleRecord     a stored schedule row that cannot be read back
    │   └── CorruptSequenceRecord     a stored sequence row that cannot be read back
    ├── EnqueueFailed                 the job was stored but its message could not be sent
    ├── NotAuthenticated              a web request without credentials, or with bad ones
    │   └── AuthenticationUnavailable the credentials could not be checked now (retry later)
    ├── PermissionDenied              a caller whose roles do not allow the action
    ├── PermanentError                raised by a job: fail now, do not retry
    │   ├── JobAlreadyRunning         a job that did not start: one of its type was running
    │   └── CommandFailedPermanently  a program ended with an exit its command says is final
    ├── CommandFailed                 a program a command job ran ended with a failing exit
    │   └── CommandFailedPermanently  (also a PermanentError)
    ├── JobCancelled                  raised in a job whose cancellation was requested
    └── JobTimedOut                   a job ran past its max run time
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import QueuedJob
    from .schedules.model import SlotMarker

__all__ = [
    "AuthenticationUnavailable",
    "CommandFailed",
    "CommandFailedPermanently",
    "ConcurrencyConflict",
    "ConfigurationError",
    "CorruptJobRecord",
    "CorruptScheduleRecord",
    "CorruptSequenceRecord",
    "DuplicateJob",
    "DuplicateSchedule",
    "DuplicateSequence",
    "EnqueueFailed",
    "InvalidDelay",
    "InvalidDownloadLink",
    "InvalidFileName",
    "InvalidInput",
    "InvalidJobRecord",
    "InvalidKey",
    "InvalidRule",
    "InvalidSequence",
    "InvalidTransition",
    "JobAlreadyExists",
    "JobAlreadyRunning",
    "JobCancelled",
    "JobNotFound",
    "JobTimedOut",
    "LeaseLost",
    "LimitNotFound",
    "MessageTooLarge",
    "NotAuthenticated",
    "PayloadTooDeep",
    "PayloadTooLarge",
    "PermanentError",
    "PermissionDenied",
    "QueueMessageNotFound",
    "QueuedJobsError",
    "RuleNeverFires",
    "ScheduleNotFound",
    "SequenceNotFound",
    "SlotAlreadyFired",
    "StorageError",
    "StorageUnavailable",
    "StoredFileExists",
    "StoredFileNotFound",
    "UnknownJobType",
    "UnknownTimeZone",
]


class QueuedJobsError(Exception):
    """Root of every error raised by queued-jobs."""


class ConfigurationError(QueuedJobsError):
    """Settings or connection details that cannot work."""


class InvalidInput(QueuedJobsError, ValueError):
    """Input refused before anything was stored or sent."""


class InvalidKey(InvalidInput):
    """A value used as a storage key has characters or a length the store cannot hold."""


class PayloadTooLarge(InvalidInput):
    """A request, result or custom-data payload is larger than the configured maximum."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        self.what = what
        self.size = size
        self.limit = limit
        super().__init__(
            f"{what} is {size:,} bytes serialized; the limit is {limit:,} bytes. "
            "Store large inputs elsewhere (a blob, a file) and pass a reference instead."
        )


class PayloadTooDeep(InvalidInput):
    """A request, result or custom-data payload is nested deeper than the stores read back."""

    def __init__(self, what: str, limit: int) -> None:
        self.what = what
        self.limit = limit
        super().__init__(
            f"{what} is nested more than {limit} levels deep (lists and objects inside each "
            f"other); at most {limit} levels can be stored. Flatten it."
        )


class InvalidJobRecord(InvalidInput):
    """A job record (or attempt) that would not pass validation when read back, so it is
    not written: a field set outside its limits by a copy that skipped validation."""

    def __init__(self, job_id: str, reason: str) -> None:
        self.job_id = job_id
        self.reason = reason
        super().__init__(f"job {job_id} was not stored: its record would not read back: {reason}")


class MessageTooLarge(InvalidInput):
    """A queue message body is over the 64 KiB limit once base64-encoded."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"queue message body is {size:,} bytes; at most {limit:,} bytes fit in a queue "
            "message once base64-encoded (64 KiB)"
        )


class InvalidDelay(InvalidInput):
    """A delay, visibility timeout or time-to-live the queue does not allow."""


class InvalidTransition(QueuedJobsError):
    """A job status change that the transition table forbids."""

    def __init__(self, job_id: str, current: str, target: str) -> None:
        self.job_id = job_id
        self.current = current
        self.target = target
        super().__init__(f"job {job_id}: cannot go from {current} to {target}")


class JobNotFound(QueuedJobsError):
    """No job with that id is stored."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"no job with id {job_id!r}")


class QueueMessageNotFound(QueuedJobsError):
    """No visible message with that id on that queue (or, on Azure, not among the first
    10,000 of it)."""

    def __init__(self, queue: str, message_id: str, *, also: Sequence[str] = ()) -> None:
        """``also``: other queues that were searched too."""
        self.queue = queue
        self.message_id = message_id
        searched = [*also, queue]
        where = (
            f"queue {queue!r}"
            if len(searched) == 1
            else "queues " + ", ".join(repr(name) for name in searched)
        )
        super().__init__(f"no message with id {message_id!r} on {where}")


class JobAlreadyExists(QueuedJobsError):
    """A job with that id is already stored."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"a job with id {job_id!r} is already stored")


class DuplicateJob(QueuedJobsError):
    """The unique key is held by another job.

    ``existing_job_id`` names the holder and, when the client raised it, ``existing_job`` is
    that job's record, but only when the holder is a job of the same owner. A global key held
    by another owner's job (or by a job not stored yet) is refused with neither: one owner
    never learns anything of another owner's jobs, not even their ids.
    """

    def __init__(
        self,
        unique_key: str,
        existing_job_id: str | None,
        existing_job: QueuedJob | None = None,
    ) -> None:
        self.unique_key = unique_key
        self.existing_job_id = existing_job_id
        self.existing_job = existing_job
        if existing_job_id is None:
            message = (
                f"unique key {unique_key!r} is reserved across owners and held by a job you "
                "cannot see (another owner's, or one still being stored); it is free again "
                "once that job finishes"
            )
        else:
            message = f"unique key {unique_key!r} is held by job {existing_job_id}"
        super().__init__(message)


class ConcurrencyConflict(QueuedJobsError):
    """The record (a job, by default) was changed by someone else since it was read;
    re-read it and decide again. ``job_id`` names the record, ``kind`` says what it is."""

    def __init__(self, job_id: str, *, kind: str = "job") -> None:
        self.job_id = job_id
        self.kind = kind
        super().__init__(f"{kind} {job_id} was changed by someone else since it was read")


class ScheduleNotFound(QueuedJobsError):
    """No schedule with that id is stored."""

    def __init__(self, schedule_id: str) -> None:
        self.schedule_id = schedule_id
        super().__init__(
            f"no schedule with id {schedule_id!r:.80} (never stored, or deleted); list the "
            "schedules to find the one you mean"
        )


class DuplicateSchedule(QueuedJobsError):
    """A schedule with that id is stored already, or its owner has one of that name.

    ``existing_schedule_id`` names the schedule that holds the name (``None`` when it is
    the id that is taken).
    """

    def __init__(
        self, schedule_id: str, *, name: str | None = None, existing_schedule_id: str | None = None
    ) -> None:
        self.schedule_id = schedule_id
        self.name = name
        self.existing_schedule_id = existing_schedule_id
        if name is None:
            message = (
                f"a schedule with id {schedule_id} is already stored; make a new one with "
                "Schedule.new, or update that one"
            )
        else:
            holder = f" (schedule {existing_schedule_id})" if existing_schedule_id else ""
            message = (
                f"its owner already has a schedule named {name!r:.200}{holder}; update that "
                "one, or choose another name"
            )
        super().__init__(message)


class SlotAlreadyFired(QueuedJobsError):
    """That slot of the schedule was fired already: ``existing`` is its marker, naming
    the job started for it (``job_id``). Start no other job for the slot."""

    def __init__(self, existing: SlotMarker) -> None:
        self.existing = existing
        super().__init__(
            f"schedule {existing.schedule_id} fired its slot {existing.slot.isoformat()} "
            f"already: job {existing.job_id}, by {existing.fired_by!r:.80} at "
            f"{existing.fired_at.isoformat()}; start no other job for that slot"
        )

    @property
    def schedule_id(self) -> str:
        return self.existing.schedule_id

    @property
    def job_id(self) -> str:
        """The job the slot started."""
        return self.existing.job_id


class SequenceNotFound(QueuedJobsError):
    """No sequence with that id is stored."""

    def __init__(self, sequence_id: str) -> None:
        self.sequence_id = sequence_id
        super().__init__(
            f"no sequence with id {sequence_id!r:.80} (never stored, or deleted); list the "
            "sequences to find the one you mean"
        )


class DuplicateSequence(QueuedJobsError):
    """A sequence with that id is stored already."""

    def __init__(self, sequence_id: str) -> None:
        self.sequence_id = sequence_id
        super().__init__(
            f"a sequence with id {sequence_id} is already stored; start a new one with "
            "Sequence.new, or update that one"
        )


class LimitNotFound(QueuedJobsError):
    """No limit of that name: no job type of the app passes one, and nothing of one is
    stored (no gate, no operator's setting)."""

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        self.name = name
        names = ", ".join(known) or "none"
        super().__init__(
            f"no limit named {name!r:.80} (the app's limits: {names:.400}); list the limits "
            "to find the one you mean"
        )


class LeaseLost(QueuedJobsError):
    """The message lease (pop receipt) is no longer ours: it expired or the message is gone."""


class StorageError(QueuedJobsError):
    """The store failed; the message carries the store's own explanation."""


class StorageUnavailable(StorageError):
    """The store could not be reached; nothing was changed as far as we know. Retry later."""


class CorruptJobRecord(StorageError):
    """A stored job row (or one of its attempts) that cannot be turned back into a record:
    bad JSON, a document that fails validation, a missing column, a payload blob gone.
    ``job_id`` names the job (known from the row's key), ``reason`` says what is wrong.
    Listings skip such rows and name them (``Page.skipped``); ``delete`` and ``purge``
    still remove them."""

    def __init__(self, job_id: str, reason: str) -> None:
        self.job_id = job_id
        self.reason = reason
        super().__init__(f"the stored record of job {job_id} cannot be read: {reason}")


class CorruptScheduleRecord(StorageError):
    """A stored schedule row (or slot marker) that cannot be turned back into a record:
    bad JSON, a document that fails validation, a missing property. ``schedule_id`` names
    the schedule, ``reason`` says what is wrong. Listings skip such rows (a page names
    them in ``Page.skipped``); ``delete_schedule`` still removes them."""

    def __init__(self, schedule_id: str, reason: str) -> None:
        self.schedule_id = schedule_id
        self.reason = reason
        super().__init__(f"the stored record of schedule {schedule_id} cannot be read: {reason}")


class CorruptSequenceRecord(StorageError):
    """A stored sequence row that cannot be turned back into a record: bad JSON, a
    document that fails validation, a missing property. ``sequence_id`` names the
    sequence, ``reason`` says what is wrong. Listings skip such rows (a page names them in
    ``Page.skipped``); ``delete_sequence`` still removes them."""

    def __init__(self, sequence_id: str, reason: str) -> None:
        self.sequence_id = sequence_id
        self.reason = reason
        super().__init__(f"the stored record of sequence {sequence_id} cannot be read: {reason}")


class UnknownJobType(InvalidInput):
    """No runner is registered under that job type in this registry."""

    def __init__(self, job_type: str, known: Any = ()) -> None:
        self.job_type = job_type
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"no job type {job_type!r} is registered (registered: {names})")


class EnqueueFailed(QueuedJobsError):
    """The job was stored, but its queue message could not be sent; the job is marked
    failed with the reason, and nothing will run it."""

    def __init__(self, job_id: str, reason: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} was stored but could not be queued: {reason}")


class PermanentError(QueuedJobsError):
    """Raise it from a job to fail at once, without retrying."""


class CommandFailed(QueuedJobsError):
    """A program run as a job (``queued_jobs.commands``) ended with an exit its command
    does not count as success: an exit code, or a signal (``exit_code`` is then ``None``).
    Retried like any failure unless its command says the exit is final."""

    def __init__(self, message: str, *, exit_code: int | None, signal: int | None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.signal = signal


class CommandFailedPermanently(CommandFailed, PermanentError):
    """A program ended with an exit its command maps to permanent failure: no retry."""


class JobAlreadyRunning(PermanentError):
    """A job whose type runs one job at a time (``already_running=AlreadyRunning.REFUSE``)
    was not started: another job of its type was running. ``running_job_id`` names that
    job. The job fails at once, without retrying; queue it again once that one ended."""

    def __init__(self, job_type: str, running_job_id: str) -> None:
        self.job_type = job_type
        self.running_job_id = running_job_id
        super().__init__(
            f"job {running_job_id} of type {job_type!r} is running, and a job of that type "
            "does not start beside another (already_running=refuse): this one failed "
            "without starting"
        )


class JobCancelled(QueuedJobsError):
    """Raised inside a job (by ``context.raise_if_cancelled()``) once cancellation was asked."""


class JobTimedOut(QueuedJobsError):
    """The job ran past its max run time."""


class InvalidFileName(InvalidInput):
    """A stored file name that is empty, too long, absolute, or has ``..``, ``\\`` or
    control characters."""


class InvalidDownloadLink(InvalidInput):
    """A download link that has expired, was altered, or was signed with another key."""


class InvalidRule(InvalidInput):
    """A schedule rule text (``cron:``, ``every:``, ``rrule:``) that cannot be read; the
    message says which part is wrong and what is accepted."""


class RuleNeverFires(InvalidRule):
    """A schedule rule that is well formed but has no slot at all (``cron:0 0 30 2 *``,
    February 30th), or none within the look-ahead of its start."""


class InvalidSequence(InvalidInput):
    """A sequence definition that cannot run: no steps or too many, a step without jobs,
    an action that is not ``next``, ``goto:<step>`` or ``end:<status>``, a ``goto`` to a
    step that does not exist, results passed on where there are none; the message says
    which step and what is accepted."""


class UnknownTimeZone(InvalidInput):
    """A time zone name that is not an IANA zone known here (``Europe/Berlin`` is one)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"unknown time zone {name!r}: give an IANA zone name such as 'Europe/Berlin', "
            "'America/New_York' or 'UTC'"
        )


class StoredFileNotFound(QueuedJobsError):
    """No stored file with that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no stored file named {name!r}")


class StoredFileExists(QueuedJobsError):
    """A file was to be written only if no file of that name was stored, and one is."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"a stored file named {name!r} already exists and was not replaced; "
            "write under another name, or delete that file first"
        )


class NotAuthenticated(QueuedJobsError):
    """A web request that carries no credentials any configured scheme accepts, or
    credentials that do not check out (a bad signature, an expired token, an unknown API
    key). The message says which, never what a valid credential would look like."""


class AuthenticationUnavailable(NotAuthenticated):
    """Credentials that could not be checked now: the issuer's signing keys could not be
    fetched (unreachable, too slow, not a key set). Nothing is wrong with the request as
    far as we know; answer 503 and let the caller retry later. A ``NotAuthenticated``, so
    code that handles only that still refuses the request."""


class PermissionDenied(QueuedJobsError):
    """A caller whose roles do not allow the action (a ``reader`` changing a job, an end
    user asking for every owner's jobs). Never raised for another owner's job: that one is
    ``JobNotFound`` to them."""
