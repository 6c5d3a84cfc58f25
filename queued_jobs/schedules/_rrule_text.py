"""Reading the text of ``rrule:`` rules: lines, parts and what RFC 5545 allows together.

Each RRULE line is read into ``Parts`` (checked, with its canonical text); filling in what
it leaves to DTSTART, and searching, is ``_rrule``'s work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, WEEKLY, YEARLY

from ..errors import InvalidRule, RuleNeverFires
from ._rule import quote

__all__ = [
    "FREQUENCIES",
    "WEEKDAYS",
    "Frequency",
    "Parts",
    "check_combination",
    "join",
    "read_parts",
    "split_lines",
]

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
#: The longest ``INTERVAL`` of each frequency: about 10 years.
MAX_INTERVAL = {
    YEARLY: 10,
    MONTHLY: 120,
    WEEKLY: 522,
    DAILY: 3_653,
    HOURLY: 87_660,
    MINUTELY: 5_259_600,
}
_UNSUPPORTED = {
    "EXRULE": "EXRULE is not supported (RFC 5545 deprecated it); narrow the RRULE lines instead",
    "EXDATE": "EXDATE is not supported; narrow the RRULE lines instead",
    "RDATE": "RDATE is not supported; add an RRULE line instead",
}
_DATE_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2}))?")
_INTEGER = re.compile(r"[+-]?\d{1,4}")
_WEEKDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")


@dataclass(frozen=True, slots=True)
class Parts:
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
                items.append(f"{name}={join(values)}")
        if self.byday is not None:
            days = (f"{'' if n is None else n}{WEEKDAYS[day]}" for day, n in self.byday)
            items.append("BYDAY=" + ",".join(days))
        for name, values in (
            ("BYHOUR", self.byhour),
            ("BYMINUTE", self.byminute),
            ("BYSETPOS", self.bysetpos),
        ):
            if values is not None:
                items.append(f"{name}={join(values)}")
        if self.wkst != 0:
            items.append(f"WKST={WEEKDAYS[self.wkst]}")
        return ";".join(items)


def split_lines(body: str) -> tuple[datetime | None, list[str]]:
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


def read_parts(value: str, where: str) -> Parts:
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
    parts = Parts(freq=freq)
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


def _read_interval(parts: Parts, text: str, where: str) -> Parts:
    if re.fullmatch(r"-\d+|0+", text):
        raise InvalidRule(f"{where}={text}: INTERVAL is a positive whole number")
    return replace(parts, interval=_one_number(text, where, 1, MAX_INTERVAL[parts.freq]))


def _read_count(parts: Parts, text: str, where: str) -> Parts:
    if re.fullmatch(r"-\d+|0+", text):
        raise InvalidRule(f"{where}={text}: a rule with no slots never fires; COUNT is 1 or more")
    return replace(parts, count=_one_number(text, where, 1, MAX_COUNT))


def _read_until(parts: Parts, text: str, where: str) -> Parts:
    moment, is_date = _read_date_time(text, where)
    if is_date:  # a date: the whole of that day
        moment = moment.replace(hour=23, minute=59, second=59)
    return replace(parts, until=moment, until_is_date=is_date)


def _read_byday(parts: Parts, text: str, where: str) -> Parts:
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


def _read_bysecond(parts: Parts, text: str, where: str) -> Parts:
    if _integers(text, where, 0, 59, signed=False) != (0,):
        raise InvalidRule(f"{where}={quote(text)}: slots are whole minutes; only BYSECOND=0")
    return parts


def _read_wkst(parts: Parts, text: str, where: str) -> Parts:
    if text not in WEEKDAYS:
        raise InvalidRule(f"{where}={quote(text)} is not a weekday: one of {', '.join(WEEKDAYS)}")
    return replace(parts, wkst=WEEKDAYS.index(text))


_READERS: dict[str, Callable[[Parts, str, str], Parts]] = {
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


def check_combination(parts: Parts, dtstart: datetime | None, where: str) -> None:
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


def _has_other_by_part(parts: Parts) -> bool:
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


def join(values: tuple[int, ...]) -> str:
    return ",".join(str(value) for value in values)
