"""``every:`` rules: slots a fixed stretch of elapsed time apart, anchored at an instant."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..errors import InvalidRule
from ._dst import wall_to_utc
from ._rule import Rule, quote

__all__ = ["IntervalRule"]

MIN_PERIOD = timedelta(minutes=1)
MAX_PERIOD = timedelta(days=366)
#: The anchor when none is written: the Unix epoch read as a wall time in the schedule's zone.
DEFAULT_ANCHOR = datetime(1970, 1, 1)

_DURATION = re.compile(
    r"P(?:(?P<weeks>\d{1,9})W)?(?:(?P<days>\d{1,9})D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d{1,9})H)?(?:(?P<minutes>\d{1,9})M)?(?:(?P<seconds>\d{1,9})S)?)?"
)
_ANCHOR = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?")
_FORMS = "write it as an ISO 8601 duration such as PT20M, PT1H30M, P1D or P1W"


class IntervalRule(Rule):
    """Slots ``period`` apart in elapsed time: ``anchor + n * period`` for every whole
    ``n``. The anchor is a local wall time of the schedule's zone (the Unix epoch's
    1970-01-01T00:00 when none is written) and only sets the phase; daylight saving time
    never moves the slots, so ``every:P1D`` keeps 24 hours between slots and its local
    time moves by an hour when the clocks do."""

    __slots__ = ("anchor", "period")
    kind = "every"

    def __init__(self, text: str, period: timedelta, anchor: datetime | None) -> None:
        super().__init__(text)
        self.period = period
        #: The anchor as written (a naive local wall time), or None for the default.
        self.anchor = anchor

    @classmethod
    def parse(cls, body: str) -> IntervalRule:
        duration, at, anchor_text = body.strip().partition("@")
        period = _parse_period(duration.strip().upper())
        anchor = _parse_anchor(anchor_text.strip()) if at else None
        text = f"every:{_format_period(period)}"
        if anchor is not None:
            text += "@" + anchor.strftime("%Y-%m-%dT%H:%M")
        return cls(text, period, anchor)

    def _instants(self, after: datetime, until: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        anchor = wall_to_utc(self.anchor or DEFAULT_ANCHOR, zone)
        slot = anchor + ((after - anchor) // self.period + 1) * self.period
        while slot <= until:
            yield slot
            slot += self.period


def _parse_period(text: str) -> timedelta:
    if not text:
        raise InvalidRule(f"every: the interval is missing; {_FORMS}")
    if text.startswith("-"):
        raise InvalidRule(f"every: {quote(text)} is negative; intervals go forward")
    if "," in text or "." in text:
        raise InvalidRule(f"every: {quote(text)} has a fraction; use a smaller unit (PT90M)")
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "PT"):
        date_part = text.split("T", 1)[0]
        if text.startswith("P") and ("Y" in date_part or "M" in date_part):
            raise InvalidRule(
                f"every: {quote(text)} counts years or months, which have no fixed length; "
                "use cron: or rrule: for calendar months and years (rrule:FREQ=MONTHLY)"
            )
        raise InvalidRule(f"every: cannot read {quote(text)}; {_FORMS}")
    parts = {name: int(value) for name, value in match.groupdict(default="0").items()}
    seconds = (
        parts["weeks"] * 604_800
        + parts["days"] * 86_400
        + parts["hours"] * 3_600
        + parts["minutes"] * 60
        + parts["seconds"]
    )
    if seconds == 0:
        raise InvalidRule(f"every: {quote(text)} is zero; give a positive interval")
    if seconds < MIN_PERIOD.total_seconds():
        raise InvalidRule(f"every: {quote(text)} is under 1 minute, the shortest interval")
    if seconds > MAX_PERIOD.total_seconds():
        raise InvalidRule(f"every: {quote(text)} is over 366 days, the longest interval")
    if seconds % 60:
        raise InvalidRule(f"every: {quote(text)} is not a whole number of minutes")
    return timedelta(seconds=seconds)


def _format_period(period: timedelta) -> str:
    minutes = int(period.total_seconds()) // 60
    days, minutes = divmod(minutes, 1_440)
    hours, minutes = divmod(minutes, 60)
    text = "P" + (f"{days}D" if days else "")
    if hours or minutes:
        text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text


def _parse_anchor(text: str) -> datetime:
    match = _ANCHOR.fullmatch(text.upper())
    if match is None:
        raise InvalidRule(
            f"every: cannot read the anchor {quote(text)}; write a local wall time such as "
            "2026-01-01T08:00 (or a date, 2026-01-01, for midnight)"
        )
    year, month, day, hour, minute = (int(part) if part else 0 for part in match.groups())
    try:
        anchor = datetime(year, month, day, hour, minute)
    except ValueError as error:
        raise InvalidRule(f"every: the anchor {quote(text)} is not a real time: {error}") from None
    if not 1900 <= year <= 2999:
        raise InvalidRule(f"every: the anchor {quote(text)} is outside the years 1900 to 2999")
    return anchor
