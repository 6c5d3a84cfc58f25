"""Who may see and change which job, schedule or sequence: the one place the API's access rules
live.

An end user sees and acts on their own jobs and schedules only: any other does not exist
for them (``JobNotFound``, ``ScheduleNotFound``: a ``404``, the same answer as for an id
nobody has), in every route, listing and stream. Operators see and act on every job and
schedule; readers see every one and change only their own. What is no one owner's (the
dead-letter queues) only readers and operators see, and only operators change.
Sequences follow the same rules (another owner's is ``SequenceNotFound``, a ``404``).
"""

from __future__ import annotations

from ..errors import JobNotFound, PermissionDenied, ScheduleNotFound, SequenceNotFound
from ..models import QueuedJob
from ..schedules.model import Schedule
from ..sequences.model import Sequence
from .auth import Principal

__all__ = [
    "check_may_change",
    "check_may_change_schedule",
    "check_may_change_sequence",
    "check_may_see",
    "check_may_see_schedule",
    "check_may_see_sequence",
    "check_operator",
    "check_sees_all",
    "listing_owner",
]


def check_may_see(principal: Principal, job: QueuedJob) -> QueuedJob:
    if not principal.sees_all and job.owner != principal.id:
        raise JobNotFound(job.id)
    return job


def check_may_change(principal: Principal, job: QueuedJob) -> QueuedJob:
    check_may_see(principal, job)
    if job.owner != principal.id and not principal.acts_on_all:
        raise PermissionDenied(f"changing another owner's job {job.id} needs the operator role")
    return job


def check_may_see_schedule(principal: Principal, schedule: Schedule) -> Schedule:
    if not principal.sees_all and schedule.owner != principal.id:
        raise ScheduleNotFound(schedule.id)
    return schedule


def check_may_change_schedule(principal: Principal, schedule: Schedule) -> Schedule:
    check_may_see_schedule(principal, schedule)
    if schedule.owner != principal.id and not principal.acts_on_all:
        raise PermissionDenied(
            f"changing another owner's schedule {schedule.id} needs the operator role"
        )
    return schedule


def check_may_see_sequence(principal: Principal, sequence: Sequence) -> Sequence:
    if not principal.sees_all and sequence.owner != principal.id:
        raise SequenceNotFound(sequence.id)
    return sequence


def check_may_change_sequence(principal: Principal, sequence: Sequence) -> Sequence:
    check_may_see_sequence(principal, sequence)
    if sequence.owner != principal.id and not principal.acts_on_all:
        raise PermissionDenied(
            f"changing another owner's sequence {sequence.id} needs the operator role"
        )
    return sequence


def check_operator(principal: Principal, action: str) -> None:
    if not principal.acts_on_all:
        raise PermissionDenied(f"{action} needs the operator role")


def check_sees_all(principal: Principal, what: str) -> None:
    """Refuse (``403``) ``what``, which shows more than one owner's jobs, to end users."""
    if not principal.sees_all:
        raise PermissionDenied(f"{what} needs the reader or operator role")


def listing_owner(principal: Principal, asked: str | None) -> str | None:
    """The owner a listing or stream is scoped to: the caller's own, unless they see all
    (then the owner they asked for, or everyone)."""
    if principal.sees_all:
        return asked
    return principal.id
