"""The one place where a local wall time becomes an instant: the DST rule of schedules.

A wall time ``w`` in a zone runs at the **earliest instant at which the zone's clocks show
``w`` or later**. That single sentence gives every case:

- a wall time that happens once runs then;
- a wall time that happens twice (clocks set back) runs at its first occurrence (``fold=0``);
- a wall time that never happens (clocks set forward over it) runs at the first valid
  instant after the gap: 02:30 on the spring-forward night in Europe/Berlin runs at 03:00
  local time, the instant the clocks jump.

The mapping never goes backwards (a later wall time never runs earlier), so several wall
times inside one gap land on the same instant, and the callers fire that instant once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["first_instants", "wall_to_utc"]

_SECOND = timedelta(seconds=1)


def wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant (aware, UTC) at which the naive local wall time ``wall`` runs in ``zone``."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # it happens; fold=0 is its first occurrence when it happens twice
    # In a gap. With fold=0 the wall time is read with the offset from before the jump,
    # which lands after it; with fold=1, with the offset from after, which lands before
    # it. The jump lies in between: find it, to the second.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = first
    offset_after = after.astimezone(zone).utcoffset()
    while after - before > _SECOND:
        middle = before + (after - before) // 2
        middle = middle.replace(microsecond=0)
        if middle <= before:
            break
        if middle.astimezone(zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after


def first_instants(
    walls: Iterable[datetime], zone: ZoneInfo, after: datetime
) -> Iterator[datetime]:
    """The instants of ascending naive wall times, each strictly later than the one before
    and than ``after``: wall times that run at the same instant (inside one gap) are
    yielded once, and those that run at or before ``after`` are skipped."""
    last = after
    for wall in walls:
        instant = wall_to_utc(wall, zone)
        if instant > last:
            last = instant
            yield instant
