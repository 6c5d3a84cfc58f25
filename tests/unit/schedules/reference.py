"""A slow, obvious reference for the slots of wall-clock rules, written apart from the code
under test: it shares neither its cron nor its RRULE reading, nor its DST handling.

The DST rule, read literally: a wall time ``w`` runs at the earliest instant at which the
zone's clocks show ``w`` or later. Walking the instants minute by minute and keeping the
latest wall time the clocks have shown so far, the wall times first reached at a minute are
those above that mark and at most the clocks' time then; if any of them is a slot, that
minute fires (once, however many slots were reached together).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MINUTE = timedelta(minutes=1)
#: Longer than any repeated stretch of wall time in the zones tested (2 hours at most).
_SETTLE = timedelta(hours=3)

WallMatch = Callable[[datetime], bool]


def _floor_minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


def walk_minutes(
    matches: WallMatch, zone: ZoneInfo, start: datetime, end: datetime
) -> list[datetime]:
    """The slots in ``(start, end]`` (UTC) of the wall times ``matches`` accepts, found by
    walking every minute of UTC (and every wall minute the clocks pass)."""
    instant = _floor_minute(start - _SETTLE)
    mark = instant.astimezone(zone).replace(tzinfo=None)
    fired: list[datetime] = []
    while instant < end:
        instant += MINUTE
        wall = instant.astimezone(zone).replace(tzinfo=None)
        if wall > mark:
            reached = mark + MINUTE
            hit = False
            while reached <= wall:
                if matches(reached):
                    hit = True
                    break
                reached += MINUTE
            mark = wall
            if hit and instant > start:
                fired.append(instant)
    return [slot for slot in fired if slot <= end]


def walk_candidates(
    candidates: Iterable[datetime], zone: ZoneInfo, start: datetime, end: datetime
) -> list[datetime]:
    """The same for a sparse rule whose wall slots are listed: on days whose offset does not
    change a wall time runs at itself less the offset; days with a change of offset are
    walked minute by minute, as ``walk_minutes`` does."""
    by_day: dict[date, set[datetime]] = {}
    for wall in candidates:
        by_day.setdefault(wall.date(), set()).add(wall)
    fired: set[datetime] = set()
    for day, walls in by_day.items():
        midnight = datetime.combine(day, datetime.min.time())
        before = midnight.replace(tzinfo=zone).utcoffset()
        after = (midnight + timedelta(days=1)).replace(tzinfo=zone).utcoffset()
        noon = (midnight + timedelta(hours=12)).replace(tzinfo=zone).utcoffset()
        assert before is not None
        assert after is not None
        if before == after == noon:
            fired.update((wall - before).replace(tzinfo=UTC) for wall in walls)
            continue
        low = (midnight - timedelta(hours=15)).replace(tzinfo=UTC)
        high = (midnight + timedelta(hours=39)).replace(tzinfo=UTC)
        fired.update(walk_minutes(walls.__contains__, zone, low, high))
    return sorted(slot for slot in fired if start < slot <= end)


# --- cron, from a structure (never from text) -------------------------------------------


@dataclass(frozen=True)
class CronField:
    """One field: its text and the values it allows."""

    text: str
    values: frozenset[int]


@dataclass(frozen=True)
class Cron:
    minute: CronField
    hour: CronField
    day: CronField
    month: CronField
    weekday: CronField  # values 0-6, Sunday 0 (7 already folded into 0)

    @property
    def text(self) -> str:
        fields = (self.minute, self.hour, self.day, self.month, self.weekday)
        return " ".join(part.text for part in fields)

    def matches(self, wall: datetime) -> bool:
        if wall.minute not in self.minute.values or wall.hour not in self.hour.values:
            return False
        if wall.month not in self.month.values:
            return False
        day_ok = wall.day in self.day.values
        weekday_ok = (wall.isoweekday() % 7) in self.weekday.values
        # Debian cron: when either day field starts with '*', both must match; otherwise
        # either may.
        if self.day.text.startswith("*") or self.weekday.text.startswith("*"):
            return day_ok and weekday_ok
        return day_ok or weekday_ok


# --- a subset of RRULE, from a structure ---------------------------------------------------


@dataclass(frozen=True)
class Recurrence:
    """FREQ, INTERVAL, DTSTART and a few BY parts; BYSETPOS with MONTHLY only."""

    freq: str
    dtstart: datetime
    interval: int = 1
    bymonth: tuple[int, ...] = ()
    bymonthday: tuple[int, ...] = ()
    byday: tuple[tuple[int, int | None], ...] = ()  # (weekday Monday 0, nth or None)
    byhour: tuple[int, ...] = ()
    byminute: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    _months: dict[tuple[int, int], list[datetime]] = field(default_factory=dict, compare=False)

    @property
    def text(self) -> str:
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        names = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
        for name, values in (("BYMONTH", self.bymonth), ("BYMONTHDAY", self.bymonthday)):
            if values:
                parts.append(f"{name}={','.join(map(str, values))}")
        if self.byday:
            days = (f"{'' if n is None else n}{names[d]}" for d, n in self.byday)
            parts.append("BYDAY=" + ",".join(days))
        for name, values in (
            ("BYHOUR", self.byhour),
            ("BYMINUTE", self.byminute),
            ("BYSETPOS", self.bysetpos),
        ):
            if values:
                parts.append(f"{name}={','.join(map(str, values))}")
        return f"rrule:DTSTART:{self.dtstart:%Y%m%dT%H%M%S}\nRRULE:" + ";".join(parts)

    # The defaults RFC 5545 takes from DTSTART.
    def _hours(self) -> tuple[int, ...]:
        if self.byhour:
            return self.byhour
        return () if self.freq in ("HOURLY", "MINUTELY") else (self.dtstart.hour,)

    def _minutes(self) -> tuple[int, ...]:
        if self.byminute:
            return self.byminute
        return () if self.freq == "MINUTELY" else (self.dtstart.minute,)

    def _on_grid(self, wall: datetime) -> bool:
        start = self.dtstart
        if self.freq == "MINUTELY":
            return (wall - start) // MINUTE % self.interval == 0
        if self.freq == "HOURLY":
            hours = (wall.replace(minute=0) - start.replace(minute=0)) // timedelta(hours=1)
            return hours % self.interval == 0
        if self.freq == "DAILY":
            return (wall.date() - start.date()).days % self.interval == 0
        if self.freq == "WEEKLY":
            monday = start.date() - timedelta(days=start.weekday())
            return (wall.date() - monday).days // 7 % self.interval == 0
        months = (wall.year - start.year) * 12 + wall.month - start.month
        return months % self.interval == 0

    def _day_matches(self, day: date) -> bool:
        if self.bymonth and day.month not in self.bymonth:
            return False
        last = calendar.monthrange(day.year, day.month)[1]
        monthdays = self.bymonthday
        byday = self.byday
        if self.freq == "MONTHLY" and not monthdays and not byday:
            monthdays = (self.dtstart.day,)
        if self.freq == "WEEKLY" and not byday:
            byday = ((self.dtstart.weekday(), None),)
        if monthdays and not any(d == day.day or last + 1 + d == day.day for d in monthdays):
            return False
        if byday:
            nth_forward = (day.day - 1) // 7 + 1
            nth_backward = -((last - day.day) // 7 + 1)
            if not any(
                weekday == day.weekday() and n in (None, nth_forward, nth_backward)
                for weekday, n in byday
            ):
                return False
        return True

    def _time_matches(self, wall: datetime) -> bool:
        hours, minutes = self._hours(), self._minutes()
        return (not hours or wall.hour in hours) and (not minutes or wall.minute in minutes)

    def _plain_match(self, wall: datetime) -> bool:
        return self._on_grid(wall) and self._day_matches(wall.date()) and self._time_matches(wall)

    def matches(self, wall: datetime) -> bool:
        if wall < self.dtstart:
            return False
        if not self.bysetpos:
            return self._plain_match(wall)
        return wall in self._month_set(wall.year, wall.month)

    def _month_set(self, year: int, month: int) -> list[datetime]:
        """MONTHLY with BYSETPOS: the month's slots, picked by position."""
        key = (year, month)
        if key not in self._months:
            every = [
                datetime(year, month, day, hour, minute)
                for day in range(1, calendar.monthrange(year, month)[1] + 1)
                for hour in self._hours()
                for minute in self._minutes()
            ]
            every = [wall for wall in every if self._plain_match(wall)]
            picked = {
                every[p - 1 if p > 0 else p]
                for p in self.bysetpos
                if p <= len(every) and -p <= len(every)
            }
            self._months[key] = sorted(wall for wall in picked if wall >= self.dtstart)
        return self._months[key]

    def candidates(self, start: datetime, end: datetime) -> list[datetime]:
        """Every matching wall time from ``start`` to ``end`` (naive), day by day: for the
        rules with a few slots a day (not HOURLY or MINUTELY)."""
        found: list[datetime] = []
        day = start.date()
        while day <= end.date():
            if self._day_matches(day):
                for hour in self._hours():
                    for minute in self._minutes():
                        wall = datetime(day.year, day.month, day.day, hour, minute)
                        if start <= wall <= end and self.matches(wall):
                            found.append(wall)
            day += timedelta(days=1)
        return found
