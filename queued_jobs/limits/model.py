"""The stored values of limits: a limit's gate (who holds it, its recent starts), a job
parked at a gate, and the settings an operator changes at run time.

A *gate* is one limit for one key: "exports" for customer 42, "payments" for everyone
(key ``""``). It is one small versioned document, changed only by conditional writes, so
that however many hosts take and give back places at once, it never lets more in than
the limit allows. ``docs/limits.md`` tells the whole story.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from ..models._time import UtcDatetime
from ..models.fields import JobId
from ..models.job import QueueName, ShortText
from ..models.waiting import GateKey, LimitName

__all__ = [
    "MAX_CAPACITY",
    "MAX_RATE",
    "Gate",
    "Holding",
    "LimitSettings",
    "Waiter",
]

#: The most jobs a concurrency limit lets run at once (and the most holders of a gate).
MAX_CAPACITY: Final = 1000
#: The most starts a rate limit allows per window (and the most a gate remembers).
MAX_RATE: Final = 1000


class Holding(BaseModel):
    """One job's place in a gate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: When it took the place.
    since: UtcDatetime
    #: It holds the place until then unless renewed (with its job's lease): a holder
    #: that dies gives its place back by no longer renewing it.
    until: UtcDatetime
    #: ``False``: a parked job woken to take the place, not started yet (it has until
    #: ``until`` to come, else the place goes to whoever asks next).
    started: bool = True

    def live(self, now: datetime) -> bool:
        return self.until > now


class Gate(BaseModel):
    """One limit for one key: its holders (a concurrency limit) and recent starts (a rate
    limit), under the store's version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: LimitName
    key: GateKey = ""
    #: Job id → its place.
    holders: dict[JobId, Holding] = Field(default_factory=dict, max_length=MAX_CAPACITY)
    #: When the latest jobs started (a rate limit), oldest first.
    starts: tuple[UtcDatetime, ...] = Field(default=(), max_length=MAX_RATE)
    #: A rate limit's line: when the next job to wait may come back (``None``: no line).
    next_turn: UtcDatetime | None = None
    #: Jobs are parked here (their rows are in the store beside the gate).
    has_waiters: bool = False
    updated_at: UtcDatetime
    version: str | None = None

    def live_holders(self, now: datetime) -> dict[str, Holding]:
        """The holders whose places have not run out by ``now``."""
        return {job_id: held for job_id, held in self.holders.items() if held.live(now)}

    def is_idle(self, now: datetime) -> bool:
        """Nothing to keep: no live holder, nobody parked, no start remembered (the rules
        drop those out of their window first), no line."""
        return (
            not self.has_waiters
            and not self.live_holders(now)
            and not self.starts
            and (self.next_turn is None or self.next_turn <= now)
        )


class Waiter(BaseModel):
    """A job parked at a gate: woken (sent a message) when a place frees, oldest job
    first (job ids order jobs by creation time)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: JobId
    #: The queue its message goes to when it is woken.
    queue: QueueName
    since: UtcDatetime


class LimitSettings(BaseModel):
    """What an operator set for a limit at run time, over the value its code gives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: LimitName
    #: A concurrency limit's capacity (0: no job starts; the limit is paused).
    capacity: Annotated[int, Field(ge=0, le=MAX_CAPACITY)] | None = None
    #: A rate limit's starts per window (0: paused).
    rate: Annotated[int, Field(ge=0, le=MAX_RATE)] | None = None
    updated_at: UtcDatetime
    #: Who set it (a principal's name), for the record.
    updated_by: ShortText | None = None
    version: str | None = None
