"""The rules of a gate, as pure changes of its document: taking a place, giving it back,
waking parked jobs, taking a start of a rate. Each returns the gate to store (or the
answer, when nothing is to be stored); the keeper (``keeper.py``) stores it under the
version it read, so that two hosts deciding at once cannot both be right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from .model import Gate, Holding, Waiter

__all__ = [
    "TURN_SKEW",
    "Change",
    "give_back",
    "rate_room_at",
    "take_place",
    "take_start",
    "wake",
]

#: A job that comes back this much before its turn is taken as on time (clocks of hosts
#: differ a little).
TURN_SKEW: Final = timedelta(milliseconds=250)


@dataclass(slots=True)
class Change:
    """What one rule decided: the gate as it is to be stored, the waiter to park, the
    parked jobs to remove (woken, or arrived), and those to wake once it is stored."""

    gate: Gate
    taken: bool
    add_waiter: Waiter | None = None
    remove_waiters: list[str] = field(default_factory=list)
    woken: list[Waiter] = field(default_factory=list)
    #: A rate's turn given to a job that may not start yet.
    turn: datetime | None = None
    #: How many hold the gate (live) as this change leaves it.
    held: int = 0
    #: Nothing to store: the answer alone.
    unchanged: bool = False


def _live(gate: Gate, now: datetime) -> dict[str, Holding]:
    return gate.live_holders(now)


def take_place(
    gate: Gate,
    job_id: str,
    queue: str,
    *,
    capacity: int,
    now: datetime,
    lease: timedelta,
    parked_since: datetime | None,
) -> Change:
    """Job ``job_id`` takes a place of a concurrency gate of ``capacity``, or renews the
    one it holds (a woken job taking the place kept for it, a job taken over after its
    worker died); or, with no place free, is parked (``parked_since``: when it was first,
    if it was parked here before: it keeps that time).

    Places that ran out are dropped. Free places beyond this job's are for parked jobs:
    :func:`wake` hands them over."""
    holders = _live(gate, now)
    mine = holders.get(job_id)
    if mine is not None or len(holders) < capacity:
        since = mine.since if mine is not None else now
        holders[job_id] = Holding(since=since, until=now + lease)
        changed = gate.model_copy(update={"holders": holders, "updated_at": now})
        remove = [job_id] if parked_since is not None else []
        return Change(changed, True, remove_waiters=remove, held=len(holders))
    waiter = Waiter(job_id=job_id, queue=queue, since=parked_since or now)
    changed = gate.model_copy(update={"holders": holders, "has_waiters": True, "updated_at": now})
    return Change(changed, False, add_waiter=waiter, held=len(holders))


def give_back(gate: Gate, job_id: str, *, now: datetime, parked: bool = False) -> Change:
    """Job ``job_id`` gives its place back (its attempt ended); with ``parked``, a job that
    ended while it was parked or woken leaves the gate altogether (its row goes too).
    Places that ran out are dropped too."""
    holders = _live(gate, now)
    holders.pop(job_id, None)
    changed = gate.model_copy(update={"holders": holders, "updated_at": now})
    return Change(changed, False, remove_waiters=[job_id] if parked else [], held=len(holders))


def renew(gate: Gate, job_id: str, *, now: datetime, lease: timedelta) -> Change | None:
    """Job ``job_id``'s place for another lease; ``None`` if it holds none (it ran out:
    another job may have it now)."""
    holders = _live(gate, now)
    mine = holders.get(job_id)
    if mine is None:
        return None
    holders[job_id] = mine.model_copy(update={"until": now + lease, "started": True})
    changed = gate.model_copy(update={"holders": holders, "updated_at": now})
    return Change(changed, True, held=len(holders))


def wake(
    change: Change,
    waiters: Sequence[Waiter],
    *,
    capacity: int,
    now: datetime,
    grace: timedelta,
    looked_for: int,
    most: int = 64,
) -> Change:
    """Hand the free places of ``change``'s gate to the first of ``waiters`` (the gate's
    parked jobs, oldest first, ``looked_for`` of them asked for): each gets a place kept
    for it for ``grace``, its row goes, and it is to be sent a message. The gate still has
    waiters unless fewer were found than asked for and all of them were woken."""
    gate = change.gate
    holders = dict(gate.holders)
    skip = set(change.remove_waiters)
    if change.add_waiter is not None:
        skip.add(change.add_waiter.job_id)
    candidates = [w for w in waiters if w.job_id not in skip and w.job_id not in holders]
    room = max(capacity - len(_live(gate, now)), 0)
    woken = candidates[: min(room, most)]
    for waiter in woken:
        holders[waiter.job_id] = Holding(since=now, until=now + grace, started=False)
    left = len(waiters) >= looked_for or len(candidates) > len(woken)
    has_waiters = left or change.add_waiter is not None
    updated = gate.model_copy(update={"holders": holders, "has_waiters": has_waiters})
    return Change(
        updated,
        change.taken,
        add_waiter=change.add_waiter,
        remove_waiters=[*change.remove_waiters, *(w.job_id for w in woken)],
        woken=[*change.woken, *woken],
        turn=change.turn,
        held=len(_live(updated, now)),
    )


def rate_room_at(
    starts: Sequence[datetime], *, rate: int, per: timedelta, now: datetime
) -> datetime:
    """When the next start fits the window: now if fewer than ``rate`` started within
    ``per``, else when the oldest of the latest ``rate`` leaves it."""
    recent = [moment for moment in starts if moment > now - per]
    if len(recent) < rate:
        return now
    return recent[-rate] + per


def take_start(
    gate: Gate,
    *,
    rate: int,
    per: timedelta,
    now: datetime,
    turn: datetime | None,
) -> Change:
    """A start of a rate gate (at most ``rate`` per any window of ``per``): taken now if
    the window has room and no line is waiting (or the job holds a turn that has come);
    else the job's turn, the next of the line, ``per / rate`` after the last one given."""
    if turn is not None and turn > now + TURN_SKEW:  # early (a copy of its message): it
        return Change(gate, False, turn=turn, unchanged=True)  # keeps its turn
    recent = tuple(moment for moment in gate.starts if moment > now - per)
    line = gate.next_turn if gate.next_turn is not None and gate.next_turn > now else None
    on_time = turn is not None and turn <= now + TURN_SKEW
    room_at = rate_room_at(recent, rate=rate, per=per, now=now)
    if room_at <= now and (line is None or on_time):
        starts = (*recent, now)[-rate:]
        changed = gate.model_copy(update={"starts": starts, "next_turn": line, "updated_at": now})
        return Change(changed, True)
    if on_time:  # its turn came but the window is full (others came late): the next room
        given = max(room_at, now)
        changed = gate.model_copy(update={"starts": recent, "next_turn": line, "updated_at": now})
        return Change(changed, False, turn=given)
    given = max(room_at, line or now)
    changed = gate.model_copy(
        update={"starts": recent, "next_turn": given + per / rate, "updated_at": now}
    )
    return Change(changed, False, turn=given)
