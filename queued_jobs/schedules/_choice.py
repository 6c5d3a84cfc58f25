"""Which slots a firing pass starts jobs for: the catch-up and overlap policies, as pure
functions of a schedule, its rule and the time.

A pass at ``now`` looks at the schedule's slots from its ``next_slot`` (the first not yet
fired) to ``now + horizon``. A slot more than ``grace`` before ``now`` was *missed* (no
firer ran while it was due: an outage, a stopped worker); the others are *on time*. The
on-time slots all fire; the missed ones as the catch-up policy says: none
(``CatchUp.SKIP``), the latest (``ONCE``), or the latest ``catch_up_limit`` (``ALL``).
Unless the overlap policy is ``ALLOW``, a pass fires one slot at most, the latest chosen:
each new job would overlap the one before it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from ._rule import MAX_SLOTS, Rule
from .model import CatchUp, Overlap, Schedule

__all__ = ["MAX_ON_TIME", "Choice", "choose_slots"]

#: On-time slots one pass fires for a schedule at most (the rest: next pass).
MAX_ON_TIME: Final = 1000
_TICK: Final = timedelta(microseconds=1)
#: The first span searched back from the end of the missed slots for the latest ones.
_FIRST_SPAN: Final = timedelta(hours=1)
#: Missed slots counted at most (for the report and the log).
_COUNTED: Final = 10_000


@dataclass(frozen=True, slots=True)
class Choice:
    """What a pass does with a schedule's due slots."""

    #: The slots to fire, oldest first.
    fire: tuple[datetime, ...]
    #: How many due slots it passes over (missed ones the policy skips, or the
    #: overlap policy's), counted for the log and the report.
    passed_over: int
    #: The last slot this pass considered: the schedule's next slot is the first after it.
    through: datetime


def choose_slots(
    schedule: Schedule,
    rule: Rule,
    zone: ZoneInfo,
    *,
    now: datetime,
    grace: timedelta,
    horizon: timedelta,
) -> Choice:
    """The slots of ``schedule`` to fire at ``now``. Its ``next_slot`` must be set."""
    assert schedule.next_slot is not None, "only a schedule with a next slot is due"
    start = schedule.next_slot - _TICK  # slots() reads (start, end]
    late = now - grace
    end = now + horizon
    on_time_from = max(start, late)
    on_time = rule.slots(on_time_from, end, zone, limit=MAX_ON_TIME) if on_time_from < end else []
    through = on_time[-1] if len(on_time) == MAX_ON_TIME else end
    missed_count, missed = _missed(schedule, rule, zone, start, late)
    chosen = [*missed, *on_time]
    passed_over = missed_count - len(missed)
    if schedule.overlap is not Overlap.ALLOW and len(chosen) > 1:
        passed_over += len(chosen) - 1
        chosen = chosen[-1:]
    return Choice(fire=tuple(chosen), passed_over=passed_over, through=through)


def _missed(
    schedule: Schedule, rule: Rule, zone: ZoneInfo, start: datetime, late: datetime
) -> tuple[int, list[datetime]]:
    """How many slots in ``(start, late]`` were missed (up to :data:`_COUNTED`), and the
    ones the catch-up policy fires."""
    if late <= start:
        return 0, []
    keep = {CatchUp.SKIP: 0, CatchUp.ONCE: 1, CatchUp.ALL: schedule.catch_up_limit}[
        schedule.catch_up
    ]
    counted = len(rule.slots(start, late, zone, limit=_COUNTED))
    return counted, _latest(rule, zone, start, late, keep) if keep else []


def _latest(
    rule: Rule, zone: ZoneInfo, start: datetime, end: datetime, keep: int
) -> list[datetime]:
    """The latest ``keep`` slots in ``(start, end]``.

    Searched back from ``end`` in spans four times longer each time, so that an outage of
    years costs a few short searches, not one slot at a time from its beginning.
    """
    span = _FIRST_SPAN
    while True:
        low = max(start, end - span)
        found = rule.slots(low, end, zone, limit=MAX_SLOTS)
        if len(found) >= keep or low == start:
            return list(deque(found, maxlen=keep))
        span *= 4
