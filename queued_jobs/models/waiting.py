"""What a job that waits on a limit says about it (:attr:`QueuedJob.waiting`).

A job whose limit is full (``queued_jobs.limits``) does not start: it stays ``queued``
and its record says which limit holds it back, for which key, since when, and why. The
claim that starts it clears it. A finished job keeps the last one it had (a job
cancelled while it waited), which is how the limit learns that it will never come.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ._time import UtcDatetime

__all__ = ["LIMIT_NAME_PATTERN", "MAX_GATE_KEY", "JobWaiting", "LimitName", "WaitKind", "gate_key"]

#: A limit's name: lowercase letters, digits, ``.``, ``_`` and ``-``, starting with a letter.
LIMIT_NAME_PATTERN: Final = r"^[a-z][a-z0-9._-]{0,62}$"
#: The longest key a limit's gate is kept under (longer keys are refused).
MAX_GATE_KEY: Final = 256


def _key(value: str) -> str:
    if len(value) > MAX_GATE_KEY:
        raise ValueError(f"a limit's key is at most {MAX_GATE_KEY} characters, not {len(value)}")
    if not value.isprintable():
        raise ValueError("a limit's key is printable text")
    return value


LimitName = Annotated[str, Field(pattern=LIMIT_NAME_PATTERN)]
#: The key of one gate of a limit: ``""`` for a limit with one gate for every job.
GateKey = Annotated[str, AfterValidator(_key)]


def gate_key(value: str) -> str:
    """``value`` if it can key a gate; ``ValueError`` saying why not."""
    return _key(value)


class WaitKind(StrEnum):
    """What holds a waiting job back."""

    #: As many jobs as the limit allows hold its gate: the job is parked, and the first
    #: job to give a place back wakes it.
    CONCURRENCY = "concurrency"
    #: The limit's starts for the window are used: the job comes back at its turn.
    RATE = "rate"


class JobWaiting(BaseModel):
    """Why a queued job has not started: the limit that holds it back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: LimitName
    key: GateKey = ""
    kind: WaitKind
    #: In words, for people: "2 of 2 running", "10 starts per 1s used; its turn at ...".
    reason: Annotated[str, Field(max_length=1024)]
    #: When it first found the limit full.
    since: UtcDatetime
    #: A rate's turn: when it comes back. A parked job: when the sweep sends it again if
    #: nothing woke it by then (a lost wake-up costs a wait, never the job).
    until: UtcDatetime
    #: How many times it found the limit full since it last ran.
    checks: int = Field(default=1, ge=1)

    def due(self) -> datetime:
        """When the sweep needs to look at the job (the due index's moment)."""
        return self.until
