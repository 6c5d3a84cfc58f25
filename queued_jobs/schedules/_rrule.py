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
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, WEEKLY, YEARLY, rrule, weekday

from ..errors import InvalidRule, RuleNeverFires
from ._rule import LOOKAHEAD, WallClockRule, quote

__all__ = ["RecurrenceRule"]

Frequency = Literal[0, 1, 2, 3, 4, 5]  # dateutil's YEARLY ... MINUTELY

FREQUENCIES: dict[str, Frequency] = {
    "YEARLY": YEARLY,
    "MONTHLY": MONTHLY,
    "WEEKLY": WEEKLY,
    "DAILY": DAILY,
    "HOURLY": HOURLY,
    "MINUTELY": MINUTELY,
}
_FREQUENCY_NAMES = {value: name for name, value in FREQUENCIES.items()}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: Part names in the order the canonical text writes them.
PARTS = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYSETPOS",
    "WKST",
)
MAX_RULES = 10
MAX_COUNT = 10_000
#: Slots that ``COUNT`` counts are looked for within this long after ``DTSTART``.
COUNT_HORIZON = timedelta(days=36_524)  # 100 years
#: ``DTSTART`` when none is written: the Unix epoch, as a wall time of the schedule's zone.
DEFAULT_START = datetime(1970, 1, 1)
#: The longest ``INTERVAL`` of each frequency: about 10 years.
MAX_INTERVAL = {
    YEARLY: 10,
    MONTHLY: 120,
    WEEKLY: 522,
    DAILY: 3_653,
    HOURLY: 87_660,
    MINUTELY: 5_259_600,
}
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
_UNSUPPORTED = {
    "EXRULE": "EXRULE is not supported (RFC 5545 deprecated it); narrow the RRULE lines instead",
    "EXDATE": "EXDATE is not supported; narrow the RRULE lines instead",
    "RDATE": "RDATE is not supported; add an RRULE line instead",
}
_DATE_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2}))?")
_INTEGER = re.compile(r"[+-]?\d{1,4}")
_WEEKDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")


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


@dataclass(frozen=True, slots=True)
class _Parts:
    """One RRULE line's parts as written (read and checked), before defaults are filled."""

    freq: Frequency
    interval: int = 1
    count: int | None = None
    until: datetime | None = None
    until_is_date: bool = False
    bymonth: tuple[int, ...] | None = None
    byweekno: tuple[int, ...] | None = None
    byyearday: tuple[int, ...] | None = None
    bymonthday: tuple[int, ...] | None = None
    byday: tuple[tuple[int, int | None], ...] | None = None
    byhour: tuple[int, ...] | None = None
    byminute: tuple[int, ...] | None = None
    bysetpos: tuple[int, ...] | None = None
    wkst: int = 0

    def text(self) -> str:
        """The canonical text of the line: parts in a fixed order, lists sorted, defaults
        (``INTERVAL=1``, ``BYSECOND=0``, ``WKST=MO``) left out."""
        items = [f"FREQ={_FREQUENCY_NAMES[self.freq]}"]
        if self.interval != 1:
            items.append(f"INTERVAL={self.interval}")
        if self.count is not None:
            items.append(f"COUNT={self.count}")
        if self.until is not None:
            form = "%Y%m%d" if self.until_is_date else "%Y%m%dT%H%M%S"
            items.append("UNTIL=" + self.until.strftime(form))
        for name, values in (
            ("BYMONTH", self.bymonth),
            ("BYWEEKNO", self.byweekno),
            ("BYYEARDAY", self.byyearday),
            ("BYMONTHDAY", self.bymonthday),
        ):
            if values is not None:
                items.append(f"{name}={_join(values)}")
        if self.byday is not None:
            days = (f"{'' if n is None else n}{WEEKDAYS[day]}" for day, n in self.byday)
            items.append("BYDAY=" + ",".join(days))
        for name, values in (
            ("BYHOUR", self.byhour),
            ("BYMINUTE", self.byminute),
            ("BYSETPOS", self.bysetpos),
        ):
            if values is not None:
                items.append(f"{name}={_join(values)}")
        if self.wkst != 0:
            items.append(f"WKST={WEEKDAYS[self.wkst]}")
        return ";".join(items)


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
        dtstart, values = _split_lines(body)
        start = dtstart or DEFAULT_START
        parts = [
            _read_parts(value, _where(index, len(values))) for index, value in enumerate(values)
        ]
        for index, line_parts in enumerate(parts):
            _check_combination(line_parts, dtstart, _where(index, len(parts)))
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


def _split_lines(body: str) -> tuple[datetime | None, list[str]]:
    """DTSTART (if any) and the RRULE values of a rule's text."""
    lines = [line.strip() for line in body.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise InvalidRule("rrule: the rule is empty; write one such as rrule:FREQ=DAILY;BYHOUR=9")
    if len(lines) == 1 and ":" not in lines[0]:
        return None, lines  # a single rule without the RRULE: name
    dtstart: datetime | None = None
    values: list[str] = []
    for line in lines:
        name, colon, value = line.partition(":")
        name = name.strip().upper()
        if not colon:
            raise InvalidRule(
                f"rrule: the line {quote(line)} has no name; with several lines, each starts "
                "with DTSTART: or RRULE:"
            )
        if name.split(";", 1)[0] == "DTSTART":
            if ";" in name:
                raise InvalidRule(
                    f"rrule: DTSTART parameters ({quote(name)}) are not supported: DTSTART is "
                    "a wall time in the schedule's own zone, e.g. DTSTART:20261115T090000"
                )
            if dtstart is not None:
                raise InvalidRule("rrule: DTSTART is given twice; give it once")
            dtstart, _ = _read_date_time(value.strip().upper(), "rrule: DTSTART")
            if dtstart.second:
                raise InvalidRule("rrule: DTSTART has seconds; slots are whole minutes")
        elif name == "RRULE":
            values.append(value.strip())
        elif name in _UNSUPPORTED:
            raise InvalidRule(f"rrule: {_UNSUPPORTED[name]}")
        else:
            raise InvalidRule(
                f"rrule: unknown line {quote(line)}; lines are DTSTART:... and RRULE:..."
            )
    if not values:
        raise InvalidRule("rrule: no RRULE line; add one such as RRULE:FREQ=DAILY")
    if len(values) > MAX_RULES:
        raise InvalidRule(f"rrule: {len(values)} RRULE lines; at most {MAX_RULES}")
    return dtstart, values


def _read_date_time(value: str, where: str) -> tuple[datetime, bool]:
    """A local wall time written ``YYYYMMDDTHHMMSS`` (or a date, ``YYYYMMDD``)."""
    if value.endswith("Z"):
        raise InvalidRule(
            f"{where} {quote(value)} is in UTC (ends in Z); write it as a wall time of the "
            "schedule's zone, without the Z"
        )
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise InvalidRule(
            f"{where} {quote(value)} is not a date-time; write YYYYMMDDTHHMMSS "
            "(20261115T090000) or a date (20261115)"
        )
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError as error:
        raise InvalidRule(f"{where} {quote(value)} is not a real time: {error}") from None
    if not 1900 <= moment.year <= 2999:
        raise InvalidRule(f"{where} {quote(value)} is outside the years 1900 to 2999")
    return moment, match.group(4) is None


def _read_parts(value: str, where: str) -> _Parts:
    if not value:
        raise InvalidRule(f"{where}: the RRULE is empty; write one such as FREQ=DAILY;BYHOUR=9")
    written: dict[str, str] = {}
    for item in value.split(";"):
        name, equals, text = item.partition("=")
        name, text = name.strip().upper(), text.strip().upper()
        if not item.strip():
            raise InvalidRule(f"{where}: an empty part (';' twice in a row, or at the end)")
        if not equals or not name or not text:
            raise InvalidRule(f"{where}: the part {quote(item)} is not NAME=VALUE")
        if name in written:
            raise InvalidRule(f"{where}: {name} is given twice")
        if name not in PARTS:
            if name == "BYEASTER":
                raise InvalidRule(f"{where}: BYEASTER is not supported (it is not RFC 5545)")
            raise InvalidRule(f"{where}: unknown part {quote(name)}; known: {', '.join(PARTS)}")
        written[name] = text
    if "FREQ" not in written:
        raise InvalidRule(f"{where}: FREQ is missing; every RRULE has one, e.g. FREQ=DAILY")
    freq_name = written["FREQ"]
    if freq_name == "SECONDLY":
        raise InvalidRule(f"{where}: FREQ=SECONDLY is not supported; slots are whole minutes")
    if freq_name not in FREQUENCIES:
        raise InvalidRule(
            f"{where}: FREQ={quote(freq_name)} is unknown; one of {', '.join(FREQUENCIES)}"
        )
    freq = FREQUENCIES[freq_name]
    parts = _Parts(freq=freq)
    for name, text in written.items():
        if name != "FREQ":
            parts = _READERS[name](parts, text, f"{where}: {name}")
    return parts


def _integers(text: str, where: str, low: int, high: int, *, signed: bool) -> tuple[int, ...]:
    """A comma-separated list of whole numbers from ``low`` to ``high`` (and, ``signed``,
    from ``-high`` to ``-low``, counting from the end), sorted and without repeats."""
    values: set[int] = set()
    for item in text.split(","):
        if not _INTEGER.fullmatch(item):
            raise InvalidRule(f"{where}={quote(text)}: {quote(item)} is not a whole number")
        number = int(item)
        if not (low <= number <= high or (signed and -high <= number <= -low)):
            span = f"from {low} to {high}" + (f" or from -{high} to -{low}" if signed else "")
            raise InvalidRule(f"{where}={quote(text)}: {number} is not {span}")
        values.add(number)
    return tuple(sorted(values))


def _one_number(text: str, where: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d{1,9}", text):
        raise InvalidRule(f"{where}={quote(text)} is not a whole number")
    number = int(text)
    if not low <= number <= high:
        raise InvalidRule(f"{where}={number} is not from {low:,} to {high:,}")
    return number


def _read_interval(parts: _Parts, text: str, where: str) -> _Parts:
    if re.fullmatch(r"-\d+|0+", text):
        raise InvalidRule(f"{where}={text}: INTERVAL is a positive whole number")
    return replace(parts, interval=_one_number(text, where, 1, MAX_INTERVAL[parts.freq]))


def _read_count(parts: _Parts, text: str, where: str) -> _Parts:
    if re.fullmatch(r"-\d+|0+", text):
        raise InvalidRule(f"{where}={text}: a rule with no slots never fires; COUNT is 1 or more")
    return replace(parts, count=_one_number(text, where, 1, MAX_COUNT))


def _read_until(parts: _Parts, text: str, where: str) -> _Parts:
    moment, is_date = _read_date_time(text, where)
    if is_date:  # a date: the whole of that day
        moment = moment.replace(hour=23, minute=59, second=59)
    return replace(parts, until=moment, until_is_date=is_date)


def _read_byday(parts: _Parts, text: str, where: str) -> _Parts:
    days: set[tuple[int, int | None]] = set()
    for item in text.split(","):
        match = _WEEKDAY.fullmatch(item)
        if match is None:
            raise InvalidRule(
                f"{where}={quote(text)}: {quote(item)} is not a weekday such as MO, 1MO or -1FR"
            )
        n = int(match.group(1)) if match.group(1) else None
        if n is not None and not (1 <= abs(n) <= 53):
            raise InvalidRule(
                f"{where}={quote(text)}: {quote(item)}: the number is 1 to 53 or -1 to -53"
            )
        days.add((WEEKDAYS.index(match.group(2)), n))
    return replace(parts, byday=tuple(sorted(days, key=lambda day: (day[0], day[1] or 0))))


def _read_bysecond(parts: _Parts, text: str, where: str) -> _Parts:
    if _integers(text, where, 0, 59, signed=False) != (0,):
        raise InvalidRule(f"{where}={quote(text)}: slots are whole minutes; only BYSECOND=0")
    return parts


def _read_wkst(parts: _Parts, text: str, where: str) -> _Parts:
    if text not in WEEKDAYS:
        raise InvalidRule(f"{where}={quote(text)} is not a weekday: one of {', '.join(WEEKDAYS)}")
    return replace(parts, wkst=WEEKDAYS.index(text))


_READERS: dict[str, Callable[[_Parts, str, str], _Parts]] = {
    "INTERVAL": _read_interval,
    "COUNT": _read_count,
    "UNTIL": _read_until,
    "BYMONTH": lambda p, t, w: replace(p, bymonth=_integers(t, w, 1, 12, signed=False)),
    "BYWEEKNO": lambda p, t, w: replace(p, byweekno=_integers(t, w, 1, 53, signed=True)),
    "BYYEARDAY": lambda p, t, w: replace(p, byyearday=_integers(t, w, 1, 366, signed=True)),
    "BYMONTHDAY": lambda p, t, w: replace(p, bymonthday=_integers(t, w, 1, 31, signed=True)),
    "BYDAY": _read_byday,
    "BYHOUR": lambda p, t, w: replace(p, byhour=_integers(t, w, 0, 23, signed=False)),
    "BYMINUTE": lambda p, t, w: replace(p, byminute=_integers(t, w, 0, 59, signed=False)),
    "BYSECOND": _read_bysecond,
    "BYSETPOS": lambda p, t, w: replace(p, bysetpos=_integers(t, w, 1, 366, signed=True)),
    "WKST": _read_wkst,
}


def _check_combination(parts: _Parts, dtstart: datetime | None, where: str) -> None:
    """What RFC 5545 forbids, and what would leave a rule's meaning to chance."""
    freq = _FREQUENCY_NAMES[parts.freq]
    if parts.count is not None and parts.until is not None:
        raise InvalidRule(f"{where}: COUNT and UNTIL together are not allowed; give one")
    if parts.count is not None and dtstart is None:
        raise InvalidRule(f"{where}: COUNT needs a DTSTART line to count from")
    if parts.byweekno is not None and parts.freq != YEARLY:
        raise InvalidRule(f"{where}: BYWEEKNO goes only with FREQ=YEARLY, not FREQ={freq}")
    if parts.byyearday is not None and parts.freq in (MONTHLY, WEEKLY, DAILY):
        raise InvalidRule(f"{where}: BYYEARDAY does not go with FREQ={freq}")
    if parts.bymonthday is not None and parts.freq == WEEKLY:
        raise InvalidRule(f"{where}: BYMONTHDAY does not go with FREQ=WEEKLY")
    numbered = [day for day in parts.byday or () if day[1] is not None]
    if numbered:
        if parts.freq not in (MONTHLY, YEARLY):
            raise InvalidRule(
                f"{where}: a numbered BYDAY (such as 1MO) goes only with FREQ=MONTHLY or "
                f"FREQ=YEARLY, not FREQ={freq}"
            )
        if parts.freq == YEARLY and parts.byweekno is not None:
            raise InvalidRule(f"{where}: a numbered BYDAY does not go with BYWEEKNO")
        if parts.freq == MONTHLY and any(abs(n or 0) > 5 for _, n in numbered):
            raise InvalidRule(f"{where}: with FREQ=MONTHLY a numbered BYDAY is 1 to 5 or -1 to -5")
    if parts.bysetpos is not None and not _has_other_by_part(parts):
        raise InvalidRule(f"{where}: BYSETPOS needs another BY part (BYDAY, ...) to pick from")
    if parts.freq == WEEKLY and parts.byday is None and dtstart is None:
        raise InvalidRule(
            f"{where}: FREQ=WEEKLY needs BYDAY (such as BYDAY=MO) or a DTSTART whose weekday "
            "it takes"
        )
    if parts.until is not None and dtstart is not None and parts.until < dtstart:
        raise RuleNeverFires(f"{where}: UNTIL is before DTSTART, so the rule never fires")


def _has_other_by_part(parts: _Parts) -> bool:
    others = (
        parts.bymonth,
        parts.byweekno,
        parts.byyearday,
        parts.bymonthday,
        parts.byday,
        parts.byhour,
        parts.byminute,
    )
    return any(values is not None for values in others)


def _build_line(parts: _Parts, start: datetime, where: str) -> _Line:
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
            f"{where}: never fires: BYSETPOS={_join(line.bysetpos)} asks for a slot past the "
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
        raise RuleNeverFires(
            f"{where}: never fires: {line.text} has no slot in the 50 years after "
            f"{line.dtstart:%Y-%m-%dT%H:%M}"
        )
    if line.count is None:
        return line
    last = next(itertools.islice(found, line.count - 2, None), None) if line.count > 1 else first
    until = last if last is not None else line.dtstart + COUNT_HORIZON
    return replace(line, until=until, count=None)


def _moved(moment: datetime, years: int) -> datetime:
    return moment.replace(year=moment.year + years)


def _join(values: tuple[int, ...]) -> str:
    return ",".join(str(value) for value in values)
