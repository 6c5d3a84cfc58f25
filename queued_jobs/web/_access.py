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

from collections.abc import Callable
from typing import Protocol, TypeVar

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


class _Owned(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def owner(self) -> str: ...


R = TypeVar("R", bound=_Owned)


def _may_see(principal: Principal, record: R, not_found: Callable[[str], Exception]) -> R:
    """``record`` if ``principal`` may see it; for anyone else it does not exist."""
    if not principal.sees_all and record.owner != principal.id:
        raise not_found(record.id)
    return record


def _may_change(
    principal: Principal, record: R, kind: str, not_found: Callable[[str], Exception]
) -> R:
    """``record`` if ``principal`` may change it: their own, or anyone's for operators."""
    _may_see(principal, record, not_found)
    if record.owner != principal.id and not principal.acts_on_all:
        raise PermissionDenied(
            f"changing another owner's {kind} {record.id} needs the operator role"
        )
    return record


def check_may_see(principal: Principal, job: QueuedJob) -> QueuedJob:
    return _may_see(principal, job, JobNotFound)


def check_may_change(principal: Principal, job: QueuedJob) -> QueuedJob:
    return _may_change(principal, job, "job", JobNotFound)


def check_may_see_schedule(principal: Principal, schedule: Schedule) -> Schedule:
    return _may_see(principal, schedule, ScheduleNotFound)


def check_may_change_schedule(principal: Principal, schedule: Schedule) -> Schedule:
    return _may_change(principal, schedule, "schedule", ScheduleNotFound)


def check_may_see_sequence(principal: Principal, sequence: Sequence) -> Sequence:
    return _may_see(principal, sequence, SequenceNotFound)


def check_may_change_sequence(principal: Principal, sequence: Sequence) -> Sequence:
    return _may_change(principal, sequence, "sequence", SequenceNotFound)


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
