"""What a limit looks like from outside: its values (from the code, an operator's
setting, the one that applies), its gates as they stand, and a waiting job's one line.

These are plain read-only values made by :class:`~queued_jobs.limits.client.LimitClient`
for people and for the API: nothing here reads or writes the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from ..models.waiting import JobWaiting
from .model import LimitSettings

__all__ = [
    "PARKED_COUNTED",
    "GateView",
    "HolderView",
    "LimitKind",
    "LimitView",
    "waiting_text",
]

#: The most parked jobs counted at one gate; beyond, a gate says ``1000+``.
PARKED_COUNTED: Final = 1000
#: ``unknown``: a limit no job type of this app passes (its gates or setting are stored).
LimitKind = Literal["concurrency", "rate", "unknown"]


@dataclass(frozen=True, slots=True)
class HolderView:
    """A job that holds a place in a gate."""

    job_id: str
    since: datetime
    #: It holds the place until then unless its heartbeat renews it.
    until: datetime
    #: ``False``: a parked job woken to take the place, not started yet.
    started: bool


@dataclass(frozen=True, slots=True)
class GateView:
    """One gate of a limit (one key) as it stands."""

    key: str
    #: The live holders (a concurrency limit), oldest first.
    holders: tuple[HolderView, ...]
    #: Jobs parked at the gate, counted up to :data:`PARKED_COUNTED` (see ``parked_more``).
    parked: int
    #: More than :data:`PARKED_COUNTED` jobs are parked.
    parked_more: bool
    #: A rate limit's starts in the window that ends now (``None`` for other limits).
    starts: int | None
    #: A rate limit's line: when the next job to wait may come back.
    next_turn: datetime | None
    updated_at: datetime

    @property
    def parked_text(self) -> str:
        """``"3"``, or ``"1000+"`` past what is counted."""
        return f"{self.parked}+" if self.parked_more else str(self.parked)


@dataclass(frozen=True, slots=True)
class LimitView:
    """A limit: what its code says, what an operator set, what applies, and its gates."""

    name: str
    kind: LimitKind
    #: A concurrency limit's capacity in the code.
    capacity: int | None
    #: A rate limit's starts per window in the code, and its window.
    rate: int | None
    per: timedelta | None
    #: The limit's key function, for people (``by_request('customer_id')``, ``one gate``).
    keyed_by: str | None
    #: What an operator set (``None``: the code's value applies).
    setting: LimitSettings | None
    #: The gates read (at most a few pages of them: see ``truncated``), by key.
    gates: tuple[GateView, ...]
    #: More gates are stored than were read.
    truncated: bool = False
    #: Gates that could not be read, as ``<limit>/<key>``.
    skipped: tuple[str, ...] = ()

    @property
    def override(self) -> int | None:
        """The operator's capacity or rate for this kind of limit (``0``: paused)."""
        if self.setting is None:
            return None
        if self.kind == "unknown":  # whichever is set
            return self.setting.capacity if self.setting.capacity is not None else self.setting.rate
        return self.setting.rate if self.kind == "rate" else self.setting.capacity

    @property
    def effective(self) -> int | None:
        """The capacity or rate that applies now: the operator's, else the code's."""
        if self.override is not None:
            return self.override
        return self.rate if self.kind == "rate" else self.capacity

    @property
    def paused(self) -> bool:
        return self.effective == 0

    @property
    def holding(self) -> int:
        """Live holders over every gate read."""
        return sum(len(gate.holders) for gate in self.gates)

    @property
    def parked(self) -> int:
        """Parked jobs over every gate read (each counted up to :data:`PARKED_COUNTED`)."""
        return sum(gate.parked for gate in self.gates)

    @property
    def parked_more(self) -> bool:
        return any(gate.parked_more for gate in self.gates)

    def describe(self) -> str:
        """``at most 2 at once``, ``at most 10 starts per 1s``, or what little is known."""
        value = self.effective
        if self.kind == "concurrency":
            return "paused" if value == 0 else f"at most {value} at once"
        if self.kind == "rate" and self.per is not None:
            return "paused" if value == 0 else f"at most {value} starts per {_window(self.per)}"
        return "not declared by this app"


def _window(per: timedelta) -> str:
    seconds = per.total_seconds()
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}min"
    return f"{seconds:g}s"


def waiting_text(waiting: JobWaiting) -> str:
    """One line for people: ``waiting for limit exports (key acme): 2 of 2 running (at
    most 2 at once), since 2026-05-01 12:00:00 UTC``."""
    key = f" (key {waiting.key})" if waiting.key else ""
    since = waiting.since.astimezone(UTC)
    return (
        f"waiting for limit {waiting.limit}{key}: {waiting.reason}, "
        f"since {since:%Y-%m-%d %H:%M:%S} UTC"
    )
