"""``rrule:`` rules: RFC 5545 recurrence rules, evaluated in local wall time by dateutil.

A rule is one or more ``RRULE`` lines (their slots are united) and an optional
``DTSTART``, all in the schedule's local wall time::

    rrule:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1
    rrule:DTSTART:20261115T090000
    RRULE:FREQ=DAILY;BYMONTH=12,1;BYDAY=MO,TU,WE,TH,FR

Every search here is bounded. dateutil looks for a rule's next match period by period and
stops only at year 9999, so a rule that matches nothing (February 30th) would keep it busy
for seconds, or far longer for an hourly rule. Two things keep it short:

- a search starts at the period (year, month, week, day, hour or minute of the rule's own
  grid, ``INTERVAL`` apart from ``DTSTART``) that holds the instant, never at ``DTSTART``;
- it runs in a copy of the calendar moved forward by a multiple of 400 years (the Gregorian
  calendar repeats exactly every 400 years: same leap years, same weekdays), placed so
  that the end of the search lies just before year 9999. dateutil's own end of time then
  ends any search at most 400 years past where it was asked to stop.

Rules that match nothing, or whose ``BYSETPOS`` asks for more than a period holds, are
refused when parsed (``RuleNeverFires``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, WEEKLY, YEARLY, rrule, weekday

from ..errors import RuleNeverFires
from ._rrule_text import Frequency, Parts, check_combination, join, read_parts, split_lines
from ._rule import LOOKAHEAD, WallClockRule

__all__ = ["RecurrenceRule"]

#: Slots that ``COUNT`` counts are looked for within this long after ``DTSTART``.
COUNT_HORIZON = timedelta(days=36_524)  # 100 years
#: ``DTSTART`` when none is written: the Unix epoch, as a wall time of the schedule's zone.
DEFAULT_START = datetime(1970, 1, 1)
#: The most days one period of each frequency holds (for ``BYSETPOS``).
_PERIOD_DAYS = {YEARLY: 366, MONTHLY: 31, WEEKLY: 7, DAILY: 1, HOURLY: 1, MINUTELY: 1}
_PERIOD_NAMES = {
    YEARLY: "year",
    MONTHLY: "month",
    WEEKLY: "week",
    DAILY: "day",
    HOURLY: "hour",
    MINUTELY: "minute",
}
#: dateutil stops at the end of year 9999; searches are moved to end just before it.
_LAST_YEAR = 9999
_CYCLE_YEARS = 400


@dataclass(frozen=True, slots=True)
class _Line:
    """One RRULE line, read: what dateutil is given, with every default made explicit so
    that a search may start at any period of the grid and find the same slots."""

    text: str
    freq: Frequency
    interval: int
    dtstart: datetime
    until: datetime | None
    count: int | None
    wkst: int
    bymonth: tuple[int, ...] | None
    byweekno: tuple[int, ...] | None
    byyearday: tuple[int, ...] | None
    bymonthday: tuple[int, ...] | None
    byweekday: tuple[tuple[int, int | None], ...] | None
    byhour: tuple[int, ...] | None
    byminute: tuple[int, ...] | None
    bysetpos: tuple[int, ...] | None

    def walls(
        self, after: datetime, stop: datetime, *, inclusive: bool = False
    ) -> Iterator[datetime]:
        """The wall times of this line's slots in ``(after, stop]`` (``[after, stop]``
        with ``inclusive``), ascending."""
        start = self.dtstart if after <= self.dtstart else max(self.dtstart, self._period_of(after))
        until = stop if self.until is None else min(stop, self.until)
        if until < start:
            return
        shift = _CYCLE_YEARS * ((_LAST_YEAR - until.year) // _CYCLE_YEARS)
        try:
            for moved in self._dateutil_rule(_moved(start, shift), _moved(until, shift)):
                wall = _moved(moved, -shift)
                if wall > after or (inclusive and wall == after):
                    yield wall
        except (ValueError, OverflowError):  # an empty rule (refused when parsed), year 9999
            return

    def _dateutil_rule(self, dtstart: datetime, until: datetime | None) -> rrule:
        return rrule(
            self.freq,
            dtstart=dtstart,
            interval=self.interval,
            wkst=self.wkst,
            until=until,
            bymonth=self.bymonth,
            byweekno=self.byweekno,
            byyearday=self.byyearday,
            bymonthday=self.bymonthday,
            byweekday=None
            if self.byweekday is None
            else [weekday(day, n) for day, n in self.byweekday],
            byhour=self.byhour,
            byminute=self.byminute,
            bysecond=0,
            bysetpos=self.bysetpos,
        )

    def _period_of(self, wall: datetime) -> datetime:
        """The start of the period of the rule's grid that holds ``wall`` (``wall`` is not
        before ``dtstart``)."""
        first, step = self.dtstart, self.interval
        if self.freq == YEARLY:
            year = first.year + (wall.year - first.year) // step * step
            return datetime(year, 1, 1)
        if self.freq == MONTHLY:
            months = (wall.year - first.year) * 12 + wall.month - first.month
            index = first.year * 12 + first.month - 1 + months // step * step
            return datetime(index // 12, index % 12 + 1, 1)
        if self.freq == WEEKLY:
            week = datetime.combine(first.date(), datetime.min.time())
            week -= timedelta(days=(first.weekday() - self.wkst) % 7)
            weeks = (wall - week).days // 7
            return week + timedelta(weeks=weeks // step * step)
        if self.freq == DAILY:
            day = datetime.combine(first.date(), datetime.min.time())
            return day + timedelta(days=(wall - day).days // step * step)
        unit = timedelta(hours=1) if self.freq == HOURLY else timedelta(minutes=1)
        base = first.replace(minute=0, second=0) if self.freq == HOURLY else first.replace(second=0)
        return base + (wall - base) // unit // step * step * unit


class RecurrenceRule(WallClockRule):
    """Slots at the local wall times of one or more RFC 5545 RRULE lines (united), from an
    optional DTSTART (a local wall time; 1970-01-01T00:00 when none is written)."""

    __slots__ = ("_lines", "dtstart")
    kind = "rrule"

    def __init__(self, text: str, dtstart: datetime | None, lines: tuple[_Line, ...]) -> None:
        super().__init__(text)
        #: DTSTART as written (a naive wall time), or None.
        self.dtstart = dtstart
        self._lines = lines

    @property
    def lines(self) -> tuple[str, ...]:
        """The canonical text of each RRULE line (without ``RRULE:``)."""
        return tuple(line.text for line in self._lines)

    @classmethod
    def parse(cls, body: str) -> RecurrenceRule:
        dtstart, values = split_lines(body)
        start = dtstart or DEFAULT_START
        parts = [
            read_parts(value, _where(index, len(values))) for index, value in enumerate(values)
        ]
        for index, line_parts in enumerate(parts):
            check_combination(line_parts, dtstart, _where(index, len(parts)))
        lines = tuple(
            _build_line(line_parts, start, _where(index, len(parts)))
            for index, line_parts in enumerate(parts)
        )
        texts = [line.text for line in lines]
        if dtstart is None and len(texts) == 1:
            text = f"rrule:{texts[0]}"
        else:
            head = [f"DTSTART:{dtstart:%Y%m%dT%H%M%S}"] if dtstart is not None else []
            text = "rrule:" + "\n".join([*head, *(f"RRULE:{line}" for line in texts)])
        return cls(text, dtstart, lines)

    def _walls(self, after: datetime, stop: datetime) -> Iterator[datetime]:
        last: datetime | None = None
        for wall in heapq.merge(*(line.walls(after, stop) for line in self._lines)):
            if wall != last:
                last = wall
                yield wall


def _where(index: int, total: int) -> str:
    return "rrule" if total == 1 else f"rrule line {index + 1}"


def _build_line(parts: Parts, start: datetime, where: str) -> _Line:
    freq = parts.freq
    bymonth, bymonthday, byday = parts.bymonth, parts.bymonthday, parts.byday
    if all(values is None for values in (parts.byweekno, parts.byyearday, bymonthday, byday)):
        if freq == YEARLY:
            bymonth = bymonth or (start.month,)
            bymonthday = (start.day,)
        elif freq == MONTHLY:
            bymonthday = (start.day,)
        elif freq == WEEKLY:
            byday = ((start.weekday(), None),)
    byhour = parts.byhour
    if byhour is None and freq not in (HOURLY, MINUTELY):
        byhour = (start.hour,)
    byminute = parts.byminute
    if byminute is None and freq != MINUTELY:
        byminute = (start.minute,)
    line = _Line(
        text=parts.text(),
        freq=freq,
        interval=parts.interval,
        dtstart=start,
        until=parts.until,
        count=parts.count,
        wkst=parts.wkst,
        bymonth=bymonth,
        byweekno=parts.byweekno,
        byyearday=parts.byyearday,
        bymonthday=bymonthday,
        byweekday=byday,
        byhour=byhour,
        byminute=byminute,
        bysetpos=parts.bysetpos,
    )
    _check_positions(line, where)
    _check_days(line, where)
    return _count_to_until(line, where)


def _check_positions(line: _Line, where: str) -> None:
    """Refuse a BYSETPOS that asks for more slots than any period of the rule holds."""
    if line.bysetpos is None:
        return
    times = 1
    if line.freq in (YEARLY, MONTHLY, WEEKLY, DAILY):
        times = len(line.byhour or ()) * len(line.byminute or ())
    elif line.freq == HOURLY:
        times = len(line.byminute or ())
    most = _most_days(line) * times
    if all(abs(position) > most for position in line.bysetpos):
        period = _PERIOD_NAMES[line.freq]
        raise RuleNeverFires(
            f"{where}: never fires: BYSETPOS={join(line.bysetpos)} asks for a slot past the "
            f"{most:,} that one {period} holds at most"
        )


def _most_days(line: _Line) -> int:
    """The most days one period of the rule can hold."""
    days = _PERIOD_DAYS[line.freq]
    if line.freq == WEEKLY and line.byweekday is not None:
        days = len({day for day, _ in line.byweekday})
    elif line.freq == MONTHLY and line.bymonthday is not None:
        days = len(line.bymonthday)
    elif line.freq == MONTHLY and line.byweekday is not None:
        days = sum(5 if n is None else 1 for _, n in line.byweekday)
    return min(days, _PERIOD_DAYS[line.freq])


def _check_days(line: _Line, where: str) -> None:
    """Refuse day parts that no day of any year matches (BYMONTH=2;BYMONTHDAY=30), looked
    for cheaply: year by year through one whole 400-year cycle of the calendar."""
    if line.freq in (YEARLY, MONTHLY):
        return  # their own search goes a month at a time: as cheap, and it reads 1MO right
    probe = rrule(
        YEARLY,
        dtstart=datetime(_LAST_YEAR + 1 - _CYCLE_YEARS, 1, 1),
        bymonth=line.bymonth,
        byyearday=line.byyearday,
        bymonthday=line.bymonthday,
        byweekday=None if line.byweekday is None else [day for day, _ in line.byweekday],
        byhour=0,
        byminute=0,
        bysecond=0,
    )
    if next(iter(probe), None) is None:
        raise RuleNeverFires(f"{where}: never fires: no day of any year matches {line.text}")


def _count_to_until(line: _Line, where: str) -> _Line:
    """Check that the line fires at all, and turn a COUNT into the UNTIL of its last slot:
    then a search need not count from DTSTART."""
    horizon = LOOKAHEAD if line.count is None else COUNT_HORIZON
    found = line.walls(line.dtstart, line.dtstart + horizon, inclusive=True)
    first = next(found, None)
    if first is None:
        since = f"{line.dtstart:%Y-%m-%dT%H:%M}"
        if line.dtstart == DEFAULT_START:
            since += " (the start when no DTSTART is given: INTERVAL counts from it)"
        raise RuleNeverFires(
            f"{where}: never fires: {line.text} has no slot in the 50 years after {since}"
        )
    if line.count is None:
        return line
    last = next(itertools.islice(found, line.count - 2, None), None) if line.count > 1 else first
    until = last if last is not None else line.dtstart + COUNT_HORIZON
    return replace(line, until=until, count=None)


def _moved(moment: datetime, years: int) -> datetime:
    return moment.replace(year=moment.year + years)
